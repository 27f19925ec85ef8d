"""Figures for reports and notebooks: a colour-blind-safe palette and alt text on every figure.

Every function returns a :class:`matplotlib.figure.Figure` (never shown, never registered with
pyplot) drawn with the Okabe–Ito palette and carrying ``fig.alt_text``: one or two sentences
describing the figure, generated from its data (groups, numbers at risk, estimates and
intervals, signals). :func:`save_figure` writes that description into every format that can hold
it (a PNG ``Description`` text chunk, an SVG ``<title>``/``<desc>`` with ``role="img"`` and
``aria-label``, the PDF ``Subject``, the JPEG EXIF and TIFF ``ImageDescription``) and
:func:`figure_markdown` gives the Pandoc/Quarto markdown with ``fig-alt`` for a report.

The wrappers (:func:`km_plot`, :func:`cumulative_incidence_plot`, :func:`control_chart`,
:func:`roi_plot`) call the result objects' own ``plot()`` inside :func:`use_palette` and then fix
the ``"C0"``-style colour names matplotlib resolves only at draw time, so the palette survives
saving outside the context. :func:`event_study_plot` and :func:`love_plot` re-draw, because the
result objects' plots use fixed colours. :func:`forest_plot` and :func:`score_trajectories` are
new.

Examples
--------
>>> import pandas as pd
>>> est = pd.DataFrame({"term": ["enrolled"], "estimand": ["hazard ratio"],
...                     "estimate": [0.8], "conf_low": [0.6], "conf_high": [1.1]})
>>> fig = forest_plot(est)
>>> print(fig.alt_text)
Forest plot of 1 estimate, a ratio on a log scale with the no-effect line at 1: enrolled 0.80
(0.60 to 1.10); none of the intervals excludes 1.
>>> figure_markdown(fig, "figures/forest.png", "Hazard ratio")[:51]
'![Hazard ratio](figures/forest.png){fig-alt="Forest'

The colours are public, for figures drawn by hand in the same style:

>>> from coacheval.figures import OKABE_ITO, PALETTE
>>> OKABE_ITO["blue"], OKABE_ITO["vermillion"]
('#0072B2', '#D55E00')
>>> len(PALETTE), PALETTE[:3]
(8, ('#0072B2', '#E69F00', '#009E73'))
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape, quoteattr

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text
from scipy import stats

from coacheval.errors import CoachevalError, ConfigError, DataValidationError

__all__ = [
    "OKABE_ITO",
    "PALETTE",
    "control_chart",
    "cumulative_incidence_plot",
    "event_study_plot",
    "figure_markdown",
    "figure_metadata",
    "forest_plot",
    "km_plot",
    "love_plot",
    "roi_plot",
    "save_figure",
    "score_trajectories",
    "set_alt_text",
    "style",
    "use_palette",
]

#: The Okabe–Ito colours by name (Okabe & Ito 2008, "Color Universal Design").
OKABE_ITO: dict[str, str] = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "bluish_green": "#009E73",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "sky_blue": "#56B4E9",
    "yellow": "#F0E442",
    "black": "#000000",
}

#: The colour cycle (``C0`` ... ``C7``): blue, orange, bluish green, vermillion (``C3``, where
#: the result plots draw warnings in red), reddish purple, sky blue, yellow, black.
PALETTE: tuple[str, ...] = tuple(OKABE_ITO.values())

_CN = re.compile(r"^C(\d+)$")


# ------------------------------------------------------------------------------ style ---


def style() -> dict[str, Any]:
    """Matplotlib settings of coacheval's figures: the Okabe–Ito cycle and a plain look.

    Returns
    -------
    dict
        rcParams (``axes.prop_cycle`` of :data:`PALETTE`, the colour-blind-safe ``cividis``
        colour map, no top/right spines, no legend frame). Use with
        ``matplotlib.rcParams.update(style())`` in a notebook, or :func:`use_palette`.

    Examples
    --------
    >>> style()["axes.prop_cycle"].by_key()["color"][:2]
    ['#0072B2', '#E69F00']
    """
    return {
        "axes.prop_cycle": mpl.cycler(color=list(PALETTE)),
        "image.cmap": "cividis",
        "patch.facecolor": PALETTE[0],
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.frameon": False,
    }


@contextlib.contextmanager
def use_palette() -> Iterator[None]:
    """Context manager: draw with :func:`style` (the Okabe–Ito palette) inside the block.

    Colours named ``"C0"``..``"C7"`` on lines and text are resolved by matplotlib when the figure
    is drawn, so a figure drawn inside the block but saved after it would fall back to the
    default colours; the functions of this module fix that (see :func:`_freeze_colours`).

    Examples
    --------
    >>> import matplotlib as mpl
    >>> with use_palette():
    ...     mpl.rcParams["axes.prop_cycle"].by_key()["color"][3]
    '#D55E00'
    """
    with mpl.rc_context(style()):
        yield


def _palette_colour(spec: Any) -> Any:
    if isinstance(spec, str):
        m = _CN.match(spec)
        if m:
            return PALETTE[int(m.group(1)) % len(PALETTE)]
    return spec


def _freeze_colours(fig: Figure) -> Figure:
    """Replace ``"CN"`` colour names on lines and texts by the palette's hex codes."""
    for line in fig.findobj(Line2D):
        line.set_color(_palette_colour(line.get_color()))
        line.set_markerfacecolor(_palette_colour(line.get_markerfacecolor()))
        line.set_markeredgecolor(_palette_colour(line.get_markeredgecolor()))
    for text in fig.findobj(Text):
        text.set_color(_palette_colour(text.get_color()))
    return fig


# --------------------------------------------------------------------------- alt text ---


def set_alt_text(fig: Figure, text: str, *, title: str | None = None) -> Figure:
    """Attach alt text (and a short title) to a figure, for :func:`save_figure` to write.

    Parameters
    ----------
    fig
        The figure.
    text
        The description: what the figure shows, with its key numbers.
    title
        A short title (PDF ``Title``, SVG ``<title>``, PNG ``Title``); by default the figure's
        suptitle or first axes title.

    Returns
    -------
    matplotlib.figure.Figure
        The same figure, with ``fig.alt_text`` and ``fig.alt_title`` set.

    Examples
    --------
    >>> fig = set_alt_text(Figure(), "An empty figure.", title="Nothing")
    >>> figure_metadata(fig)
    {'Title': 'Nothing', 'Description': 'An empty figure.'}
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError("alt text must be a non-empty string")
    fig.alt_text = " ".join(text.split())  # type: ignore[attr-defined]
    if title is None:
        sup = fig._suptitle.get_text() if fig._suptitle is not None else ""
        titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
        title = sup or (titles[0] if titles else "")
    fig.alt_title = title  # type: ignore[attr-defined]
    return fig


def figure_metadata(fig: Figure) -> dict[str, str]:
    """Return the ``Title`` and ``Description`` a figure carries (empty strings if none).

    Examples
    --------
    >>> figure_metadata(Figure())
    {'Title': '', 'Description': ''}
    """
    return {
        "Title": str(getattr(fig, "alt_title", "") or ""),
        "Description": str(getattr(fig, "alt_text", "") or ""),
    }


def _svg_with_alt(svg: str, title: str, alt: str) -> str:
    """Put ``<title>``/``<desc>`` first inside the root ``<svg>`` and label it for screen readers."""
    m = re.search(r"<svg\b[^>]*>", svg)
    if m is None:
        raise CoachevalError("matplotlib wrote an SVG without an <svg> element")
    tag = m.group(0)
    attrs = f' role="img" aria-label={quoteattr(alt)} aria-labelledby="fig-title fig-desc"'
    new_tag = tag[:-1] + attrs + ">"
    inner = f'\n <title id="fig-title">{escape(title or alt)}</title>\n'
    inner += f' <desc id="fig-desc">{escape(alt)}</desc>'
    return svg[: m.start()] + new_tag + inner + svg[m.end() :]


def save_figure(
    fig: Figure,
    path: str | Path,
    *,
    dpi: float = 150,
    alt_text: str | None = None,
    title: str | None = None,
    **savefig_kwargs: Any,
) -> Path:
    r"""Save a figure with its alt text in the file's own metadata.

    Parameters
    ----------
    fig
        The figure (from this module, or any figure after :func:`set_alt_text`).
    path
        Where to write; the suffix picks the format: ``.png`` (``Title`` and ``Description``
        text chunks), ``.svg`` (``<title>`` and ``<desc>`` first in the root element, which
        also gets ``role="img"``, ``aria-label`` and ``aria-labelledby``; and the Dublin Core
        description matplotlib writes), ``.pdf`` (document ``Title`` and ``Subject``),
        ``.jpg``/``.jpeg`` (EXIF ``ImageDescription``, transliterated to ASCII as EXIF
        requires, and the exact text in ``XPComment``), ``.tif``/``.tiff`` (TIFF
        ``ImageDescription``). Other formats are written without a description.
    dpi
        Resolution of raster formats.
    alt_text, title
        Override the figure's own (see :func:`set_alt_text`).
    **savefig_kwargs
        Passed to :meth:`matplotlib.figure.Figure.savefig` (e.g. ``bbox_inches``).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ConfigError
        The figure has no alt text and none is given.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> fig = set_alt_text(Figure(figsize=(1, 1)), "A blank square.")
    >>> out = save_figure(fig, pathlib.Path(tempfile.mkdtemp()) / "blank.svg")
    >>> '<desc id="fig-desc">A blank square.</desc>' in out.read_text()
    True
    """
    meta = figure_metadata(fig)
    alt = " ".join((alt_text if alt_text is not None else meta["Description"]).split())
    if not alt:
        raise ConfigError(
            "the figure has no alt text: draw it with coacheval.figures or call "
            "set_alt_text(fig, ...) first (or pass alt_text=)"
        )
    heading = title if title is not None else meta["Title"]
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    kwargs: dict[str, Any] = {"dpi": dpi, **savefig_kwargs}
    if fmt == "png":
        kwargs["metadata"] = {"Title": heading, "Description": alt}
    elif fmt == "pdf":
        kwargs["metadata"] = {"Title": heading or alt[:80], "Subject": alt}
    elif fmt == "svg":
        kwargs["metadata"] = {"Title": heading, "Description": alt}
    elif fmt in ("jpg", "jpeg"):
        from PIL import Image

        exif = Image.Exif()
        exif[0x010E] = _ascii(alt)  # ImageDescription is ASCII-only
        exif[0x9C9C] = (alt + "\0").encode("utf-16-le")  # XPComment: the text as written
        kwargs["pil_kwargs"] = {**kwargs.get("pil_kwargs", {}), "exif": exif.tobytes()}
    elif fmt in ("tif", "tiff"):
        kwargs["pil_kwargs"] = {**kwargs.get("pil_kwargs", {}), "tiffinfo": {270: alt}}
    fig.savefig(path, **kwargs)
    if fmt == "svg":
        path.write_text(_svg_with_alt(path.read_text(encoding="utf-8"), heading, alt), "utf-8")
    return path


def _ascii(text: str) -> str:
    """Transliterate to ASCII for metadata fields that cannot hold anything else."""
    import unicodedata

    text = text.translate({0x2013: "-", 0x2014: "-", 0x2032: "'", 0x2212: "-"})
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def figure_markdown(
    fig: Figure, path: str | Path, caption: str, *, label: str | None = None
) -> str:
    r"""Return the Pandoc/Quarto markdown for a saved figure, with its alt text as ``fig-alt``.

    Parameters
    ----------
    fig
        The figure (its ``alt_text`` is used).
    path
        The image's path as the report should link it.
    caption
        The visible caption.
    label
        Optional cross-reference label (``fig-...``; the prefix is added when missing).

    Returns
    -------
    str
        ``![caption](path){#fig-label fig-alt="..."}``.

    Examples
    --------
    >>> fig = set_alt_text(Figure(), 'Bars of "reach" by site.')
    >>> figure_markdown(fig, "f/reach.png", "Reach", label="reach")
    '![Reach](f/reach.png){#fig-reach fig-alt="Bars of \\"reach\\" by site."}'
    """
    alt = figure_metadata(fig)["Description"]
    if not alt:
        raise ConfigError("the figure has no alt text; call set_alt_text(fig, ...) first")
    quoted = alt.replace("\\", "\\\\").replace('"', '\\"')
    cap = " ".join(str(caption).split()).replace("[", "\\[").replace("]", "\\]")
    ident = ""
    if label:
        ident = "#" + (label if label.startswith("fig-") else f"fig-{label}") + " "
    return f'![{cap}]({Path(path).as_posix()}){{{ident}fig-alt="{quoted}"}}'


# --------------------------------------------------------------------------- numbers ---


def _num(x: float, digits: int = 2) -> str:
    """Format a number for prose: thousands separators, ``digits`` decimals below 100."""
    if x is None or not np.isfinite(x):
        return "not available"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def _count(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.1f}"


def _join(items: Sequence[str]) -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _time(t: float, unit: str) -> str:
    return f"{t:.3g} {unit}".strip()


# ------------------------------------------------------------------------ wrappers ---


def km_plot(
    result: Any,
    *,
    what: str = "survival",
    population: str = "",
    time_unit: str = "",
    **plot_kwargs: Any,
) -> Figure:
    """Kaplan–Meier curves with the numbers-at-risk table, in the palette, with alt text.

    Parameters
    ----------
    result
        A :class:`~coacheval.retention.km.KaplanMeierResult`.
    what
        What the curves estimate, for the alt text (e.g. ``"staying employed"``).
    population
        Who, for the alt text (e.g. ``"leaders"``).
    time_unit
        Unit of the time axis, for the alt text (e.g. ``"years"``).
    **plot_kwargs
        Passed to ``result.plot()`` (``risk_table``, ``times``, ``conf_int``, ``xlabel``,
        ``ylabel``, ``ylim``).

    Returns
    -------
    matplotlib.figure.Figure
        With ``alt_text`` naming the groups, the follow-up, the numbers at risk at the start
        and each group's survival at its last time.

    Examples
    --------
    >>> import pandas as pd
    >>> from coacheval.retention.km import kaplan_meier
    >>> df = pd.DataFrame({"t": [2, 4, 4, 6, 9, 3], "e": [1, 1, 0, 1, 0, 1],
    ...                    "arm": ["a", "a", "a", "b", "b", "b"]})
    >>> fig = km_plot(kaplan_meier(df, stop_col="t", event_col="e", group_col="arm"),
    ...               time_unit="months")
    >>> print(fig.alt_text)
    Kaplan–Meier curves of survival for a and b over 9 months; 3 and 3 at risk at the start;
    survival 0.33 (a, at 4 months) and 0.33 (b, at 9 months).
    """
    _need(result, ("table", "groups", "risk_table", "plot"), "km_plot", "KaplanMeierResult")
    with use_palette():
        fig = _freeze_colours(result.plot(**plot_kwargs))
    tab = result.table
    groups = result.groups
    start = result.risk_table([0.0]).iloc[:, 0]
    last = tab.groupby("group", sort=False).tail(1).set_index("group")
    tmax = float(tab["time"].max())
    single = len(groups) == 1
    who = f" {population}" if population else ""
    subject = f"for{who}" if single else f"for {_join(groups)}{who}"
    ends = [
        f"{_num(float(last.loc[g, 'survival']))} "
        f"({'' if single else f'{g}, '}at {_time(float(last.loc[g, 'time']), time_unit)})"
        for g in groups
    ]
    alt = (
        f"Kaplan–Meier {'curve' if single else 'curves'} of {what} {subject} over "
        f"{_time(tmax, time_unit)}; {_join([_count(start.loc[g]) for g in groups])} at risk at "
        f"the start; survival {_join(ends)}."
    )
    return set_alt_text(fig, alt.replace(" for over", " over"), title="Kaplan–Meier curves")


def cumulative_incidence_plot(
    result: Any, *, population: str = "", time_unit: str = "", **plot_kwargs: Any
) -> Figure:
    """Cumulative incidence curves (Aalen–Johansen) in the palette, with alt text.

    Parameters
    ----------
    result
        A :class:`~coacheval.retention.competing.CumulativeIncidenceResult`.
    population, time_unit
        For the alt text (e.g. ``"leaders"``, ``"years"``).
    **plot_kwargs
        Passed to ``result.plot()`` (``kind``, ``by``, ``ci``).

    Returns
    -------
    matplotlib.figure.Figure
        With ``alt_text`` naming the causes and groups and each curve's value at its end.

    Examples
    --------
    >>> import pandas as pd
    >>> from coacheval.retention.competing import cumulative_incidence
    >>> df = pd.DataFrame({"t": [1, 2, 3, 4], "e": [1, 2, 0, 1]})
    >>> cumulative_incidence_plot(cumulative_incidence(df, stop_col="t", event_col="e")).alt_text
    'Cumulative incidence of each cause (1 and 2) over 4; at the end 1: 0.75, 2: 0.25.'
    """
    _need(result, ("table", "causes", "groups", "plot"), "cumulative_incidence_plot", "CIF")
    with use_palette():
        fig = _freeze_colours(result.plot(**plot_kwargs))
    tab = result.table
    last = tab.groupby(["group", "cause"], sort=False).tail(1)
    single = len(result.groups) == 1
    parts = []
    for g in result.groups:
        sub = last[last["group"] == g]
        vals = ", ".join(
            f"{c}: {_num(float(v))}" for c, v in zip(sub.cause, sub.estimate, strict=True)
        )
        parts.append(vals if single else f"{g} {vals}")
    who = f" among {population}" if population else ""
    groups = "" if single else f" for {_join(result.groups)}"
    alt = (
        f"Cumulative incidence of each cause ({_join(map(str, result.causes))}){who}{groups} over "
        f"{_time(float(tab['time'].max()), time_unit)}; at the end {'; '.join(parts)}."
    )
    return set_alt_text(fig, alt, title="Cumulative incidence")


def control_chart(result: Any, *, what: str | None = None, **plot_kwargs: Any) -> Figure:
    """Draw a run or control chart (:class:`~coacheval.quality.spc.SPCResult`) with alt text.

    Parameters
    ----------
    result
        The chart's result.
    what
        What is charted, for the alt text (e.g. ``"voluntary exits per 100 person-years"``).
    **plot_kwargs
        Passed to ``result.plot()`` (``ylabel``).

    Returns
    -------
    matplotlib.figure.Figure
        With ``alt_text`` giving the periods, each phase's centre line and the signals.

    Examples
    --------
    >>> from coacheval.quality.spc import i_mr_chart
    >>> control_chart(i_mr_chart([3.0, 3.4, 2.9, 3.1, 3.2]), what="engagement").alt_text
    'I/MR chart of engagement over 5 periods (1 to 5); centre line 3.12; no signals.'
    """
    _need(result, ("chart", "table", "phases", "signals", "plot"), "control_chart", "SPCResult")
    from coacheval.quality.spc import CHART_NAMES

    with use_palette():
        fig = _freeze_colours(result.plot(**plot_kwargs))
    tab, ph, sig = result.table, result.phases, result.signals
    name = CHART_NAMES.get(result.chart, "Control chart")
    periods = [str(p) for p in tab["period"]]
    if len(ph) == 1:
        centre = f"centre line {float(ph['centre'].iloc[0]):.3g}"
    else:
        centre = "centre line " + _join(
            [f"{float(c):.3g} ({p})" for p, c in zip(ph["phase"], ph["centre"], strict=True)]
        )
    if sig.empty:
        signals = "no signals"
    else:
        by_rule = sig.groupby("rule", sort=False)["period"].agg(
            lambda s: [str(p) for p in s if p is not None and not pd.isna(p)]
        )
        signals = "signals: " + "; ".join(
            f"{rule.replace('_', ' ')}" + (f" at {_join(ps)}" if ps else "")
            for rule, ps in by_rule.items()
        )
    subject = f" of {what}" if what else ""
    alt = (
        f"{name}{subject} over {len(tab)} periods ({periods[0]} to {periods[-1]}); "
        f"{centre}; {signals}."
    )
    return set_alt_text(fig, alt, title=name)


def roi_plot(result: Any) -> Figure:
    """Draw the simulated net benefit (:class:`~coacheval.quality.economics.ROIResult`), with alt text.

    Returns
    -------
    matplotlib.figure.Figure
        With ``alt_text`` giving the number of draws, the net benefit with its interval, the
        probability the program pays for itself and the break-even hazard ratio.

    Examples
    --------
    >>> from coacheval.quality.economics import roi
    >>> res = roi(cost=150_000, hazard_ratio=0.8, log_hr_se=0.25, exposed_person_years=300,
    ...           baseline_rate=0.09, cost_per_turnover=150_000, n_draws=2000)
    >>> roi_plot(res).alt_text  # doctest: +ELLIPSIS
    'Histogram of 2,000 simulated net benefits of the program: estimate $660,000 (95% interval ...'
    """
    _need(result, ("net_benefit_draws", "interval", "estimate", "plot"), "roi_plot", "ROIResult")
    from coacheval.quality.economics import _money

    with use_palette():
        fig = _freeze_colours(result.plot())
    lo, hi = result.interval("net_benefit")
    cur = result.currency
    alt = (
        f"Histogram of {len(result.net_benefit_draws):,} simulated net benefits of the program: "
        f"estimate {_money(result.estimate('net_benefit'), cur)} ({result.level * 100:g}% "
        f"interval {_money(lo, cur)} to {_money(hi, cur)}), with the break-even line at 0; "
        f"probability the program pays for itself {result.probability_pays * 100:.0f}%; it "
        f"breaks even at a hazard ratio of {_num(result.break_even_hazard_ratio, 3)}."
    )
    return set_alt_text(fig, alt, title="Net benefit of the program")


# ------------------------------------------------------------------------- re-drawn ---


def event_study_plot(
    result: Any,
    *,
    outcome: str | None = None,
    period_label: str = "Periods since the cohort's first treated period",
) -> Figure:
    """Event-study plot of a :class:`~coacheval.effects.did.GroupTimeResult`, with alt text.

    ATT by event time with its confidence interval: pre-periods (placebo checks) as open orange
    circles, post-periods as filled blue ones, a horizontal line at 0 and a dashed line between
    the last pre-period and the first treated one.

    Parameters
    ----------
    result
        The group-time result (its ``aggregations`` rows with ``aggregation == "event_time"``).
    outcome
        Outcome name for the title and alt text.
    period_label
        Label of the x axis.

    Returns
    -------
    matplotlib.figure.Figure
        With ``alt_text`` giving the event times, how many intervals exclude 0 before and after,
        the range of the estimates after, and the overall ATT.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from coacheval.effects.did import group_time_att
    >>> rng = np.random.default_rng(1)
    >>> unit = np.repeat(np.arange(40), 4); period = np.tile(np.arange(1, 5), 40)
    >>> group = np.repeat(np.where(np.arange(40) < 20, 3, 0), 4)
    >>> y = rng.normal(size=160) + 0.5 * ((group > 0) & (period >= 3))
    >>> panel = pd.DataFrame({"id": unit, "t": period, "g": group, "y": y})
    >>> res = group_time_att(panel, outcome="y", unit="id", period="t", group="g", method="reg")
    >>> event_study_plot(res, outcome="y").alt_text  # doctest: +ELLIPSIS
    'Event-study plot of the ATT on y by periods since the cohort started, from -1 to 1; ...'
    """
    _need(result, ("aggregations",), "event_study_plot", "GroupTimeResult")
    agg = result.aggregations
    dyn = agg[agg["aggregation"] == "event_time"].sort_values("event_time")
    if dyn.empty:
        raise DataValidationError("event_study_plot: the result has no event-time estimates")
    with use_palette():
        fig = Figure(figsize=(6.5, 3.8), layout="constrained")
        ax = fig.add_subplot(1, 1, 1)
        pre_colour, post_colour = OKABE_ITO["orange"], OKABE_ITO["blue"]
        for mask, colour, face, label in (
            (dyn.event_time < 0, pre_colour, "white", "before (placebo)"),
            (dyn.event_time >= 0, post_colour, post_colour, "after the cohort started"),
        ):
            part = dyn[mask]
            if part.empty:
                continue
            x = part.event_time.to_numpy(float)
            y = part.estimate.to_numpy(float)
            err = np.vstack([y - part.conf_low.to_numpy(float), part.conf_high.to_numpy(float) - y])
            ax.errorbar(
                x, y, yerr=err, fmt="o", color=colour, mfc=face, mec=colour, capsize=3, label=label
            )
        ax.axhline(0, color=OKABE_ITO["black"], lw=0.8)
        ax.axvline(-0.5, color="0.6", ls="--", lw=0.8)
        ax.set_xlabel(period_label)
        ax.set_ylabel("ATT")
        ax.set_title(f"Event study: {outcome.replace('_', ' ')}" if outcome else "Event study")
        ax.legend(fontsize=8)
    excl = (dyn.conf_low > 0) | (dyn.conf_high < 0)
    pre, post = dyn.event_time < 0, dyn.event_time >= 0

    def tally(mask: pd.Series, when: str) -> str:
        n, k = int(mask.sum()), int((excl & mask).sum())
        if n == 0:
            return f"no estimates {when}"
        return f"{k} of {n} intervals {when} exclude 0"

    post_est = dyn.loc[post, "estimate"]
    rng_text = (
        f"; estimates after range from {_num(post_est.min())} to {_num(post_est.max())}"
        if len(post_est) > 1
        else (f"; estimate after {_num(post_est.iloc[0])}" if len(post_est) else "")
    )
    overall = agg[agg["aggregation"] == "overall"]
    ov = ""
    if len(overall):
        o = overall.iloc[0]
        ov = (
            f"; overall ATT {_num(float(o.estimate))} ({_num(float(o.conf_low))} to "
            f"{_num(float(o.conf_high))})"
        )
    on = f" on {outcome.replace('_', ' ')}" if outcome else ""
    et = dyn.event_time.to_numpy(float)
    alt = (
        f"Event-study plot of the ATT{on} by periods since the cohort started, from "
        f"{et.min():g} to {et.max():g}; {tally(pre, 'before')} (placebo checks), "
        f"{tally(post, 'after')}{rng_text}{ov}."
    )
    return set_alt_text(fig, alt)


def love_plot(balance: Any, *, max_terms: int = 5) -> Figure:
    """Love plot of a :class:`~coacheval.effects.weighting.BalanceResult`, with alt text.

    Absolute differences before weighting (open black circles) and after (filled blue), with
    the balance threshold as a dashed vermillion line; terms in the table's order, top down.

    Parameters
    ----------
    balance
        The balance result (e.g. ``weighted_att(...).balance`` or ``balance_table(...)``).
    max_terms
        How many of the worst-balanced terms the alt text names.

    Returns
    -------
    matplotlib.figure.Figure
        With ``alt_text`` giving the number of terms, the largest difference before and after
        and how many terms are under the threshold after weighting.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from coacheval.effects.weighting import balance_table
    >>> df = pd.DataFrame({"d": [1, 1, 1, 0, 0, 0], "age": [30, 40, 50, 35, 45, 60.0]})
    >>> print(love_plot(balance_table(df, "d", np.ones(6), ["age"])).alt_text)
    Love plot of 1 covariate term (ATT weights): the largest absolute difference is 0.67 before
    and 0.67 after weighting (age); 0 of 1 terms are below the threshold 0.1 after weighting.
    """
    _need(balance, ("table", "threshold", "estimand"), "love_plot", "BalanceResult")
    tab = balance.table
    if tab.empty:
        raise DataValidationError("love_plot: the balance table has no terms")
    rev = tab.iloc[::-1]
    y = np.arange(len(rev))
    with use_palette():
        fig = Figure(figsize=(6.5, 1.2 + 0.3 * len(rev)), layout="constrained")
        ax = fig.add_subplot(1, 1, 1)
        ax.plot(rev.diff_un.abs(), y, "o", mfc="white", mec=OKABE_ITO["black"], label="Before")
        ax.plot(rev.diff_adj.abs(), y, "o", color=OKABE_ITO["blue"], label="After weighting")
        ax.axvline(balance.threshold, color=OKABE_ITO["vermillion"], ls="--", lw=1)
        ax.axvline(0, color=OKABE_ITO["black"], lw=0.6)
        ax.set_yticks(y, [str(t) for t in rev.term])
        ax.set_xlabel("Absolute standardised mean difference (binary: difference in proportions)")
        ax.set_title(f"Covariate balance ({balance.estimand} weights)")
        ax.legend(loc="lower right")
    un, adj = tab.diff_un.abs(), tab.diff_adj.abs()
    worst = tab.loc[adj.sort_values(ascending=False).index[:max_terms], "term"].astype(str)
    n_ok = int((adj < balance.threshold).sum())
    n = len(tab)
    alt = (
        f"Love plot of {n} covariate term{'s' if n != 1 else ''} ({balance.estimand} weights): "
        f"the largest absolute difference is {_num(float(un.max()))} before and "
        f"{_num(float(adj.max()))} after weighting ({_join(list(worst))}); {n_ok} of {n} terms "
        f"are below the threshold {balance.threshold:g} after weighting."
    )
    return set_alt_text(fig, alt)


# --------------------------------------------------------------------------- forest ---

_RATIO = re.compile(r"\bratio\b", re.IGNORECASE)


def _row_labels(est: pd.DataFrame, label_col: str | None) -> list[str]:
    if label_col is not None:
        if label_col not in est:
            raise DataValidationError(
                f"forest_plot: label column {label_col!r} is not in the table "
                f"(columns: {list(est.columns)})"
            )
        return [str(v) for v in est[label_col]]
    if "term" in est and "outcome" in est and est["outcome"].nunique() > 1:
        labels = [f"{o}: {t}" for o, t in zip(est["outcome"], est["term"], strict=True)]
    elif "term" in est:
        labels = [str(v) for v in est["term"]]
    else:
        labels = [str(v) for v in est.index]
    dup = pd.Series(labels).duplicated(keep=False).to_numpy()
    if "method" in est and dup.any():  # the same term from several methods: name the method
        labels = [
            f"{lab} ({m})" if d else lab
            for lab, m, d in zip(labels, est["method"], dup, strict=True)
        ]
    return labels


_LOG_TICKS = np.array([0.05, 0.1, 0.2, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 5, 10, 20, 50, 100])


def _log_ticks(ax: Any, low: float, high: float) -> None:
    """Plain-number ticks (0.5, 1, 2) on a log axis instead of powers of ten."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    ticks = _LOG_TICKS[(_LOG_TICKS >= low) & (_LOG_TICKS <= high)]
    if len(ticks) > 7:
        ticks = ticks[np.isin(ticks, [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 10, 20, 50, 100])]
    if len(ticks) < 2:
        ticks = np.unique(np.r_[ticks, np.round([low, high], 2)])
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_locator(NullLocator())


def forest_plot(
    estimates: pd.DataFrame,
    *,
    label_col: str | None = None,
    scale: Literal["auto", "ratio", "difference"] = "auto",
    null: float | None = None,
    xlabel: str | None = None,
    title: str | None = None,
    annotate: bool = True,
    max_alt_rows: int = 8,
) -> Figure:
    """Forest plot of a tidy estimates table: points with interval bars, one row per estimate.

    Ratios (hazard, rate, odds ratios) go on a log axis with the no-effect line at 1,
    differences on a linear axis with the line at 0. A table mixing both gets two panels.

    Parameters
    ----------
    estimates
        Rows of an estimates table (e.g. ``estimates.csv``): ``estimate``, ``conf_low``,
        ``conf_high`` and a label; missing limits draw the point alone.
    label_col
        Column of row labels; by default ``"outcome: term"`` when the rows span several
        outcomes, else ``term``, else the index.
    scale
        ``"auto"``: a row is a ratio when its ``estimand`` says "ratio" (all rows differences
        without an ``estimand`` column); or ``"ratio"``/``"difference"`` for every row.
    null
        Position of the no-effect line (default 1 for ratios, 0 for differences).
    xlabel, title
        Axis label (by default "Ratio (log scale)" or "Difference") and title.
    annotate
        Write ``estimate (low to high)`` at the right of each row.
    max_alt_rows
        Rows listed in the alt text (the rest are counted).

    Returns
    -------
    matplotlib.figure.Figure
        With ``alt_text`` listing the estimates with their intervals and how many intervals
        exclude the null.

    Raises
    ------
    DataValidationError
        A column is missing, the table is empty, an estimate is missing, or a ratio row has a
        value <= 0 (which a log axis cannot show).
    ConfigError
        Bad ``scale``.

    Examples
    --------
    >>> import pandas as pd
    >>> est = pd.DataFrame({"term": ["a", "b"], "estimate": [0.3, -0.1],
    ...                     "conf_low": [0.1, -0.4], "conf_high": [0.5, 0.2]})
    >>> fig = forest_plot(est)
    >>> fig.axes[0].get_xscale(), fig.alt_text.split(":")[0]
    ('linear', 'Forest plot of 2 estimates, differences with the no-effect line at 0')
    """
    if scale not in ("auto", "ratio", "difference"):
        raise ConfigError(f"scale must be 'auto', 'ratio' or 'difference', got {scale!r}")
    if not isinstance(estimates, pd.DataFrame):
        raise DataValidationError("forest_plot: estimates must be a pandas DataFrame")
    missing = [c for c in ("estimate", "conf_low", "conf_high") if c not in estimates]
    if missing:
        raise DataValidationError(
            f"forest_plot: column(s) {missing} missing (columns: {list(estimates.columns)})"
        )
    if estimates.empty:
        raise DataValidationError("forest_plot: the estimates table has no rows")
    labels = np.asarray(_row_labels(estimates, label_col), dtype=object)
    est = estimates[["estimate", "conf_low", "conf_high"]].apply(pd.to_numeric, errors="coerce")
    bad = est["estimate"].isna().to_numpy()
    if bad.any():
        raise DataValidationError(
            f"forest_plot: missing or non-numeric estimate in row(s) {list(labels[bad])}"
        )
    if scale == "auto":
        if "estimand" in estimates:
            is_ratio = estimates["estimand"].astype(str).str.contains(_RATIO).to_numpy()
        else:
            is_ratio = np.zeros(len(est), dtype=bool)
    else:
        is_ratio = np.full(len(est), scale == "ratio")
    vals = est.to_numpy(float)
    nonpos = is_ratio & np.any(vals <= 0, axis=1)
    if nonpos.any():
        raise DataValidationError(
            f"forest_plot: ratio row(s) {list(labels[nonpos])} have a value <= 0, which a log "
            "axis cannot show (pass scale='difference' if these are not ratios)"
        )
    panels = [(kind, is_ratio == (kind == "ratio")) for kind in ("ratio", "difference")]
    panels = [(k, m) for k, m in panels if m.any()]
    heights = [int(m.sum()) for _, m in panels]
    with use_palette():
        fig = Figure(figsize=(7.0, 1.1 + 0.32 * len(est) + 0.6 * len(panels)), layout="constrained")
        axes = fig.subplots(len(panels), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[
            :, 0
        ]
        for ax, (kind, mask) in zip(axes, panels, strict=True):
            v, lab = vals[mask], labels[mask]
            line = null if null is not None else (1.0 if kind == "ratio" else 0.0)
            y = np.arange(len(v))[::-1].astype(float)
            lo = np.where(np.isfinite(v[:, 1]), v[:, 0] - v[:, 1], 0.0)
            hi = np.where(np.isfinite(v[:, 2]), v[:, 2] - v[:, 0], 0.0)
            ax.errorbar(v[:, 0], y, xerr=np.vstack([lo, hi]), fmt="o", color=PALETTE[0], capsize=3)
            ax.axvline(line, color=OKABE_ITO["black"], lw=0.9, ls="--")
            if kind == "ratio":
                ax.set_xscale("log")
                lo_x = np.nanmin(np.r_[v[:, :3].ravel(), line])
                hi_x = np.nanmax(np.r_[v[:, :3].ravel(), line])
                ax.set_xlim(lo_x / 1.15, hi_x * 1.15)
                _log_ticks(ax, lo_x / 1.15, hi_x * 1.15)
            ax.set_yticks(y, list(lab))
            ax.set_ylim(-0.7, len(v) - 0.3)
            ax.set_xlabel(xlabel or ("Ratio (log scale)" if kind == "ratio" else "Difference"))
            if annotate:
                for yy, row in zip(y, v, strict=True):
                    ax.annotate(
                        f"{_num(row[0])} ({_num(row[1])} to {_num(row[2])})"
                        if np.isfinite(row[1:]).all()
                        else _num(row[0]),
                        xy=(1.01, yy),
                        xycoords=("axes fraction", "data"),
                        va="center",
                        fontsize=8,
                    )
        if title:
            axes[0].set_title(title)
    parts = []
    for kind, mask in panels:
        v, lab = vals[mask], labels[mask]
        line = null if null is not None else (1.0 if kind == "ratio" else 0.0)
        rows = [
            f"{name} {_num(r[0])}"
            + (f" ({_num(r[1])} to {_num(r[2])})" if np.isfinite(r[1:]).all() else "")
            for name, r in zip(lab[:max_alt_rows], v[:max_alt_rows], strict=True)
        ]
        if len(v) > max_alt_rows:
            rows.append(f"and {len(v) - max_alt_rows} more")
        k = int(((v[:, 1] > line) | (v[:, 2] < line)).sum())
        excl = "none of the intervals excludes" if k == 0 else f"{k} of {len(v)} intervals exclude"
        head = (
            ("a ratio on a log scale" if len(v) == 1 else "ratios on a log scale")
            if kind == "ratio"
            else ("a difference" if len(v) == 1 else "differences")
        )
        parts.append(
            f"{head} with the no-effect line at {line:g}: {'; '.join(rows)}; {excl} {line:g}"
        )
    n = len(vals)
    alt = f"Forest plot of {n} estimate{'s' if n != 1 else ''}, " + "; and ".join(parts) + "."
    return set_alt_text(fig, alt, title=title or "Forest plot")


# ---------------------------------------------------------------------- trajectories ---


def score_trajectories(
    panel: pd.DataFrame,
    *,
    outcome: str,
    group_col: str = "group",
    period_col: str = "period",
    comparison: Any = 0,
    by_cohort: bool = True,
    level: float = 0.95,
    period_labels: Mapping[Any, str] | None = None,
    population: str = "leaders",
) -> Figure:
    """Mean score by wave for the enrolled cohorts and the comparison group, with CIs.

    Parameters
    ----------
    panel
        Long panel, one row per person and wave (e.g.
        :func:`coacheval.effects.panel.survey_panel`); missing scores are left out.
    outcome
        Score column.
    group_col
        Cohort column: the comparison value marks the comparison group; any other value a
        cohort (in ``survey_panel``, the first period after the cohort started, 0 = never
        enrolled).
    period_col
        Wave column (ordered).
    comparison
        Value of ``group_col`` for the comparison group.
    by_cohort
        One line per cohort (with a dotted line in its colour before its first treated period
        when the cohort values are periods); ``False`` pools the enrolled into one line.
    level
        Level of the t-based confidence intervals of the means.
    period_labels
        Tick labels for the periods (e.g. ``{1: "W1"}``).
    population
        Who, for the legend and alt text.

    Returns
    -------
    matplotlib.figure.Figure
        With ``alt_text`` giving the groups, the waves, and each line's mean at the first and
        last wave.

    Raises
    ------
    DataValidationError
        A column is missing, the score is not numeric, or there are no scores.

    Examples
    --------
    >>> import pandas as pd
    >>> panel = pd.DataFrame({"period": [1, 1, 2, 2, 1, 1, 2, 2],
    ...                       "group": [2, 2, 2, 2, 0, 0, 0, 0],
    ...                       "score": [3.0, 3.2, 3.6, 3.8, 3.1, 3.3, 3.2, 3.2]})
    >>> print(score_trajectories(panel, outcome="score").alt_text)
    Mean score by wave (1 to 2) for 1 enrolled cohort and the comparison group, with 95%
    confidence intervals; at wave 1: comparison 3.20, cohort from wave 2 3.10; at wave 2:
    comparison 3.20, cohort from wave 2 3.70.
    """
    if not isinstance(panel, pd.DataFrame):
        raise DataValidationError("score_trajectories: panel must be a pandas DataFrame")
    missing = [c for c in (outcome, group_col, period_col) if c not in panel]
    if missing:
        raise DataValidationError(
            f"score_trajectories: column(s) {missing} missing (columns: {list(panel.columns)})"
        )
    if not pd.api.types.is_numeric_dtype(panel[outcome]) or pd.api.types.is_bool_dtype(
        panel[outcome]
    ):
        raise DataValidationError(f"score_trajectories: score {outcome!r} must be numeric")
    if not (isinstance(level, float) and 0 < level < 1):
        raise ConfigError(f"level must be a number strictly between 0 and 1, got {level!r}")
    df = panel[[outcome, group_col, period_col]].dropna(subset=[outcome, period_col])
    if df.empty:
        raise DataValidationError(f"score_trajectories: no non-missing {outcome!r} scores")
    is_comp = (df[group_col] == comparison).to_numpy()
    if by_cohort:
        line = df[group_col]
    else:
        line = pd.Series(np.where(is_comp, "comparison", "enrolled"), index=df.index)
    stats_ = (
        df.assign(_line=line.to_numpy())
        .groupby(["_line", period_col], sort=True)[outcome]
        .agg(["count", "mean", "std"])
        .reset_index()
    )
    crit = stats.t.ppf(0.5 + level / 2, np.maximum(stats_["count"].to_numpy() - 1, 1))
    half = crit * stats_["std"].to_numpy() / np.sqrt(stats_["count"].to_numpy())
    stats_["low"] = stats_["mean"] - np.where(stats_["count"] > 1, half, np.nan)
    stats_["high"] = stats_["mean"] + np.where(stats_["count"] > 1, half, np.nan)
    comp_key = comparison if by_cohort else "comparison"
    keys = [k for k in dict.fromkeys(stats_["_line"]) if k != comp_key]
    has_comp = bool((stats_["_line"] == comp_key).any())
    periods = np.sort(stats_[period_col].unique())
    numeric_cohorts = by_cohort and all(
        isinstance(k, (int, float, np.integer, np.floating)) for k in keys
    )

    def name(k: Any) -> str:
        if k == comp_key:
            return "comparison"
        if not by_cohort:
            return "enrolled"
        if numeric_cohorts:
            start = period_labels.get(k, k) if period_labels else k
            return f"cohort from wave {start}"
        return str(k)

    order = ([comp_key] if has_comp else []) + keys
    colours = {k: PALETTE[(i + (0 if has_comp else 1)) % len(PALETTE)] for i, k in enumerate(order)}
    if has_comp:
        colours[comp_key] = OKABE_ITO["black"]
    with use_palette():
        fig = Figure(figsize=(7.0, 4.2), layout="constrained")
        ax = fig.add_subplot(1, 1, 1)
        width = 0.25
        offsets = np.linspace(-width / 2, width / 2, len(order)) if len(order) > 1 else [0.0]
        for k, off in zip(order, offsets, strict=True):
            sub = stats_[stats_["_line"] == k]
            x = sub[period_col].to_numpy(float) + off
            m = sub["mean"].to_numpy(float)
            err = np.vstack([m - sub["low"].to_numpy(float), sub["high"].to_numpy(float) - m])
            ax.errorbar(
                x,
                m,
                yerr=np.nan_to_num(err),
                fmt="o",
                ms=4,
                lw=1.4,
                capsize=2,
                color=colours[k],
                label=name(k),
                ls="--" if k == comp_key else "-",
            )
            if numeric_cohorts and k != comp_key:
                ax.axvline(float(k) - 0.5, color=colours[k], ls=":", lw=1)
        ax.set_xticks(periods.astype(float))
        if period_labels:
            ax.set_xticklabels([str(period_labels.get(p, p)) for p in periods])
        ax.set_xlabel("Survey wave")
        ax.set_ylabel(f"Mean {outcome.replace('_', ' ')}")
        ax.legend(fontsize=8, title=population or None)
    first, last = periods[0], periods[-1]

    def at(p: Any) -> str:
        sub = stats_[stats_[period_col] == p].set_index("_line")
        return ", ".join(
            f"{name(k)} {_num(float(sub.loc[k, 'mean']))}" for k in order if k in sub.index
        )

    plab = (lambda p: str(period_labels.get(p, p))) if period_labels else (lambda p: f"{p}")
    n_coh = len(keys)
    enrolled = (
        f"{n_coh} enrolled cohort{'s' if n_coh != 1 else ''}" if by_cohort else "the enrolled"
    )
    groups = f"{enrolled} and the comparison group" if has_comp else enrolled
    who = f" {population}" if population and not by_cohort else ""
    alt = (
        f"Mean {outcome.replace('_', ' ')} by wave ({plab(first)} to {plab(last)}) for "
        f"{groups}{who}, with {level * 100:g}% confidence intervals; at wave {plab(first)}: "
        f"{at(first)}; at wave {plab(last)}: {at(last)}."
    )
    return set_alt_text(fig, alt, title=f"Mean {outcome.replace('_', ' ')} by wave")


# ---------------------------------------------------------------------------- checks ---


def _need(obj: Any, attrs: Sequence[str], where: str, kind: str) -> None:
    lacking = [a for a in attrs if not hasattr(obj, a)]
    if lacking:
        raise ConfigError(
            f"{where}: expected a {kind}, got {type(obj).__name__} (no {', '.join(lacking)})"
        )
