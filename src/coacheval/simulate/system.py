"""Simulate a whole health system and write its extracts: the public entry point.

Both public names are exported by :mod:`coacheval.simulate` (and :mod:`coacheval`), the usual
place to import them from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coacheval.measures.instruments import Instrument, load_instruments
from coacheval.simulate.config import CONSTRUCTS, SimulationConfig
from coacheval.simulate.costs import program_costs
from coacheval.simulate.extracts import build_extracts, in_window
from coacheval.simulate.hazards import HazardModel, calibrate, employed_trait_means
from coacheval.simulate.organisation import Organisation, build_organisation
from coacheval.simulate.program import Program, run_program
from coacheval.simulate.staffing import check_staffing_config, simulate_unit_staffing
from coacheval.simulate.streams import Streams
from coacheval.simulate.surveys import Surveys, simulate_surveys
from coacheval.simulate.truth import build_truth, spillover_truth

__all__ = ["SimulatedSystem", "simulate_health_system"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SimulatedSystem:
    """A simulated health system: its extracts and the truth behind them.

    Attributes
    ----------
    config
        The parameters used.
    extracts
        Clean extracts by name (``hr_roster``, ``program_cohorts``, ``peer_groups``,
        ``enrolment``, ``sessions``, ``attendance``, ``survey_waves``, ``survey_responses``,
        ``program_costs``, and ``unit_staffing`` unless ``config.unit_staffing`` is off), as a
        health system would export them.
    truth
        Every true parameter and realised effect (what ``truth.json`` holds).
    instruments
        The instrument definitions the survey used.
    staffing
        Staff headcount, separations and coached status per clinical unit and month (see
        :mod:`coacheval.simulate.staffing`); ``None`` when ``config.unit_staffing`` is off.

    Examples
    --------
    Returned by :func:`simulate_health_system`:

    >>> from coacheval.simulate import simulate_health_system
    >>> system = simulate_health_system(seed=5, n_leaders=60)
    >>> system.config.n_leaders, system.config.seed
    (60, 5)
    >>> sorted(system.extracts)[:4]
    ['attendance', 'enrolment', 'hr_roster', 'peer_groups']
    >>> system.extracts["enrolment"].columns[:3].tolist()
    ['employee_id', 'cohort_id', 'group_id']
    >>> system.truth["retention"]["true_effect"]["hazard_ratio"]
    0.85
    >>> system.summary()["cohorts"], system.summary()["facilities"]
    (3, 1)

    ``system.write(folder)`` writes the extracts and ``truth.json`` as a health system would send
    them.
    """

    config: SimulationConfig
    extracts: dict[str, pd.DataFrame]
    truth: dict[str, Any]
    instruments: dict[str, Instrument]
    organisation: Organisation = field(repr=False)
    hazards: HazardModel = field(repr=False)
    program: Program = field(repr=False)
    surveys: Surveys = field(repr=False)
    employee_ids: dict[int, str] = field(repr=False)
    staffing: pd.DataFrame | None = field(default=None, repr=False)

    def summary(self) -> dict[str, Any]:
        """Headline counts: people, cohorts, groups, waves, terminations by reason.

        Examples
        --------
        >>> system = simulate_health_system(SimulationConfig(n_leaders=150, seed=3))
        >>> sorted(system.summary())[:3]
        ['cohorts', 'enrolled', 'facilities']
        """
        t = self.truth
        return {
            "leaders": t["workforce"]["leaders_in_extract"],
            "leader_positions": t["organisation"]["leader_positions"],
            "facilities": t["organisation"]["facilities"],
            "units": t["organisation"]["units"],
            "cohorts": len(t["program"]["cohorts"]),
            "enrolled": t["program"]["enrolled"],
            "peer_groups": sum(c["groups"] for c in t["program"]["cohorts"]),
            "survey_waves": len(t["surveys"]["waves"]),
            "survey_responses": len(self.extracts["survey_responses"]),
            "terminations": t["workforce"]["terminations_in_window_by_cause"],
        }

    def write(self, out: str | Path, *, messy: bool = False, snapshots: bool = False) -> list[Path]:
        """Write the extracts and ``truth.json`` into a folder.

        Parameters
        ----------
        out
            Folder to write into (created if needed).
        messy
            Write the extracts the way real ones arrive (Qualtrics survey exports, an Excel HR
            file with US dates, odd encodings, duplicates and errors) and list every injected
            problem in ``truth.json``.
        snapshots
            Also write monthly HR headcount snapshots (``hr_snapshot_YYYY-MM.csv``), the other
            form an HR extract takes.

        Returns
        -------
        list of Path
            The files written, ``truth.json`` last.
        """
        from coacheval.simulate.writing import write_system

        return write_system(self, Path(out), messy=messy, snapshots=snapshots)


def simulate_health_system(
    config: SimulationConfig | None = None, *, progress: Progress | None = None, **overrides: Any
) -> SimulatedSystem:
    """Simulate a health system's leaders, coaching program, surveys and turnover.

    Parameters
    ----------
    config
        Parameters; the documented defaults when omitted.
    progress
        Called with a short label as each stage starts (the CLI draws a progress bar).
    **overrides
        Parameters to change, e.g. ``seed=7`` or ``n_leaders=300``.

    Returns
    -------
    SimulatedSystem

    Raises
    ------
    ConfigError
        An invalid parameter.

    Examples
    --------
    >>> system = simulate_health_system(seed=1, n_leaders=200)
    >>> system.extracts["hr_roster"].shape[0] > 200
    True
    >>> system.truth["retention"]["true_effect"]["hazard_ratio"]
    0.85
    """
    cfg = (
        (config or SimulationConfig()).with_overrides(overrides)
        if overrides
        else (config or SimulationConfig())
    )
    if cfg.unit_staffing:
        check_staffing_config(cfg)
    step = progress or (lambda _label: None)
    streams = Streams(cfg.seed)
    instruments = load_instruments()
    step("organisation")
    org = build_organisation(cfg, streams)
    step("turnover hazards")
    role_counts = np.bincount(org.seats.role_rank.to_numpy(), minlength=4)
    model = calibrate(cfg, role_counts)
    trait_centre = employed_trait_means(cfg, model, role_counts)
    step("workforce and program")
    program = run_program(cfg, org, streams, model)
    step("surveys")
    surveys = simulate_surveys(cfg, org, program, instruments, streams, trait_centre)
    step("extracts")
    staffing = simulate_unit_staffing(cfg, org, program, streams) if cfg.unit_staffing else None
    costs = program_costs(cfg, org, program)
    extracts, ids = build_extracts(cfg, org, program, surveys, costs, streams, staffing)
    truth = build_truth(
        cfg, org, model, program, surveys, in_window(cfg, program.people), instruments
    )
    truth["surveys"]["population"] = {
        "scale_means_refer_to": "leaders employed at a given moment (the workforce in equilibrium)",
        "new_hire_traits": "standard normal, correlated as construct_correlation",
        "employed_trait_means": dict(
            zip(CONSTRUCTS, (round(float(x), 6) for x in trait_centre), strict=True)
        ),
        "why_they_differ": "less frail (more engaged, less burned-out) leaders stay longer",
        "respondents": "more engaged than the workforce (non-response depends on engagement)",
    }
    if staffing is not None:
        truth["spillover"] = spillover_truth(cfg, staffing)
    return SimulatedSystem(
        cfg, extracts, truth, instruments, org, model, program, surveys, ids, staffing
    )


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dump_json(data: Any, path: Path) -> None:
    """Write JSON deterministically (sorted keys, fixed separators, trailing newline)."""
    path.write_text(
        json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=_json_default)
        + "\n",
        encoding="utf-8",
    )


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (np.ndarray, tuple)):
        return list(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__}")
