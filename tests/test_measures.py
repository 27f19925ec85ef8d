"""Survey measures on simulated data (known truth) and on edge cases."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from coacheval.errors import DataValidationError, PoorReliabilityWarning
from coacheval.io.pseudonymise import PseudonymKey
from coacheval.io.study import load_study
from coacheval.measures.instruments import Instrument, Item, load_instrument
from coacheval.measures.prepost import pre_post
from coacheval.measures.reliability import cronbach_alpha, reliability_by_wave
from coacheval.measures.scoring import item_matrix, score_instrument, score_instruments


def test_scale_scores_recover_the_true_score_means(large_system):
    """Observed means track the simulated true-score means of the same respondents.

    Tolerance 0.10 SD of the true score: rounding to response options is unbiased, but clipping
    at the ends of the scale is not (the largest gap, job satisfaction near the top of a 1-7
    scale, is about 0.08 SD); sampling error of a mean of ~18,000 responses is ~0.01 SD.
    """
    scores = score_instruments(large_system.extracts["survey_responses"])
    observed = scores.groupby(["construct", "wave"]).score.mean()
    truth = pd.DataFrame(large_system.truth["surveys"]["true_score_means"])
    for row in truth.itertuples():
        gap = (observed[(row.construct, row.wave_id)] - row.mean) / row.sd
        assert abs(gap) < 0.10, (row.construct, row.wave_id, gap)


def test_alpha_is_near_the_reliability_the_simulation_implies(large_system):
    """Alpha at baseline within 0.03 of the configured reliability (rounding and clipping lower
    it by 0.005-0.016 here; the Feldt interval half-width is ~0.003)."""
    survey = large_system.extracts["survey_responses"]
    table = reliability_by_wave(survey[survey.wave_id == "W1"]).table.set_index("construct")
    for construct, scale in large_system.config.scales.items():
        assert abs(table.loc[construct, "raw_alpha"] - scale.reliability) < 0.03, construct
        assert (
            table.loc[construct, "conf_low"]
            < table.loc[construct, "raw_alpha"]
            < table.loc[construct, "conf_high"]
        )


def test_baseline_table_shows_the_selection_the_simulator_built_in(tmp_path, large_system):
    from coacheval.measures.baseline import study_baseline

    large_system.write(tmp_path)
    table = study_baseline(load_study(tmp_path, key=PseudonymKey(b"baseline-test-key-000")))
    smd = table.smd.set_index("variable").smd
    assert smd["baseline work_engagement"] > 0.15  # volunteers are more engaged
    assert smd["tenure_years"] < -0.1  # and newer
    assert smd["role_level"] > 0.1  # and more often nurse managers
    shown = table.display()
    assert shown.columns[1].startswith("Participants (n=") and "SMD" in shown.columns
    assert "<table" in table.as_html() and table.as_markdown().startswith("| Characteristic")


def test_pre_post_is_labelled_as_the_weakest_design(default_system):
    scores = score_instruments(default_system.extracts["survey_responses"])
    result = pre_post(scores, baseline="W1", followup="W4")
    assert "weakest design" in result.summary()
    engagement = result.table.set_index("scale").loc["uwes9"]
    assert engagement.n_pairs > 100 and engagement.d_z_low < engagement.d_z < engagement.d_z_high


# ---------------------------------------------------------------------------- edge cases
def test_scale_with_every_item_missing_scores_missing_and_alpha_refuses():
    jss = load_instrument("moaq_jss")
    frame = pd.DataFrame({"jss_1": [None, None, None], "jss_2": [None] * 3, "jss_3": [None] * 3})
    score, answered = score_instrument(frame, jss)
    assert score.isna().all() and answered.tolist() == [0, 0, 0]
    with pytest.raises(DataValidationError, match="0 responses with any answer"):
        cronbach_alpha(item_matrix(frame, jss), scale="moaq_jss")


def test_constant_item_gives_a_clear_message():
    items = pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 2, 2, 2], "c": [1, 3, 2, 4]})
    with pytest.raises(DataValidationError, match="item\\(s\\) b have no variance"):
        cronbach_alpha(items, scale="x")


def test_single_item_scale_scores_but_has_no_alpha():
    single = Instrument(
        "one",
        "One item",
        "one",
        "satisfaction",
        True,
        1,
        5,
        {i: str(i) for i in range(1, 6)},
        (Item("q"),),
        "mean",
        1,
    )
    score, _ = score_instrument(pd.DataFrame({"q": [4, None]}), single)
    assert score.tolist()[0] == 4.0 and np.isnan(score.tolist()[1])
    with pytest.raises(DataValidationError, match="1 item: alpha needs at least two"):
        cronbach_alpha(pd.DataFrame({"q": [1.0, 2.0, 3.0]}))


def test_person_answering_only_reverse_keyed_items():
    spos = load_instrument("spos8")
    answers = {item: None for item in spos.item_ids}
    answers.update({"spos_2": 1, "spos_3": 2, "spos_5": 1, "spos_7": 2})  # the four reversed items
    score, answered = score_instrument(pd.DataFrame([answers]), spos)
    assert answered.iloc[0] == 4  # meets the 4-item minimum
    assert score.iloc[0] == pytest.approx(np.mean([7, 6, 7, 6]))  # reversed: 8 - x


def test_too_few_items_answered_gives_no_score():
    cbi = load_instrument("cbi_work")
    frame = pd.DataFrame([{"cbi_w1": 4, "cbi_w2": 4, "cbi_w3": 4}])  # 3 of 7; the rule needs 4
    score, answered = score_instrument(frame, cbi)
    assert np.isnan(score.iloc[0]) and answered.iloc[0] == 3


def test_text_labels_are_scored_and_unknown_values_refused():
    who5 = load_instrument("who5")
    frame = pd.DataFrame([{f"who5_{i}": "All of the time" for i in range(1, 6)}])
    assert score_instrument(frame, who5)[0].iloc[0] == 100.0
    frame.loc[0, "who5_3"] = "Sometimes"
    with pytest.raises(DataValidationError, match="who5_3 has values outside 0-5"):
        score_instrument(frame, who5)


def test_poor_reliability_warns():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({f"jss_{i}": rng.integers(1, 8, size=80) for i in (1, 2, 3)}).assign(
        wave_id="W1"
    )
    with pytest.warns(PoorReliabilityWarning, match="moaq_jss in wave W1"):
        result = reliability_by_wave(frame, {"moaq_jss": load_instrument("moaq_jss")})
    assert bool(result.table.poor.iloc[0])


def test_reliability_without_warnings_on_good_scales(default_system):
    survey = default_system.extracts["survey_responses"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = reliability_by_wave(survey[survey.wave_id.isin(["W1", "W2"])])
    assert set(result.table.wave) == {"W1", "W2"} and not result.table.poor.any()
    assert {"r_drop", "raw_alpha_if_dropped"} <= set(result.items.columns)


def test_small_counts_are_suppressed_in_table_one():
    from coacheval.measures.baseline import baseline_table

    df = pd.DataFrame({"g": [1] * 10 + [0] * 10, "role": ["a"] * 9 + ["b"] + ["a"] * 5 + ["b"] * 5})
    table = baseline_table(df, group_col="g", categorical=["role"], min_cell=5)
    hidden = table.table[(table.table.group == "Participants") & (table.table.level == "b")].iloc[0]
    assert hidden.suppressed and np.isnan(hidden.n)
    assert "<5" in table.display().to_string()


def test_table_one_as_a_word_document(tmp_path):
    import zipfile

    from coacheval.measures.baseline import baseline_table

    df = pd.DataFrame(
        {"g": [1, 1, 1, 0, 0, 0], "age": [30, 35, 40, 45, 50, 55], "role": list("ababab")}
    )
    path = baseline_table(df, group_col="g", continuous=["age"], categorical=["role"]).to_docx(
        tmp_path / "t1.docx"
    )
    document = zipfile.ZipFile(path).read("word/document.xml").decode("utf-8")
    assert "<w:tbl>" in document and "Participants (n=3)" in document


def test_dz_interval_is_finite_ordered_and_symmetric_for_any_t():
    # Regression: negative t with the old bracket hit scipy's NaN region (a bare ValueError).
    from coacheval.measures.prepost import dz_interval

    for n in (2, 3, 6, 48, 1001, 10**6):
        for t in (0.0, 1e-8, 0.3, 3.034512944698196, 12.0, 38.0, 150.0, 500.0):
            for level in (0.9, 0.99):
                low, high = dz_interval(t, n, level)
                assert np.isfinite([low, high]).all() and low < t / np.sqrt(n) < high
                assert dz_interval(-t, n, level) == pytest.approx((-high, -low), abs=1e-12)
    assert dz_interval(0.0, 48) == pytest.approx((-0.2829, 0.2829), abs=1e-4)


def test_dz_interval_where_scipy_fails_solves_the_defining_equation():
    # n = 2, t = 38: scipy's nct.cdf returns NaN in the bracket, so the distribution function is
    # integrated numerically there. With df = 1, T = (Z + ncp) / |W|, so
    # P(T <= t) = 2 * integral_0^inf Phi(t w - ncp) phi(w) dw, checked here by an independent
    # quadrature at the two limits.
    from scipy import integrate, stats

    from coacheval.measures.prepost import dz_interval

    t = 38.0
    low, high = dz_interval(t, 2)

    def cdf(ncp):
        f = lambda w: stats.norm.cdf(t * w - ncp) * stats.norm.pdf(w)  # noqa: E731
        step = ncp / t
        return 2 * sum(
            integrate.quad(f, a, b, epsabs=1e-14, limit=500)[0]
            for a, b in ((0, max(step - 1, 0)), (max(step - 1, 0), step + 1), (step + 1, 40))
        )

    assert cdf(low * np.sqrt(2)) == pytest.approx(0.975, abs=1e-9)
    assert cdf(high * np.sqrt(2)) == pytest.approx(0.025, abs=1e-9)


def test_dz_interval_covers_a_negative_true_effect():
    # Known truth: changes ~ N(-0.8, 1), n = 20, so t is negative. 800 replications: coverage of
    # the exact 95% interval within 3 Monte Carlo SEs (0.023) of 0.95.
    from coacheval.measures.prepost import dz_interval

    rng = np.random.default_rng(20261126)
    changes = rng.normal(-0.8, 1.0, size=(800, 20))
    t = changes.mean(axis=1) / (changes.std(axis=1, ddof=1) / np.sqrt(20))
    limits = np.array([dz_interval(value, 20) for value in t])
    coverage = np.mean((limits[:, 0] < -0.8) & (-0.8 < limits[:, 1]))
    assert abs(coverage - 0.95) < 3 * np.sqrt(0.95 * 0.05 / 800)


def test_dz_interval_that_cannot_be_computed_raises_a_coacheval_error(monkeypatch):
    from coacheval.errors import CoachevalError
    from coacheval.measures import prepost

    monkeypatch.setattr(prepost, "_nct_cdf", lambda t, df, ncp: float("nan"))
    with pytest.raises(CoachevalError, match="exact d_z interval: no noncentrality parameter"):
        prepost.dz_interval(-3.0, 48)
