"""coacheval.figures: palette, alt text from the data, metadata in saved files, forest scales.

Everything is drawn from a small simulated system (200 leader positions) run through the
default analysis plan, so the figures are checked on the result objects the reports use.
"""

from __future__ import annotations

import re

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from PIL import Image
from scipy import stats

from coacheval import figures
from coacheval.effects.panel import survey_panel
from coacheval.effects.weighting import weighted_att
from coacheval.errors import ConfigError, DataValidationError
from coacheval.evaluate.plan import load_plan
from coacheval.evaluate.run import evaluate
from coacheval.io.pseudonymise import PseudonymKey
from coacheval.io.study import load_study
from coacheval.simulate import simulate_health_system

PALETTE_HEX = {c.lower() for c in figures.PALETTE}
MPL_DEFAULT_BLUE = (31, 119, 180)  # "#1f77b4", matplotlib's C0


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("extracts")
    simulate_health_system(seed=3, n_leaders=200).write(folder)
    study = load_study(folder, key=PseudonymKey(b"k" * 32))
    return study, evaluate(study, load_plan("default"))


@pytest.fixture(scope="module")
def panel(evaluated):
    return survey_panel(evaluated[0])


def _data_lines(fig: Figure) -> list[Line2D]:
    """Lines drawing data (more than two points), not reference lines."""
    return [ln for ln in fig.findobj(Line2D) if len(np.atleast_1d(ln.get_xdata())) > 2]


def _assert_palette(fig: Figure) -> None:
    lines = _data_lines(fig)
    assert lines, "no data lines drawn"
    colours = {to_hex(ln.get_color()) for ln in lines}
    assert colours <= PALETTE_HEX, colours - PALETTE_HEX


def _pdf_info(data: bytes, key: str) -> str:
    """Read a literal string of the PDF Info dictionary (escapes, UTF-16 with BOM)."""
    start = data.index(f"/{key} (".encode()) + len(key) + 3
    out, depth, i = bytearray(), 1, start
    while True:
        b = data[i]
        if b == 0x5C:  # backslash escape
            out.append(data[i + 1])
            i += 2
            continue
        depth += (b == 0x28) - (b == 0x29)
        if depth == 0:
            break
        out.append(b)
        i += 1
    raw = bytes(out)
    return raw[2:].decode("utf-16-be") if raw.startswith(b"\xfe\xff") else raw.decode("latin-1")


# ------------------------------------------------------------------------- palette ---


def test_palette_is_okabe_ito_and_style_sets_the_cycle():
    assert figures.PALETTE[:4] == ("#0072B2", "#E69F00", "#009E73", "#D55E00")
    assert len(set(figures.PALETTE)) == 8
    before = mpl.rcParams["axes.prop_cycle"]
    with figures.use_palette():
        assert mpl.rcParams["axes.prop_cycle"].by_key()["color"] == list(figures.PALETTE)
    assert mpl.rcParams["axes.prop_cycle"] == before


# ------------------------------------------------------------------------ wrappers ---


def test_km_plot_alt_text_palette_and_colours_survive_saving(evaluated, tmp_path):
    _, ev = evaluated
    km = ev.results[("km_landmark", "voluntary turnover")]
    fig = figures.km_plot(km, what="staying", population="leaders", time_unit="years")
    assert isinstance(fig, Figure)
    start = km.risk_table([0.0]).iloc[:, 0]
    alt = fig.alt_text
    assert alt.startswith("Kaplan–Meier curves of staying for enrolled and not enrolled leaders")
    assert f"{start.iloc[0]:,.0f} and {start.iloc[1]:,.0f} at risk at the start" in alt
    last = km.table.groupby("group").survival.last()
    assert f"{last['enrolled']:.2f} (enrolled" in alt
    _assert_palette(fig)
    # Rendered outside use_palette(): the curves are Okabe-Ito blue, not matplotlib's C0.
    png = figures.save_figure(fig, tmp_path / "km.png", dpi=60)
    with Image.open(png) as img:
        pixels = np.asarray(img.convert("RGB")).reshape(-1, 3)
        assert img.text["Description"] == alt
    colours = {tuple(p) for p in np.unique(pixels, axis=0)}
    assert (0, 114, 178) in colours and MPL_DEFAULT_BLUE not in colours


def test_cumulative_incidence_plot(evaluated):
    _, ev = evaluated
    cif = ev.results[("cif_landmark", "retention")]
    fig = figures.cumulative_incidence_plot(cif, population="leaders", time_unit="years")
    alt = fig.alt_text
    assert "involuntary, retirement and voluntary" in alt and "enrolled and not enrolled" in alt
    end = cif.table.groupby(["group", "cause"]).estimate.last()
    assert f"voluntary: {end[('enrolled', 'voluntary')]:.2f}" in alt
    _assert_palette(fig)


def test_event_study_plot_redraws_in_palette_without_pyplot(evaluated):
    import matplotlib.pyplot as plt

    _, ev = evaluated
    res = ev.results[("did_dr", "work_engagement")]
    open_before = plt.get_fignums()
    fig = figures.event_study_plot(res, outcome="work_engagement")
    assert plt.get_fignums() == open_before
    dyn = res.aggregations[res.aggregations.aggregation == "event_time"]
    overall = res.overall()
    alt = fig.alt_text
    assert "work engagement" in alt
    assert f"from {dyn.event_time.min():g} to {dyn.event_time.max():g}" in alt
    assert f"overall ATT {overall.estimate:.2f}" in alt
    markers = {to_hex(ln.get_color()) for ln in fig.findobj(Line2D) if ln.get_marker() == "o"}
    assert markers and markers <= PALETTE_HEX


def test_love_plot(panel):
    last = panel[panel.period == panel.period.max()].dropna(subset=["work_engagement"])
    last = last.assign(enrolled=(last.group > 0).astype(int))
    # role dummies present among both the enrolled and the comparison (no separation)
    both = last.groupby("enrolled")[
        [c for c in last if c.startswith("role_") and c != "role_level"]
    ]
    roles = [c for c, ok in (both.sum() > 0).all().items() if ok][:-1]
    res = weighted_att(
        last, outcome="work_engagement", treatment="enrolled", covariates=["tenure_years", *roles]
    )
    fig = figures.love_plot(res.balance)
    tab = res.balance.table
    alt = fig.alt_text
    assert f"{len(tab)} covariate terms" in alt
    assert f"{tab.diff_un.abs().max():.2f} before" in alt
    assert f"{tab.diff_adj.abs().max():.2f} after weighting" in alt
    assert f"{int((tab.diff_adj.abs() < 0.1).sum())} of {len(tab)} terms" in alt
    points = {to_hex(ln.get_markeredgecolor()) for ln in fig.findobj(Line2D) if ln.get_marker()}
    assert points <= PALETTE_HEX


def test_control_charts_describe_phases_and_signals(evaluated):
    _, ev = evaluated
    charts = {k[1]: v for k, v in ev.results.items() if k[0] == "spc"}
    assert len(charts) == 3
    for what, res in charts.items():
        fig = figures.control_chart(res, what=what)
        alt = fig.alt_text
        assert what in alt and f"over {len(res.table)} periods" in alt
        for phase in res.phases.itertuples():
            assert f"{phase.centre:.3g}" in alt
            if len(res.phases) > 1:
                assert str(phase.phase) in alt
        if res.signals.empty:
            assert alt.endswith("no signals.")
        else:
            for period in res.signals.period.dropna():
                assert str(period) in alt
        _assert_palette(fig)


def test_roi_plot(evaluated):
    _, ev = evaluated
    res = ev.results[("roi", "program")]
    fig = figures.roi_plot(res)
    alt = fig.alt_text
    assert f"{res.n_draws:,} simulated net benefits" in alt
    assert f"{res.probability_pays * 100:.0f}%" in alt
    assert f"${abs(res.estimate('net_benefit')):,.0f}" in alt
    bars = {to_hex(p.get_facecolor()) for p in fig.axes[0].patches}
    assert bars <= PALETTE_HEX


# -------------------------------------------------------------------------- forest ---


def test_forest_plot_ratios_on_log_axis_with_null_at_one(evaluated):
    _, ev = evaluated
    est = ev.estimates[ev.estimates.method.isin(["cox_tv", "finegray", "rate_ratio"])]
    fig = figures.forest_plot(est)
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    nulls = [ln.get_xdata()[0] for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert nulls == [1.0]
    fig.draw_without_rendering()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    # top row first; a term estimated by several methods is named with its method
    assert labels[:2] == [
        f"{est.outcome.iloc[0]}: {est.term.iloc[0]} (cox_tv)",
        "any exit: enrolled",
    ]
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert "1" in ticks and all(re.fullmatch(r"[0-9.]+", t) for t in ticks)  # plain numbers
    hr = est.iloc[0]
    alt = fig.alt_text
    assert f"{len(est)} estimates, ratios on a log scale with the no-effect line at 1" in alt
    assert f"{hr.estimate:.2f} ({hr.conf_low:.2f} to {hr.conf_high:.2f})" in alt


def test_forest_plot_differences_at_zero_and_mixed_tables_get_two_panels(evaluated):
    _, ev = evaluated
    e = ev.estimates
    diffs = e[(e.method == "did_dr") & (e.term == "ATT (overall)")]
    fig = figures.forest_plot(diffs, label_col="outcome")
    (ax,) = fig.axes
    assert ax.get_xscale() == "linear"
    assert [ln.get_xdata()[0] for ln in ax.get_lines() if ln.get_linestyle() == "--"] == [0.0]
    assert all(o in fig.alt_text for o in diffs.outcome)
    mixed = pd.concat([diffs, e[e.method == "cox_tv"]])
    fig = figures.forest_plot(mixed)
    assert [a.get_xscale() for a in fig.axes] == ["log", "linear"]
    assert "no-effect line at 1" in fig.alt_text and "no-effect line at 0" in fig.alt_text
    _assert_palette(figures.forest_plot(mixed.iloc[:3], scale="difference"))


def test_forest_plot_bad_input():
    ok = pd.DataFrame({"term": ["a"], "estimate": [1.2], "conf_low": [0.9], "conf_high": [1.5]})
    with pytest.raises(DataValidationError, match=r"\['conf_high'\] missing"):
        figures.forest_plot(ok.drop(columns="conf_high"))
    with pytest.raises(DataValidationError, match="no rows"):
        figures.forest_plot(ok.iloc[:0])
    with pytest.raises(DataValidationError, match=r"ratio row\(s\) \['a'\] have a value <= 0"):
        figures.forest_plot(ok.assign(conf_low=-0.1), scale="ratio")
    with pytest.raises(DataValidationError, match="missing or non-numeric estimate"):
        figures.forest_plot(ok.assign(estimate=np.nan))
    with pytest.raises(ConfigError, match="scale must be"):
        figures.forest_plot(ok, scale="log")
    with pytest.raises(DataValidationError, match="label column 'name'"):
        figures.forest_plot(ok, label_col="name")
    # A missing interval draws the point alone and says nothing about it in the alt text.
    fig = figures.forest_plot(ok.assign(conf_low=np.nan))
    assert "a 1.20;" in fig.alt_text


# --------------------------------------------------------------------- trajectories ---


def test_score_trajectories_by_cohort_and_pooled(panel):
    fig = figures.score_trajectories(panel, outcome="work_engagement")
    cohorts = sorted(g for g in panel.group.unique() if g != 0)
    alt = fig.alt_text
    assert f"{len(cohorts)} enrolled cohorts and the comparison group" in alt
    first = panel[panel.period == panel.period.min()]
    comp_mean = first.loc[first.group == 0, "work_engagement"].mean()
    assert f"at wave {panel.period.min()}: comparison {comp_mean:.2f}" in alt
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["comparison", *[f"cohort from wave {g}" for g in cohorts]]
    _assert_palette(fig)

    fig = figures.score_trajectories(panel, outcome="burnout", by_cohort=False)
    last = panel[panel.period == panel.period.max()]
    enrolled = last.loc[last.group > 0, "burnout"].mean()
    assert f"enrolled {enrolled:.2f}." in fig.alt_text
    # The bars are t intervals of the means.
    bars = [c for c in fig.axes[0].collections if c.get_segments()]
    sub = last.loc[last.group > 0, "burnout"].dropna()
    half = stats.t.ppf(0.975, len(sub) - 1) * sub.std() / np.sqrt(len(sub))
    tops = np.concatenate([[s[1][1] - s[0][1] for s in c.get_segments()] for c in bars])
    assert np.isclose(tops, 2 * half).any()


def test_score_trajectories_bad_input(panel):
    with pytest.raises(DataValidationError, match=r"\['happiness'\] missing"):
        figures.score_trajectories(panel, outcome="happiness")
    with pytest.raises(DataValidationError, match="must be numeric"):
        figures.score_trajectories(panel, outcome="wave_id")
    with pytest.raises(DataValidationError, match="no non-missing"):
        figures.score_trajectories(panel.assign(burnout=np.nan), outcome="burnout")


# ------------------------------------------------------------------------- saving ---


def test_save_figure_writes_alt_text_into_png_svg_pdf_jpg(evaluated, tmp_path):
    _, ev = evaluated
    fig = figures.km_plot(ev.results[("km_landmark", "voluntary turnover")], time_unit="years")
    alt = fig.alt_text
    with Image.open(figures.save_figure(fig, tmp_path / "f.png", dpi=50)) as png:
        assert png.text["Description"] == alt and png.text["Title"] == "Kaplan–Meier curves"
    svg = figures.save_figure(fig, tmp_path / "f.svg").read_text(encoding="utf-8")
    root = re.search(r"<svg\b[^>]*>", svg).group(0)
    assert 'role="img"' in root and "aria-label=" in root
    desc = re.search(r"<desc id=\"fig-desc\">(.*?)</desc>", svg, re.S).group(1)
    assert desc == alt.replace("&", "&amp;")
    assert svg.index("<desc") < svg.index("<g ")  # first thing a screen reader meets
    pdf = figures.save_figure(fig, tmp_path / "f.pdf").read_bytes()
    assert _pdf_info(pdf, "Subject") == alt and _pdf_info(pdf, "Title") == "Kaplan–Meier curves"
    with Image.open(figures.save_figure(fig, tmp_path / "f.jpg", dpi=50)) as jpg:
        exif = jpg.getexif()
    assert exif[0x010E] == alt.replace("–", "-")
    assert exif[0x9C9C].decode("utf-16-le").rstrip("\0") == alt


def test_markdown_and_missing_alt_text(tmp_path):
    fig = figures.set_alt_text(Figure(), 'Bars of "reach"\nby site.', title="Reach")
    md = figures.figure_markdown(fig, tmp_path / "reach.png", "Reach [by site]", label="reach")
    assert md == (
        f"![Reach \\[by site\\]]({(tmp_path / 'reach.png').as_posix()})"
        '{#fig-reach fig-alt="Bars of \\"reach\\" by site."}'
    )
    with pytest.raises(ConfigError, match="no alt text"):
        figures.save_figure(Figure(), tmp_path / "x.png")
    with pytest.raises(ConfigError, match="no alt text"):
        figures.figure_markdown(Figure(), "x.png", "x")
    with pytest.raises(ConfigError, match="non-empty"):
        figures.set_alt_text(Figure(), "  ")
    with pytest.raises(ConfigError, match="expected a KaplanMeierResult"):
        figures.km_plot(pd.DataFrame())


def test_single_group_weighted_curve_and_run_chart_phrasing():
    from coacheval.quality.spc import run_chart
    from coacheval.retention.km import kaplan_meier

    df = pd.DataFrame({"t": [2, 4, 4, 6, 9, 3], "e": [1, 1, 0, 1, 0, 1], "w": [1, 2, 1.5, 1, 1, 1]})
    km = kaplan_meier(df, stop_col="t", event_col="e", weights_col="w")
    alt = figures.km_plot(km, population="leaders", time_unit="years").alt_text
    assert alt.startswith("Kaplan–Meier curve of survival for leaders over 9 years;")
    assert "7.5 at risk at the start" in alt  # weighted numbers at risk keep their decimal
    assert f"survival {km.table.survival.iloc[-1]:.2f} (at 9 years)" in alt
    chart = run_chart([3, 5, 4, 6, 5, 7, 8, 9, 10, 11, 12, 13, 14])
    alt = figures.control_chart(chart).alt_text
    assert alt.startswith("Run chart over 13 periods (1 to 13); centre line 8;")
    assert set(chart.signals.rule) and all(r.replace("_", " ") in alt for r in chart.signals.rule)
