"""E-values, multiplicity, attrition, multiple imputation and Rubin's rules: edge cases and calibration.

E-values are checked against the worked examples of VanderWeele & Ding (2017, Ann Intern Med
167:268) and the examples of R's EValue package, recomputed by hand from the published formulas
(the EValue package is not installable here). Wilson intervals are checked against
``prop.test(x, n, correct = FALSE)`` values computed in R 4.2.2 and pasted below.

Imputation calibration (``test_mi_calibration``): 400 simulated data sets (seeded), n = 400
leaders, 40% participants; baseline score ~ N(0.5 g, 1); follow-up = 0.3 g + 0.7 baseline +
N(0, 0.8^2); follow-up missing at random: P(respond) = logistic(0.8 + 1.5 baseline g -
0.2 baseline (1 - g)), so participants with low baseline scores drop out (about 29% missing).
Estimand: the difference in mean follow-up between groups, 0.3 + 0.7 x 0.5 = 0.65; analysis:
OLS of follow-up on group; imputation from group and baseline, m = 20, Barnard–Rubin df.
Monte Carlo standard errors with R = 400: bias MCSE = SD(estimates) / 20 (about 0.006); coverage
MCSE = sqrt(0.95 x 0.05 / 400) = 0.011. Tolerances: |MI bias| < 4 MCSE; complete-case bias
> 10 MCSE (it is biased by design); MI coverage of the 95% interval in [0.95 - 3.5 MCSE,
0.95 + 3.5 MCSE] = [0.912, 0.988]; mean pooled SE / empirical SD of the estimates in
[0.85, 1.15] (the ratio's Monte Carlo SD is about 1/sqrt(2 x 399) = 3.5%).
Observed with these seeds (about 28.5% missing, mean fmi 0.20):
norm: MI bias +0.008 (1.4 MCSE), CC bias +0.241 (41 MCSE), coverage 0.953, SE ratio 1.05;
pmm:  MI bias -0.007 (1.2 MCSE), CC bias +0.228 (37 MCSE), coverage 0.950, SE ratio 1.00.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from coacheval.effects.attrition import attrition_table, wilson_interval
from coacheval.effects.imputation import impute_outcome, mi_sensitivity, pool_fits
from coacheval.effects.multiplicity import add_adjusted_p, bh_qvalues, holm_adjust
from coacheval.effects.pooling import pool_rubin
from coacheval.effects.sensitivity import (
    evalue_hr,
    evalue_or,
    evalue_rr,
    evalue_smd,
    evalue_threshold,
    hr_to_rr,
)
from coacheval.errors import ConfigError, DataValidationError
from coacheval.measures.baseline import smd_continuous

CLOSED_FORM = {"rtol": 1e-12, "atol": 1e-14}


def _e(rr: float) -> float:
    """Hand formula: RR + sqrt(RR (RR - 1)) after inverting a protective RR."""
    rr = 1 / rr if rr < 1 else rr
    return rr + math.sqrt(rr * (rr - 1))


# ------------------------------------------------------------------------------ E-values ---


@pytest.mark.parametrize(
    ("rr", "lo", "hi", "e_point", "e_ci"),
    [
        # VanderWeele & Ding (2017): breastfeeding and infant death from infection
        (3.9, 1.8, 8.7, 7.26, 3.00),
        # VanderWeele & Ding (2017) / EValue::evalues.RR(0.80, 0.71, 0.91)
        (0.80, 0.71, 0.91, 1.81, 1.43),
        # Hammond & Horn smoking and lung cancer, EValue::evalues.RR(10.73, 8.02, 14.36)
        (10.729780, 8.017457, 14.359688, 20.95, 15.52),
    ],
)
def test_evalue_rr_worked_examples(rr, lo, hi, e_point, e_ci):
    res = evalue_rr(rr, lo, hi)
    assert round(res.evalue_point, 2) == e_point
    assert round(res.evalue_ci, 2) == e_ci
    assert_allclose(res.evalue_point, _e(rr), **CLOSED_FORM)
    assert_allclose(res.evalue_ci, _e(lo if rr > 1 else hi), **CLOSED_FORM)
    # only the limit closest to the null is reported
    reported = res.table.set_index("quantity")["evalue"]
    assert np.isnan(reported["upper" if rr > 1 else "lower"])


def test_evalue_rr_exact_value_of_3_9():
    assert_allclose(evalue_rr(3.9).evalue_point, 3.9 + math.sqrt(3.9 * 2.9), **CLOSED_FORM)
    assert abs(evalue_rr(3.9).evalue_point - 7.2630) < 5e-5


def test_evalue_is_symmetric_in_the_direction_of_the_effect():
    assert_allclose(evalue_rr(0.8).evalue_point, evalue_rr(1 / 0.8).evalue_point, **CLOSED_FORM)


@pytest.mark.parametrize(("rr", "lo", "hi"), [(1.3, 0.9, 1.8), (0.8, 0.6, 1.1)])
def test_evalue_ci_is_one_when_the_interval_contains_the_null(rr, lo, hi):
    res = evalue_rr(rr, lo, hi)
    assert res.evalue_ci == 1.0
    assert any("contains the true value" in n for n in res.notes)


def test_evalue_at_the_null():
    res = evalue_rr(1.0, 0.8, 1.25)
    assert res.evalue_point == 1.0
    assert res.evalue_ci == 1.0


def test_evalue_without_interval_has_nan_ci():
    res = evalue_rr(2.0)
    assert np.isnan(res.evalue_ci)
    assert res.table["evalue"].isna().sum() == 2


def test_evalue_non_null_true_value():
    # EValue's threshold: (x + sqrt(x (x - true))) / true when true <= x
    assert_allclose(evalue_rr(2.0, true=1.5).evalue_point, 2.0, **CLOSED_FORM)
    # shifting away from the null: r = true / x, E = r + sqrt(r (r - 1))
    r = 2.0 / 1.2
    assert_allclose(evalue_threshold(1.2, 2.0), r + math.sqrt(r * (r - 1)), **CLOSED_FORM)


def test_evalue_hr_common_outcome_conversion():
    hr, lo, hi = 0.56, 0.46, 0.69  # EValue::evalues.HR(0.56, 0.46, 0.69, rare = FALSE)

    def convert(x):
        return (1 - 0.5 ** math.sqrt(x)) / (1 - 0.5 ** math.sqrt(1 / x))

    assert_allclose(hr_to_rr(hr, rare=False), convert(hr), **CLOSED_FORM)
    res = evalue_hr(hr, lo, hi, rare=False)
    assert_allclose(res.evalue_point, _e(convert(hr)), **CLOSED_FORM)
    assert_allclose(res.evalue_ci, _e(convert(hi)), **CLOSED_FORM)
    assert (round(res.evalue_point, 3), round(res.evalue_ci, 3)) == (2.35, 1.908)
    assert_allclose(res.table["rr"], [convert(hr), convert(lo), convert(hi)], **CLOSED_FORM)
    assert_allclose(res.table["estimate"], [hr, lo, hi], **CLOSED_FORM)


def test_evalue_hr_rare_outcome_uses_hr_as_rr():
    res = evalue_hr(0.56, 0.46, 0.69, rare=True)
    assert_allclose(res.evalue_point, _e(0.56), **CLOSED_FORM)
    assert_allclose(res.evalue_ci, _e(0.69), **CLOSED_FORM)


def test_hr_conversion_is_one_at_one_and_symmetric():
    assert_allclose(hr_to_rr(1.0, rare=False), 1.0, **CLOSED_FORM)
    assert_allclose(hr_to_rr(2.0, rare=False) * hr_to_rr(0.5, rare=False), 1.0, **CLOSED_FORM)


def test_evalue_or():
    res = evalue_or(0.86, 0.75, 0.99, rare=False)  # EValue::evalues.OR(..., rare = FALSE)
    assert_allclose(res.evalue_point, _e(math.sqrt(0.86)), **CLOSED_FORM)
    assert_allclose(res.evalue_ci, _e(math.sqrt(0.99)), **CLOSED_FORM)
    assert_allclose(evalue_or(3.0, rare=True).evalue_point, _e(3.0), **CLOSED_FORM)


def test_evalue_smd_with_se():
    res = evalue_smd(0.5, 0.25)  # EValue::evalues.MD(0.5, 0.25)
    assert_allclose(res.evalue_point, _e(math.exp(0.91 * 0.5)), **CLOSED_FORM)
    assert_allclose(res.evalue_ci, _e(math.exp(0.91 * 0.5 - 1.78 * 0.25)), **CLOSED_FORM)
    assert (round(res.evalue_point, 3), round(res.evalue_ci, 3)) == (2.529, 1.111)
    lo = res.table.set_index("quantity").loc["lower"]
    assert_allclose(lo["rr"], math.exp(0.91 * lo["estimate"]), **CLOSED_FORM)


def test_evalue_smd_negative_and_crossing():
    neg = evalue_smd(-0.5, 0.25)
    assert_allclose(neg.evalue_point, evalue_smd(0.5, 0.25).evalue_point, **CLOSED_FORM)
    assert_allclose(neg.evalue_ci, evalue_smd(0.5, 0.25).evalue_ci, **CLOSED_FORM)
    assert evalue_smd(0.2, 0.3).evalue_ci == 1.0
    assert np.isnan(evalue_smd(0.2).evalue_ci)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: evalue_rr(-1.0), "positive"),
        (lambda: evalue_rr(0.0), "positive"),
        (lambda: evalue_rr(2.0, 2.5, 3.0), "outside its confidence interval"),
        (lambda: evalue_rr(2.0, 1.0, 1.5), "outside its confidence interval"),
        (lambda: evalue_rr(2.0, 3.0, 1.0), "above the upper"),
        (lambda: evalue_hr(-0.5, rare=True), "positive"),
        (lambda: evalue_or(0.0, rare=False), "positive"),
        (lambda: evalue_smd(float("nan")), "finite"),
        (lambda: evalue_smd(0.3, -0.1), "non-negative"),
    ],
)
def test_evalue_refuses_impossible_values(call, match):
    with pytest.raises(DataValidationError, match=match):
        call()


def test_evalue_refuses_bad_true():
    with pytest.raises(ConfigError, match="true"):
        evalue_rr(2.0, true=0.0)
    with pytest.raises(ConfigError, match="true"):
        evalue_smd(0.2, true=float("inf"))


# -------------------------------------------------------------------------- multiplicity ---


def test_bh_hand_example():
    # sorted p: 0.01, 0.03, 0.04 -> n p / i = 0.03, 0.045, 0.04 -> cummin from the top
    assert_allclose(bh_qvalues([0.04, 0.01, 0.03]), [0.04, 0.03, 0.04], **CLOSED_FORM)


def test_bh_nan_is_kept_and_not_counted():
    q = bh_qvalues([0.01, np.nan, 0.02])
    assert np.isnan(q[1])
    assert_allclose(q[[0, 2]], [0.02, 0.02], **CLOSED_FORM)


def test_bh_all_equal_and_ties():
    assert_allclose(bh_qvalues([0.2] * 6), [0.2] * 6, **CLOSED_FORM)
    q = bh_qvalues([0.01, 0.04, 0.04, 0.5])
    assert q[1] == q[2]


def test_bh_single_and_empty_and_all_missing():
    assert_allclose(bh_qvalues([0.03]), [0.03], **CLOSED_FORM)
    assert_allclose(bh_qvalues(0.03), [0.03], **CLOSED_FORM)
    assert bh_qvalues([]).size == 0
    assert np.isnan(bh_qvalues([np.nan, np.nan])).all()


def test_bh_caps_at_one_and_is_at_least_p():
    p = np.array([0.9, 0.95, 1.0, 0.001, 0.3])
    q = bh_qvalues(p)
    assert (q <= 1).all()
    assert (q >= p).all()


def test_holm_hand_example():
    # sorted 0.01, 0.03, 0.04 -> 3 x 0.01, 2 x 0.03, 1 x 0.04 -> cummax 0.03, 0.06, 0.06
    assert_allclose(holm_adjust([0.04, 0.01, 0.03]), [0.06, 0.03, 0.06], **CLOSED_FORM)


def test_bh_with_more_tests_than_p_values():
    assert_allclose(bh_qvalues([0.01, 0.02], n=4), [0.04, 0.04], **CLOSED_FORM)


@pytest.mark.parametrize("func", [bh_qvalues, holm_adjust])
def test_adjustment_refuses_bad_input(func):
    with pytest.raises(DataValidationError, match=r"outside \[0, 1\]"):
        func([0.5, 1.2])
    with pytest.raises(DataValidationError, match="one-dimensional"):
        func([[0.1, 0.2]])
    with pytest.raises(ConfigError, match="less than"):
        func([0.1, 0.2, 0.3], n=2)


def test_add_adjusted_p():
    table = pd.DataFrame({"term": ["a", "b", "c"], "p_value": [0.04, 0.01, 0.03]})
    out = add_adjusted_p(table)
    assert "q_value" not in table
    assert_allclose(out["q_value"], [0.04, 0.03, 0.04], **CLOSED_FORM)
    assert_allclose(add_adjusted_p(table, method="holm")["p_holm"], [0.06, 0.03, 0.06])
    with pytest.raises(ConfigError, match="no column"):
        add_adjusted_p(table, p_col="p")
    with pytest.raises(ConfigError, match="method"):
        add_adjusted_p(table, method="bonferroni")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- attrition ---


@pytest.fixture
def attrition_data():
    rng = np.random.default_rng(5)
    g = np.r_[np.ones(50), np.zeros(30)]
    resp = np.r_[np.ones(40), np.zeros(10), np.ones(15), np.zeros(15)]
    return pd.DataFrame(
        {
            "participant": g.astype(int),
            "answered": resp.astype(bool),
            "baseline": rng.normal(3.5, 0.6, 80) + 0.4 * resp,
            "role": rng.choice(["manager", "director", "charge"], 80),
        }
    )


def test_attrition_response_rates_and_wilson_ci(attrition_data):
    res = attrition_table(
        attrition_data, responded_col="answered", group_col="participant", continuous=["baseline"]
    )
    t = res.table.set_index("group")
    assert t.loc["Participants", ["n_baseline", "n_responded", "n_lost"]].tolist() == [50, 40, 10]
    assert t.loc["Comparison", ["n_baseline", "n_responded", "n_lost"]].tolist() == [30, 15, 15]
    assert t.loc["All", "n_responded"] == 55
    assert_allclose(t.response_rate, [0.8, 0.5, 55 / 80], **CLOSED_FORM)
    # R: prop.test(40, 50, correct = FALSE); prop.test(15, 30, ...); prop.test(55, 80, ...)
    assert_allclose(
        t[["conf_low", "conf_high"]].to_numpy(),
        [
            [0.669628940677746, 0.887562499842239],
            [0.331541256405338, 0.668458743594662],
            [0.579322242553126, 0.778495958871052],
        ],
        rtol=1e-12,
    )
    se = math.sqrt(0.8 * 0.2 / 50 + 0.5 * 0.5 / 30)
    assert_allclose(
        res.rate_difference, [0.3, 0.3 - 1.959963984540054 * se, 0.3 + 1.959963984540054 * se]
    )


def test_wilson_interval_ends():
    assert wilson_interval(0, 10)[0] == 0.0  # prop.test gives exactly 0 at x = 0
    assert_allclose(wilson_interval(0, 10)[1], 0.277532799862889, rtol=1e-12)
    assert_allclose(wilson_interval(10, 10), [0.722467200137111, 1.0], rtol=1e-12)
    assert all(np.isnan(wilson_interval(0, 0)))


def test_attrition_smds_are_responders_minus_non_responders(attrition_data):
    res = attrition_table(
        attrition_data,
        responded_col="answered",
        group_col="participant",
        continuous=["baseline"],
        categorical=["role"],
    )
    smd = res.smd.set_index(["group", "variable"])["smd"]
    for label, flag in (("Participants", 1), ("Comparison", 0)):
        part = attrition_data[attrition_data.participant == flag]
        expected = smd_continuous(part.baseline[part.answered], part.baseline[~part.answered])
        assert_allclose(smd[(label, "baseline")], expected, **CLOSED_FORM)
        assert smd[(label, "role")] >= 0
    chars = res.characteristics
    assert set(chars.status) == {"Responders", "Non-responders"}
    row = chars[
        (chars.group == "Participants")
        & (chars.variable == "baseline")
        & (chars.status == "Responders")
    ].iloc[0]
    assert row.n == 40


def test_attrition_single_group_and_empty_side():
    df = pd.DataFrame({"r": [1, 1, 1], "x": [1.0, 2.0, 3.0]})
    res = attrition_table(df, responded_col="r", continuous=["x"])
    assert res.table.group.tolist() == ["All"]
    assert np.isnan(res.smd.smd.iloc[0])  # nobody lost: no comparison possible
    assert all(np.isnan(res.rate_difference))


def test_attrition_suppresses_small_counts(attrition_data):
    res = attrition_table(
        attrition_data,
        responded_col="answered",
        group_col="participant",
        categorical=["role"],
        min_cell=20,
    )
    assert res.characteristics.suppressed.any()
    assert res.characteristics.loc[res.characteristics.suppressed, "n"].isna().all()


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"answered": [1, np.nan] * 40}, DataValidationError, "missing"),
        ({"answered": [1, 2] * 40}, DataValidationError, "0/1"),
        ({"participant": ["yes", "no"] * 40}, DataValidationError, "0/1"),
    ],
)
def test_attrition_refuses_bad_flags(attrition_data, change, error, match):
    with pytest.raises(error, match=match):
        attrition_table(
            attrition_data.assign(**change), responded_col="answered", group_col="participant"
        )


def test_attrition_refuses_absent_columns(attrition_data):
    with pytest.raises(ConfigError, match="no column"):
        attrition_table(attrition_data, responded_col="answered", continuous=["age"])
    with pytest.raises(DataValidationError, match="no rows"):
        attrition_table(attrition_data.iloc[:0], responded_col="answered")


# ------------------------------------------------------------------------ Rubin's rules ---


def test_pool_rubin_refuses_one_imputation():
    with pytest.raises(DataValidationError, match="at least 2"):
        pool_rubin([1.0], [0.1])


def test_pool_rubin_zero_between_variance():
    q, u = np.full(5, 2.5), np.array([0.1, 0.2, 0.3, 0.2, 0.1])
    row = pool_rubin(q, u).table.iloc[0]
    assert row.between_var == 0 and row.riv == 0 and row["lambda"] == 0
    assert_allclose(row.total_var, u.mean(), **CLOSED_FORM)
    assert_allclose(row.df, 4 / 1e-4**2, **CLOSED_FORM)  # lambda floored at 1e-4, as mice
    assert_allclose(row.fmi, 2 / (row.df + 3), **CLOSED_FORM)
    small = pool_rubin(q, u, df_complete=28).table.iloc[0]
    lam = 1e-4
    df_obs = 29 / 31 * 28 * (1 - lam)
    assert_allclose(small.df, (4 / lam**2) * df_obs / (4 / lam**2 + df_obs), **CLOSED_FORM)


def test_pool_rubin_matrix_input_and_names():
    rng = np.random.default_rng(0)
    est = rng.normal(size=(10, 2))
    res = pool_rubin(est, np.full((10, 2), 0.5), terms=["a", "b"], alpha=0.1)
    assert res.terms == ("a", "b")
    assert_allclose(res.estimate, est.mean(axis=0), **CLOSED_FORM)
    assert_allclose(np.diag(res.total), 0.5 + 1.1 * est.var(axis=0, ddof=1), **CLOSED_FORM)
    assert res.total[0, 1] == 0  # covariances unknown when only variances are given
    assert res.alpha == 0.1 and "90%" in res.notes[0]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"estimates": [1.0, np.nan], "variances": [0.1, 0.1]}, DataValidationError, "non-finite"),
        ({"estimates": [1.0, 2.0], "variances": [0.1, -0.1]}, DataValidationError, "negative"),
        ({"estimates": [1.0, 2.0], "variances": [0.0, 0.0]}, DataValidationError, "is 0"),
        ({"estimates": [1.0, 2.0], "variances": [0.1]}, DataValidationError, "variances"),
        ({"estimates": np.ones((3, 2)), "variances": np.ones(3)}, DataValidationError, "shape"),
        ({"estimates": np.ones((3, 2, 2)), "variances": np.ones(3)}, DataValidationError, "shape"),
        (
            {"estimates": [1.0, 2.0], "variances": [1, 1], "df_complete": 0},
            ConfigError,
            "df_complete",
        ),
        ({"estimates": [1.0, 2.0], "variances": [1, 1], "alpha": 1.5}, ConfigError, "alpha"),
        ({"estimates": [1.0, 2.0], "variances": [1, 1], "terms": ["a", "b"]}, ConfigError, "term"),
    ],
)
def test_pool_rubin_refuses(kwargs, error, match):
    with pytest.raises(error, match=match):
        pool_rubin(**kwargs)


# --------------------------------------------------------------------- multiple imputation ---


def _simulate(rng: np.random.Generator, n: int = 400) -> pd.DataFrame:
    g = rng.random(n) < 0.4
    base = rng.normal(0.5 * g, 1.0)
    follow = 0.3 * g + 0.7 * base + rng.normal(0, 0.8, n)
    logit = 0.8 + 1.5 * base * g - 0.2 * base * (~g)
    responded = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {"group": g.astype(float), "base": base, "follow": np.where(responded, follow, np.nan)}
    )


TRUE_DIFFERENCE = 0.3 + 0.7 * 0.5


def _ols_group(d: pd.DataFrame) -> tuple[float, float]:
    x = np.column_stack([np.ones(len(d)), d["group"].to_numpy()])
    y = d["follow"].to_numpy()
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ beta
    cov = resid @ resid / (len(y) - 2) * np.linalg.inv(x.T @ x)
    return float(beta[1]), float(cov[1, 1])


@pytest.mark.slow
@pytest.mark.parametrize(("method", "seed"), [("norm", 20261210), ("pmm", 20261211)])
def test_mi_calibration(method, seed):
    rng = np.random.default_rng(seed)
    reps = 400
    cc, mi, covered, se = [], [], [], []
    for _ in range(reps):
        d = _simulate(rng)
        cc.append(_ols_group(d.dropna())[0])
        done = impute_outcome(
            d, outcome="follow", predictors=["group", "base"], m=20, seed=rng, method=method
        )
        row = pool_fits(done, _ols_group, df_complete=len(d) - 2).table.iloc[0]
        mi.append(row.estimate)
        se.append(row.std_error)
        covered.append(row.conf_low <= TRUE_DIFFERENCE <= row.conf_high)
    cc_arr, mi_arr = np.array(cc), np.array(mi)
    mcse_mi = mi_arr.std(ddof=1) / math.sqrt(reps)
    mcse_cc = cc_arr.std(ddof=1) / math.sqrt(reps)
    bias_mi, bias_cc = mi_arr.mean() - TRUE_DIFFERENCE, cc_arr.mean() - TRUE_DIFFERENCE
    coverage = float(np.mean(covered))
    mcse_cov = math.sqrt(0.95 * 0.05 / reps)
    se_ratio = float(np.mean(se) / mi_arr.std(ddof=1))
    summary = (
        f"{method}: MI bias {bias_mi:.4f} (MCSE {mcse_mi:.4f}), CC bias {bias_cc:.4f} "
        f"(MCSE {mcse_cc:.4f}), coverage {coverage:.3f}, SE ratio {se_ratio:.3f}"
    )
    assert abs(bias_mi) < 4 * mcse_mi, summary
    assert bias_cc > 10 * mcse_cc, summary
    assert abs(coverage - 0.95) < 3.5 * mcse_cov, summary
    assert 0.85 < se_ratio < 1.15, summary


def test_impute_outcome_keeps_observed_values_and_is_reproducible():
    d = _simulate(np.random.default_rng(1), n=200)
    a = impute_outcome(d, outcome="follow", predictors=["group", "base"], m=3, seed=9)
    b = impute_outcome(d, outcome="follow", predictors=["group", "base"], m=3, seed=9)
    observed = d.follow.notna()
    for x, y in zip(a, b, strict=True):
        pd.testing.assert_frame_equal(x, y)
        assert x.follow.notna().all()
        pd.testing.assert_series_equal(x.follow[observed], d.follow[observed])
        pd.testing.assert_frame_equal(x.drop(columns="follow"), d.drop(columns="follow"))
    assert not np.allclose(a[0].follow[~observed], a[1].follow[~observed])
    assert d.follow.isna().any()  # the input is not modified


@pytest.mark.parametrize("method", ["norm", "pmm"])
def test_imputations_do_not_depend_on_the_order_of_the_rows(method):
    # Regression: the draws went to the rows in the order they came, which followed the
    # pseudonyms, so the same data under another pseudonymisation key gave another pooled
    # estimate (0.149 / 0.141 / 0.151 under three keys). Now each row gets its draws by its
    # values: any order of the same rows gives the same imputed value per row and the same
    # (bit-identical) pooled estimates.
    d = _simulate(np.random.default_rng(11), n=200)
    d["role"] = np.random.default_rng(12).choice(["a", "b", "c"], len(d))
    d.loc[3, "role"] = None  # a missing text value is sorted last, not an error
    shuffled = d.sample(frac=1.0, random_state=5)
    kwargs = {"outcome": "follow", "predictors": ["group", "base"], "m": 4, "seed": 9}
    a = impute_outcome(d, method=method, **kwargs)
    b = impute_outcome(shuffled, method=method, **kwargs)
    for x, y in zip(a, b, strict=True):
        assert y.index.equals(shuffled.index)  # rows come back in their own order
        pd.testing.assert_frame_equal(x, y.loc[d.index])
    fit_a = mi_sensitivity(d, estimator=_ols_group, method=method, **kwargs)
    fit_b = mi_sensitivity(
        shuffled.reset_index(drop=True), estimator=_ols_group, method=method, **kwargs
    )
    pd.testing.assert_frame_equal(fit_a.table, fit_b.table, check_exact=True)


def test_pmm_copies_observed_values_and_handles_categorical_predictors():
    rng = np.random.default_rng(2)
    d = pd.DataFrame({"role": rng.choice(["a", "b", "c"], 120), "x": rng.normal(size=120)})
    d["y"] = np.round(d.x + (d.role == "b") * 1.0 + rng.normal(size=120), 1)
    d.loc[rng.random(120) < 0.3, "y"] = np.nan
    done = impute_outcome(d, outcome="y", predictors=["role", "x"], m=4, seed=1, method="pmm")
    donors = set(d.y.dropna())
    for frame in done:
        assert set(frame.y) <= donors


def test_pmm_with_more_donors_than_observed_rows():
    d = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 4.0], "y": [1.0, 2.0, 3.0, np.nan, np.nan]})
    done = impute_outcome(d, outcome="y", predictors=["x"], m=5, seed=3, method="pmm", donors=10)
    assert all(set(f.y) <= {1.0, 2.0, 3.0} for f in done)


def test_nothing_missing_gives_zero_between_variance():
    d = _simulate(np.random.default_rng(3), n=100).fillna(0.0)
    done = impute_outcome(d, outcome="follow", predictors=["group", "base"], m=5, seed=1)
    res = pool_fits(done, _ols_group, df_complete=98)
    row = res.table.iloc[0]
    assert row.between_var < 1e-25 and row.fmi < 0.1  # identical fits: b = 0 up to rounding
    est, var = _ols_group(d)
    assert_allclose([row.estimate, row.total_var], [est, var], **CLOSED_FORM)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"m": 1}, ConfigError, "at least 2"),
        ({"m": 2.5}, ConfigError, "integer"),
        ({"method": "cart"}, ConfigError, "method"),
        ({"donors": 0}, ConfigError, "donors"),
        ({"predictors": ["nope"]}, ConfigError, "no column"),
        ({"predictors": ["follow"]}, ConfigError, "also a predictor"),
    ],
)
def test_impute_outcome_refuses_bad_options(kwargs, error, match):
    d = _simulate(np.random.default_rng(4), n=50)
    args = {"outcome": "follow", "predictors": ["group", "base"], "m": 5, "seed": 1} | kwargs
    with pytest.raises(error, match=match):
        impute_outcome(d, **args)


def test_impute_outcome_refuses_bad_data():
    d = _simulate(np.random.default_rng(4), n=50)
    with pytest.raises(DataValidationError, match="predictors must be complete"):
        impute_outcome(
            d.assign(base=d.base.where(d.index > 2)),
            outcome="follow",
            predictors=["base"],
            seed=1,
        )
    with pytest.raises(DataValidationError, match="collinear"):
        impute_outcome(
            d.assign(base2=2 * d.base), outcome="follow", predictors=["base", "base2"], seed=1
        )
    with pytest.raises(DataValidationError, match="needs at least"):
        tiny = d.assign(follow=np.where(d.index < 2, 1.0, np.nan))
        impute_outcome(tiny, outcome="follow", predictors=["group", "base"], seed=1)
    with pytest.raises(DataValidationError, match="numeric"):
        impute_outcome(d.assign(follow="x"), outcome="follow", predictors=["base"], seed=1)


def test_pool_fits_with_named_terms_and_covariance():
    d = _simulate(np.random.default_rng(6), n=150)
    done = impute_outcome(d, outcome="follow", predictors=["group", "base"], m=5, seed=2)

    def fit(frame):
        x = np.column_stack([np.ones(len(frame)), frame["group"].to_numpy()])
        y = frame["follow"].to_numpy()
        beta, *_ = np.linalg.lstsq(x, y, rcond=None)
        resid = y - x @ beta
        cov = resid @ resid / (len(y) - 2) * np.linalg.inv(x.T @ x)
        terms = ["(Intercept)", "group"]
        return pd.Series(beta, index=terms), pd.DataFrame(cov, index=terms, columns=terms)

    res = pool_fits(done, fit, df_complete=148)
    assert res.terms == ("(Intercept)", "group")
    assert res.within.shape == (2, 2) and res.within[0, 1] != 0


def test_pool_fits_refuses_inconsistent_estimators():
    frames = [pd.DataFrame({"y": [1.0, 2.0, 3.0 + k]}) for k in range(3)]
    with pytest.raises(ConfigError, match="pair"):
        pool_fits(frames, lambda d: d.y.mean())
    names = iter(["a", "b", "c"])
    with pytest.raises(ConfigError, match="different terms"):
        pool_fits(frames, lambda d: (pd.Series([d.y.mean()], index=[next(names)]), [0.1]))
    with pytest.raises(DataValidationError, match="at least 2"):
        pool_fits(frames[:1], lambda d: (d.y.mean(), 0.1))


def test_mi_sensitivity_table():
    d = _simulate(np.random.default_rng(7), n=300)
    res = mi_sensitivity(
        d,
        outcome="follow",
        predictors=["group", "base"],
        estimator=_ols_group,
        m=10,
        seed=3,
        df_complete=298,
    )
    t = res.table.set_index("analysis")
    n_missing = int(d.follow.isna().sum())
    assert res.n_missing == n_missing and res.n_total == 300
    assert t.loc["complete_case", "n"] == 300 - n_missing
    assert t.loc["complete_case", "df"] == 298 - n_missing
    assert t.loc["multiple_imputation", "n"] == 300
    est, var = _ols_group(d.dropna())
    assert_allclose(
        t.loc["complete_case", ["estimate", "std_error"]].astype(float), [est, math.sqrt(var)]
    )
    assert 0 < t.loc["multiple_imputation", "fmi"] < 1
    assert "missing at random" in res.notes[0]
