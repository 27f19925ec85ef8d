"""kaplan_meier and logrank_test: simulated truth, a second implementation, invariances, edges.

R comparisons are in test_km_vs_r.py. Simulations are seeded; replications are stacked as
groups of one call, so each test runs in well under a second or two.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from matplotlib.figure import Figure
from numpy.testing import assert_allclose

from coacheval.errors import ConfigError, DataValidationError
from coacheval.retention.km import kaplan_meier, logrank_test

EXACT = {"rtol": 1e-12, "atol": 1e-14}


def _exp_sample(rng: np.random.Generator, n: int, reps: int, rate: float = 1.0) -> pd.DataFrame:
    t = rng.exponential(1 / rate, size=(reps, n))
    c = rng.uniform(0, 3, size=(reps, n))
    return pd.DataFrame(
        {
            "rep": np.repeat(np.arange(reps), n),
            "time": np.minimum(t, c).ravel(),
            "event": (t <= c).ravel().astype(int),
        }
    )


# ------------------------------------------------------------------ simulated truth ---


@pytest.mark.parametrize("conf_type", ["log-log", "log", "plain"])
def test_greenwood_coverage_exponential(conf_type: str) -> None:
    rng = np.random.default_rng(20240611)
    reps, t0 = 1000, 0.7
    df = _exp_sample(rng, 200, reps)
    km = kaplan_meier(df, stop_col="time", event_col="event", group_col="rep", conf_type=conf_type)
    at = km.survival_at([t0])
    truth = np.exp(-t0)
    cover = ((at["conf_low"] <= truth) & (truth <= at["conf_high"])).mean()
    assert 0.93 <= cover <= 0.97, cover  # binomial SE of a 0.95 rate over 1000 reps: 0.007
    assert abs(at["survival"].mean() - truth) < 0.004
    # Greenwood SE vs the spread over replications
    assert at["std_error"].mean() / at["survival"].std() == pytest.approx(1, abs=0.08)


def test_delayed_entry_recovers_truth_and_naive_is_biased() -> None:
    rng = np.random.default_rng(7)
    n = 40000
    entry = rng.uniform(0, 1, n)
    t = 1.2 * rng.weibull(1.5, n)  # S(t) = exp(-(t / 1.2) ** 1.5)
    keep = t > entry  # left truncation: only people still in post at entry are sampled
    c = entry + rng.uniform(0, 3, n)
    df = pd.DataFrame(
        {"start": entry, "stop": np.minimum(t, c), "event": (t <= c).astype(int)}
    ).loc[keep]
    t0 = np.array([0.8, 1.5])
    truth = np.exp(-((t0 / 1.2) ** 1.5))
    got = kaplan_meier(df, start_col="start", stop_col="stop", event_col="event").survival_at(t0)
    assert np.all(np.abs(got["survival"] - truth) < 4 * got["std_error"])
    naive = kaplan_meier(df, stop_col="stop", event_col="event").survival_at(t0)
    assert np.all(naive["survival"] - truth > 10 * naive["std_error"])  # ignores truncation


def test_conditional_on_entry_after_origin() -> None:
    # everyone enters at a = 0.5: the curve estimates S(t) / S(a)
    rng = np.random.default_rng(11)
    n = 30000
    t = rng.exponential(1.0, n)
    keep = t > 0.5
    df = pd.DataFrame({"start": 0.5, "stop": np.minimum(t, 4.0), "event": (t <= 4.0).astype(int)})
    got = kaplan_meier(
        df.loc[keep], start_col="start", stop_col="stop", event_col="event"
    ).survival_at([1.0, 2.0])
    truth = np.exp(-(np.array([1.0, 2.0]) - 0.5))
    assert np.all(np.abs(got["survival"] - truth) < 4 * got["std_error"])


# ------------------------------------------------------------ second implementation ---


@pytest.mark.filterwarnings("ignore:It looks like your weights are not integers")
def test_point_estimates_match_lifelines_with_entry_and_weights() -> None:
    rng = np.random.default_rng(3)
    n = 500
    entry = rng.uniform(0, 0.5, n)
    t = entry + rng.exponential(1.0, n)
    c = entry + rng.uniform(0, 2.5, n)
    w = rng.uniform(0.2, 3.0, n)
    df = pd.DataFrame({"start": entry, "stop": np.minimum(t, c), "event": (t <= c), "w": w})
    got = kaplan_meier(df, start_col="start", stop_col="stop", event_col="event", weights_col="w")
    kmf = KaplanMeierFitter().fit(df["stop"], df["event"], entry=df["start"], weights=df["w"])
    ref = kmf.survival_function_at_times(got.table["time"].to_numpy()).to_numpy()
    assert_allclose(got.table["survival"], ref, rtol=1e-10)
    tab = kaplan_meier(df, stop_col="stop", event_col="event")
    kmf = KaplanMeierFitter().fit(df["stop"], df["event"])
    ref = kmf.survival_function_at_times(tab.table["time"].to_numpy()).to_numpy()
    assert_allclose(tab.table["survival"], ref, rtol=1e-10)
    assert tab.medians["median"].iloc[0] == pytest.approx(kmf.median_survival_time_)


# ------------------------------------------------------------------------ invariances ---


def test_splitting_rows_of_a_person_changes_nothing() -> None:
    rng = np.random.default_rng(5)
    n = 300
    t = np.round(rng.exponential(10, n), 1) + 0.1
    e = rng.random(n) < 0.7
    w = rng.uniform(0.5, 2, n)
    one = pd.DataFrame({"id": np.arange(n), "start": 0.0, "stop": t, "event": e, "w": w})
    cut = np.round(t * rng.uniform(0.2, 0.8, n), 2)
    split = pd.concat(
        [
            pd.DataFrame({"id": np.arange(n), "start": 0.0, "stop": cut, "event": False, "w": w}),
            pd.DataFrame({"id": np.arange(n), "start": cut, "stop": t, "event": e, "w": w}),
        ]
    )
    kw = {"start_col": "start", "stop_col": "stop", "event_col": "event", "weights_col": "w"}
    a = kaplan_meier(one, **kw, cluster_col="id").table.set_index("time")
    b = kaplan_meier(split, **kw, cluster_col="id").table.set_index("time").loc[a.index]
    for col in ("n_risk", "n_event", "survival", "std_error", "conf_low", "conf_high"):
        assert_allclose(b[col], a[col], **EXACT, err_msg=col)


def test_integer_weights_equal_repeated_rows() -> None:
    rng = np.random.default_rng(9)
    n = 120
    df = pd.DataFrame(
        {
            "t": rng.integers(1, 30, n).astype(float),
            "e": rng.integers(0, 2, n),
            "g": rng.integers(0, 3, n),
            "s": rng.integers(0, 2, n),
            "w": rng.integers(1, 4, n),
        }
    )
    big = df.loc[df.index.repeat(df["w"])]
    kw = {"stop_col": "t", "event_col": "e", "group_col": "g"}
    a = kaplan_meier(df, **kw, weights_col="w").table
    b = kaplan_meier(big, **kw).table
    for col in ("n_risk", "survival", "std_error", "conf_low", "conf_high"):
        assert_allclose(a[col], b[col], **EXACT, err_msg=col)
    la = logrank_test(df, **kw, strata_col="s", weights_col="w")
    lb = logrank_test(big, **kw, strata_col="s")
    assert la.statistic == pytest.approx(lb.statistic, rel=1e-12)


def test_zero_weights_are_dropped() -> None:
    df = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6], "e": [1, 0, 1, 1, 0, 1], "w": [1, 0, 2, 1, 0, 1]})
    a = kaplan_meier(df, stop_col="t", event_col="e", weights_col="w").table
    b = kaplan_meier(df[df.w > 0], stop_col="t", event_col="e", weights_col="w").table
    pd.testing.assert_frame_equal(a, b)


# --------------------------------------------------------------------------- edges ---


def test_no_events() -> None:
    df = pd.DataFrame({"t": [1.0, 2.0, 3.0], "e": [0, 0, 0]})
    km = kaplan_meier(df, stop_col="t", event_col="e")
    assert (km.table["survival"] == 1).all()
    assert (km.table["std_error"] == 0).all()
    assert np.isnan(km.medians["median"].iloc[0])  # not reached
    assert km.table["conf_low"].isna().all()  # log-log limits undefined at S = 1, as R
    plain = kaplan_meier(df, stop_col="t", event_col="e", conf_type="plain").table
    assert (plain["conf_low"] == 1).all()


def test_all_events_at_one_time() -> None:
    df = pd.DataFrame({"t": [5.0] * 4, "e": [1] * 4})
    km = kaplan_meier(df, stop_col="t", event_col="e")
    row = km.table.iloc[0]
    assert row["n_risk"] == 4 and row["n_event"] == 4 and row["survival"] == 0
    assert np.isnan(row["std_error"])  # R: surv * Inf
    assert km.medians["median"].iloc[0] == 5
    robust = kaplan_meier(df.assign(id=range(4)), stop_col="t", event_col="e", cluster_col="id")
    assert robust.table["std_error"].iloc[0] == 0  # R's robust std.err is 0 where S = 0


def test_ties_with_censoring_at_event_time() -> None:
    # censored at an event time stays at risk for that event (R's convention)
    df = pd.DataFrame({"t": [2, 2, 2, 3], "e": [1, 1, 0, 1]})
    tab = kaplan_meier(df, stop_col="t", event_col="e").table
    assert_allclose(tab["survival"], [0.5, 0.0])
    assert tab["n_censor"].tolist() == [1.0, 0.0]


@pytest.mark.parametrize(("event", "surv"), [(1, 0.0), (0, 1.0)])
def test_single_subject(event: int, surv: float) -> None:
    km = kaplan_meier(pd.DataFrame({"t": [4.0], "e": [event]}), stop_col="t", event_col="e")
    assert len(km.table) == 1 and km.table["survival"].iloc[0] == surv


def test_group_all_censored() -> None:
    df = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6], "e": [1, 1, 0, 0, 0, 0], "g": [0, 0, 0, 1, 1, 1]})
    km = kaplan_meier(df, stop_col="t", event_col="e", group_col="g")
    g1 = km.table[km.table["group"] == 1]
    assert (g1["survival"] == 1).all() and np.isnan(km.medians["median"].iloc[1])
    lr = logrank_test(df, stop_col="t", event_col="e", group_col="g")
    assert lr.table["observed"].tolist() == [2.0, 0.0] and lr.df == 1


def test_risk_table_and_survival_at_beyond_follow_up() -> None:
    df = pd.DataFrame({"t": [1, 2, 3], "e": [1, 0, 1]})
    km = kaplan_meier(df, stop_col="t", event_col="e")
    assert km.risk_table([0, 2, 10]).to_numpy().tolist() == [[3.0, 2.0, 0.0]]
    assert km.survival_at([10])["survival"].iloc[0] == 0


def test_plot() -> None:
    df = pd.DataFrame(
        {"t": [1, 2, 3, 4, 5, 6], "e": [1, 1, 0, 1, 0, 1], "g": ["a"] * 3 + ["b"] * 3}
    )
    km = kaplan_meier(df, stop_col="t", event_col="e", group_col="g")
    assert len(km.plot().axes) == 2
    fig = km.plot(times=[0, 2, 4])
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert [t.get_text() for t in fig.axes[1].texts] == ["3", "2", "0", "3", "3", "3"]
    assert len(km.plot(risk_table=False, times=[0, 3, 6]).axes) == 1
    assert isinstance(logrank_test(df, stop_col="t", event_col="e", group_col="g").plot(), Figure)
    assert "Kaplan" in km.summary()


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"t": [1.0, np.nan, 3.0]}, DataValidationError, r"missing values in column.*'t'"),
        ({"g": ["a", None, "b"]}, DataValidationError, r"missing values in column.*'g'"),
        ({"e": [0, 2, 1]}, DataValidationError, "'e' must be 0 or 1"),
        ({"t": [1.0, -2.0, 3.0]}, DataValidationError, "negative times in 't'"),
        ({"w": [1.0, -1.0, 1.0]}, DataValidationError, "must be >= 0"),
        ({"w": [0.0, 0.0, 0.0]}, DataValidationError, "all weights"),
        ({"t": ["1", "2", "3"]}, DataValidationError, "'t' must be numeric"),
    ],
)
def test_bad_data(change: dict, error: type, match: str) -> None:
    df = pd.DataFrame({"t": [1.0, 2.0, 3.0], "e": [1, 0, 1], "g": ["a", "b", "b"], "w": 1.0})
    df = df.assign(**change)
    with pytest.raises(error, match=match):
        kaplan_meier(df, stop_col="t", event_col="e", group_col="g", weights_col="w")


def test_bad_options_and_intervals() -> None:
    df = pd.DataFrame({"s": [0.0, 2.0], "t": [1.0, 2.0], "e": [1, 0], "g": [1, 1]})
    with pytest.raises(DataValidationError, match="stop <= start"):
        kaplan_meier(df, start_col="s", stop_col="t", event_col="e")
    with pytest.raises(ConfigError, match="conf_type"):
        kaplan_meier(df, stop_col="t", event_col="e", conf_type="logit")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="alpha"):
        kaplan_meier(df, stop_col="t", event_col="e", alpha=1.5)
    with pytest.raises(ConfigError, match="not in data"):
        kaplan_meier(df, stop_col="time", event_col="e")
    with pytest.raises(DataValidationError, match="single value"):
        logrank_test(df, stop_col="t", event_col="e", group_col="g")
