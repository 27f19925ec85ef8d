"""RE-AIM completion and goal attainment: how enrolled leaders ended the program, goals reached.

Small-cell suppression follows the rules in the notes of :mod:`coacheval.quality.reaim`,
which re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from coacheval.errors import ConfigError, DataValidationError
from coacheval.quality._reaim_common import (
    ALL,
    NOT_RECORDED,
    _as_counts,
    _check_min_cell,
    _cohorts,
    _counts,
    _enrolment,
    _figure,
    _SuppressedTable,
    _suppression_mask,
    _suppression_note,
    _table,
    _tables,
    _wilson_columns,
)

__all__ = [
    "CompletionResult",
    "GoalAttainmentResult",
    "completion",
    "goal_attainment",
]


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
