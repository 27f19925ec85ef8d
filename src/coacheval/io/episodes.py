"""Employment episodes from periodic HR headcount snapshots.

A headcount snapshot lists everyone on the payroll on its date (table ``hr_snapshot``). Survival
analysis of turnover needs something else: one row per continuous employment spell, with a start,
an end (or a censoring date) and the reason the spell ended. :func:`snapshots_to_episodes` makes
that table, and a second one of role spells (periods with a constant role level, unit,
department, facility and FTE), from a series of validated, typed snapshots.

Snapshots disagree with each other and have holes, so the conversion follows stated rules, every
one of which reports what it did as a :class:`~coacheval.io.raw.Problem` (table
``hr_snapshot``, severity ``warning``). The rules are listed in the docstring of
:func:`snapshots_to_episodes`.

Performance: the work is done on sorted NumPy arrays (one sort, then shifts and segment
reductions), with no Python loop over people or rows; only the reported problems are built one
by one. Measured once on 1,000,000 snapshot rows (56,000 people, 24 monthly snapshots, 1 % of
rows missing, leavers half listed and half vanishing; 56,000 episodes, 210,000 role spells,
34,000 warnings): about 2.0 s on the development container (one AMD EPYC core, pandas 2.3).

Examples
--------
The columns of the two tables, in order:

>>> from coacheval.io.episodes import EPISODE_COLUMNS, ROLE_SPELL_COLUMNS
>>> EPISODE_COLUMNS[:6]
('employee_id', 'episode', 'start_date', 'end_date', 'end_reason', 'censored')
>>> ROLE_SPELL_COLUMNS[4:]
('role_level', 'facility_id', 'department_id', 'unit_id', 'fte')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from coacheval.errors import ConfigError
from coacheval.io.raw import Problem, Severity

__all__ = ["EPISODE_COLUMNS", "ROLE_SPELL_COLUMNS", "EpisodesResult", "snapshots_to_episodes"]

TABLE = "hr_snapshot"
UNRECORDED = "unrecorded"
REQUIRED_COLUMNS = ("snapshot_date", "employee_id", "hire_date", "employment_status")
ROLE_COLUMNS = ("role_level", "facility_id", "department_id", "unit_id", "fte")
#: Columns of ``EpisodesResult.episodes``, in order: one row per continuous employment
#: spell, with its end reason or censoring date and the snapshots it was seen in.
EPISODE_COLUMNS = (
    "employee_id",
    "episode",
    "start_date",
    "end_date",
    "end_reason",
    "censored",
    "censor_date",
    "first_snapshot",
    "last_snapshot",
    "n_snapshots",
)
#: Columns of ``EpisodesResult.role_spells``, in order: one row per period with a constant
#: role level, facility, department, unit and FTE within an episode.
ROLE_SPELL_COLUMNS = (
    "employee_id",
    "episode",
    "start_date",
    "end_date",
    "role_level",
    "facility_id",
    "department_id",
    "unit_id",
    "fte",
)

_NAT = np.iinfo(np.int64).min  # a missing date, as a day number
_BIG = np.iinfo(np.int64).max


@dataclass(frozen=True)
class EpisodesResult:
    """Employment episodes and role spells built from HR snapshots.

    Attributes
    ----------
    episodes
        One row per continuous employment spell (columns :data:`EPISODE_COLUMNS`), sorted by
        ``employee_id`` and ``episode``: ``episode`` counts 1, 2, ... per person; ``start_date``
        is the hire date; ``end_date`` is the last day of employment (``NaT`` when censored);
        ``end_reason`` is the recorded termination reason (``''`` when none was recorded,
        ``'unrecorded'`` when the end was inferred from the person's disappearance);
        ``censored`` is ``True`` when no end was observed; ``censor_date`` is the end of
        follow-up of a censored episode (``NaT`` otherwise); ``first_snapshot``,
        ``last_snapshot`` and ``n_snapshots`` describe the snapshot rows used. Use
        ``first_snapshot`` as the entry date of left-truncated spells (hired before the first
        snapshot).
    role_spells
        One row per period with constant ``role_level``, ``facility_id``, ``department_id``,
        ``unit_id`` and ``fte`` within an episode (columns :data:`ROLE_SPELL_COLUMNS`). The
        spells of an episode are contiguous: each ends on the day the next starts, the last
        ends on the episode's ``end_date`` (``NaT`` when censored). Promotions and transfers
        are the changes between consecutive spells.
    problems
        What the rules did, one :class:`~coacheval.io.raw.Problem` per affected snapshot row
        (table ``hr_snapshot``), in input order.

    Examples
    --------
    >>> result = EpisodesResult(pd.DataFrame(columns=EPISODE_COLUMNS),
    ...                         pd.DataFrame(columns=ROLE_SPELL_COLUMNS), [])
    >>> result.n_people
    0
    """

    episodes: pd.DataFrame
    role_spells: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)

    @property
    def n_people(self) -> int:
        """Number of distinct people with at least one episode."""
        return int(self.episodes["employee_id"].nunique())


def snapshots_to_episodes(
    snapshots: pd.DataFrame,
    *,
    extract_date: pd.Timestamp | None = None,
    max_gap_days: int = 45,
    file: str = "",
    row_col: str = "_row",
    file_col: str = "_file",
) -> EpisodesResult:
    """Turn a series of HR headcount snapshots into employment episodes and role spells.

    Parameters
    ----------
    snapshots
        Validated, typed rows of ``hr_snapshot``: ``snapshot_date``, ``hire_date`` and
        ``termination_date`` as ``datetime64`` (``NaT`` when empty), ``employee_id`` as
        pseudonymised text, ``employment_status`` one of ``Active``, ``Leave``,
        ``Terminated``; ``termination_reason`` and the role columns (``role_level``,
        ``facility_id``, ``department_id``, ``unit_id``, ``fte``) may be absent. Rows are
        matched to their source through ``row_col`` and ``file_col`` when present.
    extract_date
        The date the extract was taken; people in the last snapshot are censored on it.
        Defaults to the last snapshot date. It must not be before the last snapshot date.
    max_gap_days
        Longest absence from the snapshots that is bridged as a missed row rather than treated
        as a departure (see rule 2).
    file
        File name reported in problems for rows without a ``file_col`` value.
    row_col
        Column holding each row's row number in its file; without it, problems report the
        1-based position of the row in ``snapshots``.
    file_col
        Column holding each row's source file.

    Returns
    -------
    EpisodesResult
        ``episodes``, ``role_spells`` and ``problems``.

    Raises
    ------
    ConfigError
        A required column is missing, ``max_gap_days`` is negative, or ``extract_date`` is before
        the last snapshot date.

    Notes
    -----
    The *calendar* is the set of distinct ``snapshot_date`` values in ``snapshots``. A person is
    *absent* from a calendar date when they have no row on it; an *employed* row has status
    ``Active`` or ``Leave``; a row carries a *termination* when its status is ``Terminated`` or
    it has a ``termination_date``. The rules, applied in this order:

    0. **Conflicting rows for one date.** Two or more rows for the same person and
       ``snapshot_date`` (the primary key should prevent this): the first in input order is
       kept, the others are ignored (``duplicate_snapshot``, action ``quarantined``). Rows
       without ``snapshot_date`` or ``employee_id`` are ignored (``required``, error).
    1. **Start and rehire.** An episode starts on the ``hire_date`` shown in its rows (the
       earliest one if they differ, rule 4; its first snapshot date if none is filled).
       A new episode (a rehire) starts at a row whose ``hire_date`` is later than the previous
       row's and which follows a termination, or an absence of any length, or whose new
       ``hire_date`` is after the previous snapshot that showed the person (a rehire between two
       snapshots: someone cannot be hired after a date on which they were already on the
       payroll).
    2. **Absences.** The length of an absence is the number of days from the last snapshot
       where the person appears to the last calendar date they are missing from (one missed
       monthly file is about 30 days, two are about 60). Between two rows of a person:

       * absence longer than ``max_gap_days`` followed by an employed row: the person left on
         the last snapshot where they appeared and a new episode starts at the next one. Without
         a recorded termination, the earlier episode ends on its last snapshot with
         ``end_reason='unrecorded'``, ``censored=False`` (``snapshot_gap``, reported at that
         last row);
       * a rehire (rule 1) without a recorded termination ends the earlier episode the same
         way (``rehire_without_termination``, reported at the earlier episode's last row);
       * shorter absences followed by an employed row are bridged: the episode continues
         (``missing_snapshot``, reported at the row where the person reappears);
       * absences followed by a ``Terminated`` row neither split the episode nor are problems
         (leavers are expected to disappear; the row records the termination).

       A person missing from the last snapshots of the calendar, without a recorded
       termination, left on their last snapshot (``snapshot_gap``) when that trailing absence
       is longer than ``max_gap_days``; otherwise the episode is censored at their last
       snapshot (``missing_snapshot``). Both are reported at the person's last row.
    3. **Termination.** The episode ends on the ``termination_date`` of the first row of the
       episode that carries one and is not contradicted (below); ``end_reason`` is the first
       non-empty ``termination_reason`` among those rows. A ``Terminated`` status without any
       dated termination in the episode ends it on that row's ``snapshot_date``
       (``termination_date_missing``). A termination after the end of follow-up (``extract_date``
       or the last snapshot) has not happened yet and is set aside
       (``termination_after_extract``): the episode is censored if the person is in the last
       snapshot, otherwise ended by rule 2. Back-dated terminations (before an earlier snapshot
       that showed the person employed) are accepted. ``end_date`` is never before
       ``start_date``.
    4. **Contradictions.**

       * ``hire_date`` changing within an episode without a rehire: the earliest is the
         start date (``hire_date_changed``, reported at the row showing the new date);
       * a termination (dated, or the snapshot date of a ``Terminated`` row) earlier than the
         date of a later-or-same row of the episode showing the person employed is a data error
         and is ignored (``active_after_termination``, reported at the termination row);
       * a new episode whose hire date is before the end of the person's previous episode (a
         stale hire date after a gap): it starts on its first snapshot instead
         (``stale_hire_date``).
    5. **Censoring.** A person in the last snapshot of the calendar without a termination is
       censored at ``extract_date`` (or the last snapshot date): ``end_date`` is ``NaT``,
       ``censored`` is ``True`` and ``censor_date`` is filled.

    Role spells use the episode's employed rows (all its rows when it has none) up to its
    ``end_date``; a spell starts on the episode start (first spell) or on the snapshot date on
    which a new combination of role columns is first seen. Missing values compare equal.

    Examples
    --------
    >>> snaps = pd.DataFrame({
    ...     "snapshot_date": pd.to_datetime(["2024-01-31", "2024-02-29", "2024-03-31"] * 2),
    ...     "employee_id": ["p1"] * 3 + ["p2"] * 3,
    ...     "hire_date": pd.to_datetime(["2019-05-01"] * 3 + ["2022-01-10"] * 3),
    ...     "termination_date": pd.to_datetime([None] * 5 + ["2024-03-15"]),
    ...     "termination_reason": [None] * 5 + ["voluntary"],
    ...     "employment_status": ["Active"] * 5 + ["Terminated"],
    ...     "role_level": ["nurse_manager"] * 6,
    ...     "facility_id": ["F1"] * 6,
    ...     "department_id": ["D1"] * 6,
    ...     "unit_id": ["U1"] * 3 + ["U1", "U2", "U2"],
    ...     "fte": [1.0] * 6,
    ... })
    >>> res = snapshots_to_episodes(snaps)
    >>> res.episodes[["employee_id", "start_date", "end_date", "end_reason", "censored"]]
      employee_id start_date   end_date end_reason  censored
    0          p1 2019-05-01        NaT                 True
    1          p2 2022-01-10 2024-03-15  voluntary     False
    >>> res.role_spells[["employee_id", "start_date", "end_date", "unit_id"]]
      employee_id start_date   end_date unit_id
    0          p1 2019-05-01        NaT      U1
    1          p2 2022-01-10 2024-02-29      U1
    2          p2 2024-02-29 2024-03-15      U2
    >>> res.problems
    []
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in snapshots.columns]
    if missing:
        raise ConfigError(
            f"snapshots lack the required column(s) {', '.join(missing)}", source=file or None
        )
    if isinstance(max_gap_days, bool) or not isinstance(max_gap_days, (int, np.integer)):
        raise ConfigError(f"max_gap_days must be a whole number of days, got {max_gap_days!r}")
    if max_gap_days < 0:
        raise ConfigError(f"max_gap_days must not be negative, got {max_gap_days}")
    rows = _Rows(snapshots, file=file, row_col=row_col, file_col=file_col)
    if rows.m == 0:
        return EpisodesResult(_empty(EPISODE_COLUMNS), _empty(ROLE_SPELL_COLUMNS), rows.problems)
    censor_day = rows.calendar[-1]
    if extract_date is not None:
        extract_day = _day_number(pd.Timestamp(extract_date))
        if extract_day < censor_day:
            raise ConfigError(
                f"extract_date {_iso(extract_day)} is before the last snapshot date "
                f"{_iso(censor_day)}"
            )
        censor_day = extract_day
    builder = _EpisodeBuilder(rows, max_gap_days=int(max_gap_days), censor_day=censor_day)
    episodes = builder.episodes()
    spells = builder.role_spells()
    return EpisodesResult(episodes, spells, rows.problems)


class _Rows:
    """The snapshot rows as sorted NumPy arrays (person, date, input order), duplicates removed."""

    def __init__(self, frame: pd.DataFrame, *, file: str, row_col: str, file_col: str) -> None:
        self.frame = frame
        self.file = file
        self.files = frame[file_col].to_numpy(dtype=object) if file_col in frame else None
        self.row_numbers = frame[row_col].to_numpy(dtype=object) if row_col in frame else None
        self._found: list[tuple[int, Problem]] = []
        self._columns: dict[str, np.ndarray] = {}

        codes, uniques = pd.factorize(frame["employee_id"], sort=True)
        self.ids = np.asarray(uniques, dtype=object)
        day = _day_numbers(frame["snapshot_date"])
        usable = (codes >= 0) & (day != _NAT)
        for p in np.flatnonzero(~usable):
            column = "employee_id" if codes[p] < 0 else "snapshot_date"
            self.add(
                p,
                column,
                "",
                "required",
                f"{column} is empty; the row is ignored",
                severity="error",
                action="quarantined",
            )
        keep = np.flatnonzero(usable)
        order = keep[np.lexsort((keep, day[keep], codes[keep]))]

        # rule 0: one row per person and snapshot date, the first in input order
        c, d = codes[order], day[order]
        dup = np.zeros(len(order), dtype=bool)
        dup[1:] = (c[1:] == c[:-1]) & (d[1:] == d[:-1])
        run_start = np.maximum.accumulate(np.where(dup, 0, np.arange(len(order))))
        for k in np.flatnonzero(dup):
            kept = self.where(order[run_start[k]])
            self.add(
                order[k],
                "snapshot_date",
                _iso(d[k]),
                "duplicate_snapshot",
                f"second row for employee {self.ids[c[k]]} on snapshot {_iso(d[k])}; row "
                f"{kept[1]} of {kept[0] or 'the input'} is kept and this one ignored",
                action="quarantined",
            )
        self.pos = order[~dup]  # input positions of the rows used, sorted
        self.m = len(self.pos)
        self.code = codes[self.pos]
        self.day = day[self.pos]
        self.hire = _day_numbers(frame["hire_date"])[self.pos]
        self.term = (
            _day_numbers(frame["termination_date"])[self.pos]
            if "termination_date" in frame
            else np.full(self.m, _NAT, dtype=np.int64)
        )
        status = _text_flags(frame["employment_status"], lambda s: s.lower() == "terminated")
        self.terminated_status = status[self.pos]
        self.employed = ~self.terminated_status
        if "termination_reason" in frame:
            self.reason_ok = _text_flags(frame["termination_reason"], lambda s: s != "")[self.pos]
        else:
            self.reason_ok = np.zeros(self.m, dtype=bool)
        self.calendar = np.unique(self.day)

    @property
    def problems(self) -> list[Problem]:
        """The problems reported so far, in input order (then in the order found)."""
        return [problem for _, problem in sorted(self._found, key=lambda found: found[0])]

    def where(self, p: int) -> tuple[str, int]:
        """File and row number of input position ``p``."""
        f = self.files[p] if self.files is not None else None
        r = self.row_numbers[p] if self.row_numbers is not None else None
        file = str(f) if f is not None and not pd.isna(f) else self.file
        row = int(r) if r is not None and not pd.isna(r) else int(p) + 1
        return file, row

    def add(
        self,
        p: int,
        column: str,
        value: str,
        rule: str,
        message: str,
        *,
        severity: Severity = "warning",
        action: str = "kept",
    ) -> None:
        """Report a problem at input position ``p``."""
        file, row = self.where(int(p))
        problem = Problem(TABLE, file, row, column, value, rule, message, severity, action)
        self._found.append((int(p), problem))

    def text(self, column: str, k: int) -> str:
        """Return the text of ``column`` at sorted row ``k`` (``''`` when empty or absent)."""
        if column not in self.frame:
            return ""
        if column not in self._columns:
            self._columns[column] = self.frame[column].to_numpy(dtype=object)
        value = self._columns[column][self.pos[k]]
        return "" if value is None or pd.isna(value) else str(value).strip()


class _EpisodeBuilder:
    """Rules 1-5 on the sorted rows."""

    def __init__(self, rows: _Rows, *, max_gap_days: int, censor_day: int) -> None:
        self.rows = rows
        self.max_gap = max_gap_days
        self.censor_day = censor_day
        r = rows
        m = r.m
        idx = np.arange(m)
        self.idx = idx
        first = np.ones(m, dtype=bool)
        first[1:] = r.code[1:] != r.code[:-1]
        self.first = first
        prev = np.maximum(idx - 1, 0)
        self.prev_day = r.day[prev]

        # absences, measured on the calendar of snapshot dates
        rank = np.searchsorted(r.calendar, r.day)
        self.missed = np.where(first, 0, rank - rank[prev] - 1)
        last_missed = r.calendar[np.maximum(rank - 1, 0)]
        self.absence = np.where(self.missed > 0, last_missed - self.prev_day, 0)

        has_hire = r.hire != _NAT
        self.has_term = r.term != _NAT
        self.term_evidence = r.terminated_status | self.has_term

        # rule 1 (rehire) and rule 2 (long absence) split a person's rows into episodes
        later_hire = ~first & has_hire & has_hire[prev] & (r.hire > r.hire[prev])
        self.rehire = later_hire & (
            (self.missed > 0) | self.term_evidence[prev] | (r.hire > self.prev_day)
        )
        self.gap_split = (
            ~first & ~self.rehire & (self.missed > 0) & (self.absence > max_gap_days) & r.employed
        )
        new_ep = first | self.rehire | self.gap_split
        self.new_ep = new_ep
        self.ep = np.cumsum(new_ep) - 1
        self.starts = np.flatnonzero(new_ep)
        self.ends = np.append(self.starts[1:], m) - 1

        # rule 3 and rule 4 (active after termination)
        self.term_day = np.where(self.has_term, r.term, np.where(r.terminated_status, r.day, _NAT))
        last_employed = np.maximum.reduceat(np.where(r.employed, idx, -1), self.starts)
        self.ep_has_employed = last_employed >= 0
        later_employed = last_employed[self.ep]
        self.contradicted = (
            self.term_evidence
            & (later_employed >= idx)
            & (r.day[np.maximum(later_employed, 0)] > self.term_day)
        )
        self.later_employed = later_employed
        valid = self.term_evidence & ~self.contradicted
        dated = np.minimum.reduceat(np.where(valid & self.has_term, idx, m), self.starts)
        undated = np.minimum.reduceat(np.where(valid & ~self.has_term, idx, m), self.starts)
        self.term_row = np.where(dated < m, dated, undated)  # m: no termination
        self.term_undated = (dated == m) & (undated < m)
        self.reason_row = np.minimum.reduceat(np.where(valid & r.reason_ok, idx, m), self.starts)
        self._report_rows()

    def _report_rows(self) -> None:
        """Problems that belong to single rows: hire dates, bridged absences, contradictions."""
        r = self.rows
        same_ep = ~self.new_ep
        has_hire = r.hire != _NAT
        changed = same_ep & has_hire & has_hire[np.maximum(self.idx - 1, 0)]
        changed &= r.hire != r.hire[np.maximum(self.idx - 1, 0)]
        for k in np.flatnonzero(changed):
            r.add(
                r.pos[k],
                "hire_date",
                _iso(r.hire[k]),
                "hire_date_changed",
                f"hire_date of employee {r.ids[r.code[k]]} changes from {_iso(r.hire[k - 1])} to "
                f"{_iso(r.hire[k])} without a rehire; the earliest hire date is the start",
                action="repaired",
            )
        bridged = same_ep & (self.missed > 0) & r.employed
        for k in np.flatnonzero(bridged):
            r.add(
                r.pos[k],
                "",
                "",
                "missing_snapshot",
                f"employee {r.ids[r.code[k]]} is missing from {self.missed[k]} snapshot(s) "
                f"between {_iso(self.prev_day[k])} and {_iso(r.day[k])} ({self.absence[k]} days, "
                f"at most {self.max_gap}); employment is taken as continuous",
            )
        for k in np.flatnonzero(self.contradicted):
            column = "termination_date" if self.has_term[k] else "employment_status"
            value = _iso(r.term[k]) if self.has_term[k] else r.text("employment_status", k)
            r.add(
                r.pos[k],
                column,
                value,
                "active_after_termination",
                f"termination of employee {r.ids[r.code[k]]} on {_iso(self.term_day[k])} is "
                f"contradicted by the snapshot of {_iso(r.day[self.later_employed[k]])} showing "
                "them employed; the termination is ignored",
                action="value removed",
            )

    def episodes(self) -> pd.DataFrame:
        """Apply rules 2-5 per episode; sets ``start``, ``end`` and ``episode_no`` on ``self``."""
        r = self.rows
        starts, ends = self.starts, self.ends
        n_ep = len(starts)
        ep_idx = np.arange(n_ep)
        ep_code = r.code[starts]
        person_first = self.first[starts]
        person_last = np.ones(n_ep, dtype=bool)
        person_last[:-1] = ep_code[1:] != ep_code[:-1]
        episode_no = ep_idx - np.maximum.accumulate(np.where(person_first, ep_idx, 0)) + 1
        self.episode_no = episode_no.astype(np.int64)
        first_snap = r.day[starts]
        last_snap = r.day[ends]

        hire_min = np.minimum.reduceat(np.where(r.hire == _NAT, _BIG, r.hire), starts)
        start = np.where(hire_min == _BIG, first_snap, hire_min)

        has_term = self.term_row < r.m
        term_row = np.minimum(self.term_row, r.m - 1)
        term_day = np.where(has_term, self.term_day[term_row], _NAT)
        future_term = has_term & (term_day > self.censor_day)
        ended_by_term = has_term & ~future_term
        trailing = r.calendar[-1] - last_snap
        no_term = ~ended_by_term  # a termination after follow-up has not happened yet
        unrecorded_mid = no_term & ~person_last
        unrecorded_end = no_term & person_last & (trailing > self.max_gap)
        short_trailing = no_term & person_last & (trailing > 0) & (trailing <= self.max_gap)
        present_at_end = no_term & person_last & (trailing == 0)

        end = np.full(n_ep, _NAT, dtype=np.int64)
        end[ended_by_term] = term_day[ended_by_term]
        unrecorded = unrecorded_mid | unrecorded_end
        end[unrecorded] = last_snap[unrecorded]
        censored = present_at_end | short_trailing
        censor = np.full(n_ep, _NAT, dtype=np.int64)
        censor[present_at_end] = self.censor_day
        censor[short_trailing] = last_snap[short_trailing]

        # rule 4: a hire date before the end of the previous episode is stale
        prev_end = np.where(end == _NAT, censor, end)
        stale = np.zeros(n_ep, dtype=bool)
        stale[1:] = ~person_first[1:] & (start[1:] < prev_end[:-1])
        for e in np.flatnonzero(stale):
            k = starts[e]
            r.add(
                r.pos[k],
                "hire_date",
                _iso(r.hire[k]),
                "stale_hire_date",
                f"employee {r.ids[r.code[k]]} reappears on {_iso(r.day[k])} with hire date "
                f"{_iso(start[e])}, before the end of their previous episode "
                f"({_iso(prev_end[e - 1])}); the new episode starts on {_iso(r.day[k])}",
                action="repaired",
            )
        start = np.where(stale, first_snap, start)
        end = np.where((end != _NAT) & (end < start), start, end)

        reason = np.full(n_ep, "", dtype=object)
        for e in np.flatnonzero(ended_by_term & (self.reason_row < r.m)):
            reason[e] = r.text("termination_reason", self.reason_row[e])
        reason[unrecorded] = UNRECORDED
        self._report_episodes(
            ended_by_term, future_term, unrecorded_mid, unrecorded_end, short_trailing, term_day
        )
        self.start, self.end = start, end

        return pd.DataFrame(
            {
                "employee_id": r.ids[ep_code],
                "episode": self.episode_no,
                "start_date": _dates(start),
                "end_date": _dates(end),
                "end_reason": reason,
                "censored": censored,
                "censor_date": _dates(censor),
                "first_snapshot": _dates(first_snap),
                "last_snapshot": _dates(last_snap),
                "n_snapshots": (ends - starts + 1).astype(np.int64),
            }
        )

    def _report_episodes(
        self,
        ended_by_term: np.ndarray,
        future_term: np.ndarray,
        unrecorded_mid: np.ndarray,
        unrecorded_end: np.ndarray,
        short_trailing: np.ndarray,
        term_day: np.ndarray,
    ) -> None:
        """Problems that belong to episodes: how they ended (rules 2, 3 and 5)."""
        r = self.rows
        starts, ends = self.starts, self.ends
        for e in np.flatnonzero(ended_by_term & self.term_undated):
            k = self.term_row[e]
            r.add(
                r.pos[k],
                "termination_date",
                "",
                "termination_date_missing",
                f"employee {r.ids[r.code[k]]} is Terminated without a termination_date; the "
                f"snapshot date {_iso(r.day[k])} is taken as the last day of employment",
                action="repaired",
            )
        for e in np.flatnonzero(future_term):
            k = self.term_row[e]
            r.add(
                r.pos[k],
                "termination_date",
                _iso(term_day[e]),
                "termination_after_extract",
                f"termination of employee {r.ids[r.code[k]]} on {_iso(term_day[e])} is after the "
                f"end of follow-up ({_iso(self.censor_day)}) and is set aside",
            )
        for e in np.flatnonzero(unrecorded_mid):
            k, nxt = ends[e], starts[e + 1]
            who, seen, back = r.ids[r.code[k]], _iso(r.day[k]), _iso(r.day[nxt])
            if self.rehire[nxt]:
                rule = "rehire_without_termination"
                why = f"is rehired on {_iso(r.hire[nxt])} (snapshot of {back})"
            else:
                rule = "snapshot_gap"
                why = (
                    f"is absent from {self.missed[nxt]} snapshot(s) ({self.absence[nxt]} days, "
                    f"more than {self.max_gap}) until {back}"
                )
            r.add(
                r.pos[k],
                "",
                "",
                rule,
                f"employee {who} {why} without a recorded termination; the episode is taken to "
                f"end on the last snapshot showing them ({seen}), reason '{UNRECORDED}'",
                action="repaired",
            )
        last_day = r.calendar[-1]
        for e in np.flatnonzero(unrecorded_end | short_trailing):
            k = ends[e]
            n_missed = len(r.calendar) - 1 - int(np.searchsorted(r.calendar, r.day[k]))
            days = int(last_day - r.day[k])
            head = (
                f"employee {r.ids[r.code[k]]} is absent from the last {n_missed} snapshot(s) "
                f"after {_iso(r.day[k])} ({days} days) without a recorded termination; "
            )
            if unrecorded_end[e]:
                r.add(
                    r.pos[k],
                    "",
                    "",
                    "snapshot_gap",
                    head + f"the episode is taken to end on {_iso(r.day[k])}, reason "
                    f"'{UNRECORDED}'",
                    action="repaired",
                )
            else:
                r.add(
                    r.pos[k],
                    "",
                    "",
                    "missing_snapshot",
                    head + f"at most {self.max_gap} days, so the episode is censored on "
                    f"{_iso(r.day[k])}",
                )

    def role_spells(self) -> pd.DataFrame:
        """Split each episode at changes of the role columns (call after ``episodes``)."""
        r = self.rows
        m = r.m
        use = r.employed | ~self.ep_has_employed[self.ep]
        first_used = np.minimum.reduceat(np.where(use, self.idx, m), self.starts)
        ep_end = self.end[self.ep]
        use &= (ep_end == _NAT) | (r.day <= ep_end) | (self.idx == first_used[self.ep])
        rows = np.flatnonzero(use)
        ep = self.ep[rows]
        change = np.ones(len(rows), dtype=bool)
        change[1:] = ep[1:] != ep[:-1]
        new_episode = change.copy()
        for column in ROLE_COLUMNS:
            if column in r.frame:
                codes = pd.factorize(r.frame[column])[0][r.pos[rows]]
                change[1:] |= codes[1:] != codes[:-1]
        spell_rows = rows[change]
        spell_ep = ep[change]
        start = np.where(new_episode[change], self.start[spell_ep], r.day[spell_rows])
        start = np.maximum(start, self.start[spell_ep])
        end_ep = self.end[spell_ep]
        start = np.where((end_ep != _NAT) & (start > end_ep), end_ep, start)
        end = end_ep.copy()
        same_next = np.zeros(len(spell_rows), dtype=bool)
        same_next[:-1] = spell_ep[1:] == spell_ep[:-1]
        end[:-1] = np.where(same_next[:-1], start[1:], end[:-1])

        out: dict[str, object] = {
            "employee_id": r.ids[r.code[spell_rows]],
            "episode": self.episode_no[spell_ep],
            "start_date": _dates(start),
            "end_date": _dates(end),
        }
        source = r.pos[spell_rows]
        for column in ROLE_COLUMNS:
            if column in r.frame:
                out[column] = r.frame[column].iloc[source].reset_index(drop=True)
            elif column == "fte":
                out[column] = np.full(len(source), np.nan)
            else:
                out[column] = np.full(len(source), None, dtype=object)
        return pd.DataFrame(out)


def _day_number(ts: pd.Timestamp) -> int:
    """Days since 1970-01-01 of a timestamp (``_NAT`` when missing)."""
    if pd.isna(ts):
        return int(_NAT)
    if ts.tz is not None:
        ts = ts.tz_localize(None)
    return int(ts.to_datetime64().astype("datetime64[D]").astype(np.int64))


def _day_numbers(values: pd.Series) -> np.ndarray:
    """Days since 1970-01-01 of a date column, ``_NAT`` where missing."""
    if not pd.api.types.is_datetime64_any_dtype(values):
        values = pd.to_datetime(values)
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_localize(None)
    return values.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)


def _dates(days: np.ndarray) -> np.ndarray:
    """Day numbers back to ``datetime64[ns]`` (``NaT`` for ``_NAT``)."""
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[ns]")


def _iso(day: int) -> str:
    """Format a day number as ``YYYY-MM-DD`` (``''`` when missing)."""
    return "" if day == _NAT else str(np.datetime64(int(day), "D"))


def _text_flags(values: pd.Series, test: Callable[[str], bool]) -> np.ndarray:
    """Apply ``test`` to the stripped text of each distinct value; ``False`` where missing."""
    codes, uniques = pd.factorize(values)
    flags = np.array([bool(test(str(u).strip())) for u in uniques] + [False], dtype=bool)
    return flags[codes]


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    """Make an empty result table with the right dtypes."""
    dtypes = {
        "episode": "int64",
        "censored": "bool",
        "n_snapshots": "int64",
        "fte": "float64",
        **dict.fromkeys(
            ("start_date", "end_date", "censor_date", "first_snapshot", "last_snapshot"),
            "datetime64[ns]",
        ),
    }
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "object")) for c in columns})
