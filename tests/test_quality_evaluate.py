"""Control charts and the return on investment in `coacheval evaluate`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from coacheval.evaluate.plan import load_plan
from coacheval.evaluate.quality import quarterly_exit_counts
from coacheval.evaluate.run import evaluate
from coacheval.io.pseudonymise import PseudonymKey
from coacheval.io.study import load_study
from coacheval.quality.economics import CostAssumptions
from coacheval.simulate import simulate_health_system


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quality")
    system = simulate_health_system(seed=31, n_leaders=500)
    system.write(folder / "extracts")
    study = load_study(folder / "extracts", key=PseudonymKey(b"q" * 32))
    evaluation = evaluate(study, load_plan("default"))
    evaluation.write(folder / "out")
    return system, study, evaluation, folder / "out"


def test_roi_rows_follow_the_retention_estimate_and_the_cost_extract(evaluated):
    _, study, evaluation, _ = evaluated
    e = evaluation.estimates
    roi = e[e.analysis == "economics"].set_index("term")
    cost = study.tables["program_costs"].amount_usd.sum()
    assert roi.loc["program_cost", "estimate"] == pytest.approx(cost)
    hr = e[(e.method == "cox_tv") & (e.outcome == "voluntary turnover")].estimate.iloc[0]
    assert roi.loc["hazard_ratio", "estimate"] == pytest.approx(hr)
    # Closed form at the point hazard ratio: benefit = avoided x cost per turnover.
    avoided = roi.loc["turnovers_avoided", "estimate"]
    assert roi.loc["benefit", "estimate"] == pytest.approx(
        avoided * CostAssumptions().cost_per_turnover
    )
    assert roi.loc["net_benefit", "estimate"] == pytest.approx(
        roi.loc["benefit", "estimate"] - cost
    )
    for term in ("net_benefit", "roi_percent", "benefit_cost_ratio"):
        row = roi.loc[term]
        assert row.conf_low < row.estimate < row.conf_high  # never a point ROI alone


def test_control_charts_are_in_results_json_with_their_figures(evaluated):
    _, _, _, out = evaluated
    payload = json.loads((out / "results.json").read_text())
    charts = [k for k in payload["diagnostics"] if k.startswith("spc:")]
    assert len(charts) == 3
    figures = {p.name for p in (out / "figures").iterdir()}
    assert {"economics_net_benefit.png", "control_chart_voluntary_exits_per.png"} <= figures


def test_quarterly_person_years_and_exits_add_up_to_the_person_time(evaluated):
    evaluation = evaluated[2]
    data = evaluation.results[("person_time", "retention")]
    q = quarterly_exit_counts(data, "voluntary")
    total_years = float((data.rows.stop - data.rows.start).sum())
    # Spells that end on the day they enter follow-up carry half a day in the model rows only.
    same_day = int((data.rows.stop_date == data.rows.start_date).sum())
    assert q.person_years.sum() + same_day * 0.5 / 365.25 == pytest.approx(total_years, rel=1e-12)
    assert q.exits.sum() == int(data.events_for("voluntary").sum())
    assert len(q) == len(pd.period_range(data.window_start, data.extract_date, freq="Q"))
    assert np.all(q.person_years >= 0)


def test_implementation_measures_are_in_the_evaluation_and_match_the_extracts(evaluated):
    _, study, evaluation, out = evaluated
    names = {k[1] for k in evaluation.results if k[0] == "reaim"}
    assert {"reach", "adoption", "completion", "fidelity_dose", "maintenance"} <= names
    completion = evaluation.results[("reaim", "completion")].table
    payload = json.loads((out / "results.json").read_text())
    assert "reaim:completion" in payload["diagnostics"]
    enrolled = len(study.tables["enrolment"])
    total = completion[completion.cohort_id == "All"]
    assert int(total.enrolled.iloc[0]) == enrolled


def test_the_quarterly_kpi_table_is_a_named_table_in_results_json(evaluated):
    _, _, evaluation, out = evaluated
    kpis = evaluation.results[("kpi", "quarterly")]
    assert len(kpis.quarters) == 4
    payload = json.loads((out / "results.json").read_text())
    table = payload["diagnostics"]["kpi:quarterly"]["table"]
    assert {r["kpi"] for r in table} >= {"leader_turnover_hr", "voluntary_exits_per_100py"}
    assert all(r["definition"] for r in table)
