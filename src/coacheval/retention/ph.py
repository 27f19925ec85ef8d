"""Proportional-hazards diagnostics for :func:`~coacheval.retention.cox.fit_cox`, as ``survival``.

Schoenfeld residuals (``residuals(fit, type = "schoenfeld")``), scaled Schoenfeld residuals
(``type = "scaledsch"``) and the score tests of ``survival::cox.zph`` (survival >= 3.0), for
counting-process ``(start, stop]`` data with Efron or Breslow ties, case weights and strata.

The test of survival 3.x is not the old approximate regression of scaled residuals on time: for
each term it is the score test, at the fitted coefficients, of adding the time-varying
covariates ``x * g(t)`` (``g`` the transformed time, centred at its mean over the events) to
the model, using the full ``2p x 2p`` information matrix of ``(x, x g(t))``. Every quantity
comes from one pass of cumulative sums over the rows sorted within strata (no per-row loops).

Examples
--------
>>> import pandas as pd
>>> from coacheval.retention.cox import fit_cox
>>> from coacheval.retention.ph import cox_zph
>>> df = pd.DataFrame({
...     "time": [5, 8, 12, 3, 9, 15, 7, 11, 4, 14, 6, 10],
...     "left": [1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1],
...     "coached": [0, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1, 0],
... })
>>> res = fit_cox(df, start_col=None, stop_col="time", event_col="left",
...               covariates=["coached"])
>>> zph = cox_zph(res)
>>> # In R: survival::cox.zph(coxph(Surv(time, left) ~ coached, df))
>>> # chisq 0.04264561997, p 0.8363939917
>>> zph.table.round(4)
      term  statistic  df  p_value
0  coached     0.0426   1   0.8364
1   GLOBAL     0.0426   1   0.8364
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from scipy import linalg, stats

from coacheval.errors import ConfigError, DataValidationError
from coacheval.results import TableResult
from coacheval.retention.cox import CoxResult, _CoxDesign, _suffix

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["PHTestResult", "Transform", "cox_zph", "schoenfeld_residuals"]

#: Time transforms of :func:`cox_zph`, as ``cox.zph``'s ``transform`` (a function of time is
#: also accepted): 1 minus the Kaplan–Meier curve, the rank of the event times, time, log time.
Transform = Literal["km", "rank", "identity", "log"]
_TRANSFORMS = ("km", "rank", "identity", "log")


# ----------------------------------------------------------------------------- engine ---


@dataclass(frozen=True)
class _Pieces:
    """Per-death and per-event-time quantities of a fit at its coefficients.

    Deaths are ordered by stratum, then time, then data order (``residuals.coxph``'s order).
    """

    rows: np.ndarray  # positions (0-based) of the event rows in the data
    stratum: np.ndarray  # per death: stratum code
    schoen: np.ndarray  # per death: unweighted Schoenfeld residual (n_deaths x p)
    wd: np.ndarray  # per death: case weight
    time_of_death: np.ndarray  # per death: index into the per-time arrays
    info_t: np.ndarray  # per (stratum, event time): information contribution (p x p)


def _pieces(design: _CoxDesign, beta: np.ndarray) -> _Pieces:
    x, w = design.x, design.w
    p = x.shape[1]
    risk = np.exp(x @ beta)
    rows, strat, schoen, wd, tod, info_t = [], [], [], [], [], []
    offset = 0
    for s in design.strata:
        xs, ws = x[s.rows], w[s.rows]
        rs = ws * risk[s.rows]
        rx = rs[:, None] * xs
        rxx = rx[:, :, None] * xs[:, None, :]
        s0 = _suffix(rs, s.stop_order, s.pos_stop) - _suffix(rs, s.start_order, s.pos_start)
        s1 = _suffix(rx, s.stop_order, s.pos_stop) - _suffix(rx, s.start_order, s.pos_start)
        s2 = _suffix(rxx, s.stop_order, s.pos_stop) - _suffix(rxx, s.start_order, s.pos_start)
        dl, j, f, g0 = s.death_local, s.death_time, s.frac, s.group_starts
        rd, xd = rs[dl], xs[dl]
        denom2 = np.add.reduceat(rd, g0)
        a2 = np.add.reduceat(rd[:, None] * xd, g0, axis=0)
        c2 = np.add.reduceat(rd[:, None, None] * xd[:, :, None] * xd[:, None, :], g0)
        d2 = s0[j] - f * denom2[j]  # per Efron slot
        xbar = (s1[j] - f[:, None] * a2[j]) / d2[:, None]
        meanwt = np.add.reduceat(ws[dl], g0)[j] / s.n_dead[j]
        m = (s2[j] - f[:, None, None] * c2[j]) / d2[:, None, None]
        m = m - xbar[:, :, None] * xbar[:, None, :]
        info_t.append(np.add.reduceat(meanwt[:, None, None] * m, g0))
        xbar_mean = np.add.reduceat(xbar, g0, axis=0) / s.n_dead[:, None]
        schoen.append(xd - xbar_mean[j])
        rows.append(s.rows[dl])
        strat.append(design.strata_codes[s.rows[dl]])
        wd.append(ws[dl])
        tod.append(j + offset)
        offset += s.times.size
    if not rows:  # fit_cox refuses data without events, so this is a broken result object
        raise DataValidationError("the Cox fit has no events: nothing to diagnose")
    return _Pieces(
        rows=np.concatenate(rows),
        stratum=np.concatenate(strat),
        schoen=np.concatenate(schoen).reshape(-1, p),
        wd=np.concatenate(wd),
        time_of_death=np.concatenate(tod),
        info_t=np.concatenate(info_t).reshape(-1, p, p),
    )


def _design_of(result: CoxResult) -> _CoxDesign:
    if not isinstance(result, CoxResult):
        raise ConfigError(
            f"expected a CoxResult from fit_cox, got {type(result).__name__}", source="result"
        )
    if result._design is None:
        raise ConfigError(
            "this CoxResult does not carry its design (it was not made by fit_cox); refit "
            "with coacheval.retention.cox.fit_cox",
            source="result",
        )
    return result._design


def _transformed_times(
    design: _CoxDesign, transform: Transform | Callable[[np.ndarray], np.ndarray]
) -> tuple[str, np.ndarray]:
    """``cox.zph``'s transformed time of every row (only the event rows are used)."""
    stop, start, event = design.stop, design.start, design.event
    if callable(transform):
        name = getattr(transform, "__name__", "user")
        tt = np.asarray(transform(stop.copy()), dtype=float)
        if tt.shape != stop.shape:
            raise ConfigError(
                f"the transform must return one value per row ({stop.size}), got shape {tt.shape}",
                source="transform",
            )
    elif transform == "identity":
        name, tt = "identity", stop.copy()
    elif transform == "log":
        bad = event & ~(stop > 0)
        if bad.any():
            raise DataValidationError(
                f"transform='log' needs positive event times, got {np.unique(stop[bad])[:10]}"
            )
        name = "log"
        with np.errstate(divide="ignore", invalid="ignore"):
            tt = np.log(stop)
    elif transform == "rank":
        name, tt = "rank", stats.rankdata(stop, method="average")
    elif transform == "km":
        # 1 - S(t-) of the Kaplan-Meier estimate pooled over strata, unweighted (survfitKM)
        name = "km"
        times, d = np.unique(stop[event], return_counts=True)
        n_risk = (stop.size - np.searchsorted(np.sort(stop), times, side="left")) - (
            start.size - np.searchsorted(np.sort(start), times, side="left")
        )
        surv = np.cumprod(1.0 - d / n_risk)
        before = np.concatenate([[1.0], surv[:-1]])
        tt = np.full(stop.size, np.nan)
        tt[event] = 1.0 - before[np.searchsorted(times, stop[event])]
    else:
        raise ConfigError(
            f"transform must be one of {_TRANSFORMS} or a function of time, got {transform!r}",
            source="transform",
        )
    if not np.isfinite(tt[event]).all():
        raise DataValidationError(f"transform {name!r} gave non-finite values at event times")
    return name, tt


def _meta_name(name: str, covariates: Sequence[str]) -> str:
    return name if name not in covariates else f"_{name}"


def _frame(
    design: _CoxDesign, pc: _Pieces, values: np.ndarray, columns: Sequence[str]
) -> pd.DataFrame:
    index = design.index[pc.rows]
    out = pd.DataFrame(values, index=index, columns=list(columns))
    meta: dict[str, object] = {}
    if design.strata_col is not None and design.strata_levels is not None:
        meta[_meta_name("stratum", columns)] = design.strata_levels[pc.stratum].to_numpy()
    meta[_meta_name("time", columns)] = design.stop[pc.rows]
    for k, (name, vals) in enumerate(meta.items()):
        out.insert(k, name, vals)
    return out


# ----------------------------------------------------------------------------- residuals ---


def schoenfeld_residuals(
    result: CoxResult, *, scaled: bool = False, weighted: bool = False
) -> pd.DataFrame:
    r"""Schoenfeld (or scaled Schoenfeld) residuals of a Cox fit, as ``residuals.coxph``.

    Parameters
    ----------
    result
        A fit from :func:`~coacheval.retention.cox.fit_cox`.
    scaled
        If true, the scaled residuals ``r V d + beta`` of ``residuals(fit, type =
        "scaledsch")``: ``V`` the model-based variance, ``d`` the number of events.
    weighted
        If true, multiply the residuals by the case weights (R's ``weighted = TRUE``); R's
        default, and ours, is unweighted.

    Returns
    -------
    pandas.DataFrame
        One row per event, indexed by the event row's label in the fitted data, ordered by
        stratum, event time and data order (R's order); columns ``stratum`` (stratified fits
        only), ``time`` (the event time), then one column per covariate. A covariate named
        ``time`` or ``stratum`` makes the meta column ``_time`` / ``_stratum``.

    Raises
    ------
    ConfigError
        ``result`` is not a :class:`~coacheval.retention.cox.CoxResult` made by ``fit_cox``.

    Notes
    -----
    The residual of an event at time :math:`t` is :math:`x_i - \bar x(t)`, with
    :math:`\bar x(t)` the weighted mean of :math:`x` over the risk set (rows with
    :math:`start < t \le stop` in the stratum) at the fitted coefficients; with Efron ties it is
    the mean over the :math:`d` Efron-adjusted risk sets of the tied events, so tied events
    share one :math:`\bar x(t)`. The residuals sum to the score, zero at the estimate.

    Examples
    --------
    >>> import pandas as pd
    >>> from coacheval.retention.cox import fit_cox
    >>> df = pd.DataFrame({"time": [2, 3, 3, 5, 7, 8], "left": [1, 1, 1, 0, 1, 0],
    ...                    "coached": [0, 0, 1, 1, 0, 1]})
    >>> res = fit_cox(df, start_col=None, stop_col="time", event_col="left",
    ...               covariates=["coached"])
    >>> # In R: residuals(coxph(Surv(time, left) ~ coached, df), "schoenfeld")
    >>> # -0.2073229319 -0.2926770681 0.7073229319 -0.2073229319 (times 2, 3, 3, 7)
    >>> schoenfeld_residuals(res).round(4)
       time  coached
    0   2.0  -0.2073
    1   3.0  -0.2927
    2   3.0   0.7073
    4   7.0  -0.2073
    """
    design = _design_of(result)
    beta = result.coef.to_numpy()
    pc = _pieces(design, beta)
    r = pc.schoen
    if weighted:
        r = r * pc.wd[:, None]
    if scaled:
        r = r @ result.vcov_model.to_numpy() * pc.rows.size + beta
    return _frame(design, pc, r, design.covariates)


# ----------------------------------------------------------------------------- cox.zph ---


@dataclass(frozen=True, eq=False)
class PHTestResult(TableResult):
    """Tests of proportional hazards (``survival::cox.zph``) and the residuals behind them.

    Attributes
    ----------
    table
        One row per term and (when requested) a ``GLOBAL`` row: ``term``, ``statistic`` (the
        score chi-square), ``df`` and ``p_value``.
    residuals
        Scaled Schoenfeld residuals as ``cox.zph``'s ``y``: one row per event (indexed by the
        event row's label; ordered by stratum, time, data order), columns ``stratum``
        (stratified fits), ``time``, ``x`` (the transformed time), then one column per term.
        A one-column term's residual estimates ``beta(t)``; a several-column term is the
        residual of its linear predictor, scaled, plus 1. NaN where the covariate is constant
        in the event's stratum.
    var
        ``cox.zph``'s ``var``: the inverse of the mean information per event, by term; ``2 *
        sqrt(var[i, i] * h)`` is the half-width of the smooth's band (``h`` the leverage).
    coef
        Fitted coefficients (log hazard ratios), by covariate.
    terms
        Term name -> its covariate columns.
    transform
        Name of the time transform.

    Examples
    --------
    Returned by :func:`cox_zph`. On ``survival::aml`` (weeks to relapse of acute myelogenous
    leukaemia, with and without maintenance chemotherapy):

    >>> import pandas as pd
    >>> from coacheval.retention.cox import fit_cox
    >>> from coacheval.retention.ph import cox_zph
    >>> aml = pd.DataFrame({
    ...     "weeks": [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161,
    ...               5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45],
    ...     "relapse": [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1],
    ...     "maintained": [1] * 11 + [0] * 12,
    ... })
    >>> fit = fit_cox(aml, start_col=None, stop_col="weeks", event_col="relapse",
    ...               covariates=["maintained"])
    >>> zph = cox_zph(fit)
    >>> # In R: cox.zph(coxph(Surv(weeks, relapse) ~ maintained, aml))  # chisq 0.007875, p 0.929
    >>> zph.transform, zph.terms
    ('km', {'maintained': ('maintained',)})
    >>> zph.table.round(4)
             term  statistic  df  p_value
    0  maintained     0.0079   1   0.9293
    1      GLOBAL     0.0079   1   0.9293
    >>> zph.residuals.head(3).round(3)
        time      x  maintained
    11   5.0  0.000      -2.223
    12   5.0  0.000      -2.223
    13   8.0  0.087      -2.412
    """

    table: pd.DataFrame
    residuals: pd.DataFrame
    var: pd.DataFrame
    coef: pd.Series
    terms: dict[str, tuple[str, ...]]
    transform: str
    title: str = "Test of proportional hazards (cox.zph)"
    notes: tuple[str, ...] = field(default=())

    def smooth(self, term: str, *, df: int = 4, n_grid: int = 40) -> pd.DataFrame:
        r"""Smooth a term's scaled residuals with a natural spline, as ``plot.cox.zph`` does.

        Parameters
        ----------
        term
            A term of :attr:`terms`.
        df
            Degrees of freedom of the natural cubic spline (with intercept): ``df - 2``
            interior knots at quantiles of the transformed times.
        n_grid
            Number of equally spaced points on the transformed time axis.

        Returns
        -------
        pandas.DataFrame
            Columns ``x`` (transformed time), ``fit`` (the smooth: estimated ``beta(t)``),
            ``lower`` and ``upper`` (``fit -/+ 2`` standard errors).

        Raises
        ------
        ConfigError
            Unknown term, ``df < 2`` or ``n_grid < 2``.
        DataValidationError
            Fewer distinct transformed times than ``df`` (the spline is singular).

        Notes
        -----
        The same computation as ``survival:::plot.cox.zph``: the basis is ``ns(c(grid, x), df,
        intercept = TRUE)`` (interior knots at the quantiles ``1/(df-1), ...`` of the grid
        and the event times together, boundary knots at their range); the fit is least
        squares on the events with a residual; the band is :math:`\pm 2 \sqrt{v_{ii}\, h(x)}`
        with :math:`h(x) = b(x)'(B'B)^{-1}b(x)` and :math:`v_{ii}` from :attr:`var` (a
        model-based variance, not the residuals' scatter). Any basis of the same spline space
        gives the same fit; we use the truncated-power basis of natural cubic splines on the
        time axis mapped to [0, 1].

        Examples
        --------
        >>> import pandas as pd
        >>> from coacheval.retention.cox import fit_cox
        >>> df = pd.DataFrame({
        ...     "time": [5, 8, 12, 3, 9, 15, 7, 11, 4, 14, 6, 10],
        ...     "left": [1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1],
        ...     "coached": [0, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1, 0],
        ... })
        >>> res = fit_cox(df, start_col=None, stop_col="time", event_col="left",
        ...               covariates=["coached"])
        >>> sm = cox_zph(res).smooth("coached", n_grid=5)
        >>> list(sm.columns), len(sm)
        (['x', 'fit', 'lower', 'upper'], 5)
        """
        if term not in self.terms:
            raise ConfigError(f"unknown term {term!r}; terms are {list(self.terms)}")
        if df < 2 or n_grid < 2:
            raise ConfigError(f"need df >= 2 and n_grid >= 2, got df={df}, n_grid={n_grid}")
        xx = self.residuals[_meta_name("x", list(self.terms))].to_numpy()
        y = self.residuals[term].to_numpy()
        grid = np.linspace(xx.min(), xx.max(), n_grid)
        basis = _ns_basis(np.concatenate([grid, xx]), df)
        pmat, xmat = basis[:n_grid], basis[n_grid:]
        keep = ~np.isnan(y)
        q, r = np.linalg.qr(xmat[keep])
        diag = np.abs(np.diag(r))
        if keep.sum() < df or diag.min() <= 1e-7 * diag.max():  # R's qr() rank tolerance
            raise DataValidationError(
                f"the spline fit for {term!r} is singular: too few distinct times for df={df}"
            )
        coef = np.linalg.solve(r, q.T @ y[keep])
        fit = pmat @ coef
        lev = np.sum((pmat @ np.linalg.inv(r)) ** 2, axis=1)
        half = 2 * np.sqrt(self.var.loc[term, term] * lev)
        return pd.DataFrame({"x": grid, "fit": fit, "lower": fit - half, "upper": fit + half})

    def plot(
        self, terms: Sequence[str] | None = None, *, df: int = 4, resid: bool = True
    ) -> Figure:
        """One panel per term: scaled Schoenfeld residuals against transformed time.

        Each panel shows the residuals (points), the natural-spline smooth of :meth:`smooth`
        with its +-2 SE band (dashed), and a horizontal line at the fitted coefficient
        (``beta(t)`` constant under proportional hazards; at 1 for a several-column term).

        Parameters
        ----------
        terms
            Terms to draw (default: all).
        df
            Degrees of freedom of the smooth.
        resid
            Draw the residuals as points.

        Returns
        -------
        matplotlib.figure.Figure

        Examples
        --------
        >>> import pandas as pd
        >>> from coacheval.retention.cox import fit_cox
        >>> df = pd.DataFrame({
        ...     "time": [5, 8, 12, 3, 9, 15, 7, 11, 4, 14, 6, 10],
        ...     "left": [1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1],
        ...     "coached": [0, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1, 0],
        ... })
        >>> res = fit_cox(df, start_col=None, stop_col="time", event_col="left",
        ...               covariates=["coached"])
        >>> fig = cox_zph(res).plot()
        >>> len(fig.axes)
        1
        """
        from matplotlib.figure import Figure

        names = list(self.terms) if terms is None else list(terms)
        for t in names:
            if t not in self.terms:
                raise ConfigError(f"unknown term {t!r}; terms are {list(self.terms)}")
        ncol = min(len(names), 3)
        nrow = -(-len(names) // ncol)
        fig = Figure(figsize=(4.2 * ncol, 3.4 * nrow))
        axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
        xcol = _meta_name("x", list(self.terms))
        for ax, t in zip(axes, names, strict=False):
            cols = self.terms[t]
            level = float(self.coef[cols[0]]) if len(cols) == 1 else 1.0
            if resid:
                ax.scatter(self.residuals[xcol], self.residuals[t], s=8, color="0.45")
            try:
                sm = self.smooth(t, df=df)
            except DataValidationError:
                ax.text(0.5, 0.95, "smooth not estimable", transform=ax.transAxes, ha="center")
            else:
                ax.plot(sm["x"], sm["fit"], color="C0")
                ax.plot(sm["x"], sm["lower"], color="C0", linestyle="--")
                ax.plot(sm["x"], sm["upper"], color="C0", linestyle="--")
            ax.axhline(level, color="C3", linewidth=1)
            row = self.table.loc[self.table["term"] == t].iloc[0]
            ax.set_title(f"{t}: chi2 = {row['statistic']:.2f}, p = {row['p_value']:.3g}")
            ax.set_xlabel(f"time ({self.transform} scale)")
            ax.set_ylabel(f"Beta(t) for {t}")
        for ax in axes[len(names) :]:
            ax.set_visible(False)
        fig.tight_layout()
        return fig


def _ns_basis(x: np.ndarray, df: int) -> np.ndarray:
    """Return a basis of the space of R's ``ns(x, df, intercept = TRUE)`` (natural splines)."""
    lo, hi = float(x.min()), float(x.max())
    span = hi - lo if hi > lo else 1.0
    u = (x - lo) / span
    inner = np.quantile(u, np.arange(1, df - 1) / (df - 1)) if df > 2 else np.empty(0)
    knots = np.concatenate([[0.0], inner, [1.0]])
    cols = [np.ones_like(u), u]
    last = knots[-1]

    def dk(k: float) -> np.ndarray:
        return (np.clip(u - k, 0, None) ** 3 - np.clip(u - last, 0, None) ** 3) / (last - k)

    d_prev = dk(knots[-2])
    for k in knots[: len(knots) - 2]:
        cols.append(dk(k) - d_prev)
    return np.column_stack(cols)


def _group_terms(
    covariates: Sequence[str], groups: Mapping[str, Sequence[str]] | None, terms: bool
) -> dict[str, tuple[str, ...]]:
    if groups is None or not terms:
        return {c: (c,) for c in covariates}
    seen: dict[str, str] = {}
    for name, cols in groups.items():
        cols = list(cols)
        if not cols:
            raise ConfigError(f"term {name!r} has no columns", source="groups")
        for c in cols:
            if c not in covariates:
                raise ConfigError(
                    f"column {c!r} of term {name!r} is not a covariate of the fit "
                    f"({list(covariates)})",
                    source="groups",
                )
            if c in seen:
                raise ConfigError(
                    f"column {c!r} is in terms {seen[c]!r} and {name!r}", source="groups"
                )
            seen[c] = name
        if name in covariates and (len(cols) != 1 or cols[0] != name):
            raise ConfigError(f"term name {name!r} is also a covariate name", source="groups")
    out: dict[str, tuple[str, ...]] = {}
    for c in covariates:  # terms in the order of their first column, as R's assign
        if c in seen:
            name = seen[c]
            if name not in out:
                out[name] = tuple(k for k in covariates if seen.get(k) == name)
        else:
            out[c] = (c,)
    return out


def cox_zph(
    result: CoxResult,
    *,
    transform: Transform | Callable[[np.ndarray], np.ndarray] = "km",
    terms: bool = True,
    groups: Mapping[str, Sequence[str]] | None = None,
    global_test: bool = True,
) -> PHTestResult:
    r"""Test proportional hazards per term and globally, as ``survival::cox.zph`` (3.x).

    Parameters
    ----------
    result
        A fit from :func:`~coacheval.retention.cox.fit_cox` (any ties, weights, strata,
        counting-process data; the robust variance of the fit is not used, as in R).
    transform
        Time scale on which ``beta(t)`` is tested: ``"km"`` (1 minus the pooled, unweighted
        Kaplan–Meier curve just before t, R's default), ``"rank"`` (ranks of all rows' exit
        times), ``"identity"``, ``"log"``, or a vectorised function of the exit times.
    terms
        If true, the columns listed together in ``groups`` are tested jointly (R's ``terms =
        TRUE`` for a factor's dummy columns); if false, one 1-df test per column.
    groups
        Term name -> its covariate columns (e.g. the dummies of one categorical variable).
        Columns not listed are their own term. ``fit_cox`` takes numeric columns, so without
        ``groups`` every column is a term, as R with numeric covariates.
    global_test
        Add the ``GLOBAL`` row: the joint test of all columns (df = number of columns).

    Returns
    -------
    PHTestResult
        The tests (``table``), the scaled Schoenfeld residuals on the transformed time
        (``residuals``), ``var``, ``smooth()`` and ``plot()``.

    Raises
    ------
    ConfigError
        ``result`` not from ``fit_cox``, an unknown ``transform``, bad ``groups``.
    DataValidationError
        Events at a single distinct time (the time-varying part ``x g(t)`` is then zero,
        so there is nothing to test), a singular information matrix, or non-finite
        transformed times (``"log"`` with an event at time 0).

    Notes
    -----
    With :math:`g(t) = T(t) - \overline{T}` (:math:`T` the transformed time, centred at its
    mean over the events), the test of a term with columns :math:`J` is the score test of
    adding :math:`x_J\, g(t)` to the model at the fitted :math:`\hat\beta`:
    :math:`U_2 = \sum_i w_i\, g(t_i)\, r_i` (:math:`r_i` the Schoenfeld residuals of the events),
    and with :math:`I(t)` the (Efron or Breslow) information contribution of event time
    :math:`t`, the information of :math:`(x, x_J g)` is :math:`\sum_t I(t)`,
    :math:`\sum_t g(t) I(t)` and :math:`\sum_t g(t)^2 I(t)` in its blocks. The statistic is
    :math:`(0, U_{2J})' \mathcal{I}^{-1} (0, U_{2J})` on :math:`|J|` df. The scaled
    residuals are the unweighted Schoenfeld residuals times the inverse of the mean
    information per event (counting, for each pair of columns, the events of the strata in
    which both vary), plus :math:`\hat\beta`.

    Two deliberate differences from R, both outside its tested behaviour: a stratum whose
    events all have every covariate constant gets NaN scaled residuals (R leaves them
    misaligned), and each event's residual is scaled with its own stratum (R assigns
    residuals to strata by counting, which slips when such a stratum exists).

    References
    ----------
    Grambsch, P. M. and Therneau, T. M. (1994). Proportional hazards tests and diagnostics
    based on weighted residuals. *Biometrika* 81, 515–526. Therneau, T. M. (2020). survival
    3.0 release notes: cox.zph.

    Examples
    --------
    >>> import pandas as pd
    >>> from coacheval.retention.cox import fit_cox
    >>> df = pd.DataFrame({
    ...     "id": [1, 2, 3, 3, 4, 5, 5, 6, 7, 8, 8, 9],
    ...     "start": [0, 0, 0, 4, 0, 0, 3, 0, 0, 0, 6, 0],
    ...     "stop": [5, 8, 4, 12, 3, 3, 9, 7, 11, 6, 14, 10],
    ...     "left": [1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 1, 1],
    ...     "coached": [0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1, 0],
    ... })
    >>> res = fit_cox(df, start_col="start", stop_col="stop", event_col="left",
    ...               covariates=["coached"])
    >>> # In R: cox.zph(coxph(Surv(start, stop, left) ~ coached, df), transform = "identity")
    >>> # chisq 0.2092731276, p 0.6473377165
    >>> cox_zph(res, transform="identity").table.round(4)
          term  statistic  df  p_value
    0  coached     0.2093   1   0.6473
    1   GLOBAL     0.2093   1   0.6473
    """
    design = _design_of(result)
    covariates = list(design.covariates)
    term_cols = _group_terms(covariates, groups, terms)
    tname, tt = _transformed_times(design, transform)
    beta = result.coef.to_numpy()
    p = beta.size
    pc = _pieces(design, beta)

    gt = tt[pc.rows] - tt[design.event].mean()
    if np.unique(gt).size < 2:
        raise DataValidationError(
            f"all {pc.rows.size} event(s) are at one distinct time, so beta(t) cannot vary "
            "over time: the test of proportional hazards needs events at 2 or more times"
        )
    g_time = np.zeros(pc.info_t.shape[0])
    g_time[pc.time_of_death] = gt  # tied events share their transformed time
    u2 = (pc.wd * gt) @ pc.schoen
    i11 = pc.info_t.sum(axis=0)
    i12 = np.einsum("t,tab->ab", g_time, pc.info_t)
    i22 = np.einsum("t,tab->ab", g_time**2, pc.info_t)
    imat = np.block([[i11, i12], [i12.T, i22]])
    imat = (imat + imat.T) / 2
    u = np.concatenate([np.zeros(p), u2])

    def score_test(idx: np.ndarray) -> float:
        kk = np.concatenate([np.arange(p), p + idx])
        try:
            sol = linalg.solve(imat[np.ix_(kk, kk)], u[kk], assume_a="sym")
        except linalg.LinAlgError as exc:
            raise DataValidationError(
                "the information matrix of (x, x g(t)) is singular: a covariate's product "
                "with transformed time is collinear with the covariates (too few event times?)"
            ) from exc
        return float(u[kk] @ sol)

    col_pos = {c: k for k, c in enumerate(covariates)}
    assign = {t: np.array([col_pos[c] for c in cols]) for t, cols in term_cols.items()}
    rows = []
    for t, idx in assign.items():
        rows.append((t, score_test(idx), idx.size))
    if global_test:
        rows.append(("GLOBAL", score_test(np.arange(p)), p))
    table = pd.DataFrame(rows, columns=["term", "statistic", "df"])
    table["p_value"] = stats.chi2.sf(table["statistic"], table["df"])

    # -- scaled residuals (cox.zph's y)
    n_levels = int(design.strata_codes.max()) + 1
    deaths_per = np.bincount(pc.stratum, minlength=n_levels)
    varies = np.zeros((n_levels, p), dtype=bool)
    for s in design.strata:
        code = design.strata_codes[s.rows[0]]
        varies[code] = np.ptp(design.x[s.rows], axis=0) > 0
    used = np.where(varies, deaths_per[:, None], 0)
    for idx in assign.values():
        if idx.size > 1 and (used[:, idx] == 0).any():
            used[:, idx] = used[:, idx].max(axis=1, keepdims=True)
    wtmat = np.minimum(used[:, :, None], used[:, None, :]).sum(axis=0)
    vmean = i11 / np.where(wtmat == 0, 1, wtmat)
    sresid = pc.schoen
    multi = any(idx.size > 1 for idx in assign.values())
    if multi:
        temp = np.zeros((p, len(assign)))
        for k, idx in enumerate(assign.values()):
            temp[idx, k] = 1.0 if idx.size == 1 else beta[idx]
        sresid = sresid @ temp
        vmean = temp.T @ vmean @ temp
        used = used[:, [idx[0] for idx in assign.values()]]
    scaled = np.full(sresid.shape, np.nan)
    for code in np.unique(pc.stratum):
        k = np.flatnonzero(used[code] > 0)
        rows_c = pc.stratum == code
        if k.size:
            scaled[np.ix_(rows_c, k)] = np.linalg.solve(
                vmean[np.ix_(k, k)], sresid[np.ix_(rows_c, k)].T
            ).T
    level = np.array([beta[idx[0]] if idx.size == 1 else 1.0 for idx in assign.values()])
    scaled = scaled + level
    names = list(assign)
    resid = _frame(design, pc, scaled, names)
    resid.insert(len(resid.columns) - len(names), _meta_name("x", names), tt[pc.rows])
    var = linalg.inv(vmean)
    var = (var + var.T) / 2

    notes = [
        f"Score tests of beta(t) = beta + theta * g(t), g = {tname} transform of time, "
        f"centred at its mean over the {pc.rows.size} events (survival 3.x cox.zph).",
        "A small p-value is evidence that the term's hazard ratio changes over time.",
    ]
    if multi:
        grouped = [t for t, idx in assign.items() if idx.size > 1]
        notes.append(f"Joint tests for the grouped term(s) {grouped}.")
    return PHTestResult(
        table=table,
        residuals=resid,
        var=pd.DataFrame(var, index=names, columns=names),
        coef=result.coef.copy(),
        terms=term_cols,
        transform=tname,
        notes=tuple(notes),
    )
