"""Input checks shared by the retention estimators: row listings, numeric columns, alpha.

An internal module (its name starts with an underscore): it has no public API, so its
``__all__`` is empty.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rows_list(pd.RangeIndex(12), np.ones(12, bool))
'0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 2 more'
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from coacheval.errors import ConfigError, DataValidationError

__all__: list[str] = []

MAX_LISTED = 10
"""How many offending row labels an error message lists before "and N more"."""


def rows_list(index: pd.Index, mask: np.ndarray) -> str:
    """List the labels of the rows a mask selects, at most :data:`MAX_LISTED` of them."""
    bad = list(index[mask])
    shown = ", ".join(map(str, bad[:MAX_LISTED]))
    more = f" and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
    return f"{shown}{more}"


def numeric_column(data: pd.DataFrame, col: str, *, finite: bool = False) -> np.ndarray:
    """Return a numeric (or boolean) column as floats; a clear error otherwise.

    With ``finite=True`` infinite values are refused too (missing values are left to the
    caller, which names the rule they break).
    """
    if not (pd.api.types.is_numeric_dtype(data[col]) or pd.api.types.is_bool_dtype(data[col])):
        raise DataValidationError(
            f"column {col!r} must be numeric, got dtype {data[col].dtype}",
            failure_cases=data[[col]].head(MAX_LISTED),
        )
    values = data[col].to_numpy(dtype=float)
    if finite:
        bad = np.isinf(values)
        if bad.any():
            raise DataValidationError(
                f"infinite values in {col!r} (rows {rows_list(data.index, bad)})",
                failure_cases=data.loc[bad, [col]],
            )
    return values


def check_alpha(alpha: float) -> None:
    """Refuse an ``alpha`` (one minus the confidence level) outside (0, 1)."""
    if not (isinstance(alpha, (int, float)) and 0.0 < float(alpha) < 1.0):
        raise ConfigError(
            f"alpha must be a number strictly between 0 and 1, got {alpha!r}", source="alpha"
        )
