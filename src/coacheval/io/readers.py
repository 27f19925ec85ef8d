"""Readers: CSV, Excel, Parquet and Qualtrics exports into :class:`RawTable` (every cell text).

Readers never convert types and never guess silently: what they decide (encoding, delimiter,
export format, skipped header rows) is written to ``RawTable.notes``, and rows they cannot turn
into cells (a truncated last line, a row with too many fields) are kept as rejected rows with
their line number, so they still count as input rows.

:func:`read_any` is the public entry point: it picks the reader a file's format needs.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from coacheval.errors import ConfigError
from coacheval.io.raw import Problem, RawTable

__all__ = ["read_any"]

DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def decode_text(data: bytes, source: str, encoding: str | None = None) -> tuple[str, str]:
    """Decode file bytes: the given encoding, else UTF-8 (with or without BOM), else Windows-1252.

    Returns
    -------
    tuple of str
        The text and a note saying which encoding was used.

    Examples
    --------
    >>> decode_text("Café".encode("cp1252"), "x.csv")[1]
    'read as Windows-1252 (not valid UTF-8)'
    """
    if encoding:
        try:
            return data.decode(encoding), f"read as {encoding} (as configured)"
        except (UnicodeDecodeError, LookupError) as exc:
            raise ConfigError(
                f"cannot decode the file as {encoding}: {exc}", source=source
            ) from exc
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "read as UTF-8 (with byte-order mark)"
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"the file starts with a UTF-8 byte-order mark but is not valid UTF-8 ({exc.reason} at "
                f"byte {exc.start + 3}); set its encoding in the config",
                source=source,
            ) from exc
    try:
        return data.decode("utf-8"), "read as UTF-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "read as Windows-1252 (not valid UTF-8)"


def sniff_delimiter(header_line: str) -> str:
    """Pick the delimiter that splits the header line into the most fields (comma on a tie).

    Examples
    --------
    >>> sniff_delimiter("a;b;c")
    ';'
    """
    counts = {d: len(next(csv.reader([header_line], delimiter=d))) for d in DELIMITERS}
    best = max(counts.values())
    return next(d for d in DELIMITERS if counts[d] == best)


def _frame(header: list[str], rows: list[list[str]]) -> tuple[pd.DataFrame, dict[str, str]]:
    names = _unique_names(header)
    if rows:
        frame = pd.DataFrame(rows, columns=names, dtype=object)
    else:
        frame = pd.DataFrame({n: pd.Series(dtype=object) for n in names})
    for name in names:
        column = frame[name].to_numpy(dtype=object)
        blank = column == ""
        if blank.any():
            column = column.copy()
            column[blank] = None
            frame[name] = column
    return frame, dict(zip(names, header, strict=True))


def _unique_names(header: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    names = []
    for h in header:
        name = h.strip()
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        names.append(name)
    return names


def read_csv(
    path: str | Path,
    *,
    table: str = "",
    encoding: str | None = None,
    delimiter: str | None = None,
    header_row: int = 1,
    skip_rows_after_header: int = 0,
) -> RawTable:
    r"""Read a delimited text file into text cells, keeping each row's line number.

    Parameters
    ----------
    path
        The file.
    table
        The table it holds (for problem reports).
    encoding, delimiter
        Forced values; detected when omitted (see :func:`decode_text`, :func:`sniff_delimiter`).
    header_row
        Line number of the header (1 for ordinary files).
    skip_rows_after_header
        Lines after the header that are not data (2 for Qualtrics exports).

    Returns
    -------
    RawTable

    Raises
    ------
    ConfigError
        The file is missing, empty or has no header.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text("id;x\n1;a\n2;b\n", encoding="utf-8")
    >>> t = read_csv(p)
    >>> t.frame.to_dict("list"), t.row_numbers.tolist()
    ({'id': ['1', '2'], 'x': ['a', 'b']}, [2, 3])
    """
    path = Path(path)
    source = path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the file ({exc.strerror})", source=str(path)) from exc
    if not data.strip():
        raise ConfigError("the file is empty: it has no header row and no data", source=source)
    if b"\x00" in data[:65536] and not encoding:
        raise ConfigError(
            "the file is not a text CSV (it contains NUL bytes): a binary file, or UTF-16 text; "
            "export it as CSV in UTF-8, or set its encoding in the config",
            source=source,
        )
    text, encoding_note = decode_text(data, source, encoding)
    lines = text[: 1 << 20].splitlines()[: header_row + 1]  # the header is near the top
    if len(lines) < header_row:
        raise ConfigError(f"the file has no header on line {header_row}", source=source)
    delim = delimiter or sniff_delimiter(lines[header_row - 1])
    notes = [
        encoding_note,
        f"{_DELIMITER_NAMES.get(delim, repr(delim))}-delimited"
        + ("" if delimiter else " (detected from the header)"),
    ]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    numbers: list[int] = []
    rejected: list[Problem] = []
    blank = 0
    previous_end = 0
    try:
        for record in reader:
            start = previous_end + 1
            previous_end = reader.line_num
            if start < header_row:
                continue
            if header is None:
                header = record
                # a trailing delimiter on every line (legacy exports) makes an empty last column
                while header and header[-1].strip() == "":
                    header = header[:-1]
                continue
            if start <= header_row + skip_rows_after_header:
                continue
            if not any(record):  # a blank line, or only delimiters
                blank += 1
                continue
            if len(record) > len(header) and all(c.strip() == "" for c in record[len(header) :]):
                record = record[: len(header)]
            if len(record) != len(header):
                rejected.append(
                    Problem(
                        table,
                        source,
                        start,
                        "",
                        "",  # never the raw line: it may hold names or raw identifiers
                        "field_count",
                        f"line {start} has {len(record)} fields but the header has {len(header)}"
                        + (" (the line looks truncated)" if len(record) < len(header) else ""),
                    )
                )
                continue
            rows.append(record)
            numbers.append(start)
    except csv.Error as exc:
        start = previous_end + 1
        rejected.append(
            Problem(
                table,
                source,
                start,
                "",
                "",
                "unreadable_line",
                f"line {start} and after cannot be parsed ({exc}); an unclosed quote?",
            )
        )
    if header is None or not any(h.strip() for h in header):
        raise ConfigError("the file has no header row", source=source)
    if blank:
        notes.append(f"{blank} blank line(s) skipped")
    frame, labels = _frame(header, rows)
    return RawTable(frame, np.asarray(numbers, dtype=np.int64), source, notes, rejected, labels)


def _excel_cell(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (
            value.date().isoformat()
            if value.time() == datetime.min.time()
            else value.isoformat(sep=" ")
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value)
    return text if text.strip() else None


def read_excel(path: str | Path, *, table: str = "", sheet: str | None = None) -> RawTable:
    """Read one sheet of an ``.xlsx`` workbook into text cells, keeping sheet row numbers.

    Date cells become ISO dates; whole numbers lose their ``.0``. Numbers in date columns (Excel
    serial dates stored as numbers) are left as numbers here and converted by the date rules.

    Raises
    ------
    ConfigError
        The workbook cannot be opened, the sheet does not exist, or it has no header.

    Examples
    --------
    >>> import tempfile, pathlib, datetime, openpyxl
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.xlsx"
    >>> wb = openpyxl.Workbook(); ws = wb.active
    >>> ws.append(["id", "hired"]); ws.append([7, datetime.date(2020, 1, 31)]); wb.save(p)
    >>> read_excel(p).frame.to_dict("list")
    {'id': ['7'], 'hired': ['2020-01-31']}
    """
    from openpyxl import load_workbook

    path = Path(path)
    source = path.name
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a bad file
        raise ConfigError(
            f"cannot open the workbook ({type(exc).__name__}: {exc})", source=str(path)
        ) from exc
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            raise ConfigError(
                f"no sheet {sheet!r}; sheets: {', '.join(workbook.sheetnames)}", source=source
            )
        ws = workbook[sheet] if sheet else workbook.worksheets[0]
        header: list[str] | None = None
        header_row = 0
        rows: list[list[str | None]] = []
        numbers: list[int] = []
        blank = 0
        for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = [_excel_cell(v) for v in values]
            if header is None:
                if any(c is not None for c in cells):
                    header = [c or "" for c in cells]
                    while header and header[-1] == "":
                        header.pop()
                    header_row = number
                continue
            if all(c is None for c in cells):
                blank += 1
                continue
            cells = (cells + [None] * len(header))[: len(header)]
            rows.append(cells)
            numbers.append(number)
    finally:
        workbook.close()
    if header is None:
        raise ConfigError("the sheet is empty: it has no header row", source=source)
    names = _unique_names(header)
    frame = (
        pd.DataFrame(rows, columns=names, dtype=object)
        if rows
        else pd.DataFrame({n: pd.Series(dtype=object) for n in names})
    )
    notes = [f"Excel sheet {ws.title!r}, header on row {header_row}"]
    if blank:
        notes.append(f"{blank} empty row(s) skipped")
    return RawTable(
        frame,
        np.asarray(numbers, dtype=np.int64),
        source,
        notes,
        [],
        dict(zip(names, header, strict=True)),
    )


def read_parquet(path: str | Path, *, table: str = "") -> RawTable:
    """Read a Parquet file column-wise into text cells; the row number is the record number.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.parquet"
    >>> pd.DataFrame({"id": [1, 2]}).to_parquet(p)
    >>> read_parquet(p).frame.to_dict("list")
    {'id': ['1', '2']}
    """
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        data = pq.read_table(path).to_pandas()
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise ConfigError(f"cannot read the Parquet file ({exc})", source=str(path)) from exc
    frame = pd.DataFrame({c: _text_column(data[c]) for c in data.columns})
    notes = ["Parquet file; row numbers are record numbers (1 = first record)"]
    return RawTable(
        frame,
        np.arange(1, len(frame) + 1, dtype=np.int64),
        path.name,
        notes,
        [],
        {c: c for c in frame.columns},
    )


def _text_column(series: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series):
        out = series.dt.strftime("%Y-%m-%d")
    elif pd.api.types.is_float_dtype(series):
        out = series.map(
            lambda v: (
                None if pd.isna(v) else (str(int(v)) if float(v).is_integer() else repr(float(v)))
            )
        )
    else:
        out = series.map(
            lambda v: (
                None
                if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA
                else (v.isoformat() if isinstance(v, date) else str(v))
            )
        )
    return out.astype(object).where(out.notna(), None)


# ------------------------------------------------------------------------------ Qualtrics
QUALTRICS_PII = (
    "IPAddress",
    "RecipientLastName",
    "RecipientFirstName",
    "RecipientEmail",
    "LocationLatitude",
    "LocationLongitude",
    "Participant Name",
    "Participant Email",
    "EmailAddress",
    "Name",
)
QUALTRICS_RESPONSE_STATUS = {"IP Address", "0", "Anonymous", "Survey Test"}


def is_qualtrics_export(path: str | Path) -> bool:
    r"""Whether a CSV looks like a Qualtrics export (current or legacy format).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "q.csv"
    >>> _ = p.write_text('StartDate,ResponseId\nStart Date,Response ID\n'
    ...                  '"{""ImportId"":""startDate""}","{""ImportId"":""_recordId""}"\n')
    >>> is_qualtrics_export(p)
    True
    """
    head = Path(path).read_bytes()[:20000]
    text, _ = decode_text(head, str(path))
    lines = text.splitlines()
    if len(lines) < 2:
        return False
    first = lines[0]
    current = (
        "ResponseId" in first
        and len(lines) >= 3
        and '{""ImportId""' in lines[2].replace('{"ImportId"', '{""ImportId""')
    )
    legacy = first.startswith("V1,") and "ResponseID" in lines[1]
    return current or legacy


def read_qualtrics(path: str | Path, *, table: str = "survey_responses") -> RawTable:
    r"""Read a Qualtrics CSV export: skip its extra header rows, keep the respondent metadata.

    The current format has the column names on line 1, question text on line 2 and ImportId JSON
    on line 3 (data from line 4); the legacy format has ``V1..`` on line 1 and the real names on
    line 2 (data from line 3). The columns ``IPAddress``, recipient names and e-mail, and the
    location are dropped here (personal data), and the note says so. ``ExternalReference``
    (legacy ``ExternalDataReference``) becomes ``employee_id``, the date of ``StartDate``
    becomes ``response_date``, and ``Status`` is kept as ``qualtrics_status`` so that previews
    and tests can be quarantined.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "q.csv"
    >>> _ = p.write_text('StartDate,Status,IPAddress,ExternalReference,q1\n'
    ...     'Start Date,Response Type,IP Address,External Data Reference,Q one\n'
    ...     '"{""ImportId"":""startDate""}","{""ImportId"":""status""}","{""ImportId"":""ipAddress""}",'
    ...     '"{""ImportId"":""externalDataReference""}","{""ImportId"":""QID1""}"\n'
    ...     '2024-04-02 09:10:11,IP Address,198.51.100.1,0012,Agree\n', encoding="utf-8")
    >>> t = read_qualtrics(p)
    >>> t.frame.to_dict("records"), t.row_numbers.tolist()
    ([{'response_date': '2024-04-02', 'qualtrics_status': 'IP Address', 'employee_id': '0012', 'q1': 'Agree'}], [4])
    """
    path = Path(path)
    head, _ = decode_text(path.read_bytes()[:20000], path.name)
    legacy = head.startswith("V1,")
    raw = read_csv(
        path,
        table=table,
        delimiter=",",
        header_row=2 if legacy else 1,
        skip_rows_after_header=0 if legacy else 2,
    )
    frame = raw.frame
    dropped = [c for c in frame.columns if c in QUALTRICS_PII]
    frame = frame.drop(columns=dropped)
    rename = {
        "ExternalReference": "employee_id",
        "ExternalDataReference": "employee_id",
        "Status": "qualtrics_status",
    }
    frame = frame.rename(columns={k: v for k, v in rename.items() if k in frame.columns})
    start = frame.pop("StartDate") if "StartDate" in frame.columns else None
    meta_drop = [
        c
        for c in (
            "EndDate",
            "RecordedDate",
            "Progress",
            "Duration (in seconds)",
            "Finished",
            "ResponseId",
            "ResponseID",
            "DistributionChannel",
            "UserLanguage",
            "ResponseSet",
            "V1",
            "V2",
            "V3",
            "V4",
            "V5",
            "V6",
            "V7",
            "V8",
            "V9",
            "V10",
        )
        if c in frame.columns
    ]
    frame = frame.drop(columns=meta_drop)
    if start is not None:
        frame.insert(
            0, "response_date", start.map(lambda s: s[:10] if isinstance(s, str) else None)
        )
    labels = {c: raw.column_labels.get(c, c) for c in frame.columns}
    labels.update(
        {
            "employee_id": "ExternalReference",
            "response_date": "StartDate",
            "qualtrics_status": "Status",
        }
    )
    notes = [*raw.notes, f"Qualtrics export ({'legacy' if legacy else 'current'} format)"]
    if dropped:
        notes.append(f"personal-data columns dropped at load: {', '.join(dropped)}")
    return RawTable(frame, raw.row_numbers, raw.source, notes, raw.rejected, labels)


def read_any(
    path: str | Path,
    *,
    table: str = "",
    sheet: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    fmt: str | None = None,
) -> RawTable:
    """Read a file with the reader its format needs (by ``fmt`` or the file extension).

    Raises
    ------
    ConfigError
        The format is not supported.

    Examples
    --------
    >>> read_any("x.docx")
    Traceback (most recent call last):
    ...
    coacheval.errors.ConfigError: x.docx: unsupported file type '.docx'; coacheval reads .csv, ...
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if fmt == "qualtrics" or (
        fmt is None and suffix == ".csv" and path.exists() and is_qualtrics_export(path)
    ):
        return read_qualtrics(path, table=table)
    if fmt in (None, "csv") and suffix in (".csv", ".txt", ".tsv"):
        return read_csv(path, table=table, encoding=encoding, delimiter=delimiter)
    if fmt in (None, "excel") and suffix in (".xlsx", ".xlsm"):
        return read_excel(path, table=table, sheet=sheet)
    if fmt in (None, "parquet") and suffix in (".parquet", ".pq"):
        return read_parquet(path, table=table)
    if fmt in (None, "spss") and suffix == ".sav":
        from coacheval.io.spss import read_spss

        return read_spss(path)
    raise ConfigError(
        f"unsupported file type {suffix!r}; coacheval reads .csv, .txt, .tsv, .xlsx, .parquet, .sav "
        "and Qualtrics or REDCap CSV exports",
        source=path.name,
    )


def read_json_map(path: str | Path) -> dict[str, str]:
    """Read a JSON object mapping file column names to contract names."""
    return {str(k): str(v) for k, v in json.loads(Path(path).read_text(encoding="utf-8")).items()}
