"""Least squares and sandwich variances against R (tests/reference/r/inference.R).

Data: sandwich::PetersenCL (500 firms x 10 years) with a weight column
``w = 1 / plogis(0.25 + 0.5 x)``; R 4.2.2, sandwich 3.0-2, clubSandwich 0.5.8 (see
expected/sessionInfo_inference.txt). The R calls are in the script's header comments:
``vcov(lm)``, ``sandwich::vcovHC(type = "HC0".."HC3")``, ``sandwich::vcovCL(cluster = ~firm)``,
``~year``, ``~firm + year`` (defaults: type "HC1", cadjust = TRUE), ``vcovCL(type = "HC0",
cadjust = FALSE)`` for CR0, ``clubSandwich::vcovCR(type = "CR2")`` and
``coef_test(test = "Satterthwaite")``, for ``lm(y ~ x)``, ``lm(y ~ x, weights = w)`` and
``lm(y ~ x + factor(year))``.

Tolerances:
- CLOSED_FORM (rtol 1e-10) for coefficients, variance matrices, standard errors, t statistics,
  Satterthwaite df and interval bounds: the same closed-form linear algebra in both languages
  (QR least squares, sums of score outer products, per-cluster symmetric inverse square roots),
  so only floating-point order differs.
- P_VALUE (rtol 1e-9): a p-value's relative error is about t^2 times that of t, and here
  |t| reaches 36 (p ~ 1e-255).
Observed maximum relative differences (R vs Python): estimates 5.2e-13 (the intercept of the
11-column fixed-effects model), standard errors 9.3e-14, variance entries 1.8e-13 (relative to
the largest entry of the matrix), t 5.5e-13, Satterthwaite df 1.1e-15, p-values 6.6e-12,
interval bounds 6.0e-13.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from coacheval.effects.inference import fit_ols

REF = Path(__file__).parent / "reference"
CLOSED_FORM = {"rtol": 1e-10, "atol": 0.0}
P_VALUE = {"rtol": 1e-9, "atol": 0.0}

EXPECTED = pd.read_csv(
    REF / "expected" / "inference_coefs.csv", keep_default_na=False, na_values=[""]
)
EXPECTED["cluster"] = EXPECTED["cluster"].fillna("")
CASES = list(EXPECTED[["model", "vcov", "cluster"]].drop_duplicates().itertuples(index=False))


@pytest.fixture(scope="module")
def petersen() -> pd.DataFrame:
    return pd.read_csv(REF / "data" / "inference_petersen.csv")


@pytest.fixture(scope="module")
def vcov_expected() -> pd.DataFrame:
    table = pd.read_csv(REF / "expected" / "inference_vcov.csv", keep_default_na=False)
    return table


def _design(data: pd.DataFrame, model: str) -> pd.DataFrame:
    X = pd.DataFrame({"(Intercept)": 1.0, "x": data.x})
    if model == "ols_fe":  # model.matrix(~ x + factor(year)): dummies for years 2..10
        for year in range(2, 11):
            X[f"factor(year){year}"] = (data.year == year).astype(float)
    return X


def _fit(data: pd.DataFrame, model: str, vcov: str, cluster: str):
    clusters = None
    if cluster:
        names = cluster.split("+")
        clusters = data[names] if len(names) > 1 else data[names[0]]
    weights = data.w if model == "wls" else None
    return fit_ols(data.y, _design(data, model), weights=weights, cluster=clusters, vcov=vcov)


def test_reference_data_is_petersen(petersen):
    assert petersen.shape == (5000, 5)
    assert petersen.firm.nunique() == 500
    assert petersen.year.nunique() == 10
    assert (petersen.w > 1).all()


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.model}-{c.vcov}-{c.cluster or 'none'}")
def test_table_matches_r(petersen, case):
    expected = EXPECTED[
        (EXPECTED.model == case.model)
        & (EXPECTED.vcov == case.vcov)
        & (EXPECTED.cluster == case.cluster)
    ].set_index("term")
    result = _fit(petersen, case.model, case.vcov, case.cluster)
    got = result.table.set_index("term").loc[expected.index]
    for column in (
        "estimate",
        "std_error",
        "statistic",
        "df",
        "p_value",
        "conf_low",
        "conf_high",
    ):
        tolerance = P_VALUE if column == "p_value" else CLOSED_FORM
        assert_allclose(got[column], expected[column], err_msg=column, **tolerance)
    assert (got["n"] == expected["n"]).all()
    if case.cluster:
        assert (got["n_clusters"].astype(int) == expected["n_clusters"]).all()
        assert result.n_clusters == tuple(petersen[c].nunique() for c in case.cluster.split("+"))
    else:
        assert got["n_clusters"].isna().all()


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.model}-{c.vcov}-{c.cluster or 'none'}")
def test_vcov_matrix_matches_r(petersen, vcov_expected, case):
    expected = vcov_expected[
        (vcov_expected.model == case.model)
        & (vcov_expected.vcov == case.vcov)
        & (vcov_expected.cluster == case.cluster)
    ]
    result = _fit(petersen, case.model, case.vcov, case.cluster)
    got = np.array([result.vcov.loc[r, c] for r, c in zip(expected.row, expected.col, strict=True)])
    scale = float(np.max(np.abs(expected.value)))
    # off-diagonal entries can be near 0: compare relative to the largest entry
    assert_allclose(got, expected.value, rtol=1e-10, atol=1e-10 * scale)


def test_cr1_is_sandwich_default_and_cr1s(petersen):
    """vcovCL's default for lm is HC1 with G/(G-1): the same numbers as the CR1 rows."""
    cr1 = _fit(petersen, "ols", "CR1", "firm")
    cr0 = _fit(petersen, "ols", "CR0", "firm")
    n, k, g = 5000, 2, 500
    factor = g / (g - 1) * (n - 1) / (n - k)
    assert_allclose(cr1.vcov.to_numpy(), factor * cr0.vcov.to_numpy(), rtol=1e-12)
