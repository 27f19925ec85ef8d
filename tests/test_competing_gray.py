"""Gray's test of equal cumulative incidence (coacheval.retention.competing.gray_test).

Reference: R 4.2.2 with cmprsk 2.2-11 (sessionInfo in expected/sessionInfo_competing.txt),
``cuminc(ftime, fstatus, group, strata, rho)$Tests``, written by section 6 of
tests/reference/r/competing.R, on public data: survival::mgus2 (progression vs death before
progression; whole months, many ties within and between causes) by sex with rho = 0, 1 and
-0.5, by three age groups (findInterval(age, c(60, 75))) without and with strata = sex;
MASS::Melanoma (time since operation, melanoma vs other death) by ulceration, also with strata
= sex and rho = 0.5; and 100 rows simulated as in cuminc's help-page example (three groups, two
strata, rho = 0 and 2) as a null case.

Tolerances (observed maximum differences in brackets): the statistic is the same arithmetic
as cmprsk's Fortran crstm, reordered into cumulative sums over exit times, and a linear solve
instead of LINPACK's QR inverse [statistic 2.0e-14 relative]: rtol 1e-11. p-values: R's
``1 - pchisq`` loses the digits of small p (it reports 0 for the age-group death test, p ~
1e-57) where scipy's ``chi2.sf`` keeps them [1.8e-15 absolute]: atol 1e-12. Degrees of
freedom exact.

Simulation (n = 150 per replication, competing exponential hazards 0.5 and 1.0, uniform
censoring on (0, 2)): under the null the 5% test rejected in 0.043 (rho = 0), 0.052 (rho = 1)
and 0.045 (three groups) of 1000 seeded replications (asserted 0.03-0.07; binomial SD 0.007),
with uniform p-values (KS p 0.42, 0.020, 0.86; asserted > 0.01). Testing the other cause with
equal hazards: 0.045 of 400 (asserted 0.02-0.08). Power over 300 replications rose from 0.053
(hazard ratio 1) to 0.217 (1.5) and 0.823 (2.5) (asserted increasing and > 0.7 at 2.5); a
higher hazard of cause 1 lowers the cumulative incidence of cause 2, which the test of cause 2
detected in 0.510 of 400 (asserted > 0.35).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

from coacheval.errors import ConfigError, DataValidationError
from coacheval.retention.competing import GrayTestResult, gray_test

REF = Path(__file__).parent / "reference"
STAT_TOL = {"rtol": 1e-11, "atol": 0}
P_TOL = {"rtol": 0, "atol": 1e-12}


# ------------------------------------------------------------------------ data ---


def _mgus2() -> pd.DataFrame:
    mg = pd.read_csv(REF / "data" / "competing_mgus2.csv")
    # R: findInterval(age, c(60, 75))
    mg["agegrp"] = np.searchsorted([60, 75], mg["age"].to_numpy(), side="right")
    return mg


def _melanoma() -> pd.DataFrame:
    mel = pd.read_csv(REF / "data" / "competing_melanoma.csv")
    mel["time"] = mel["exit"] - mel["entry"]
    return mel


def _example() -> pd.DataFrame:
    return pd.read_csv(REF / "data" / "competing_gray_example.csv")


# case -> (data, time, event, group, strata, rho)
CASES = {
    "mgus2_male_rho1": (_mgus2, "etime", "event", "male", None, 1.0),
    "mgus2_male_rho-0.5": (_mgus2, "etime", "event", "male", None, -0.5),
    "mgus2_agegrp": (_mgus2, "etime", "event", "agegrp", None, 0.0),
    "mgus2_agegrp_strata_male": (_mgus2, "etime", "event", "agegrp", "male", 0.0),
    "melanoma_ulcer": (_melanoma, "time", "event", "ulcer", None, 0.0),
    "melanoma_ulcer_strata_male_rho0.5": (_melanoma, "time", "event", "ulcer", "male", 0.5),
    "example_strata": (_example, "time", "status", "group", "strata", 0.0),
    "example_rho2": (_example, "time", "status", "group", None, 2.0),
}


def _compare(res: GrayTestResult, ref: pd.DataFrame) -> None:
    got = res.table.set_index("cause").loc[ref["cause"].astype(str)]
    assert_allclose(got["statistic"], ref["statistic"], **STAT_TOL)
    assert_allclose(got["p_value"], ref["p_value"], **P_TOL)
    assert_array_equal(got["df"], ref["df"])
    assert len(res.table) == len(ref)


# ------------------------------------------------------------------------ vs R ---


def test_mgus2_by_sex_matches_cuminc():
    ref = pd.read_csv(REF / "expected" / "competing_gray.csv")
    res = gray_test(_mgus2(), time_col="etime", event_col="event", group_col="male")
    _compare(res, ref)
    assert res.groups == (0, 1)
    assert res.n_strata == 1
    mg = _mgus2()
    expected_n = [int((mg["event"] == c).sum()) for c in res.table["cause"]]
    assert res.table["n_events"].tolist() == expected_n


@pytest.mark.parametrize("case", list(CASES))
def test_matches_cuminc_rho_groups_strata(case):
    ref_all = pd.read_csv(REF / "expected" / "competing_gray_cases.csv")
    ref = ref_all[ref_all["case"] == case]
    assert len(ref) == 2
    make, time_col, event_col, group_col, strata_col, rho = CASES[case]
    res = gray_test(
        make(),
        time_col=time_col,
        event_col=event_col,
        group_col=group_col,
        strata_col=strata_col,
        rho=rho,
    )
    _compare(res, ref)
    assert res.rho == rho


def test_one_cause_at_a_time_equals_all_causes():
    mg = _mgus2()
    both = gray_test(mg, time_col="etime", event_col="event", group_col="agegrp")
    for cause in ("pcm", "death"):
        one = gray_test(mg, time_col="etime", event_col="event", group_col="agegrp", cause=cause)
        assert one.table["cause"].tolist() == [cause]
        row = both.table.set_index("cause").loc[cause]
        assert one.table["statistic"].iloc[0] == pytest.approx(row["statistic"], rel=1e-14)


# ----------------------------------------------------------------- simulation ---


def _simulate(rng, n, hazard1, hazard2=1.0, n_groups=2):
    """Competing exponential exits; cause 1 hazard per group, cause 2 shared; uniform censoring."""
    g = rng.integers(0, n_groups, n)
    h1 = np.asarray(hazard1, dtype=float)[g]
    t1 = rng.exponential(1 / h1)
    t2 = rng.exponential(1 / hazard2, n)
    c = rng.uniform(0, 2.0, n)
    t = np.minimum.reduce([t1, t2, c])
    event = np.where(t == c, 0, np.where(t == t1, 1, 2))
    return pd.DataFrame({"t": t, "e": event, "g": g})


def _p_values(seed, reps, n, hazard1, rho=0.0, n_groups=2, cause=1):
    rng = np.random.default_rng(seed)
    out = np.empty(reps)
    for r in range(reps):
        df = _simulate(rng, n, hazard1, n_groups=n_groups)
        res = gray_test(df, time_col="t", event_col="e", group_col="g", cause=cause, rho=rho)
        out[r] = res.table["p_value"].iloc[0]
    return out


@pytest.mark.parametrize(("rho", "n_groups", "seed"), [(0.0, 2, 11), (1.0, 2, 12), (0.0, 3, 13)])
def test_size_under_the_null(rho, n_groups, seed):
    p = _p_values(seed, 1000, 150, [0.5] * n_groups, rho=rho, n_groups=n_groups)
    size = float((p < 0.05).mean())
    assert 0.03 <= size <= 0.07, size
    assert stats.kstest(p, "uniform").pvalue > 0.01


def test_competing_cause_null_too():
    # the hazard of cause 2 is shared, but a higher cause-1 hazard in one group lowers that
    # group's cumulative incidence of cause 2: the test of cause 2 then rejects more often than
    # 5% (the CIFs differ), while under equal hazards both causes hold the level
    p_null = _p_values(21, 400, 150, [0.5, 0.5], cause=2)
    assert 0.02 <= float((p_null < 0.05).mean()) <= 0.08
    p_alt = _p_values(22, 400, 150, [0.5, 2.0], cause=2)
    assert float((p_alt < 0.05).mean()) > 0.35


def test_power_rises_with_the_effect():
    powers = [
        float((_p_values(30 + i, 300, 150, [0.5, 0.5 * hr]) < 0.05).mean())
        for i, hr in enumerate([1.0, 1.5, 2.5])
    ]
    assert powers[0] < powers[1] < powers[2], powers
    assert powers[2] > 0.7, powers


# ------------------------------------------------------------------ edge cases ---


def _small() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "months": [3, 5, 5, 8, 12, 12, 15, 20, 4, 9, 11, 18, 2, 6, 7, 10],
            "exit": [
                *["vol", "ret", 0, "vol", 0, "vol", "ret", 0],
                *["vol", 0, "vol", 0, "vol", "vol", "ret", "vol"],
            ],
            "coached": [0] * 8 + [1] * 8,
            "unit": [1, 2] * 8,
        }
    )


def test_small_example_matches_r_by_hand():
    # cuminc(months, exit, coached)$Tests: ret 0.5020428319 (p 0.4786038923),
    # vol 1.1388110782 (p 0.2859036929)
    res = gray_test(_small(), time_col="months", event_col="exit", group_col="coached")
    assert_allclose(res.table["statistic"], [0.5020428319, 1.1388110782], rtol=1e-9)
    assert_allclose(res.table["p_value"], [0.4786038923, 0.2859036929], rtol=1e-9)


def test_one_group_is_a_clear_error():
    df = _small().assign(coached=1)
    with pytest.raises(ConfigError, match="at least two"):
        gray_test(df, time_col="months", event_col="exit", group_col="coached")


def test_cause_without_exits_gives_nan_and_a_note():
    res = gray_test(
        _small(), time_col="months", event_col="exit", group_col="coached", cause=["vol", "inv"]
    )
    row = res.table.set_index("cause").loc["inv"]
    assert np.isnan(row["statistic"]) and np.isnan(row["p_value"]) and row["n_events"] == 0
    assert any("'inv' has no exits" in n for n in res.notes)
    assert np.isfinite(res.table.set_index("cause").loc["vol", "statistic"])


def test_all_censored():
    df = _small().assign(exit=0)
    with pytest.raises(DataValidationError, match="all rows censored"):
        gray_test(df, time_col="months", event_col="exit", group_col="coached")
    res = gray_test(df, time_col="months", event_col="exit", group_col="coached", cause="vol")
    assert np.isnan(res.table["statistic"].iloc[0])


def test_exits_in_one_group_only_is_finite():
    df = _small()
    df.loc[df["coached"] == 1, "exit"] = 0
    res = gray_test(df, time_col="months", event_col="exit", group_col="coached")
    assert np.isfinite(res.table["statistic"]).all()
    assert (res.table["p_value"] < 1).all()


def test_ties_row_order_and_group_labels_do_not_matter():
    mg = _mgus2()  # whole months: heavy ties within and between causes
    base = gray_test(mg, time_col="etime", event_col="event", group_col="agegrp")
    shuffled = mg.sample(frac=1.0, random_state=3).reset_index(drop=True)
    shuffled["agegrp"] = shuffled["agegrp"].map({0: "c", 1: "a", 2: "b"})
    other = gray_test(shuffled, time_col="etime", event_col="event", group_col="agegrp")
    assert_allclose(other.table["statistic"], base.table["statistic"], rtol=1e-12)
    assert other.groups == ("a", "b", "c")


def test_stratum_with_one_group_adds_nothing():
    mg = _mgus2()
    base = gray_test(mg, time_col="etime", event_col="event", group_col="male", strata_col="agegrp")
    extra = mg.head(40).assign(agegrp=9, male=1)
    more = gray_test(
        pd.concat([mg, extra], ignore_index=True),
        time_col="etime",
        event_col="event",
        group_col="male",
        strata_col="agegrp",
    )
    assert_allclose(more.table["statistic"], base.table["statistic"], rtol=1e-12)
    assert more.n_strata == base.n_strata + 1


def test_rho_changes_the_weighting():
    mg = _mgus2()
    stats_by_rho = [
        gray_test(mg, time_col="etime", event_col="event", group_col="male", rho=r)
        .table["statistic"]
        .iloc[1]
        for r in (-1.0, 0.0, 1.0)
    ]
    assert len(set(np.round(stats_by_rho, 10))) == 3


def test_without_competing_exits_the_score_is_the_logrank_o_minus_e():
    # one cause only: h_g (1 - F_g(t-)) = R_g, so the score is sum_t (d_g - d R_g / R)
    rng = np.random.default_rng(5)
    df = pd.DataFrame(
        {
            "t": np.round(rng.exponential(1.0, 300), 1),
            "e": rng.integers(0, 2, 300),
            "g": rng.integers(0, 2, 300),
        }
    )
    res = gray_test(df, time_col="t", event_col="e", group_col="g")
    times = np.unique(df.loc[df["e"] == 1, "t"])
    at_risk = (df["t"].to_numpy()[None, :] >= times[:, None]).astype(float)
    events = (df["t"].to_numpy()[None, :] == times[:, None]) & (df["e"].to_numpy() == 1)
    in0 = df["g"].to_numpy() == 0
    o_minus_e = (
        events[:, in0].sum(1) - events.sum(1) * at_risk[:, in0].sum(1) / at_risk.sum(1)
    ).sum()
    assert_allclose(res.scores["1"], [o_minus_e], rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"group_col": "nope"}, ConfigError, "not in data"),
        ({"rho": float("nan")}, ConfigError, "rho"),
        ({"rho": "1"}, ConfigError, "rho"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    args = {"time_col": "months", "event_col": "exit", "group_col": "coached", **kwargs}
    with pytest.raises(error, match=match):
        gray_test(_small(), **args)


def test_bad_data():
    df = _small().astype({"months": float, "coached": float})
    df.loc[2, "months"] = np.nan
    with pytest.raises(DataValidationError, match="missing"):
        gray_test(df, time_col="months", event_col="exit", group_col="coached")
    df = _small().astype({"coached": float})
    df.loc[3, "coached"] = np.nan
    with pytest.raises(DataValidationError, match="missing"):
        gray_test(df, time_col="months", event_col="exit", group_col="coached")
    df = _small()
    df.loc[4, "exit"] = np.nan
    with pytest.raises(DataValidationError, match="missing"):
        gray_test(df, time_col="months", event_col="exit", group_col="coached")


def test_result_summary_and_plot():
    res = gray_test(
        _small(), time_col="months", event_col="exit", group_col="coached", strata_col="unit"
    )
    assert res.n_strata == 2
    assert "Gray's test" in res.summary()
    assert res.to_dict()["table"][0]["cause"] == "ret"
    fig = res.plot()
    assert len(fig.axes) == 1
    assert res.variances["vol"].shape == (1, 1)
