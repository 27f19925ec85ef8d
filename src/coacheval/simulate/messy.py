"""Write a simulated system the way real extracts arrive, and list every injected problem.

Formats follow FORMATS.md: the survey comes as one Qualtrics CSV export per wave (UTF-8 with a
byte-order mark, CRLF line ends, three header rows, choice text labels, the PII metadata columns
Qualtrics adds); the HR roster is an Excel workbook with HRIS-style column names, hire dates as
Excel date cells, termination dates as US ``MM/DD/YYYY`` text and numeric employee ids (so leading
zeros are lost); the peer-group list is a Windows-1252 CSV; the cohort list uses US dates.

Injected problems, each recorded with its file, row (as a spreadsheet or text editor numbers
it), column, value and kind: a termination before hire and a duplicated row in the HR file;
out-of-range answers, duplicated responses, a respondent who is not in the roster and a survey
preview in the Qualtrics exports; duplicated attendance rows; lost leading zeros of ids.

Called by ``SimulatedSystem.write(folder, messy=True)``: the module has no public API, so its
``__all__`` is empty.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from coacheval.simulate.system import SimulatedSystem
from coacheval.simulate.writing import write_csv

__all__: list[str] = []

HR_COLUMNS = {
    "employee_id": "Employee ID",
    "employee_name": "Name",
    "work_email": "Work Email",
    "work_phone": "Work Phone",
    "hire_date": "Hire Date",
    "termination_date": "Termination Date",
    "termination_reason": "Term Reason",
    "termination_type": "Term Type",
    "employment_status": "Status",
    "job_code": "Job Code",
    "job_title": "Job Title",
    "role_level": "Job Level",
    "facility_id": "Location Code",
    "facility_name": "Location",
    "department_id": "Dept ID",
    "department_name": "Department",
    "unit_id": "Cost Center",
    "unit_name": "Cost Center Name",
    "fte": "FTE",
    "manager_id": "Supervisor ID",
    "age_band": "Age Band",
    "gender": "Gender",
    "race_ethnicity": "Ethnic Group",
    "highest_degree": "Highest Degree",
}
QUALTRICS_META = (
    ("StartDate", "Start Date", '{"ImportId":"startDate","timeZone":"America/Chicago"}'),
    ("EndDate", "End Date", '{"ImportId":"endDate","timeZone":"America/Chicago"}'),
    ("Status", "Response Type", '{"ImportId":"status"}'),
    ("IPAddress", "IP Address", '{"ImportId":"ipAddress"}'),
    ("Progress", "Progress", '{"ImportId":"progress"}'),
    ("Duration (in seconds)", "Duration (in seconds)", '{"ImportId":"duration"}'),
    ("Finished", "Finished", '{"ImportId":"finished"}'),
    ("RecordedDate", "Recorded Date", '{"ImportId":"recordedDate","timeZone":"America/Chicago"}'),
    ("ResponseId", "Response ID", '{"ImportId":"_recordId"}'),
    ("RecipientLastName", "Recipient Last Name", '{"ImportId":"recipientLastName"}'),
    ("RecipientFirstName", "Recipient First Name", '{"ImportId":"recipientFirstName"}'),
    ("RecipientEmail", "Recipient Email", '{"ImportId":"recipientEmail"}'),
    ("ExternalReference", "External Data Reference", '{"ImportId":"externalDataReference"}'),
    ("LocationLatitude", "Location Latitude", '{"ImportId":"locationLatitude"}'),
    ("LocationLongitude", "Location Longitude", '{"ImportId":"locationLongitude"}'),
    ("DistributionChannel", "Distribution Channel", '{"ImportId":"distributionChannel"}'),
    ("UserLanguage", "User Language", '{"ImportId":"userLanguage"}'),
)
QUALTRICS_HEADER_ROWS = 3
_FIXED_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def _problem(
    file: str, row: int, column: str, value: Any, kind: str, description: str
) -> dict[str, Any]:
    return {
        "file": file,
        "row": int(row),
        "column": column,
        "value": "" if value is None else str(value),
        "kind": kind,
        "description": description,
    }


def us_date(iso_text: str) -> str:
    """``YYYY-MM-DD`` to ``MM/DD/YYYY`` ('' stays '')."""
    return f"{iso_text[5:7]}/{iso_text[8:10]}/{iso_text[:4]}" if iso_text else ""


def write_messy(system: SimulatedSystem, out: Path) -> tuple[list[Path], list[dict[str, Any]]]:
    """Write messy extracts into ``out``; return the files and the injected problems."""
    rng = np.random.Generator(np.random.PCG64(system.config.seed + 7919))
    problems: list[dict[str, Any]] = []
    written: list[Path] = []
    ex = system.extracts

    written.append(_write_hr_xlsx(ex["hr_roster"], out / "hr_roster.xlsx", rng, problems))
    roster_ids = set(ex["hr_roster"].employee_id)
    for wave_id in ex["survey_waves"].wave_id:
        written.append(
            _write_qualtrics(
                system, wave_id, out / f"survey_{wave_id}_qualtrics.csv", rng, problems, roster_ids
            )
        )
    written.append(_write_attendance(ex["attendance"], out / "attendance.csv", rng, problems))

    cohorts = ex["program_cohorts"].copy()
    for col in ("recruitment_open_date", "start_date", "end_date"):
        cohorts[col] = cohorts[col].map(us_date)
    write_csv(cohorts, out / "program_cohorts.csv")
    written.append(out / "program_cohorts.csv")
    write_csv(ex["peer_groups"], out / "peer_groups.csv", encoding="cp1252")
    written.append(out / "peer_groups.csv")
    for name in ("enrolment", "sessions", "survey_waves", "program_costs"):
        write_csv(ex[name], out / f"{name}.csv")
        written.append(out / f"{name}.csv")
    written.append(_write_extract_config(out / "extracts.yaml"))
    return written, problems


def _write_extract_config(path: Path) -> Path:
    """Write the config a quality analyst writes once for extracts that look like these."""
    config = {
        "date_order": "mdy",
        "id_width": 7,
        "tables": {
            "hr_roster": {
                "files": ["hr_roster.xlsx"],
                "sheet": "Leaders",
                "columns": {label: name for name, label in HR_COLUMNS.items()},
            },
            "survey_responses": {"files": ["survey_*_qualtrics.csv"], "format": "qualtrics"},
        },
    }
    header = (
        "# How these extracts map onto coacheval's data contract (coacheval validate --config).\n"
        "# Written by coacheval simulate --messy, as a quality analyst would write it once.\n"
    )
    path.write_text(
        header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    return path


# ------------------------------------------------------------------------------------- HR
def _write_hr_xlsx(
    hr: pd.DataFrame, path: Path, rng: np.random.Generator, problems: list[dict[str, Any]]
) -> Path:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    hr = hr.copy()
    file = path.name
    # A termination before hire: a terminated leader whose termination date is moved before hire.
    terminated = np.flatnonzero(hr.termination_date.to_numpy() != "")
    bad = int(rng.choice(terminated))
    hire = date.fromisoformat(hr.hire_date.iloc[bad])
    bad_term = (hire - timedelta(days=int(rng.integers(30, 400)))).isoformat()
    hr.loc[bad, "termination_date"] = bad_term
    # A duplicated row, placed right after the original (as an HR report join duplicates it).
    dup = int(rng.choice(np.setdiff1d(np.arange(len(hr)), [bad])))
    order = np.insert(np.arange(len(hr)), dup + 1, dup)
    hr = hr.iloc[order].reset_index(drop=True)

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Leaders")
    ws.append([HR_COLUMNS[c] for c in hr.columns])
    id_cols = ("employee_id", "manager_id")
    for i, row in enumerate(hr.itertuples(index=False)):
        sheet_row = i + 2
        values: list[Any] = []
        for col, value in zip(hr.columns, row, strict=True):
            if col in id_cols and value != "":
                number = int(value)
                if value.startswith("0"):
                    problems.append(
                        _problem(
                            file,
                            sheet_row,
                            HR_COLUMNS[col],
                            number,
                            "leading_zeros_lost",
                            f"id {value} stored as the number {number}",
                        )
                    )
                values.append(number)
            elif col == "hire_date":
                cell = WriteOnlyCell(ws, value=date.fromisoformat(value))
                cell.number_format = "mm/dd/yyyy"
                values.append(cell)
            elif col == "termination_date":
                values.append(us_date(value) if value else None)
            elif value == "":
                values.append(None)
            else:
                values.append(value)
        ws.append(values)
    bad_row = int(np.flatnonzero(order == bad)[0]) + 2
    problems.append(
        _problem(
            file,
            bad_row,
            HR_COLUMNS["termination_date"],
            us_date(bad_term),
            "termination_before_hire",
            f"termination {bad_term} is before hire {hire.isoformat()}",
        )
    )
    problems.append(
        _problem(file, dup + 3, "", "", "duplicate_row", f"row {dup + 3} repeats row {dup + 2}")
    )
    wb.properties.creator = "HRIS export"
    wb.properties.created = datetime(2020, 1, 1)
    wb.properties.modified = datetime(2020, 1, 1)
    buffer = io.BytesIO()
    wb.save(buffer)
    _write_deterministic_zip(buffer.getvalue(), path)
    return path


def _write_deterministic_zip(data: bytes, path: Path) -> None:
    """Rewrite a zip (xlsx) with fixed member timestamps so equal content gives equal bytes."""
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                # openpyxl stamps the save time into "modified": pin it.
                content = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>2020-01-01T00:00:00Z\g<2>",
                    content,
                )
            fixed = zipfile.ZipInfo(info.filename, date_time=_FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            dst.writestr(fixed, content)


# ------------------------------------------------------------------------------- Qualtrics
def _write_qualtrics(
    system: SimulatedSystem,
    wave_id: str,
    path: Path,
    rng: np.random.Generator,
    problems: list[dict[str, Any]],
    roster_ids: set[str],
) -> Path:
    ex = system.extracts
    file = path.name
    resp = ex["survey_responses"]
    resp = resp[resp.wave_id == wave_id].reset_index(drop=True)
    hr = ex["hr_roster"].set_index("employee_id")
    items = list(resp.columns[3:])
    item_info = {}
    qid = 1
    for inst in system.instruments.values():
        for k, item in enumerate(inst.items):
            if item.id in items:
                text = (
                    item.text
                    or f"[{inst.short_name} item {k + 1}: wording supplied under your licence]"
                )
                item_info[item.id] = (
                    inst,
                    f"{inst.short_name} - {text}",
                    f'{{"ImportId":"QID{qid}_{k + 1}"}}',
                )
        qid += 1

    n = len(resp)
    answered = resp[items].notna().to_numpy()
    last = np.where(answered.any(axis=1), len(items) - np.argmax(answered[:, ::-1], axis=1), 0)
    progress = np.round(100 * last / len(items)).astype(int)
    day = pd.to_datetime(resp.response_date).to_numpy()
    start_sec = rng.integers(6 * 3600, 21 * 3600, size=n)
    duration = rng.integers(240, 1500, size=n)
    rows: list[list[str]] = []
    for i in range(n):
        start = pd.Timestamp(day[i]) + pd.Timedelta(seconds=int(start_sec[i]))
        end = start + pd.Timedelta(seconds=int(duration[i]))
        emp = resp.employee_id.iloc[i]
        name = str(hr.employee_name.get(emp, "Unknown, Unknown"))
        last_name, _, first_name = name.partition(", ")
        meta = [
            start.strftime("%Y-%m-%d %H:%M:%S"),
            end.strftime("%Y-%m-%d %H:%M:%S"),
            "IP Address",
            f"198.51.100.{int(rng.integers(1, 255))}",
            str(progress[i]),
            str(int(duration[i])),
            "True" if progress[i] == 100 else "False",
            end.strftime("%Y-%m-%d %H:%M:%S"),
            "R_"
            + "".join(
                rng.choice(list("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"), 15)
            ),
            last_name,
            first_name,
            str(hr.work_email.get(emp, "")),
            emp,
            f"{44.9 + rng.normal(0, 0.4):.4f}",
            f"{-93.2 + rng.normal(0, 0.6):.4f}",
            "email",
            "EN",
        ]
        answers = []
        for col in items:
            value = resp[col].iloc[i]
            if pd.isna(value):
                answers.append("")
            else:
                answers.append(item_info[col][0].item_labels(col)[int(value)])
        rows.append(meta + answers)
    columns = [m[0] for m in QUALTRICS_META] + items
    n_meta = len(QUALTRICS_META)

    # Out-of-range answers: a numeric code outside the scale in a label column.
    for _ in range(2 if n > 10 else 0):
        i = int(rng.integers(n))
        j = int(rng.integers(len(items)))
        inst = item_info[items[j]][0]
        value = str(int(rng.choice([inst.scale_max + 1, 99, inst.scale_max + 2])))
        rows[i][n_meta + j] = value
        problems.append(
            _problem(
                file,
                0,
                items[j],
                value,
                "out_of_range",
                f"{value} is not a response option of {inst.short_name} "
                f"({inst.scale_min}-{inst.scale_max})",
            )
            | {"_row_index": i}
        )
    # A respondent who is not in the roster.
    if n > 10:
        i = int(rng.integers(n))
        while True:
            ghost = f"{int(rng.integers(1, 9_000_000)):07d}"
            if ghost not in roster_ids:
                break
        rows[i][columns.index("ExternalReference")] = ghost
        rows[i][columns.index("RecipientEmail")] = ""
        problems.append(
            _problem(
                file,
                0,
                "ExternalReference",
                ghost,
                "respondent_not_in_roster",
                f"employee id {ghost} is not in the HR roster",
            )
            | {"_row_index": i}
        )
    # A survey preview (a test by the survey administrator), inserted at a random position.
    preview_at = int(rng.integers(n + 1))
    preview = list(rows[min(preview_at, n - 1)]) if n else [""] * len(columns)
    preview[columns.index("Status")] = "Survey Preview"
    for col in (
        "RecipientLastName",
        "RecipientFirstName",
        "RecipientEmail",
        "ExternalReference",
        "IPAddress",
    ):
        preview[columns.index(col)] = ""
    rows.insert(preview_at, preview)
    index_map = [*range(preview_at), -1, *range(preview_at, n)]
    # Duplicated responses: the same line exported twice.
    dup_positions = sorted(rng.choice(len(rows), size=min(1, len(rows)), replace=False).tolist())
    final_rows: list[list[str]] = []
    final_index: list[int] = []
    duplicated_lines: list[int] = []
    for pos, row in enumerate(rows):
        final_rows.append(row)
        final_index.append(index_map[pos])
        if pos in dup_positions and index_map[pos] >= 0:
            final_rows.append(list(row))
            final_index.append(-2)
            duplicated_lines.append(len(final_rows) + QUALTRICS_HEADER_ROWS)
    line_of = {
        idx: pos + QUALTRICS_HEADER_ROWS + 1 for pos, idx in enumerate(final_index) if idx >= 0
    }
    for p in problems:
        if p.get("file") == file and "_row_index" in p:
            p["row"] = line_of[p.pop("_row_index")]
    preview_line = final_index.index(-1) + QUALTRICS_HEADER_ROWS + 1
    problems.append(
        _problem(
            file,
            preview_line,
            "Status",
            "Survey Preview",
            "survey_preview",
            "a preview by the survey administrator, not a respondent",
        )
    )
    for line in duplicated_lines:
        problems.append(
            _problem(file, line, "", "", "duplicate_row", f"line {line} repeats line {line - 1}")
        )

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerow([m[1] for m in QUALTRICS_META] + [item_info[c][1] for c in items])
    writer.writerow([m[2] for m in QUALTRICS_META] + [item_info[c][2] for c in items])
    writer.writerows(final_rows)
    path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))
    return path


# ------------------------------------------------------------------------------ attendance
def _write_attendance(
    att: pd.DataFrame, path: Path, rng: np.random.Generator, problems: list[dict[str, Any]]
) -> Path:
    picks = np.sort(rng.choice(len(att), size=min(2, len(att)), replace=False))
    order = np.arange(len(att))
    for shift, p in enumerate(picks):
        order = np.insert(order, p + 1 + shift, p)
    out = att.iloc[order].reset_index(drop=True)
    write_csv(out, path)
    for shift, p in enumerate(picks):
        line = p + shift + 3  # header is line 1; the original sits on line p + shift + 2
        problems.append(
            _problem(
                path.name, line, "", "", "duplicate_row", f"line {line} repeats line {line - 1}"
            )
        )
    return path
