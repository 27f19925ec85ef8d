"""The retention part of an evaluation: turnover hazard ratios and rates from the HR extract.

The primary estimate is the hazard ratio of the plan's exit cause (voluntary by default) for
enrolled versus not-yet-enrolled leaders from a Cox model with enrolment as a time-varying
exposure (so the time a leader had to stay employed to enrol is not credited to coaching), on the
plan's time scale, adjusted for the plan's covariates, with a sandwich variance clustered at the
plan's level. The "ever enrolled" model is reported beside it, labelled as biased, to show the
size of the immortal-time error.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from coacheval.effects.weighting import balancing_weights, fit_propensity
from coacheval.errors import CoachevalError
from coacheval.evaluate.plan import Plan
from coacheval.retention.competing import cumulative_incidence
from coacheval.retention.cox import CoxConvergenceWarning, CoxResult, fit_cox
from coacheval.retention.finegray import FineGrayResult, fit_finegray
from coacheval.retention.km import kaplan_meier, logrank_test
from coacheval.retention.persontime import RetentionData, person_time_from_study
from coacheval.retention.ph import cox_zph
from coacheval.retention.power import retention_power
from coacheval.retention.rates import rate_ratio_from_counts, turnover_rates
from coacheval.retention.rmst import rmst

__all__ = ["landmark_trials", "retention_estimates"]

_ROLE_LEVELS = ("charge_nurse", "assistant_nurse_manager", "nurse_manager", "director")
_AGE_BANDS = ("<30", "30-39", "40-49", "50-59", "60+")


def retention_data(study: Any, plan: Plan) -> RetentionData:
    """Build the plan's person-time from a study (see :func:`person_time_from_study`).

    Examples
    --------
    >>> import tempfile
    >>> from coacheval.io.pseudonymise import PseudonymKey
    >>> from coacheval.io.study import load_study
    >>> from coacheval.evaluate.plan import load_plan
    >>> from coacheval.simulate import simulate_health_system
    >>> folder = tempfile.mkdtemp()
    >>> _ = simulate_health_system(seed=5, n_leaders=200).write(folder)
    >>> data = retention_data(load_study(folder, key=PseudonymKey(b"k" * 32)), load_plan("default"))
    >>> data.time_scale
    'tenure'
    """
    r = plan.retention
    if r is None:
        raise CoachevalError("the analysis plan has no retention section")
    return person_time_from_study(
        study,
        time_scale=r.time_scale,
        window_start=r.window_start,
        extract_date=r.extract_date,
        cause_rules=r.cause_rules,
    )


def design_columns(
    rows: pd.DataFrame, covariates: tuple[str, ...]
) -> tuple[pd.DataFrame, list[str]]:
    """Add numeric model columns for the plan's retention covariates; return them by name.

    Role level and age band become indicators against their first level present; levels with no
    one are dropped so that the design has full rank.

    Examples
    --------
    >>> rows = pd.DataFrame({"role_level": ["charge_nurse", "director", "director"], "fte": [1, .8, 1]})
    >>> frame, names = design_columns(rows, ("role_level", "fte"))
    >>> names
    ['role_director', 'fte']
    """
    frame = rows.copy()
    names: list[str] = []
    for cov in covariates:
        if cov in ("role_level", "age_band"):
            levels = _ROLE_LEVELS if cov == "role_level" else _AGE_BANDS
            if cov not in frame:
                continue
            present = [lv for lv in levels if (frame[cov] == lv).any()]
            prefix = "role" if cov == "role_level" else "age"
            for lv in present[1:]:
                name = f"{prefix}_{lv}"
                frame[name] = (frame[cov] == lv).astype(float)
                names.append(name)
        elif cov in frame:
            frame[cov] = pd.to_numeric(frame[cov], errors="coerce")
            names.append(cov)
    return frame, names


def _cox_row(
    result: CoxResult | FineGrayResult,
    term: str,
    *,
    outcome: str,
    estimand: str,
    method: str,
    design: str,
) -> dict[str, Any]:
    row = result.table.set_index("term").loc[term]
    return {
        "analysis": "retention",
        "outcome": outcome,
        "estimand": estimand,
        "method": method,
        "term": "enrolled",
        "estimate": float(np.exp(row.estimate)),
        "std_error": float(row.std_error),
        "conf_low": float(np.exp(row.conf_low)),
        "conf_high": float(np.exp(row.conf_high)),
        "p_value": float(row.p_value),
        "n": int(row.n),
        "n_clusters": float(row.n_clusters) if pd.notna(row.n_clusters) else np.nan,
        "design": design,
    }


def _rmst_difference_row(
    result: Any, *, label: str, tau: float, method: str, versus: str, people: int, design: str
) -> dict[str, Any]:
    """Build the estimate row of an RMST difference (enrolled minus the comparison), in years."""
    diff = result.contrasts[result.contrasts.term.str.startswith("difference")].iloc[0]
    return {
        "analysis": "retention",
        "outcome": label,
        "estimand": f"years retained in the first {tau:g} years after a cohort starts "
        f"(RMST), enrolled minus {versus}",
        "method": method,
        "term": "enrolled - not enrolled",
        **{k: diff[k] for k in ("estimate", "std_error", "conf_low", "conf_high", "p_value")},
        "n": people,
        "n_clusters": people,
        "design": design,
    }


def retention_estimates(
    study: Any, plan: Plan, notes: list[str]
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], Any]]:
    """Estimate the plan's retention analyses; return estimate rows and result objects.

    Rows (``analysis == "retention"``): the time-varying Cox hazard ratio of the plan's cause
    (``cox_tv``, primary), the same for any exit, the "ever enrolled" hazard ratio
    (``cox_ever_enrolled``, biased: shown to size the immortal-time error), and turnover rates per
    100 person-years by exposure with exact Poisson CIs.

    Examples
    --------
    >>> import tempfile
    >>> from coacheval.io.pseudonymise import PseudonymKey
    >>> from coacheval.io.study import load_study
    >>> from coacheval.evaluate.plan import load_plan
    >>> from coacheval.simulate import simulate_health_system
    >>> folder = tempfile.mkdtemp()
    >>> _ = simulate_health_system(seed=5, n_leaders=300).write(folder)
    >>> study = load_study(folder, key=PseudonymKey(b"k" * 32))
    >>> rows, results = retention_estimates(study, load_plan("default"), [])
    >>> sorted({r["method"] for r in rows})
    ['cox_ever_enrolled', 'cox_tv', 'finegray', 'finegray_landmark', 'rate', 'rate_ratio', 'rmst_landmark', 'rmst_landmark_ipw']
    """
    # A Cox model that converges while a covariate's coefficient runs off to infinity (e.g. no
    # exits at one role level) warns; in an evaluation that warning belongs in the notes that
    # reach the reports, beside the estimate it qualifies.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CoxConvergenceWarning)
        out = _retention_estimates(study, plan, notes)
    notes.extend(f"retention: {w.message}" for w in caught)
    return out


def _retention_estimates(
    study: Any, plan: Plan, notes: list[str]
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], Any]]:
    r = plan.retention
    assert r is not None
    data = retention_data(study, plan)
    level = plan.inference.level
    alpha = 1 - level
    rows_out: list[dict[str, Any]] = []
    results: dict[tuple[str, str], Any] = {("person_time", "retention"): data}
    frame, names = design_columns(data.rows, r.covariates)
    cluster = "person" if r.cluster == "person" else r.cluster
    if cluster not in frame:
        notes.append(f"retention: no {cluster} column; clustering by person instead")
        cluster = "person"
    if r.baseline_scores:
        frame, score_names = _with_baseline_scores(study, plan, frame, data, notes)
        names = [*names, *score_names]
    bad = frame[names].isna().any(axis=1) if names else pd.Series(False, index=frame.index)
    if bad.any():
        notes.append(
            f"retention: {int(bad.sum())} person-time rows without "
            f"{', '.join(r.covariates)} left out of the Cox models"
        )
        frame = frame[~bad]
    causes = None if r.cause == "any" else r.cause
    label = "any exit" if r.cause == "any" else f"{r.cause} turnover"
    scale = "years since hire" if data.time_scale == "tenure" else "calendar time"
    for outcome, cause in ((label, causes), *((("any exit", None),) if causes else ())):
        event = "_event"
        frame[event] = data.events_for(cause)[frame.index]
        if frame[event].sum() == 0:
            notes.append(f"retention, {outcome}: no exits in the window; no hazard ratio")
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                tv = fit_cox(
                    frame,
                    start_col="start",
                    stop_col="stop",
                    event_col=event,
                    covariates=["exposed", *names],
                    cluster_col=cluster,
                    alpha=alpha,
                )
            except CoachevalError as exc:
                notes.append(f"retention, {outcome}: Cox model not estimable ({exc})")
                continue
        notes.extend(f"retention, {outcome}: {w.message}" for w in caught)
        results[("cox_tv", outcome)] = tv
        row = _cox_row(
            tv,
            "exposed",
            outcome=outcome,
            estimand="hazard ratio, enrolled vs not (yet) enrolled",
            method="cox_tv",
            design=f"Cox, time-varying enrolment, {scale}, clustered by {r.cluster}",
        )
        row["n"] = int(frame.person.nunique())
        rows_out.append(row)
        # The "ever enrolled" contrast needs leaders who never enrol; a randomised rollout
        # analyses only randomised leaders, all of whom are assigned a start.
        if cause == causes and plan.design.type != "randomised_rollout":
            ever = data.ever_enrolled()
            ever_frame, ever_names = design_columns(ever, r.covariates)
            ever_frame[event] = (
                (ever.event == 1) & (ever.cause.isin([cause]) if cause else True)
            ).astype(int)
            ever_frame = ever_frame.dropna(subset=ever_names)
            try:
                naive = fit_cox(
                    ever_frame,
                    start_col="start",
                    stop_col="stop",
                    event_col=event,
                    covariates=["exposed", *ever_names],
                    cluster_col=cluster if cluster in ever_frame else "person",
                    alpha=alpha,
                )
            except CoachevalError as exc:
                notes.append(f"retention, ever enrolled: not estimable ({exc})")
            else:
                results[("cox_ever_enrolled", outcome)] = naive
                row = _cox_row(
                    naive,
                    "exposed",
                    outcome=outcome,
                    estimand="hazard ratio, ever vs never enrolled (immortal-time biased)",
                    method="cox_ever_enrolled",
                    design="naive: enrolment fixed from the start of follow-up (do not use)",
                )
                row["n"] = int(ever_frame.person.nunique())
                rows_out.append(row)
    if causes:
        rows_out.extend(_finegray_tv(frame, names, causes, label, cluster, level, results, notes))
    rows_out.extend(_rates(data, causes, label, level, results))
    rows_out.extend(
        _landmark_rmst(study, data, causes, label, r.horizon_years, level, results, notes)
    )
    _diagnostics(
        data,
        causes,
        label,
        r.target_hazard_ratio,
        level,
        results,
        notes,
        contrast_window=plan.design.type == "randomised_rollout",
    )
    return rows_out, results


def _rates(
    data: RetentionData,
    cause: str | None,
    label: str,
    level: float,
    results: dict[tuple[str, str], Any],
) -> list[dict[str, Any]]:
    """Exit rates per 100 person-years by exposure (exact limits) and their exact rate ratio."""
    frame = pd.DataFrame(
        {
            "events": data.events_for(cause),
            "years": (data.rows.stop - data.rows.start).to_numpy(),
            "exposure": np.where(data.rows.exposed == 1, "enrolled", "not (yet) enrolled"),
            "person": data.rows.person.to_numpy(),
        }
    )
    present = frame.groupby("exposure").years.sum()
    present = present[present > 0]
    if present.empty:
        return []
    rates = turnover_rates(
        frame[frame.exposure.isin(present.index)],
        events_col="events",
        person_time_col="years",
        group_col="exposure",
        alpha=1 - level,
    )
    results[("rates", label)] = rates
    people = frame.groupby("exposure").person.nunique()
    out = []
    for row in rates.table.itertuples():
        out.append(
            {
                "analysis": "retention",
                "outcome": label,
                "estimand": "exits per 100 person-years",
                "method": "rate",
                "term": row.group,
                "estimate": row.rate,
                "std_error": np.nan,
                "conf_low": row.conf_low,
                "conf_high": row.conf_high,
                "p_value": np.nan,
                "n": int(people[row.group]),
                "n_clusters": np.nan,
                "design": f"{int(row.events)} exits in {row.person_time:,.1f} person-years "
                "(exact Poisson limits)",
            }
        )
    if len(present) == 2:
        sums = frame.groupby("exposure")[["events", "years"]].sum()
        ratio = rate_ratio_from_counts(
            float(sums.loc["enrolled", "events"]),
            float(sums.loc["enrolled", "years"]),
            float(sums.loc["not (yet) enrolled", "events"]),
            float(sums.loc["not (yet) enrolled", "years"]),
            alpha=1 - level,
            labels=("enrolled", "not (yet) enrolled"),
        )
        results[("rate_ratio", label)] = ratio
        exact = ratio.table.iloc[0]
        out.append(
            {
                "analysis": "retention",
                "outcome": label,
                "estimand": "rate ratio, enrolled vs not (yet) enrolled person-time (unadjusted)",
                "method": "rate_ratio",
                "term": "enrolled",
                "estimate": exact.estimate,
                "std_error": np.nan,
                "conf_low": exact.conf_low,
                "conf_high": exact.conf_high,
                "p_value": exact.p_value,
                "n": int(frame.person.nunique()),
                "n_clusters": np.nan,
                "design": "exact conditional (binomial) limits; ignores tenure, unlike the Cox model",
            }
        )
    return out


def landmark_trials(
    data: RetentionData, cohorts: pd.DataFrame, horizon_years: float
) -> pd.DataFrame:
    """Stack one landmark "trial" per cohort: who was employed and not yet enrolled at its start.

    Each trial starts at a cohort's start date. Its population is everyone employed that day who
    had not enrolled before; the treated are those who enrolled in that cohort (enrolment on or
    before its start date plus 31 days), the comparison everyone else (some of whom enrol later:
    an intention-to-treat contrast of "offered a place now" against "not now"). Follow-up runs
    from the landmark to the exit, the extract date or the horizon, in years.

    Examples
    --------
    >>> import pandas as pd
    >>> from coacheval.retention.persontime import build_person_time
    >>> roster = pd.DataFrame({"employee_id": ["a", "b"],
    ...     "hire_date": pd.to_datetime(["2015-01-01", "2016-01-01"]),
    ...     "termination_date": pd.to_datetime([None, "2023-01-01"]),
    ...     "termination_reason": [None, "Resigned"]})
    >>> enr = pd.DataFrame({"employee_id": ["a"], "enrol_date": pd.to_datetime(["2022-07-01"])})
    >>> d = build_person_time(roster, enr, window_start="2021-01-01", extract_date="2024-12-31")
    >>> cohorts = pd.DataFrame({"cohort_id": ["C1"], "start_date": pd.to_datetime(["2022-07-01"])})
    >>> landmark_trials(d, cohorts, 2.0)[["person", "treated", "time", "event"]].round(2)
      person  treated  time  event
    0      a        1   2.0      0
    1      b        0   0.5      1
    """
    spells = data.rows.groupby(["person", "spell"], sort=False).agg(
        entry=("start_date", "min"),
        exit=("stop_date", "max"),
        event=("event", "max"),
        cause=("cause", "last"),
        enrol=("enrol_date", "first"),
        hire=("hire_date", "first"),
        **{c: (c, "first") for c in ("role_level", "age_band") if c in data.rows},
    )
    spells = spells.reset_index()
    horizon = pd.to_timedelta(horizon_years * 365.25, unit="D")
    trials = []
    for cohort in cohorts.sort_values("start_date").itertuples():
        day = pd.Timestamp(cohort.start_date)
        at_risk = (spells.entry <= day) & (spells.exit > day)
        not_before = spells.enrol.isna() | (spells.enrol >= day - pd.Timedelta(days=31))
        t = spells[at_risk & not_before].copy()
        if t.empty:
            continue
        t["treated"] = (t.enrol.notna() & (t.enrol <= day + pd.Timedelta(days=31))).astype(np.int8)
        end = t.exit.where(t.exit <= day + horizon, day + horizon)
        t["event"] = np.where(t.exit <= day + horizon, t.event, 0).astype(np.int8)
        t["cause"] = np.where(t.event == 1, t.cause, "")
        t["time"] = (end - day).dt.days / 365.25
        t["trial"] = cohort.cohort_id
        t["tenure_at_landmark"] = (day - t.hire).dt.days / 365.25
        trials.append(t)
    if not trials:
        return pd.DataFrame(columns=["person", "trial", "treated", "time", "event", "cause"])
    out = pd.concat(trials, ignore_index=True)
    extra = [c for c in ("tenure_at_landmark", "role_level", "age_band") if c in out]
    return out[["person", "trial", "treated", "time", "event", "cause", *extra]]


def _landmark_rmst(
    study: Any,
    data: RetentionData,
    cause: str | None,
    label: str,
    horizon_years: float,
    level: float,
    results: dict[tuple[str, str], Any],
    notes: list[str],
) -> list[dict[str, Any]]:
    cohorts = study.tables.get("program_cohorts")
    if cohorts is None or cohorts.empty:
        return []
    trials = landmark_trials(data, cohorts, horizon_years)
    if trials.empty or trials.treated.nunique() < 2:
        notes.append("retention: no landmark trial with both enrolled and comparison leaders")
        return []
    trials["left"] = (
        ((trials.event == 1) & (trials.cause == cause)) if cause else (trials.event == 1)
    ).astype(np.int8)
    trials["arm"] = np.where(trials.treated == 1, "enrolled", "not enrolled")
    tau = min(horizon_years, trials.groupby("arm").time.max().min())
    if tau < 0.99 * horizon_years:
        notes.append(
            f"retention: RMST horizon shortened from {horizon_years:g} to {tau:.2f} years "
            "(follow-up ends earlier in one arm)"
        )
    try:
        res = rmst(
            trials.assign(arm=pd.Categorical(trials.arm, ["not enrolled", "enrolled"])),
            tau=tau,
            stop_col="time",
            event_col="left",
            group_col="arm",
            cluster_col="person",
            alpha=1 - level,
        )
    except CoachevalError as exc:
        notes.append(f"retention: RMST not estimable ({exc})")
        return []
    results[("rmst_landmark", label)] = res
    results[("km_landmark", label)] = kaplan_meier(
        trials, stop_col="time", event_col="left", group_col="arm", cluster_col="person"
    )
    try:
        results[("cif_landmark", "retention")] = cumulative_incidence(
            trials.assign(exit=trials.cause.where(trials.event == 1, "censored")),
            stop_col="time",
            event_col="exit",
            group_col="arm",
            alpha=1 - level,
        )
    except CoachevalError as exc:
        notes.append(f"retention: cumulative incidence not estimated ({exc})")
    out = _landmark_finegray(trials, cause, label, level, results, notes) if cause else []
    out.extend(_adjusted_rmst(trials, tau, label, level, results, notes))
    try:
        test = logrank_test(
            trials, stop_col="time", event_col="left", group_col="arm", strata_col="trial"
        )
    except CoachevalError as exc:
        notes.append(f"retention: log-rank test not computed ({exc})")
    else:
        results[("logrank_landmark", label)] = test
        notes.append(
            f"retention, {label}: log-rank test stratified by landmark trial, enrolled vs not "
            f"enrolled: chi-square {test.statistic:.2f} on {test.df} df, p = {test.p_value:.3f} "
            "(treats a leader's trials as independent)"
        )
    out.append(
        _rmst_difference_row(
            res,
            label=label,
            tau=tau,
            method="rmst_landmark",
            versus="not enrolled",
            people=int(trials.person.nunique()),
            design=f"landmark trials at {trials.trial.nunique()} cohort starts, unadjusted, "
            "robust SE by person (a leader can be in several trials)",
        )
    )
    return out


def _diagnostics(
    data: RetentionData,
    cause: str | None,
    label: str,
    target_hr: float,
    level: float,
    results: dict[tuple[str, str], Any],
    notes: list[str],
    *,
    contrast_window: bool = False,
) -> None:
    """PH test of the primary Cox model, Simon–Makuch curves, and the power statement.

    With ``contrast_window`` (a randomised rollout on the calendar scale) the power statement
    counts only the person-time and exits before the last group's start: afterwards every
    randomised leader is exposed, and exits then carry no information on the hazard ratio.
    """
    primary = results.get(("cox_tv", label))
    if primary is not None:
        try:
            ph = cox_zph(primary)
        except CoachevalError as exc:
            notes.append(f"retention, {label}: proportional-hazards test not computed ({exc})")
        else:
            results[("ph_test", label)] = ph
            p = float(ph.table.set_index("term").loc["exposed", "p_value"])
            notes.append(
                f"retention, {label}: scaled Schoenfeld test of proportional hazards for "
                f"enrolment p = {p:.3f}"
                + (
                    " (the hazard ratio changes over tenure: read it as an average)"
                    if p < 0.05
                    else ""
                )
            )
    rows = data.rows
    events = data.events_for(cause)
    if contrast_window and (rows.exposed == 1).any():
        end = float(rows.start[rows.exposed == 1].groupby(rows.person).min().max())
        events = np.where(rows.stop.to_numpy() <= end, events, 0)
        rows = rows.assign(stop=rows.stop.clip(upper=end))
        keep = (rows.stop > rows.start).to_numpy()
        rows, events = rows[keep], events[keep]
    years = (rows.stop - rows.start).to_numpy()
    exposed_years = float(years[rows.exposed == 1].sum())
    total_years = float(years.sum())
    people = int(rows.person.nunique())
    unexposed = rows.exposed.to_numpy() == 0
    rate = float(events[unexposed].sum() / max(years[unexposed].sum(), 1e-12))
    if 0 < exposed_years < total_years and rate > 0:
        try:
            power = retention_power(
                people,
                share_treated=exposed_years / total_years,
                follow_up_years=total_years / people,
                annual_turnover=float(1 - np.exp(-rate)),
                hazard_ratio=target_hr,
                alpha=1 - level,
            )
        except CoachevalError as exc:
            notes.append(f"retention: power not computed ({exc})")
        else:
            results[("power", label)] = power
            notes.append(f"retention power ({label}): {power.verdict}")


def _landmark_finegray(
    trials: pd.DataFrame,
    cause: str,
    label: str,
    level: float,
    results: dict[tuple[str, str], Any],
    notes: list[str],
) -> list[dict[str, Any]]:
    """Fine–Gray subdistribution hazard ratio of the cause in the landmark trials."""
    data = trials.assign(exit=trials.cause.where(trials.event == 1, "censored"))
    data["time"] = data.time.where(data.time > 0, 0.5 / 365.25)
    try:
        fg = fit_finegray(
            data,
            cause=cause,
            covariates=["treated"],
            stop_col="time",
            event_col="exit",
            cluster_col="person",
            alpha=1 - level,
        )
    except CoachevalError as exc:
        notes.append(f"retention, {label}: Fine-Gray model not estimable ({exc})")
        return []
    results[("finegray_landmark", label)] = fg
    row = _cox_row(
        fg,
        "treated",
        outcome=label,
        estimand="subdistribution hazard ratio (Fine-Gray), enrolled vs not enrolled at a "
        "cohort start",
        method="finegray_landmark",
        design="Fine-Gray in the landmark trials, other exits competing, robust SE by person",
    )
    row["n"] = int(trials.person.nunique())
    return [row]


def _adjusted_rmst(
    trials: pd.DataFrame,
    tau: float,
    label: str,
    level: float,
    results: dict[tuple[str, str], Any],
    notes: list[str],
) -> list[dict[str, Any]]:
    """Propensity-weighted (ATT) survival curves and RMST difference in the landmark trials.

    The propensity of enrolling in a cohort is modelled on the trial, role level, age band and
    tenure at the landmark; the comparison leaders are weighted by ``ps / (1 - ps)`` so that they
    resemble the enrolled. Standard errors are the infinitesimal jackknife by person, treating
    the weights as known.
    """
    covariates = [
        c for c in ("trial", "role_level", "age_band", "tenure_at_landmark") if c in trials
    ]
    data = trials.dropna(subset=covariates).copy()
    if data.trial.nunique() < 2:
        covariates.remove("trial")
    try:
        model = fit_propensity(data, treatment="treated", covariates=covariates, level=level)
        ps = np.clip(model.ps, 1e-6, 1 - 1e-6)
        data["ipw"] = balancing_weights(ps, data.treated.to_numpy(), estimand="ATT")
        adjusted = rmst(
            data.assign(arm=pd.Categorical(data.arm, ["not enrolled", "enrolled"])),
            tau=tau,
            stop_col="time",
            event_col="left",
            group_col="arm",
            weights_col="ipw",
            cluster_col="person",
            alpha=1 - level,
        )
        curves = kaplan_meier(
            data,
            stop_col="time",
            event_col="left",
            group_col="arm",
            weights_col="ipw",
            cluster_col="person",
            alpha=1 - level,
        )
    except CoachevalError as exc:
        notes.append(f"retention: propensity-weighted curves not estimated ({exc})")
        return []
    results[("rmst_landmark_ipw", label)] = adjusted
    results[("km_landmark_ipw", label)] = curves
    return [
        _rmst_difference_row(
            adjusted,
            label=label,
            tau=tau,
            method="rmst_landmark_ipw",
            versus="comparison weighted to resemble the enrolled",
            people=int(data.person.nunique()),
            design="landmark trials, ATT propensity weights on "
            f"{', '.join(covariates)}; jackknife SE by person, weights treated as known",
        )
    ]


def _finegray_tv(
    frame: pd.DataFrame,
    names: list[str],
    cause: str,
    label: str,
    cluster: str,
    level: float,
    results: dict[tuple[str, str], Any],
    notes: list[str],
) -> list[dict[str, Any]]:
    """Fine–Gray subdistribution hazard ratio with enrolment time-varying, as the primary Cox."""
    data = frame.assign(
        _exit=frame.cause.where(frame.event == 1, "censored"),
        _id=frame.person.astype(str) + "#" + frame.spell.astype(str),
    )
    try:
        fg = fit_finegray(
            data,
            cause=cause,
            covariates=["exposed", *names],
            start_col="start",
            stop_col="stop",
            event_col="_exit",
            id_col="_id",
            cluster_col=cluster,
            alpha=1 - level,
        )
    except CoachevalError as exc:
        notes.append(f"retention, {label}: Fine-Gray model not estimable ({exc})")
        return []
    results[("finegray", label)] = fg
    notes.extend(f"retention, {label}, Fine-Gray: {n}" for n in fg.notes)
    row = _cox_row(
        fg,
        "exposed",
        outcome=label,
        estimand="subdistribution hazard ratio (Fine-Gray), enrolled vs not (yet) enrolled",
        method="finegray",
        design=f"Fine-Gray, time-varying enrolment, other exits competing, clustered by {cluster}",
    )
    row["n"] = int(frame.person.nunique())
    return [row]


def _with_baseline_scores(
    study: Any, plan: Plan, frame: pd.DataFrame, data: RetentionData, notes: list[str]
) -> tuple[pd.DataFrame, list[str]]:
    """Restrict follow-up to baseline respondents from their response, adding their scores.

    A covariate has to be measured when follow-up starts, so each leader's person-time starts at
    their baseline-wave response (left truncation), and leaders who did not answer it, or had
    enrolled before answering it, are left out. Scores are standardised (per SD).
    """
    from coacheval.effects.panel import survey_panel

    r = plan.retention
    assert r is not None
    waves = study.tables["survey_waves"].sort_values("open_date").wave_id.tolist()
    baseline = plan.design.baseline_wave or waves[0]
    panel = survey_panel(study)
    base = panel[panel.wave_id == baseline].set_index("person")
    responses = study.tables["survey_responses"]
    answered = responses[responses.wave_id == baseline].drop_duplicates("employee_id")
    when = answered.set_index(answered.employee_id.astype(str)).response_date
    missing = [c for c in r.baseline_scores if c not in base]
    if missing:
        raise CoachevalError(f"baseline scores not measured: {', '.join(missing)}")
    scores = base[list(r.baseline_scores)]
    scores = (scores - scores.mean()) / scores.std(ddof=1)
    names = [f"baseline_{c}" for c in r.baseline_scores]
    scores.columns = names
    out = frame.join(scores, on="person")
    out["_baseline_date"] = out.person.map(when)
    origin = out.hire_date if data.time_scale == "tenure" else data.window_start
    day = np.timedelta64(1, "D")
    entry = (out._baseline_date - origin).to_numpy() / day / 365.25
    enrolled_first = out.enrol_date.notna() & (out.enrol_date <= out._baseline_date)
    keep = out._baseline_date.notna() & ~enrolled_first & (out.stop.to_numpy() > entry)
    out = out[keep.to_numpy()].copy()
    out["start"] = np.maximum(out.start.to_numpy(), entry[keep.to_numpy()])
    people_before = frame.person.nunique()
    notes.append(
        f"retention: adjusted for baseline ({baseline}) {', '.join(r.baseline_scores)}; follow-up "
        f"starts at each leader's baseline response: {out.person.nunique():,} of "
        f"{people_before:,} leaders (non-respondents, leaders gone or enrolled before it left out)"
    )
    return out.drop(columns="_baseline_date"), names
