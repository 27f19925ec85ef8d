"""Paired change from baseline for single-arm programs — the weakest design, labelled as such.

For each scale, on people scored at both waves: the mean change with its t interval, and the
standardised change ``d_z = mean change / SD of the changes`` with an exact confidence interval
from the noncentral t distribution (Cumming & Finch 2001): find the noncentrality parameters that
put the observed ``t`` at the 97.5th and 2.5th percentiles, and divide by ``sqrt(n)``. Also
reported: ``g_z`` (Hedges' small-sample correction of ``d_z``) and ``d_av`` (the change over the
mean of the two waves' SDs, comparable with between-group effect sizes).

A pre/post change is not an effect of the program: it also holds secular trends, regression to
the mean, and who stayed to answer again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from coacheval.errors import CoachevalError, DataValidationError
from coacheval.results import TableResult

__all__ = ["PrePostResult", "paired_change", "pre_post"]

DESIGN_NOTE = (
    "Single-arm pre/post design: the weakest design. The change includes secular trends, "
    "regression to the mean and attrition, not only the program's effect."
)


def _nct_cdf_integral(t: float, df: float, ncp: float) -> float:
    """``P(T <= t)`` for the noncentral t by quadrature over the chi distribution.

    ``T = (Z + ncp) / S`` with ``S = sqrt(chi2_df / df)``, so ``P(T <= t) = E[Phi(t S - ncp)]``:
    the same exact distribution function, integrated numerically (absolute error below 1e-9
    against scipy where scipy is finite). Used only where scipy's ``nct.cdf`` returns NaN, far in
    a tail when ``t`` and ``ncp`` have opposite signs.
    """
    from scipy import integrate

    lo = float(np.sqrt(stats.chi2.ppf(1e-18, df) / df))
    hi = float(np.sqrt(stats.chi2.isf(1e-18, df) / df))

    def integrand(s: float) -> float:
        density = stats.chi2.pdf(df * s * s, df) * 2 * df * s
        return float(special.ndtr(t * s - ncp) * density)

    width = 1 / np.sqrt(2 * df)  # spread of S (large df)
    points = {float(np.sqrt(max(df - 2, 0) / df)), *(1 + k * width for k in (-8, -2, 2, 8))}
    if t != 0:  # the step of Phi(t s - ncp), width 1 / |t|, at s = ncp / t
        points |= {ncp / t + k / abs(t) for k in (-8, -2, 0, 2, 8)}
    inside = sorted(x for x in points if lo < x < hi)
    value, _ = integrate.quad(
        integrand, lo, hi, points=inside, epsabs=1e-15, epsrel=1e-13, limit=1000
    )
    return float(value)


def _nct_cdf(t: float, df: float, ncp: float) -> float:
    value = float(stats.nct.cdf(t, df, ncp))
    return value if np.isfinite(value) else _nct_cdf_integral(t, df, ncp)


def _ncp_root(t: float, df: float, p: float) -> float:
    """Find the noncentrality parameter putting ``t >= 0`` at the ``p`` quantile of the nct.

    ``P(T <= t)`` falls as the noncentrality grows. The bracket starts from the normal
    approximation ``T ~ N(ncp, 1 + t^2 / (2 df))`` and widens geometrically, so its ends sit
    where the distribution function is moderate (not in the far tails where scipy may fail).
    """
    scale = float(np.sqrt(1 + t * t / (2 * df)))
    guess = t - float(stats.norm.ppf(p)) * scale
    step = 0.25 * scale
    lo, hi = guess - step, guess + step
    f_lo, f_hi = _nct_cdf(t, df, lo) - p, _nct_cdf(t, df, hi) - p
    for _ in range(200):
        if f_lo > 0 and f_hi < 0:
            return float(optimize.brentq(lambda ncp: _nct_cdf(t, df, ncp) - p, lo, hi, xtol=1e-12))
        if not (np.isfinite(f_lo) and np.isfinite(f_hi)):
            break
        step *= 2
        if f_lo <= 0:
            lo, f_lo = lo - step, _nct_cdf(t, df, lo - step) - p
        if f_hi >= 0:
            hi, f_hi = hi + step, _nct_cdf(t, df, hi + step) - p
    raise CoachevalError(
        f"exact d_z interval: no noncentrality parameter puts t = {t:.6g} at the {p:g} quantile "
        f"of the noncentral t with {df:g} df (the distribution function could not be evaluated)"
    )


def dz_interval(t_value: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact interval for d_z by inverting the noncentral t distribution.

    The limits are the noncentrality parameters that put the observed ``t`` at the upper and
    lower ``(1 - level) / 2`` quantiles, divided by ``sqrt(n)`` (Cumming & Finch 2001). A
    negative ``t`` uses the symmetry of the noncentral t (``T(-ncp)`` is distributed as
    ``-T(ncp)``): its interval is minus the interval of ``-t``, reversed, so every root is found
    for ``t >= 0``. The distribution function is scipy's ``nct.cdf`` (R's ``pt`` agrees to about
    1e-13); where scipy returns NaN (far tails with ``t`` and the noncentrality of opposite
    signs, for very few degrees of freedom and large ``t``) the same exact function is integrated
    numerically over the chi distribution (agreement with scipy elsewhere: 1e-9 or better).

    Raises
    ------
    CoachevalError
        The distribution function cannot be evaluated near a limit (not seen for n >= 2 and
        |t| up to 500).

    Examples
    --------
    >>> low, high = dz_interval(3.0, 30)
    >>> round(low, 3), round(high, 3)
    (0.159, 0.928)
    >>> low, high = dz_interval(-3.0, 30)  # the mirror image
    >>> round(low, 3), round(high, 3)
    (-0.928, -0.159)
    """
    t_value = float(t_value)
    if t_value < 0:
        low, high = dz_interval(-t_value, n, level)
        return -high, -low
    df = n - 1
    tail = (1 - level) / 2
    root = np.sqrt(n)
    return (
        float(_ncp_root(t_value, df, 1 - tail) / root),
        float(_ncp_root(t_value, df, tail) / root),
    )


def hedges_j(df: int) -> float:
    """Hedges' exact small-sample correction factor ``J(df)``."""
    return float(
        np.exp(special.gammaln(df / 2) - np.log(np.sqrt(df / 2)) - special.gammaln((df - 1) / 2))
    )


@dataclass(frozen=True)
class PrePostResult(TableResult):
    """Paired change per scale.

    ``table`` columns: ``scale, n_pairs, mean_pre, mean_post, estimate (mean change),
    std_error, statistic (t), df, p_value, conf_low, conf_high, sd_change, d_z, d_z_low,
    d_z_high, g_z, d_av``.

    Examples
    --------
    Returned by :func:`pre_post`, from long scores (one row per person, wave and scale, as
    :func:`~coacheval.measures.scoring.score_instruments` returns them):

    >>> import pandas as pd
    >>> from coacheval.measures.prepost import pre_post
    >>> scores = pd.DataFrame({
    ...     "person": [1, 2, 3, 4, 5] * 2,
    ...     "wave": ["W1"] * 5 + ["W3"] * 5,
    ...     "scale": "uwes9",
    ...     "score": [3.1, 2.8, 4.0, 3.5, 2.9, 3.6, 3.0, 4.2, 3.9, 3.5],
    ... })
    >>> res = pre_post(scores, baseline="W1", followup="W3")
    >>> res.baseline, res.followup
    ('W1', 'W3')
    >>> # In R: t.test(post, pre, paired = TRUE)  # t = 4.75, df = 4, p-value = 0.008971
    >>> res.table[["scale", "n_pairs", "mean_pre", "mean_post", "estimate", "statistic"]].round(3)
       scale  n_pairs  mean_pre  mean_post  estimate  statistic
    0  uwes9        5      3.26       3.64      0.38       4.75
    >>> print(res.notes[0][:46])
    Single-arm pre/post design: the weakest design
    """

    table: pd.DataFrame
    baseline: str
    followup: str
    title: str = "Change from baseline (single-arm pre/post)"
    notes: tuple[str, ...] = (DESIGN_NOTE,)


def paired_change(
    pre: pd.Series, post: pd.Series, *, scale: str = "", level: float = 0.95
) -> dict[str, float]:
    """Paired change statistics for one scale (complete pairs only).

    Raises
    ------
    DataValidationError
        Fewer than 2 complete pairs, or no variation in the changes.

    Examples
    --------
    >>> r = paired_change(pd.Series([1.0, 2, 3, 4]), pd.Series([2.0, 2.5, 4, 5.5]))
    >>> round(r["estimate"], 3), round(r["d_z"], 3)  # In R: t.test(post, pre, paired = TRUE)
    (1.0, 2.449)
    """
    pairs = pd.DataFrame(
        {"pre": pre.astype(float).to_numpy(), "post": post.astype(float).to_numpy()}
    ).dropna()
    n = len(pairs)
    if n < 2:
        raise DataValidationError(
            f"{scale or 'the scale'}: {n} complete pair(s); paired change needs 2 or more"
        )
    change = pairs.post - pairs.pre
    sd = float(change.std(ddof=1))
    if not sd > 0:
        raise DataValidationError(
            f"{scale or 'the scale'}: every pair changed by the same amount; SD is 0"
        )
    mean = float(change.mean())
    se = sd / np.sqrt(n)
    t_value = mean / se
    df = n - 1
    q = stats.t.ppf(1 - (1 - level) / 2, df)
    d_low, d_high = dz_interval(t_value, n, level)
    d_z = mean / sd
    return {
        "scale": scale,
        "n_pairs": n,
        "mean_pre": float(pairs.pre.mean()),
        "mean_post": float(pairs.post.mean()),
        "estimate": mean,
        "std_error": se,
        "statistic": t_value,
        "df": df,
        "p_value": float(2 * stats.t.sf(abs(t_value), df)),
        "conf_low": mean - q * se,
        "conf_high": mean + q * se,
        "sd_change": sd,
        "d_z": d_z,
        "d_z_low": d_low,
        "d_z_high": d_high,
        "g_z": d_z * hedges_j(df),
        "d_av": mean / ((pairs.pre.std(ddof=1) + pairs.post.std(ddof=1)) / 2),
    }


def pre_post(
    scores: pd.DataFrame, *, baseline: str, followup: str, level: float = 0.95
) -> PrePostResult:
    """Paired change from a baseline wave to a follow-up wave for every scale.

    Parameters
    ----------
    scores
        Long scores as :func:`~coacheval.measures.scoring.score_instruments` returns them.
    baseline, followup
        Wave identifiers.
    level
        Confidence level.

    Returns
    -------
    PrePostResult

    Examples
    --------
    >>> from coacheval.simulate import simulate_health_system
    >>> from coacheval.measures.scoring import score_instruments
    >>> system = simulate_health_system(seed=2, n_leaders=300)
    >>> scores = score_instruments(system.extracts["survey_responses"])
    >>> result = pre_post(scores, baseline="W1", followup="W3")
    >>> result.notes[0].startswith("Single-arm pre/post design: the weakest design")
    True
    """
    rows = []
    notes = [DESIGN_NOTE]
    for scale, part in scores.groupby("scale", sort=True):
        wide = part.pivot_table(index="person", columns="wave", values="score", aggfunc="first")
        if baseline not in wide or followup not in wide:
            notes.append(
                f"{scale}: no scores in wave {baseline if baseline not in wide else followup}"
            )
            continue
        try:
            rows.append(
                paired_change(wide[baseline], wide[followup], scale=str(scale), level=level)
            )
        except DataValidationError as exc:
            notes.append(str(exc))
    return PrePostResult(pd.DataFrame(rows), baseline, followup, notes=tuple(notes))
