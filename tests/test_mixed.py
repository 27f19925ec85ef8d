"""fit_mixed without R: simulated truth, brute-force likelihoods, edge cases and errors.

The comparison with lme4/lmerTest is in test_mixed_vs_r.py. Here the likelihoods are checked
against dense multivariate-normal densities (any structure: one factor, nested, crossed dense,
crossed sparse), the estimates against the known truth of simulated data, and every error path.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from coacheval._columns import ESTIMATE_COLUMNS
from coacheval.effects import mixed
from coacheval.effects.mixed import (
    ContrastResult,
    MixedConvergenceError,
    MixedResult,
    fit_mixed,
)
from coacheval.errors import CoachevalError, ConfigError, DataValidationError

# ------------------------------------------------------------------------------ helpers

TRUTH = {"effect": 0.25, "sd_unit": 0.3, "sd_leader": 0.6, "sd_resid": 0.5}


def _panel(rng: np.random.Generator, n_units: int = 30, per_unit: int = 4, waves: int = 4):
    """Leaders nested in units, 4 survey waves, half the leaders coached (treat x time effect)."""
    n_leaders = n_units * per_unit
    leader = np.repeat(np.arange(n_leaders), waves)
    unit = leader // per_unit
    t = np.tile(np.arange(waves, dtype=float), n_leaders)
    treat = (rng.permutation(n_leaders) < n_leaders // 2).astype(float)[leader]
    y = (
        3
        + 0.1 * t
        + 0.2 * treat
        + TRUTH["effect"] * treat * t
        + rng.normal(0, TRUTH["sd_unit"], n_units)[unit]
        + rng.normal(0, TRUTH["sd_leader"], n_leaders)[leader]
        + rng.normal(0, TRUTH["sd_resid"], len(t))
    )
    return pd.DataFrame(
        {"y": y, "t": t, "treat": treat, "treat_t": treat * t, "leader": leader, "unit": unit}
    )


def _crossed(rng: np.random.Generator, n: int = 90, qa: int = 12, qb: int = 7) -> pd.DataFrame:
    a = rng.integers(0, qa, n)
    b = rng.integers(0, qb, n)
    x = rng.normal(size=n)
    y = 1 + 0.5 * x + rng.normal(0, 0.8, qa)[a] + rng.normal(0, 0.6, qb)[b] + rng.normal(size=n)
    return pd.DataFrame({"y": y, "x": x, "a": a, "b": b})


def _dense_loglik(res: MixedResult, data: pd.DataFrame, outcome, fixed, groups) -> float:
    """REML or ML log-likelihood from the dense covariance matrix (textbook formulas)."""
    n = len(data)
    y = data[outcome].to_numpy(float)
    x = np.column_stack([np.ones(n), data[list(fixed)].to_numpy(float)])
    v = np.eye(n)
    for g, theta in zip(groups, res.theta, strict=True):
        z = pd.get_dummies(data[g]).to_numpy(float)
        v += theta**2 * z @ z.T
    v *= res.sigma**2
    beta = res.params.to_numpy()
    if res.method == "ML":
        return float(stats.multivariate_normal(x @ beta, v).logpdf(y))
    p = x.shape[1]
    vinv = np.linalg.inv(v)
    resid = y - x @ beta
    return -0.5 * float(
        (n - p) * np.log(2 * np.pi)
        + np.linalg.slogdet(v)[1]
        + np.linalg.slogdet(x.T @ vinv @ x)[1]
        + resid @ vinv @ resid
    )


# -------------------------------------------------------------------- simulated truth


def test_simulated_treatment_by_time_effect_is_recovered():
    """200 seeded replications of a leaders-in-units panel with known variance components.

    The mean estimate of the treatment-by-time effect is within 2 Monte Carlo SEs of the truth,
    the 95% Satterthwaite interval covers it in 90-99% of runs, the mean reported SE matches the
    spread of the estimates (within 15%), and the REML variance estimates are unbiased within 3
    Monte Carlo SEs. (Seed 99; with 400 other replications, seed 7, coverage was 0.94.)
    """
    rng = np.random.default_rng(99)
    reps = 200
    est, se, covered, variances = [], [], [], []
    for _ in range(reps):
        res = fit_mixed(
            _panel(rng), outcome="y", fixed=["t", "treat", "treat_t"], groups=["leader", "unit"]
        )
        row = res.table.set_index("term").loc["treat_t"]
        est.append(row.estimate)
        se.append(row.std_error)
        covered.append(row.conf_low <= TRUTH["effect"] <= row.conf_high)
        variances.append(res.variance_components.variance.to_numpy())
    est, se, variances = np.array(est), np.array(se), np.array(variances)
    mc_se = est.std(ddof=1) / np.sqrt(reps)
    assert abs(est.mean() - TRUTH["effect"]) < 2 * mc_se
    assert 0.90 <= np.mean(covered) <= 0.99
    assert 0.85 < se.mean() / est.std(ddof=1) < 1.15
    true_var = np.array([TRUTH["sd_leader"], TRUTH["sd_unit"], TRUTH["sd_resid"]]) ** 2
    var_mc_se = variances.std(axis=0, ddof=1) / np.sqrt(reps)
    assert np.all(np.abs(variances.mean(axis=0) - true_var) < 3 * var_mc_se)


# ------------------------------------------------------- likelihood and estimating equations


def _structures():
    rng = np.random.default_rng(5)
    one = _panel(rng, n_units=6, per_unit=3, waves=3)
    crossed = _crossed(rng)
    return {
        "one factor": (one, "y", ["t", "treat_t"], ["leader"]),
        "nested (diagonal Schur complement)": (one, "y", ["t", "treat_t"], ["leader", "unit"]),
        "crossed (dense Schur complement)": (crossed, "y", ["x"], ["a", "b"]),
    }


@pytest.mark.parametrize("method", ["REML", "ML"])
@pytest.mark.parametrize("structure", list(_structures()))
def test_loglik_equals_dense_multivariate_normal(structure, method):
    data, outcome, fixed, groups = _structures()[structure]
    res = fit_mixed(data, outcome=outcome, fixed=fixed, groups=groups, method=method)
    assert_allclose(res.loglik, _dense_loglik(res, data, outcome, fixed, groups), rtol=1e-11)
    assert_allclose(res.criterion, -2 * res.loglik, rtol=1e-15)
    npar = len(fixed) + 1 + len(groups) + 1
    assert_allclose(
        [res.aic, res.bic], [res.criterion + 2 * npar, res.criterion + np.log(len(data)) * npar]
    )


@pytest.mark.parametrize("structure", list(_structures()))
def test_fixed_effects_are_gls_at_the_estimated_variances(structure):
    data, outcome, fixed, groups = _structures()[structure]
    res = fit_mixed(data, outcome=outcome, fixed=fixed, groups=groups)
    n = len(data)
    y = data[outcome].to_numpy(float)
    x = np.column_stack([np.ones(n), data[fixed].to_numpy(float)])
    v0 = np.eye(n)
    for g, theta in zip(groups, res.theta, strict=True):
        z = pd.get_dummies(data[g]).to_numpy(float)
        v0 += theta**2 * z @ z.T
    xtvx = x.T @ np.linalg.solve(v0, x)
    beta = np.linalg.solve(xtvx, x.T @ np.linalg.solve(v0, y))
    assert_allclose(res.params.to_numpy(), beta, rtol=1e-10)
    assert_allclose(res.vcov.to_numpy(), res.sigma**2 * np.linalg.inv(xtvx), rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_theta_is_a_minimum_of_the_criterion(method):
    data, outcome, fixed, groups = _structures()["crossed (dense Schur complement)"]
    res = fit_mixed(data, outcome=outcome, fixed=fixed, groups=groups, method=method)
    y = data[outcome].to_numpy(float)
    x = np.column_stack([np.ones(len(data)), data[fixed].to_numpy(float)])
    codes = [pd.factorize(data[g], sort=True)[0] for g in groups]
    engine = mixed._Engine(y, x, codes, reml=method == "REML")
    phi = np.array(res.theta) ** 2
    assert_allclose(engine.objective(phi), res.criterion, rtol=1e-14)
    _, grad = engine.objective_and_gradient(phi)
    assert np.all(np.abs(grad) < 1e-8)
    for delta in ([1e-3, 0], [0, 1e-3], [-1e-3, 1e-3]):
        assert engine.objective(phi * (1 + np.array(delta))) > res.criterion


def test_analytic_gradient_matches_finite_differences():
    data, outcome, fixed, groups = _structures()["crossed (dense Schur complement)"]
    y = data[outcome].to_numpy(float)
    x = np.column_stack([np.ones(len(data)), data[fixed].to_numpy(float)])
    codes = [pd.factorize(data[g], sort=True)[0] for g in groups]
    for reml in (True, False):
        engine = mixed._Engine(y, x, codes, reml=reml)
        phi = np.array([0.7, 0.3])
        _, grad = engine.objective_and_gradient(phi)
        h = 1e-6
        numeric = [
            (engine.objective(phi + h * e) - engine.objective(phi - h * e)) / (2 * h)
            for e in np.eye(2)
        ]
        assert_allclose(grad, numeric, rtol=1e-6)


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_sparse_schur_complement_agrees_with_dense(monkeypatch, method):
    """Large crossed designs use a sparse LU and a numerical gradient: same optimum."""
    data, outcome, fixed, groups = _structures()["crossed (dense Schur complement)"]
    dense = fit_mixed(data, outcome=outcome, fixed=fixed, groups=groups, method=method)
    monkeypatch.setattr(mixed, "DENSE_SCHUR_MAX", 3)
    sparse = fit_mixed(data, outcome=outcome, fixed=fixed, groups=groups, method=method)
    assert_allclose(sparse.loglik, dense.loglik, rtol=0, atol=1e-9)
    assert_allclose(sparse.theta, dense.theta, rtol=1e-5)
    assert_allclose(sparse.table.std_error, dense.table.std_error, rtol=1e-5)
    assert_allclose(sparse.table.df, dense.table.df, rtol=1e-4)


def test_order_of_grouping_factors_does_not_matter():
    data, outcome, fixed, _ = _structures()["crossed (dense Schur complement)"]
    ab = fit_mixed(data, outcome=outcome, fixed=fixed, groups=["a", "b"])
    ba = fit_mixed(data, outcome=outcome, fixed=fixed, groups=["b", "a"])
    assert_allclose(ab.loglik, ba.loglik, rtol=1e-13)
    assert_allclose(ab.theta, ba.theta[::-1], rtol=1e-8)
    assert_allclose(ab.table.df, ba.table.df, rtol=1e-7)


def test_satterthwaite_df_of_balanced_one_way_design_is_groups_minus_one():
    """Balanced one-way random effects: the intercept's Satterthwaite df is exactly q - 1."""
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(12), 5)
    y = rng.normal(0, 1, 12)[g] + rng.normal(size=60)
    res = fit_mixed(pd.DataFrame({"y": y, "g": g}), outcome="y", fixed=[], groups=["g"])
    assert_allclose(res.table.df.iloc[0], 11, rtol=1e-7)


# ------------------------------------------------------------------------- edge cases


def test_group_with_one_observation_is_kept():
    rng = np.random.default_rng(8)
    data = _panel(rng, n_units=5, per_unit=4)
    data = data[~((data.leader == 3) & (data.t > 0))]
    res = fit_mixed(data, outcome="y", fixed=["t"], groups=["leader"])
    assert res.n_groups == {"leader": 20}
    assert res.n_obs == len(data) == 77
    assert_allclose(res.loglik, _dense_loglik(res, data, "y", ["t"], ["leader"]), rtol=1e-11)


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_zero_between_group_variance_is_a_singular_fit_with_ols_estimates(method):
    """Group means that are exactly equal: the REML/ML estimate of the group variance is 0."""
    rng = np.random.default_rng(4)
    g = np.repeat(np.arange(8), 6)
    x = rng.normal(size=48)
    e = rng.normal(size=48)
    e -= pd.Series(e).groupby(g).transform("mean").to_numpy()  # no between-group variation
    data = pd.DataFrame({"y": 2 + 0.5 * x + e, "x": x, "g": g})
    res = fit_mixed(data, outcome="y", fixed=["x"], groups=["g"], method=method)
    assert res.singular
    assert res.theta == (0.0,)
    assert res.variance_components.variance.iloc[0] == 0.0
    assert any("singular fit" in note for note in res.notes)
    ols = np.column_stack([np.ones(48), x])
    beta, rss = np.linalg.lstsq(ols, data.y.to_numpy(), rcond=None)[:2]
    sigma2 = rss[0] / (48 - 2 if method == "REML" else 48)
    assert_allclose(res.params.to_numpy(), beta, rtol=1e-10)
    assert_allclose(res.vcov.to_numpy(), sigma2 * np.linalg.inv(ols.T @ ols), rtol=1e-10)


def test_one_of_two_variances_at_zero():
    rng = np.random.default_rng(6)
    data = _crossed(rng, n=120, qa=10, qb=6)
    resid_b = data.groupby("b").y.transform("mean") - data.y.mean()
    data["y"] = data.y - resid_b  # remove the b means: its variance estimate is 0
    res = fit_mixed(data, outcome="y", fixed=[], groups=["a", "b"])
    assert res.singular
    assert res.theta[1] == 0.0 and res.theta[0] > 0.1
    assert_allclose(res.loglik, _dense_loglik(res, data, "y", [], ["a", "b"]), rtol=1e-11)


def test_missing_values_are_dropped_and_counted():
    rng = np.random.default_rng(9)
    data = _panel(rng, n_units=5, per_unit=4)
    messy = data.copy()
    messy.loc[[0, 5], "y"] = np.nan
    messy.loc[[7], "t"] = np.nan
    messy["leader"] = messy.leader.astype(object)
    messy.loc[[9], "leader"] = None
    res = fit_mixed(messy, outcome="y", fixed=["t"], groups=["leader"])
    clean = fit_mixed(data.drop(index=[0, 5, 7, 9]), outcome="y", fixed=["t"], groups=["leader"])
    assert res.n_dropped == 4
    assert res.n_obs == len(data) - 4
    assert_allclose(res.table.estimate, clean.table.estimate, rtol=1e-12)
    assert "4 row(s) with missing values dropped" in res.notes[0]
    assert "'y': 2" in res.notes[0] and "'leader': 1" in res.notes[0]
    with pytest.raises(DataValidationError, match=r"missing values in \{'y': 2, 't': 1") as info:
        fit_mixed(messy, outcome="y", fixed=["t"], groups=["leader"], missing="raise")
    assert len(info.value.failure_cases) == 4


def test_boolean_regressor_is_used_as_0_1():
    rng = np.random.default_rng(10)
    data = _panel(rng, n_units=5, per_unit=4)
    as_bool = data.assign(treat=data.treat.astype(bool))
    a = fit_mixed(data, outcome="y", fixed=["treat"], groups=["leader"])
    b = fit_mixed(as_bool, outcome="y", fixed=["treat"], groups=["leader"])
    assert_allclose(a.table.estimate, b.table.estimate, rtol=1e-14)


def test_nested_relabels_the_inner_factor():
    rng = np.random.default_rng(11)
    data = _panel(rng, n_units=6, per_unit=3)
    data["leader_in_unit"] = data.leader % 3  # labels 0, 1, 2 repeat across units
    nested = fit_mixed(
        data, outcome="y", fixed=["t"], groups=["unit", "leader_in_unit"], nested=True
    )
    unique = fit_mixed(data, outcome="y", fixed=["t"], groups=["unit", "leader"])
    assert nested.n_groups == {"unit": 6, "leader_in_unit:unit": 18}
    assert_allclose(nested.loglik, unique.loglik, rtol=1e-13)
    crossed = fit_mixed(data, outcome="y", fixed=["t"], groups=["unit", "leader_in_unit"])
    assert crossed.n_groups == {"unit": 6, "leader_in_unit": 3}


# ---------------------------------------------------------------------------- errors


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return _panel(np.random.default_rng(12), n_units=5, per_unit=4)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "reml"}, "method must be 'REML' or 'ML'"),
        ({"inference": "kenward-roger"}, "inference must be 'satterthwaite' or 'wald'"),
        ({"missing": "impute"}, "missing must be 'drop' or 'raise'"),
        ({"alpha": 1.5}, r"alpha must be in \(0, 1\)"),
        ({"groups": []}, "groups takes 1 or 2 grouping columns"),
        ({"groups": ["leader", "unit", "t"]}, "groups takes 1 or 2 grouping columns"),
        ({"groups": ["leader"], "nested": True}, "nested=True needs exactly two groups"),
        ({"fixed": "t"}, "take a sequence of column names"),
        ({"fixed": ["t", "t"]}, r"used twice: \['t'\]"),
        ({"fixed": ["leader"]}, r"used twice: \['leader'\]"),
        ({"fixed": ["dose"]}, r"no column\(s\) \['dose'\]"),
    ],
)
def test_bad_options_raise_config_error(panel, kwargs, match):
    args = {"outcome": "y", "fixed": ["t"], "groups": ["leader"], **kwargs}
    with pytest.raises(ConfigError, match=match):
        fit_mixed(panel, **args)


def test_data_must_be_a_dataframe(panel):
    with pytest.raises(ConfigError, match="data must be a pandas DataFrame"):
        fit_mixed(panel.to_dict(), outcome="y", fixed=["t"], groups=["leader"])


def test_non_numeric_regressor_is_refused(panel):
    data = panel.assign(arm=np.where(panel.treat > 0, "coached", "control"))
    with pytest.raises(DataValidationError, match="column 'arm' must be numeric or 0/1"):
        fit_mixed(data, outcome="y", fixed=["arm"], groups=["leader"])


def test_infinite_values_are_refused(panel):
    data = panel.copy()
    data.loc[3, "t"] = np.inf
    with pytest.raises(DataValidationError, match=r"infinite values in \['t'\]"):
        fit_mixed(data, outcome="y", fixed=["t"], groups=["leader"])


def test_single_level_grouping_factor_is_refused(panel):
    with pytest.raises(DataValidationError, match="grouping factor 'site' has a single level"):
        fit_mixed(panel.assign(site="A"), outcome="y", fixed=["t"], groups=["leader", "site"])


def test_as_many_levels_as_observations_is_refused(panel):
    data = panel.assign(row=np.arange(len(panel)))
    with pytest.raises(DataValidationError, match="has 80 levels for 80 observations"):
        fit_mixed(data, outcome="y", fixed=["t"], groups=["row"])


def test_identical_grouping_factors_are_refused(panel):
    data = panel.assign(leader_copy=panel.leader + 1000)
    with pytest.raises(DataValidationError, match="define the same groups"):
        fit_mixed(data, outcome="y", fixed=["t"], groups=["leader", "leader_copy"])


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"one": 1.0}, r"constant regressor\(s\) \['one'\]"),
        ({"t2": "double"}, "collinear regressors"),
    ],
)
def test_rank_deficient_design_is_refused(panel, extra, match):
    name, value = next(iter(extra.items()))
    data = panel.assign(**{name: 2 * panel.t if value == "double" else value})
    with pytest.raises(DataValidationError, match=match):
        fit_mixed(data, outcome="y", fixed=["t", name], groups=["leader"])


def test_too_few_observations_are_refused(panel):
    with pytest.raises(DataValidationError, match="3 observation"):
        fit_mixed(panel.head(3), outcome="y", fixed=["t"], groups=["leader"])


def test_convergence_failure_raises():
    class Unbounded:
        k = 1

        def objective(self, phi):
            return -float(phi[0])

        def objective_and_gradient(self, phi):
            return -float(phi[0]), np.array([-1.0])

    with pytest.raises(MixedConvergenceError, match="the optimiser stopped"):
        mixed._optimise(Unbounded())
    assert issubclass(MixedConvergenceError, CoachevalError)


# ------------------------------------------------------------------ results and contrasts


@pytest.fixture(scope="module")
def fitted(panel) -> MixedResult:
    return fit_mixed(panel, outcome="y", fixed=["t", "treat", "treat_t"], groups=["leader", "unit"])


def test_table_uses_the_column_vocabulary(fitted):
    assert list(fitted.table.columns) == [c for c in ESTIMATE_COLUMNS if c in fitted.table]
    assert list(fitted.table.term) == ["(Intercept)", "t", "treat", "treat_t"]
    assert (fitted.table.n == fitted.n_obs).all()
    row = fitted.table.iloc[3]
    crit = stats.t.ppf(0.975, row.df)
    assert_allclose(
        [row.conf_low, row.conf_high], row.estimate + np.array([-crit, crit]) * row.std_error
    )
    assert_allclose(row.statistic, row.estimate / row.std_error)
    assert_allclose(row.p_value, 2 * stats.t.sf(abs(row.statistic), row.df))
    assert list(fitted.variance_components.group) == ["leader", "unit", "Residual"]
    assert fitted.n_groups == {"leader": 20, "unit": 5}


def test_result_is_frozen_and_displays(fitted):
    with pytest.raises(dataclasses.FrozenInstanceError):
        fitted.alpha = 0.1  # type: ignore[misc]
    text = fitted.summary()
    for part in ("fit by REML", "Fixed effects", "Random effects", "logLik", "Satterthwaite"):
        assert part in text
    assert fitted.to_dict()["table"][0]["term"] == "(Intercept)"
    html = fitted._repr_html_()
    assert html.count("<table") == 2 and "Random effects" in html


def test_unit_contrast_reproduces_the_table_row(fitted):
    got = fitted.contrast({"treat_t": 1.0}).table.iloc[0]
    row = fitted.table.iloc[3]
    for column in ("estimate", "std_error", "statistic", "df", "p_value", "conf_low", "conf_high"):
        assert_allclose(got[column], row[column], rtol=1e-12, err_msg=column)


def test_difference_and_linear_combination(fitted):
    diff = fitted.difference("treat", "treat_t")
    same = fitted.contrast([0, 0, 1, -1])
    assert isinstance(diff, ContrastResult)
    assert diff.table.term.iloc[0] == "treat - treat_t"
    assert same.table.term.iloc[0] == "1*treat + -1*treat_t"
    assert_allclose(diff.table.drop(columns="term"), same.table.drop(columns="term"))
    v = fitted.vcov
    se = np.sqrt(
        v.loc["treat", "treat"] + v.loc["treat_t", "treat_t"] - 2 * v.loc["treat", "treat_t"]
    )
    assert_allclose(diff.std_error, se, rtol=1e-12)
    assert_allclose(diff.estimate, fitted.params["treat"] - fitted.params["treat_t"], rtol=1e-12)
    effect_at_3 = fitted.contrast({"treat": 1, "treat_t": 3}, label="effect at wave 3")
    assert effect_at_3.title == "effect at wave 3"
    assert 1 < effect_at_3.table.df.iloc[0] < fitted.n_obs


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        ({"dose": 1}, r"unknown term\(s\) \['dose'\]"),
        ([1, 2], "2 weights given for 4 terms"),
        ({"t": 0}, "all weights are zero"),
    ],
)
def test_bad_contrasts_raise(fitted, weights, match):
    with pytest.raises(ConfigError, match=match):
        fitted.contrast(weights)


def test_wald_inference_uses_the_normal_distribution(panel):
    res = fit_mixed(panel, outcome="y", fixed=["t"], groups=["leader"], inference="wald", alpha=0.1)
    assert res.table.df.isna().all()
    row = res.table.iloc[1]
    z = stats.norm.ppf(0.95)
    assert_allclose([row.conf_low, row.conf_high], row.estimate + np.array([-z, z]) * row.std_error)
    assert_allclose(row.p_value, 2 * stats.norm.sf(abs(row.statistic)))
    assert np.isnan(res.difference("(Intercept)", "t").table.df.iloc[0])
    sat = fit_mixed(panel, outcome="y", fixed=["t"], groups=["leader"])
    assert_allclose(res.table.std_error, sat.table.std_error, rtol=1e-14)
    assert any("Wald z" in note for note in res.notes)
