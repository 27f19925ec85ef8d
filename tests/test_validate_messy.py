"""Validation of the simulator's messy extracts: every injected problem is found, where it is."""

from __future__ import annotations

import json

import pytest

from coacheval.io.config import ExtractConfig
from coacheval.io.pseudonymise import PseudonymKey
from coacheval.io.validate import validate_folder

# How each injected problem must be reported: (rule, severity, action).
EXPECTED = {
    "leading_zeros_lost": ("leading_zeros_restored", "warning", "repaired"),
    "termination_before_hire": ("termination_not_before_hire", "error", "quarantined"),
    "duplicate_row": ("duplicate_row", "error", "quarantined"),
    "out_of_range": ("item_value", "error", "value removed"),
    "respondent_not_in_roster": ("foreign_key", "error", "quarantined"),
    "survey_preview": ("not_a_response", "error", "quarantined"),
}


@pytest.fixture(scope="module")
def messy_validation(messy_pair):
    _, messy = messy_pair
    config = ExtractConfig.from_yaml(messy / "extracts.yaml")
    report = validate_folder(messy, key=PseudonymKey(b"test-key-for-messy-mode!"), config=config)
    truth = json.loads((messy / "truth.json").read_text(encoding="utf-8"))
    return report, truth["injected_problems"]


def _all_problems(report):
    return [p for t in report.tables.values() for p in t.problems]


def test_every_injected_problem_is_reported_at_its_file_row_and_column(messy_validation):
    report, injected = messy_validation
    reported = {
        (p.file, p.row, p.column, p.rule, p.severity, p.action) for p in _all_problems(report)
    }
    for problem in injected:
        rule, severity, action = EXPECTED[problem["kind"]]
        key = (problem["file"], problem["row"], problem["column"], rule, severity, action)
        assert key in reported, problem


def test_no_clean_row_is_quarantined(messy_validation):
    report, injected = messy_validation
    injected_rows = {(p["file"], p["row"]) for p in injected}
    for table in report.tables.values():
        for file, row in zip(table.quarantine["_file"], table.quarantine["_row"], strict=True):
            assert (file, int(row)) in injected_rows, (table.name, file, row)
    quarantined_kinds = {
        "termination_before_hire",
        "duplicate_row",
        "respondent_not_in_roster",
        "survey_preview",
    }
    expected = {(p["file"], p["row"]) for p in injected if p["kind"] in quarantined_kinds}
    actual = {
        (f, int(r))
        for t in report.tables.values()
        for f, r in zip(t.quarantine["_file"], t.quarantine["_row"], strict=True)
    }
    assert actual == expected


def test_rows_in_equal_clean_plus_quarantined(messy_validation):
    report, _ = messy_validation
    for table in report.tables.values():
        assert table.rows_in == table.rows_clean + table.rows_quarantined
    assert report.usable


def test_every_reported_error_is_an_injected_problem(messy_validation):
    """No false alarms: errors are only where problems were injected."""
    report, injected = messy_validation
    injected_rows = {(p["file"], p["row"]) for p in injected}
    for p in _all_problems(report):
        if p.severity == "error":
            assert (p.file, p.row) in injected_rows, p
