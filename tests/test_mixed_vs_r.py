"""fit_mixed against lme4 1.1-31 / lmerTest 3.1-3 (tests/reference/r/mixed.R, R 4.2.2).

Cases (public data sets shipped with lme4, written to tests/reference/data/mixed_*.csv):
sleepstudy (one factor), sleepstudy with subject 308 reduced to one observation, Penicillin
(two crossed factors), Pastes (batch/cask, nested), Dyestuff2 (singular fit, theta = 0) and cake
(five regressors, between- and within-batch terms), each by REML and ML.

R fits every model twice (see mixed.R): ``default`` = lmerControl() as users run it, and
``tight`` = the same BOBYQA with xtol_abs 1e-14 / ftol_abs 1e-15. fit_mixed uses an analytic
gradient and Newton polishing, so its theta is the optimum to ~1e-10 relative (the gradient of
the criterion there is ~1e-15); the R criterion evaluated by fit_mixed at R's theta is never
lower than at fit_mixed's theta by more than 1e-12. The differences below are therefore R's
optimiser stopping short, and the tolerances are set from the maximum differences observed,
with a margin of about 5-10:

- ESTIMATE (rtol 1e-9): fixed effects and contrast estimates. With (near-)balanced designs they
  hardly depend on theta; observed max 4.4e-11 relative (cake REML).
- TIGHT_SCALE (rtol 1e-6): SEs, SDs, variances, theta, sigma, t statistics, CI bounds and the
  Satterthwaite df against the tight fit; observed max 2.3e-7 (variance, cake REML), 1.5e-7
  (df, Penicillin REML), 3.0e-7 (df of a contrast, cake REML). lmerTest takes its derivatives
  with numDeriv's Richardson extrapolation, which fit_mixed replicates step for step.
- DEFAULT_SCALE (rtol 2e-4): the same against lme4's default fit, whose theta is off the optimum
  by up to 3e-5 relative (Penicillin REML); observed max 9.1e-5 (df, Penicillin REML).
- LOGLIK (atol 1e-9 tight, 1e-7 default): logLik, REML criterion/deviance, AIC and BIC; the
  criterion is flat at the optimum: observed max 5.7e-13 (tight) and 8.5e-9 (default,
  Penicillin REML).
- P_VALUE (rtol 5e-5 tight, 5e-3 default): p-values move with t * dt (t up to 35 here);
  observed max 1.3e-5 (tight) and 1.2e-3 (default).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from coacheval.effects.mixed import fit_mixed

REF = Path(__file__).parent / "reference"
ESTIMATE = {"rtol": 1e-9, "atol": 1e-12}
SCALE = {"tight": {"rtol": 1e-6, "atol": 0}, "default": {"rtol": 2e-4, "atol": 0}}
LOGLIK = {"tight": {"rtol": 0, "atol": 1e-9}, "default": {"rtol": 0, "atol": 1e-7}}
P_VALUE = {"tight": {"rtol": 5e-5, "atol": 1e-300}, "default": {"rtol": 5e-3, "atol": 1e-300}}

CAKE_FIXED = ["recipeB", "recipeC", "temp", "recipeB_temp", "recipeC_temp"]
SPECS = {
    "sleepstudy": {"outcome": "Reaction", "fixed": ["Days"], "groups": ["Subject"]},
    "sleepstudy_single": {"outcome": "Reaction", "fixed": ["Days"], "groups": ["Subject"]},
    "penicillin": {"outcome": "diameter", "fixed": [], "groups": ["plate", "sample"]},
    "pastes": {"outcome": "strength", "fixed": [], "groups": ["batch", "cask"], "nested": True},
    "dyestuff2": {"outcome": "Yield", "fixed": [], "groups": ["Batch"]},
    "cake": {"outcome": "angle", "fixed": CAKE_FIXED, "groups": ["batch"]},
}
CASES = [
    (case, method, fit)
    for case in SPECS
    for method in ("REML", "ML")
    for fit in ("default", "tight")
]


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


@pytest.fixture(scope="module")
def expected() -> dict[str, pd.DataFrame]:
    return {
        name: _read(REF / "expected" / f"mixed_{name}.csv")
        for name in ("fixed", "varcomp", "fit", "contrasts", "conditions")
    }


@pytest.fixture(scope="module")
def fits():
    cache = {}

    def get(case: str, method: str):
        if (case, method) not in cache:
            data = _read(REF / "data" / f"mixed_{case}.csv")
            cache[case, method] = fit_mixed(data, method=method, **SPECS[case])
        return cache[case, method]

    return get


def _rows(frame: pd.DataFrame, case: str, method: str, fit: str) -> pd.DataFrame:
    return frame[(frame.case == case) & (frame.method == method) & (frame.fit == fit)]


@pytest.mark.parametrize(("case", "method", "fit"), CASES)
def test_fixed_effects_match_lmertest(expected, fits, case, method, fit):
    exp = _rows(expected["fixed"], case, method, fit).set_index("term")
    got = fits(case, method).table.set_index("term").loc[exp.index]
    assert_allclose(got.estimate, exp.estimate, **ESTIMATE)
    for column in ("std_error", "statistic", "df", "conf_low", "conf_high"):
        assert_allclose(got[column], exp[column], **SCALE[fit], err_msg=column)
    assert_allclose(got.p_value, exp.p_value, **P_VALUE[fit])


@pytest.mark.parametrize(("case", "method", "fit"), CASES)
def test_variance_components_match_lme4(expected, fits, case, method, fit):
    exp = _rows(expected["varcomp"], case, method, fit).set_index("group")
    got = fits(case, method).variance_components.set_index("group").loc[exp.index]
    for column in ("std_dev", "variance"):
        assert_allclose(got[column], exp[column], **SCALE[fit], err_msg=column)
    groups = exp.index != "Residual"
    assert_allclose(got.theta[groups], exp.theta[groups], **SCALE[fit])
    assert got.n_groups[groups].astype(int).tolist() == exp.n_groups[groups].astype(int).tolist()


@pytest.mark.parametrize(("case", "method", "fit"), CASES)
def test_fit_statistics_match_lme4(expected, fits, case, method, fit):
    exp = _rows(expected["fit"], case, method, fit).iloc[0]
    res = fits(case, method)
    assert res.n_obs == exp.n_obs
    assert res.singular == bool(exp.singular)
    assert_allclose(
        [res.loglik, res.criterion, res.aic, res.bic],
        [exp.loglik, exp.criterion, exp.aic, exp.bic],
        **LOGLIK[fit],
    )
    assert_allclose(res.sigma, exp.sigma, **SCALE[fit])
    assert len(res.table) + len(res.n_groups) + 1 == exp.npar


@pytest.mark.parametrize(
    ("case", "method", "fit"), [c for c in CASES if c[0] in ("sleepstudy", "cake")]
)
def test_contrasts_match_lmertest_contest1d(expected, fits, case, method, fit):
    exp = _rows(expected["contrasts"], case, method, fit)
    assert len(exp)
    res = fits(case, method)
    for row in exp.itertuples():
        weights = [float(w) for w in row.weights.split()]
        got = res.contrast(weights, label=row.label).table.iloc[0]
        assert got.term == row.label
        assert_allclose(got.estimate, row.estimate, **ESTIMATE)
        for column in ("std_error", "statistic", "df", "conf_low", "conf_high"):
            assert_allclose(got[column], getattr(row, column), **SCALE[fit], err_msg=column)
        assert_allclose(got.p_value, row.p_value, **P_VALUE[fit])


def test_difference_matches_contest1d(expected, fits):
    exp = _rows(expected["contrasts"], "cake", "REML", "tight").set_index("label")
    got = fits("cake", "REML").difference("recipeB", "recipeC").table.iloc[0]
    row = exp.loc["recipeB - recipeC"]
    assert_allclose(
        [got.estimate, got.std_error, got.df], [row.estimate, row.std_error, row.df], rtol=1e-6
    )


def test_singular_fit_is_flagged_as_lme4_does(expected, fits):
    """Dyestuff2: lme4 reports theta = 0 exactly and the message 'boundary (singular) fit'."""
    conditions = expected["conditions"]
    flagged = set(conditions[conditions.text.str.contains("singular")].case)
    assert flagged == {"dyestuff2"}
    for method in ("REML", "ML"):
        res = fits("dyestuff2", method)
        assert res.singular
        assert res.theta == (0.0,)
        assert res.variance_components.set_index("group").loc["Batch", "variance"] == 0.0
        assert any("singular" in note for note in res.notes)


def test_pastes_unique_labels_equal_nested(fits):
    """(1 | batch/cask) = (1 | batch) + (1 | sample) when sample labels casks uniquely."""
    data = _read(REF / "data" / "mixed_pastes.csv")
    nested = fits("pastes", "REML")
    unique = fit_mixed(data, outcome="strength", fixed=[], groups=["batch", "sample"])
    assert_allclose(unique.loglik, nested.loglik, rtol=0, atol=1e-10)
    assert_allclose(
        unique.variance_components.std_dev, nested.variance_components.std_dev, rtol=1e-8
    )
    assert_allclose(unique.table.std_error, nested.table.std_error, rtol=1e-8)
    assert unique.n_groups == {"batch": 10, "sample": 30}
    assert nested.n_groups == {"batch": 10, "cask:batch": 30}


def test_reference_files_are_complete(expected):
    assert set(expected["fit"].case) == set(SPECS)
    assert len(expected["fit"]) == len(CASES)
    assert np.isfinite(expected["fixed"].df).all()
