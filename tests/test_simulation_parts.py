"""Unit tests of the simulator's parts: random streams, configuration, hazards, peer groups."""

from __future__ import annotations

import numpy as np
import pytest

from coacheval.errors import ConfigError
from coacheval.simulate import SimulationConfig, simulate_health_system
from coacheval.simulate.hazards import calibrate, integrated_hazards, sample_exits
from coacheval.simulate.program import add_months, form_groups
from coacheval.simulate.streams import Streams


def test_streams_are_pure_functions_of_seed_stream_and_index():
    s = Streams(3)
    a = s.uniform("x", np.arange(10), 2)
    assert np.array_equal(a, Streams(3).uniform("x", np.arange(10), 2))
    assert not np.array_equal(a, Streams(4).uniform("x", np.arange(10), 2))
    assert not np.array_equal(a, s.uniform("y", np.arange(10), 2))
    # order independence: drawing a subset gives the same values
    assert np.array_equal(a[[7, 3]], s.uniform("x", np.array([7, 3]), 2))


def test_stream_uniforms_are_uniform():
    u = Streams(1).uniform("u", np.arange(200_000))
    # mean and variance of U(0,1) within 4 standard errors
    assert abs(u.mean() - 0.5) < 4 * np.sqrt(1 / 12 / len(u))
    assert abs(u.var() - 1 / 12) < 4 * np.sqrt(1 / 180 / len(u))
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 4 / np.sqrt(len(u))


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        ("2022-01-31", 1, "2022-02-28"),
        ("2024-01-31", 1, "2024-02-29"),
        ("2022-07-01", 12, "2023-07-01"),
        ("2022-12-15", 2, "2023-02-15"),
    ],
)
def test_add_months(day, months, expected):
    d = int((np.datetime64(day) - np.datetime64("1970-01-01")).astype(int))
    assert str(np.datetime64(add_months(d, months), "D")) == expected


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"n_leaders": 10}, "n_leaders must be an integer >= 20"),
        ({"response_rate": 1.5}, "response_rate must lie in"),
        ({"response_rate": "high"}, "response_rate must be a number"),
        ({"cause_shares": [0.5, 0.5, 0.5, 0.5]}, "summing to 1"),
        ({"extract_date": "31/12/2025"}, "is not an ISO date"),
        ({"variance_person": 0.99}, "sum to < 1"),
        ({"no_such_thing": 1}, "unknown simulation parameter"),
        ({"scales": {"burnout": {"reliability": 2}}}, "reliability in (0,1)"),
        ({"scales": {"burnout": {"colour": 2}}}, "unknown setting 'colour'"),
        ({"scales": {"anxiety": {"reliability": 0.8}}}, "unknown construct 'anxiety'"),
        ({"construct_correlation": [[1.0] * 6] * 6}, "positive definite"),
    ],
)
def test_invalid_configuration_is_a_clear_error(overrides, message):
    with pytest.raises(ConfigError) as info:
        SimulationConfig.from_mapping(overrides)
    assert message in str(info.value)


def test_grouped_overrides_and_yaml(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("retention:\n  voluntary_hr: 0.7\nprogram:\n  n_cohorts: 4\n", encoding="utf-8")
    cfg = SimulationConfig.from_yaml(path)
    assert (cfg.voluntary_hr, cfg.n_cohorts) == (0.7, 4)
    with pytest.raises(ConfigError, match="cannot read"):
        SimulationConfig.from_yaml(tmp_path / "missing.yaml")


@pytest.fixture(scope="module")
def model():
    return calibrate(SimulationConfig(), np.array([570, 151, 224, 55]))


def test_event_times_follow_the_hazard(model):
    """Integrated hazard up to each exit is Exp(1): compensator check by cause (Poisson)."""
    rng = np.random.default_rng(5)
    n = 50_000
    age = np.clip(rng.normal(38, 7, n), 22, 62)
    frailty = np.exp(rng.normal(0, 0.4, n) - 0.08)
    enrol = np.where(rng.uniform(size=n) < 0.3, rng.uniform(0, 5, n), np.inf)
    t, cause = sample_exits(
        model, age, frailty, enrol, rng.exponential(size=n), rng.uniform(size=n)
    )
    horizon = np.minimum(t, 8.0)
    expected = integrated_hazards(model, age, frailty, enrol, np.zeros(n), horizon).sum(axis=0)
    observed = np.bincount(cause[t <= 8.0], minlength=4)
    assert np.all(np.abs(observed - expected) <= 4 * np.sqrt(expected))


def test_enrolment_only_delays_exits_and_only_after_enrolment(model):
    rng = np.random.default_rng(6)
    n = 20_000
    age = np.full(n, 40.0)
    frailty = np.ones(n)
    e, u = rng.exponential(size=n), rng.uniform(size=n)
    never, _ = sample_exits(model, age, frailty, np.full(n, np.inf), e, u)
    enrolled, _ = sample_exits(model, age, frailty, np.full(n, 2.0), e, u)
    assert np.all(enrolled >= never - 1e-12)
    assert np.array_equal(enrolled[never <= 2.0], never[never <= 2.0])
    assert np.mean(enrolled > never) > 0.5


def test_no_one_works_past_the_mandatory_exit_age(model):
    age = np.full(1000, 60.0)
    t, cause = sample_exits(
        model, age, np.ones(1000), np.full(1000, np.inf), np.full(1000, 1e6), np.full(1000, 0.5)
    )
    assert np.allclose(t, 12.0) and np.all(cause == 2)


@pytest.mark.parametrize("seed", range(5))
def test_form_groups_respects_size_role_and_department_rules(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 200))
    levels = rng.choice(4, size=n, p=[0.5, 0.2, 0.2, 0.1])
    depts = rng.integers(0, 12, size=n)
    group, _ = form_groups(levels, depts, 0.7, np.random.default_rng(seed))
    placed = group >= 0
    assert placed.sum() >= n - 4
    for g in np.unique(group[placed]):
        members = group == g
        assert 3 <= members.sum() <= 4
        assert np.ptp(levels[members]) <= 1
        assert len(np.unique(depts[members])) >= 2


@pytest.mark.parametrize(("n", "n_depts"), [(2, 2), (5, 5), (8, 1)])
def test_form_groups_edge_cases_defer_rather_than_break_rules(n, n_depts):
    levels = np.zeros(n, dtype=int)
    depts = np.arange(n) % n_depts
    group, _ = form_groups(levels, depts, 0.7, np.random.default_rng(0))
    if n < 3 or n_depts == 1:
        assert (group == -1).all()
    else:
        assert sorted(np.bincount(group[group >= 0]).tolist()) in ([4], [3])


def test_null_program_effect_scenario():
    system = simulate_health_system(
        seed=2, n_leaders=300, voluntary_hr=1.0, scales={"work_engagement": {"effect_d": 0.0}}
    )
    att = [
        r for r in system.truth["surveys"]["realised_att"] if r["construct"] == "work_engagement"
    ]
    assert att and all(r["att"] == 0.0 for r in att)
    assert system.truth["retention"]["true_effect"]["hazard_ratio"] == 1.0


def test_a_tiny_system_still_works():
    system = simulate_health_system(seed=3, n_leaders=20, n_facilities=1)
    assert system.summary()["leader_positions"] == 20
    assert len(system.extracts["hr_roster"]) >= 20


def test_unreachable_turnover_targets_are_a_clear_error():
    with pytest.raises(ConfigError, match="turnover targets cannot be reached"):
        simulate_health_system(seed=1, n_leaders=100, mandatory_exit_age=55.0)


def test_calibrated_hazards_reproduce_the_targets(model):
    from coacheval.simulate.hazards import equilibrium_rates

    cfg = SimulationConfig()
    rates = equilibrium_rates(cfg, model, np.array([570, 151, 224, 55]))
    np.testing.assert_allclose(rates, list(cfg.cause_rates().values()), rtol=1e-7)


def test_employee_ids_are_a_function_of_the_person():
    # Regression: ids were drawn for the set of people in the extract, so a later extract date
    # renumbered everyone and a later quarter could not be linked. Now an id depends on the
    # person (seat and generation) only: any subset gets the same ids, all are distinct.
    from coacheval.simulate.extracts import ID_SPACE, assign_employee_ids
    from coacheval.simulate.workforce import MAX_GENERATIONS

    s = Streams(7)
    seats, generations = np.meshgrid(np.arange(1500), np.arange(6))
    pids = (seats * MAX_GENERATIONS + generations).ravel()
    ids = assign_employee_ids(s, pids, 1500)
    assert ids.is_unique and ids.str.fullmatch(r"\d{7}").all()
    assert 0.08 < ids.str.startswith("0").mean() < 0.14  # leading zeros, as HR ids have
    subset = pids[::7][::-1]
    assert assign_employee_ids(s, subset, 1500).equals(ids.loc[np.sort(subset)])
    assert not assign_employee_ids(Streams(8), pids, 1500).equals(ids)
    numbers = ids.astype(np.int64)
    assert numbers.min() >= 1 and numbers.max() <= ID_SPACE - 1
    with pytest.raises(ConfigError, match="do not fit in 7-digit employee ids"):
        assign_employee_ids(s, np.array([2 * MAX_GENERATIONS - 1]), ID_SPACE // 4000)


def test_the_same_leader_keeps_the_id_at_a_later_extract_date():
    early = simulate_health_system(seed=7, n_leaders=400, extract_date="2025-12-31")
    late = simulate_health_system(seed=7, n_leaders=400, extract_date="2026-03-31")
    common = early.employee_ids.index.intersection(late.employee_ids.index)
    assert len(common) == len(early.employee_ids) and len(late.employee_ids) > len(common)
    assert early.employee_ids.equals(late.employee_ids.loc[early.employee_ids.index])
    roster = early.extracts["hr_roster"].employee_id
    assert roster.isin(late.extracts["hr_roster"].employee_id).all()
