"""Calibration of the effect estimators against the simulator's truth.

Each replication simulates a seeded health system, validates and scores it, runs the primary
estimator (doubly-robust group-time DiD) and the naive enrolled-vs-never-enrolled comparison, and
compares them with the realised ATT (the simulator's treated-minus-untreated potential outcomes
of enrolled respondents, averaged over post-start cohort-waves, weighted by respondents).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable

import numpy as np
import pandas as pd

from coacheval.evaluate.plan import parse_plan
from coacheval.evaluate.run import evaluate
from coacheval.io.pseudonymise import PseudonymKey
from coacheval.io.study import load_study
from coacheval.simulate import simulate_health_system

OUTCOMES = ("work_engagement", "job_satisfaction")
_KEY = PseudonymKey(b"calibration-key-000000")


def replicate(
    seed: int,
    *,
    n_leaders: int = 1000,
    cluster: str = "peer_group",
    outcomes: Iterable[str] = OUTCOMES,
) -> list[dict[str, float]]:
    """One replication: the primary and naive estimates of each outcome against the truth."""
    outcomes = tuple(outcomes)
    system = simulate_health_system(seed=seed, n_leaders=n_leaders)
    with tempfile.TemporaryDirectory() as folder:
        system.write(folder)
        study = load_study(folder, key=_KEY)
    plan = parse_plan(
        {
            "name": "calibration",
            "design": {
                "type": "staggered_did",
                "comparison": "never_treated",
                "baseline_wave": "W1",
            },
            "outcomes": list(outcomes),
            "covariates": ["tenure_years", "role_level"],
            "methods": {"primary": "did_dr", "secondary": ["naive_post"]},
            "inference": {"cluster": cluster},
            "seed": seed,
        }
    )
    estimates = evaluate(study, plan).estimates
    truth = pd.DataFrame(system.truth["surveys"]["realised_att"])
    rows = []
    for outcome in outcomes:
        t = truth[truth.construct == outcome]
        true_att = float(np.average(t.att, weights=t.n_respondents))
        for method, term in (("did_dr", "ATT (overall)"), ("naive_post", "difference in means")):
            e = estimates[
                (estimates.outcome == outcome)
                & (estimates.method == method)
                & (estimates.term == term)
            ]
            e = e.iloc[0]
            rows.append(
                {
                    "seed": seed,
                    "outcome": outcome,
                    "method": method,
                    "truth": true_att,
                    "estimate": float(e.estimate),
                    "low": float(e.conf_low),
                    "high": float(e.conf_high),
                    "sd": float(e.baseline_sd),
                }
            )
    return rows


def calibrate(
    seeds: Iterable[int], *, n_leaders: int = 1000, cluster: str = "peer_group"
) -> pd.DataFrame:
    """Run replications and summarise bias (baseline SD), its Monte Carlo SE, RMSE and coverage.

    Returns
    -------
    DataFrame
        Indexed by outcome and method: ``bias_sd, mc_se, rmse_sd, coverage, runs``.

    Examples
    --------
    >>> summary = calibrate([1], n_leaders=300)
    >>> sorted(summary.index.get_level_values("method").unique())
    ['did_dr', 'naive_post']
    """
    frame = pd.DataFrame(
        [r for seed in seeds for r in replicate(seed, n_leaders=n_leaders, cluster=cluster)]
    )
    frame["error_sd"] = (frame.estimate - frame.truth) / frame.sd
    frame["covered"] = (frame.low <= frame.truth) & (frame.truth <= frame.high)
    return frame.groupby(["outcome", "method"]).agg(
        bias_sd=("error_sd", "mean"),
        mc_se=("error_sd", lambda x: x.std(ddof=1) / np.sqrt(len(x)) if len(x) > 1 else np.nan),
        rmse_sd=("error_sd", lambda x: float(np.sqrt(np.mean(x**2)))),
        coverage=("covered", "mean"),
        runs=("covered", "size"),
    )
