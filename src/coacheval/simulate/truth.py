"""The ground truth of a simulated system: every parameter and every realised effect.

Part of the simulator's engine (users read the result as ``SimulatedSystem.truth`` or
``truth.json``): the module has no public API, so its ``__all__`` is empty.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from coacheval.measures.instruments import Instrument
from coacheval.simulate.config import (
    CONSTRUCTS,
    ROLE_LEVELS,
    SOURCES,
    TERMINATION_CAUSES,
    SimulationConfig,
)
from coacheval.simulate.hazards import DAYS_PER_YEAR, HazardModel, integrated_hazards
from coacheval.simulate.organisation import Organisation
from coacheval.simulate.program import Program
from coacheval.simulate.surveys import Surveys

__all__: list[str] = []


def _round(x: float) -> float:
    return float(np.round(float(x), 10))


def _expected_events(
    cfg: SimulationConfig, model: HazardModel, people: pd.DataFrame, exposed: bool | None
) -> dict[str, float]:
    """Sum over people of the integrated cause-specific hazards over their time in the window.

    Uses the continuous hire and exit times the whole-day dates are floored from, so that the
    observed number of events by cause is Poisson-distributed around these values.
    """
    hire = people.hire_exact.to_numpy()
    lower = (np.maximum(hire, cfg.window_start_day) - hire) / DAYS_PER_YEAR
    upper = (np.minimum(people.exit_exact.to_numpy(), cfg.extract_day) - hire) / DAYS_PER_YEAR
    enrol = (people.enrol_day.to_numpy() - hire) / DAYS_PER_YEAR
    ih = integrated_hazards(
        model,
        people.age_hire.to_numpy(),
        people.frailty.to_numpy(),
        enrol,
        lower,
        np.maximum(upper, lower),
        exposed=exposed,
    )
    return {c: _round(v) for c, v in zip(TERMINATION_CAUSES, ih.sum(axis=0), strict=True)}


def build_truth(
    cfg: SimulationConfig,
    org: Organisation,
    model: HazardModel,
    program: Program,
    surveys: Surveys,
    window_people: pd.DataFrame,
    instruments: dict[str, Instrument],
) -> dict[str, Any]:
    """Assemble ``truth.json`` (without file hashes and injected problems, added on writing)."""
    people = window_people
    observed = people.exit_day.to_numpy() <= cfg.extract_day
    exposure_years = (
        np.minimum(people.exit_day, cfg.extract_day)
        - np.maximum(people.hire_day, cfg.window_start_day)
    ) / DAYS_PER_YEAR
    events = {
        c: int(((people.cause.to_numpy() == k) & observed).sum())
        for k, c in enumerate(TERMINATION_CAUSES)
    }

    effects = surveys.effects
    att_rows = (
        effects.groupby(["construct", "cohort", "wave"])
        .agg(
            n=("effect", "size"),
            att=("effect", "mean"),
            mean_effect_share=("effect_share", "mean"),
            mean_months_since_start=("months_since_start", "mean"),
        )
        .reset_index()
    )
    att_rows = att_rows[att_rows.mean_months_since_start > 0]
    scales = {}
    for c in CONSTRUCTS:
        s = cfg.scales[c]
        inst = instruments[s.instrument]
        mult = inst.item_multiplier
        scales[c] = {
            "instrument": s.instrument,
            "population_mean": _round(s.mean * mult),
            "population_sd": _round(s.sd * mult),
            "reliability": s.reliability,
            "effect_d": s.effect_d,
            "effect_in_scale_units_at_full_dose": _round(s.effect_d * s.sd * mult),
            "scale_metric": f"mean of items x {mult:g}",
        }
    enr = program.enrolment
    groups = program.groups
    truth: dict[str, Any] = {
        "description": (
            "Ground truth of a coacheval simulated health system. Every extract in this folder "
            "was generated from these parameters."
        ),
        "seed": cfg.seed,
        "config": cfg.to_dict(),
        "sources": SOURCES,
        "organisation": {
            "facilities": len(org.facilities),
            "departments": len(org.departments),
            "units": int((~org.units.is_admin).sum()),
            "cost_centres_incl_administration": len(org.units),
            "leader_positions": len(org.seats),
            "positions_by_role_level": org.seats.role_level.value_counts().sort_index().to_dict(),
        },
        "workforce": {
            "leaders_in_extract": len(people),
            "hires_in_window": int((people.hire_day.to_numpy() >= cfg.window_start_day).sum()),
            "terminations_in_window_by_cause": events,
            "person_years_in_window": _round(exposure_years.sum()),
        },
        "retention": {
            "hazards": model.to_dict(),
            "target_separations_per_person_year": {
                k: _round(v) for k, v in cfg.cause_rates().items()
            },
            "true_effect": {
                "estimand": "conditional hazard ratio of voluntary exit, enrolled vs not yet enrolled",
                "hazard_ratio": cfg.voluntary_hr,
                "applies": "from the enrolment date on, for the rest of employment (intention to treat)",
                "causes_affected": ["voluntary"],
                "other_causes_hazard_ratio": 1.0,
                "note": (
                    "conditional on the latent engagement and burnout traits (frailty); a marginal "
                    "HR from a model without them is slightly closer to 1"
                ),
            },
            "expected_events_in_window": {
                "all_time": _expected_events(cfg, model, people, None),
                "unexposed_time": _expected_events(cfg, model, people, False),
                "exposed_time": _expected_events(cfg, model, people, True),
            },
        },
        "program": {
            "cohorts": [
                {
                    "cohort_id": r.cohort_id,
                    "start_day_iso": str(np.datetime64(int(r.start_day), "D")),
                    "enrolled": int((enr.cohort == r.cohort).sum()),
                    "groups": int((groups.cohort == r.cohort).sum()),
                }
                for r in program.cohorts.itertuples()
            ],
            "enrolled": len(enr),
            "status": enr.status.value_counts().sort_index().to_dict(),
            "selection_model": {
                "form": "weighted sampling without replacement, weight = exp(lp)",
                "lp": {
                    "work_engagement_trait": cfg.selection_engagement,
                    "log_tenure_years": cfg.selection_log_tenure,
                    "role_level": dict(zip(ROLE_LEVELS, cfg.selection_role, strict=True)),
                },
                "direction": "enrolees are more engaged and have shorter tenure than eligible non-enrolees",
            },
            "mean_dose": _round(enr.dose.mean()) if len(enr) else None,
            "reference_dose": cfg.reference_dose,
            "groups_maintaining": int((groups.maintenance_months > 0).sum()),
        },
        "surveys": {
            "waves": [
                {
                    "wave_id": r.wave_id,
                    "invited": int(r.invited),
                    "responded": int(r.responded),
                    "configured_response_rate": cfg.response_rate,
                }
                for r in surveys.waves.itertuples()
            ],
            "icc": {
                "unit_including_facility": cfg.icc_unit,
                "facility": cfg.variance_facility,
                "peer_group": cfg.variance_peer_group,
                "note": "share of true-score variance; observed scale ICC is about icc x reliability",
            },
            "scales": scales,
            "effect_trajectory": {
                "ramp_months": cfg.ramp_months,
                "decay_by_month_12": cfg.decay_by_month_12,
                "after_program": "kept while the group meets, then declines to the floor over 12 months",
                "floor_without_maintenance": cfg.floor_without_maintenance,
                "dose": "effect scales with program sessions attended / planned, relative to reference_dose",
            },
            "true_score_means": [
                {
                    "construct": r.construct,
                    "wave_id": surveys.waves.wave_id.iloc[int(r.wave)],
                    "respondents": int(r.n),
                    "mean": _round(r.mean_true_score),
                    "sd": _round(r.sd_true_score),
                }
                for r in surveys.true_scores.itertuples()
            ],
            "realised_att": [
                {
                    "construct": r.construct,
                    "cohort_id": program.cohorts.cohort_id.iloc[int(r.cohort)],
                    "wave_id": surveys.waves.wave_id.iloc[int(r.wave)],
                    "n_respondents": int(r.n),
                    "att": _round(r.att),
                    "mean_months_since_start": _round(r.mean_months_since_start),
                }
                for r in att_rows.itertuples()
            ],
        },
    }
    if program.randomised is not None:
        truth["rollout"] = rollout_truth(cfg, program, surveys)
    return truth


def rollout_truth(cfg: SimulationConfig, program: Program, surveys: Surveys) -> dict[str, Any]:
    """Build the ``rollout`` entry of ``truth.json``: what a randomised evaluation targets.

    The population is every randomised leader (intention to treat by assignment). Survey
    effects: the realised ATT (treated minus untreated potential outcome) of each cohort at each
    wave from its start on, among randomised respondents; a cell is ``identified`` when a
    randomised cohort has not started by the wave's opening (a not-yet-started comparison
    exists). ``target_att`` averages the identified cells weighted by cohort size (randomised
    leaders who answered any wave), as the overall group-time aggregation does. Retention: the
    voluntary-exit hazard ratio from the assigned start on.

    Examples
    --------
    >>> from coacheval.simulate import simulate_health_system
    >>> system = simulate_health_system(seed=2, n_leaders=300, rollout="randomised")
    >>> t = system.truth["rollout"]
    >>> t["design"], t["retention"]["hazard_ratio"]
    ('randomised rollout (stepped wedge)', 0.85)
    """
    r = program.randomised
    assert r is not None and program.rollout is not None
    cohorts = program.cohorts
    waves = surveys.waves
    start = cohorts.start_day.to_numpy()
    effects = surveys.effects[surveys.effects.pid.isin(r.pid)]
    effects = effects[effects.cohort >= 0]
    open_day = waves.open_day.to_numpy()[effects.wave.to_numpy()]
    post = effects[open_day >= start[effects.cohort.to_numpy()]]
    cells = (
        post.groupby(["construct", "cohort", "wave"])
        .agg(n=("effect", "size"), att=("effect", "mean"))
        .reset_index()
    )
    cells["identified"] = waves.open_day.to_numpy()[cells.wave.to_numpy()] < start.max()
    responded = surveys.responses.pid.unique()
    weight = r[r.pid.isin(responded)].groupby("cohort").size().reindex(cohorts.cohort, fill_value=0)
    target = {}
    for construct, c in cells[cells.identified].groupby("construct"):
        w = weight.reindex(c.cohort).to_numpy(dtype=float)
        target[construct] = _round(np.average(c.att, weights=w)) if w.sum() > 0 else None
    by_cohort = r.groupby("cohort").agg(
        groups=("group_label", "nunique"), leaders=("pid", "size"), started=("started", "sum")
    )
    record = program.rollout.record()
    return {
        "design": "randomised rollout (stepped wedge)",
        "unit_of_randomisation": "peer group (formed within facility before randomisation)",
        "seed": record["seed"],
        "method": record["method"],
        "strata": record["strata"],
        "bit_generator": record["bit_generator"],
        "randomised_date": str(np.datetime64(int(r.randomised_day.iloc[0]), "D")),
        "randomised_leaders": len(r),
        "randomised_groups": int(r.group_label.nunique()),
        "recruitment": (
            "all cohorts recruited at the first cohort's recruitment date with the volunteer "
            "selection model (n_cohorts x a cohort's capacity)"
        ),
        "cohorts": [
            {
                "cohort_id": cohorts.cohort_id.iloc[int(k)],
                "start_day_iso": str(np.datetime64(int(start[int(k)]), "D")),
                "groups": int(row.groups),
                "leaders": int(row.leaders),
                "started": int(row.started),
                "left_before_start": int(row.leaders - row.started),
            }
            for k, row in by_cohort.iterrows()
        ],
        "allocation": program.rollout.allocation.to_dict("records"),
        "retention": {
            "estimand": (
                "hazard ratio of voluntary exit, randomised leaders whose group has started vs "
                "those whose group has not yet started, from the assigned start on "
                "(intention to treat)"
            ),
            "hazard_ratio": cfg.voluntary_hr,
            "log_hazard_ratio": _round(np.log(cfg.voluntary_hr)),
            "note": (
                "conditional on the latent traits; randomisation balances them between cohorts, "
                "so a Cox model of the randomised leaders has no confounder (its marginal hazard "
                "ratio is slightly closer to 1 as frail leaders leave)"
            ),
        },
        "survey_effects": {
            "estimand": (
                "ATT of started cohorts against not-yet-started randomised cohorts, group-time "
                "cells weighted by cohort size"
            ),
            "target_att": target,
            "cohort_weights": {cohorts.cohort_id.iloc[int(k)]: int(v) for k, v in weight.items()},
            "realised_att": [
                {
                    "construct": c.construct,
                    "cohort_id": cohorts.cohort_id.iloc[int(c.cohort)],
                    "wave_id": waves.wave_id.iloc[int(c.wave)],
                    "n_respondents": int(c.n),
                    "att": _round(c.att),
                    "identified": bool(c.identified),
                }
                for c in cells.itertuples()
            ],
        },
    }


def spillover_truth(cfg: SimulationConfig, staffing: pd.DataFrame) -> dict[str, Any]:
    """Build the ``spillover`` entry of ``truth.json``: the staff-turnover rate ratio and setting.

    Examples
    --------
    >>> from coacheval.simulate import simulate_health_system
    >>> system = simulate_health_system(seed=2, n_leaders=150, staff_turnover_rr=0.8)
    >>> system.truth["spillover"]["rate_ratio"]
    0.8
    """
    from coacheval.simulate.staffing import EXPOSURE_DEFINITION, HEADCOUNT_AUTOCORRELATION

    coached = staffing.coached.to_numpy() == 1
    person_years = staffing.headcount.to_numpy(float) / 12.0
    return {
        "estimand": (
            "conditional rate ratio of front-line staff separations per headcount-year, unit-months "
            "with a coached leader vs without (given the unit's frailty)"
        ),
        "rate_ratio": cfg.staff_turnover_rr,
        "exposure": EXPOSURE_DEFINITION,
        "base_annual_turnover": cfg.staff_turnover_annual,
        "base_monthly_rate": _round(cfg.staff_turnover_annual / 12.0),
        "rate_definition": "separations per headcount-year (NSI: separations / average headcount)",
        "unit_frailty": {
            "distribution": "gamma, mean 1",
            "variance": cfg.staff_frailty_variance,
            "note": "overdispersion: counts are negative binomial marginally (theta = 1/variance)",
        },
        "headcount": {
            "level_range": list(cfg.staff_headcount_range),
            "log_sd": cfg.staff_headcount_sd,
            "ar1_autocorrelation": HEADCOUNT_AUTOCORRELATION,
        },
        "separations_capped_at_headcount": True,
        "units": int(staffing.unit.nunique()),
        "unit_months": len(staffing),
        "coached_units": int(staffing.loc[coached, "unit"].nunique()),
        "coached_unit_months": int(coached.sum()),
        "separations": int(staffing.separations.sum()),
        "person_years": _round(person_years.sum()),
        "expected_separations": {
            "coached": _round(staffing.expected.to_numpy()[coached].sum()),
            "not_coached": _round(staffing.expected.to_numpy()[~coached].sum()),
        },
        "observed_separations": {
            "coached": int(staffing.separations.to_numpy()[coached].sum()),
            "not_coached": int(staffing.separations.to_numpy()[~coached].sum()),
        },
    }
