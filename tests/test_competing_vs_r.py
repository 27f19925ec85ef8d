"""Competing risks against survival / cmprsk (tests/reference/r/competing.R).

R 4.2.2 with survival 3.5-3 and cmprsk 2.2-11 (sessionInfo in
expected/sessionInfo_competing.txt), on public data shipped with survival: mgus2 (pcm vs death
before pcm, built as in the "compete" vignette; whole months, many ties, ties between causes),
mgus2 split with survSplit, mgus2 on the age scale (delayed entry) and pbc + pbcseq merged with
tmerge (time-varying bilirubin and albumin; transplant competes with death), and MASS::Melanoma
on the age scale (melanoma death vs other death) with a break: the oldest patient (95) enters
after every other follow-up has ended, so finegray's censoring x entry curve is 0 before 95 and
finegray returns NaN (0/0) weights for every added row before it (and Inf past it) -- the failure
seen on HR extracts on the tenure scale. coxph silently drops the NaN rows (for cause "other" all
473 added rows: the fit is then no Fine-Gray model) and refuses the Inf ones. The reference for
coacheval's handling (conditional products; 0 across a break) is finegray run on each stretch of
follow-up between breaks, stacked, then the same weighted coxph.

Tolerances (observed maximum differences in brackets):
- Aalen–Johansen vs survfit multi-state: same arithmetic in a different order (closed-form
  running sums instead of survfitci's per-subject loop) [estimates 1e-16 absolute, 8e-14
  relative; std.err 2.4e-13 relative, 1.2e-14 absolute; CI limits 2.4e-13 relative]. rtol 1e-11,
  atol 1e-14; counts exact.
- finegray_expand vs survival::finegray: identical rows in identical order [fgstart, fgstop,
  fgstatus exact; fgwt 2.2e-16, 3.4e-13 absolute on the age scale where weights are ratios of
  products over ~1000 entry times]. Times exact, weights rtol 1e-12.
- fit_finegray vs coxph(Surv(fgstart, fgstop, fgstatus) ~ x, weights = fgwt, cluster = id) run
  with eps = 1e-11: the Cox engine matches coxph to ~1e-13 (tests/test_cox_vs_r.py); fit here
  with tol=1e-11 [coefficients and SEs within 1e-11 relative]. rtol 1e-9.
- Melanoma with a break: finegray_expand has finegray's rows in finegray's order [times, status
  exact] and equals finegray's fgwt wherever that is finite [0 difference: same arithmetic];
  where finegray's is NaN/Inf coacheval's is finite and >= 0. The weight each person carries at
  each exit time of the cause equals that of finegray per stretch [2.0e-15 relative; the two
  expansions cut the rows at different times, so they are compared as step functions at the
  exit times]: rtol 1e-12. fit_finegray vs coxph on the stacked per-stretch expansion
  [coefficients 1.4e-14, robust SE 6.8e-15, model SE 3.2e-15 relative]: rtol 1e-9 as above.
- cmprsk::crr: on tie-free data (mgus2 with etime + id/10000) finegray + Breslow coxph and crr
  maximise the same partial likelihood; crr (gtol = 1e-8) stops on its own gradient rule
  [coefficients 1.6e-8 relative]: rtol 1e-6. On the original (tied) months they differ by ~2e-3
  relative because crr's censoring Kaplan–Meier keeps people who fail at t in the censoring
  risk set at t while finegray removes them first (its 0.2 shift); that difference is
  asserted to be present and small (< 1%). crr's standard errors are its own sandwich, which
  also accounts for estimating the censoring weights; coxph's robust SE treats them as known
  [0.56% on age, 0.05% on male]: rtol 1e-2.
- cause_specific_cox vs coxph(Surv(etime, event == cause) ~ ...): rtol 1e-9.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from coacheval.retention.competing import cause_specific_cox, cumulative_incidence
from coacheval.retention.finegray import finegray_expand, fit_finegray

REF = Path(__file__).parent / "reference"
AJ_TOL = {"rtol": 1e-11, "atol": 1e-14}
FG_WT_TOL = {"rtol": 1e-12, "atol": 0}
COEF_TOL = {"rtol": 1e-9, "atol": 0}
CRR_COEF_TOL = {"rtol": 1e-6, "atol": 0}
CRR_SE_TOL = {"rtol": 1e-2, "atol": 0}


def _data(name: str) -> pd.DataFrame:
    if name == "mgus2_hgb":  # complete cases on hgb, as competing.R's age-scale finegray
        mg = pd.read_csv(REF / "data" / "competing_mgus2.csv")
        return mg[mg["hgb"].notna()].reset_index(drop=True)
    return pd.read_csv(REF / "data" / f"competing_{name}.csv")


def _expected(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / "expected" / f"competing_{name}.csv")


AJ_CASES = {
    "mgus2_by_sex": ("mgus2", {"stop_col": "etime", "event_col": "event", "group_col": "male"}),
    "mgus2_weighted": ("mgus2", {"stop_col": "etime", "event_col": "event", "weights_col": "w"}),
    "mgus2_split_by_sex": (
        "mgus2_split",
        {
            "start_col": "tstart",
            "stop_col": "tstop",
            "event_col": "event",
            "group_col": "male",
            "id_col": "id",
        },
    ),
    "mgus2_age_weighted": (
        "mgus2",
        {
            "start_col": "entry",
            "stop_col": "exit",
            "event_col": "event",
            "id_col": "id",
            "weights_col": "w",
        },
    ),
    "pbc_tv": (
        "pbc",
        {"start_col": "tstart", "stop_col": "tstop", "event_col": "event", "id_col": "id"},
    ),
}


@pytest.mark.parametrize("case", list(AJ_CASES))
def test_aalen_johansen_matches_survfit(case: str) -> None:
    data_name, kwargs = AJ_CASES[case]
    res = cumulative_incidence(_data(data_name), **kwargs)
    exp = _expected("aj")
    exp = exp[exp["case"] == case].reset_index(drop=True)
    got = res.table.assign(group=res.table["group"].astype(str))
    exp = exp.assign(group=exp["group"].astype(str))
    # same rows (group, cause, time) in both
    key = ["group", "cause", "time"]
    exp = exp.sort_values(key).reset_index(drop=True)
    got = got.sort_values(key).reset_index(drop=True)
    assert len(got) == len(exp)
    assert_array_equal(got[key[:2]].to_numpy(), exp[key[:2]].to_numpy())
    assert_array_equal(got["time"].to_numpy(), exp["time"].to_numpy())
    assert_array_equal(got["n_risk"].to_numpy(), exp["n_risk"].to_numpy())
    assert_array_equal(got["n_event"].to_numpy(), exp["n_event"].to_numpy())
    for col in ("estimate", "std_error", "conf_low", "conf_high"):
        assert_allclose(got[col].to_numpy(float), exp[col].to_numpy(float), **AJ_TOL)


def test_splitting_rows_leaves_the_curves_unchanged() -> None:
    whole = cumulative_incidence(
        _data("mgus2"), stop_col="etime", event_col="event", group_col="male"
    ).table
    split = cumulative_incidence(
        _data("mgus2_split"),
        start_col="tstart",
        stop_col="tstop",
        event_col="event",
        group_col="male",
        id_col="id",
    ).table
    assert len(whole) == len(split)
    assert_array_equal(whole["time"], split["time"])
    assert_array_equal(whole["n_risk"], split["n_risk"])
    for col in ("estimate", "std_error"):
        assert_allclose(whole[col], split[col], rtol=1e-12, atol=1e-15)


FG_CASES = {
    "mgus2_pcm": ("mgus2", {"stop_col": "etime", "event_col": "event", "cause": "pcm"}),
    "mgus2_death": ("mgus2", {"stop_col": "etime", "event_col": "event", "cause": "death"}),
    "mgus2_pcm_weighted": (
        "mgus2",
        {"stop_col": "etime", "event_col": "event", "cause": "pcm", "weights_col": "w"},
    ),
    "mgus2_age": (
        "mgus2_hgb",
        {"start_col": "entry", "stop_col": "exit", "event_col": "event", "cause": "pcm"},
    ),
    "pbc": (
        "pbc",
        {"start_col": "tstart", "stop_col": "tstop", "event_col": "event", "cause": "death"},
    ),
}


@pytest.mark.parametrize("case", list(FG_CASES))
def test_finegray_expand_matches_survival_finegray(case: str) -> None:
    data_name, kwargs = FG_CASES[case]
    fg = finegray_expand(_data(data_name), id_col="id", **kwargs)
    exp = _expected(f"fg_{case}")
    assert len(fg) == len(exp)
    for col in ("id", "fgstart", "fgstop", "fgstatus"):
        assert_array_equal(fg[col].to_numpy(float), exp[col].to_numpy(float))
    assert_allclose(fg["fgwt"], exp["fgwt"], **FG_WT_TOL)


FIT_CASES = {
    "mgus2_pcm_breslow": ("mgus2", FG_CASES["mgus2_pcm"][1], ["age", "male"], "breslow"),
    "mgus2_pcm_efron": ("mgus2", FG_CASES["mgus2_pcm"][1], ["age", "male"], "efron"),
    "mgus2_death_efron": ("mgus2", FG_CASES["mgus2_death"][1], ["age", "male"], "efron"),
    "mgus2_pcm_weighted": ("mgus2", FG_CASES["mgus2_pcm_weighted"][1], ["age", "male"], "efron"),
    "mgus2_age_pcm": ("mgus2_hgb", FG_CASES["mgus2_age"][1], ["male", "hgb"], "efron"),
    "pbc_death_tv": (
        "pbc",
        FG_CASES["pbc"][1],
        ["age", "female", "log_bili", "albumin"],
        "efron",
    ),
}


@pytest.mark.parametrize("case", list(FIT_CASES))
def test_fit_finegray_matches_weighted_coxph(case: str) -> None:
    data_name, kwargs, covs, ties = FIT_CASES[case]
    res = fit_finegray(
        _data(data_name), id_col="id", covariates=covs, ties=ties, tol=1e-11, **kwargs
    )
    exp = _expected("fg_coefs")
    exp = exp[exp["case"] == case].set_index("term").loc[covs]
    assert_allclose(res.coef.to_numpy(), exp["estimate"].to_numpy(), **COEF_TOL)
    assert_allclose(res.std_error.to_numpy(), exp["robust_std_error"].to_numpy(), **COEF_TOL)
    assert_allclose(res.cox.std_error_model.to_numpy(), exp["std_error"].to_numpy(), **COEF_TOL)
    assert res.cox.n_obs == exp["n_obs"].iloc[0]
    assert res.n_events == exp["n_events"].iloc[0]


MEL_COVS = ["male", "ulcer", "log_thick"]
MEL_KW = {"start_col": "entry", "stop_col": "exit", "event_col": "event", "id_col": "id"}
MEL_TIES = {"melanoma": "efron", "other": "breslow"}


def _weight_at_exit_times(fg: pd.DataFrame) -> pd.DataFrame:
    """(id, t, weight) for every exit time t of the cause inside a row with weight > 0."""
    et = np.unique(fg.loc[fg["fgstatus"] == 1, "fgstop"])
    lo = np.searchsorted(et, fg["fgstart"].to_numpy(), side="right")
    hi = np.searchsorted(et, fg["fgstop"].to_numpy(), side="right")
    n = hi - lo
    rows = np.repeat(np.arange(len(fg)), n)
    k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    out = pd.DataFrame(
        {"id": fg["id"].to_numpy()[rows], "t": et[lo[rows] + k], "w": fg["fgwt"].to_numpy()[rows]}
    )
    return out[out["w"] > 0].sort_values(["id", "t"]).reset_index(drop=True)


@pytest.mark.parametrize("cause", ["melanoma", "other"])
def test_finegray_expand_at_a_break_matches_finegray_where_finite(cause: str) -> None:
    fg = finegray_expand(_data("melanoma"), cause=cause, **MEL_KW)
    exp = _expected(f"fg_melanoma_{cause}_whole")
    assert len(fg) == len(exp)
    for col in ("id", "fgstart", "fgstop", "fgstatus"):
        assert_array_equal(fg[col].to_numpy(float), exp[col].to_numpy(float))
    finite = np.isfinite(exp["fgwt"].to_numpy())
    assert (~finite).sum() > 100  # the fixture exercises finegray's NaN weights
    if cause == "melanoma":
        assert np.isinf(exp["fgwt"]).sum() == 14
    assert_allclose(fg["fgwt"][finite], exp["fgwt"][finite], **FG_WT_TOL)
    assert np.isfinite(fg["fgwt"]).all() and (fg["fgwt"] >= 0).all()


@pytest.mark.parametrize("cause", ["melanoma", "other"])
def test_finegray_weights_at_a_break_match_finegray_per_stretch(cause: str) -> None:
    got = _weight_at_exit_times(finegray_expand(_data("melanoma"), cause=cause, **MEL_KW))
    exp = _weight_at_exit_times(_expected(f"fg_melanoma_{cause}_stretch"))
    assert len(got) == {"melanoma": 1441, "other": 848}[cause]
    assert_array_equal(got[["id", "t"]].to_numpy(), exp[["id", "t"]].to_numpy())
    assert_allclose(got["w"], exp["w"], **FG_WT_TOL)


@pytest.mark.parametrize("cause", ["melanoma", "other"])
def test_fit_finegray_at_a_break_matches_coxph_per_stretch(cause: str) -> None:
    res = fit_finegray(
        _data("melanoma"),
        cause=cause,
        covariates=MEL_COVS,
        ties=MEL_TIES[cause],
        tol=1e-11,
        **MEL_KW,
    )
    exp = _expected("fg_coefs")
    exp = exp[exp["case"] == f"melanoma_age_{cause}"].set_index("term").loc[MEL_COVS]
    assert_allclose(res.coef.to_numpy(), exp["estimate"].to_numpy(), **COEF_TOL)
    assert_allclose(res.std_error.to_numpy(), exp["robust_std_error"].to_numpy(), **COEF_TOL)
    assert_allclose(res.cox.std_error_model.to_numpy(), exp["std_error"].to_numpy(), **COEF_TOL)
    assert res.n_events == exp["n_events"].iloc[0]
    assert any("breaks at 1 time(s) (34698.8)" in note for note in res.notes)


def test_fit_finegray_matches_crr_without_ties() -> None:
    mg = _data("mgus2")
    mg["etime"] = mg["etime"] + mg["id"] / 10000
    res = fit_finegray(
        mg,
        cause="pcm",
        covariates=["age", "male"],
        stop_col="etime",
        event_col="event",
        id_col="id",
        tol=1e-11,
    )
    cox_ref = _expected("fg_untied").set_index("term").loc[["age", "male"]]
    assert_allclose(res.coef.to_numpy(), cox_ref["estimate"].to_numpy(), **COEF_TOL)
    assert_allclose(res.std_error.to_numpy(), cox_ref["robust_std_error"].to_numpy(), **COEF_TOL)
    crr = _expected("crr")
    crr = crr[crr["case"] == "mgus2_untied_pcm"].set_index("term").loc[["age", "male"]]
    assert crr["converged"].all()
    assert_allclose(res.coef.to_numpy(), crr["estimate"].to_numpy(), **CRR_COEF_TOL)
    assert_allclose(res.std_error.to_numpy(), crr["std_error"].to_numpy(), **CRR_SE_TOL)


@pytest.mark.parametrize("cause", ["pcm", "death"])
def test_fit_finegray_close_to_crr_with_tied_months(cause: str) -> None:
    res = fit_finegray(
        _data("mgus2"),
        cause=cause,
        covariates=["age", "male"],
        stop_col="etime",
        event_col="event",
        id_col="id",
        tol=1e-11,
    )
    crr = _expected("crr")
    crr = crr[crr["case"] == f"mgus2_{cause}"].set_index("term").loc[["age", "male"]]
    rel = np.abs(res.coef.to_numpy() / crr["estimate"].to_numpy() - 1)
    assert rel.max() < 1e-2  # tie handling of the censoring curve: ~2e-3 on pcm
    assert_allclose(res.std_error.to_numpy(), crr["std_error"].to_numpy(), **CRR_SE_TOL)


@pytest.mark.parametrize(
    ("case", "cause", "kwargs"),
    [
        ("mgus2_pcm", "pcm", {}),
        ("mgus2_death_weighted", "death", {"weights_col": "w", "robust": True}),
    ],
)
def test_cause_specific_cox_matches_coxph(case: str, cause: str, kwargs: dict) -> None:
    res = cause_specific_cox(
        _data("mgus2"),
        cause=cause,
        event_col="event",
        stop_col="etime",
        covariates=["age", "male"],
        tol=1e-11,
        **kwargs,
    )
    exp = _expected("cs_coefs")
    exp = exp[exp["case"] == case].set_index("term").loc[["age", "male"]]
    assert_allclose(res.coef.to_numpy(), exp["estimate"].to_numpy(), **COEF_TOL)
    assert_allclose(res.std_error.to_numpy(), exp["std_error"].to_numpy(), **COEF_TOL)
    assert (res.table["cause"] == cause).all()
