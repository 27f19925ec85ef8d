"""The quality part of an evaluation: control charts of the monitored series and the ROI.

Series charted (phases split at the first cohort's start, limits recomputed per phase):

* voluntary exits per 100 person-years by calendar quarter (u-chart with Laney's adjustment,
  because person-time denominators are large);
* the mean work-engagement score by survey wave (individuals chart);
* the share of scheduled program sessions attended, by month (p-chart with Laney's adjustment).

Implementation (RE-AIM): reach, adoption, completion, fidelity and dose, maintenance (and goal
attainment when goals are recorded), with cells below the plan's minimum reporting size hidden.

The quarterly KPI table (:func:`coacheval.quality.kpi.quarterly_kpis`) for the last four
complete quarters.

Economics: program cost from the cost extract, turnovers avoided and the return on investment
from the primary retention hazard ratio, with intervals (see
:func:`coacheval.quality.economics.roi`).

The functions here are steps of :func:`coacheval.evaluate.run.evaluate`, which is how users run
them; the module has no public API of its own, so its ``__all__`` is empty.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from coacheval.errors import CoachevalError
from coacheval.evaluate.plan import Plan
from coacheval.quality.economics import BIAS_NOTES, CostAssumptions, program_cost, roi
from coacheval.quality.kpi import quarterly_kpis
from coacheval.quality.reaim import implementation_summary
from coacheval.quality.spc import SPCResult, i_mr_chart, p_chart, u_chart
from coacheval.retention.persontime import RetentionData

__all__: list[str] = []

_DAY = np.timedelta64(1, "D")


def quarterly_exit_counts(data: RetentionData, cause: str | None) -> pd.DataFrame:
    """Count exits and person-years per calendar quarter in retention person-time.

    Examples
    --------
    >>> from coacheval.retention.persontime import build_person_time
    >>> roster = pd.DataFrame({"employee_id": ["a", "b"],
    ...     "hire_date": pd.to_datetime(["2015-01-01", "2016-01-01"]),
    ...     "termination_date": pd.to_datetime([None, "2021-05-15"]),
    ...     "termination_reason": [None, "Resigned"]})
    >>> d = build_person_time(roster, None, window_start="2021-01-01", extract_date="2021-06-30")
    >>> quarterly_exit_counts(d, "voluntary")[["quarter", "exits"]].values.tolist()
    [['2021Q1', 0], ['2021Q2', 1]]
    """
    rows = data.rows
    start = rows.start_date.to_numpy("datetime64[ns]")
    stop = rows.stop_date.to_numpy("datetime64[ns]")
    events = data.events_for(cause).astype(bool)
    quarters = pd.period_range(data.window_start, data.extract_date, freq="Q")
    out = []
    for q in quarters:
        q0 = np.datetime64(q.start_time.normalize(), "ns")
        q1 = np.datetime64((q.end_time + pd.Timedelta(1, "ns")).normalize(), "ns")
        overlap = (np.minimum(stop, q1) - np.maximum(start, q0)) / _DAY
        years = float(np.clip(overlap, 0, None).sum() / 365.25)
        exits = int((events & (stop >= q0) & (stop < q1)).sum())
        out.append(
            {"quarter": str(q), "start": q.start_time, "exits": exits, "person_years": years}
        )
    return pd.DataFrame(out)


def _phase(dates: pd.Series, go_live: pd.Timestamp) -> np.ndarray:
    return np.where(pd.to_datetime(dates) < go_live, "before the program", "program running")


def _charts(
    study: Any, data: RetentionData, cause: str | None, go_live: pd.Timestamp, notes: list[str]
) -> dict[tuple[str, str], SPCResult]:
    charts: dict[tuple[str, str], SPCResult] = {}
    counts = quarterly_exit_counts(data, cause)
    counts = counts[counts.person_years > 0]
    label = "any exit" if cause is None else f"{cause} exits"
    try:
        charts[("spc", f"{label} per 100 person-years by quarter")] = u_chart(
            counts.exits.to_numpy(),
            counts.person_years.to_numpy(),
            periods=counts.quarter.to_numpy(),
            phases=_phase(counts.start, go_live),
            laney=True,
            per=100,
        )
    except CoachevalError as exc:
        notes.append(f"control chart of {label}: not drawn ({exc})")
    try:
        from coacheval.effects.panel import survey_panel

        panel = survey_panel(study)
        waves = study.tables["survey_waves"].set_index("wave_id").open_date
        means = panel.groupby("wave_id").work_engagement.mean().reindex(waves.sort_values().index)
        phases = _phase(waves.reindex(means.index), go_live)
        if min(np.unique(phases, return_counts=True)[1]) < 2:
            phases = None  # a phase of one wave has no moving range: one set of limits
            notes.append(
                "control chart of engagement: one set of limits (fewer than 2 waves before the "
                "program)"
            )
        charts[("spc", "mean work engagement by survey wave")] = i_mr_chart(
            means.to_numpy(), periods=means.index.to_numpy(), phases=phases
        )
    except (CoachevalError, KeyError, AttributeError) as exc:
        notes.append(f"control chart of engagement: not drawn ({exc})")
    sessions, attendance = study.tables.get("sessions"), study.tables.get("attendance")
    if sessions is not None and attendance is not None and len(attendance):
        merged = attendance.merge(sessions[["session_id", "session_date"]], on="session_id")
        merged["month"] = pd.to_datetime(merged.session_date).dt.to_period("M")
        attended = merged.attended.astype(str).str.upper().isin(["Y", "YES", "TRUE", "1"])
        by_month = merged.assign(attended=attended).groupby("month").attended.agg(["sum", "size"])
        try:
            charts[("spc", "share of scheduled sessions attended by month")] = p_chart(
                by_month["sum"].to_numpy(),
                by_month["size"].to_numpy(),
                periods=by_month.index.astype(str).to_numpy(),
                laney=True,
            )
        except CoachevalError as exc:
            notes.append(f"control chart of attendance: not drawn ({exc})")
    return charts


def _economics(
    study: Any,
    plan: Plan,
    data: RetentionData,
    primary: Any,
    cause: str | None,
    notes: list[str],
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], Any]]:
    costs = study.tables.get("program_costs")
    if costs is None or costs.empty:
        notes.append("economics: no program cost extract; no return on investment")
        return [], {}
    rows = data.rows
    years = (rows.stop - rows.start).to_numpy()
    exposed = rows.exposed.to_numpy() == 1
    events = data.events_for(cause)
    baseline_years = float(years[~exposed].sum())
    baseline_events = int(events[~exposed].sum())
    if baseline_events == 0 or not exposed.any():
        notes.append("economics: no exits or no enrolled person-time; no return on investment")
        return [], {}
    coef = primary.table.set_index("term").loc["exposed"]
    cost = program_cost(costs)
    result = roi(
        cost=cost,
        hazard_ratio=float(np.exp(coef.estimate)),
        log_hr_se=float(coef.std_error),
        exposed_person_years=float(years[exposed].sum()),
        baseline_rate=baseline_events / baseline_years,
        baseline_events=baseline_events,
        cost_per_turnover=CostAssumptions(),
        seed=plan.seed,
        level=plan.inference.level,
    )
    out = []
    for row in result.table.itertuples():
        out.append(
            {
                "analysis": "economics",
                "outcome": "return on investment",
                "estimand": "Phillips level 5, from the primary retention hazard ratio",
                "method": "roi",
                "term": row.quantity,
                "estimate": row.estimate,
                "std_error": np.nan,
                "conf_low": row.conf_low,
                "conf_high": row.conf_high,
                "p_value": np.nan,
                "n": np.nan,
                "n_clusters": np.nan,
                "design": "simulation from the hazard ratio's sampling distribution and the "
                "baseline rate's; costs treated as known",
            }
        )
    notes.append(f"economics: {result.break_even_sentence}")
    bias = BIAS_NOTES.get(plan.design.type, BIAS_NOTES["staggered_did"])
    notes.append(f"economics: {bias}")
    return out, {("cost", "program"): cost, ("roi", "program"): result}


def quality_analyses(
    study: Any, plan: Plan, results: dict[tuple[str, str], Any], notes: list[str]
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], Any]]:
    """Control charts and the return on investment, from the retention results already made.

    Examples
    --------
    >>> import tempfile
    >>> from coacheval.io.pseudonymise import PseudonymKey
    >>> from coacheval.io.study import load_study
    >>> from coacheval.evaluate.plan import load_plan
    >>> from coacheval.evaluate.retention import retention_estimates
    >>> from coacheval.simulate import simulate_health_system
    >>> folder = tempfile.mkdtemp()
    >>> _ = simulate_health_system(seed=5, n_leaders=300).write(folder)
    >>> study, plan = load_study(folder, key=PseudonymKey(b"k" * 32)), load_plan("default")
    >>> _, results = retention_estimates(study, plan, [])
    >>> rows, charts = quality_analyses(study, plan, results, [])
    >>> sorted({r["term"] for r in rows})[:2], sorted(k for k, _ in charts)
    (['baseline_rate', 'benefit'], ['cost', 'kpi', 'reaim', 'reaim', 'reaim', 'reaim', 'reaim', 'roi', 'spc', 'spc', 'spc'])
    """
    data = results.get(("person_time", "retention"))
    if data is None or plan.retention is None:
        return [], {}
    cause = None if plan.retention.cause == "any" else plan.retention.cause
    label = "any exit" if cause is None else f"{cause} turnover"
    cohorts = study.tables.get("program_cohorts")
    go_live = (
        pd.Timestamp(cohorts.start_date.min())
        if cohorts is not None and len(cohorts)
        else data.extract_date
    )
    out: dict[tuple[str, str], Any] = dict(_charts(study, data, cause, go_live, notes))
    try:
        measures = implementation_summary(
            study,
            min_cell=plan.reporting.min_cell,
            extract_date=plan.retention.extract_date or data.extract_date,
        )
    except CoachevalError as exc:
        notes.append(f"implementation (RE-AIM): not measured ({exc})")
    else:
        out.update({("reaim", name): result for name, result in measures.items()})
    try:
        out[("kpi", "quarterly")] = quarterly_kpis(study, data, min_cell=plan.reporting.min_cell)
    except CoachevalError as exc:
        notes.append(f"quarterly KPIs: not computed ({exc})")
    rows: list[dict[str, Any]] = []
    primary = results.get(("cox_tv", label))
    if primary is not None:
        try:
            econ_rows, econ = _economics(study, plan, data, primary, cause, notes)
        except CoachevalError as exc:
            notes.append(f"economics: not estimated ({exc})")
        else:
            rows.extend(econ_rows)
            out.update(econ)
    return rows, out
