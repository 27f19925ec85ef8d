"""The data contract: one Frictionless Table Schema (JSON) per extract, loaded into objects.

The JSON files in ``data_schema/tables`` are the single source of truth for validation, the data
dictionary and the simulator. coacheval reads the standard Table Schema keys (``fields``,
``type``, ``constraints``, ``primaryKey``, ``foreignKeys``) and its own ``coacheval`` extension
(personal-data flags, identifier roles, cross-table rules).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coacheval._resources import resource_dir
from coacheval.errors import ConfigError

__all__ = ["FieldSpec", "ForeignKey", "RuleSpec", "TableSchema", "load_table_schemas"]

FIELD_TYPES = ("string", "integer", "number", "date", "boolean")


@dataclass(frozen=True)
class FieldSpec:
    """One column of an extract.

    Examples
    --------
    >>> load_table_schemas()["hr_roster"].field("hire_date").type
    'date'
    """

    name: str
    type: str
    description: str
    title: str = ""
    required: bool = False
    enum: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    pii: str | None = None
    role: str | None = None


@dataclass(frozen=True)
class ForeignKey:
    """Columns that must match the key of another table.

    Examples
    --------
    >>> load_table_schemas()["enrolment"].foreign_keys[0]
    ForeignKey(fields=('employee_id',), resource='hr_roster', reference_fields=('employee_id',))
    """

    fields: tuple[str, ...]
    resource: str
    reference_fields: tuple[str, ...]


@dataclass(frozen=True)
class RuleSpec:
    """A named rule beyond single-column constraints, implemented in :mod:`coacheval.io.rules`.

    Examples
    --------
    >>> rule = load_table_schemas()["hr_roster"].rules[0]
    >>> rule.name, rule.severity
    ('termination_not_before_hire', 'error')
    >>> rule.description
    'termination_date must not be before hire_date'
    """

    name: str
    severity: str
    description: str


@dataclass(frozen=True)
class TableSchema:
    """The contract of one extract.

    Examples
    --------
    >>> roster = load_table_schemas()["hr_roster"]
    >>> roster.primary_key
    ('employee_id',)
    >>> roster.pii_fields
    ('employee_name', 'work_email', 'work_phone')
    """

    name: str
    title: str
    description: str
    fields: tuple[FieldSpec, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...]
    rules: tuple[RuleSpec, ...]
    item_fields_from: str | None = None
    source: str = ""

    @property
    def field_names(self) -> tuple[str, ...]:
        """Column names in contract order."""
        return tuple(f.name for f in self.fields)

    @property
    def pii_fields(self) -> tuple[str, ...]:
        """Columns holding names, e-mail addresses or phone numbers."""
        return tuple(f.name for f in self.fields if f.pii)

    @property
    def person_id_fields(self) -> tuple[str, ...]:
        """Columns holding person identifiers (pseudonymised at load)."""
        return tuple(f.name for f in self.fields if f.role == "person_id")

    @property
    def required_fields(self) -> tuple[str, ...]:
        """Columns that must be present and non-empty."""
        return tuple(f.name for f in self.fields if f.required)

    def field(self, name: str) -> FieldSpec:
        """Return the field called ``name``."""
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(f"{self.name} has no field {name!r}")


def _parse_field(raw: dict[str, Any], source: str) -> FieldSpec:
    if raw.get("type") not in FIELD_TYPES:
        raise ConfigError(
            f"field {raw.get('name')!r}: type must be one of {FIELD_TYPES}", source=source
        )
    constraints = raw.get("constraints", {})
    extra = raw.get("coacheval", {})
    enum = constraints.get("enum")
    return FieldSpec(
        name=raw["name"],
        type=raw["type"],
        description=raw.get("description", ""),
        title=raw.get("title", ""),
        required=bool(constraints.get("required", False)),
        enum=tuple(str(v) for v in enum) if enum is not None else None,
        minimum=constraints.get("minimum"),
        maximum=constraints.get("maximum"),
        pattern=constraints.get("pattern"),
        pii=extra.get("pii"),
        role=extra.get("role"),
    )


def load_table_schema(path: str | Path) -> TableSchema:
    """Read one Table Schema JSON file.

    Raises
    ------
    ConfigError
        The file is not valid JSON or not a table schema coacheval understands.
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read table schema ({exc})", source=str(path)) from exc
    try:
        extra = raw.get("coacheval", {})
        return TableSchema(
            name=raw["name"],
            title=raw.get("title", raw["name"]),
            description=raw.get("description", ""),
            fields=tuple(_parse_field(f, str(path)) for f in raw["fields"]),
            primary_key=tuple(raw.get("primaryKey", ())),
            foreign_keys=tuple(
                ForeignKey(
                    tuple(fk["fields"]),
                    fk["reference"]["resource"],
                    tuple(fk["reference"]["fields"]),
                )
                for fk in raw.get("foreignKeys", ())
            ),
            rules=tuple(
                RuleSpec(r["name"], r.get("severity", "error"), r.get("description", ""))
                for r in extra.get("rules", ())
            ),
            item_fields_from=extra.get("item_fields_from"),
            source=str(path),
        )
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"not a valid table schema (missing {exc})", source=str(path)) from exc


def load_table_schemas(folder: str | Path | None = None) -> dict[str, TableSchema]:
    """Load every table schema of the data contract.

    Parameters
    ----------
    folder
        Folder of ``*.json`` table schemas; coacheval's own when omitted.

    Returns
    -------
    dict of str to TableSchema

    Examples
    --------
    >>> sorted(load_table_schemas())[:3]
    ['attendance', 'enrolment', 'goals']
    """
    directory = Path(folder) if folder is not None else resource_dir("data_schema") / "tables"
    return {s.name: s for s in (load_table_schema(p) for p in sorted(directory.glob("*.json")))}
