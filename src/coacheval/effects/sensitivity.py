"""E-values: how strong unmeasured confounding would have to be to explain an effect away.

The E-value (VanderWeele & Ding 2017) is the minimum strength of association, on the risk-ratio
scale, that an unmeasured confounder would need with both the exposure (coaching) and the
outcome, beyond the measured covariates, to move the estimate to the null. For a risk ratio
``RR > 1`` it is ``RR + sqrt(RR (RR - 1))``; a protective ``RR < 1`` is inverted first. The
E-value of the confidence interval uses the limit closest to the null, and is 1 when the
interval contains the null.

This module implements the published formulas with the conventions of R's ``EValue`` package
(``evalues.RR``, ``evalues.OR``, ``evalues.HR``, ``evalues.MD`` and its ``threshold``), which is
not installed here:

- shifting to a non-null ``true`` value: with ``x`` the risk ratio (both inverted when
  ``x <= 1``), ``E = (x + sqrt(x (x - true))) / true`` if ``true <= x``, otherwise
  ``r + sqrt(r (r - 1))`` with ``r = true / x``;
- hazard ratio: used as a risk ratio when the outcome is rare (under 15% by the end of
  follow-up); otherwise converted with ``RR = (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))``
  (VanderWeele 2020);
- odds ratio: as a risk ratio when the outcome is rare, ``sqrt(OR)`` otherwise;
- standardised mean difference ``d`` (Cohen's d): ``RR = exp(0.91 d)``, with the interval
  ``exp(0.91 d -/+ 1.78 se)`` (EValue's constants; ``1.78 ≈ 0.91 x 1.96``) and ``true``
  converted the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from coacheval.errors import ConfigError, DataValidationError
from coacheval.results import TableResult

__all__ = [
    "EValueResult",
    "evalue_hr",
    "evalue_or",
    "evalue_rr",
    "evalue_smd",
    "evalue_threshold",
    "hr_to_rr",
]

Measure = Literal["RR", "OR", "HR", "SMD"]


@dataclass(frozen=True)
class EValueResult(TableResult):
    """E-values of an estimate and of its confidence limit closest to the null.

    Attributes
    ----------
    table
        Three rows (``point``, ``lower``, ``upper``): ``quantity, estimate`` (on the scale given),
        ``rr`` (on the risk-ratio scale used) and ``evalue`` (NaN for a limit that was not given
        or is not the one closest to the null), as ``EValue::evalue`` prints.
    measure
        ``RR``, ``OR``, ``HR`` or ``SMD``.
    evalue_point
        E-value of the point estimate.
    evalue_ci
        E-value of the confidence limit closest to the null (1 when the interval contains the
        ``true`` value; NaN when no interval was given).
    true
        The value the estimate is shifted to (the null by default), on the scale given.

    Examples
    --------
    Returned by :func:`evalue_rr`, :func:`evalue_or`, :func:`evalue_hr` and :func:`evalue_smd`.
    A hazard ratio of turnover of 0.56 (95% CI 0.46 to 0.69) for coached leaders:

    >>> from coacheval.effects.sensitivity import evalue_hr
    >>> res = evalue_hr(0.56, 0.46, 0.69, rare=False)  # In R: EValue::evalues.HR(..., rare = FALSE)
    >>> res.measure, res.true
    ('HR', 1.0)
    >>> round(res.evalue_point, 3), round(res.evalue_ci, 3)
    (2.35, 1.908)
    >>> res.table.round(3)
      quantity  estimate     rr  evalue
    0    point      0.56  0.670   2.350
    1    lower      0.46  0.586     NaN
    2    upper      0.69  0.774   1.908

    An unmeasured confounder associated with both coaching and turnover by risk ratios of 2.35
    each could explain the estimate away; 1.91 each would move the interval to include 1.
    """

    table: pd.DataFrame
    measure: Measure
    evalue_point: float
    evalue_ci: float
    true: float
    title: str = "E-values for unmeasured confounding"
    notes: tuple[str, ...] = field(default=())


def evalue_threshold(rr: float, true: float = 1.0) -> float:
    """Compute the E-value of a single risk ratio, as ``EValue::threshold``.

    Parameters
    ----------
    rr
        A positive risk ratio (a point estimate or one confidence limit).
    true
        The risk ratio to shift it to (1: the null).

    Returns
    -------
    float

    Raises
    ------
    DataValidationError
        ``rr`` is not positive and finite.
    ConfigError
        ``true`` is not positive and finite.

    Examples
    --------
    >>> round(evalue_threshold(3.9), 2)  # In R: EValue:::threshold(3.9)
    7.26
    """
    if not (math.isfinite(rr) and rr > 0):
        raise DataValidationError(f"the risk ratio must be positive and finite, got {rr}")
    if not (math.isfinite(true) and true > 0):
        raise ConfigError(f"the true risk ratio must be positive and finite, got {true}")
    x, t = rr, true
    if x <= 1:
        x, t = 1 / x, 1 / t
    if t <= x:
        return (x + math.sqrt(x * (x - t))) / t
    ratio = t / x
    return ratio + math.sqrt(ratio * (ratio - 1))


def hr_to_rr(hr: float, *, rare: bool) -> float:
    """Approximate risk ratio of a hazard ratio (EValue's ``toRR.HR``).

    Parameters
    ----------
    hr
        A positive hazard ratio.
    rare
        Whether the outcome is rare (under about 15% by the end of follow-up); then the hazard
        ratio is used as a risk ratio.

    Returns
    -------
    float

    Examples
    --------
    >>> round(hr_to_rr(0.56, rare=False), 4)  # (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))
    0.6701
    """
    if not (math.isfinite(hr) and hr > 0):
        raise DataValidationError(f"the hazard ratio must be positive and finite, got {hr}")
    if rare:
        return hr
    return (1 - 0.5 ** math.sqrt(hr)) / (1 - 0.5 ** math.sqrt(1 / hr))


def _evalues(
    measure: Measure,
    given: tuple[float, float | None, float | None],
    rr: tuple[float, float | None, float | None],
    rr_true: float,
    true: float,
    notes: tuple[str, ...] = (),
) -> EValueResult:
    """Apply EValue's ``evalues.RR`` on the risk-ratio scale (``rr``), keeping the given values."""
    est, lo, hi = rr
    for value in rr:
        if value is not None and not (math.isfinite(value) and value > 0):
            raise DataValidationError(
                f"evalue ({measure}): the estimate and limits must be positive and finite on "
                f"the risk-ratio scale, got {value}"
            )
    if lo is not None and hi is not None and lo > hi:
        raise DataValidationError(
            f"evalue ({measure}): lower confidence limit {given[1]} is above the upper {given[2]}"
        )
    if (lo is not None and est < lo) or (hi is not None and est > hi):
        raise DataValidationError(
            f"evalue ({measure}): the estimate {given[0]} is outside its confidence interval"
        )
    e = [evalue_threshold(v, rr_true) if v is not None else np.nan for v in rr]
    crosses = False
    if est > rr_true and lo is not None:
        crosses = lo < rr_true
    if est < rr_true and hi is not None:
        crosses = hi > rr_true
    if crosses:
        e[1] = e[2] = 1.0
    has_ci = lo is not None or hi is not None
    if has_ci:
        if est > rr_true:
            e[2] = np.nan
        elif est < rr_true:
            e[1] = np.nan
        else:
            e[1], e[2] = 1.0, np.nan
        evalue_ci = e[1] if est >= rr_true else e[2]
    else:
        evalue_ci = np.nan
    if crosses:
        notes = (*notes, "The confidence interval contains the true value, so its E-value is 1.")
    table = pd.DataFrame(
        {
            "quantity": ["point", "lower", "upper"],
            "estimate": [np.nan if v is None else float(v) for v in given],
            "rr": [np.nan if v is None else float(v) for v in rr],
            "evalue": [float(v) for v in e],
        }
    )
    return EValueResult(
        table=table,
        measure=measure,
        evalue_point=float(e[0]),
        evalue_ci=float(evalue_ci),
        true=true,
        notes=notes,
    )


def _check_true(true: float, *, ratio: bool) -> None:
    if not math.isfinite(true) or (ratio and true <= 0):
        raise ConfigError(f"evalue: true must be {'positive and ' if ratio else ''}finite")


def evalue_rr(
    estimate: float,
    lower: float | None = None,
    upper: float | None = None,
    *,
    true: float = 1.0,
) -> EValueResult:
    """Compute E-values of a risk ratio (or rate ratio) and its CI limit closest to the null.

    Parameters
    ----------
    estimate
        The risk ratio.
    lower, upper
        Its confidence limits (either, both or neither).
    true
        The risk ratio to shift the estimate to (1: explain the effect away).

    Returns
    -------
    EValueResult

    Raises
    ------
    DataValidationError
        A non-positive value, ``lower > upper``, or an estimate outside its interval.
    ConfigError
        ``true`` is not positive.

    References
    ----------
    VanderWeele TJ, Ding P (2017). Sensitivity analysis in observational research: introducing
    the E-value. *Ann Intern Med* 167(4):268–274.

    Examples
    --------
    >>> res = evalue_rr(0.80, 0.71, 0.91)  # In R: EValue::evalues.RR(0.80, 0.71, 0.91)
    >>> round(res.evalue_point, 2), round(res.evalue_ci, 2)
    (1.81, 1.43)
    """
    _check_true(true, ratio=True)
    values = (estimate, lower, upper)
    return _evalues("RR", values, values, true, true)


def evalue_or(
    estimate: float,
    lower: float | None = None,
    upper: float | None = None,
    *,
    rare: bool,
    true: float = 1.0,
) -> EValueResult:
    """Compute E-values of an odds ratio (a risk ratio if the outcome is rare, else ``sqrt(OR)``).

    Parameters
    ----------
    estimate
        The odds ratio.
    lower, upper
        Its confidence limits (either, both or neither).
    rare
        Whether the outcome is rare (under about 15% by the end of follow-up).
    true
        The odds ratio to shift the estimate to (1: the null).

    Returns
    -------
    EValueResult

    Raises
    ------
    DataValidationError
        A non-positive value, ``lower > upper``, or an estimate outside its interval.
    ConfigError
        ``true`` is not positive.

    Examples
    --------
    >>> # In R: EValue::evalues.OR(0.86, 0.75, 0.99, rare = FALSE)
    >>> res = evalue_or(0.86, 0.75, 0.99, rare=False)
    >>> round(res.evalue_point, 3), round(res.evalue_ci, 3)
    (1.369, 1.076)
    """
    _check_true(true, ratio=True)
    given = (estimate, lower, upper)
    for value in given:
        if value is not None and not (math.isfinite(value) and value > 0):
            raise DataValidationError(f"evalue_or: odds ratios must be positive, got {value}")

    def convert(x: float | None) -> float | None:
        return None if x is None else (x if rare else math.sqrt(x))

    rr = (estimate if rare else math.sqrt(estimate), convert(lower), convert(upper))
    note = "Odds ratio used as a risk ratio (rare outcome)." if rare else "RR = sqrt(OR)."
    return _evalues("OR", given, rr, true if rare else math.sqrt(true), true, (note,))


def evalue_hr(
    estimate: float,
    lower: float | None = None,
    upper: float | None = None,
    *,
    rare: bool,
    true: float = 1.0,
) -> EValueResult:
    """Compute E-values of a hazard ratio (e.g. of turnover) and its CI limit closest to the null.

    Parameters
    ----------
    estimate
        The hazard ratio.
    lower, upper
        Its confidence limits (either, both or neither).
    rare
        Whether the outcome is rare (under about 15% by the end of follow-up): then the hazard
        ratio approximates a risk ratio; otherwise it is converted with
        ``(1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))``. Turnover over several years is usually
        not rare.
    true
        The hazard ratio to shift the estimate to (1: the null).

    Returns
    -------
    EValueResult

    Raises
    ------
    DataValidationError
        A non-positive value, ``lower > upper``, or an estimate outside its interval.
    ConfigError
        ``true`` is not positive.

    References
    ----------
    VanderWeele TJ (2020). Optimal approximate conversions of odds ratios and hazard ratios to
    risk ratios. *Biometrics* 76(3):746–752.

    Examples
    --------
    >>> # In R: EValue::evalues.HR(0.56, 0.46, 0.69, rare = FALSE)
    >>> res = evalue_hr(0.56, 0.46, 0.69, rare=False)
    >>> round(res.evalue_point, 3), round(res.evalue_ci, 3)
    (2.35, 1.908)
    """
    _check_true(true, ratio=True)
    given = (estimate, lower, upper)
    rr = (
        hr_to_rr(estimate, rare=rare),
        None if lower is None else hr_to_rr(lower, rare=rare),
        None if upper is None else hr_to_rr(upper, rare=rare),
    )
    note = (
        "Hazard ratio used as a risk ratio (rare outcome)."
        if rare
        else "RR = (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)) (common outcome)."
    )
    return _evalues("HR", given, rr, hr_to_rr(true, rare=rare), true, (note,))


def evalue_smd(d: float, se: float | None = None, *, true: float = 0.0) -> EValueResult:
    """Compute E-values of a standardised mean difference (Cohen's d), via ``RR = exp(0.91 d)``.

    Parameters
    ----------
    d
        The standardised mean difference (e.g. the effect on engagement in SD units).
    se
        Its standard error; the interval is ``exp(0.91 d -/+ 1.78 se)`` on the risk-ratio scale,
        as ``EValue::evalues.MD``.
    true
        The standardised difference to shift the estimate to (0: the null).

    Returns
    -------
    EValueResult
        ``estimate`` holds ``d`` and its limits ``d -/+ 1.78 / 0.91 se`` (so that
        ``rr = exp(0.91 estimate)``).

    Raises
    ------
    DataValidationError
        ``d`` is not finite or ``se`` is negative.
    ConfigError
        ``true`` is not finite.

    References
    ----------
    Chinn S (2000). A simple method for converting an odds ratio to effect size for use in
    meta-analysis. *Stat Med* 19(22):3127–3131.

    Examples
    --------
    >>> res = evalue_smd(0.5, 0.25)  # In R: EValue::evalues.MD(0.5, 0.25)
    >>> round(res.evalue_point, 3), round(res.evalue_ci, 3)
    (2.529, 1.111)
    """
    _check_true(true, ratio=False)
    if not math.isfinite(d):
        raise DataValidationError(f"evalue_smd: d must be finite, got {d}")
    if se is not None and not (math.isfinite(se) and se >= 0):
        raise DataValidationError(f"evalue_smd: se must be non-negative, got {se}")
    rr_est = math.exp(0.91 * d)
    if se is None:
        rr: tuple[float, float | None, float | None] = (rr_est, None, None)
        given: tuple[float, float | None, float | None] = (d, None, None)
    else:
        lo, hi = math.exp(0.91 * d - 1.78 * se), math.exp(0.91 * d + 1.78 * se)
        rr = (rr_est, lo, hi)
        given = (d, math.log(lo) / 0.91, math.log(hi) / 0.91)
    note = "RR = exp(0.91 d); interval exp(0.91 d -/+ 1.78 se) (EValue::evalues.MD)."
    return _evalues("SMD", given, rr, math.exp(0.91 * true), true, (note,))
