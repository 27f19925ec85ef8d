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
from scipy import stats

from coacheval.errors import CoachevalError
from coacheval.evaluate.plan import Plan
from coacheval.retention.cox import CoxResult, fit_cox
from coacheval.retention.persontime import RetentionData, person_time_from_study

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
    result: CoxResult, term: str, *, outcome: str, estimand: str, method: str, design: str
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


def exact_poisson_ci(events: np.ndarray, exposure: np.ndarray, level: float) -> np.ndarray:
    """Exact (Garwood) confidence limits of a Poisson rate, as R's ``poisson.test``.

    Examples
    --------
    >>> exact_poisson_ci(np.array([0, 10]), np.array([100.0, 100.0]), 0.95).round(5).tolist()
    [[0.0, 0.03689], [0.04795, 0.1839]]
    """
    a = 1 - level
    events = np.asarray(events, float)
    low = np.where(events > 0, stats.chi2.ppf(a / 2, 2 * events) / 2, 0.0)
    high = stats.chi2.ppf(1 - a / 2, 2 * (events + 1)) / 2
    return np.column_stack([low, high]) / np.asarray(exposure, float)[:, None]


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
    ['cox_ever_enrolled', 'cox_tv', 'rate']
    """
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
        if cause == causes:
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
    # Rates per 100 person-years by exposure, exact Poisson limits.
    years = (data.rows.stop - data.rows.start).to_numpy()
    events = data.events_for(causes)
    for exposed, name in ((0, "not (yet) enrolled"), (1, "enrolled")):
        mask = data.rows.exposed.to_numpy() == exposed
        py = float(years[mask].sum())
        people = int(data.rows.person[mask].nunique())
        if py <= 0:
            continue
        k = int(events[mask].sum())
        low, high = exact_poisson_ci(np.array([k]), np.array([py]), level)[0] * 100
        rows_out.append(
            {
                "analysis": "retention",
                "outcome": label,
                "estimand": "exits per 100 person-years",
                "method": "rate",
                "term": name,
                "estimate": 100 * k / py,
                "std_error": 100 * np.sqrt(k) / py,
                "conf_low": low,
                "conf_high": high,
                "p_value": np.nan,
                "n": people,
                "n_clusters": np.nan,
                "design": f"{k} exits in {py:,.1f} person-years (exact Poisson limits)",
            }
        )
    return rows_out, results
