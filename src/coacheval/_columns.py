"""The one vocabulary of result columns, used by every estimator's tidy table.

Examples
--------
>>> ESTIMATE_COLUMNS[:3]
('term', 'estimate', 'std_error')
"""

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
