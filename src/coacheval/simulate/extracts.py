"""Turn the simulation into the tables a health system would export (clean form).

Each extract is a DataFrame whose columns are strings or numbers as they would appear in a CSV:
dates in ISO form, identifiers as zero-padded strings, blanks for missing values.

Part of the simulator's engine, called by
:func:`~coacheval.simulate.simulate_health_system`: the module has no public API (the public
names are those :mod:`coacheval.simulate` exports), so its ``__all__`` is empty.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from coacheval.errors import ConfigError
from coacheval.simulate.config import ROLE_LEVELS, TERMINATION_CAUSES, SimulationConfig
from coacheval.simulate.hazards import DAYS_PER_YEAR
from coacheval.simulate.organisation import Organisation
from coacheval.simulate.people_details import personal_details
from coacheval.simulate.program import Program
from coacheval.simulate.streams import Streams
from coacheval.simulate.surveys import Surveys
from coacheval.simulate.workforce import MAX_GENERATIONS

__all__: list[str] = []

JOB_CODES = ("N310", "N420", "N510", "N610")
JOB_TITLES = ("RN Charge Nurse", "Assistant Nurse Manager", "Nurse Manager", "Director of Nursing")
TERMINATION_REASONS = {
    "voluntary": (
        ("Resigned - Career Opportunity", 0.30),
        ("Resigned - Relocation", 0.20),
        ("Resigned - Personal/Family", 0.20),
        ("Resigned - Workload/Burnout", 0.30),
    ),
    "involuntary": (
        ("Terminated - Performance", 0.6),
        ("Terminated - Policy Violation", 0.2),
        ("Position Eliminated", 0.2),
    ),
    "retirement": (("Retirement", 1.0),),
    "other": (("Death", 0.4), ("Disability", 0.6)),
}
TERMINATION_TYPE = {
    "voluntary": "Voluntary",
    "involuntary": "Involuntary",
    "retirement": "Voluntary",
    "other": "Other",
}
MEETING_ROOMS = (
    "Café Conference Room",
    "Señor Álvarez Board Room",
    "Library Room 2",
    "Virtual (Teams)",
    "Wellness Center – Room B",
    "Education Suite 3",
)
AGE_BANDS = (
    (0, 30, "<30"),
    (30, 40, "30-39"),
    (40, 50, "40-49"),
    (50, 60, "50-59"),
    (60, 200, "60+"),
)
ID_SPACE = 9_000_000
EPOCH = np.datetime64("1970-01-01", "D")


def iso(days: np.ndarray | pd.Series) -> np.ndarray:
    """ISO date strings for day numbers; '' for NaN or infinite values."""
    arr = np.asarray(days, dtype=float)
    ok = np.isfinite(arr)
    out = np.full(arr.shape, "", dtype=object)
    out[ok] = (EPOCH + arr[ok].astype(np.int64)).astype(str)
    return out


_HALF_BITS = 12  # the id permutation works on 24-bit numbers (2**24 > ID_SPACE)


def _permute(streams: Streams, x: np.ndarray) -> np.ndarray:
    """Permute ``0 .. ID_SPACE - 2`` by a keyed 4-round Feistel network on 24 bits.

    Its round functions are counter-based draws, so the image of a number depends on that
    number only; values landing outside the range are permuted again (cycle walking), which
    keeps the map one-to-one on the range.
    """
    mask = (1 << _HALF_BITS) - 1
    out = np.asarray(x, dtype=np.int64).copy()
    todo = np.ones(len(out), dtype=bool)
    while todo.any():
        left, right = out[todo] >> _HALF_BITS, out[todo] & mask
        for round_ in range(4):
            draw = streams.bits("employee_id_permutation", round_, right) & np.uint64(mask)
            left, right = right, left ^ draw.astype(np.int64)
        out[todo] = (left << _HALF_BITS) | right
        todo = out >= ID_SPACE - 1
    return out


def assign_employee_ids(streams: Streams, pids: np.ndarray, n_seats: int) -> pd.Series:
    """Give each person a unique 7-digit employee id (some with leading zeros), by pid.

    An id is a function of the person alone: their seat and generation (``pid = seat *
    MAX_GENERATIONS + generation``) numbered ``generation * n_seats + seat`` and passed through
    a keyed permutation. So the same person keeps their id in extracts taken on other dates,
    and two people never share one.
    """
    pids = np.sort(np.asarray(pids, dtype=np.int64))
    seat, generation = pids // MAX_GENERATIONS, pids % MAX_GENERATIONS
    number = generation * n_seats + seat
    if len(number) and number.max() >= ID_SPACE - 1:
        raise ConfigError(
            f"{n_seats} leader positions with up to {int(generation.max()) + 1} successive "
            f"occupants do not fit in 7-digit employee ids ({ID_SPACE - 1} numbers)"
        )
    numbers = _permute(streams, number) + 1
    return pd.Series(
        np.char.zfill(numbers.astype(str), 7).astype(object), index=pids, name="employee_id"
    )


def in_window(cfg: SimulationConfig, people: pd.DataFrame) -> pd.DataFrame:
    """People employed at some time between the window start and the extract date."""
    keep = (people.exit_day.to_numpy() >= cfg.window_start_day) & (
        people.hire_day.to_numpy() <= cfg.extract_day
    )
    return people[keep]


def build_extracts(
    cfg: SimulationConfig,
    org: Organisation,
    program: Program,
    surveys: Surveys,
    costs: pd.DataFrame,
    streams: Streams,
    staffing: pd.DataFrame | None = None,
) -> tuple[dict[str, pd.DataFrame], pd.Series]:
    """Build the clean extracts.

    ``staffing`` (from :func:`~coacheval.simulate.staffing.simulate_unit_staffing`), when given,
    becomes the optional ``unit_staffing`` extract.

    Returns
    -------
    tuple
        ``{extract name: DataFrame}`` and the ``pid -> employee_id`` mapping.
    """
    people = in_window(cfg, program.people)
    ids = assign_employee_ids(streams, people.pid.to_numpy(), len(org.seats))
    hr = _hr_roster(cfg, org, people, program.people, ids, streams)

    cohorts = program.cohorts
    cohort_ids = cohorts.cohort_id.to_numpy()
    cohort_tab = pd.DataFrame(
        {
            "cohort_id": cohort_ids,
            "cohort_name": [f"Peer Coaching Cohort {k + 1}" for k in range(len(cohorts))],
            "recruitment_open_date": iso(cohorts.recruitment_day),
            "start_date": iso(cohorts.start_day),
            "end_date": iso(cohorts.end_day),
            "planned_sessions": cohorts.planned_sessions.to_numpy(),
        }
    )
    groups = program.groups
    group_ids = np.array(
        [
            f"{cohort_ids[c]}-G{n + 1:03d}"
            for c, n in zip(groups.cohort, groups.groupby("cohort").cumcount(), strict=True)
        ],
        dtype=object,
    )
    if "group_label" in groups:  # a randomised rollout: the names the groups were randomised under
        group_ids = groups.group_label.to_numpy(dtype=object)
    room = np.asarray(MEETING_ROOMS, dtype=object)[
        np.minimum(
            (streams.uniform("room", groups.group.to_numpy()) * len(MEETING_ROOMS)).astype(int),
            len(MEETING_ROOMS) - 1,
        )
    ]
    group_tab = pd.DataFrame(
        {
            "group_id": group_ids,
            "cohort_id": cohort_ids[groups.cohort.to_numpy()],
            "formed_date": iso(groups.start_day),
            "meeting_location": room,
        }
    )
    enr = program.enrolment.sort_values(["cohort", "group", "pid"])
    enrolment = pd.DataFrame(
        {
            "employee_id": ids.loc[enr.pid].to_numpy(),
            "cohort_id": cohort_ids[enr.cohort.to_numpy()],
            "group_id": group_ids[enr.group.to_numpy()],
            "enrol_date": iso(enr.enrol_day),
            "status": enr.status.to_numpy(),
            "status_date": iso(enr.status_day),
            "withdrawal_reason": enr.withdrawal_reason.to_numpy(),
        }
    )
    ses = program.sessions
    session_ids = np.array([f"S{s + 1:06d}" for s in ses.session], dtype=object)
    sessions = pd.DataFrame(
        {
            "session_id": session_ids,
            "group_id": group_ids[ses.group.to_numpy()],
            "session_date": iso(ses.session_day),
            "duration_minutes": ses.duration_minutes.to_numpy(),
            "phase": ses.phase.to_numpy(),
        }
    )
    att = program.attendance.sort_values(["session", "pid"])
    attendance = pd.DataFrame(
        {
            "session_id": session_ids[att.session.to_numpy()],
            "employee_id": ids.loc[att.pid].to_numpy(),
            "attended": np.where(att.attended.to_numpy(), "Y", "N"),
        }
    )
    waves = surveys.waves
    wave_tab = pd.DataFrame(
        {
            "wave_id": waves.wave_id.to_numpy(),
            "wave_label": [_season(d) for d in waves.open_day],
            "open_date": iso(waves.open_day),
            "close_date": iso(waves.close_day),
        }
    )
    resp = surveys.responses
    items = resp.columns[3:]
    survey = pd.DataFrame(
        {
            "employee_id": ids.loc[resp.pid].to_numpy(),
            "wave_id": waves.wave_id.to_numpy()[resp.wave.to_numpy()],
            "response_date": iso(resp.response_day),
        }
    )
    for col in items:
        values = resp[col].to_numpy()
        missing = np.isnan(values)
        survey[col] = pd.arrays.IntegerArray(np.where(missing, 0, values).astype(np.int64), missing)
    # Sort by wave, date and id; ids are zero-padded digits, so numeric order is text order.
    order = np.lexsort(
        (
            survey.employee_id.astype(np.int64).to_numpy(),
            resp.response_day.to_numpy(),
            resp.wave.to_numpy(),
        )
    )
    survey = survey.iloc[order].reset_index(drop=True)
    cost_tab = pd.DataFrame(
        {
            "cost_id": [f"K{i + 1:04d}" for i in range(len(costs))],
            "cohort_id": np.where(
                costs.cohort.to_numpy() >= 0, cohort_ids[np.maximum(costs.cohort.to_numpy(), 0)], ""
            ),
            "category": costs.category.to_numpy(),
            "description": costs.description.to_numpy(),
            "cost_date": iso(costs.cost_day),
            "amount_usd": costs.amount_usd.to_numpy(),
        }
    )
    extracts = {
        "hr_roster": hr,
        "program_cohorts": cohort_tab,
        "peer_groups": group_tab,
        "enrolment": enrolment,
        "sessions": sessions,
        "attendance": attendance,
        "survey_waves": wave_tab,
        "survey_responses": survey,
        "program_costs": cost_tab,
    }
    if program.randomised is not None:
        extracts["rollout_assignment"] = _rollout_assignment(program, ids)
    if staffing is not None:
        from coacheval.simulate.staffing import staffing_extract

        extracts["unit_staffing"] = staffing_extract(org, staffing)
    return extracts, ids


def _rollout_assignment(program: Program, ids: pd.Series) -> pd.DataFrame:
    """One row per randomised leader: group, stratum (facility), assigned cohort, date."""
    r = program.randomised
    assert r is not None
    r = r.sort_values(["cohort", "group_label", "pid"])
    return pd.DataFrame(
        {
            "employee_id": ids.loc[r.pid].to_numpy(),
            "group_id": r.group_label.to_numpy(),
            "stratum": r.facility_id.to_numpy(),
            "cohort_id": program.cohorts.cohort_id.to_numpy()[r.cohort.to_numpy()],
            "randomised_date": iso(r.randomised_day),
        }
    )


def _season(day: int) -> str:
    d = EPOCH + int(day)
    month = int(str(d)[5:7])
    return f"{'Spring' if month <= 6 else 'Fall'} {str(d)[:4]}"


def _hr_roster(
    cfg: SimulationConfig,
    org: Organisation,
    people: pd.DataFrame,
    everyone: pd.DataFrame,
    ids: pd.Series,
    streams: Streams,
) -> pd.DataFrame:
    seats = org.seats
    seat = people.seat.to_numpy()
    rank = seats.role_rank.to_numpy()[seat]
    pid = people.pid.to_numpy()
    details = personal_details(streams, pid, rank)
    observed_exit = people.exit_day.to_numpy() <= cfg.extract_day
    cause = np.asarray(TERMINATION_CAUSES, dtype=object)[people.cause.to_numpy()]
    u_reason = streams.uniform("termination_reason", pid)
    reason = np.full(len(pid), "", dtype=object)
    for name, options in TERMINATION_REASONS.items():
        sel = observed_exit & (cause == name)
        cum = np.cumsum([p for _, p in options])
        k = np.minimum(np.searchsorted(cum, u_reason[sel], side="right"), len(options) - 1)
        reason[sel] = np.asarray([r for r, _ in options], dtype=object)[k]
    ttype = np.where(observed_exit, np.vectorize(TERMINATION_TYPE.get, otypes=[object])(cause), "")
    last_day = np.minimum(people.exit_day.to_numpy() - 1, cfg.extract_day)
    age = people.age_hire.to_numpy() + (last_day - people.hire_day.to_numpy()) / DAYS_PER_YEAR
    age_band = np.empty(len(pid), dtype=object)
    for lo, hi, label in AGE_BANDS:
        age_band[(age >= lo) & (age < hi)] = label
    u_fte = streams.uniform("fte", pid)
    fte = np.where(u_fte < 0.90, 1.0, np.where(u_fte < 0.96, 0.9, 0.8))
    manager = _manager_ids(cfg, org, people, everyone, ids, last_day)
    units = org.units.set_index(np.arange(len(org.units)))
    depts = org.departments
    facs = org.facilities
    hr = pd.DataFrame(
        {
            "employee_id": ids.loc[pid].to_numpy(),
            "employee_name": [
                f"{last}, {first}"
                for first, last in zip(details["first_name"], details["last_name"], strict=True)
            ],
            "work_email": details["email"],
            "work_phone": details["phone"],
            "hire_date": iso(people.hire_day),
            "termination_date": iso(np.where(observed_exit, people.exit_day.to_numpy(), np.nan)),
            "termination_reason": reason,
            "termination_type": ttype,
            "employment_status": np.where(observed_exit, "Terminated", "Active"),
            "job_code": np.asarray(JOB_CODES, dtype=object)[rank],
            "job_title": np.asarray(JOB_TITLES, dtype=object)[rank],
            "role_level": np.asarray(ROLE_LEVELS, dtype=object)[rank],
            "facility_id": facs.facility_id.to_numpy()[seats.facility.to_numpy()[seat]],
            "facility_name": facs.facility_name.to_numpy()[seats.facility.to_numpy()[seat]],
            "department_id": depts.department_id.to_numpy()[seats.department.to_numpy()[seat]],
            "department_name": depts.department_name.to_numpy()[seats.department.to_numpy()[seat]],
            "unit_id": units.unit_id.to_numpy()[seats.unit.to_numpy()[seat]],
            "unit_name": units.unit_name.to_numpy()[seats.unit.to_numpy()[seat]],
            "fte": fte,
            "manager_id": manager,
            "age_band": age_band,
            "gender": details["gender"],
            "race_ethnicity": details["race_ethnicity"],
            "highest_degree": details["highest_degree"],
        }
    )
    return hr.iloc[
        np.argsort(hr.employee_id.astype(np.int64).to_numpy(), kind="stable")
    ].reset_index(drop=True)


def _manager_ids(
    cfg: SimulationConfig,
    org: Organisation,
    people: pd.DataFrame,
    everyone: pd.DataFrame,
    ids: pd.Series,
    on_day: np.ndarray,
) -> np.ndarray:
    """Employee id of the person in the manager's seat on each person's last day (or extract).

    Directors report to their facility's chief nursing officer, who is outside the leader
    population; a vacant manager seat gives an empty value.
    """
    seats = org.seats
    mgr_seat = seats.manager_seat.to_numpy()[people.seat.to_numpy()]
    out = np.full(len(people), "", dtype=object)
    by_seat = everyone.sort_values(["seat", "hire_day"])
    seat_arr = by_seat.seat.to_numpy()
    hire_arr = by_seat.hire_day.to_numpy()
    exit_arr = by_seat.exit_day.to_numpy()
    pid_arr = by_seat.pid.to_numpy()
    has = mgr_seat >= 0
    key = seat_arr.astype(np.int64) * 10**7 + (hire_arr - hire_arr.min())
    probe = mgr_seat[has].astype(np.int64) * 10**7 + (on_day[has] - hire_arr.min())
    pos = np.searchsorted(key, probe, side="right") - 1
    ok = (
        (pos >= 0)
        & (seat_arr[np.maximum(pos, 0)] == mgr_seat[has])
        & (exit_arr[np.maximum(pos, 0)] > on_day[has])
    )
    found = pid_arr[np.maximum(pos, 0)]
    out[has] = np.where(ok, ids.reindex(found).fillna("").to_numpy(), "")
    fac = seats.facility.to_numpy()[people.seat.to_numpy()]
    out[~has] = (9_100_000 + fac[~has]).astype(str)
    return out
