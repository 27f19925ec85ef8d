"""Counting-process person-time from HR extracts: splits, delayed entry, censoring, causes, flow."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coacheval.errors import ConfigError, DataValidationError
from coacheval.retention.persontime import (
    DAYS_PER_YEAR,
    build_person_time,
    classify_causes,
    person_time_from_study,
)

W0, W1 = "2021-01-01", "2024-12-31"


def roster(**cols):
    n = len(cols["employee_id"])
    base = {
        "termination_date": [None] * n,
        "termination_reason": [None] * n,
        "termination_type": [None] * n,
    }
    base.update(cols)
    frame = pd.DataFrame(base)
    for c in ("hire_date", "termination_date"):
        frame[c] = pd.to_datetime(frame[c])
    return frame


def enrol(ids, dates, status=None, status_dates=None, groups=None):
    frame = pd.DataFrame({"employee_id": ids, "enrol_date": pd.to_datetime(dates)})
    if status is not None:
        frame["status"] = status
        frame["status_date"] = pd.to_datetime(status_dates)
    if groups is not None:
        frame["group_id"] = groups
    return frame


def years(a, b):
    return (pd.Timestamp(b) - pd.Timestamp(a)).days / DAYS_PER_YEAR


def test_delayed_entry_and_administrative_censoring_on_the_tenure_scale():
    r = roster(employee_id=["a"], hire_date=["2015-03-01"])
    d = build_person_time(r, None, window_start=W0, extract_date=W1)
    row = d.rows.iloc[0]
    assert row.start == pytest.approx(years("2015-03-01", W0), abs=1e-12)
    assert row.stop == pytest.approx(years("2015-03-01", W1), abs=1e-12)
    assert row.event == 0 and row.cause == "" and row.exposed == 0


def test_calendar_scale_counts_from_the_window_start_and_keeps_tenure_at_entry():
    r = roster(employee_id=["a", "b"], hire_date=["2015-03-01", "2022-02-01"])
    d = build_person_time(r, None, window_start=W0, extract_date=W1, time_scale="calendar")
    assert d.rows.start.tolist() == pytest.approx([0.0, years(W0, "2022-02-01")])
    assert d.rows.tenure_at_entry.tolist() == pytest.approx([years("2015-03-01", W0), 0.0])


def test_enrolment_splits_the_spell_and_exposure_persists_after_withdrawal():
    r = roster(
        employee_id=["a"],
        hire_date=["2018-01-01"],
        termination_date=["2024-06-30"],
        termination_reason=["Resigned - Relocation"],
        termination_type=["Voluntary"],
    )
    e = enrol(["a"], ["2022-07-01"], status=["withdrew"], status_dates=["2022-09-01"])
    d = build_person_time(r, e, window_start=W0, extract_date=W1)
    rows = d.rows
    assert rows.exposed.tolist() == [0, 1]
    assert rows.event.tolist() == [0, 1]
    assert rows.cause.tolist() == ["", "voluntary"]
    assert rows.completed.tolist() == [0, 0]  # withdrew: never completed
    # The pieces tile the spell exactly: no gap, no overlap.
    assert rows.stop.iloc[0] == rows.start.iloc[1]
    assert rows.start.iloc[0] == pytest.approx(years("2018-01-01", W0))
    assert rows.stop.iloc[1] == pytest.approx(years("2018-01-01", "2024-06-30"))


def test_completion_gives_a_second_split_and_the_peer_group():
    r = roster(employee_id=["a", "b"], hire_date=["2018-01-01", "2019-01-01"])
    e = enrol(["a"], ["2022-07-01"], ["completed"], ["2023-06-30"], groups=["C1-G001"])
    d = build_person_time(r, e, window_start=W0, extract_date=W1)
    a = d.rows[d.rows.person == "a"]
    assert a.exposed.tolist() == [0, 1, 1] and a.completed.tolist() == [0, 0, 1]
    assert set(d.rows.peer_group) == {"C1-G001", "solo-b"}


def test_exit_after_the_extract_date_is_censored_and_exit_on_entry_day_is_kept():
    r = roster(
        employee_id=["late", "same"],
        hire_date=["2018-01-01", "2022-03-01"],
        termination_date=["2025-03-01", "2022-03-01"],
        termination_reason=["Retirement", "Terminated - Performance"],
    )
    d = build_person_time(r, None, window_start=W0, extract_date=W1)
    late = d.rows[d.rows.person == "late"].iloc[0]
    same = d.rows[d.rows.person == "same"].iloc[0]
    assert late.event == 0 and late.stop == pytest.approx(years("2018-01-01", W1))
    assert same.event == 1 and same.cause == "involuntary"
    assert same.stop - same.start == pytest.approx(0.5 / DAYS_PER_YEAR)


def test_every_spell_is_used_or_excluded_with_a_reason():
    r = roster(
        employee_id=["gone", "future", "bad", "ok"],
        hire_date=["2010-01-01", "2025-06-01", "2020-01-01", "2020-01-01"],
        termination_date=["2020-05-01", None, "2019-01-01", None],
    )
    d = build_person_time(r, None, window_start=W0, extract_date=W1)
    flow = d.flow.set_index("step")["count"]
    assert flow["spells in the extract"] == 4
    assert set(d.excluded.reason) == {
        "ended before the window",
        "hired after the extract date",
        "termination before hire",
    }
    assert flow["spells used"] + len(d.excluded) == flow["spells in the extract"]
    assert d.rows.person.tolist() == ["ok"]


def test_person_years_and_exits_in_the_flow_add_up():
    rng = np.random.default_rng(5)
    n = 300
    hire = pd.Timestamp("2012-01-01") + pd.to_timedelta(rng.integers(0, 4000, n), "D")
    term = hire + pd.to_timedelta(rng.integers(30, 5000, n), "D")
    term = term.where(rng.random(n) < 0.6, pd.NaT)
    reasons = rng.choice(["Resigned - Other", "Retirement", "Terminated - Performance"], n)
    r = pd.DataFrame(
        {
            "employee_id": [f"p{i}" for i in range(n)],
            "hire_date": hire,
            "termination_date": term,
            "termination_reason": np.where(term.notna(), reasons, None),
            "termination_type": None,
        }
    )
    e = enrol([f"p{i}" for i in range(0, n, 4)], ["2022-07-01"] * len(range(0, n, 4)))
    d = build_person_time(r, e, window_start=W0, extract_date=W1)
    flow = d.flow.set_index("step")["count"]
    total = (d.rows.stop - d.rows.start).sum()
    assert flow["person-years, not (yet) enrolled"] + flow["person-years, enrolled"] == (
        pytest.approx(total)
    )
    exits = sum(flow[f"exits: {c}"] for c in ("voluntary", "involuntary", "retirement", "other"))
    assert exits == d.rows.event.sum()
    assert flow["spells used"] == exits + flow["censored at the extract date"]
    assert flow["spells used"] + len(d.excluded) == n
    assert (d.rows.stop > d.rows.start).all()
    # One event at most per spell, on its last piece.
    last = d.rows.groupby(["person", "spell"]).tail(1)
    assert d.rows.event.sum() == last.event.sum()


def test_ever_enrolled_view_credits_pre_enrolment_time_to_coaching():
    r = roster(employee_id=["a"], hire_date=["2018-01-01"])
    e = enrol(["a"], ["2023-01-01"])
    d = build_person_time(r, e, window_start=W0, extract_date=W1)
    ever = d.ever_enrolled()
    assert len(ever) == 1 and ever.exposed.iloc[0] == 1
    assert ever.start.iloc[0] == d.rows.start.min() and ever.stop.iloc[0] == d.rows.stop.max()


def test_cause_rules_take_the_reason_first_then_the_type_and_can_be_configured():
    reasons = pd.Series(["Retirement", "Position Eliminated", "Death", "Moved", None])
    types = pd.Series(["Voluntary", "Involuntary", "Other", "Voluntary", None])
    assert classify_causes(reasons, types).tolist() == [
        "retirement",
        "involuntary",
        "other",
        "voluntary",
        "unknown",
    ]
    custom = classify_causes(reasons, types, {"voluntary": ("moved",)})
    assert custom.tolist()[3] == "voluntary" and custom.tolist()[0] == "voluntary"
    with pytest.raises(ConfigError, match="bad pattern"):
        classify_causes(reasons, types, {"voluntary": ("(",)})


def test_bad_options_and_missing_columns_give_clear_errors():
    r = roster(employee_id=["a"], hire_date=["2018-01-01"])
    with pytest.raises(ConfigError, match="empty"):
        build_person_time(r, None, window_start=W1, extract_date=W0)
    with pytest.raises(ConfigError, match="time_scale"):
        build_person_time(r, None, window_start=W0, extract_date=W1, time_scale="age")
    with pytest.raises(ConfigError, match="window_start"):
        build_person_time(r, None, window_start="not a date", extract_date=W1)
    with pytest.raises(DataValidationError, match="hire_date"):
        build_person_time(r.drop(columns="hire_date"), None, window_start=W0, extract_date=W1)


def test_rehires_from_snapshot_episodes_are_separate_spells():
    r = roster(employee_id=["a"], hire_date=["2018-01-01"])
    episodes = pd.DataFrame(
        {
            "employee_id": ["a", "a"],
            "episode": [1, 2],
            "start_date": pd.to_datetime(["2018-01-01", "2023-01-01"]),
            "end_date": pd.to_datetime(["2022-01-31", None]),
            "end_reason": ["Resigned - Family", ""],
        }
    )
    e = enrol(["a"], ["2023-07-01"])
    d = build_person_time(r, e, window_start=W0, extract_date=W1, episodes=episodes)
    assert d.rows.spell.tolist() == [1, 2, 2]
    assert d.rows.event.tolist() == [1, 0, 0]
    assert d.rows.exposed.tolist() == [0, 0, 1]
    # Tenure restarts at the rehire.
    assert d.rows.start.iloc[1] == 0.0


def test_person_time_from_a_simulated_study_matches_the_simulator(tmp_path):
    from coacheval.io.pseudonymise import PseudonymKey
    from coacheval.io.study import load_study
    from coacheval.simulate import simulate_health_system

    system = simulate_health_system(seed=11, n_leaders=300)
    system.write(tmp_path)
    study = load_study(tmp_path, key=PseudonymKey(b"p" * 32))
    cfg = system.config
    d = person_time_from_study(study, window_start=cfg.window_start, extract_date=cfg.extract_date)
    truth = system.truth["workforce"]
    flow = d.flow.set_index("step")["count"]
    by_cause = truth["terminations_in_window_by_cause"]
    for cause in ("voluntary", "involuntary", "retirement", "other"):
        assert flow[f"exits: {cause}"] == by_cause[cause]
    assert flow["person-years, not (yet) enrolled"] + flow["person-years, enrolled"] == (
        pytest.approx(truth["person_years_in_window"], rel=2e-3)
    )
    assert flow["people ever enrolled"] == len(study.tables["enrolment"])
    # Defaults inferred from the extracts land close to the true window.
    inferred = person_time_from_study(study)
    assert inferred.window_start >= pd.Timestamp(cfg.window_start)
    assert inferred.extract_date <= pd.Timestamp(cfg.extract_date)
