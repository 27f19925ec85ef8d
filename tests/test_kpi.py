"""Quarterly KPI table: hand-computed values, suppression below the minimum cell, the simulator."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from coacheval.errors import ConfigError
from coacheval.quality.kpi import KPI_DEFINITIONS, quarterly_kpis
from coacheval.retention.persontime import build_person_time


def _study(n_stayers=10):
    ids = [f"p{i}" for i in range(n_stayers)] + ["q1", "q2"]
    roster = pd.DataFrame(
        {
            "employee_id": ids,
            "hire_date": pd.to_datetime(["2015-01-01"] * len(ids)),
            "termination_date": pd.to_datetime([None] * n_stayers + ["2024-02-10", "2024-05-20"]),
            "termination_reason": [None] * n_stayers + ["Resigned", "Retirement"],
            "termination_type": [None] * n_stayers + ["Voluntary", "Voluntary"],
        }
    )
    enrolment = pd.DataFrame(
        {
            "employee_id": ["p0", "p1", "p2", "p3", "p4", "p5"],
            "enrol_date": pd.to_datetime(["2024-01-15"] * 6),
            "group_id": ["G1"] * 3 + ["G2"] * 3,
        }
    )
    sessions = pd.DataFrame(
        {
            "session_id": ["s1", "s2", "s3"],
            "group_id": ["G1", "G2", "G1"],
            "session_date": pd.to_datetime(["2024-02-01", "2024-02-02", "2024-04-01"]),
        }
    )
    attendance = pd.DataFrame(
        {
            "session_id": ["s1"] * 3 + ["s2"] * 3 + ["s3"] * 3,
            "employee_id": ["p0", "p1", "p2", "p3", "p4", "p5", "p0", "p1", "p2"],
            "attended": ["Y", "Y", "N", "Y", "Y", "Y", "Y", "N", "N"],
        }
    )
    tables = {
        "hr_roster": roster,
        "enrolment": enrolment,
        "sessions": sessions,
        "attendance": attendance,
    }
    data = build_person_time(
        roster, enrolment, window_start="2023-01-01", extract_date="2024-06-30"
    )
    return SimpleNamespace(tables=tables), data


def test_hand_computed_kpis():
    study, data = _study()
    k = quarterly_kpis(study, data, quarter="2024Q2", n_quarters=2, min_cell=1)
    wide = k.wide()
    assert k.quarters == ("2024Q1", "2024Q2")
    # Q1: 12 employed on Jan 1, Feb 1; 11 on Mar 1 (q1 left Feb 10): mean 35/3; one exit.
    assert wide.loc["leader_turnover_hr", "2024Q1"] == pytest.approx(100 * 1 / (35 / 3) * 4)
    # Q2: 11 on Apr 1 and May 1, 10 on Jun 1: mean 32/3; the retirement is not voluntary.
    assert wide.loc["leader_turnover_hr", "2024Q2"] == pytest.approx(100 * 1 / (32 / 3) * 4)
    assert wide.loc["voluntary_turnover_hr", "2024Q2"] == 0
    assert wide.loc["enrolled_in_quarter"].tolist() == [6, 0]
    assert wide.loc["enrolled_to_date"].tolist() == [6, 6]
    assert wide.loc["sessions_held"].tolist() == [2, 1]
    assert wide.loc["groups_meeting"].tolist() == [2, 1]
    assert wide.loc["attendance_rate"].tolist() == pytest.approx([5 / 6, 1 / 3])
    # Person-time rate: one voluntary exit over Q1's person-years, exact limits around it.
    py = (11 * 91 + (pd.Timestamp("2024-02-10") - pd.Timestamp("2024-01-01")).days) / 365.25
    row = k.table.set_index(["kpi", "quarter"]).loc[("voluntary_exits_per_100py", "2024Q1")]
    assert row.value == pytest.approx(100 / py)
    assert row.conf_low < row.value < row.conf_high
    assert set(k.table.definition) <= set(KPI_DEFINITIONS.values())


def test_cells_resting_on_fewer_people_than_the_minimum_are_hidden():
    study, data = _study()
    k = quarterly_kpis(study, data, quarter="2024Q2", n_quarters=2, min_cell=5)
    t = k.table.set_index(["kpi", "quarter"])
    # Q2's sessions were for 3 people only: hidden; Q1's for 6: shown.
    assert t.loc[("attendance_rate", "2024Q2"), "suppressed"]
    assert np.isnan(t.loc[("attendance_rate", "2024Q2"), "value"])
    assert not t.loc[("attendance_rate", "2024Q1"), "suppressed"]
    assert not t.loc[("enrolled_in_quarter", "2024Q2"), "suppressed"]  # zero is not small


def test_default_quarter_is_the_last_complete_one_and_bad_options_are_refused():
    study, data = _study()
    assert quarterly_kpis(study, data, n_quarters=1).quarters == ("2024Q2",)
    with pytest.raises(ConfigError, match="2025Q3"):
        quarterly_kpis(study, data, quarter="last quarter")
    with pytest.raises(ConfigError):
        quarterly_kpis(study, data, n_quarters=0)


def test_on_the_simulator_exits_by_quarter_add_up(tmp_path):
    from coacheval.io.pseudonymise import PseudonymKey
    from coacheval.io.study import load_study
    from coacheval.retention.persontime import person_time_from_study
    from coacheval.simulate import simulate_health_system

    simulate_health_system(seed=8, n_leaders=300).write(tmp_path)
    study = load_study(tmp_path, key=PseudonymKey(b"kpi" * 11))
    data = person_time_from_study(study, window_start="2021-01-01", extract_date="2025-12-31")
    k = quarterly_kpis(study, data, quarter="2025Q4", n_quarters=20, min_cell=1)
    wide = k.wide()
    # Exits recovered from the HR-convention rate equal the exits with a 2021-2025 stop date.
    heads = []
    for q in k.quarters:
        p = pd.Period(q, freq="Q")
        months = pd.date_range(p.start_time, periods=3, freq="MS")
        heads.append(np.mean([
            data.rows[(data.rows.start_date <= m) & (data.rows.stop_date > m)].person.nunique()
            for m in months
        ]))  # fmt: skip
    exits = wide.loc["leader_turnover_hr"].to_numpy() * np.array(heads) / 400
    assert np.round(exits).sum() == data.rows.event.sum()
    assert wide.loc["enrolled_to_date"].iloc[-1] == len(study.tables["enrolment"])
