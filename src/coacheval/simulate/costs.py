"""Program cost items, as a program office records them.

Unit costs are modelling assumptions [U] chosen to be plausible for a US health system; leader
time in sessions is valued at an hourly wage by role level (salary / 2080 hours, [U]).

Part of the simulator's engine, called by
:func:`~coacheval.simulate.simulate_health_system`: the module has no public API (the public
names are those :mod:`coacheval.simulate` exports), so its ``__all__`` is empty.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from coacheval.simulate.config import SimulationConfig
from coacheval.simulate.organisation import Organisation
from coacheval.simulate.program import Program, add_months

__all__: list[str] = []

HOURLY_WAGE_BY_ROLE = (52.0, 58.0, 66.0, 80.0)  # [U] charge nurse .. director, USD
FACILITATOR_TRAINING_USD = 18000.0
COORDINATOR_PER_YEAR_USD = 52000.0  # 0.5 FTE program coordinator [U]
FACULTY_PER_COHORT_USD = 22000.0
KICKOFF_FIXED_USD = 2500.0
KICKOFF_PER_PARTICIPANT_USD = 35.0
MATERIALS_PER_PARTICIPANT_USD = 150.0


def program_costs(cfg: SimulationConfig, org: Organisation, program: Program) -> pd.DataFrame:
    """Cost items: ``cost_day, cohort (-1 program-wide), category, description, amount_usd``.

    Examples
    --------
    >>> from coacheval.simulate import simulate_health_system
    >>> system = simulate_health_system(seed=1, n_leaders=150)
    >>> costs = program_costs(system.config, system.organisation, system.program)
    >>> costs.columns.tolist()
    ['cost_day', 'cohort', 'category', 'description', 'amount_usd']
    """
    rows = []
    cohorts = program.cohorts
    first_recruit = int(cohorts.recruitment_day.min())
    rows.append(
        (
            first_recruit,
            -1,
            "training",
            "Facilitator training (train-the-trainer)",
            FACILITATOR_TRAINING_USD,
        )
    )
    last_end = int(cohorts.end_day.max())
    month = 0
    while (day := add_months(first_recruit, month)) <= min(last_end, cfg.extract_day):
        rows.append(
            (
                day,
                -1,
                "staff",
                "Program coordinator (0.5 FTE), monthly",
                round(COORDINATOR_PER_YEAR_USD / 12, 2),
            )
        )
        month += 1
    enrolment = program.enrolment
    seat_rank = org.seats.role_rank.to_numpy()
    people = program.people.set_index("pid")
    att = program.attendance.merge(
        program.sessions[["session", "group", "duration_minutes", "phase"]], on="session"
    )
    att = att[att.attended.to_numpy() & (att.phase == "program")]
    wage = np.asarray(HOURLY_WAGE_BY_ROLE)[seat_rank[people.seat.loc[att.pid].to_numpy()]]
    att = att.assign(cost=att.duration_minutes.to_numpy() / 60 * wage)
    att = att.merge(enrolment[["pid", "cohort"]], on="pid")
    for c in cohorts.itertuples():
        n = int((enrolment.cohort == c.cohort).sum())
        rows.append(
            (
                c.start_day - 30,
                c.cohort,
                "faculty",
                "External coaching faculty",
                FACULTY_PER_COHORT_USD,
            )
        )
        rows.append(
            (
                c.start_day,
                c.cohort,
                "events",
                "Kick-off retreat (venue and catering)",
                round(KICKOFF_FIXED_USD + KICKOFF_PER_PARTICIPANT_USD * n, 2),
            )
        )
        rows.append(
            (
                c.start_day,
                c.cohort,
                "materials",
                "Workbooks and 360 assessments",
                round(MATERIALS_PER_PARTICIPANT_USD * n, 2),
            )
        )
        rows.append(
            (
                c.end_day,
                c.cohort,
                "participant_time",
                "Leader time in peer sessions (wages)",
                round(float(att.loc[att.cohort == c.cohort, "cost"].sum()), 2),
            )
        )
    out = pd.DataFrame(
        rows, columns=["cost_day", "cohort", "category", "description", "amount_usd"]
    )
    return out.sort_values(["cost_day", "cohort", "category"], kind="stable", ignore_index=True)
