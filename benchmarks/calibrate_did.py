"""Calibration of the primary estimator on the simulator (run on demand; figures go in the docs).

Usage: python benchmarks/calibrate_did.py [N_SYSTEMS] [N_LEADERS] [CLUSTER]

For each seeded simulated system: validate, score, estimate the overall ATT on work engagement
and job satisfaction with the plan's primary estimator (doubly-robust group-time DiD), and the
naive enrolled-vs-not comparison; compare with the simulator's realised ATT (averaged over the
post-start cohort-waves, weighted by respondents). Prints bias (in baseline SD), RMSE, and the
coverage of the 95% CIs, with Monte Carlo standard errors.
"""

from __future__ import annotations

import sys
import tempfile
import time

import numpy as np
import pandas as pd

from coacheval.evaluate.plan import parse_plan
from coacheval.evaluate.run import evaluate
from coacheval.io.pseudonymise import PseudonymKey
from coacheval.io.study import load_study
from coacheval.simulate import simulate_health_system

OUTCOMES = ("work_engagement", "job_satisfaction")


def one(seed: int, leaders: int, cluster: str) -> list[dict]:
    system = simulate_health_system(seed=seed, n_leaders=leaders)
    with tempfile.TemporaryDirectory() as folder:
        system.write(folder)
        study = load_study(folder, key=PseudonymKey(b"calibration-key-000000"))
    plan = parse_plan(
        {
            "name": "calibration",
            "design": {
                "type": "staggered_did",
                "comparison": "never_treated",
                "baseline_wave": "W1",
            },
            "outcomes": list(OUTCOMES),
            "covariates": ["tenure_years", "role_level"],
            "methods": {"primary": "did_dr", "secondary": ["naive_post"]},
            "inference": {"cluster": cluster},
            "seed": seed,
        }
    )
    estimates = evaluate(study, plan).estimates
    truth = pd.DataFrame(system.truth["surveys"]["realised_att"])
    rows = []
    for outcome in OUTCOMES:
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
                    "estimate": e.estimate,
                    "low": e.conf_low,
                    "high": e.conf_high,
                    "sd": e.baseline_sd,
                }
            )
    return rows


def main(n: int, leaders: int, cluster: str) -> None:
    start = time.perf_counter()
    rows = [r for seed in range(1, n + 1) for r in one(seed, leaders, cluster)]
    frame = pd.DataFrame(rows)
    frame["error_sd"] = (frame.estimate - frame.truth) / frame.sd
    frame["covered"] = (frame.low <= frame.truth) & (frame.truth <= frame.high)
    summary = frame.groupby(["outcome", "method"]).agg(
        bias_sd=("error_sd", "mean"),
        mc_se=("error_sd", lambda x: x.std(ddof=1) / np.sqrt(len(x))),
        rmse_sd=("error_sd", lambda x: float(np.sqrt(np.mean(x**2)))),
        coverage=("covered", "mean"),
    )
    print(
        f"{n} systems of {leaders} leader positions, clustered by {cluster}, "
        f"{time.perf_counter() - start:.0f} s"
    )
    print(summary.round(3).to_string())


if __name__ == "__main__":
    args = sys.argv[1:]
    main(
        int(args[0]) if args else 200,
        int(args[1]) if len(args) > 1 else 1000,
        args[2] if len(args) > 2 else "unit_id",
    )
