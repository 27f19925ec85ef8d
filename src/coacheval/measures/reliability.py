"""Reliability and item analysis: Cronbach's alpha (raw, standardised, CI), omega total, items.

Conventions follow ``psych::alpha`` (checked against it in the tests): covariances and
correlations use pairwise-complete observations; raw alpha is
``k/(k-1) * (1 - tr(C)/sum(C))``; standardised alpha is ``k r / (1 + (k-1) r)`` with ``r`` the
mean inter-item correlation (correlations from the pairwise covariances, ``cov2cor``); the
corrected item-total correlation (``r_drop``) is the correlation of an item with the sum of the
other items, from ``C``; the 95% interval is Feldt's (1965),
``1 - (1 - alpha) F`` with ``F`` quantiles on ``n - 1`` and ``(n - 1)(k - 1)`` degrees of freedom.
Omega total is ``1 - sum(1 - λ²) / sum(R)`` for a one-factor minimum-residual (unweighted least
squares) fit to the correlation matrix ``R``, as ``psych::omega`` with one factor computes it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, stats

from coacheval.errors import DataValidationError, PoorReliabilityWarning
from coacheval.measures.instruments import Instrument, load_instruments
from coacheval.measures.scoring import item_matrix
from coacheval.results import TableResult

__all__ = ["AlphaResult", "ReliabilityTable", "cronbach_alpha", "reliability_by_wave"]

POOR_RELIABILITY = 0.70


@dataclass(frozen=True)
class AlphaResult(TableResult):
    """Reliability of one scale.

    Attributes
    ----------
    items
        One row per item: ``item, reversed, n, mean, sd, r_drop, raw_alpha_if_dropped,
        std_alpha_if_dropped`` (means and SDs after reverse-keying).

    Examples
    --------
    Returned by :func:`cronbach_alpha`. Four items measuring one trait with noise:

    >>> import numpy as np
    >>> import pandas as pd
    >>> from coacheval.measures.reliability import cronbach_alpha
    >>> rng = np.random.default_rng(1)
    >>> true = rng.normal(size=500)
    >>> items = pd.DataFrame({f"q{i}": true + rng.normal(size=500) for i in range(4)})
    >>> res = cronbach_alpha(items, scale="demo")
    >>> round(res.raw_alpha, 3), round(res.std_alpha, 3), round(res.omega_total, 3), res.n_obs
    (0.768, 0.768, 0.769, 500)
    >>> round(res.ci_low, 3), round(res.ci_high, 3)
    (0.733, 0.799)
    >>> res.items[["item", "mean", "sd", "r_drop", "raw_alpha_if_dropped"]].round(3)
      item   mean     sd  r_drop  raw_alpha_if_dropped
    0   q0 -0.109  1.396   0.587                 0.702
    1   q1 -0.063  1.415   0.556                 0.719
    2   q2  0.047  1.392   0.603                 0.694
    3   q3 -0.056  1.321   0.528                 0.733
    """

    scale: str
    n_obs: int
    n_items: int
    raw_alpha: float
    std_alpha: float
    average_r: float
    ci_low: float
    ci_high: float
    omega_total: float
    items: pd.DataFrame = field(repr=False)
    title: str = ""
    notes: tuple[str, ...] = ()

    @property
    def table(self) -> pd.DataFrame:  # type: ignore[override]
        """One row: the scale's reliability statistics."""
        return pd.DataFrame(
            [
                {
                    "scale": self.scale,
                    "n_obs": self.n_obs,
                    "n_items": self.n_items,
                    "raw_alpha": self.raw_alpha,
                    "std_alpha": self.std_alpha,
                    "conf_low": self.ci_low,
                    "conf_high": self.ci_high,
                    "average_r": self.average_r,
                    "omega_total": self.omega_total,
                }
            ]
        )


def _alpha_from_cov(cov: np.ndarray) -> float:
    k = cov.shape[0]
    return float(k / (k - 1) * (1 - np.trace(cov) / cov.sum()))


def _std_alpha(corr: np.ndarray) -> tuple[float, float]:
    k = corr.shape[0]
    r = float((corr.sum() - np.trace(corr)) / (k * (k - 1)))
    return k * r / (1 + (k - 1) * r), r


def feldt_interval(
    alpha_value: float, n_obs: int, n_items: int, level: float = 0.95
) -> tuple[float, float]:
    """Feldt's (1965) confidence interval for Cronbach's alpha.

    Examples
    --------
    >>> low, high = feldt_interval(0.8, 200, 5)
    >>> round(low, 3), round(high, 3)
    (0.753, 0.841)
    """
    tail = (1 - level) / 2
    df1, df2 = n_obs - 1, (n_obs - 1) * (n_items - 1)
    low = 1 - (1 - alpha_value) * stats.f.ppf(1 - tail, df1, df2)
    high = 1 - (1 - alpha_value) * stats.f.ppf(tail, df1, df2)
    return float(low), float(high)


def one_factor_minres(corr: np.ndarray) -> np.ndarray:
    """Fit one factor by minimum residuals (unweighted least squares); return its loadings.

    The fit minimises the squared off-diagonal residuals of ``corr``.

    Examples
    --------
    >>> lam = np.array([0.8, 0.7, 0.6])
    >>> r = np.outer(lam, lam); np.fill_diagonal(r, 1)
    >>> np.round(one_factor_minres(r), 6).tolist()
    [0.8, 0.7, 0.6]
    """
    k = corr.shape[0]
    upper = np.triu_indices(k, 1)
    values, vectors = np.linalg.eigh(corr)
    start = vectors[:, -1] * np.sqrt(max(values[-1], 1e-6))
    start = start if start.sum() >= 0 else -start

    def residuals(lam: np.ndarray) -> np.ndarray:
        return (corr - np.outer(lam, lam))[upper]

    fit = optimize.least_squares(residuals, start, xtol=1e-14, ftol=1e-14, gtol=1e-14)
    loadings = fit.x
    return loadings if loadings.sum() >= 0 else -loadings


def omega_total(corr: np.ndarray) -> float:
    """McDonald's omega total from a one-factor minres fit, as ``psych::omega`` computes it.

    ``1 - sum(u2) / sum(R)`` with uniquenesses ``u2 = 1 - λ²``: the share of the variance of the
    sum of standardised items that is common variance.
    """
    loadings = one_factor_minres(corr)
    return float(1 - (1 - loadings**2).sum() / corr.sum())


def cronbach_alpha(
    items: pd.DataFrame,
    *,
    reversed_items: tuple[str, ...] = (),
    scale: str = "",
    level: float = 0.95,
) -> AlphaResult:
    """Cronbach's alpha, its Feldt interval, omega total and item statistics for one scale.

    Parameters
    ----------
    items
        One column per item, already reverse-keyed (see :func:`item_matrix`); NaN when missing.
    reversed_items
        Names of the items that were reverse-keyed (reported in the item table).
    scale
        Name of the scale, for the result.
    level
        Confidence level of the interval.

    Returns
    -------
    AlphaResult

    Raises
    ------
    DataValidationError
        Fewer than two items, fewer than three complete observations, or an item with no
        variance (alpha is then undefined: the message names the item).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> true = rng.normal(size=500)
    >>> items = pd.DataFrame({f"q{i}": true + rng.normal(size=500) for i in range(4)})
    >>> round(cronbach_alpha(items).raw_alpha, 2)  # In R: psych::alpha(items)$total$raw_alpha
    0.77
    """
    if items.shape[1] < 2:
        raise DataValidationError(
            f"{scale or 'the scale'} has {items.shape[1]} item: alpha needs at least two"
        )
    data = items.astype(float)
    n_obs = int(data.notna().any(axis=1).sum())
    if n_obs < 3:
        raise DataValidationError(
            f"{scale or 'the scale'}: {n_obs} responses with any answer; alpha needs 3 or more"
        )
    sd = data.std()
    constant = sd[(sd == 0) | sd.isna()].index.tolist()
    if constant:
        raise DataValidationError(
            f"{scale or 'the scale'}: item(s) {', '.join(constant)} have no variance "
            "(every answer is the same), so alpha and item correlations are undefined",
            failure_cases=pd.DataFrame({"item": constant}),
        )
    cov = data.cov().to_numpy()
    scale_sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(scale_sd, scale_sd)  # as psych: cov2cor of the pairwise covariances
    raw = _alpha_from_cov(cov)
    std, avg_r = _std_alpha(corr)
    low, high = feldt_interval(raw, n_obs, data.shape[1], level)
    col_sums = cov.sum(axis=0)
    total = cov.sum()
    r_drop = (col_sums - np.diag(cov)) / np.sqrt(
        np.diag(cov) * (total - 2 * col_sums + np.diag(cov))
    )
    rows = []
    k = data.shape[1]
    for j, name in enumerate(data.columns):
        keep = [i for i in range(k) if i != j]
        sub_cov = cov[np.ix_(keep, keep)]
        sub_corr = corr[np.ix_(keep, keep)]
        rows.append(
            {
                "item": name,
                "reversed": name in reversed_items,
                "n": int(data[name].notna().sum()),
                "mean": float(data[name].mean()),
                "sd": float(data[name].std()),
                "r_drop": float(r_drop[j]),
                "raw_alpha_if_dropped": _alpha_from_cov(sub_cov) if k > 2 else np.nan,
                "std_alpha_if_dropped": _std_alpha(sub_corr)[0] if k > 2 else np.nan,
            }
        )
    omega = omega_total(data.corr().to_numpy()) if k >= 3 else np.nan  # psych::omega: pairwise cor
    return AlphaResult(
        scale,
        n_obs,
        k,
        raw,
        std,
        avg_r,
        low,
        high,
        omega,
        pd.DataFrame(rows),
        title=f"Reliability of {scale}" if scale else "Reliability",
    )


@dataclass(frozen=True)
class ReliabilityTable(TableResult):
    """Reliability of every scale, per wave, with item analyses in ``items``.

    Examples
    --------
    Returned by :func:`reliability_by_wave`, from survey responses with one column per item (here
    the three items of the MOAQ job-satisfaction subscale, the second reverse-keyed):

    >>> import numpy as np
    >>> import pandas as pd
    >>> from coacheval.measures.instruments import load_instruments
    >>> from coacheval.measures.reliability import reliability_by_wave
    >>> rng = np.random.default_rng(2)
    >>> trait = rng.normal(size=(200, 1))
    >>> answers = np.clip(np.round(4 + 1.2 * trait * [1, -1, 1] + rng.normal(size=(200, 3))), 1, 7)
    >>> survey = pd.DataFrame(answers, columns=["jss_1", "jss_2", "jss_3"])
    >>> survey["wave_id"] = np.repeat(["W1", "W2"], 100)
    >>> jss = {"moaq_jss": load_instruments()["moaq_jss"]}
    >>> res = reliability_by_wave(survey, jss)
    >>> res.table[["scale", "wave", "n_obs", "raw_alpha", "poor"]].round(3)
          scale wave  n_obs  raw_alpha   poor
    0  moaq_jss   W1    100      0.779  False
    1  moaq_jss   W2    100      0.742  False
    >>> res.items.query("wave == 'W1'")[["item", "reversed", "r_drop"]].round(3)
        item  reversed  r_drop
    0  jss_1     False   0.647
    1  jss_2      True   0.562
    2  jss_3     False   0.640
    """

    table: pd.DataFrame
    items: pd.DataFrame = field(repr=False)
    title: str = "Scale reliability by wave"
    notes: tuple[str, ...] = ()


def reliability_by_wave(
    responses: pd.DataFrame,
    instruments: Mapping[str, Instrument] | None = None,
    *,
    wave_col: str = "wave_id",
    threshold: float = POOR_RELIABILITY,
) -> ReliabilityTable:
    """Alpha (raw, standardised, CI), omega and item statistics per scale and wave.

    A :class:`~coacheval.errors.PoorReliabilityWarning` is issued for every scale and wave whose
    raw alpha is below ``threshold``, and the row is flagged ``poor``.

    Examples
    --------
    >>> from coacheval.simulate import simulate_health_system
    >>> survey = simulate_health_system(seed=2, n_leaders=300).extracts["survey_responses"]
    >>> result = reliability_by_wave(survey[survey.wave_id == "W1"])
    >>> result.table[["scale", "wave", "poor"]].head(2).to_dict("list")
    {'scale': ['cbi_work', 'moaq_jss'], 'wave': ['W1', 'W1'], 'poor': [False, False]}
    """
    instruments = instruments or load_instruments()
    rows, item_rows, notes = [], [], []
    waves = responses[wave_col].dropna().unique() if wave_col in responses else [None]
    for scale, inst in instruments.items():
        if not any(i in responses for i in inst.item_ids) or len(inst.items) < 2:
            continue
        for wave in sorted(waves, key=str):
            subset = responses if wave is None else responses[responses[wave_col] == wave]
            items = item_matrix(subset, inst)
            try:
                result = cronbach_alpha(items, reversed_items=inst.reverse_keyed, scale=scale)
            except DataValidationError as exc:
                notes.append(f"{scale}, wave {wave}: not computed ({exc})")
                continue
            poor = result.raw_alpha < threshold
            if poor:
                warnings.warn(
                    f"{scale} in wave {wave}: alpha {result.raw_alpha:.3f} is below {threshold:.2f}",
                    PoorReliabilityWarning,
                    stacklevel=2,
                )
            rows.append(
                {
                    **result.table.iloc[0].to_dict(),
                    "wave": wave,
                    "construct": inst.construct,
                    "poor": poor,
                }
            )
            item_rows.append(result.items.assign(scale=scale, wave=wave))
    table = pd.DataFrame(rows)
    if len(table):
        table = table[
            [
                "scale",
                "construct",
                "wave",
                "n_obs",
                "n_items",
                "raw_alpha",
                "std_alpha",
                "conf_low",
                "conf_high",
                "average_r",
                "omega_total",
                "poor",
            ]
        ]
    items = pd.concat(item_rows, ignore_index=True) if item_rows else pd.DataFrame()
    return ReliabilityTable(table, items, notes=tuple(notes))
