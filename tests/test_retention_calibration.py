"""The retention hazard ratio against the simulator's truth, over seeded systems (a CI-sized run).

The 200-system run per world is `benchmarks/calibrate_retention.py`, recorded in
docs/calibration.md. Here 24 systems of 600 leader positions (about a minute) in the world where
enrolment does not depend on the engagement trait: the SD of the log-HR error is about 0.2 at
this size, so the Monte Carlo SE of the mean error is about 0.04 and |bias| < 0.15 is a
3.5-SE band; 48 nominal-95% intervals (two worlds) covering fewer than 40 would be a 3-SE
shortfall. The ever-enrolled model's immortal-time bias (about -0.76 in the 200-system runs) is
checked against a -0.4 bound.
"""

from __future__ import annotations

import numpy as np
import pytest

from coacheval.evaluate.calibration import calibrate_retention


@pytest.fixture(scope="module")
def worlds():
    seeds = range(301, 325)
    return {
        world: calibrate_retention(seeds, n_leaders=600, world=world, processes=2)
        for world in ("effect", "null")
    }


def test_time_varying_cox_is_unbiased_and_covers(worlds):
    covered = 0
    for summary in worlds.values():
        primary = summary.loc["cox_tv"]
        assert primary.runs == 24
        assert abs(primary.bias_log_hr) < 0.15, summary
        covered += primary.coverage * primary.runs
    assert covered >= 40


def test_null_program_is_rarely_rejected_and_ever_enrolled_always_is(worlds):
    null = worlds["null"]
    assert null.loc["cox_tv", "rejection_rate"] <= 4 / 24  # P(>= 5 of 24 at 5%) = 0.008
    for summary in worlds.values():
        assert summary.loc["cox_ever_enrolled", "bias_log_hr"] < -0.4
    assert np.isclose(null.loc["cox_ever_enrolled", "rejection_rate"], 1.0)
