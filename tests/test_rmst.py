"""rmst: closed-form truth (exponential, Weibull), CI coverage, lifelines' point estimate, edges.

R comparisons are in test_km_vs_r.py. Replications are stacked as groups of one call.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time
from matplotlib.figure import Figure
from numpy.testing import assert_allclose
from scipy import special

from coacheval.errors import ConfigError, DataValidationError
from coacheval.retention.rmst import rmst


def _exp_rmst(rate: float, tau: float) -> float:
    return (1 - np.exp(-rate * tau)) / rate


def _weibull_rmst(shape: float, scale: float, tau: float) -> float:
    # int_0^tau exp(-(t/scale)^shape) dt = scale/shape * gamma(1/shape) * P(1/shape, (tau/scale)^shape)
    a = 1 / shape
    return scale * a * special.gamma(a) * special.gammainc(a, (tau / scale) ** shape)


def _sample(rng: np.random.Generator, t: np.ndarray, cmax: float = 4.0) -> tuple:
    c = rng.uniform(0, cmax, size=t.shape)
    return np.minimum(t, c), (t <= c).astype(int)


def test_rmst_coverage_and_se_exponential() -> None:
    rng = np.random.default_rng(101)
    reps, n, tau = 1000, 150, 1.5
    time, event = _sample(rng, rng.exponential(1.0, (reps, n)))
    df = pd.DataFrame({"rep": np.repeat(np.arange(reps), n), "t": time.ravel(), "e": event.ravel()})
    tab = rmst(df, tau=tau, stop_col="t", event_col="e", group_col="rep").table
    truth = _exp_rmst(1.0, tau)
    cover = ((tab["conf_low"] <= truth) & (truth <= tab["conf_high"])).mean()
    assert 0.93 <= cover <= 0.97, cover
    assert abs(tab["estimate"].mean() - truth) < 0.005  # bias; SE of the mean ~0.002
    assert tab["std_error"].mean() / tab["estimate"].std() == pytest.approx(1, abs=0.08)


def test_rmst_difference_coverage_two_arms() -> None:
    rng = np.random.default_rng(202)
    reps, n, tau = 800, 120, 1.5
    t0 = rng.exponential(1 / 1.0, (reps, n))
    t1 = 1.1 * rng.weibull(1.4, (reps, n))
    rows = []
    for arm, t in ((0, t0), (1, t1)):
        time, event = _sample(rng, t)
        rows.append(
            pd.DataFrame(
                {
                    "rep": np.repeat(np.arange(reps), n),
                    "arm": arm,
                    "t": time.ravel(),
                    "e": event.ravel(),
                }
            )
        )
    df = pd.concat(rows)
    df["cell"] = df["rep"] * 2 + df["arm"]
    tab = rmst(df, tau=tau, stop_col="t", event_col="e", group_col="cell").table
    est = tab["estimate"].to_numpy().reshape(reps, 2)
    se = tab["std_error"].to_numpy().reshape(reps, 2)
    diff, se_d = est[:, 1] - est[:, 0], np.hypot(se[:, 0], se[:, 1])
    truth = _weibull_rmst(1.4, 1.1, tau) - _exp_rmst(1.0, tau)
    cover = np.mean(np.abs(diff - truth) <= 1.959964 * se_d)
    assert 0.93 <= cover <= 0.97, cover
    assert abs(diff.mean() - truth) < 0.01
    # the contrasts of one two-arm call are the same arithmetic
    one = rmst(df[df["rep"] == 0], tau=tau, stop_col="t", event_col="e", group_col="arm")
    c = one.contrasts.set_index("term")
    assert c.loc["difference: 1 - 0", "estimate"] == pytest.approx(diff[0], rel=1e-12)
    assert c.loc["difference: 1 - 0", "std_error"] == pytest.approx(se_d[0], rel=1e-12)
    assert c.loc["ratio: 1 / 0", "estimate"] == pytest.approx(est[0, 1] / est[0, 0], rel=1e-12)


def test_weibull_large_sample_and_robust_close_to_greenwood() -> None:
    rng = np.random.default_rng(303)
    n, tau = 20000, 1.5
    time, event = _sample(rng, 1.3 * rng.weibull(0.8, n), cmax=5.0)
    df = pd.DataFrame({"id": np.arange(n), "t": time, "e": event})
    green = rmst(df, tau=tau, stop_col="t", event_col="e").table.iloc[0]
    assert abs(green["estimate"] - _weibull_rmst(0.8, 1.3, tau)) < 4 * green["std_error"]
    ij = rmst(df, tau=tau, stop_col="t", event_col="e", cluster_col="id").table.iloc[0]
    assert ij["estimate"] == green["estimate"]
    assert ij["std_error"] == pytest.approx(green["std_error"], rel=0.01)


def test_robust_se_with_estimated_weights_covers() -> None:
    # confounded exposure, inverse-probability weights, IJ clustered by person
    rng = np.random.default_rng(404)
    reps, n, tau = 300, 300, 1.5
    x = rng.normal(size=(reps, n))
    p = 1 / (1 + np.exp(-x))
    a = rng.random((reps, n)) < p
    t = rng.exponential(1 / np.exp(0.5 * x))  # hazard exp(0.5 x), no effect of a
    time, event = _sample(rng, t, cmax=5.0)
    w = np.where(a, 1 / p, 1 / (1 - p))
    df = pd.DataFrame(
        {
            "cell": (np.arange(reps)[:, None] * 2 + a).ravel(),
            "id": np.arange(reps * n),
            "t": time.ravel(),
            "e": event.ravel(),
            "w": w.ravel(),
        }
    )
    tab = rmst(
        df,
        tau=tau,
        stop_col="t",
        event_col="e",
        group_col="cell",
        weights_col="w",
        cluster_col="id",
    ).table
    # marginal truth: E over x ~ N(0,1) of (1 - exp(-r tau)) / r, r = exp(0.5 x)
    z = np.random.default_rng(0).normal(size=400000)
    truth = np.mean(_exp_rmst(np.exp(0.5 * z), tau))
    cover = ((tab["conf_low"] <= truth) & (truth <= tab["conf_high"])).mean()
    assert 0.92 <= cover <= 0.98, cover  # 600 arm-replications
    assert abs(tab["estimate"].mean() - truth) < 0.01


def test_point_estimate_matches_lifelines() -> None:
    rng = np.random.default_rng(5)
    time, event = _sample(rng, rng.exponential(1.0, 400))
    df = pd.DataFrame({"t": time, "e": event})
    ours = rmst(df, tau=1.2, stop_col="t", event_col="e").table["estimate"].iloc[0]
    kmf = KaplanMeierFitter().fit(df["t"], df["e"])
    assert_allclose(ours, restricted_mean_survival_time(kmf, t=1.2), rtol=1e-10)


# --------------------------------------------------------------------------- edges ---


def test_tau_validation() -> None:
    df = pd.DataFrame({"t": [1, 2, 3, 8, 9, 10], "e": [1, 0, 1, 1, 0, 1], "g": [0, 0, 0, 1, 1, 1]})
    kw = {"stop_col": "t", "event_col": "e", "group_col": "g"}
    with pytest.raises(
        ConfigError, match=r"beyond the last follow-up time of group\(s\) 0 \(last time 3\)"
    ):
        rmst(df, tau=5, **kw)
    for bad in (0, -1, np.inf, "365", True):
        with pytest.raises(ConfigError, match="tau"):
            rmst(df, tau=bad, **kw)  # type: ignore[arg-type]
    assert rmst(df, tau=3, **kw).table["tau"].tolist() == [3.0, 3.0]


def test_no_events_and_single_group() -> None:
    df = pd.DataFrame({"t": [2.0, 4.0, 6.0], "e": [0, 0, 0]})
    res = rmst(df, tau=5, stop_col="t", event_col="e")
    assert res.table["estimate"].iloc[0] == 5 and res.table["std_error"].iloc[0] == 0
    assert res.contrasts.empty
    assert isinstance(res.plot(), Figure)


def test_zero_weights_and_missing_values() -> None:
    df = pd.DataFrame({"t": [1, 2, 3, 4, 5], "e": [1, 0, 1, 1, 0], "w": [1, 0, 2, 1, 1]})
    a = rmst(df, tau=4, stop_col="t", event_col="e", weights_col="w").table
    b = rmst(df[df.w > 0], tau=4, stop_col="t", event_col="e", weights_col="w").table
    pd.testing.assert_frame_equal(a.drop(columns="n"), b.drop(columns="n"))
    with pytest.raises(DataValidationError, match=r"missing values in column.*'w'"):
        rmst(df.assign(w=[1, np.nan, 1, 1, 1]), tau=4, stop_col="t", event_col="e", weights_col="w")


def test_tau_equal_to_an_event_time_and_delayed_entry() -> None:
    # area up to an event time excludes the drop at tau; Greenwood term at tau has area 0
    df = pd.DataFrame({"s": [0, 0, 1, 0], "t": [2.0, 3.0, 4.0, 5.0], "e": [1, 1, 1, 0]})
    res = rmst(df, tau=3, start_col="s", stop_col="t", event_col="e").table.iloc[0]
    # n at risk at 2: rows 1-4 (row 3 entered at 1) = 4, S = 3/4 on [2, 3)
    assert res["estimate"] == pytest.approx(2 + 0.75)
