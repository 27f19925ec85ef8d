"""Rates, rate ratios, rate models and retention power against R (tests/reference/r/rates.R).

R 4.2.2 with MASS 7.3-58.2, sandwich 3.0-2, rpact 3.3.4 and survival (sessionInfo in
expected/sessionInfo_rates.txt), on public data: survival::lung (deaths per person-year by sex
and ECOG), MASS::Insurance (claims with log(holders) offset, clustered by district) and
MASS::quine (overdispersed absence counts, negative binomial, clustered by school form).

Tolerances (observed maximum relative differences in brackets):
- Exact Poisson limits and rate ratios: closed forms through gamma/beta quantiles [8.9e-16
  rates and limits, 6.7e-15 ratio limits, 3.9e-14 p-values (summed binomial tails)]. rtol 1e-12.
- Poisson GLM: both sides run IRLS to a relative deviance change < 1e-13 (R) / 1e-10 (here,
  default) [coefficients 3.6e-13, SEs 2.9e-13]. rtol 1e-9.
- Negative binomial: glm.nb stops theta.ml's Newton iterations when the step is below
  .Machine$double.eps^0.25 (1.2e-4), so its theta is off the joint maximum by ~1e-9 and its
  SE(theta) is evaluated at the previous Newton iterate; coacheval solves the score to
  machine precision [coefficients 4.6e-10, SEs 2.5e-9, theta 5.4e-9, SE(theta) 8.4e-5,
  log-likelihood 2.3e-13 absolute]. rtol 1e-7 for coefficients, SEs and theta, 5e-4 for
  SE(theta), atol 1e-9 for the log-likelihood.
- Power (rpact): closed forms [events 4.4e-16, subjects 8.9e-16, power 1.3e-15]. rtol 1e-12.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from coacheval.retention.power import _power_from_events, events_required, retention_power
from coacheval.retention.rates import exact_poisson_interval, rate_ratio_from_counts, turnover_rates
from coacheval.retention.spillover import NoOverdispersionWarning, unit_turnover_model

REF = Path(__file__).parent / "reference"
CLOSED = {"rtol": 1e-12, "atol": 0}
GLM = {"rtol": 1e-9, "atol": 0}
NB = {"rtol": 1e-7, "atol": 0}
INS_COV = ["age_25_29", "age_30_35", "group_1_1_5l", "group_1_5_2l", "group_gt2l"]


def _exp(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / "expected" / f"rates_{name}.csv")


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / "data" / f"rates_{name}.csv")


@pytest.mark.parametrize("group_col", ["sex", "ph_ecog"])
def test_group_rates_match_poisson_test(group_col: str) -> None:
    exp = _exp("lung_rates")
    exp = exp[exp["group_col"] == group_col]
    res = turnover_rates(
        _data("lung"), events_col="event", person_time_col="years", group_col=group_col, per=1
    )
    assert res.table["group"].astype(str).tolist() == exp["group"].astype(str).tolist()
    assert_allclose(res.table["events"], exp["events"])
    assert_allclose(res.table["person_time"], exp["person_time"], **CLOSED)
    for col in ("rate", "conf_low", "conf_high"):
        assert_allclose(res.table[col], exp[col], **CLOSED)


def test_overall_rate_per_100_matches() -> None:
    exp = _exp("lung_rates").query("group_col == 'all'").iloc[0]
    row = turnover_rates(_data("lung"), events_col="event", person_time_col="years").table.iloc[0]
    assert_allclose(
        row[["rate", "conf_low", "conf_high"]].to_numpy(float),
        100 * exp[["rate", "conf_low", "conf_high"]].to_numpy(float),
        **CLOSED,
    )


def test_small_counts_and_zero_events_match() -> None:
    exp = _exp("small_counts")
    for conf, sub in (
        (0.95, exp[exp["group_col"] != "conf90"]),
        (0.9, exp[exp["group_col"] == "conf90"]),
    ):
        lo, hi = exact_poisson_interval(
            sub["events"].to_numpy(), sub["person_time"].to_numpy(), alpha=1 - conf
        )
        assert_allclose(lo, sub["conf_low"], **CLOSED)
        assert_allclose(hi, sub["conf_high"], **CLOSED)
    # 0 events: upper limit 3.689 / T at 95%
    assert exp.iloc[0]["conf_high"] == pytest.approx(3.6888794541139354, rel=1e-15)


def test_rate_ratios_match_poisson_test() -> None:
    for _, r in _exp("ratios").iterrows():
        res = rate_ratio_from_counts(r["x1"], r["t1"], r["x2"], r["t2"], null=r["null"])
        exact = res.table.iloc[0]
        assert exact["estimate"] == pytest.approx(r["estimate"], rel=1e-12, abs=0)
        assert_allclose(
            [exact["conf_low"], exact["conf_high"]], [r["conf_low"], r["conf_high"]], **CLOSED
        )
        assert exact["p_value"] == pytest.approx(r["p_value"], rel=1e-12)


@pytest.mark.parametrize(
    ("vcov", "col"),
    [
        ("CR1", "se_cl_hc1"),
        ("CR1_stata", "se_cl_hc0"),
        ("CR0", "se_cl_hc0_noadj"),
        ("model", "se_model"),
    ],
)
def test_insurance_poisson_offset_cluster(vcov: str, col: str) -> None:
    exp = _exp("insurance_poisson")
    res = unit_turnover_model(
        _data("insurance"),
        separations_col="claims",
        person_time_col="holders",
        exposure_col="age_gt35",
        covariates=INS_COV,
        cluster_col="district",
        vcov=vcov,  # type: ignore[arg-type]
    )
    assert res.coef.index.tolist() == ["(Intercept)", "age_gt35", *INS_COV]
    assert_allclose(res.coef, exp["estimate"], **GLM)
    assert_allclose(res.std_error, exp[col], **GLM)
    fit = _exp("insurance_poisson_fit").iloc[0]
    assert res.loglik == pytest.approx(fit["loglik"], rel=1e-12)
    assert res.deviance == pytest.approx(fit["deviance"], rel=1e-9)
    assert res.n_clusters == fit["n_clusters"]


@pytest.mark.parametrize(
    ("vcov", "col"), [("CR1", "se_cl_hc1"), ("CR1_stata", "se_cl_hc0"), ("model", "se_model")]
)
def test_quine_negative_binomial(vcov: str, col: str) -> None:
    exp, fit = _exp("quine_nb"), _exp("quine_nb_fit").iloc[0]
    res = unit_turnover_model(
        _data("quine"),
        separations_col="days",
        person_time_col="one",
        exposure_col="eth_n",
        covariates=["sex_m", "lrn_sl"],
        cluster_col="form",
        family="negative_binomial",
        vcov=vcov,  # type: ignore[arg-type]
    )
    assert_allclose(res.coef, exp["estimate"], **NB)
    assert_allclose(res.std_error, exp[col], **NB)
    assert res.theta == pytest.approx(fit["theta"], rel=1e-7)
    assert res.theta_se == pytest.approx(fit["se_theta"], rel=5e-4)
    assert res.loglik == pytest.approx(fit["loglik"], abs=1e-9)


def test_quine_negative_binomial_with_categorical_covariate() -> None:
    exp = _exp("quine_nb_full")
    res = unit_turnover_model(
        _data("quine"),
        separations_col="days",
        person_time_col="one",
        exposure_col="eth_n",
        covariates=["sex_m", "lrn_sl", "form"],
        family="negative_binomial",
        vcov="model",
    )
    assert res.coef.index.tolist()[-3:] == ["form[F1]", "form[F2]", "form[F3]"]
    assert_allclose(res.coef, exp["estimate"], **NB)
    assert_allclose(res.std_error, exp["se_model"], **NB)
    assert res.theta == pytest.approx(exp["theta"].iloc[0], rel=1e-7)


def test_insurance_negative_binomial_without_overdispersion_is_poisson() -> None:
    # R: glm.nb on these data stops at theta = 276406 with "iteration limit reached" warnings
    kw = {
        "separations_col": "claims",
        "person_time_col": "holders",
        "exposure_col": "age_gt35",
        "covariates": INS_COV,
        "cluster_col": "district",
    }
    with pytest.warns(NoOverdispersionWarning, match="not overdispersed"):
        nb = unit_turnover_model(_data("insurance"), family="negative_binomial", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pois = unit_turnover_model(_data("insurance"), **kw)
    assert np.isinf(nb.theta)
    assert_allclose(nb.coef, pois.coef, rtol=1e-12)
    assert_allclose(nb.coef, _exp("insurance_poisson")["estimate"], **GLM)


def test_events_and_subjects_match_rpact() -> None:
    exp = _exp("power_sample_size")
    for _, r in exp.iterrows():
        p = r["allocation_ratio"] / (1 + r["allocation_ratio"])
        method = r["method"].lower()
        d = events_required(r["hazard_ratio"], share_treated=p, method=method)
        assert d == pytest.approx(r["events"], rel=1e-12)
        res = retention_power(
            100,
            share_treated=p,
            follow_up_years=r["follow_up_years"],
            annual_turnover=r["annual_turnover"],
            hazard_ratio=r["hazard_ratio"],
            accrual_years=r["accrual_years"],
            method=method,
        )
        if np.isfinite(r["subjects"]):
            assert res.table["leaders_required"].iloc[0] == pytest.approx(r["subjects"], rel=1e-12)
    assert exp["subjects"].notna().sum() == 32


def test_power_from_events_matches_rpact() -> None:
    for _, r in _exp("power_power").iterrows():
        p = r["allocation_ratio"] / (1 + r["allocation_ratio"])
        pw = _power_from_events(r["hazard_ratio"], r["events"], p, 0.05, r["method"].lower())
        assert float(pw) == pytest.approx(r["power"], rel=1e-12)
