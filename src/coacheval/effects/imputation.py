"""Multiple imputation of a missing follow-up outcome, as a sensitivity analysis.

Leaders who do not answer the follow-up survey are not a random subset. When the reasons for
not answering are explained by what was measured at baseline (missing at random, MAR), a
complete-case analysis can be biased while multiple imputation from those baseline measures is
not. :func:`impute_outcome` fills the outcome ``m`` times; :func:`pool_fits` fits an estimator
on each completed data set and pools the results with Rubin's rules
(:func:`~coacheval.effects.pooling.pool_rubin`); :func:`mi_sensitivity` puts the complete-case
and the multiple-imputation estimates side by side.

Methods (with one incomplete variable and complete predictors, one pass of chained equations is
the whole algorithm, so these are mice's univariate methods):

- ``"norm"`` — Bayesian linear regression (``mice.impute.norm`` / ``.norm.draw``): fit least
  squares on the observed rows, ``beta_hat``, residuals ``r``, ``V = (X'X)^-1``,
  ``df = max(n_obs - p, 1)``; draw ``sigma* = sqrt(r'r / chi2_df)`` and
  ``beta* = beta_hat + L z sigma*`` with ``L L' = V`` (Cholesky) and ``z ~ N(0, I)``; impute
  ``X_mis beta* + sigma* e``, ``e ~ N(0, 1)``. A fresh ``(sigma*, beta*)`` for each imputation.
- ``"pmm"`` — predictive mean matching (``mice.impute.pmm``, type-1 matching, 5 donors): with
  the same draw of ``beta*``, predict ``X_obs beta_hat`` for the observed rows and
  ``X_mis beta*`` for the missing ones; for each missing row take the ``donors`` observed rows
  whose predictions are nearest (donors shuffled first to break ties, equal distances resolved
  as ``mice:::matchindex``) and copy the observed outcome of one of them, drawn at random.

The random numbers come from numpy, so the draws are not R's draws: the distributions are the
same (checked against mice 3.15.0 in the tests), the individual values are not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from coacheval.effects.pooling import PooledResult, pool_rubin
from coacheval.errors import ConfigError, DataValidationError
from coacheval.results import TableResult

__all__ = [
    "Estimator",
    "ImputationMethod",
    "ImputationSensitivity",
    "impute_outcome",
    "mi_sensitivity",
    "pool_fits",
]

#: Imputation model of :func:`impute_outcome`: ``"norm"`` (Bayesian linear regression) or
#: ``"pmm"`` (predictive mean matching), as mice's methods of those names.
ImputationMethod = Literal["norm", "pmm"]
Estimator = Callable[[pd.DataFrame], tuple[Any, Any]]
"""A function of one (completed) data set returning ``(estimates, variances)``.

``estimates``: a number, a 1-D array or a :class:`pandas.Series` (its index names the terms);
``variances``: a number, a 1-D array of variances or a 2-D covariance matrix (array or DataFrame).
"""


def _design(data: pd.DataFrame, predictors: Sequence[str]) -> NDArray[np.float64]:
    """Intercept plus predictors; text and categorical columns dummy-coded (first level dropped)."""
    frame = data[list(predictors)]
    missing = frame.isna().any(axis=1)
    if missing.any():
        rows = frame.index[missing]
        cols = [c for c in frame.columns if frame[c].isna().any()]
        raise DataValidationError(
            f"impute_outcome: predictors must be complete; {len(rows)} row(s) have missing "
            f"{', '.join(cols)} (impute or drop them first)",
            failure_cases=frame.loc[missing],
        )
    parts = [np.ones((len(frame), 1))]
    for col in frame.columns:
        x = frame[col]
        if pd.api.types.is_bool_dtype(x) or pd.api.types.is_numeric_dtype(x):
            parts.append(x.to_numpy(dtype=float)[:, None])
        else:
            levels = x.astype("category").cat.remove_unused_categories()
            dummies = pd.get_dummies(levels, drop_first=True, dtype=float)
            parts.append(dummies.to_numpy())
    return np.hstack(parts)


def _canonical_order(data: pd.DataFrame) -> NDArray[np.intp]:
    """Positions sorting the rows by their values: every column, left to right, missing last.

    The random draws are handed to the rows in this order, so the imputations are a function of
    the rows and not of the order they arrive in (which can follow pseudonyms, and so change with
    the pseudonymisation key). Rows equal in every column are interchangeable, so how their tie
    is broken changes nothing.
    """
    if len(data) < 2 or data.shape[1] == 0:
        return np.arange(len(data))
    keys = {}
    for i in range(data.shape[1]):
        values = data.iloc[:, i]
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            values = values.astype(str).where(values.notna())  # text, dates, categories
        keys[i] = values.to_numpy()
    frame = pd.DataFrame(keys)
    return frame.sort_values(list(keys), kind="mergesort", na_position="last").index.to_numpy()


def _norm_draws(
    x_obs: NDArray[np.float64], y_obs: NDArray[np.float64], m: int, rng: np.random.Generator
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Least-squares fit and ``m`` posterior draws ``(beta_hat, beta* (m, p), sigma* (m,))``."""
    n_obs, p = x_obs.shape
    q, r = np.linalg.qr(x_obs)
    beta_hat = np.linalg.solve(r, q.T @ y_obs)
    resid = y_obs - x_obs @ beta_hat
    r_inv = np.linalg.solve(r, np.eye(p))
    v = r_inv @ r_inv.T
    chol = np.linalg.cholesky((v + v.T) / 2)
    df = max(n_obs - p, 1)
    sigma = np.sqrt(resid @ resid / rng.chisquare(df, size=m))
    z = rng.standard_normal((m, p))
    beta = beta_hat + (z @ chol.T) * sigma[:, None]
    return beta_hat, beta, sigma


def _match(
    yhat_obs: NDArray[np.float64],
    yhat_mis: NDArray[np.float64],
    donors: int,
    rng: np.random.Generator,
) -> NDArray[np.intp]:
    """Donor index (into the observed rows) for each missing row, as ``mice:::matchindex``."""
    n1, n0 = yhat_obs.size, yhat_mis.size
    k = min(max(donors, 1), n1)
    shuffle = rng.permutation(n1)
    order = shuffle[np.argsort(yhat_obs[shuffle], kind="stable")]
    ysort = yhat_obs[order]
    right = np.searchsorted(ysort, yhat_mis, side="left")  # std::lower_bound
    offsets = np.arange(k)
    r_pos = right[:, None] + offsets  # right side, nearest first
    l_pos = right[:, None] - 1 - offsets  # left side, nearest first
    r_ok, l_ok = r_pos < n1, l_pos >= 0
    r_dist = np.where(r_ok, ysort[np.clip(r_pos, 0, n1 - 1)] - yhat_mis[:, None], np.inf)
    l_dist = np.where(l_ok, yhat_mis[:, None] - ysort[np.clip(l_pos, 0, n1 - 1)], np.inf)
    # merging the two sides, a tie goes to the right side: a stable sort with the right first
    pos = np.concatenate([r_pos, l_pos], axis=1)
    dist = np.concatenate([r_dist, l_dist], axis=1)
    nearest = np.take_along_axis(pos, np.argsort(dist, axis=1, kind="stable")[:, :k], axis=1)
    pick = rng.integers(0, k, size=n0)
    return order[nearest[np.arange(n0), pick]]


def impute_outcome(
    data: pd.DataFrame,
    *,
    outcome: str,
    predictors: Sequence[str],
    m: int = 20,
    seed: int | np.random.Generator,
    method: ImputationMethod = "norm",
    donors: int = 5,
) -> list[pd.DataFrame]:
    """Impute a missing outcome ``m`` times from complete predictors (mice's norm or pmm).

    Parameters
    ----------
    data
        One row per person; ``outcome`` has missing values (NaN) for non-responders.
    outcome
        The numeric column to impute (e.g. the follow-up engagement score).
    predictors
        Complete columns to impute from: baseline score, group, and the characteristics that
        predict both response and outcome. Text or categorical columns are dummy-coded.
    m
        Number of imputations (at least 2).
    seed
        Seed or :class:`numpy.random.Generator`; the same seed gives the same imputations.
    method
        ``"norm"`` (Bayesian linear regression) or ``"pmm"`` (predictive mean matching).
    donors
        Number of candidate donors for ``"pmm"`` (mice's default 5).

    Returns
    -------
    list of pandas.DataFrame
        ``m`` copies of ``data`` with ``outcome`` filled in (as float); other columns unchanged.
        The draws go to the rows sorted by their values (every column), so the same rows in any
        order get the same imputed values (the order need not, for example, follow pseudonyms).

    Raises
    ------
    ConfigError
        An absent column, ``m < 2``, ``donors < 1`` or an unknown method.
    DataValidationError
        A non-numeric outcome, missing predictor values, collinear predictors among the
        observed rows, or too few observed outcomes to fit the imputation model.

    References
    ----------
    van Buuren S, Groothuis-Oudshoorn K (2011). mice: Multivariate Imputation by Chained
    Equations in R. *J Stat Softw* 45(3). Rubin DB (1987), *Multiple Imputation for Nonresponse
    in Surveys*, Wiley (algorithm of section 5.4 for ``norm``).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"base": rng.normal(size=200)})
    >>> df["follow"] = 0.8 * df["base"] + rng.normal(size=200)
    >>> df.loc[df["base"] < -0.5, "follow"] = np.nan
    >>> # In R: mice(df, m = 5, method = "norm")
    >>> done = impute_outcome(df, outcome="follow", predictors=["base"], m=5, seed=2)
    >>> len(done), int(done[0]["follow"].isna().sum())
    (5, 0)
    """
    absent = [c for c in (outcome, *predictors) if c not in data]
    if absent:
        raise ConfigError(f"impute_outcome: no column(s) {', '.join(absent)}")
    if outcome in predictors:
        raise ConfigError(f"impute_outcome: the outcome {outcome!r} is also a predictor")
    if not isinstance(m, (int, np.integer)) or m < 2:
        raise ConfigError(
            f"impute_outcome: m must be an integer of at least 2, got {m!r} "
            "(Rubin's rules need between-imputation variance)"
        )
    if method not in ("norm", "pmm"):
        raise ConfigError(f"impute_outcome: method must be 'norm' or 'pmm', got {method!r}")
    if donors < 1:
        raise ConfigError(f"impute_outcome: donors must be at least 1, got {donors}")
    y_col = data[outcome]
    if not (pd.api.types.is_numeric_dtype(y_col) or pd.api.types.is_bool_dtype(y_col)):
        raise DataValidationError(
            f"impute_outcome: outcome {outcome!r} must be numeric, got {y_col.dtype}"
        )
    order = _canonical_order(data)
    ordered = data.iloc[order]
    y = ordered[outcome].to_numpy(dtype=float)
    x = _design(ordered, predictors)
    observed = ~np.isnan(y)
    n_obs, p = int(observed.sum()), x.shape[1]
    if n_obs < p + 1:
        raise DataValidationError(
            f"impute_outcome: {n_obs} observed value(s) of {outcome!r}; the imputation model "
            f"has {p} coefficient(s) and needs at least {p + 1}"
        )
    x_obs, y_obs, x_mis = x[observed], y[observed], x[~observed]
    if np.linalg.matrix_rank(x_obs) < p:
        raise DataValidationError(
            "impute_outcome: the predictors are collinear among the rows with an observed "
            f"outcome ({', '.join(predictors)}); drop redundant predictors"
        )
    rng = np.random.default_rng(seed)
    beta_hat, beta, sigma = _norm_draws(x_obs, y_obs, int(m), rng)
    if method == "norm":
        noise = rng.standard_normal((int(m), x_mis.shape[0]))
        filled = beta @ x_mis.T + noise * sigma[:, None]
    else:
        yhat_obs = x_obs @ beta_hat
        yhat_mis = beta @ x_mis.T
        filled = np.vstack(
            [y_obs[_match(yhat_obs, yhat_mis[j], donors, rng)] for j in range(int(m))]
        )
    completed = []
    for j in range(int(m)):
        in_order = y.copy()
        in_order[~observed] = filled[j]
        values = np.empty(len(y))
        values[order] = in_order  # back to the rows' own order
        frame = data.copy()
        frame[outcome] = values
        completed.append(frame)
    return completed


def _as_fit(result: Any) -> tuple[NDArray[np.float64], NDArray[np.float64], list[str] | None]:
    if not (isinstance(result, tuple) and len(result) == 2):
        raise ConfigError("the estimator must return a pair (estimates, variances)")
    est, var = result
    terms = [str(t) for t in est.index] if isinstance(est, pd.Series) else None
    est_arr = np.asarray(est, dtype=float)
    var_arr = np.asarray(var.to_numpy() if isinstance(var, pd.DataFrame) else var, dtype=float)
    return est_arr, var_arr, terms


def pool_fits(
    completed: Sequence[pd.DataFrame],
    estimator: Estimator,
    *,
    df_complete: float | None = None,
    alpha: float = 0.05,
) -> PooledResult:
    """Fit ``estimator`` on each completed data set and pool by Rubin's rules (mice's ``pool``).

    Parameters
    ----------
    completed
        The completed data sets (from :func:`impute_outcome`).
    estimator
        ``f(data) -> (estimates, variances)``, see :data:`Estimator`.
    df_complete
        Complete-data degrees of freedom (e.g. ``n - k`` for a linear model), for the
        Barnard–Rubin small-sample degrees of freedom; ``None``: large sample.
    alpha
        1 - confidence level.

    Returns
    -------
    PooledResult

    Raises
    ------
    ConfigError
        The estimator does not return a pair, or returns different terms on different data sets.
    DataValidationError
        As :func:`~coacheval.effects.pooling.pool_rubin` (e.g. fewer than 2 data sets).

    Examples
    --------
    >>> frames = [pd.DataFrame({"y": [1.0, 2.0, 3.0 + k]}) for k in range(3)]
    >>> def mean_and_var(d):
    ...     return d["y"].mean(), d["y"].var() / len(d)
    >>> # In R: pool(with(imp, ...))
    >>> pool_fits(frames, mean_and_var).table[["estimate", "std_error", "df"]].round(3)
       estimate  std_error      df
    0     2.333        1.0  91.125
    """
    fits = [_as_fit(estimator(frame)) for frame in completed]
    if not fits:
        raise DataValidationError("pool_fits: no completed data sets")
    terms = fits[0][2]
    for _, _, t in fits[1:]:
        if t != terms:
            raise ConfigError(
                "pool_fits: the estimator returned different terms across imputations"
            )
    estimates = np.stack([f[0] for f in fits])
    variances = np.stack([f[1] for f in fits])
    return pool_rubin(estimates, variances, df_complete=df_complete, terms=terms, alpha=alpha)


@dataclass(frozen=True)
class ImputationSensitivity(TableResult):
    """Complete-case and multiple-imputation estimates side by side.

    Attributes
    ----------
    table
        ``analysis`` (``complete_case`` / ``multiple_imputation``), ``term, estimate,
        std_error, statistic, df, p_value, conf_low, conf_high, n, fmi``. ``df`` is NaN for a
        normal-theory complete-case interval; ``fmi`` is NaN for the complete-case rows.
    pooled
        The full Rubin's-rules result.
    n_missing, n_total
        Rows with the outcome missing, and all rows.
    method
        Imputation method.

    Examples
    --------
    Returned by :func:`mi_sensitivity`. Here follow-up is missing more often for people with
    low baseline scores, so the complete cases overstate the mean (0 by construction):

    >>> import numpy as np
    >>> import pandas as pd
    >>> from coacheval.effects.imputation import mi_sensitivity
    >>> rng = np.random.default_rng(3)
    >>> df = pd.DataFrame({"base": rng.normal(size=300)})
    >>> df["follow"] = 0.8 * df["base"] + rng.normal(size=300)
    >>> df.loc[rng.random(300) < 1 / (1 + np.exp(2 * df["base"])), "follow"] = np.nan
    >>> def mean_follow(d):
    ...     return d["follow"].mean(), d["follow"].var() / len(d)
    >>> res = mi_sensitivity(df, outcome="follow", predictors=["base"], estimator=mean_follow,
    ...                      m=20, seed=4)
    >>> res.n_missing, res.n_total, res.method
    (149, 300, 'norm')
    >>> res.table[["analysis", "estimate", "std_error", "conf_low", "conf_high", "fmi"]].round(3)
                  analysis  estimate  std_error  conf_low  conf_high    fmi
    0        complete_case     0.635      0.093     0.453      0.817    NaN
    1  multiple_imputation     0.151      0.104    -0.056      0.358  0.531
    >>> round(float(res.pooled.table["estimate"].iloc[0]), 3)
    0.151
    """

    table: pd.DataFrame
    pooled: PooledResult
    n_missing: int
    n_total: int
    method: ImputationMethod
    title: str = "Missing follow-up: complete cases against multiple imputation"
    notes: tuple[str, ...] = field(default=())


def mi_sensitivity(
    data: pd.DataFrame,
    *,
    outcome: str,
    predictors: Sequence[str],
    estimator: Estimator,
    m: int = 20,
    seed: int | np.random.Generator,
    method: ImputationMethod = "norm",
    donors: int = 5,
    df_complete: float | None = None,
    alpha: float = 0.05,
) -> ImputationSensitivity:
    """Compare the complete-case estimate with the multiply imputed one.

    Parameters
    ----------
    data, outcome, predictors, m, seed, method, donors
        As :func:`impute_outcome`.
    estimator
        ``f(data) -> (estimates, variances)``, see :data:`Estimator`.
    df_complete
        Complete-data degrees of freedom of the estimator on all rows (``n - k`` for a linear
        model). The complete-case interval then uses ``df_complete - n_missing`` degrees of
        freedom; ``None``: normal intervals and Rubin's large-sample degrees of freedom.
    alpha
        1 - confidence level.

    Returns
    -------
    ImputationSensitivity
        The same for the same rows in any order: the rows are sorted by their values first (as
        :func:`impute_outcome` hands out its draws), and the estimator sees them in that order.

    Raises
    ------
    ConfigError, DataValidationError
        As :func:`impute_outcome` and :func:`pool_fits`.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> df = pd.DataFrame({"base": rng.normal(size=300)})
    >>> df["follow"] = 0.8 * df["base"] + rng.normal(size=300)
    >>> df.loc[rng.random(300) < 1 / (1 + np.exp(-2 * df["base"])), "follow"] = np.nan
    >>> def mean_follow(d):
    ...     return d["follow"].mean(), d["follow"].var() / len(d)
    >>> res = mi_sensitivity(df, outcome="follow", predictors=["base"], estimator=mean_follow,
    ...                      m=20, seed=4)
    >>> res.table["analysis"].tolist()
    ['complete_case', 'multiple_imputation']
    """
    data = data.iloc[_canonical_order(data)]
    completed = impute_outcome(
        data,
        outcome=outcome,
        predictors=predictors,
        m=m,
        seed=seed,
        method=method,
        donors=donors,
    )
    pooled = pool_fits(completed, estimator, df_complete=df_complete, alpha=alpha)
    observed = data[outcome].notna()
    n_missing = int((~observed).sum())
    est, var, _ = _as_fit(estimator(data.loc[observed]))
    est = np.atleast_1d(est)
    var = np.atleast_1d(var)
    se = np.sqrt(np.diagonal(var) if var.ndim == 2 else var)
    df_cc = np.inf if df_complete is None else float(df_complete) - n_missing
    if not df_cc > 0:
        raise ConfigError(
            f"mi_sensitivity: df_complete - n_missing = {df_cc} is not positive for the "
            "complete-case analysis"
        )
    statistic = est / se
    q = stats.t.ppf(1 - alpha / 2, df_cc)
    cc = pd.DataFrame(
        {
            "analysis": "complete_case",
            "term": list(pooled.terms),
            "estimate": est,
            "std_error": se,
            "statistic": statistic,
            "df": df_cc if np.isfinite(df_cc) else np.nan,
            "p_value": 2 * stats.t.sf(np.abs(statistic), df_cc),
            "conf_low": est - q * se,
            "conf_high": est + q * se,
            "n": int(observed.sum()),
            "fmi": np.nan,
        }
    )
    mi = pooled.table[
        ["term", "estimate", "std_error", "statistic", "df", "p_value", "conf_low", "conf_high"]
    ].assign(analysis="multiple_imputation", n=len(data), fmi=pooled.table["fmi"])
    table = pd.concat([cc, mi[cc.columns]], ignore_index=True)
    note = (
        f"{n_missing} of {len(data)} outcomes missing, imputed m = {pooled.m} times by "
        f"{'Bayesian linear regression' if method == 'norm' else 'predictive mean matching'} "
        f"from {', '.join(predictors)}; valid if the outcome is missing at random given them."
    )
    return ImputationSensitivity(
        table=table,
        pooled=pooled,
        n_missing=n_missing,
        n_total=len(data),
        method=method,
        notes=(note,),
    )
