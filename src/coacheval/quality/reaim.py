"""Implementation of the program (RE-AIM): reach, adoption, completion, fidelity and dose, maintenance.

Each measure is reported by cohort (a cohort is the program's unit of time: its recruitment
opens on ``recruitment_open_date`` and its program year runs from ``start_date`` to
``end_date``; those dates are shown in the tables, so a cohort row is also a calendar period),
with an ``All`` row pooling the cohorts.

* **Reach** (:func:`reach`): leaders enrolled among the eligible. A leader is *eligible* for a
  cohort when employed on the day its recruitment opened (``hire_date <= open`` and no
  ``termination_date`` or one after it; the cohort's ``start_date`` when no opening date is
  recorded) and not enrolled in an earlier cohort. Every role level in the roster is eligible.
  How enrolled leaders differ from the eligible who did not enrol: standardised mean differences
  (tableone conventions, :func:`coacheval.measures.baseline.baseline_table`) on role level, age
  band, FTE and tenure on the opening day.
* **Adoption** (:func:`adoption`): share of facilities, departments and units with at least one
  enrolled leader, among those with at least one eligible leader.
* **Completion** (:func:`completion`): completed, withdrew and still in the program, and the
  withdrawal reasons.
* **Fidelity and dose** (:func:`fidelity_dose`): program sessions held against planned, per
  group and cohort; attendance per person (share of their group's held program sessions they
  attended) and per group; dose (program sessions attended / planned) in bands.
* **Maintenance** (:func:`maintenance`): share of groups still meeting 3, 6 and 12 months after
  the program ended.
* **Goal attainment** (:func:`goal_attainment`): from the optional ``goals`` extract (goal
  attainment scaling), when the health system records goals.

Small cells. No table shows a count of people between 1 and ``min_cell - 1`` (the minimum
reporting size, 5 by default). Such a count is replaced by a missing value, and the row is
flagged ``suppressed``; ``summary()`` prints the marker ``*`` in its place. When exactly one
count in a row is suppressed, the next smallest count of the row is suppressed as well
(secondary suppression), so the small count cannot be recovered by subtracting the others from
the row's total, and likewise down a column whose cohorts add up to the ``All`` row; rates and
intervals computed from a suppressed count are suppressed with it.
Counts of organisational units and of peer groups are not counts of people and are shown.

Examples
--------
>>> import tempfile
>>> from coacheval.io.pseudonymise import PseudonymKey
>>> from coacheval.io.study import load_study
>>> from coacheval.simulate import simulate_health_system
>>> folder = tempfile.mkdtemp()
>>> system = simulate_health_system(seed=4, n_leaders=120, unit_staffing=False)
>>> _ = system.write(folder)
>>> study = load_study(folder, key=PseudonymKey(b"k" * 32))
>>> results = implementation_summary(study)
>>> sorted(results)
['adoption', 'completion', 'fidelity_dose', 'maintenance', 'reach']
>>> int(results["reach"].table.set_index("cohort_id").loc["All", "enrolled"])
36
"""

from __future__ import annotations

from collections.abc import Sequence

# The suppression rule is tested through this module (tests/test_reaim.py).
from coacheval.quality._reaim_common import _suppression_mask as _suppression_mask
from coacheval.quality._reaim_common import _tables
from coacheval.quality.reaim_completion import (
    CompletionResult,
    GoalAttainmentResult,
    completion,
    goal_attainment,
)
from coacheval.quality.reaim_fidelity import FidelityDoseResult, fidelity_dose
from coacheval.quality.reaim_maintenance import MaintenanceResult, maintenance
from coacheval.quality.reaim_reach import AdoptionResult, ReachResult, adoption, reach
from coacheval.results import TableResult

__all__ = [
    "AdoptionResult",
    "CompletionResult",
    "FidelityDoseResult",
    "GoalAttainmentResult",
    "MaintenanceResult",
    "ReachResult",
    "adoption",
    "completion",
    "fidelity_dose",
    "goal_attainment",
    "implementation_summary",
    "maintenance",
    "reach",
]


# ---------------------------------------------------------------- bundle -----------------------
def implementation_summary(
    study: object,
    *,
    min_cell: int = 5,
    horizons_months: Sequence[int] = (3, 6, 12),
    extract_date: object | None = None,
) -> dict[str, TableResult]:
    """All implementation measures the study's extracts allow, by name.

    Parameters
    ----------
    study
        A :class:`~coacheval.io.study.Study`.
    min_cell
        Minimum reporting size.
    horizons_months, extract_date
        Passed to :func:`maintenance`.

    Returns
    -------
    dict of str to TableResult
        ``reach``, ``adoption``, ``completion``; ``fidelity_dose`` and ``maintenance`` when
        there is a sessions extract; ``goal_attainment`` when goals are recorded.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> import pandas as pd
    >>> roster = pd.DataFrame({"employee_id": list("ab"), "hire_date": pd.to_datetime(["2015-01-01"] * 2),
    ...     "facility_id": ["F1"] * 2, "department_id": ["D1"] * 2, "unit_id": ["U1"] * 2})
    >>> cohorts = pd.DataFrame({"cohort_id": ["C1"], "start_date": pd.to_datetime(["2022-07-01"]),
    ...     "end_date": pd.to_datetime(["2023-06-30"])})
    >>> enrolment = pd.DataFrame({"employee_id": ["a"], "cohort_id": ["C1"], "status": ["completed"]})
    >>> study = SimpleNamespace(tables={"hr_roster": roster, "program_cohorts": cohorts,
    ...                                 "enrolment": enrolment})
    >>> sorted(implementation_summary(study))
    ['adoption', 'completion', 'reach']
    """
    tables = _tables(study, "implementation_summary")
    out: dict[str, TableResult] = {
        "reach": reach(study, min_cell=min_cell),
        "adoption": adoption(study, min_cell=min_cell),
        "completion": completion(study, min_cell=min_cell),
    }
    if "sessions" in tables:
        out["fidelity_dose"] = fidelity_dose(study, min_cell=min_cell)
        out["maintenance"] = maintenance(study, horizons_months, extract_date=extract_date)
    goals = tables.get("goals")
    if goals is not None and len(goals):
        out["goal_attainment"] = goal_attainment(study, min_cell=min_cell)
    return out
