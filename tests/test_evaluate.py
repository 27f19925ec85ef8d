"""Analysis plans and the evaluate pipeline (Python and CLI)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from coacheval.cli import main
from coacheval.errors import ConfigError
from coacheval.evaluate.plan import load_plan, parse_plan
from coacheval.evaluate.run import ESTIMATE_TABLE_COLUMNS

REQUIRED = {
    "analysis",
    "outcome",
    "estimand",
    "method",
    "term",
    "estimate",
    "std_error",
    "conf_low",
    "conf_high",
    "p_value",
    "q_value",
    "n",
    "n_clusters",
}


@pytest.mark.parametrize("name", ["default", "single_arm"])
def test_shipped_plans_are_valid(name):
    plan = load_plan(name)
    assert plan.name == name and len(plan.hash) == 64


def test_plan_hash_changes_with_any_setting():
    plan = load_plan("default")
    changed = plan.model_copy(update={"seed": plan.seed + 1})
    assert changed.hash != plan.hash
    assert load_plan("default").hash == plan.hash


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"design": {"type": "rct"}}, "design.type: Input should be"),
        ({"outcomes": ["happiness"]}, "unknown outcome(s) happiness"),
        ({"covariates": ["shoe_size"]}, "unknown covariate(s) shoe_size"),
        ({"inference": {"level": 1.5}}, "inference.level"),
        ({"colour": "blue"}, "colour: unknown setting"),
        ({"methods": {"primary": "pre_post"}}, "pre_post ignores the comparison group"),
        ({"design": {"type": "single_arm"}}, "single_arm design has no comparison group"),
    ],
)
def test_invalid_plans_give_every_problem_by_field(change, message):
    base = {"name": "x", "design": {"type": "staggered_did"}, "outcomes": ["work_engagement"]}
    with pytest.raises(ConfigError) as info:
        parse_plan({**base, **change})
    assert message in str(info.value)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, default_system):
    folder = tmp_path_factory.mktemp("extracts")
    default_system.write(folder)
    out = tmp_path_factory.mktemp("out")
    with pytest.raises(SystemExit) as done:
        main(["evaluate", str(folder), "--out", str(out), "--key-file", str(out / "key")])
    assert done.value.code == 0
    return default_system, out


def test_evaluate_writes_the_tidy_estimates_table(evaluated):
    _, out = evaluated
    estimates = pd.read_csv(out / "estimates.csv")
    assert REQUIRED <= set(estimates.columns) and list(estimates.columns) == list(
        ESTIMATE_TABLE_COLUMNS
    )
    primary = estimates[(estimates.method == "did_dr") & (estimates.term == "ATT (overall)")]
    assert set(primary.outcome) == set(load_plan("default").outcomes)
    assert (
        primary.q_value.notna().all() and (primary.n > 0).all() and (primary.n_clusters > 1).all()
    )
    assert (primary.conf_low < primary.estimate).all() and (
        primary.estimate < primary.conf_high
    ).all()
    assert (out / "figures" / "event_study_work_engagement.png").exists()


def test_results_json_records_provenance(evaluated):
    _, out = evaluated
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    provenance = results["provenance"]
    assert (
        provenance["plan_hash"] == load_plan("default").hash
        and provenance["seed"] == load_plan("default").seed
    )
    assert (
        "hr_roster.csv" in provenance["data_hashes"]
        and len(provenance["data_hashes"]["hr_roster.csv"]) == 64
    )
    assert "did_dr:work_engagement" in results["diagnostics"]
    attrition = results["diagnostics"]["attrition:last wave"]["response"]
    assert {row["group"] for row in attrition} >= {"Participants", "Comparison"}


def test_primary_estimates_carry_e_values(evaluated):
    _, out = evaluated
    estimates = pd.read_csv(out / "estimates.csv")
    primary = estimates[(estimates.method == "did_dr") & (estimates.term == "ATT (overall)")]
    assert (primary.evalue_point >= 1).all() and (primary.evalue_ci >= 1).all()
    assert (primary.evalue_ci <= primary.evalue_point).all()


def test_naive_comparison_is_reported_beside_the_design_based_estimate(evaluated):
    _, out = evaluated
    estimates = pd.read_csv(out / "estimates.csv")
    naive = estimates[estimates.method == "naive_post"]
    assert len(naive) == len(load_plan("default").outcomes)
    assert naive.estimand.str.contains("biased by selection").all()


def test_single_arm_plan_reports_the_weakest_design(tmp_path, default_system, capsys):
    default_system.write(tmp_path / "x")
    with pytest.raises(SystemExit) as done:
        main(
            [
                "evaluate",
                str(tmp_path / "x"),
                "--plan",
                "single_arm",
                "--out",
                str(tmp_path / "o"),
                "--key-file",
                str(tmp_path / "k"),
            ]
        )
    assert done.value.code == 0
    estimates = pd.read_csv(tmp_path / "o" / "estimates.csv")
    assert (estimates.method == "pre_post").all() and estimates.design.str.contains(
        "weakest design"
    ).all()
    assert "weakest design" in capsys.readouterr().out


def test_evaluate_with_a_bad_plan_exits_two(tmp_path, default_system, capsys):
    default_system.write(tmp_path / "x")
    plan = tmp_path / "plan.yaml"
    plan.write_text("name: x\ndesign: {type: rct}\noutcomes: [work_engagement]\n", encoding="utf-8")
    with pytest.raises(SystemExit) as done:
        main(
            [
                "evaluate",
                str(tmp_path / "x"),
                "--plan",
                str(plan),
                "--out",
                str(tmp_path / "o"),
                "--key-file",
                str(tmp_path / "k"),
            ]
        )
    assert done.value.code == 2
    assert "design.type" in capsys.readouterr().err


def test_secondary_analyses_are_all_reported(evaluated):
    _, out = evaluated
    estimates = pd.read_csv(out / "estimates.csv")
    methods = set(estimates.method)
    assert {
        "did_reg",
        "did_ipw",
        "ps_att",
        "aipw",
        "twfe",
        "mixed",
        "dose_response",
        "multiple_imputation",
        "complete_case",
        "naive_post",
    } <= methods
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert any("twfe" in n and "staggered" in n for n in results["notes"])
    bands = estimates[
        (estimates.method == "dose_response") & (estimates.outcome == "work_engagement")
    ]
    assert len(bands) == 2 and bands.term.str.startswith("dose band").all()
