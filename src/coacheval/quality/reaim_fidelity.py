"""RE-AIM fidelity and dose: program sessions held against planned, attendance and dose.

Small-cell suppression follows the rules in the notes of :mod:`coacheval.quality.reaim`,
which re-exports these names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from coacheval.errors import ConfigError, DataValidationError
from coacheval.quality._reaim_common import (
    ALL,
    _as_counts,
    _check_min_cell,
    _cohorts,
    _counts,
    _enrolment,
    _figure,
    _groups,
    _sessions,
    _SuppressedTable,
    _suppression_mask,
    _suppression_note,
    _table,
    _tables,
)

__all__ = [
    "FidelityDoseResult",
    "fidelity_dose",
]


# ---------------------------------------------------------------- fidelity and dose ------------


@dataclass(frozen=True)
class FidelityDoseResult(_SuppressedTable):
    """Fidelity (sessions held against planned) and dose (sessions attended) by cohort.

    Attributes
    ----------
    table
        By cohort, then ``All``: ``cohort_id, groups, groups_without_sessions,
        sessions_planned, sessions_held, held_share, group_held_share_median, members,
        attendance_mean, attendance_median, attendance_q1, attendance_q3, group_attendance_mean,
        group_attendance_median, dose_mean, dose_median, suppressed``. ``held_share`` is held /
        planned program sessions; attendance statistics describe leaders' attendance rates
        (share of their group's held program sessions they attended) and groups' attendance
        rates (mean of their members'); dose is program sessions attended / planned.
    by_group
        ``group_id, cohort_id, planned, held, held_share, members, attendance_rate,
        suppressed``; a group's attendance rate is suppressed when it has fewer than
        ``min_cell`` members.
    dose_bands
        ``cohort_id, band, n, percent, suppressed``: leaders by dose band.
    by_person
        Per enrolled leader (``employee_id, cohort_id, group_id, group_held, attended,
        attendance_rate, dose, dose_band``) when asked for with ``keep_data=True``; ``None``
        otherwise (results hold aggregates only by default).
    min_cell
        Minimum reporting size used.

    Examples
    --------
    Returned by :func:`fidelity_dose`. The study is normally
    :func:`~coacheval.io.study.load_study`'s; any object with a ``tables`` mapping of the extracts
    works. One group of three leaders held 3 of its 4 planned sessions:

    >>> from types import SimpleNamespace
    >>> import pandas as pd
    >>> from coacheval.quality.reaim import fidelity_dose
    >>> cohorts = pd.DataFrame({"cohort_id": ["C1"], "start_date": pd.to_datetime(["2022-07-01"]),
    ...     "end_date": pd.to_datetime(["2023-06-30"]), "planned_sessions": [4]})
    >>> groups = pd.DataFrame({"group_id": ["G1"], "cohort_id": ["C1"]})
    >>> enrolment = pd.DataFrame({"employee_id": ["a", "b", "c"], "cohort_id": ["C1"] * 3,
    ...     "group_id": ["G1"] * 3})
    >>> sessions = pd.DataFrame({"session_id": ["s1", "s2", "s3"], "group_id": ["G1"] * 3,
    ...     "session_date": pd.to_datetime(["2022-07-10", "2022-08-10", "2022-09-10"]),
    ...     "phase": ["program"] * 3})
    >>> attendance = pd.DataFrame({"session_id": ["s1"] * 3 + ["s2"] * 3 + ["s3"] * 3,
    ...     "employee_id": ["a", "b", "c"] * 3, "attended": list("YYYYNYYNN")})
    >>> study = SimpleNamespace(tables={"program_cohorts": cohorts, "peer_groups": groups,
    ...     "enrolment": enrolment, "sessions": sessions, "attendance": attendance})
    >>> fd = fidelity_dose(study, min_cell=0, keep_data=True)
    >>> fd.table[["cohort_id", "sessions_planned", "sessions_held", "held_share", "dose_mean"]]
      cohort_id  sessions_planned  sessions_held  held_share  dose_mean
    0        C1               4.0              3        0.75        0.5
    1       All               4.0              3        0.75        0.5
    >>> fd.by_group[["group_id", "held", "held_share", "members", "attendance_rate"]].round(3)
      group_id  held  held_share  members  attendance_rate
    0       G1     3        0.75        3            0.667
    >>> fd.dose_bands.query("cohort_id == 'C1'")[["band", "n", "percent"]].round(1)
              band  n  percent
    0         none  0      0.0
    1         <25%  0      0.0
    2  25% to <50%  1     33.3
    3  50% to <75%  1     33.3
    4         75%+  1     33.3
    >>> fd.by_person[["employee_id", "attended", "attendance_rate", "dose", "dose_band"]].round(3)
      employee_id  attended  attendance_rate  dose    dose_band
    0           a       3.0            1.000  0.75         75%+
    1           b       1.0            0.333  0.25  25% to <50%
    2           c       2.0            0.667  0.50  50% to <75%
    """

    table: pd.DataFrame
    by_group: pd.DataFrame
    dose_bands: pd.DataFrame
    by_person: pd.DataFrame | None = None
    min_cell: int = 5
    title: str = "Fidelity and dose"
    notes: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        """Return the cohort table, the dose bands and the notes."""
        bands = self._shown(self.dose_bands).to_string(
            index=False, float_format=lambda v: f"{v:.1f}", na_rep="NA"
        )
        return super().summary() + "\n\nDose bands\n" + bands

    def plot(self, ax: Any = None) -> Figure:
        """Plot each group's share of planned sessions held, by cohort (one dot per group)."""
        fig, ax = _figure() if ax is None else (ax.figure, ax)
        g = self.by_group
        cohorts = list(dict.fromkeys(g.cohort_id.astype(str)))
        for i, c in enumerate(cohorts):
            y = g.held_share[g.cohort_id.astype(str) == c].to_numpy(float)
            x = i + np.linspace(-0.2, 0.2, len(y)) if len(y) > 1 else np.full(len(y), i)
            ax.scatter(x, y, color="#1f5f8b", alpha=0.7)
        ax.set_xticks(np.arange(len(cohorts)), cohorts)
        ax.axhline(1, color="black", linewidth=0.6)
        ax.set_ylabel("Sessions held / planned")
        ax.set_title("Fidelity: program sessions held per group")
        return fig


def _quantile(values: pd.Series, q: float) -> float:
    v = values.dropna()
    return float(v.quantile(q)) if len(v) else np.nan


def _band_labels(cuts: Sequence[float]) -> list[str]:
    edges = [0.0, *cuts]
    labels = ["none"]
    labels += [f"{lo:.0%} to <{hi:.0%}" if lo > 0 else f"<{hi:.0%}" for lo, hi in pairwise(edges)]
    labels.append(f"{cuts[-1]:.0%}+")
    return labels


def fidelity_dose(
    study: object,
    *,
    min_cell: int = 5,
    dose_bands: Sequence[float] = (0.25, 0.5, 0.75),
    keep_data: bool = False,
) -> FidelityDoseResult:
    """Sessions held against planned, attendance per leader and per group, and dose bands.

    Parameters
    ----------
    study
        A :class:`~coacheval.io.study.Study` (``program_cohorts`` with ``planned_sessions``,
        ``peer_groups``, ``enrolment``, ``sessions``, and ``attendance`` when recorded).
    min_cell
        Minimum reporting size: statistics of fewer than ``min_cell`` leaders are suppressed.
    dose_bands
        Increasing cut points in (0, 1] of dose (program sessions attended / planned); the
        bands are none, below the first cut, between cuts, and at or above the last.
    keep_data
        Keep the per-leader rows in ``by_person`` (pseudonymised ids).

    Returns
    -------
    FidelityDoseResult

    Raises
    ------
    DataValidationError
        A required extract or column is missing, or sessions name unknown groups.
    ConfigError
        Bad ``dose_bands``.

    Notes
    -----
    Program sessions are those with ``phase == "program"``; when the phase is missing, those
    dated on or before the cohort's end. A leader's attendance rate is the share of their own
    group's held program sessions they attended (``attended == "Y"``), counted over the whole
    program whether or not they withdrew (intention to treat); their dose is the same count over
    the cohort's planned sessions. Without an attendance extract, attendance and dose are
    missing. A group with no sessions has held 0 and no attendance rate.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> cohorts = pd.DataFrame({"cohort_id": ["C1"], "start_date": pd.to_datetime(["2022-07-01"]),
    ...     "end_date": pd.to_datetime(["2023-06-30"]), "planned_sessions": [4]})
    >>> groups = pd.DataFrame({"group_id": ["G1"], "cohort_id": ["C1"]})
    >>> enrolment = pd.DataFrame({"employee_id": ["a", "b"], "cohort_id": ["C1"] * 2, "group_id": ["G1"] * 2})
    >>> sessions = pd.DataFrame({"session_id": ["s1", "s2"], "group_id": ["G1"] * 2,
    ...     "session_date": pd.to_datetime(["2022-07-10", "2022-08-10"]), "phase": ["program"] * 2})
    >>> attendance = pd.DataFrame({"session_id": ["s1", "s1", "s2", "s2"],
    ...     "employee_id": ["a", "b", "a", "b"], "attended": ["Y", "Y", "Y", "N"]})
    >>> study = SimpleNamespace(tables={"program_cohorts": cohorts, "peer_groups": groups,
    ...     "enrolment": enrolment, "sessions": sessions, "attendance": attendance})
    >>> fd = fidelity_dose(study, min_cell=0)
    >>> fd.by_group[["group_id", "planned", "held", "held_share", "attendance_rate"]]
      group_id  planned  held  held_share  attendance_rate
    0       G1      4.0     2         0.5             0.75
    """
    where = "fidelity_dose"
    min_cell = _check_min_cell(min_cell)
    cuts = [float(c) for c in dose_bands]
    if not cuts or any(not 0 < c <= 1 for c in cuts) or any(np.diff(cuts) <= 0):
        raise ConfigError(
            f"{where}: dose_bands must be increasing cut points in (0, 1], got {dose_bands!r}"
        )
    tables = _tables(study, where)
    cohorts = _cohorts(tables, where)
    enr = _enrolment(tables, cohorts, where)
    if "group_id" not in enr:
        enr["group_id"] = pd.NA
    groups = _groups(tables, cohorts, enr, where)
    sessions = _sessions(tables, groups, where)
    prog = sessions[sessions.in_program]
    groups["held"] = groups.group_id.map(prog.groupby("group_id").size()).fillna(0).astype(int)
    groups["held_share"] = groups.held / groups.planned_sessions

    person = enr[["employee_id", "cohort_id", "group_id"]].reset_index(drop=True)
    person["group_held"] = person.group_id.map(groups.set_index("group_id").held)
    planned = person.cohort_id.map(cohorts.set_index("cohort_id").planned_sessions)
    has_attendance = "attendance" in tables
    if has_attendance:
        att = _table(tables, "attendance", ["session_id", "employee_id", "attended"], where)
        flag = att.attended.astype("string").str.strip().str.upper()
        bad = flag.notna() & ~flag.isin(["Y", "N"])
        if bad.any():
            raise DataValidationError(
                f"{where}: attendance.attended must be Y or N, found "
                f"{sorted(map(str, att.attended[bad].unique()))[:5]}",
                failure_cases=att[bad],
            )
        att = att[(flag == "Y").fillna(False).to_numpy()]
        att = att.merge(prog[["session_id", "group_id"]], on="session_id", how="inner")
        att = att.merge(
            person[["employee_id", "group_id"]].rename(columns={"group_id": "own_group"}),
            on="employee_id",
            how="inner",
        )
        own = att.own_group.isna() | (att.group_id == att.own_group)
        attended = att[own.to_numpy()].groupby("employee_id").session_id.nunique()
        person["attended"] = person.employee_id.map(attended).fillna(0).astype(float)
    else:
        person["attended"] = np.nan
    person["attendance_rate"] = np.where(
        person.group_held > 0, person.attended / person.group_held, np.nan
    )
    person["dose"] = np.where(planned > 0, person.attended / planned, np.nan)
    labels = _band_labels(cuts)
    dose = person.dose.to_numpy(float)
    band_index = np.where(dose <= 0, 0, 1 + np.searchsorted(np.asarray(cuts), dose, side="right"))
    person["dose_band"] = pd.Categorical(
        np.where(
            np.isnan(dose),
            None,
            np.asarray(labels, dtype=object)[np.minimum(band_index, len(labels) - 1)],
        ),
        categories=labels,
    )

    members = person.groupby("group_id").size()
    group_rate = person.groupby("group_id").attendance_rate.mean()
    by_group = pd.DataFrame(
        {
            "group_id": groups.group_id,
            "cohort_id": groups.cohort_id.astype(str),
            "planned": groups.planned_sessions,
            "held": groups.held,
            "held_share": groups.held_share,
            "members": groups.group_id.map(members).fillna(0).astype(int),
            "attendance_rate": groups.group_id.map(group_rate).astype(float),
        }
    )
    small = by_group.members < min_cell
    by_group["suppressed"] = small & by_group.attendance_rate.notna()
    by_group.loc[small, "attendance_rate"] = np.nan

    ids = [*cohorts.cohort_id.astype(str), ALL]
    rows = []
    for c in ids:
        g = groups if c == ALL else groups[groups.cohort_id.astype(str) == c]
        p = person if c == ALL else person[person.cohort_id.astype(str) == c]
        grate = group_rate.reindex(g.group_id)
        n = len(p)
        hide = 0 < n < min_cell
        planned_total = float(g.planned_sessions.sum(min_count=1))
        rows.append(
            {
                "cohort_id": c,
                "groups": len(g),
                "groups_without_sessions": int((g.held == 0).sum()),
                "sessions_planned": planned_total,
                "sessions_held": int(g.held.sum()),
                "held_share": g.held.sum() / planned_total if planned_total > 0 else np.nan,
                "group_held_share_median": _quantile(g.held_share, 0.5),
                "members": float(n),
                "attendance_mean": np.nan if hide else float(p.attendance_rate.mean()),
                "attendance_median": np.nan if hide else _quantile(p.attendance_rate, 0.5),
                "attendance_q1": np.nan if hide else _quantile(p.attendance_rate, 0.25),
                "attendance_q3": np.nan if hide else _quantile(p.attendance_rate, 0.75),
                "group_attendance_mean": np.nan if hide else float(grate.mean()),
                "group_attendance_median": np.nan if hide else _quantile(grate, 0.5),
                "dose_mean": np.nan if hide else float(p.dose.mean()),
                "dose_median": np.nan if hide else _quantile(p.dose, 0.5),
                "suppressed": hide,
            }
        )
    table = pd.DataFrame(rows)
    _, hide_n = _suppression_mask(table[["members"]].to_numpy(float), min_cell)
    table.loc[hide_n, "members"] = np.nan
    table["suppressed"] = table.suppressed | hide_n
    _as_counts(table, ["members"])

    if person.dose.notna().any():
        known = person.dose_band.notna()
        wide = _counts(
            person.cohort_id.astype(str)[known],
            person.dose_band[known].astype(str),
            ids[:-1],
            labels,
        )
        counts = wide.to_numpy()
        cells, _ = _suppression_mask(counts, min_cell)
        totals = counts.sum(axis=1, keepdims=True)
        percent = np.divide(
            100 * counts, totals, out=np.full(counts.shape, np.nan), where=totals > 0
        )
        values = counts.astype(float)
        values[cells] = np.nan
        percent[cells] = np.nan
        bands = pd.DataFrame(
            {
                "cohort_id": np.repeat(wide.index.to_numpy(), len(labels)),
                "band": np.tile(labels, len(wide)),
                "n": values.ravel(),
                "percent": percent.ravel(),
                "suppressed": cells.ravel(),
            }
        )
        _as_counts(bands, ["n"])
    else:
        bands = pd.DataFrame(columns=["cohort_id", "band", "n", "percent", "suppressed"])
    notes = [
        "Fidelity: program-phase sessions held / planned (planned_sessions per group). "
        "Attendance rate: share of the group's held program sessions a leader attended (all "
        "enrolled leaders, including those who withdrew); a group's rate is its members' mean. "
        "Dose: program sessions attended / planned.",
    ]
    if not has_attendance:
        notes.append("No attendance extract: attendance and dose are missing.")
    if min_cell:
        notes.append(
            _suppression_note(
                min_cell,
                "attendance and dose statistics of fewer leaders (a "
                f"group's attendance rate when it has fewer than {min_cell} members)",
            )
        )
    return FidelityDoseResult(
        table=table,
        by_group=by_group,
        dose_bands=bands,
        by_person=person if keep_data else None,
        min_cell=min_cell,
        notes=tuple(notes),
    )
