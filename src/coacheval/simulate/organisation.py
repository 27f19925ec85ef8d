"""The organisation: facilities, departments, units and the leader positions (seats) in them.

A seat is a leader position that persists while its occupants come and go. Each unit has one
nurse manager, zero to two assistant nurse managers and one to five charge nurses; each
department has one director, whose seat sits in the department's administration cost centre.

Part of the simulator's engine, called by
:func:`~coacheval.simulate.simulate_health_system`: the module has no public API (the public
names are those :mod:`coacheval.simulate` exports), so its ``__all__`` is empty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from coacheval.simulate.config import ROLE_LEVELS, SimulationConfig
from coacheval.simulate.streams import Streams

__all__: list[str] = []

FACILITY_NAMES = (
    "Riverside Medical Center",
    "Lakeview Hospital",
    "St. Brigid Community Hospital",
    "Northgate Regional Medical Center",
    "Cedar Valley Hospital",
    "Harbor Point Medical Center",
    "Mercy Ridge Hospital",
    "Summit General Hospital",
)
SERVICE_LINES = (
    ("Medical-Surgical Nursing", "Med-Surg"),
    ("Critical Care", "ICU"),
    ("Emergency Services", "ED"),
    ("Perioperative Services", "Periop"),
    ("Women’s & Children’s Services", "W&C"),
    ("Behavioral Health", "BH"),
    ("Oncology", "Onc"),
    ("Cardiovascular Services", "CV"),
    ("Neurosciences", "Neuro"),
    ("Orthopedics", "Ortho"),
    ("Ambulatory Care", "Amb"),
    ("Rehabilitation", "Rehab"),
)
_WINGS = ("North", "South", "East", "West")
_ANM_PROBS = (0.44, 0.40, 0.16)  # >=1 assistant in 56% of units [S] Laudio/AONL 2024
_CHARGE_MEAN = 2.5
_SEATS_PER_UNIT = 1 + 0.72 + _CHARGE_MEAN  # NM + ANM + charge nurses
_UNITS_PER_DEPT = 4.0


@dataclass(frozen=True)
class Organisation:
    """Facilities, departments, units and seats of the simulated system.

    Attributes
    ----------
    facilities, departments, units
        One row each, with ids and names.
    seats
        One row per leader position: ``seat, facility_id, department_id, unit_id, role_level,
        role_rank, manager_seat`` (``-1`` for directors, who report to the facility CNO).
    """

    facilities: pd.DataFrame
    departments: pd.DataFrame
    units: pd.DataFrame
    seats: pd.DataFrame


def build_organisation(cfg: SimulationConfig, streams: Streams) -> Organisation:
    """Lay out the organisation for ``cfg.n_leaders`` leader positions.

    Parameters
    ----------
    cfg
        Simulation configuration.
    streams
        Random streams of the simulation.

    Returns
    -------
    Organisation
        Exactly ``cfg.n_leaders`` seats.

    Examples
    --------
    >>> org = build_organisation(SimulationConfig(n_leaders=200), Streams(1))
    >>> len(org.seats)
    200
    """
    rng = streams.generator("organisation")
    n_units = max(2, round(cfg.n_leaders / (_SEATS_PER_UNIT + 1 / _UNITS_PER_DEPT)))
    n_fac = cfg.n_facilities or max(1, round(cfg.n_leaders / 250))
    lo, hi = cfg.units_per_department
    unit_counts: list[int] = []
    while sum(unit_counts) < n_units:
        unit_counts.append(int(rng.integers(lo, hi + 1)))
    unit_counts[-1] -= sum(unit_counts) - n_units
    if unit_counts[-1] <= 0:
        unit_counts.pop()
    n_dept = len(unit_counts)
    dept_facility = np.sort(np.arange(n_dept) % n_fac)

    facilities = pd.DataFrame(
        {
            "facility_id": [f"F{i + 1:02d}" for i in range(n_fac)],
            "facility_name": [
                FACILITY_NAMES[i] if i < len(FACILITY_NAMES) else f"Facility {i + 1:03d}"
                for i in range(n_fac)
            ],
        }
    )
    line_of_dept = np.zeros(n_dept, dtype=int)
    for f in range(n_fac):
        idx = np.flatnonzero(dept_facility == f)
        line_of_dept[idx] = np.arange(len(idx)) % len(SERVICE_LINES)
    dept_names = []
    for d in range(n_dept):
        name = SERVICE_LINES[line_of_dept[d]][0]
        repeat = int(
            np.sum(line_of_dept[:d][dept_facility[:d] == dept_facility[d]] == line_of_dept[d])
        )
        dept_names.append(name if repeat == 0 else f"{name} {repeat + 1}")
    departments = pd.DataFrame(
        {
            "department_id": [f"D{d + 1:04d}" for d in range(n_dept)],
            "department_name": dept_names,
            "facility_id": facilities["facility_id"].to_numpy()[dept_facility],
        }
    )

    unit_dept = np.repeat(np.arange(n_dept), unit_counts)
    within = np.concatenate([np.arange(c) for c in unit_counts])
    short = np.array([SERVICE_LINES[line_of_dept[d]][1] for d in unit_dept], dtype=object)
    unit_names = [
        f"{s} {2 + w // len(_WINGS)} {_WINGS[w % len(_WINGS)]}"
        for s, w in zip(short, within, strict=True)
    ]
    # Directors sit in their department's administration cost centre, itself a unit.
    admin_names = [f"{departments.department_name[d]} Administration" for d in range(n_dept)]
    all_unit_dept = np.concatenate([unit_dept, np.arange(n_dept)])
    units = pd.DataFrame(
        {
            "unit_id": [f"U{u + 1:05d}" for u in range(len(all_unit_dept))],
            "unit_name": unit_names + admin_names,
            "department_id": departments.department_id.to_numpy()[all_unit_dept],
            "facility_id": departments.facility_id.to_numpy()[all_unit_dept],
            "is_admin": np.r_[np.zeros(n_units, bool), np.ones(n_dept, bool)],
        }
    )

    n_anm = rng.choice(3, size=n_units, p=_ANM_PROBS)
    n_charge = np.clip(1 + rng.poisson(_CHARGE_MEAN - 1, size=n_units), 1, 5)
    # Adjust charge-nurse seats so the total is exactly n_leaders.
    diff = cfg.n_leaders - (n_units + n_anm.sum() + n_charge.sum() + n_dept)
    while diff != 0:
        if diff > 0:
            pick = rng.choice(np.flatnonzero(n_charge < 6), size=min(diff, n_units), replace=False)
            n_charge[pick] += 1
        else:
            pool = np.flatnonzero(n_charge > 1)
            if len(pool) == 0:
                pool = np.flatnonzero(n_anm > 0)
                pick = rng.choice(pool, size=min(-diff, len(pool)), replace=False)
                n_anm[pick] -= 1
            else:
                pick = rng.choice(pool, size=min(-diff, len(pool)), replace=False)
                n_charge[pick] -= 1
        diff = cfg.n_leaders - (n_units + n_anm.sum() + n_charge.sum() + n_dept)

    seat_unit = np.concatenate(
        [
            np.arange(n_units),
            np.repeat(np.arange(n_units), n_anm),
            np.repeat(np.arange(n_units), n_charge),
            n_units + np.arange(n_dept),
        ]
    )
    seat_rank = np.concatenate(
        [
            np.full(n_units, 2),
            np.full(n_anm.sum(), 1),
            np.full(n_charge.sum(), 0),
            np.full(n_dept, 3),
        ]
    )
    order = np.lexsort((seat_rank, seat_unit))
    seat_unit, seat_rank = seat_unit[order], seat_rank[order]
    seat_dept = all_unit_dept[seat_unit]
    # Managers: charge nurses and ANMs report to the unit's nurse manager; nurse managers to the
    # department director; directors to the facility CNO (outside the leader population).
    nm_seat_of_unit = np.full(len(units), -1)
    nm_seat_of_unit[seat_unit[seat_rank == 2]] = np.flatnonzero(seat_rank == 2)
    director_seat_of_dept = np.full(n_dept, -1)
    director_seat_of_dept[seat_dept[seat_rank == 3]] = np.flatnonzero(seat_rank == 3)
    manager = np.where(seat_rank <= 1, nm_seat_of_unit[seat_unit], -1)
    manager = np.where(seat_rank == 2, director_seat_of_dept[seat_dept], manager)
    seats = pd.DataFrame(
        {
            "seat": np.arange(len(seat_unit)),
            "unit": seat_unit,
            "department": seat_dept,
            "facility": dept_facility[seat_dept],
            "role_rank": seat_rank,
            "role_level": np.asarray(ROLE_LEVELS, dtype=object)[seat_rank],
            "manager_seat": manager,
        }
    )
    return Organisation(facilities, departments, units, seats)
