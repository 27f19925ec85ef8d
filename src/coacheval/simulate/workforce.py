"""The workforce over time: successive occupants of every seat, their traits and their exits.

Each seat is filled by a chain of occupants (generation 0, 1, ...). The chain starts decades
before the observation window (a burn-in), so the workforce at the window start has the tenure,
age and trait mix of a system in equilibrium. Every draw about a person is keyed by
``pid = seat * MAX_GENERATIONS + generation``, so re-running the chains after enrolment changes
someone's exit reproduces every other draw exactly.

Part of the simulator's engine, called by
:func:`~coacheval.simulate.simulate_health_system`: the module has no public API (the public
names are those :mod:`coacheval.simulate` exports), so its ``__all__`` is empty.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from coacheval.simulate.config import CONSTRUCTS, SimulationConfig
from coacheval.simulate.hazards import AGE_BOUNDS, AGE_SD, DAYS_PER_YEAR, HazardModel, sample_exits
from coacheval.simulate.organisation import Organisation
from coacheval.simulate.streams import Streams

__all__: list[str] = []

MAX_GENERATIONS = 4096
_ENG = CONSTRUCTS.index("work_engagement")
_BURN = CONSTRUCTS.index("burnout")


def person_traits(cfg: SimulationConfig, streams: Streams, pid: np.ndarray) -> np.ndarray:
    """Stable person-level standard-normal traits, one column per construct (correlated)."""
    chol = np.linalg.cholesky(np.asarray(cfg.construct_correlation))
    normals = streams.normal("trait", pid[:, None], np.arange(len(CONSTRUCTS))[None, :])
    return normals @ chol.T


def simulate_chains(
    cfg: SimulationConfig,
    org: Organisation,
    streams: Streams,
    model: HazardModel,
    enrol_pid: np.ndarray | None = None,
    enrol_day: np.ndarray | None = None,
    seats: np.ndarray | None = None,
) -> pd.DataFrame:
    """Simulate every seat's occupants from the burn-in start to the extract date.

    Parameters
    ----------
    cfg, org, streams, model
        Configuration, organisation, random streams and calibrated hazards.
    enrol_pid, enrol_day
        Persons enrolled in the program and their enrolment day (days since 1970-01-01).
    seats
        Simulate only these seats' chains (all seats when omitted).

    Returns
    -------
    DataFrame
        One row per person hired before the extract date: ``pid, seat, generation, hire_day,
        exit_day, cause, age_hire, frailty, enrol_day`` (``inf`` when never enrolled), the
        traits ``z_<construct>``, and ``hire_exact, exit_exact``: the continuous times that the
        whole-day ``hire_day`` and ``exit_day`` are floored from.
    """
    role_age = np.asarray(cfg.role_level_age_mean)[org.seats.role_rank.to_numpy()]
    burn_start = cfg.window_start_day - cfg.burn_in_years * DAYS_PER_YEAR
    active = (
        np.arange(len(org.seats)) if seats is None else np.unique(np.asarray(seats, dtype=np.int64))
    )
    hire = burn_start - 10 * DAYS_PER_YEAR * streams.uniform("first_hire", active)
    (b_eng, b_burn), v = model.frailty_coefficients, model.frailty_variance
    if enrol_pid is None or enrol_day is None:
        enrol_pid, enrol_day = np.empty(0, np.int64), np.empty(0)
    order = np.argsort(enrol_pid)
    enrol_keys, enrol_days = np.asarray(enrol_pid)[order], np.asarray(enrol_day, float)[order]
    frames = []
    generation = 0
    while len(active):
        if generation >= MAX_GENERATIONS:
            raise RuntimeError("seat chains did not reach the extract date")
        pid = active.astype(np.int64) * MAX_GENERATIONS + generation
        age = np.clip(role_age[active] + AGE_SD * streams.normal("age", pid), *AGE_BOUNDS)
        traits = person_traits(cfg, streams, pid)
        frailty = np.exp(b_eng * traits[:, _ENG] + b_burn * traits[:, _BURN] - v / 2)
        pos = np.clip(np.searchsorted(enrol_keys, pid), 0, max(len(enrol_keys) - 1, 0))
        has = (
            (len(enrol_keys) > 0) & (enrol_keys[pos] == pid)
            if len(enrol_keys)
            else np.zeros(len(pid), bool)
        )
        e_day = np.where(has, enrol_days[pos] if len(enrol_keys) else np.inf, np.inf)
        years, cause = sample_exits(
            model,
            age,
            frailty,
            (e_day - hire) / DAYS_PER_YEAR,
            streams.exponential("exit", pid),
            streams.uniform("cause", pid),
        )
        exit_day = hire + years * DAYS_PER_YEAR
        frame = {
            "pid": pid,
            "seat": active,
            "generation": np.full(len(pid), generation),
            "hire_day": hire,
            "exit_day": exit_day,
            "hire_exact": hire,
            "exit_exact": exit_day,
            "cause": cause,
            "age_hire": age,
            "frailty": frailty,
            "enrol_day": e_day,
        }
        frame.update({f"z_{c}": traits[:, k] for k, c in enumerate(CONSTRUCTS)})
        frames.append(pd.DataFrame(frame))
        vacancy = cfg.vacancy_days_mean * streams.exponential("vacancy", pid)
        next_hire = exit_day + vacancy
        keep = next_hire <= cfg.extract_day
        active, hire = active[keep], next_hire[keep]
        generation += 1
    people = pd.concat(frames, ignore_index=True)
    # Whole days: a person is hired on hire_day and leaves on exit_day (their last day).
    people["hire_day"] = np.floor(people["hire_day"]).astype(np.int64)
    people["exit_day"] = np.maximum(
        np.floor(people["exit_day"]).astype(np.int64), people["hire_day"]
    )
    return people.sort_values("pid", ignore_index=True)


def employed_on(people: pd.DataFrame, day: int) -> np.ndarray:
    """Boolean mask of people employed on ``day`` (hired on or before, not yet left)."""
    return (people.hire_day.to_numpy() <= day) & (people.exit_day.to_numpy() > day)
