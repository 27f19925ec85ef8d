"""Validation of bad inputs: every case ends in a clear message or a stated, tested handling."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coacheval.io.config import ExtractConfig
from coacheval.io.pseudonymise import PseudonymKey
from coacheval.io.schema import load_table_schemas
from coacheval.io.validate import validate_folder

CORPUS = Path(__file__).parent / "data" / "bad_inputs"
KEY = PseudonymKey(b"a-test-key-of-some-length")


def _validate(tmp_path: Path, name: str, **config) -> object:
    folder = tmp_path / "extracts"
    folder.mkdir()
    shutil.copy(CORPUS / name, folder / f"hr_roster{Path(name).suffix}")
    report = validate_folder(folder, key=KEY, config=ExtractConfig.from_mapping(config))
    table = report.tables["hr_roster"]
    assert table.rows_in == table.rows_clean + table.rows_quarantined
    return table


def _rules(table):
    return {(p.rule, p.severity) for p in table.problems}


def test_empty_file_is_unusable_with_a_message(tmp_path):
    table = _validate(tmp_path, "empty.csv")
    assert table.rows_in == 0 and "the file is empty" in table.unusable_reason


def test_header_only_file_is_unusable(tmp_path):
    table = _validate(tmp_path, "header_only.csv")
    assert table.rows_in == 0 and table.unusable_reason == "the file has a header but no data rows"


def test_binary_file_is_refused_with_a_message(tmp_path):
    table = _validate(tmp_path, "binary_garbage.csv")
    assert "not a text CSV" in table.unusable_reason


def test_semicolon_delimited_file_is_read(tmp_path):
    table = _validate(tmp_path, "semicolon_delimited.csv")
    assert table.rows_clean == 3
    assert any("semicolon-delimited" in n for n in table.notes)


def test_truncated_last_line_is_quarantined_with_its_line_number(tmp_path):
    table = _validate(tmp_path, "truncated_last_line.csv")
    assert (table.rows_clean, table.rows_quarantined) == (2, 1)
    (problem,) = table.errors
    assert problem.rule == "field_count" and problem.row == 4 and "truncated" in problem.message
    assert problem.value == ""  # never the raw line


def test_mixed_date_formats_are_read_when_one_value_proves_the_order(tmp_path):
    table = _validate(tmp_path, "mixed_date_formats.csv")
    assert table.rows_clean == 3
    assert table.clean["hire_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2019-03-01",
        "2020-07-15",
        "2018-03-04",
    ]
    assert any("read as MM/DD/YYYY (row 3" in n for n in table.notes)


def test_ambiguous_dates_are_not_guessed(tmp_path):
    table = _validate(tmp_path, "ambiguous_us_dates.csv")
    assert table.rows_quarantined == 3
    assert {p.rule for p in table.errors} == {"ambiguous_date"}
    assert all("set date_order" in p.message for p in table.errors)


def test_ambiguous_dates_are_read_with_a_stated_order(tmp_path):
    table = _validate(tmp_path, "ambiguous_us_dates.csv", date_order="dmy")
    assert table.rows_clean == 3
    assert table.clean["hire_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2019-01-03",
        "2020-05-07",
        "2018-02-01",
    ]


def test_excel_serial_dates_in_a_csv_are_converted(tmp_path):
    table = _validate(tmp_path, "excel_serial_dates.csv")
    assert table.rows_clean == 3
    assert table.clean["hire_date"].iloc[0] == pd.Timestamp("2019-03-01")
    assert any("Excel serial" in n for n in table.notes)


def test_excel_workbook_with_numeric_ids_and_serial_dates(tmp_path):
    table = _validate(tmp_path, "excel_numeric_ids_and_serials.xlsx", id_width=7)
    assert table.rows_clean == 2
    assert table.clean["hire_date"].dt.strftime("%Y-%m-%d").tolist() == ["2019-03-01", "2020-07-15"]
    repaired = [p for p in table.warnings if p.rule == "leading_zeros_restored"]
    assert [p.row for p in repaired] == [2, 3]
    assert table.clean["employee_id"].tolist() == [
        KEY.pseudonym("0001234"),
        KEY.pseudonym("0001235"),
    ]


def test_utf8_bom_is_handled(tmp_path):
    table = _validate(tmp_path, "utf8_bom.csv")
    assert table.rows_clean == 3 and "employee_id" in table.clean


def test_windows_1252_file_is_read(tmp_path):
    table = _validate(tmp_path, "windows1252_names.csv")
    assert table.rows_clean == 3
    assert any("Windows-1252" in n for n in table.notes)


def test_text_in_a_numeric_column_quarantines_the_row(tmp_path):
    table = _validate(tmp_path, "text_in_numeric_column.csv")
    (problem,) = table.errors
    assert (problem.row, problem.column, problem.value, problem.rule) == (
        2,
        "fte",
        "full time",
        "number",
    )
    assert table.rows_clean == 2


def test_duplicate_keys_quarantine_the_later_row(tmp_path):
    table = _validate(tmp_path, "duplicate_keys.csv")
    (problem,) = table.errors
    assert problem.rule == "duplicate_key" and problem.row == 5
    assert table.rows_clean == 3


def test_missing_required_column_makes_the_table_unusable(tmp_path):
    table = _validate(tmp_path, "missing_required_column.csv")
    assert table.rows_clean == 0 and table.rows_quarantined == 3
    assert {p.rule for p in table.errors} == {"missing_column"}
    assert "'hire_date'" in table.errors[0].message
    assert table.unusable_reason


def test_unknown_columns_are_dropped_with_a_warning_and_personal_data_never_kept(tmp_path):
    table = _validate(tmp_path, "extra_unknown_columns.csv")
    assert table.rows_clean == 3
    dropped = {p.column: p.message for p in table.warnings if p.rule == "unknown_column"}
    assert set(dropped) == {"shift", "personal_email"}
    assert "personal data" in dropped["personal_email"]
    assert "shift" not in table.clean and "personal_email" not in table.clean


def test_crlf_line_ends_and_blank_lines(tmp_path):
    table = _validate(tmp_path, "crlf_and_blank_lines.csv")
    assert table.rows_clean == 3
    assert table.clean["_row"].tolist() == [2, 4, 6]


def test_quoted_newline_keeps_row_numbers_true(tmp_path):
    table = _validate(tmp_path, "quoted_newline_in_field.csv")
    assert table.rows_clean == 3
    assert table.clean["_row"].tolist() == [2, 4, 5]


SCHEMAS = load_table_schemas()
cell = st.one_of(
    st.just(""),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        max_size=12,
    ),
    st.sampled_from(
        [
            "2020-01-31",
            "13/01/2020",
            "01/13/2020",
            "2020-02-30",
            "44000",
            "nurse_manager",
            "1.0",
            "-3",
            "director",
            "F01",
            "0001234",
            "abc",
            "Y",
            "N",
            "W1",
            "C1",
            "program",
            "60",
        ]
    ),
)
row = st.lists(cell, min_size=0, max_size=12)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    table=st.sampled_from(
        ["hr_roster", "attendance", "sessions", "survey_waves", "survey_responses"]
    ),
    rows=st.lists(row, min_size=0, max_size=25),
)
def test_rows_in_always_equal_clean_plus_quarantined(tmp_path_factory, table, rows):
    """Property: whatever the rows (ragged, junk, duplicates), every row of every table is accounted for."""
    import csv

    folder = tmp_path_factory.mktemp("prop")
    header = list(SCHEMAS[table].field_names)[:10]
    with open(folder / f"{table}.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    report = validate_folder(folder, key=KEY)
    result = report.tables[table]
    assert result.rows_in == result.rows_clean + result.rows_quarantined
    written_rows = sum(1 for r in rows if any(r))
    assert result.rows_in == written_rows
    assert set(result.quarantine["_row"]).isdisjoint(set(result.clean["_row"]))
