"""Calibration of the effect estimators against the simulator's truth.

Each replication simulates a seeded health system, validates and scores it, runs the primary
estimator (doubly-robust group-time DiD) and the naive enrolled-vs-never-enrolled comparison, and
compares them with the realised ATT (the simulator's treated-minus-untreated potential outcomes
of enrolled respondents, averaged over post-start cohort-waves, weighted by respondents).

The retention calibration does the same for the turnover hazard ratio, in three simulated worlds:

>>> sorted(RETENTION_WORLDS)
['effect', 'null', 'volunteer_selection']
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

__all__ = [
    "RETENTION_WORLDS",
    "calibrate",
    "calibrate_retention",
    "replicate",
    "replicate_retention",
]

OUTCOMES = ("work_engagement", "job_satisfaction")
_KEY = PseudonymKey(b"calibration-key-000000")


def replicate(
    seed: int,
    *,
    n_leaders: int = 1000,
    cluster: str = "peer_group",
    outcomes: Iterable[str] = OUTCOMES,
) -> list[dict[str, float]]:
    """One replication: the primary and naive estimates of each outcome against the truth.

    Returns
    -------
    list of dict
        One row per outcome and method (``did_dr``, ``naive_post``): ``seed, outcome, method,
        truth`` (the realised ATT), ``estimate, low, high`` and ``sd`` (the baseline SD).

    Examples
    --------
    >>> rows = replicate(1, n_leaders=300, outcomes=["work_engagement"])
    >>> [(r["method"], round(r["truth"], 3), round(r["estimate"], 3)) for r in rows]
    [('did_dr', 0.098, 0.098), ('naive_post', 0.098, 0.481)]
    """
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


RETENTION_WORLDS = {
    "effect": {"selection_engagement": 0.0},
    "null": {"selection_engagement": 0.0, "voluntary_hr": 1.0},
    "volunteer_selection": {},
}
"""Simulated worlds for the retention calibration.

``effect`` and ``null``: enrolment does not depend on the engagement trait (it still depends on
tenure and role), so a Cox model on the tenure scale adjusted for role level has no unmeasured
confounder; the program's voluntary-exit hazard ratio is 0.85 or 1. ``volunteer_selection``: the
default simulator, in which more engaged leaders volunteer and also leave less — an unmeasured
confounder (the engagement trait is seen only through noisy survey scores) that biases every
observational retention estimate towards benefit; it is run to measure that bias, not to pass.
"""


def replicate_retention(
    seed: int, *, n_leaders: int = 1000, world: str = "effect"
) -> list[dict[str, float]]:
    """One retention replication: time-varying and ever-enrolled hazard ratios against the truth.

    Examples
    --------
    >>> rows = replicate_retention(3, n_leaders=300)
    >>> sorted(r["method"] for r in rows)
    ['cox_ever_enrolled', 'cox_tv']
    """
    from coacheval.evaluate.plan import load_plan
    from coacheval.evaluate.retention import retention_estimates

    system = simulate_health_system(seed=seed, n_leaders=n_leaders, **RETENTION_WORLDS[world])
    with tempfile.TemporaryDirectory() as folder:
        system.write(folder)
        study = load_study(folder, key=_KEY)
    plan = load_plan("default")
    plan = plan.model_copy(
        update={
            "retention": plan.retention.model_copy(
                update={
                    "window_start": pd.Timestamp(system.config.window_start).date(),
                    "extract_date": pd.Timestamp(system.config.extract_date).date(),
                }
            )
        }
    )
    rows, _ = retention_estimates(study, plan, [])
    truth = float(system.truth["retention"]["true_effect"]["hazard_ratio"])
    return [
        {
            "seed": seed,
            "world": world,
            "method": r["method"],
            "truth_log_hr": np.log(truth),
            "log_hr": float(np.log(r["estimate"])),
            "se": float(r["std_error"]),
            "low": float(np.log(r["conf_low"])),
            "high": float(np.log(r["conf_high"])),
        }
        for r in rows
        if r["outcome"] == "voluntary turnover" and r["method"] in ("cox_tv", "cox_ever_enrolled")
    ]


def calibrate_retention(
    seeds: Iterable[int], *, n_leaders: int = 1000, world: str = "effect", processes: int = 1
) -> pd.DataFrame:
    """Bias of the log hazard ratio, its Monte Carlo SE, coverage and rejection rate at 5%.

    Returns
    -------
    DataFrame
        Indexed by method: ``bias_log_hr, mc_se, rmse, coverage, rejection_rate, runs``.

    Examples
    --------
    >>> summary = calibrate_retention([1, 2], n_leaders=300)
    >>> list(summary.columns)
    ['bias_log_hr', 'mc_se', 'rmse', 'coverage', 'rejection_rate', 'runs']
    """
    seeds = list(seeds)
    if processes > 1:
        from concurrent.futures import ProcessPoolExecutor
        from functools import partial

        with ProcessPoolExecutor(processes) as pool:
            chunks = pool.map(partial(replicate_retention, n_leaders=n_leaders, world=world), seeds)
            frame = pd.DataFrame([r for chunk in chunks for r in chunk])
    else:
        frame = pd.DataFrame(
            [r for s in seeds for r in replicate_retention(s, n_leaders=n_leaders, world=world)]
        )
    frame["error"] = frame.log_hr - frame.truth_log_hr
    frame["covered"] = (frame.low <= frame.truth_log_hr) & (frame.truth_log_hr <= frame.high)
    frame["rejects"] = (frame.high < 0) | (frame.low > 0)
    return frame.groupby("method").agg(
        bias_log_hr=("error", "mean"),
        mc_se=("error", lambda x: x.std(ddof=1) / np.sqrt(len(x)) if len(x) > 1 else np.nan),
        rmse=("error", lambda x: float(np.sqrt(np.mean(x**2)))),
        coverage=("covered", "mean"),
        rejection_rate=("rejects", "mean"),
        runs=("covered", "size"),
    )
