"""Rubin's rules: pool estimates from multiply imputed data sets, as ``mice::pool()`` does.

With ``m`` completed-data estimates ``Q_l`` and their variances ``U_l`` (l = 1..m):

- pooled estimate ``qbar = mean(Q_l)``;
- within-imputation variance ``ubar = mean(U_l)``;
- between-imputation variance ``b = var(Q_l)`` (divisor ``m - 1``);
- total variance ``t = ubar + (1 + 1/m) b``;
- relative increase in variance due to nonresponse ``riv = (1 + 1/m) b / ubar``;
- proportion of the variance due to nonresponse ``lambda = (1 + 1/m) b / t``;
- degrees of freedom (``mice:::barnard.rubin``): with ``lambda`` floored at ``1e-4``,
  ``df_old = (m - 1) / lambda^2`` (Rubin 1987) and, when the complete-data degrees of freedom
  ``df_com`` are finite, ``df_obs = (df_com + 1) / (df_com + 3) * df_com * (1 - lambda)`` and
  ``df = df_old * df_obs / (df_old + df_obs)`` (Barnard & Rubin 1999);
- fraction of missing information ``fmi = (riv + 2 / (df + 3)) / (riv + 1)``;
- ``statistic = qbar / sqrt(t)``, two-sided ``p = 2 P(T_max(df, 0.001) > |statistic|)`` and the
  interval ``qbar + qt(alpha/2, df) sqrt(t)``, ``qbar + qt(1 - alpha/2, df) sqrt(t)``.

These are the formulas of mice 3.15.0 (``pool.fitlist``, ``pool.scalar``, ``barnard.rubin``,
``summary.mipo``, ``confint.mipo``). When covariance matrices are given, the within, between and
total variances are also kept as matrices (``Ubar``, ``B = cov(Q)``, ``T = Ubar + (1 + 1/m) B``);
the per-term statistics use their diagonals, as mice does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from coacheval.errors import ConfigError, DataValidationError
from coacheval.results import TableResult

__all__ = ["PooledResult", "barnard_rubin_df", "pool_rubin"]

LAMBDA_FLOOR = 1e-4
"""``mice:::barnard.rubin`` floors lambda here before computing degrees of freedom."""


@dataclass(frozen=True)
class PooledResult(TableResult):
    """Estimates pooled over imputations by Rubin's rules.

    Attributes
    ----------
    table
        One row per term: ``term, estimate, std_error, statistic, df, p_value, conf_low,
        conf_high, m, within_var, between_var, total_var, riv, lambda, fmi, df_complete``
        (``within_var``, ``between_var``, ``total_var`` are mice's ``ubar``, ``b``, ``t``).
    estimate
        Pooled estimates, shape ``(p,)``.
    within, between, total
        Within-, between- and total variance matrices, shape ``(p, p)``. When only variances
        (not covariance matrices) were given, ``within`` and ``total`` are diagonal.
    m
        Number of imputations.
    df_complete
        Complete-data degrees of freedom (``inf``: large sample, Rubin's 1987 df).
    alpha
        1 - confidence level of the intervals.

    Examples
    --------
    Returned by :func:`pool_rubin` (and by :func:`~coacheval.effects.imputation.pool_fits`).
    Two terms estimated in each of three completed data sets:

    >>> from coacheval.effects.pooling import pool_rubin
    >>> estimates = [[1.0, 0.50], [1.2, 0.45], [0.9, 0.60]]
    >>> variances = [[0.04, 0.010], [0.05, 0.012], [0.04, 0.011]]
    >>> res = pool_rubin(estimates, variances, terms=["(Intercept)", "coached"], df_complete=40)
    >>> res.terms, res.m
    (('(Intercept)', 'coached'), 3)
    >>> res.estimate.round(3), res.std_error.round(3)
    (array([1.033, 0.517]), array([0.273, 0.137]))
    >>> res.table[["term", "estimate", "df", "p_value", "riv", "fmi"]].round(3)
              term  estimate     df  p_value    riv    fmi
    0  (Intercept)     1.033  7.555    0.006  0.718  0.528
    1      coached     0.517  7.660    0.006  0.707  0.524
    >>> res.between.round(4)
    array([[ 0.0233, -0.0108],
           [-0.0108,  0.0058]])
    """

    table: pd.DataFrame
    estimate: NDArray[np.float64]
    within: NDArray[np.float64]
    between: NDArray[np.float64]
    total: NDArray[np.float64]
    m: int
    df_complete: float
    alpha: float = 0.05
    title: str = "Pooled estimates (Rubin's rules)"
    notes: tuple[str, ...] = field(default=())

    @property
    def terms(self) -> tuple[str, ...]:
        """Names of the pooled terms."""
        return tuple(self.table["term"])

    @property
    def std_error(self) -> NDArray[np.float64]:
        """Pooled standard errors ``sqrt(t)``."""
        return self.table["std_error"].to_numpy(dtype=float)

    @property
    def df(self) -> NDArray[np.float64]:
        """Degrees of freedom of each term's t reference distribution."""
        return self.table["df"].to_numpy(dtype=float)

    @property
    def fmi(self) -> NDArray[np.float64]:
        """Fraction of missing information of each term (as mice reports it)."""
        return self.table["fmi"].to_numpy(dtype=float)


def barnard_rubin_df(
    m: int, between: ArrayLike, total: ArrayLike, df_complete: float = np.inf
) -> NDArray[np.float64]:
    """Degrees of freedom of a pooled estimate, as ``mice:::barnard.rubin``.

    Parameters
    ----------
    m
        Number of imputations.
    between, total
        Between-imputation and total variances (one per term).
    df_complete
        Complete-data degrees of freedom; ``inf`` gives Rubin's (1987) ``(m - 1) / lambda^2``.

    Returns
    -------
    numpy.ndarray
        Degrees of freedom, one per term.

    Examples
    --------
    >>> # In R: mice:::barnard.rubin(5, 0.1, 3.5, dfcom = 22)
    >>> round(float(barnard_rubin_df(5, 0.1, 3.5, df_complete=22)[0]), 4)
    19.4344
    """
    b = np.atleast_1d(np.asarray(between, dtype=float))
    t = np.atleast_1d(np.asarray(total, dtype=float))
    lam = np.maximum((1 + 1 / m) * b / t, LAMBDA_FLOOR)
    df_old = (m - 1) / lam**2
    if np.isinf(df_complete):
        return df_old
    df_obs = (df_complete + 1) / (df_complete + 3) * df_complete * (1 - lam)
    return df_old * df_obs / (df_old + df_obs)


def _as_arrays(
    estimates: ArrayLike, variances: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], bool]:
    """Return estimates ``(m, p)``, variances ``(m, p, p)`` and whether covariances were given."""
    q = np.asarray(estimates, dtype=float)
    u = np.asarray(variances, dtype=float)
    if q.ndim == 1:
        q = q[:, None]
        if u.ndim != 1 or u.shape[0] != q.shape[0]:
            raise DataValidationError(
                f"pool_rubin: {q.shape[0]} scalar estimates need {q.shape[0]} variances, "
                f"got an array of shape {u.shape}"
            )
        u = u[:, None, None]
        return q, u, False
    if q.ndim != 2:
        raise DataValidationError(
            f"pool_rubin: estimates must have shape (m,) or (m, p), got {q.shape}"
        )
    m, p = q.shape
    if u.shape == (m, p):
        out = np.zeros((m, p, p))
        idx = np.arange(p)
        out[:, idx, idx] = u
        return q, out, False
    if u.shape == (m, p, p):
        return q, u, True
    raise DataValidationError(
        f"pool_rubin: estimates of shape {q.shape} need variances of shape {(m, p)} "
        f"or covariance matrices of shape {(m, p, p)}, got {u.shape}"
    )


def pool_rubin(
    estimates: ArrayLike,
    variances: ArrayLike,
    *,
    df_complete: float | None = None,
    terms: Sequence[str] | None = None,
    alpha: float = 0.05,
) -> PooledResult:
    """Pool completed-data estimates by Rubin's rules, exactly as ``mice::pool()``.

    Parameters
    ----------
    estimates
        Completed-data estimates: shape ``(m,)`` for one quantity, ``(m, p)`` for ``p`` terms.
    variances
        Their sampling variances: ``(m,)`` with scalar estimates; ``(m, p)`` (variances of each
        term, as mice uses) or ``(m, p, p)`` (covariance matrices) with ``(m, p)`` estimates.
    df_complete
        Degrees of freedom of the analysis had there been no missing data (mice's ``dfcom``,
        e.g. ``n - k`` for a linear model). ``None``: large sample, Rubin's (1987) degrees of
        freedom; a number: the Barnard–Rubin (1999) small-sample degrees of freedom.
    terms
        Names of the ``p`` terms (default ``estimate`` for one, ``x1..xp`` for several).
    alpha
        1 - confidence level of the t intervals.

    Returns
    -------
    PooledResult

    Raises
    ------
    DataValidationError
        Fewer than 2 imputations, shapes that do not match, non-finite values, a negative
        variance, or a term whose within-imputation variance is 0.
    ConfigError
        ``df_complete`` is not positive, ``alpha`` is not in (0, 1), or ``terms`` has the wrong
        length.

    Notes
    -----
    See the module docstring for the formulas. With no between-imputation variance (``b = 0``,
    e.g. nothing was missing) the result is the complete-data inference: ``riv = lambda = 0``,
    ``t = ubar``, and the degrees of freedom are large (``lambda`` is floored at 1e-4, as in
    mice) or close to ``df_complete``.

    References
    ----------
    Rubin DB (1987). *Multiple Imputation for Nonresponse in Surveys*. Wiley.
    Barnard J, Rubin DB (1999). Small-sample degrees of freedom with multiple imputation.
    *Biometrika* 86(4):948–955.
    van Buuren S (2018). *Flexible Imputation of Missing Data*, 2nd ed., section 2.3.

    Examples
    --------
    >>> res = pool_rubin([5.1, 5.6, 6.0, 5.3, 5.8], [3.3, 3.4, 3.5, 3.3, 3.4], df_complete=22)
    >>> # In R: mice::pool.scalar(Q, U, n = 25, k = 3)
    >>> res.table[["estimate", "std_error", "df", "fmi"]].round(3)
       estimate  std_error      df    fmi
    0      5.56      1.881  19.139  0.131
    """
    q, u, full = _as_arrays(estimates, variances)
    m, p = q.shape
    if m < 2:
        raise DataValidationError(
            f"pool_rubin: {m} imputation(s); Rubin's rules need at least 2 "
            "(mice::pool does no pooling with m = 1)"
        )
    if not (np.isfinite(q).all() and np.isfinite(u).all()):
        bad = sorted({int(i) for i in np.argwhere(~np.isfinite(q))[:, 0]})
        bad += sorted({int(i) for i in np.argwhere(~np.isfinite(u))[:, 0]} - set(bad))
        raise DataValidationError(
            f"pool_rubin: non-finite estimate or variance in imputation(s) {bad}",
            failure_cases=bad,
        )
    diag = np.diagonal(u, axis1=1, axis2=2)
    if (diag < 0).any():
        bad = sorted({int(i) for i in np.argwhere(diag < 0)[:, 0]})
        raise DataValidationError(
            f"pool_rubin: negative variance in imputation(s) {bad}", failure_cases=bad
        )
    if df_complete is None:
        dfcom = np.inf
    elif not df_complete > 0:
        raise ConfigError(f"pool_rubin: df_complete must be positive, got {df_complete}")
    else:
        dfcom = float(df_complete)
    if not 0 < alpha < 1:
        raise ConfigError(f"pool_rubin: alpha must be in (0, 1), got {alpha}")
    if terms is None:
        names = ["estimate"] if p == 1 else [f"x{j + 1}" for j in range(p)]
    else:
        names = [str(t) for t in terms]
        if len(names) != p:
            raise ConfigError(f"pool_rubin: {len(names)} term name(s) for {p} term(s)")

    qbar = q.mean(axis=0)
    ubar_mat = u.mean(axis=0)
    between = np.atleast_2d(np.cov(q, rowvar=False, ddof=1))
    ubar = np.diagonal(ubar_mat).copy()
    b = q.var(axis=0, ddof=1)
    if (ubar <= 0).any():
        bad_terms = [n for n, v in zip(names, ubar, strict=True) if v <= 0]
        raise DataValidationError(
            f"pool_rubin: within-imputation variance is 0 for {', '.join(bad_terms)}",
            failure_cases=bad_terms,
        )
    t = ubar + (1 + 1 / m) * b
    riv = (1 + 1 / m) * b / ubar
    lam = (1 + 1 / m) * b / t
    df = barnard_rubin_df(m, b, t, dfcom)
    fmi = (riv + 2 / (df + 3)) / (riv + 1)
    se = np.sqrt(t)
    statistic = qbar / se
    p_value = 2 * stats.t.sf(np.abs(statistic), np.maximum(df, 0.001))
    conf_low = qbar + stats.t.ppf(alpha / 2, df) * se
    conf_high = qbar + stats.t.ppf(1 - alpha / 2, df) * se
    table = pd.DataFrame(
        {
            "term": names,
            "estimate": qbar,
            "std_error": se,
            "statistic": statistic,
            "df": df,
            "p_value": p_value,
            "conf_low": conf_low,
            "conf_high": conf_high,
            "m": m,
            "within_var": ubar,
            "between_var": b,
            "total_var": t,
            "riv": riv,
            "lambda": lam,
            "fmi": fmi,
            "df_complete": dfcom,
        }
    )
    total_mat = ubar_mat + (1 + 1 / m) * between
    if not full:
        # variances only: the off-diagonal within (so total) covariances are unknown
        total_mat = np.diag(t)
    df_note = (
        f"Barnard–Rubin degrees of freedom (complete-data df {dfcom:g})."
        if np.isfinite(dfcom)
        else "Rubin's (1987) large-sample degrees of freedom."
    )
    return PooledResult(
        table=table,
        estimate=qbar,
        within=ubar_mat,
        between=between,
        total=total_mat,
        m=m,
        df_complete=dfcom,
        alpha=alpha,
        notes=(f"m = {m} imputations; {round(100 * (1 - alpha))}% t intervals. {df_note}",),
    )
