"""fit_cox against survival::coxph (tests/reference/r/cox.R).

R 4.2.2 with survival 3.5-3 (sessionInfo in expected/sessionInfo_cox.txt) on public data sets
shipped with survival: lung (Efron, Breslow, case weights, robust per row and clustered by
institution, strata(sex)), heart (counting-process (start, stop] data with the time-varying
covariate transplant, cluster = id, with and without weights) and veteran (strata(celltype)).

R was run with coxph.control(eps = 1e-11, iter.max = 100). Tolerances (observed maximum
relative differences in brackets):
- CONVERGED: fit_cox with the same rule (tol=1e-11) follows the same Newton–Raphson path with
  the same step-halving rule, so it stops after the same number of iterations at the same
  point; what remains is floating-point order of summation [coefficients 1.1e-13, model SEs
  1.6e-14, robust SEs 9.3e-15, log-likelihoods 8.9e-16]. rtol 1e-11 for coefficients and
  SEs, 1e-13 for log-likelihoods.
- DEFAULT: fit_cox with its default tol=1e-9 (coxph's default eps) stops one iteration
  earlier than R with eps=1e-11 on the lung fits [coefficients 3.8e-9, model SEs 8.2e-11,
  robust SEs 3.3e-10]. rtol 1e-7 for coefficients and 1e-8 for SEs.
- Monotone likelihood (tests/reference/r/cox_infinite.R, survival's infcox.R test3, default
  eps): the same covariates flagged as "may be infinite" as coxph flags, by coxph.fit's rule
  for Surv(time, event) and agreg.fit's for (start, stop] data; coefficients on the flat ridge
  [1.9e-9], log-likelihoods [3.4e-15]: rtol 1e-7 and 1e-12.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from coacheval.retention.cox import fit_cox

REF = Path(__file__).parent / "reference"
R_EPS = 1e-11
COEF_CONVERGED = {"rtol": 1e-11, "atol": 0}
SE_CONVERGED = {"rtol": 1e-11, "atol": 0}
LOGLIK = {"rtol": 1e-13, "atol": 0}
COEF_DEFAULT = {"rtol": 1e-7, "atol": 0}
SE_DEFAULT = {"rtol": 1e-8, "atol": 0}


def _data(name: str) -> pd.DataFrame:
    df = pd.read_csv(REF / "data" / f"cox_{name}.csv")
    if name == "heart":
        df["w"] = 1 + df["surgery"]  # as transform(heart_d, w = 1 + surgery) in cox.R
    return df


_LUNG = {"data": "lung", "start_col": None, "stop_col": "time", "event_col": "event"}
_HEART = {"data": "heart", "start_col": "start", "stop_col": "stop", "event_col": "event"}
_VET = {
    "data": "veteran",
    "start_col": None,
    "stop_col": "time",
    "event_col": "event",
    "covariates": ["trt", "karno", "age", "prior"],
    "strata_col": "celltype",
}
_LUNG_X = ["age", "sex", "ph_ecog"]
_HEART_X = ["transplant", "age", "year", "surgery"]

CASES: dict[str, dict[str, Any]] = {
    "lung_efron": {**_LUNG, "covariates": _LUNG_X},
    "lung_breslow": {**_LUNG, "covariates": _LUNG_X, "ties": "breslow"},
    "lung_weights_robust": {**_LUNG, "covariates": _LUNG_X, "weights_col": "w", "robust": True},
    "lung_weights_cluster_breslow": {
        **_LUNG,
        "covariates": _LUNG_X,
        "weights_col": "w",
        "cluster_col": "inst",
        "ties": "breslow",
    },
    "lung_strata_sex": {**_LUNG, "covariates": ["age", "ph_ecog"], "strata_col": "sex"},
    "heart_efron_cluster": {**_HEART, "covariates": _HEART_X, "cluster_col": "id"},
    "heart_breslow_cluster": {
        **_HEART,
        "covariates": _HEART_X,
        "cluster_col": "id",
        "ties": "breslow",
    },
    "heart_weights_cluster": {
        **_HEART,
        "covariates": ["transplant", "age", "year"],
        "cluster_col": "id",
        "weights_col": "w",
    },
    "veteran_strata_celltype": {**_VET},
    "veteran_strata_breslow_robust": {**_VET, "ties": "breslow", "robust": True},
}


@pytest.fixture(scope="module")
def expected() -> tuple[pd.DataFrame, pd.DataFrame]:
    coefs = pd.read_csv(REF / "expected" / "cox_coefs.csv")
    fits = pd.read_csv(REF / "expected" / "cox_fit.csv").set_index("case")
    return coefs, fits


def _fit(case: str, **extra: Any):
    kw = dict(CASES[case])
    kw["data"] = _data(kw["data"])
    return fit_cox(**kw, **extra)


def test_every_r_case_is_tested(expected):
    assert set(expected[1].index) == set(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_cox_matches_coxph_converged(case, expected):
    coefs, fits = expected
    exp = coefs[coefs["case"] == case].set_index("term")
    fit = fits.loc[case]
    res = _fit(case, tol=R_EPS)
    assert list(res.coef.index) == list(exp.index)
    assert_allclose(res.coef[exp.index], exp["estimate"], **COEF_CONVERGED)
    assert_allclose(res.std_error_model[exp.index], exp["std_error"], **SE_CONVERGED)
    if exp["robust_std_error"].notna().all():
        assert res.robust
        assert_allclose(res.std_error[exp.index], exp["robust_std_error"], **SE_CONVERGED)
        assert_allclose(res.table["std_error"], exp["robust_std_error"], **SE_CONVERGED)
    else:
        assert not res.robust
        assert exp["robust_std_error"].isna().all()
        assert_allclose(res.table["std_error"], exp["std_error"], **SE_CONVERGED)
    assert_allclose(res.loglik_null, fit["loglik_null"], **LOGLIK)
    assert_allclose(res.loglik, fit["loglik"], **LOGLIK)
    assert (res.n_obs, res.n_events) == (fit["n_obs"], fit["n_events"])
    assert res.iterations == fit["iter"]
    assert res.ties == fit["ties"]
    assert res.converged


@pytest.mark.parametrize("case", sorted(CASES))
def test_cox_matches_coxph_default_tolerance(case, expected):
    coefs, _ = expected
    exp = coefs[coefs["case"] == case].set_index("term")
    res = _fit(case)
    assert_allclose(res.coef[exp.index], exp["estimate"], **COEF_DEFAULT)
    assert_allclose(res.std_error_model[exp.index], exp["std_error"], **SE_DEFAULT)
    if res.robust:
        assert_allclose(res.std_error[exp.index], exp["robust_std_error"], **SE_DEFAULT)


def test_heart_cluster_count_and_table(expected):
    res = _fit("heart_efron_cluster", tol=R_EPS)
    heart = _data("heart")
    assert res.n_clusters == heart["id"].nunique() == 103
    assert_array_equal(res.table["n_clusters"], 103.0)
    assert_array_equal(res.table["n"], 172)


_INFINITE = pd.read_csv(REF / "expected" / "cox_infinite.csv")


@pytest.mark.parametrize(
    ("form", "model", "iter_max"),
    sorted(set(_INFINITE[["form", "model", "iter_max"]].itertuples(index=False, name=None))),
)
def test_an_infinite_coefficient_is_flagged_as_coxph_flags_it(form, model, iter_max):
    # survival's own test of the "infinity" check (tests/infcox.R, test3; cox_infinite.R):
    # R's warning after convergence flags the same covariates by the same rule (coxph.fit's
    # for Surv(time, event), agreg.fit's for (start, stop] data); without convergence both say
    # so instead. The coefficients sit on a ridge where the log-likelihood changes by ~3e-9 per
    # unit, so rounding moves them more than on a regular fit: observed relative differences
    # up to 1.9e-9 (coefficients) and 3.4e-15 (log-likelihood); rtol 1e-7 and 1e-12.
    import warnings

    from coacheval.retention.cox import CoxConvergenceWarning

    exp = _INFINITE[
        (_INFINITE.form == form) & (_INFINITE.model == model) & (_INFINITE.iter_max == iter_max)
    ]
    data = pd.read_csv(REF / "data" / "cox_infinite_test3.csv")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fit_cox(
            data,
            start_col="start" if form == "counting" else None,
            stop_col="futime",
            event_col="fustat",
            covariates=list(exp.term),
            max_iter=iter_max,
        )
    assert [w.category for w in caught] == [CoxConvergenceWarning]
    message = str(caught[0].message)
    assert_allclose(res.coef[list(exp.term)], exp.estimate, rtol=1e-7)
    assert_allclose(res.loglik, exp.loglik.iloc[0], rtol=1e-12)
    if exp.warning.iloc[0] == "not_converged":
        assert not res.converged and "did not converge in" in message
        return
    assert res.converged and res.iterations == exp.iter.iloc[0]
    flagged = list(exp.term[exp.flagged])
    names = ", ".join(repr(t) for t in flagged)
    assert f"converged before the coefficient{'s' if len(flagged) > 1 else ''} of {names} did" in (
        message
    )
    assert all(f"{t!r}: " in message for t in flagged) and "still moving by 1" in message
    assert any(message in note for note in res.notes)
