"""Retention power: published numbers, a simulation with fit_cox, and edge cases.

Published check: Schoenfeld (1983, Biometrics 39:499-503) gives
d = (z_{1-a/2} + z_{1-b})^2 / (p (1-p) (log HR)^2); with equal allocation, two-sided 5% and
80% power, HR = 0.5 needs 4 * 7.8489 / 0.48045 = 65.35 events (66 after rounding up);
rpact::getSampleSizeSurvival gives 65.3456592588709 (test_rates_vs_r.py checks 64 designs).

Simulation: exponential times with a known hazard ratio, administrative censoring at the end
of follow-up, Cox fits with fit_cox; the share of Wald tests rejecting at 5% is compared with
the formula's power for the expected number of events. Observed (400 replications, n = 300,
20% annual turnover, 2 years): HR 0.6 empirical 0.675 vs formula 0.675 (seed 2024); HR 1.6
empirical 0.750 vs 0.766 (seed 2025). Tolerance 3 Monte Carlo SEs (~0.07) plus 0.03 for the
formula's large-sample approximation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from coacheval.errors import ConfigError
from coacheval.retention.cox import fit_cox
from coacheval.retention.power import event_probability, events_required, retention_power


def test_schoenfeld_published_example() -> None:
    d = events_required(0.5, share_treated=0.5, alpha=0.05, power=0.8)
    assert d == pytest.approx(65.3456592588709, rel=1e-12)
    assert int(np.ceil(d)) == 66


def test_freedman_is_larger_than_schoenfeld_for_protective_effects() -> None:
    s = events_required(0.7, method="schoenfeld")
    f = events_required(0.7, method="freedman")
    assert f > s
    # Freedman, equal allocation: (z)^2 (1 + HR)^2 / (1 - HR)^2
    assert f == pytest.approx((1.959963984540054 + 0.8416212335729143) ** 2 * 1.7**2 / 0.3**2)


def _simulate_power(n: int, hr: float, q: float, follow_up: float, reps: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    lam0 = -np.log1p(-q)
    x = (np.arange(n) < n // 2).astype(float)
    rejections = 0
    for _ in range(reps):
        t = rng.exponential(1 / (lam0 * np.where(x == 1, hr, 1.0)))
        df = pd.DataFrame(
            {"t": np.minimum(t, follow_up), "e": (t <= follow_up).astype(int), "x": x}
        )
        res = fit_cox(df, start_col=None, stop_col="t", event_col="e", covariates=["x"])
        rejections += float(res.table["p_value"].iloc[0]) < 0.05
    return rejections / reps


@pytest.mark.parametrize(("hr", "seed"), [(0.6, 2024), (1.6, 2025)])
def test_simulated_cox_power_matches_formula(hr: float, seed: int) -> None:
    n, q, follow_up, reps = 300, 0.2, 2.0, 400
    formula = retention_power(
        n, share_treated=0.5, follow_up_years=follow_up, annual_turnover=q, hazard_ratio=hr
    ).power
    empirical = _simulate_power(n, hr, q, follow_up, reps, seed)
    mc = np.sqrt(formula * (1 - formula) / reps)
    assert abs(empirical - formula) < 3 * mc + 0.03, (empirical, formula)


def test_expected_events_exponential() -> None:
    lam = -np.log(0.8)
    assert float(event_probability(lam, 1.0)) == pytest.approx(0.2)
    # accrual: average of 1 - exp(-lam (F + u)) over u uniform on [0, a]
    u = np.linspace(0, 1.5, 200001)
    avg = np.mean(1 - np.exp(-lam * (2.0 + u)))
    assert float(event_probability(lam, 2.0, 1.5)) == pytest.approx(avg, rel=1e-6)
    res = retention_power(
        500, share_treated=0.3, follow_up_years=2.0, annual_turnover=0.2, hazard_ratio=0.8
    )
    p_ev = 0.7 * (1 - 0.8**2) + 0.3 * (1 - np.exp(-2 * 0.8 * lam))
    assert res.expected_events == pytest.approx(500 * p_ev)


def test_minimum_detectable_hr_gives_target_power_and_shrinks_with_n() -> None:
    small = retention_power(200, share_treated=0.5, follow_up_years=2, annual_turnover=0.15)
    big = retention_power(2000, share_treated=0.5, follow_up_years=2, annual_turnover=0.15)
    assert small.mdhr_protective < big.mdhr_protective < 1 < big.mdhr_harmful < small.mdhr_harmful
    check = retention_power(
        200,
        share_treated=0.5,
        follow_up_years=2,
        annual_turnover=0.15,
        hazard_ratio=small.mdhr_protective,
    )
    assert check.power == pytest.approx(0.8, abs=1e-9)
    tab = small.table.set_index("scenario")
    assert tab.loc["minimum detectable (harmful)", "power"] == pytest.approx(0.8, abs=1e-9)


def test_verdicts() -> None:
    small = retention_power(
        150, share_treated=0.5, follow_up_years=1, annual_turnover=0.12, hazard_ratio=0.85
    )
    assert small.verdict.startswith("too small to detect a hazard ratio of 0.85: ")
    mdhr = small.mdhr_protective
    assert small.verdict.endswith(
        f"; only a hazard ratio of {mdhr:.2f} or stronger ({100 * (1 - mdhr):.0f}% fewer "
        "separations) could be detected with 80% power"
    )
    big = retention_power(
        20000, share_treated=0.5, follow_up_years=3, annual_turnover=0.2, hazard_ratio=0.85
    )
    assert big.verdict.startswith("large enough to detect a hazard ratio of 0.85")
    none = retention_power(150, share_treated=0.5, follow_up_years=1, annual_turnover=0.12)
    assert "or stronger can be detected with 80% power" in none.verdict
    assert np.isnan(none.power) and np.isnan(none.events_required)


def test_freedman_may_have_no_detectable_protective_effect() -> None:
    # Freedman's delta is bounded as HR -> 0: with very few events nothing is detectable
    res = retention_power(
        12, share_treated=0.5, follow_up_years=0.5, annual_turnover=0.05, method="freedman"
    )
    assert np.isnan(res.mdhr_protective)
    assert "no protective effect can be detected" in res.verdict


def test_hazard_ratio_one_and_bad_options() -> None:
    with pytest.raises(ConfigError, match="infinite"):
        retention_power(
            100, share_treated=0.5, follow_up_years=2, annual_turnover=0.2, hazard_ratio=1.0
        )
    with pytest.raises(ConfigError, match="infinite"):
        events_required(1.0)
    with pytest.raises(ConfigError, match="share_treated"):
        retention_power(100, share_treated=1.0, follow_up_years=2, annual_turnover=0.2)
    with pytest.raises(ConfigError, match="annual_turnover"):
        retention_power(100, share_treated=0.5, follow_up_years=2, annual_turnover=0)
    with pytest.raises(ConfigError, match="follow_up_years"):
        retention_power(100, share_treated=0.5, follow_up_years=0, annual_turnover=0.2)
    with pytest.raises(ConfigError, match="n_leaders"):
        retention_power(0, share_treated=0.5, follow_up_years=1, annual_turnover=0.2)
    with pytest.raises(ConfigError, match="method"):
        events_required(0.5, method="lachin")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="positive"):
        events_required(-0.5)


def test_plot_and_summary() -> None:
    res = retention_power(
        300,
        share_treated=0.4,
        follow_up_years=2,
        annual_turnover=0.2,
        hazard_ratio=0.7,
        accrual_years=1,
    )
    assert isinstance(res.plot(), Figure)
    assert "uniform entry" in res.summary()
