"""Team-level spillover: staff separations per unit-month as a rate model with a coached leader.

Coaching a nurse leader may change turnover among the staff they lead. With one row per unit
and month (separations, headcount or person-time, whether the unit's leader was coached that
month — it may switch on part-way), :func:`unit_turnover_model` fits a log-linear rate model

    ``log E[separations] = log(person-years) + b0 + b1 coached + b' covariates``

and reports ``exp(b1)``, the rate ratio of separations under a coached versus an uncoached
leader, with cluster-robust standard errors by unit (months of one unit are not independent).

Families
--------
``"poisson"``
    ``glm(y ~ ..., family = poisson, offset = log(pt))``: iteratively reweighted least squares
    to a relative deviance change below ``tol``.
``"negative_binomial"``
    NB2 (variance ``mu + mu^2 / theta``) with ``theta`` estimated by maximum likelihood, as
    ``MASS::glm.nb``: alternate the GLM fit for fixed ``theta`` with the ML ``theta`` for fixed
    ``mu`` (root of glm.nb's ``theta.ml`` score) to the joint maximum. Coefficient SEs treat
    ``theta`` as fixed (as ``summary(glm.nb)`` and ``sandwich::vcovCL`` on a ``negbin`` fit);
    ``theta_se`` is ``sqrt(1 / observed information)`` as ``theta.ml``'s ``SE``. When the
    counts show no overdispersion (the score for ``1/theta`` at the Poisson fit,
    ``sum((y - mu)^2 - y)``, is not positive, or ``theta`` runs past ``1e8``) the ML ``theta``
    is infinite: the Poisson fit is returned with ``theta = inf`` and a
    :class:`NoOverdispersionWarning` (glm.nb instead stops at a huge ``theta`` after
    "iteration limit reached" warnings, with coefficients equal to Poisson's to ~1e-5).

Variance (``vcov``)
-------------------
With ``A = X' W X`` (the Fisher information) and ``s_g`` the sum over cluster ``g`` of the
score contributions ``x_i (y_i - mu_i) / (1 + mu_i / theta)`` (``theta = inf`` for Poisson):
``V = c A^{-1} (sum_g s_g s_g') A^{-1}``, with

* ``"CR1"`` (default): ``c = G/(G-1) * (n-1)/(n-k)``, ``sandwich::vcovCL(fit, cluster = ~unit)``
  with its default for ``glm`` objects (``type = "HC1"``);
* ``"CR1_stata"``: ``c = G/(G-1)``, ``vcovCL(..., type = "HC0")`` (its ``cadjust``), the
  adjustment of Stata's ``poisson``/``nbreg`` with ``vce(cluster unit)``;
* ``"CR0"``: ``c = 1`` (``type = "HC0", cadjust = FALSE``);
* ``"model"``: ``A^{-1}`` (``vcov(fit)``), no clustering.

CR1 is the default because it is what ``vcovCL`` gives unasked and it is the larger (more
cautious) of the two common small-sample factors. Cluster-robust variance needs at least two
clusters: with one, :func:`unit_turnover_model` raises (use ``vcov="model"``). With few
clusters (< 30) the sandwich is biased downwards; a note says so.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from coacheval.retention.spillover import unit_turnover_model
>>> rng = np.random.default_rng(1)
>>> units = np.repeat(np.arange(30), 12)
>>> coached = (units < 15) & (np.tile(np.arange(12), 30) >= 6)
>>> headcount = np.full(units.size, 40.0)
>>> mu = headcount / 12 * 0.25 * np.where(coached, 0.7, 1.0)
>>> df = pd.DataFrame({"unit_id": units, "coached": coached.astype(int),
...                    "headcount": headcount, "separations": rng.poisson(mu)})
>>> res = unit_turnover_model(df, separations_col="separations", headcount_col="headcount",
...                           exposure_col="coached")
>>> res.vcov_type, res.n_clusters
('CR1', 30)
>>> bool(0.3 < res.rate_ratio < 1.5)
True
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from scipy import linalg, optimize, special, stats

from coacheval._columns import ESTIMATE_COLUMNS
from coacheval.errors import CoachevalWarning, ConfigError, DataValidationError
from coacheval.results import TableResult
from coacheval.retention._inputs import rows_list

__all__ = [
    "Family",
    "NoOverdispersionWarning",
    "SpilloverResult",
    "VcovType",
    "unit_turnover_model",
]

#: Count model of :func:`unit_turnover_model`: Poisson, or NB2 with ``theta`` by maximum
#: likelihood (``MASS::glm.nb``).
Family = Literal["poisson", "negative_binomial"]
#: Variance of :func:`unit_turnover_model`'s coefficients (see the module notes): cluster-robust
#: ``"CR1"`` (``sandwich::vcovCL``'s default), ``"CR1_stata"``, ``"CR0"``, or model-based.
VcovType = Literal["CR1", "CR1_stata", "CR0", "model"]

_THETA_MAX = 1e8
_FEW_CLUSTERS = 30


class NoOverdispersionWarning(CoachevalWarning):
    """The negative binomial's theta is infinite (no overdispersion): the Poisson fit is used.

    Examples
    --------
    Emitted by :func:`unit_turnover_model` with ``family="negative_binomial"`` when the counts vary
    no more than Poisson counts would: the maximum-likelihood ``theta`` is infinite and the Poisson
    fit is reported instead.

    >>> import warnings
    >>> import pandas as pd
    >>> from coacheval.retention.spillover import NoOverdispersionWarning, unit_turnover_model
    >>> df = pd.DataFrame({"unit_id": [1, 1, 2, 2, 3, 3, 4, 4], "coached": [0, 1, 0, 1, 0, 1, 0, 0],
    ...                    "separations": [2, 2, 3, 2, 2, 2, 3, 2], "headcount": 30.0})
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always", NoOverdispersionWarning)
    ...     res = unit_turnover_model(df, separations_col="separations", headcount_col="headcount",
    ...                               exposure_col="coached", family="negative_binomial")
    >>> [w.category.__name__ for w in caught]
    ['NoOverdispersionWarning']
    >>> res.theta, res.family
    (inf, 'negative_binomial')
    >>> res.notes[-1]
    'No overdispersion: the negative binomial theta is infinite; Poisson fit reported.'
    """


class RateModelConvergenceWarning(CoachevalWarning):
    """The rate model's iterations did not converge within ``max_iter``."""


# ----------------------------------------------------------------------------- result ---


@dataclass(frozen=True, eq=False)
class SpilloverResult(TableResult):
    """A fitted unit-level turnover rate model.

    Attributes
    ----------
    table
        One row per term (``"(Intercept)"``, the exposure, covariates) with the columns of
        :data:`coacheval._columns.ESTIMATE_COLUMNS`, on the log-rate scale; ``std_error`` is
        from ``vcov`` (cluster-robust unless ``vcov_type == "model"``), ``df`` NaN (normal
        reference), ``n`` the unit-months used, ``n_clusters`` the units (NaN for
        ``"model"``).
    coef, vcov, vcov_model
        Coefficients, the variance used for inference and the model-based variance
        ``(X' W X)^{-1}``, labelled by term.
    exposure
        Name of the exposure term (the coached indicator).
    family, vcov_type, alpha
        Options used.
    theta, theta_se
        Negative binomial ``theta`` and its SE (``inf``/NaN for Poisson or when there is no
        overdispersion).
    loglik, deviance
        Log-likelihood (with ``theta`` at its estimate) and deviance.
    n_obs, n_clusters, events, person_time
        Rows used, clusters (units), total separations and person-years.
    iterations, converged
        Outer iterations and whether the convergence rule was met.

    Examples
    --------
    Returned by :func:`unit_turnover_model`. Thirty units followed for a year, half of them with a
    leader coached from month 7 (true rate ratio 0.7):

    >>> import numpy as np
    >>> import pandas as pd
    >>> from coacheval.retention.spillover import unit_turnover_model
    >>> rng = np.random.default_rng(1)
    >>> units = np.repeat(np.arange(30), 12)
    >>> coached = (units < 15) & (np.tile(np.arange(12), 30) >= 6)
    >>> mu = 40 / 12 * 0.25 * np.where(coached, 0.7, 1.0)
    >>> df = pd.DataFrame({"unit_id": units, "coached": coached.astype(int), "headcount": 40.0,
    ...                    "separations": rng.poisson(mu)})
    >>> res = unit_turnover_model(df, separations_col="separations", headcount_col="headcount",
    ...                           exposure_col="coached")
    >>> res.family, res.vcov_type, res.n_obs, res.n_clusters, res.events
    ('poisson', 'CR1', 360, 30, 262.0)
    >>> round(res.person_time, 1), round(res.rate_ratio, 3)
    (1200.0, 0.743)
    >>> res.rate_ratios()[["term", "estimate", "std_error", "conf_low", "conf_high"]].round(3)
          term  estimate  std_error  conf_low  conf_high
    0  coached     0.743      0.177     0.525      1.051
    >>> res.coef.round(3)
    (Intercept)   -1.455
    coached       -0.297
    dtype: float64
    """

    table: pd.DataFrame
    coef: pd.Series
    vcov: pd.DataFrame
    vcov_model: pd.DataFrame
    exposure: str
    family: str
    vcov_type: str
    alpha: float
    theta: float
    theta_se: float
    loglik: float
    deviance: float
    n_obs: int
    n_clusters: int
    events: float
    person_time: float
    iterations: int
    converged: bool
    title: str = "Unit turnover rate model"
    notes: tuple[str, ...] = field(default=())

    @property
    def std_error(self) -> pd.Series:
        """Standard errors used for inference, indexed by term."""
        return pd.Series(np.sqrt(np.diag(self.vcov.to_numpy())), index=self.coef.index)

    @property
    def rate_ratio(self) -> float:
        """Rate ratio of separations, coached versus not coached (``exp`` of the exposure term)."""
        return float(np.exp(self.coef[self.exposure]))

    def tidy(self, *, exponentiate: bool = False) -> pd.DataFrame:
        """Return the coefficient table, optionally as rate ratios.

        Parameters
        ----------
        exponentiate
            If true, ``estimate``, ``conf_low`` and ``conf_high`` are rate ratios (``exp``);
            ``std_error``, ``statistic`` and ``p_value`` stay on the log scale.

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

    def rate_ratios(self) -> pd.DataFrame:
        """Return the table without the intercept, as rate ratios with confidence limits."""
        out = self.tidy(exponentiate=True)
        return out[out["term"] != "(Intercept)"].reset_index(drop=True)

    def plot(self) -> Any:
        """Forest plot of the rate ratios (log axis); returns a matplotlib Figure.

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"u": [1, 1, 2, 2, 3, 3], "c": [0, 1, 0, 1, 0, 0],
        ...                    "y": [2, 1, 3, 2, 4, 2], "pt": [2.0] * 6})
        >>> res = unit_turnover_model(df, separations_col="y", person_time_col="pt",
        ...                           exposure_col="c", cluster_col="u")
        >>> res.plot().axes[0].get_xscale()
        'log'
        """
        from matplotlib.figure import Figure

        tab = self.rate_ratios()
        fig = Figure(figsize=(6.0, 0.8 + 0.45 * len(tab)))
        ax = fig.add_subplot()
        y = np.arange(len(tab))[::-1]
        est = tab["estimate"].to_numpy(float)
        ax.errorbar(
            est,
            y,
            xerr=[est - tab["conf_low"].to_numpy(float), tab["conf_high"].to_numpy(float) - est],
            fmt="o",
            capsize=3,
        )
        ax.axvline(1.0, color="grey", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_yticks(y)
        ax.set_yticklabels(tab["term"].tolist())
        ax.set_xlabel(f"Rate ratio ({100 * (1 - self.alpha):g}% CI)")
        ax.set_title(self.title)
        fig.tight_layout()
        return fig


# ---------------------------------------------------------------------------- fitting ---


def _irls(
    y: np.ndarray,
    x: np.ndarray,
    offset: np.ndarray,
    theta: float,
    beta0: np.ndarray | None,
    tol: float,
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray, bool, int]:
    """IRLS for a log-link Poisson (theta = inf) or NB2 (fixed theta) GLM, as R's glm.fit."""
    if beta0 is None:
        mu = y + 0.1  # glm's poisson/negative.binomial start: mu = y + 0.1
        eta = np.log(mu)
    else:
        eta = offset + x @ beta0
        mu = np.exp(eta)
    dev_old = _deviance(y, mu, theta)
    beta = np.zeros(x.shape[1]) if beta0 is None else beta0
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - iteration count is reported
        w = mu if np.isinf(theta) else mu / (1 + mu / theta)
        z = eta - offset + (y - mu) / mu
        sw = np.sqrt(w)
        beta, *_ = linalg.lstsq(x * sw[:, None], z * sw, lapack_driver="gelsy")
        eta = offset + x @ beta
        mu = np.exp(eta)
        dev = _deviance(y, mu, theta)
        if abs(dev - dev_old) / (abs(dev) + 0.1) < tol:
            converged = True
            break
        dev_old = dev
    return beta, mu, converged, it


def _deviance(y: np.ndarray, mu: np.ndarray, theta: float) -> float:
    ylogy = special.xlogy(y, y / mu)
    if np.isinf(theta):
        return float(2 * np.sum(ylogy - (y - mu)))
    return float(2 * np.sum(ylogy - (y + theta) * np.log((y + theta) / (mu + theta))))


def _loglik(y: np.ndarray, mu: np.ndarray, theta: float) -> float:
    if np.isinf(theta):
        return float(np.sum(special.xlogy(y, mu) - mu - special.gammaln(y + 1)))
    return float(
        np.sum(
            special.gammaln(y + theta)
            - special.gammaln(theta)
            - special.gammaln(y + 1)
            + theta * np.log(theta)
            + special.xlogy(y, mu)
            - (y + theta) * np.log(theta + mu)
        )
    )


def _theta_score(th: float, y: np.ndarray, mu: np.ndarray) -> float:
    # MASS::theta.ml's score
    return float(
        np.sum(
            special.digamma(th + y)
            - special.digamma(th)
            + np.log(th)
            + 1
            - np.log(th + mu)
            - (y + th) / (mu + th)
        )
    )


def _theta_info(th: float, y: np.ndarray, mu: np.ndarray) -> float:
    # MASS::theta.ml's information (negative second derivative)
    return float(
        np.sum(
            -special.polygamma(1, th + y)
            + special.polygamma(1, th)
            - 1 / th
            + 2 / (mu + th)
            - (y + th) / (mu + th) ** 2
        )
    )


def _theta_ml(y: np.ndarray, mu: np.ndarray) -> float:
    """ML theta for fixed mu: root of the score in log(theta); inf when none is finite."""

    def f(lt: float) -> float:
        return _theta_score(float(np.exp(lt)), y, mu)

    lo, hi = np.log(1e-8), np.log(_THETA_MAX)
    if f(hi) > 0:
        return np.inf
    if f(lo) < 0:
        raise DataValidationError(
            "the negative binomial dispersion cannot be estimated (theta -> 0): the counts are "
            "almost all zero with a few very large values"
        )
    lt = optimize.brentq(f, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=500)
    return float(np.exp(lt))


def _cluster_vcov(
    x: np.ndarray,
    y: np.ndarray,
    mu: np.ndarray,
    theta: float,
    bread: np.ndarray,
    codes: np.ndarray,
    n_clusters: int,
    vcov_type: str,
) -> np.ndarray:
    resid = (y - mu) if np.isinf(theta) else (y - mu) / (1 + mu / theta)
    scores = x * resid[:, None]
    sums = np.column_stack(
        [np.bincount(codes, weights=scores[:, j], minlength=n_clusters) for j in range(x.shape[1])]
    )
    meat = sums.T @ sums
    n, k = x.shape
    c = 1.0
    if vcov_type in ("CR1", "CR1_stata"):
        c *= n_clusters / (n_clusters - 1)
    if vcov_type == "CR1":
        c *= (n - 1) / (n - k)
    return c * bread @ meat @ bread


# ------------------------------------------------------------------------ preparation ---


def _design(
    data: pd.DataFrame, exposure_col: str, covariates: Sequence[str]
) -> tuple[np.ndarray, list[str]]:
    cols: list[np.ndarray] = [np.ones(len(data))]
    names = ["(Intercept)"]
    expo = data[exposure_col]
    if expo.dtype == bool:
        expo = expo.astype(float)
    e = pd.to_numeric(expo, errors="coerce").to_numpy(float)
    bad = ~np.isin(e, (0.0, 1.0))
    if bad.any():
        raise DataValidationError(
            f"exposure column {exposure_col!r} must be 0/1 (or True/False) with no missing "
            f"values; rows {rows_list(data.index, bad)} break this",
            failure_cases=data.loc[bad, [exposure_col]],
        )
    if e.min() == e.max():
        raise DataValidationError(
            f"exposure column {exposure_col!r} takes the single value {e[0]:g} in every row: "
            "the rate ratio of coached vs not coached cannot be estimated"
        )
    cols.append(e)
    names.append(exposure_col)
    for cov in covariates:
        s = data[cov]
        if s.isna().any():
            miss = s.isna().to_numpy()
            raise DataValidationError(
                f"covariate {cov!r} has missing values in rows {rows_list(data.index, miss)}",
                failure_cases=data.loc[miss, [cov]],
            )
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            cols.append(s.to_numpy(float))
            names.append(cov)
        else:
            levels = (
                list(s.cat.categories)
                if isinstance(s.dtype, pd.CategoricalDtype)
                else sorted(s.unique().tolist(), key=str)
            )
            for lev in levels[1:]:
                cols.append((s == lev).to_numpy(float))
                names.append(f"{cov}[{lev}]")
    x = np.column_stack(cols)
    rank = np.linalg.matrix_rank(x)
    if rank < x.shape[1]:
        raise DataValidationError(
            f"the design (intercept, {exposure_col!r}, covariates) is collinear (rank {rank} of "
            f"{x.shape[1]} columns): drop covariates that are constant or duplicate others"
        )
    return x, names


def unit_turnover_model(
    data: pd.DataFrame,
    *,
    separations_col: str,
    exposure_col: str,
    headcount_col: str | None = None,
    person_time_col: str | None = None,
    months_per_row: float = 1.0,
    covariates: Sequence[str] = (),
    cluster_col: str = "unit_id",
    family: Family = "poisson",
    vcov: VcovType = "CR1",
    alpha: float = 0.05,
    tol: float = 1e-10,
    max_iter: int = 50,
) -> SpilloverResult:
    """Rate model of staff separations per unit-month with a coached-leader indicator.

    Parameters
    ----------
    data
        One row per unit and month (or any period).
    separations_col
        Staff separations in the row (whole numbers >= 0).
    exposure_col
        1 (True) when the unit's leader was coached in that row's month, else 0; it may switch
        on part-way through a unit's months.
    headcount_col, person_time_col
        Exactly one: the row's average headcount (person-years = headcount * months_per_row /
        12) or its person-years at risk directly. ``log(person-years)`` is the offset.
    months_per_row
        Months covered by one row (with ``headcount_col``).
    covariates
        Further columns: numeric ones enter as they are, text/categorical ones as treatment
        dummies (first level — category order, else sorted — is the reference).
    cluster_col
        Unit identifier for the cluster-robust variance.
    family
        ``"poisson"`` or ``"negative_binomial"`` (NB2, ``theta`` by ML as ``MASS::glm.nb``).
    vcov
        ``"CR1"`` (default, ``sandwich::vcovCL``'s default), ``"CR1_stata"``, ``"CR0"`` or
        ``"model"``; see the module notes.
    alpha
        One minus the confidence level (normal-theory intervals).
    tol, max_iter
        IRLS convergence (relative deviance change, as ``glm.control(epsilon)``) and the
        iteration limit (also of the theta/GLM alternation).

    Returns
    -------
    SpilloverResult

    Raises
    ------
    ConfigError
        Unknown options, both or neither of ``headcount_col``/``person_time_col``, a missing
        column.
    DataValidationError
        Bad counts or person-time, separations with zero person-time, an exposure that is not
        0/1 or never varies, missing covariates or clusters, a collinear design, or fewer than
        two clusters with a cluster-robust ``vcov``.

    Warns
    -----
    NoOverdispersionWarning
        ``family="negative_binomial"`` on counts that are not overdispersed (theta infinite):
        the Poisson fit is returned.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"u": [1, 1, 2, 2, 3, 3, 4, 4], "c": [0, 1, 0, 1, 0, 1, 0, 0],
    ...                    "y": [2, 1, 3, 2, 4, 2, 3, 5], "hc": [30.0] * 8})
    >>> res = unit_turnover_model(df, separations_col="y", headcount_col="hc",
    ...                           exposure_col="c", cluster_col="u")
    >>> round(res.rate_ratio, 4)  # (5 / 3) / (17 / 5)
    0.4902
    """
    if family not in get_args(Family):
        raise ConfigError(f"family must be one of {get_args(Family)}, got {family!r}")
    if vcov not in get_args(VcovType):
        raise ConfigError(f"vcov must be one of {get_args(VcovType)}, got {vcov!r}")
    if not (0 < alpha < 1):
        raise ConfigError(f"alpha must be strictly between 0 and 1, got {alpha!r}")
    if not isinstance(data, pd.DataFrame):
        raise ConfigError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if (headcount_col is None) == (person_time_col is None):
        raise ConfigError("give exactly one of headcount_col and person_time_col")
    if isinstance(covariates, str):
        covariates = [covariates]
    covariates = list(covariates)
    needed = [separations_col, exposure_col, headcount_col or person_time_col, *covariates]
    if vcov != "model":
        needed.append(cluster_col)
    missing_cols = [c for c in needed if c not in data.columns]
    if missing_cols:
        raise ConfigError(f"column(s) {missing_cols} are not in the data")
    if not (months_per_row > 0):
        raise ConfigError(f"months_per_row must be positive, got {months_per_row!r}")

    y = pd.to_numeric(data[separations_col], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(y) | (y < 0) | (y != np.round(y))
    if bad.any():
        raise DataValidationError(
            f"column {separations_col!r} must hold whole numbers >= 0 (no missing values); rows "
            f"{rows_list(data.index, bad)} break this",
            failure_cases=data.loc[bad, [separations_col]],
        )
    tcol = headcount_col or person_time_col
    pt = pd.to_numeric(data[tcol], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(pt) | (pt < 0)
    if bad.any():
        raise DataValidationError(
            f"column {tcol!r} must hold finite values >= 0; rows {rows_list(data.index, bad)} "
            "break this",
            failure_cases=data.loc[bad, [tcol]],
        )
    if headcount_col is not None:
        pt = pt * months_per_row / 12.0
    bad = (pt == 0) & (y > 0)
    if bad.any():
        raise DataValidationError(
            f"rows {rows_list(data.index, bad)} have separations but zero {tcol!r}: a rate needs "
            "time at risk",
            failure_cases=data.loc[bad, [separations_col, tcol]],
        )
    keep = pt > 0
    notes: list[str] = []
    if not keep.all():
        notes.append(f"{int((~keep).sum())} row(s) with zero {tcol} (and no separations) dropped.")
    d = data.loc[keep]
    if len(d) == 0:
        raise DataValidationError(f"no rows with positive {tcol!r}: a rate needs time at risk")
    y, pt = y[keep], pt[keep]
    x, names = _design(d, exposure_col, covariates)
    n, k = x.shape
    if n <= k:
        raise DataValidationError(f"{n} rows for {k} coefficients: too few unit-months")
    if y.sum() == 0:
        raise DataValidationError(
            f"no separations in {separations_col!r}: the rate model cannot be fitted (all rates "
            "are 0); report the exact Poisson upper limits from turnover_rates instead"
        )

    codes = np.zeros(n, dtype=np.intp)
    n_clusters = 0
    if vcov != "model" or cluster_col in d.columns:
        if cluster_col in d.columns:
            cl = d[cluster_col]
            miss = cl.isna().to_numpy()
            if miss.any():
                raise DataValidationError(
                    f"cluster column {cluster_col!r} is missing in rows {rows_list(d.index, miss)}",
                    failure_cases=d.loc[miss, [cluster_col]],
                )
            codes_raw, uniq = pd.factorize(cl)
            codes = codes_raw.astype(np.intp)
            n_clusters = len(uniq)
    if vcov != "model" and n_clusters < 2:
        raise DataValidationError(
            f"cluster-robust variance needs at least 2 clusters in {cluster_col!r}, found "
            f"{n_clusters}: the sandwich is undefined (G/(G-1) with G=1, and the scores sum to "
            "zero within the only cluster). Use vcov='model' (model-based SEs) and say that "
            "the data come from one unit."
        )
    if vcov != "model" and n_clusters < _FEW_CLUSTERS:
        notes.append(
            f"Only {n_clusters} clusters: cluster-robust SEs are biased downwards with fewer than "
            f"{_FEW_CLUSTERS}; read the interval as optimistic."
        )

    offset = np.log(pt)
    beta, mu, converged, iters = _irls(y, x, offset, np.inf, None, tol, max_iter)
    theta = np.inf
    theta_se = np.nan
    if family == "negative_binomial":
        lm_score = float(np.sum((y - mu) ** 2 - y))
        if lm_score > 0:
            theta = _theta_ml(y, mu)
            outer = 0
            conv_outer = False
            while np.isfinite(theta) and outer < max_iter:
                outer += 1
                beta_new, mu, conv_in, _ = _irls(y, x, offset, theta, beta, tol * 1e-3, max_iter)
                theta_new = _theta_ml(y, mu)
                done = (
                    np.isfinite(theta_new)
                    and abs(theta_new - theta) <= 1e-10 * theta
                    and np.max(np.abs(beta_new - beta)) <= 1e-10 * (1 + np.max(np.abs(beta)))
                )
                beta, theta = beta_new, theta_new
                if done:
                    conv_outer = conv_in
                    break
            if np.isfinite(theta) and not conv_outer:
                # slow alternation (flat likelihood in theta): solve the profile score instead;
                # by the envelope theorem it is the partial score at beta(theta)
                def profile_score(lt: float) -> float:
                    _, mu_t, _, _ = _irls(
                        y, x, offset, float(np.exp(lt)), beta, tol * 1e-3, max_iter
                    )
                    return _theta_score(float(np.exp(lt)), y, mu_t)

                lo, hi = np.log(1e-8), np.log(_THETA_MAX)
                if profile_score(hi) > 0:
                    theta = np.inf
                else:
                    theta = float(np.exp(optimize.brentq(profile_score, lo, hi, xtol=1e-12)))
                    conv_outer = True
            converged = conv_outer if np.isfinite(theta) else converged
            iters = outer
            if np.isfinite(theta):
                # a final GLM step at the converged theta, so beta, mu and theta agree
                beta, mu, _, _ = _irls(y, x, offset, theta, beta, tol * 1e-3, max_iter)
                info_theta = _theta_info(theta, y, mu)
                theta_se = float(np.sqrt(1 / info_theta)) if info_theta > 0 else np.nan
        if not np.isfinite(theta):
            beta, mu, converged, iters = _irls(y, x, offset, np.inf, None, tol, max_iter)
            warnings.warn(
                "the counts are not overdispersed (the maximum-likelihood negative binomial "
                "theta is infinite): the negative binomial reduces to the Poisson model, whose "
                "fit is reported (theta = inf)",
                NoOverdispersionWarning,
                stacklevel=2,
            )
            notes.append(
                "No overdispersion: the negative binomial theta is infinite; Poisson fit reported."
            )
    if not converged:
        warnings.warn(
            f"the rate model did not converge in {max_iter} iterations",
            RateModelConvergenceWarning,
            stacklevel=2,
        )

    w = mu if np.isinf(theta) else mu / (1 + mu / theta)
    info = (x * w[:, None]).T @ x
    bread = linalg.inv(info)
    bread = (bread + bread.T) / 2
    if vcov == "model":
        v = bread
    else:
        v = _cluster_vcov(x, y, mu, theta, bread, codes, n_clusters, vcov)
    se = np.sqrt(np.diag(v))
    z = stats.norm.ppf(1 - alpha / 2)
    stat = beta / se
    table = pd.DataFrame(
        {
            "term": names,
            "estimate": beta,
            "std_error": se,
            "statistic": stat,
            "df": np.full(k, np.nan),
            "p_value": 2 * stats.norm.sf(np.abs(stat)),
            "conf_low": beta - z * se,
            "conf_high": beta + z * se,
            "n": np.full(k, n, dtype=np.int64),
            "n_clusters": np.full(k, float(n_clusters) if vcov != "model" else np.nan),
        },
        columns=list(ESTIMATE_COLUMNS),
    )
    fam_label = "Poisson" if family == "poisson" else "negative binomial (NB2)"
    notes.insert(
        0,
        f"{fam_label} rate model, offset log(person-years); {vcov} variance"
        + (f" clustered by {cluster_col!r}" if vcov != "model" else "")
        + f". Rate ratio coached vs not: {np.exp(beta[1]):.3f}.",
    )
    return SpilloverResult(
        table=table,
        coef=pd.Series(beta, index=names),
        vcov=pd.DataFrame(v, index=names, columns=names),
        vcov_model=pd.DataFrame(bread, index=names, columns=names),
        exposure=exposure_col,
        family=family,
        vcov_type=vcov,
        alpha=float(alpha),
        theta=float(theta),
        theta_se=theta_se,
        loglik=_loglik(y, mu, theta),
        deviance=_deviance(y, mu, theta),
        n_obs=n,
        n_clusters=n_clusters,
        events=float(y.sum()),
        person_time=float(pt.sum()),
        iterations=int(iters),
        converged=bool(converged),
        title=f"Unit turnover rate model ({fam_label})",
        notes=tuple(notes),
    )
