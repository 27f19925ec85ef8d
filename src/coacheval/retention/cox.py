"""Cox proportional hazards for counting-process ``(start, stop]`` data, as ``survival::coxph``.

The fit sorts the rows once per stratum and evaluates every risk-set sum with cumulative sums,
so one Newton–Raphson step costs O(n p^2) after an O(n log n) sort. A row is at risk at time
``t`` when ``start < t <= stop``, exactly R's convention for ``Surv(start, stop, event)``.

Examples
--------
>>> import pandas as pd
>>> from coacheval.retention.cox import fit_cox
>>> df = pd.DataFrame({
...     "start": [0, 0, 0, 0, 0, 0, 5, 0, 0, 3],
...     "stop": [4, 6, 7, 9, 10, 5, 12, 8, 3, 11],
...     "left": [1, 1, 0, 1, 0, 0, 1, 1, 0, 0],
...     "coached": [0, 0, 1, 0, 1, 0, 1, 1, 0, 1],
... })
>>> res = fit_cox(df, start_col="start", stop_col="stop", event_col="left",
...               covariates=["coached"])
>>> # In R: survival::coxph(Surv(start, stop, left) ~ coached, data = df)  # coef -2.016548
>>> round(float(res.coef["coached"]), 4), res.n_events
(-2.0165, 5)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import pandas as pd
from scipy import linalg, stats

from coacheval._columns import ESTIMATE_COLUMNS
from coacheval.errors import CoachevalWarning, ConfigError, DataValidationError
from coacheval.results import TableResult
from coacheval.retention._inputs import numeric_column, rows_list

__all__ = ["CoxConvergenceWarning", "CoxResult", "Ties", "fit_cox"]

#: Handling of tied event times in :func:`fit_cox`: ``"efron"`` (coxph's default) or
#: ``"breslow"``.
Ties = Literal["efron", "breslow"]


class CoxConvergenceWarning(CoachevalWarning):
    """Newton–Raphson did not converge, or converged before a coefficient did (it may be infinite).

    :func:`fit_cox` emits it in two cases, as ``survival::coxph`` warns: the convergence rule was
    not met within ``max_iter`` iterations ("Ran out of iterations"), or the log-likelihood
    converged while a coefficient was still moving ("Loglik converged before variable ...;
    coefficient may be infinite"): monotone likelihood, for example when no one in one group
    had the event.

    Examples
    --------
    Emitted by :func:`fit_cox` when Newton–Raphson has not met its convergence rule after
    ``max_iter`` iterations. Here no coached leader left, so the log hazard ratio runs off to minus
    infinity and five iterations are not enough:

    >>> import warnings
    >>> import pandas as pd
    >>> from coacheval.retention.cox import CoxConvergenceWarning, fit_cox
    >>> df = pd.DataFrame({"stop": [2, 3, 4, 5, 6, 7, 8, 9], "left": [1, 1, 1, 0, 0, 0, 0, 0],
    ...                    "coached": [0, 0, 0, 0, 1, 1, 1, 1]})
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always", CoxConvergenceWarning)
    ...     res = fit_cox(df, start_col=None, stop_col="stop", event_col="left",
    ...                   covariates=["coached"], max_iter=5)
    >>> [w.category.__name__ for w in caught]
    ['CoxConvergenceWarning']
    >>> res.converged, res.iterations
    (False, 5)
    >>> print(caught[0].message)  # doctest: +ELLIPSIS
    Cox fit did not converge in 5 iterations (...); a coefficient may be infinite

    With the default ``max_iter`` the log-likelihood converges, at a coefficient of about -21.6
    that is really minus infinity; the warning names the covariate:

    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always", CoxConvergenceWarning)
    ...     res = fit_cox(df, start_col=None, stop_col="stop", event_col="left",
    ...                   covariates=["coached"])
    >>> res.converged, round(float(res.coef["coached"]), 1)
    (True, -21.6)
    >>> print(caught[0].message)  # doctest: +ELLIPSIS
    Cox fit: the log-likelihood converged before the coefficient of 'coached' did ...

    It is a :class:`~coacheval.errors.CoachevalWarning`, so ``warnings.filterwarnings("error",
    category=CoachevalWarning)`` turns it and coacheval's other warnings into errors.
    """


# ----------------------------------------------------------------------------- result ---


@dataclass(frozen=True, eq=False)
class CoxResult(TableResult):
    """A fitted Cox model: log hazard ratios, their variance and the partial log-likelihood.

    Attributes
    ----------
    table
        One row per covariate with the columns of :data:`coacheval._columns.ESTIMATE_COLUMNS`:
        ``estimate`` is the log hazard ratio, ``std_error`` the robust standard error when
        ``robust`` is true and the model-based one otherwise, ``statistic`` the Wald z, ``df``
        NaN (normal reference), ``n`` the rows used and ``n_clusters`` the clusters (NaN
        without robust variance).
    coef
        Log hazard ratios, indexed by term.
    vcov
        Variance matrix used for inference (robust when ``robust``), labelled by term.
    vcov_model
        Model-based variance, the inverse of the information matrix (coxph's ``naive.var``
        when robust, ``var`` otherwise).
    n_obs, n_events, n_strata, n_clusters
        Rows, events (unweighted count, coxph's ``nevent``), strata, clusters (None without
        robust variance).
    loglik_null, loglik
        Partial log-likelihood at beta = 0 and at the estimate (coxph's ``loglik``).
    ties, robust, weighted, alpha
        Options used.
    iterations, converged
        Newton–Raphson iterations and whether the convergence rule was met.

    Examples
    --------
    Returned by :func:`fit_cox`. Leaders' employment in ``(start, stop]`` rows (a leader's row is
    split when they enrol, so ``coached`` can change over time):

    >>> import pandas as pd
    >>> from coacheval.retention.cox import fit_cox
    >>> df = pd.DataFrame({
    ...     "id": [1, 2, 3, 3, 4, 5, 6, 6, 7, 8],
    ...     "start": [0, 0, 0, 2, 0, 0, 0, 4, 0, 0],
    ...     "stop": [5, 3, 2, 9, 6, 8, 4, 7, 10, 12],
    ...     "left": [1, 1, 0, 1, 0, 1, 0, 0, 1, 0],
    ...     "coached": [0, 1, 0, 1, 1, 0, 0, 1, 0, 1],
    ...     "age": [44, 51, 38, 38, 47, 55, 42, 42, 60, 35],
    ... })
    >>> res = fit_cox(df, start_col="start", stop_col="stop", event_col="left",
    ...               covariates=["coached", "age"], cluster_col="id", robust=True)
    >>> # In R: coxph(Surv(start, stop, left) ~ coached + age, data = df, cluster = id)
    >>> # coef -0.150454, 0.025522; robust se 2.444446, 0.113174; loglik -6.9344841
    >>> res.n_obs, res.n_events, res.n_clusters, res.converged
    (10, 5, 8, True)
    >>> res.coef.round(4)
    term
    coached   -0.1505
    age        0.0255
    dtype: float64
    >>> res.std_error.round(4)
    term
    coached    2.4444
    age        0.1132
    dtype: float64
    >>> res.hazard_ratios()[["term", "estimate", "conf_low", "conf_high", "p_value"]].round(3)
          term  estimate  conf_low  conf_high  p_value
    0  coached     0.860     0.007    103.604    0.951
    1      age     1.026     0.822      1.281    0.822
    >>> round(res.loglik, 4), round(res.lr_statistic, 4)
    (-6.9345, 0.5378)
    """

    table: pd.DataFrame
    coef: pd.Series
    vcov: pd.DataFrame
    vcov_model: pd.DataFrame
    n_obs: int
    n_events: int
    n_strata: int
    n_clusters: int | None
    loglik_null: float
    loglik: float
    ties: Ties
    robust: bool
    weighted: bool
    alpha: float
    iterations: int
    converged: bool
    title: str = "Cox proportional hazards"
    notes: tuple[str, ...] = field(default=())
    _design: _CoxDesign | None = field(default=None, repr=False)

    @property
    def std_error(self) -> pd.Series:
        """Standard errors used for inference (robust when ``robust``), indexed by term."""
        return pd.Series(np.sqrt(np.diag(self.vcov.to_numpy())), index=self.coef.index)

    @property
    def std_error_model(self) -> pd.Series:
        """Model-based standard errors (inverse information), indexed by term."""
        return pd.Series(np.sqrt(np.diag(self.vcov_model.to_numpy())), index=self.coef.index)

    @property
    def lr_statistic(self) -> float:
        """Likelihood-ratio statistic ``2 (loglik - loglik_null)`` (model-based, df = p)."""
        return 2.0 * (self.loglik - self.loglik_null)

    def tidy(self, *, exponentiate: bool = False) -> pd.DataFrame:
        """Return the coefficient table, optionally on the hazard-ratio scale.

        Parameters
        ----------
        exponentiate
            If true, ``estimate``, ``conf_low`` and ``conf_high`` are hazard ratios
            (``exp``); ``std_error``, ``statistic`` and ``p_value`` stay on the log scale.

        Returns
        -------
        pandas.DataFrame
            A copy of :attr:`table`.
        """
        out = self.table.copy()
        if exponentiate:
            for col in ("estimate", "conf_low", "conf_high"):
                out[col] = np.exp(out[col])
        return out

    def hazard_ratios(self) -> pd.DataFrame:
        """Return the table with hazard ratios and their confidence limits (``tidy(exponentiate=True)``)."""
        return self.tidy(exponentiate=True)


# ----------------------------------------------------------------------------- engine ---


@dataclass(frozen=True, eq=False)
class _CoxDesign:
    """What a fit saw, kept on :class:`CoxResult` for residuals and diagnostics (``ph.py``).

    ``x`` is the centred covariate matrix the fit used; ``strata`` the index structures of the
    strata with at least one event; ``strata_codes`` the stratum of every row (codes into
    ``strata_levels``, sorted as ``pd.factorize(sort=True)``).
    """

    x: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    event: np.ndarray
    w: np.ndarray
    strata_codes: np.ndarray
    strata_levels: pd.Index | None
    strata: list[_Stratum]
    index: pd.Index
    covariates: tuple[str, ...]
    start_col: str | None
    stop_col: str
    event_col: str
    weights_col: str | None
    strata_col: str | None


@dataclass(frozen=True)
class _Stratum:
    """Index structures of one stratum, computed once before the iterations."""

    rows: np.ndarray  # positions in the full arrays
    stop_order: np.ndarray  # local positions sorted by stop
    start_order: np.ndarray  # local positions sorted by start
    times: np.ndarray  # distinct event times, ascending
    pos_stop: np.ndarray  # per time: first stop-sorted position with stop >= t
    pos_start: np.ndarray  # per time: first start-sorted position with start >= t
    death_local: np.ndarray  # local positions of events, sorted by time
    death_time: np.ndarray  # per death: index of its time in ``times``
    group_starts: np.ndarray  # per time: first death in ``death_local``
    n_dead: np.ndarray  # per time: number of deaths
    frac: np.ndarray  # per death slot: k / d (Efron) or 0 (Breslow)


def _build_strata(
    start: np.ndarray, stop: np.ndarray, event: np.ndarray, strata: np.ndarray, ties: Ties
) -> list[_Stratum]:
    out: list[_Stratum] = []
    for level in np.unique(strata):
        rows = np.flatnonzero(strata == level)
        st, sp, ev = start[rows], stop[rows], event[rows]
        dead = np.flatnonzero(ev)
        if dead.size == 0:
            continue
        stop_order = np.argsort(sp, kind="stable")
        start_order = np.argsort(st, kind="stable")
        death_local = dead[np.argsort(sp[dead], kind="stable")]
        times, group_starts, n_dead = np.unique(
            sp[death_local], return_index=True, return_counts=True
        )
        death_time = np.repeat(np.arange(times.size), n_dead)
        rank = np.arange(death_local.size) - group_starts[death_time]
        frac = rank / n_dead[death_time] if ties == "efron" else np.zeros(death_local.size)
        out.append(
            _Stratum(
                rows=rows,
                stop_order=stop_order,
                start_order=start_order,
                times=times,
                pos_stop=np.searchsorted(sp[stop_order], times, side="left"),
                pos_start=np.searchsorted(st[start_order], times, side="left"),
                death_local=death_local,
                death_time=death_time,
                group_starts=group_starts,
                n_dead=n_dead,
                frac=frac.astype(float),
            )
        )
    return out


def _suffix(values: np.ndarray, order: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Sum of ``values[order][k:]`` for each k in ``pos`` (reverse cumulative sum)."""
    v = values[order][::-1]
    cs = np.cumsum(v, axis=0)[::-1]
    cs = np.concatenate([cs, np.zeros((1, *values.shape[1:]))], axis=0)
    return cs[pos]


@dataclass(frozen=True)
class _TimeTerms:
    """Per-time and per-death-slot quantities of one stratum at one beta."""

    xbar: np.ndarray  # per slot: weighted mean of x over the (Efron-adjusted) risk set
    d2: np.ndarray  # per slot: Efron-adjusted denominator
    meanwt: np.ndarray  # per slot: mean case weight of the deaths at that time


def _stratum_terms(
    s: _Stratum, x: np.ndarray, w: np.ndarray, risk: np.ndarray, need_info: bool
) -> tuple[float, np.ndarray, np.ndarray, _TimeTerms]:
    xs, ws = x[s.rows], w[s.rows]
    rs = ws * risk[s.rows]
    rx = rs[:, None] * xs
    s0 = _suffix(rs, s.stop_order, s.pos_stop) - _suffix(rs, s.start_order, s.pos_start)
    s1 = _suffix(rx, s.stop_order, s.pos_stop) - _suffix(rx, s.start_order, s.pos_start)
    dl = s.death_local
    wd, rd, xd = ws[dl], rs[dl], xs[dl]
    deadwt = np.add.reduceat(wd, s.group_starts)
    denom2 = np.add.reduceat(rd, s.group_starts)
    a2 = np.add.reduceat(rd[:, None] * xd, s.group_starts, axis=0)
    j, f = s.death_time, s.frac
    d2 = s0[j] - f * denom2[j]
    meanwt = deadwt[j] / s.n_dead[j]
    xbar = (s1[j] - f[:, None] * a2[j]) / d2[:, None]
    loglik = float(np.sum(wd * np.log(risk[s.rows][dl])) - np.sum(meanwt * np.log(d2)))
    score = (wd[:, None] * xd).sum(axis=0) - (meanwt[:, None] * xbar).sum(axis=0)
    p = x.shape[1]
    info = np.zeros((p, p))
    if need_info:
        rxx = rx[:, :, None] * xs[:, None, :]
        s2 = _suffix(rxx, s.stop_order, s.pos_stop) - _suffix(rxx, s.start_order, s.pos_start)
        c2 = np.add.reduceat(rd[:, None, None] * xd[:, :, None] * xd[:, None, :], s.group_starts)
        m = (s2[j] - f[:, None, None] * c2[j]) / d2[:, None, None]
        info = np.einsum("k,kab->ab", meanwt, m) - np.einsum("k,ka,kb->ab", meanwt, xbar, xbar)
    return loglik, score, info, _TimeTerms(xbar=xbar, d2=d2, meanwt=meanwt)


def _evaluate(
    beta: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    strata: list[_Stratum],
    need_info: bool = True,
) -> tuple[float, np.ndarray, np.ndarray, list[_TimeTerms]]:
    eta = x @ beta
    risk = np.exp(eta)
    p = x.shape[1]
    loglik, score, info = 0.0, np.zeros(p), np.zeros((p, p))
    terms = []
    for s in strata:
        ll, u, i, t = _stratum_terms(s, x, w, risk, need_info)
        loglik += ll
        score += u
        info += i
        terms.append(t)
    return loglik, score, info, terms


def _score_residuals(
    beta: np.ndarray,
    x: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
    strata: list[_Stratum],
    terms: list[_TimeTerms],
) -> np.ndarray:
    """Per-row (unweighted) score residuals, as ``residuals(fit, type = "score")``."""
    risk = np.exp(x @ beta)
    resid = np.zeros_like(x)
    for s, t in zip(strata, terms, strict=True):
        xs, rk = x[s.rows], risk[s.rows]
        h = t.meanwt / t.d2
        j = s.death_time
        ntime = s.times.size
        big_h = np.bincount(j, weights=h, minlength=ntime)
        big_g = np.stack(
            [np.bincount(j, weights=h * t.xbar[:, a], minlength=ntime) for a in range(x.shape[1])],
            axis=1,
        )
        ch = np.concatenate([[0.0], np.cumsum(big_h)])
        cg = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(big_g, axis=0)], axis=0)
        hi = np.searchsorted(s.times, stop[s.rows], side="right")
        lo = np.searchsorted(s.times, start[s.rows], side="right")
        hsum = ch[hi] - ch[lo]
        gsum = cg[hi] - cg[lo]
        r = -rk[:, None] * (xs * hsum[:, None] - gsum)
        # deaths: + (x - mean over slots of xbar); Efron slots count (1 - k/d) of the risk
        dl = s.death_local
        th = np.bincount(j, weights=s.frac * h, minlength=ntime)
        tg = np.stack(
            [
                np.bincount(j, weights=s.frac * h * t.xbar[:, a], minlength=ntime)
                for a in range(x.shape[1])
            ],
            axis=1,
        )
        xbb = (
            np.stack(
                [np.bincount(j, weights=t.xbar[:, a], minlength=ntime) for a in range(x.shape[1])],
                axis=1,
            )
            / s.n_dead[:, None]
        )
        r[dl] += xs[dl] - xbb[j] + rk[dl][:, None] * (xs[dl] * th[j][:, None] - tg[j])
        resid[s.rows] = r
    return resid


# ----------------------------------------------------------------------------- checks ---


# ----------------------------------------------------------------------------- public ---


def fit_cox(
    data: pd.DataFrame,
    *,
    start_col: str | None,
    stop_col: str,
    event_col: str,
    covariates: Sequence[str],
    ties: Ties = "efron",
    weights_col: str | None = None,
    strata_col: str | None = None,
    cluster_col: str | None = None,
    robust: bool = False,
    alpha: float = 0.05,
    tol: float = 1e-9,
    max_iter: int = 30,
) -> CoxResult:
    r"""Fit a Cox proportional hazards model to counting-process ``(start, stop]`` data.

    Parameters
    ----------
    data
        One row per interval (person-period data from ``coacheval.design``) or per person.
    start_col
        Entry time of each interval; ``None`` means every row is at risk from the time origin
        (``Surv(time, event)``: at risk at ``t`` while ``t <= stop``).
    stop_col
        Exit time of each interval.
    event_col
        1 (or True) when the interval ends in the event (turnover), 0 when censored.
    covariates
        Numeric covariate columns; time-varying covariates change between a person's rows.
    ties
        ``"efron"`` (coxph's default) or ``"breslow"`` approximation for tied event times.
    weights_col
        Positive case weights (e.g. inverse-probability weights), as coxph's ``weights``.
    strata_col
        Stratum of each row: separate baseline hazards, common coefficients.
    cluster_col
        Cluster of each row (person, unit): robust sandwich variance summed within clusters,
        as ``coxph(..., cluster = id)``. Implies ``robust=True``.
    robust
        Robust variance with each row its own cluster (``coxph(..., robust = TRUE)``) when no
        ``cluster_col`` is given.
    alpha
        1 minus the confidence level of the Wald intervals.
    tol
        Convergence rule of coxph: stop when ``|1 - loglik_old / loglik_new| <= tol``.
    max_iter
        Maximum Newton–Raphson iterations.

    Returns
    -------
    CoxResult
        Coefficients (log hazard ratios) with model-based or robust inference.

    Raises
    ------
    ConfigError
        A named column is absent, ``ties`` is not ``"efron"``/``"breslow"``, ``alpha`` is not
        in (0, 1), or no covariate is given.
    DataValidationError
        Missing or non-numeric values, ``stop <= start`` (or a negative time without
        ``start_col``), event values other than 0/1, non-positive weights, no events, a
        constant or collinear covariate, or robust variance requested with a single cluster;
        the message names the rows or columns and ``failure_cases`` holds them.

    Warns
    -----
    CoxConvergenceWarning
        The convergence rule was not met within ``max_iter`` iterations; or it was met while a
        coefficient may be infinite (monotone likelihood), by coxph's rule: with ``u`` the score
        and ``V`` the inverse information at the final coefficients, ``|u V|`` (the next
        Newton step) exceeds ``sqrt(tol) * (1 + |coef|)`` for counting-process data
        (``agreg.fit``), or both ``tol`` and ``sqrt(tol) * |coef|`` without ``start_col``
        (``coxph.fit``); a non-finite score also counts. Applied when ``max_iter > 1``, as in R.

    Notes
    -----
    With :math:`r_i = w_i \exp(x_i'\beta)` and the risk set :math:`R(t) = \{i: s_i < t \le
    e_i\}`, each distinct event time with :math:`d` deaths :math:`D(t)` contributes, for
    :math:`k = 0, \dots, d-1` and :math:`f_k = k/d` (Efron; :math:`f_k = 0` for Breslow),

    .. math::

        \ell \mathrel{+}= \sum_{i \in D} w_i x_i'\beta
          - \bar w_D \sum_k \log\Big(\sum_{R(t)} r_i - f_k \sum_{D(t)} r_i\Big),

    with :math:`\bar w_D` the mean weight of the deaths (survival's ``agfit4``). The sums over
    :math:`R(t)` are suffix sums over rows sorted by stop minus those sorted by start (rows
    with ``start >= t`` are not at risk). Covariates are centred first, which changes nothing
    but rounding. The robust variance is :math:`V (\sum_c s_c s_c') V` with :math:`V` the
    inverse information and :math:`s_c` the sum within cluster :math:`c` of :math:`w_i` times
    the score residual of row :math:`i` (``residuals(fit, "dfbeta", weighted = TRUE)``
    collapsed by cluster, as coxph computes it).

    References
    ----------
    Therneau, T. M. and Grambsch, P. M. (2000). *Modeling Survival Data: Extending the Cox
    Model*. Springer. Lin, D. Y. and Wei, L. J. (1989). The robust inference for the Cox
    proportional hazards model. *JASA* 84, 1074–1078.

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
    >>> res = fit_cox(df, start_col="start", stop_col="stop", event_col="left",
    ...               covariates=["coached"], cluster_col="id")
    >>> # In R: survival::coxph(Surv(start, stop, left) ~ coached, data = df, cluster = id)
    >>> # coef -0.8341152, exp(coef) 0.4342585, robust se 1.169228
    >>> res.hazard_ratios()[["term", "estimate", "std_error", "n_clusters"]].round(4)
          term  estimate  std_error  n_clusters
    0  coached    0.4343     1.1692         6.0
    """
    # -- options
    if ties not in get_args(Ties):
        raise ConfigError(f"ties must be one of {get_args(Ties)}, got {ties!r}", source="ties")
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must be in (0, 1), got {alpha!r}", source="alpha")
    covariates = list(covariates)
    if not covariates:
        raise ConfigError("give at least one covariate", source="covariates")
    used = [c for c in (start_col, stop_col, event_col, weights_col, strata_col, cluster_col) if c]
    used += covariates
    missing = [c for c in dict.fromkeys(used) if c not in data.columns]
    if missing:
        raise ConfigError(f"column(s) not in data: {missing}")
    robust = robust or cluster_col is not None

    # -- data
    nan_cols = [c for c in dict.fromkeys(used) if data[c].isna().any()]
    if nan_cols:
        mask = data[nan_cols].isna().any(axis=1).to_numpy()
        raise DataValidationError(
            f"missing values in {nan_cols} (rows {rows_list(data.index, mask)}); "
            "drop or impute them before fitting",
            failure_cases=data.loc[mask, nan_cols],
        )
    n = len(data)
    stop = numeric_column(data, stop_col)
    if start_col is None:
        bad = stop < 0
        if bad.any():
            raise DataValidationError(
                f"negative times in {stop_col!r} (rows {rows_list(data.index, bad)})",
                failure_cases=data.loc[bad, [stop_col]],
            )
        start = np.full(n, -np.inf)
    else:
        start = numeric_column(data, start_col)
        bad = ~(stop > start)
        if bad.any():
            raise DataValidationError(
                f"stop <= start in {bad.sum()} row(s) ({start_col!r}, {stop_col!r}): rows "
                f"{rows_list(data.index, bad)}; an interval (start, stop] must have stop > start",
                failure_cases=data.loc[bad, [start_col, stop_col]],
            )
    ev = numeric_column(data, event_col)
    bad = ~np.isin(ev, (0.0, 1.0))
    if bad.any():
        raise DataValidationError(
            f"{event_col!r} must be 0 or 1 (rows {rows_list(data.index, bad)})",
            failure_cases=data.loc[bad, [event_col]],
        )
    event = ev == 1.0
    n_events = int(event.sum())
    if n_events == 0:
        raise DataValidationError(
            f"no events: {event_col!r} is 0 in all {n} rows, so the Cox model cannot be fitted"
        )
    if weights_col is None:
        w = np.ones(n)
    else:
        w = numeric_column(data, weights_col)
        bad = ~(np.isfinite(w) & (w > 0))
        if bad.any():
            raise DataValidationError(
                f"weights in {weights_col!r} must be finite and > 0 "
                f"(rows {rows_list(data.index, bad)})",
                failure_cases=data.loc[bad, [weights_col]],
            )
    x = np.column_stack([numeric_column(data, c) for c in covariates])
    if not np.isfinite(x).all():
        cols = [c for k, c in enumerate(covariates) if not np.isfinite(x[:, k]).all()]
        raise DataValidationError(f"infinite values in covariate(s) {cols}")
    const = [c for k, c in enumerate(covariates) if np.ptp(x[:, k]) == 0]
    if const:
        raise DataValidationError(
            f"covariate(s) {const} are constant in the data; their hazard ratio is not "
            "identified: drop them"
        )
    x = x - x.mean(axis=0)
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise DataValidationError(
            f"covariates {covariates} are linearly dependent (collinear); drop one of them"
        )
    strata_levels: pd.Index | None = None
    if strata_col is None:
        strata_codes = np.zeros(n, dtype=np.int64)
    else:
        strata_codes, strata_levels = pd.factorize(data[strata_col], sort=True)
    clusters: np.ndarray | None = None
    n_clusters: int | None = None
    if robust:
        if cluster_col is None:
            clusters = np.arange(n)
        else:
            clusters = pd.factorize(data[cluster_col], sort=True)[0]
        n_clusters = int(clusters.max()) + 1
        if n_clusters < 2:
            raise DataValidationError(
                f"robust variance needs at least 2 clusters, but {cluster_col!r} has one "
                "value: the sandwich is then identically zero. Fit without cluster_col"
            )

    # -- Newton–Raphson as coxph (step halving when the log-likelihood falls)
    strata = _build_strata(start, stop, event, strata_codes, ties)
    p = x.shape[1]
    beta = np.zeros(p)
    loglik, score, info, terms = _evaluate(beta, x, w, strata)
    loglik_null = loglik
    converged = False
    halving = False
    iterations = 0
    new = beta + linalg.solve(info, score, assume_a="pos")
    for iterations in range(1, max_iter + 1):  # noqa: B007
        ll_new, u_new, i_new, t_new = _evaluate(new, x, w, strata)
        finite = bool(np.isfinite(ll_new))
        if finite and not halving and abs(1 - loglik / ll_new) <= tol:
            beta, loglik, score, info, terms = new, ll_new, u_new, i_new, t_new
            converged = True
            break
        if not finite or ll_new < loglik:  # not improving: halve the step, as coxph does
            halving = True
            new = (beta + new) / 2
            continue
        halving = False
        beta, loglik, score, info, terms = new, ll_new, u_new, i_new, t_new
        new = beta + linalg.solve(info, score, assume_a="pos")
    if not converged:
        warnings.warn(
            f"Cox fit did not converge in {max_iter} iterations (relative change of the "
            f"log-likelihood above {tol}); a coefficient may be infinite",
            CoxConvergenceWarning,
            stacklevel=2,
        )

    vcov_model = linalg.inv(info)
    vcov_model = (vcov_model + vcov_model.T) / 2
    infinite_note = None
    if converged and max_iter > 1:  # survival's check after convergence (agreg.fit, coxph.fit)
        step = np.abs(score @ vcov_model)  # the Newton step still to take
        toler_inf = np.sqrt(tol)
        if start_col is None:
            moving = (step > tol) & (step > toler_inf * np.abs(beta))
        else:
            moving = step > toler_inf * (1 + np.abs(beta))
        moving |= ~np.isfinite(score)
        if moving.any():
            names = [covariates[k] for k in np.flatnonzero(moving)]
            detail = ", ".join(
                f"{covariates[k]!r}: {beta[k]:.4g}, still moving by {step[k]:.3g}"
                for k in np.flatnonzero(moving)
            )
            infinite_note = (
                f"Cox fit: the log-likelihood converged before the coefficient"
                f"{'s' if len(names) > 1 else ''} of {', '.join(map(repr, names))} did "
                f"({detail}); {'they' if len(names) > 1 else 'it'} may be infinite (monotone "
                "likelihood, e.g. no events in one group), so the estimate, its standard error "
                "and the Wald test are not meaningful (survival::coxph warns the same)"
            )
            warnings.warn(infinite_note, CoxConvergenceWarning, stacklevel=2)
    vcov = vcov_model
    if robust and clusters is not None and n_clusters is not None:
        resid = _score_residuals(beta, x, start, stop, strata, terms)
        per_cluster = np.zeros((n_clusters, p))
        np.add.at(per_cluster, clusters, w[:, None] * resid)
        dfb = per_cluster @ vcov_model
        vcov = dfb.T @ dfb

    se = np.sqrt(np.diag(vcov))
    z = beta / se
    crit = stats.norm.ppf(1 - alpha / 2)
    table = pd.DataFrame(
        {
            "term": covariates,
            "estimate": beta,
            "std_error": se,
            "statistic": z,
            "df": np.nan,
            "p_value": 2 * stats.norm.sf(np.abs(z)),
            "conf_low": beta - crit * se,
            "conf_high": beta + crit * se,
            "n": n,
            "n_clusters": float(n_clusters) if n_clusters is not None else np.nan,
        },
        columns=list(ESTIMATE_COLUMNS),
    )
    notes = [
        f"{n} rows, {n_events} events, {len(np.unique(strata_codes))} strata; ties: {ties}.",
        f"Partial log-likelihood: null {loglik_null:.3f}, model {loglik:.3f}.",
        "Estimates are log hazard ratios; hazard_ratios() exponentiates them.",
    ]
    if robust:
        notes.append(f"Robust (sandwich) standard errors from {n_clusters} clusters.")
    if infinite_note:
        notes.append(infinite_note + ".")
    labels = pd.Index(covariates, name="term")
    return CoxResult(
        table=table,
        coef=pd.Series(beta, index=labels),
        vcov=pd.DataFrame(vcov, index=labels, columns=labels),
        vcov_model=pd.DataFrame(vcov_model, index=labels, columns=labels),
        n_obs=n,
        n_events=n_events,
        n_strata=len(np.unique(strata_codes)),
        n_clusters=n_clusters,
        loglik_null=float(loglik_null),
        loglik=float(loglik),
        ties=ties,
        robust=robust,
        weighted=weights_col is not None,
        alpha=alpha,
        iterations=iterations,
        converged=converged,
        notes=tuple(notes),
        _design=_CoxDesign(
            x=x,
            start=start,
            stop=stop,
            event=event,
            w=w,
            strata_codes=strata_codes,
            strata_levels=strata_levels,
            strata=strata,
            index=data.index,
            covariates=tuple(covariates),
            start_col=start_col,
            stop_col=stop_col,
            event_col=event_col,
            weights_col=weights_col,
            strata_col=strata_col,
        ),
    )
