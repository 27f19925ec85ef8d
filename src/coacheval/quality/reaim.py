"""Implementation of the program (RE-AIM): reach, adoption, completion, fidelity and dose, maintenance.

Each measure is reported by cohort (a cohort is the program's unit of time: its recruitment
opens on ``recruitment_open_date`` and its program year runs from ``start_date`` to
``end_date``; those dates are shown in the tables, so a cohort row is also a calendar period),
with an ``All`` row pooling the cohorts.

* **Reach** (:func:`reach`): leaders enrolled among the eligible. A leader is *eligible* for a
  cohort when employed on the day its recruitment opened (``hire_date <= open`` and no
  ``termination_date`` or one after it; the cohort's ``start_date`` when no opening date is
  recorded) and not enrolled in an earlier cohort. Every role level in the roster is eligible.
  How enrolled leaders differ from the eligible who did not enrol: standardised mean differences
  (tableone conventions, :func:`coacheval.measures.baseline.baseline_table`) on role level, age
  band, FTE and tenure on the opening day.
* **Adoption** (:func:`adoption`): share of facilities, departments and units with at least one
  enrolled leader, among those with at least one eligible leader.
* **Completion** (:func:`completion`): completed, withdrew and still in the program, and the
  withdrawal reasons.
* **Fidelity and dose** (:func:`fidelity_dose`): program sessions held against planned, per
  group and cohort; attendance per person (share of their group's held program sessions they
  attended) and per group; dose (program sessions attended / planned) in bands.
* **Maintenance** (:func:`maintenance`): share of groups still meeting 3, 6 and 12 months after
  the program ended.
* **Goal attainment** (:func:`goal_attainment`): from the optional ``goals`` extract (goal
  attainment scaling), when the health system records goals.

Small cells. No table shows a count of people between 1 and ``min_cell - 1`` (the minimum
reporting size, 5 by default). Such a count is replaced by a missing value, and the row is
flagged ``suppressed``; ``summary()`` prints the marker ``*`` in its place. When exactly one
count in a row is suppressed, the next smallest count of the row is suppressed as well
(secondary suppression), so the small count cannot be recovered by subtracting the others from
the row's total, and likewise down a column whose cohorts add up to the ``All`` row; rates and
intervals computed from a suppressed count are suppressed with it.
Counts of organisational units and of peer groups are not counts of people and are shown.

Examples
--------
>>> import tempfile
>>> from coacheval.io.pseudonymise import PseudonymKey
>>> from coacheval.io.study import load_study
>>> from coacheval.simulate import simulate_health_system
>>> folder = tempfile.mkdtemp()
>>> system = simulate_health_system(seed=4, n_leaders=120, unit_staffing=False)
>>> _ = system.write(folder)
>>> study = load_study(folder, key=PseudonymKey(b"k" * 32))
>>> results = implementation_summary(study)
>>> sorted(results)
['adoption', 'completion', 'fidelity_dose', 'maintenance', 'reach']
>>> int(results["reach"].table.set_index("cohort_id").loc["All", "enrolled"])
36
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from coacheval.effects.attrition import wilson_interval
from coacheval.errors import ConfigError, DataValidationError
from coacheval.measures.baseline import BaselineTable, baseline_table
from coacheval.results import TableResult

__all__ = [
    "AdoptionResult",
    "CompletionResult",
    "FidelityDoseResult",
    "GoalAttainmentResult",
    "MaintenanceResult",
    "ReachResult",
    "adoption",
    "completion",
    "fidelity_dose",
    "goal_attainment",
    "implementation_summary",
    "maintenance",
    "reach",
]

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


# ---------------------------------------------------------------- reach ------------------------
@dataclass(frozen=True)
class ReachResult(_SuppressedTable):
    """Reach: leaders enrolled among the eligible, and how they differ from those who did not enrol.

    Attributes
    ----------
    table
        ``cohort_id, recruitment_open_date, start_date, eligible, enrolled, not_enrolled,
        proportion, conf_low, conf_high, enrolled_not_eligible, suppressed``: one row per
        cohort, then ``All`` (distinct leaders eligible for any cohort, and those of them ever
        enrolled). ``proportion`` is enrolled / eligible with a Wilson score interval;
        ``enrolled_not_eligible`` counts enrolments of leaders outside the eligibility rule
        (for example hired after recruitment opened), which are not in the numerator.
    profile
        Baseline-style table (:class:`~coacheval.measures.baseline.BaselineTable`) of enrolled
        against eligible-not-enrolled leaders, pooled over cohorts (one row per leader and
        cohort they were eligible for); ``None`` when either side is empty.
    smd
        ``cohort_id, variable, smd``: standardised mean differences, enrolled minus eligible
        not enrolled (categorical ones are unsigned), by cohort and ``All``; missing when
        either side has fewer than ``max(min_cell, 2)`` leaders.
    min_cell
        Minimum reporting size used.

    Examples
    --------
    Returned by :func:`reach`. The study is normally :func:`~coacheval.io.study.load_study`'s; any
    object with a ``tables`` mapping of the extracts works:

    >>> from types import SimpleNamespace
    >>> import pandas as pd
    >>> from coacheval.quality.reaim import reach
    >>> roster = pd.DataFrame({"employee_id": list("abcdefghij"),
    ...     "hire_date": pd.to_datetime(["2015-01-01"] * 9 + ["2023-01-01"]),
    ...     "role_level": ["charge_nurse"] * 5 + ["nurse_manager"] * 5})
    >>> cohorts = pd.DataFrame({"cohort_id": ["C1"],
    ...     "recruitment_open_date": pd.to_datetime(["2022-05-01"]),
    ...     "start_date": pd.to_datetime(["2022-07-01"]),
    ...     "end_date": pd.to_datetime(["2023-06-30"])})
    >>> enrolment = pd.DataFrame({"employee_id": list("abcf"), "cohort_id": ["C1"] * 4})
    >>> study = SimpleNamespace(tables={"hr_roster": roster, "program_cohorts": cohorts,
    ...                                 "enrolment": enrolment})
    >>> r = reach(study, min_cell=0)
    >>> r.table[["cohort_id", "eligible", "enrolled", "proportion", "conf_low"]].round(3)
      cohort_id  eligible  enrolled  proportion  conf_low
    0        C1         9         4       0.444     0.189
    1       All         9         4       0.444     0.189
    >>> r.smd.round(3)
      cohort_id      variable    smd
    0        C1  tenure_years  0.000
    1        C1    role_level  0.757
    2       All  tenure_years  0.000
    3       All    role_level  0.757

    With the default minimum reporting size of 5 leaders, the counts below 5 are hidden:

    >>> reach(study).table[["cohort_id", "eligible", "enrolled", "suppressed"]]
      cohort_id  eligible  enrolled  suppressed
    0        C1         9      <NA>        True
    1       All         9      <NA>        True
    """

    table: pd.DataFrame
    profile: BaselineTable | None
    smd: pd.DataFrame
    min_cell: int = 5
    title: str = "Reach: enrolled among eligible leaders"
    notes: tuple[str, ...] = field(default=())

    def plot(self, ax: Any = None) -> Figure:
        """Plot the share enrolled by cohort with its confidence interval."""
        fig, ax = _figure() if ax is None else (ax.figure, ax)
        t = self.table
        y = t.proportion.to_numpy(float)
        x = np.arange(len(t))
        err = np.vstack([y - t.conf_low.to_numpy(float), t.conf_high.to_numpy(float) - y])
        ax.errorbar(x, y, yerr=err, fmt="o", color="#1f5f8b", capsize=3)
        ax.set_xticks(x, t.cohort_id.astype(str))
        ax.set_ylabel("Enrolled / eligible")
        ax.set_ylim(0, None)
        ax.set_title("Reach by cohort")
        return fig


def _reach_covariates(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    continuous = [c for c in ("tenure_years", "fte") if c in frame]
    categorical = [c for c in ("role_level", "age_band") if c in frame]
    return continuous, categorical


def reach(study: object, *, min_cell: int = 5, level: float = 0.95) -> ReachResult:
    """Leaders enrolled among the eligible, by cohort, and how the enrolled differ.

    Parameters
    ----------
    study
        A :class:`~coacheval.io.study.Study` (``hr_roster``, ``program_cohorts``,
        ``enrolment``).
    min_cell
        Minimum reporting size: counts of 1 to ``min_cell - 1`` leaders are suppressed.
    level
        Confidence level of the Wilson intervals.

    Returns
    -------
    ReachResult

    Raises
    ------
    DataValidationError
        A required extract or column is missing, or enrolments name unknown leaders or cohorts.

    Notes
    -----
    Eligibility: employed on the cohort's recruitment opening day and not enrolled in an
    earlier cohort (see the module notes). Characteristics are the roster's (role level and
    age band as last recorded), with tenure in years (365.25 days) and FTE on the opening day.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> roster = pd.DataFrame({"employee_id": list("abcdefgh"),
    ...     "hire_date": pd.to_datetime(["2015-01-01"] * 7 + ["2023-01-01"]),
    ...     "role_level": ["charge_nurse"] * 4 + ["nurse_manager"] * 4})
    >>> cohorts = pd.DataFrame({"cohort_id": ["C1"], "recruitment_open_date": pd.to_datetime(["2022-05-01"]),
    ...     "start_date": pd.to_datetime(["2022-07-01"]), "end_date": pd.to_datetime(["2023-06-30"])})
    >>> enrolment = pd.DataFrame({"employee_id": ["a", "b"], "cohort_id": ["C1", "C1"]})
    >>> study = SimpleNamespace(tables={"hr_roster": roster, "program_cohorts": cohorts,
    ...                                 "enrolment": enrolment})
    >>> r = reach(study, min_cell=0)  # In R: prop.test(2, 7, correct = FALSE)$conf.int
    >>> r.table[["cohort_id", "eligible", "enrolled", "proportion", "conf_low"]].round(4)
      cohort_id  eligible  enrolled  proportion  conf_low
    0        C1         7         2      0.2857    0.0822
    1       All         7         2      0.2857    0.0822
    """
    where = "reach"
    min_cell = _check_min_cell(min_cell)
    e = _eligibility(_tables(study, where), where)
    cohorts, roster = e.cohorts, e.roster
    hits = e.eligible & e.enrolled
    eligible = np.append(e.eligible.sum(axis=0), e.eligible.any(axis=1).sum())
    enrolled = np.append(hits.sum(axis=0), hits.any(axis=1).sum())
    outside = e.enrolled & ~e.eligible
    enrolled_outside = np.append(outside.sum(axis=0), outside.any(axis=1).sum())
    prop, low, high = _wilson_columns(enrolled, eligible, level)
    table = pd.DataFrame(
        {
            "cohort_id": [*cohorts.cohort_id.astype(str), ALL],
            "recruitment_open_date": [*cohorts.recruitment_open_date, pd.NaT],
            "start_date": [*cohorts.start_date, pd.NaT],
            "eligible": eligible.astype(float),
            "enrolled": enrolled.astype(float),
            "not_enrolled": (eligible - enrolled).astype(float),
            "proportion": prop,
            "conf_low": low,
            "conf_high": high,
            "enrolled_not_eligible": enrolled_outside.astype(float),
        }
    )
    cells, total = _suppression_mask(table[["enrolled", "not_enrolled"]].to_numpy(), min_cell)
    hide_rate = cells.any(axis=1)
    table.loc[cells[:, 0], "enrolled"] = np.nan
    table.loc[cells[:, 1], "not_enrolled"] = np.nan
    table.loc[total, "eligible"] = np.nan
    table.loc[hide_rate, ["proportion", "conf_low", "conf_high"]] = np.nan
    small_outside = (enrolled_outside > 0) & (enrolled_outside < min_cell)
    table.loc[small_outside, "enrolled_not_eligible"] = np.nan
    table["suppressed"] = hide_rate | total | small_outside
    _as_counts(table, ["eligible", "enrolled", "not_enrolled", "enrolled_not_eligible"])

    # Person-cohort rows of the eligible, with characteristics on the opening day.
    who, which = np.nonzero(e.eligible)
    frame = pd.DataFrame({"cohort_id": cohorts.cohort_id.to_numpy()[which]})
    frame["enrolled"] = e.enrolled[who, which]
    opened = cohorts.recruitment_open_date.to_numpy("datetime64[D]")[which]
    hire = _dates(roster.hire_date).to_numpy("datetime64[D]")[who]
    frame["tenure_years"] = (opened - hire).astype(np.int64) / DAYS_PER_YEAR
    for col in ("fte", "role_level", "age_band"):
        if col in roster:
            frame[col] = roster[col].to_numpy()[who]
    continuous, categorical = _reach_covariates(frame)
    labels = ("Enrolled", "Eligible, not enrolled")
    need = max(min_cell, 2)
    smd_rows = []
    profile = None
    for cohort in [*cohorts.cohort_id, ALL]:
        part = frame if cohort == ALL else frame[frame.cohort_id == cohort]
        n1 = int(part.enrolled.sum())
        n0 = len(part) - n1
        ok = n1 >= need and n0 >= need
        if ok:
            bt = baseline_table(
                part,
                group_col="enrolled",
                continuous=continuous,
                categorical=categorical,
                group_labels=labels,
                min_cell=min_cell,
            )
            if cohort == ALL:
                profile = bt
            values = dict(zip(bt.smd.variable, bt.smd.smd, strict=True))
        for var in (*continuous, *categorical):
            smd_rows.append(
                {"cohort_id": str(cohort), "variable": var, "smd": values[var] if ok else np.nan}
            )
    notes = [
        ELIGIBILITY_NOTE,
        f"Proportion: enrolled / eligible with a {level:.0%} Wilson score interval. The All row "
        "counts distinct leaders eligible for any cohort and those of them ever enrolled.",
        "Differences: standardised mean differences (enrolled minus eligible not enrolled) on "
        "tenure and FTE on the opening day, role level and age band (as last recorded in the "
        "roster); a leader eligible for several cohorts counts once per cohort in the All row.",
    ]
    if min_cell:
        notes.append(
            _suppression_note(min_cell, "the proportion and its interval")
            + f" SMDs need at least {need} leaders on each side."
        )
    if e.dropped_note:
        notes.append(e.dropped_note)
    if table.enrolled_not_eligible.fillna(1).gt(0).any():
        notes.append(
            "Some enrolled leaders were not eligible by this rule (for example hired after "
            "recruitment opened): see enrolled_not_eligible; they are not in the numerator."
        )
    return ReachResult(
        table=table,
        profile=profile,
        smd=pd.DataFrame(smd_rows, columns=["cohort_id", "variable", "smd"]),
        min_cell=min_cell,
        notes=tuple(notes),
    )


# ---------------------------------------------------------------- adoption ---------------------
@dataclass(frozen=True)
class AdoptionResult(_SuppressedTable):
    """Adoption: organisational units with at least one enrolled leader.

    Attributes
    ----------
    table
        ``cohort_id, level, units, adopting, proportion, conf_low, conf_high``: for each
        cohort (then ``All``: any cohort) and level (``facility_id``, ``department_id``,
        ``unit_id``), the units with at least one eligible leader, those with at least one
        enrolled leader, and the share (Wilson interval). Counts of units are not suppressed.
    by_unit
        ``cohort_id, level, unit, eligible, enrolled, not_enrolled, proportion, suppressed``:
        leaders eligible and enrolled in each unit (counts of people, suppressed when small).
    min_cell
        Minimum reporting size used.

    Examples
    --------
    Returned by :func:`adoption`. The study is normally :func:`~coacheval.io.study.load_study`'s;
    any object with a ``tables`` mapping of the extracts works:

    >>> from types import SimpleNamespace
    >>> import pandas as pd
    >>> from coacheval.quality.reaim import adoption
    >>> roster = pd.DataFrame({"employee_id": list("abcdef"),
    ...     "hire_date": pd.to_datetime(["2015-01-01"] * 6), "facility_id": ["F1"] * 6,
    ...     "department_id": ["D1", "D1", "D2", "D2", "D3", "D3"]})
    >>> cohorts = pd.DataFrame({"cohort_id": ["C1"], "start_date": pd.to_datetime(["2022-07-01"]),
    ...     "end_date": pd.to_datetime(["2023-06-30"])})
    >>> enrolment = pd.DataFrame({"employee_id": ["a", "c"], "cohort_id": ["C1", "C1"]})
    >>> study = SimpleNamespace(tables={"hr_roster": roster, "program_cohorts": cohorts,
    ...                                 "enrolment": enrolment})
    >>> res = adoption(study, levels=["facility_id", "department_id"], min_cell=0)
    >>> res.table[["cohort_id", "level", "units", "adopting", "proportion"]].round(3)
      cohort_id          level  units  adopting  proportion
    0        C1    facility_id      1         1       1.000
    1       All    facility_id      1         1       1.000
    2        C1  department_id      3         2       0.667
    3       All  department_id      3         2       0.667
    >>> res.by_unit.query("cohort_id == 'C1'")[["level", "unit", "eligible", "enrolled"]]
               level unit  eligible  enrolled
    0  department_id   D1         2         1
    1  department_id   D2         2         1
    2  department_id   D3         2         0
    3    facility_id   F1         6         2
    """

    table: pd.DataFrame
    by_unit: pd.DataFrame
    min_cell: int = 5
    title: str = "Adoption: units with at least one enrolled leader"
    notes: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        """Return the overview, the per-unit table (suppressed cells as ``*``) and the notes."""
        by_unit = self._shown(self.by_unit).to_string(
            index=False, float_format=lambda v: f"{v:.3f}", na_rep="NA"
        )
        return super().summary() + "\n\nBy unit\n" + by_unit

    def plot(self, ax: Any = None) -> Figure:
        """Plot the share of units adopting by cohort, one line per organisational level."""
        fig, ax = _figure() if ax is None else (ax.figure, ax)
        for lvl, part in self.table.groupby("level", sort=False):
            ax.plot(part.cohort_id.astype(str), part.proportion, marker="o", label=str(lvl))
        ax.set_ylabel("Share with an enrolled leader")
        ax.set_ylim(0, 1.05)
        ax.legend(frameon=False)
        ax.set_title("Adoption by cohort")
        return fig


def adoption(
    study: object,
    *,
    min_cell: int = 5,
    levels: Sequence[str] = ORG_LEVELS,
    level: float = 0.95,
) -> AdoptionResult:
    """Share of facilities, departments and units with at least one enrolled leader, by cohort.

    Parameters
    ----------
    study
        A :class:`~coacheval.io.study.Study` (``hr_roster`` with the ``levels`` columns,
        ``program_cohorts``, ``enrolment``).
    min_cell
        Minimum reporting size for the counts of leaders in ``by_unit``.
    levels
        Roster columns naming the organisational levels.
    level
        Confidence level of the Wilson intervals.

    Returns
    -------
    AdoptionResult

    Raises
    ------
    DataValidationError
        A required extract or column is missing.

    Notes
    -----
    A unit is counted for a cohort when at least one of its leaders was eligible for that
    cohort (see :func:`reach`), and adopts when at least one of its leaders enrolled in it
    (eligible or not). Leaders are placed by the roster's facility, department and unit (as last
    recorded).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> roster = pd.DataFrame({"employee_id": list("abcdef"), "hire_date": pd.to_datetime(["2015-01-01"] * 6),
    ...     "facility_id": ["F1"] * 6, "department_id": ["D1", "D1", "D2", "D2", "D3", "D3"]})
    >>> cohorts = pd.DataFrame({"cohort_id": ["C1"], "start_date": pd.to_datetime(["2022-07-01"]),
    ...     "end_date": pd.to_datetime(["2023-06-30"])})
    >>> enrolment = pd.DataFrame({"employee_id": ["a", "c"], "cohort_id": ["C1", "C1"]})
    >>> study = SimpleNamespace(tables={"hr_roster": roster, "program_cohorts": cohorts,
    ...                                 "enrolment": enrolment})
    >>> adoption(study, levels=["department_id"]).table[["cohort_id", "units", "adopting"]]
      cohort_id  units  adopting
    0        C1      3         2
    1       All      3         2
    """
    where = "adoption"
    min_cell = _check_min_cell(min_cell)
    levels = list(levels)
    if not levels:
        raise ConfigError("adoption: give at least one organisational level column")
    tables = _tables(study, where)
    _table(tables, "hr_roster", levels, where)
    e = _eligibility(tables, where)
    ids = [*e.cohorts.cohort_id.astype(str), ALL]
    elig = np.column_stack([e.eligible, e.eligible.any(axis=1)])
    enr = np.column_stack([e.enrolled, e.enrolled.any(axis=1)])
    overview, detail = [], []
    for lvl in levels:
        unit = e.roster[lvl].astype("string").fillna(NOT_RECORDED).to_numpy()
        frame = pd.DataFrame(elig, columns=ids).assign(_unit=unit)
        n_elig = frame.groupby("_unit", sort=True).sum()
        n_enr = pd.DataFrame(enr, columns=ids).assign(_unit=unit).groupby("_unit").sum()
        n_enr = n_enr.reindex(n_elig.index, fill_value=0)
        in_scope = (n_elig > 0) | (n_enr > 0)
        units = in_scope.sum(axis=0).to_numpy()
        adopting = ((n_enr > 0) & in_scope).sum(axis=0).to_numpy()
        prop, low, high = _wilson_columns(adopting, units, level)
        overview.append(
            pd.DataFrame(
                {
                    "cohort_id": ids,
                    "level": lvl,
                    "units": units,
                    "adopting": adopting,
                    "proportion": prop,
                    "conf_low": low,
                    "conf_high": high,
                }
            )
        )
        long = pd.DataFrame(
            {
                "cohort_id": np.repeat(
                    np.array(ids, dtype=object)[None, :], len(n_elig), 0
                ).ravel(),
                "level": lvl,
                "unit": np.repeat(n_elig.index.to_numpy(), len(ids)),
                "eligible": n_elig.to_numpy().ravel().astype(float),
                "enrolled": n_enr.to_numpy().ravel().astype(float),
                "_scope": in_scope.to_numpy().ravel(),
            }
        )
        detail.append(long[long._scope & (long.cohort_id != ALL)].drop(columns="_scope"))
    by_unit = pd.concat(detail, ignore_index=True)
    order = {c: i for i, c in enumerate(ids)}
    by_unit = by_unit.sort_values(
        ["cohort_id", "level", "unit"], key=lambda s: s.map(order) if s.name == "cohort_id" else s
    ).reset_index(drop=True)
    # Enrolled leaders outside the eligible are counted as enrolled; not_enrolled is of eligible.
    by_unit["not_enrolled"] = np.maximum(by_unit.eligible - by_unit.enrolled, 0)
    by_unit["proportion"] = np.divide(
        by_unit.enrolled,
        by_unit.eligible,
        out=np.full(len(by_unit), np.nan),
        where=by_unit.eligible.to_numpy() > 0,
    )
    cells, total = _suppression_mask(
        by_unit[["enrolled", "not_enrolled"]].to_numpy(), min_cell, all_row=False
    )
    by_unit.loc[cells[:, 0], "enrolled"] = np.nan
    by_unit.loc[cells[:, 1], "not_enrolled"] = np.nan
    by_unit.loc[total, "eligible"] = np.nan
    by_unit.loc[cells.any(axis=1) | total, "proportion"] = np.nan
    by_unit["suppressed"] = cells.any(axis=1) | total
    _as_counts(by_unit, ["eligible", "enrolled", "not_enrolled"])
    notes = [
        ELIGIBILITY_NOTE,
        "A unit counts for a cohort when at least one of its leaders was eligible (or enrolled), "
        f"and adopts when at least one enrolled; shares have {level:.0%} Wilson intervals. The "
        "All rows count units with a leader enrolled in any cohort. Units are the roster's "
        "(as last recorded).",
        "Counts of units are not counts of people and are not suppressed.",
    ]
    if min_cell:
        notes.append("By unit: " + _suppression_note(min_cell, "the proportion"))
    if e.dropped_note:
        notes.append(e.dropped_note)
    return AdoptionResult(
        table=pd.concat(overview, ignore_index=True),
        by_unit=by_unit,
        min_cell=min_cell,
        notes=tuple(notes),
    )


# ---------------------------------------------------------------- completion -------------------
@dataclass(frozen=True)
class CompletionResult(_SuppressedTable):
    """Completion and withdrawal by cohort.

    Attributes
    ----------
    table
        ``cohort_id, enrolled, completed, withdrew, in_progress, completion_rate, conf_low,
        conf_high, suppressed``: one row per cohort, then ``All``. ``in_progress`` counts the
        statuses ``enrolled`` and ``active``; ``completion_rate`` is completed / (completed +
        withdrew), among leaders whose participation has ended, with a Wilson interval.
    reasons
        ``cohort_id, withdrawal_reason, n, suppressed``: withdrawals by recorded reason.
    min_cell
        Minimum reporting size used.

    Examples
    --------
    Returned by :func:`completion`. The study is normally
    :func:`~coacheval.io.study.load_study`'s; any object with a ``tables`` mapping of the extracts
    works:

    >>> from types import SimpleNamespace
    >>> import pandas as pd
    >>> from coacheval.quality.reaim import completion
    >>> cohorts = pd.DataFrame({"cohort_id": ["C1"], "start_date": pd.to_datetime(["2022-07-01"]),
    ...     "end_date": pd.to_datetime(["2023-06-30"])})
    >>> enrolment = pd.DataFrame({"employee_id": list("abcdefghij"), "cohort_id": ["C1"] * 10,
    ...     "status": ["completed"] * 6 + ["withdrew"] * 3 + ["active"],
    ...     "withdrawal_reason": [None] * 6 + ["workload", "workload", "left organisation", None]})
    >>> study = SimpleNamespace(tables={"program_cohorts": cohorts, "enrolment": enrolment})
    >>> res = completion(study, min_cell=0)
    >>> res.table[["cohort_id", "completed", "withdrew", "in_progress", "completion_rate"]].round(3)
      cohort_id  completed  withdrew  in_progress  completion_rate
    0        C1          6         3            1            0.667
    1       All          6         3            1            0.667
    >>> res.reasons
      cohort_id  withdrawal_reason  n  suppressed
    0        C1  left organisation  1       False
    1        C1           workload  2       False
    2       All  left organisation  1       False
    3       All           workload  2       False
    """

    table: pd.DataFrame
    reasons: pd.DataFrame
    min_cell: int = 5
    title: str = "Completion and withdrawal"
    notes: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        """Return the status table, the withdrawal reasons and the notes."""
        reasons = self._shown(self.reasons).to_string(index=False, na_rep="NA")
        return super().summary() + "\n\nWithdrawal reasons\n" + reasons

    def plot(self, ax: Any = None) -> Figure:
        """Stacked bars of completed, withdrew and in progress by cohort (suppressed cells blank)."""
        fig, ax = _figure() if ax is None else (ax.figure, ax)
        t = self.table
        bottom = np.zeros(len(t))
        colours = {"completed": "#1f5f8b", "withdrew": "#b22222", "in_progress": "#999999"}
        for col, colour in colours.items():
            v = t[col].fillna(0).to_numpy(float)
            ax.bar(t.cohort_id.astype(str), v, bottom=bottom, color=colour, label=col)
            bottom += v
        ax.set_ylabel("Enrolled leaders")
        ax.legend(frameon=False)
        ax.set_title("Program status by cohort")
        return fig


def completion(study: object, *, min_cell: int = 5, level: float = 0.95) -> CompletionResult:
    """Completed, withdrew and still in the program, by cohort, with withdrawal reasons.

    Parameters
    ----------
    study
        A :class:`~coacheval.io.study.Study` (``program_cohorts``, ``enrolment`` with
        ``status`` and, optionally, ``withdrawal_reason``).
    min_cell
        Minimum reporting size: counts of 1 to ``min_cell - 1`` leaders are suppressed, and so
        is the next smallest count of the row (so the small one cannot be recovered from the
        total).
    level
        Confidence level of the Wilson interval of the completion rate.

    Returns
    -------
    CompletionResult

    Raises
    ------
    DataValidationError
        A required extract or column is missing, or a status outside enrolled, active,
        completed, withdrew.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> cohorts = pd.DataFrame({"cohort_id": ["C1"], "start_date": pd.to_datetime(["2022-07-01"]),
    ...     "end_date": pd.to_datetime(["2023-06-30"])})
    >>> enrolment = pd.DataFrame({"employee_id": list("abcdefgh"), "cohort_id": ["C1"] * 8,
    ...     "status": ["completed"] * 6 + ["withdrew"] * 2,
    ...     "withdrawal_reason": [None] * 6 + ["workload", "left organisation"]})
    >>> study = SimpleNamespace(tables={"program_cohorts": cohorts, "enrolment": enrolment})
    >>> completion(study, min_cell=0).table[["cohort_id", "completed", "withdrew", "completion_rate"]]
      cohort_id  completed  withdrew  completion_rate
    0        C1          6         2             0.75
    1       All          6         2             0.75
    """
    where = "completion"
    min_cell = _check_min_cell(min_cell)
    tables = _tables(study, where)
    cohorts = _cohorts(tables, where)
    enr = _enrolment(tables, cohorts, where)
    if "status" not in enr:
        raise DataValidationError(f"{where}: enrolment has no column status")
    status = enr.status.astype("string").str.strip().str.lower()
    allowed = ("enrolled", "active", "completed", "withdrew")
    bad = status.isna() | ~status.isin(allowed)
    if bad.any():
        raise DataValidationError(
            f"{where}: enrolment status must be one of {', '.join(allowed)}, found "
            f"{sorted(map(str, enr.status[bad].unique()))[:5]}",
            failure_cases=enr[bad],
        )
    ids = [*cohorts.cohort_id.astype(str), ALL]
    cohort = enr.cohort_id.astype(str)
    counts = _counts(cohort, status, ids[:-1], allowed)
    completed = counts["completed"].to_numpy()
    withdrew = counts["withdrew"].to_numpy()
    in_progress = (counts["enrolled"] + counts["active"]).to_numpy()
    rate, low, high = _wilson_columns(completed, completed + withdrew, level)
    table = pd.DataFrame(
        {
            "cohort_id": ids,
            "enrolled": counts.sum(axis=1).to_numpy().astype(float),
            "completed": completed.astype(float),
            "withdrew": withdrew.astype(float),
            "in_progress": in_progress.astype(float),
            "completion_rate": rate,
            "conf_low": low,
            "conf_high": high,
        }
    )
    cols = ["completed", "withdrew", "in_progress"]
    cells, total = _suppression_mask(table[cols].to_numpy(), min_cell)
    for j, col in enumerate(cols):
        table.loc[cells[:, j], col] = np.nan
    table.loc[total, "enrolled"] = np.nan
    table.loc[cells[:, :2].any(axis=1) | total, ["completion_rate", "conf_low", "conf_high"]] = (
        np.nan
    )
    table["suppressed"] = cells.any(axis=1) | total
    _as_counts(table, ["enrolled", *cols])

    wd = status.to_numpy() == "withdrew"
    reason_col = enr.get("withdrawal_reason", pd.Series(pd.NA, index=enr.index))
    reason = reason_col.astype("string").str.strip().replace("", pd.NA).fillna(NOT_RECORDED)
    found = sorted(set(reason[wd]), key=lambda r: (r == NOT_RECORDED, r))
    wide = _counts(cohort[wd], reason[wd], ids[:-1], found)
    rcells, _ = _suppression_mask(wide.to_numpy(), min_cell)
    values = wide.to_numpy().astype(float)
    values[rcells] = np.nan
    reasons = pd.DataFrame(
        {
            "cohort_id": np.repeat(wide.index.to_numpy(), wide.shape[1]),
            "withdrawal_reason": np.tile(wide.columns.to_numpy(), wide.shape[0]),
            "n": values.ravel(),
            "suppressed": rcells.ravel(),
            "_raw": wide.to_numpy().ravel(),
        }
    )
    reasons = reasons[reasons._raw > 0].drop(columns="_raw").reset_index(drop=True)
    _as_counts(reasons, ["n"])
    notes = [
        "Completion rate: completed / (completed + withdrew), among leaders whose participation "
        f"has ended, with a {level:.0%} Wilson interval; in_progress counts the statuses "
        "enrolled and active. Withdrawal includes leaving the organisation during the program.",
    ]
    if min_cell:
        notes.append(_suppression_note(min_cell, "completion rates built on a hidden count"))
    return CompletionResult(table, reasons, min_cell, notes=tuple(notes))


# ---------------------------------------------------------------- fidelity and dose ------------
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


# ---------------------------------------------------------------- maintenance ------------------
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


# ---------------------------------------------------------------- goal attainment --------------
@dataclass(frozen=True)
class GoalAttainmentResult(_SuppressedTable):
    """Goal attainment scaling by cohort.

    Attributes
    ----------
    table
        ``cohort_id, leaders, goals, reviewed, attained_share, mean_attained, mean_change,
        mean_t_score, suppressed``: by cohort (then ``All``). ``attained_share`` is the share of
        reviewed goals attained at or above the expected level (``attained_level >= 0``);
        ``mean_change`` is attained minus baseline level; ``mean_t_score`` the mean over leaders
        of the Kiresuk-Sherman T score of their reviewed goals.
    levels
        ``cohort_id, attained_level, n, percent, suppressed``: reviewed goals by attained
        level (-2 to +2).
    min_cell
        Minimum reporting size used.

    Examples
    --------
    Returned by :func:`goal_attainment`, from the ``goals`` extract (the study is normally
    :func:`~coacheval.io.study.load_study`'s; any object with a ``tables`` mapping works):

    >>> from types import SimpleNamespace
    >>> import pandas as pd
    >>> from coacheval.quality.reaim import goal_attainment
    >>> goals = pd.DataFrame({"goal_id": ["g1", "g2", "g3", "g4"],
    ...     "employee_id": ["a", "a", "b", "c"], "cohort_id": ["C1"] * 4,
    ...     "baseline_level": [-1, -1, -2, -2], "attained_level": [0, 1, -1, 0]})
    >>> g = goal_attainment(SimpleNamespace(tables={"goals": goals}), min_cell=0)
    >>> g.table[["cohort_id", "leaders", "attained_share", "mean_change", "mean_t_score"]].round(2)
      cohort_id  leaders  attained_share  mean_change  mean_t_score
    0        C1        3            0.75          1.5         48.73
    1       All        3            0.75          1.5         48.73
    >>> g.levels.query("cohort_id == 'C1'")[["attained_level", "n", "percent"]]
       attained_level  n  percent
    0              -2  0      0.0
    1              -1  1     25.0
    2               0  2     50.0
    3               1  1     25.0
    4               2  0      0.0
    """

    table: pd.DataFrame
    levels: pd.DataFrame
    min_cell: int = 5
    title: str = "Goal attainment"
    notes: tuple[str, ...] = field(default=())

    def plot(self, ax: Any = None) -> Figure:
        """Bars of the share of reviewed goals at each attained level, pooled over cohorts."""
        fig, ax = _figure() if ax is None else (ax.figure, ax)
        part = self.levels[self.levels.cohort_id == ALL]
        ax.bar(part.attained_level.astype(int), part.percent.fillna(0), color="#1f5f8b")
        ax.set_xlabel("Attained level (0 = expected)")
        ax.set_ylabel("% of reviewed goals")
        ax.set_title("Goal attainment")
        return fig


def goal_attainment(study: object, *, min_cell: int = 5, rho: float = 0.3) -> GoalAttainmentResult:
    """Goal attainment by cohort, from the optional ``goals`` extract.

    Parameters
    ----------
    study
        A :class:`~coacheval.io.study.Study` with a ``goals`` extract (``employee_id``,
        ``attained_level``; ``baseline_level`` and ``cohort_id`` when recorded; the cohort is
        taken from the enrolment when missing).
    min_cell
        Minimum reporting size: statistics of fewer than ``min_cell`` leaders are suppressed.
    rho
        Assumed correlation between a leader's goal scores in the T score (0.3, Kiresuk and
        Sherman's convention).

    Returns
    -------
    GoalAttainmentResult

    Raises
    ------
    DataValidationError
        No goals extract, a missing column, or a level outside -2..2.
    ConfigError
        ``rho`` outside [0, 1).

    Notes
    -----
    A leader's T score over their ``n`` reviewed goals, equally weighted, is
    ``50 + 10 * sum(x) / sqrt((1 - rho) * n + rho * n^2)`` (Kiresuk & Sherman 1968), ``x`` the
    attained levels. Goals without an attained level are not yet reviewed and are left out of
    the attainment statistics.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> goals = pd.DataFrame({"goal_id": ["g1", "g2", "g3"], "employee_id": ["a", "a", "b"],
    ...     "cohort_id": ["C1"] * 3, "baseline_level": [-1, -1, -2], "attained_level": [0, 1, -1]})
    >>> g = goal_attainment(SimpleNamespace(tables={"goals": goals}), min_cell=0)
    >>> g.table[["cohort_id", "leaders", "attained_share", "mean_change"]].round(3)
      cohort_id  leaders  attained_share  mean_change
    0        C1        2           0.667        1.333
    1       All        2           0.667        1.333
    """
    where = "goal_attainment"
    min_cell = _check_min_cell(min_cell)
    if not 0 <= rho < 1:
        raise ConfigError(f"{where}: rho must lie in [0, 1), got {rho!r}")
    tables = _tables(study, where)
    goals = _table(tables, "goals", ["employee_id", "attained_level"], where)
    if "cohort_id" not in goals:
        goals["cohort_id"] = pd.NA
    if "enrolment" in tables and goals.cohort_id.isna().any():
        cohort_of = tables["enrolment"].set_index("employee_id").cohort_id
        goals["cohort_id"] = goals.cohort_id.fillna(goals.employee_id.map(cohort_of))
    goals["cohort_id"] = goals.cohort_id.astype("string").fillna(NOT_RECORDED)
    attained = pd.to_numeric(goals.attained_level).astype(float)
    baseline = pd.to_numeric(
        goals.get("baseline_level", pd.Series(np.nan, index=goals.index))
    ).astype(float)
    for name, v in (("attained_level", attained), ("baseline_level", baseline)):
        bad = v.notna() & ((v < -2) | (v > 2) | (v != np.round(v)))
        if bad.any():
            raise DataValidationError(
                f"{where}: goals.{name} must be an integer from -2 to 2",
                failure_cases=goals[bad.to_numpy()],
            )
    goals = goals.assign(_x=attained, _change=attained - baseline)
    reviewed = goals[goals._x.notna()]
    per = reviewed.groupby(["cohort_id", "employee_id"])._x.agg(["sum", "size"])
    per["t"] = 50 + 10 * per["sum"] / np.sqrt((1 - rho) * per["size"] + rho * per["size"] ** 2)
    per = per.reset_index()
    if "program_cohorts" in tables:
        known = list(_cohorts(tables, where).cohort_id.astype(str))
    else:
        known = []
    ids = [*known, *sorted(set(goals.cohort_id) - set(known)), ALL]
    rows = []
    for c in ids:
        g = goals if c == ALL else goals[goals.cohort_id == c]
        r = reviewed if c == ALL else reviewed[reviewed.cohort_id == c]
        p = per if c == ALL else per[per.cohort_id == c]
        n = g.employee_id.nunique()
        hide = 0 < r.employee_id.nunique() < min_cell
        rows.append(
            {
                "cohort_id": c,
                "leaders": float(n),
                "goals": len(g),
                "reviewed": len(r),
                "attained_share": np.nan if hide or not len(r) else float((r._x >= 0).mean()),
                "mean_attained": np.nan if hide else float(r._x.mean()),
                "mean_change": np.nan if hide else float(r._change.mean()),
                "mean_t_score": np.nan if hide else float(p.t.mean()),
                "suppressed": hide,
            }
        )
    table = pd.DataFrame(rows)
    _, hide_n = _suppression_mask(table[["leaders"]].to_numpy(float), min_cell)
    table.loc[hide_n, "leaders"] = np.nan
    table["suppressed"] = table.suppressed | hide_n
    _as_counts(table, ["leaders"])
    table = table[(table.goals > 0) | (table.cohort_id == ALL)].reset_index(drop=True)
    lv = [-2, -1, 0, 1, 2]
    wide = _counts(
        reviewed.cohort_id,
        reviewed._x.astype(int),
        list(table.cohort_id[table.cohort_id != ALL]),
        lv,
    )
    counts = wide.to_numpy()
    cells, _ = _suppression_mask(counts, min_cell)
    totals = counts.sum(axis=1, keepdims=True)
    percent = np.divide(100 * counts, totals, out=np.full(counts.shape, np.nan), where=totals > 0)
    values = counts.astype(float)
    values[cells], percent[cells] = np.nan, np.nan
    levels = pd.DataFrame(
        {
            "cohort_id": np.repeat(wide.index.to_numpy(), len(lv)),
            "attained_level": np.tile(lv, len(wide)),
            "n": values.ravel(),
            "percent": percent.ravel(),
            "suppressed": cells.ravel(),
        }
    )
    _as_counts(levels, ["n"])
    notes = [
        "Goal attainment scaling: levels -2 (much less than expected) to +2 (much more); "
        "attained_share is the share of reviewed goals at 0 or above; T scores (Kiresuk-Sherman, "
        f"equal weights, rho = {rho:g}) average 50 when goals are attained as expected.",
    ]
    if min_cell:
        notes.append(_suppression_note(min_cell, f"statistics of fewer than {min_cell} leaders"))
    return GoalAttainmentResult(table, levels, min_cell, notes=tuple(notes))


# ---------------------------------------------------------------- bundle -----------------------
def implementation_summary(
    study: object,
    *,
    min_cell: int = 5,
    horizons_months: Sequence[int] = (3, 6, 12),
    extract_date: object | None = None,
) -> dict[str, TableResult]:
    """All implementation measures the study's extracts allow, by name.

    Parameters
    ----------
    study
        A :class:`~coacheval.io.study.Study`.
    min_cell
        Minimum reporting size.
    horizons_months, extract_date
        Passed to :func:`maintenance`.

    Returns
    -------
    dict of str to TableResult
        ``reach``, ``adoption``, ``completion``; ``fidelity_dose`` and ``maintenance`` when
        there is a sessions extract; ``goal_attainment`` when goals are recorded.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> roster = pd.DataFrame({"employee_id": list("ab"), "hire_date": pd.to_datetime(["2015-01-01"] * 2),
    ...     "facility_id": ["F1"] * 2, "department_id": ["D1"] * 2, "unit_id": ["U1"] * 2})
    >>> cohorts = pd.DataFrame({"cohort_id": ["C1"], "start_date": pd.to_datetime(["2022-07-01"]),
    ...     "end_date": pd.to_datetime(["2023-06-30"])})
    >>> enrolment = pd.DataFrame({"employee_id": ["a"], "cohort_id": ["C1"], "status": ["completed"]})
    >>> study = SimpleNamespace(tables={"hr_roster": roster, "program_cohorts": cohorts,
    ...                                 "enrolment": enrolment})
    >>> sorted(implementation_summary(study))
    ['adoption', 'completion', 'reach']
    """
    tables = _tables(study, "implementation_summary")
    out: dict[str, TableResult] = {
        "reach": reach(study, min_cell=min_cell),
        "adoption": adoption(study, min_cell=min_cell),
        "completion": completion(study, min_cell=min_cell),
    }
    if "sessions" in tables:
        out["fidelity_dose"] = fidelity_dose(study, min_cell=min_cell)
        out["maintenance"] = maintenance(study, horizons_months, extract_date=extract_date)
    goals = tables.get("goals")
    if goals is not None and len(goals):
        out["goal_attainment"] = goal_attainment(study, min_cell=min_cell)
    return out
