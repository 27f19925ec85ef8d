"""Run an analysis plan on a study: every estimate in one tidy table, with provenance."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from coacheval import __version__, figures
from coacheval.effects.attrition import AttritionTable, attrition_table
from coacheval.effects.did import GroupTimeResult, group_time_att
from coacheval.effects.multiplicity import bh_qvalues
from coacheval.effects.panel import ROLE_LEVELS, survey_panel
from coacheval.effects.sensitivity import evalue_smd
from coacheval.errors import CoachevalError
from coacheval.evaluate.plan import Plan
from coacheval.evaluate.quality import quality_analyses
from coacheval.evaluate.retention import retention_estimates
from coacheval.evaluate.spillover import spillover_estimates
from coacheval.measures.prepost import paired_change
from coacheval.results import TableResult
from coacheval.retention.persontime import RetentionData

__all__ = ["Evaluation", "evaluate"]

ESTIMATE_TABLE_COLUMNS = (
    "analysis",
    "outcome",
    "estimand",
    "method",
    "term",
    "estimate",
    "std_error",
    "conf_low",
    "conf_high",
    "p_value",
    "q_value",
    "n",
    "n_clusters",
    "estimate_sd",
    "baseline_sd",
    "evalue_point",
    "evalue_ci",
    "design",
)
_RETENTION_FIGURES = {
    "km_landmark": "retention_kaplan_meier",
    "km_landmark_ipw": "retention_adjusted_survival",
    "cif_landmark": "retention_cumulative_incidence",
    "ph_test": "retention_ph_check",
    "spc": "control_chart",
    "roi": "economics_net_benefit",
}


def _figure(method: str, outcome: str, result: Any) -> Any:
    """Draw one result in the colour-blind-safe palette, with alt text."""
    options = _figure_options(method, result)
    if method.startswith("km_landmark"):
        return figures.km_plot(
            result,
            what="staying employed" if "ipw" not in method else "staying employed (weighted)",
            population="leaders",
            time_unit="years",
            **options,
        )
    if method == "cif_landmark":
        return figures.cumulative_incidence_plot(result, population="leaders", time_unit="years")
    if method == "spc":
        return figures.control_chart(result, what=outcome)
    if method == "roi":
        return figures.roi_plot(result)
    figure = result.plot(**options)
    return figures.set_alt_text(figure, f"{result.title}: {outcome}.")


def _figure_options(method: str, result: Any) -> dict[str, Any]:
    """Labels and zoom of the retention figures written by :meth:`Evaluation.write`."""
    if method.startswith("km_landmark"):
        low = float(np.nanmin(result.table.conf_low)) if len(result.table) else 0.0
        bottom = max(0.0, np.floor((low - 0.02) * 20) / 20) if np.isfinite(low) else 0.0
        return {"xlabel": "Years since the cohort started", "ylim": (bottom, 1.005)}
    if method == "ph_test":
        return {"terms": ["exposed"]}
    return {}


_METHOD_LABELS = {"did_dr": "dr", "did_reg": "reg", "did_ipw": "ipw"}


@dataclass
class Evaluation:
    """Everything an evaluation estimated.

    Attributes
    ----------
    estimates
        One row per estimate (columns ``ESTIMATE_TABLE_COLUMNS``).
    results
        The result objects, keyed ``(method, outcome)``.
    provenance
        Package version, plan name and hash, data hashes, seed, time.
    notes
        What the evaluation dropped or could not estimate, and why.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from coacheval.evaluate.plan import load_plan
    >>> from coacheval.evaluate.run import evaluate
    >>> from coacheval.io.pseudonymise import PseudonymKey
    >>> from coacheval.io.study import load_study
    >>> from coacheval.simulate import simulate_health_system
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = simulate_health_system(seed=3, n_leaders=300).write(folder)
    >>> study = load_study(folder, key=PseudonymKey(b"an example key, not a secret"))
    >>> evaluation = evaluate(study, load_plan("default"))
    >>> evaluation.provenance["plan_name"], len(evaluation.primary())
    ('default', 6)
    >>> written = evaluation.write(folder / "out")
    >>> sorted(p.name for p in written if p.suffix != ".png")
    ['estimates.csv', 'results.json']
    """

    plan: Plan
    estimates: pd.DataFrame
    results: dict[tuple[str, str], Any] = field(repr=False)
    provenance: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def primary(self) -> pd.DataFrame:
        """Return the primary overall estimate of each outcome."""
        e = self.estimates
        return e[
            (e.method == self.plan.methods.primary) & (e.term.isin(["ATT (overall)", "change"]))
        ]

    def write(self, out: str | Path) -> list[Path]:
        """Write ``estimates.csv``, ``results.json`` and the figures into ``out``."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        out = Path(out)
        (out / "figures").mkdir(parents=True, exist_ok=True)
        written = []
        path = out / "estimates.csv"
        self.estimates.to_csv(path, index=False)
        written.append(path)
        diagnostics = {}
        for (method, outcome), result in self.results.items():
            key = f"{method}:{outcome}"
            if isinstance(result, AttritionTable):
                diagnostics[key] = {
                    "response": result.table.to_dict("records"),
                    "smd": result.smd.to_dict("records"),
                }
                continue
            if isinstance(result, GroupTimeResult):
                diagnostics[key] = {
                    "cells": result.table.to_dict("records"),
                    "aggregations": result.aggregations.to_dict("records"),
                    "notes": list(result.notes),
                }
                if method == self.plan.methods.primary:
                    figure = figures.event_study_plot(result, outcome=outcome.replace("_", " "))
                    figure.axes[0].set_title(f"Event study: {outcome.replace('_', ' ')}")
                    fig_path = out / "figures" / f"event_study_{outcome}.png"
                    figures.save_figure(figure, fig_path)
                    plt.close(figure)
                    written.append(fig_path)
            elif isinstance(result, RetentionData):
                diagnostics[key] = {
                    "flow": result.flow.to_dict("records"),
                    "excluded": result.excluded.reason.value_counts().to_dict(),
                    "notes": list(result.notes),
                }
            elif isinstance(result, TableResult):
                diagnostics[key] = result.to_dict()
                figure_name = _RETENTION_FIGURES.get(method)
                if figure_name:
                    figure = _figure(method, outcome, result)
                    if method == "spc":  # several charts: name each by its series
                        figure_name += "_" + "_".join(outcome.split()[:3]).lower()
                    fig_path = out / "figures" / f"{figure_name}.png"
                    figures.save_figure(figure, fig_path)
                    plt.close(figure)
                    written.append(fig_path)
            else:
                diagnostics[key] = result
        path = out / "results.json"
        payload = {
            "provenance": self.provenance,
            "plan": self.plan.model_dump(mode="json"),
            "estimates": self.estimates.to_dict("records"),
            "diagnostics": diagnostics,
            "notes": self.notes,
        }
        path.write_text(
            json.dumps(payload, indent=2, default=_json_default) + "\n", encoding="utf-8"
        )
        written.append(path)
        return written


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return None if np.isnan(obj) else float(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (pd.Timestamp, datetime)):
        return obj.isoformat()
    return str(obj)


def _follow_up_effect(
    panel: pd.DataFrame,
    plan: Plan,
    outcome: str,
    baseline_period: int,
    method: str,
    cluster: str | None,
    level: float,
) -> Any:
    """Weighted (ATT weights, M-estimation SE) or AIPW effect at the last wave, given baseline."""
    from coacheval.effects.weighting import aipw_att, weighted_att

    last = int(panel.period.max())
    base = (
        panel[panel.period == baseline_period].set_index("person")[outcome].rename("baseline_score")
    )
    follow = panel[panel.period == last].drop_duplicates("person").set_index("person")
    data = follow.join(base, how="inner").dropna(subset=[outcome, "baseline_score"]).reset_index()
    data["participant"] = (data.group > 0).astype(int)
    if (
        data.participant.sum() < plan.reporting.min_cell
        or (1 - data.participant).sum() < plan.reporting.min_cell
    ):
        return None
    covariates = ["baseline_score", *_covariates(plan)]
    covariates = [c for c in covariates if data[c].nunique() > 1]
    if method == "ps_att":
        return weighted_att(
            data,
            outcome=outcome,
            treatment="participant",
            covariates=covariates,
            estimand="ATT",
            cluster=cluster,
            variance="m_estimation",
            level=level,
        )
    return aipw_att(
        data,
        outcome=outcome,
        treatment="participant",
        covariates=covariates,
        cluster=cluster,
        level=level,
    )


def _regression_analysis(
    panel: pd.DataFrame,
    plan: Plan,
    outcome: str,
    method: str,
    cluster: str | None,
    level: float,
    notes: list[str],
) -> list[dict[str, Any]]:
    """TWFE (warning kept as a note), the mixed-model contrast, or the ATT by attendance band."""
    import warnings

    from coacheval.effects.regression_did import dose_response, mixed_did, twfe

    keys = ("term", "estimate", "std_error", "conf_low", "conf_high", "p_value", "n", "n_clusters")
    if method == "twfe":
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = twfe(
                panel,
                outcome=outcome,
                unit="person",
                period="period",
                group="group",
                cluster=cluster or "person",
                wild_below=plan.inference.wild_bootstrap_below_clusters,
                draws=plan.inference.bootstrap_draws,
                seed=plan.seed,
                level=level,
            )
        notes.extend(f"{outcome}, twfe: {w.message}" for w in caught)
        row = result.table.iloc[0]
        return [
            {
                "estimand": "TWFE coefficient of treated x post (biased under staggered adoption)",
                "method": "twfe",
                **{k: row[k] for k in keys},
                "design": "two-way fixed effects (secondary)",
            }
        ]
    if method == "mixed":
        second = cluster if cluster not in (None, "person", "peer_group") else None
        row = mixed_did(
            panel,
            outcome=outcome,
            unit="person",
            period="period",
            group="group",
            covariates=_covariates(plan),
            second_level=second,
            level=level,
        ).iloc[0]
        return [
            {
                "estimand": "treated x post contrast, random intercepts (assumes no selection on the person effect)",
                "method": "mixed",
                **{k: row[k] for k in keys},
                "design": "linear mixed model (secondary)",
            }
        ]
    table = dose_response(
        panel,
        outcome=outcome,
        unit="person",
        period="period",
        group="group",
        dose="dose",
        covariates=_covariates(plan),
        cluster=cluster,
        level=level,
        min_cell=plan.reporting.min_cell,
    )
    notes.extend(f"{outcome}, dose_response: {note}" for note in table.note if note)
    return [
        {
            "estimand": "ATT by share of planned sessions attended",
            "method": "dose_response",
            **{k: row[k] for k in keys},
            "design": "staggered DiD by attendance band",
        }
        for row in table.to_dict("records")
    ]


def _imputation_sensitivity(
    study: Any, panel: pd.DataFrame, plan: Plan, outcome: str, baseline_period: int
) -> Any:
    """Baseline respondents still employed at the last wave: missing follow-ups imputed (norm, m=20)."""
    from coacheval.effects.imputation import mi_sensitivity
    from coacheval.effects.inference import fit_ols

    last = int(panel.period.max())
    waves = study.tables["survey_waves"].sort_values("open_date").reset_index(drop=True)
    last_open = waves.open_date.iloc[last - 1]
    roster = study.tables["hr_roster"].set_index("employee_id")
    base = panel[panel.period == baseline_period].drop_duplicates("person").set_index("person")
    employed = roster.termination_date.isna() | (roster.termination_date > last_open)
    base = base[base.index.isin(roster.index[employed])]
    follow = panel[panel.period == last].drop_duplicates("person").set_index("person")[outcome]
    data = pd.DataFrame(
        {
            "followup": follow.reindex(base.index),
            "baseline_score": base[outcome],
            "participant": (base.group > 0).astype(float),
        }
    )
    for column in _covariates(plan):
        data[column] = base[column]
    data = data.dropna(subset=["baseline_score", *_covariates(plan)]).reset_index(drop=True)
    predictors = [
        c for c in ["participant", "baseline_score", *_covariates(plan)] if data[c].nunique() > 1
    ]

    def estimator(frame: pd.DataFrame) -> tuple[float, float]:
        x = np.column_stack([np.ones(len(frame)), frame[predictors].to_numpy(dtype=float)])
        fit = fit_ols(
            frame.followup.to_numpy(dtype=float), x, names=["(Intercept)", *predictors], vcov="HC1"
        )
        return float(fit.coef.iloc[1]), float(fit.std_error.iloc[1] ** 2)

    return mi_sensitivity(
        data,
        outcome="followup",
        predictors=predictors,
        estimator=estimator,
        m=20,
        seed=plan.seed,
        method="norm",
    )


def _attrition(panel: pd.DataFrame, plan: Plan, baseline_period: int) -> AttritionTable:
    """Who of the baseline respondents answered the last wave, by group, and how they differed."""
    last = int(panel.period.max())
    base = panel[panel.period == baseline_period].drop_duplicates("person").copy()
    answered_last = set(panel.loc[panel.period == last, "person"])
    base["responded"] = base.person.isin(answered_last)
    base["participant"] = base.group > 0
    scores = [o for o in plan.outcomes if o in base]
    return attrition_table(
        base,
        responded_col="responded",
        group_col="participant",
        continuous=["tenure_years", *scores],
        categorical=["role_level"],
        min_cell=plan.reporting.min_cell,
    )


def _covariates(plan: Plan) -> list[str]:
    columns = []
    if "tenure_years" in plan.covariates:
        columns.append("tenure_years")
    if "role_level" in plan.covariates:
        columns += [f"role_{level}" for level in ROLE_LEVELS[1:]]
    return columns


def _naive_post(panel: pd.DataFrame, outcome: str, period: int, level: float) -> dict[str, Any]:
    """Enrolled against never-enrolled at one wave: what a careless comparison reports."""
    rows = panel[(panel.period == period)].dropna(subset=[outcome])
    treated = rows.loc[rows.group > 0, outcome]
    control = rows.loc[rows.group == 0, outcome]
    estimate = float(treated.mean() - control.mean())
    se = float(np.sqrt(treated.var(ddof=1) / len(treated) + control.var(ddof=1) / len(control)))
    z = stats.norm.ppf(1 - (1 - level) / 2)
    return {
        "term": "difference in means",
        "estimate": estimate,
        "std_error": se,
        "conf_low": estimate - z * se,
        "conf_high": estimate + z * se,
        "p_value": float(2 * stats.norm.sf(abs(estimate / se))),
        "n": len(rows),
        "n_clusters": np.nan,
    }


def evaluate(study: Any, plan: Plan, *, data_hashes: dict[str, str] | None = None) -> Evaluation:
    """Estimate everything the plan asks for on a validated study.

    Parameters
    ----------
    study
        A :class:`~coacheval.io.study.Study`.
    plan
        A validated :class:`~coacheval.evaluate.plan.Plan`.
    data_hashes
        SHA-256 of the input files, for provenance.

    Returns
    -------
    Evaluation

    Examples
    --------
    >>> import tempfile
    >>> from coacheval.io.pseudonymise import PseudonymKey
    >>> from coacheval.io.study import load_study
    >>> from coacheval.evaluate.plan import load_plan
    >>> from coacheval.simulate import simulate_health_system
    >>> folder = tempfile.mkdtemp()
    >>> _ = simulate_health_system(seed=4, n_leaders=400).write(folder)
    >>> result = evaluate(load_study(folder, key=PseudonymKey(b"k" * 32)), load_plan("default"))
    >>> sorted(result.primary().outcome)[:2]
    ['burnout', 'job_satisfaction']
    """
    rollout = None
    source = study  # the randomised leaders only, by assignment, for a randomised rollout
    did_design = f"staggered DiD ({plan.design.comparison})"
    if plan.design.type == "randomised_rollout":
        from coacheval.evaluate.rollout import randomised_rollout

        rollout = randomised_rollout(study, plan)
        source = rollout.study
        did_design = f"{rollout.label}: started vs not-yet-started randomised cohorts"
    panel = survey_panel(source)
    if rollout is not None:
        panel = panel[panel.person.isin(rollout.leaders.employee_id)].reset_index(drop=True)
    waves = study.tables["survey_waves"].sort_values("open_date").wave_id.tolist()
    baseline = plan.design.baseline_wave or waves[0]
    baseline_period = waves.index(baseline) + 1
    level = plan.inference.level
    cluster = None if plan.inference.cluster == "none" else plan.inference.cluster
    rows: list[dict[str, Any]] = []
    results: dict[tuple[str, str], Any] = {}
    notes: list[str] = []
    for outcome in plan.outcomes:
        if outcome not in panel:
            notes.append(f"{outcome}: not measured in these extracts")
            continue
        at_baseline = panel.loc[panel.period == baseline_period, outcome].dropna()
        baseline_sd = float(at_baseline.std(ddof=1)) if len(at_baseline) > 1 else np.nan
        common = {"analysis": "survey outcomes", "outcome": outcome, "baseline_sd": baseline_sd}
        if plan.design.type == "single_arm":
            followup = plan.design.followup_wave or waves[-1]
            part = panel[panel.group > 0] if (panel.group > 0).any() else panel
            wide = part.pivot_table(
                index="person", columns="wave_id", values=outcome, aggfunc="first"
            )
            change = paired_change(wide[baseline], wide[followup], scale=outcome, level=level)
            results[("pre_post", outcome)] = change
            rows.append(
                {
                    **common,
                    "estimand": f"mean change {baseline} to {followup}",
                    "method": "pre_post",
                    "term": "change",
                    **{
                        k: change[k]
                        for k in ("estimate", "std_error", "conf_low", "conf_high", "p_value")
                    },
                    "n": change["n_pairs"],
                    "n_clusters": np.nan,
                    "design": "single-arm pre/post (weakest design)",
                }
            )
            continue
        cluster_col = cluster
        data = panel
        if cluster == "peer_group":
            data = panel.assign(
                peer_group=panel.peer_group.fillna("solo-" + panel.person.astype(str))
            )
        for method in (plan.methods.primary, *plan.methods.secondary):
            if method in ("ps_att", "aipw"):
                try:
                    r = _follow_up_effect(
                        data, plan, outcome, baseline_period, method, cluster_col, level
                    )
                except CoachevalError as exc:  # a secondary analysis the data cannot support
                    notes.append(f"{outcome}, {method}: not estimated ({exc})")
                    continue
                if r is None:
                    notes.append(
                        f"{outcome}, {method}: too few leaders answered both the baseline and the last wave"
                    )
                    continue
                results[(method, outcome)] = r
                first = r.table.iloc[0]
                rows.append(
                    {
                        **common,
                        "estimand": "ATT at the last wave, adjusted for the baseline score",
                        "method": method,
                        "term": "ATT",
                        "estimate": first.estimate,
                        "std_error": first.std_error,
                        "conf_low": first.conf_low,
                        "conf_high": first.conf_high,
                        "p_value": first.p_value,
                        "n": int(r.n_treated + r.n_control),
                        "n_clusters": r.n_clusters,
                        "design": "propensity-weighted comparison at one follow-up (ANCOVA-type)",
                    }
                )
                continue
            if method == "multiple_imputation":
                try:
                    mi = _imputation_sensitivity(study, data, plan, outcome, baseline_period)
                except CoachevalError as exc:
                    notes.append(f"{outcome}, multiple_imputation: not estimated ({exc})")
                    continue
                results[(method, outcome)] = mi
                for r in mi.table.itertuples():
                    label = (
                        "complete cases"
                        if r.analysis == "complete_case"
                        else "multiple imputation (m=20)"
                    )
                    rows.append(
                        {
                            **common,
                            "estimand": f"ANCOVA participant effect at the last wave, {label}",
                            "method": method if r.analysis != "complete_case" else "complete_case",
                            "term": "participant",
                            "estimate": r.estimate,
                            "std_error": r.std_error,
                            "conf_low": r.conf_low,
                            "conf_high": r.conf_high,
                            "p_value": r.p_value,
                            "n": r.n,
                            "n_clusters": np.nan,
                            "design": "sensitivity to missing follow-up (MAR given baseline)",
                        }
                    )
                continue
            if method in ("twfe", "mixed", "dose_response"):
                try:
                    extra = _regression_analysis(
                        data, plan, outcome, method, cluster_col, level, notes
                    )
                except CoachevalError as exc:
                    notes.append(f"{outcome}, {method}: not estimated ({exc})")
                    continue
                for r in extra:
                    rows.append({**common, **r})
                continue
            if method == "naive_post":
                r = _naive_post(panel, outcome, int(panel.period.max()), level)
                rows.append(
                    {
                        **common,
                        "estimand": "enrolled vs never enrolled at the last wave (biased by "
                        "selection)",
                        "method": method,
                        **r,
                        "design": "naive cross-section",
                    }
                )
                continue
            try:
                result = group_time_att(
                    data,
                    outcome=outcome,
                    unit="person",
                    period="period",
                    group="group",
                    covariates=_covariates(plan),
                    method=_METHOD_LABELS[method],
                    comparison=plan.design.comparison,
                    cluster=cluster_col,
                    level=level,
                    min_cell=plan.reporting.min_cell,
                    few_clusters_below=plan.inference.wild_bootstrap_below_clusters,
                )
            except CoachevalError as exc:  # the data cannot answer: say so, keep going
                notes.append(f"{outcome}, {method}: not estimable from these data ({exc})")
                continue
            results[(method, outcome)] = result
            if result.n_dropped and method == plan.methods.primary:
                notes.extend(f"{outcome}, {method}: {n}" for n in result.notes if "dropped" in n)
            for agg in result.aggregations.itertuples():
                estimand = {
                    "overall": "ATT, post-treatment cells weighted by cohort size",
                    "event_time": "ATT by periods since the cohort started",
                    "group": "ATT of one cohort",
                }[agg.aggregation]
                rows.append(
                    {
                        **common,
                        "estimand": estimand,
                        "method": method,
                        "term": agg.term,
                        "estimate": agg.estimate,
                        "std_error": agg.std_error,
                        "conf_low": agg.conf_low,
                        "conf_high": agg.conf_high,
                        "p_value": agg.p_value,
                        "n": agg.n,
                        "n_clusters": agg.n_clusters,
                        "design": did_design,
                    }
                )
    if plan.retention is not None:
        if "hr_roster" in study.tables or "employment_episodes" in study.tables:
            try:
                if rollout is None:
                    retention_rows, retention_results = retention_estimates(study, plan, notes)
                else:
                    from coacheval.evaluate.rollout import relabel_retention_rows

                    retention_rows, retention_results = retention_estimates(
                        source, rollout.retention_plan(plan), notes
                    )
                    retention_rows = relabel_retention_rows(retention_rows, rollout.label)
            except CoachevalError as exc:
                notes.append(f"retention: not estimated ({exc})")
            else:
                rows.extend(retention_rows)
                results.update(retention_results)
        else:
            notes.append("retention: no HR extract in these data")
        quality_rows, quality_results = quality_analyses(study, plan, results, notes)
        rows.extend(quality_rows)
        results.update(quality_results)
        spillover_rows, spillover_results = spillover_estimates(study, plan, notes)
        rows.extend(spillover_rows)
        results.update(spillover_results)
    estimates = pd.DataFrame(
        rows,
        columns=[
            c
            for c in ESTIMATE_TABLE_COLUMNS
            if c not in ("q_value", "estimate_sd", "evalue_point", "evalue_ci")
        ],
    )
    estimates["estimate_sd"] = estimates.estimate / estimates.baseline_sd
    estimates["q_value"] = np.nan
    primary = (estimates.method == plan.methods.primary) & estimates.term.isin(
        ["ATT (overall)", "change"]
    )
    estimates.loc[primary, "q_value"] = bh_qvalues(estimates.loc[primary, "p_value"].to_numpy())
    estimates["evalue_point"] = np.nan
    estimates["evalue_ci"] = np.nan
    for idx in estimates.index[primary & estimates.estimate_sd.notna()]:
        row = estimates.loc[idx]
        ev = evalue_smd(float(row.estimate_sd), float(row.std_error / row.baseline_sd))
        estimates.loc[idx, ["evalue_point", "evalue_ci"]] = [ev.evalue_point, ev.evalue_ci]
    estimates = estimates[list(ESTIMATE_TABLE_COLUMNS)]
    if plan.design.type == "staggered_did":
        results[("attrition", "last wave")] = _attrition(panel, plan, baseline_period)
    notes.append(
        "q-values: Benjamini-Hochberg across the primary overall estimates of all outcomes."
    )
    notes.append(
        "E-values (VanderWeele & Ding 2017) for the primary estimates, from the standardised effect "
        "(RR = exp(0.91 d)): how strong an unmeasured confounder would have to be to explain them away."
    )
    if rollout is not None:
        r = rollout.provenance()
        notes.append(
            f"Design: {rollout.label} ({r['method']}; strata: {', '.join(r['strata']) or 'none'}; "
            f"numpy {r['numpy_version']} {r['bit_generator']}). {r['randomised_leaders']} "
            f"randomised leaders in {r['randomised_groups_in_extract']} peer groups, randomised "
            f"on {r['randomised_date']}, analysed by assignment (intention to treat): started "
            "cohorts against randomised cohorts that had not started yet."
        )
    provenance = {
        "package": "coacheval",
        "version": __version__,
        "python": platform.python_version(),
        "plan_name": plan.name,
        "plan_hash": plan.hash,
        "seed": plan.seed,
        "data_hashes": data_hashes or {},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if rollout is not None:
        provenance["rollout"] = rollout.provenance()
    return Evaluation(plan, estimates, results, provenance, notes)
