"""How a health system's extracts map onto the data contract: one YAML file, written once.

Example (every key optional)::

    date_order: mdy              # slash dates are MM/DD/YYYY (or dmy)
    id_width: 7                  # numeric ids lost their leading zeros in Excel: pad to 7 digits
    pseudonym_key_file: secrets/pseudonym.key
    max_quarantine_share: 0.05   # above this share of quarantined rows a table is unusable
    group_size: [3, 4]           # peer-group size the program defines
    tables:
      hr_roster:
        files: [hr_roster.xlsx]  # names or glob patterns, relative to the extract folder
        sheet: Leaders
        columns: {"Employee ID": employee_id, "Hire Dt": hire_date}
        date_order: mdy
        values: {employment_status: {"A": Active, "T": Terminated}}
      survey_responses:
        files: ["survey_*_qualtrics.csv"]
        format: qualtrics              # or: format: redcap, with dictionary: redcap_dictionary.csv
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from coacheval.errors import ConfigError

__all__ = ["ExtractConfig", "TableConfig"]

DEFAULT_PATTERNS: dict[str, tuple[str, ...]] = {
    "hr_roster": ("hr_roster.*", "hr_roster_*.*"),
    "hr_snapshot": ("hr_snapshot*.*",),
    "program_cohorts": ("program_cohorts.*", "cohorts.*"),
    "peer_groups": ("peer_groups.*",),
    "enrolment": ("enrolment.*", "enrollment.*"),
    "rollout_assignment": ("rollout_assignment.*",),
    "sessions": ("sessions.*",),
    "attendance": ("attendance.*",),
    "survey_waves": ("survey_waves.*",),
    "survey_responses": ("survey_responses*.*", "survey_*_qualtrics*.csv"),
    "goals": ("goals.*",),
    "program_costs": ("program_costs.*", "costs.*"),
    "unit_staffing": ("unit_staffing.*", "unit_staffing_*.*"),
}
_TABLE_KEYS = {
    "files",
    "sheet",
    "columns",
    "date_order",
    "values",
    "encoding",
    "delimiter",
    "format",
    "wave_id",
    "dictionary",
}
FORMATS = ("csv", "excel", "parquet", "spss", "qualtrics", "redcap")
_TOP_KEYS = {
    "date_order",
    "id_width",
    "pseudonym_key_file",
    "max_quarantine_share",
    "group_size",
    "tables",
}


@dataclass(frozen=True)
class TableConfig:
    """Settings for one table's files (the entries under ``tables:`` in the YAML file).

    Examples
    --------
    Read from the extract config; a table that is not configured gets the defaults:

    >>> cfg = ExtractConfig.from_mapping(
    ...     {"tables": {"hr_roster": {"files": ["hr.xlsx"], "sheet": "Leaders",
    ...                               "columns": {"Employee ID": "employee_id"}}}}
    ... )
    >>> roster = cfg.table("hr_roster")
    >>> roster.files, roster.sheet, roster.columns
    (('hr.xlsx',), 'Leaders', {'Employee ID': 'employee_id'})
    >>> cfg.table("sessions") == TableConfig()
    True
    """

    files: tuple[str, ...] = ()
    sheet: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    date_order: str | None = None
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    encoding: str | None = None
    delimiter: str | None = None
    format: str | None = None
    wave_id: str | None = None
    dictionary: str | None = None


@dataclass(frozen=True)
class ExtractConfig:
    """Settings for reading a folder of extracts.

    Examples
    --------
    >>> cfg = ExtractConfig.from_mapping({"date_order": "mdy", "tables": {"hr_roster": {"sheet": "HR"}}})
    >>> cfg.table("hr_roster").sheet, cfg.date_order_for("hr_roster")
    ('HR', 'mdy')
    """

    date_order: str | None = None
    id_width: int | None = None
    pseudonym_key_file: str | None = None
    max_quarantine_share: float = 0.05
    group_size: tuple[int, int] = (3, 4)
    tables: Mapping[str, TableConfig] = field(default_factory=dict)
    source: str = ""

    def table(self, name: str) -> TableConfig:
        """Return the settings of one table (defaults when not configured)."""
        return self.tables.get(name, TableConfig())

    def date_order_for(self, name: str) -> str | None:
        """Date order of a table: its own setting, else the global one."""
        return self.table(name).date_order or self.date_order

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "") -> ExtractConfig:
        """Build from a parsed YAML mapping, checking every key.

        Raises
        ------
        ConfigError
            Unknown keys or invalid values, naming the key.
        """
        if not isinstance(data, Mapping):
            raise ConfigError("the extract config must be a mapping", source=source or None)
        unknown = sorted(set(data) - _TOP_KEYS)
        if unknown:
            raise ConfigError(
                f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_TOP_KEYS))}",
                source=source or None,
            )
        order = data.get("date_order")
        _check_order(order, "date_order", source)
        width = data.get("id_width")
        if width is not None and (
            not isinstance(width, int) or isinstance(width, bool) or not 1 <= width <= 40
        ):
            raise ConfigError(
                "id_width must be a whole number between 1 and 40", source=source or None
            )
        share = data.get("max_quarantine_share", 0.05)
        if not isinstance(share, (int, float)) or not 0 <= share <= 1:
            raise ConfigError(
                "max_quarantine_share must be a number between 0 and 1", source=source or None
            )
        size = data.get("group_size", (3, 4))
        if (
            not isinstance(size, (list, tuple))
            or len(size) != 2
            or not all(isinstance(v, int) for v in size)
            or size[0] > size[1]
            or size[0] < 1
        ):
            raise ConfigError("group_size must be [min, max] whole numbers", source=source or None)
        tables = {}
        from coacheval.io.config import DEFAULT_PATTERNS as known_tables

        for name, raw in (data.get("tables") or {}).items():
            if name not in known_tables:
                raise ConfigError(
                    f"unknown table {name!r}; tables: {', '.join(known_tables)}",
                    source=source or None,
                )
            if not isinstance(raw, Mapping):
                raise ConfigError(f"tables.{name} must be a mapping", source=source or None)
            bad = sorted(set(raw) - _TABLE_KEYS)
            if bad:
                raise ConfigError(
                    f"tables.{name}: unknown key(s) {', '.join(bad)}; known: {', '.join(sorted(_TABLE_KEYS))}",
                    source=source or None,
                )
            _check_order(raw.get("date_order"), f"tables.{name}.date_order", source)
            fmt = raw.get("format")
            if fmt is not None and fmt not in FORMATS:
                raise ConfigError(
                    f"tables.{name}.format must be one of {', '.join(FORMATS)}",
                    source=source or None,
                )
            if fmt == "redcap" and not raw.get("dictionary"):
                raise ConfigError(
                    f"tables.{name}: a REDCap export needs its data dictionary (dictionary: FILE)",
                    source=source or None,
                )
            files = raw.get("files", ())
            files = (files,) if isinstance(files, str) else tuple(str(f) for f in files)
            tables[name] = TableConfig(
                files=files,
                sheet=raw.get("sheet"),
                columns={str(k): str(v) for k, v in (raw.get("columns") or {}).items()},
                date_order=raw.get("date_order"),
                values={
                    str(c): {str(k): str(v) for k, v in m.items()}
                    for c, m in (raw.get("values") or {}).items()
                },
                encoding=raw.get("encoding"),
                delimiter=raw.get("delimiter"),
                format=raw.get("format"),
                wave_id=raw.get("wave_id"),
                dictionary=raw.get("dictionary"),
            )
        return cls(
            order,
            width,
            data.get("pseudonym_key_file"),
            float(share),
            (size[0], size[1]),
            tables,
            source,
        )

    @classmethod
    def from_yaml(cls, path: str | Path) -> ExtractConfig:
        """Read the config file.

        Raises
        ------
        ConfigError
            The file cannot be read or is invalid.
        """
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read the extract config ({exc})", source=str(path)) from exc
        return cls.from_mapping(data, source=str(path))


def _check_order(order: Any, key: str, source: str) -> None:
    if order is not None and order not in ("mdy", "dmy"):
        raise ConfigError(f"{key} must be 'mdy' or 'dmy' (got {order!r})", source=source or None)
