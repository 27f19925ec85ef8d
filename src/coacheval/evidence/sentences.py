"""Plain-language sentences generated from estimate rows, for the executive evidence summary.

Every number in a sentence is computed from the row it describes (``estimate``, ``conf_low``,
``conf_high``, ``estimate_sd``, ``baseline_sd``; the horizon of an RMST from its ``estimand``),
never typed in a template, so a sentence cannot drift from the table. The only other numbers are
the scale's range, read from the instrument definitions (``coacheval.measures.instruments``), and
the confidence level you pass (the plan's, 95% by default).

Direction. A difference on a survey scale is "higher" or "lower"; whether that is better or worse
comes from the instrument's ``higher_is_better`` (burnout, turnover intention and professional
isolation: lower is better). Ratios (hazard, subdistribution hazard and rate ratios) are about
exits, where fewer is better.

Design. Under a randomised rollout (stepped wedge; plan ``design.type: randomised_rollout``)
the comparison is not "comparison leaders, after adjustment" but randomised leaders whose
group had not started yet, analysed by assignment: a survey difference reads "leaders whose
group had started scored ... than randomised leaders still waiting to start" (", after
adjustment" only when the plan adjusts for covariates) and a hazard ratio "after their group's
assigned start" instead of "while enrolled". The design is passed as ``design=`` or, when not
given, read from the row's ``design`` column (a randomised evaluation writes "randomised
rollout (stepped wedge), seed N" there).

Inconclusive. A finding is called inconclusive when its interval includes no effect: 0 for
differences (scale points, years retained, money) and 1 for ratios. The decision uses the
unrounded limits.

Rounding (one rule per kind of number, so that the same number always reads the same):

* scale points: 2 decimals on scales spanning less than 10 points, 1 decimal otherwise
  (0-100 scales); unknown scales 2 decimals;
* baseline standard deviations (``estimate_sd``): 2 decimals;
* ratios (HR, subdistribution HR, rate ratio, benefit-cost ratio): 2 decimals; the break-even
  hazard ratio 3 decimals; "X% fewer exits" is ``100 * (1 - ratio)`` to a whole percent;
* interval limits: more decimals (up to 4 more) when a limit that differs from the no-effect
  value would round to it (an upper limit of -0.04 points on a 0-100 scale reads "-0.04", not
  "0.0");
* years and months retained (RMST): months to 1 decimal, years to 3 decimals;
* people (exits avoided): 1 decimal; exit rates per 100 person-years: 1 decimal;
* money: whole units with thousands separators (``$1,234`` for USD, else ``EUR 1,234``);
  percentages (ROI, probability it pays): whole percent;
* anything else: 3 significant figures.

Negative numbers use an ASCII hyphen-minus so that reports in any format can carry them.

Examples
--------
>>> row = {"analysis": "survey outcomes", "outcome": "burnout", "method": "did_dr",
...        "term": "ATT (overall)", "estimate": -4.2, "conf_low": -7.5, "conf_high": -0.9,
...        "estimate_sd": -0.23, "baseline_sd": 18.3}
>>> print(effect_sentence(row))
Burnout: participants scored 4.2 points lower (better) than comparison leaders, after adjustment
(0-100 CBI-WB scale; -0.23 baseline SD; 95% CI -7.5 to -0.9).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pandas as pd

from coacheval.errors import DataValidationError

__all__ = ["ScaleInfo", "effect_sentence", "headline", "scale_info"]

_RATIO_METHODS = {
    "cox_tv": "HR",
    "cox_ever_enrolled": "HR",
    "finegray": "subdistribution HR",
    "finegray_landmark": "subdistribution HR",
    "rate_ratio": "rate ratio",
    "negative_binomial": "rate ratio",
    "poisson": "rate ratio",
}
_COMPARATORS = {
    "naive_post": "than never-enrolled leaders, unadjusted and biased by selection",
    "twfe": "than comparison leaders, by two-way fixed effects (biased under staggered adoption)",
    "mixed": "than comparison leaders, by a mixed model",
}
_DEFAULT_COMPARATOR = "than comparison leaders, after adjustment"
_RANDOMISED_COMPARATORS = {
    "twfe": "than randomised leaders still waiting to start, by two-way fixed effects (biased "
    "under staggered adoption)",
    "mixed": "than randomised leaders still waiting to start, by a mixed model",
}
_RANDOMISED_COMPARATOR = "than randomised leaders still waiting to start"
_RANDOMISED_SUBJECT = "leaders whose group had started"
_RANDOMISED_DESIGNS = ("randomised_rollout", "randomized_rollout", "randomised", "randomized")
_PRIMARY_SURVEY_METHODS = ("did_dr", "did_reg", "did_ipw", "pre_post")


@dataclass(frozen=True)
class ScaleInfo:
    """What a sentence needs to know about a survey scale.

    Attributes
    ----------
    label
        Display name of the construct ("Work engagement").
    short_name
        Instrument abbreviation ("UWES-9"), or ``""``.
    low, high
        Range of the scored scale (after any item multiplier), or NaN when unknown.
    higher_is_better
        ``True``, ``False``, or ``None`` when the direction is unknown.

    Examples
    --------
    Returned by :func:`scale_info`, from the instrument library:

    >>> from coacheval.evidence.sentences import scale_info
    >>> s = scale_info("work_engagement")
    >>> s
    ScaleInfo(label='Work engagement', short_name='UWES-9', low=0.0, high=6.0, higher_is_better=True)
    >>> s.units, s.decimals
    ('0-6 UWES-9 scale', 2)
    >>> scale_info("my_new_scale")
    ScaleInfo(label='My new scale', short_name='', low=nan, high=nan, higher_is_better=None)

    A scale that is not in the library can be described by hand:

    >>> from coacheval.evidence.sentences import ScaleInfo
    >>> ScaleInfo("Team climate", "TCI-14", 1, 5, higher_is_better=True).units
    '1-5 TCI-14 scale'
    """

    label: str
    short_name: str
    low: float
    high: float
    higher_is_better: bool | None

    @property
    def decimals(self) -> int:
        """Decimals of scale points: 2 below a 10-point range, 1 from 10 points up."""
        span = self.high - self.low
        return 1 if math.isfinite(span) and span >= 10 else 2

    @property
    def units(self) -> str:
        """Scale phrase: "0-6 UWES-9 scale" (``""`` when the range is unknown)."""
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return ""
        name = f" {self.short_name}" if self.short_name else ""
        return f"{self.low:g}-{self.high:g}{name} scale"


@lru_cache(maxsize=1)
def _instrument_scales() -> dict[str, ScaleInfo]:
    from coacheval.measures.instruments import load_instruments

    out = {}
    for inst in load_instruments().values():
        out[inst.construct] = ScaleInfo(
            label=inst.construct.replace("_", " ").capitalize(),
            short_name=inst.short_name,
            low=inst.scale_min * inst.item_multiplier,
            high=inst.scale_max * inst.item_multiplier,
            higher_is_better=inst.higher_is_better,
        )
    return out


def scale_info(outcome: str) -> ScaleInfo:
    """Return the scale of an outcome from coacheval's instrument library.

    Parameters
    ----------
    outcome
        Construct name as in ``estimates.outcome`` (e.g. ``"burnout"``).

    Returns
    -------
    ScaleInfo
        Unknown outcomes get an unknown range and direction (sentences then say "higher" or
        "lower" without "better" or "worse").

    Examples
    --------
    >>> s = scale_info("burnout")
    >>> s.units, s.higher_is_better
    ('0-100 CBI-WB scale', False)
    >>> scale_info("my_new_scale").higher_is_better is None
    True
    """
    known = _instrument_scales().get(outcome)
    if known is not None:
        return known
    return ScaleInfo(str(outcome).replace("_", " ").capitalize(), "", math.nan, math.nan, None)


# ----------------------------------------------------------------------------- formatting ------


def _num(value: float, decimals: int) -> str:
    """Format with fixed decimals and thousands separators ('-0.00' is shown as '0.00')."""
    text = f"{value:,.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text[1:].replace(",", "")) == 0 else text


def _sig(value: float) -> str:
    return f"{value:.3g}"


def _money(value: float, currency: str) -> str:
    sign = "-" if round(value) < 0 else ""
    symbol = "$" if currency == "USD" else f"{currency} "
    return f"{sign}{symbol}{abs(value):,.0f}"


def _pct(value: float) -> str:
    return f"{value:,.0f}%"


def _level_text(level: float) -> str:
    return f"{100 * level:g}% CI"


def _interval(lo: float, hi: float, fmt: Any, level: float, unit: str = "") -> str:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "no interval available"
    return f"{_level_text(level)} {fmt(lo)} to {fmt(hi)}{unit}"


def _limits(lo: float, hi: float, null: float, decimals: int) -> int:
    """Return the decimals for interval limits.

    More (up to 4 more) while a limit that is not the no-effect value would round to it, so a
    conclusive interval never seems to touch it.
    """
    for d in range(decimals, decimals + 5):
        if all(not math.isfinite(v) or v == null or _num(v, d) != _num(null, d) for v in (lo, hi)):
            return d
    return decimals + 4


def _includes(lo: float, hi: float, null: float) -> bool:
    """Whether the interval includes the no-effect value (unknown limits count as including)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return True
    return lo <= null <= hi


def _field(row: Mapping[str, Any], name: str, required: bool = True) -> Any:
    if name in row:
        return row[name]
    if required:
        raise DataValidationError(
            f"estimate row: column {name!r} is missing (rows need analysis, outcome, method, "
            "term, estimate, conf_low, conf_high)"
        )
    return None


def _float(row: Mapping[str, Any], name: str) -> float:
    value = row.get(name, math.nan)
    try:
        out = float(value) if value is not None else math.nan
    except (TypeError, ValueError):
        raise DataValidationError(
            f"estimate row: column {name!r} must be a number, got {value!r}"
        ) from None
    return out


def _as_mapping(row: Mapping[str, Any] | pd.Series) -> dict[str, Any]:
    if isinstance(row, pd.Series):
        return row.to_dict()
    if isinstance(row, Mapping):
        return dict(row)
    raise DataValidationError(f"an estimate row must be a mapping or a Series, got {type(row)}")


# ----------------------------------------------------------------------------- sentences -------


def _exit_noun(outcome: str) -> str:
    outcome = str(outcome)
    if outcome.endswith(" turnover") and outcome != "staff turnover":
        return outcome.removesuffix(" turnover") + " exits"
    if outcome == "any exit":
        return "exits (any reason)"
    if outcome == "staff turnover":
        return "staff separations"
    return "exits"


def _randomised(r: Mapping[str, Any], design: str | None) -> bool:
    """Whether the row comes from a randomised rollout (``design`` first, else the row's own)."""
    if design is not None:
        return str(design).lower() in _RANDOMISED_DESIGNS
    text = r.get("design")
    return isinstance(text, str) and text.lower().startswith(("randomised", "randomized"))


def _survey_sentence(
    r: dict[str, Any],
    scale_label: str | None,
    level: float,
    randomised: bool = False,
    adjusted: bool = False,
) -> str:
    info = scale_info(str(r["outcome"]))
    units = scale_label or info.units
    est, lo, hi = _float(r, "estimate"), _float(r, "conf_low"), _float(r, "conf_high")
    d = info.decimals
    inconclusive = _includes(lo, hi, 0.0)
    size = _num(abs(est), d)
    if est == 0 or size == _num(0.0, d):
        direction = "no higher or lower"
        quality = ""
    else:
        up = est > 0
        direction = "higher" if up else "lower"
        quality = (
            ""
            if info.higher_is_better is None
            else (" (better)" if up == info.higher_is_better else " (worse)")
        )
    sd = _float(r, "estimate_sd")
    parts = [units] if units else []
    if math.isfinite(sd):
        parts.append(f"{_num(sd, 2)} baseline SD")
    dl = _limits(lo, hi, 0.0, d)
    parts.append(_interval(lo, hi, lambda v: _num(v, dl), level))
    details = "; ".join(parts)
    if r["method"] == "pre_post" or r["term"] == "change":
        verb = (
            "did not change"
            if direction.startswith("no")
            else f"{'rose' if est > 0 else 'fell'} by {size} points{quality}"
        )
        body = f"participants' scores {verb} from baseline to follow-up (no comparison group)"
    else:
        subject = "participants"
        comparator = _COMPARATORS.get(str(r["method"]), _DEFAULT_COMPARATOR)
        if randomised and str(r["method"]) != "naive_post":
            subject = _RANDOMISED_SUBJECT
            comparator = _RANDOMISED_COMPARATORS.get(str(r["method"]), _RANDOMISED_COMPARATOR)
            if adjusted and str(r["method"]) not in _RANDOMISED_COMPARATORS:
                comparator += ", after adjustment"
        if direction.startswith("no"):
            body = f"{subject} scored no higher or lower {comparator}"
        else:
            body = f"{subject} scored {size} points {direction}{quality} {comparator}"
    if inconclusive:
        return (
            f"{info.label}: inconclusive; {body} ({details}), but the interval includes no "
            "effect (0)."
        )
    return f"{info.label}: {body} ({details})."


def _people_text(people: Any, noun: str, level: float) -> str:
    if people is None:
        return ""
    if isinstance(people, (Mapping, pd.Series)):
        p = _as_mapping(people)
        est, lo, hi = _float(p, "estimate"), _float(p, "conf_low"), _float(p, "conf_high")
    else:
        est, lo, hi = float(people), math.nan, math.nan
    if not math.isfinite(est):
        return ""
    word = "avoided" if est >= 0 else "added"
    ci = (
        f" ({_interval(lo, hi, lambda v: _num(v, 1), level)})"
        if math.isfinite(lo) and math.isfinite(hi)
        else ""
    )
    return f"; about {_num(abs(est), 1)} {noun} {word} among the coached{ci}"


def _ratio_sentence(r: dict[str, Any], people: Any, level: float, randomised: bool = False) -> str:
    est, lo, hi = _float(r, "estimate"), _float(r, "conf_low"), _float(r, "conf_high")
    kind = _RATIO_METHODS.get(str(r["method"]), "ratio")
    noun = _exit_noun(str(r["outcome"]))
    pct = 100 * (1 - est)
    pct_text = _pct(abs(pct))
    if pct_text == "0%":
        change = f"no fewer or more {noun}"
    else:
        change = f"{pct_text} {'fewer' if pct > 0 else 'more'} {noun}"
    who = (
        "on units with a coached leader"
        if r.get("analysis") == "spillover"
        else "after enrolling"
        if r["method"] == "finegray_landmark"
        else "after their group's assigned start"
        if randomised
        else "while enrolled"
    )
    dl = _limits(lo, hi, 1.0, 2)
    ci = _interval(lo, hi, lambda v: _num(v, dl), level)
    inside = f"({kind} {_num(est, 2)}, {ci})"
    label = str(r["outcome"]).capitalize()
    extra = _people_text(people, "exits", level)
    if _includes(lo, hi, 1.0):
        return (
            f"{label}: inconclusive; {change} {who} {inside}{extra}, but the interval "
            "includes no difference (1)."
        )
    return f"{label}: {change} {who} {inside}{extra}."


_TAU = re.compile(r"first ([0-9.]+) years")


def _rmst_sentence(r: dict[str, Any], level: float) -> str:
    est, lo, hi = _float(r, "estimate"), _float(r, "conf_low"), _float(r, "conf_high")
    match = _TAU.search(str(r.get("estimand", "")))
    horizon = (
        f" in the first {float(match.group(1)):.1f} years after a cohort start" if match else ""
    )
    months = _num(abs(est) * 12, 1)
    if months == _num(0.0, 1):
        change = "stayed no longer or shorter"
    else:
        change = (
            f"stayed {months} months ({_num(abs(est), 3)} years) {'longer' if est > 0 else 'less'}"
        )
    adjusted = " than comparison leaders weighted to resemble them" if "ipw" in r["method"] else ""
    dl = _limits(lo * 12, hi * 12, 0.0, 1)
    ci = _interval(lo * 12, hi * 12, lambda v: _num(v, dl), level, " months")
    label = str(r["outcome"]).capitalize()
    body = f"enrolled leaders {change} on average{horizon}{adjusted} ({ci})"
    if _includes(lo, hi, 0.0):
        return f"{label}: inconclusive; {body}, but the interval includes no difference (0)."
    return f"{label}: {body}."


def _roi_sentence(
    r: dict[str, Any], people: Any, probability_pays: float | None, currency: str, level: float
) -> str:
    term = str(r["term"])
    est, lo, hi = _float(r, "estimate"), _float(r, "conf_low"), _float(r, "conf_high")
    finite = math.isfinite(lo) and math.isfinite(hi)
    if term in ("net_benefit", "benefit", "program_cost", "cost_per_turnover"):
        name = {
            "net_benefit": "net benefit",
            "benefit": "benefit (turnover costs avoided)",
            "program_cost": "program cost",
            "cost_per_turnover": "cost of one turnover",
        }[term]
        known = finite and lo == hi == est
        ci = "" if known else f" ({_interval(lo, hi, lambda v: _money(v, currency), level)})"
        text = f"Return on investment: {name} {_money(est, currency)}{ci}"
        if probability_pays is not None and math.isfinite(probability_pays):
            text += f"; the program pays for itself with probability {_pct(100 * probability_pays)}"
        if term == "net_benefit" and _includes(lo, hi, 0.0):
            return text + "; inconclusive: the interval includes no net benefit (0)."
        return text + "."
    if term == "roi_percent":
        ci = _interval(lo, hi, _pct, level)
        text = f"Return on investment: {_pct(est)} ({ci})"
        return text + ("; inconclusive: the interval includes 0%." if _includes(lo, hi, 0) else ".")
    if term == "benefit_cost_ratio":
        ci = _interval(lo, hi, lambda v: _num(v, 2), level)
        text = f"Return on investment: {_num(est, 2)} in benefit per unit of cost ({ci})"
        return text + ("; inconclusive: the interval includes 1." if _includes(lo, hi, 1) else ".")
    if term == "break_even_hazard_ratio":
        return (
            "Return on investment: the program pays for itself if the hazard ratio of exit is "
            f"{_num(est, 3)} or lower."
        )
    if term == "probability_pays":
        return (
            "Return on investment: the program pays for itself with probability "
            f"{_pct(100 * est)} (share of simulated draws with a positive net benefit)."
        )
    if term == "turnovers_avoided":
        ci = f" ({_interval(lo, hi, lambda v: _num(v, 1), level)})" if finite else ""
        word = "avoided" if est >= 0 else "added"
        return (
            f"Return on investment: about {_num(abs(est), 1)} exits {word} among the coached{ci}."
        )
    if term == "baseline_rate":
        ci = _interval(100 * lo, 100 * hi, lambda v: _num(v, 1), level) if finite else ""
        return (
            f"Return on investment: baseline exit rate {_num(100 * est, 1)} per 100 "
            f"person-years among leaders not (yet) enrolled ({ci})."
        )
    if term == "hazard_ratio":
        ci = _interval(lo, hi, lambda v: _num(v, 2), level)
        return f"Return on investment: computed from a hazard ratio of {_num(est, 2)} ({ci})."
    return _generic_sentence(r, level)


def _rate_sentence(r: dict[str, Any], level: float) -> str:
    est, lo, hi = _float(r, "estimate"), _float(r, "conf_low"), _float(r, "conf_high")
    ci = _interval(lo, hi, lambda v: _num(v, 1), level)
    noun = _exit_noun(str(r["outcome"]))
    return f"{str(r['term']).capitalize()}: {_num(est, 1)} {noun} per 100 person-years ({ci})."


def _generic_sentence(r: dict[str, Any], level: float) -> str:
    est, lo, hi = _float(r, "estimate"), _float(r, "conf_low"), _float(r, "conf_high")
    ci = _interval(lo, hi, _sig, level)
    return f"{str(r['outcome']).capitalize()}, {r['term']}: {_sig(est)} ({ci})."


def effect_sentence(
    row: Mapping[str, Any] | pd.Series,
    *,
    scale_label: str | None = None,
    people: Mapping[str, Any] | pd.Series | float | None = None,
    probability_pays: float | None = None,
    currency: str = "USD",
    level: float = 0.95,
    design: str | None = None,
    adjusted: bool = False,
) -> str:
    """Write one estimate row as a plain-language sentence.

    Parameters
    ----------
    row
        One row of an evaluation's estimate table (a mapping or a Series with ``analysis``,
        ``outcome``, ``method``, ``term``, ``estimate``, ``conf_low``, ``conf_high`` and, for
        survey outcomes, ``estimate_sd``; an RMST row's ``estimand`` gives its horizon).
    scale_label
        Scale phrase for survey outcomes, replacing e.g. "0-6 UWES-9 scale".
    people
        For a hazard-ratio row: the exits avoided, as the economics ``turnovers_avoided`` row
        (estimate and interval) or a number.
    probability_pays
        For the ``net_benefit`` row: the probability that the program pays for itself (the
        economics ``probability_pays`` estimate).
    currency
        Currency of the economics rows.
    level
        Confidence level of the intervals (the plan's ``inference.level``).
    design
        The plan's ``design.type``. ``"randomised_rollout"`` words the comparison as
        randomised leaders still waiting to start and a hazard ratio as "after their group's
        assigned start"; ``None`` (default) reads the row's ``design`` column, which a
        randomised evaluation starts with "randomised rollout".
    adjusted
        Randomised rollout only: whether the survey estimate is adjusted for covariates (the
        plan's ``covariates`` not empty); adds ", after adjustment". Other designs always say
        so.

    Returns
    -------
    str
        One sentence: what changed, in which direction, by how much, with its interval; it
        starts with "inconclusive" after the outcome when the interval includes no effect.

    Raises
    ------
    DataValidationError
        A required column is missing or not a number.

    Examples
    --------
    >>> hr = {"analysis": "retention", "outcome": "voluntary turnover", "method": "cox_tv",
    ...       "term": "enrolled", "estimate": 0.80, "conf_low": 0.65, "conf_high": 0.98}
    >>> print(effect_sentence(hr, people={"estimate": 12.4, "conf_low": 1.1, "conf_high": 22.0}))
    Voluntary turnover: 20% fewer voluntary exits while enrolled (HR 0.80, 95% CI 0.65 to 0.98);
    about 12.4 exits avoided among the coached (95% CI 1.1 to 22.0).
    >>> print(effect_sentence({"analysis": "survey outcomes", "outcome": "work_engagement",
    ...     "method": "did_dr", "term": "ATT (overall)", "estimate": 0.08,
    ...     "conf_low": -0.07, "conf_high": 0.24, "estimate_sd": 0.07}))
    Work engagement: inconclusive; participants scored 0.08 points higher (better) than
    comparison leaders, after adjustment (0-6 UWES-9 scale; 0.07 baseline SD; 95% CI -0.07 to
    0.24), but the interval includes no effect (0).

    The same rows from a randomised rollout (stepped wedge):

    >>> print(effect_sentence({"analysis": "survey outcomes", "outcome": "work_engagement",
    ...     "method": "did_dr", "term": "ATT (overall)", "estimate": 0.26, "conf_low": 0.05,
    ...     "conf_high": 0.47}, design="randomised_rollout"))
    Work engagement: leaders whose group had started scored 0.26 points higher (better) than
    randomised leaders still waiting to start (0-6 UWES-9 scale; 95% CI 0.05 to 0.47).
    >>> print(effect_sentence(hr, design="randomised_rollout"))
    Voluntary turnover: 20% fewer voluntary exits after their group's assigned start (HR 0.80,
    95% CI 0.65 to 0.98).
    """
    r = _as_mapping(row)
    for name in ("outcome", "method", "term", "estimate", "conf_low", "conf_high"):
        _field(r, name)
    if not math.isfinite(_float(r, "estimate")):
        raise DataValidationError(
            f"estimate row ({r['outcome']}, {r['method']}, {r['term']}): estimate is missing"
        )
    method, analysis = str(r["method"]), str(r.get("analysis", ""))
    randomised = _randomised(r, design)
    if analysis == "economics" or method == "roi":
        return _roi_sentence(r, people, probability_pays, currency, level)
    if method in _RATIO_METHODS:
        return _ratio_sentence(r, people, level, randomised)
    if method.startswith("rmst"):
        return _rmst_sentence(r, level)
    if method == "rate":
        return _rate_sentence(r, level)
    if analysis == "survey outcomes" or scale_info(str(r["outcome"])).short_name:
        return _survey_sentence(r, scale_label, level, randomised, adjusted)
    return _generic_sentence(r, level)


def primary_rows(estimates: pd.DataFrame) -> pd.DataFrame:
    """Pick the headline rows: primary survey estimates, retention hazard ratios, net benefit.

    Survey outcomes: the rows that carry a q-value (the evaluation gives q-values only to the
    primary overall estimates); without q-values, the ``ATT (overall)`` or ``change`` row of the
    first primary-capable method (``did_dr``, ``did_reg``, ``did_ipw``, ``pre_post``) listed
    for the outcome. Retention: the ``cox_tv`` rows. Economics: ``net_benefit``.

    Examples
    --------
    >>> e = pd.DataFrame({"analysis": ["survey outcomes"] * 2, "outcome": ["burnout"] * 2,
    ...     "method": ["did_dr", "did_reg"], "term": ["ATT (overall)"] * 2,
    ...     "q_value": [0.04, float("nan")]})
    >>> primary_rows(e).method.tolist()
    ['did_dr']
    """
    missing = [c for c in ("analysis", "outcome", "method", "term") if c not in estimates]
    if missing:
        raise DataValidationError(f"estimates: column(s) {', '.join(missing)} missing")
    e = estimates
    survey = e[e.analysis == "survey outcomes"]
    overall = survey[survey.term.isin(["ATT (overall)", "change"])]
    if "q_value" in e and overall.q_value.notna().any():
        chosen = overall[overall.q_value.notna()]
    else:
        candidates = overall[overall.method.isin(_PRIMARY_SURVEY_METHODS)]
        chosen = candidates.groupby("outcome", sort=False).head(1)
    retention = e[(e.analysis == "retention") & (e.method == "cox_tv")]
    roi = e[(e.analysis == "economics") & (e.term == "net_benefit")]
    return pd.concat([chosen, retention, roi])


def headline(
    estimates: pd.DataFrame,
    *,
    currency: str = "USD",
    level: float = 0.95,
    design: str | None = None,
    adjusted: bool = False,
) -> list[str]:
    """Sentences for the primary findings, in the order of :func:`primary_rows`.

    The primary retention hazard ratio (the first ``cox_tv`` row) is given the exits avoided
    from the economics ``turnovers_avoided`` row, and the net benefit the probability that the
    program pays for itself, when the evaluation has them.

    Parameters
    ----------
    estimates
        An evaluation's estimate table (``estimates.csv``).
    currency, level, design, adjusted
        As in :func:`effect_sentence`.

    Returns
    -------
    list of str

    Examples
    --------
    >>> e = pd.DataFrame([
    ...     {"analysis": "retention", "outcome": "voluntary turnover", "method": "cox_tv",
    ...      "term": "enrolled", "estimate": 0.9, "conf_low": 0.7, "conf_high": 1.15},
    ...     {"analysis": "economics", "outcome": "return on investment", "method": "roi",
    ...      "term": "net_benefit", "estimate": 1.0e5, "conf_low": -2.0e5, "conf_high": 4.0e5},
    ...     {"analysis": "economics", "outcome": "return on investment", "method": "roi",
    ...      "term": "probability_pays", "estimate": 0.71, "conf_low": None, "conf_high": None}])
    >>> for s in headline(e): print(s)
    Voluntary turnover: inconclusive; 10% fewer voluntary exits while enrolled (HR 0.90, 95% CI
    0.70 to 1.15), but the interval includes no difference (1).
    Return on investment: net benefit $100,000 (95% CI -$200,000 to $400,000); the program pays
    for itself with probability 71%; inconclusive: the interval includes no net benefit (0).
    """
    rows = primary_rows(estimates)
    econ = estimates[estimates.analysis == "economics"].drop_duplicates("term").set_index("term")
    avoided = econ.loc["turnovers_avoided"] if "turnovers_avoided" in econ.index else None
    pays = (
        float(econ.loc["probability_pays", "estimate"])
        if "probability_pays" in econ.index
        else None
    )
    out = []
    first_hr = True
    words = {"level": level, "design": design, "adjusted": adjusted}
    for _, row in rows.iterrows():
        if row["method"] == "cox_tv":
            out.append(effect_sentence(row, people=avoided if first_hr else None, **words))
            first_hr = False
        elif row["term"] == "net_benefit":
            out.append(effect_sentence(row, probability_pays=pays, currency=currency, **words))
        else:
            out.append(effect_sentence(row, **words))
    return out
