"""RE-AIM maintenance: share of peer groups still meeting some months after their program ended.

Counts are of groups and are not suppressed; :mod:`coacheval.quality.reaim` re-exports these
names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from coacheval.errors import ConfigError
from coacheval.quality._reaim_common import (
    ALL,
    _cohorts,
    _figure,
    _groups,
    _sessions,
    _SuppressedTable,
    _tables,
    _wilson_columns,
)

__all__ = [
    "MaintenanceResult",
    "maintenance",
]


# ---------------------------------------------------------------- maintenance ------------------
def _add_months(dates: pd.Series, months: int) -> pd.Series:
    """Return the same day ``months`` later (clamped to the month's end), elementwise."""
    d = dates.to_numpy(dtype="datetime64[D]")
    start = d.astype("datetime64[M]")
    day = (d - start.astype("datetime64[D]")).astype(np.int64)
    target = start + np.int64(months)
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(
        np.int64
    )
    out = target.astype("datetime64[D]") + np.minimum(day, length - 1)
    return pd.Series(out.astype("datetime64[ns]"), index=dates.index)


@dataclass(frozen=True)
class MaintenanceResult(_SuppressedTable):
    """Groups still meeting some months after their program ended.

    Attributes
    ----------
    table
        ``cohort_id, horizon_months, groups, followed, meeting, proportion, conf_low,
        conf_high``: per cohort (then ``All``) and horizon, the groups, those whose follow-up
        reaches the horizon, those still meeting at it, and the share of the followed.
    by_group
        ``group_id, cohort_id, program_end, sessions_after_program, last_session_date`` and
        ``meeting_<h>m`` for each horizon (``<NA>`` when follow-up does not reach it).
    extract_date
        End of follow-up used.

    Examples
    --------
    Returned by :func:`maintenance`. The study is normally
    :func:`~coacheval.io.study.load_study`'s; any object with a ``tables`` mapping of the extracts
    works. Of two groups whose program ended on 30 June 2023, one kept meeting until December:

    >>> from types import SimpleNamespace
    >>> import pandas as pd
    >>> from coacheval.quality.reaim import maintenance
    >>> cohorts = pd.DataFrame({"cohort_id": ["C1"], "start_date": pd.to_datetime(["2022-07-01"]),
    ...     "end_date": pd.to_datetime(["2023-06-30"])})
    >>> groups = pd.DataFrame({"group_id": ["G1", "G2"], "cohort_id": ["C1", "C1"]})
    >>> sessions = pd.DataFrame({"session_id": ["s1", "s2"], "group_id": ["G1", "G1"],
    ...     "session_date": pd.to_datetime(["2023-09-15", "2023-12-20"]),
    ...     "phase": ["maintenance"] * 2})
    >>> study = SimpleNamespace(tables={"program_cohorts": cohorts, "peer_groups": groups,
    ...                                 "sessions": sessions})
    >>> m = maintenance(study, extract_date="2024-12-31")
    >>> m.extract_date
    Timestamp('2024-12-31 00:00:00')
    >>> m.table.query("cohort_id == 'C1'")[["horizon_months", "followed", "meeting", "proportion"]]
       horizon_months  followed  meeting  proportion
    0               3         2        1         0.5
    1               6         2        1         0.5
    2              12         2        0         0.0
    >>> m.by_group[["group_id", "sessions_after_program", "meeting_3m", "meeting_12m"]]
      group_id  sessions_after_program  meeting_3m  meeting_12m
    0       G1                       2        True        False
    1       G2                       0       False        False
    """

    table: pd.DataFrame
    by_group: pd.DataFrame
    extract_date: pd.Timestamp
    min_cell: int = 0
    title: str = "Maintenance: groups still meeting after the program"
    notes: tuple[str, ...] = field(default=())

    def plot(self, ax: Any = None) -> Figure:
        """Plot the share of groups still meeting against months after the program, by cohort."""
        fig, ax = _figure() if ax is None else (ax.figure, ax)
        for c, part in self.table.groupby("cohort_id", sort=False):
            style = {"color": "black", "linewidth": 2} if c == ALL else {}
            ax.plot(part.horizon_months, part.proportion, marker="o", label=str(c), **style)
        ax.set_xlabel("Months after the program ended")
        ax.set_ylabel("Share of groups still meeting")
        ax.set_ylim(0, 1.05)
        ax.legend(frameon=False)
        ax.set_title("Maintenance")
        return fig


def _latest_date(tables: Mapping[str, pd.DataFrame]) -> pd.Timestamp | None:
    candidates = []
    for name, cols in {
        "hr_roster": ("hire_date", "termination_date"),
        "enrolment": ("enrol_date", "status_date"),
        "sessions": ("session_date",),
        "survey_responses": ("response_date",),
    }.items():
        t = tables.get(name)
        if t is None:
            continue
        candidates += [pd.to_datetime(t[c]).max() for c in cols if c in t]
    candidates = [c for c in candidates if pd.notna(c)]
    return max(candidates) if candidates else None


def maintenance(
    study: object,
    horizons_months: Sequence[int] = (3, 6, 12),
    *,
    extract_date: object | None = None,
    level: float = 0.95,
) -> MaintenanceResult:
    """Share of peer groups still meeting 3, 6 and 12 months after their program ended.

    Parameters
    ----------
    study
        A :class:`~coacheval.io.study.Study` (``program_cohorts``, ``peer_groups``,
        ``sessions``).
    horizons_months
        Months after the program's end (positive integers).
    extract_date
        End of follow-up; by default the latest date in the extracts (hires, terminations,
        enrolment dates, sessions, survey responses). Give it when you know it: the default can
        only be earlier than the true extract date, which counts fewer groups as followed.
    level
        Confidence level of the Wilson intervals.

    Returns
    -------
    MaintenanceResult

    Raises
    ------
    ConfigError
        A horizon that is not a positive integer, or no extract date can be found.
    DataValidationError
        A required extract or column is missing.

    Notes
    -----
    With ``P`` the day after the cohort's ``end_date``, a group is *still meeting at h months*
    when it held a session dated in ``[P + (h - 1) months, P + h months)``: the h-th month
    after the program (monthly groups meet once a month). The session's date decides, whatever
    its phase label (a session after the program's end is a maintenance meeting by the data
    contract). A group's follow-up reaches ``h`` when that month ends on or before the extract
    date; groups not followed that far are left out of the share. Counts are of groups, not of
    people, and are not suppressed.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> cohorts = pd.DataFrame({"cohort_id": ["C1"], "start_date": pd.to_datetime(["2022-07-01"]),
    ...     "end_date": pd.to_datetime(["2023-06-30"])})
    >>> groups = pd.DataFrame({"group_id": ["G1", "G2"], "cohort_id": ["C1", "C1"]})
    >>> sessions = pd.DataFrame({"session_id": ["s1", "s2"], "group_id": ["G1", "G1"],
    ...     "session_date": pd.to_datetime(["2023-09-15", "2023-12-20"]), "phase": ["maintenance"] * 2})
    >>> study = SimpleNamespace(tables={"program_cohorts": cohorts, "peer_groups": groups,
    ...                                 "sessions": sessions})
    >>> m = maintenance(study, extract_date="2024-12-31")
    >>> m.table.loc[m.table.cohort_id == "C1", ["horizon_months", "followed", "meeting", "proportion"]]
       horizon_months  followed  meeting  proportion
    0               3         2        1         0.5
    1               6         2        1         0.5
    2              12         2        0         0.0
    """
    where = "maintenance"
    horizons = list(horizons_months)
    if not horizons or any(
        isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1 for h in horizons
    ):
        raise ConfigError(
            f"{where}: horizons_months must be positive integers, got {horizons_months!r}"
        )
    horizons = sorted({int(h) for h in horizons})
    tables = _tables(study, where)
    cohorts = _cohorts(tables, where)
    enr = tables.get("enrolment", pd.DataFrame(columns=["employee_id", "cohort_id", "group_id"]))
    groups = _groups(tables, cohorts, enr, where)
    sessions = _sessions(tables, groups, where)
    if extract_date is None:
        extract_date = _latest_date(tables)
        if extract_date is None:
            raise ConfigError(f"{where}: cannot tell the extract date; pass extract_date")
        date_note = f"Follow-up ends on the latest date in the extracts, {extract_date:%Y-%m-%d}."
    else:
        date_note = (
            f"Follow-up ends on the extract date given, {pd.Timestamp(extract_date):%Y-%m-%d}."
        )
    extract_date = pd.Timestamp(extract_date)
    after = groups.end_date + pd.Timedelta(days=1)
    s_group = sessions.group_id.map(pd.Series(np.arange(len(groups)), index=groups.group_id))
    s_after = (
        sessions.session_date.to_numpy("datetime64[ns]")
        > groups.end_date.to_numpy("datetime64[ns]")[s_group.to_numpy()]
    )
    post = sessions[s_after]
    by_group = pd.DataFrame(
        {
            "group_id": groups.group_id,
            "cohort_id": groups.cohort_id.astype(str),
            "program_end": groups.end_date,
            "sessions_after_program": groups.group_id.map(post.groupby("group_id").size())
            .fillna(0)
            .astype(int),
            "last_session_date": groups.group_id.map(
                sessions.groupby("group_id").session_date.max()
            ),
        }
    )
    s_date = sessions.session_date.to_numpy("datetime64[ns]")
    idx = s_group.to_numpy()
    rows = []
    ids = [*cohorts.cohort_id.astype(str), ALL]
    for h in horizons:
        lo = _add_months(after, h - 1).to_numpy("datetime64[ns]")
        hi = _add_months(after, h).to_numpy("datetime64[ns]")
        followed = hi - np.timedelta64(1, "D") <= np.datetime64(extract_date, "ns")
        hit = (s_date >= lo[idx]) & (s_date < hi[idx])
        meeting = np.bincount(idx[hit], minlength=len(groups)) > 0
        by_group[f"meeting_{h}m"] = pd.array(np.where(followed, meeting, pd.NA), dtype="boolean")
        for c in ids:
            sel = np.ones(len(groups), bool) if c == ALL else (by_group.cohort_id == c).to_numpy()
            n_f = int((sel & followed).sum())
            n_m = int((sel & followed & meeting).sum())
            rows.append(
                {
                    "cohort_id": c,
                    "horizon_months": h,
                    "groups": int(sel.sum()),
                    "followed": n_f,
                    "meeting": n_m,
                }
            )
    table = pd.DataFrame(rows)
    prop, low, high = _wilson_columns(table.meeting, table.followed, level)
    table["proportion"], table["conf_low"], table["conf_high"] = prop, low, high
    order = {c: i for i, c in enumerate(ids)}
    table = table.sort_values(
        ["cohort_id", "horizon_months"], key=lambda s: s.map(order) if s.name == "cohort_id" else s
    ).reset_index(drop=True)
    notes = [
        "Still meeting at h months: at least one session dated in the h-th month after the "
        "program's end, [end + 1 day + (h - 1) months, end + 1 day + h months). Shares are of the "
        f"groups followed to the end of that month, with {level:.0%} Wilson intervals.",
        date_note,
        "Counts are of peer groups, not of people, and are not suppressed.",
    ]
    return MaintenanceResult(table, by_group, extract_date, notes=tuple(notes))
