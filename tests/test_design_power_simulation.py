"""Simulated power against the formulas, and reproducibility of the parallel simulations.

Direct simulation of Hussey & Hughes' model (leader-level scores, response at each wave)
analysed by GLS with the true variance components: the rejection rate must lie within 3 Monte
Carlo SEs (``sqrt(f (1 - f) / reps)``, f the formula's power) of the GLS formula at every effect
of a grid, the effect estimate must be unbiased within 3 MC SEs and 95% intervals must cover
within 3 MC SEs of 0.95. Observed (seeded, 1,500 replicates each; z = (simulated - formula) /
MC SE): cross-sectional 12 x 4 design, power 0.053/0.214/0.667 vs 0.050/0.216/0.650 at d =
0/0.2/0.4 (max |z| 1.39, coverage 0.947); cohort with cluster autocorrelation 0.8, individual
autocorrelation 0.5 and 70% response, 0.049/0.399 vs 0.050/0.409 (max |z| 0.78); incomplete
design with unequal sizes and control units, 0.054/0.493 vs 0.050/0.505 (max |z| 0.95).

The REML mixed-model analysis (estimated variance components, Satterthwaite t) is checked for
size and coverage (within 3 MC SEs of 0.05 and 0.95) and for power near the normal formula
(estimated variances cost some efficiency, Satterthwaite df add some power back: observed
0.870 vs 0.831 at d = 0.4 with 300 replicates, 0.795 vs 0.831 with another seed and 600), so the
tolerance is 3 MC SEs plus 0.05.

Reproducibility: 1 and 2 worker processes give identical replicates (the direct simulation and
the health-system simulation through the product's simulator and evaluation).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coacheval.design.power import rollout_design
from coacheval.design.simulated_power import (
    SimulatedSurveyPower,
    replicate_seeds,
    simulate_rollout_power,
    simulated_survey_power,
)
from coacheval.errors import ConfigError

REPS = 1500


def _check_agreement(res, reps: int) -> None:
    t = res.table
    assert (t.estimable == reps).all()
    assert res.agrees(3.0), t[["effect", "power", "formula_power", "z"]]
    mc_bias = t.sd_estimate / np.sqrt(reps)
    assert (t.bias.abs() <= 3 * mc_bias).all()
    # the SEs the analysis reports are the formula's (known variance components)
    np.testing.assert_allclose(t.mean_se, t.formula_se, rtol=0.02)
    cover_se = np.sqrt(0.95 * 0.05 / reps)
    assert (np.abs(t.coverage - 0.95) <= 3 * cover_se).all()


def test_cross_sectional_stepped_wedge_agrees_with_formula() -> None:
    res = simulate_rollout_power(
        rollout_design(12, 3),
        effect=[0.0, 0.2, 0.4],
        icc=0.05,
        cluster_size=8,
        n_reps=REPS,
        seed=2026,
        workers=1,
    )
    _check_agreement(res, REPS)
    null = res.table.iloc[0]
    assert abs(null.power - 0.05) <= 3 * np.sqrt(0.05 * 0.95 / REPS)


def test_cohort_with_autocorrelation_and_nonresponse_agrees_with_formula() -> None:
    res = simulate_rollout_power(
        rollout_design(15, 3, 5),
        effect=[0.0, 0.25],
        icc=0.1,
        cluster_size=10,
        cluster_autocorrelation=0.8,
        individual_autocorrelation=0.5,
        response_rate=0.7,
        n_reps=REPS,
        seed=7,
        workers=1,
    )
    _check_agreement(res, REPS)


def test_incomplete_design_with_unequal_sizes_and_controls_agrees() -> None:
    x = rollout_design(10, 2, 4, control_units=2)
    x[0, 3] = np.nan  # a unit not surveyed at the last wave
    sizes = np.array([4, 6, 8, 10, 12, 5, 7, 9, 11, 13])
    res = simulate_rollout_power(
        x,
        effect=[0.0, 0.3],
        icc=0.15,
        cluster_size=sizes,
        individual_autocorrelation=0.3,
        n_reps=REPS,
        seed=11,
        workers=1,
    )
    _check_agreement(res, REPS)


def test_t_reference_changes_the_formula_and_the_test_together() -> None:
    res = simulate_rollout_power(
        rollout_design(6, 3), effect=0.5, icc=0.1, cluster_size=10, n_reps=400, df=4, workers=1
    )
    row = res.table.iloc[0]
    assert row.formula_power < float(
        simulate_rollout_power(
            rollout_design(6, 3), effect=0.5, icc=0.1, cluster_size=10, n_reps=10, workers=1
        ).table.formula_power.iloc[0]
    )
    assert 0 < row.power < 1


def test_mixed_model_analysis_size_coverage_and_power() -> None:
    reps = 300
    res = simulate_rollout_power(
        rollout_design(24, 3),
        effect=[0.0, 0.4],
        icc=0.05,
        cluster_size=10,
        response_rate=0.6,
        n_reps=reps,
        seed=5,
        workers=1,
        analysis="mixed",
    )
    t = res.table
    assert (t.estimable >= reps - 3).all()
    mc = np.sqrt(0.05 * 0.95 / reps)
    assert abs(t.power.iloc[0] - 0.05) <= 3 * mc
    assert (np.abs(t.coverage - 0.95) <= 3 * mc).all()
    assert abs(t.power.iloc[1] - t.formula_power.iloc[1]) <= 3 * t.formula_mc_se.iloc[1] + 0.05
    assert res.parameters["groups"] == ["cluster"]
    assert (res.replications.df > 20).all()  # Satterthwaite df of the within-unit contrast


def test_parallel_workers_give_identical_replicates() -> None:
    kw = {
        "effect": [0.0, 0.3],
        "icc": 0.05,
        "cluster_size": 6,
        "individual_autocorrelation": 0.4,
        "response_rate": 0.8,
        "n_reps": 40,
        "seed": 99,
    }
    one = simulate_rollout_power(rollout_design(9, 3), workers=1, **kw)
    two = simulate_rollout_power(rollout_design(9, 3), workers=2, **kw)
    pd.testing.assert_frame_equal(one.replications, two.replications)
    # the first replicates do not depend on how many follow
    short = simulate_rollout_power(rollout_design(9, 3), workers=1, **{**kw, "n_reps": 10})
    first = one.replications[one.replications.replicate < 10].reset_index(drop=True)
    pd.testing.assert_frame_equal(first, short.replications)
    assert len(replicate_seeds(1, 3)) == 3


def test_simulation_bad_input() -> None:
    x = rollout_design(6, 3)
    with pytest.raises(ConfigError, match="two random intercepts"):
        simulate_rollout_power(
            x,
            effect=0.2,
            icc=0.1,
            cluster_size=5,
            cluster_autocorrelation=0.5,
            individual_autocorrelation=0.5,
            analysis="mixed",
        )
    with pytest.raises(ConfigError, match="whole numbers"):
        simulate_rollout_power(x, effect=0.2, icc=0.1, cluster_size=5.5, n_reps=5)
    with pytest.raises(ConfigError, match="repeated"):
        simulate_rollout_power(x, effect=[0.2, 0.2], icc=0.1, cluster_size=5)
    with pytest.raises(ConfigError, match="workers"):
        simulate_rollout_power(x, effect=0.2, icc=0.1, cluster_size=5, workers=0)
    with pytest.raises(ConfigError, match="outcome must be one of"):
        simulated_survey_power(n_leaders=300, effect_d=0.3, outcome="happiness")
    with pytest.raises(ConfigError, match="set by simulated_survey_power"):
        simulated_survey_power(n_leaders=300, effect_d=0.3, seed=1, scales={})
    with pytest.raises(ConfigError, match="unknown simulation parameter"):
        simulated_survey_power(n_leaders=300, effect_d=0.3, colour="blue")


def test_survey_power_through_the_simulator_is_reproducible_across_workers() -> None:
    kw = {"n_leaders": 300, "effect_d": 0.6, "n_systems": 2, "seed": 4}
    one = simulated_survey_power(workers=1, **kw)
    two = simulated_survey_power(workers=2, **kw)
    pd.testing.assert_frame_equal(one.replications, two.replications)
    reps = one.replications
    assert reps.estimate.notna().all() and (reps.truth > 0).all()
    row = one.table.iloc[0]
    assert row.n_systems == 2 and 0 < row.mean_truth_d < 0.6  # ramp, decay and dose
    assert isinstance(one, SimulatedSurveyPower) and "doubly-robust" in one.notes[0]


def test_randomised_rollout_through_the_simulator() -> None:
    res = simulated_survey_power(
        n_leaders=400, effect_d=0.5, n_systems=1, workers=1, rollout="randomised"
    )
    assert res.rollout == "randomised" and "randomised rollout" in res.notes[0]
    assert res.replications.estimate.notna().all()
    assert res.replications.truth.notna().all()  # the randomised leaders' realised ATT
