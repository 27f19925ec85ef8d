"""How certain is each finding? A rule-based rating in the spirit of GRADE.

Each outcome of an evaluation (every survey outcome's primary estimate, each retention hazard
ratio, the return on investment, the spillover rate ratio) gets one of four levels, **high,
moderate, low, very low**, with every step shown. The rating starts from the design and is
lowered by rules, each a row of a small table (:data:`RULES`) with its threshold, its GRADE
domain and its reason; nothing is judged by hand.

Starting level (:data:`START`):

========================  ====================  ============================================
design (``plan.design``)  analysis              start
========================  ====================  ============================================
randomised rollout        any but spillover     high
staggered DiD             survey outcomes       moderate (comparison group, parallel trends
                                                checkable, covariates adjusted)
staggered DiD             retention, economics  low (enrolled against not (yet) enrolled
                                                leaders, adjusted, no pre-period check)
any design                spillover             low (units with and without a coached leader:
                                                not randomised, even under a randomised rollout)
single arm                survey outcomes       very low (before/after, no comparison)
single arm                retention, ...        low
========================  ====================  ============================================

Following ROBINS-I (Sterne et al. 2016), a non-randomised comparison is rated against the
randomised trial it emulates, so a difference-in-differences design with a testable
parallel-trends assumption may start one level below a randomised design; designs that cannot
test their key assumption start at low, as GRADE's observational studies do (Guyatt et al. 2011,
GRADE guidelines 3; Schünemann et al. 2019, Cochrane Handbook ch. 14).

Downgrades (one level each; at most two per GRADE domain; never below very low):

* **imprecision, interval includes no effect** (0 for differences, 1 for ratios);
* **imprecision, interval includes an important benefit and an important harm**: beyond the
  minimal important difference (MID): 0.2 baseline SD for survey scales (Cohen's "small";
  WHO-5 wellbeing 10 points, its documented meaningful change), the plan's target hazard ratio
  ``t`` (benefit <= t, harm >= 1/t) for hazard and rate ratios (GRADE guidelines 6, Guyatt et al.
  2011, use 0.75/1.25 when no MID is set);
* **imprecision, too small to answer**: retention power below 80% for the plan's target hazard
  ratio (Schoenfeld; ``power:<outcome>`` diagnostic);
* **risk of bias, parallel trends doubtful**: a pre-period event-study ATT (event time < 0) of
  the primary DiD differs from zero (smallest p below 0.05 after Bonferroni over the
  pre-periods);
* **risk of bias, imbalance**: a covariate with |SMD| > 0.1 after weighting (Austin 2009), from
  the weighted follow-up comparisons (``ps_att``, ``aipw``);
* **risk of bias, attrition**: fewer than 60% of baseline respondents answered the last wave, or
  response differed by more than 10 percentage points between participants and comparison
  leaders (What Works Clearinghouse attrition standard, liberal boundary, simplified);
* **risk of bias, non-proportional hazards**: the scaled Schoenfeld test of enrolment has
  p < 0.05 (the hazard ratio is an average of a changing effect).

The return on investment is computed from the primary retention hazard ratio: it takes that
analysis' start and its power and proportional-hazards rules, and its own imprecision from the
net benefit's interval. A rule whose diagnostic is absent is listed under ``not_checked``
rather than silently passed.

References: Schünemann H, Brożek J, Guyatt G, Oxman A (eds). GRADE Handbook, 2013,
gdt.gradepro.org/app/handbook; Guyatt GH et al. GRADE guidelines 3 (rating the quality) and 6
(imprecision), J Clin Epidemiol 2011;64:401-6 and 1283-93; Sterne JAC et al. ROBINS-I, BMJ
2016;355:i4919; Austin PC, Stat Med 2009;28:3083-107; What Works Clearinghouse Standards
Handbook v5.0 (2022).

Examples
--------
>>> import pandas as pd
>>> e = pd.DataFrame([{"analysis": "survey outcomes", "outcome": "burnout", "method": "did_dr",
...     "term": "ATT (overall)", "estimate": -4.0, "conf_low": -7.0, "conf_high": -1.0,
...     "baseline_sd": 18.0}])
>>> plan = {"design": {"type": "staggered_did"}, "methods": {"primary": "did_dr"}}
>>> r = rate_certainty(e, {}, plan=plan)
>>> r.table[["outcome", "start", "level"]].values.tolist()
[['burnout', 'moderate', 'moderate']]

The levels (lowest first), the starting levels and the rules are public constants:

>>> from coacheval.evidence.certainty import LEVELS, RULES, START
>>> LEVELS
('very low', 'low', 'moderate', 'high')
>>> START[("staggered_did", "survey outcomes")][0], START[("single_arm", "*")][0]
('moderate', 'low')
>>> len(RULES), RULES[1].name, RULES[1].threshold
(7, 'benefit_and_harm', 0.2)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from coacheval.errors import DataValidationError
from coacheval.results import TableResult

__all__ = ["LEVELS", "RULES", "START", "CertaintyResult", "Rule", "rate_certainty"]

LEVELS = ("very low", "low", "moderate", "high")
"""Certainty levels, lowest first."""

START: dict[tuple[str, str], tuple[str, str]] = {
    ("randomised", "*"): ("high", "randomised rollout: who starts when was decided by chance"),
    ("randomised", "spillover"): (
        "low",
        "units with a coached leader against units without, adjusted for calendar year but "
        "not randomised: the rollout randomised when leaders start, not which units have a "
        "coached leader",
    ),
    ("staggered_did", "survey outcomes"): (
        "moderate",
        "comparison group, staggered difference-in-differences adjusted for covariates "
        "(not randomised: one level below a trial, ROBINS-I)",
    ),
    ("staggered_did", "*"): (
        "low",
        "enrolled against not (yet) enrolled leaders, adjusted but not randomised and with no "
        "pre-period check (volunteers self-select)",
    ),
    ("staggered_did", "spillover"): (
        "low",
        "units with a coached leader against units without, adjusted for calendar year but "
        "not randomised",
    ),
    ("single_arm", "spillover"): (
        "low",
        "units with a coached leader against units without, adjusted for calendar year but "
        "not randomised",
    ),
    ("single_arm", "survey outcomes"): (
        "very low",
        "single-arm before/after: no comparison group, so change over time is not separated "
        "from the program's effect",
    ),
    ("single_arm", "*"): (
        "low",
        "enrolled against not (yet) enrolled leaders, adjusted but not randomised",
    ),
}
"""Starting level and reason by (design type, analysis); ``"*"`` matches any analysis."""

_RANDOMISED = ("randomised", "randomized", "randomised_rollout", "randomized_rollout", "rct")


@dataclass(frozen=True)
class Rule:
    """One downgrade rule: when it applies, to what, by how much, and why.

    Attributes
    ----------
    name
        Identifier (also the column of ``details``).
    domain
        GRADE domain: ``"imprecision"`` or ``"risk of bias"``.
    analyses
        The ``estimates.analysis`` values it applies to.
    threshold
        The number the rule compares with (its meaning is in ``description``).
    description
        The rule in words (shown in the rules table of a report).

    Examples
    --------
    The rules coacheval applies are the rows of :data:`RULES`:

    >>> from coacheval.evidence.certainty import RULES
    >>> rule = RULES[0]
    >>> rule.name, rule.domain, rule.threshold
    ('includes_no_effect', 'imprecision', 0.0)
    >>> rule.analyses
    ('survey outcomes', 'retention', 'economics', 'spillover')
    >>> rule.description
    'the interval includes no effect (0 for differences, 1 for ratios)'
    >>> [r.name for r in RULES if r.domain == "risk of bias"]
    ['pre_trends', 'imbalance', 'attrition', 'non_proportional_hazards']
    """

    name: str
    domain: str
    analyses: tuple[str, ...]
    threshold: float
    description: str


RULES: tuple[Rule, ...] = (
    Rule(
        "includes_no_effect",
        "imprecision",
        ("survey outcomes", "retention", "economics", "spillover"),
        0.0,
        "the interval includes no effect (0 for differences, 1 for ratios)",
    ),
    Rule(
        "benefit_and_harm",
        "imprecision",
        ("survey outcomes", "retention", "spillover"),
        0.2,
        "the interval reaches both an important benefit and an important harm (MID: 0.2 "
        "baseline SD, WHO-5 10 points; ratios: the plan's target hazard ratio and its inverse)",
    ),
    Rule(
        "underpowered",
        "imprecision",
        ("retention", "economics"),
        0.8,
        "retention power below 80% for the plan's target hazard ratio: too small to answer",
    ),
    Rule(
        "pre_trends",
        "risk of bias",
        ("survey outcomes",),
        0.05,
        "a pre-period event-study ATT differs from zero (Bonferroni over pre-periods, 5%): "
        "parallel trends doubtful",
    ),
    Rule(
        "imbalance",
        "risk of bias",
        ("survey outcomes",),
        0.1,
        "a covariate has |SMD| > 0.1 after weighting",
    ),
    Rule(
        "attrition",
        "risk of bias",
        ("survey outcomes",),
        0.6,
        "fewer than 60% of baseline respondents answered the last wave, or response differed by "
        "more than 10 points between participants and comparison leaders",
    ),
    Rule(
        "non_proportional_hazards",
        "risk of bias",
        ("retention", "economics"),
        0.05,
        "scaled Schoenfeld test of enrolment p < 0.05: the hazard ratio averages a changing effect",
    ),
)
"""The downgrade rules, in the order they are applied."""

_RULE = {r.name: r for r in RULES}
_DIFFERENTIAL_ATTRITION = 0.10
_DOMAIN_CAP = 2
_MID_POINTS = {"wellbeing": 10.0}  # WHO-5 percentage scale: 10 points = meaningful change
_RATIO_METHODS = ("negative_binomial", "poisson")
_BALANCE_NOTE = re.compile(r"(\d+) of (\d+) terms have \|difference\| >= ([0-9.]+) after weighting")


@dataclass(frozen=True)
class CertaintyResult(TableResult):
    """Certainty of each finding: level and reasons.

    Attributes
    ----------
    table
        One row per outcome: ``analysis, outcome, method, term, start, downgrades, level,
        reasons, not_checked``.
    details
        One row per step: ``outcome, rule, domain, change, reason`` (the start has change 0).
    rules
        The rules table (:data:`RULES`) as a DataFrame, for the methods section of a report.

    Examples
    --------
    Returned by :func:`rate_certainty`. A retention hazard ratio whose interval includes 1, from
    a study with 35% power:

    >>> import pandas as pd
    >>> from coacheval.evidence.certainty import rate_certainty
    >>> e = pd.DataFrame([{"analysis": "retention", "outcome": "voluntary turnover",
    ...     "method": "cox_tv", "term": "enrolled", "estimate": 0.8, "conf_low": 0.6,
    ...     "conf_high": 1.07}])
    >>> diagnostics = {"power:voluntary turnover": {"table": [{"scenario": "target",
    ...     "hazard_ratio": 0.85, "power": 0.35}]}}
    >>> plan = {"design": {"type": "staggered_did"}, "retention": {"target_hazard_ratio": 0.85}}
    >>> r = rate_certainty(e, diagnostics, plan=plan)
    >>> r.table[["outcome", "start", "downgrades", "level"]]
                  outcome start  downgrades     level
    0  voluntary turnover   low           2  very low
    >>> r.table.not_checked.iloc[0]
    'non_proportional_hazards'
    >>> r.details[["rule", "domain", "change"]]
                     rule       domain  change
    0               start       design       0
    1  includes_no_effect  imprecision      -1
    2        underpowered  imprecision      -1
    >>> r.rules.columns.tolist()
    ['rule', 'domain', 'applies_to', 'threshold', 'description']
    """

    table: pd.DataFrame
    details: pd.DataFrame
    rules: pd.DataFrame
    title: str = "Certainty of the evidence (GRADE-style, rule-based)"
    notes: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        """Return one paragraph per outcome: level, start and each downgrade with its reason."""
        lines = [self.title, ""]
        for row in self.table.itertuples():
            steps = self.details[self.details.outcome == row.outcome]
            start = steps[steps.rule == "start"].reason.iloc[0]
            lines.append(f"{row.outcome}: {row.level.upper()}")
            lines.append(f"  starts {row.start}: {start}")
            for step in steps[steps.rule != "start"].itertuples():
                lines.append(f"  -{abs(int(step.change))} ({step.domain}): {step.reason}")
            if row.not_checked:
                lines.append(f"  not checked (diagnostic absent): {row.not_checked}")
        return "\n".join([*lines, "", *self.notes]).rstrip()

    def plot(self) -> Any:
        """Return a matplotlib Figure: each outcome's level, with its start as an open mark."""
        from matplotlib.figure import Figure

        t = self.table
        fig = Figure(figsize=(7, 0.45 * max(len(t), 2) + 1.2))
        ax = fig.add_subplot()
        y = np.arange(len(t))[::-1]
        start = t.start.map(LEVELS.index).to_numpy()
        level = t.level.map(LEVELS.index).to_numpy()
        ax.hlines(y, level, start, color="0.6")
        ax.scatter(start, y, facecolors="none", edgecolors="0.3", label="start (design)")
        ax.scatter(level, y, color="C0", zorder=3, label="rating")
        ax.set_yticks(y, t.outcome.str.replace("_", " "))
        ax.set_xticks(range(len(LEVELS)), LEVELS)
        ax.set_xlim(-0.5, len(LEVELS) - 0.5)
        ax.legend(loc="lower right", fontsize="small")
        ax.set_title("Certainty of the evidence")
        fig.tight_layout()
        return fig


# ------------------------------------------------------------------------- inputs --------------


def _get(obj: Any, *path: str, default: Any = None) -> Any:
    for key in path:
        if obj is None:
            return default
        obj = obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key, None)
    return default if obj is None else obj


class _Diagnostics:
    """Diagnostics keyed ``"method:outcome"`` (results.json) or ``(method, outcome)`` (objects)."""

    def __init__(self, diagnostics: Mapping[Any, Any] | None) -> None:
        if diagnostics is None:
            diagnostics = {}
        if not isinstance(diagnostics, Mapping):
            raise DataValidationError(
                "diagnostics must be a mapping (results.json's 'diagnostics', or an "
                f"Evaluation's results), got {type(diagnostics).__name__}"
            )
        if "diagnostics" in diagnostics and isinstance(diagnostics["diagnostics"], Mapping):
            diagnostics = diagnostics["diagnostics"]
        self._items: dict[tuple[str, str], Any] = {}
        for key, value in diagnostics.items():
            if isinstance(key, tuple) and len(key) == 2:
                self._items[(str(key[0]), str(key[1]))] = value
            elif isinstance(key, str) and ":" in key:
                method, outcome = key.split(":", 1)
                self._items[(method, outcome)] = value

    def get(self, method: str, outcome: str) -> Any:
        return self._items.get((method, outcome))

    def frame(self, method: str, outcome: str, part: str = "table") -> pd.DataFrame | None:
        """Return a tabular part of a diagnostic (``table``, ``aggregations``, ``response``)."""
        value = self.get(method, outcome)
        if value is None:
            return None
        if isinstance(value, Mapping):
            records = value.get(part)
            if records is None and part == "response":
                records = value.get("table")
            return None if records is None else pd.DataFrame(records)
        attr = "table" if part == "response" else part
        data = getattr(value, attr, None)
        return data if isinstance(data, pd.DataFrame) else None


def _plan_settings(plan: Any) -> dict[str, Any]:
    if plan is None:
        raise DataValidationError("plan is required (a Plan or results.json's 'plan' mapping)")
    design = str(_get(plan, "design", "type", default=""))
    if not design:
        raise DataValidationError("plan: design.type is missing")
    return {
        "design": "randomised" if design.lower() in _RANDOMISED else design,
        "primary": str(_get(plan, "methods", "primary", default="did_dr")),
        "level": float(_get(plan, "inference", "level", default=0.95)),
        "target_hr": float(_get(plan, "retention", "target_hazard_ratio", default=0.85)),
    }


def _start(design: str, analysis: str) -> tuple[str, str]:
    for key in ((design, analysis), (design, "*")):
        if key in START:
            return START[key]
    return ("low", f"design {design!r} not in the start table: treated as non-randomised")


def _findings(estimates: pd.DataFrame, primary: str) -> pd.DataFrame:
    """Return the row rated for each outcome."""
    need = ("analysis", "outcome", "method", "term", "estimate", "conf_low", "conf_high")
    missing = [c for c in need if c not in estimates]
    if missing:
        raise DataValidationError(f"estimates: column(s) {', '.join(missing)} missing")
    e = estimates
    overall = e.term.isin(["ATT (overall)", "change"]) & (e.analysis == "survey outcomes")
    survey = e[overall & (e.method == primary)]
    if survey.empty:
        survey = e[overall].groupby("outcome", sort=False).head(1)
    retention = e[(e.analysis == "retention") & (e.method == "cox_tv")]
    roi = e[(e.analysis == "economics") & (e.term == "net_benefit")]
    spill = e[(e.analysis == "spillover") & e.method.isin(_RATIO_METHODS)]
    spill = spill.groupby("outcome", sort=False).head(1)
    return pd.concat([survey, retention, roi, spill]).drop_duplicates(["analysis", "outcome"])


# ------------------------------------------------------------------------- rules ---------------

_NOT_AVAILABLE = "n/a"


def _check_no_effect(row: pd.Series, ctx: dict[str, Any]) -> Any:
    lo, hi = float(row.conf_low), float(row.conf_high)
    ratio = row.analysis in ("retention", "spillover")
    null = 1.0 if ratio else 0.0
    pct = f"{100 * ctx['level']:g}%"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "the estimate has no interval", 1
    if lo <= null <= hi:
        ci = f"{lo:,.0f} to {hi:,.0f}" if row.analysis == "economics" else f"{lo:.2f} to {hi:.2f}"
        return f"the {pct} interval ({ci}) includes no effect ({null:g})", 1
    return None


def _check_benefit_and_harm(row: pd.Series, ctx: dict[str, Any]) -> Any:
    lo, hi = float(row.conf_low), float(row.conf_high)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    if row.analysis in ("retention", "spillover"):
        t = ctx["target_hr"]
        if lo <= t and hi >= 1 / t:
            return (
                f"the interval ({lo:.2f} to {hi:.2f}) reaches both an important benefit "
                f"(<= {t:.2f}) and an important harm (>= {1 / t:.2f})",
                1,
            )
        return None
    mid = _MID_POINTS.get(str(row.outcome))
    source = "its meaningful change"
    if mid is None:
        sd = float(row.get("baseline_sd", np.nan))
        if not math.isfinite(sd):
            return _NOT_AVAILABLE
        mid = _RULE["benefit_and_harm"].threshold * sd
        source = "0.2 baseline SD"
    if lo <= -mid and hi >= mid:
        return (
            f"the interval ({lo:.2f} to {hi:.2f}) reaches both an important benefit and an "
            f"important harm (MID {mid:.2f} points, {source})",
            1,
        )
    return None


def _check_underpowered(row: pd.Series, ctx: dict[str, Any]) -> Any:
    label = ctx["retention_label"] if row.analysis == "economics" else row.outcome
    table = ctx["diag"].frame("power", label)
    if table is None or "scenario" not in table or "power" not in table:
        return _NOT_AVAILABLE
    target = table[table.scenario == "target"]
    if target.empty:
        return _NOT_AVAILABLE
    power = float(target.power.iloc[0])
    hr = float(target.hazard_ratio.iloc[0]) if "hazard_ratio" in target else ctx["target_hr"]
    threshold = _RULE["underpowered"].threshold
    if power < threshold:
        return (
            f"too small to answer: {100 * power:.0f}% power to detect a hazard ratio of "
            f"{hr:.2f} ({100 * threshold:.0f}% needed)",
            1,
        )
    return None


def _check_pre_trends(row: pd.Series, ctx: dict[str, Any]) -> Any:
    agg = ctx["diag"].frame(ctx["primary"], row.outcome, "aggregations")
    if agg is not None and {"aggregation", "event_time", "p_value"} <= set(agg.columns):
        pre = agg[(agg.aggregation == "event_time") & (agg.event_time < 0)]
        terms, pvals = pre.term.tolist(), pre.p_value.to_numpy(dtype=float)
    else:  # fall back on the event-study rows of the estimate table
        e = ctx["estimates"]
        times = e.term.str.extract(r"^ATT\(e=(-?\d+)\)$")[0].astype(float)
        pre = e[(e.outcome == row.outcome) & (e.method == ctx["primary"]) & (times < 0)]
        if "p_value" not in pre:
            return _NOT_AVAILABLE
        terms, pvals = pre.term.tolist(), pre.p_value.to_numpy(dtype=float)
    keep = np.isfinite(pvals)
    if not keep.any():
        return _NOT_AVAILABLE
    pvals, terms = pvals[keep], [t for t, k in zip(terms, keep, strict=True) if k]
    k = len(pvals)
    smallest = int(np.argmin(pvals))
    if pvals[smallest] * k < _RULE["pre_trends"].threshold:
        return (
            f"parallel trends doubtful: pre-period {terms[smallest]} differs from zero "
            f"(p = {pvals[smallest]:.3f}, Bonferroni over {k} pre-period(s))",
            1,
        )
    return None


def _check_imbalance(row: pd.Series, ctx: dict[str, Any]) -> Any:
    threshold = _RULE["imbalance"].threshold
    found = False
    for method in ("ps_att", "aipw"):
        value = ctx["diag"].get(method, row.outcome)
        if value is None:
            continue
        balance = _get(value, "balance")
        if balance is not None and hasattr(balance, "max_abs_diff"):
            found = True
            worst = float(balance.max_abs_diff)
            if worst > threshold:
                return (
                    f"imbalance after weighting ({method}): max |SMD| {worst:.2f} > {threshold:g}",
                    1,
                )
            continue
        for note in _get(value, "notes", default=()):
            match = _BALANCE_NOTE.search(str(note))
            if match and float(match.group(3)) == threshold:
                found = True
                if int(match.group(1)) > 0:
                    return (
                        f"imbalance after weighting ({method}): {match.group(1)} of "
                        f"{match.group(2)} covariate terms have |SMD| >= {threshold:g}",
                        1,
                    )
    return None if found else _NOT_AVAILABLE


def _check_attrition(row: pd.Series, ctx: dict[str, Any]) -> Any:
    table = ctx["attrition"]
    if table is None or not {"group", "response_rate"} <= set(table.columns):
        return _NOT_AVAILABLE
    rates = table.set_index("group").response_rate.astype(float)
    overall = float(rates.get("All", np.nan))
    if not math.isfinite(overall):
        return _NOT_AVAILABLE
    threshold = _RULE["attrition"].threshold
    part, comp = rates.get("Participants", np.nan), rates.get("Comparison", np.nan)
    gap = abs(part - comp) if np.isfinite(part) and np.isfinite(comp) else 0.0
    if overall < threshold or gap > _DIFFERENTIAL_ATTRITION:
        return (
            f"attrition: {100 * overall:.0f}% of baseline respondents answered the last wave "
            f"(participants {100 * part:.0f}%, comparison {100 * comp:.0f}%; below "
            f"{100 * threshold:.0f}% or a gap above {100 * _DIFFERENTIAL_ATTRITION:.0f} points)",
            1,
        )
    return None


def _check_ph(row: pd.Series, ctx: dict[str, Any]) -> Any:
    label = ctx["retention_label"] if row.analysis == "economics" else row.outcome
    table = ctx["diag"].frame("ph_test", label)
    if table is None or "term" not in table or "exposed" not in set(table.term):
        return _NOT_AVAILABLE
    p = float(table.set_index("term").loc["exposed", "p_value"])
    if p < _RULE["non_proportional_hazards"].threshold:
        return (
            f"non-proportional hazards: the effect of enrolment changes over time (scaled "
            f"Schoenfeld p = {p:.3f}); the hazard ratio is an average",
            1,
        )
    return None


_CHECKS = {
    "includes_no_effect": _check_no_effect,
    "benefit_and_harm": _check_benefit_and_harm,
    "underpowered": _check_underpowered,
    "pre_trends": _check_pre_trends,
    "imbalance": _check_imbalance,
    "attrition": _check_attrition,
    "non_proportional_hazards": _check_ph,
}


def rate_certainty(
    estimates: pd.DataFrame, diagnostics: Mapping[Any, Any] | None, *, plan: Any
) -> CertaintyResult:
    """Rate the certainty of each finding of an evaluation (see the module docstring).

    Parameters
    ----------
    estimates
        The evaluation's estimate table (``estimates.csv`` or ``Evaluation.estimates``).
    diagnostics
        results.json's ``diagnostics`` (or the whole results.json payload), keyed
        ``"method:outcome"``; or an ``Evaluation.results`` dict keyed ``(method, outcome)``.
    plan
        The analysis plan: a :class:`~coacheval.evaluate.plan.Plan` or results.json's ``plan``
        mapping (``design.type``, ``methods.primary``, ``inference.level``,
        ``retention.target_hazard_ratio`` are read).

    Returns
    -------
    CertaintyResult
        One row per outcome with its level and reasons; ``details`` lists every step.

    Raises
    ------
    DataValidationError
        A required column or plan setting is missing, or nothing in ``estimates`` can be rated.

    Examples
    --------
    >>> import pandas as pd
    >>> e = pd.DataFrame([{"analysis": "retention", "outcome": "voluntary turnover",
    ...     "method": "cox_tv", "term": "enrolled", "estimate": 0.8, "conf_low": 0.6,
    ...     "conf_high": 1.07}])
    >>> diagnostics = {"ph_test:voluntary turnover": {"table": [{"term": "exposed",
    ...     "p_value": 0.4}]}, "power:voluntary turnover": {"table": [{"scenario": "target",
    ...     "hazard_ratio": 0.85, "power": 0.35}]}}
    >>> plan = {"design": {"type": "staggered_did"}, "retention": {"target_hazard_ratio": 0.85}}
    >>> r = rate_certainty(e, diagnostics, plan=plan)
    >>> r.table.level.iloc[0]
    'very low'
    >>> print(r.details.reason.iloc[1])
    the 95% interval (0.60 to 1.07) includes no effect (1)
    >>> print(r.details.reason.iloc[2])
    too small to answer: 35% power to detect a hazard ratio of 0.85 (80% needed)
    """
    if not isinstance(estimates, pd.DataFrame):
        raise DataValidationError(f"estimates must be a DataFrame, got {type(estimates).__name__}")
    settings = _plan_settings(plan)
    diag = _Diagnostics(diagnostics)
    findings = _findings(estimates, settings["primary"])
    if findings.empty:
        raise DataValidationError(
            "estimates: no primary survey estimate, retention hazard ratio, net benefit or "
            "spillover rate ratio to rate"
        )
    retention = estimates[(estimates.analysis == "retention") & (estimates.method == "cox_tv")]
    ctx = {
        **settings,
        "diag": diag,
        "estimates": estimates,
        "retention_label": str(retention.outcome.iloc[0]) if len(retention) else "",
        "attrition": diag.frame("attrition", "last wave", "response"),
    }
    rows, steps = [], []
    for _, row in findings.iterrows():
        analysis = str(row.analysis)
        start_analysis = "retention" if analysis == "economics" else analysis
        start, why = _start(settings["design"], start_analysis)
        steps.append(
            {
                "outcome": row.outcome,
                "rule": "start",
                "domain": "design",
                "change": 0,
                "reason": why,
            }
        )
        used = {"imprecision": 0, "risk of bias": 0}
        reasons, not_checked = [], []
        for rule in RULES:
            if analysis not in rule.analyses:
                continue
            result = _CHECKS[rule.name](row, ctx)
            if result is None:
                continue
            if result == _NOT_AVAILABLE:
                not_checked.append(rule.name)
                continue
            reason, levels = result
            levels = min(levels, _DOMAIN_CAP - used[rule.domain])
            if levels <= 0:
                reason += f" (not counted: {rule.domain} already lowered by {_DOMAIN_CAP})"
            used[rule.domain] += max(levels, 0)
            steps.append(
                {
                    "outcome": row.outcome,
                    "rule": rule.name,
                    "domain": rule.domain,
                    "change": -max(levels, 0),
                    "reason": reason,
                }
            )
            if levels > 0:
                reasons.append(f"-{levels} {rule.domain}: {reason}")
        total = sum(used.values())
        level = LEVELS[max(0, LEVELS.index(start) - total)]
        rows.append(
            {
                "analysis": analysis,
                "outcome": row.outcome,
                "method": row.method,
                "term": row.term,
                "start": start,
                "downgrades": total,
                "level": level,
                "reasons": "; ".join(
                    [
                        f"starts {start}: {why}",
                        *(reasons or ["no downgrade"]),
                        *([f"not checked: {', '.join(not_checked)}"] if not_checked else []),
                    ]
                ),
                "not_checked": ", ".join(not_checked),
            }
        )
    rules = pd.DataFrame(
        [
            {
                "rule": r.name,
                "domain": r.domain,
                "applies_to": ", ".join(r.analyses),
                "threshold": r.threshold,
                "description": r.description,
            }
            for r in RULES
        ]
    )
    notes = (
        "Rule-based, in the spirit of GRADE (Schünemann et al. 2013) and ROBINS-I (Sterne et al. "
        "2016): start by design, one level down per rule triggered, at most two per domain.",
    )
    return CertaintyResult(
        table=pd.DataFrame(rows), details=pd.DataFrame(steps), rules=rules, notes=notes
    )
