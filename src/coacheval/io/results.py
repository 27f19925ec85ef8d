"""What validation returns: per-table results and the report over a folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from coacheval.io.raw import Problem

__all__ = ["TableValidation", "ValidationReport"]


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

    Examples
    --------
    One per table in ``ValidationReport.tables``, from
    :func:`~coacheval.io.validate.validate_folder` (or ``TableValidator.validate``):

    >>> import tempfile
    >>> from pathlib import Path
    >>> import pandas as pd
    >>> from coacheval.io.pseudonymise import PseudonymKey
    >>> from coacheval.io.validate import validate_folder
    >>> folder = Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"cohort_id": ["C1", "C2"], "start_date": ["2024-01-08", "2024-09-02"],
    ...               "end_date": ["2024-06-28", "2024-02-01"]}).to_csv(
    ...     folder / "program_cohorts.csv", index=False)
    >>> cohorts = validate_folder(folder, key=PseudonymKey(b"k" * 32)).tables["program_cohorts"]
    >>> cohorts.files, cohorts.rows_in, cohorts.rows_clean, cohorts.rows_quarantined
    (['program_cohorts.csv'], 2, 1, 1)
    >>> cohorts.clean[["cohort_id", "start_date", "_file", "_row"]]
      cohort_id start_date                _file  _row
    0        C1 2024-01-08  program_cohorts.csv     2
    >>> [(p.row, p.rule, p.action) for p in cohorts.errors]
    [(3, 'cohort_end_after_start', 'quarantined')]
    >>> cohorts.unusable_reason
    '1 of 2 rows (50.0%) quarantined, above the limit of 5%'
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
    """Validation of every table found in a folder of extracts.

    Examples
    --------
    Returned by :func:`~coacheval.io.validate.validate_folder`, here on a folder holding only a
    cohort table, with one bad row, and a stray file:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import pandas as pd
    >>> from coacheval.io.pseudonymise import PseudonymKey
    >>> from coacheval.io.validate import validate_folder
    >>> folder = Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"cohort_id": ["C1", "C2"], "start_date": ["2024-01-08", "2024-09-02"],
    ...               "end_date": ["2024-06-28", "2024-02-01"]}).to_csv(
    ...     folder / "program_cohorts.csv", index=False)
    >>> _ = (folder / "notes.txt").write_text("not an extract")
    >>> report = validate_folder(folder, key=PseudonymKey(b"k" * 32))
    >>> sorted(report.tables), report.ignored_files
    (['hr_roster', 'program_cohorts'], ['notes.txt'])
    >>> report.usable
    False
    >>> for name, reason in report.unusable.items():
    ...     print(f"{name}: {reason}")
    program_cohorts: 1 of 2 rows (50.0%) quarantined, above the limit of 5%
    hr_roster: no HR roster or snapshot file was found
    >>> report.to_dict()["tables"]["program_cohorts"]["rows_quarantined"]
    1
    """

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
