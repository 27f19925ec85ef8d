"""Many outcomes: false-discovery-rate q-values (Benjamini–Hochberg) and Holm's adjustment.

Both equal R's ``p.adjust``. Missing p-values stay missing and are not counted: the number of
tests ``n`` defaults to the number of non-missing p-values, as in ``p.adjust(p, method)``
(give ``n`` to count tests whose p-values are not at hand). With the ``k``-th smallest of ``n``
p-values ``p_(k)``:

- Benjamini–Hochberg: ``q_(k) = min(1, min_{j >= k} n p_(j) / j)``;
- Holm: ``h_(k) = min(1, max_{j <= k} (n - j + 1) p_(j))``.

Tied p-values get the same adjusted value.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from coacheval.errors import ConfigError, DataValidationError

__all__ = ["AdjustMethod", "add_adjusted_p", "bh_qvalues", "holm_adjust"]

#: Adjustment of :func:`add_adjusted_p`: ``"BH"`` (Benjamini–Hochberg q-values) or ``"holm"``.
AdjustMethod = Literal["BH", "holm"]


def _prepare(p: ArrayLike, n: int | None, name: str) -> tuple[NDArray[np.float64], NDArray, int]:
    values = np.asarray(p, dtype=float)
    if values.ndim > 1:
        raise DataValidationError(f"{name}: p-values must be one-dimensional, got {values.shape}")
    values = np.atleast_1d(values)
    present = ~np.isnan(values)
    bad = np.flatnonzero(present & ((values < 0) | (values > 1)))
    if bad.size:
        raise DataValidationError(
            f"{name}: p-values outside [0, 1] at position(s) {bad.tolist()}",
            failure_cases=values[bad].tolist(),
        )
    n_present = int(present.sum())
    if n is None:
        n = n_present
    elif n < n_present:
        raise ConfigError(f"{name}: n = {n} is less than the {n_present} non-missing p-values")
    return values, present, n


def bh_qvalues(p: ArrayLike, *, n: int | None = None) -> NDArray[np.float64]:
    """Benjamini–Hochberg adjusted p-values (q-values), equal to ``p.adjust(p, "BH")``.

    Parameters
    ----------
    p
        P-values in [0, 1]; NaN for missing (kept as NaN, not counted).
    n
        Number of tests (default: the number of non-missing p-values).

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the input order.

    Raises
    ------
    DataValidationError
        A p-value outside [0, 1], or a multi-dimensional input.
    ConfigError
        ``n`` smaller than the number of non-missing p-values.

    References
    ----------
    Benjamini Y, Hochberg Y (1995). Controlling the false discovery rate. *J R Stat Soc B*
    57:289–300.

    Examples
    --------
    >>> bh_qvalues([0.01, 0.04, 0.03, float("nan"), 0.2]).round(4)  # In R: p.adjust(p, "BH")
    array([0.04  , 0.0533, 0.0533,    nan, 0.2   ])
    """
    values, present, n_tests = _prepare(p, n, "bh_qvalues")
    out = np.full(values.shape, np.nan)
    x = values[present]
    if x.size == 0:
        return out
    order = np.argsort(-x, kind="stable")  # decreasing
    rank = np.arange(x.size, 0, -1)  # i = lp, ..., 1
    adjusted = np.minimum(1.0, np.minimum.accumulate(n_tests / rank * x[order]))
    result = np.empty_like(x)
    result[order] = adjusted
    out[present] = result
    return out


def holm_adjust(p: ArrayLike, *, n: int | None = None) -> NDArray[np.float64]:
    """Holm's step-down adjusted p-values (family-wise error), equal to ``p.adjust(p, "holm")``.

    Parameters
    ----------
    p
        P-values in [0, 1]; NaN for missing (kept as NaN, not counted).
    n
        Number of tests (default: the number of non-missing p-values).

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the input order.

    Raises
    ------
    DataValidationError
        A p-value outside [0, 1], or a multi-dimensional input.
    ConfigError
        ``n`` smaller than the number of non-missing p-values.

    References
    ----------
    Holm S (1979). A simple sequentially rejective multiple test procedure. *Scand J Stat*
    6:65–70.

    Examples
    --------
    >>> holm_adjust([0.01, 0.04, 0.03])  # In R: p.adjust(p, "holm")
    array([0.03, 0.06, 0.06])
    """
    values, present, n_tests = _prepare(p, n, "holm_adjust")
    out = np.full(values.shape, np.nan)
    x = values[present]
    if x.size == 0:
        return out
    order = np.argsort(x, kind="stable")
    multiplier = n_tests + 1 - np.arange(1, x.size + 1)
    adjusted = np.minimum(1.0, np.maximum.accumulate(multiplier * x[order]))
    result = np.empty_like(x)
    result[order] = adjusted
    out[present] = result
    return out


def add_adjusted_p(
    table: pd.DataFrame,
    *,
    p_col: str = "p_value",
    method: AdjustMethod = "BH",
    out_col: str | None = None,
    n: int | None = None,
) -> pd.DataFrame:
    """Return a copy of an estimate table with adjusted p-values added as a column.

    Parameters
    ----------
    table
        A tidy table of estimates, one row per test (e.g. one per outcome).
    p_col
        Column of unadjusted p-values.
    method
        ``"BH"`` (false-discovery rate: ``q_value``) or ``"holm"`` (family-wise: ``p_holm``).
    out_col
        Name of the new column (default ``q_value`` for BH, ``p_holm`` for Holm).
    n
        Number of tests (default: the number of non-missing p-values).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    ConfigError
        No column ``p_col``, or an unknown ``method``.

    Examples
    --------
    >>> t = pd.DataFrame({"term": ["engagement", "burnout"], "p_value": [0.01, 0.04]})
    >>> add_adjusted_p(t)["q_value"].tolist()
    [0.02, 0.04]
    """
    if p_col not in table:
        raise ConfigError(f"add_adjusted_p: no column {p_col!r}")
    if method == "BH":
        adjusted, default = bh_qvalues(table[p_col].to_numpy(dtype=float), n=n), "q_value"
    elif method == "holm":
        adjusted, default = holm_adjust(table[p_col].to_numpy(dtype=float), n=n), "p_holm"
    else:
        raise ConfigError(f"add_adjusted_p: method must be 'BH' or 'holm', got {method!r}")
    out = table.copy()
    out[out_col or default] = adjusted
    return out
