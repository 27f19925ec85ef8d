"""Survey waves: who is invited, who answers, and item-level answers to every instrument.

Each construct has a true score per leader and wave,

    T = mean + sd_T * (facility + unit + person + occasion + peer_group * after_start)
        + effect_d * sd * trajectory(months since start) * dose / reference_dose,

with standardised, construct-correlated random effects whose variances are the configured
shares (peer-group effects only for participants after their cohort starts). Items are the true
score plus an item offset and error (so the scale's reliability is as configured), rounded and
clipped to the response scale; reverse-keyed items are stored reversed. The same draws without
the program give each response's untreated potential outcome, from which the realised effects in
``truth.json`` are computed. Without the program there is no peer group, so the peer-group term
belongs to the treated potential outcome only: the realised effect of a participant is the
program's average effect plus the shared deviation of their group (some groups work better than
others); a construct with no program effect (``effect_d = 0``) has none (a sharp null).

Part of the simulator's engine, called by
:func:`~coacheval.simulate.simulate_health_system`: the module has no public API (the public
names are those :mod:`coacheval.simulate` exports), so its ``__all__`` is empty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit

from coacheval.measures.instruments import Instrument
from coacheval.simulate.config import CONSTRUCTS, SimulationConfig
from coacheval.simulate.organisation import Organisation
from coacheval.simulate.program import DAYS_PER_MONTH, Program, add_months
from coacheval.simulate.streams import Streams
from coacheval.simulate.workforce import employed_on

__all__: list[str] = []


@dataclass(frozen=True)
class Surveys:
    """Simulated survey data.

    Attributes
    ----------
    waves
        ``wave, wave_id, open_day, close_day, invited, responded, response_intercept``.
    responses
        One row per response: ``pid, wave, response_day`` and one column per item (float, NaN
        when unanswered), in battery order.
    effects
        One row per response by an enrolled leader and construct: the realised effect on the
        scale score (treated minus untreated potential outcome, complete items).
    true_scores
        Per wave and construct: the mean and SD of the respondents' true scores (before item
        error, rounding and clipping), in the scale's metric.
    """

    waves: pd.DataFrame
    responses: pd.DataFrame
    effects: pd.DataFrame
    true_scores: pd.DataFrame


def wave_table(cfg: SimulationConfig) -> pd.DataFrame:
    """Wave open/close days: the first wave, then every ``survey_interval_months``."""
    first = int((np.datetime64(cfg.survey_first_wave) - np.datetime64("1970-01-01")).astype(int))
    opens = []
    k = 0
    while (
        day := add_months(first, k * cfg.survey_interval_months)
    ) + cfg.survey_field_days <= cfg.extract_day:
        opens.append(day)
        k += 1
    return pd.DataFrame(
        {
            "wave": np.arange(len(opens)),
            "wave_id": [f"W{w + 1}" for w in range(len(opens))],
            "open_day": opens,
            "close_day": [o + cfg.survey_field_days - 1 for o in opens],
        }
    )


def trajectory(
    cfg: SimulationConfig, months: np.ndarray, months_since_meetings_stopped: np.ndarray
) -> np.ndarray:
    """Share of the full effect present ``months`` after the cohort started.

    Linear ramp to 1 over ``ramp_months``, a decay of ``decay_by_month_12`` by month 12; after
    the program it stays at that level while the group keeps meeting, then declines linearly to
    ``floor_without_maintenance`` over the following 12 months.
    """
    plateau_end = 1 - cfg.decay_by_month_12
    during = np.where(
        months <= cfg.ramp_months,
        months / cfg.ramp_months,
        1
        - cfg.decay_by_month_12
        * (months - cfg.ramp_months)
        / (cfg.program_months - cfg.ramp_months),
    )
    stopped = np.maximum(months_since_meetings_stopped, 0)
    after = np.maximum(
        cfg.floor_without_maintenance,
        plateau_end - (plateau_end - cfg.floor_without_maintenance) * stopped / 12,
    )
    out = np.where(months <= cfg.program_months, during, after)
    return np.where(months <= 0, 0.0, out)


def response_intercept(z: np.ndarray, slope: float, rate: float) -> float:
    """Intercept ``a`` with ``mean(expit(a + slope * z)) == rate`` over the invited leaders.

    The response model is calibrated to the invited population, so the configured response
    rate is the expected rate of every wave.
    """
    return float(brentq(lambda a: expit(a + slope * z).mean() - rate, -20, 20))


def _effects_chol(cfg: SimulationConfig) -> np.ndarray:
    return np.linalg.cholesky(np.asarray(cfg.construct_correlation))


def _random_effect(streams: Streams, name: str, ids: np.ndarray, chol: np.ndarray) -> np.ndarray:
    z = streams.normal(name, ids[:, None], np.arange(chol.shape[0])[None, :])
    return z @ chol.T


def simulate_surveys(
    cfg: SimulationConfig,
    org: Organisation,
    program: Program,
    instruments: dict[str, Instrument],
    streams: Streams,
    trait_centre: np.ndarray | None = None,
) -> Surveys:
    """Simulate every wave's invitations, responses and item answers.

    Parameters
    ----------
    cfg, org, program, instruments, streams
        The system simulated so far.
    trait_centre
        Mean of the standardised traits among employed leaders (see
        :func:`~coacheval.simulate.hazards.employed_trait_means`); subtracted so that the
        configured scale means are those of the employed workforce, not of new hires.

    Returns
    -------
    Surveys
    """
    people = program.people
    waves = wave_table(cfg)
    chol = _effects_chol(cfg)
    seats = org.seats
    unit_of = seats.unit.to_numpy()[people.seat.to_numpy()]
    fac_of = seats.facility.to_numpy()[people.seat.to_numpy()]
    re_fac = _random_effect(streams, "re_facility", np.arange(len(org.facilities)), chol)
    re_unit = _random_effect(streams, "re_unit", np.arange(len(org.units)), chol)
    n_groups = len(program.groups)
    re_group = _random_effect(streams, "re_group", np.arange(max(n_groups, 1)), chol)
    traits = people[[f"z_{c}" for c in CONSTRUCTS]].to_numpy()
    centre = np.zeros(len(CONSTRUCTS)) if trait_centre is None else np.asarray(trait_centre)

    groups = program.groups.set_index("group")
    cohort_start = program.cohorts.set_index("cohort").start_day
    item_meta = []
    for k, construct in enumerate(CONSTRUCTS):
        sc = cfg.scales[construct]
        inst = instruments[sc.instrument]
        offsets = (
            0.25 * sc.sd * streams.normal(f"item_offset_{inst.id}", np.arange(len(inst.items)))
        )
        offsets -= offsets.mean()
        err_var = max(len(inst.items) * (1 - sc.reliability) * sc.sd**2 - 1 / 12, 0.05 * sc.sd**2)
        for j, item in enumerate(inst.items):
            item_meta.append(
                (
                    k,
                    item.id,
                    item.reverse,
                    inst.scale_min,
                    inst.scale_max,
                    offsets[j],
                    np.sqrt(err_var),
                    inst.item_multiplier,
                )
            )
    n_items = len(item_meta)
    item_construct = np.array([m[0] for m in item_meta])

    responses, effect_rows, wave_rows, true_rows = [], [], [], []
    for w in waves.itertuples():
        invited = np.flatnonzero(employed_on(people, w.open_day))
        z_eng = traits[invited, CONSTRUCTS.index("work_engagement")]
        slope = cfg.response_engagement_log_odds
        intercept = response_intercept(z_eng, slope, cfg.response_rate)
        pid_inv = people.pid.to_numpy()[invited]
        responds = streams.uniform("respond", pid_inv, w.wave) < expit(intercept + slope * z_eng)
        idx = invited[responds]
        pid = people.pid.to_numpy()[idx]
        delay = np.floor(
            streams.uniform("response_delay", pid, w.wave) ** 2 * cfg.survey_field_days
        )
        resp_day = w.open_day + delay
        resp_day = np.where(
            resp_day >= people.exit_day.to_numpy()[idx], w.open_day, resp_day
        ).astype(np.int64)
        wave_rows.append((len(invited), len(idx), intercept))

        cohort = people.cohort.to_numpy()[idx]
        group = people.group.to_numpy()[idx]
        enrolled = cohort >= 0
        start = np.where(enrolled, cohort_start.reindex(cohort).to_numpy(), np.inf)
        months = (resp_day - start) / DAYS_PER_MONTH
        stop_day = np.where(enrolled, groups.maintenance_end_day.reindex(group).to_numpy(), np.inf)
        traj = np.where(
            enrolled,
            trajectory(
                cfg,
                np.where(enrolled, months, 0.0),
                np.where(enrolled, (resp_day - stop_day) / DAYS_PER_MONTH, 0.0),
            ),
            0.0,
        )
        dose = people.dose.to_numpy()[idx]
        effect_share = traj * dose / cfg.reference_dose
        after_start = enrolled & (months > 0)

        occasion = (
            streams.normal("occasion", pid[:, None], w.wave, np.arange(len(CONSTRUCTS))[None, :])
            @ chol.T
        )
        latent = (
            np.sqrt(cfg.variance_facility) * re_fac[fac_of[idx]]
            + np.sqrt(cfg.variance_unit) * re_unit[unit_of[idx]]
            + np.sqrt(cfg.variance_person) * (traits[idx] - centre)
            + np.sqrt(cfg.variance_occasion) * occasion
        )
        group_latent = (
            np.sqrt(cfg.variance_peer_group) * re_group[np.maximum(group, 0)] * after_start[:, None]
        )
        means = np.array([cfg.scales[c].mean for c in CONSTRUCTS])
        sds = np.array([cfg.scales[c].sd for c in CONSTRUCTS])
        rel = np.array([cfg.scales[c].reliability for c in CONSTRUCTS])
        d = np.array([cfg.scales[c].effect_d for c in CONSTRUCTS])
        true0 = means + np.sqrt(rel) * sds * latent
        # A construct the program does not affect (effect_d = 0) is a sharp null: no group
        # deviations either.
        shift = d * sds * effect_share[:, None] + (d != 0) * np.sqrt(rel) * sds * group_latent
        multipliers = np.array(
            [instruments[cfg.scales[c].instrument].item_multiplier for c in CONSTRUCTS]
        )
        true_scores = (true0 + shift) * multipliers
        for k, construct in enumerate(CONSTRUCTS):
            true_rows.append(
                {
                    "wave": w.wave,
                    "construct": construct,
                    "n": len(idx),
                    "mean_true_score": float(true_scores[:, k].mean()),
                    "sd_true_score": float(true_scores[:, k].std(ddof=1))
                    if len(idx) > 1
                    else np.nan,
                }
            )

        noise = streams.normal("item_error", pid[:, None], w.wave, np.arange(n_items)[None, :])
        lo = np.array([m[3] for m in item_meta])
        hi = np.array([m[4] for m in item_meta])
        off = np.array([m[5] for m in item_meta])
        sde = np.array([m[6] for m in item_meta])
        rev = np.array([m[2] for m in item_meta])
        raw0 = true0[:, item_construct] + off + sde * noise
        raw1 = raw0 + shift[:, item_construct]
        y0 = np.clip(np.round(raw0), lo, hi)
        y1 = np.clip(np.round(raw1), lo, hi)
        stored = np.where(rev, lo + hi - y1, y1)

        # Realised effects on scale scores (mean of complete items x multiplier).
        mult = np.array([m[7] for m in item_meta])
        for k, construct in enumerate(CONSTRUCTS):
            cols = item_construct == k
            diff = ((y1[:, cols] - y0[:, cols]) * mult[cols]).mean(axis=1)
            sel = enrolled
            effect_rows.append(
                pd.DataFrame(
                    {
                        "pid": pid[sel],
                        "wave": w.wave,
                        "cohort": cohort[sel],
                        "construct": construct,
                        "months_since_start": months[sel],
                        "dose": dose[sel],
                        "effect_share": effect_share[sel],
                        "effect": diff[sel],
                    }
                )
            )

        # Item non-response: MCAR per item, and break-offs in the last third of the battery.
        missing = (
            streams.uniform("item_missing", pid[:, None], w.wave, np.arange(n_items)[None, :])
            < cfg.item_missing_rate
        )
        breaks = streams.uniform("breakoff", pid, w.wave) < cfg.breakoff_rate
        third = n_items - n_items // 3
        break_at = third + np.floor(streams.uniform("breakoff_at", pid, w.wave) * (n_items - third))
        missing |= breaks[:, None] & (np.arange(n_items)[None, :] >= break_at[:, None])
        stored = np.where(missing, np.nan, stored)
        frame = pd.DataFrame(stored, columns=[m[1] for m in item_meta])
        frame.insert(0, "response_day", resp_day)
        frame.insert(0, "wave", w.wave)
        frame.insert(0, "pid", pid)
        responses.append(frame)

    waves = waves.assign(
        invited=[r[0] for r in wave_rows],
        responded=[r[1] for r in wave_rows],
        response_intercept=[r[2] for r in wave_rows],
    )
    responses_df = pd.concat(responses, ignore_index=True)
    effects_df = pd.concat(effect_rows, ignore_index=True)
    return Surveys(waves, responses_df, effects_df, pd.DataFrame(true_rows))
