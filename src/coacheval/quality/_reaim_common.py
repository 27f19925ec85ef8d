"""Shared pieces of the RE-AIM measures: table access, eligibility, small-cell suppression.

Internal module with no public API of its own (``__all__`` is empty). The measures built on
it are in :mod:`coacheval.quality.reaim_reach`, :mod:`coacheval.quality.reaim_completion`,
:mod:`coacheval.quality.reaim_fidelity` and :mod:`coacheval.quality.reaim_maintenance`,
gathered by :mod:`coacheval.quality.reaim`, whose module notes describe the eligibility and
suppression rules implemented here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from coacheval.effects.attrition import wilson_interval
from coacheval.errors import ConfigError, DataValidationError
from coacheval.results import TableResult

__all__: list[str] = []

ALL = "All"
DAYS_PER_YEAR = 365.25
IN_PROGRESS_STATUSES = ("enrolled", "active")
NOT_RECORDED = "(not recorded)"
ORG_LEVELS = ("facility_id", "department_id", "unit_id")
MARKER = "*"


# ---------------------------------------------------------------- helpers ----------------------
def _tables(study: object, where: str) -> Mapping[str, pd.DataFrame]:
    tables = getattr(study, "tables", None)
    if not isinstance(tables, Mapping):
        raise ConfigError(f"{where}: expected a Study (an object with a 'tables' mapping)")
    return tables


def _table(tables: Mapping[str, pd.DataFrame], name: str, columns: Sequence[str], where: str):
    """Return a copy of one table, checking it exists and has the columns."""
    t = tables.get(name)
    if t is None:
        raise DataValidationError(f"{where}: the study has no {name} extract")
    missing = [c for c in columns if c not in t.columns]
    if missing:
        raise DataValidationError(f"{where}: {name} has no column(s) {', '.join(missing)}")
    return t.copy()


def _dates(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, errors="raise")


def _check_min_cell(min_cell: int) -> int:
    if isinstance(min_cell, bool) or not isinstance(min_cell, (int, np.integer)) or min_cell < 0:
        raise ConfigError(f"min_cell must be a non-negative integer, got {min_cell!r}")
    return int(min_cell)


def _cohorts(tables: Mapping[str, pd.DataFrame], where: str) -> pd.DataFrame:
    cohorts = _table(tables, "program_cohorts", ["cohort_id", "start_date", "end_date"], where)
    if cohorts.cohort_id.duplicated().any():
        dup = cohorts.cohort_id[cohorts.cohort_id.duplicated()]
        raise DataValidationError(
            f"{where}: program_cohorts lists cohort_id {sorted(map(str, dup.unique()))[:5]} twice",
            failure_cases=dup,
        )
    cohorts["start_date"] = _dates(cohorts.start_date)
    cohorts["end_date"] = _dates(cohorts.end_date)
    opened = cohorts.get("recruitment_open_date", pd.Series(pd.NaT, index=cohorts.index))
    cohorts["recruitment_open_date"] = _dates(opened).fillna(cohorts.start_date)
    if "planned_sessions" not in cohorts:
        cohorts["planned_sessions"] = np.nan
    cohorts["planned_sessions"] = pd.to_numeric(cohorts.planned_sessions).astype(float)
    return cohorts.sort_values(["start_date", "cohort_id"], ignore_index=True)


def _check_known(values: pd.Series, known: pd.Series, what: str, where: str) -> None:
    unknown = values.notna() & ~values.isin(known)
    if unknown.any():
        raise DataValidationError(
            f"{where}: {what} {sorted(map(str, values[unknown].unique()))[:5]} not found",
            failure_cases=values[unknown],
        )


def _enrolment(tables: Mapping[str, pd.DataFrame], cohorts: pd.DataFrame, where: str):
    enr = _table(tables, "enrolment", ["employee_id", "cohort_id"], where)
    _check_known(enr.cohort_id, cohorts.cohort_id, "enrolment cohort_id", where)
    if enr.employee_id.duplicated().any():
        dup = enr.employee_id[enr.employee_id.duplicated()]
        raise DataValidationError(
            f"{where}: enrolment lists {dup.nunique()} leader(s) more than once "
            "(one row per enrolled leader)",
            failure_cases=dup,
        )
    return enr


def _smallest_shown(values: np.ndarray, hidden: np.ndarray, axis: int) -> tuple[np.ndarray, ...]:
    """Index along ``axis`` of the smallest positive, not yet hidden value, and whether one exists."""
    candidates = np.where((values > 0) & ~hidden, values, np.inf)
    if candidates.size == 0:
        n = candidates.shape[1 - axis]
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    return np.argmin(candidates, axis=axis), np.isfinite(candidates.min(axis=axis, initial=np.inf))


def _suppression_mask(
    cells: np.ndarray, min_cell: int, *, all_row: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Primary and secondary suppression of a table of counts with row totals.

    ``cells`` has one row per cohort and, when ``all_row``, a last row of column totals (the
    ``All`` row). Returns the masks of suppressed cells and of suppressed row totals.

    Primary: a cell or row total from 1 to ``min_cell - 1``. Secondary, repeated until nothing
    changes: a row with exactly one hidden cell also hides its smallest other positive cell, or
    its total when there is none (so the total does not give it away); with an ``All`` row, a column (row totals included)
    with exactly one hidden cohort cell also hides its smallest other positive cohort cell, or
    the ``All`` cell when there is none (one column per round, then the rows again).
    """
    c = np.asarray(cells, dtype=float).reshape(len(cells), -1)
    grid = np.column_stack([c, c.sum(axis=1)])  # the last column holds the row totals
    mask = (grid > 0) & (grid < min_cell)
    m = c.shape[1]
    for _ in range(grid.size + 1):
        before = mask.copy()
        rows = np.nonzero(mask[:, :m].sum(axis=1) == 1)[0]
        j, ok = _smallest_shown(grid[rows, :m], mask[rows, :m], axis=1)
        mask[rows[ok], j[ok]] = True
        mask[rows[~ok], m] = True  # no other count to hide: the row total would give it away
        if all_row and len(grid) > 1:
            body, body_mask = grid[:-1], mask[:-1]
            # One column at a time: hiding a cell there can settle the other columns via the rows.
            cols = np.nonzero((body_mask.sum(axis=0) == 1) & ~mask[-1])[0][:1]
            i, ok = _smallest_shown(body[:, cols], body_mask[:, cols], axis=0)
            mask[i[ok], cols[ok]] = True
            mask[-1, cols[~ok]] = True
        if (mask == before).all():
            break
    return mask[:, :m], mask[:, m]


def _wilson_columns(x: np.ndarray, n: np.ndarray, level: float) -> tuple[np.ndarray, ...]:
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    prop = np.divide(x, n, out=np.full(len(x), np.nan), where=n > 0)
    ci = [wilson_interval(int(a), int(b), level) for a, b in zip(x, n, strict=True)]
    low = np.array([c[0] for c in ci], dtype=float)
    high = np.array([c[1] for c in ci], dtype=float)
    return prop, low, high


def _counts(rows: pd.Series, cols: pd.Series, index: Sequence[Any], columns: Sequence[Any]):
    """Cross-tabulate ``rows`` by ``cols`` on a fixed grid, with an ``All`` row (zeros if empty)."""
    index, columns = list(index), list(columns)
    r = pd.Index(index).get_indexer(rows.to_numpy())
    c = pd.Index(columns).get_indexer(cols.to_numpy())
    keep = (r >= 0) & (c >= 0)
    grid = np.zeros((len(index) + 1, len(columns)), dtype=np.int64)
    np.add.at(grid, (r[keep], c[keep]), 1)
    grid[-1] = grid[:-1].sum(axis=0)
    return pd.DataFrame(grid, index=pd.Index([*index, ALL], dtype=object), columns=columns)


def _as_counts(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Store count columns as nullable integers (suppressed counts are ``<NA>``)."""
    for col in columns:
        table[col] = pd.array(np.round(table[col].to_numpy(float)), dtype="Float64").astype("Int64")
    return table


class _SuppressedTable(TableResult):
    """Prints suppressed cells (missing values in a ``suppressed`` row) as ``*``."""

    min_cell: int = 0

    def _shown(self, table: pd.DataFrame) -> pd.DataFrame:
        if "suppressed" not in table or not table.suppressed.any():
            return table
        shown = table.astype(object)
        rows = table.suppressed.to_numpy(bool)
        for col in table.columns:
            if col == "suppressed" or not pd.api.types.is_numeric_dtype(table[col]):
                continue
            hide = rows & table[col].isna().to_numpy()
            shown.loc[hide, col] = MARKER
        return shown

    def summary(self) -> str:
        """Return the title, the table (suppressed cells shown as ``*``) and the notes."""
        text = self._shown(self.table).to_string(
            index=False, float_format=lambda v: f"{v:.3f}", na_rep="NA"
        )
        return "\n\n".join(p for p in (self.title, text, *self.notes) if p)


def _suppression_note(min_cell: int, also: str) -> str:
    return (
        f"{MARKER} suppressed: counts of 1 to {min_cell - 1} leaders (the minimum reporting size "
        f"is {min_cell}), other counts hidden with them so they cannot be recovered from row or "
        f"All totals (secondary suppression), and {also}."
    )


def _figure(width: float = 6.0, height: float = 3.5) -> tuple[Figure, Any]:
    fig = Figure(figsize=(width, height))
    return fig, fig.add_subplot()


# ---------------------------------------------------------------- eligibility ------------------
@dataclass(frozen=True)
class _Eligibility:
    roster: pd.DataFrame
    cohorts: pd.DataFrame
    eligible: np.ndarray  # leaders x cohorts
    enrolled: np.ndarray  # leaders x cohorts (enrolled in that cohort, eligible or not)
    dropped_note: str | None = None  # enrolees left out because the roster does not have them


def _eligibility(tables: Mapping[str, pd.DataFrame], where: str) -> _Eligibility:
    cohorts = _cohorts(tables, where)
    roster = _table(tables, "hr_roster", ["employee_id", "hire_date"], where)
    if roster.employee_id.duplicated().any():
        dup = roster.employee_id[roster.employee_id.duplicated()]
        raise DataValidationError(
            f"{where}: hr_roster lists {dup.nunique()} employee_id(s) more than once",
            failure_cases=dup,
        )
    roster = roster.reset_index(drop=True)
    hire = _dates(roster.hire_date).to_numpy("datetime64[D]")
    term = _dates(roster.get("termination_date", pd.Series(pd.NaT, index=roster.index))).to_numpy(
        "datetime64[D]"
    )
    opened = cohorts.recruitment_open_date.to_numpy("datetime64[D]")
    employed = (hire[:, None] <= opened[None, :]) & (
        np.isnat(term)[:, None] | (term[:, None] > opened[None, :])
    )
    enr = _enrolment(tables, cohorts, where)
    # An enrolee missing from the roster (e.g. their roster row was quarantined) has no hire
    # date or unit: they are left out of reach and adoption with a counted note, not the whole
    # measure.
    missing = enr.employee_id.notna() & ~enr.employee_id.isin(roster.employee_id)
    dropped_note = None
    if missing.any():
        n = int(enr.employee_id[missing].nunique())
        dropped_note = (
            f"{n} enrolled leader(s) not in the HR roster (for example a roster row quarantined "
            "by validation) left out of reach and adoption: their eligibility and unit are unknown"
        )
        enr = enr[~missing]
    k = pd.Series(np.arange(len(cohorts)), index=cohorts.cohort_id)
    person = pd.Series(np.arange(len(roster)), index=roster.employee_id)
    rows = person.loc[enr.employee_id].to_numpy()
    cols = k.loc[enr.cohort_id].to_numpy()
    enrolled = np.zeros(employed.shape, bool)
    enrolled[rows, cols] = True
    # Enrolled in an earlier cohort (by start date): no longer eligible.
    own_start = np.full(len(roster), np.datetime64("NaT"), "datetime64[D]")
    own_start[rows] = cohorts.start_date.to_numpy("datetime64[D]")[cols]
    starts = cohorts.start_date.to_numpy("datetime64[D]")
    before = ~np.isnat(own_start)[:, None] & (own_start[:, None] < starts[None, :])
    return _Eligibility(roster, cohorts, employed & ~before, enrolled, dropped_note)


ELIGIBILITY_NOTE = (
    "Eligible: leaders employed on the day the cohort's recruitment opened (hired on or before "
    "it, not terminated by then) and not enrolled in an earlier cohort; every role level in the "
    "roster is eligible. The cohort's start date stands in for a missing opening date."
)


# ---------------------------------------------------------------- peer groups and sessions -----
def _groups(tables: Mapping[str, pd.DataFrame], cohorts: pd.DataFrame, enr: pd.DataFrame, where):
    """Peer groups with their cohort (from peer_groups, else from the enrolment's group_id)."""
    if "peer_groups" in tables:
        groups = _table(tables, "peer_groups", ["group_id", "cohort_id"], where)
        groups = groups[["group_id", "cohort_id"]]
    elif "group_id" in enr:
        groups = enr.loc[enr.group_id.notna(), ["group_id", "cohort_id"]].drop_duplicates(
            "group_id"
        )
    else:
        raise DataValidationError(f"{where}: the study has no peer_groups extract")
    if groups.group_id.duplicated().any():
        dup = groups.group_id[groups.group_id.duplicated()]
        raise DataValidationError(
            f"{where}: peer group(s) {sorted(map(str, dup.unique()))[:5]} listed twice",
            failure_cases=dup,
        )
    _check_known(groups.cohort_id, cohorts.cohort_id, "peer group cohort_id", where)
    if "group_id" in enr:
        _check_known(enr.group_id, groups.group_id, "enrolment group_id", where)
    return groups.merge(
        cohorts[["cohort_id", "start_date", "end_date", "planned_sessions"]], on="cohort_id"
    ).reset_index(drop=True)


def _sessions(tables: Mapping[str, pd.DataFrame], groups: pd.DataFrame, where: str):
    sessions = _table(tables, "sessions", ["session_id", "group_id", "session_date"], where)
    _check_known(sessions.group_id, groups.group_id, "session group_id", where)
    sessions["session_date"] = _dates(sessions.session_date)
    end = sessions.group_id.map(groups.set_index("group_id").end_date)
    phase = sessions.get("phase", pd.Series(pd.NA, index=sessions.index)).astype("string")
    by_date = sessions.session_date <= end
    sessions["in_program"] = (phase.str.lower() == "program").fillna(by_date).astype(bool)
    return sessions
