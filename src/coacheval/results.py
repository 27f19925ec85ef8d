"""Shared behaviour of result objects: a tidy ``table``, ``summary()``, ``to_dict()``, HTML display."""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["TableResult"]


class TableResult:
    """Mixin for results whose main content is a tidy DataFrame in ``self.table``.

    Subclasses provide ``table`` (a DataFrame) and ``title`` (a str); numbers stay numbers until
    they are displayed.

    Examples
    --------
    Every coacheval result is one (a frozen dataclass); a result of your own can be too:

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Counts(TableResult):
    ...     table: pd.DataFrame
    ...     title: str = "Leaders by role"
    >>> result = Counts(pd.DataFrame({"role": ["manager", "director"], "n": [12, 3]}))
    >>> print(result.summary())
    Leaders by role
    <BLANKLINE>
        role  n
     manager 12
    director  3
    >>> result.to_dict()["table"]
    [{'role': 'manager', 'n': 12}, {'role': 'director', 'n': 3}]
    """

    table: pd.DataFrame
    title: str = ""
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        """Return the result as plain text: title, table and notes."""
        text = self.table.to_string(index=False, float_format=lambda v: f"{v:.3f}")
        parts = [self.title, text, *self.notes] if self.title else [text, *self.notes]
        return "\n\n".join(p for p in parts if p)

    def to_dict(self) -> dict[str, Any]:
        """Return the title, the table's records and the notes as plain data."""
        return {
            "title": self.title,
            "table": self.table.to_dict("records"),
            "notes": list(self.notes),
        }

    def _repr_html_(self) -> str:
        caption = f"<p><b>{self.title}</b></p>" if self.title else ""
        notes = "".join(f"<p><small>{n}</small></p>" for n in self.notes)
        return caption + self.table.to_html(index=False, float_format=lambda v: f"{v:.3f}") + notes
