"""The peer-coaching program: cohorts, who enrols, peer groups, withdrawals, sessions, attendance.

Cohorts start every ``cohort_spacing_months``; the leaders employed at a cohort's start, past a
minimum tenure and never enrolled before, are eligible. Who enrols is not random: enrolment is
sampled without replacement with weights ``exp(lp)``, where ``lp`` rises with engagement and
falls with tenure, and depends on role level (Efraimidis-Spirakis weighted sampling, equivalent
to sequential draws proportional to the weights). Peer groups of 3-4 are formed from leaders
of similar role level and different departments. Enrolment lowers the voluntary exit hazard, so
the seat chains are re-simulated after each cohort.

With ``rollout="randomised"`` (a stepped wedge) all cohorts are recruited at once, at the first
cohort's recruitment date, by the same selection model (``n_cohorts`` times a cohort's capacity);
peer groups are formed once, within each facility, and the groups' start order is randomised by
:func:`~coacheval.design.rollout.randomise_rollout`, stratified by facility. A leader's exposure
starts at their group's assigned start; leaders who leave while their group waits never start
(they stay in the randomised population: intention to treat by assignment).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import beta as beta_dist

from coacheval.errors import ConfigError
from coacheval.simulate.config import SimulationConfig
from coacheval.simulate.hazards import DAYS_PER_YEAR, HazardModel
from coacheval.simulate.organisation import Organisation
from coacheval.simulate.streams import Streams
from coacheval.simulate.workforce import employed_on, simulate_chains

__all__: list[str] = []

DAYS_PER_MONTH = DAYS_PER_YEAR / 12


def add_months(day: int | np.ndarray, months: int | np.ndarray) -> np.ndarray | int:
    """Day number of the same day of the month ``months`` later, clamped to the month's end.

    Works elementwise on arrays; returns an ``int`` for scalar input.

    Examples
    --------
    >>> int(add_months(19023, 1))  # 2022-01-31 + 1 month = 2022-02-28
    19051
    """
    d = np.asarray(day, dtype=np.int64).astype("datetime64[D]")
    start_of_month = d.astype("datetime64[M]")
    day_of_month = (d - start_of_month.astype("datetime64[D]")).astype(np.int64)
    target = start_of_month + np.asarray(months, dtype=np.int64)
    month_length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(
        np.int64
    )
    out = (target.astype("datetime64[D]") + np.minimum(day_of_month, month_length - 1)).astype(
        np.int64
    )
    return int(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class Program:
    """Everything the program did, at the person, group and session level.

    ``rollout`` and ``randomised`` are set for a randomised rollout only: the
    :class:`~coacheval.design.rollout.RolloutAssignment` of the peer groups, and one row per
    randomised leader (``pid, group_label, facility_id, cohort, randomised_day, started, group``;
    ``group`` is -1 for leaders who left before their start). A randomised rollout's ``groups``
    also have the ``group_label`` the groups were randomised under (``F01-P001``, ...).
    """

    cohorts: pd.DataFrame
    groups: pd.DataFrame
    enrolment: pd.DataFrame
    sessions: pd.DataFrame
    attendance: pd.DataFrame
    people: pd.DataFrame
    rollout: Any = None
    randomised: pd.DataFrame | None = None


def cohort_table(cfg: SimulationConfig) -> pd.DataFrame:
    """Cohort ids, recruitment, start and end days."""
    start0 = int((np.datetime64(cfg.first_cohort_start) - np.datetime64("1970-01-01")).astype(int))
    starts = [add_months(start0, k * cfg.cohort_spacing_months) for k in range(cfg.n_cohorts)]
    return pd.DataFrame(
        {
            "cohort": np.arange(cfg.n_cohorts),
            "cohort_id": [f"C{k + 1}" for k in range(cfg.n_cohorts)],
            "recruitment_day": [s - cfg.recruitment_lead_days for s in starts],
            "start_day": starts,
            "end_day": [add_months(s, cfg.program_months) - 1 for s in starts],
            "planned_sessions": cfg.planned_sessions,
        }
    )


def _selection_score(
    cfg: SimulationConfig, people: pd.DataFrame, org: Organisation, day: int
) -> np.ndarray:
    rank = org.seats.role_rank.to_numpy()[people.seat.to_numpy()]
    tenure_years = np.maximum((day - people.hire_day.to_numpy()) / DAYS_PER_YEAR, 0.05)
    return (
        cfg.selection_engagement * people.z_work_engagement.to_numpy()
        + cfg.selection_log_tenure * np.log(tenure_years)
        + np.asarray(cfg.selection_role)[rank]
    )


def _valid_windows(levels: np.ndarray, depts: np.ndarray, size: int) -> np.ndarray:
    """For each start i, whether members i..i+size-1 may form a group (padded with False)."""
    n = len(levels)
    out = np.zeros(n + 4, bool)
    if n < size:
        return out
    windows = np.lib.stride_tricks.sliding_window_view
    lv = windows(levels, size)
    dp = windows(depts, size)
    ok = (lv.max(axis=1) - lv.min(axis=1) <= 1) & (dp != dp[:, :1]).any(axis=1)
    out[: len(ok)] = ok
    return out


def _partition(
    levels: np.ndarray, depts: np.ndarray, four_share: float, rng: np.random.Generator
) -> list[int] | None:
    """Cut an ordered sequence into valid peer groups; return their sizes, or None.

    A valid group has 3-4 members whose role levels span at most one step and who come from at
    least two departments.
    """
    n = len(levels)
    valid = {size: _valid_windows(levels, depts, size) for size in (3, 4)}
    feasible = np.zeros(n + 1, bool)
    feasible[n] = True
    for i in range(n - 1, -1, -1):
        feasible[i] = (valid[3][i] and feasible[i + 3]) or (valid[4][i] and feasible[i + 4])
    if not feasible[0]:
        return None
    sizes, i = [], 0
    while i < n:
        options = [s for s in (4, 3) if valid[s][i] and feasible[i + s]]
        size = options[0] if len(options) == 1 else (4 if rng.uniform() < four_share else 3)
        sizes.append(size)
        i += size
    return sizes


def form_groups(
    levels: np.ndarray, depts: np.ndarray, four_share: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Assign enrolees to peer groups of 3-4 with similar role levels and mixed departments.

    Members are ordered by role level and, within a level, dealt round-robin across departments
    (so neighbours come from different departments), then cut into groups. If no valid cut
    exists, the last enrolee in order is dropped (deferred) and the cut retried.

    Returns
    -------
    tuple of ndarray
        Group index per enrolee (-1 when deferred) and the order used.
    """
    n = len(levels)
    dept_rank = rng.permutation(max(int(depts.max()) + 1, 1) if n else 1)[depts] if n else depts
    jitter = rng.permutation(n)
    order_df = pd.DataFrame(
        {"level": levels, "dept": depts, "jitter": jitter, "dept_rank": dept_rank}
    )
    order_df = order_df.sort_values(["level", "dept", "jitter"])
    order_df["turn"] = order_df.groupby(["level", "dept"]).cumcount()
    order = order_df.sort_values(["level", "turn", "dept_rank"]).index.to_numpy()
    group = np.full(n, -1)
    keep = len(order)
    while keep >= 3:
        sizes = _partition(levels[order[:keep]], depts[order[:keep]], four_share, rng)
        if sizes is not None:
            group[order[:keep]] = np.repeat(np.arange(len(sizes)), sizes)
            break
        keep -= 1
    return group, order


def run_program(
    cfg: SimulationConfig, org: Organisation, streams: Streams, model: HazardModel
) -> Program:
    """Recruit every cohort, form its peer groups, and simulate what happens in the program.

    Returns
    -------
    Program
        The tables of the program and ``people``: the workforce after the program's effect on
        exits, with ``cohort`` (-1 for never enrolled), ``group`` and ``dose`` columns.
    """
    if cfg.rollout == "randomised":
        return _run_randomised(cfg, org, streams, model)
    cohorts = cohort_table(cfg)
    capacity = max(6, round(cfg.cohort_share * cfg.n_leaders))
    enrol_pid = np.empty(0, np.int64)
    enrol_day = np.empty(0)
    people = simulate_chains(cfg, org, streams, model)
    records = []
    for c in cohorts.itertuples():
        mask = (
            employed_on(people, c.start_day)
            & (people.hire_day.to_numpy() <= c.start_day - cfg.min_tenure_days)
            & ~np.isin(people.pid.to_numpy(), enrol_pid)
        )
        pool = people[mask]
        lp = _selection_score(cfg, pool, org, c.start_day)
        u = streams.uniform("enrol", pool.pid.to_numpy(), c.cohort)
        key = np.log(u) / np.exp(lp)
        chosen = pool.iloc[np.argsort(-key, kind="stable")[:capacity]]
        rng = streams.generator(f"groups-{c.cohort}")
        levels = org.seats.role_rank.to_numpy()[chosen.seat.to_numpy()]
        depts = org.seats.department.to_numpy()[chosen.seat.to_numpy()]
        group, _ = form_groups(levels, depts, cfg.group_size_four_share, rng)
        placed = chosen[group >= 0]
        records.append(
            pd.DataFrame(
                {
                    "pid": placed.pid.to_numpy(),
                    "cohort": c.cohort,
                    "group_in_cohort": group[group >= 0],
                    "enrol_day": c.start_day,
                }
            )
        )
        enrol_pid = np.concatenate([enrol_pid, placed.pid.to_numpy()])
        enrol_day = np.concatenate([enrol_day, np.full(len(placed), float(c.start_day))])
        # Enrolment changes the enrolees' exits, and so their successors: redo those seats.
        affected = placed.seat.to_numpy()
        if len(affected):
            redone = simulate_chains(cfg, org, streams, model, enrol_pid, enrol_day, seats=affected)
            people = pd.concat([people[~people.seat.isin(affected)], redone], ignore_index=True)
            people = people.sort_values("pid", ignore_index=True)
    enrolled = pd.concat(records, ignore_index=True)
    enrolled["group"] = enrolled.groupby(["cohort", "group_in_cohort"]).ngroup()
    people = people.merge(enrolled[["pid", "cohort", "group"]], on="pid", how="left")
    people["cohort"] = people["cohort"].fillna(-1).astype(np.int64)
    people["group"] = people["group"].fillna(-1).astype(np.int64)
    return _run_sessions(cfg, streams, cohorts, enrolled, people)


def _form_groups_within(
    levels: np.ndarray, depts: np.ndarray, four_share: float, rng: np.random.Generator
) -> np.ndarray:
    """Form peer groups in one facility, leaving out as few leaders as possible.

    :func:`form_groups` defers leaders from the end of its order until a valid cut exists; in a
    facility where one department holds a run of same-level leaders that defers many. Here, while
    some leaders are deferred, one leader of the largest (role level, department) cell is set
    aside instead and the groups formed again (at most 10 times); the attempt that places the
    most leaders is kept. Returns the group index per leader (-1 when not placed).
    """
    n = len(levels)
    keep = np.ones(n, bool)
    best = np.full(n, -1)
    for _ in range(11):
        idx = np.flatnonzero(keep)
        g, order = form_groups(levels[idx], depts[idx], four_share, rng)
        if (g >= 0).sum() > (best >= 0).sum():
            best = np.full(n, -1)
            best[idx] = g
        if (g >= 0).all() or len(idx) <= 3:
            break
        cell = levels[idx] * (int(depts.max()) + 1) + depts[idx]
        counts = np.bincount(cell)
        largest = np.flatnonzero(cell[order] == counts.argmax())
        keep[idx[order[largest[-1]]]] = False
    return best


def _run_randomised(
    cfg: SimulationConfig, org: Organisation, streams: Streams, model: HazardModel
) -> Program:
    """Recruit every cohort at once, form groups per facility, randomise their start order."""
    from coacheval.design.rollout import randomise_rollout

    cohorts = cohort_table(cfg)
    capacity = max(6, round(cfg.cohort_share * cfg.n_leaders))
    day = int(cohorts.recruitment_day.iloc[0])
    people = simulate_chains(cfg, org, streams, model)
    mask = employed_on(people, day) & (people.hire_day.to_numpy() <= day - cfg.min_tenure_days)
    pool = people[mask]
    lp = _selection_score(cfg, pool, org, day)
    u = streams.uniform("enrol_randomised", pool.pid.to_numpy())
    key = np.log(u) / np.exp(lp)
    chosen = pool.iloc[np.argsort(-key, kind="stable")[: capacity * cfg.n_cohorts]]
    seat = chosen.seat.to_numpy()
    facility = org.seats.facility.to_numpy()[seat]
    levels = org.seats.role_rank.to_numpy()[seat]
    depts = org.seats.department.to_numpy()[seat]
    facility_ids = org.facilities.facility_id.to_numpy()
    label = np.full(len(chosen), "", dtype=object)
    n_formed = 0
    for f in np.unique(facility):
        here = np.flatnonzero(facility == f)
        rng = streams.generator(f"groups-randomised-{int(f)}")
        g = _form_groups_within(levels[here], depts[here], cfg.group_size_four_share, rng)
        # Groups are named before randomisation, by facility: F01-P001, F01-P002, ...
        label[here[g >= 0]] = [f"{facility_ids[f]}-P{n + 1:03d}" for n in g[g >= 0]]
        n_formed += int(g.max(initial=-1)) + 1
    if n_formed < cfg.n_cohorts:
        raise ConfigError(
            f"only {n_formed} peer group(s) could be formed for a randomised rollout of "
            f"{cfg.n_cohorts} cohorts: raise n_leaders or cohort_share"
        )
    placed = label != ""
    labels = label[placed]
    members = pd.DataFrame(
        {
            "group": labels,
            "facility_id": facility_ids[facility[placed]],
            "role_level": org.seats.role_level.to_numpy()[seat[placed]],
            "tenure_years": (day - chosen.hire_day.to_numpy()[placed]) / DAYS_PER_YEAR,
        }
    )
    assignment = randomise_rollout(
        members, n_cohorts=cfg.n_cohorts, strata=("facility_id",), unit_col="group", seed=cfg.seed
    )
    cohort = members.group.map(assignment.cohort_of()).to_numpy(dtype=np.int64) - 1
    start = cohorts.start_day.to_numpy()[cohort]
    pid = chosen.pid.to_numpy()[placed]
    # Exposure starts at the assigned start for everyone randomised: a leader who leaves before
    # it is unaffected (the exit draw is the same), so one re-simulation of their seats suffices.
    affected = seat[placed]
    redone = simulate_chains(cfg, org, streams, model, pid, start.astype(float), seats=affected)
    people = pd.concat([people[~people.seat.isin(affected)], redone], ignore_index=True)
    people = people.sort_values("pid", ignore_index=True)
    exit_day = people.set_index("pid").exit_day.loc[pid].to_numpy()
    started = exit_day > start
    randomised = pd.DataFrame(
        {
            "pid": pid,
            "group_label": labels,
            "facility_id": members.facility_id.to_numpy(),
            "cohort": cohort,
            "randomised_day": day,
            "started": started,
        }
    )
    # Groups that meet (one member or more still employed at their start) are numbered by
    # cohort, then label, as volunteer cohorts' groups are numbered by cohort.
    met = (
        randomised[randomised.started]
        .drop_duplicates("group_label")
        .sort_values(["cohort", "group_label"])
        .group_label.to_numpy()
    )
    met_id = pd.Series(np.arange(len(met)), index=met)
    randomised["group"] = (
        randomised.group_label.map(met_id).where(randomised.started, -1).astype(np.int64)
    )
    randomised = randomised.sort_values("pid", ignore_index=True)
    enrolled = pd.DataFrame(
        {
            "pid": randomised.pid.to_numpy(),
            "cohort": randomised.cohort.to_numpy(),
            "group_in_cohort": 0,
            "enrol_day": cohorts.start_day.to_numpy()[randomised.cohort.to_numpy()],
            "group": randomised.group.to_numpy(),
        }
    )[randomised.started.to_numpy()]
    enrolled = enrolled.sort_values(["cohort", "group", "pid"], ignore_index=True)
    people = people.merge(randomised[["pid", "cohort", "group"]], on="pid", how="left")
    people["cohort"] = people["cohort"].fillna(-1).astype(np.int64)
    people["group"] = people["group"].fillna(-1).astype(np.int64)
    program = _run_sessions(cfg, streams, cohorts, enrolled, people)
    groups = program.groups.assign(group_label=met[program.groups.group.to_numpy()])
    return replace(program, groups=groups, rollout=assignment, randomised=randomised)


def _run_sessions(
    cfg: SimulationConfig,
    streams: Streams,
    cohorts: pd.DataFrame,
    enrolled: pd.DataFrame,
    people: pd.DataFrame,
) -> Program:
    exits = people.set_index("pid").exit_day
    enrolled = enrolled.merge(cohorts[["cohort", "start_day", "end_day"]], on="cohort")
    pid = enrolled.pid.to_numpy()
    exit_day = exits.loc[pid].to_numpy()
    # Withdrawal: more likely for burned-out leaders; a uniform time within the program.
    z_burn = people.set_index("pid").z_burnout.loc[pid].to_numpy()
    base = np.log(cfg.withdrawal_probability / (1 - cfg.withdrawal_probability))
    p_wd = 1 / (1 + np.exp(-(base + cfg.withdrawal_burnout_log_odds * z_burn)))
    withdraws = streams.uniform("withdraw", pid) < p_wd
    wd_day = enrolled.start_day.to_numpy() + np.floor(
        streams.uniform("withdraw_time", pid) * (enrolled.end_day - enrolled.start_day).to_numpy()
    )
    wd_day = np.where(withdraws, wd_day, np.inf)
    left_first = exit_day <= np.minimum(wd_day, enrolled.end_day.to_numpy())
    stop_day = np.minimum(np.minimum(wd_day, exit_day), enrolled.end_day.to_numpy() + 1)
    status = np.where(left_first, "withdrew", np.where(withdraws, "withdrew", "completed"))
    status = np.where(
        (status == "completed") & (enrolled.end_day.to_numpy() > cfg.extract_day), "active", status
    )
    reason = np.where(left_first, "left organisation", np.where(withdraws, "personal/workload", ""))
    status_day = np.where(
        left_first, exit_day, np.where(withdraws, wd_day, enrolled.end_day.to_numpy())
    )
    enrolled["status"] = status
    enrolled["status_day"] = np.where(status == "active", np.nan, status_day)
    enrolled["withdrawal_reason"] = reason
    enrolled["stop_day"] = stop_day

    groups = (
        enrolled.groupby("group")
        .agg(
            cohort=("cohort", "first"),
            start_day=("start_day", "first"),
            end_day=("end_day", "first"),
            n_members=("pid", "size"),
        )
        .reset_index()
    )
    g = groups.group.to_numpy()
    fidelity = np.clip(
        streams.uniform("fidelity", g)
        ** (1 / (cfg.session_fidelity_mean / (1 - cfg.session_fidelity_mean))),
        0,
        1,
    )
    meeting_offset = np.floor(streams.uniform("meeting_day", g) * 25)
    maintains = streams.uniform("maintain", g) < cfg.maintenance_probability
    maint_months = np.where(
        maintains, np.ceil(cfg.maintenance_months_mean * streams.exponential("maintain_len", g)), 0
    )
    groups["fidelity"] = fidelity
    groups["maintenance_months"] = maint_months.astype(int)
    groups["maintenance_end_day"] = np.where(
        maint_months > 0,
        add_months(groups.end_day.to_numpy() + 1, maint_months.astype(np.int64)) - 1,
        groups.end_day.to_numpy(),
    )

    # Sessions: monthly, planned sessions in the program year, then maintenance meetings.
    rows = [
        pd.DataFrame(
            {
                "group": np.empty(0, np.int64),
                "month": np.empty(0, np.int64),
                "session_day": np.empty(0, np.int64),
                "duration_minutes": np.empty(0, int),
                "phase": np.empty(0, object),
            }
        )
    ]
    for k in range(cfg.planned_sessions + int(maint_months.max(initial=0))):
        in_program = k < cfg.planned_sessions
        active = (k < cfg.planned_sessions) | (k - cfg.planned_sessions < maint_months)
        if not active.any():
            continue
        day = add_months(groups.start_day.to_numpy(), k) + meeting_offset
        held_p = np.where(in_program, fidelity, 0.85)
        held = active & (streams.uniform("held", g, k) < held_p) & (day <= cfg.extract_day)
        duration = np.where(
            in_program, 60 + 15 * np.floor(streams.uniform("duration", g, k) * 3), 45
        )
        rows.append(
            pd.DataFrame(
                {
                    "group": g[held],
                    "month": k,
                    "session_day": day[held].astype(np.int64),
                    "duration_minutes": duration[held].astype(int),
                    "phase": "program" if in_program else "maintenance",
                }
            )
        )
    sessions = pd.concat(rows, ignore_index=True).sort_values(["group", "month"], ignore_index=True)
    sessions["session"] = np.arange(len(sessions))

    # Attendance: members still in the program (or still employed, for maintenance) attend with
    # their own propensity; propensities are Beta(mean, concentration).
    a_mean, conc = cfg.attendance_mean, cfg.attendance_concentration
    u = streams.uniform("propensity", pid)
    propensity = beta_dist.ppf(u, a_mean * conc, (1 - a_mean) * conc)
    member = enrolled[["pid", "group"]].assign(
        propensity=propensity, stop_day=stop_day, exit_day=exit_day, withdrew=withdraws
    )
    att = sessions.merge(member, on="group")
    maint = att.phase.to_numpy() == "maintenance"
    eligible = np.where(
        maint, (att.exit_day > att.session_day) & ~att.withdrew, att.session_day < att.stop_day
    )
    att = att[eligible]
    p_attend = np.where(att.phase.to_numpy() == "maintenance", 0.8 * att.propensity, att.propensity)
    att = att.assign(
        attended=streams.uniform("attend", att.pid.to_numpy(), att.month.to_numpy()) < p_attend
    )
    attendance = att[["session", "pid", "attended"]].reset_index(drop=True)

    prog_att = att[att.phase == "program"].groupby("pid").attended.sum()
    dose = prog_att.reindex(pid, fill_value=0).to_numpy() / cfg.planned_sessions
    enrolled["dose"] = dose
    enrolled["propensity"] = propensity
    people = people.merge(enrolled[["pid", "dose"]], on="pid", how="left")
    people["dose"] = people["dose"].fillna(0.0)
    return Program(cohorts, groups, enrolled, sessions, attendance, people)
