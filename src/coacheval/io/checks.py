"""The pandera checks of validation and the collection of the problems they find.

Steps of :func:`coacheval.io.validate.validate_folder`, used only inside :mod:`coacheval.io`:
the module has no public API, so its ``__all__`` is empty.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from coacheval.io.raw import Problem
from coacheval.io.schema import TableSchema

__all__: list[str] = []

_INTEGER = r"^[+-]?\d+$"
_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"


# --------------------------------------------------------------------------- the engine
class ProblemCollector:
    """Problems by row position, and which rows are quarantined."""

    def __init__(
        self,
        table: str,
        files: np.ndarray,
        rows: np.ndarray,
        labels: list[dict[str, str]],
        file_index: np.ndarray,
    ) -> None:
        self.table = table
        self.files = files
        self.rows = rows
        self.labels = labels
        self.file_index = file_index
        self.problems: list[Problem] = []
        self.bad = np.zeros(len(rows), dtype=bool)
        self.reported: set[tuple[int, str]] = set()  # (row position, column) already explained

    def label(self, position: int, column: str) -> str:
        """Return the column's header text in the file of the row at ``position``."""
        return self.labels[int(self.file_index[position])].get(column, column)

    def add(
        self,
        positions: np.ndarray,
        column: str,
        values: list[str] | np.ndarray,
        rule: str,
        message: str | list[str],
        severity: str = "error",
        action: str | None = None,
    ) -> None:
        """Record problems at row positions; errors that quarantine mark the rows bad."""
        positions = np.asarray(positions, dtype=np.int64)
        if not len(positions):
            return
        act = action or ("quarantined" if severity == "error" else "kept")
        messages = message if isinstance(message, list) else [message] * len(positions)
        for pos, value, msg in zip(positions, values, messages, strict=True):
            self.problems.append(
                Problem(
                    self.table,
                    str(self.files[pos]),
                    int(self.rows[pos]),
                    self.label(int(pos), column) if column else "",
                    "" if value is None else str(value),
                    rule,
                    msg,
                    severity,
                    act,
                )
            )
        if act == "quarantined":
            self.bad[positions] = True


def failure_positions(exc: SchemaErrors) -> pd.DataFrame:
    """Return pandera's failure cases that point at a row."""
    cases = exc.failure_cases
    cases = cases[cases["index"].notna()].copy()
    cases["index"] = cases["index"].astype(np.int64)
    return cases


MESSAGES = {
    "not_nullable": "{col} is required but empty",
    "integer": "{val!r} is not a whole number",
    "number": "{val!r} is not a number",
    "date": "{val!r} is not a date (expected YYYY-MM-DD, MM/DD/YYYY or DD/MM/YYYY with date_order, or an Excel date)",
    "enum": "{val!r} is not an allowed value ({allowed})",
    "pattern": "{val!r} does not have the form of an identifier",
    "range": "{val} is outside the allowed range {lo} to {hi}",
    "unique": "duplicate key ({key}): an earlier row has the same",
}


def run_schema(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> pd.DataFrame:
    """Validate lazily; return the failure cases (empty when everything passed)."""
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        return failure_positions(exc)
    return pd.DataFrame(columns=["column", "check", "failure_case", "index"])


def check_name(check: Any) -> str:
    """Return the short name of a pandera check as the problems report it."""
    text = str(check)
    if text.startswith("field_uniqueness") or text.startswith("multiple_fields_uniqueness"):
        return "unique"
    if "not_nullable" in text:
        return "not_nullable"
    return text


def text_schema(spec: TableSchema, columns: list[str]) -> pa.DataFrameSchema:
    """Build the pandera schema of the text checks (required, types, allowed values, patterns)."""
    cols = {}
    for f in spec.fields:
        if f.name not in columns:
            continue
        checks = []
        if f.type == "integer":
            checks.append(pa.Check(lambda v: v.str.fullmatch(_INTEGER), name="integer"))
        elif f.type == "number":
            checks.append(pa.Check(lambda v: v.str.fullmatch(_NUMBER), name="number"))
        elif f.type == "date":
            checks.append(
                pa.Check(
                    lambda s: pd.to_datetime(s, format="%Y-%m-%d", errors="coerce").notna(),
                    name="date",
                )
            )
        if f.enum:
            checks.append(pa.Check(lambda v, allowed=f.enum: v.isin(allowed), name="enum"))
        if f.pattern and f.role != "person_id":
            checks.append(
                pa.Check(lambda v, rx=f"(?:{f.pattern})": v.str.fullmatch(rx), name="pattern")
            )
        cols[f.name] = pa.Column(object, checks=checks, nullable=not f.required, required=False)
    return pa.DataFrameSchema(cols)


def typed_frame(frame: pd.DataFrame, spec: TableSchema, items: set[str]) -> pd.DataFrame:
    """Convert checked text columns to their types (dates, Int64, float)."""
    out = frame.copy()
    for f in spec.fields:
        if f.name not in out:
            continue
        if f.type == "date":
            out[f.name] = pd.to_datetime(out[f.name], format="%Y-%m-%d", errors="coerce")
        elif f.type == "integer":
            # non-whole values (already reported by the text checks) become missing here
            number = pd.to_numeric(out[f.name], errors="coerce")
            out[f.name] = number.where(number % 1 == 0).astype("Int64")
        elif f.type == "number":
            out[f.name] = pd.to_numeric(out[f.name], errors="coerce").astype(float)
    for col in items & set(out.columns):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("Int64")
    return out
