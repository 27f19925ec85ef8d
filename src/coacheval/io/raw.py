"""What a reader returns: a table of text cells that remembers where each row came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = ["Problem", "RawTable"]

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong (error) or suspicious (warning) in an extract.

    Attributes
    ----------
    table
        Table name in the data contract (``hr_roster``, ``survey_responses``, ...).
    file
        File name the row came from.
    row
        Row number as a spreadsheet or text editor shows it (``0`` for a whole-file problem).
    column
        Column name as it appears in the file ('' when the problem is about the row or file).
    value
        The offending value, as text ('' when not applicable). Person identifiers appear only
        as pseudonyms.
    rule
        Name of the rule broken (``required``, ``enum``, ``termination_not_before_hire``...).
    message
        A sentence a quality analyst understands.
    severity
        ``"error"`` (the row is quarantined, or the value removed) or ``"warning"``.
    action
        What coacheval did: ``"quarantined"``, ``"value removed"``, ``"repaired"``, ``"kept"``,
        ``"column dropped"`` or ``"table unusable"``.

    Examples
    --------
    >>> Problem("hr_roster", "hr.csv", 7, "hire_date", "31/02/2022", "date", "not a date",
    ...         "error", "quarantined").row
    7
    """

    table: str
    file: str
    row: int
    column: str
    value: str
    rule: str
    message: str
    severity: Severity = "error"
    action: str = "quarantined"

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form for JSON."""
        return {
            "table": self.table,
            "file": self.file,
            "row": int(self.row),
            "column": self.column,
            "value": self.value,
            "rule": self.rule,
            "message": self.message,
            "severity": self.severity,
            "action": self.action,
        }


@dataclass
class RawTable:
    """Rows read from one file, every cell as text (``None`` when empty).

    Attributes
    ----------
    frame
        One column per column of the file (object dtype, text or ``None``).
    row_numbers
        For each row of ``frame``, its row number in the file as a spreadsheet or text editor
        shows it (the header is usually row 1).
    source
        The file name.
    notes
        What the reader decided (encoding, delimiter, format detected, rows skipped).
    rejected
        Rows the reader could not turn into cells (for example a truncated last line): each is
        a problem with ``action="quarantined"``; they count as input rows.
    column_labels
        For each column of ``frame``, the header text as it appears in the file.

    Examples
    --------
    >>> t = RawTable(pd.DataFrame({"a": ["1"]}), np.array([2]), "x.csv")
    >>> t.rows_in
    1
    """

    frame: pd.DataFrame
    row_numbers: np.ndarray
    source: str
    notes: list[str] = field(default_factory=list)
    rejected: list[Problem] = field(default_factory=list)
    column_labels: dict[str, str] = field(default_factory=dict)

    @property
    def rows_in(self) -> int:
        """Data rows in the file: those read plus those the reader rejected."""
        return len(self.frame) + len(self.rejected)

    def label(self, column: str) -> str:
        """Header text of a column as it appears in the file."""
        return self.column_labels.get(column, column)
