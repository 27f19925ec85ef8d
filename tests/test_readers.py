"""Readers: formats, encodings and what they note about their decisions."""

from __future__ import annotations

import datetime

import openpyxl
import pandas as pd
import pytest

from coacheval.errors import ConfigError
from coacheval.io.readers import read_any, read_excel, read_parquet, read_qualtrics


def test_parquet_is_read_as_text_with_record_numbers(tmp_path):
    path = tmp_path / "hr_roster.parquet"
    pd.DataFrame(
        {
            "employee_id": ["0012", "0013"],
            "hire_date": pd.to_datetime(["2020-01-31", "2021-02-01"]),
            "fte": [1.0, 0.9],
        }
    ).to_parquet(path)
    table = read_parquet(path)
    assert table.frame.to_dict("list") == {
        "employee_id": ["0012", "0013"],
        "hire_date": ["2020-01-31", "2021-02-01"],
        "fte": ["1", "0.9"],
    }
    assert table.row_numbers.tolist() == [1, 2]


def test_excel_sheet_choice_and_missing_sheet(tmp_path):
    path = tmp_path / "hr.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.title = "Notes"
    sheet = workbook.create_sheet("Leaders")
    sheet.append(["Employee ID", "Hire Date"])
    sheet.append([12, datetime.datetime(2020, 5, 4)])
    workbook.save(path)
    assert read_excel(path, sheet="Leaders").frame.to_dict("list") == {
        "Employee ID": ["12"],
        "Hire Date": ["2020-05-04"],
    }
    with pytest.raises(ConfigError, match="no sheet 'HR'; sheets: Notes, Leaders"):
        read_excel(path, sheet="HR")


def test_legacy_qualtrics_export(tmp_path):
    path = tmp_path / "legacy.csv"
    path.write_text(
        "V1,V2,V3,V4,V5,V6,V7,V8,V9,V10,Q1,\n"
        "ResponseID,ResponseSet,Name,ExternalDataReference,EmailAddress,IPAddress,Status,StartDate,EndDate,"
        "Finished,How satisfied?,\n"
        'R_1,Default,"Lee, Ann",0042,ann@x.example,198.51.100.7,0,2023-04-03 10:00:00,2023-04-03 10:05:00,1,'
        "Agree,\n",
        encoding="utf-8",
    )
    table = read_any(path)
    assert "legacy" in " ".join(table.notes)
    assert table.frame.to_dict("records") == [
        {
            "response_date": "2023-04-03",
            "employee_id": "0042",
            "qualtrics_status": "0",
            "How satisfied?": "Agree",
        }
    ]
    assert "Lee, Ann" not in table.frame.to_numpy().ravel().tolist()
    assert "ann@x.example" not in table.frame.to_numpy().ravel().tolist()
    assert table.row_numbers.tolist() == [3]


def test_unsupported_and_missing_files(tmp_path):
    with pytest.raises(ConfigError, match="unsupported file type"):
        read_any(tmp_path / "x.pdf")
    with pytest.raises(ConfigError, match="cannot read the file"):
        read_any(tmp_path / "missing.csv")


def test_qualtrics_reader_drops_personal_metadata(messy_pair):
    _, messy = messy_pair
    table = read_qualtrics(messy / "survey_W1_qualtrics.csv")
    assert {
        "IPAddress",
        "RecipientEmail",
        "RecipientFirstName",
        "RecipientLastName",
        "LocationLatitude",
        "LocationLongitude",
    }.isdisjoint(table.frame.columns)
    assert table.row_numbers[0] == 4
