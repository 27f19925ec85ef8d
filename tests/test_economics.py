"""Program economics (Phillips level 5): cost extract, turnovers avoided, ROI with intervals.

There is no R package that computes this ROI, so the checks are against the closed form
(``T = PY * r * (1 - HR)``, ``B = T * c``, ``N = B - cost``, ``ROI = N / cost``, ``BCR = B / cost``,
``HR* = 1 - cost / (PY r c)``), against the exact transformation of the Wald interval of the
hazard ratio (the simulated percentiles must match it to Monte Carlo error: an empirical
quantile's CDF level has standard deviation ``sqrt(p (1 - p) / n)``, and the tests allow
4.5 of those), and by coverage of the true net benefit over seeded replications where the
hazard ratio estimate is drawn from its sampling distribution and the baseline exits from a
Poisson distribution.
"""

from __future__ import annotations

import json
import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from coacheval._resources import resource_dir
from coacheval.errors import CoachevalWarning, ConfigError, DataValidationError
from coacheval.quality.economics import (
    COST_CATEGORIES,
    COST_SOURCES,
    CostAssumptions,
    CostResult,
    program_cost,
    roi,
    turnovers_avoided,
)
from coacheval.simulate import simulate_health_system

matplotlib.use("Agg")

# A known effect and known costs: 300 coached person-years, 0.09 exits per person-year among the
# not-yet-enrolled, HR 0.8, USD 100,000 per leader turnover, program cost USD 200,000.
KNOWN = dict(
    cost=200_000.0,
    hazard_ratio=0.8,
    log_hr_se=0.2,
    exposed_person_years=300.0,
    baseline_rate=0.09,
    cost_per_turnover=100_000.0,
)


def _mc_tol(p: float, n: int) -> float:
    """4.5 Monte Carlo standard deviations of an empirical proportion."""
    return 4.5 * math.sqrt(p * (1 - p) / n)


# ------------------------------------------------------------------ closed form ---


def test_point_estimates_equal_closed_form():
    res = roi(**KNOWN)
    est = res.table.set_index("quantity").estimate
    # by hand: 300 * 0.09 * 0.2 = 5.4 turnovers; 540,000 benefit; 340,000 net; 170%; 2.7
    assert est["turnovers_avoided"] == pytest.approx(5.4, rel=1e-12)
    assert est["benefit"] == pytest.approx(540_000.0, rel=1e-12)
    assert est["net_benefit"] == pytest.approx(340_000.0, rel=1e-12)
    assert est["roi_percent"] == pytest.approx(170.0, rel=1e-12)
    assert est["benefit_cost_ratio"] == pytest.approx(2.7, rel=1e-12)
    # HR* = 1 - 200,000 / (300 * 0.09 * 100,000) = 1 - 2/27
    assert res.break_even_hazard_ratio == pytest.approx(1 - 2 / 27, rel=1e-12)
    assert est["break_even_hazard_ratio"] == res.break_even_hazard_ratio
    assert est["program_cost"] == 200_000.0
    assert est["cost_per_turnover"] == 100_000.0
    assert list(res.table.columns) == ["quantity", "estimate", "conf_low", "conf_high"]


def test_turnovers_avoided_closed_form_and_wald_interval():
    res = turnovers_avoided(
        hazard_ratio=0.7, log_hr_se=0.3, exposed_person_years=250, baseline_rate=0.08
    )
    z = stats.norm.ppf(0.975)
    base = 250 * 0.08
    assert res.estimate == pytest.approx(base * 0.3, rel=1e-12)
    assert res.conf_low == pytest.approx(base * (1 - 0.7 * math.exp(z * 0.3)), rel=1e-12)
    assert res.conf_high == pytest.approx(base * (1 - 0.7 * math.exp(-z * 0.3)), rel=1e-12)
    t = res.table.set_index("quantity")
    assert t.loc["exits_without_program", "estimate"] == pytest.approx(base)
    assert t.loc["exits_with_program", "estimate"] == pytest.approx(base * 0.7)
    # the ROI's simulated interval of turnovers avoided matches the exact one to MC error
    r = roi(
        cost=1.0,
        hazard_ratio=0.7,
        log_hr_se=0.3,
        exposed_person_years=250,
        baseline_rate=0.08,
        cost_per_turnover=1.0,
        n_draws=40_000,
    )
    lo, hi = r.interval("turnovers_avoided")
    assert lo == pytest.approx(res.conf_low, abs=0.35)
    assert hi == pytest.approx(res.conf_high, abs=0.35)


def test_break_even_plugged_back_gives_zero_net_and_even_odds():
    res = roi(**KNOWN)
    at_break_even = roi(**{**KNOWN, "hazard_ratio": res.break_even_hazard_ratio})
    assert at_break_even.estimate("net_benefit") == pytest.approx(0.0, abs=1e-6)
    assert at_break_even.estimate("roi_percent") == pytest.approx(0.0, abs=1e-9)
    assert at_break_even.estimate("benefit_cost_ratio") == pytest.approx(1.0, rel=1e-12)
    # the median of log HR draws sits at log HR*, so half the draws pay
    assert at_break_even.probability_pays == pytest.approx(0.5, abs=_mc_tol(0.5, 10_000))
    reduction = 100 * (1 - res.break_even_hazard_ratio)
    assert f"lowers voluntary exits by at least {reduction:.1f}%" in res.break_even_sentence
    assert "pays for itself" in res.statement


def test_break_even_impossible_when_even_no_exits_would_not_pay():
    # 10 PY x 0.05 x 100,000 = 50,000 < cost 200,000: HR* = 1 - 4 < 0
    res = roi(**{**KNOWN, "exposed_person_years": 10.0, "baseline_rate": 0.05})
    assert res.break_even_hazard_ratio == pytest.approx(-3.0)
    assert "cannot pay for itself" in res.break_even_sentence
    assert res.probability_pays == 0.0


# ------------------------------------------------------------------ uncertainty ---


def test_interval_widens_monotonically_with_standard_error():
    widths = []
    for se in (0.0, 0.05, 0.1, 0.2, 0.4, 0.8):
        lo, hi = roi(**{**KNOWN, "log_hr_se": se}).interval("net_benefit")
        widths.append(hi - lo)
    assert widths[0] == 0.0
    assert np.all(np.diff(widths) > 0)
    ratios = [roi(**{**KNOWN, "log_hr_se": se}).interval("roi_percent") for se in (0.1, 0.3)]
    assert ratios[1][0] < ratios[0][0] and ratios[1][1] > ratios[0][1]


def test_null_effect_interval_spans_a_loss():
    res = roi(**{**KNOWN, "hazard_ratio": 1.0, "log_hr_se": 0.25})
    lo, hi = res.interval("net_benefit")
    assert res.estimate("net_benefit") == pytest.approx(-KNOWN["cost"])
    assert res.estimate("turnovers_avoided") == 0.0
    assert lo < 0 < hi
    assert res.interval("roi_percent")[0] < 0
    # exact: P(net > 0) = Phi(log HR* / se) < 0.5
    exact = stats.norm.cdf(math.log(res.break_even_hazard_ratio) / 0.25)
    assert res.probability_pays <= 0.5
    assert res.probability_pays == pytest.approx(exact, abs=_mc_tol(exact, res.n_draws))


def test_determinism_by_seed():
    a, b = roi(**KNOWN, seed=7), roi(**KNOWN, seed=7)
    c = roi(**KNOWN, seed=8)
    np.testing.assert_array_equal(a.net_benefit_draws, b.net_benefit_draws)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert not np.array_equal(a.net_benefit_draws, c.net_benefit_draws)
    # the point estimates never depend on the seed
    assert a.estimate("net_benefit") == c.estimate("net_benefit")


def test_monte_carlo_accuracy_against_exact_transformation():
    n = 20_000
    res = roi(**KNOWN, n_draws=n, seed=3)
    draws = res.net_benefit_draws
    # the median of the simulated net benefit is the closed form at the point HR
    share_above = float(np.mean(draws > res.estimate("net_benefit")))
    assert share_above == pytest.approx(0.5, abs=_mc_tol(0.5, n))
    # the percentile limits are the transformed Wald limits: their empirical CDF levels are
    # 0.025 and 0.975 up to MC error
    z = stats.norm.ppf(0.975)
    py_r_c = 300 * 0.09 * 100_000
    exact_lo = py_r_c * (1 - 0.8 * math.exp(z * 0.2)) - 200_000
    exact_hi = py_r_c * (1 - 0.8 * math.exp(-z * 0.2)) - 200_000
    assert np.mean(draws <= exact_lo) == pytest.approx(0.025, abs=_mc_tol(0.025, n))
    assert np.mean(draws <= exact_hi) == pytest.approx(0.975, abs=_mc_tol(0.975, n))
    lo, hi = res.interval("net_benefit")
    assert lo == pytest.approx(exact_lo, rel=0.05)
    assert hi == pytest.approx(exact_hi, rel=0.05)
    # P(pays) = Phi((log HR* - log HR) / se)
    exact_p = stats.norm.cdf((math.log(res.break_even_hazard_ratio) - math.log(0.8)) / 0.2)
    assert res.probability_pays == pytest.approx(exact_p, abs=_mc_tol(exact_p, n))
    # the hazard ratio's interval is the exact Wald interval
    h_lo, h_hi = res.interval("hazard_ratio")
    assert h_lo == pytest.approx(0.8 * math.exp(-z * 0.2), rel=1e-12)
    assert h_hi == pytest.approx(0.8 * math.exp(z * 0.2), rel=1e-12)


def test_carrying_the_baseline_rate_widens_the_interval_and_says_so():
    without = roi(**KNOWN)
    with_rate = roi(**KNOWN, baseline_events=30)
    assert len(with_rate.carried) == 2 and "Gamma(30 exits" in with_rate.carried[1]
    w0 = np.subtract(*without.interval("net_benefit")[::-1])
    w1 = np.subtract(*with_rate.interval("net_benefit")[::-1])
    assert w1 > w0
    # the rate's interval is the Gamma(x, x / rate) percentile interval
    lo, hi = with_rate.interval("baseline_rate")
    assert lo == pytest.approx(stats.gamma.ppf(0.025, 30, scale=0.09 / 30), rel=0.03)
    assert hi == pytest.approx(stats.gamma.ppf(0.975, 30, scale=0.09 / 30), rel=0.03)
    assert without.interval("baseline_rate") == (0.09, 0.09)
    assert any("baseline rate" in n and "treated as known" in n for n in without.notes)
    # point estimates are still the closed form
    assert with_rate.estimate("net_benefit") == pytest.approx(340_000.0)


def test_coverage_of_the_true_net_benefit_over_replications():
    """Known truth: HR 0.5, 300 coached PY, 0.09/PY over 250 comparison PY (~22 exits)."""
    rng = np.random.default_rng(2024)
    hr_true, se, py, r_true, py0, c, cost = 0.5, 0.1, 300.0, 0.09, 250.0, 100_000.0, 500_000.0
    net_true = py * r_true * (1 - hr_true) * c - cost
    reps = 300
    log_hr_hat = math.log(hr_true) + se * rng.standard_normal(reps)
    events0 = rng.poisson(r_true * py0, size=reps)
    covered_carried = covered_known = 0
    estimates = np.empty(reps)
    for k in range(reps):
        x0 = max(int(events0[k]), 1)
        args = dict(
            cost=cost,
            hazard_ratio=math.exp(log_hr_hat[k]),
            log_hr_se=se,
            exposed_person_years=py,
            baseline_rate=x0 / py0,
            cost_per_turnover=c,
            n_draws=2000,
            seed=k,
        )
        carried = roi(**args, baseline_events=x0)
        lo, hi = carried.interval("net_benefit")
        covered_carried += lo <= net_true <= hi
        lo, hi = roi(**args).interval("net_benefit")
        covered_known += lo <= net_true <= hi
        estimates[k] = carried.estimate("net_benefit")
    # with the rate's uncertainty carried, coverage is nominal (3 binomial SDs: 0.95 +- 0.038)
    assert abs(covered_carried / reps - 0.95) < 0.038
    # treating a rate estimated from ~22 exits as known under-covers badly here
    assert covered_known / reps < 0.8
    # the closed-form estimate is nearly unbiased (E[HR_hat] = HR exp(se^2 / 2): -0.5% of T)
    benefit_true = py * r_true * (1 - hr_true) * c
    sd_mean = estimates.std(ddof=1) / math.sqrt(reps)
    assert abs(estimates.mean() - net_true) < 3 * sd_mean + 0.01 * benefit_true


# ---------------------------------------------------------------- program costs ---


def _costs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cost_id": ["K1", "K2", "K3", "K4", "K5"],
            "cohort_id": ["", "C1", "C1", "C2", None],
            "category": ["training", "faculty", "participant_time", "faculty", "staff"],
            "description": ["a", "b", "c", "d", "e"],
            "cost_date": ["2023-01-10", "2023-02-01", "2024-01-31", "2024-03-01", "2024-03-02"],
            "amount_usd": [18_000.0, 22_000.0, 9_500.0, 22_000.0, 4_333.33],
        }
    )


def test_program_cost_totals_by_category_and_cohort():
    res = program_cost(_costs())
    assert isinstance(res, CostResult)
    assert res.total == pytest.approx(75_833.33)
    assert res.n_items == 5 and res.n_excluded == 0
    assert res.by_category.to_dict() == pytest.approx(
        {"training": 18_000.0, "staff": 4_333.33, "faculty": 44_000.0, "participant_time": 9_500.0}
    )
    assert list(res.by_category.index) == ["training", "staff", "faculty", "participant_time"]
    assert res.by_cohort.to_dict() == pytest.approx(
        {"C1": 31_500.0, "C2": 22_000.0, "program-wide": 22_333.33}
    )
    t = res.table
    for level in ("category", "cohort"):
        assert t[t.level == level].amount_usd.sum() == pytest.approx(res.total)
        assert t[t.level == level].share.sum() == pytest.approx(1.0)
    assert res.window == "2023-01-10 to 2024-03-02"


def test_program_cost_window_is_inclusive():
    res = program_cost(_costs(), start="2023-02-01", end=pd.Timestamp("2024-03-01"))
    assert res.total == pytest.approx(22_000.0 + 9_500.0 + 22_000.0)
    assert res.n_excluded == 2
    assert res.window == "2023-02-01 to 2024-03-01"
    assert any("outside the window" in n for n in res.notes)
    empty = program_cost(_costs(), start="2030-01-01")
    assert empty.total == 0.0 and empty.n_items == 0 and empty.first_date is None
    with pytest.raises(ConfigError, match="ROI divides by cost"):
        roi(**{**KNOWN, "cost": empty})


def test_program_cost_from_the_simulator_extract_and_validated_table(tmp_path):
    from coacheval.io.study import load_study, resolve_key

    system = simulate_health_system(seed=5, n_leaders=150)
    raw = system.extracts["program_costs"]
    res = program_cost(raw)
    assert res.total == pytest.approx(raw.amount_usd.sum(), rel=1e-12)
    assert res.by_category.to_dict() == pytest.approx(
        raw.groupby("category").amount_usd.sum().to_dict()
    )
    system.write(tmp_path / "x")
    study = load_study(tmp_path / "x", key=resolve_key(key_file=tmp_path / "k", create=True))
    clean = study["program_costs"]
    assert pd.api.types.is_datetime64_any_dtype(clean.cost_date)
    cut = clean.cost_date.sort_values().iloc[len(clean) // 2]
    res_clean = program_cost(clean, end=cut)
    assert res_clean.total == pytest.approx(clean.amount_usd[clean.cost_date <= cut].sum())
    roi_res = roi(
        cost=res_clean,
        hazard_ratio=0.85,
        log_hr_se=0.3,
        exposed_person_years=120,
        baseline_rate=0.09,
    )
    assert roi_res.estimate("program_cost") == pytest.approx(res_clean.total)
    assert res_clean.window in roi_res.statement


def test_categories_match_the_data_contract():
    spec = json.loads(
        (resource_dir("data_schema") / "tables" / "program_costs.json").read_text("utf-8")
    )
    enum = next(f for f in spec["fields"] if f["name"] == "category")["constraints"]["enum"]
    assert tuple(enum) == COST_CATEGORIES


# ----------------------------------------------------------------- assumptions ---


def test_cost_assumptions_defaults_and_override():
    a = CostAssumptions()
    assert a.cost_per_turnover == pytest.approx(137_280.0 * 1.0 + 0.03 * 46 * 61_110.0)
    lo, hi = a.cost_per_turnover_range
    assert lo < a.cost_per_turnover < hi
    assert a.currency == "USD" and a.price_year == 2024
    assert set(COST_SOURCES) >= {
        "leader_annual_salary_usd",
        "salary_multiple",
        "cost_per_rn_turnover_usd",
    }
    assert all(s.startswith("[") for s in COST_SOURCES.values())
    assert a.to_dict()["sources"] == COST_SOURCES
    stated = CostAssumptions(cost_per_leader_turnover_usd=150_000, source="HR finance 2024")
    assert stated.cost_per_turnover == 150_000.0
    assert stated.cost_per_turnover_range == (150_000.0, 150_000.0)
    assert "HR finance 2024" in stated.description
    res = roi(**{**KNOWN, "cost_per_turnover": stated})
    assert res.cost_per_turnover == 150_000.0
    assert any("HR finance 2024" in n for n in res.notes)
    default = roi(**{**KNOWN, "cost_per_turnover": None})
    assert default.cost_per_turnover == pytest.approx(a.cost_per_turnover)
    assert any("documented default" in n for n in default.notes)


def test_statement_never_gives_a_point_roi_without_its_interval():
    res = roi(**KNOWN)
    lo, hi = res.interval("roi_percent")
    s = res.statement
    assert f"ROI {res.estimate('roi_percent'):.0f}% ({lo:.0f}% to {hi:.0f}%)" in s
    assert "95% interval" in s and "Probability" in s
    assert "Return on investment" in res.summary()
    fig = res.plot()
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Net benefit (USD)"
    assert any(np.allclose(line.get_xdata(), 0.0) for line in ax.get_lines())
    assert program_cost(_costs()).plot().axes
    assert (
        turnovers_avoided(
            hazard_ratio=0.9, log_hr_se=0.2, exposed_person_years=100, baseline_rate=0.1
        )
        .plot()
        .axes
    )
    assert res.to_dict()["table"][0]["quantity"] == "program_cost"


# -------------------------------------------------------------------- bad input ---


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"hazard_ratio": 0.0}, "hazard_ratio must be a finite number > 0"),
        ({"hazard_ratio": -0.5}, "hazard_ratio"),
        ({"hazard_ratio": float("nan")}, "hazard_ratio"),
        ({"log_hr_se": -0.1}, "log_hr_se must be a finite number >= 0"),
        ({"cost": -1000.0}, "cost must be a finite number >= 0"),
        ({"cost": 0.0}, "program cost must be > 0"),
        ({"cost_per_turnover": -5.0}, "cost_per_turnover"),
        ({"exposed_person_years": 0}, "exposed_person_years"),
        ({"baseline_rate": 0.0}, "baseline_rate"),
        ({"n_draws": 10}, "n_draws"),
        ({"level": 1.5}, "level"),
        ({"seed": -1}, "seed"),
        ({"baseline_events": 0}, "baseline_events"),
        ({"hazard_ratio": "0.8"}, "hazard_ratio"),
    ],
)
def test_bad_scalar_input_is_a_config_error(change, match):
    with pytest.raises(ConfigError, match=match):
        roi(**{**KNOWN, **change})


def test_bad_effect_input_to_turnovers_avoided():
    with pytest.raises(ConfigError, match="hazard_ratio"):
        turnovers_avoided(hazard_ratio=0, log_hr_se=0.1, exposed_person_years=10, baseline_rate=0.1)
    with pytest.raises(ConfigError, match="log_hr_se"):
        turnovers_avoided(
            hazard_ratio=0.9, log_hr_se=-1, exposed_person_years=10, baseline_rate=0.1
        )


def test_rate_per_hundred_person_years_is_flagged():
    with pytest.warns(CoachevalWarning, match="per person-year"):
        roi(**{**KNOWN, "baseline_rate": 9.0})


def test_cost_currency_mismatch_with_the_extract():
    euros = CostAssumptions(cost_per_leader_turnover_usd=90_000, source="plan", currency="EUR")
    with pytest.raises(ConfigError, match="convert"):
        roi(**{**KNOWN, "cost": program_cost(_costs()), "cost_per_turnover": euros})


@pytest.mark.parametrize(
    ("column", "value", "match"),
    [
        ("amount_usd", -50.0, "amount_usd"),
        ("amount_usd", np.nan, "amount_usd"),
        ("amount_usd", "lots", "amount_usd"),
        ("cost_date", "not a date", "cost_date"),
        ("cost_date", None, "cost_date"),
        ("category", "catering", "category"),
        ("category", None, "category"),
    ],
)
def test_bad_cost_rows_are_data_validation_errors(column, value, match):
    costs = _costs().astype({column: object})
    costs.loc[2, column] = value
    with pytest.raises(DataValidationError, match=match) as err:
        program_cost(costs)
    assert "rows 2" in str(err.value)
    assert list(err.value.failure_cases.index) == [2]


def test_bad_cost_table_and_window():
    with pytest.raises(DataValidationError, match="amount_usd"):
        program_cost(_costs().drop(columns="amount_usd"))
    with pytest.raises(ConfigError, match="DataFrame"):
        program_cost([1, 2, 3])
    with pytest.raises(ConfigError, match="after end"):
        program_cost(_costs(), start="2024-01-01", end="2023-01-01")
    with pytest.raises(ConfigError, match="start must be a date"):
        program_cost(_costs(), start="someday")
    with pytest.raises(ConfigError, match="source"):
        CostAssumptions(cost_per_leader_turnover_usd=100_000)
    with pytest.raises(ConfigError, match="salary_multiple"):
        CostAssumptions(salary_multiple=-1)
