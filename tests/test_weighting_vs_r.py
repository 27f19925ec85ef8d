"""Propensity-score weighting against R reference values (tests/reference/r/weighting.R).

R 4.2.2 with stats::glm, sandwich 3.0-2 (vcovHC / vcovCL), survival 3.5-3 and nlme 3.1-162 for
the data sets; WeightIt's and cobalt's formulas are written out in base R in the script (neither
package is in Debian). Data: High School and Beyond (nlme::MathAchieve + MathAchSchool; Catholic
school, maths achievement, 160 schools as clusters) and survival::rotterdam (chemotherapy).

Tolerances (observed maximum differences in brackets):
- ITERATIVE (rtol 1e-10): glm coefficients and their SEs, deviance and fitted propensities. R was
  run with glm.control(epsilon = 1e-14) and coacheval uses the same stopping rule, so both are
  the converged MLE [coefficients 1e-13, SEs 3e-13, propensities 2e-14 relative].
- CLOSED_FORM (rtol 1e-10, atol 1e-12): weights, balance statistics, ESS, weighted regression
  estimates and HC1/CR1 SEs, AIPW estimate and influence-function SEs — the same formulas on the
  same propensities; the differences are floating-point order [<= 1e-13 relative; ESS 5e-12
  absolute on values ~1000].
- P_VALUES (rtol 1e-9): tail probabilities of |z| up to 18 (p ~ 1e-70) [3e-12 relative].
- EXACT_BALANCE (atol 1e-10): differences after overlap weighting, which are exactly zero in
  theory and rounding noise (~1e-12) in both languages.
- NUMERIC_DERIVATIVE (rtol 1e-6): M-estimation SEs (variance="m_estimation"). R finds the
  Jacobian of the stacked estimating equations by central finite differences, coacheval by its
  analytic form — two routes, so they agree to the accuracy of the finite differences
  [observed: SEs <= 7e-9 relative, p-values <= 1e-7].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from coacheval.effects.weighting import (
    aipw_att,
    balance_table,
    balancing_weights,
    fit_propensity,
    trim,
    weighted_att,
)

REF = Path(__file__).parent / "reference"
ITERATIVE = {"rtol": 1e-10, "atol": 0}
CLOSED_FORM = {"rtol": 1e-10, "atol": 1e-12}
P_VALUES = {"rtol": 1e-9, "atol": 1e-300}
NUMERIC_DERIVATIVE = {"rtol": 1e-6, "atol": 0}
EXACT_BALANCE = {"rtol": 0, "atol": 1e-10}

HSB_COVARIATES = ["ses", "minority", "female", "meanses", "size", "himinty"]
ROTTERDAM_COVARIATES = ["age", "meno", "size", "grade", "nodes", "er", "pgr"]


def _expected(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / "expected" / f"weighting_{name}.csv")


@pytest.fixture(scope="module")
def cases() -> dict[str, tuple[pd.DataFrame, str, list[str]]]:
    hsb = pd.read_csv(REF / "data" / "weighting_hsb.csv")
    rot = pd.read_csv(REF / "data" / "weighting_rotterdam.csv")
    # R's factor keeps the clinical order of the size bands; "<=20" is the reference level
    rot["size"] = pd.Categorical(rot["size"], categories=["<=20", "20-50", ">50"])
    return {
        "hsb": (hsb, "catholic", HSB_COVARIATES),
        "rotterdam": (rot, "chemo", ROTTERDAM_COVARIATES),
    }


@pytest.fixture(scope="module")
def models(cases):
    return {
        name: fit_propensity(df, treatment=t, covariates=cov)
        for name, (df, t, cov) in cases.items()
    }


@pytest.mark.parametrize("case", ["hsb", "rotterdam"])
def test_propensity_model_matches_glm(case, models):
    expected = _expected("ps_coef").query("case == @case").set_index("term")
    model = models[case]
    got = model.table.set_index("term")
    assert list(got.index) == list(expected.index)  # R's term names, incl. minorityYes, size>50
    assert_allclose(got.estimate, expected.estimate, **ITERATIVE)
    assert_allclose(got.std_error, expected.std_error, **ITERATIVE)
    assert_allclose(model.deviance, expected.deviance.iloc[0], **ITERATIVE)
    assert model.iterations == expected.iterations.iloc[0]


@pytest.mark.parametrize("case", ["hsb", "rotterdam"])
def test_propensity_scores_and_weights_match(case, cases, models):
    df, treatment, _ = cases[case]
    expected = _expected("ps").query("case == @case")
    ps = models[case].ps
    assert_allclose(ps, expected.ps, **ITERATIVE)
    d = df[treatment]
    assert_allclose(balancing_weights(ps, d, estimand="ATT"), expected.w_att, **CLOSED_FORM)
    assert_allclose(
        balancing_weights(ps, d, estimand="ATT", normalize=False),
        expected.w_att_raw,
        **CLOSED_FORM,
    )
    assert_allclose(balancing_weights(ps, d, estimand="ATO"), expected.w_ato, **CLOSED_FORM)


BALANCE_CASES = [
    ("hsb", "ATT", "ATT", None),
    ("hsb", "ATO", "ATO", None),
    ("hsb", "ATO_pooled", "ATO", "pooled"),
    ("rotterdam", "ATT", "ATT", None),
    ("rotterdam", "ATO", "ATO", None),
]


@pytest.mark.parametrize(("case", "label", "estimand", "s_d_denom"), BALANCE_CASES)
def test_balance_matches_cobalt_formulas(case, label, estimand, s_d_denom, cases, models):
    df, treatment, covariates = cases[case]
    expected = _expected("balance").query("case == @case and estimand == @label")
    expected = expected.set_index("term")
    w = balancing_weights(models[case].ps, df[treatment], estimand=estimand)
    got = balance_table(df, treatment, w, covariates, estimand=estimand, s_d_denom=s_d_denom)
    table = got.table.set_index("term")
    assert list(table.index) == list(expected.index)
    assert list(table.type) == list(expected.type)
    for column in (
        "mean_treated_un",
        "mean_control_un",
        "mean_treated_adj",
        "mean_control_adj",
        "sd_denom",
        "diff_un",
        "var_ratio_un",
        "var_ratio_adj",
    ):
        assert_allclose(table[column], expected[column], **CLOSED_FORM, err_msg=column)
    tolerance = EXACT_BALANCE if estimand == "ATO" else CLOSED_FORM
    assert_allclose(table.diff_adj, expected.diff_adj, **tolerance)
    if label != "ATO_pooled":
        ess = _expected("ess").query("case == @case and estimand == @estimand")
        assert list(got.ess.n) == list(ess.n)
        assert_allclose(got.ess.ess_adj, ess.ess_adj, **CLOSED_FORM)


def _effect_cases():
    expected = _expected("effects")
    return [
        pytest.param(row, id=f"{row.method}-{row.estimand}-{row.vcov}")
        for row in expected.itertuples(index=False)
        if row.method != "unadjusted"
    ]


@pytest.mark.parametrize("row", _effect_cases())
def test_weighted_effect_matches_lm_sandwich(row, cases):
    df, treatment, covariates = cases["hsb"]
    res = weighted_att(
        df,
        outcome="mathach",
        treatment=treatment,
        covariates=covariates,
        estimand=row.estimand,
        adjust=row.method.startswith("weighted_adjusted"),
        cluster="school" if row.vcov == "CR1" else None,
        normalize=not row.method.endswith("raw_weights"),
    )
    assert res.vcov == row.vcov
    got = res.table.iloc[0]
    assert got.term == row.estimand
    assert got.n == row.n
    assert_allclose(
        [got.estimate, got.std_error, got.statistic, got.conf_low, got.conf_high],
        [row.estimate, row.std_error, row.statistic, row.conf_low, row.conf_high],
        **CLOSED_FORM,
    )
    assert_allclose(got.p_value, row.p_value, **P_VALUES)
    if row.vcov == "CR1":
        assert got.df == row.df
        assert got.n_clusters == row.n_clusters
    else:
        assert np.isnan(got.df)
    unadjusted = _expected("effects").query("method == 'unadjusted' and vcov == @row.vcov").iloc[0]
    naive = res.table.iloc[1]
    assert naive.term == "unadjusted difference"
    assert_allclose(
        [naive.estimate, naive.std_error],
        [unadjusted.estimate, unadjusted.std_error],
        **CLOSED_FORM,
    )
    assert_allclose(naive.p_value, unadjusted.p_value, **P_VALUES)


def _mest_cases():
    return [
        pytest.param(row, id=f"{row.method}-{row.estimand}-{row.vcov}")
        for row in _expected("effects_mest").itertuples(index=False)
    ]


@pytest.mark.parametrize("row", _mest_cases())
def test_m_estimation_se_matches_stacked_equations(row, cases):
    df, treatment, covariates = cases["hsb"]
    clustered = row.vcov.endswith("clustered")
    res = weighted_att(
        df,
        outcome="mathach",
        treatment=treatment,
        covariates=covariates,
        estimand=row.estimand,
        adjust=row.method.startswith("weighted_adjusted"),
        cluster="school" if clustered else None,
        normalize=not row.method.endswith("raw_weights"),
        variance="m_estimation",
    )
    got = res.table.iloc[0]
    assert res.vcov == row.vcov
    assert_allclose(got.estimate, row.estimate, **CLOSED_FORM)
    assert_allclose(
        [got.std_error, got.conf_low, got.conf_high],
        [row.std_error, row.conf_low, row.conf_high],
        **NUMERIC_DERIVATIVE,
    )
    assert_allclose(got.p_value, row.p_value, rtol=1e-5)  # p ~ 1e-29 magnifies the SE error


@pytest.mark.parametrize("vcov", ["IF", "IF_cluster"])
def test_aipw_matches_drdid_formulas(vcov, cases):
    df, treatment, covariates = cases["hsb"]
    expected = _expected("aipw").query("vcov == @vcov").iloc[0]
    res = aipw_att(
        df,
        outcome="mathach",
        treatment=treatment,
        covariates=covariates,
        cluster="school" if vcov == "IF_cluster" else None,
    )
    got = res.table.iloc[0]
    assert_allclose(
        [got.estimate, got.std_error, got.conf_low, got.conf_high],
        [expected.estimate, expected.std_error, expected.conf_low, expected.conf_high],
        **CLOSED_FORM,
    )
    assert_allclose(got.p_value, expected.p_value, **P_VALUES)
    assert res.n_treated == expected.n_treated


def _trim_cases():
    return [
        pytest.param(row, id=f"{row.case}-{row.rule}-{row.lower:.3f}")
        for row in _expected("trim").itertuples(index=False)
    ]


@pytest.mark.parametrize("row", _trim_cases())
def test_trimming_matches_weightit_rules(row, cases, models):
    df, treatment, _ = cases[row.case]
    ps = models[row.case].ps
    if row.rule == "crump":
        res = trim(ps, df[treatment], rule="crump")
        assert_allclose([res.lower, res.upper], [row.lower, row.upper], **CLOSED_FORM)
    else:
        res = trim(ps, df[treatment], lower=row.lower, upper=row.upper)
    got = res.table.iloc[0]
    assert [got.n_dropped_treated, got.n_dropped_control, got.n_kept] == [
        row.n_dropped_treated,
        row.n_dropped_control,
        row.n_kept,
    ]
