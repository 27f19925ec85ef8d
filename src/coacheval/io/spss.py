"""Read an SPSS ``.sav`` file into a :class:`RawTable`, keeping value codes as text.

SPSS stores numbers, with value labels (1 = "Strongly disagree", ...) and user-defined missing
values (8 = "Not applicable", 9 = "No answer") in the file's dictionary. The reader keeps the
codes, turns user-defined missing values into ``None`` (they are answers that carry no value,
not numbers) and reports the value labels in the notes so that a later step can check them
against the instrument definitions. pyreadstat does the reading.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyreadstat

from coacheval.errors import ConfigError
from coacheval.io.raw import RawTable

__all__ = ["read_spss", "spss_value_labels"]

_LARGEST_EXACT_INTEGER = 2**53


def _read_sav(path: Path, *, metadata_only: bool = False) -> tuple[pd.DataFrame, Any]:
    """Call pyreadstat; turn every failure into a :class:`ConfigError` naming the file."""
    if not path.is_file():
        raise ConfigError("file not found", source=str(path))
    if path.stat().st_size == 0:
        raise ConfigError("the SPSS file is empty", source=str(path))
    try:
        return pyreadstat.read_sav(
            str(path), metadataonly=metadata_only, user_missing=True, apply_value_formats=False
        )
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, OSError) as exc:
        raise ConfigError(f"not a readable SPSS .sav file ({exc})", source=str(path)) from exc


def _number_text(value: float) -> str:
    """Write a number as text: whole numbers without ``.0``."""
    if value.is_integer() and abs(value) < _LARGEST_EXACT_INTEGER:
        return str(int(value))
    return repr(value)


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _cell(value: object) -> str | None:
    """One cell as text: codes as numbers without ``.0``, dates and times as ISO text."""
    if _is_missing(value):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (float, np.floating)):
        return _number_text(float(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    text = str(value).rstrip()
    return text or None


def _in_ranges(value: object, ranges: list[dict[str, Any]]) -> bool:
    """Whether a value lies in one of a variable's user-missing ranges."""
    if _is_missing(value):
        return False
    for bounds in ranges:
        low, high = bounds["lo"], bounds["hi"]
        if isinstance(value, str) != isinstance(low, str):
            continue  # numbers against text bounds (or dates against numbers): not comparable
        if isinstance(value, str):
            if low.rstrip() <= value.rstrip() <= high.rstrip():
                return True
        elif isinstance(value, (int, float, np.integer, np.floating)) and low <= value <= high:
            return True
    return False


def _code_text(code: object) -> str:
    if isinstance(code, (float, np.floating)):
        return _number_text(float(code))
    return str(code).rstrip()


def _ranges_text(ranges: list[dict[str, Any]]) -> str:
    parts = []
    for bounds in ranges:
        low, high = _code_text(bounds["lo"]), _code_text(bounds["hi"])
        parts.append(low if low == high else f"{low} to {high}")
    return ", ".join(parts)


def read_spss(path: str | Path) -> RawTable:
    """Read an SPSS ``.sav`` file: value codes as text, user-missing values as ``None``.

    Parameters
    ----------
    path
        The ``.sav`` (or compressed ``.zsav``) file.

    Returns
    -------
    RawTable
        One column per variable, every cell text or ``None``:

        - numbers are written without a trailing ``.0`` (``1.0`` -> ``"1"``), so labelled
          variables keep their codes, never their labels;
        - user-defined missing values (for example 8 "Not applicable" and 9 "No answer") and
          system-missing values become ``None``;
        - variables in an SPSS date, date-time or time format become ISO text
          (``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM:SS``, ``HH:MM:SS``);
        - text variables lose SPSS's trailing padding; an empty text is ``None``.

        ``row_numbers`` are the case numbers 1..n: a ``.sav`` file has no text rows, so the
        case number (as SPSS's Data View shows it) is the row. ``notes`` hold one note per
        labelled variable (``value labels of q1: 1=Strongly disagree, ...``) and one per
        variable with user-missing values that occurred. ``column_labels`` maps each column to
        its variable name.

    Raises
    ------
    ConfigError
        The file is missing, empty or not a readable ``.sav`` file; the message names it.

    See Also
    --------
    spss_value_labels : The value labels as a mapping.

    Examples
    --------
    >>> import tempfile
    >>> answers = pd.DataFrame({"q1": [1.0, 9.0, 4.0]})
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder, "survey.sav")
    ...     pyreadstat.write_sav(
    ...         answers, path,
    ...         variable_value_labels={"q1": {1: "Strongly disagree", 9: "No answer"}},
    ...         missing_ranges={"q1": [9]},
    ...     )
    ...     raw = read_spss(path)
    >>> raw.frame["q1"].tolist()
    ['1', None, '4']
    >>> raw.row_numbers.tolist()
    [1, 2, 3]
    >>> [note for note in raw.notes if note.startswith("value labels")]
    ['value labels of q1: 1=Strongly disagree, 9=No answer']
    """
    path = Path(path)
    data, meta = _read_sav(path)
    missing_ranges: dict[str, list[dict[str, Any]]] = meta.missing_ranges or {}
    value_labels: dict[str, dict[Any, str]] = meta.variable_value_labels or {}
    formats: dict[str, str] = meta.original_variable_types or {}
    notes = [
        f"{path.name}: SPSS file with {len(data)} cases and {data.shape[1]} variables"
        + (f" (encoding {meta.file_encoding})" if getattr(meta, "file_encoding", None) else "")
    ]
    columns: dict[str, list[str | None]] = {}
    for name in data.columns:
        values = data[name].tolist()
        ranges = missing_ranges.get(name, [])
        n_user_missing = 0
        cells: list[str | None] = []
        for value in values:
            if ranges and _in_ranges(value, ranges):
                n_user_missing += 1
                cells.append(None)
            else:
                cells.append(_cell(value))
        columns[name] = cells
        labels = value_labels.get(name)
        if labels:
            notes.append(
                f"value labels of {name}: "
                + ", ".join(f"{_code_text(code)}={label}" for code, label in labels.items())
            )
        if n_user_missing:
            notes.append(
                f"{name}: {n_user_missing} user-missing value(s) ({_ranges_text(ranges)}) "
                "set to None"
            )
        if data[name].dtype.kind == "M" or any(
            isinstance(v, (dt.date, dt.time)) for v in values if not _is_missing(v)
        ):
            notes.append(f"{name}: SPSS format {formats.get(name, '?')} written as ISO text")
    return RawTable(
        frame=pd.DataFrame(columns, columns=list(columns), dtype=object),
        row_numbers=np.arange(1, len(data) + 1, dtype=np.int64),
        source=path.name,
        notes=notes,
        column_labels={name: name for name in columns},
    )


def spss_value_labels(path: str | Path) -> dict[str, dict[int, str]]:
    """Value labels of an SPSS file's numeric variables, by variable and integer code.

    Parameters
    ----------
    path
        The ``.sav`` file.

    Returns
    -------
    dict of str to dict of int to str
        For each labelled variable, its codes and labels (user-missing codes included, as
        SPSS lists them). Labels of text codes or of fractional codes are left out; they still
        appear in the notes of :func:`read_spss`.

    Raises
    ------
    ConfigError
        The file is missing, empty or not a readable ``.sav`` file; the message names it.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder, "survey.sav")
    ...     pyreadstat.write_sav(
    ...         pd.DataFrame({"q1": [1.0, 2.0]}), path,
    ...         variable_value_labels={"q1": {1: "Disagree", 2: "Agree"}},
    ...     )
    ...     spss_value_labels(path)
    {'q1': {1: 'Disagree', 2: 'Agree'}}
    """
    _, meta = _read_sav(Path(path), metadata_only=True)
    result: dict[str, dict[int, str]] = {}
    for name, labels in (meta.variable_value_labels or {}).items():
        codes = {
            int(code): str(label)
            for code, label in labels.items()
            if isinstance(code, (int, float, np.integer, np.floating)) and float(code).is_integer()
        }
        if codes:
            result[name] = codes
    return result
