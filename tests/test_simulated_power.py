"""Retention power by simulation: the simulator, the primary Cox analysis and the formula.

One module-scoped run simulates and analyses 12 health systems of 300 leader positions (default
simulator, selection on engagement off) at each of the hazard ratios 1.0 and 0.5 (seed 3, 2
processes; 24 replications of ~1.8 s CPU each -- mostly the simulator's hazard calibration and
loading the study -- so ~22 s on this 2-core machine when idle). 300 positions give ~100
voluntary exits per system with ~17% of person-time enrolled, so HR 0.5 is a moderate design
for it (Schoenfeld power ~0.7).

Checks and why the bands are what they are (12 systems per hazard ratio):

* determinism: the first system re-run alone in one process equals the first of the 2-process
  run exactly (system seeds do not depend on n_systems or on the process count);
* size under HR = 1: at most 3 of 12 CIs exclude 1 (P(X >= 4) = 0.002 for Binomial(12, 0.05));
  12 systems cannot resolve a size of 5% from 10%: this is a gross-error check only;
* power rises with the effect: HR 0.5 rejects at least 0.3 more often than HR 1;
* agreement with the formulas: the simulated power is within 3 binomial Monte Carlo SEs
  (sqrt(f (1 - f) / 12), ~0.4) of Schoenfeld's and of Freedman's power for the systems' own
  events and enrolled share -- coarse, the price of 12 systems (the benchmark
  benchmarks/power_retention.py makes the comparison with 200 systems). The sharper check is on
  the standard error under HR = 1: the Cox model's mean SE of log HR is within 25% of
  Schoenfeld's 1 / sqrt(D p (1 - p)) (observed ~10% larger: events before the first cohort, or
  at tenures where no one is enrolled, carry no information, and the variance is clustered).
  Under HR 0.5 the formula SE is not compared: with 17% enrolled it is ~35% too small there
  (var(log HR) is nearer 1/D1 + 1/D0), which is why Schoenfeld's power is optimistic for strong
  effects. The spread of the estimates matches the model SE (SD/SE in [0.6, 1.5]; the SD of 12
  estimates has ~21% relative Monte Carlo error), and the mean log HR is within 3 MC SEs
  (+0.05 for the frailty-induced attenuation of the marginal HR) of log 0.5.

The summary maths (MC SE, formula power, interpolated minimum detectable HR, verdicts, plot) and
bad input are checked on hand-made replication tables, at no simulation cost.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy import stats

from coacheval.errors import ConfigError
from coacheval.retention.simulated_power import (
    SimulatedPowerResult,
    simulated_retention_power,
    system_seeds,
)

N_LEADERS = 300
N_SYSTEMS = 12
HR = 0.5
SEED = 3


@pytest.fixture(scope="module")
def grid() -> SimulatedPowerResult:
    return simulated_retention_power(
        n_leaders=N_LEADERS, hazard_ratio=[1.0, HR], n_systems=N_SYSTEMS, seed=SEED, processes=2
    )


def _row(res: SimulatedPowerResult, hr: float) -> pd.Series:
    return res.table.set_index("hazard_ratio").loc[hr]


def test_deterministic_across_process_counts(grid: SimulatedPowerResult) -> None:
    small = simulated_retention_power(
        n_leaders=N_LEADERS, hazard_ratio=HR, n_systems=1, seed=SEED, processes=1
    )
    big = grid.replications[grid.replications.hazard_ratio == HR].head(1).reset_index(drop=True)
    pd.testing.assert_frame_equal(small.replications, big, check_exact=True)
    assert list(big.system_seed) == list(system_seeds(SEED, 1))


def test_size_near_alpha_under_no_effect(grid: SimulatedPowerResult) -> None:
    null = _row(grid, 1.0)
    assert null.n_systems == N_SYSTEMS and null.estimable == N_SYSTEMS
    assert null.rejections <= 3
    # the formula's "power" at HR = 1 is alpha exactly
    assert null.formula_power == pytest.approx(0.05, abs=1e-12)


def test_power_increases_with_effect_size(grid: SimulatedPowerResult) -> None:
    null, effect = _row(grid, 1.0), _row(grid, HR)
    assert effect.power >= null.power + 0.3
    assert effect.formula_power > null.formula_power


def test_agrees_with_formula_within_monte_carlo_error(grid: SimulatedPowerResult) -> None:
    row = _row(grid, HR)
    f = row.formula_power
    assert 0.5 < f < 0.97  # a design where power is neither trivial nor saturated
    assert abs(row.power - f) <= 3 * np.sqrt(f * (1 - f) / N_SYSTEMS)
    fr = row.freedman_power
    assert abs(row.power - fr) <= 3 * np.sqrt(fr * (1 - fr) / N_SYSTEMS)
    null = _row(grid, 1.0)
    assert 0.75 < null.mean_se_log_hr / null.formula_se_log_hr < 1.25
    for r in (null, row):
        assert 0.6 < r.sd_log_hr / r.mean_se_log_hr < 1.5
    assert abs(row.mean_log_hr - np.log(HR)) <= 3 * row.sd_log_hr / np.sqrt(N_SYSTEMS) + 0.05
    # the formula column is Schoenfeld's power for each system's own D and p, averaged
    reps = grid.replications[grid.replications.hazard_ratio == HR]
    delta = np.sqrt(reps.events * reps.share_treated * (1 - reps.share_treated)) * -np.log(HR)
    z = stats.norm.ppf(0.975)
    hand = stats.norm.cdf(delta - z) + stats.norm.cdf(-delta - z)
    assert row.formula_power == pytest.approx(float(hand.mean()), rel=1e-12)


def test_result_interface(grid: SimulatedPowerResult) -> None:
    assert set(grid.replications.hazard_ratio) == {1.0, HR}
    assert len(grid.replications) == 2 * N_SYSTEMS
    rej = (grid.replications.conf_high < 0) | (grid.replications.conf_low > 0)
    assert (rej == grid.replications.rejects).all()
    assert grid.simulator_overrides == (("selection_engagement", 0.0),)
    assert "selection_engagement=0.0" in grid.summary()
    assert grid.power == _row(grid, HR).power
    fig = grid.plot()
    assert isinstance(fig, Figure)
    assert fig.axes[0].get_xscale() == "log"


# ----------------------------------------------------------- summary maths on hand-made tables


def _reps(hrs: list[float], log_hrs: list[list[float]], se: float = 0.2) -> pd.DataFrame:
    rows = []
    for hr, values in zip(hrs, log_hrs, strict=True):
        for k, v in enumerate(values):
            rows.append(
                {
                    "hazard_ratio": hr,
                    "system": k,
                    "system_seed": 100 + k,
                    "events": 200.0 + k,
                    "share_treated": 0.2,
                    "person_years": 3000.0,
                    "log_hr": v,
                    "se": se,
                }
            )
    return pd.DataFrame(rows)


def test_monte_carlo_se_and_rejections_by_hand() -> None:
    z = stats.norm.ppf(0.975)
    vals = [-0.5, -0.1, -0.45, 0.5, np.nan]  # rejects: yes, no, yes, yes, not estimable
    res = SimulatedPowerResult.from_replications(_reps([0.7], [vals]), n_leaders=500)
    row = res.table.iloc[0]
    assert row.rejections == 3 and row.estimable == 4 and row.n_systems == 5
    assert row.power == pytest.approx(0.6)
    assert row.power_mc_se == pytest.approx(np.sqrt(0.6 * 0.4 / 5))
    assert row.mean_log_hr == pytest.approx(np.mean(vals[:4]))
    assert row.sd_log_hr == pytest.approx(np.std(vals[:4], ddof=1))
    assert res.replications.conf_low.iloc[0] == pytest.approx(-0.5 - z * 0.2)
    assert any("not rejecting" in n for n in res.notes)


def test_interpolated_minimum_detectable_hazard_ratio() -> None:
    # power 0/4 at HR 1, 2/4 at 0.8, 4/4 at 0.6: 80% lies 60% of the way from 0.8 to 0.6
    reps = _reps(
        [1.0, 0.8, 0.6],
        [[0.0, 0.1, -0.1, 0.2], [-0.5, -0.6, -0.1, 0.0], [-0.5, -0.6, -0.7, -0.8]],
    )
    res = SimulatedPowerResult.from_replications(reps, n_leaders=800)
    expected = np.exp(np.log(0.8) + 0.6 * (np.log(0.6) - np.log(0.8)))
    assert res.mdhr == pytest.approx(expected, rel=1e-12)
    assert res.verdict.startswith("with 800 leader positions")
    assert f"{expected:.2f}" in res.verdict
    assert res.table.hazard_ratio.tolist() == [1.0, 0.8, 0.6]
    # a grid that never reaches 80%: no interpolated value, and the verdict says so
    weak = SimulatedPowerResult.from_replications(reps[reps.hazard_ratio > 0.7], n_leaders=800)
    assert np.isnan(weak.mdhr)
    assert "stronger than 0.80" not in weak.verdict  # only one protective HR: per-HR verdict
    two = _reps([0.9, 0.8], [[0.0, 0.1], [-0.5, 0.0]])
    none = SimulatedPowerResult.from_replications(two, n_leaders=800)
    assert np.isnan(none.mdhr) and "stronger than 0.80, the strongest on the grid" in none.verdict


def test_verdicts_single_hazard_ratio() -> None:
    big = SimulatedPowerResult.from_replications(_reps([0.7], [[-0.6] * 9 + [0.0]]), n_leaders=900)
    assert big.verdict.startswith(
        "large enough to detect a hazard ratio of 0.70: simulated power 90%"
    )
    small = SimulatedPowerResult.from_replications(_reps([0.7], [[-0.6, 0.0]]), n_leaders=900)
    assert small.verdict.startswith("too small to detect a hazard ratio of 0.70")
    null = SimulatedPowerResult.from_replications(_reps([1.0], [[0.0, 0.1]]), n_leaders=900)
    assert null.verdict.startswith("no effect simulated")


def test_no_events_gives_zero_formula_power() -> None:
    reps = _reps([0.7], [[np.nan, -0.6]])
    reps.loc[0, "events"] = 0.0
    res = SimulatedPowerResult.from_replications(reps, n_leaders=100)
    assert np.isnan(res.replications.formula_power.iloc[0])
    assert res.table.formula_power.item() == pytest.approx(res.replications.formula_power[1] / 2)
    assert res.table.power.item() == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"hazard_ratio": 0.0}, "hazard_ratio"),
        ({"hazard_ratio": [0.8, 0.8]}, "repeated"),
        ({"hazard_ratio": []}, "at least one"),
        ({"n_systems": 0}, "n_systems"),
        ({"n_leaders": 2.5}, "n_leaders"),
        ({"alpha": 0.7}, "alpha"),
        ({"processes": 0}, "processes"),
        ({"seed": -1}, "seed"),
        ({"target_power": 1.0}, "target_power"),
        ({"voluntary_hr": 0.5}, "set by simulated_retention_power"),
        ({"no_such_parameter": 1}, "unknown simulation parameter"),
    ],
)
def test_bad_input_raises_config_error(kwargs: dict, match: str) -> None:
    args = {"n_leaders": 100, "hazard_ratio": 0.8, "n_systems": 2, "processes": 1, **kwargs}
    with pytest.raises(ConfigError, match=match):
        simulated_retention_power(**args)


def test_from_replications_rejects_missing_columns() -> None:
    with pytest.raises(ConfigError, match="column"):
        SimulatedPowerResult.from_replications(pd.DataFrame({"hazard_ratio": [0.8]}), n_leaders=1)
    with pytest.raises(ConfigError, match="no rows"):
        SimulatedPowerResult.from_replications(_reps([0.8], [[0.1]]).iloc[:0], n_leaders=1)
