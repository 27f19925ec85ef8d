"""The data contract is one source: schemas drive validation, the dictionary and the simulator."""

from __future__ import annotations

import json

import pytest

from coacheval.cli import main
from coacheval.errors import ConfigError
from coacheval.io.config import ExtractConfig
from coacheval.io.dictionary import data_dictionary_markdown, markdown_to_html
from coacheval.io.rules import RULES
from coacheval.io.schema import FIELD_TYPES, load_table_schema, load_table_schemas

SCHEMAS = load_table_schemas()


def test_every_extract_of_the_design_has_a_schema():
    assert {
        "hr_roster",
        "hr_snapshot",
        "program_cohorts",
        "peer_groups",
        "enrolment",
        "sessions",
        "attendance",
        "survey_waves",
        "survey_responses",
        "goals",
        "program_costs",
        "unit_staffing",
        "rollout_assignment",
    } == set(SCHEMAS)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schema_is_complete_and_consistent(name):
    spec = SCHEMAS[name]
    assert spec.description and spec.title
    for f in spec.fields:
        assert f.type in FIELD_TYPES and f.description, f.name
    assert set(spec.primary_key) <= set(spec.field_names)
    for fk in spec.foreign_keys:
        assert set(fk.fields) <= set(spec.field_names)
        assert set(fk.reference_fields) <= set(SCHEMAS[fk.resource].field_names)
    for rule in spec.rules:
        assert rule.name in RULES and rule.severity in ("error", "warning")


def test_simulator_writes_exactly_the_contract_columns(default_system):
    for name, frame in default_system.extracts.items():
        columns = list(frame.columns)
        if name == "survey_responses":
            simulated = {scale.instrument for scale in default_system.config.scales.values()}
            items = [i for name in simulated for i in default_system.instruments[name].item_ids]
            assert sorted(columns[3:]) == sorted(items)
            columns = columns[:3]
        assert columns == list(SCHEMAS[name].field_names), name


def test_simulated_snapshots_follow_the_snapshot_schema(default_system):
    from coacheval.simulate.writing import snapshot_frames

    frame = next(iter(snapshot_frames(default_system).values()))
    assert list(frame.columns) == list(SCHEMAS["hr_snapshot"].field_names)


def test_data_dictionary_lists_every_field_and_instrument(default_system):
    text = data_dictionary_markdown()
    for spec in SCHEMAS.values():
        for f in spec.fields:
            assert f"`{f.name}`" in text
    for inst in default_system.instruments.values():
        assert inst.short_name in text
    page = markdown_to_html(text)
    assert page.count("<table>") >= len(SCHEMAS) and "<script" not in page


def test_schema_command_writes_markdown_and_html(tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        main(["schema", "--out", str(tmp_path)])
    assert done.value.code == 0
    assert (
        (tmp_path / "data_dictionary.md")
        .read_text(encoding="utf-8")
        .startswith("# coacheval data dictionary")
    )
    assert (tmp_path / "data_dictionary.html").exists()
    with pytest.raises(SystemExit) as done:
        main(["schema", "no_such_table"])
    assert done.value.code == 2 and "unknown table" in capsys.readouterr().err


def test_malformed_schema_file_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps({"name": "x", "fields": [{"name": "a", "type": "money"}]}), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="type must be one of"):
        load_table_schema(path)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read table schema"):
        load_table_schema(path)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"date_order": "ydm"}, "date_order must be 'mdy' or 'dmy'"),
        ({"tables": {"payroll": {}}}, "unknown table 'payroll'"),
        ({"tables": {"hr_roster": {"colour": 1}}}, "unknown key(s) colour"),
        ({"id_width": 0}, "id_width must be"),
        ({"max_quarantine_share": 2}, "max_quarantine_share must be"),
        ({"tables": {"survey_responses": {"format": "redcap"}}}, "needs its data dictionary"),
        ({"whatever": 1}, "unknown key(s) whatever"),
    ],
)
def test_extract_config_errors_name_the_key(mapping, message):
    with pytest.raises(ConfigError) as info:
        ExtractConfig.from_mapping(mapping)
    assert message in str(info.value)
