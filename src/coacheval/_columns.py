"""The one vocabulary of result columns, used by every estimator's tidy table.

An internal module (its name starts with an underscore): it has no public API, so its
``__all__`` is empty; the columns are documented with each result's ``table``.

Examples
--------
>>> ESTIMATE_COLUMNS[:3]
('term', 'estimate', 'std_error')
"""

__all__: list[str] = []

ESTIMATE_COLUMNS = (
    "term",
    "estimate",
    "std_error",
    "statistic",
    "df",
    "p_value",
    "conf_low",
    "conf_high",
    "n",
    "n_clusters",
)
"""Columns of an estimate table, in display order (``df`` is NaN for normal-theory inference)."""
