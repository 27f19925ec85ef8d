"""RE-AIM reach and adoption: leaders enrolled among the eligible, units with an enrolled leader.

Eligibility, the ``All`` rows and small-cell suppression follow the rules in the notes of
:mod:`coacheval.quality.reaim`, which re-exports these names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from coacheval.errors import ConfigError
from coacheval.measures.baseline import BaselineTable, baseline_table
from coacheval.quality._reaim_common import (
    ALL,
    DAYS_PER_YEAR,
    ELIGIBILITY_NOTE,
    NOT_RECORDED,
    ORG_LEVELS,
    _as_counts,
    _check_min_cell,
    _dates,
    _eligibility,
    _figure,
    _SuppressedTable,
    _suppression_mask,
    _suppression_note,
    _table,
    _tables,
    _wilson_columns,
)

__all__ = [
    "AdoptionResult",
    "ReachResult",
    "adoption",
    "reach",
]


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
