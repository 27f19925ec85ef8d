"""Rule-based certainty rating (coacheval.evidence.certainty).

Each rule is triggered by a hand-built case and left alone by its near twin; a small simulated
system is evaluated and rated end to end, from the result objects and from results.json.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from coacheval.errors import DataValidationError
from coacheval.evaluate.plan import load_plan
from coacheval.evaluate.run import evaluate
from coacheval.evidence.certainty import LEVELS, RULES, rate_certainty
from coacheval.io.pseudonymise import PseudonymKey
from coacheval.io.study import load_study
from coacheval.simulate import simulate_health_system

DID = {
    "design": {"type": "staggered_did"},
    "methods": {"primary": "did_dr"},
    "retention": {"target_hazard_ratio": 0.85},
}


def survey_row(lo=-7.0, hi=-1.0, outcome="burnout", estimate=-4.0, sd=18.0):
    return {
        "analysis": "survey outcomes",
        "outcome": outcome,
        "method": "did_dr",
        "term": "ATT (overall)",
        "estimate": estimate,
        "conf_low": lo,
        "conf_high": hi,
        "p_value": 0.01,
        "baseline_sd": sd,
    }


def hr_row(estimate=0.7, lo=0.55, hi=0.9, outcome="voluntary turnover"):
    return {
        "analysis": "retention",
        "outcome": outcome,
        "method": "cox_tv",
        "term": "enrolled",
        "estimate": estimate,
        "conf_low": lo,
        "conf_high": hi,
    }


def rate(rows, diagnostics=None, plan=DID):
    return rate_certainty(pd.DataFrame(rows), diagnostics or {}, plan=plan)


def rules_hit(result, outcome):
    d = result.details
    return set(d[(d.outcome == outcome) & (d.change < 0)].rule)


# ------------------------------------------------------------------ start by design -----------


@pytest.mark.parametrize(
    ("design", "survey_start", "retention_start"),
    [
        ("randomised_rollout", "high", "high"),
        ("staggered_did", "moderate", "low"),
        ("single_arm", "very low", "low"),
    ],
)
def test_start_level_by_design(design, survey_start, retention_start):
    plan = {**DID, "design": {"type": design}}
    r = rate([survey_row(), hr_row()], plan=plan)
    start = r.table.set_index("outcome").start
    assert start["burnout"] == survey_start
    assert start["voluntary turnover"] == retention_start
    assert (r.table.level == r.table.start).all()  # nothing triggered
    assert r.table.reasons.str.startswith("starts ").all()


def spill_row(lo=0.6, hi=0.9):
    return {
        "analysis": "spillover",
        "outcome": "staff turnover",
        "method": "negative_binomial",
        "term": "coached",
        "estimate": 0.75,
        "conf_low": lo,
        "conf_high": hi,
    }


@pytest.mark.parametrize("design", ["randomised_rollout", "rct", "staggered_did", "single_arm"])
def test_spillover_starts_low_under_every_design(design):
    # The rollout randomises when leaders start, not which units have a coached leader.
    plan = {**DID, "design": {"type": design}}
    r = rate([survey_row(), hr_row(), spill_row()], plan=plan)
    t = r.table.set_index("outcome")
    assert t.loc["staff turnover", "start"] == "low"
    assert t.loc["staff turnover", "level"] == "low"  # nothing triggered
    assert "not randomised" in t.loc["staff turnover", "reasons"]
    if design in ("randomised_rollout", "rct"):
        assert t.loc["voluntary turnover", "start"] == "high"
        assert "which units have a coached leader" in t.loc["staff turnover", "reasons"]


# ------------------------------------------------------------------ imprecision ---------------


def test_interval_including_no_effect_downgrades_once():
    r = rate([survey_row(lo=-5.0, hi=0.5), survey_row(lo=-5.0, hi=-0.5, outcome="wellbeing")])
    t = r.table.set_index("outcome")
    assert t.loc["burnout", "level"] == "low"
    assert "includes no effect (0)" in t.loc["burnout", "reasons"]
    assert rules_hit(r, "wellbeing") == set()


def test_interval_reaching_benefit_and_harm_downgrades_twice():
    # MID = 0.2 x 18 = 3.6 points: (-5, 4) reaches both sides; (-5, 3) only one.
    r = rate(
        [
            survey_row(lo=-5.0, hi=4.0),
            survey_row(lo=-5.0, hi=3.0, outcome="job_satisfaction", sd=18.0),
        ]
    )
    assert rules_hit(r, "burnout") == {"includes_no_effect", "benefit_and_harm"}
    assert r.table.set_index("outcome").loc["burnout", "level"] == "very low"
    assert rules_hit(r, "job_satisfaction") == {"includes_no_effect"}


def test_wellbeing_uses_its_ten_point_mid_and_ratios_the_target_hr():
    r = rate([survey_row(lo=-9.0, hi=9.0, outcome="wellbeing", sd=1.0)])
    assert rules_hit(r, "wellbeing") == {"includes_no_effect"}  # 9 < 10-point MID
    wide = rate([hr_row(0.95, 0.80, 1.20)])
    narrow = rate([hr_row(0.95, 0.88, 1.10)])
    assert rules_hit(wide, "voluntary turnover") == {"includes_no_effect", "benefit_and_harm"}
    assert rules_hit(narrow, "voluntary turnover") == {"includes_no_effect"}


def power_diag(power):
    return {
        "power:voluntary turnover": {
            "table": [{"scenario": "target", "hazard_ratio": 0.85, "power": power}]
        }
    }


def test_underpowered_retention_is_too_small_to_answer():
    low = rate([hr_row()], power_diag(0.18))
    ok = rate([hr_row()], power_diag(0.83))
    assert "too small to answer: 18% power" in low.table.reasons.iloc[0]
    assert low.table.level.iloc[0] == "very low"
    assert rules_hit(ok, "voluntary turnover") == set()


def test_imprecision_is_capped_at_two_levels():
    r = rate([hr_row(0.95, 0.7, 1.3)], power_diag(0.2), plan={**DID, "design": {"type": "rct"}})
    assert r.table.downgrades.iloc[0] == 2 and r.table.level.iloc[0] == "low"
    d = r.details
    assert "not counted" in d[d.rule == "underpowered"].reason.iloc[0]


# ------------------------------------------------------------------ risk of bias --------------


def event_study(p_pre):
    aggs = [
        {"aggregation": "overall", "term": "ATT (overall)", "event_time": np.nan, "p_value": 0.01}
    ]
    aggs += [
        {
            "aggregation": "event_time",
            "term": f"ATT(e={-i - 1})",
            "event_time": -i - 1,
            "p_value": p,
        }
        for i, p in enumerate(p_pre)
    ]
    aggs += [{"aggregation": "event_time", "term": "ATT(e=0)", "event_time": 0, "p_value": 1e-6}]
    return {"did_dr:burnout": {"aggregations": aggs}}


def test_failed_pre_trends_downgrade_with_bonferroni():
    bad = rate([survey_row()], event_study([0.004, 0.6]))
    near = rate([survey_row()], event_study([0.04, 0.6]))  # 0.04 x 2 > 0.05
    assert "ATT(e=-1) differs from zero (p = 0.004" in bad.table.reasons.iloc[0]
    assert bad.table.level.iloc[0] == "low"
    assert rules_hit(near, "burnout") == set()  # post-period p = 1e-6 is ignored


def test_pre_trends_fall_back_on_the_estimate_rows():
    pre = {**survey_row(), "term": "ATT(e=-1)", "p_value": 0.001}
    r = rate([survey_row(), pre])
    assert rules_hit(r, "burnout") == {"pre_trends"}


def balance_note(bad):
    note = f"{bad} of 5 terms have |difference| >= 0.1 after weighting."
    return {"ps_att:burnout": {"table": [], "notes": ["ATT weights", note]}}


def test_imbalance_after_weighting_from_the_notes_and_from_objects():
    assert rules_hit(rate([survey_row()], balance_note(2)), "burnout") == {"imbalance"}
    assert rules_hit(rate([survey_row()], balance_note(0)), "burnout") == set()

    class Balance:
        def __init__(self, worst):
            self.max_abs_diff = worst

    class Weighted:
        def __init__(self, worst):
            self.balance = Balance(worst)
            self.notes = ()

    hit = rate([survey_row()], {("aipw", "burnout"): Weighted(0.14)})
    assert "max |SMD| 0.14 > 0.1" in hit.table.reasons.iloc[0]
    assert (
        rules_hit(rate([survey_row()], {("aipw", "burnout"): Weighted(0.05)}), "burnout") == set()
    )


def attrition(part, comp, overall):
    return {
        "attrition:last wave": {
            "response": [
                {"group": "Participants", "response_rate": part},
                {"group": "Comparison", "response_rate": comp},
                {"group": "All", "response_rate": overall},
            ]
        }
    }


@pytest.mark.parametrize(
    ("part", "comp", "overall", "hit"),
    [(0.49, 0.48, 0.487, True), (0.80, 0.65, 0.70, True), (0.72, 0.68, 0.70, False)],
)
def test_attrition_overall_or_differential(part, comp, overall, hit):
    r = rate([survey_row()], attrition(part, comp, overall))
    assert (rules_hit(r, "burnout") == {"attrition"}) is hit


def ph(p):
    return {
        "ph_test:voluntary turnover": {
            "table": [{"term": "exposed", "p_value": p}, {"term": "GLOBAL", "p_value": 0.9}]
        }
    }


def test_non_proportional_hazards_and_economics_inherit_retention_rules():
    roi = {
        "analysis": "economics",
        "outcome": "return on investment",
        "method": "roi",
        "term": "net_benefit",
        "estimate": 3.2e6,
        "conf_low": 1.0e5,
        "conf_high": 5.7e6,
    }
    bad = rate([hr_row(), roi], {**ph(0.025), **power_diag(0.9)})
    ok = rate([hr_row(), roi], {**ph(0.4), **power_diag(0.9)})
    assert rules_hit(bad, "voluntary turnover") == {"non_proportional_hazards"}
    assert rules_hit(bad, "return on investment") == {"non_proportional_hazards"}
    assert "p = 0.025" in bad.table.reasons.iloc[1]
    assert rules_hit(ok, "return on investment") == set()
    assert ok.table.level.tolist() == ["low", "low"]


def test_absent_diagnostics_are_listed_not_passed():
    r = rate([survey_row(), hr_row()])
    nc = r.table.set_index("outcome").not_checked
    assert set(nc["burnout"].split(", ")) == {"pre_trends", "imbalance", "attrition"}
    assert set(nc["voluntary turnover"].split(", ")) == {"underpowered", "non_proportional_hazards"}
    assert "not checked" in r.table.reasons.iloc[0]


def test_rules_table_and_summary_and_bad_input():
    r = rate([survey_row(lo=-5, hi=1)], attrition(0.4, 0.4, 0.4))
    assert len(r.rules) == len(RULES) and set(r.rules.domain) <= {"imprecision", "risk of bias"}
    text = r.summary()
    assert "burnout: VERY LOW" in text and "-1 (risk of bias): attrition" in text
    assert r.plot().axes
    assert r.to_dict()["table"][0]["level"] == "very low"
    with pytest.raises(DataValidationError, match=r"design\.type"):
        rate([survey_row()], plan={"methods": {}})
    with pytest.raises(DataValidationError, match="conf_high"):
        rate_certainty(pd.DataFrame([{"analysis": "x", "outcome": "y"}]), {}, plan=DID)
    with pytest.raises(DataValidationError, match=r"no primary"):
        rate([{**survey_row(), "term": "ATT(e=1)"}])
    with pytest.raises(DataValidationError, match="mapping"):
        rate_certainty(pd.DataFrame([survey_row()]), [1, 2], plan=DID)


# ------------------------------------------------------------------ a real evaluation ---------


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("certainty")
    simulate_health_system(seed=5, n_leaders=300).write(folder / "extracts")
    study = load_study(folder / "extracts", key=PseudonymKey(b"c" * 32))
    return evaluate(study, load_plan("default")), folder


def test_a_real_evaluation_gets_a_rating_with_reasons_for_every_outcome(evaluated):
    evaluation, folder = evaluated
    from_objects = rate_certainty(evaluation.estimates, evaluation.results, plan=evaluation.plan)
    t = from_objects.table
    survey = set(evaluation.primary().outcome)
    assert survey <= set(t.outcome)
    assert {"voluntary turnover", "return on investment"} <= set(t.outcome)
    assert t.level.isin(LEVELS).all()
    assert (t.reasons.str.len() > 20).all() and t.reasons.str.startswith("starts ").all()
    # attrition, pre-trend, balance, power and PH diagnostics were found, not skipped (the
    # evaluation computes power and the PH test for the plan's cause only, not for "any exit")
    checked = t[t.outcome != "any exit"]
    assert (checked.not_checked == "").all()
    assert (
        t.set_index("outcome").not_checked["any exit"] == "underpowered, non_proportional_hazards"
    )
    # the same rating from results.json
    evaluation.write(folder / "out")
    payload = json.loads((folder / "out" / "results.json").read_text())
    estimates = pd.read_csv(folder / "out" / "estimates.csv")
    from_json = rate_certainty(estimates, payload, plan=payload["plan"])
    pd.testing.assert_frame_equal(from_json.table[["outcome", "level"]], t[["outcome", "level"]])


def test_headline_of_a_real_evaluation_matches_its_rows(evaluated):
    from coacheval.evidence.sentences import headline, primary_rows

    evaluation, _ = evaluated
    rows = primary_rows(evaluation.estimates)
    lines = headline(evaluation.estimates)
    assert len(lines) == len(rows) >= len(evaluation.primary())
    for line, (_, row) in zip(lines, rows.iterrows(), strict=True):
        if row.analysis == "survey outcomes":
            assert f"{abs(row.estimate):.1f}" in line or f"{abs(row.estimate):.2f}" in line
            assert ("inconclusive" in line) == bool(row.conf_low <= 0 <= row.conf_high)
        elif row.method == "cox_tv":
            assert f"HR {row.estimate:.2f}" in line
            assert ("inconclusive" in line) == bool(row.conf_low <= 1 <= row.conf_high)
