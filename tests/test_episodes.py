"""HR headcount snapshots -> employment episodes and role spells (coacheval.io.episodes).

Each test builds a small snapshot series by hand: six month-end snapshots (Jan-Jun 2024) in
which a background stayer ``bg`` appears every month, so that the calendar of snapshot dates is
complete, plus the person under test. Each snapshot date comes from its own file
(``hr_202401.csv`` ...), so problems can be checked for the file and row they point to.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coacheval.errors import ConfigError
from coacheval.io.episodes import (
    EPISODE_COLUMNS,
    ROLE_SPELL_COLUMNS,
    EpisodesResult,
    snapshots_to_episodes,
)

CAL = list(pd.date_range("2024-01-31", periods=6, freq="ME"))
JAN, FEB, MAR, APR, MAY, JUN = CAL
HIRE = "2020-03-01"
T = pd.Timestamp


def row(
    emp: str,
    date: pd.Timestamp,
    hire: str = HIRE,
    status: str = "Active",
    term: str | None = None,
    reason: str | None = None,
    *,
    role: str = "nurse_manager",
    unit: str = "U1",
    fte: float = 1.0,
) -> dict:
    return {
        "snapshot_date": T(date),
        "employee_id": emp,
        "employee_name": None,
        "hire_date": T(hire),
        "termination_date": T(term) if term else pd.NaT,
        "termination_reason": reason,
        "employment_status": status,
        "job_code": "RN5",
        "role_level": role,
        "facility_id": "F1",
        "department_id": "D1",
        "unit_id": unit,
        "fte": fte,
        "manager_id": "m1",
    }


def stayer(emp: str = "bg", hire: str = "2015-06-01") -> list[dict]:
    return [row(emp, d, hire) for d in CAL]


def frame(rows: list[dict], *, background: bool = True) -> pd.DataFrame:
    """Snapshot rows with lineage: one file per snapshot date, data rows from row 2."""
    df = pd.DataFrame(rows + (stayer() if background else []))
    for col in ("snapshot_date", "hire_date", "termination_date"):
        df[col] = pd.to_datetime(df[col])
    df["_file"] = [f"hr_{d:%Y%m}.csv" for d in df["snapshot_date"]]
    df["_row"] = df.groupby("_file").cumcount() + 2
    return df


def where(df: pd.DataFrame, emp: str, date: pd.Timestamp, nth: int = 0) -> tuple[str, int]:
    """File and row of the ``nth`` input row of ``emp`` on ``date``."""
    hit = df[(df.employee_id == emp) & (df.snapshot_date == date)].iloc[nth]
    return hit["_file"], int(hit["_row"])


def episodes_of(res: EpisodesResult, emp: str = "p") -> pd.DataFrame:
    return res.episodes[res.episodes.employee_id == emp].reset_index(drop=True)


def spells_of(res: EpisodesResult, emp: str = "p") -> pd.DataFrame:
    return res.role_spells[res.role_spells.employee_id == emp].reset_index(drop=True)


def rules(res: EpisodesResult) -> list[str]:
    return [p.rule for p in res.problems]


def one_problem(res: EpisodesResult, rule: str):
    found = [p for p in res.problems if p.rule == rule]
    assert len(found) == 1, res.problems
    assert found[0].table == "hr_snapshot"
    assert found[0].severity == "warning"
    return found[0]


# --- the basic shapes --------------------------------------------------------------------


def test_simple_stayer_is_censored_at_the_last_snapshot():
    res = snapshots_to_episodes(frame(stayer("p")))
    ep = episodes_of(res)
    assert len(ep) == 1
    assert list(res.episodes.columns) == list(EPISODE_COLUMNS)
    e = ep.iloc[0]
    assert e.episode == 1
    assert e.start_date == T("2015-06-01")
    assert pd.isna(e.end_date)
    assert e.end_reason == ""
    assert bool(e.censored) is True
    assert e.censor_date == JUN
    assert (e.first_snapshot, e.last_snapshot, e.n_snapshots) == (JAN, JUN, 6)
    assert res.problems == []
    assert res.n_people == 2


def test_stayer_is_censored_at_extract_date_when_given():
    res = snapshots_to_episodes(frame(stayer("p")), extract_date=T("2024-07-05"))
    e = episodes_of(res).iloc[0]
    assert e.censor_date == T("2024-07-05")
    assert pd.isna(e.end_date)


def test_result_dtypes():
    res = snapshots_to_episodes(frame(stayer("p")))
    dt = res.episodes.dtypes
    for col in ("start_date", "end_date", "censor_date", "first_snapshot", "last_snapshot"):
        assert dt[col] == np.dtype("datetime64[ns]")
    assert dt["episode"] == np.int64 and dt["n_snapshots"] == np.int64
    assert dt["censored"] == np.dtype(bool)
    assert list(res.role_spells.columns) == list(ROLE_SPELL_COLUMNS)
    assert res.role_spells.dtypes["start_date"] == np.dtype("datetime64[ns]")


def test_leaver_with_reason_ends_on_the_termination_date():
    rows = [row("p", d) for d in (JAN, FEB, MAR)]
    rows.append(row("p", APR, status="Terminated", term="2024-04-10", reason="voluntary"))
    res = snapshots_to_episodes(frame(rows))
    (e,) = episodes_of(res).itertuples()
    assert e.start_date == T(HIRE)
    assert e.end_date == T("2024-04-10")
    assert e.end_reason == "voluntary"
    assert not e.censored
    assert pd.isna(e.censor_date)
    assert (e.last_snapshot, e.n_snapshots) == (APR, 4)
    assert res.problems == []  # leavers are expected to disappear


def test_leaver_listed_again_in_later_snapshots_keeps_one_episode():
    rows = [row("p", d) for d in (JAN, FEB)]
    rows += [
        row("p", d, status="Terminated", term="2024-03-05", reason="retirement") for d in (MAR, MAY)
    ]
    res = snapshots_to_episodes(frame(rows))
    (e,) = episodes_of(res).itertuples()
    assert (e.end_date, e.end_reason, e.n_snapshots) == (T("2024-03-05"), "retirement", 4)
    assert res.problems == []


def test_scheduled_termination_before_the_end_of_follow_up_is_the_end():
    rows = [row("p", d, term="2024-05-15") for d in (JAN, FEB, MAR, APR)]
    res = snapshots_to_episodes(frame(rows))
    (e,) = episodes_of(res).itertuples()
    assert e.end_date == T("2024-05-15")
    assert res.problems == []


def test_back_dated_termination_is_accepted():
    rows = [row("p", d) for d in (JAN, FEB, MAR)]
    rows.append(row("p", APR, status="Terminated", term="2024-03-20", reason="involuntary"))
    res = snapshots_to_episodes(frame(rows))
    (e,) = episodes_of(res).itertuples()
    assert e.end_date == T("2024-03-20")
    assert res.problems == []


# --- rule 1: rehires ---------------------------------------------------------------------


def test_rehire_after_termination_starts_a_second_episode():
    rows = [row("p", d) for d in (JAN, FEB)]
    rows.append(row("p", MAR, status="Terminated", term="2024-03-05", reason="voluntary"))
    rows += [row("p", d, hire="2024-05-02") for d in (MAY, JUN)]
    res = snapshots_to_episodes(frame(rows))
    ep = episodes_of(res)
    assert list(ep.episode) == [1, 2]
    assert list(ep.start_date) == [T(HIRE), T("2024-05-02")]
    assert ep.end_date.iloc[0] == T("2024-03-05")
    assert pd.isna(ep.end_date.iloc[1])
    assert list(ep.censored) == [False, True]
    assert list(ep.n_snapshots) == [3, 2]
    assert res.problems == []


def test_rehire_right_after_a_terminated_row_without_absence():
    rows = [row("p", JAN), row("p", FEB, status="Terminated", term="2024-02-10")]
    rows += [row("p", d, hire="2024-02-20") for d in (MAR, APR, MAY, JUN)]
    res = snapshots_to_episodes(frame(rows))
    ep = episodes_of(res)
    assert list(ep.start_date) == [T(HIRE), T("2024-02-20")]
    assert ep.end_date.iloc[0] == T("2024-02-10")
    assert ep.end_reason.iloc[0] == ""  # termination recorded without a reason
    assert res.problems == []


def test_rehire_without_recorded_termination_ends_the_first_episode_unrecorded():
    rehired = [row("p", d, hire="2024-04-15") for d in (APR, MAY, JUN)]
    df = frame([row("p", d) for d in (JAN, FEB, MAR)] + rehired)
    res = snapshots_to_episodes(df)
    ep = episodes_of(res)
    assert list(ep.start_date) == [T(HIRE), T("2024-04-15")]
    assert ep.end_date.iloc[0] == MAR
    assert ep.end_reason.iloc[0] == "unrecorded"
    assert not ep.censored.iloc[0]
    p = one_problem(res, "rehire_without_termination")
    assert (p.file, p.row) == where(df, "p", MAR)
    assert rules(res) == ["rehire_without_termination"]


# --- rule 2: absences --------------------------------------------------------------------


def test_long_unexplained_gap_splits_the_employment():
    df = frame([row("p", d) for d in (JAN, FEB, MAY, JUN)])
    res = snapshots_to_episodes(df)
    ep = episodes_of(res)
    assert list(ep.episode) == [1, 2]
    first, second = ep.iloc[0], ep.iloc[1]
    assert (first.start_date, first.end_date, first.end_reason) == (T(HIRE), FEB, "unrecorded")
    assert not first.censored
    # the hire date shown again after the gap is stale: the episode starts at its first snapshot
    assert (second.start_date, second.first_snapshot) == (MAY, MAY)
    assert second.censored and pd.isna(second.end_date)
    gap = one_problem(res, "snapshot_gap")
    assert (gap.file, gap.row) == where(df, "p", FEB)
    stale = one_problem(res, "stale_hire_date")
    assert (stale.file, stale.row, stale.column) == (*where(df, "p", MAY), "hire_date")
    assert sorted(rules(res)) == ["snapshot_gap", "stale_hire_date"]


def test_short_missed_snapshot_is_bridged():
    df = frame([row("p", d) for d in (JAN, FEB, APR, MAY, JUN)])
    res = snapshots_to_episodes(df)
    (e,) = episodes_of(res).itertuples()
    assert (e.start_date, e.n_snapshots) == (T(HIRE), 5)
    assert e.censored
    p = one_problem(res, "missing_snapshot")
    assert (p.file, p.row) == where(df, "p", APR)
    assert p.action == "kept"
    assert rules(res) == ["missing_snapshot"]


def test_max_gap_days_decides_between_bridge_and_gap():
    df = frame([row("p", d) for d in (JAN, FEB, APR, MAY, JUN)])
    res = snapshots_to_episodes(df, max_gap_days=20)
    assert len(episodes_of(res)) == 2
    assert "snapshot_gap" in rules(res)


def test_a_snapshot_missing_for_everyone_is_not_an_absence():
    rows = [r for r in [*stayer("p"), *stayer()] if r["snapshot_date"] != MAR]
    res = snapshots_to_episodes(frame(rows, background=False))
    assert len(episodes_of(res)) == 1
    assert res.problems == []


def test_absence_ended_by_a_terminated_row_is_not_a_problem():
    rows = [row("p", d) for d in (JAN, FEB)]
    rows.append(row("p", MAY, status="Terminated", term="2024-03-03", reason="voluntary"))
    res = snapshots_to_episodes(frame(rows))
    (e,) = episodes_of(res).itertuples()
    assert (e.end_date, e.end_reason) == (T("2024-03-03"), "voluntary")
    assert res.problems == []


def test_disappearing_for_good_ends_the_episode_unrecorded():
    df = frame([row("p", d) for d in (JAN, FEB, MAR)])
    res = snapshots_to_episodes(df)
    (e,) = episodes_of(res).itertuples()
    assert (e.end_date, e.end_reason, e.censored) == (MAR, "unrecorded", False)
    p = one_problem(res, "snapshot_gap")
    assert (p.file, p.row) == where(df, "p", MAR)


def test_missing_from_the_last_snapshot_only_is_censored_at_last_sighting():
    df = frame([row("p", d) for d in (JAN, FEB, MAR, APR, MAY)])
    res = snapshots_to_episodes(df, extract_date=T("2024-07-10"))
    (e,) = episodes_of(res).itertuples()
    assert e.censored and pd.isna(e.end_date)
    assert e.censor_date == MAY
    p = one_problem(res, "missing_snapshot")
    assert (p.file, p.row) == where(df, "p", MAY)


# --- rule 3: terminations ----------------------------------------------------------------


def test_terminated_without_date_ends_on_the_snapshot_date():
    rows = [row("p", d) for d in (JAN, FEB, MAR)]
    rows.append(row("p", APR, status="Terminated", reason="involuntary"))
    df = frame(rows)
    res = snapshots_to_episodes(df)
    (e,) = episodes_of(res).itertuples()
    assert (e.end_date, e.end_reason) == (APR, "involuntary")
    p = one_problem(res, "termination_date_missing")
    assert (p.file, p.row, p.column) == (*where(df, "p", APR), "termination_date")


def test_a_later_dated_leaver_row_supplies_the_missing_date():
    rows = [row("p", d) for d in (JAN, FEB)]
    rows.append(row("p", MAR, status="Terminated"))
    rows.append(row("p", APR, status="Terminated", term="2024-03-12", reason="voluntary"))
    res = snapshots_to_episodes(frame(rows))
    (e,) = episodes_of(res).itertuples()
    assert (e.end_date, e.end_reason) == (T("2024-03-12"), "voluntary")
    assert res.problems == []


def test_termination_after_the_end_of_follow_up_is_censored():
    rows = [row("p", d) for d in CAL[:-1]] + [row("p", JUN, term="2024-07-15", reason="voluntary")]
    df = frame(rows)
    res = snapshots_to_episodes(df)
    (e,) = episodes_of(res).itertuples()
    assert e.censored and pd.isna(e.end_date) and e.end_reason == ""
    assert e.censor_date == JUN
    p = one_problem(res, "termination_after_extract")
    assert (p.file, p.row) == where(df, "p", JUN)
    # a later extract date makes the same termination an observed event
    later = episodes_of(snapshots_to_episodes(df, extract_date=T("2024-08-01"))).iloc[0]
    assert (later.end_date, later.end_reason) == (T("2024-07-15"), "voluntary")


# --- rule 4: conflicting snapshots ---------------------------------------------------------


def test_duplicate_snapshot_rows_keep_the_first():
    rows = [row("p", d) for d in CAL]
    rows.insert(3, row("p", MAR, status="Terminated", term="2024-03-20", unit="U9"))
    df = frame(rows)
    res = snapshots_to_episodes(df)
    (e,) = episodes_of(res).itertuples()
    assert e.censored and e.n_snapshots == 6
    assert list(spells_of(res).unit_id) == ["U1"]
    p = one_problem(res, "duplicate_snapshot")
    assert (p.file, p.row) == ("hr_202403.csv", 3)  # the second row of the March file
    assert (p.file, p.row) == where(df, "p", MAR, nth=1)
    assert p.action == "quarantined"
    assert rules(res) == ["duplicate_snapshot"]


def test_duplicate_in_input_order_even_when_the_frame_is_shuffled():
    rows = [row("p", d) for d in CAL]
    rows.append(row("p", MAR, status="Terminated", term="2024-03-20"))
    df = frame(rows)
    shuffled = df.iloc[::-1].reset_index(drop=True)
    res = snapshots_to_episodes(shuffled)
    # reversed input: the Terminated row now comes first and wins, the Active one is ignored
    p = one_problem(res, "duplicate_snapshot")
    assert (p.file, p.row) == where(df, "p", MAR, nth=0)


def test_hire_date_correction_keeps_the_earliest():
    rows = [row("p", d) for d in (JAN, FEB)] + [row("p", d, hire="2019-03-01") for d in CAL[2:]]
    df = frame(rows)
    res = snapshots_to_episodes(df)
    (e,) = episodes_of(res).itertuples()
    assert e.start_date == T("2019-03-01")
    p = one_problem(res, "hire_date_changed")
    assert (p.file, p.row, p.column, p.value) == (*where(df, "p", MAR), "hire_date", "2019-03-01")
    assert rules(res) == ["hire_date_changed"]


def test_later_hire_date_without_absence_or_termination_is_not_a_rehire():
    # the new hire date is before a snapshot that already showed the person: a correction
    rows = [row("p", d) for d in (JAN, FEB)] + [row("p", d, hire="2020-04-01") for d in CAL[2:]]
    res = snapshots_to_episodes(frame(rows))
    (e,) = episodes_of(res).itertuples()
    assert e.start_date == T(HIRE)
    assert rules(res) == ["hire_date_changed"]


def test_active_after_termination_ignores_the_termination():
    rows = [row("p", d) for d in (JAN, FEB)]
    rows.append(row("p", MAR, status="Terminated", term="2024-03-10", reason="voluntary"))
    rows += [row("p", d) for d in (APR, MAY, JUN)]
    df = frame(rows)
    res = snapshots_to_episodes(df)
    (e,) = episodes_of(res).itertuples()
    assert e.censored and pd.isna(e.end_date) and e.end_reason == ""
    p = one_problem(res, "active_after_termination")
    assert (p.file, p.row, p.column, p.value) == (
        *where(df, "p", MAR),
        "termination_date",
        "2024-03-10",
    )
    assert p.action == "value removed"
    assert rules(res) == ["active_after_termination"]


def test_active_row_with_a_past_termination_date_contradicts_itself():
    rows = [row("p", d) for d in CAL[:-1]] + [row("p", JUN, term="2024-05-01")]
    res = snapshots_to_episodes(frame(rows))
    (e,) = episodes_of(res).itertuples()
    assert e.censored
    assert rules(res) == ["active_after_termination"]


def test_terminated_status_without_date_then_active_is_ignored():
    rows = [row("p", JAN), row("p", FEB, status="Terminated")] + [row("p", d) for d in CAL[2:]]
    df = frame(rows)
    res = snapshots_to_episodes(df)
    assert len(episodes_of(res)) == 1 and episodes_of(res).censored.iloc[0]
    p = one_problem(res, "active_after_termination")
    assert (p.file, p.row, p.column, p.value) == (
        *where(df, "p", FEB),
        "employment_status",
        "Terminated",
    )


def test_return_after_long_absence_following_a_termination_is_a_new_episode():
    rows = [row("p", JAN), row("p", FEB, status="Terminated", term="2024-02-05")]
    rows += [row("p", d) for d in (MAY, JUN)]  # same hire date shown again
    df = frame(rows)
    res = snapshots_to_episodes(df)
    ep = episodes_of(res)
    assert list(ep.start_date) == [T(HIRE), MAY]
    assert ep.end_date.iloc[0] == T("2024-02-05")
    assert rules(res) == ["stale_hire_date"]


# --- role spells -------------------------------------------------------------------------


def test_role_change_and_unit_transfer_make_role_spells():
    rows = [row("p", d, role="charge_nurse") for d in (JAN, FEB)]
    rows += [row("p", d, role="nurse_manager") for d in (MAR, APR)]
    rows += [row("p", d, role="nurse_manager", unit="U2") for d in (MAY, JUN)]
    res = snapshots_to_episodes(frame(rows))
    sp = spells_of(res)
    assert list(sp.role_level) == ["charge_nurse", "nurse_manager", "nurse_manager"]
    assert list(sp.unit_id) == ["U1", "U1", "U2"]
    assert list(sp.start_date) == [T(HIRE), MAR, MAY]
    assert list(sp.end_date[:2]) == [MAR, MAY] and pd.isna(sp.end_date.iloc[2])
    assert set(sp.episode) == {1}
    assert res.problems == []


def test_fte_change_is_a_spell_but_missing_fte_compares_equal():
    rows = [row("p", d, fte=1.0) for d in (JAN, FEB)]
    rows += [row("p", d, fte=0.8) for d in (MAR, APR)]
    rows += [row("p", d, fte=np.nan) for d in (MAY, JUN)]
    rows += [row("q", d, fte=np.nan) for d in CAL]
    res = snapshots_to_episodes(frame(rows))
    assert list(spells_of(res).fte.fillna(-1)) == [1.0, 0.8, -1.0]
    assert len(spells_of(res, "q")) == 1


def test_role_spells_end_with_the_episode_and_ignore_leaver_rows():
    rows = [row("p", d) for d in (JAN, FEB)]
    rows.append(row("p", MAR, status="Terminated", term="2024-03-08", unit="TERM"))
    rows += [row("p", d, hire="2024-05-01", unit="U7") for d in (MAY, JUN)]
    res = snapshots_to_episodes(frame(rows))
    sp = spells_of(res)
    assert list(sp.episode) == [1, 2]
    assert list(sp.unit_id) == ["U1", "U7"]
    assert list(sp.start_date) == [T(HIRE), T("2024-05-01")]
    assert sp.end_date.iloc[0] == T("2024-03-08") and pd.isna(sp.end_date.iloc[1])


def test_leaver_seen_only_as_terminated_still_has_a_role_spell():
    rows = [row("p", MAR, hire="2024-02-05", status="Terminated", term="2024-03-01", unit="U3")]
    res = snapshots_to_episodes(frame(rows))
    (e,) = episodes_of(res).itertuples()
    assert (e.start_date, e.end_date) == (T("2024-02-05"), T("2024-03-01"))
    sp = spells_of(res)
    assert list(sp.unit_id) == ["U3"] and sp.end_date.iloc[0] == T("2024-03-01")


# --- every rule reports the stated problem -------------------------------------------------

SCENARIOS = {
    "duplicate_snapshot": (
        [row("p", d) for d in CAL] + [row("p", APR, unit="U2")],
        ("p", APR, 1),
        "snapshot_date",
    ),
    "missing_snapshot": ([row("p", d) for d in (JAN, FEB, APR, MAY, JUN)], ("p", APR, 0), ""),
    "snapshot_gap": ([row("p", d) for d in (JAN, FEB, MAY, JUN)], ("p", FEB, 0), ""),
    "rehire_without_termination": (
        [row("p", d) for d in (JAN, FEB)] + [row("p", MAR, hire="2024-03-10")],
        ("p", FEB, 0),
        "",
    ),
    "termination_date_missing": (
        [row("p", JAN), row("p", FEB, status="Terminated")],
        ("p", FEB, 0),
        "termination_date",
    ),
    "termination_after_extract": (
        [row("p", d, term="2024-09-01") for d in CAL],
        ("p", JAN, 0),
        "termination_date",
    ),
    "hire_date_changed": (
        [row("p", JAN), row("p", FEB, hire="2019-01-01")],
        ("p", FEB, 0),
        "hire_date",
    ),
    "active_after_termination": (
        [row("p", JAN, status="Terminated", term="2024-01-20"), row("p", FEB)],
        ("p", JAN, 0),
        "termination_date",
    ),
    "stale_hire_date": (
        [row("p", JAN, status="Terminated", term="2024-01-20"), row("p", JUN)],
        ("p", JUN, 0),
        "hire_date",
    ),
}


@pytest.mark.parametrize("rule", sorted(SCENARIOS))
def test_every_rule_reports_its_problem_with_file_and_row(rule):
    rows, (emp, date, nth), column = SCENARIOS[rule]
    df = frame(rows)
    res = snapshots_to_episodes(df)
    p = one_problem(res, rule)
    assert (p.file, p.row) == where(df, emp, date, nth)
    assert p.column == column
    assert emp in p.message
    assert p.action in {"kept", "repaired", "value removed", "quarantined"}


def test_problems_fall_back_to_position_and_file_argument_without_lineage():
    df = frame([row("p", d) for d in (JAN, FEB, APR, MAY, JUN)]).drop(columns=["_file", "_row"])
    res = snapshots_to_episodes(df, file="snapshots.parquet")
    p = one_problem(res, "missing_snapshot")
    position = int(np.flatnonzero((df.employee_id == "p") & (df.snapshot_date == APR))[0])
    assert (p.file, p.row) == ("snapshots.parquet", position + 1)


def test_rows_without_key_values_are_reported_and_ignored():
    rows = [row("p", d) for d in CAL] + [row("", JAN)]
    df = frame(rows)
    df.loc[len(rows) - 1, "employee_id"] = None
    res = snapshots_to_episodes(df)
    assert set(res.episodes.employee_id) == {"p", "bg"}
    (p,) = res.problems
    assert (p.rule, p.severity, p.column) == ("required", "error", "employee_id")


# --- many people at once -------------------------------------------------------------------


def test_people_are_independent_and_input_order_does_not_matter():
    people = {
        "a": [row("a", d) for d in (JAN, FEB, MAY, JUN)],
        "b": [row("b", d) for d in (JAN, FEB)]
        + [row("b", MAR, status="Terminated", term="2024-03-05", reason="voluntary")]
        + [row("b", d, hire="2024-05-02") for d in (MAY, JUN)],
        "c": [row("c", d, role="director") for d in CAL],
        "d": [row("d", d) for d in (JAN, FEB, APR, MAY, JUN)],
    }
    alone = {
        emp: snapshots_to_episodes(frame(rows)).episodes.query("employee_id == @emp")
        for emp, rows in people.items()
    }
    together = frame([r for rows in people.values() for r in rows])
    shuffled = together.sample(frac=1, random_state=5).reset_index(drop=True)
    res = snapshots_to_episodes(shuffled)
    for emp, expected in alone.items():
        pd.testing.assert_frame_equal(
            episodes_of(res, emp), expected.reset_index(drop=True), check_dtype=True
        )
    assert list(res.episodes.employee_id) == sorted(res.episodes.employee_id)
    positions = [
        int(np.flatnonzero((shuffled._file == p.file) & (shuffled._row == p.row))[0])
        for p in res.problems
    ]
    assert positions == sorted(positions)


def test_empty_input_gives_empty_tables():
    df = frame([row("p", JAN)], background=False).iloc[0:0]
    res = snapshots_to_episodes(df)
    assert res.episodes.empty and list(res.episodes.columns) == list(EPISODE_COLUMNS)
    assert res.role_spells.empty and list(res.role_spells.columns) == list(ROLE_SPELL_COLUMNS)
    assert res.problems == []


def test_optional_columns_may_be_absent():
    df = frame([row("p", d) for d in CAL[:3]]).drop(
        columns=["termination_date", "termination_reason", "fte", "unit_id"]
    )
    res = snapshots_to_episodes(df)
    (e,) = episodes_of(res).itertuples()
    assert (e.end_date, e.end_reason) == (MAR, "unrecorded")
    assert spells_of(res).unit_id.isna().all()


# --- argument errors -----------------------------------------------------------------------


def test_missing_required_column_raises():
    df = frame(stayer("p")).drop(columns=["hire_date"])
    with pytest.raises(ConfigError, match=r"required column.*hire_date"):
        snapshots_to_episodes(df)


@pytest.mark.parametrize("bad", [-1, 2.5])
def test_bad_max_gap_days_raises(bad):
    with pytest.raises(ConfigError, match="max_gap_days"):
        snapshots_to_episodes(frame(stayer("p")), max_gap_days=bad)


def test_extract_date_before_last_snapshot_raises():
    with pytest.raises(ConfigError, match="extract_date 2024-05-01 is before the last snapshot"):
        snapshots_to_episodes(frame(stayer("p")), extract_date=T("2024-05-01"))


def test_future_termination_of_someone_who_disappeared_is_set_aside():
    df = frame([row("p", d, term="2024-09-01") for d in (JAN, FEB, MAR)])
    res = snapshots_to_episodes(df)
    (e,) = episodes_of(res).itertuples()
    assert (e.end_date, e.end_reason, e.censored) == (MAR, "unrecorded", False)
    assert sorted(rules(res)) == ["snapshot_gap", "termination_after_extract"]


def test_leave_status_is_employment():
    rows = [row("p", d) for d in (JAN, FEB)] + [row("p", d, status="Leave") for d in CAL[2:]]
    res = snapshots_to_episodes(frame(rows))
    (e,) = episodes_of(res).itertuples()
    assert e.censored and e.n_snapshots == 6
    assert res.problems == []


def test_nullable_dtypes_from_the_validator_are_accepted():
    rows = [row("p", d, fte=0.9) for d in (JAN, FEB, APR)]
    rows += [row("p", d, fte=np.nan) for d in (MAY, JUN)]
    df = frame(rows)
    df = df.astype(
        {"employee_id": "string", "unit_id": "string", "fte": "Float64", "_row": "Int64"}
    )
    res = snapshots_to_episodes(df)
    assert list(res.episodes.employee_id) == ["bg", "p"]
    sp = spells_of(res)
    assert sp.fte.dtype == "Float64"
    assert sp.fte.iloc[0] == 0.9 and pd.isna(sp.fte.iloc[1])
    p = one_problem(res, "missing_snapshot")
    assert (p.file, p.row) == where(df, "p", APR)
