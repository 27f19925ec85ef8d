"""Calibration of the randomised-rollout estimators against the simulator's truth.

Each replication simulates a seeded health system whose peer groups were randomised to cohorts
(``rollout="randomised"``), writes, validates and loads it like real extracts, and estimates:

* **survey outcomes** — the randomised plan's primary estimator (group-time DiD of started
  against not-yet-started randomised cohorts, no covariates, clustered by peer group), against
  ``truth.json``'s ``rollout.survey_effects.target_att`` (the realised ATT over the identified
  cohort-waves, weighted by cohort size); errors in baseline SDs of the randomised leaders;
* **retention** — the log hazard ratio of voluntary exit, against the true ``log(0.85)``, from

  - ``cox_randomised``: the randomised plan's Cox model (randomised leaders, exposure from the
    assigned start, calendar time from randomisation, clustered by peer group);
  - ``cox_tv``: the volunteer design's primary model applied to the same system (enrolled vs not
    yet enrolled, all leaders, years since hire, adjusted for role level) — biased because the
    volunteers (randomised or not) are more engaged than the leaders who never volunteered;
  - ``cox_ever_enrolled``: the naive "ever enrolled" model (immortal time plus selection).

Randomisation removes the selection bias only from the comparison that stays inside the
randomised population; the other two show what it would have been.

>>> OUTCOMES
('work_engagement', 'job_satisfaction')
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from coacheval.effects.did import group_time_att
from coacheval.effects.panel import survey_panel
from coacheval.evaluate.plan import load_plan
from coacheval.evaluate.retention import design_columns, retention_data
from coacheval.evaluate.rollout import randomised_rollout
from coacheval.io.pseudonymise import PseudonymKey
from coacheval.io.study import load_study
from coacheval.retention.cox import CoxConvergenceWarning, fit_cox
from coacheval.simulate import simulate_health_system

__all__ = ["OUTCOMES", "calibrate_randomised", "replicate_randomised", "summarise"]

OUTCOMES = ("work_engagement", "job_satisfaction")
"""Survey outcomes calibrated by default (those of docs/calibration.md's volunteer-design runs)."""
_KEY = PseudonymKey(b"calibration-key-000000")


_NOT_ESTIMABLE_LOG_HR = 10.0  # |log HR| beyond this: a monotone likelihood (no exposed exits)


def _exposure_diverged(caught: warnings.WarningMessage) -> bool:
    """Whether a warning says the fit failed or the exposure's coefficient may be infinite.

    An infinite coefficient of a covariate (no exits at one role level) leaves the exposure's
    hazard ratio estimable, as in R.
    """
    if not issubclass(caught.category, CoxConvergenceWarning):
        return False
    text = str(caught.message)
    return "did not converge" in text or "'exposed'" in text


def _cox_log_hr(frame: pd.DataFrame, event: np.ndarray, covariates: list[str]) -> dict[str, Any]:
    """Fit the Cox model; flag fits without a finite maximum (no exits in one arm)."""
    frame = frame.assign(_event=event)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_cox(
            frame,
            start_col="start",
            stop_col="stop",
            event_col="_event",
            covariates=["exposed", *covariates],
            cluster_col="peer_group",
        )
    row = fit.table.set_index("term").loc["exposed"]
    exposed = frame.exposed.to_numpy() == 1
    events = (int(event[exposed].sum()), int(event[~exposed].sum()))
    return {
        "estimate": float(row.estimate),
        "low": float(row.conf_low),
        "high": float(row.conf_high),
        "estimable": bool(
            fit.converged
            and min(events) > 0
            and abs(float(row.estimate)) < _NOT_ESTIMABLE_LOG_HR
            and not any(_exposure_diverged(w) for w in caught)
        ),
        "events_exposed": events[0],
        "events_unexposed": events[1],
    }


def replicate_randomised(
    seed: int,
    *,
    n_leaders: int = 1000,
    outcomes: Iterable[str] = OUTCOMES,
    overrides: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One replication: randomised and observational estimates against the truth.

    Parameters
    ----------
    seed
        Simulation seed (also the randomisation seed).
    n_leaders
        Leader positions of the simulated system.
    outcomes
        Survey outcomes to estimate.
    overrides
        Other simulation parameters (e.g. ``{"voluntary_hr": 1.0}`` for a null program).

    Returns
    -------
    list of dict
        One row per estimate: ``seed, quantity, method, truth, estimate, low, high, scale``
        (``scale`` divides errors: the baseline SD for survey outcomes, 1 for log hazard ratios),
        ``estimable`` (False for a Cox fit with no finite maximum: no exits in one arm) and, for
        hazard ratios, the exits in exposed and unexposed person-time.

    Examples
    --------
    >>> rows = replicate_randomised(3, n_leaders=300, outcomes=["work_engagement"])
    >>> sorted(r["method"] for r in rows)
    ['cox_ever_enrolled', 'cox_randomised', 'cox_tv', 'did_randomised']
    """
    outcomes = tuple(outcomes)
    system = simulate_health_system(
        seed=seed, n_leaders=n_leaders, rollout="randomised", **(overrides or {})
    )
    with tempfile.TemporaryDirectory() as folder:
        system.write(folder)
        study = load_study(folder, key=_KEY)
        plan = load_plan("randomised")
        rollout = randomised_rollout(study, plan)
    truth = system.truth["rollout"]
    rows: list[dict[str, Any]] = []

    panel = survey_panel(rollout.study)
    panel = panel[panel.person.isin(rollout.leaders.employee_id)]
    panel = panel.assign(peer_group=panel.peer_group.fillna("solo-" + panel.person.astype(str)))
    for outcome in outcomes:
        result = group_time_att(
            panel,
            outcome=outcome,
            unit="person",
            period="period",
            group="group",
            method="dr",
            comparison="not_yet_treated",
            cluster="peer_group",
            level=plan.inference.level,
            min_cell=plan.reporting.min_cell,
            few_clusters_below=plan.inference.wild_bootstrap_below_clusters,
        )
        overall = result.overall()
        baseline = panel.loc[panel.period == 1, outcome].dropna()
        rows.append(
            {
                "seed": seed,
                "quantity": outcome,
                "method": "did_randomised",
                "truth": float(truth["survey_effects"]["target_att"][outcome]),
                "estimate": float(overall.estimate),
                "low": float(overall.conf_low),
                "high": float(overall.conf_high),
                "scale": float(baseline.std(ddof=1)),
                "estimable": True,
            }
        )

    log_hr = float(np.log(truth["retention"]["hazard_ratio"]))
    randomised = retention_data(rollout.study, rollout.retention_plan(plan))
    fits = {"cox_randomised": _cox_log_hr(randomised.rows, randomised.events_for("voluntary"), [])}
    default = load_plan("default")
    assert default.retention is not None
    window = {
        "window_start": pd.Timestamp(system.config.window_start).date(),
        "extract_date": pd.Timestamp(system.config.extract_date).date(),
    }
    default = default.model_copy(update={"retention": default.retention.model_copy(update=window)})
    everyone = retention_data(study, default)
    frame, names = design_columns(everyone.rows, default.retention.covariates)
    fits["cox_tv"] = _cox_log_hr(frame, everyone.events_for("voluntary"), names)
    ever = everyone.ever_enrolled()
    ever_frame, ever_names = design_columns(ever, default.retention.covariates)
    ever_event = ((ever.event == 1) & (ever.cause == "voluntary")).to_numpy(dtype=int)
    fits["cox_ever_enrolled"] = _cox_log_hr(ever_frame, ever_event, ever_names)
    for method, fit in fits.items():
        rows.append(
            {
                "seed": seed,
                "quantity": "voluntary exit log HR",
                "method": method,
                "truth": log_hr,
                "estimate": fit["estimate"],
                "low": fit["low"],
                "high": fit["high"],
                "scale": 1.0,
                "estimable": fit["estimable"],
                "events_exposed": fit["events_exposed"],
                "events_unexposed": fit["events_unexposed"],
            }
        )
    return rows


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    """Bias, its Monte Carlo SE, RMSE, 95% CI coverage and its MC SE, per quantity and method.

    Errors are divided by ``scale`` (baseline SDs for survey outcomes, 1 for log hazard ratios).
    Replications whose estimate is not ``estimable`` are counted in ``not_estimable`` and left
    out of the other columns.

    Examples
    --------
    >>> frame = pd.DataFrame({"quantity": "q", "method": "m", "truth": 0.0,
    ...     "estimate": [0.1, -0.1], "low": [-0.2, -0.3], "high": [0.3, 0.1], "scale": 1.0})
    >>> summarise(frame)[["bias", "coverage", "runs"]].values.tolist()
    [[0.0, 1.0, 2.0]]
    """
    if "estimable" not in frame:
        frame = frame.assign(estimable=True)
    frame = frame.assign(
        error=(frame.estimate - frame.truth) / frame.scale,
        covered=(frame.low <= frame.truth) & (frame.truth <= frame.high),
        rejects=(frame.low > 0) | (frame.high < 0),
    )

    def mc_se(x: pd.Series) -> float:
        return float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else np.nan

    missing = (~frame.estimable.astype(bool)).groupby([frame.quantity, frame.method]).sum()
    frame = frame[frame.estimable.astype(bool)]
    out = frame.groupby(["quantity", "method"]).agg(
        bias=("error", "mean"),
        mc_se=("error", mc_se),
        sd=("error", "std"),
        rmse=("error", lambda x: float(np.sqrt(np.mean(x**2)))),
        coverage=("covered", "mean"),
        rejection_rate=("rejects", "mean"),
        runs=("covered", "size"),
    )
    out["coverage_mc_se"] = np.sqrt(out.coverage * (1 - out.coverage) / out.runs)
    out["runs"] = out.runs.astype(float)
    out["not_estimable"] = missing.reindex(out.index, fill_value=0).astype(float)
    return out


def calibrate_randomised(
    seeds: Iterable[int],
    *,
    n_leaders: int = 1000,
    processes: int = 1,
    overrides: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run replications; return the per-replication rows and their :func:`summarise` table.

    Parameters
    ----------
    seeds
        One simulated system per seed.
    n_leaders
        Leader positions per system.
    processes
        Worker processes (replications are independent).
    overrides
        Other simulation parameters for every system.

    Returns
    -------
    tuple of DataFrame
        The replication rows and the summary.

    Examples
    --------
    >>> rows, summary = calibrate_randomised([1], n_leaders=300)
    >>> sorted(summary.index.get_level_values("method").unique())
    ['cox_ever_enrolled', 'cox_randomised', 'cox_tv', 'did_randomised']
    """
    seeds = list(seeds)
    if processes > 1:
        from concurrent.futures import ProcessPoolExecutor
        from functools import partial

        work = partial(replicate_randomised, n_leaders=n_leaders, overrides=overrides)
        with ProcessPoolExecutor(processes) as pool:
            chunks = list(pool.map(work, seeds))
    else:
        chunks = [replicate_randomised(s, n_leaders=n_leaders, overrides=overrides) for s in seeds]
    frame = pd.DataFrame([r for chunk in chunks for r in chunk])
    return frame, summarise(frame)
