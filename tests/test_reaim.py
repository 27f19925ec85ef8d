"""Implementation metrics (RE-AIM): reach, adoption, completion, fidelity and dose, maintenance, goals.

Three kinds of checks:

* a small hand-made study (9 leaders, 2 cohorts, 3 peer groups) whose every count, rate and
  interval is worked out by hand in the comments below; Wilson intervals are R's
  ``prop.test(x, n, correct = FALSE)$conf.int`` (R 4.2), compared to 1e-12;
* a simulated system (``simulate_health_system(seed=5, n_leaders=1000)``), where each metric
  must equal what the simulator recorded: truth.json's enrolled counts, program statuses and
  mean dose, and the realised program (``system.program``: sessions held per group and their
  month index, each leader's dose, each group's maintenance months);
* suppression below the minimum reporting size and edge cases (a cohort with no enrolments, a
  group with no sessions, no attendance extract, missing tables, bad options).

These metrics are counts and shares of the realised program, not estimates of a parameter, so
there is no bias or coverage to check beyond the Wilson interval (tested against R in
test_effects_misc / attrition).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from coacheval.errors import ConfigError, DataValidationError
from coacheval.io.pseudonymise import PseudonymKey
from coacheval.io.study import load_study
from coacheval.measures.baseline import smd_continuous
from coacheval.quality.reaim import _suppression_mask as suppression_mask
from coacheval.quality.reaim import (
    adoption,
    completion,
    fidelity_dose,
    goal_attainment,
    implementation_summary,
    maintenance,
    reach,
)
from coacheval.simulate import simulate_health_system

D = pd.to_datetime
EXACT = {"rtol": 0, "atol": 1e-12}
# R: prop.test(x, n, correct = FALSE)$conf.int
R_WILSON = {
    (3, 7): (0.158219855251470, 0.749541635472343),
    (0, 3): (0.0, 0.561497031755045),
    (1, 3): (0.0614919447203963, 0.7923403991979523),
}


# ---------------------------------------------------------------- the hand-made study ----------
def _tables() -> dict[str, pd.DataFrame]:
    roster = pd.DataFrame(
        {
            "employee_id": list("abcdefghi"),
            "hire_date": D(
                [
                    "2015-01-01",  # a: enrolled C1
                    "2016-01-01",  # b: enrolled C1, withdrew
                    "2017-01-01",  # c: enrolled C1, withdrew (no reason)
                    "2018-01-01",  # d
                    "2022-05-01",  # e: hired on C1's opening day -> eligible
                    "2019-01-01",  # f: terminated on C1's opening day -> never eligible
                    "2019-01-01",  # g: terminated before C2 opened -> eligible for C1 only
                    "2022-06-01",  # h: hired after C1 opened, enrolled in C1 anyway
                    "2020-01-01",  # i
                ]
            ),
            "termination_date": D(
                [None, None, None, None, None, "2022-05-01", "2022-09-01", None, None]
            ),
            "role_level": ["charge_nurse"] * 3 + ["nurse_manager"] * 2 + ["charge_nurse"] * 4,
            "fte": [1.0, 0.9, 1.0, 0.8, 1.0, 1.0, 0.6, 1.0, 0.7],
            "age_band": [
                "30-39",
                "40-49",
                "30-39",
                "50-59",
                "40-49",
                "30-39",
                "60+",
                "<30",
                "40-49",
            ],
            "facility_id": ["F1"] * 8 + ["F2"],
            "department_id": ["D1", "D1", "D2", "D2", "D3", "D4", "D3", "D4", "D5"],
            "unit_id": ["U1", "U1", "U2", "U2", "U3", "U4", "U3", "U4", "U5"],
        }
    )
    cohorts = pd.DataFrame(
        {
            "cohort_id": ["C1", "C2"],
            "recruitment_open_date": D(["2022-05-01", "2022-11-01"]),
            "start_date": D(["2022-07-01", "2023-01-01"]),
            "end_date": D(["2023-06-30", "2023-12-31"]),
            "planned_sessions": [4, 4],
        }
    )
    groups = pd.DataFrame({"group_id": ["G1", "G2", "G3"], "cohort_id": ["C1", "C1", "C2"]})
    enrolment = pd.DataFrame(
        {
            "employee_id": ["a", "b", "c", "h"],
            "cohort_id": ["C1"] * 4,
            "group_id": ["G1", "G1", "G1", "G2"],
            "enrol_date": D(["2022-07-01"] * 4),
            "status": ["completed", "withdrew", "withdrew", "active"],
            "status_date": D(["2023-06-30", "2022-09-15", "2022-10-01", None]),
            "withdrawal_reason": [None, "workload", None, None],
        }
    )
    sessions = pd.DataFrame(
        {
            "session_id": [f"s{k}" for k in range(1, 8)],
            "group_id": ["G1"] * 5 + ["G2"] * 2,
            "session_date": D(
                [
                    "2022-07-10",
                    "2022-08-10",
                    "2022-09-10",
                    "2023-08-15",  # 2nd month after C1's program (P = 2023-07-01)
                    "2023-12-01",  # first day of the 6th month after: counts at 6, not at 5
                    "2022-07-12",
                    "2022-08-12",  # phase missing, within the program -> a program session
                ]
            ),
            "phase": ["program"] * 3 + ["maintenance", None, "program", None],
        }
    )
    attendance = pd.DataFrame(
        {
            "session_id": ["s1"] * 3 + ["s2"] * 3 + ["s3"] * 2 + ["s4"] * 2 + ["s6", "s6", "s7"],
            "employee_id": list("abc") + list("abc") + list("ac") + list("ac") + ["h", "a", "h"],
            "attended": list("YYY") + list("YNY") + list("YN") + list("YY") + list("YYN"),
        }
    )
    return {
        "hr_roster": roster,
        "program_cohorts": cohorts,
        "peer_groups": groups,
        "enrolment": enrolment,
        "sessions": sessions,
        "attendance": attendance,
    }


def _study(drop: tuple[str, ...] = (), **replace: pd.DataFrame) -> SimpleNamespace:
    tables = {k: v for k, v in _tables().items() if k not in drop}
    tables.update(replace)
    return SimpleNamespace(tables=tables)


def _row(table: pd.DataFrame, **where: object) -> pd.Series:
    mask = np.ones(len(table), bool)
    for col, value in where.items():
        mask &= (table[col] == value).to_numpy()
    assert mask.sum() == 1, where
    return table[mask].iloc[0]


# ---------------------------------------------------------------- reach ------------------------
def test_reach_by_hand():
    r = reach(_study(), min_cell=0)
    # C1 eligible a b c d e g i (f left on the opening day, h hired after it); enrolled a b c.
    c1 = _row(r.table, cohort_id="C1")
    assert (c1.eligible, c1.enrolled, c1.not_enrolled, c1.enrolled_not_eligible) == (7, 3, 4, 1)
    np.testing.assert_allclose([c1.conf_low, c1.conf_high], R_WILSON[(3, 7)], **EXACT)
    assert c1.proportion == pytest.approx(3 / 7)
    # C2 (no enrolments): employed on 2022-11-01 and not enrolled before: d e i.
    c2 = _row(r.table, cohort_id="C2")
    assert (c2.eligible, c2.enrolled, c2.proportion) == (3, 0, 0.0)
    np.testing.assert_allclose([c2.conf_low, c2.conf_high], R_WILSON[(0, 3)], **EXACT)
    # All: distinct leaders ever eligible (a b c d e g i) and of them ever enrolled (a b c).
    total = _row(r.table, cohort_id="All")
    assert (total.eligible, total.enrolled, total.enrolled_not_eligible) == (7, 3, 1)
    assert not r.table.suppressed.any()
    assert any("not eligible by this rule" in n for n in r.notes)


def test_reach_differences_are_tableone_smds():
    r = reach(_study(), min_cell=0)
    # C1 tenure on 2022-05-01: enrolled a b c against d e g i.
    opened = D("2022-05-01")
    hire = _tables()["hr_roster"].set_index("employee_id").hire_date
    tenure = (opened - hire).dt.days / 365.25
    expected = smd_continuous(tenure[list("abc")], tenure[list("degi")])
    got = _row(r.smd, cohort_id="C1", variable="tenure_years").smd
    assert got == pytest.approx(expected, abs=1e-12)
    assert expected > 0  # the enrolled here were hired earlier: longer tenure
    # C2 has nobody enrolled: no SMD.
    assert r.smd[r.smd.cohort_id == "C2"].smd.isna().all()
    assert set(r.smd.variable) == {"tenure_years", "fte", "role_level", "age_band"}
    assert r.profile is not None and [g for g, _ in r.profile.groups] == [
        "Enrolled",
        "Eligible, not enrolled",
    ]


def test_reach_suppression():
    r = reach(_study(), min_cell=5)
    c1, c2, total = (_row(r.table, cohort_id=c) for c in ("C1", "C2", "All"))
    # C1: 3 enrolled and 4 not: both hidden with the proportion; 7 eligible is hidden too,
    # because C2's 3 eligible is hidden and All's 7 would give it away.
    assert pd.isna(c1.enrolled) and pd.isna(c1.not_enrolled) and np.isnan(c1.proportion)
    assert pd.isna(c2.eligible) and pd.isna(c2.not_enrolled)
    assert c2.enrolled == 0  # zeros are shown
    assert pd.isna(c1.eligible)
    assert pd.isna(total.enrolled_not_eligible)
    assert r.table.suppressed.tolist() == [True, True, True]
    assert r.smd.smd.isna().all()  # fewer than 5 on a side
    text = r.summary()
    assert "*" in text and "suppressed" in text
    shown = r.table.select_dtypes("number").to_numpy(float)
    assert not ((shown > 0) & (shown < 5) & (np.mod(shown, 1) == 0)).any()


# ---------------------------------------------------------------- adoption ---------------------
def test_adoption_by_hand():
    a = adoption(_study(), min_cell=0)
    dep = a.table[a.table.level == "department_id"].set_index("cohort_id")
    # C1: D1 (a b), D2 (c d), D3 (e g), D4 (h, enrolled though not eligible), D5 (i); D1 D2 D4 adopt.
    assert (dep.loc["C1", "units"], dep.loc["C1", "adopting"]) == (5, 3)
    # C2: d e i eligible in D2 D3 D5, nobody enrolled.
    assert (dep.loc["C2", "units"], dep.loc["C2", "adopting"]) == (3, 0)
    assert (dep.loc["All", "units"], dep.loc["All", "adopting"]) == (5, 3)
    fac = a.table[a.table.level == "facility_id"].set_index("cohort_id")
    assert (fac.loc["C1", "units"], fac.loc["C1", "adopting"]) == (2, 1)
    np.testing.assert_allclose(
        fac.loc["C2", ["conf_low", "conf_high"]].to_numpy(float),
        (0.0, 0.657619772493347),
        atol=1e-12,
    )  # R: prop.test(0, 2, correct = FALSE)$conf.int
    d1 = _row(a.by_unit, cohort_id="C1", level="department_id", unit="D1")
    assert (d1.eligible, d1.enrolled, d1.proportion) == (2, 2, 1.0)
    assert "All" not in set(a.by_unit.cohort_id)


def test_adoption_suppresses_people_not_units():
    a = adoption(_study(), min_cell=5)
    assert not a.table[["units", "adopting"]].isna().any().any()
    counts = a.by_unit[["eligible", "enrolled", "not_enrolled"]].to_numpy(float)
    assert not ((counts > 0) & (counts < 5)).any()
    assert a.by_unit.suppressed.all()  # every unit here has fewer than 5 leaders
    with pytest.raises(DataValidationError, match="hr_roster has no column"):
        adoption(_study(), levels=["ward_id"])


# ---------------------------------------------------------------- completion -------------------
def test_completion_by_hand():
    c = completion(_study(), min_cell=0)
    c1 = _row(c.table, cohort_id="C1")
    assert (c1.enrolled, c1.completed, c1.withdrew, c1.in_progress) == (4, 1, 2, 1)
    assert c1.completion_rate == pytest.approx(1 / 3)
    np.testing.assert_allclose([c1.conf_low, c1.conf_high], R_WILSON[(1, 3)], **EXACT)
    c2 = _row(c.table, cohort_id="C2")
    assert c2.enrolled == 0 and np.isnan(c2.completion_rate)
    reasons = c.reasons[c.reasons.cohort_id == "C1"].set_index("withdrawal_reason").n
    assert reasons.to_dict() == {"workload": 1, "(not recorded)": 1}


def test_completion_suppression_and_bad_status():
    c = completion(_study(), min_cell=5)
    c1 = _row(c.table, cohort_id="C1")
    assert pd.isna(c1.completed) and pd.isna(c1.withdrew) and np.isnan(c1.completion_rate)
    assert c.reasons.n.isna().all() and c.reasons.suppressed.all()
    assert "*" in c.summary()
    bad = _tables()["enrolment"].assign(status=["completed", "dropped", "withdrew", "active"])
    with pytest.raises(DataValidationError, match="status must be one of"):
        completion(_study(enrolment=bad))


# ---------------------------------------------------------------- fidelity and dose ------------
def test_fidelity_dose_by_hand():
    f = fidelity_dose(_study(), min_cell=0, keep_data=True)
    g = f.by_group.set_index("group_id")
    # Program sessions: G1 s1-s3 (s4 maintenance, s5 after the end), G2 s6 and s7 (by date).
    assert g.held.to_dict() == {"G1": 3, "G2": 2, "G3": 0}
    assert g.held_share.to_dict() == {"G1": 0.75, "G2": 0.5, "G3": 0.0}
    p = f.by_person.set_index("employee_id")
    # a: s1 s2 s3 (its Y at G2's s6 is not its group's); b: s1; c: s1 s2; h: s6.
    assert p.attended.to_dict() == {"a": 3, "b": 1, "c": 2, "h": 1}
    np.testing.assert_allclose(p.attendance_rate.to_numpy(), [1, 1 / 3, 2 / 3, 0.5], **EXACT)
    np.testing.assert_allclose(p.dose.to_numpy(), [0.75, 0.25, 0.5, 0.25], **EXACT)
    assert g.loc["G1", "attendance_rate"] == pytest.approx(2 / 3)
    assert np.isnan(g.loc["G3", "attendance_rate"]) and g.loc["G3", "members"] == 0
    c1 = _row(f.table, cohort_id="C1")
    assert (c1.groups, c1.sessions_planned, c1.sessions_held) == (2, 8, 5)
    assert c1.held_share == pytest.approx(5 / 8)
    assert c1.attendance_mean == pytest.approx((1 + 1 / 3 + 2 / 3 + 0.5) / 4)
    assert c1.dose_mean == pytest.approx(0.4375)
    assert c1.group_attendance_mean == pytest.approx((2 / 3 + 0.5) / 2)
    c2 = _row(f.table, cohort_id="C2")
    assert (c2.groups, c2.groups_without_sessions, c2.sessions_held, c2.members) == (1, 1, 0, 0)
    assert np.isnan(c2.attendance_mean)
    bands = f.dose_bands[f.dose_bands.cohort_id == "C1"].set_index("band").n.to_dict()
    assert bands == {"none": 0, "<25%": 0, "25% to <50%": 2, "50% to <75%": 1, "75%+": 1}
    assert isinstance(f.plot(), Figure)


def test_fidelity_suppression_and_no_attendance():
    f = fidelity_dose(_study(), min_cell=5)
    assert f.by_person is None
    assert f.by_group.attendance_rate.isna().all()  # groups of fewer than 5 leaders
    assert f.by_group.held.tolist() == [3, 2, 0]  # sessions are not people: shown
    c1 = _row(f.table, cohort_id="C1")
    assert pd.isna(c1.members) and np.isnan(c1.dose_mean) and c1.suppressed
    n = f.dose_bands.n.to_numpy(float)
    assert not ((n > 0) & (n < 5)).any()
    none = fidelity_dose(_study(drop=("attendance",)), min_cell=0)
    assert none.table.attendance_mean.isna().all() and none.table.dose_mean.isna().all()
    assert none.dose_bands.empty
    assert any("No attendance extract" in n for n in none.notes)
    assert none.by_group.held.tolist() == [3, 2, 0]


def test_fidelity_bad_input():
    with pytest.raises(ConfigError, match="dose_bands"):
        fidelity_dose(_study(), dose_bands=(0.5, 0.25))
    with pytest.raises(DataValidationError, match="no sessions extract"):
        fidelity_dose(_study(drop=("sessions",)))
    stray = _tables()["sessions"].assign(group_id=["G9"] + ["G1"] * 4 + ["G2"] * 2)
    with pytest.raises(DataValidationError, match="session group_id"):
        fidelity_dose(_study(sessions=stray))
    bad = _tables()["attendance"].assign(attended="yes")
    with pytest.raises(DataValidationError, match="Y or N"):
        fidelity_dose(_study(attendance=bad))


# ---------------------------------------------------------------- maintenance ------------------
def test_maintenance_by_hand():
    m = maintenance(_study(), (2, 5, 6, 12), extract_date="2024-06-30")
    t = m.table.set_index(["cohort_id", "horizon_months"])
    # C1 ends 2023-06-30: G1 met on 2023-08-15 (month 2) and 2023-12-01 (month 6, first day).
    assert t.loc[("C1", 2), ["followed", "meeting"]].tolist() == [2, 1]
    assert t.loc[("C1", 5), "meeting"] == 0  # 2023-12-01 is outside [2023-11-01, 2023-12-01)
    assert t.loc[("C1", 6), "meeting"] == 1
    assert t.loc[("C1", 12), ["followed", "meeting"]].tolist() == [2, 0]  # month ends 2024-06-30
    # C2 ends 2023-12-31: its 12th month ends after the extract date.
    assert t.loc[("C2", 6), ["groups", "followed", "meeting"]].tolist() == [1, 1, 0]
    assert t.loc[("C2", 12), "followed"] == 0 and np.isnan(t.loc[("C2", 12), "proportion"])
    assert t.loc[("All", 6), ["groups", "followed", "meeting"]].tolist() == [3, 3, 1]
    np.testing.assert_allclose(
        t.loc[("All", 6), ["conf_low", "conf_high"]].to_numpy(float), R_WILSON[(1, 3)], **EXACT
    )
    g = m.by_group.set_index("group_id")
    assert g.sessions_after_program.to_dict() == {"G1": 2, "G2": 0, "G3": 0}
    assert g.loc["G1", "meeting_6m"] and not g.loc["G2", "meeting_6m"]
    assert pd.isna(g.loc["G3", "meeting_12m"])
    assert isinstance(m.plot(), Figure)


def test_maintenance_default_extract_date_and_bad_horizons():
    m = maintenance(_study(), (6,))
    # Latest date in the extracts is the session of 2023-12-01: C1's 6th month is not yet over.
    assert m.extract_date == D("2023-12-01")
    assert _row(m.table, cohort_id="C1").followed == 0
    for bad in ((0,), (2.5,), (), (True,)):
        with pytest.raises(ConfigError, match="horizons_months"):
            maintenance(_study(), bad)


# ---------------------------------------------------------------- goal attainment --------------
def _goals() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "goal_id": ["g1", "g2", "g3", "g4"],
            "employee_id": ["a", "a", "c", "h"],
            "cohort_id": ["C1", "C1", None, "C1"],  # c's cohort comes from the enrolment
            "baseline_level": [-1, -1, -2, -1],
            "attained_level": pd.array([0, 1, -1, None], dtype="Int64"),
        }
    )


def test_goal_attainment_by_hand():
    g = goal_attainment(_study(goals=_goals()), min_cell=0)
    c1 = _row(g.table, cohort_id="C1")
    assert (c1.leaders, c1.goals, c1.reviewed) == (3, 4, 3)
    assert c1.attained_share == pytest.approx(2 / 3)
    assert c1.mean_attained == pytest.approx(0.0)
    assert c1.mean_change == pytest.approx(4 / 3)
    # Kiresuk-Sherman T, rho 0.3: a: 50 + 10 * 1 / sqrt(0.7 * 2 + 0.3 * 4); c: 50 - 10.
    t_a = 50 + 10 / math.sqrt(2.6)
    assert c1.mean_t_score == pytest.approx((t_a + 40) / 2, abs=1e-12)
    levels = g.levels[g.levels.cohort_id == "C1"].set_index("attained_level").n.to_dict()
    assert levels == {-2: 0, -1: 1, 0: 1, 1: 1, 2: 0}
    hidden = goal_attainment(_study(goals=_goals()), min_cell=5)
    assert hidden.table.mean_t_score.isna().all() and hidden.levels.n.isna().any()
    with pytest.raises(DataValidationError, match="no goals extract"):
        goal_attainment(_study())
    with pytest.raises(DataValidationError, match="from -2 to 2"):
        goal_attainment(_study(goals=_goals().assign(attained_level=[0, 3, 1, 1])))
    with pytest.raises(ConfigError, match="rho"):
        goal_attainment(_study(goals=_goals()), rho=1.0)


def test_implementation_summary_bundles_what_the_extracts_allow():
    full = implementation_summary(_study(goals=_goals()), extract_date="2024-06-30")
    assert sorted(full) == [
        "adoption",
        "completion",
        "fidelity_dose",
        "goal_attainment",
        "maintenance",
        "reach",
    ]
    for result in full.values():
        assert isinstance(result.plot(), Figure)
        assert result.title in result.summary()
        assert result.to_dict()["table"]
    bare = implementation_summary(_study(drop=("sessions", "attendance")))
    assert sorted(bare) == ["adoption", "completion", "reach"]


def test_missing_tables_and_bad_options():
    with pytest.raises(DataValidationError, match="no enrolment extract"):
        reach(_study(drop=("enrolment",)))
    with pytest.raises(ConfigError, match="min_cell"):
        reach(_study(), min_cell=-1)
    with pytest.raises(ConfigError, match="Study"):
        reach(object())
    # An enrolee the roster does not have (a quarantined roster row) is left out with a note;
    # the measures of everyone else stand.
    stray = _tables()["enrolment"].assign(employee_id=["a", "b", "c", "zz"])
    kept = reach(_study(enrolment=stray))
    assert any("1 enrolled leader(s) not in the HR roster" in n for n in kept.notes)
    without = reach(_study(enrolment=_tables()["enrolment"].iloc[:3]))
    pd.testing.assert_frame_equal(kept.table, without.table)
    assert any("not in the HR roster" in n for n in adoption(_study(enrolment=stray)).notes)
    twice = _tables()["enrolment"].assign(employee_id=["a", "a", "c", "h"])
    with pytest.raises(DataValidationError, match="more than once"):
        completion(_study(enrolment=twice))


# ---------------------------------------------------------------- suppression rules ------------
def test_secondary_suppression_example():
    # completed, withdrew, in progress for 3 cohorts, then All (the simulator's seed-3 case).
    cells = np.array([[19, 11, 0], [28, 2, 0], [25, 5, 0], [72, 18, 0]])
    mask, total = suppression_mask(cells, 5)
    # C2's 2 is hidden; its 28 with it; down the columns C1 (the smallest other) follows.
    assert mask.tolist() == [
        [True, True, False],
        [True, True, False],
        [False, False, False],
        [False, False, False],
    ]
    assert not total.any()


def test_suppression_leaves_nothing_recoverable():
    rng = np.random.default_rng(1)
    for _ in range(300):
        k, m = rng.integers(1, 5), rng.integers(1, 5)
        body = rng.integers(0, 12, size=(k, m))
        cells = np.vstack([body, body.sum(axis=0)])
        mask, total = suppression_mask(cells, 5)
        grid = np.column_stack([cells, cells.sum(axis=1)])
        hidden = np.column_stack([mask, total])
        shown = grid[~hidden]
        assert not ((shown > 0) & (shown < 5)).any()
        # A row never has exactly one hidden count next to a shown total.
        assert not ((mask.sum(axis=1) == 1) & ~total).any()
        # A column never has exactly one hidden cohort count next to a shown All count.
        assert not ((hidden[:-1].sum(axis=0) == 1) & ~hidden[-1]).any()


# ---------------------------------------------------------------- against the simulator --------
@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    system = simulate_health_system(seed=5, n_leaders=1000, unit_staffing=False)
    folder = tmp_path_factory.mktemp("reaim")
    system.write(folder)
    study = load_study(folder, key=PseudonymKey(b"k" * 32))
    return system, study


def _group_ids(system) -> pd.Series:
    """The simulator's group index -> the group_id written to the extracts."""
    groups = system.program.groups
    cohort_ids = system.program.cohorts.cohort_id.to_numpy()
    n = groups.groupby("cohort").cumcount().to_numpy()
    ids = [f"{cohort_ids[c]}-G{k + 1:03d}" for c, k in zip(groups.cohort, n, strict=True)]
    return pd.Series(ids, index=groups.group.to_numpy())


def test_simulated_reach_and_completion_match_truth(simulated):
    system, study = simulated
    truth = system.truth["program"]
    r = reach(study, min_cell=0)
    t = r.table.set_index("cohort_id")
    for c in truth["cohorts"]:
        assert t.loc[c["cohort_id"], "enrolled"] == c["enrolled"]
    assert t.loc["All", "enrolled"] == truth["enrolled"]
    assert (t.enrolled_not_eligible == 0).all()  # the simulator enrols employed leaders only
    # The simulator's selection favours shorter tenure: enrolees have a negative tenure SMD.
    assert _row(r.smd, cohort_id="All", variable="tenure_years").smd < 0
    c = completion(study, min_cell=0).table.set_index("cohort_id")
    status = truth["status"]
    assert c.loc["All", "completed"] == status.get("completed", 0)
    assert c.loc["All", "withdrew"] == status.get("withdrew", 0)
    assert c.loc["All", "in_progress"] == status.get("active", 0) + status.get("enrolled", 0)
    enr = system.program.enrolment
    cohort_ids = system.program.cohorts.cohort_id.to_numpy()
    by_cohort = enr.groupby(cohort_ids[enr.cohort.to_numpy()]).status.value_counts().unstack()
    for cid, row in by_cohort.fillna(0).iterrows():
        assert c.loc[cid, "withdrew"] == row.get("withdrew", 0)
        assert c.loc[cid, "completed"] == row.get("completed", 0)


def test_simulated_fidelity_matches_the_realised_program(simulated):
    system, study = simulated
    truth = system.truth["program"]
    f = fidelity_dose(study, min_cell=0)
    ids = _group_ids(system)
    ses = system.program.sessions
    held = ses[ses.phase == "program"].groupby("group").size()
    expected = pd.Series(held.reindex(ids.index, fill_value=0).to_numpy(), index=ids.to_numpy())
    got = f.by_group.set_index("group_id").held
    pd.testing.assert_series_equal(
        got.sort_index(), expected.sort_index(), check_names=False, check_dtype=False
    )
    groups = f.table.set_index("cohort_id").groups
    for c in truth["cohorts"]:
        assert groups.loc[c["cohort_id"]] == c["groups"]
    # Dose (program sessions attended / planned) is the simulator's own dose, leader by leader.
    assert _row(f.table, cohort_id="All").dose_mean == pytest.approx(truth["mean_dose"], abs=1e-9)
    raw = SimpleNamespace(tables=system.extracts)
    person = fidelity_dose(raw, min_cell=0, keep_data=True).by_person.set_index("employee_id")
    enr = system.program.enrolment
    true_dose = pd.Series(enr.dose.to_numpy(), index=system.employee_ids.loc[enr.pid].to_numpy())
    np.testing.assert_allclose(person.dose.loc[true_dose.index], true_dose, **EXACT)


def test_simulated_maintenance_matches_the_realised_program(simulated):
    system, study = simulated
    horizons = (3, 6, 12)
    m = maintenance(study, horizons, extract_date=system.config.extract_date)
    ids = _group_ids(system)
    groups = system.program.groups.set_index("group")
    planned = system.config.planned_sessions
    ses = system.program.sessions
    by_group = m.by_group.set_index("group_id").loc[ids.to_numpy()]
    extract_day = (np.datetime64(system.config.extract_date) - np.datetime64("1970-01-01")).astype(
        int
    )
    for h in horizons:
        # Month index planned + h - 1 is the h-th month after the program.
        met = set(ses.loc[ses.month == planned + h - 1, "group"])
        end_of_window = pd.to_datetime(by_group.program_end) + pd.DateOffset(days=1)
        end_of_window = end_of_window + pd.DateOffset(months=h) - pd.DateOffset(days=1)
        followed = (end_of_window <= system.config.extract_date).to_numpy()
        expected = np.array([g in met for g in ids.index])
        got = by_group[f"meeting_{h}m"]
        assert (got.isna().to_numpy() == ~followed).all()
        np.testing.assert_array_equal(got.dropna().to_numpy(bool), expected[followed])
        # Only groups that kept meeting at least h months can be meeting at h.
        months = groups.maintenance_months.loc[ids.index].to_numpy()
        assert (months[got.fillna(False).to_numpy(bool)] >= h).all()
        share = _row(m.table, cohort_id="All", horizon_months=h)
        assert share.meeting == int(expected[followed].sum())
        assert 0 < share.meeting < share.followed  # the check is not vacuous
    # Groups with any meeting after the program are those the truth says kept meeting (and held one).
    after = by_group.sessions_after_program.to_numpy() > 0
    truth_maintaining = groups.maintenance_months.loc[ids.index].to_numpy() > 0
    assert not (after & ~truth_maintaining).any()
    assert after.sum() <= system.truth["program"]["groups_maintaining"]
    maint = ses[(ses.phase == "maintenance") & (ses.session_day <= extract_day)]
    assert after.sum() == maint.group.nunique()
