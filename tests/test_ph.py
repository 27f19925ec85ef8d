"""Proportional-hazards diagnostics (coacheval.retention.ph): simulation, invariances, edge cases.

R comparisons are in test_ph_vs_r.py. Here:
- Size under proportional hazards (exponential times, random censoring; seeded): the global
  and per-term km tests at 5% over 500 replications must reject in a share inside the central
  99.9% binomial band around 0.05 ([0.022, 0.084]); the identity-scale global test on
  counting-process, stratified data likewise (300 replications, band [0.013, 0.097]).
- Power against a log hazard ratio that changes sign over time (+1 before t = 0.4, -1 after),
  on (start, stop] data: the term's test rejects in at least 90% of 100 replications, and the
  residual smooth recovers the sign change (observed mean +1.02 over the first third of the
  km time axis, -0.89 over the last third; asserted > 0.5 and < -0.5).
- Invariances: splitting rows into (start, stop] pieces (km/identity unchanged), monotone time
  transforms (km, rank), covariate shift/scale, unit weights vs unweighted (identical), equal
  weights c (chi-square times c; Breslow: equal to duplicating every row).
- Edge cases: a single event, events at one time only, no events, ties, a stratum with one
  event, a one-row stratum (covariates constant there), bad options.
"""

from __future__ import annotations

import dataclasses

import matplotlib
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

from coacheval.errors import ConfigError, DataValidationError
from coacheval.retention.cox import fit_cox
from coacheval.retention.ph import PHTestResult, cox_zph, schoenfeld_residuals

matplotlib.use("Agg")

_KW = {"start_col": None, "stop_col": "time", "event_col": "event"}


def _sim_ph(rng: np.random.Generator, n: int = 150) -> pd.DataFrame:
    x1 = rng.binomial(1, 0.5, n).astype(float)
    x2 = rng.normal(size=n)
    t = rng.exponential(1 / np.exp(0.7 * x1 - 0.5 * x2))
    c = rng.exponential(2.0, n)
    return pd.DataFrame(
        {"time": np.minimum(t, c), "event": (t <= c).astype(int), "x1": x1, "x2": x2}
    )


def _sim_sign_change(rng: np.random.Generator, n: int = 200, tau: float = 0.4) -> pd.DataFrame:
    """Log hazard ratio of x: +1 before tau, -1 after (baseline hazard 1)."""
    x = rng.binomial(1, 0.5, n).astype(float)
    h1, h2 = np.exp(x), np.exp(-x)
    e = rng.exponential(size=n)
    t = np.where(e < h1 * tau, e / h1, tau + (e - h1 * tau) / h2)
    c = rng.uniform(0.5, 4.0, n)
    return pd.DataFrame({"time": np.minimum(t, c), "event": (t <= c).astype(int), "x": x})


def _split(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Cut every row at a uniform time into two (start, stop] rows (same covariates)."""
    cut = df["time"] * rng.uniform(0.2, 0.8, len(df))
    first = df.assign(start=0.0, stop=cut, event=0)
    second = df.assign(start=cut, stop=df["time"])
    out = pd.concat([first, second]).drop(columns="time")
    return out.sample(frac=1.0, random_state=1).reset_index(drop=True)  # rows in any order


def _band(n: int, p: float = 0.05, level: float = 0.999) -> tuple[float, float]:
    lo, hi = stats.binom.ppf([(1 - level) / 2, (1 + level) / 2], n, p)
    return lo / n, hi / n


# ----------------------------------------------------------------------------- simulation ---


def test_size_under_proportional_hazards():
    rng = np.random.default_rng(20240611)
    reps = 500
    p_global, p_terms = np.empty(reps), np.empty((reps, 2))
    for r in range(reps):
        res = fit_cox(_sim_ph(rng), **_KW, covariates=["x1", "x2"])
        p = cox_zph(res).table["p_value"].to_numpy()
        p_terms[r], p_global[r] = p[:2], p[2]
    lo, hi = _band(reps)
    assert lo <= np.mean(p_global < 0.05) <= hi
    for k in range(2):
        assert lo <= np.mean(p_terms[:, k] < 0.05) <= hi
    # under H0 the p-values are close to uniform, not just right at 5%
    assert stats.kstest(p_global, "uniform").pvalue > 0.001


def test_size_counting_process_strata():
    rng = np.random.default_rng(77)
    reps = 300
    rejected = np.empty(reps, dtype=bool)
    for r in range(reps):
        df = _sim_ph(rng, n=160)
        df["site"] = np.arange(len(df)) % 2  # two strata with the same coefficients
        cp = _split(df, rng)
        res = fit_cox(
            cp,
            start_col="start",
            stop_col="stop",
            event_col="event",
            covariates=["x1", "x2"],
            strata_col="site",
        )
        rejected[r] = cox_zph(res, transform="identity").table["p_value"].iloc[-1] < 0.05
    lo, hi = _band(reps)
    assert lo <= rejected.mean() <= hi


def test_power_against_sign_changing_hazard_ratio():
    rng = np.random.default_rng(5)
    reps = 100
    p = np.empty(reps)
    early, late = np.empty(reps), np.empty(reps)
    for r in range(reps):
        df = _sim_sign_change(rng)
        cp = _split(df, rng)  # the (start, stop] path
        res = fit_cox(cp, start_col="start", stop_col="stop", event_col="event", covariates=["x"])
        z = cox_zph(res)
        p[r] = z.table["p_value"].iloc[0]
        sm = z.smooth("x", n_grid=30)["fit"].to_numpy()
        early[r], late[r] = sm[:10].mean(), sm[-10:].mean()
    assert np.mean(p < 0.05) >= 0.9
    # beta(t) is +1 then -1: the smooth of the scaled residuals finds both signs
    assert early.mean() > 0.5
    assert late.mean() < -0.5


# ----------------------------------------------------------------------------- invariances ---


@pytest.fixture(scope="module")
def sim() -> pd.DataFrame:
    return _sim_ph(np.random.default_rng(11), n=300)


def test_split_rows_give_the_same_test(sim):
    res = fit_cox(sim, **_KW, covariates=["x1", "x2"])
    cp = _split(sim, np.random.default_rng(3))
    res_cp = fit_cox(
        cp, start_col="start", stop_col="stop", event_col="event", covariates=["x1", "x2"]
    )
    assert_allclose(res_cp.coef, res.coef, rtol=1e-9)
    for transform in ("km", "identity", "log"):
        a = cox_zph(res, transform=transform)
        b = cox_zph(res_cp, transform=transform)
        assert_allclose(b.table["statistic"], a.table["statistic"], rtol=1e-7)
        # the same events (split rows carry them at their original times)
        assert_allclose(np.sort(b.residuals["x1"]), np.sort(a.residuals["x1"]), rtol=1e-7)


def test_monotone_time_transforms_do_not_change_km_and_rank(sim):
    res = fit_cox(sim, **_KW, covariates=["x1", "x2"])
    res2 = fit_cox(sim.assign(time=np.exp(sim["time"]) * 30), **_KW, covariates=["x1", "x2"])
    for transform in ("km", "rank"):
        assert_allclose(
            cox_zph(res2, transform=transform).table["statistic"],
            cox_zph(res, transform=transform).table["statistic"],
            rtol=1e-9,
        )
    # identity: invariant to rescaling time (g and its information scale together)
    res3 = fit_cox(sim.assign(time=sim["time"] * 365.25), **_KW, covariates=["x1", "x2"])
    assert_allclose(
        cox_zph(res3, transform="identity").table["statistic"],
        cox_zph(res, transform="identity").table["statistic"],
        rtol=1e-9,
    )


def test_covariate_shift_and_scale(sim):
    base = cox_zph(fit_cox(sim, **_KW, covariates=["x1", "x2"]))
    moved = sim.assign(x2=10 + 3 * sim["x2"])
    other = cox_zph(fit_cox(moved, **_KW, covariates=["x1", "x2"]))
    assert_allclose(other.table["statistic"], base.table["statistic"], rtol=1e-8)
    # scaled residuals estimate beta(t), which scales with 1/3
    assert_allclose(3 * other.residuals["x2"], base.residuals["x2"], rtol=1e-7)


def test_unit_weights_identical_to_unweighted(sim):
    a = fit_cox(sim, **_KW, covariates=["x1", "x2"])
    b = fit_cox(sim.assign(w=1.0), **_KW, covariates=["x1", "x2"], weights_col="w")
    za, zb = cox_zph(a), cox_zph(b)
    pd.testing.assert_frame_equal(za.table, zb.table)
    pd.testing.assert_frame_equal(za.residuals, zb.residuals)
    pd.testing.assert_frame_equal(schoenfeld_residuals(a), schoenfeld_residuals(b))
    pd.testing.assert_frame_equal(
        schoenfeld_residuals(a, scaled=True), schoenfeld_residuals(b, scaled=True)
    )


def test_equal_weights_are_frequency_weights():
    # ties matter: round the times so that many events share a time
    df = _sim_ph(np.random.default_rng(8), n=200).assign(time=lambda d: np.ceil(d["time"] * 8))
    plain = fit_cox(df, **_KW, covariates=["x1", "x2"], ties="breslow")
    double = fit_cox(
        df.assign(w=2.0), **_KW, covariates=["x1", "x2"], weights_col="w", ties="breslow"
    )
    dup = fit_cox(
        pd.concat([df, df], ignore_index=True), **_KW, covariates=["x1", "x2"], ties="breslow"
    )
    z1, z2, zd = cox_zph(plain), cox_zph(double), cox_zph(dup, transform="km")
    assert_allclose(z2.table["statistic"], 2 * z1.table["statistic"], rtol=1e-9)
    # weights c = duplicating every row c times (Breslow; the km transform is unweighted
    # in R, and duplicating rows leaves the Kaplan-Meier curve unchanged)
    assert_allclose(zd.table["statistic"], z2.table["statistic"], rtol=1e-9)
    assert_allclose(schoenfeld_residuals(double), schoenfeld_residuals(plain), atol=1e-10)
    # weighted residuals are the residuals times the weights
    assert_allclose(
        schoenfeld_residuals(double, weighted=True)[["x1", "x2"]],
        2 * schoenfeld_residuals(double)[["x1", "x2"]],
        rtol=1e-14,
    )


def test_residuals_sum_to_the_score_and_callable_transform(sim):
    res = fit_cox(sim, **_KW, covariates=["x1", "x2"], tol=1e-12)
    r = schoenfeld_residuals(res)
    assert_allclose(r[["x1", "x2"]].sum(), 0, atol=1e-9)  # the score at the estimate
    assert len(r) == res.n_events
    assert r["time"].is_monotonic_increasing
    order = sim[sim["event"] == 1].sort_values("time", kind="stable").index
    assert_array_equal(r.index, order)
    assert_allclose(
        cox_zph(res, transform=np.log).table["statistic"],
        cox_zph(res, transform="log").table["statistic"],
        rtol=1e-14,
    )
    assert cox_zph(res, transform=np.log).transform == "log"


def test_efron_equals_breslow_without_ties(sim):
    a = cox_zph(fit_cox(sim, **_KW, covariates=["x1", "x2"], ties="efron"))
    b = cox_zph(fit_cox(sim, **_KW, covariates=["x1", "x2"], ties="breslow"))
    assert sim.loc[sim["event"] == 1, "time"].is_unique
    assert_allclose(a.table["statistic"], b.table["statistic"], rtol=1e-10)


def test_ties_efron_differs_from_breslow_and_tied_events_share_xbar():
    df = _sim_ph(np.random.default_rng(9), n=200).assign(time=lambda d: np.ceil(d["time"] * 4))
    a = fit_cox(df, **_KW, covariates=["x1", "x2"], ties="efron")
    b = fit_cox(df, **_KW, covariates=["x1", "x2"], ties="breslow")
    za, zb = cox_zph(a), cox_zph(b)
    assert not np.allclose(za.table["statistic"], zb.table["statistic"], rtol=1e-4)
    r = schoenfeld_residuals(a)
    events = df.loc[r.index]
    # x - residual is the risk-set mean, one value per event time
    xbar = events["x2"] - r["x2"]
    spread = xbar.groupby(r["time"]).agg(lambda v: v.max() - v.min())
    assert spread.max() < 1e-12
    assert (r["time"].value_counts() > 1).sum() >= 5  # there were ties to check


# ----------------------------------------------------------------------------- edge cases ---


def _small() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "time": [5, 8, 12, 3, 9, 15, 7, 11, 4, 14, 6, 10],
            "event": [1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1],
            "x": [0, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1, 0],
            "z": [2.0, 1.5, 0.3, 1.1, 0.2, 0.9, 1.7, 0.4, 2.2, 0.1, 0.8, 1.3],
        }
    )


def test_single_event_is_a_clear_error():
    df = _small().assign(event=0)
    df.loc[3, "event"] = 1
    res = fit_cox(df, **_KW, covariates=["z"])
    r = schoenfeld_residuals(res)
    assert len(r) == 1 and r.index[0] == 3
    with pytest.raises(DataValidationError, match="one distinct time"):
        cox_zph(res)


def test_events_at_one_time_only_is_a_clear_error():
    df = _small()
    df["event"] = (df["time"] == 8).astype(int)
    df.loc[df["time"] == 9, ["time", "event"]] = [8, 1]  # two tied events
    res = fit_cox(df, **_KW, covariates=["z"])
    with pytest.raises(DataValidationError, match="2 or more times"):
        cox_zph(res)


def test_no_events_is_a_clear_error():
    with pytest.raises(DataValidationError, match="no events"):
        fit_cox(_small().assign(event=0), **_KW, covariates=["x"])


def test_stratum_with_one_event_and_one_row_stratum():
    df = _sim_ph(np.random.default_rng(4), n=120)
    df["site"] = np.where(np.arange(120) < 60, "a", "b")
    df.loc[0, ["site", "event"]] = ["solo", 1]  # a one-row stratum: one event, x constant
    df.loc[1:3, "site"] = "three"  # a three-row stratum with one event
    df.loc[1:3, "event"] = [1, 0, 0]
    res = fit_cox(df, **_KW, covariates=["x1", "x2"], strata_col="site")
    r = schoenfeld_residuals(res)
    assert_array_equal(r.loc[0, ["x1", "x2"]], [0.0, 0.0])  # alone in its risk set
    z = cox_zph(res)
    assert r.loc[0, "stratum"] == "solo" and z.residuals.loc[0, "stratum"] == "solo"
    assert z.residuals.loc[0, ["x1", "x2"]].isna().all()
    varies = df.loc[1:3, ["x1", "x2"]].nunique() > 1
    assert_array_equal(z.residuals.loc[1, ["x1", "x2"]].notna(), varies)
    assert np.isfinite(z.table["statistic"]).all()
    # a stratum without events contributes nothing
    df2 = pd.concat([df, df.iloc[60:70].assign(site="quiet", event=0)], ignore_index=True)
    z2 = cox_zph(
        fit_cox(df2, **_KW, covariates=["x1", "x2"], strata_col="site"), transform="identity"
    )
    assert_allclose(
        z2.table["statistic"], cox_zph(res, transform="identity").table["statistic"], rtol=1e-10
    )


def test_groups_and_terms_options():
    df = _sim_ph(np.random.default_rng(6), n=200)
    df["grp"] = np.random.default_rng(7).integers(0, 3, len(df))
    df["g1"], df["g2"] = (df["grp"] == 1) * 1.0, (df["grp"] == 2) * 1.0
    res = fit_cox(df, **_KW, covariates=["x1", "g1", "g2", "x2"])
    z = cox_zph(res, groups={"grp": ["g1", "g2"]})
    assert list(z.table["term"]) == ["x1", "grp", "x2", "GLOBAL"]
    assert list(z.table["df"]) == [1, 2, 1, 4]
    assert list(z.residuals.columns[-3:]) == ["x1", "grp", "x2"]
    single = cox_zph(res, groups={"grp": ["g1", "g2"]}, terms=False)
    assert list(single.table["term"]) == ["x1", "g1", "g2", "x2", "GLOBAL"]
    assert_allclose(single.table["statistic"].iloc[-1], z.table["statistic"].iloc[-1])
    no_global = cox_zph(res, global_test=False)
    assert "GLOBAL" not in set(no_global.table["term"])
    with pytest.raises(ConfigError, match="not a covariate"):
        cox_zph(res, groups={"grp": ["g1", "g9"]})
    with pytest.raises(ConfigError, match="in terms"):
        cox_zph(res, groups={"a": ["g1"], "b": ["g1", "g2"]})
    with pytest.raises(ConfigError, match="also a covariate"):
        cox_zph(res, groups={"x1": ["g1", "g2"]})


def test_bad_inputs():
    res = fit_cox(_small(), **_KW, covariates=["x", "z"])
    with pytest.raises(ConfigError, match="transform"):
        cox_zph(res, transform="loglog")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="one value per row"):
        cox_zph(res, transform=lambda t: t[:3])
    with pytest.raises(ConfigError, match="CoxResult"):
        cox_zph(res.table)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="design"):
        schoenfeld_residuals(dataclasses.replace(res, _design=None))
    at_zero = _small()
    at_zero.loc[0, "time"] = 0
    res0 = fit_cox(at_zero, **_KW, covariates=["z"])
    with pytest.raises(DataValidationError, match="positive event times"):
        cox_zph(res0, transform="log")
    z = cox_zph(res)
    with pytest.raises(ConfigError, match="unknown term"):
        z.smooth("nope")
    with pytest.raises(ConfigError, match="unknown term"):
        z.plot(["nope"])


def test_result_object_summary_and_plot():
    df = _sim_ph(np.random.default_rng(12), n=200)
    df["g1"] = (np.arange(200) % 3 == 1) * 1.0
    df["g2"] = (np.arange(200) % 3 == 2) * 1.0
    res = fit_cox(df, **_KW, covariates=["x1", "x2", "g1", "g2"])
    z = cox_zph(res, groups={"g": ["g1", "g2"]})
    assert isinstance(z, PHTestResult)
    text = z.summary()
    assert "GLOBAL" in text and "cox.zph" in text
    assert z.to_dict()["table"][0]["term"] == "x1"
    assert list(z.var.index) == ["x1", "x2", "g"]
    fig = z.plot()
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 3
    # the horizontal reference line sits at the coefficient (at 1 for the grouped term)
    refs = [ax.lines[-1].get_ydata()[0] for ax in visible]
    assert_allclose(refs, [res.coef["x1"], res.coef["x2"], 1.0])
    # smooth + 2 band lines + reference line per panel
    assert all(len(ax.lines) == 4 for ax in visible)
    assert len(z.plot(["x2"], resid=False).axes) == 1
