"""kaplan_meier, logrank_test and rmst against survival (tests/reference/r/km.R).

R 4.2.2 with survival 3.5-3 (sessionInfo in expected/sessionInfo_km.txt) on public data sets
shipped with survival: lung (by sex; unweighted, with an inverse-probability-of-sex-given-age
weight, Greenwood and robust infinitesimal-jackknife SEs with id) and heart (counting-process
(start, stop] rows; curves by the time-varying transplant status, i.e. Simon–Makuch, with and
without weights and id). survRM2 is not packaged for this Debian release (apt has no
r-cran-survrm2), so the RMST reference is survival's summary(fit, rmean = tau)$table (the same
Greenwood-type formula survRM2::rmst2 uses) and, for robust fits, the area under
fit$influence.surv.

Everything is closed form (no iteration), so only the order of floating-point operations
differs. Observed maximum relative differences over all cases: times and counts 4.5e-15
(weighted numbers at risk, differences of cumulative sums), survival 1.9e-15, standard errors
1.2e-14, confidence limits 2.4e-14, RMST 5.3e-16, se(RMST) 7.0e-16, log-rank chi-square
3.0e-15, O and E 1e-15. CLOSED = rtol 1e-12 (two orders of magnitude above the largest
observed difference, far below any difference in method) with atol 1e-14 for values that are
0 in R. Medians and their limits are event times: compared exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from coacheval.retention.km import kaplan_meier, logrank_test
from coacheval.retention.rmst import rmst

REF = Path(__file__).parent / "reference"
CLOSED = {"rtol": 1e-12, "atol": 1e-14}


def _csv(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / name)


LUNG = _csv("data/km_lung.csv")
HEART = _csv("data/km_heart.csv")
_L: dict[str, Any] = {"data": LUNG, "stop_col": "time", "event_col": "event"}
_H: dict[str, Any] = {"data": HEART, "start_col": "start", "stop_col": "stop", "event_col": "event"}

CASES: dict[str, dict[str, Any]] = {
    "lung_sex": {**_L, "group_col": "sex"},
    "lung_all": _L,
    "heart_transplant": {**_H, "group_col": "transplant"},
    "heart_all": _H,
    "lung_sex_weighted": {**_L, "group_col": "sex", "weights_col": "w"},
    "lung_sex_robust": {**_L, "group_col": "sex", "cluster_col": "id"},
    "lung_sex_weighted_robust": {**_L, "group_col": "sex", "weights_col": "w", "cluster_col": "id"},
    "heart_transplant_weighted_robust": {
        **_H,
        "group_col": "transplant",
        "weights_col": "w",
        "cluster_col": "id",
    },
}
CONF = {"log-log": "loglog", "log": "log", "plain": "plain"}


def _group_str(s: pd.Series) -> np.ndarray:
    return s.astype(str).to_numpy()


@pytest.mark.parametrize("conf_type", list(CONF))
@pytest.mark.parametrize("case", list(CASES))
def test_curves_match_survfit(case: str, conf_type: str) -> None:
    exp = _csv("expected/km_curves.csv").query("case == @case").reset_index(drop=True)
    got = kaplan_meier(**CASES[case], conf_type=conf_type).table  # type: ignore[arg-type]
    assert len(got) == len(exp)
    assert_array_equal(_group_str(got["group"]), _group_str(exp["group"]))
    for col in ("time", "n_risk", "n_event", "survival", "std_error"):
        assert_allclose(got[col], exp[col], **CLOSED, err_msg=col)
    suffix = CONF[conf_type]
    for col in ("conf_low", "conf_high"):
        assert_allclose(got[col], exp[f"{col}_{suffix}"], **CLOSED, err_msg=col)
    if "robust" not in case:
        # with id= survfit counts censorings of continued rows differently (see docstring)
        assert_allclose(got["n_censor"], exp["n_censor"], **CLOSED)


@pytest.mark.parametrize("conf_type", list(CONF))
@pytest.mark.parametrize("case", list(CASES))
def test_medians_match_print_survfit(case: str, conf_type: str) -> None:
    exp = _csv("expected/km_medians.csv").query("case == @case and conf_type == @conf_type")
    got = kaplan_meier(**CASES[case], conf_type=conf_type).medians  # type: ignore[arg-type]
    assert_array_equal(_group_str(got["group"]), _group_str(exp["group"]))
    for col in ("median", "conf_low", "conf_high"):
        assert_array_equal(got[col].to_numpy(), exp[col].to_numpy(), err_msg=col)
    # no curve in these data ends flat at 0.5, so quantile.survfit agrees with print
    assert_array_equal(got["median"].to_numpy(), exp["quantile_median"].to_numpy())


@pytest.mark.parametrize(
    ("case", "file"),
    [("lung_sex", "km_at_times.csv"), ("heart_transplant", "km_at_times_heart.csv")],
)
def test_summary_at_times(case: str, file: str) -> None:
    exp = _csv(f"expected/{file}")
    times = exp["time"].unique()
    km = kaplan_meier(**CASES[case])
    got = km.survival_at(times)
    assert_array_equal(_group_str(got["group"]), _group_str(exp["group"]))
    for col in ("time", "n_risk", "survival", "std_error"):
        assert_allclose(got[col], exp[col], **CLOSED, err_msg=col)
    risk = km.risk_table(times)
    assert_allclose(risk.to_numpy().ravel(), exp["n_risk"], **CLOSED)


LOGRANK: dict[str, dict[str, Any]] = {
    "lung_sex": {**_L, "group_col": "sex"},
    "lung_ecog": {**_L, "group_col": "ph_ecog"},
    "lung_sex_strata_ecog": {**_L, "group_col": "sex", "strata_col": "ph_ecog"},
}


@pytest.mark.parametrize("case", list(LOGRANK))
def test_logrank_matches_survdiff(case: str) -> None:
    exp = _csv("expected/km_logrank.csv").query("case == @case").iloc[0]
    groups = _csv("expected/km_logrank_groups.csv").query("case == @case")
    got = logrank_test(**LOGRANK[case])
    assert got.df == exp["df"]
    assert_allclose(got.statistic, exp["statistic"], **CLOSED)
    assert_allclose(got.p_value, exp["p_value"], **CLOSED)
    assert_array_equal(got.table["n"], groups["n"])
    for col in ("observed", "expected", "variance"):
        assert_allclose(got.table[col], groups[col], **CLOSED, err_msg=col)


SCORE: dict[str, dict[str, Any]] = {
    "heart_transplant": {**_H, "group_col": "transplant"},
    "heart_transplant_strata_surgery": {**_H, "group_col": "transplant", "strata_col": "surgery"},
    "lung_sex": {**_L, "group_col": "sex"},
}


@pytest.mark.parametrize("case", list(SCORE))
def test_counting_process_logrank_is_exact_score_test(case: str) -> None:
    score = _csv("expected/km_score.csv").query("case == @case").set_index("ties")["statistic"]
    got = logrank_test(**SCORE[case]).statistic
    assert_allclose(got, score["exact"], **CLOSED)
    # Breslow and Efron score tests differ at tied times (documented in logrank_test)
    assert abs(got - score["breslow"]) > 1e-4
    assert abs(got - score["efron"]) > 1e-4


@pytest.mark.parametrize("case", list(CASES))
def test_rmst_matches_survmean(case: str) -> None:
    exp_all = _csv("expected/km_rmst.csv").query("case == @case")
    for tau, exp in exp_all.groupby("tau"):
        got = rmst(**CASES[case], tau=float(tau)).table  # type: ignore[arg-type]
        assert_array_equal(_group_str(got["group"]), _group_str(exp["group"]))
        assert_allclose(got["estimate"], exp["rmean"], **CLOSED)
        se_ref = exp["se_rmean_ij"] if "robust" in case else exp["se_rmean"]
        assert_allclose(got["std_error"], se_ref, **CLOSED)
