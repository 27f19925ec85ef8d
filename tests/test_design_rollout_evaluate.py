"""Evaluating a randomised rollout: the plan, the estimator wiring, and the evidence rating."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from coacheval.errors import ConfigError, DataValidationError
from coacheval.evaluate.plan import load_plan, parse_plan
from coacheval.evaluate.retention import retention_data
from coacheval.evaluate.rollout import randomised_rollout
from coacheval.evaluate.rollout_calibration import replicate_randomised
from coacheval.evaluate.run import evaluate
from coacheval.evidence.certainty import rate_certainty
from coacheval.io.pseudonymise import PseudonymKey
from coacheval.io.study import load_study
from coacheval.simulate import simulate_health_system

KEY = PseudonymKey(b"calibration-key-000000")
SEED = 3


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("randomised")
    system = simulate_health_system(seed=SEED, n_leaders=1000, rollout="randomised")
    system.write(out)
    return out


@pytest.fixture(scope="module")
def study(folder):
    return load_study(folder, key=KEY)


@pytest.fixture(scope="module")
def evaluation(study):
    return evaluate(study, load_plan("randomised"))


def _plan(**design):
    return {
        "name": "r",
        "design": {"type": "randomised_rollout", **design},
        "outcomes": ["burnout"],
    }


# ------------------------------------------------------------------------------- plan ---------
def test_shipped_plan_and_defaults():
    plan = load_plan("randomised")
    assert plan.design.type == "randomised_rollout"
    assert plan.design.comparison == "not_yet_treated"
    assert plan.design.assignment == "rollout/assignment.csv"
    assert plan.retention is not None and plan.retention.time_scale == "calendar"
    filled = parse_plan(_plan())
    assert (filled.design.comparison, filled.design.assignment) == (
        "not_yet_treated",
        "rollout/assignment.csv",
    )
    assert parse_plan(_plan(assignment="records/a.csv")).design.assignment == "records/a.csv"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_plan(comparison="never_treated"), "must be not_yet_treated"),
        ({**_plan(), "methods": {"primary": "pre_post"}}, "pre_post ignores the comparison"),
        (
            {**_plan(), "methods": {"primary": "did_dr", "secondary": ["naive_post", "aipw"]}},
            "naive_post, aipw compare participants",
        ),
        (_plan(assignment="/etc/assignment.csv"), "inside the extracts folder"),
        (_plan(assignment="../x/assignment.csv"), "inside the extracts folder"),
        (
            {
                "name": "s",
                "design": {"type": "staggered_did", "assignment": "rollout/assignment.csv"},
                "outcomes": ["burnout"],
            },
            "only by a randomised_rollout design",
        ),
    ],
)
def test_bad_randomised_plans_are_clear_errors(data, message):
    with pytest.raises(ConfigError, match=message):
        parse_plan(data)


def test_existing_plans_hash_as_before():
    """The new design.assignment setting is left out of the hash when unset."""
    for name in ("default", "single_arm"):
        plan = load_plan(name)
        data = plan.model_dump(mode="json")
        assert data["design"].pop("assignment") is None
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        assert plan.hash == hashlib.sha256(text.encode()).hexdigest()
    randomised = load_plan("randomised")
    other = randomised.model_copy(
        update={"design": randomised.design.model_copy(update={"assignment": "r/a.csv"})}
    )
    assert other.hash != randomised.hash


# ---------------------------------------------------------------------- the population ------
def test_randomised_population_and_itt_exposure(study, folder):
    plan = load_plan("randomised")
    r = randomised_rollout(study, plan)
    truth = json.loads((folder / "truth.json").read_text())["rollout"]
    assert r.label == f"randomised rollout (stepped wedge), seed {SEED}"
    assert len(r.leaders) == truth["randomised_leaders"]
    assert r.randomised_date == pd.Timestamp(truth["randomised_date"])
    enrolment = r.study.tables["enrolment"]
    assert len(enrolment) == len(r.leaders)  # everyone randomised, by assignment
    starts = study.tables["program_cohorts"].set_index("cohort_id").start_date
    assert (enrolment.enrol_date.to_numpy() == starts.loc[enrolment.cohort_id].to_numpy()).all()
    real = study.tables["enrolment"]
    waited_and_left = set(r.leaders.employee_id) - set(real.employee_id)
    assert len(waited_and_left) == sum(c["left_before_start"] for c in truth["cohorts"]) > 0
    data = retention_data(r.study, r.retention_plan(plan))
    assert set(data.rows.person) == set(r.leaders.employee_id)
    assert data.window_start == r.randomised_date
    left = data.rows[data.rows.person.isin(waited_and_left)]
    assert left.exposed.eq(0).all() and left.event.sum() == len(waited_and_left)


def test_the_record_must_match_the_extract(study, folder, tmp_path):
    plan = load_plan("randomised")
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    shutil.rmtree(copy / "rollout")
    with pytest.raises(ConfigError, match="cannot read the rollout"):
        randomised_rollout(load_study(copy, key=KEY), plan)
    shutil.copytree(folder / "rollout", copy / "rollout")
    extract = pd.read_csv(copy / "rollout_assignment.csv", dtype=str)
    group = extract.group_id.iloc[0]
    moved = "C3" if extract.cohort_id.iloc[0] != "C3" else "C1"
    extract.loc[extract.group_id == group, "cohort_id"] = moved
    extract.to_csv(copy / "rollout_assignment.csv", index=False)
    with pytest.raises(DataValidationError, match="differs from the randomisation record"):
        randomised_rollout(load_study(copy, key=KEY), plan)
    (copy / "rollout_assignment.csv").unlink()
    with pytest.raises(DataValidationError, match="needs the rollout_assignment extract"):
        randomised_rollout(load_study(copy, key=KEY), plan)


# ---------------------------------------------------------------------------- estimates -----
def test_end_to_end_evaluation_reports_the_randomised_design(evaluation, folder):
    e = evaluation.estimates
    label = f"randomised rollout (stepped wedge), seed {SEED}"
    primary = evaluation.primary()
    assert len(primary) == 6 and primary.design.str.startswith(label).all()
    assert primary.estimate.notna().all() and (primary.conf_low < primary.conf_high).all()
    truth = json.loads((folder / "truth.json").read_text())["rollout"]
    target = truth["survey_effects"]["target_att"]
    # One system: each primary interval should usually cover its target; allow one miss of six.
    covered = [row.conf_low <= target[row.outcome] <= row.conf_high for row in primary.itertuples()]
    assert sum(covered) >= 5
    cox = e[(e.analysis == "retention") & (e.method == "cox_tv")].iloc[0]
    assert cox.design.startswith(label) and "calendar time" in cox.design
    assert "started vs not yet started (randomised cohorts" in cox.estimand
    assert cox.n == truth["randomised_leaders"]
    assert evaluation.provenance["rollout"]["seed"] == SEED
    assert evaluation.provenance["rollout"]["method"].startswith("stratified permuted-block")
    assert any(n.startswith(f"Design: {label}") for n in evaluation.notes)


def test_did_uses_the_assigned_cohort_and_not_yet_started_comparisons(evaluation, study):
    result = evaluation.results[("did_dr", "work_engagement")]
    assert result.comparison == "not_yet_treated"
    post = result.table[result.table.post]
    waves = study.tables["survey_waves"].sort_values("open_date").reset_index(drop=True)
    last_start = study.tables["program_cohorts"].start_date.max()
    for row in post.itertuples():
        assert waves.open_date.iloc[row.period - 1] < last_start  # a cohort still waits
    assert len(post) == 3  # C1 at W2 and W3, C2 at W3


def test_evidence_rating_starts_high_for_the_randomised_design(evaluation):
    rating = rate_certainty(evaluation.estimates, evaluation.results, plan=evaluation.plan)
    rated = rating.table.set_index("outcome")
    for outcome in ("work_engagement", "voluntary turnover"):
        assert rated.loc[outcome, "start"] == "high"
        assert "randomised rollout" in rated.loc[outcome, "reasons"]


def test_results_json_records_the_randomisation(evaluation, tmp_path):
    evaluation.write(tmp_path)
    payload = json.loads((tmp_path / "results.json").read_text())
    assert payload["provenance"]["rollout"]["seed"] == SEED
    assert payload["plan"]["design"]["type"] == "randomised_rollout"
    assert (tmp_path / "figures" / "event_study_work_engagement.png").exists()


def test_calibration_replicate_matches_the_evaluation(evaluation):
    rows = pd.DataFrame(replicate_randomised(SEED, n_leaders=1000))
    e = evaluation.estimates
    did = e[(e.method == "did_dr") & (e.term == "ATT (overall)")].set_index("outcome")
    for row in rows[rows.method == "did_randomised"].itertuples():
        assert row.estimate == pytest.approx(did.loc[row.quantity, "estimate"], rel=1e-10)
    cox = e[(e.analysis == "retention") & (e.method == "cox_tv")].iloc[0]
    ours = rows[rows.method == "cox_randomised"].iloc[0]
    assert np.exp(ours.estimate) == pytest.approx(cox.estimate, rel=1e-10)


def test_the_volunteer_plan_still_runs_on_a_randomised_system(study):
    plan = load_plan("default")
    plan = plan.model_copy(
        update={
            "outcomes": ("work_engagement",),
            "methods": plan.methods.model_copy(update={"secondary": ()}),
        }
    )
    result = evaluate(study, plan)
    primary = result.primary()
    assert len(primary) == 1 and primary.design.iloc[0] == "staggered DiD (never_treated)"
    assert "rollout" not in result.provenance
