"""The spillover part of an evaluation: staff turnover on coached vs uncoached units.

Recovery of the simulated truth (seeded; fits are the slow part, about 0.2 s each on the shared
machine, so the replications are few and their tolerances follow from them):

* calibration: 4 simulated systems (160 leader positions, ~35 units, 60 months) x 6 redraws
  of the staffing counts (new staffing streams, same organisation and enrolment) = 24
  replications at the default true rate ratio 0.90 (frailty variance 0.25), each refitting the evaluation's model
  (negative binomial, calendar years, CR1 by unit; checked to be the evaluation's own call) on
  the evaluation's unit-month rows. The bias of the log rate ratio must lie
  within 3 Monte Carlo SEs (SD / sqrt(24), about 0.04: the ~35 units differ a lot, so one
  small system estimates log RR with an SD near 0.19); the 95% CIs
  (CR1 by unit) must cover the truth in at least 20 of 24 (P(X < 20) = 0.03 at coverage 0.95,
  0.12 at 0.92, the CR1 coverage seen in a 200-replication run: bias -0.003, SD 0.129, mean
  SE 0.118, coverage 0.915 with frailty variance 0.10);
* null: the same systems and draws with a true rate ratio of 1 (inverse-CDF draws on the same
  uniforms, so only the effect differs): mean log rate ratio within 3 Monte Carlo SEs of 0.

The exposure definition is checked row by row against the simulator's own indicator, the plan
switch and the missing-table note are checked, and the whole pipeline (write, validate, load,
estimate) runs once.
"""

from __future__ import annotations

import dataclasses
import types
import warnings

import numpy as np
import pandas as pd
import pytest

from coacheval.evaluate.plan import load_plan
from coacheval.evaluate.spillover import spillover_estimates, unit_months
from coacheval.io.pseudonymise import PseudonymKey
from coacheval.io.study import load_study
from coacheval.retention.spillover import unit_turnover_model
from coacheval.simulate import simulate_health_system
from coacheval.simulate.staffing import simulate_unit_staffing, staffing_extract
from coacheval.simulate.streams import Streams

PLAN = load_plan("default")
MODEL = dict(
    separations_col="separations",
    exposure_col="coached",
    headcount_col="headcount",
    covariates=["year"],
    cluster_col="unit_id",
    family="negative_binomial",
    vcov="CR1",
)
KEY = PseudonymKey(b"spillover-evaluate-key-0123456")


def _study(system, staffing=None):
    """A study-like object from a simulated system's clean extracts (no files, no validation)."""
    ex = system.extracts
    staffing = system.staffing if staffing is None else staffing
    tab = staffing_extract(system.organisation, staffing)
    return types.SimpleNamespace(
        tables={
            "hr_roster": ex["hr_roster"][["employee_id", "unit_id"]],
            "enrolment": ex["enrolment"].assign(
                enrol_date=pd.to_datetime(ex["enrolment"].enrol_date)
            ),
            "unit_staffing": tab.assign(month=pd.to_datetime(tab.month)),
        }
    )


@pytest.fixture(scope="module")
def replications():
    """Redraw the staffing counts; refit the evaluation's model (same rows, exposure, terms)."""
    out = []
    for s in range(4):
        system = simulate_health_system(seed=700 + s, n_leaders=160)
        null_cfg = dataclasses.replace(system.config, staff_turnover_rr=1.0)
        frame = unit_months(_study(system), PLAN)  # exposure and years from the extracts
        for r in range(6):
            streams = Streams(1_000 * s + r)
            for truth, cfg in ((0.9, system.config), (1.0, null_cfg)):
                staffing = simulate_unit_staffing(cfg, system.organisation, system.program, streams)
                counts = staffing_extract(system.organisation, staffing)
                counts = counts.assign(month=pd.to_datetime(counts.month))
                data = frame.drop(columns="separations").merge(
                    counts[["unit_id", "month", "separations"]],
                    on=["unit_id", "month"],
                    validate="one_to_one",
                )
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fit = unit_turnover_model(data, **MODEL)
                row = fit.table.set_index("term").loc["coached"]
                out.append((truth, row.estimate, row.std_error, row.conf_low, row.conf_high))
    return pd.DataFrame(out, columns=["truth", "log_rr", "se", "lo", "hi"])


def test_calibration_refits_the_evaluation_model(system):
    """The calibration's model call is the evaluation's: same rate ratio on the same data."""
    rows, results = spillover_estimates(_study(system), PLAN, [])
    frame = unit_months(_study(system), PLAN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = unit_turnover_model(frame, **MODEL)
    assert np.isclose(fit.rate_ratio, rows[0]["estimate"], rtol=1e-12)
    assert results[("negative_binomial", "staff turnover")].coef.index.equals(fit.coef.index)


def test_recovers_the_true_rate_ratio(replications):
    eff = replications[replications.truth == 0.9]
    assert len(eff) == 24
    err = eff.log_rr - np.log(0.9)
    mc_se = err.std(ddof=1) / np.sqrt(len(err))
    assert abs(err.mean()) < 3 * mc_se, (err.mean(), mc_se)
    covered = ((eff.lo <= np.log(0.9)) & (np.log(0.9) <= eff.hi)).sum()  # log scale
    assert covered >= 20, covered
    # the reported SE is of the right size: mean SE within 35% of the Monte Carlo SD
    assert 0.65 < eff.se.mean() / eff.log_rr.std(ddof=1) < 1.35


def test_null_rate_ratio_is_centred_on_one(replications):
    null = replications[replications.truth == 1.0]
    mc_se = null.log_rr.std(ddof=1) / np.sqrt(len(null))
    assert abs(null.log_rr.mean()) < 3 * mc_se, (null.log_rr.mean(), mc_se)
    covered = ((null.lo <= 0.0) & (0.0 <= null.hi)).sum()
    assert covered >= 20, covered
    # same uniforms, lower rate: every effect replication estimates a smaller ratio than its null
    eff = replications[replications.truth == 0.9]
    assert (eff.log_rr.to_numpy() < null.log_rr.to_numpy()).mean() > 0.9


@pytest.fixture(scope="module")
def system():
    return simulate_health_system(seed=71, n_leaders=200)


def test_exposure_matches_the_simulator(system):
    frame = unit_months(_study(system), PLAN)
    sim = system.staffing.assign(
        unit_id=system.organisation.units.unit_id.to_numpy()[system.staffing.unit]
    )
    merged = frame.merge(
        sim[["unit_id", "month", "coached"]].rename(columns={"coached": "truth"}),
        on=["unit_id", "month"],
        validate="one_to_one",
    )
    assert len(merged) == len(frame) == len(sim)
    assert np.array_equal(merged.coached.to_numpy(), merged.truth.to_numpy())
    switched = frame[frame.coached == 1].groupby("unit_id").month.min()
    first = frame.groupby("unit_id").first_coached_month.first()
    assert (switched == first[switched.index]).all()


def test_rows_have_the_evaluation_format(system):
    notes: list[str] = []
    rows, results = spillover_estimates(_study(system), PLAN, notes)
    assert [r["method"] for r in rows] == ["negative_binomial", "poisson"]
    keys = {
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
        "n",
        "n_clusters",
        "design",
    }
    for row in rows:
        assert set(row) == keys
        assert row["analysis"] == "spillover" and row["outcome"] == "staff turnover"
        assert row["term"] == "coached" and row["conf_low"] < row["estimate"] < row["conf_high"]
        n_units = int((~system.organisation.units.is_admin).sum())
        assert row["n"] == n_units == row["n_clusters"]
        assert "month after" in row["design"]
    assert set(results) == {("negative_binomial", "staff turnover"), ("poisson", "staff turnover")}
    nb = results[("negative_binomial", "staff turnover")]
    assert nb.family == "negative_binomial" and nb.n_clusters == rows[0]["n"]
    assert np.isclose(np.log(rows[0]["estimate"]), nb.coef["coached"])
    assert any("spillover:" in n and "units" in n for n in notes)


def test_plan_switch_and_missing_table(system):
    off = PLAN.model_copy(
        update={"retention": PLAN.retention.model_copy(update={"spillover": False})}
    )
    notes: list[str] = []
    assert spillover_estimates(_study(system), off, notes) == ([], {}) and notes == []
    study = _study(system)
    del study.tables["unit_staffing"]
    notes = []
    assert spillover_estimates(study, PLAN, notes) == ([], {})
    assert notes == ["spillover: no unit_staffing extract; staff turnover on units not estimated"]
    assert PLAN.retention.spillover is True


def test_no_coached_unit_is_a_note_not_an_error(system):
    study = _study(system)
    study.tables["enrolment"] = study.tables["enrolment"].iloc[:0]
    notes: list[str] = []
    assert spillover_estimates(study, PLAN, notes) == ([], {})
    assert "cannot be estimated" in notes[0]


def test_whole_pipeline_from_files(tmp_path):
    system = simulate_health_system(seed=72, n_leaders=150)
    system.write(tmp_path / "roster")
    study = load_study(tmp_path / "roster", key=KEY)
    notes: list[str] = []
    rows, _ = spillover_estimates(study, PLAN, notes)
    assert len(rows) == 2 and 0.4 < rows[0]["estimate"] < 2.0
    # leaders' units from snapshots when the roster is absent give the same exposure
    system.write(tmp_path / "snap", snapshots=True)
    (tmp_path / "snap" / "hr_roster.csv").unlink()
    a = unit_months(study, PLAN)
    b = unit_months(load_study(tmp_path / "snap", key=KEY), PLAN)
    assert np.array_equal(a.coached.to_numpy(), b.coached.to_numpy())


def test_print_calibration_figures(replications, capsys):
    """Not a check: the figures the report quotes (shown with pytest -s)."""
    for truth, grp in replications.groupby("truth"):
        err = grp.log_rr - np.log(truth)
        cover = ((grp.lo <= np.log(truth)) & (np.log(truth) <= grp.hi)).mean()
        with capsys.disabled():
            print(
                f"\nRR {truth}: bias {err.mean():+.4f} (MC SE {err.std(ddof=1) / np.sqrt(len(err)):.4f}),"
                f" SD {grp.log_rr.std(ddof=1):.4f}, mean SE {grp.se.mean():.4f}, coverage {cover:.3f}"
            )
    assert len(replications) == 48
