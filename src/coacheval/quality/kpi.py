"""The quarterly KPI table a quality team reports: each number with its definition.

For the latest complete quarter and the quarters before it, from the validated extracts and the
retention person-time:

* leader turnover by the HR convention (all exits and voluntary exits, separations over the
  average of the monthly headcounts, annualised, per 100 leaders);
* voluntary exits per 100 person-years with exact Poisson limits;
* leaders enrolled in the quarter and to date, groups meeting and sessions held in the quarter;
* the share of scheduled sessions attended in the quarter;
* the mean work-engagement score of a survey wave that opened in the quarter.

A value that rests on fewer people than the minimum reporting size is not shown (``NaN`` with
``suppressed`` true), whatever the KPI.

Examples
--------
>>> KPI_DEFINITIONS["attendance_rate"][:40]
'Sessions attended / sessions scheduled f'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from coacheval.errors import ConfigError
from coacheval.results import TableResult
from coacheval.retention.persontime import RetentionData
from coacheval.retention.rates import exact_poisson_interval

__all__ = ["KPI_DEFINITIONS", "KPIResult", "quarterly_kpis"]

KPI_DEFINITIONS = {
    "leader_turnover_hr": "All leader exits in the quarter / mean of the leader headcounts on "
    "the first day of each of its months, x 4 (annualised), per 100 leaders (NSI/SHRM "
    "convention).",
    "voluntary_turnover_hr": "Voluntary leader exits in the quarter / mean monthly headcount, "
    "x 4, per 100 leaders.",
    "voluntary_exits_per_100py": "Voluntary exits in the quarter per 100 person-years employed "
    "in it, exact Poisson 95% limits.",
    "enrolled_in_quarter": "Leaders whose enrolment date falls in the quarter.",
    "enrolled_to_date": "Leaders enrolled on or before the quarter's last day (distinct people).",
    "groups_meeting": "Peer groups that held at least one session in the quarter.",
    "sessions_held": "Sessions held in the quarter (program and maintenance).",
    "attendance_rate": "Sessions attended / sessions scheduled for enrolled members, over the "
    "quarter's sessions.",
    "engagement_mean": "Mean work-engagement score (UWES-9, 0-6) of the respondents to a survey "
    "wave that opened in the quarter.",
}
"""What each KPI means, shown beside it in reports."""


@dataclass(frozen=True)
class KPIResult(TableResult):
    """Quarterly KPIs: one row per KPI and quarter.

    Attributes
    ----------
    table
        ``kpi, quarter, value, conf_low, conf_high, n_people, suppressed, definition``; values
        resting on fewer than ``min_cell`` people are NaN with ``suppressed`` true.
    quarters
        The quarters reported, latest last.
    min_cell
        Minimum reporting size used.

    Examples
    --------
    Returned by :func:`quarterly_kpis`. The study is normally
    :func:`~coacheval.io.study.load_study`'s; any object with a ``tables`` mapping of the extracts
    works, and the tables it lacks (here sessions and survey waves) give no KPI rows:

    >>> from types import SimpleNamespace
    >>> import pandas as pd
    >>> from coacheval.quality.kpi import quarterly_kpis
    >>> from coacheval.retention.persontime import build_person_time
    >>> roster = pd.DataFrame({
    ...     "employee_id": list("abcdefgh"),
    ...     "hire_date": pd.to_datetime(["2018-01-01"] * 8),
    ...     "termination_date": pd.to_datetime([None] * 6 + ["2024-02-15", "2024-05-20"]),
    ...     "termination_reason": [None] * 6 + ["Resigned", "Retirement"],
    ... })
    >>> enrolment = pd.DataFrame({"employee_id": ["a", "b", "c"],
    ...                           "enrol_date": pd.to_datetime(["2024-01-08", "2024-01-08",
    ...                                                         "2024-04-02"])})
    >>> data = build_person_time(roster, enrolment, window_start="2023-01-01",
    ...                          extract_date="2024-06-30")
    >>> study = SimpleNamespace(tables={"enrolment": enrolment})
    >>> kpis = quarterly_kpis(study, data, quarter="2024Q2", n_quarters=2, min_cell=1)
    >>> kpis.quarters
    ('2024Q1', '2024Q2')
    >>> kpis.wide().round(1)
    quarter                    2024Q1  2024Q2
    kpi
    enrolled_in_quarter           2.0     1.0
    enrolled_to_date              2.0     3.0
    leader_turnover_hr           52.2    60.0
    voluntary_exits_per_100py    53.6     0.0
    voluntary_turnover_hr        52.2     0.0
    >>> rate = kpis.table.query("kpi == 'voluntary_exits_per_100py'")
    >>> rate[["quarter", "value", "conf_low", "conf_high"]].round(1)
      quarter  value  conf_low  conf_high
    2  2024Q1   53.6       1.4      298.4
    7  2024Q2    0.0       0.0      228.8
    """

    table: pd.DataFrame
    quarters: tuple[str, ...]
    min_cell: int
    title: str = "Quarterly KPIs"
    notes: tuple[str, ...] = field(default=())

    def wide(self) -> pd.DataFrame:
        """Return KPIs as rows and quarters as columns (the layout of a quality report).

        Examples
        --------
        >>> t = pd.DataFrame({"kpi": ["sessions_held"] * 2, "quarter": ["2024Q1", "2024Q2"],
        ...     "value": [10.0, 12.0]})
        >>> KPIResult(t, ("2024Q1", "2024Q2"), 5).wide().values.tolist()
        [[10.0, 12.0]]
        """
        return self.table.pivot(index="kpi", columns="quarter", values="value")[list(self.quarters)]

    def plot(self):  # type: ignore[no-untyped-def]
        """Small multiples: each KPI across the reported quarters."""
        from matplotlib.figure import Figure

        kpis = list(dict.fromkeys(self.table.kpi))
        fig = Figure(figsize=(9, 1.6 * ((len(kpis) + 2) // 3) + 0.5), layout="constrained")
        axes = fig.subplots((len(kpis) + 2) // 3, 3, squeeze=False).ravel()
        for ax, kpi in zip(axes, kpis, strict=False):
            sub = self.table[self.table.kpi == kpi]
            ax.plot(sub.quarter, sub.value, marker="o")
            ax.set_title(kpi.replace("_", " "), fontsize=9)
            ax.tick_params(labelsize=7)
        for ax in axes[len(kpis) :]:
            ax.set_visible(False)
        return fig


def _headcount(rows: pd.DataFrame, day: pd.Timestamp) -> int:
    """Leaders employed on a day: a spell row covering it (start <= day < stop)."""
    start = rows.start_date.to_numpy("datetime64[ns]")
    stop = rows.stop_date.to_numpy("datetime64[ns]")
    d = np.datetime64(day, "ns")
    return int(rows.person[(start <= d) & (stop > d)].nunique())


def quarterly_kpis(
    study: Any,
    data: RetentionData,
    *,
    quarter: str | None = None,
    n_quarters: int = 4,
    min_cell: int = 5,
) -> KPIResult:
    """Compute the KPI table for a quarter and the ones before it.

    Parameters
    ----------
    study
        A :class:`~coacheval.io.study.Study`.
    data
        Retention person-time (:func:`coacheval.retention.persontime.person_time_from_study`).
    quarter
        The latest quarter reported, e.g. ``"2025Q3"`` (default: the last complete quarter
        before the extract date).
    n_quarters
        How many quarters, the latest included.
    min_cell
        Minimum reporting size.

    Returns
    -------
    KPIResult

    Examples
    --------
    >>> import tempfile
    >>> from coacheval.io.pseudonymise import PseudonymKey
    >>> from coacheval.io.study import load_study
    >>> from coacheval.retention.persontime import person_time_from_study
    >>> from coacheval.simulate import simulate_health_system
    >>> folder = tempfile.mkdtemp()
    >>> _ = simulate_health_system(seed=4, n_leaders=300).write(folder)
    >>> study = load_study(folder, key=PseudonymKey(b"k" * 32))
    >>> data = person_time_from_study(study, window_start="2021-01-01", extract_date="2025-12-31")
    >>> kpis = quarterly_kpis(study, data, quarter="2023Q4", n_quarters=2)
    >>> kpis.quarters, kpis.wide().loc["enrolled_to_date"].tolist()
    (('2023Q3', '2023Q4'), [90.0, 90.0])
    """
    if n_quarters < 1 or min_cell < 1:
        raise ConfigError("n_quarters and min_cell must be at least 1")
    if quarter is None:
        last = pd.Period(data.extract_date, freq="Q")
        if (last.end_time.normalize()) > data.extract_date:
            last -= 1
    else:
        try:
            last = pd.Period(quarter, freq="Q")
        except ValueError as exc:
            raise ConfigError(f"quarter must look like 2025Q3 (got {quarter!r})") from exc
    quarters = [last - k for k in range(n_quarters - 1, -1, -1)]
    rows = data.rows
    stop = rows.stop_date
    voluntary = data.events_for("voluntary").astype(bool)
    any_exit = data.events_for(None).astype(bool)
    enrol = study.tables.get("enrolment")
    sessions = study.tables.get("sessions")
    attendance = study.tables.get("attendance")
    waves = study.tables.get("survey_waves")
    panel = None
    out: list[dict[str, Any]] = []

    def add(kpi: str, q: pd.Period, value: float, n: int, low=np.nan, high=np.nan) -> None:
        hidden = 0 < n < min_cell
        out.append(
            {
                "kpi": kpi,
                "quarter": str(q),
                "value": np.nan if hidden else float(value),
                "conf_low": np.nan if hidden else float(low),
                "conf_high": np.nan if hidden else float(high),
                "n_people": int(n),
                "suppressed": bool(hidden),
                "definition": KPI_DEFINITIONS[kpi],
            }
        )

    for q in quarters:
        q0, q1 = q.start_time.normalize(), (q.end_time + pd.Timedelta(1, "ns")).normalize()
        in_q = ((stop >= q0) & (stop < q1)).to_numpy()
        months = pd.date_range(q0, periods=3, freq="MS")
        heads = [_headcount(rows, m) for m in months]
        mean_head = float(np.mean(heads))
        for kpi, events in (("leader_turnover_hr", any_exit), ("voluntary_turnover_hr", voluntary)):
            k = int((events & in_q).sum())
            value = 100 * k / mean_head * 4 if mean_head > 0 else np.nan
            add(kpi, q, value, round(mean_head))
        start = rows.start_date.to_numpy("datetime64[ns]")
        overlap = (
            np.minimum(stop.to_numpy("datetime64[ns]"), np.datetime64(q1, "ns"))
            - np.maximum(start, np.datetime64(q0, "ns"))
        ) / np.timedelta64(1, "D")
        years = float(np.clip(overlap, 0, None).sum() / 365.25)
        k = int((voluntary & in_q).sum())
        if years > 0:
            low, high = exact_poisson_interval(k, years)
            limits = (100 * float(low), 100 * float(high))
            add("voluntary_exits_per_100py", q, 100 * k / years, round(mean_head), *limits)
        if enrol is not None and len(enrol):
            dates = pd.to_datetime(enrol.enrol_date)
            new = enrol[(dates >= q0) & (dates < q1)].employee_id.nunique()
            to_date = enrol[dates < q1].employee_id.nunique()
            add("enrolled_in_quarter", q, new, new)
            add("enrolled_to_date", q, to_date, to_date)
        if sessions is not None and len(sessions):
            sdates = pd.to_datetime(sessions.session_date)
            held = sessions[(sdates >= q0) & (sdates < q1)]
            att = (
                attendance[attendance.session_id.isin(held.session_id)]
                if attendance is not None
                else pd.DataFrame(columns=["employee_id", "attended"])
            )
            people = att.employee_id.nunique()  # the people these sessions were for
            add("groups_meeting", q, held.group_id.nunique(), people)
            add("sessions_held", q, len(held), people)
            if len(att):
                yes = att.attended.astype(str).str.upper().isin(["Y", "YES", "TRUE", "1"])
                add("attendance_rate", q, yes.mean(), people)
        if waves is not None and len(waves):
            opened = pd.to_datetime(waves.open_date)
            in_waves = waves[(opened >= q0) & (opened < q1)].wave_id.tolist()
            if in_waves:
                if panel is None:
                    from coacheval.effects.panel import survey_panel

                    panel = survey_panel(study)
                scores = panel[panel.wave_id.isin(in_waves)].work_engagement.dropna()
                add("engagement_mean", q, scores.mean(), len(scores))
    table = pd.DataFrame(out)
    notes = (
        f"Values resting on fewer than {min_cell} people are not shown.",
        "Turnover by the HR convention counts exits in the quarter against the average "
        "headcount; the person-time rate counts them against the time employed.",
    )
    return KPIResult(table, tuple(str(q) for q in quarters), min_cell, notes=notes)
