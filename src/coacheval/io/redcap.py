"""Read a REDCap data export (CSV) with its data dictionary into a :class:`RawTable`.

REDCap exports come in two flavours: "raw" (multiple-choice fields hold their codes) and
"labels" (they hold the choice labels). The labels export made from REDCap's web interface also
writes field labels instead of variable names in its header row. The data dictionary (the
18-column CSV REDCap calls the Data Dictionary, or the API metadata export) tells which is which,
which fields hold personal identifiers (``Identifier?`` = ``y``) and how dates and numbers are
validated. The reader uses it to drop identifier fields before anything else sees them, to turn
labels back into codes, to write dates as ISO text and to replace decimal commas.

Every cell stays text: types are checked later, against the data contract.

Examples
--------
A data dictionary has REDCap's 18 columns (:data:`DICTIONARY_COLUMNS`):

>>> from coacheval.io.redcap import DICTIONARY_COLUMNS
>>> len(DICTIONARY_COLUMNS), DICTIONARY_COLUMNS[0], DICTIONARY_COLUMNS[10]
(18, 'Variable / Field Name', 'Identifier?')
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from coacheval.errors import ConfigError
from coacheval.io.raw import RawTable
from coacheval.io.readers import read_csv

__all__ = ["DICTIONARY_COLUMNS", "read_redcap"]

#: Header of a REDCap data dictionary CSV, in REDCap's order.
DICTIONARY_COLUMNS: tuple[str, ...] = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)

# Dictionary columns the reader needs: the web export's header, then the API metadata name.
_DICTIONARY_KEYS: dict[str, tuple[str, str]] = {
    "name": ("variable / field name", "field_name"),
    "form": ("form name", "form_name"),
    "type": ("field type", "field_type"),
    "label": ("field label", "field_label"),
    "choices": ("choices, calculations, or slider labels", "select_choices_or_calculations"),
    "validation": (
        "text validation type or show slider number",
        "text_validation_type_or_show_slider_number",
    ),
    "identifier": ("identifier?", "identifier"),
}
_REQUIRED_KEYS = {"name": "Variable / Field Name", "type": "Field Type"}

# Columns REDCap adds to an export; their header in a labels export.
_SPECIAL_COLUMNS: dict[str, str] = {
    "redcap_event_name": "Event Name",
    "redcap_repeat_instrument": "Repeat Instrument",
    "redcap_repeat_instance": "Repeat Instance",
    "redcap_data_access_group": "Data Access Group",
    "redcap_survey_identifier": "Survey Identifier",
}
_CHOICE_TYPES = ("radio", "dropdown")
_IMPLICIT_CHOICES: dict[str, dict[str, str]] = {
    "yesno": {"1": "Yes", "0": "No"},
    "truefalse": {"1": "True", "0": "False"},
}
_CHECKBOX_CHOICES = {"1": "Checked", "0": "Unchecked"}
_COMPLETE_CHOICES = {"0": "Incomplete", "1": "Unverified", "2": "Complete"}

_DATE_VALIDATION = re.compile(r"^(date|datetime|datetime_seconds)_(ymd|mdy|dmy)$")
_NUMBER_VALIDATION = re.compile(r"^(number(_\d+dp)?(_comma_decimal)?|float)$")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+$")
_DATE_VALUE = re.compile(
    r"^(\d{1,4})[-/.](\d{1,2})[-/.](\d{1,4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$"
)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class _Field:
    """One row of the data dictionary."""

    name: str
    form: str
    type: str
    label: str
    validation: str
    identifier: bool
    choices: dict[str, str] = field(default_factory=dict)


def _read_file(path: Path, what: str, table: str = "") -> RawTable:
    """Read a CSV file with :func:`~coacheval.io.readers.read_csv`; every failure is a ConfigError."""
    if not path.is_file():
        raise ConfigError(f"file not found (the {what})", source=str(path))
    try:
        return read_csv(path, table=table)
    except UnicodeDecodeError as exc:  # a byte-order mark followed by bytes that are not UTF-8
        raise ConfigError(
            f"the {what} starts with a UTF-8 byte-order mark but is not UTF-8 ({exc.reason})",
            source=str(path),
        ) from exc


# --------------------------------------------------------------------------------------------
# The data dictionary


def _normalise_header(text: str) -> str:
    return _SPACE.sub(" ", text.strip()).lower()


def _clean_label(text: str) -> str:
    """Write a label as an export header does: no HTML tags, single spaces."""
    return _SPACE.sub(" ", _TAG.sub("", text)).strip()


def _parse_choices(text: str) -> dict[str, str]:
    """Turn ``1, Strongly disagree | 2, Disagree`` into ``{"1": "Strongly disagree", ...}``."""
    choices: dict[str, str] = {}
    for part in text.split("|"):
        code, sep, label = part.partition(",")
        if sep and code.strip():
            choices[code.strip()] = label.strip()
    return choices


def _read_dictionary(path: Path) -> list[_Field]:
    table = _read_file(path, "data dictionary")
    if table.rejected:
        # An unreadable row could be an identifier field: reading on would risk keeping it.
        lines = ", ".join(str(problem.row) for problem in table.rejected)
        raise ConfigError(
            f"the data dictionary has lines that cannot be read (line {lines}); "
            "without them the identifier fields are not known",
            source=str(path),
        )
    positions: dict[str, str] = {}
    by_normalised = {_normalise_header(table.label(c)): c for c in table.frame.columns}
    for key, names in _DICTIONARY_KEYS.items():
        for name in names:
            if name in by_normalised:
                positions[key] = by_normalised[name]
                break
    missing = [title for key, title in _REQUIRED_KEYS.items() if key not in positions]
    if missing:
        raise ConfigError(
            "not a REDCap data dictionary: its header has no "
            + " or ".join(repr(title) for title in missing)
            + " column",
            source=str(path),
        )

    def cell(row: dict[str, str | None], key: str) -> str:
        value = row.get(positions[key]) if key in positions else None
        return value.strip() if value is not None else ""

    fields = []
    for row in table.frame.to_dict("records"):
        name = cell(row, "name")
        if not name:
            continue
        field_type = cell(row, "type").lower()
        choices = cell(row, "choices")
        fields.append(
            _Field(
                name=name,
                form=cell(row, "form"),
                type=field_type,
                label=_clean_label(cell(row, "label")),
                validation=cell(row, "validation").lower(),
                identifier=cell(row, "identifier").lower() in ("y", "yes"),
                choices=_parse_choices(choices)
                if field_type in (*_CHOICE_TYPES, "checkbox")
                else {},
            )
        )
    if not fields:
        raise ConfigError("the data dictionary lists no fields", source=str(path))
    return fields


def _checkbox_column(field_name: str, code: str) -> str:
    """Export column of one checkbox choice (REDCap writes codes in lower case)."""
    return f"{field_name}___{code.lower()}"


def _column_fields(fields: Sequence[_Field]) -> dict[str, _Field]:
    """Field behind each column an export may hold (checkbox choices have one column each)."""
    columns: dict[str, _Field] = {}
    for f in fields:
        if f.type == "checkbox":
            for code in f.choices:
                columns[_checkbox_column(f.name, code)] = f
        elif f.type != "descriptive":
            columns[f.name] = f
    return columns


def _expected_headers(fields: Sequence[_Field]) -> list[tuple[str, str]]:
    """Columns of an export in REDCap's order, each with the header a labels export gives it."""
    expected: list[tuple[str, str]] = []
    if fields:
        expected.append((fields[0].name, fields[0].label))
    expected.extend(_SPECIAL_COLUMNS.items())
    forms: dict[str, list[_Field]] = {}
    for f in fields[1:]:
        forms.setdefault(f.form, []).append(f)
    if fields and fields[0].form not in forms:
        forms = {fields[0].form: [], **forms}
    for form, members in forms.items():
        expected.append((f"{form}_timestamp", "Survey Timestamp"))
        for f in members:
            if f.type == "checkbox":
                expected.extend(
                    (_checkbox_column(f.name, code), f"{f.label} (choice={_clean_label(label)})")
                    for code, label in f.choices.items()
                )
            elif f.type != "descriptive":
                expected.append((f.name, f.label))
        expected.append((f"{form}_complete", "Complete?"))
    return expected


def _is_redcap_column(name: str) -> bool:
    return name in _SPECIAL_COLUMNS or name.endswith("_timestamp") or name.endswith("_complete")


def _map_label_headers(
    header: Sequence[str], fields: Sequence[_Field]
) -> tuple[list[str | None], int]:
    """Align label headers with the dictionary in order; ``None`` where no field matches."""
    expected = _expected_headers(fields)
    keys = [_clean_label(label).casefold() for _, label in expected]
    names: list[str | None] = []
    cursor, mapped = 0, 0
    for text in header:
        wanted = _clean_label(text).casefold()
        match = next((i for i in range(cursor, len(keys)) if keys[i] == wanted), None)
        if match is None:
            names.append(None)
            continue
        names.append(expected[match][0])
        cursor, mapped = match + 1, mapped + 1
    return names, mapped


def _unique(names: Iterable[str]) -> list[str]:
    seen: Counter[str] = Counter()
    out = []
    for name in names:
        out.append(name if not seen[name] else f"{name}.{seen[name]}")
        seen[name] += 1
    return out


# --------------------------------------------------------------------------------------------
# Cell conversions


def _choices_of(column: str, f: _Field | None) -> dict[str, str] | None:
    """Code -> label map of a coded column, or ``None`` when the column is not coded."""
    if f is None:
        return _COMPLETE_CHOICES if column.endswith("_complete") else None
    if f.type in _CHOICE_TYPES and f.choices:
        return f.choices
    if f.type == "checkbox":
        return _CHECKBOX_CHOICES
    return _IMPLICIT_CHOICES.get(f.type)


def _iso_date(value: str, order: str) -> str | None:
    """``value`` as ISO date(time) text, reading day/month/year in ``order``; ``None`` if not."""
    match = _DATE_VALUE.match(value.strip())
    if match is None:
        return None
    a, b, c, hour, minute, second = match.groups()
    if len(a) == 4:
        year, month, day = a, b, c
    elif len(c) == 4 and order == "mdy":
        month, day, year = a, b, c
    elif len(c) == 4 and order == "dmy":
        day, month, year = a, b, c
    else:
        return None
    try:
        date = dt.date(int(year), int(month), int(day))
    except ValueError:
        return None
    text = date.isoformat()
    if hour is not None:
        if int(hour) > 23 or int(minute) > 59 or (second is not None and int(second) > 59):
            return None
        text += f" {int(hour):02d}:{minute}" + (f":{second}" if second is not None else "")
    return text


def _detect_mode(
    columns: dict[str, list[str | None]], coded: dict[str, dict[str, str]]
) -> tuple[str, int, int]:
    """Whether coded columns hold codes or labels: ``("raw"|"labels", n_codes, n_labels)``."""
    n_codes = n_labels = 0
    for column, choices in coded.items():
        labels = {label.strip() for label in choices.values()}
        for value in columns[column]:
            if value is None:
                continue
            text = value.strip()
            is_code, is_label = text in choices, text in labels
            n_codes += is_code and not is_label
            n_labels += is_label and not is_code
    return ("labels" if n_labels > n_codes else "raw"), n_codes, n_labels


def _labels_to_codes(
    values: list[str | None], choices: dict[str, str]
) -> tuple[list[str | None], bool]:
    """Map labels back to codes; return the new values and whether two choices share a label."""
    by_label: dict[str, str] = {}
    repeated = set()
    for code, label in choices.items():
        key = label.strip()
        if key in by_label:
            repeated.add(key)
        by_label.setdefault(key, code)
    out: list[str | None] = []
    for value in values:
        key = value.strip() if value is not None else None
        if key is not None and key in by_label and key not in repeated:
            out.append(by_label[key])
        else:
            out.append(value)
    return out, bool(repeated)


# --------------------------------------------------------------------------------------------
# Steps of the reader (each appends what it decided to ``notes``)


def _resolve_header(
    columns: list[str],
    header: list[str],
    fields: Sequence[_Field],
    by_column: dict[str, _Field],
    data_path: Path,
    dictionary_path: Path,
    notes: list[str],
) -> list[str]:
    """Column names: the header's, or variable names matched to a header of field labels.

    ``columns`` are the reader's column names (unique), ``header`` the header text.
    """
    known = set(by_column) | {f.name for f in fields}
    n_known = sum(c in known or _is_redcap_column(c) for c in columns)
    names = list(columns)
    if n_known * 2 < len(columns):
        mapped, n_mapped = _map_label_headers(header, fields)
        if n_mapped > n_known:
            names = [m if m is not None else c for m, c in zip(mapped, columns, strict=True)]
            notes.append(
                f"{data_path.name}: the header holds field labels; {n_mapped} of {len(header)} "
                "columns were matched to the data dictionary's variable names"
            )
            unmatched = [h for m, h in zip(mapped, header, strict=True) if m is None]
            if unmatched:
                notes.append(
                    "header labels not found in the data dictionary (kept under their header "
                    "text): " + ", ".join(repr(h) for h in unmatched)
                )
    if not any(name in known for name in names):
        raise ConfigError(
            f"the data dictionary {dictionary_path.name} describes none of the export's "
            "columns; is it the dictionary of this project?",
            source=str(data_path),
        )
    return _unique(names)


def _keep_non_identifiers(
    names: list[str],
    labels: dict[str, str],
    fields: Sequence[_Field],
    by_column: dict[str, _Field],
    notes: list[str],
) -> list[int]:
    """Positions of the columns to keep: all but those of identifier fields."""
    identifier_labels = {f.label.casefold() for f in fields if f.identifier and f.label}
    dropped: dict[str, list[str]] = {}
    keep: list[int] = []
    for position, name in enumerate(names):
        f = by_column.get(name)
        if f is not None and f.identifier:
            dropped.setdefault(f.name, []).append(name)
        elif f is None and _clean_label(labels[name]).casefold() in identifier_labels:
            dropped.setdefault(name, []).append(name)  # an unmatched label header of an identifier
        else:
            keep.append(position)
    for field_name, columns in dropped.items():
        extra = f"; columns {', '.join(columns)}" if columns != [field_name] else ""
        notes.append(
            f"dropped identifier field {field_name!r} (Identifier? = y in the data dictionary"
            f"{extra})"
        )
    return keep


def _codes_from_labels(
    columns: dict[str, list[str | None]], by_column: dict[str, _Field], notes: list[str]
) -> None:
    """Decide raw or labels; in a labels export, turn labels back into codes (in place)."""
    coded = {
        name: choices
        for name in columns
        if (choices := _choices_of(name, by_column.get(name))) is not None
    }
    mode, n_codes, n_labels = _detect_mode(columns, coded)
    if mode == "labels":
        notes.append(
            f'export looks like "labels" ({n_labels} choice labels, {n_codes} codes in coded '
            "fields); labels were mapped back to their codes"
        )
        for name, choices in coded.items():
            columns[name], ambiguous = _labels_to_codes(columns[name], choices)
            if ambiguous:
                notes.append(f"{name}: two choices share a label; that label was left as is")
    elif n_codes or n_labels:
        notes.append(
            f'export looks like "raw" ({n_codes} codes, {n_labels} choice labels in coded '
            "fields); codes kept"
        )
    else:
        notes.append('export looks like "raw" (no coded values to tell from); values kept')


def _iso_dates(
    name: str, values: list[str | None], validation: str, order: str, notes: list[str]
) -> None:
    """Write the dates of one column as ISO text (in place); keep what is not a date."""
    n_changed = n_bad = 0
    for i, value in enumerate(values):
        if value is None:
            continue
        iso = _iso_date(value, order)
        if iso is None:
            n_bad += 1
        elif iso != value:
            values[i] = iso
            n_changed += 1
    if n_changed or n_bad:
        bad = f"; {n_bad} value(s) not read as dates were left as they are" if n_bad else ""
        notes.append(f"{name}: {n_changed} {validation} value(s) written as ISO YYYY-MM-DD{bad}")


def _decimal_points(name: str, values: list[str | None], notes: list[str]) -> None:
    """Replace decimal commas by points in one column (in place)."""
    n_changed = 0
    for i, value in enumerate(values):
        if value is not None and _DECIMAL_COMMA.match(value.strip()):
            values[i] = value.strip().replace(",", ".")
            n_changed += 1
    if n_changed:
        notes.append(f"{name}: {n_changed} decimal comma(s) replaced by points")


# --------------------------------------------------------------------------------------------
# The reader


def read_redcap(
    data_path: str | Path, dictionary_path: str | Path, *, table: str = "survey_responses"
) -> RawTable:
    r"""Read a REDCap data export with its data dictionary; drop identifiers, keep text.

    Parameters
    ----------
    data_path
        The data export (CSV, "raw" or "labels"; comma, semicolon, tab or pipe separated;
        UTF-8 with or without a byte-order mark).
    dictionary_path
        The project's data dictionary: the 18-column CSV REDCap exports (see
        :data:`DICTIONARY_COLUMNS`), or the API metadata export (``field_name``, ...).
    table
        Table of the data contract the export feeds; named in the problems of rejected rows.

    Returns
    -------
    RawTable
        One column per export column, every cell text or ``None``, with these changes:

        - fields with ``Identifier?`` = ``y`` are dropped (a note names each one, never its
          values);
        - in a "labels" export, choice labels of radio, dropdown, yes/no, true/false and
          checkbox fields and of ``<form>_complete`` are turned back into their codes (exact
          match after stripping spaces); other values are left for validation to report;
        - a labels export whose header holds field labels gets variable names back (the
          header text stays in ``column_labels``);
        - dates of fields validated ``date_mdy``/``date_dmy`` (and the ``datetime_*``
          variants) become ISO ``YYYY-MM-DD`` text; ``date_ymd`` values are kept; a value
          that is not a date is kept as it is;
        - decimal commas in fields validated as numbers and in calculated fields become
          points (``3,5`` -> ``3.5``).

        ``row_numbers`` are the lines the records start on, as a text editor numbers them
        (header on line 1). ``redcap_*``, ``<form>_timestamp`` and ``<form>_complete`` columns
        are kept.

    Raises
    ------
    ConfigError
        A file is missing, empty or not a readable CSV, the dictionary lacks the
        ``Variable / Field Name`` or ``Field Type`` column, or it describes none of the
        export's columns. The message names the file.

    Notes
    -----
    The file is split into cells by :func:`coacheval.io.readers.read_csv` (encoding and
    delimiter detection, blank lines skipped): a row with more or fewer cells than the header,
    or an unclosed quote, becomes a problem in ``rejected`` (its values are not copied into it).
    Raw or labels is then decided from the coded columns: the export is "labels" when more of
    their values are labels only than codes only.

    Examples
    --------
    >>> import tempfile
    >>> header = ",".join(f'"{c}"' for c in DICTIONARY_COLUMNS)
    >>> dictionary_rows = [
    ...     "record_id,survey,,text,Record ID" + "," * 13,
    ...     "email,survey,,text,E-mail,,,email,,,y" + "," * 7,
    ...     'mood,survey,,radio,Mood,"1, Good | 2, Bad"' + "," * 12,
    ...     "started,survey,,text,Start,,,date_mdy" + "," * 10,
    ... ]
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     data = Path(folder, "export.csv")
    ...     _ = data.write_text("record_id,email,mood,started\n1,a@example.org,Bad,03/15/2024\n")
    ...     dictionary = Path(folder, "dictionary.csv")
    ...     _ = dictionary.write_text("\n".join([header, *dictionary_rows]) + "\n")
    ...     raw = read_redcap(data, dictionary)
    >>> raw.frame.to_dict("records")
    [{'record_id': '1', 'mood': '2', 'started': '2024-03-15'}]
    >>> raw.row_numbers.tolist()
    [2]
    >>> [note for note in raw.notes if "identifier" in note]
    ["dropped identifier field 'email' (Identifier? = y in the data dictionary)"]
    """
    data_path, dictionary_path = Path(data_path), Path(dictionary_path)
    fields = _read_dictionary(dictionary_path)
    export = _read_file(data_path, "REDCap data export", table)
    notes = list(export.notes)
    by_column = _column_fields(fields)
    header = [export.label(column) for column in export.frame.columns]
    names = _resolve_header(
        list(export.frame.columns), header, fields, by_column, data_path, dictionary_path, notes
    )
    labels = dict(zip(names, header, strict=True))
    keep = _keep_non_identifiers(names, labels, fields, by_column, notes)
    columns: dict[str, list[str | None]] = {
        names[p]: export.frame.iloc[:, p].tolist() for p in keep
    }
    known = set(by_column) | {f.name for f in fields}
    unknown = [name for name in columns if name not in known and not _is_redcap_column(name)]
    if unknown:
        notes.append("columns not in the data dictionary (kept): " + ", ".join(unknown))
    _codes_from_labels(columns, by_column, notes)
    for name, values in columns.items():
        f = by_column.get(name)
        if f is None:
            continue
        date_rule = _DATE_VALIDATION.match(f.validation)
        if date_rule is not None and date_rule.group(2) != "ymd":
            _iso_dates(name, values, f.validation, date_rule.group(2), notes)
        elif _NUMBER_VALIDATION.match(f.validation) or f.type == "calc":
            _decimal_points(name, values, notes)
    return RawTable(
        frame=pd.DataFrame(columns, columns=list(columns), dtype=object),
        row_numbers=np.asarray(export.row_numbers, dtype=np.int64),
        source=data_path.name,
        notes=notes,
        rejected=list(export.rejected),
        column_labels={name: labels[name] for name in columns},
    )
