"""Statistical process control: run charts, p/u charts (with Laney's p′/u′), I/MR charts.

Every chart takes a series in time order (quarters or months), optionally split into phases
(e.g. before and after the coaching program's go-live) whose centre line and limits are
recomputed within each phase, as ``part`` in R's qicharts2. Signals are listed in a tidy table.

Rules implemented
-----------------
* **Shewhart rule 1** (control charts): a point strictly above the upper or below the lower
  3-sigma limit.
* **Anhøj rules** (run charts, and by default control charts around their centre line, as
  qicharts2): with ``n`` useful observations (points not on the centre line), a run of points on
  one side longer than ``round(log2(n) + 3)`` is an unusually long run, and fewer crossings of
  the centre line than ``qbinom(0.05, n - 1, 0.5)`` are too few crossings (Anhøj & Olesen 2014,
  PLoS ONE 9(11): e113825; Anhøj 2015). Points on the centre line neither break nor extend a run.
* **Western Electric rule 2** (optional, ``two_of_three=True``): two of three consecutive points
  more than 2 sigma from the centre line on the same side.
* **Moving range** (I/MR charts): a moving range above the MR chart's upper limit
  ``3.267 × MR̄``.

Missing values are skipped, with a note: they stay in the table with NaN value and no flags,
they count neither for the centre, the limits nor the runs analysis, and a moving range touching
a missing point is not formed (as ``diff`` with NA in qicharts2).

Examples
--------
>>> from coacheval.quality.spc import p_chart
>>> res = p_chart([12, 15, 8, 10, 4, 7, 16, 9], [50] * 8)
>>> float(res.phases["centre"].iloc[0])
0.2025
>>> res.signals.empty
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy.stats import binom

from coacheval.errors import ConfigError, DataValidationError
from coacheval.results import TableResult

__all__ = [
    "SPCResult",
    "anhoej_limits",
    "i_mr_chart",
    "p_chart",
    "run_chart",
    "u_chart",
]

#: d2 for moving ranges of two points (Montgomery, Table VI): sigma = MR̄ / 1.128.
D2 = 1.128
#: D4 for moving ranges of two points: upper limit of the MR chart = 3.267 × MR̄.
D4 = 3.267
SIGNAL_COLUMNS = ["chart", "phase", "period", "value", "rule", "description"]
FLAG_COLUMNS = ["outside_limits", "long_run", "few_crossings", "two_of_three"]
CHART_NAMES = {
    "run": "Run chart",
    "p": "p chart",
    "p'": "Laney p′ chart",
    "u": "u chart",
    "u'": "Laney u′ chart",
    "i": "I/MR chart",
}


# --------------------------------------------------------------------- Anhøj limits ---


def anhoej_limits(n: int | Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Critical values of the Anhøj rules for ``n`` useful observations.

    Parameters
    ----------
    n
        Number(s) of useful observations (points not on the centre line), at least 1.

    Returns
    -------
    longest_run_max, crossings_min
        Integer arrays: a longest run *greater than* ``longest_run_max = round(log2(n) + 3)``
        is unusually long; *fewer than* ``crossings_min = qbinom(0.05, n - 1, 0.5)`` crossings
        are too few (Anhøj & Olesen 2014, PLoS ONE 9(11): e113825, and Anhøj 2015).

    Raises
    ------
    ConfigError
        A number below 1.

    Examples
    --------
    >>> from coacheval.quality.spc import anhoej_limits
    >>> run_max, cross_min = anhoej_limits([10, 24, 100])
    >>> run_max.tolist(), cross_min.tolist()
    ([6, 8, 10], [2, 8, 41])
    """
    arr = np.atleast_1d(np.asarray(n))
    if arr.size and (not np.issubdtype(arr.dtype, np.number) or np.any(arr < 1)):
        raise ConfigError(f"anhoej_limits needs numbers of useful observations >= 1, got {n!r}")
    arr = arr.astype(np.int64)
    # log2(n) + 3 is never exactly x.5 for an integer n, so rounding conventions agree with R.
    run_max = np.rint(np.log2(arr) + 3).astype(np.int64)
    cross_min = binom.ppf(0.05, arr - 1, 0.5).astype(np.int64)
    return run_max, cross_min


# --------------------------------------------------------------------------- result ---


@dataclass(frozen=True, eq=False)
class SPCResult(TableResult):
    """A run or control chart: points, centre line, limits and signals, per phase.

    Attributes
    ----------
    chart
        ``"run"``, ``"p"``, ``"p'"`` (Laney), ``"u"``, ``"u'"`` (Laney) or ``"i"`` (I/MR).
    table
        One row per point in input order: ``period``, ``phase``, ``value`` (NaN when missing),
        ``centre``, ``lower``, ``upper`` (NaN on run charts), ``sigma`` (the point's 1-sigma
        after any Laney factor; NaN on run charts), chart-specific columns (``events``,
        ``denominator`` for p/u; ``moving_range``, ``mr_centre``, ``mr_upper``,
        ``mr_outside`` for I/MR), then the flags ``outside_limits``, ``long_run``,
        ``few_crossings`` (the whole phase), ``two_of_three`` and ``signal`` (any flag).
    signals
        Tidy: ``chart``, ``phase``, ``period``, ``value``, ``rule``, ``description``; one row per
        flagged point, and one row per phase (period None) for too few crossings.
    phases
        One row per phase: ``phase``, ``first_period``, ``last_period``, ``n`` (observed
        points), ``n_useful`` (not on the centre line), ``centre``, ``sigma_z`` (Laney charts),
        ``mr_bar`` (I/MR), ``longest_run``, ``longest_run_max``, ``n_crossings``,
        ``n_crossings_min``, ``long_run_signal``, ``few_crossings_signal``, ``n_outside``.
    rules
        The rules that were checked.

    Examples
    --------
    Returned by :func:`run_chart`, :func:`p_chart`, :func:`u_chart` and :func:`i_mr_chart`. Monthly
    leader separations over headcount, with a jump in the last month:

    >>> from coacheval.quality.spc import p_chart
    >>> exits = [4, 6, 5, 3, 5, 4, 6, 5, 4, 5, 6, 16]
    >>> res = p_chart(exits, [400] * 12, periods=[f"2024-{m:02d}" for m in range(1, 13)])
    >>> res.chart, res.rules
    ('p', ('outside_limits', 'long_run', 'few_crossings'))
    >>> res.table[["period", "value", "centre", "upper", "signal"]].tail(3).round(4)
         period   value  centre   upper  signal
    9   2024-10  0.0125  0.0144  0.0322   False
    10  2024-11  0.0150  0.0144  0.0322   False
    11  2024-12  0.0400  0.0144  0.0322    True
    >>> res.signals[["period", "value", "rule"]]
        period  value            rule
    0  2024-12   0.04  outside_limits
    >>> res.phases[["phase", "n", "centre", "longest_run", "n_crossings", "n_outside"]].round(4)
      phase   n  centre  longest_run  n_crossings  n_outside
    0   all  12  0.0144            4            5          1
    """

    chart: str
    table: pd.DataFrame
    signals: pd.DataFrame
    phases: pd.DataFrame
    rules: tuple[str, ...]
    title: str = ""
    notes: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        """Return the title, the per-phase summary, the signals and the notes as text.

        Examples
        --------
        >>> from coacheval.quality.spc import run_chart
        >>> print(run_chart([3, 5, 4, 6, 5, 7]).summary().splitlines()[0])
        Run chart
        """
        fmt = lambda v: f"{v:.4g}"  # noqa: E731
        cols = [c for c in self.phases.columns if not self.phases[c].isna().all()]
        parts = [self.title, self.phases[cols].to_string(index=False, float_format=fmt)]
        if self.signals.empty:
            parts.append("No signals (rules checked: " + ", ".join(self.rules) + ").")
        else:
            sig = self.signals.drop(columns="chart")
            parts.append("Signals:\n" + sig.to_string(index=False, float_format=fmt))
        return "\n\n".join([*parts, *self.notes])

    def to_dict(self) -> dict[str, Any]:
        """Return the title, table, phases, signals and notes as plain data.

        Examples
        --------
        >>> from coacheval.quality.spc import i_mr_chart
        >>> sorted(i_mr_chart([3.0, 3.4, 2.9, 3.1]).to_dict())
        ['chart', 'notes', 'phases', 'rules', 'signals', 'table', 'title']
        """
        out = super().to_dict()
        out.update(
            chart=self.chart,
            phases=self.phases.to_dict("records"),
            signals=self.signals.to_dict("records"),
            rules=list(self.rules),
        )
        return out

    def plot(self, *, ylabel: str | None = None) -> Figure:
        """Points joined by a line, centre line and limits per phase, signals highlighted.

        Centre and limits are drawn as steps within each phase (limits vary with the
        denominator on p/u charts); a dashed vertical line marks each phase boundary; points
        with a Shewhart or 2-of-3 signal are red, points in an unusually long run orange.
        I/MR charts get a second panel with the moving ranges.

        Parameters
        ----------
        ylabel
            Label of the value axis; by default from the chart type.

        Returns
        -------
        matplotlib.figure.Figure
            The figure (not shown).

        Examples
        --------
        >>> from coacheval.quality.spc import u_chart
        >>> fig = u_chart([4, 6, 5, 9], [120.0, 130.0, 125.0, 128.0], per=100).plot()
        >>> fig.axes[0].get_title()
        'u chart'
        """
        tab = self.table
        two_panels = self.chart == "i"
        fig = Figure(figsize=(7.5, 6.0 if two_panels else 3.8), layout="constrained")
        ax = fig.add_subplot(2 if two_panels else 1, 1, 1)
        x = np.arange(len(tab), dtype=float)
        default_label = {"run": "Value", "p": "Proportion", "p'": "Proportion"}
        default_label.update({"u": "Rate", "u'": "Rate", "i": "Value"})
        self._draw_panel(ax, x, tab["value"], tab["centre"], tab["lower"], tab["upper"])
        red = tab["outside_limits"] | tab["two_of_three"]
        orange = (tab["long_run"] | tab["few_crossings"]) & ~red
        if orange.any():
            ax.plot(x[orange], tab["value"][orange], "o", color="C1", ms=7, label="Runs signal")
        if red.any():
            ax.plot(x[red], tab["value"][red], "o", color="C3", ms=7, label="Outside limits")
        ax.set_ylabel(ylabel or default_label[self.chart])
        ax.set_title(CHART_NAMES[self.chart])
        if orange.any() or red.any():
            ax.legend(loc="best", fontsize="small")
        axes = [ax]
        if two_panels:
            ax2 = fig.add_subplot(2, 1, 2, sharex=ax)
            zeros = pd.Series(np.where(tab["mr_centre"].notna(), 0.0, np.nan))
            self._draw_panel(ax2, x, tab["moving_range"], tab["mr_centre"], zeros, tab["mr_upper"])
            hit = tab["mr_outside"].to_numpy(bool)
            ax2.plot(x[hit], tab["moving_range"][hit], "o", color="C3", ms=7)
            ax2.set_ylabel("Moving range")
            axes.append(ax2)
        labels = [str(p) for p in tab["period"]]
        step = max(1, len(labels) // 12)
        for a in axes:
            a.set_xticks(x[::step])
            a.set_xticklabels(labels[::step], rotation=45, ha="right", fontsize="small")
        axes[-1].set_xlabel("Period")
        return fig

    def _draw_panel(
        self,
        ax: Any,
        x: np.ndarray,
        value: pd.Series,
        centre: pd.Series,
        lower: pd.Series,
        upper: pd.Series,
    ) -> None:
        ax.plot(x, value.to_numpy(float), "-o", color="C0", ms=4, lw=1)
        phase = self.table["phase"].to_numpy()
        starts = np.flatnonzero(np.r_[True, phase[1:] != phase[:-1]])
        ends = np.r_[starts[1:], len(phase)]
        for k, (s, e) in enumerate(zip(starts, ends, strict=True)):
            xs = np.r_[x[s:e] - 0.5, x[e - 1] + 0.5]
            for series, style in ((centre, "-"), (lower, "--"), (upper, "--")):
                ys = series.to_numpy(float)[s:e]
                color = "C2" if style == "-" else "C3"
                ax.step(xs, np.r_[ys, ys[-1]], where="post", ls=style, color=color, lw=1)
            if k > 0:
                ax.axvline(x[s] - 0.5, color="0.4", ls=":", lw=1)
            if len(starts) > 1:
                ax.annotate(
                    str(phase[s]),
                    (x[s] - 0.4, 1.0),
                    xycoords=("data", "axes fraction"),
                    va="top",
                    fontsize="small",
                    color="0.3",
                )


# --------------------------------------------------------------------------- inputs ---


def _numeric(x: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(pd.to_numeric(pd.Series(np.asarray(x, dtype=object).ravel())), float)
    except (ValueError, TypeError) as exc:
        raise DataValidationError(f"{name}: values must be numeric ({exc})") from exc
    if np.ndim(x) > 1:
        raise DataValidationError(
            f"{name}: expected a one-dimensional series, got shape {np.shape(x)}"
        )
    if np.isinf(arr).any():
        bad = np.flatnonzero(np.isinf(arr))
        raise DataValidationError(
            f"{name}: infinite values at positions {bad.tolist()}", failure_cases=bad
        )
    return arr


def _labels(x: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(list(x) if not isinstance(x, np.ndarray) else x, dtype=object).ravel()
    if len(arr) != n:
        raise DataValidationError(f"{name}: {len(arr)} labels for {n} points; give one per point")
    return arr


def _phase_codes(phases: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Phase labels per point and integer codes of contiguous phases in order of appearance."""
    if phases is None:
        return np.full(n, "all", dtype=object), np.zeros(n, dtype=np.int64)
    lab = _labels(phases, n, "phases")
    if pd.isna(pd.Series(lab)).any():
        bad = np.flatnonzero(pd.isna(pd.Series(lab)).to_numpy())
        raise DataValidationError(
            f"phases: missing phase label at positions {bad.tolist()}", failure_cases=bad
        )
    change = np.r_[False, lab[1:] != lab[:-1]]
    codes = np.cumsum(change)
    starts = lab[np.r_[True, change[1:]]]
    if len(set(starts.tolist())) < len(starts):
        raise DataValidationError(
            "phases: each phase must be one contiguous block of periods (a label reappears "
            f"after another phase: {list(dict.fromkeys(starts.tolist()))} in order "
            f"{starts.tolist()}); give the points in time order with one label per phase"
        )
    return lab, codes


def _periods(periods: Any, n: int) -> np.ndarray:
    if periods is None:
        return np.arange(1, n + 1)
    return _labels(periods, n, "periods")


def _check_counts(events: np.ndarray, denom: np.ndarray, *, proportion: bool, dname: str) -> None:
    neg = np.flatnonzero(events < 0)
    if neg.size:
        raise DataValidationError(
            f"events: counts must be >= 0; negative at positions {neg.tolist()} "
            f"(values {events[neg].tolist()})",
            failure_cases=neg,
        )
    bad = np.flatnonzero(denom <= 0)
    if bad.size:
        raise DataValidationError(
            f"{dname}: must be > 0; zero or negative at positions {bad.tolist()} "
            f"(values {denom[bad].tolist()})",
            failure_cases=bad,
        )
    if proportion:
        over = np.flatnonzero(events > denom)
        if over.size:
            raise DataValidationError(
                f"events exceed {dname} at positions {over.tolist()} (events "
                f"{events[over].tolist()}, {dname} {denom[over].tolist()}); a proportion "
                "needs events <= denominator",
                failure_cases=over,
            )


# ------------------------------------------------------------------------- analysis ---


def _runs(v: np.ndarray, centre: float) -> dict[str, Any]:
    """Anhøj runs analysis of the observed values of one phase around its centre."""
    sign = np.sign(v - centre)
    useful = sign != 0
    s = sign[useful]
    n_useful = int(s.size)
    long_mask = np.zeros(v.size, dtype=bool)
    if n_useful == 0:
        return {
            "n_useful": 0,
            "longest_run": 0,
            "longest_run_max": np.nan,
            "n_crossings": 0,
            "n_crossings_min": np.nan,
            "long_run_signal": False,
            "few_crossings_signal": False,
            "long_mask": long_mask,
            "run_length": np.zeros(v.size, dtype=np.int64),
        }
    change = s[1:] != s[:-1]
    run_id = np.r_[0, np.cumsum(change)]
    lengths = np.bincount(run_id)
    run_max, cross_min = (int(a[0]) for a in anhoej_limits(n_useful))
    crossings = int(change.sum())
    run_length = np.zeros(v.size, dtype=np.int64)
    run_length[useful] = lengths[run_id]
    long_mask[useful] = lengths[run_id] > run_max
    return {
        "n_useful": n_useful,
        "longest_run": int(lengths.max()),
        "longest_run_max": run_max,
        "n_crossings": crossings,
        "n_crossings_min": cross_min,
        "long_run_signal": bool(lengths.max() > run_max),
        "few_crossings_signal": bool(crossings < cross_min),
        "long_mask": long_mask,
        "run_length": run_length,
    }


def _two_of_three(v: np.ndarray, centre: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Points beyond 2 sigma in a window of 3 consecutive points with >= 2 beyond on one side."""
    out = np.zeros(v.size, dtype=bool)
    if v.size < 3:
        return out
    with np.errstate(invalid="ignore"):
        dev = v - centre
        for side in (dev > 2 * sigma, dev < -2 * sigma):
            window = np.convolve(side.astype(np.int64), np.ones(3, dtype=np.int64), "valid") >= 2
            covered = np.convolve(window.astype(np.int64), np.ones(3, dtype=np.int64)) > 0
            out |= covered & side
    return out


def _mean_moving_range(v: np.ndarray) -> tuple[np.ndarray, float, int]:
    """Return moving ranges |v_i - v_{i-1}| (NaN next to a missing value), mean and count."""
    mr = np.r_[np.nan, np.abs(np.diff(v))]
    k = int(np.isfinite(mr).sum())
    return mr, (float(np.nanmean(mr)) if k else np.nan), k


def _build(
    chart: str,
    period: np.ndarray,
    phase: np.ndarray,
    codes: np.ndarray,
    value: np.ndarray,
    per_phase: Any,
    *,
    anhoej: bool,
    two_of_three: bool,
    extra: dict[str, np.ndarray] | None = None,
    notes: list[str],
) -> SPCResult:
    """Assemble table, runs analysis, flags, signals and phase summary.

    ``per_phase(idx, obs)`` returns for one phase (``idx``: positions, ``obs``: observed
    positions) a dict with ``centre`` (scalar), ``lower``, ``upper``, ``sigma`` (arrays over
    ``idx``) and optional scalars ``sigma_z``, ``mr_bar``.
    """
    n = value.size
    observed = np.isfinite(value)
    centre = np.full(n, np.nan)
    lower = np.full(n, np.nan)
    upper = np.full(n, np.nan)
    sigma = np.full(n, np.nan)
    flags = {k: np.zeros(n, dtype=bool) for k in FLAG_COLUMNS}
    run_length = np.zeros(n, dtype=np.int64)
    rows = []
    n_phases = int(codes.max()) + 1
    for k in range(n_phases):
        idx = np.flatnonzero(codes == k)
        obs = idx[observed[idx]]
        label = phase[idx[0]]
        if obs.size == 0:
            raise DataValidationError(
                f"phase {label!r} has no observed values (all missing); a chart needs at least "
                "1 observed point per phase"
            )
        lim = per_phase(idx, obs)
        centre[idx] = lim["centre"]
        lower[idx], upper[idx], sigma[idx] = lim["lower"], lim["upper"], lim["sigma"]
        if chart != "run":
            with np.errstate(invalid="ignore"):
                out = (value[obs] > upper[obs]) | (value[obs] < lower[obs])
            flags["outside_limits"][obs] = out
        if two_of_three:
            flags["two_of_three"][obs] = _two_of_three(value[obs], centre[obs], sigma[obs])
        runs = _runs(value[obs], lim["centre"])
        if anhoej:
            flags["long_run"][obs] = runs["long_mask"]
            flags["few_crossings"][obs] = runs["few_crossings_signal"]
            run_length[obs] = runs["run_length"]
        rows.append(
            {
                "phase": label,
                "first_period": period[idx[0]],
                "last_period": period[idx[-1]],
                "n": int(obs.size),
                "n_useful": runs["n_useful"],
                "centre": float(lim["centre"]),
                "sigma_z": lim.get("sigma_z", np.nan),
                "mr_bar": lim.get("mr_bar", np.nan),
                "longest_run": runs["longest_run"],
                "longest_run_max": runs["longest_run_max"],
                "n_crossings": runs["n_crossings"],
                "n_crossings_min": runs["n_crossings_min"],
                "long_run_signal": runs["long_run_signal"] and anhoej,
                "few_crossings_signal": runs["few_crossings_signal"] and anhoej,
                "n_outside": int(flags["outside_limits"][idx].sum()),
            }
        )
        if anhoej and runs["n_useful"] < 10:
            notes.append(
                f"Phase {label!r}: {runs['n_useful']} useful observations; the Anhøj rules are "
                "tabulated from 10 and detect little with fewer."
            )
    table = pd.DataFrame(
        {
            "period": period,
            "phase": phase,
            "value": value,
            "centre": centre,
            "lower": lower,
            "upper": upper,
            "sigma": sigma,
            **(extra or {}),
            **flags,
        }
    )
    mr_flag = table["mr_outside"].to_numpy(bool) if "mr_outside" in table else np.zeros(n, bool)
    table["signal"] = table[FLAG_COLUMNS].any(axis=1) | mr_flag
    phases = pd.DataFrame(rows)
    signals = _signals(chart, table, phases, run_length)
    rules = ["outside_limits"] if chart != "run" else []
    rules += ["long_run", "few_crossings"] if anhoej else []
    rules += ["two_of_three"] if two_of_three else []
    rules += ["mr_outside"] if chart == "i" else []
    return SPCResult(
        chart=chart,
        table=table,
        signals=signals,
        phases=phases,
        rules=tuple(rules),
        title=CHART_NAMES[chart],
        notes=tuple(notes),
    )


def _signals(
    chart: str, table: pd.DataFrame, phases: pd.DataFrame, run_length: np.ndarray
) -> pd.DataFrame:
    parts = []
    above = table["value"] > table["centre"]
    side = np.where(above, "above", "below")
    t = table.assign(side=side, run_length=run_length)
    sel = t[t["outside_limits"]]
    if len(sel):
        where = np.where(sel["value"] > sel["upper"], "above the upper", "below the lower")
        lim = np.where(sel["value"] > sel["upper"], sel["upper"], sel["lower"])
        desc = [f"point {w} 3-sigma limit ({x:.4g})" for w, x in zip(where, lim, strict=True)]
        parts.append(sel.assign(rule="outside_limits", description=desc))
    sel = t[t["long_run"]]
    if len(sel):
        rmax = phases.set_index("phase")["longest_run_max"]
        nuse = phases.set_index("phase")["n_useful"]
        desc = [
            f"in a run of {r} points {s} the centre line; runs longer than {int(rmax[p])} are "
            f"unusual with {int(nuse[p])} useful observations (Anhøj)"
            for r, s, p in zip(sel["run_length"], sel["side"], sel["phase"], strict=True)
        ]
        parts.append(sel.assign(rule="long_run", description=desc))
    sel = t[t["two_of_three"]]
    if len(sel):
        desc = [
            f"2 of 3 consecutive points beyond 2 sigma {s} the centre line" for s in sel["side"]
        ]
        parts.append(sel.assign(rule="two_of_three", description=desc))
    if "mr_outside" in t:
        sel = t[t["mr_outside"]]
        if len(sel):
            desc = [
                f"moving range {m:.4g} above its upper limit {u:.4g}"
                for m, u in zip(sel["moving_range"], sel["mr_upper"], strict=True)
            ]
            parts.append(sel.assign(rule="mr_outside", description=desc))
    few = phases[phases["few_crossings_signal"]]
    if len(few):
        desc = [
            f"{c} crossings of the centre line, fewer than the {int(m)} expected at minimum "
            f"with {u} useful observations (Anhøj)"
            for c, m, u in zip(
                few["n_crossings"], few["n_crossings_min"], few["n_useful"], strict=True
            )
        ]
        parts.append(
            pd.DataFrame(
                {
                    "phase": few["phase"],
                    "period": None,
                    "value": np.nan,
                    "rule": "few_crossings",
                    "description": desc,
                }
            )
        )
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SIGNAL_COLUMNS})
    out = pd.concat([p.reindex(columns=SIGNAL_COLUMNS[1:]) for p in parts], ignore_index=True)
    out.insert(0, "chart", chart)
    return out


def _missing_note(period: np.ndarray, missing: np.ndarray, what: str) -> list[str]:
    if not missing.any():
        return []
    shown = period[missing].tolist()
    return [
        f"{int(missing.sum())} point(s) with missing {what} skipped (periods {shown}): they are "
        "left out of the centre, limits and runs analysis."
    ]


# ---------------------------------------------------------------------------- charts ---


def run_chart(
    values: Sequence[float] | np.ndarray | pd.Series,
    *,
    periods: Sequence[Any] | np.ndarray | pd.Series | None = None,
    phases: Sequence[Any] | np.ndarray | pd.Series | None = None,
) -> SPCResult:
    """Run chart: the median of each phase as centre line, with the Anhøj rules.

    Parameters
    ----------
    values
        The measure in time order (e.g. quarterly turnover rates or engagement means).
        Missing values are skipped with a note.
    periods
        Labels of the points (quarters, months); by default 1, 2, ..., n.
    phases
        One phase label per point (e.g. ``"before go-live"``, ``"after"``); each phase must be
        a contiguous block. The median and the runs analysis are computed within each phase.

    Returns
    -------
    SPCResult
        ``lower`` and ``upper`` are NaN (a run chart has no limits); flags ``long_run`` (the
        point is in an unusually long run) and ``few_crossings`` (the phase has too few).

    Raises
    ------
    DataValidationError
        Non-numeric or infinite values, labels of the wrong length, a phase that reappears or
        has no observed value.

    Notes
    -----
    Useful observations are those not on the median; with ``n`` of them a run longer than
    ``round(log2(n) + 3)`` or fewer than ``qbinom(0.05, n - 1, 0.5)`` crossings signal
    non-random variation (Anhøj & Olesen 2014, PLoS ONE 9(11): e113825), as qicharts2's
    ``qic(chart = "run")``.

    Examples
    --------
    >>> from coacheval.quality.spc import run_chart
    >>> rates = [11, 12, 10, 13, 12, 11, 12, 13, 8, 7, 9, 8, 7, 8, 9, 8]
    >>> res = run_chart(rates, phases=["before"] * 8 + ["after"] * 8)
    >>> res.phases[["phase", "centre", "longest_run", "n_crossings"]]
        phase  centre  longest_run  n_crossings
    0  before    12.0            2            3
    1   after     8.0            1            3
    """
    value = _numeric(values, "values")
    n = value.size
    if n == 0:
        raise DataValidationError("values: the series is empty; a run chart needs at least 1 point")
    period = _periods(periods, n)
    phase, codes = _phase_codes(phases, n)
    notes = _missing_note(period, ~np.isfinite(value), "values")

    def per_phase(idx: np.ndarray, obs: np.ndarray) -> dict[str, Any]:
        nan = np.full(idx.size, np.nan)
        return {"centre": float(np.median(value[obs])), "lower": nan, "upper": nan, "sigma": nan}

    return _build(
        "run", period, phase, codes, value, per_phase, anhoej=True, two_of_three=False, notes=notes
    )


def _attribute_chart(
    kind: str,
    events: Any,
    denominators: Any,
    *,
    dname: str,
    periods: Any,
    phases: Any,
    laney: bool,
    anhoej: bool,
    two_of_three: bool,
    per: float,
) -> SPCResult:
    x = _numeric(events, "events")
    d = _numeric(denominators, dname)
    if d.size != x.size:
        raise DataValidationError(f"events has {x.size} points but {dname} has {d.size}")
    n = x.size
    if n == 0:
        raise DataValidationError("events: the series is empty; a chart needs at least 1 point")
    if not (np.isfinite(per) and per > 0):
        raise ConfigError(f"per must be a positive number, got {per!r}")
    missing = ~(np.isfinite(x) & np.isfinite(d))
    obs_all = ~missing
    _check_counts(x[obs_all], d[obs_all], proportion=kind == "p", dname=dname)
    period = _periods(periods, n)
    phase, codes = _phase_codes(phases, n)
    notes = _missing_note(period, missing, f"events or {dname}")
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(missing, np.nan, x / d)

    def per_phase(idx: np.ndarray, obs: np.ndarray) -> dict[str, Any]:
        cl = float(x[obs].sum() / d[obs].sum())
        var = cl * (1 - cl) if kind == "p" else cl
        sig = np.sqrt(var / d[idx])  # NaN where the denominator is missing
        out: dict[str, Any] = {"centre": cl}
        if laney:
            label = phase[idx[0]]
            with np.errstate(invalid="ignore", divide="ignore"):
                z = np.where(sig > 0, (value[idx] - cl) / sig, 0.0)
            _, mr_bar, k = _mean_moving_range(z)
            if k == 0:
                raise DataValidationError(
                    f"phase {label!r} has {obs.size} observed point(s) but no two consecutive "
                    "ones; a Laney chart needs at least 2 consecutive observed points per phase "
                    "to estimate sigma_z from the moving range of the z-scores"
                )
            sigma_z = mr_bar / D2
            sig = sig * sigma_z
            out["sigma_z"] = sigma_z
            if var == 0:
                notes.append(
                    f"Phase {label!r}: centre {cl:g}, so every z-score is 0 and the limits "
                    "collapse onto the centre line."
                )
        hi = 1.0 if kind == "p" else np.inf
        out["lower"] = np.clip(cl - 3 * sig, 0.0, hi) * per
        out["upper"] = np.clip(cl + 3 * sig, 0.0, hi) * per
        out["sigma"] = sig * per
        out["centre"] = cl * per
        return out

    chart = kind + ("'" if laney else "")
    res = _build(
        chart,
        period,
        phase,
        codes,
        value * per,
        per_phase,
        anhoej=anhoej,
        two_of_three=two_of_three,
        extra={"events": x, "denominator": d},
        notes=notes,
    )
    if laney:
        res = _with_note(
            res,
            "Laney (2002): z_i = (y_i - centre) / sigma_i, sigma_z = mean moving range of z / "
            "1.128, limits centre ± 3 sigma_i sigma_z (sigma_z > 1: overdispersion).",
        )
    return res


def _with_note(res: SPCResult, note: str) -> SPCResult:
    return SPCResult(
        chart=res.chart,
        table=res.table,
        signals=res.signals,
        phases=res.phases,
        rules=res.rules,
        title=res.title,
        notes=(*res.notes, note),
    )


def p_chart(
    events: Sequence[float] | np.ndarray | pd.Series,
    denominators: Sequence[float] | np.ndarray | pd.Series,
    *,
    periods: Sequence[Any] | np.ndarray | pd.Series | None = None,
    phases: Sequence[Any] | np.ndarray | pd.Series | None = None,
    laney: bool = False,
    anhoej: bool = True,
    two_of_three: bool = False,
) -> SPCResult:
    """Control chart of proportions events / denominators (p chart), or Laney's p′ chart.

    Parameters
    ----------
    events
        Counts per period (e.g. separations, leaders attending), >= 0.
    denominators
        Sizes per period (e.g. headcount, leaders invited), > 0 and >= events.
    periods
        Labels of the points; by default 1, 2, ..., n.
    phases
        One phase label per point, in contiguous blocks; centre and limits per phase.
    laney
        Laney's p′ chart for overdispersion (large denominators), see Notes.
    anhoej
        Also apply the Anhøj runs rules around the centre line (as qicharts2 does).
    two_of_three
        Also apply Western Electric's rule 2 (2 of 3 consecutive points beyond 2 sigma).

    Returns
    -------
    SPCResult
        ``value`` is the proportion, ``sigma`` the point's standard error (times sigma_z for
        p′), ``events`` and ``denominator`` the inputs.

    Raises
    ------
    DataValidationError
        Negative events, denominators <= 0, events > denominators, labels of the wrong length,
        a phase with no observed point (or, for p′, without 2 consecutive ones).

    Notes
    -----
    Centre ``p̄ = Σx / Σn`` per phase; limits ``p̄ ± 3 sqrt(p̄(1 - p̄) / n_i)`` clipped to
    [0, 1] (Montgomery, *Introduction to Statistical Quality Control*, section 7.2). Laney
    (2002, Quality Engineering 14(4): 531-537): ``z_i = (p_i - p̄) / σ_i``,
    ``σ_z = mean |z_i - z_{i-1}| / 1.128``, limits ``p̄ ± 3 σ_i σ_z``; the same as qicharts2's
    ``qic(chart = "pp")``.

    Examples
    --------
    >>> from coacheval.quality.spc import p_chart
    >>> res = p_chart([30, 42, 35, 51], [400, 410, 395, 405])
    >>> res.table[["value", "centre", "lower", "upper"]].round(4)
        value  centre   lower   upper
    0  0.0750  0.0981  0.0535  0.1428
    1  0.1024  0.0981  0.0541  0.1422
    2  0.0886  0.0981  0.0532  0.1430
    3  0.1259  0.0981  0.0538  0.1425
    """
    return _attribute_chart(
        "p",
        events,
        denominators,
        dname="denominators",
        periods=periods,
        phases=phases,
        laney=laney,
        anhoej=anhoej,
        two_of_three=two_of_three,
        per=1.0,
    )


def u_chart(
    events: Sequence[float] | np.ndarray | pd.Series,
    exposures: Sequence[float] | np.ndarray | pd.Series,
    *,
    periods: Sequence[Any] | np.ndarray | pd.Series | None = None,
    phases: Sequence[Any] | np.ndarray | pd.Series | None = None,
    laney: bool = False,
    per: float = 1.0,
    anhoej: bool = True,
    two_of_three: bool = False,
) -> SPCResult:
    """Control chart of rates events / exposure (u chart), or Laney's u′ chart.

    Parameters
    ----------
    events
        Counts per period, >= 0.
    exposures
        Exposure per period (person-time, headcount, units inspected), > 0.
    periods
        Labels of the points; by default 1, 2, ..., n.
    phases
        One phase label per point, in contiguous blocks; centre and limits per phase.
    laney
        Laney's u′ chart for overdispersion, see Notes.
    per
        Multiplier of the plotted rate (e.g. 100 for separations per 100 FTE-years); it scales
        values, centre and limits only.
    anhoej
        Also apply the Anhøj runs rules around the centre line.
    two_of_three
        Also apply Western Electric's rule 2.

    Returns
    -------
    SPCResult
        ``value`` is ``per × events / exposure``.

    Raises
    ------
    DataValidationError
        Negative events, exposures <= 0, labels of the wrong length, a phase with no
        observed point (or, for u′, without 2 consecutive ones).
    ConfigError
        ``per`` not positive.

    Notes
    -----
    Centre ``ū = Σx / Σn`` per phase; limits ``ū ± 3 sqrt(ū / n_i)``, lower limit clipped
    at 0 (Montgomery, section 7.3; with all ``n_i = 1`` this is the c chart). Laney's u′:
    ``z_i = (u_i - ū) / σ_i``, ``σ_z = mean |z_i - z_{i-1}| / 1.128``, limits
    ``ū ± 3 σ_i σ_z`` (qicharts2's ``qic(chart = "up")``).

    Examples
    --------
    >>> from coacheval.quality.spc import u_chart
    >>> res = u_chart([21, 24, 16, 12, 15, 5, 28, 20], [1] * 8)
    >>> float(res.phases["centre"].iloc[0]), res.signals["period"].tolist()
    (17.625, [6])
    """
    return _attribute_chart(
        "u",
        events,
        exposures,
        dname="exposures",
        periods=periods,
        phases=phases,
        laney=laney,
        anhoej=anhoej,
        two_of_three=two_of_three,
        per=float(per),
    )


def i_mr_chart(
    values: Sequence[float] | np.ndarray | pd.Series,
    *,
    periods: Sequence[Any] | np.ndarray | pd.Series | None = None,
    phases: Sequence[Any] | np.ndarray | pd.Series | None = None,
    anhoej: bool = True,
    two_of_three: bool = False,
) -> SPCResult:
    """Individuals and moving-range (I/MR) chart, e.g. for engagement score means.

    Parameters
    ----------
    values
        The measure in time order; missing values are skipped with a note.
    periods
        Labels of the points; by default 1, 2, ..., n.
    phases
        One phase label per point, in contiguous blocks; centre, MR̄ and limits per phase.
    anhoej
        Also apply the Anhøj runs rules around the mean.
    two_of_three
        Also apply Western Electric's rule 2.

    Returns
    -------
    SPCResult
        Individuals columns as the other charts, plus ``moving_range`` (``|x_i - x_{i-1}|``
        within a phase; NaN for a phase's first point and next to a missing one),
        ``mr_centre`` (MR̄), ``mr_upper`` (``3.267 × MR̄``) and the flag ``mr_outside``.

    Raises
    ------
    DataValidationError
        Non-numeric values, labels of the wrong length, or a phase without 2 consecutive
        observed points (the moving range needs them).

    Notes
    -----
    Centre ``x̄`` per phase, ``σ = MR̄ / 1.128``, limits ``x̄ ± 3σ = x̄ ± 2.66 MR̄`` (the
    factor is 3 / 1.128 = 2.6596, which textbooks round to 2.66; Montgomery section 6.4, as
    qicharts2's ``qic(chart = "i")``); MR chart limits 0 and ``D4 MR̄ = 3.267 MR̄``.

    Examples
    --------
    >>> from coacheval.quality.spc import i_mr_chart
    >>> res = i_mr_chart([3.9, 4.1, 4.0, 4.2, 3.8, 4.0])
    >>> res.phases[["centre", "mr_bar"]].round(3)
       centre  mr_bar
    0     4.0    0.22
    """
    value = _numeric(values, "values")
    n = value.size
    if n == 0:
        raise DataValidationError(
            "values: the series is empty; an I/MR chart needs at least 2 points"
        )
    period = _periods(periods, n)
    phase, codes = _phase_codes(phases, n)
    notes = _missing_note(period, ~np.isfinite(value), "values")
    mr = {
        "moving_range": np.full(n, np.nan),
        "mr_centre": np.full(n, np.nan),
        "mr_upper": np.full(n, np.nan),
        "mr_outside": np.zeros(n, dtype=bool),
    }

    def per_phase(idx: np.ndarray, obs: np.ndarray) -> dict[str, Any]:
        ranges, mr_bar, k = _mean_moving_range(value[idx])
        if k == 0:
            raise DataValidationError(
                f"phase {phase[idx[0]]!r} has {obs.size} observed point(s) but no two "
                "consecutive ones; an I/MR chart needs at least 2 consecutive observed points "
                "per phase (and about 20 for stable limits) to estimate the moving range"
            )
        # filled in place: _build turns these arrays into table columns after all phases
        mr["moving_range"][idx] = ranges
        mr["mr_centre"][idx] = mr_bar
        mr["mr_upper"][idx] = D4 * mr_bar
        with np.errstate(invalid="ignore"):
            mr["mr_outside"][idx] = ranges > D4 * mr_bar
        cl = float(value[obs].mean())
        sig = np.full(idx.size, mr_bar / D2)
        return {
            "centre": cl,
            "lower": cl - 3 * sig,
            "upper": cl + 3 * sig,
            "sigma": sig,
            "mr_bar": mr_bar,
        }

    return _build(
        "i",
        period,
        phase,
        codes,
        value,
        per_phase,
        anhoej=anhoej,
        two_of_three=two_of_three,
        extra=mr,
        notes=notes,
    )
