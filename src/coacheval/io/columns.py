"""Finding the files of each table and mapping their columns onto the data contract."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from coacheval.io.config import DEFAULT_PATTERNS, ExtractConfig, TableConfig
from coacheval.io.pseudonymise import looks_like_pii
from coacheval.io.raw import Problem, RawTable
from coacheval.io.schema import TableSchema
from coacheval.measures.instruments import Instrument

__all__ = ["TABLE_ORDER", "find_files", "normalise_header"]

TABLE_ORDER = (
    "program_cohorts",
    "survey_waves",
    "hr_roster",
    "hr_snapshot",
    "peer_groups",
    "enrolment",
    "rollout_assignment",
    "sessions",
    "attendance",
    "survey_responses",
    "goals",
    "program_costs",
    "unit_staffing",
)
"""Tables in the order they are validated (parents before the tables that refer to them)."""


# ----------------------------------------------------------------------------- discovery
def find_files(folder: Path, config: ExtractConfig) -> tuple[dict[str, list[Path]], list[str]]:
    """Which files hold which table (config first, then the default name patterns).

    Examples
    --------
    Files are claimed by the config's patterns, else by default name patterns; the rest are
    ignored:

    >>> import tempfile
    >>> from pathlib import Path
    >>> from coacheval.io.columns import find_files
    >>> from coacheval.io.config import ExtractConfig
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name in ("hr_roster_2024.csv", "enrolment.xlsx", "readme.txt"):
    ...     _ = (folder / name).write_text("")
    >>> found, ignored = find_files(folder, ExtractConfig())
    >>> {table: [p.name for p in paths] for table, paths in found.items()}
    {'hr_roster': ['hr_roster_2024.csv'], 'enrolment': ['enrolment.xlsx']}
    >>> ignored
    ['readme.txt']
    """
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    claimed: dict[str, list[Path]] = {}
    used: set[Path] = set()
    for name in TABLE_ORDER:
        patterns = config.table(name).files or DEFAULT_PATTERNS[name]
        matched = [
            p
            for p in files
            if p not in used
            and any(fnmatch.fnmatch(p.name, pat) for pat in patterns)
            and p.suffix.lower() not in (".json", ".yaml", ".yml", ".md", ".key")
        ]
        if matched:
            claimed[name] = matched
            used.update(matched)
    ignored = [p.name for p in files if p not in used]
    return claimed, ignored


# ------------------------------------------------------------------------------ mapping
_EDGE_SPACE = re.compile(r"(?:^|\x1f)\s|\s(?:\x1f|$)")


def strip_cells(column: pd.Series) -> pd.Series:
    """Strip surrounding whitespace from text cells (blank becomes missing); fast when none has any."""
    values = column.to_numpy(dtype=object)
    if not _EDGE_SPACE.search("\x1f".join(filter(None, values))):
        return column
    stripped = [None if v is None else (v.strip() or None) for v in values]
    return pd.Series(stripped, index=column.index, dtype=object)


def normalise_header(text: str) -> str:
    """Lower-case a header and join its words with underscores (``Hire Date`` -> ``hire_date``).

    Examples
    --------
    File headers are matched to the data contract's column names after this:

    >>> normalise_header("  Hire Date ")
    'hire_date'
    >>> normalise_header("Employee ID#")
    'employee_id'
    """
    return re.sub(r"[^0-9a-z]+", "_", text.strip().lower()).strip("_")


def survey_items(
    instruments: Mapping[str, Instrument],
) -> dict[str, tuple[Instrument, dict[str, int]]]:
    """Map each item id to its instrument and its labels (lower-case text -> code)."""
    items = {}
    for inst in instruments.values():
        for item in inst.items:
            labels = {
                text.strip().lower(): code for code, text in inst.item_labels(item.id).items()
            }
            items[item.id] = (inst, labels)
    return items


def map_columns(
    raw: RawTable, schema: TableSchema, tcfg: TableConfig, extra_allowed: set[str], table: str
) -> tuple[pd.DataFrame, dict[str, str], list[Problem], list[str]]:
    """Rename file columns to contract names; drop unknown and personal-data columns."""
    problems: list[Problem] = []
    notes: list[str] = []
    contract = set(schema.field_names) | extra_allowed
    by_normalised = {normalise_header(n): n for n in contract}
    configured = {normalise_header(k): v for k, v in tcfg.columns.items()}
    rename: dict[str, str] = {}
    labels: dict[str, str] = {}
    drop: list[str] = []

    def dropped(label: str, rule: str, message: str) -> None:
        problems.append(
            Problem(table, raw.source, 0, label, "", rule, message, "warning", "column dropped")
        )

    for col in raw.frame.columns:
        label = raw.label(col)
        target = configured.get(normalise_header(label)) or configured.get(normalise_header(col))
        if target is None:
            target = col if col in contract else by_normalised.get(normalise_header(col))
        if target is None or target in rename.values():
            reason = looks_like_pii(label, raw.frame[col])
            what = f"personal data ({reason})" if reason else "not in the data contract"
            dropped(label, "unknown_column", f"column {label!r} dropped: {what}")
            drop.append(col)
            continue
        if target in schema.pii_fields:
            kind = schema.field(target).pii
            dropped(
                label,
                "personal_data",
                f"column {label!r} holds personal data ({kind}) and is dropped",
            )
            drop.append(col)
            continue
        rename[col] = target
        labels[target] = label
    frame = raw.frame.drop(columns=drop).rename(columns=rename)
    return frame, labels, problems, notes
