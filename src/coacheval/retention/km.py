"""Kaplan–Meier curves and the log-rank test for ``(start, stop]`` data, as ``survival``.

:func:`kaplan_meier` matches ``survival::survfit`` (Greenwood or robust infinitesimal-jackknife
standard errors, log-log / log / plain limits, medians as ``print.survfit``) and
:func:`logrank_test` matches ``survival::survdiff`` on right-censored data and the score test
of ``coxph(..., ties = "exact")`` on counting-process data. Rows are at risk at ``t`` when
``start < t <= stop``; every risk-set sum is a difference of cumulative sums over rows sorted
by stop and by start, so the cost is O(n log n).

Examples
--------
>>> import pandas as pd
>>> from coacheval.retention.km import kaplan_meier
>>> df = pd.DataFrame({"months": [3, 5, 5, 8, 12, 12, 15], "left": [1, 1, 0, 1, 0, 1, 0]})
>>> km = kaplan_meier(df, stop_col="months", event_col="left")
>>> km.table[["time", "n_risk", "n_event", "survival"]].round(4)
   time  n_risk  n_event  survival
0   3.0     7.0      1.0    0.8571
1   5.0     6.0      1.0    0.7143
2   8.0     4.0      1.0    0.5357
3  12.0     3.0      1.0    0.3571
4  15.0     1.0      0.0    0.3571
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import linalg, stats

from coacheval.errors import ConfigError, DataValidationError
from coacheval.results import TableResult
from coacheval.retention._inputs import check_alpha, numeric_column, rows_list

__all__ = [
    "ConfType",
    "KaplanMeierResult",
    "LogRankResult",
    "kaplan_meier",
    "logrank_test",
]

#: Pointwise confidence limits of :func:`kaplan_meier`, as ``survfit``'s ``conf.type``: on the
#: log(-log S) scale (the default here), the log S scale (survfit's default) or S itself.
ConfType = Literal["log-log", "log", "plain"]

_MEDIAN_TOL = float(np.sqrt(np.finfo(float).eps))  # survmean's tolerance for S == 0.5
_ALL = "all"


# ----------------------------------------------------------------------------- input ---


@dataclass(frozen=True)
class _Survdata:
    """Validated arrays (rows with zero weight already dropped)."""

    start: np.ndarray  # -inf when no start column
    stop: np.ndarray
    event: np.ndarray  # bool
    weight: np.ndarray
    group: np.ndarray  # integer codes 0..G-1
    labels: list[Any]  # group label of each code
    cluster: np.ndarray | None  # integer codes, or None
    strata: np.ndarray  # integer codes
    weighted: bool
    counting: bool  # a start column was given


def _prepare(
    data: pd.DataFrame,
    *,
    stop_col: str,
    event_col: str,
    start_col: str | None = None,
    group_col: str | None = None,
    weights_col: str | None = None,
    cluster_col: str | None = None,
    strata_col: str | None = None,
) -> _Survdata:
    """Check the columns and return the arrays used by the estimators."""
    if not isinstance(data, pd.DataFrame):
        raise ConfigError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    used = [
        c for c in (start_col, stop_col, event_col, group_col, weights_col, cluster_col, strata_col)
    ]
    used = [c for c in dict.fromkeys(used) if c is not None]
    missing = [c for c in used if c not in data.columns]
    if missing:
        raise ConfigError(f"column(s) not in data: {missing}")
    if len(data) == 0:
        raise DataValidationError("data has no rows")
    nan_cols = [c for c in used if data[c].isna().any()]
    if nan_cols:
        mask = data[nan_cols].isna().any(axis=1).to_numpy()
        raise DataValidationError(
            f"missing values in column(s) {nan_cols} (rows {rows_list(data.index, mask)}); "
            "drop or impute them first",
            failure_cases=data.loc[mask, nan_cols],
        )
    n = len(data)
    stop = numeric_column(data, stop_col, finite=True)
    if start_col is None:
        bad = stop < 0
        if bad.any():
            raise DataValidationError(
                f"negative times in {stop_col!r} (rows {rows_list(data.index, bad)})",
                failure_cases=data.loc[bad, [stop_col]],
            )
        start = np.full(n, -np.inf)
    else:
        start = numeric_column(data, start_col, finite=True)
        bad = ~(stop > start)
        if bad.any():
            raise DataValidationError(
                f"stop <= start in {int(bad.sum())} row(s) ({start_col!r}, {stop_col!r}): rows "
                f"{rows_list(data.index, bad)}; an interval (start, stop] must have stop > start",
                failure_cases=data.loc[bad, [start_col, stop_col]],
            )
    ev = numeric_column(data, event_col, finite=True)
    bad = ~np.isin(ev, (0.0, 1.0))
    if bad.any():
        raise DataValidationError(
            f"{event_col!r} must be 0 or 1 (rows {rows_list(data.index, bad)})",
            failure_cases=data.loc[bad, [event_col]],
        )
    if weights_col is None:
        w = np.ones(n)
    else:
        w = numeric_column(data, weights_col, finite=True)
        bad = w < 0
        if bad.any():
            raise DataValidationError(
                f"weights in {weights_col!r} must be >= 0 (rows {rows_list(data.index, bad)})",
                failure_cases=data.loc[bad, [weights_col]],
            )
        if not (w > 0).any():
            raise DataValidationError(f"all weights in {weights_col!r} are zero")
    if group_col is None:
        codes, labels = np.zeros(n, dtype=np.int64), [_ALL]
    else:
        codes, uniq = pd.factorize(data[group_col], sort=True)
        labels = list(uniq)
    if strata_col is None:
        strata = np.zeros(n, dtype=np.int64)
    else:
        strata = pd.factorize(data[strata_col], sort=True)[0]
    cluster = None if cluster_col is None else pd.factorize(data[cluster_col], sort=True)[0]
    keep = w > 0
    if not keep.all():  # zero weights: the rows contribute nothing anywhere
        start, stop, ev, w = start[keep], stop[keep], ev[keep], w[keep]
        codes, strata = codes[keep], strata[keep]
        cluster = None if cluster is None else cluster[keep]
    return _Survdata(
        start=start,
        stop=stop,
        event=ev == 1.0,
        weight=w,
        group=codes,
        labels=labels,
        cluster=cluster,
        strata=strata,
        weighted=weights_col is not None,
        counting=start_col is not None,
    )


# ---------------------------------------------------------------------------- engine ---


def _at_risk(start: np.ndarray, stop: np.ndarray, w: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Weighted number of rows with ``start < t <= stop`` at each ``t`` in ``times``."""
    o_stop = np.argsort(stop, kind="stable")
    o_start = np.argsort(start, kind="stable")
    c_stop = np.concatenate([[0.0], np.cumsum(w[o_stop])])
    c_start = np.concatenate([[0.0], np.cumsum(w[o_start])])
    # rows with stop >= t minus rows with start >= t (those have not entered yet)
    n_stop_ge = c_stop[-1] - c_stop[np.searchsorted(stop[o_stop], times, side="left")]
    n_start_ge = c_start[-1] - c_start[np.searchsorted(start[o_start], times, side="left")]
    return n_stop_ge - n_start_ge


@dataclass(frozen=True)
class _Curve:
    """One Kaplan–Meier curve on the grid of its distinct stop times."""

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    surv: np.ndarray
    hh: np.ndarray  # Greenwood increments d / (n (n - d)), 0 when n == d
    se_surv: np.ndarray  # standard error of S (Greenwood or infinitesimal jackknife)
    se_log: np.ndarray  # standard error of log S (the scale of the confidence limits)
    robust: bool
    # pieces of the infinitesimal jackknife (robust curves only)
    jump_coef: np.ndarray | None = None  # 1 / (n - d) per time
    haz_coef: np.ndarray | None = None  # cumulative sum of d / (n (n - d)) per time


def _km_curve(
    start: np.ndarray,
    stop: np.ndarray,
    event: np.ndarray,
    w: np.ndarray,
    cluster: np.ndarray | None,
) -> tuple[_Curve, dict[str, np.ndarray] | None]:
    time, pos = np.unique(stop, return_inverse=True)
    k = time.size
    n_event = np.bincount(pos, weights=w * event, minlength=k)
    n_censor = np.bincount(pos, weights=w * ~event, minlength=k)
    n_risk = _at_risk(start, stop, w, time)
    left = n_risk - n_event
    everyone = left <= 1e-12 * n_risk  # all at risk have the event (guards weighted rounding)
    left = np.where(everyone, 0.0, left)
    surv = np.cumprod(np.where(everyone, 0.0, left / n_risk))
    safe = np.where(everyone, 1.0, n_risk * left)
    hh = np.where(everyone, 0.0, n_event / safe)
    if cluster is None:
        var_log = np.cumsum(np.where(everyone & (n_event > 0), np.inf, hh))
        se_log = np.sqrt(var_log)
        with np.errstate(invalid="ignore"):
            se_surv = surv * se_log  # 0 * inf = NaN where S = 0, as survfit's summary
        return (
            _Curve(time, n_risk, n_event, n_censor, surv, hh, se_surv, se_log, robust=False),
            None,
        )
    # infinitesimal jackknife: dS(t)/dw_i = -S(t) A_i(t) with
    # A_i(t) = sum_{t_j <= t} (dN_i(t_j) - Y_i(t_j) d_j / n_j) / (n_j - d_j)
    jump = np.where(everyone, 0.0, 1.0 / np.where(everyone, 1.0, left))
    big_h = np.cumsum(hh)  # H(t) = sum_{t_j <= t} d_j / (n_j (n_j - d_j))
    k_enter = np.searchsorted(time, start, side="right")  # first grid time > start
    h_start = np.where(k_enter > 0, big_h[np.maximum(k_enter - 1, 0)], 0.0)
    h_stop = big_h[pos]
    # per cluster c: g_c(t) = alpha_c(t) - beta_c(t) H(t); rows add piecewise-constant pieces
    d_alpha = np.concatenate([w * h_start, w * (event * jump[pos] - h_stop)])
    d_beta = np.concatenate([w, -w])
    at = np.concatenate([k_enter, pos])
    cl = np.concatenate([cluster, cluster])
    order = np.lexsort((at, cl))
    cl, at, d_alpha, d_beta = cl[order], at[order], d_alpha[order], d_beta[order]
    # running values of alpha_c and beta_c within each cluster (segmented cumulative sums)
    a_new = pd.Series(d_alpha).groupby(cl, sort=False).cumsum().to_numpy()
    b_new = pd.Series(d_beta).groupby(cl, sort=False).cumsum().to_numpy()
    a_old, b_old = a_new - d_alpha, b_new - d_beta
    q_aa = np.cumsum(np.bincount(at, weights=a_new**2 - a_old**2, minlength=k + 1))[:k]
    q_ab = np.cumsum(np.bincount(at, weights=a_new * b_new - a_old * b_old, minlength=k + 1))[:k]
    q_bb = np.cumsum(np.bincount(at, weights=b_new**2 - b_old**2, minlength=k + 1))[:k]
    var_a = np.maximum(q_aa - 2 * big_h * q_ab + big_h**2 * q_bb, 0.0)
    se_surv = surv * np.sqrt(var_a)
    with np.errstate(invalid="ignore", divide="ignore"):
        se_log = np.where(surv > 0, se_surv / surv, np.nan)
    curve = _Curve(
        time,
        n_risk,
        n_event,
        n_censor,
        surv,
        hh,
        se_surv,
        se_log,
        robust=True,
        jump_coef=jump,
        haz_coef=big_h,
    )
    rows = {"k_enter": k_enter, "pos": pos, "h_start": h_start, "h_stop": h_stop}
    return curve, rows


def _conf_limits(
    surv: np.ndarray, se_log: np.ndarray, conf_type: ConfType, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise limits as ``survival:::survfit_confint`` (NaN where R gives NA)."""
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        if conf_type == "plain":
            half = z * se_log * surv
            return np.maximum(surv - half, 0.0), np.minimum(surv + half, 1.0)
        if conf_type == "log":
            xx = np.where(surv == 0, np.nan, surv)
            return np.exp(np.log(xx) - z * se_log), np.minimum(np.exp(np.log(xx) + z * se_log), 1.0)
        xx = np.where((surv == 0) | (surv == 1), np.nan, surv)
        half = z * se_log / np.log(xx)
        lll = np.log(-np.log(xx))
        return np.exp(-np.exp(lll - half)), np.exp(-np.exp(lll + half))


def _minmin(y: np.ndarray, x: np.ndarray) -> float:
    """First time the curve reaches 0.5, as ``survival:::survmean`` (print.survfit)."""
    keep = ~np.isnan(y) & (y < 0.5 + _MEDIAN_TOL)
    if not keep.any():
        return float("nan")
    x, y = x[keep], y[keep]
    lower = y < y[0]
    if abs(y[0] - 0.5) < _MEDIAN_TOL and lower.any():
        return float((x[0] + x[np.argmax(lower)]) / 2)
    return float(x[0])


# ---------------------------------------------------------------------------- result ---


@dataclass(frozen=True, eq=False)
class KaplanMeierResult(TableResult):
    """Kaplan–Meier curves, one per group, on the grid of distinct stop times.

    Attributes
    ----------
    table
        One row per group and distinct time: ``group``, ``time``, ``n_risk``, ``n_event``,
        ``n_censor`` (weighted counts with case weights), ``survival``, ``std_error`` (of the
        survival probability, Greenwood or infinitesimal jackknife), ``conf_low``,
        ``conf_high`` (NaN where R's ``survfit`` gives NA, e.g. log-log limits while S = 1).
    medians
        One row per group: ``group``, ``n`` (rows), ``n_events``, ``median``, ``conf_low``,
        ``conf_high`` (NaN when not reached), as ``print.survfit``.
    conf_type, alpha
        Confidence limits used.
    robust
        Standard errors are the infinitesimal jackknife summed within clusters.
    weighted, counting
        Case weights were used; the data had a start column.

    Examples
    --------
    Returned by :func:`kaplan_meier`. On ``survival::aml`` (weeks to relapse of acute myelogenous
    leukaemia, with and without maintenance chemotherapy):

    >>> import pandas as pd
    >>> from coacheval.retention.km import kaplan_meier
    >>> aml = pd.DataFrame({
    ...     "weeks": [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161,
    ...               5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45],
    ...     "relapse": [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1],
    ...     "arm": ["Maintained"] * 11 + ["Nonmaintained"] * 12,
    ... })
    >>> km = kaplan_meier(aml, stop_col="weeks", event_col="relapse", group_col="arm",
    ...                   conf_type="log")
    >>> # In R: survfit(Surv(weeks, relapse) ~ arm, data = aml)
    >>> km.groups
    ['Maintained', 'Nonmaintained']
    >>> km.medians[["group", "n", "n_events", "median", "conf_low", "conf_high"]]
               group   n  n_events  median  conf_low  conf_high
    0     Maintained  11       7.0    31.0      18.0        NaN
    1  Nonmaintained  12      11.0    23.0       8.0        NaN
    >>> km.survival_at([12, 24]).round(3)
               group  time  n_risk  survival  std_error  conf_low  conf_high
    0     Maintained  12.0    10.0     0.909      0.087     0.754      1.000
    1     Maintained  24.0     6.0     0.614      0.153     0.377      0.999
    2  Nonmaintained  12.0     8.0     0.583      0.142     0.362      0.941
    3  Nonmaintained  24.0     5.0     0.486      0.148     0.268      0.883
    >>> km.risk_table([0, 12, 24, 36])
                   0.0   12.0  24.0  36.0
    group
    Maintained     11.0  10.0   6.0   3.0
    Nonmaintained  12.0   8.0   5.0   2.0
    """

    table: pd.DataFrame
    medians: pd.DataFrame
    conf_type: ConfType
    alpha: float
    robust: bool
    weighted: bool
    counting: bool
    group_col: str | None = None
    title: str = "Kaplan–Meier survival"
    notes: tuple[str, ...] = field(default=())

    @property
    def groups(self) -> list[Any]:
        """Group labels in the order of the table."""
        return list(dict.fromkeys(self.table["group"]))

    def _by_group(self) -> dict[Any, pd.DataFrame]:
        return {g: sub for g, sub in self.table.groupby("group", sort=False)}

    def survival_at(self, times: Sequence[float] | np.ndarray) -> pd.DataFrame:
        """Survival, its standard error and limits at given times (``summary(fit, times=)``).

        Parameters
        ----------
        times
            Times at which to read the step curves (right-continuous: the value at a jump
            time is the value after the jump). Beyond the last time the last value is
            carried forward (R's ``extend = TRUE``).

        Returns
        -------
        pandas.DataFrame
            ``group``, ``time``, ``n_risk``, ``survival``, ``std_error``, ``conf_low``,
            ``conf_high``.

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"t": [2, 4, 4, 6, 9], "e": [1, 1, 0, 1, 0]})
        >>> kaplan_meier(df, stop_col="t", event_col="e").survival_at([0, 5])[
        ...     ["time", "n_risk", "survival"]]
           time  n_risk  survival
        0   0.0     5.0       1.0
        1   5.0     2.0       0.6
        """
        t = np.asarray(times, dtype=float)
        if t.ndim != 1 or not np.isfinite(t).all():
            raise ConfigError("times must be a one-dimensional sequence of finite numbers")
        out = []
        for g, sub in self._by_group().items():
            grid = sub["time"].to_numpy()
            idx = np.searchsorted(grid, t, side="right") - 1
            before = idx < 0
            j = np.maximum(idx, 0)

            one_ll = 1.0 if self.conf_type != "log-log" else np.nan
            fills = {"survival": 1.0, "std_error": 0.0, "conf_low": one_ll, "conf_high": one_ll}
            vals = {c: np.where(before, f, sub[c].to_numpy()[j]) for c, f in fills.items()}
            out.append(
                pd.DataFrame(
                    {
                        "group": g,
                        "time": t,
                        "n_risk": self._risk(sub, t),
                        **vals,
                    }
                )
            )
        return pd.concat(out, ignore_index=True)

    @staticmethod
    def _risk(sub: pd.DataFrame, t: np.ndarray) -> np.ndarray:
        grid = sub["time"].to_numpy()
        nxt = np.searchsorted(grid, t, side="left")  # first grid time >= t
        nr = np.r_[sub["n_risk"].to_numpy(), 0.0]
        return nr[nxt]

    def risk_table(self, times: Sequence[float] | np.ndarray) -> pd.DataFrame:
        """Numbers at risk per group at given times (``summary(fit, times=)$n.risk``).

        The number at risk at ``t`` is the (weighted) number at risk at the first distinct
        time ``>= t`` of the group, and 0 beyond the last one, as R reports it.

        Parameters
        ----------
        times
            Times for the columns of the table.

        Returns
        -------
        pandas.DataFrame
            One row per group, one column per time.

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"t": [2, 4, 4, 6, 9, 3], "e": [1, 1, 0, 1, 0, 1],
        ...                    "arm": ["a", "a", "a", "b", "b", "b"]})
        >>> km = kaplan_meier(df, stop_col="t", event_col="e", group_col="arm")
        >>> # In R: summary(survfit(Surv(t, e) ~ arm, df), times = c(0, 4, 8), extend = TRUE)
        >>> km.risk_table([0, 4, 8])  # doctest: +NORMALIZE_WHITESPACE
               0.0  4.0  8.0
        group
        a      3.0  2.0  0.0
        b      3.0  2.0  1.0
        """
        t = np.asarray(times, dtype=float)
        rows = {g: self._risk(sub, t) for g, sub in self._by_group().items()}
        out = pd.DataFrame.from_dict(rows, orient="index", columns=t)
        out.index.name = "group"
        return out

    def plot(
        self,
        *,
        risk_table: bool = True,
        times: Sequence[float] | None = None,
        conf_int: bool = True,
        xlabel: str = "Time",
        ylabel: str = "Survival probability",
        ylim: tuple[float, float] | None = None,
    ) -> Figure:
        """Step curves with confidence bands, censoring ticks and a numbers-at-risk table.

        Parameters
        ----------
        risk_table
            Draw the numbers at risk per group under the plot (as survminer's ggsurvplot).
        times
            Times of the x ticks and the risk table; by default about six round values.
        conf_int
            Shade the pointwise confidence band.
        xlabel, ylabel
            Axis labels.
        ylim
            Limits of the survival axis (default 0 to 1); zoom in when few leave.

        Returns
        -------
        matplotlib.figure.Figure
            The figure (not shown).

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"t": [2, 4, 4, 6, 9, 3], "e": [1, 1, 0, 1, 0, 1]})
        >>> fig = kaplan_meier(df, stop_col="t", event_col="e").plot()
        >>> len(fig.axes)
        2
        """
        from matplotlib.ticker import MaxNLocator

        tmax = float(self.table["time"].max())
        if times is None:
            ticks = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(0, tmax)
            ticks = ticks[(ticks >= 0) & (ticks <= tmax * 1.0001)]
        else:
            ticks = np.asarray(times, dtype=float)
        groups = self.groups
        fig = Figure(figsize=(7.0, 5.0 if risk_table else 4.2), layout="constrained")
        if risk_table:
            gs = fig.add_gridspec(2, 1, height_ratios=[4, 0.55 + 0.3 * len(groups)])
            ax = fig.add_subplot(gs[0])
            ax_rt = fig.add_subplot(gs[1], sharex=ax)
        else:
            ax = fig.add_subplot(1, 1, 1)
        colors = [f"C{i}" for i in range(len(groups))]
        for g, color in zip(groups, colors, strict=True):
            sub = self.table[self.table["group"] == g]
            t = np.r_[0.0, sub["time"].to_numpy()]
            s = np.r_[1.0, sub["survival"].to_numpy()]
            label = None if g == _ALL and len(groups) == 1 else str(g)
            ax.step(t, s, where="post", color=color, lw=1.6, label=label)
            if conf_int:
                lo = np.r_[1.0, sub["conf_low"].to_numpy()]
                hi = np.r_[1.0, sub["conf_high"].to_numpy()]
                ok = np.isfinite(lo) & np.isfinite(hi)
                ax.fill_between(t[ok], lo[ok], hi[ok], step="post", color=color, alpha=0.15, lw=0)
            cens = sub["n_censor"].to_numpy() > 0
            ax.plot(
                sub["time"].to_numpy()[cens],
                sub["survival"].to_numpy()[cens],
                ls="none",
                marker="|",
                ms=7,
                color=color,
            )
        ax.set_ylim(*(ylim if ylim is not None else (-0.02, 1.02)))
        right = max(tmax, float(ticks.max()) if ticks.size else tmax) * 1.02
        ax.set_xlim(-0.04 * right, right)  # room for the risk table's first column
        ax.set_xticks(ticks)
        ax.set_ylabel(ylabel)
        ax.spines[["top", "right"]].set_visible(False)
        if len(groups) > 1:
            ax.legend(frameon=False, loc="lower left", title=self.group_col)
        if risk_table:
            rt = self.risk_table(ticks)
            for row, (g, color) in enumerate(zip(groups, colors, strict=True)):
                y = len(groups) - 1 - row
                for tt, v in zip(ticks, rt.loc[g].to_numpy(), strict=True):
                    txt = f"{v:.0f}" if float(v).is_integer() or not self.weighted else f"{v:.1f}"
                    ax_rt.text(tt, y, txt, ha="center", va="center", color=color, fontsize=9)
            ax_rt.set_ylim(-0.6, len(groups) - 0.4)
            ax_rt.set_yticks(range(len(groups)))
            ax_rt.set_yticklabels([str(g) for g in reversed(groups)])
            ax_rt.set_title("Number at risk", loc="left", fontsize=9)
            ax_rt.spines[["top", "right", "left"]].set_visible(False)
            ax_rt.tick_params(axis="y", length=0)
            ax_rt.set_xlabel(xlabel)
            ax.tick_params(labelbottom=False)
        else:
            ax.set_xlabel(xlabel)
        return fig


@dataclass(frozen=True, eq=False)
class LogRankResult(TableResult):
    """Log-rank test: chi-square statistic, degrees of freedom and observed/expected events.

    Attributes
    ----------
    table
        One row per group: ``group``, ``n`` (rows), ``observed``, ``expected`` (weighted
        counts, summed over strata), ``o_minus_e`` and ``variance`` (diagonal of the variance
        of O - E).
    statistic, df, p_value
        The chi-square test of equal hazards.
    n_strata
        Strata the sums run within.

    Examples
    --------
    Returned by :func:`logrank_test`. On ``survival::aml`` (weeks to relapse of acute myelogenous
    leukaemia, with and without maintenance chemotherapy):

    >>> import pandas as pd
    >>> from coacheval.retention.km import logrank_test
    >>> aml = pd.DataFrame({
    ...     "weeks": [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161,
    ...               5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45],
    ...     "relapse": [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1],
    ...     "arm": ["Maintained"] * 11 + ["Nonmaintained"] * 12,
    ... })
    >>> res = logrank_test(aml, stop_col="weeks", event_col="relapse", group_col="arm")
    >>> # In R: survdiff(Surv(weeks, relapse) ~ arm, data = aml)  # Chisq = 3.4 on 1 df, p = 0.07
    >>> round(res.statistic, 3), res.df, round(res.p_value, 4), res.n_strata
    (3.396, 1, 0.0653, 1)
    >>> res.table.round(2)
               group   n  observed  expected  o_minus_e  variance
    0     Maintained  11       7.0     10.69      -3.69      4.01
    1  Nonmaintained  12      11.0      7.31       3.69      4.01
    """

    table: pd.DataFrame
    statistic: float
    df: int
    p_value: float
    n_strata: int
    variance: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0)))
    title: str = "Log-rank test"
    notes: tuple[str, ...] = field(default=())

    def plot(self) -> Figure:
        """Observed and expected events per group as paired bars.

        Returns
        -------
        matplotlib.figure.Figure
            The figure (not shown).

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"t": [2, 4, 4, 6, 9, 3], "e": [1, 1, 0, 1, 0, 1],
        ...                    "arm": ["a", "a", "a", "b", "b", "b"]})
        >>> fig = logrank_test(df, stop_col="t", event_col="e", group_col="arm").plot()
        >>> fig.axes[0].get_ylabel()
        'Events'
        """
        fig = Figure(figsize=(5.5, 3.8), layout="constrained")
        ax = fig.add_subplot(1, 1, 1)
        x = np.arange(len(self.table))
        ax.bar(x - 0.2, self.table["observed"], width=0.4, label="Observed", color="C0")
        ax.bar(x + 0.2, self.table["expected"], width=0.4, label="Expected", color="C7")
        ax.set_xticks(x)
        ax.set_xticklabels([str(g) for g in self.table["group"]])
        ax.set_ylabel("Events")
        ax.set_title(
            f"Log-rank chi-square {self.statistic:.2f}, df {self.df}, p {self.p_value:.3g}"
        )
        ax.legend(frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        return fig


# ---------------------------------------------------------------------------- public ---


def kaplan_meier(
    data: pd.DataFrame,
    *,
    stop_col: str,
    event_col: str,
    start_col: str | None = None,
    group_col: str | None = None,
    weights_col: str | None = None,
    cluster_col: str | None = None,
    conf_type: ConfType = "log-log",
    alpha: float = 0.05,
) -> KaplanMeierResult:
    r"""Kaplan–Meier survival curves, as ``survival::survfit``.

    Parameters
    ----------
    data
        One row per person, or several rows per person in counting-process form
        ``(start, stop]`` (delayed entry, gaps, changes of group).
    stop_col
        Exit time of each row.
    event_col
        1 (or True) when the row ends in the event, 0 when censored.
    start_col
        Entry time of each row (delayed entry / left truncation); ``None``: at risk from 0.
    group_col
        One curve per value. When the group changes across a person's rows (a time-varying
        exposure such as enrolment in coaching), each person counts in the group of the row
        covering ``t``: this is the Simon–Makuch estimator (Simon and Makuch, 1984), which
        avoids the immortal-time bias of grouping people by their eventual exposure.
    weights_col
        Non-negative case weights (rows with weight 0 are dropped). Without ``cluster_col``
        the variance is Greenwood's on weighted counts, which treats the weights as frequency
        weights; for estimated (propensity) weights give ``cluster_col``.
    cluster_col
        Person (or unit) identifier: standard errors are the robust infinitesimal jackknife
        summed within clusters, as ``survfit(..., weights =, id =, robust = TRUE)``.
    conf_type
        ``"log-log"`` (default), ``"log"`` or ``"plain"`` pointwise limits.
    alpha
        1 minus the confidence level.

    Returns
    -------
    KaplanMeierResult
        Curves (``table``), medians with limits, ``survival_at``, ``risk_table`` and ``plot``.

    Raises
    ------
    ConfigError
        A named column is absent, ``conf_type`` is unknown or ``alpha`` is not in (0, 1).
    DataValidationError
        Missing or non-numeric values (the message names the column), ``stop <= start``,
        negative times without ``start_col``, events other than 0/1, negative weights.

    Notes
    -----
    At each distinct stop time :math:`t_j` of a group, with weighted numbers at risk
    :math:`n_j = \sum_i w_i 1\{s_i < t_j \le e_i\}` and events :math:`d_j`,
    :math:`\hat S(t) = \prod_{t_j \le t} (1 - d_j / n_j)` and Greenwood's
    :math:`\widehat{\mathrm{var}}\,\log \hat S(t) = \sum_{t_j \le t} d_j / (n_j (n_j - d_j))`.
    The robust variance is :math:`\sum_c (\sum_{i \in c} w_i\, \partial \hat S(t) / \partial
    w_i)^2` with :math:`\partial \hat S / \partial w_i = -\hat S(t) \sum_{t_j \le t}
    (dN_i(t_j) - Y_i(t_j) d_j / n_j) / (n_j - d_j)`; per cluster this is
    :math:`\alpha_c(t) - \beta_c(t) H(t)` with piecewise-constant :math:`\alpha_c, \beta_c`, so
    the sums of squares over clusters are accumulated with cumulative sums, without an
    n-by-times matrix. Limits: log-log :math:`\hat S^{\exp(\pm z\, se / \log \hat S)}`, log
    :math:`\hat S \exp(\pm z\, se)` (capped at 1), plain :math:`\hat S \pm z\, se(\hat S)`,
    with :math:`se` the standard error of :math:`\log \hat S`. The median is the first time
    :math:`\hat S \le 0.5`; when the curve is flat at exactly 0.5 it is the midpoint to the
    next drop, and its limits are the same rule applied to the limit curves (R's
    ``print.survfit``; ``quantile.survfit`` differs only when a curve ends flat at 0.5).
    ``n_censor`` counts every row that ends without the event, also a row followed by another
    row of the same person (R's ``survfit`` without ``id``; with ``id`` R counts some of these
    rows and not others, and its ``n.censor`` then differs while every estimate agrees).

    References
    ----------
    Simon, R. and Makuch, R. W. (1984). A non-parametric graphical representation of the
    relationship between survival and the occurrence of an event. *Statistics in Medicine* 3,
    35–44. Therneau, T. M. and Grambsch, P. M. (2000). *Modeling Survival Data*. Springer.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({
    ...     "id": [1, 2, 3, 3, 4, 5, 6, 6],
    ...     "start": [0, 0, 0, 2, 0, 0, 0, 4],
    ...     "stop": [5, 3, 2, 9, 6, 8, 4, 7],
    ...     "left": [1, 1, 0, 1, 0, 1, 0, 0],
    ...     "coached": [0, 1, 0, 1, 1, 0, 0, 1],
    ... })
    >>> km = kaplan_meier(df, start_col="start", stop_col="stop", event_col="left",
    ...                   group_col="coached")
    >>> # In R: survfit(Surv(start, stop, left) ~ coached, data = df, conf.type = "log-log")
    >>> # medians 6.5 (flat at 0.5 from 5 to 8: the midpoint) and 9; LCL 5 and 3, UCL NA
    >>> km.medians[["group", "median", "conf_low", "conf_high"]]
       group  median  conf_low  conf_high
    0      0     6.5       5.0        NaN
    1      1     9.0       3.0        NaN
    """
    if conf_type not in get_args(ConfType):
        raise ConfigError(
            f"conf_type must be one of {get_args(ConfType)}, got {conf_type!r}", source="conf_type"
        )
    check_alpha(alpha)
    sd = _prepare(
        data,
        stop_col=stop_col,
        event_col=event_col,
        start_col=start_col,
        group_col=group_col,
        weights_col=weights_col,
        cluster_col=cluster_col,
    )
    parts, med_rows = [], []
    for code, label in enumerate(sd.labels):
        rows = sd.group == code
        if not rows.any():  # every row of the group had weight 0
            continue
        curve, _ = _km_curve(
            sd.start[rows],
            sd.stop[rows],
            sd.event[rows],
            sd.weight[rows],
            None if sd.cluster is None else sd.cluster[rows],
        )
        lo, hi = _conf_limits(curve.surv, curve.se_log, conf_type, alpha)
        parts.append(
            pd.DataFrame(
                {
                    "group": label,
                    "time": curve.time,
                    "n_risk": curve.n_risk,
                    "n_event": curve.n_event,
                    "n_censor": curve.n_censor,
                    "survival": curve.surv,
                    "std_error": curve.se_surv,
                    "conf_low": lo,
                    "conf_high": hi,
                }
            )
        )
        med_rows.append(
            {
                "group": label,
                "n": int(rows.sum()),
                "n_events": float(curve.n_event.sum()),
                "median": _minmin(curve.surv, curve.time),
                "conf_low": _minmin(lo, curve.time),
                "conf_high": _minmin(hi, curve.time),
            }
        )
    table = pd.concat(parts, ignore_index=True)
    medians = pd.DataFrame(med_rows)
    level = f"{100 * (1 - alpha):g}%"
    notes = [
        f"{len(sd.stop)} rows, {int(sd.event.sum())} events, {len(parts)} group(s); "
        f"{level} {conf_type} pointwise limits.",
        "Standard errors: "
        + (
            "robust infinitesimal jackknife summed within clusters."
            if sd.cluster is not None
            else "Greenwood" + (" on weighted counts." if sd.weighted else ".")
        ),
    ]
    if sd.counting and group_col is not None:
        notes.append(
            "Counting-process rows: a person counts in the group of the row covering t "
            "(Simon–Makuch when the group varies within a person)."
        )
    return KaplanMeierResult(
        table=table,
        medians=medians,
        conf_type=conf_type,
        alpha=alpha,
        robust=sd.cluster is not None,
        weighted=sd.weighted,
        counting=sd.counting,
        group_col=group_col,
        notes=tuple(notes),
    )


def logrank_test(
    data: pd.DataFrame,
    *,
    stop_col: str,
    event_col: str,
    group_col: str,
    start_col: str | None = None,
    strata_col: str | None = None,
    weights_col: str | None = None,
) -> LogRankResult:
    r"""Log-rank test of equal hazards across groups, as ``survival::survdiff``.

    Parameters
    ----------
    data
        One row per person, or counting-process rows ``(start, stop]``.
    stop_col, event_col, start_col
        As :func:`kaplan_meier`.
    group_col
        The groups compared (may vary within a person on counting-process data).
    strata_col
        Observed minus expected and its variance are summed over strata
        (``survdiff(Surv(time, event) ~ group + strata(s))``).
    weights_col
        Non-negative case weights used as frequency weights: the test equals the unweighted
        test on data with each row repeated ``w`` times when the weights are integers.
        (Estimated inverse-probability weights need a robust variance, not given here.)

    Returns
    -------
    LogRankResult
        Chi-square statistic, df (groups with expected events > 0, minus 1), p-value and
        observed/expected events per group.

    Raises
    ------
    ConfigError
        A named column is absent.
    DataValidationError
        Bad values (as :func:`kaplan_meier`), or fewer than two groups.

    Notes
    -----
    At each distinct event time within a stratum, with :math:`n` at risk (:math:`n_g` in group
    :math:`g`) and :math:`d` events, :math:`E_g = \sum d\, n_g / n` and the hypergeometric
    variance :math:`V_{gh} = \sum d\, (n - d) / (n - 1)\, (n_g / n) (\delta_{gh} - n_h / n)`;
    the statistic is :math:`(O - E)' V^{-1} (O - E)` on all groups but the first with
    expected events (survdiff's rule). On counting-process data the risk sets are ``start <
    t <= stop``; survdiff does not accept such data, and the statistic then equals the score
    test of ``coxph(Surv(start, stop, event) ~ group, ties = "exact")`` (the exact partial
    likelihood; the Breslow and Efron score tests use other variances at tied times).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"t": [2, 4, 4, 6, 9, 3, 5, 7], "e": [1, 1, 0, 1, 0, 1, 1, 1],
    ...                    "arm": ["a", "a", "a", "a", "b", "b", "b", "b"]})
    >>> res = logrank_test(df, stop_col="t", event_col="e", group_col="arm")
    >>> # In R: survdiff(Surv(t, e) ~ arm, data = df)   # (O-E)^2/V 0.846, 1 df, p = 0.4
    >>> round(res.statistic, 3), res.df, round(res.p_value, 3)
    (0.846, 1, 0.358)
    """
    sd = _prepare(
        data,
        stop_col=stop_col,
        event_col=event_col,
        start_col=start_col,
        group_col=group_col,
        weights_col=weights_col,
        strata_col=strata_col,
    )
    n_groups = len(sd.labels)
    if n_groups < 2:
        raise DataValidationError(f"{group_col!r} has a single value: nothing to compare")
    obs = np.zeros(n_groups)
    exp = np.zeros(n_groups)
    var = np.zeros((n_groups, n_groups))
    for s in np.unique(sd.strata):
        rows = sd.strata == s
        st, sp, ev, w, g = (
            sd.start[rows],
            sd.stop[rows],
            sd.event[rows],
            sd.weight[rows],
            sd.group[rows],
        )
        times = np.unique(sp[ev])
        if times.size == 0:
            continue
        n_g = np.column_stack(
            [_at_risk(st[g == k], sp[g == k], w[g == k], times) for k in range(n_groups)]
        )
        ti = np.searchsorted(times, sp[ev])
        d_g = np.zeros((times.size, n_groups))
        np.add.at(d_g, (ti, g[ev]), w[ev])
        n = n_g.sum(axis=1)
        d = d_g.sum(axis=1)
        p = n_g / n[:, None]
        obs += d_g.sum(axis=0)
        exp += (d[:, None] * p).sum(axis=0)
        factor = np.where(n > 1, d * (n - d) / np.where(n > 1, n - 1, 1.0), 0.0)
        var += np.einsum("k,kg->g", factor, p) * np.eye(n_groups) - np.einsum(
            "k,kg,kh->gh", factor, p, p
        )
    present = exp > 0
    df = int(present.sum()) - 1
    if df < 1:
        stat = 0.0
    else:
        idx = np.flatnonzero(present)[1:]
        diff = (obs - exp)[idx]
        stat = float(diff @ linalg.solve(var[np.ix_(idx, idx)], diff, assume_a="sym"))
    p_value = float(stats.chi2.sf(stat, df)) if df > 0 else float("nan")
    counts = np.bincount(sd.group, minlength=n_groups)
    table = pd.DataFrame(
        {
            "group": sd.labels,
            "n": counts,
            "observed": obs,
            "expected": exp,
            "o_minus_e": obs - exp,
            "variance": np.diag(var),
        }
    )
    n_strata = len(np.unique(sd.strata))
    notes = [
        f"Chi-square {stat:.3f} on {df} df, p = {p_value:.3g}"
        + (f"; sums within {n_strata} strata." if strata_col is not None else "."),
    ]
    if sd.counting:
        notes.append(
            "Counting-process risk sets (start < t <= stop): equals the score test of "
            "coxph(..., ties = 'exact')."
        )
    return LogRankResult(
        table=table,
        statistic=stat,
        df=df,
        p_value=p_value,
        n_strata=n_strata,
        variance=var,
        notes=tuple(notes),
    )
