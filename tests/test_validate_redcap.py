"""A REDCap survey export validated end to end: dictionary-driven, identifiers dropped, linked."""

from __future__ import annotations

import csv

from coacheval.io.config import ExtractConfig
from coacheval.io.pseudonymise import PseudonymKey
from coacheval.io.validate import validate_folder
from coacheval.simulate import simulate_health_system

KEY = PseudonymKey(b"redcap-test-key-0123456789")
LABELS = {
    1: "Strongly disagree",
    2: "Disagree",
    3: "Slightly disagree",
    4: "Neither agree nor disagree",
    5: "Slightly agree",
    6: "Agree",
    7: "Strongly agree",
}


def _write(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)


def test_redcap_labels_export_is_validated_and_linked(tmp_path):
    system = simulate_health_system(seed=41, n_leaders=120)
    folder = tmp_path / "extracts"
    system.write(folder)
    (folder / "survey_responses.csv").unlink()
    roster_ids = list(system.extracts["hr_roster"].employee_id[:3])
    wave = system.extracts["survey_waves"].iloc[0]
    choices = " | ".join(f"{k}, {v}" for k, v in LABELS.items())
    dictionary = [
        [
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
        ],
        [
            "record_id",
            "survey",
            "",
            "text",
            "Employee ID",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        [
            "full_name",
            "survey",
            "",
            "text",
            "Name",
            "",
            "",
            "",
            "",
            "",
            "y",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        [
            "response_day",
            "survey",
            "",
            "text",
            "Date",
            "",
            "",
            "date_mdy",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        *[
            [
                f"jss_{i}",
                "survey",
                "",
                "radio",
                f"Item {i}",
                choices,
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
            ]
            for i in (1, 2, 3)
        ],
    ]
    _write(folder / "redcap_dictionary.csv", dictionary)
    day = f"{wave.open_date[5:7]}-{wave.open_date[8:10]}-{wave.open_date[:4]}"
    _write(
        folder / "survey_redcap_export.csv",
        [
            ["record_id", "full_name", "response_day", "jss_1", "jss_2", "jss_3"],
            [roster_ids[0], "Lee, Ann", day, "Agree", "Disagree", "Strongly agree"],
            [roster_ids[1], "Kim, Jo", day, "6", "2", "Somewhat"],
            [roster_ids[2], "Diaz, Ana", day, "Agree", "Agree", "Agree"],
        ],
    )
    config = ExtractConfig.from_mapping(
        {
            "tables": {
                "survey_responses": {
                    "files": ["survey_redcap_export.csv"],
                    "format": "redcap",
                    "dictionary": "redcap_dictionary.csv",
                    "columns": {"record_id": "employee_id", "response_day": "response_date"},
                }
            }
        }
    )
    report = validate_folder(folder, key=KEY, config=config)
    table = report.tables["survey_responses"]
    assert (table.rows_in, table.rows_clean, table.rows_quarantined) == (3, 3, 0)
    assert table.clean["jss_1"].tolist() == [6, 6, 6]
    assert table.clean["wave_id"].tolist() == [wave.wave_id] * 3
    assert set(table.clean.employee_id) == {KEY.pseudonym(i) for i in roster_ids}
    (problem,) = [p for p in table.problems if p.rule == "item_value"]
    assert (problem.row, problem.column, problem.value) == (3, "jss_3", "Somewhat")
    assert pd_has_no(table, "Lee, Ann")


def pd_has_no(table, text):
    return all(text not in str(v) for v in table.clean.to_numpy().ravel()) and all(
        text not in p.message + p.value for p in table.problems
    )
