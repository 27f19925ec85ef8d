"""REDCap and SPSS readers: identifiers dropped, labels back to codes, dates, missing values."""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from coacheval.errors import ConfigError
from coacheval.io.raw import RawTable
from coacheval.io.redcap import DICTIONARY_COLUMNS, read_redcap
from coacheval.io.spss import read_spss, spss_value_labels

FORMATS = Path(__file__).parent / "data" / "formats"
DICTIONARY = FORMATS / "redcap_dictionary.csv"
RAW = FORMATS / "redcap_raw.csv"
LABELS = FORMATS / "redcap_labels.csv"  # raw headers, label values, UTF-8 with BOM, CRLF
LABEL_HEADER = FORMATS / "redcap_labels_header.csv"  # the web interface's "labels" export
EXPORTS = [RAW, LABELS, LABEL_HEADER]

# Synthetic personal data written into the identifier fields of the fixtures.
PII = [
    "Alex Example",
    "Sam Sample",
    "Robin Placeholder",
    "alex.example@example.org",
    "sam.sample@example.org",
    "robin.placeholder@example.org",
]
# Columns whose text the reader converts (dates, decimal commas).
CONVERTED = {"role_start", "last_session", "coaching_hours"}


def _all_text(table: RawTable) -> list[str]:
    """Every piece of text a RawTable carries: cells, column names and labels, notes."""
    cells = [v for v in table.frame.to_numpy().ravel() if v is not None]
    return [
        *cells,
        *table.frame.columns,
        *table.column_labels.values(),
        *table.notes,
        *(p.message for p in table.rejected),
    ]


def _assert_text_cells(table: RawTable) -> None:
    assert all(dtype == np.dtype(object) for dtype in table.frame.dtypes)
    assert all(v is None or isinstance(v, str) for v in table.frame.to_numpy().ravel())


def _write_dictionary(path: Path, rows: list[dict[str, str]]) -> Path:
    """Write an 18-column REDCap data dictionary; rows give the non-empty cells by column."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=DICTIONARY_COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _field(name: str, field_type: str = "text", **cells: str) -> dict[str, str]:
    return {
        "Variable / Field Name": name,
        "Form Name": "survey",
        "Field Type": field_type,
        "Field Label": cells.pop("label", name),
        **cells,
    }


# ------------------------------------------------------------------------------------------
# REDCap


@pytest.mark.parametrize("export", EXPORTS, ids=lambda p: p.stem)
def test_identifier_fields_are_dropped_and_their_values_absent(export):
    table = read_redcap(export, DICTIONARY)
    assert {"full_name", "email"}.isdisjoint(table.frame.columns)
    text = "\n".join(_all_text(table))
    for value in PII:
        assert value not in text
    dropped = [note for note in table.notes if note.startswith("dropped identifier field")]
    assert dropped == [
        "dropped identifier field 'full_name' (Identifier? = y in the data dictionary)",
        "dropped identifier field 'email' (Identifier? = y in the data dictionary)",
    ]


@pytest.mark.parametrize("export", EXPORTS, ids=lambda p: p.stem)
def test_every_cell_is_text_or_none(export):
    table = read_redcap(export, DICTIONARY)
    _assert_text_cells(table)
    assert table.source == export.name
    assert table.rejected == []
    assert table.frame.loc[0, "comments"] is None  # an empty cell


def test_raw_export_keeps_its_codes():
    table = read_redcap(RAW, DICTIONARY)
    assert 'export looks like "raw" (33 codes, 0 choice labels in coded fields); codes kept' in (
        table.notes
    )
    with RAW.open(newline="", encoding="utf-8") as handle:
        cells = pd.DataFrame(list(csv.DictReader(handle)), dtype=object)
    for column in table.frame.columns.difference(sorted(CONVERTED)):
        expected = [v if v != "" else None for v in cells[column]]
        assert table.frame[column].tolist() == expected, column
    assert table.frame["jss_1"].tolist() == ["6", "4", "3", "7"]
    assert table.frame["jss_3"].tolist() == ["7", "5", "9", "7"]  # 9 is no code: kept for later


@pytest.mark.parametrize("export", [LABELS, LABEL_HEADER], ids=lambda p: p.stem)
def test_labels_are_mapped_back_to_codes(export):
    raw = read_redcap(RAW, DICTIONARY).frame
    table = read_redcap(export, DICTIONARY)
    assert any(note.startswith('export looks like "labels"') for note in table.notes)
    labelled = table.frame
    assert list(labelled.columns) == list(raw.columns)
    # Event names are labels REDCap's dictionary cannot map; everything else matches the raw file.
    others = [c for c in raw.columns if c != "redcap_event_name"]
    pd.testing.assert_frame_equal(labelled[others], raw[others])
    assert labelled["wave"].tolist() == ["1", "1", "1", "2"]  # dropdown
    assert labelled["jss_1"].tolist() == ["6", "4", "3", "7"]  # radio; " Strongly agree " -> 7
    assert labelled["topics___3"].tolist() == ["1", "0", "0", "1"]  # Checked / Unchecked
    assert labelled["consent_share"].tolist() == ["1", "0", None, "1"]  # Yes / No
    assert labelled["coaching_survey_complete"].tolist() == ["2", "2", "0", "2"]
    assert labelled["jss_3"].tolist() == ["7", "5", "9", "7"]  # neither code nor label: kept
    assert labelled["redcap_event_name"].iloc[0] == "Baseline (Arm 1: Arm 1)"


def test_label_header_gets_variable_names_and_keeps_the_header_text():
    table = read_redcap(LABEL_HEADER, DICTIONARY)
    assert table.column_labels["record_id"] == "Record ID"
    assert table.column_labels["topics___2"] == "Topics discussed (choice=Difficult conversations)"
    assert table.column_labels["coaching_survey_complete"] == "Complete?"
    assert table.label("jss_2") == "Job satisfaction item 2"
    assert any("the header holds field labels; 22 of 22" in note for note in table.notes)


def test_raw_header_column_labels_are_the_header():
    table = read_redcap(RAW, DICTIONARY)
    assert table.column_labels == {c: c for c in table.frame.columns}


def test_redcap_bookkeeping_columns_are_kept():
    columns = read_redcap(RAW, DICTIONARY).frame.columns
    for column in (
        "redcap_event_name",
        "redcap_repeat_instrument",
        "redcap_repeat_instance",
        "coaching_survey_timestamp",
        "coaching_survey_complete",
        "topics___1",
        "topics___2",
        "topics___3",
    ):
        assert column in columns
    timestamps = read_redcap(RAW, DICTIONARY).frame["coaching_survey_timestamp"]
    assert timestamps[2] == "[not completed]"


def test_dates_become_iso_text():
    frame = read_redcap(RAW, DICTIONARY).frame
    # date_mdy: US dates converted, an ISO date kept, an impossible date left as it is.
    assert frame["role_start"].tolist() == ["2019-03-15", "2021-11-30", "2020-07-01", "13/45/2019"]
    assert frame["last_session"].tolist() == ["2024-03-02", "2024-02-28", None, "2023-12-31"]
    assert frame["response_date"].tolist() == [
        "2024-03-04",
        "2024-03-05",
        "2024-03-06",
        "2024-09-10",
    ]


@pytest.mark.parametrize(
    ("validation", "value", "expected"),
    [
        ("date_mdy", "03/15/2024", "2024-03-15"),
        ("date_mdy", "3-5-2024", "2024-03-05"),
        ("date_mdy", "2024-03-15", "2024-03-15"),
        ("date_mdy", "15/03/2024", "15/03/2024"),
        ("date_mdy", "03/15/24", "03/15/24"),
        ("date_dmy", "15.03.2024", "2024-03-15"),
        ("date_dmy", "29/02/2023", "29/02/2023"),
        ("date_ymd", "2024/03/15", "2024/03/15"),
        ("datetime_mdy", "03/15/2024 09:05", "2024-03-15 09:05"),
        ("datetime_seconds_dmy", "15/03/2024 09:05:59", "2024-03-15 09:05:59"),
        ("date_mdy", "not yet", "not yet"),
    ],
)
def test_date_validations(tmp_path, validation, value, expected):
    dictionary = _write_dictionary(
        tmp_path / "dictionary.csv",
        [
            _field("record_id"),
            _field("when", **{"Text Validation Type OR Show Slider Number": validation}),
        ],
    )
    data = tmp_path / "data.csv"
    data.write_text(f"record_id,when\n1,{value}\n", encoding="utf-8")
    assert read_redcap(data, dictionary).frame.loc[0, "when"] == expected


def test_decimal_commas_become_points():
    table = read_redcap(RAW, DICTIONARY)
    assert table.frame["coaching_hours"].tolist() == ["2.5", "3.25", None, "12"]
    assert "coaching_hours: 1 decimal comma(s) replaced by points" in table.notes


def test_european_export_with_semicolons(tmp_path):
    dictionary = _write_dictionary(
        tmp_path / "dictionary.csv",
        [
            _field("record_id"),
            _field("hours", **{"Text Validation Type OR Show Slider Number": "number"}),
            _field("bmi", "calc"),
            _field("code", **{"Text Validation Type OR Show Slider Number": "integer"}),
        ],
    )
    data = tmp_path / "data.csv"
    data.write_text("record_id;hours;bmi;code\n1;3,5;22,1;7\n2;-0,25;;1,5\n", encoding="utf-8")
    table = read_redcap(data, dictionary)
    assert table.frame["hours"].tolist() == ["3.5", "-0.25"]
    assert table.frame["bmi"].tolist() == ["22.1", None]
    assert table.frame["code"].tolist() == ["7", "1,5"]  # not a number field: left for validation
    assert "semicolon-delimited (detected from the header)" in table.notes


def test_row_numbers_are_text_editor_lines():
    # The second record holds a comment on two lines, so the third record starts on line 5.
    for export in EXPORTS:
        assert read_redcap(export, DICTIONARY).row_numbers.tolist() == [2, 3, 5, 6]


def test_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
    with_bom = tmp_path / "with_bom.csv"
    with_bom.write_bytes(b"\xef\xbb\xbf" + RAW.read_bytes())
    table = read_redcap(with_bom, DICTIONARY)
    assert table.frame.columns[0] == "record_id"
    assert "read as UTF-8 (with byte-order mark)" in table.notes
    pd.testing.assert_frame_equal(table.frame, read_redcap(RAW, DICTIONARY).frame)
    assert read_redcap(LABELS, DICTIONARY).frame.columns[0] == "record_id"


def test_row_with_wrong_cell_count_is_rejected_without_its_values(tmp_path):
    dictionary = _write_dictionary(
        tmp_path / "dictionary.csv", [_field("record_id"), _field("answer")]
    )
    data = tmp_path / "data.csv"
    data.write_text("record_id,answer\n1,yes\n2\n\n3,no\n", encoding="utf-8")
    table = read_redcap(data, dictionary, table="enrolment")
    assert table.frame["record_id"].tolist() == ["1", "3"]
    assert table.row_numbers.tolist() == [2, 5]
    assert table.rows_in == 3
    (problem,) = table.rejected
    assert (problem.table, problem.file, problem.row, problem.value) == (
        "enrolment",
        "data.csv",
        3,
        "",
    )
    assert (problem.rule, problem.action) == ("field_count", "quarantined")


def test_unclosed_quote_rejects_the_rest_of_the_file(tmp_path):
    dictionary = _write_dictionary(
        tmp_path / "dictionary.csv", [_field("record_id"), _field("answer")]
    )
    data = tmp_path / "data.csv"
    data.write_text('record_id,answer\n1,yes\n2,"no\n3,maybe\n', encoding="utf-8")
    table = read_redcap(data, dictionary)
    assert table.frame["record_id"].tolist() == ["1"]
    (problem,) = table.rejected
    assert (problem.row, problem.rule, problem.value) == (3, "unreadable_line", "")


def test_api_metadata_dictionary_is_accepted(tmp_path):
    dictionary = tmp_path / "metadata.csv"
    dictionary.write_text(
        "field_name,form_name,field_type,field_label,select_choices_or_calculations,"
        "text_validation_type_or_show_slider_number,identifier\n"
        "record_id,survey,text,Record ID,,,\n"
        "phone,survey,text,Phone,,phone,y\n"
        'mood,survey,radio,Mood,"1, Good | 2, Bad",,\n',
        encoding="utf-8",
    )
    data = tmp_path / "data.csv"
    data.write_text("record_id,phone,mood\n1,555-0100,Bad\n2,555-0101,Good\n", encoding="utf-8")
    table = read_redcap(data, dictionary)
    assert table.frame.to_dict("list") == {"record_id": ["1", "2"], "mood": ["2", "1"]}


def test_columns_missing_from_the_dictionary_are_kept_and_reported(tmp_path):
    dictionary = _write_dictionary(tmp_path / "dictionary.csv", [_field("record_id")])
    data = tmp_path / "data.csv"
    data.write_text("record_id,extra\n1,x\n", encoding="utf-8")
    table = read_redcap(data, dictionary)
    assert table.frame["extra"].tolist() == ["x"]
    assert "columns not in the data dictionary (kept): extra" in table.notes
    assert 'export looks like "raw" (no coded values to tell from); values kept' in table.notes


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found (the REDCap data export)"),
        (b"", "the file is empty"),
        (b"\xef\xbb\xbf\r\n", "the file has no header row"),
        (b"\xef\xbb\xbfrecord_id\n\xff\n", "byte-order mark but is not valid UTF-8"),
    ],
    ids=["missing", "empty", "bom-only", "bom-not-utf8"],
)
def test_unreadable_data_file_raises_config_error_naming_it(tmp_path, content, message):
    data = tmp_path / "survey_export.csv"
    if content is not None:
        data.write_bytes(content)
    with pytest.raises(ConfigError, match=rf"survey_export\.csv: .*{re.escape(message)}"):
        read_redcap(data, DICTIONARY)


def test_missing_dictionary_raises_config_error_naming_it(tmp_path):
    with pytest.raises(
        ConfigError, match=r"no_dictionary\.csv: file not found \(the data dictionary\)"
    ):
        read_redcap(RAW, tmp_path / "no_dictionary.csv")


def test_dictionary_without_field_names_raises_config_error(tmp_path):
    dictionary = tmp_path / "not_a_dictionary.csv"
    dictionary.write_text("name,type\nrecord_id,text\n", encoding="utf-8")
    with pytest.raises(
        ConfigError,
        match=re.escape("not_a_dictionary.csv: not a REDCap data dictionary: its header has no "),
    ):
        read_redcap(RAW, dictionary)


def test_dictionary_with_an_unreadable_line_raises_config_error(tmp_path):
    dictionary = _write_dictionary(tmp_path / "dictionary.csv", [_field("record_id")])
    with dictionary.open("a", encoding="utf-8") as handle:
        handle.write("email,survey,,text\n")  # a row cut short: is it an identifier?
    with pytest.raises(ConfigError, match=r"dictionary\.csv: .*cannot be read \(line 3\)"):
        read_redcap(RAW, dictionary)


def test_dictionary_of_another_project_raises_config_error(tmp_path):
    dictionary = _write_dictionary(
        tmp_path / "other.csv", [_field("patient_id"), _field("bp_systolic")]
    )
    with pytest.raises(ConfigError, match=r"redcap_raw\.csv: the data dictionary other\.csv"):
        read_redcap(RAW, dictionary)


# ------------------------------------------------------------------------------------------
# SPSS

SPSS_LABELS = {
    1: "Strongly disagree",
    2: "Disagree",
    3: "Agree",
    8: "Not applicable",
    9: "No answer",
}


@pytest.fixture
def sav_path(tmp_path) -> Path:
    frame = pd.DataFrame(
        {
            "employee_id": ["E0001", "E0002", "E0003", "E0004"],
            "q1": [1.0, 8.0, 3.0, 9.0],
            "q2": [2.0, np.nan, 9.0, 3.0],
            "hours": [2.5, 0.0, np.nan, 12.0],
            "response_date": [dt.date(2024, 3, 4), dt.date(2024, 3, 5), None, dt.date(2024, 9, 10)],
            "submitted": [
                dt.datetime(2024, 3, 4, 9, 15, 22),
                dt.datetime(2024, 3, 5, 14, 2, 10),
                None,
                dt.datetime(2024, 9, 10, 8, 0, 0),
            ],
            "comment": ["Fine", "", "Two words", "n/a"],
        }
    )
    path = tmp_path / "survey_wave1.sav"
    pyreadstat.write_sav(
        frame,
        path,
        column_labels={"q1": "Item one", "q2": "Item two"},
        variable_value_labels={"q1": SPSS_LABELS, "q2": SPSS_LABELS},
        missing_ranges={"q1": [8, 9], "q2": [{"lo": 8, "hi": 9}], "comment": ["n/a"]},
    )
    return path


def test_spss_codes_are_text_without_decimals(sav_path):
    table = read_spss(sav_path)
    _assert_text_cells(table)
    assert table.frame["q1"].tolist() == ["1", None, "3", None]
    assert table.frame["hours"].tolist() == ["2.5", "0", None, "12"]
    assert table.frame["employee_id"].tolist() == ["E0001", "E0002", "E0003", "E0004"]
    assert table.source == "survey_wave1.sav"
    assert table.column_labels["q1"] == "q1"


def test_spss_user_missing_values_become_none(sav_path):
    table = read_spss(sav_path)
    assert table.frame["q1"].tolist() == ["1", None, "3", None]  # 8 and 9 are user-missing
    assert table.frame["q2"].tolist() == ["2", None, None, "3"]  # system-missing and range 8-9
    assert table.frame["comment"].tolist() == ["Fine", None, "Two words", None]
    assert "q1: 2 user-missing value(s) (8, 9) set to None" in table.notes
    assert "q2: 1 user-missing value(s) (8 to 9) set to None" in table.notes


def test_spss_value_labels_are_reported(sav_path):
    notes = read_spss(sav_path).notes
    expected = (
        "value labels of q1: 1=Strongly disagree, 2=Disagree, 3=Agree, 8=Not applicable, "
        "9=No answer"
    )
    assert expected in notes
    assert spss_value_labels(sav_path) == {"q1": SPSS_LABELS, "q2": SPSS_LABELS}


def test_spss_dates_become_iso_text(sav_path):
    frame = read_spss(sav_path).frame
    assert frame["response_date"].tolist() == ["2024-03-04", "2024-03-05", None, "2024-09-10"]
    assert frame["submitted"].tolist() == [
        "2024-03-04 09:15:22",
        "2024-03-05 14:02:10",
        None,
        "2024-09-10 08:00:00",
    ]


def test_spss_row_numbers_are_case_numbers(sav_path):
    assert read_spss(sav_path).row_numbers.tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        (b"", "the SPSS file is empty"),
        (b"record_id,q1\n1,2\n", "not a readable SPSS .sav file"),
    ],
    ids=["missing", "empty", "csv-renamed"],
)
@pytest.mark.parametrize("reader", [read_spss, spss_value_labels])
def test_unreadable_spss_file_raises_config_error_naming_it(tmp_path, reader, content, message):
    path = tmp_path / "wave2.sav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=rf"wave2\.sav: {re.escape(message)}"):
        reader(path)
