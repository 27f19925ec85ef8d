"""Retention in `coacheval evaluate`: the immortal-time trap, the plan section, the estimate rows."""

from __future__ import annotations

import numpy as np
import pytest

from coacheval.errors import ConfigError
from coacheval.evaluate.plan import load_plan, parse_plan
from coacheval.evaluate.retention import retention_estimates
from coacheval.evaluate.run import evaluate
from coacheval.io.pseudonymise import PseudonymKey
from coacheval.io.study import load_study
from coacheval.retention.rates import exact_poisson_interval
from coacheval.simulate import simulate_health_system

KEY = PseudonymKey(b"retention-tests-key-000000000000")


def _study(tmp_path, **overrides):
    system = simulate_health_system(**overrides)
    system.write(tmp_path)
    return system, load_study(tmp_path, key=KEY)


def test_ever_enrolled_manufactures_a_benefit_that_the_time_varying_model_does_not(tmp_path):
    # A null program (voluntary HR 1) in a system where enrolment does not depend on the
    # engagement trait, so that the only bias left to show is immortal time: leaders who enrol
    # late had to stay employed until they enrolled.
    system, study = _study(
        tmp_path, seed=7, n_leaders=3000, voluntary_hr=1.0, selection_engagement=0.0
    )
    assert system.truth["retention"]["true_effect"]["hazard_ratio"] == 1.0
    plan = load_plan("default")
    rows, _ = retention_estimates(study, plan, [])
    by = {(r["method"], r["outcome"]): r for r in rows}
    naive = by[("cox_ever_enrolled", "voluntary turnover")]
    tv = by[("cox_tv", "voluntary turnover")]
    assert naive["conf_high"] < 0.8  # a large, "significant" protective effect out of nothing
    assert naive["p_value"] < 1e-6
    assert tv["conf_low"] < 1 < tv["conf_high"]
    assert abs(np.log(tv["estimate"])) < 2 * tv["std_error"]


def test_retention_rows_in_the_evaluation_and_their_person_counts(tmp_path):
    system, study = _study(tmp_path, seed=12, n_leaders=400)
    evaluation = evaluate(study, load_plan("default"))
    e = evaluation.estimates
    ret = e[e.analysis == "retention"]
    assert set(ret.method) == {
        "cox_tv",
        "cox_ever_enrolled",
        "rate",
        "rate_ratio",
        "finegray",
        "finegray_landmark",
        "rmst_landmark",
        "rmst_landmark_ipw",
    }
    primary = ret[(ret.method == "cox_tv") & (ret.outcome == "voluntary turnover")].iloc[0]
    assert primary.conf_low < primary.estimate < primary.conf_high
    assert primary.n == len(study.tables["hr_roster"])
    rates = ret[ret.method == "rate"].set_index("term")
    assert rates.loc["enrolled", "n"] == len(study.tables["enrolment"])
    # Rates x person-years give back the exits the simulator recorded in the window.
    truth = system.truth["workforce"]["terminations_in_window_by_cause"]["voluntary"]
    exits = sum(int(d.split(" exits")[0]) for d in rates.design)
    assert exits == truth


def test_the_retention_section_is_validated_with_clear_messages():
    base = {"name": "x", "design": {"type": "staggered_did"}, "outcomes": ["work_engagement"]}
    with pytest.raises(ConfigError, match=r"retention\.covariates"):
        parse_plan({**base, "retention": {"covariates": ["engagement"]}})
    with pytest.raises(ConfigError, match=r"retention\.time_scale"):
        parse_plan({**base, "retention": {"time_scale": "age"}})
    with pytest.raises(ConfigError, match=r"retention\.cause_rules"):
        parse_plan({**base, "retention": {"cause_rules": {"fired": ["x"]}}})
    plan = parse_plan({**base, "retention": {"window_start": "2021-01-01"}})
    assert str(plan.retention.window_start) == "2021-01-01"
    assert parse_plan(base).retention is None


def test_exit_rates_use_the_exact_poisson_limits_of_r_poisson_test():
    # R 4.2.2: print(poisson.test(7, 250)$conf.int, digits = 10) gives 0.01125745221
    # 0.05769070145; poisson.test(0, 40) gives 0 0.09222198635. Quoted to 10 significant
    # digits, so the tolerance is 1e-9 relative (both use the same chi-square quantiles).
    ci = np.array([exact_poisson_interval(7, 250.0, 0.05), exact_poisson_interval(0, 40.0, 0.05)])
    np.testing.assert_allclose(ci[0], [0.01125745221, 0.05769070145], rtol=1e-9)
    np.testing.assert_allclose(ci[1], [0.0, 0.09222198635], rtol=1e-9, atol=0)


def test_baseline_score_adjustment_starts_follow_up_at_the_baseline_response(tmp_path):
    _, study = _study(tmp_path, seed=21, n_leaders=500)
    plan = load_plan("default")
    adjusted = plan.model_copy(
        update={
            "retention": plan.retention.model_copy(
                update={"baseline_scores": ("work_engagement", "burnout")}
            )
        }
    )
    notes: list[str] = []
    rows, results = retention_estimates(study, adjusted, notes)
    cox = results[("cox_tv", "voluntary turnover")]
    assert list(cox.coef.index) == [
        "exposed",
        *[c for c in cox.coef.index if c.startswith("role_")],
        "baseline_work_engagement",
        "baseline_burnout",
    ]
    responded = study.tables["survey_responses"].query("wave_id == 'W1'").employee_id.nunique()
    people = next(r["n"] for r in rows if r["method"] == "cox_tv")
    unadjusted = next(
        r["n"] for r in retention_estimates(study, plan, [])[0] if r["method"] == "cox_tv"
    )
    assert people < unadjusted and people <= responded
    assert any("follow-up starts at each leader's baseline response" in n for n in notes)
    with pytest.raises(ConfigError, match="unknown scale"):
        parse_plan(
            {
                "name": "x",
                "design": {"type": "staggered_did"},
                "outcomes": ["work_engagement"],
                "retention": {"baseline_scores": ["grit"]},
            }
        )
