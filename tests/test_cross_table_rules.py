"""Cross-table and cross-column rules, each broken on purpose in an otherwise clean system."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from coacheval.io.pseudonymise import PseudonymKey
from coacheval.io.validate import validate_folder
from coacheval.simulate import simulate_health_system

KEY = PseudonymKey(b"rules-test-key-0123456789")


@pytest.fixture(scope="module")
def clean_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clean")
    simulate_health_system(seed=31, n_leaders=300).write(folder)
    return folder


def _corrupt(clean_folder, tmp_path, table, change):
    folder = tmp_path / "x"
    shutil.copytree(clean_folder, folder)
    path = folder / f"{table}.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    row = change(frame)
    frame.to_csv(path, index=False)
    report = validate_folder(folder, key=KEY)
    return report, row + 2  # the file row of the changed data row


def _first_enrolee(frame):
    return 0


def test_enrolment_before_hire_is_an_error(clean_folder, tmp_path):
    def change(frame):
        frame.loc[0, "enrol_date"] = "1950-01-01"  # before anyone was hired
        return 0

    report, row = _corrupt(clean_folder, tmp_path, "enrolment", change)
    errors = [p for p in report.tables["enrolment"].errors if p.row == row]
    assert {p.rule for p in errors} == {"enrolment_during_employment"}


def test_group_of_the_wrong_cohort_is_an_error(clean_folder, tmp_path):
    def change(frame):
        other = frame.cohort_id[frame.cohort_id != frame.cohort_id[0]].iloc[0]
        frame.loc[0, "cohort_id"] = other
        return 0

    report, row = _corrupt(clean_folder, tmp_path, "enrolment", change)
    rules = {p.rule for p in report.tables["enrolment"].errors if p.row == row}
    assert "group_in_cohort" in rules


def test_group_size_outside_the_program_definition_is_a_warning(clean_folder, tmp_path):
    def change(frame):
        group = frame.group_id[0]
        frame.loc[frame.group_id == group, "group_id"] = frame.group_id[
            frame.group_id != group
        ].iloc[0]
        return 0

    report, _ = _corrupt(clean_folder, tmp_path, "enrolment", change)
    table = report.tables["enrolment"]
    assert any(p.rule == "group_size" and p.severity == "warning" for p in table.problems)
    assert table.rows_quarantined == 0


def test_member_not_in_roster_is_an_error(clean_folder, tmp_path):
    def change(frame):
        frame.loc[3, "employee_id"] = "9999999"
        return 3

    report, row = _corrupt(clean_folder, tmp_path, "attendance", change)
    (problem,) = [p for p in report.tables["attendance"].errors if p.row == row]
    assert problem.rule == "foreign_key" and problem.column == "employee_id"
    assert problem.value != "9999999"  # reported as its pseudonym


def test_second_response_in_a_wave_is_quarantined(clean_folder, tmp_path):
    def change(frame):
        frame.loc[len(frame)] = frame.loc[5].copy()
        frame.loc[len(frame) - 1, "jss_1"] = "1" if frame.loc[5, "jss_1"] != "1" else "2"
        return len(frame) - 1

    report, row = _corrupt(clean_folder, tmp_path, "survey_responses", change)
    (problem,) = [p for p in report.tables["survey_responses"].errors if p.row == row]
    assert problem.rule == "duplicate_key"


def test_session_before_its_cohort_is_an_error_and_after_is_flagged(clean_folder, tmp_path):
    def change(frame):
        frame.loc[0, "session_date"] = "2001-01-01"
        program = frame.index[frame.phase == "program"]
        frame.loc[program[-1], "session_date"] = "2029-06-01"
        return 0

    report, row = _corrupt(clean_folder, tmp_path, "sessions", change)
    table = report.tables["sessions"]
    assert {p.rule for p in table.errors} == {"session_not_before_cohort"}
    assert [p.row for p in table.errors] == [row]
    assert any(
        p.rule == "session_after_program" and p.severity == "warning" for p in table.warnings
    )


def test_zero_day_tenure_is_a_warning_not_an_error(clean_folder, tmp_path):
    def change(frame):
        leaver = frame.index[frame.termination_date != ""][0]
        frame.loc[leaver, "termination_date"] = frame.loc[leaver, "hire_date"]
        return int(leaver)

    report, row = _corrupt(clean_folder, tmp_path, "hr_roster", change)
    table = report.tables["hr_roster"]
    assert any(
        p.rule == "zero_day_tenure" and p.row == row and p.severity == "warning"
        for p in table.problems
    )
    assert table.rows_quarantined == 0


def test_cohort_ending_before_it_starts_is_an_error(clean_folder, tmp_path):
    def change(frame):
        frame.loc[1, "end_date"] = "2000-01-01"
        return 1

    report, row = _corrupt(clean_folder, tmp_path, "program_cohorts", change)
    assert [(p.rule, p.row) for p in report.tables["program_cohorts"].errors] == [
        ("cohort_end_after_start", row)
    ]
