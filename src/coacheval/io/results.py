"""What validation returns: per-table results and the report over a folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from coacheval.io.raw import Problem


@dataclass
class TableValidation:
    """The outcome for one table.

    Attributes
    ----------
    clean
        Rows that passed, typed (dates as ``datetime64``, whole numbers as ``Int64``), person
        identifiers pseudonymised, with lineage columns ``_file`` and ``_row``.
    quarantine
        Rows that failed, as text (pseudonymised, personal data dropped), with ``_file``,
        ``_row`` and ``reasons``.
    problems
        Every error and warning found.
    """

    name: str
    files: list[str]
    rows_in: int
    clean: pd.DataFrame
    quarantine: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unusable_reason: str = ""

    @property
    def rows_clean(self) -> int:
        """Rows kept."""
        return len(self.clean)

    @property
    def rows_quarantined(self) -> int:
        """Rows quarantined."""
        return len(self.quarantine)

    @property
    def errors(self) -> list[Problem]:
        """Problems of severity error."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """Problems of severity warning."""
        return [p for p in self.problems if p.severity == "warning"]

    def summary(self) -> dict[str, Any]:
        """Return counts and problems as plain data."""
        return {
            "files": self.files,
            "rows_in": self.rows_in,
            "rows_clean": self.rows_clean,
            "rows_quarantined": self.rows_quarantined,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "usable": not self.unusable_reason,
            "unusable_reason": self.unusable_reason,
            "notes": self.notes,
            "problems": [p.to_dict() for p in self.problems],
        }


@dataclass
class ValidationReport:
    """Validation of every table found in a folder of extracts."""

    folder: str
    tables: dict[str, TableValidation]
    ignored_files: list[str]
    key_fingerprint: str
    max_quarantine_share: float

    @property
    def unusable(self) -> dict[str, str]:
        """Tables that cannot be used, with the reason."""
        return {name: t.unusable_reason for name, t in self.tables.items() if t.unusable_reason}

    @property
    def usable(self) -> bool:
        """Whether the data can go on to analysis."""
        return not self.unusable

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``validation.json``."""
        return {
            "folder": self.folder,
            "usable": self.usable,
            "unusable": self.unusable,
            "max_quarantine_share": self.max_quarantine_share,
            "pseudonym_key_fingerprint": self.key_fingerprint,
            "ignored_files": self.ignored_files,
            "tables": {name: t.summary() for name, t in self.tables.items()},
        }
