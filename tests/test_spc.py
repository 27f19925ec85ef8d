"""Run charts, p/p′, u/u′ and I/MR charts (coacheval.quality.spc).

Reference values, three kinds:

- Published: Montgomery's worked examples on the data that ship with R's qcc 2.7 (copied to
  tests/reference/data/spc_*.csv): the orange-juice p chart (p̄ = 0.2313, UCL = 0.4102,
  LCL = 0.0524, samples 15 and 23 above the UCL), the circuit-board c chart (c̄ = 19.85,
  UCL = 33.22, LCL = 6.48, samples 6 and 20 outside) and the computer-assembly u chart
  (ū = 1.93, UCL = 3.79, LCL = 0.07). Compared to the printed digits (atol half a unit of the
  last digit; 0.01 for the c chart's UCL, which the book computes from c̄ rounded to 19.85).
  The Anhøj run-length limits are checked against the published table of round(log2(n) + 3)
  for n = 10..59 (Anhøj & Olesen 2014, PLoS ONE 9(11): e113825, Table 1 as reproduced in the
  run-chart FAQ tables).
- R (tests/reference/r/spc.R, R 4.2.2 base only; sessionInfo in expected/sessionInfo_spc.txt):
  neither qcc nor qicharts2 is packaged by Debian, so the script is an independent base-R
  implementation of the same formulas, written as qicharts2 computes them, on the five qcc
  data sets with before/after phases. Closed forms on both sides: observed max relative
  differences 1.3e-15 (values, centres, upper limits, sigma_z, moving ranges) and 1.6e-14
  (a lower limit near 0, where cl - 3 sigma cancels); rtol 1e-12. Runs analysis (useful
  observations, longest run, crossings) and the Anhøj critical values for n = 1..300
  (R's qbinom) agree exactly.
- Hand-computed closed forms on small series, stated in the tests.

Simulations (seeded, one call with many phases each): I-chart sigma (MR̄/1.128) unbiased and
per-point false-alarm rate near 0.27%; Laney sigma_z recovering the known overdispersion;
the run chart's too-few-crossings rate equal to the exact Wald–Wolfowitz probability.
"""

from __future__ import annotations

from math import comb
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from numpy.testing import assert_allclose, assert_array_equal

from coacheval.errors import ConfigError, DataValidationError
from coacheval.quality.spc import (
    SPCResult,
    anhoej_limits,
    i_mr_chart,
    p_chart,
    run_chart,
    u_chart,
)

REF = Path(__file__).parent / "reference"
CLOSED = {"rtol": 1e-12, "atol": 1e-15}


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / "data" / f"spc_{name}.csv")


def _phase(trial: pd.Series) -> np.ndarray:
    return np.where(trial.astype(str) == "True", "trial", "after")


@pytest.fixture(scope="module")
def r_points() -> pd.DataFrame:
    return pd.read_csv(REF / "expected" / "spc_points.csv")


@pytest.fixture(scope="module")
def r_runs() -> pd.DataFrame:
    return pd.read_csv(REF / "expected" / "spc_runs.csv")


# --------------------------------------------------------- published examples ---


def test_montgomery_orange_juice_p_chart() -> None:
    oj = _data("orangejuice").iloc[:30]
    res = p_chart(oj["D"], oj["size"], periods=oj["sample"])
    assert_allclose(res.phases["centre"], 0.2313, atol=5e-5)
    assert_allclose(res.table["upper"], 0.4102, atol=5e-5)
    assert_allclose(res.table["lower"], 0.0524, atol=5e-5)
    out = res.signals[res.signals["rule"] == "outside_limits"]
    assert out["period"].tolist() == [15, 23]
    assert "above the upper" in out["description"].iloc[0]


def test_montgomery_circuit_boards_c_chart() -> None:
    circ = _data("circuit").iloc[:26]
    res = u_chart(circ["x"], np.ones(26), periods=circ["sample"])
    assert_allclose(res.phases["centre"], 19.85, atol=5e-3)
    assert_allclose(res.table["upper"], 33.22, atol=1e-2)
    assert_allclose(res.table["lower"], 6.48, atol=5e-3)
    out = res.signals[res.signals["rule"] == "outside_limits"]
    assert out["period"].tolist() == [6, 20]


def test_montgomery_computer_assembly_u_chart() -> None:
    pc = _data("pcmanufact")
    res = u_chart(pc["x"], pc["size"])
    assert_allclose(res.phases["centre"], 1.93, atol=5e-3)
    assert_allclose(res.table["upper"], 3.79, atol=5e-3)
    assert_allclose(res.table["lower"], 0.07, atol=5e-3)
    assert not res.table["outside_limits"].any()


def test_anhoej_run_limits_match_published_table() -> None:
    # Critical values for the longest run, n = 10..59 useful observations (the published table
    # of round(log2(n) + 3)); signal when the longest run is greater than the value.
    published = [6, 6] + [7] * 11 + [8] * 23 + [9] * 14
    run_max, cross_min = anhoej_limits(np.arange(10, 60))
    assert run_max.tolist() == published
    # n = 10: longest run > 6 or fewer than 2 crossings; n = 24: > 8 or fewer than 8
    assert (run_max[0], cross_min[0]) == (6, 2)
    assert (run_max[14], cross_min[14]) == (8, 8)


def test_anhoej_limits_match_r() -> None:
    exp = pd.read_csv(REF / "expected" / "spc_anhoej_limits.csv")
    run_max, cross_min = anhoej_limits(exp["n"].to_numpy())
    assert_array_equal(run_max, exp["longest_run_max"])
    assert_array_equal(cross_min, exp["crossings_min"])


# ---------------------------------------------------------------------- vs R ---


def _cases() -> dict[str, tuple]:
    oj, circ, pc = _data("orangejuice"), _data("circuit"), _data("pcmanufact")
    dc, vi = _data("dyedcloth"), _data("viscosity")
    oj30 = oj.iloc[:30]
    c26 = circ.iloc[:26]
    return {
        "oj_trial_p": (p_chart, (oj30["D"], oj30["size"]), {}),
        "oj_trial_pp": (p_chart, (oj30["D"], oj30["size"]), {"laney": True}),
        "oj_phases_p": (p_chart, (oj["D"], oj["size"]), {"phases": _phase(oj["trial"])}),
        "oj_phases_pp": (
            p_chart,
            (oj["D"], oj["size"]),
            {"phases": _phase(oj["trial"]), "laney": True},
        ),
        "oj_phases_run": (run_chart, (oj["D"] / oj["size"],), {"phases": _phase(oj["trial"])}),
        "circuit_trial_c": (u_chart, (c26["x"], np.ones(26)), {}),
        "circuit_phases_u": (u_chart, (circ["x"], circ["size"]), {"phases": _phase(circ["trial"])}),
        "circuit_phases_up": (
            u_chart,
            (circ["x"], circ["size"]),
            {"phases": _phase(circ["trial"]), "laney": True},
        ),
        "pcmanufact_u": (u_chart, (pc["x"], pc["size"]), {}),
        "dyedcloth_u": (u_chart, (dc["x"], dc["size"]), {}),
        "dyedcloth_up": (u_chart, (dc["x"], dc["size"]), {"laney": True}),
        "viscosity_imr": (i_mr_chart, (vi["viscosity"],), {"phases": _phase(vi["trial"])}),
        "viscosity_run": (run_chart, (vi["viscosity"],), {"phases": _phase(vi["trial"])}),
    }


@pytest.mark.parametrize("case", list(_cases()))
def test_limits_and_runs_match_r(case: str, r_points: pd.DataFrame, r_runs: pd.DataFrame) -> None:
    fn, args, kwargs = _cases()[case]
    res = fn(*args, **kwargs)
    exp = r_points[r_points["case"] == case].reset_index(drop=True)
    tab = res.table
    if "phases" not in kwargs:
        exp = exp.assign(phase="all")
    assert tab["phase"].tolist() == exp["phase"].tolist()
    for col in ["value", "centre", "lower", "upper"]:
        if exp[col].notna().any():
            assert_allclose(tab[col], exp[col], **CLOSED, err_msg=col)
    if exp["sigma_z"].notna().any():
        got = res.phases.set_index("phase")["sigma_z"]
        assert_allclose(got[exp["phase"]].to_numpy(), exp["sigma_z"], **CLOSED)
    if exp["moving_range"].notna().any():
        for col in ["moving_range", "mr_centre", "mr_upper"]:
            assert_allclose(tab[col], exp[col], **CLOSED, err_msg=col)
    runs = r_runs[r_runs["case"] == case]
    got = res.phases.set_index("phase").loc[runs["phase"] if "phases" in kwargs else ["all"]]
    for col in ["n_useful", "longest_run", "n_crossings"]:
        assert got[col].tolist() == runs[col].tolist(), col


# ------------------------------------------------------------- closed forms ---


def test_laney_p_prime_closed_form() -> None:
    # p̄ = 60/300 = 0.2, sigma_i = sqrt(0.2 * 0.8 / 100) = 0.04, z = (-2.5, 0, 2.5),
    # mean |diff z| = 2.5, sigma_z = 2.5 / 1.128; limits 0.2 ± 3 * 0.04 * sigma_z = 0.2 ± 0.2660.
    res = p_chart([10, 20, 30], [100, 100, 100], laney=True)
    sz = 2.5 / 1.128
    assert_allclose(res.phases["sigma_z"], sz, **CLOSED)
    assert_allclose(res.table["upper"], 0.2 + 0.12 * sz, **CLOSED)
    assert_allclose(res.table["lower"], 0.0)  # 0.2 - 0.266 clipped at 0
    classic = p_chart([10, 20, 30], [100, 100, 100])
    assert_allclose(classic.table["upper"], 0.32, **CLOSED)
    assert_allclose(classic.table["lower"], 0.08, **CLOSED)
    assert classic.table["outside_limits"].tolist() == [False, False, False]


def test_laney_u_prime_closed_form_with_per() -> None:
    # ū = 300/300 = 1, sigma_i = sqrt(1/100) = 0.1, z = (-5, 0, 5), sigma_z = 5 / 1.128;
    # limits 1 ± 3 * 0.1 * sigma_z = 1 ± 1.3298 (lower clipped at 0); per = 100 scales all.
    res = u_chart([50, 100, 150], [100, 100, 100], laney=True, per=100)
    sz = 5 / 1.128
    assert_allclose(res.phases["sigma_z"], sz, **CLOSED)
    assert_allclose(res.table["upper"], 100 * (1 + 0.3 * sz), **CLOSED)
    assert_allclose(res.table["lower"], 0.0)
    assert_allclose(res.table["value"], [50.0, 100.0, 150.0], **CLOSED)
    classic = u_chart([50, 100, 150], [100, 100, 100])
    assert classic.table["outside_limits"].tolist() == [True, False, True]


def test_i_mr_closed_form() -> None:
    # mean 2.5; MR = 2, 1, 2 so MR̄ = 5/3; limits 2.5 ± 3 * (5/3) / 1.128; MR UCL 3.267 * 5/3
    res = i_mr_chart([1.0, 3.0, 2.0, 4.0])
    mr_bar = 5 / 3
    assert_allclose(res.table["centre"], 2.5, **CLOSED)
    assert_allclose(res.table["upper"], 2.5 + 3 * mr_bar / 1.128, **CLOSED)
    assert_allclose(res.table["lower"], 2.5 - 3 * mr_bar / 1.128, **CLOSED)
    assert_allclose(res.table["mr_upper"], 3.267 * mr_bar, **CLOSED)
    assert_allclose(res.table["moving_range"], [np.nan, 2, 1, 2], **CLOSED)
    # 3 / 1.128 is the textbook 2.66 to 0.02%
    assert abs(3 / 1.128 - 2.66) / 2.66 < 2e-4


def test_p_limits_vary_with_denominator_and_clip() -> None:
    res = p_chart([1, 0, 3], [4, 10, 5])
    pbar = 4 / 19
    sig = np.sqrt(pbar * (1 - pbar) / np.array([4, 10, 5]))
    assert_allclose(res.table["upper"], np.minimum(pbar + 3 * sig, 1), **CLOSED)
    assert_allclose(res.table["lower"], 0.0)
    assert_allclose(res.table["sigma"], sig, **CLOSED)


# ---------------------------------------------------------- rules broken ---


def _from_signs(signs: list[int]) -> np.ndarray:
    s = np.asarray(signs, dtype=float)
    return 10 + s * (1 + 0.01 * np.arange(s.size))


def test_series_breaking_no_rule() -> None:
    vals = _from_signs([1, 1, -1, -1] * 5)  # 20 useful, 9 crossings, longest run 2
    for res in (run_chart(vals), i_mr_chart(vals, two_of_three=True)):
        row = res.phases.iloc[0]
        assert not res.table["signal"].any()
        assert res.signals.empty
        assert (row["n_crossings"], row["longest_run"]) == (9, 2)
        assert "No signals" in res.summary()


def test_unusually_long_run() -> None:
    # 20 useful points; run of 8 above the median > round(log2(20) + 3) = 7; 6 crossings = min
    vals = _from_signs([-1, 1, -1, 1, -1] + [1] * 8 + [-1] * 7)
    res = run_chart(vals)
    row = res.phases.iloc[0]
    assert (row["longest_run"], row["longest_run_max"]) == (8, 7)
    assert (row["n_crossings"], row["n_crossings_min"]) == (6, 6)
    assert row["long_run_signal"] and not row["few_crossings_signal"]
    assert np.flatnonzero(res.table["long_run"]).tolist() == list(range(5, 13))
    sig = res.signals
    assert set(sig["rule"]) == {"long_run"} and len(sig) == 8
    assert "run of 8 points above" in sig["description"].iloc[0]
    assert sig["period"].tolist() == list(range(6, 14))


def test_too_few_crossings() -> None:
    # runs of 5: 3 crossings < qbinom(0.05, 19, 0.5) = 6, longest run 5 <= 7
    vals = _from_signs([1] * 5 + [-1] * 5 + [1] * 5 + [-1] * 5)
    res = run_chart(vals, periods=[f"2020-{m:02d}" for m in range(1, 21)])
    row = res.phases.iloc[0]
    assert row["few_crossings_signal"] and not row["long_run_signal"]
    assert res.table["few_crossings"].all()
    sig = res.signals
    assert sig["rule"].tolist() == ["few_crossings"]
    assert sig["period"].iloc[0] is None
    assert (
        "3 crossings" in sig["description"].iloc[0] and "6 expected" in sig["description"].iloc[0]
    )


def test_points_on_the_median_neither_break_nor_extend_runs() -> None:
    # 9 points: median 5 (two points on it); useful signs + + (5) + - - - - : run of 3 pluses
    res = run_chart([6, 7, 5, 8, 3, 5, 2, 4, 1])
    row = res.phases.iloc[0]
    assert (row["n_useful"], row["longest_run"], row["n_crossings"]) == (7, 4, 1)


def test_point_outside_limits_and_moving_range() -> None:
    vals = [10, 10.2, 9.9, 10.1, 9.8, 10, 10.1, 9.9, 10.2, 30]
    res = i_mr_chart(vals, anhoej=False)
    assert res.table["outside_limits"].tolist() == [False] * 9 + [True]
    assert res.table["mr_outside"].tolist() == [False] * 9 + [True]
    assert res.signals["rule"].tolist() == ["outside_limits", "mr_outside"]
    assert res.signals["period"].tolist() == [10, 10]
    assert res.rules == ("outside_limits", "mr_outside")


def test_two_of_three_beyond_two_sigma() -> None:
    rng = np.random.default_rng(7)
    vals = rng.normal(0, 1, 40)
    vals[[20, 22]] = [3.0, 2.8]  # two of three beyond ~2 sigma above
    vals[[30, 31]] = [-2.9, -3.1]
    res = i_mr_chart(vals, two_of_three=True, anhoej=False)
    tab = res.table
    # brute-force second implementation: windows of 3 with >= 2 on one side beyond 2 sigma
    dev = (tab["value"] - tab["centre"]).to_numpy()
    two = 2 * tab["sigma"].to_numpy()
    expect = np.zeros(len(tab), dtype=bool)
    for side in (dev > two, dev < -two):
        for j in range(len(tab) - 2):
            if side[j : j + 3].sum() >= 2:
                expect[j : j + 3] |= side[j : j + 3]
    assert_array_equal(tab["two_of_three"], expect)
    assert expect[[20, 22, 30, 31]].all()
    assert set(res.signals["rule"]) >= {"two_of_three"}


def test_laney_versus_classic_on_overdispersed_large_denominators() -> None:
    rng = np.random.default_rng(2024)
    n = rng.integers(15_000, 25_000, size=24)
    p = 0.12 + rng.normal(0, 0.02, size=24)  # between-quarter variation, no special cause
    x = rng.binomial(n, p)
    classic = p_chart(x, n, anhoej=False)
    laney = p_chart(x, n, laney=True, anhoej=False)
    assert classic.table["outside_limits"].mean() > 0.6
    assert not laney.table["outside_limits"].any()
    assert laney.phases["sigma_z"].iloc[0] > 5
    assert laney.chart == "p'" and "Laney" in laney.notes[-1]


# ------------------------------------------------------------------ phases ---


def test_phases_recompute_limits_and_match_separate_charts() -> None:
    oj = _data("orangejuice")
    phases = _phase(oj["trial"])
    for laney in (False, True):
        both = p_chart(oj["D"], oj["size"], phases=phases, laney=laney)
        for label in ("trial", "after"):
            m = phases == label
            alone = p_chart(oj["D"][m], oj["size"][m], laney=laney)
            sub = both.table[both.table["phase"] == label]
            for col in ["centre", "lower", "upper", "outside_limits", "long_run", "few_crossings"]:
                assert sub[col].tolist() == alone.table[col].tolist(), col
    assert both.phases["phase"].tolist() == ["trial", "after"]
    assert both.phases["centre"].iloc[0] > both.phases["centre"].iloc[1]
    assert both.phases["first_period"].tolist() == [1, 31]
    vi = i_mr_chart([1.0, 2.0, 1.5, 5.0, 6.0, 5.5], phases=["before"] * 3 + ["after"] * 3)
    # the moving range across the go-live is not formed
    assert np.isnan(vi.table["moving_range"].iloc[3])
    assert_allclose(vi.phases["mr_bar"], [0.75, 0.75])


def test_phase_boundary_and_signals_in_plot() -> None:
    oj = _data("orangejuice")
    res = p_chart(oj["D"], oj["size"], phases=_phase(oj["trial"]))
    fig = res.plot(ylabel="Proportion nonconforming")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    vlines = [ln for ln in ax.lines if list(ln.get_xdata()) == [29.5, 29.5]]
    assert len(vlines) == 1
    red = [ln for ln in ax.lines if ln.get_label() == "Outside limits"]
    assert len(red[0].get_xdata()) == int(res.table["outside_limits"].sum()) > 0
    assert not [ln for ln in ax.lines if ln.get_label() == "Runs signal"]  # none to show
    assert [t.get_text() for t in ax.texts] == ["trial", "after"]
    fig2 = i_mr_chart(_data("viscosity")["viscosity"]).plot()
    assert len(fig2.axes) == 2 and fig2.axes[1].get_ylabel() == "Moving range"
    assert run_chart([1, 2, 3]).plot().axes[0].get_title() == "Run chart"


def test_summary_and_to_dict() -> None:
    res = p_chart(_data("orangejuice")["D"][:30], [50] * 30)
    text = res.summary()
    assert text.startswith("p chart") and "Signals:" in text and "outside_limits" in text
    d = res.to_dict()
    assert d["chart"] == "p" and len(d["table"]) == 30 and len(d["signals"]) == 2
    assert isinstance(res, SPCResult)
    assert list(res.signals.columns) == ["chart", "phase", "period", "value", "rule", "description"]


# -------------------------------------------------------------- simulations ---


def test_i_chart_sigma_unbiased_and_false_alarm_rate() -> None:
    rng = np.random.default_rng(11)
    reps, n = 1500, 100
    vals = rng.normal(50, 4, size=(reps, n)).ravel()
    res = i_mr_chart(vals, phases=np.repeat(np.arange(reps), n), anhoej=False)
    sigma_hat = res.phases["mr_bar"].to_numpy() / 1.128
    assert abs(sigma_hat.mean() / 4 - 1) < 0.005  # E[MR̄] = (2/sqrt(pi)) sigma = 1.1284 sigma
    rate = res.table["outside_limits"].mean()
    assert 0.0018 < rate < 0.0045  # 0.27% with known limits; slightly more with estimated ones


def test_laney_sigma_z_recovers_overdispersion() -> None:
    rng = np.random.default_rng(5)
    reps, n, size, p, tau = 800, 40, 5000, 0.1, 0.01
    truth = np.sqrt(1 + tau**2 * size / (p * (1 - p)))  # sd of z = sqrt(1 + n tau^2 / p(1-p))
    pi = np.clip(p + rng.normal(0, tau, size=reps * n), 0.001, 0.999)
    x = rng.binomial(size, pi)
    res = p_chart(x, np.full(reps * n, size), phases=np.repeat(np.arange(reps), n), laney=True)
    assert abs(res.phases["sigma_z"].mean() / truth - 1) < 0.02
    x0 = rng.binomial(size, p, size=reps * n)  # no overdispersion: sigma_z near 1
    res0 = p_chart(x0, np.full(reps * n, size), phases=np.repeat(np.arange(reps), n), laney=True)
    assert abs(res0.phases["sigma_z"].mean() - 1) < 0.02


def test_few_crossings_rate_matches_wald_wolfowitz() -> None:
    # iid continuous series of 24: around the median, 12 above and 12 below in random order;
    # P(runs R = 2k) = 2 C(11, k-1)^2 / C(24, 12), P(R = 2k+1) = 2 C(11, k-1) C(11, k) / C(24, 12).
    m, total = 12, comb(24, 12)
    p_runs = {}
    for k in range(1, m + 1):
        p_runs[2 * k] = 2 * comb(m - 1, k - 1) ** 2 / total
        p_runs[2 * k + 1] = 2 * comb(m - 1, k - 1) * comb(m - 1, k) / total
    cross_min = int(anhoej_limits(24)[1][0])
    exact = sum(pr for r, pr in p_runs.items() if r - 1 < cross_min)
    rng = np.random.default_rng(3)
    reps = 6000
    res = run_chart(rng.normal(size=reps * 24), phases=np.repeat(np.arange(reps), 24))
    rate = res.phases["few_crossings_signal"].mean()
    se = np.sqrt(exact * (1 - exact) / reps)
    assert abs(rate - exact) < 4 * se
    assert exact < 0.05


# --------------------------------------------------------------- edge cases ---


def test_all_values_equal() -> None:
    rc = run_chart([4.0] * 12)
    assert rc.phases["n_useful"].iloc[0] == 0 and rc.signals.empty
    assert any("10" in note for note in rc.notes)
    im = i_mr_chart([4.0] * 12)
    assert_allclose(im.table[["lower", "upper"]], 4.0)
    assert im.signals.empty
    pl = p_chart([5] * 6, [50] * 6, laney=True)
    assert_allclose(pl.phases["sigma_z"], 0.0)
    assert_allclose(pl.table["upper"], 0.1, **CLOSED)
    assert pl.signals.empty
    zero = p_chart([0] * 6, [50] * 6, laney=True)
    assert_allclose(zero.table[["centre", "lower", "upper"]], 0.0)
    assert any("collapse" in note for note in zero.notes)


def test_single_point() -> None:
    rc = run_chart([3.0])
    assert rc.table["centre"].iloc[0] == 3.0 and rc.signals.empty
    pc = p_chart([3], [40])
    assert_allclose(pc.table["centre"], 0.075)
    with pytest.raises(DataValidationError, match="at least 2 consecutive observed points"):
        i_mr_chart([3.0])
    with pytest.raises(DataValidationError, match="Laney chart needs at least 2"):
        p_chart([3], [40], laney=True)
    with pytest.raises(DataValidationError, match="phase 'after' has 1 observed"):
        i_mr_chart([1.0, 2.0, 3.0, 4.0], phases=["before"] * 3 + ["after"])


def test_missing_values_are_skipped_with_a_note() -> None:
    vals = [3.0, 4.0, np.nan, 5.0, 2.0, 6.0, 3.5]
    rc = run_chart(vals)
    assert rc.table["centre"].iloc[0] == np.median([3, 4, 5, 2, 6, 3.5])
    assert np.isnan(rc.table["value"].iloc[2]) and not rc.table["signal"].iloc[2]
    assert "periods [3]" in rc.notes[0]
    im = i_mr_chart(vals)
    assert np.isnan(im.table["moving_range"].iloc[[2, 3]]).all()  # no range across the gap
    assert_allclose(im.phases["mr_bar"], np.mean([1.0, 3.0, 4.0, 2.5]), **CLOSED)
    pc = p_chart([3, np.nan, 5, 4], [40, 40, np.nan, 50])
    kept = p_chart([3, 4], [40, 50])
    assert_allclose(pc.phases["centre"], kept.phases["centre"], **CLOSED)
    assert "2 point(s)" in pc.notes[0]
    with pytest.raises(DataValidationError, match="no observed values"):
        run_chart([1.0, np.nan], phases=["a", "b"])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: p_chart([-1, 2], [10, 10]), "negative at positions \\[0\\]"),
        (lambda: u_chart([1, -2], [10, 10]), "counts must be >= 0"),
        (lambda: p_chart([11, 2], [10, 10]), "events exceed denominators at positions \\[0\\]"),
        (lambda: p_chart([1, 2], [0, 10]), "denominators: must be > 0"),
        (lambda: u_chart([1, 2], [10, -1]), "exposures: must be > 0"),
        (lambda: p_chart([1, 2, 3], [10, 10]), "events has 3 points but denominators has 2"),
        (lambda: run_chart([1, 2, 3], phases=["a", "b"]), "2 labels for 3 points"),
        (lambda: run_chart([1, 2, 3], periods=[1, 2]), "periods: 2 labels"),
        (lambda: run_chart([1, 2, 3], phases=["a", "b", "a"]), "contiguous"),
        (lambda: run_chart([1, 2, 3], phases=["a", None, "a"]), "missing phase label"),
        (lambda: run_chart(["a", "b"]), "must be numeric"),
        (lambda: run_chart([1.0, np.inf]), "infinite"),
        (lambda: run_chart([]), "empty"),
        (lambda: run_chart(np.ones((2, 2))), "one-dimensional"),
    ],
)
def test_bad_input_raises_clear_errors(call, match) -> None:
    with pytest.raises(DataValidationError, match=match):
        call()


def test_bad_options() -> None:
    with pytest.raises(ConfigError, match="per must be a positive"):
        u_chart([1, 2], [3, 4], per=0)
    with pytest.raises(ConfigError, match=">= 1"):
        anhoej_limits(0)
