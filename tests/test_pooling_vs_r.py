"""Rubin's rules, p-value adjustment and imputation draws against R (tests/reference/r/pooling.R).

Reference: mice 3.15.0 and base R 4.2.2 (expected/sessionInfo_pooling.txt), on mice's public
data sets ``nhanes``, ``nhanes2`` and ``boys``. The R script exports the per-imputation
estimates and standard errors of each completed-data fit, and ``pool()``'s results; these tests
feed the same per-imputation numbers to :func:`pool_rubin`.

Tolerances:
- CLOSED_FORM (rtol 1e-10): every pooled quantity (estimate, ubar, b, t, riv, lambda, fmi, df,
  statistic, p-value, CI) and p.adjust — the same formulas; only floating-point order differs.
  Observed largest relative differences: b 4e-13 (numpy's var against R's var), ubar 5e-14,
  p-value 4e-14 (scipy's t against R's pt), everything else below 1e-14; p.adjust below 1e-16.
- Imputation draws cannot be R's draws (different random number generators), so mice's
  ``norm`` and ``pmm`` are compared in distribution: for each of the 43 missing ``hc`` values in
  ``boys``, the mean and variance of 2000 imputations in R and 2000 in Python. Monte Carlo
  error: z = (mean_py - mean_R) / sqrt(var_py/2000 + var_R/2000) is N(0, 1) per row, so
  max |z| over 43 rows < 4.5 (a false alarm about once in 1,700 runs); the log variance ratio
  has SD about sqrt(2/1999 + 2/1999) = 0.045 (normal draws), so |log ratio| < 0.25 (5.6 SD).
  Observed with the seeds below: max |z| = 2.2 (norm) and 2.5 (pmm); max |log ratio| = 0.11
  and 0.10.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from coacheval.effects.imputation import impute_outcome
from coacheval.effects.multiplicity import bh_qvalues, holm_adjust
from coacheval.effects.pooling import pool_rubin

REF = Path(__file__).parent / "reference"
CLOSED_FORM = {"rtol": 1e-10, "atol": 0}
CASES = ["nhanes_lm", "nhanes_lm_inf", "nhanes2_lm", "nhanes2_glm"]
POOLED_COLUMNS = {
    "estimate": "estimate",
    "std_error": "std_error",
    "statistic": "statistic",
    "df": "df",
    "p_value": "p_value",
    "conf_low": "conf_low",
    "conf_high": "conf_high",
    "riv": "riv",
    "lambda": "lambda",
    "fmi": "fmi",
    "within_var": "ubar",
    "between_var": "b",
    "total_var": "t",
    "df_complete": "dfcom",
}


def _expected(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / "expected" / f"pooling_{name}.csv")


def _per_imputation(case: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    per = _expected("per_imputation")
    per = per[per.case == case]
    terms = list(dict.fromkeys(per.term))
    est = per.pivot(index="imputation", columns="term", values="estimate")[terms]
    se = per.pivot(index="imputation", columns="term", values="std_error")[terms]
    return est.to_numpy(), se.to_numpy() ** 2, terms


def _df_complete(pooled: pd.DataFrame) -> float | None:
    dfcom = float(pooled.dfcom.iloc[0])
    return None if np.isinf(dfcom) else dfcom


@pytest.mark.parametrize("case", CASES)
def test_pool_matches_mice_pool(case):
    expected = _expected("pooled")
    expected = expected[expected.case == case].set_index("term")
    est, var, terms = _per_imputation(case)
    res = pool_rubin(est, var, df_complete=_df_complete(expected), terms=terms)
    got = res.table.set_index("term").loc[expected.index]
    assert (got["m"] == expected["m"]).all()
    for ours, theirs in POOLED_COLUMNS.items():
        assert_allclose(got[ours], expected[theirs], **CLOSED_FORM, err_msg=f"{case}: {ours}")


@pytest.mark.parametrize("case", CASES)
def test_pool_with_covariance_matrices_matches_mice(case):
    """(m, p, p) covariance input gives mice's per-term results and the matrix form of T."""
    expected = _expected("pooled")
    expected = expected[expected.case == case].set_index("term")
    est, _, terms = _per_imputation(case)
    vc = _expected("vcov")
    vc = vc[vc.case == case]
    m, p = est.shape
    cov = np.empty((m, p, p))
    for i in range(m):
        part = vc[vc.imputation == i + 1].pivot(index="row", columns="col", values="value")
        cov[i] = part.loc[terms, terms].to_numpy()
    res = pool_rubin(est, cov, df_complete=_df_complete(expected), terms=terms)
    got = res.table.set_index("term").loc[expected.index]
    for ours, theirs in POOLED_COLUMNS.items():
        assert_allclose(got[ours], expected[theirs], **CLOSED_FORM, err_msg=f"{case}: {ours}")
    ubar = cov.mean(axis=0)
    between = np.cov(est, rowvar=False)
    assert_allclose(res.within, ubar, **CLOSED_FORM)
    assert_allclose(res.between, between, **CLOSED_FORM)
    assert_allclose(res.total, ubar + (1 + 1 / m) * between, **CLOSED_FORM)
    assert_allclose(np.diagonal(res.total), expected.loc[terms, "t"], **CLOSED_FORM)


@pytest.mark.parametrize(
    "case", ["scalar_bmi_n25", "scalar_bmi_inf", "scalar_zero_b", "scalar_zero_b_inf"]
)
def test_pool_scalar_matches_mice(case):
    expected = _expected("scalar").set_index("case").loc[case]
    if case.startswith("scalar_bmi"):
        est, var, terms = _per_imputation("nhanes_lm")
        q, u = est[:, terms.index("bmi")], var[:, terms.index("bmi")]
    else:
        q, u = np.full(5, 2.5), np.array([0.1, 0.2, 0.3, 0.2, 0.1])
    dfcom = None if np.isinf(expected.dfcom) else float(expected.dfcom)
    row = pool_rubin(q, u, df_complete=dfcom).table.iloc[0]
    assert row.m == expected.m
    assert_allclose(
        [row.estimate, row.within_var, row.between_var, row.total_var, row.df, row.riv, row.fmi],
        [
            expected.qbar,
            expected.ubar,
            expected.b,
            expected.t,
            expected.df,
            expected.r,
            expected.fmi,
        ],
        **CLOSED_FORM,
    )


@pytest.mark.parametrize("case", ["fixed", "uniform", "single", "all_equal"])
def test_p_adjust_matches_r(case):
    expected = _expected("p_adjust")
    expected = expected[expected.case == case]
    p = expected.p.to_numpy(dtype=float)
    n_explicit = int(expected.n_explicit.iloc[0])
    assert_allclose(bh_qvalues(p), expected.bh.to_numpy(dtype=float), **CLOSED_FORM)
    assert_allclose(holm_adjust(p), expected.holm.to_numpy(dtype=float), **CLOSED_FORM)
    assert_allclose(bh_qvalues(p, n=n_explicit), expected.bh_n.to_numpy(dtype=float), **CLOSED_FORM)


@pytest.mark.parametrize(("method", "seed"), [("norm", 1), ("pmm", 2)])
def test_imputation_draws_match_mice_in_distribution(method, seed):
    boys = pd.read_csv(REF / "data" / "pooling_boys.csv")
    expected = _expected("imputed_rows")
    expected = expected[expected.method == method].set_index("id")
    done = impute_outcome(
        boys, outcome="hc", predictors=["age", "hgt", "wgt"], m=2000, seed=seed, method=method
    )
    missing = boys.hc.isna().to_numpy()
    draws = np.stack([frame.hc.to_numpy()[missing] for frame in done], axis=1)
    exp = expected.loc[boys.id.to_numpy()[missing]]
    n_py, n_r = draws.shape[1], exp.n_draws.to_numpy()
    mean_py, var_py = draws.mean(axis=1), draws.var(axis=1, ddof=1)
    z = (mean_py - exp["mean"].to_numpy()) / np.sqrt(var_py / n_py + exp["var"].to_numpy() / n_r)
    log_ratio = np.log(var_py / exp["var"].to_numpy())
    assert len(z) == 43
    assert np.abs(z).max() < 4.5
    assert np.abs(log_ratio).max() < 0.25
    if method == "pmm":
        observed = set(boys.hc.dropna())
        assert set(np.unique(draws)) <= observed
