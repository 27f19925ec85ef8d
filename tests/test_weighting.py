"""Propensity-score weighting: conventions, independent cross-checks, calibration, edge cases.

The comparison with R is in test_weighting_vs_r.py. Here:
- cross-checks against independent implementations (statsmodels Logit, WLS with HC1 and
  cluster covariances; Table 1's SMD; a literal transcription of WeightIt's Crump loop);
- calibration on simulated data with confounded enrolment and a known ATT and ATO;
- the error paths (separation, one group only, bad codes, missing values, ...).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from matplotlib.figure import Figure
from numpy.testing import assert_allclose
from scipy import special

from coacheval._columns import ESTIMATE_COLUMNS
from coacheval.effects.weighting import (
    FIXED_WEIGHTS_NOTE,
    BalanceResult,
    EffectResult,
    aipw_att,
    balance_table,
    balancing_weights,
    fit_propensity,
    propensity_scores,
    trim,
    weighted_att,
)
from coacheval.errors import ConfigError, DataValidationError
from coacheval.measures.baseline import smd_continuous

COVARIATES = ["engagement", "new_leader", "unit_type"]
UNIT_TYPES = np.array(["icu", "med_surg", "outpatient"])
UNIT_PROBS = np.array([0.5, 0.3, 0.2])


def _linear_predictor(engagement, new_leader, unit_type):
    """Enrolment: more engaged and newer leaders are likelier to join coaching."""
    return (
        -0.8
        + 0.9 * engagement
        + 0.8 * new_leader
        + 0.6 * (unit_type == "med_surg")
        - 0.5 * (unit_type == "outpatient")
    )


def _effect(engagement):
    return 0.5 + 0.3 * engagement  # heterogeneous: the ATT differs from the ATE and the ATO


def simulate(rng: np.random.Generator, n: int = 1000) -> pd.DataFrame:
    engagement = rng.normal(size=n)
    new_leader = rng.binomial(1, 0.4, n)
    unit_type = rng.choice(UNIT_TYPES, n, p=UNIT_PROBS)
    coached = rng.binomial(1, special.expit(_linear_predictor(engagement, new_leader, unit_type)))
    y0 = 2 + engagement + 0.5 * new_leader + 0.4 * (unit_type == "med_surg") + 0.25 * engagement**2
    score = y0 + coached * _effect(engagement) + rng.normal(size=n)
    return pd.DataFrame(
        {
            "score": score,
            "coached": coached,
            "engagement": engagement,
            "new_leader": new_leader,
            "unit_type": unit_type,
            "unit": rng.integers(0, 40, n),
        }
    )


def true_effects() -> tuple[float, float]:
    """Population ATT and ATO by quadrature over engagement and exact sums over the rest."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    weights = weights / weights.sum()
    att_num = att_den = ato_num = ato_den = 0.0
    for new_leader, p_new in ((0, 0.6), (1, 0.4)):
        for unit_type, p_unit in zip(UNIT_TYPES, UNIT_PROBS, strict=True):
            p = special.expit(_linear_predictor(nodes, new_leader, unit_type))
            mass = weights * p_new * p_unit
            att_num += np.sum(mass * p * _effect(nodes))
            att_den += np.sum(mass * p)
            ato_num += np.sum(mass * p * (1 - p) * _effect(nodes))
            ato_den += np.sum(mass * p * (1 - p))
    return att_num / att_den, ato_num / ato_den


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return simulate(np.random.default_rng(20261201), 800)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ------------------------------------------------------------------ propensity scores ----------
def test_propensity_matches_statsmodels_logit(data):
    model = fit_propensity(data, treatment="coached", covariates=COVARIATES)
    x = pd.get_dummies(data[COVARIATES], columns=["unit_type"], drop_first=True, dtype=float)
    ref = sm.Logit(data.coached, sm.add_constant(x)).fit(disp=0, method="newton", tol=1e-12)
    assert model.table.term.tolist() == [
        "(Intercept)",
        "engagement",
        "new_leader",
        "unit_typemed_surg",
        "unit_typeoutpatient",
    ]
    assert_allclose(model.table.estimate, ref.params, rtol=1e-9)
    assert_allclose(model.table.std_error, ref.bse, rtol=1e-7)
    assert_allclose(model.ps, ref.predict(), rtol=1e-9)
    assert_allclose(
        propensity_scores(data, treatment="coached", covariates=COVARIATES), model.ps, rtol=0
    )


def test_reference_level_follows_categorical_order(data):
    df = data.assign(
        unit_type=pd.Categorical(data.unit_type, categories=["outpatient", "icu", "med_surg"])
    )
    model = fit_propensity(df, treatment="coached", covariates=COVARIATES)
    assert model.table.term.tolist()[-2:] == ["unit_typeicu", "unit_typemed_surg"]
    base = fit_propensity(data, treatment="coached", covariates=COVARIATES)
    assert_allclose(model.ps, base.ps, rtol=1e-10)  # same model, other coding


def test_boolean_treatment_and_covariate(data):
    df = data.assign(coached=data.coached.astype(bool), new_leader=data.new_leader.astype(bool))
    got = propensity_scores(df, treatment="coached", covariates=COVARIATES)
    want = propensity_scores(data, treatment="coached", covariates=COVARIATES)
    assert_allclose(got, want, rtol=1e-12)


# ------------------------------------------------------------------ weights and trimming -------
def test_att_weights_formula_and_normalisation():
    ps = np.array([0.6, 0.3, 0.2, 0.5, 0.75])
    d = np.array([1, 1, 0, 0, 0])
    raw = balancing_weights(ps, d, estimand="ATT", normalize=False)
    assert_allclose(raw, [1, 1, 0.25, 1, 3])
    w = balancing_weights(ps, d, estimand="ATT")
    assert_allclose(w[:2], 1)
    assert_allclose(w[2:].sum(), 2)  # controls sum to the number treated
    assert_allclose(w[2:] / raw[2:], 2 / 4.25)


def test_ato_weights_formula():
    ps = np.array([0.6, 0.3, 0.2, 0.5])
    assert_allclose(balancing_weights(ps, [1, 1, 0, 0], estimand="ATO"), [0.4, 0.7, 0.2, 0.5])


@pytest.mark.parametrize("bad", [0.0, 1.0, np.nan, 1.2])
def test_weights_reject_propensities_outside_open_interval(bad):
    with pytest.raises(DataValidationError, match="strictly between 0 and 1"):
        balancing_weights([0.5, bad, 0.4], [1, 0, 0], estimand="ATT")


def test_weights_reject_unknown_estimand():
    with pytest.raises(ConfigError, match="estimand must be one of"):
        balancing_weights([0.5, 0.4], [1, 0], estimand="ATE")  # type: ignore[arg-type]


def _crump_weightit_loop(ps):
    """WeightIt's get_w_from_ps(estimand = "ATOS") loop, transcribed line by line."""
    ps_sorted = np.sort(np.concatenate([ps, 1 - ps]))
    q = ps * (1 - ps)
    alpha_opt = 0.0
    for i in range(int((ps < 0.5).sum())):
        if i == 0 or abs(ps_sorted[i] - ps_sorted[i - 1]) >= np.sqrt(np.finfo(float).eps):
            alpha = ps_sorted[i]
            a = alpha * (1 - alpha)
            if 1 / a <= 2 * np.sum(1 / q[q >= a]) / np.sum(q >= a):
                alpha_opt = alpha
                break
    return alpha_opt


@pytest.mark.parametrize("seed", range(5))
def test_crump_rule_matches_weightit_loop(seed):
    rng = np.random.default_rng(seed)
    ps = special.expit(rng.normal(0, 0.8 + seed, 500))
    d = rng.binomial(1, ps)
    res = trim(ps, d, rule="crump")
    alpha = _crump_weightit_loop(ps)
    assert res.lower == pytest.approx(alpha, abs=0)
    assert res.n_dropped == int(((ps < alpha) | (ps > 1 - alpha)).sum())


def test_crump_keeps_everyone_with_good_overlap():
    ps = np.linspace(0.3, 0.7, 50)
    res = trim(ps, np.arange(50) % 2, rule="crump")
    assert res.n_dropped == 0
    assert res.lower == pytest.approx(0.3)


def test_trim_bounds_report_counts_by_group():
    res = trim([0.005, 0.2, 0.5, 0.995, 0.6, 0.999], [0, 0, 1, 1, 1, 0], lower=0.01, upper=0.99)
    row = res.table.iloc[0]
    assert (row.n_dropped_treated, row.n_dropped_control, row.n_kept) == (1, 2, 3)
    assert res.keep.tolist() == [False, True, True, False, True, False]
    assert "dropped 1 treated and 2 controls" in res.summary()
    assert isinstance(res.plot(), Figure)


@pytest.mark.parametrize(("rule", "ps"), [("bounds", [0.2, 1.5]), ("crump", [0.0, 0.5])])
def test_trim_rejects_impossible_propensities(rule, ps):
    with pytest.raises(DataValidationError, match="outside"):
        trim(ps, [1, 0], rule=rule)


@pytest.mark.parametrize(("lower", "upper"), [(0.5, 0.5), (-0.1, 0.9), (0.2, 1.1)])
def test_trim_rejects_bad_bounds(lower, upper):
    with pytest.raises(ConfigError, match="0 <= lower < upper <= 1"):
        trim([0.4, 0.6], [1, 0], lower=lower, upper=upper)


# ------------------------------------------------------------------ balance --------------------
def test_unweighted_pooled_smd_equals_table1(data):
    bal = balance_table(data, "coached", np.ones(len(data)), ["engagement"], estimand="ATE")
    row = bal.table.iloc[0]
    expected = smd_continuous(
        data.engagement[data.coached == 1], data.engagement[data.coached == 0]
    )
    assert row.diff_un == pytest.approx(expected, rel=1e-12)
    assert row.diff_adj == pytest.approx(expected, rel=1e-12)  # unit weights change nothing
    assert_allclose(bal.ess.ess_adj, bal.ess.n)


def test_balance_terms_types_and_names(data):
    w = balancing_weights(
        propensity_scores(data, treatment="coached", covariates=COVARIATES),
        data.coached,
        estimand="ATT",
    )
    bal = balance_table(data, "coached", w, COVARIATES)
    assert bal.table.term.tolist() == [
        "engagement",
        "new_leader",
        "unit_type_icu",
        "unit_type_med_surg",
        "unit_type_outpatient",
    ]
    assert bal.table.type.tolist() == ["continuous"] + ["binary"] * 4
    assert bal.table.var_ratio_un.isna().tolist() == [False] + [True] * 4
    assert bal.s_d_denom == "treated"
    assert bal.max_abs_diff < 0.1
    assert bal.table.balanced.all()
    # ATT weights leave the treated untouched
    assert_allclose(bal.table.mean_treated_adj, bal.table.mean_treated_un)
    assert bal.ess.ess_adj.iloc[0] == pytest.approx(bal.ess.n.iloc[0])
    assert bal.ess.ess_adj.iloc[1] < bal.ess.n.iloc[1]


def test_binary_std_standardises_binary_terms():
    df = pd.DataFrame({"x": [0, 1, 1, 1, 0, 0, 1, 0], "d": [1, 1, 1, 1, 0, 0, 0, 0]})
    raw = balance_table(df, "d", np.ones(8), ["x"]).table.iloc[0]
    std = balance_table(df, "d", np.ones(8), ["x"], binary="std").table.iloc[0]
    assert raw.diff_un == pytest.approx(0.5)  # difference in proportions
    assert std.diff_un == pytest.approx(0.5 / np.sqrt(0.75 * 0.25))  # / sqrt(p1 (1 - p1))


def test_two_valued_numeric_covariate_is_binary_named_by_its_upper_value():
    df = pd.DataFrame({"grade": [2, 3, 3, 2, 3, 2], "d": [1, 1, 1, 0, 0, 0]})
    row = balance_table(df, "d", np.ones(6), ["grade"]).table.iloc[0]
    assert (row.term, row.type) == ("grade_3", "binary")
    assert row.mean_treated_un == pytest.approx(2 / 3)


def test_covariate_constant_in_one_group_falls_back_to_whole_sample_sd():
    rng = np.random.default_rng(5)
    n = 200
    d = np.repeat([1, 0], n // 2)
    tenure = np.where(d == 1, 3.0, rng.uniform(0, 6, n))  # constant among the treated
    df = pd.DataFrame({"d": d, "tenure": tenure, "age": rng.normal(45, 8, n)})
    ps = propensity_scores(df, treatment="d", covariates=["tenure", "age"])  # fits fine
    w = balancing_weights(ps, d, estimand="ATT")
    bal = balance_table(df, "d", w, ["tenure", "age"])
    row = bal.table.set_index("term").loc["tenure"]
    assert row.sd_denom == pytest.approx(np.std(tenure, ddof=1))
    assert np.isfinite(row.diff_un) and np.isfinite(row.diff_adj)
    assert row.var_ratio_un == pytest.approx(0, abs=1e-20)


def test_love_plot_has_points_and_threshold(data):
    bal = balance_table(data, "coached", np.ones(len(data)), COVARIATES)
    fig = bal.love_plot()
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(ax.collections) == 2  # before and after
    assert any(line.get_xdata()[0] == 0.1 for line in ax.get_lines())
    assert isinstance(bal.plot(), Figure)
    assert "Effective sample sizes" in bal.summary()
    assert "<table" in bal._repr_html_()


@pytest.mark.parametrize("weights", [np.array([1.0, -1, 1, 1]), np.array([1.0, 1, 0, 0])])
def test_balance_rejects_bad_weights(weights):
    df = pd.DataFrame({"x": [1.0, 2, 3, 4], "d": [1, 1, 0, 0]})
    with pytest.raises(DataValidationError, match="weights"):
        balance_table(df, "d", weights, ["x"])


def test_balance_rejects_unknown_denominator():
    df = pd.DataFrame({"x": [1.0, 2, 3, 4], "d": [1, 1, 0, 0]})
    with pytest.raises(ConfigError, match="s_d_denom must be one of"):
        balance_table(df, "d", np.ones(4), ["x"], s_d_denom="hedges")  # type: ignore[arg-type]


# ------------------------------------------------------------------ effects: cross-checks ------
@pytest.mark.parametrize("cluster", [None, "unit"])
@pytest.mark.parametrize("adjust", [False, True])
def test_weighted_effect_matches_statsmodels_wls(data, cluster, adjust):
    res = weighted_att(
        data,
        outcome="score",
        treatment="coached",
        covariates=COVARIATES,
        adjust=adjust,
        cluster=cluster,
    )
    ps = propensity_scores(data, treatment="coached", covariates=COVARIATES)
    w = balancing_weights(ps, data.coached, estimand="ATT")
    x = data[["coached"]].astype(float)
    if adjust:
        dummies = pd.get_dummies(data.unit_type, prefix="u", drop_first=True, dtype=float)
        x = pd.concat([x, data[["engagement", "new_leader"]], dummies], axis=1)
    model = sm.WLS(data.score, sm.add_constant(x), weights=w)
    if cluster is None:
        fit = model.fit(cov_type="HC1")
    else:
        fit = model.fit(cov_type="cluster", cov_kwds={"groups": data[cluster]})
    row = res.table.iloc[0]
    assert row.estimate == pytest.approx(fit.params["coached"], rel=1e-10)
    assert row.std_error == pytest.approx(fit.bse["coached"], rel=1e-9)
    if not adjust:  # a weighted difference in means
        treated, control = data.coached == 1, data.coached == 0
        diff = np.average(data.score[treated], weights=w[treated]) - np.average(
            data.score[control], weights=w[control]
        )
        assert row.estimate == pytest.approx(diff, rel=1e-10)


def test_overlap_weights_make_adjustment_irrelevant(data):
    kw = {"outcome": "score", "treatment": "coached", "covariates": COVARIATES, "estimand": "ATO"}
    plain, adjusted = weighted_att(data, **kw), weighted_att(data, adjust=True, **kw)
    assert adjusted.estimate == pytest.approx(plain.estimate, rel=1e-9)
    assert_allclose(plain.balance.table.diff_adj, 0, atol=1e-10)  # exact balance


def test_aipw_cluster_se_with_singletons_equals_iid_se(data):
    kw = {"outcome": "score", "treatment": "coached", "covariates": COVARIATES}
    iid = aipw_att(data, **kw)
    singletons = aipw_att(data.assign(person=np.arange(len(data))), cluster="person", **kw)
    assert singletons.estimate == iid.estimate
    assert singletons.std_error == pytest.approx(iid.std_error, rel=1e-10)
    assert singletons.vcov == "influence function, clustered"


def test_aipw_equals_regression_when_propensity_uninformative():
    """With a constant propensity model the DR ATT is the treated mean minus m0's mean there."""
    rng = np.random.default_rng(9)
    n = 400
    df = pd.DataFrame({"x": rng.normal(size=n), "d": np.tile([0, 1], n // 2)})
    df["y"] = 1 + df.x + 0.7 * df.d + rng.normal(size=n)
    res = aipw_att(df, outcome="y", treatment="d", covariates=["x"])
    ctrl = df[df.d == 0]
    beta = np.polyfit(ctrl.x, ctrl.y, 1)
    treated = df[df.d == 1]
    ps = propensity_scores(df, treatment="d", covariates=["x"])
    w0 = (ps / (1 - ps))[df.d == 0]
    resid_c = ctrl.y - np.polyval(beta, ctrl.x)
    expected = np.mean(treated.y - np.polyval(beta, treated.x)) - np.sum(w0 * resid_c) / np.sum(w0)
    assert res.estimate == pytest.approx(expected, rel=1e-10)


# ------------------------------------------------------------------ result objects -------------
def test_effect_result_contract(data):
    res = weighted_att(
        data, outcome="score", treatment="coached", covariates=COVARIATES, cluster="unit"
    )
    assert isinstance(res, EffectResult)
    assert list(res.table.columns) == list(ESTIMATE_COLUMNS)
    assert res.table.term.tolist() == ["ATT", "unadjusted difference"]
    assert res.vcov == "CR1" and res.n_clusters == 40
    assert res.table.df.iloc[0] == 39
    assert res.n_treated + res.n_control == len(data)
    assert isinstance(res.balance, BalanceResult)
    assert res.propensity.term.iloc[0] == "(Intercept)"
    assert FIXED_WEIGHTS_NOTE in res.notes
    assert "Reifeis & Hudgens" in res.summary()
    assert res.to_dict()["table"][0]["term"] == "ATT"
    lo, hi = res.conf_int
    assert lo < res.estimate < hi
    assert isinstance(res.plot(), Figure)
    with pytest.raises(AttributeError):
        res.estimand = "ATO"  # type: ignore[misc]


# ------------------------------------------------------------------ calibration ----------------
REPLICATIONS = 200
ESTIMATORS = {  # name: (estimator, keyword arguments)
    "ATT": (weighted_att, {}),
    "ATT, M-estimation SE": (weighted_att, {"variance": "m_estimation"}),
    "ATO": (weighted_att, {"estimand": "ATO"}),
    "ATO, M-estimation SE": (weighted_att, {"estimand": "ATO", "variance": "m_estimation"}),
    "AIPW": (aipw_att, {}),
}


@pytest.fixture(scope="module")
def calibration() -> dict[str, np.ndarray]:
    """200 simulated evaluations of 1000 leaders: estimate, CI and SE of each estimator."""
    rng = np.random.default_rng(2026)
    kw = {"outcome": "score", "treatment": "coached", "covariates": COVARIATES}
    cols = ["estimate", "conf_low", "conf_high", "std_error"]
    rows: dict[str, list[np.ndarray]] = {"naive": [], **{name: [] for name in ESTIMATORS}}
    for _ in range(REPLICATIONS):
        df = simulate(rng, 1000)
        for name, (estimator, options) in ESTIMATORS.items():
            table = estimator(df, **kw, **options).table
            rows[name].append(table.iloc[0][cols].to_numpy(float))
            if name == "ATT":
                rows["naive"].append(table.iloc[1][cols].to_numpy(float))
    return {k: np.array(v) for k, v in rows.items()}


def _truth(name: str) -> float:
    att, ato = true_effects()
    return ato if name.startswith("ATO") else att


@pytest.mark.slow
def test_naive_difference_is_biased(calibration):
    est = calibration["naive"][:, 0]
    mc_se = est.std(ddof=1) / np.sqrt(len(est))
    assert est.mean() - _truth("ATT") > 20 * mc_se  # engaged leaders enrol and score higher


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ATT", "ATO", "AIPW"])
def test_estimator_is_unbiased_within_two_mc_se(calibration, name):
    est = calibration[name][:, 0]
    mc_se = est.std(ddof=1) / np.sqrt(len(est))
    assert abs(est.mean() - _truth(name)) < 2 * mc_se


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ATT, M-estimation SE", "ATO, M-estimation SE", "AIPW", "ATT"])
def test_confidence_intervals_cover(calibration, name):
    res = calibration[name]
    truth = _truth(name)
    coverage = np.mean((res[:, 1] <= truth) & (truth <= res[:, 2]))
    assert 0.90 <= coverage <= 0.99
    ratio = res[:, 3].mean() / res[:, 0].std(ddof=1)  # mean SE / Monte Carlo SD
    assert 0.85 < ratio < 1.25


@pytest.mark.slow
def test_fixed_weights_se_is_conservative_for_overlap_weights(calibration):
    """Documented finding: ignoring the propensity model's estimation overstates the ATO's SE."""
    res = calibration["ATO"]
    truth = _truth("ATO")
    assert np.mean((res[:, 1] <= truth) & (truth <= res[:, 2])) >= 0.95
    assert res[:, 3].mean() / res[:, 0].std(ddof=1) > 1.15
    m_est = calibration["ATO, M-estimation SE"]
    assert_allclose(m_est[:, 0], res[:, 0], rtol=1e-12)  # same estimate, other SE
    assert (m_est[:, 3] < res[:, 3]).all()


def test_true_effects_differ_by_estimand():
    att, ato = true_effects()
    assert att == pytest.approx(0.6277, abs=1e-4)
    assert ato == pytest.approx(0.5314, abs=1e-4)


# ------------------------------------------------------------------ edge cases -----------------
def test_perfect_separation_names_the_covariate():
    df = pd.DataFrame(
        {"d": [1, 1, 1, 0, 0, 0], "tenure": [0.5, 1, 1.5, 4, 5, 6], "age": [30, 50, 40, 45, 35, 55]}
    )
    with pytest.raises(DataValidationError, match="perfect separation by covariate 'tenure'"):
        propensity_scores(df, treatment="d", covariates=["age", "tenure"])


def test_category_only_in_one_group_is_quasi_separation():
    df = pd.DataFrame(
        {
            "d": [1, 1, 1, 0, 0, 0, 1, 0],
            "unit": list("aabbcbaa"),
            "age": [30, 50, 40, 45, 35, 55, 33, 41],
        }
    )
    with pytest.raises(DataValidationError, match=r"unit == 'c' is in the controls"):
        propensity_scores(df, treatment="d", covariates=["age", "unit"])


def test_binary_covariate_constant_among_treated_is_quasi_separation():
    df = pd.DataFrame({"d": [1, 1, 1, 0, 0, 0, 0], "female": [1, 1, 1, 1, 0, 0, 1]})
    with pytest.raises(DataValidationError, match="covariate 'female'"):
        propensity_scores(df, treatment="d", covariates=["female"])


def test_multivariate_separation_is_caught_after_fitting():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"x1": rng.normal(size=200), "x2": rng.normal(size=200)})
    df["d"] = (df.x1 + df.x2 > 0).astype(int)  # neither covariate separates on its own
    with pytest.raises(DataValidationError, match=r"quasi-perfect separation.*'x[12]'"):
        propensity_scores(df, treatment="d", covariates=["x1", "x2"])


@pytest.mark.parametrize(
    ("codes", "message"), [([1, 1, 1, 1], "no control rows"), ([0, 0, 0, 0], "no treated rows")]
)
def test_one_group_only(codes, message):
    df = pd.DataFrame({"d": codes, "x": [1.0, 2, 3, 4], "y": [1.0, 2, 3, 4]})
    with pytest.raises(DataValidationError, match=message):
        weighted_att(df, outcome="y", treatment="d", covariates=["x"])


def test_treatment_must_be_zero_one():
    df = pd.DataFrame({"d": [1, 2, 1, 2], "x": [1.0, 2, 3, 4]})
    with pytest.raises(DataValidationError, match="coded 0/1"):
        propensity_scores(df, treatment="d", covariates=["x"])


def test_missing_values_are_named_not_dropped(data):
    df = data.copy()
    df.loc[[3, 7], "engagement"] = np.nan
    with pytest.raises(DataValidationError, match="'engagement' has 2 missing") as info:
        weighted_att(df, outcome="score", treatment="coached", covariates=COVARIATES)
    assert info.value.failure_cases == [3, 7]


def test_constant_covariate_is_rejected(data):
    with pytest.raises(DataValidationError, match="covariate 'site' is constant"):
        propensity_scores(data.assign(site=1.0), treatment="coached", covariates=["site"])


def test_collinear_covariates_are_named(data):
    df = data.assign(engagement_z=2 * data.engagement + 1)
    with pytest.raises(DataValidationError, match=r"collinear: 'engagement(_z)?'"):
        propensity_scores(df, treatment="coached", covariates=["engagement", "engagement_z"])


def test_extreme_propensities_trimming_is_reported():
    rng = np.random.default_rng(11)
    n = 1500
    x = rng.normal(size=n)
    d = rng.binomial(1, special.expit(-1 + 2.5 * x))
    df = pd.DataFrame({"x": x, "d": d, "y": x + 0.5 * d + rng.normal(size=n)})
    res = weighted_att(df, outcome="y", treatment="d", covariates=["x"], trim=(0.05, 0.95))
    row = res.trimming.iloc[0]
    ps = propensity_scores(df, treatment="d", covariates=["x"])
    outside = (ps < 0.05) | (ps > 0.95)
    assert row.n_dropped_treated == int((outside & (d == 1)).sum()) > 0
    assert row.n_dropped_control == int((outside & (d == 0)).sum()) > 0
    assert res.n_treated + res.n_control == row.n_kept == n - int(outside.sum())
    assert any("re-fitted on the kept rows" in note for note in res.notes)
    crump = weighted_att(df, outcome="y", treatment="d", covariates=["x"], trim="crump")
    assert crump.trimming.iloc[0].rule == "crump" and crump.trimming.iloc[0].lower > 0


def test_bad_trim_argument(data):
    with pytest.raises(ConfigError, match="trim must be"):
        weighted_att(
            data,
            outcome="score",
            treatment="coached",
            covariates=COVARIATES,
            trim="fixed",  # type: ignore[arg-type]
        )


def test_single_cluster_is_rejected(data):
    with pytest.raises(DataValidationError, match="single cluster"):
        weighted_att(
            data.assign(site="A"),
            outcome="score",
            treatment="coached",
            covariates=COVARIATES,
            cluster="site",
        )


def test_missing_column_and_bad_options(data):
    kw = {"outcome": "score", "treatment": "coached"}
    with pytest.raises(ConfigError, match="no column"):
        weighted_att(data, covariates=["tenure"], **kw)
    with pytest.raises(ConfigError, match="estimand must be one of"):
        weighted_att(data, covariates=COVARIATES, estimand="ATE", **kw)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="at least one covariate"):
        aipw_att(data, covariates=[], **kw)
    with pytest.raises(ConfigError, match="cannot also be covariates"):
        aipw_att(data, covariates=["coached", "engagement"], **kw)
    with pytest.raises(ConfigError, match="level must be"):
        weighted_att(data, covariates=COVARIATES, level=95, **kw)
    with pytest.raises(ConfigError, match="DataFrame"):
        fit_propensity(data.to_numpy(), treatment="coached", covariates=COVARIATES)  # type: ignore[arg-type]


def test_non_numeric_outcome_is_rejected(data):
    with pytest.raises(DataValidationError, match="outcome 'unit_type' must be numeric"):
        weighted_att(data, outcome="unit_type", treatment="coached", covariates=["engagement"])
