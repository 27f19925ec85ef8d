"""Plain-language sentences generated from estimate rows (coacheval.evidence.sentences).

The rows are built by hand, so the right direction word, verdict and numbers are known; the
numbers in each sentence are parsed back and compared with the row, rounded by the documented
rule.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from coacheval.errors import DataValidationError
from coacheval.evidence.sentences import effect_sentence, headline, primary_rows, scale_info

NUMBER = re.compile(r"(?<![\w-])-?\$?[0-9][0-9,]*(?:\.[0-9]+)?")


def numbers(text: str) -> list[float]:
    """Every number before any ", but" clause, in order (separators and $ removed)."""
    text = text.split(", but the interval")[0]
    return [float(m.replace(",", "").replace("$", "")) for m in NUMBER.findall(text)]


def survey(outcome, estimate, lo, hi, sd=None, method="did_dr", term="ATT (overall)"):
    return {
        "analysis": "survey outcomes",
        "outcome": outcome,
        "method": method,
        "term": term,
        "estimate": estimate,
        "conf_low": lo,
        "conf_high": hi,
        "estimate_sd": sd if sd is not None else np.nan,
    }


def ratio(estimate, lo, hi, method="cox_tv", outcome="voluntary turnover", analysis="retention"):
    return {
        "analysis": analysis,
        "outcome": outcome,
        "method": method,
        "term": "enrolled",
        "estimate": estimate,
        "conf_low": lo,
        "conf_high": hi,
    }


def roi_row(term, estimate, lo=np.nan, hi=np.nan):
    return {
        "analysis": "economics",
        "outcome": "return on investment",
        "method": "roi",
        "term": term,
        "estimate": estimate,
        "conf_low": lo,
        "conf_high": hi,
    }


# ------------------------------------------------------------------ survey outcomes ------------


def test_positive_effect_on_a_higher_is_better_scale():
    row = survey("work_engagement", 0.2652468, 0.127364, 0.40313, sd=0.289565)
    s = effect_sentence(row)
    assert s.startswith("Work engagement: participants scored 0.27 points higher (better)")
    assert "inconclusive" not in s
    assert "0-6 UWES-9 scale" in s
    # estimate, scale range, SD, level, limits: each equal to the row's at the documented rounding
    assert numbers(s) == [
        round(row["estimate"], 2),
        0,  # the scale's range starts the parenthesis: "0-6 UWES-9 scale"
        round(row["estimate_sd"], 2),
        95,
        round(row["conf_low"], 2),
        round(row["conf_high"], 2),
    ]


def test_negative_effect_on_a_higher_is_better_scale_is_worse():
    s = effect_sentence(survey("job_satisfaction", -0.31, -0.52, -0.10, sd=-0.27))
    assert "0.31 points lower (worse)" in s
    assert "inconclusive" not in s
    assert numbers(s)[-2:] == [-0.52, -0.10]


@pytest.mark.parametrize("outcome", ["burnout", "turnover_intention", "professional_isolation"])
def test_lower_is_better_outcomes_flip_the_quality_word(outcome):
    info = scale_info(outcome)
    assert info.higher_is_better is False
    down = effect_sentence(survey(outcome, -3.0, -5.5, -0.5))
    up = effect_sentence(survey(outcome, 3.0, 0.5, 5.5))
    assert "lower (better)" in down and "(worse)" not in down
    assert "higher (worse)" in up and "(better)" not in up


def test_inconclusive_when_the_interval_includes_zero():
    row = survey("wellbeing", 1.951, -1.027, 4.928, sd=0.10)
    s = effect_sentence(row)
    assert s.startswith("Wellbeing: inconclusive;")
    assert "includes no effect (0)" in s
    assert "2.0 points higher (better)" in s  # 0-100 scale: one decimal
    assert numbers(s)[-2:] == [-1.0, 4.9]


def test_conclusive_limit_near_zero_is_not_rounded_onto_zero():
    # Burnout in the demo: upper limit -0.0437 on a 0-100 scale would read "0.0" at 1 decimal.
    s = effect_sentence(survey("burnout", -2.505, -4.966, -0.0437, sd=-0.15))
    assert "inconclusive" not in s
    assert numbers(s)[-2:] == [-4.97, -0.04]


def test_an_interval_touching_zero_exactly_is_inconclusive():
    assert "inconclusive" in effect_sentence(survey("burnout", -2.0, -4.0, 0.0))


def test_pre_post_change_says_rose_or_fell_without_a_comparison_group():
    s = effect_sentence(survey("burnout", -6.25, -9.0, -3.5, method="pre_post", term="change"))
    assert "fell by 6.2 points (better)" in s or "fell by 6.3 points (better)" in s
    assert "no comparison group" in s


def test_unknown_scale_has_no_quality_word_and_scale_label_is_used():
    s = effect_sentence(survey("team_climate", 0.5, 0.1, 0.9), scale_label="1-5 team scale")
    assert "0.50 points higher than" in s and "better" not in s and "worse" not in s
    assert "1-5 team scale" in s


def test_naive_comparison_is_labelled_as_biased():
    s = effect_sentence(survey("work_engagement", 0.37, 0.2, 0.53, method="naive_post"))
    assert "unadjusted and biased by selection" in s


# ------------------------------------------------------------------ hazard and rate ratios -----


def test_hazard_ratio_below_one_is_fewer_exits():
    s = effect_sentence(ratio(0.80, 0.65, 0.98))
    assert s == (
        "Voluntary turnover: 20% fewer voluntary exits while enrolled (HR 0.80, 95% CI 0.65 to "
        "0.98)."
    )


def test_hazard_ratio_above_one_is_more_exits_and_inconclusive_across_one():
    s = effect_sentence(ratio(1.25, 0.9, 1.74))
    assert "25% more voluntary exits" in s
    assert "inconclusive" in s and "includes no difference (1)" in s
    assert numbers(s) == [25, 1.25, 95, 0.90, 1.74]


def test_hazard_ratio_with_people_from_the_economics_row():
    avoided = pd.Series(roi_row("turnovers_avoided", 16.494, 0.2599, 27.857))
    s = effect_sentence(ratio(0.7025, 0.5026, 0.9821), people=avoided)
    assert "30% fewer voluntary exits" in s and "(HR 0.70, 95% CI 0.50 to 0.98)" in s
    assert "about 16.5 exits avoided among the coached (95% CI 0.3 to 27.9)" in s
    assert effect_sentence(ratio(0.9, 0.8, 0.95), people=3.0).endswith(
        "about 3.0 exits avoided among the coached."
    )


def test_subdistribution_and_rate_ratio_labels():
    fg = effect_sentence(ratio(0.739, 0.518, 1.054, method="finegray"))
    assert "subdistribution HR 0.74" in fg and "inconclusive" in fg
    spill = effect_sentence(
        ratio(0.946, 0.829, 1.081, "negative_binomial", "staff turnover", "spillover")
    )
    assert "5% fewer staff separations on units with a coached leader (rate ratio 0.95" in spill


def test_ratio_limit_near_one_gets_more_decimals():
    s = effect_sentence(ratio(0.90, 0.81, 0.9987))
    assert "inconclusive" not in s
    assert numbers(s)[-1] == 0.999  # 3 decimals: 1.00 would touch 1


def test_rmst_in_months_and_years():
    row = {
        "analysis": "retention",
        "outcome": "voluntary turnover",
        "method": "rmst_landmark",
        "term": "enrolled - not enrolled",
        "estimand": "years retained in the first 1.99863 years after a cohort starts (RMST)",
        "estimate": 0.0264,
        "conf_low": -0.0187,
        "conf_high": 0.0715,
    }
    s = effect_sentence(row)
    assert "stayed 0.3 months (0.026 years) longer" in s
    assert "first 2.0 years" in s and "inconclusive" in s
    assert numbers(s)[-2:] == [-0.2, 0.9]


# ------------------------------------------------------------------ economics ------------------


def test_roi_net_benefit_with_probability_it_pays():
    s = effect_sentence(
        roi_row("net_benefit", 3224530.02, -373217.64, 5742570.59), probability_pays=0.9628
    )
    assert s.startswith("Return on investment: net benefit $3,224,530 (95% CI -$373,218 to")
    assert "pays for itself with probability 96%" in s
    assert "inconclusive: the interval includes no net benefit (0)" in s
    conclusive = effect_sentence(roi_row("net_benefit", 50000.0, 1000.0, 90000.0), currency="EUR")
    assert "EUR 50,000" in conclusive and "inconclusive" not in conclusive


def test_other_roi_terms():
    assert "is 0.965 or lower" in effect_sentence(roi_row("break_even_hazard_ratio", 0.96494))
    assert "probability 96%" in effect_sentence(roi_row("probability_pays", 0.9628))
    assert "748% (95% CI -87% to 1,333%)" in effect_sentence(
        roi_row("roi_percent", 748.46, -86.63, 1332.93)
    )
    assert effect_sentence(roi_row("program_cost", 430821.58, 430821.58, 430821.58)) == (
        "Return on investment: program cost $430,822."
    )


# ------------------------------------------------------------------ headline and errors --------


def test_headline_picks_primary_rows_and_joins_the_economics():
    rows = [
        {**survey("burnout", -2.5, -4.9, -0.1), "q_value": 0.09},
        {**survey("burnout", -2.0, -4.0, 0.5, method="did_reg"), "q_value": np.nan},
        {**survey("burnout", 9.0, 1.0, 12.0, term="ATT(e=-1)"), "q_value": np.nan},
        {**survey("work_engagement", 0.3, 0.1, 0.5), "q_value": 0.01},
        ratio(0.80, 0.65, 0.98),
        ratio(0.85, 0.70, 1.02, outcome="any exit"),
        ratio(0.95, 0.8, 1.1, method="finegray"),
        roi_row("turnovers_avoided", 12.0, 2.0, 20.0),
        roi_row("net_benefit", 1e5, -1e4, 2e5),
        roi_row("probability_pays", 0.93),
    ]
    estimates = pd.DataFrame(rows)
    assert len(primary_rows(estimates)) == 5
    lines = headline(estimates)
    assert len(lines) == 5
    assert lines[0].startswith("Burnout: participants scored 2.50 points") or lines[0].startswith(
        "Burnout: participants scored 2.5 points"
    )
    assert lines[1].startswith("Work engagement:")
    assert "about 12.0 exits avoided" in lines[2]
    assert "avoided" not in lines[3] and lines[3].startswith("Any exit: inconclusive")
    assert "probability 93%" in lines[4]


def test_headline_without_q_values_takes_the_first_primary_method():
    rows = [survey("burnout", -1.0, -2.0, -0.5, method="did_reg"), survey("burnout", 5, 1, 9)]
    assert primary_rows(pd.DataFrame(rows)).method.tolist() == ["did_reg"]


def test_bad_rows_raise_a_clear_error():
    with pytest.raises(DataValidationError, match="'conf_high' is missing"):
        effect_sentence(
            {
                "outcome": "burnout",
                "method": "did_dr",
                "term": "x",
                "estimate": 1.0,
                "conf_low": 0.0,
            }
        )
    with pytest.raises(DataValidationError, match="estimate is missing"):
        effect_sentence(survey("burnout", np.nan, 0.0, 1.0))
    with pytest.raises(DataValidationError, match="must be a number"):
        effect_sentence(survey("burnout", "big", 0.0, 1.0))
    with pytest.raises(DataValidationError, match="column"):
        headline(pd.DataFrame({"estimate": [1.0]}))


def test_missing_interval_is_said_and_counts_as_inconclusive():
    s = effect_sentence(survey("burnout", -2.0, np.nan, np.nan))
    assert "no interval available" in s and "inconclusive" in s


# ------------------------------------------------------------------ randomised rollout ---------


def test_randomised_rollout_wording_from_the_design_or_the_row():
    row = survey("job_satisfaction", 0.2642, -0.115, 0.644, sd=0.24)
    volunteer = effect_sentence(row)
    randomised = effect_sentence(row, design="randomised_rollout")
    assert "participants scored 0.26 points higher (better) than comparison leaders, after " in (
        volunteer
    )
    assert randomised.startswith(
        "Job satisfaction: inconclusive; leaders whose group had started scored 0.26 points "
        "higher (better) than randomised leaders still waiting to start (1-7 MOAQ-JSS scale; "
    )
    assert numbers(randomised) == numbers(volunteer)  # same numbers, other words
    assert "after adjustment" in effect_sentence(row, design="randomised_rollout", adjusted=True)
    # A randomised evaluation writes "randomised rollout ..." in the row's design column.
    tagged = {**row, "design": "randomised rollout (stepped wedge), seed 3: started vs not"}
    assert effect_sentence(tagged) == randomised
    assert effect_sentence(tagged, design="staggered_did") == volunteer
    hr = ratio(0.8, 0.65, 0.98)
    assert "fewer voluntary exits while enrolled (HR" in effect_sentence(hr)
    assert "fewer voluntary exits after their group's assigned start (HR 0.80" in (
        effect_sentence(hr, design="randomised_rollout")
    )
    # Spillover and landmark rows keep their own wording under any design.
    spill = ratio(
        0.9, 0.8, 1.0, method="negative_binomial", outcome="staff turnover", analysis="spillover"
    )
    assert "on units with a coached leader" in effect_sentence(spill, design="randomised_rollout")
    lm = ratio(0.8, 0.6, 1.1, method="finegray_landmark")
    assert "after enrolling" in effect_sentence(lm, design="randomised_rollout")


def test_randomised_headline_passes_the_design_on():
    e = pd.DataFrame(
        [survey("work_engagement", 0.06, -0.25, 0.36, sd=0.06), ratio(1.07, 0.16, 6.94)]
    )
    volunteer = headline(e)
    randomised = headline(e, design="randomised_rollout")
    assert "comparison leaders, after adjustment" in volunteer[0]
    assert "randomised leaders still waiting to start (0-6" in randomised[0]
    assert "more voluntary exits while enrolled" in volunteer[1]
    assert "more voluntary exits after their group's assigned start" in randomised[1]
