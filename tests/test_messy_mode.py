"""Messy mode: the injected problems are exactly those listed in truth.json.

Each messy file is read here independently (openpyxl, csv, plain decoding) and compared, row by
row, with the clean extract of the same system; every difference found must be a listed problem
and every listed problem must be found.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime

import openpyxl
import pandas as pd
import pytest
import yaml


def _listed(messy_dir, file):
    truth = json.loads((messy_dir / "truth.json").read_text(encoding="utf-8"))
    return {
        (p["file"], p["row"], p["column"], p["kind"])
        for p in truth["injected_problems"]
        if p["file"] == file
    }


def _us_to_iso(text):
    return datetime.strptime(text, "%m/%d/%Y").date().isoformat()


def test_hr_workbook_differs_from_clean_only_where_listed(messy_pair, default_system):
    _, messy = messy_pair
    config = yaml.safe_load((messy / "extracts.yaml").read_text(encoding="utf-8"))
    column_map = {name: label for label, name in config["tables"]["hr_roster"]["columns"].items()}
    clean = default_system.extracts["hr_roster"]
    workbook = openpyxl.load_workbook(messy / "hr_roster.xlsx", read_only=True)
    rows = list(workbook["Leaders"].iter_rows(values_only=True))
    workbook.close()
    header = rows[0]
    assert list(header) == [column_map[c] for c in clean.columns]
    found = set()
    clean_pos = 0
    previous = None
    for sheet_row, values in enumerate(rows[1:], start=2):
        if values == previous:
            found.add(("hr_roster.xlsx", sheet_row, "", "duplicate_row"))
            continue
        previous = values
        expected = clean.iloc[clean_pos]
        clean_pos += 1
        for col, value in zip(clean.columns, values, strict=True):
            want = expected[col]
            label = column_map[col]
            if col in ("employee_id", "manager_id") and want != "":
                assert value == int(want)
                if want.startswith("0"):
                    found.add(("hr_roster.xlsx", sheet_row, label, "leading_zeros_lost"))
            elif col == "hire_date":
                assert isinstance(value, (datetime, date)) and value.date().isoformat() == want
            elif col == "termination_date":
                got = _us_to_iso(value) if value else ""
                if got != want:
                    assert got < expected["hire_date"]
                    found.add(("hr_roster.xlsx", sheet_row, label, "termination_before_hire"))
            else:
                assert (value if value is not None else "") == want or value == pytest.approx(want)
    assert clean_pos == len(clean)
    assert found == _listed(messy, "hr_roster.xlsx")


@pytest.mark.parametrize("wave", ["W1", "W4", "W8"])
def test_qualtrics_exports_differ_from_clean_only_where_listed(messy_pair, default_system, wave):
    _, messy = messy_pair
    file = f"survey_{wave}_qualtrics.csv"
    raw = (messy / file).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in raw
    lines = list(csv.reader(io.StringIO(raw[3:].decode("utf-8"), newline="")))
    header, _question_text, import_ids = lines[:3]
    assert header[:3] == ["StartDate", "EndDate", "Status"]
    assert import_ids[0].startswith('{"ImportId"')
    assert {"RecipientEmail", "IPAddress", "ExternalReference"} <= set(header)
    clean = default_system.extracts["survey_responses"]
    clean = clean[clean.wave_id == wave].reset_index(drop=True)
    roster = set(default_system.extracts["hr_roster"].employee_id)
    items = list(clean.columns[3:])
    labels = {}
    for inst in default_system.instruments.values():
        for item in inst.items:
            labels[item.id] = (
                inst,
                {text: code for code, text in inst.item_labels(item.id).items()},
            )
    found = set()
    pos = 0
    previous = None
    for line_no, row in enumerate(lines[3:], start=4):
        record = dict(zip(header, row, strict=True))
        if row == previous:
            found.add((file, line_no, "", "duplicate_row"))
            continue
        previous = row
        if record["Status"] == "Survey Preview":
            found.add((file, line_no, "Status", "survey_preview"))
            continue
        assert record["Status"] == "IP Address"
        expected = clean.iloc[pos]
        pos += 1
        if record["ExternalReference"] != expected.employee_id:
            assert record["ExternalReference"] not in roster
            found.add((file, line_no, "ExternalReference", "respondent_not_in_roster"))
        assert record["StartDate"].startswith(expected.response_date)
        for item in items:
            text = record[item]
            want = expected[item]
            if text == "":
                assert pd.isna(want)
                continue
            inst, codes = labels[item]
            if text in codes:
                assert codes[text] == want
            else:
                assert not inst.scale_min <= int(text) <= inst.scale_max
                found.add((file, line_no, item, "out_of_range"))
    assert pos == len(clean)
    assert found == _listed(messy, file)


def test_attendance_duplicates_are_exactly_those_listed(messy_pair, default_system):
    _, messy = messy_pair
    lines = (messy / "attendance.csv").read_text(encoding="utf-8").splitlines()
    found = {
        ("attendance.csv", i + 1, "", "duplicate_row")
        for i in range(2, len(lines))
        if lines[i] == lines[i - 1]
    }
    assert found == _listed(messy, "attendance.csv")
    deduplicated = [line for i, line in enumerate(lines) if i == 0 or line != lines[i - 1]]
    clean = (messy_pair[0] / "attendance.csv").read_text(encoding="utf-8").splitlines()
    assert deduplicated == clean


def test_other_messy_files_only_change_format(messy_pair):
    clean, messy = messy_pair
    groups = (messy / "peer_groups.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        groups.decode("utf-8")
    assert groups.decode("cp1252") == (clean / "peer_groups.csv").read_text(encoding="utf-8")
    cohorts_messy = pd.read_csv(messy / "program_cohorts.csv", dtype=str)
    cohorts_clean = pd.read_csv(clean / "program_cohorts.csv", dtype=str)
    for col in ("recruitment_open_date", "start_date", "end_date"):
        assert cohorts_messy[col].map(_us_to_iso).tolist() == cohorts_clean[col].tolist()
    for name in ("enrolment.csv", "sessions.csv", "survey_waves.csv", "program_costs.csv"):
        assert (messy / name).read_bytes() == (clean / name).read_bytes()


def test_every_listed_problem_names_file_row_column_and_kind(messy_pair):
    _, messy = messy_pair
    truth = json.loads((messy / "truth.json").read_text(encoding="utf-8"))
    kinds = {p["kind"] for p in truth["injected_problems"]}
    assert {
        "termination_before_hire",
        "duplicate_row",
        "out_of_range",
        "respondent_not_in_roster",
        "survey_preview",
        "leading_zeros_lost",
    } <= kinds
    for problem in truth["injected_problems"]:
        assert (messy / problem["file"]).exists()
        assert problem["row"] >= 2 and problem["description"]
    assert truth["mode"] == "messy"
    assert set(truth["files"]) == {p.name for p in messy.iterdir()} - {"truth.json"}
