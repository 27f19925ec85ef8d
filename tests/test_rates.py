"""Turnover rates, rate ratios and the HR convention: simulation and edge cases.

Simulation: exact (Garwood) intervals are conservative by construction, so coverage over
seeded replications must be at least nominal (minus Monte Carlo error) and not absurdly
conservative; the rate estimate is unbiased.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from coacheval.errors import ConfigError, DataValidationError
from coacheval.retention.rates import (
    exact_poisson_interval,
    hr_turnover_rate,
    rate_ratio,
    rate_ratio_from_counts,
    turnover_rates,
)


def test_exact_interval_coverage_and_unbiased_rate() -> None:
    rng = np.random.default_rng(20240611)
    reps, lam, t = 20000, 0.18, 40.0  # 7.2 expected separations
    x = rng.poisson(lam * t, size=reps)
    lo, hi = exact_poisson_interval(x, t)
    cover = np.mean((lo <= lam) & (lam <= hi))
    mc = np.sqrt(0.95 * 0.05 / reps)
    assert cover >= 0.95 - 3 * mc
    assert cover < 0.99  # exact, but not uselessly wide
    assert np.mean(x / t) == pytest.approx(lam, abs=3 * np.sqrt(lam / t / reps))


def test_rate_ratio_coverage_exact_and_wald() -> None:
    rng = np.random.default_rng(7)
    reps, t1, t2, l1, l2 = 2000, 60.0, 80.0, 0.12, 0.2
    x1, x2 = rng.poisson(l1 * t1, reps), rng.poisson(l2 * t2, reps)
    true = l1 / l2
    cov_exact = cov_wald = 0
    for a, b in zip(x1, x2, strict=True):
        if a + b == 0:
            continue
        tab = rate_ratio_from_counts(a, t1, b, t2).table
        cov_exact += tab["conf_low"].iloc[0] <= true <= tab["conf_high"].iloc[0]
        if a > 0 and b > 0:
            cov_wald += tab["conf_low"].iloc[1] <= true <= tab["conf_high"].iloc[1]
    mc = np.sqrt(0.95 * 0.05 / reps)
    assert cov_exact / reps >= 0.95 - 3 * mc
    assert abs(cov_wald / reps - 0.95) < 4 * mc + 0.01


def test_zero_events_rate_zero_with_exact_upper_limit() -> None:
    df = pd.DataFrame({"left": [0, 0], "years": [2.0, 3.0]})
    row = turnover_rates(df, events_col="left", person_time_col="years").table.iloc[0]
    assert row["rate"] == 0 and row["conf_low"] == 0
    assert row["conf_high"] == pytest.approx(100 * 3.6888794541139354 / 5, rel=1e-14)


def test_groups_sorted_and_counts() -> None:
    df = pd.DataFrame(
        {"left": [1, 0, 1, 1], "years": [1.0, 1.0, 2.0, 0.5], "g": ["b", "a", "b", "a"]}
    )
    tab = turnover_rates(df, events_col="left", person_time_col="years", group_col="g").table
    assert tab["group"].tolist() == ["a", "b"]
    assert tab["events"].tolist() == [1, 2]
    assert tab["n"].tolist() == [2, 2]
    assert tab["rate"].tolist() == pytest.approx([100 / 1.5, 100 * 2 / 3])


def test_zero_person_time_is_a_clear_error() -> None:
    df = pd.DataFrame({"left": [0, 1], "years": [0.0, 1.0], "g": ["a", "b"]})
    with pytest.raises(DataValidationError, match=r"zero total person-time.*group\(s\) a"):
        turnover_rates(df, events_col="left", person_time_col="years", group_col="g")
    with pytest.raises(DataValidationError, match="positive person-time"):
        rate_ratio_from_counts(1, 0.0, 2, 3.0)


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (pd.DataFrame({"left": [-1], "years": [1.0], "g": ["a"]}), "whole numbers"),
        (pd.DataFrame({"left": [0.5], "years": [1.0], "g": ["a"]}), "whole numbers"),
        (pd.DataFrame({"left": [1], "years": [np.nan], "g": ["a"]}), "person-time"),
        (pd.DataFrame({"left": [1], "years": [1.0], "g": [None]}), "missing group"),
    ],
)
def test_bad_input(frame: pd.DataFrame, match: str) -> None:
    with pytest.raises(DataValidationError, match=match):
        turnover_rates(frame, events_col="left", person_time_col="years", group_col="g")


def test_bad_options_and_columns() -> None:
    df = pd.DataFrame({"left": [1], "years": [1.0]})
    with pytest.raises(ConfigError, match="not in the data"):
        turnover_rates(df, events_col="gone", person_time_col="years")
    with pytest.raises(ConfigError, match="alpha"):
        turnover_rates(df, events_col="left", person_time_col="years", alpha=1.5)
    with pytest.raises(ConfigError, match="per"):
        turnover_rates(df, events_col="left", person_time_col="years", per=0)


def test_rate_ratio_from_data_and_missing_group() -> None:
    df = pd.DataFrame({"left": [3, 1, 4, 2], "years": [10.0, 12.0, 9.0, 11.0], "c": [1, 1, 0, 0]})
    res = rate_ratio(
        df, events_col="left", person_time_col="years", group_col="c", treated=1, reference=0
    )
    direct = rate_ratio_from_counts(4, 22.0, 6, 20.0)
    pd.testing.assert_frame_equal(res.table, direct.table)
    with pytest.raises(DataValidationError, match="does not occur"):
        rate_ratio(
            df, events_col="left", person_time_col="years", group_col="c", treated=2, reference=0
        )
    with pytest.raises(ConfigError, match="different"):
        rate_ratio(
            df, events_col="left", person_time_col="years", group_col="c", treated=1, reference=1
        )
    assert isinstance(res.plot(), Figure)
    assert "Rate ratio" in res.summary()


def test_rate_ratio_zero_counts() -> None:
    with pytest.raises(DataValidationError, match="no events in either group"):
        rate_ratio_from_counts(0, 5.0, 0, 5.0)
    zero_num = rate_ratio_from_counts(0, 5.0, 4, 5.0).table
    assert zero_num["estimate"].iloc[0] == 0 and zero_num["conf_low"].iloc[0] == 0
    assert np.isnan(zero_num["conf_low"].iloc[1])  # Wald undefined
    zero_den = rate_ratio_from_counts(4, 5.0, 0, 5.0).table
    assert np.isinf(zero_den["estimate"].iloc[0]) and np.isinf(zero_den["conf_high"].iloc[0])
    assert zero_den["conf_low"].iloc[0] > 0


def test_hr_turnover_definition() -> None:
    res = hr_turnover_rate([2, 1, 3], [50, 52, 49], months_per_period=3)
    row = res.table.iloc[0]
    avg = np.mean([50, 52, 49])
    assert row["average_headcount"] == pytest.approx(avg)
    assert row["period_rate"] == pytest.approx(100 * 6 / avg)
    assert row["annualised_rate"] == pytest.approx(100 * 6 / avg * 4)
    # equals a person-time rate with person-years = average headcount * months / 12
    pt = turnover_rates(
        pd.DataFrame({"e": [6], "t": [avg * 3 / 12]}), events_col="e", person_time_col="t"
    )
    assert row["annualised_rate"] == pytest.approx(pt.table["rate"].iloc[0])
    assert row["conf_high"] == pytest.approx(pt.table["conf_high"].iloc[0])
    assert row["one_year_leaving_probability"] < row["annualised_rate"]
    assert isinstance(res.plot(), Figure)
    assert res.notes and "headcount" in res.summary()


def test_hr_turnover_bad_input() -> None:
    with pytest.raises(DataValidationError, match="average headcount is zero"):
        hr_turnover_rate(0, [0, 0, 0], months_per_period=3)
    with pytest.raises(DataValidationError, match="separations"):
        hr_turnover_rate(-1, [5, 5, 5], months_per_period=3)
    with pytest.raises(ConfigError, match="months_per_period"):
        hr_turnover_rate(1, [5, 5, 5], months_per_period=0)
    res = hr_turnover_rate(1, [5, 5], months_per_period=3)
    assert any("2 monthly headcounts" in n for n in res.notes)


def test_plot_and_summary() -> None:
    df = pd.DataFrame({"left": [1, 0, 2], "years": [1.0, 2.0, 3.0], "g": ["x", "y", "y"]})
    res = turnover_rates(df, events_col="left", person_time_col="years", group_col="g")
    fig = res.plot()
    assert isinstance(fig, Figure) and len(fig.axes[0].get_yticklabels()) == 2
    assert "exact Poisson" in res.summary()
    assert res.to_dict()["table"][0]["group"] == "x"
