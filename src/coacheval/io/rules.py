"""Row rules that involve more than one column or table, as named in the table schemas.

Each rule returns, for the table being validated, the column it is reported on and a boolean
Series (``True`` where the row is fine). Rows whose other table is missing, or whose inputs are
missing, pass: required-field and foreign-key checks report those.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd

__all__ = ["RuleContext"]


@dataclass
class RuleContext:
    """What a rule may look at: the clean tables validated so far and the program's settings.

    Examples
    --------
    A :class:`~coacheval.io.validate.TableValidator` takes one (empty for a table checked on its
    own); rules look values up in the tables validated before:

    >>> roster = pd.DataFrame(
    ...     {"employee_id": ["P1", "P2"], "hire_date": pd.to_datetime(["2019-03-01", "2021-07-15"])}
    ... )
    >>> ctx = RuleContext({"hr_roster": roster}, group_size=(3, 5))
    >>> ctx.lookup("hr_roster", "employee_id", "hire_date", pd.Series(["P2", "P9"])).tolist()
    [Timestamp('2021-07-15 00:00:00'), NaT]
    """

    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    group_size: tuple[int, int] = (3, 4)

    def lookup(self, table: str, key: str, value_col: str, keys: pd.Series) -> pd.Series:
        """Values of ``table.value_col`` for each key (NaN/NaT where absent)."""
        other = self.tables.get(table)
        if other is None or key not in other or value_col not in other:
            return pd.Series(pd.NA, index=keys.index, dtype=object)
        mapping = other.drop_duplicates(key).set_index(key)[value_col]
        return keys.map(mapping)


RuleFunction = Callable[[pd.DataFrame, RuleContext], tuple[str, pd.Series]]


def _ok(mask: pd.Series) -> pd.Series:
    return mask.fillna(True).astype(bool)


def _termination_not_before_hire(df: pd.DataFrame, ctx: RuleContext) -> tuple[str, pd.Series]:
    return "termination_date", _ok(~(df["termination_date"] < df["hire_date"]))


def _zero_day_tenure(df: pd.DataFrame, ctx: RuleContext) -> tuple[str, pd.Series]:
    return "termination_date", _ok(~(df["termination_date"] == df["hire_date"]))


def _status_matches_termination(df: pd.DataFrame, ctx: RuleContext) -> tuple[str, pd.Series]:
    status = df.get("employment_status")
    if status is None:
        return "employment_status", pd.Series(True, index=df.index)
    terminated = status.eq("Terminated")
    ok = status.isna() | (terminated == df["termination_date"].notna())
    return "employment_status", _ok(ok)


def _manager_in_roster(df: pd.DataFrame, ctx: RuleContext) -> tuple[str, pd.Series]:
    if "manager_id" not in df:
        return "manager_id", pd.Series(True, index=df.index)
    return "manager_id", _ok(df["manager_id"].isna() | df["manager_id"].isin(df["employee_id"]))


def _cohort_end_after_start(df: pd.DataFrame, ctx: RuleContext) -> tuple[str, pd.Series]:
    return "end_date", _ok(~(df["end_date"] <= df["start_date"]))


def _wave_close_after_open(df: pd.DataFrame, ctx: RuleContext) -> tuple[str, pd.Series]:
    return "close_date", _ok(~(df["close_date"] < df["open_date"]))


def _enrolment_during_employment(df: pd.DataFrame, ctx: RuleContext) -> tuple[str, pd.Series]:
    hire = pd.to_datetime(ctx.lookup("hr_roster", "employee_id", "hire_date", df["employee_id"]))
    term = pd.to_datetime(
        ctx.lookup("hr_roster", "employee_id", "termination_date", df["employee_id"])
    )
    enrol = df["enrol_date"]
    bad = (enrol < hire) | (enrol > term)
    return "enrol_date", _ok(~bad)


def _group_in_cohort(df: pd.DataFrame, ctx: RuleContext) -> tuple[str, pd.Series]:
    if "group_id" not in df:
        return "group_id", pd.Series(True, index=df.index)
    cohort = ctx.lookup("peer_groups", "group_id", "cohort_id", df["group_id"])
    return "group_id", _ok(cohort.isna() | (cohort == df["cohort_id"]))


def _group_size(df: pd.DataFrame, ctx: RuleContext) -> tuple[str, pd.Series]:
    if "group_id" not in df:
        return "group_id", pd.Series(True, index=df.index)
    sizes = df.groupby("group_id")["employee_id"].transform("size")
    lo, hi = ctx.group_size
    return "group_id", _ok(df["group_id"].isna() | sizes.between(lo, hi))


def _session_cohort_dates(df: pd.DataFrame, ctx: RuleContext) -> tuple[pd.Series, pd.Series]:
    cohort = ctx.lookup("peer_groups", "group_id", "cohort_id", df["group_id"])
    start = pd.to_datetime(ctx.lookup("program_cohorts", "cohort_id", "start_date", cohort))
    end = pd.to_datetime(ctx.lookup("program_cohorts", "cohort_id", "end_date", cohort))
    return start, end


def _session_not_before_cohort(df: pd.DataFrame, ctx: RuleContext) -> tuple[str, pd.Series]:
    start, _ = _session_cohort_dates(df, ctx)
    return "session_date", _ok(~(df["session_date"] < start))


def _session_after_program(df: pd.DataFrame, ctx: RuleContext) -> tuple[str, pd.Series]:
    _, end = _session_cohort_dates(df, ctx)
    phase = df["phase"] if "phase" in df else pd.Series(None, index=df.index, dtype=object)
    return "session_date", _ok(~((df["session_date"] > end) & phase.ne("maintenance")))


def _response_in_wave_window(df: pd.DataFrame, ctx: RuleContext) -> tuple[str, pd.Series]:
    opened = pd.to_datetime(ctx.lookup("survey_waves", "wave_id", "open_date", df["wave_id"]))
    closed = pd.to_datetime(ctx.lookup("survey_waves", "wave_id", "close_date", df["wave_id"]))
    date = df["response_date"]
    return "response_date", _ok(~((date < opened) | (date > closed)))


def _month_is_first_day(df: pd.DataFrame, ctx: RuleContext) -> tuple[str, pd.Series]:
    month = pd.to_datetime(df["month"])
    return "month", _ok(month.isna() | (month.dt.day == 1))


def _separations_not_above_headcount(df: pd.DataFrame, ctx: RuleContext) -> tuple[str, pd.Series]:
    return "separations", _ok(~(df["separations"] > df["headcount"]))


RULES: dict[str, RuleFunction] = {
    "termination_not_before_hire": _termination_not_before_hire,
    "zero_day_tenure": _zero_day_tenure,
    "status_matches_termination": _status_matches_termination,
    "manager_in_roster": _manager_in_roster,
    "cohort_end_after_start": _cohort_end_after_start,
    "wave_close_after_open": _wave_close_after_open,
    "enrolment_during_employment": _enrolment_during_employment,
    "group_in_cohort": _group_in_cohort,
    "group_size": _group_size,
    "session_not_before_cohort": _session_not_before_cohort,
    "session_after_program": _session_after_program,
    "response_in_wave_window": _response_in_wave_window,
    "month_is_first_day": _month_is_first_day,
    "separations_not_above_headcount": _separations_not_above_headcount,
}
"""Rule implementations by the names the table schemas use."""
