"""Load an evaluation's results folder for the report templates.

The report templates (``reports/*.qmd``) contain layout only: every number they show is read
from the files ``coacheval evaluate`` wrote (``estimates.csv``, ``results.json``,
``figures/*.png`` with their alt text, and the ``measures/`` and ``validation/`` folders beside
the evaluation folder) and formatted by the helpers of :class:`ResultsBundle`. Nothing here
estimates anything either: the helpers pick rows, format numbers and word verdicts the
evaluation already reached.

Examples
--------
>>> fmt_number(1234.5678, 2), fmt_interval(0.1274, 0.4031, 2), fmt_money(-373217.6)
('1,234.57', '0.13 to 0.40', '-$373,218')
"""

from __future__ import annotations

import base64
import io
import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coacheval.errors import DataValidationError

__all__ = [
    "FigureInfo",
    "ResultsBundle",
    "fmt_interval",
    "fmt_money",
    "fmt_number",
    "fmt_percent",
    "load_results",
    "markdown_table",
]

_SURVEY_KEY = {"work_engagement": "Work engagement", "job_satisfaction": "Job satisfaction"}
_ADVICE = {
    "includes_no_effect": "more participants or a longer follow-up, so that the interval can "
    "exclude no effect",
    "benefit_and_harm": "more data: the interval still spans both benefit and harm",
    "underpowered": "more leaders or more years of follow-up (pooling sites or cohorts) so that "
    "the retention analysis has the power it needs",
    "pre_trends": "a longer or cleaner baseline period before enrolment",
    "imbalance": "better-matched comparison leaders (more covariates, or a waiting-list "
    "comparison group)",
    "attrition": "higher survey response at follow-up (reminders, protected time to answer)",
    "non_proportional_hazards": "reporting the retention effect for fixed periods after "
    "enrolment (the effect changes over time)",
}


# ------------------------------------------------------------------------- formatting ---


def fmt_number(value: Any, decimals: int = 2) -> str:
    """Format a number with thousands separators; ``"–"`` when missing.

    Examples
    --------
    >>> fmt_number(0.70254, 2), fmt_number(12345.0, 0), fmt_number(float("nan"))
    ('0.70', '12,345', '–')
    """
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(x):
        return "–"
    text = f"{x:,.{decimals}f}"
    return "0" + text[2:] if text.startswith("-0") and float(text.replace(",", "")) == 0 else text


def fmt_interval(low: Any, high: Any, decimals: int = 2) -> str:
    """Format a confidence interval as ``"low to high"``.

    Examples
    --------
    >>> fmt_interval(0.5026, 0.9821)
    '0.50 to 0.98'
    """
    return f"{fmt_number(low, decimals)} to {fmt_number(high, decimals)}"


def fmt_money(value: Any, currency: str = "USD") -> str:
    """Format an amount of money, whole units (``$`` for USD, else the currency code).

    Examples
    --------
    >>> fmt_money(3224530.02), fmt_money(1500, "EUR")
    ('$3,224,530', 'EUR 1,500')
    """
    text = fmt_number(value, 0)
    if text == "–":
        return text
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    return f"{sign}${digits}" if currency == "USD" else f"{sign}{currency} {digits}"


def fmt_percent(value: Any, decimals: int = 0) -> str:
    """Format a proportion (0.285) as a percentage (``"29%"``).

    Examples
    --------
    >>> fmt_percent(0.2854), fmt_percent(0.2854, 1)
    ('29%', '28.5%')
    """
    try:
        x = float(value) * 100
    except (TypeError, ValueError):
        return "–"
    return "–" if not math.isfinite(x) else f"{fmt_number(x, decimals)}%"


def markdown_table(frame: pd.DataFrame) -> str:
    r"""Write a pipe table (Pandoc and Quarto read it the same); cells are shown as text.

    Examples
    --------
    >>> print(markdown_table(pd.DataFrame({"a": ["x|y"], "b": [1]})))
    | a | b |
    |---|---|
    | x\|y | 1 |
    """

    def cell(v: Any) -> str:
        text = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
        return " ".join(text.split()).replace("|", "\\|")

    head = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(False)]
    # Pandoc sizes wrapped columns by the dashes of the rule line: make them follow the content.
    widths = [
        max([len(cell(c)), *(len(cell(v)) for v in frame[c])]) if len(frame) else len(cell(c))
        for c in frame.columns
    ]
    long = sum(widths) > 72
    dashes = [max(3, min(w, 60) // 2) if long else 3 for w in widths]
    rule = "|" + "|".join("-" * d for d in dashes) + "|"
    return "\n".join([head, rule, *body])


# ------------------------------------------------------------------------------ bundle ---


@dataclass(frozen=True)
class FigureInfo:
    """A stored figure and the alt text written into it.

    Examples
    --------
    >>> f = FigureInfo("km", Path("figures/km.png"), "Two curves.")
    >>> f.markdown("Survival")
    '![Survival](figures/km.png){fig-alt="Two curves." alt="Two curves."}'
    """

    name: str
    path: Path
    alt: str

    def markdown(self, caption: str, *, label: str | None = None) -> str:
        """``![caption](path){#fig-label fig-alt="..."}`` for an ``output: asis`` cell."""
        alt = (self.alt or caption).replace("\\", "\\\\").replace('"', '\\"')
        cap = " ".join(caption.split()).replace("[", "\\[").replace("]", "\\]")
        ident = f"#fig-{label} " if label else ""
        return f'![{cap}]({self.path.as_posix()}){{{ident}fig-alt="{alt}" alt="{alt}"}}'


def _png_alt(path: Path) -> str:
    from PIL import Image

    with Image.open(path) as img:
        return " ".join(str(img.text.get("Description", "")).split())  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ResultsBundle:
    """An evaluation's results, read once, with the helpers the report templates call.

    Attributes
    ----------
    folder
        The evaluation folder (holding ``estimates.csv`` and ``results.json``).
    estimates
        ``estimates.csv``.
    payload
        ``results.json`` (``provenance``, ``plan``, ``estimates``, ``diagnostics``, ``notes``).
    figures
        Figure name (file stem) to :class:`FigureInfo`.
    validation
        ``../validation/validation.json`` when it exists beside the evaluation folder.
    measures
        The ``../measures`` folder when it exists.

    Examples
    --------
    Returned by :func:`load_results` from a folder ``coacheval evaluate`` wrote; a minimal one:

    >>> import json
    >>> import tempfile
    >>> from pathlib import Path
    >>> import pandas as pd
    >>> from coacheval.reports.results import load_results
    >>> folder = Path(tempfile.mkdtemp())
    >>> plan = {"design": {"type": "staggered_did"}, "inference": {"level": 0.9}}
    >>> _ = (folder / "results.json").write_text(json.dumps({"plan": plan, "notes": []}))
    >>> pd.DataFrame([{"analysis": "retention", "outcome": "voluntary turnover",
    ...                "method": "cox_tv", "term": "enrolled", "estimate": 0.8, "conf_low": 0.66,
    ...                "conf_high": 0.97}]).to_csv(folder / "estimates.csv", index=False)
    >>> bundle = load_results(folder)
    >>> bundle.level_label, bundle.primary_method, bundle.figures
    ('90% CI', 'did_dr', {})
    >>> float(bundle.row(method="cox_tv").estimate)
    0.8
    >>> bundle.headline()
    ['Voluntary turnover: 20% fewer voluntary exits while enrolled (HR 0.80, 90% CI 0.66 to 0.97).']
    >>> bundle.certainty.table[["outcome", "start", "level"]]
                  outcome start level
    0  voluntary turnover   low   low
    """

    folder: Path
    estimates: pd.DataFrame
    payload: dict[str, Any]
    figures: dict[str, FigureInfo]
    validation: dict[str, Any] | None = None
    measures: Path | None = None
    currency: str = field(default="USD")

    # ---------------------------------------------------------------- plain accessors ---

    @property
    def provenance(self) -> dict[str, Any]:
        """results.json ``provenance`` (version, plan hash, data hashes, seed, created)."""
        return dict(self.payload.get("provenance") or {})

    @property
    def plan(self) -> dict[str, Any]:
        """results.json ``plan``."""
        return dict(self.payload.get("plan") or {})

    @property
    def diagnostics(self) -> dict[str, Any]:
        """results.json ``diagnostics``, keyed ``"method:outcome"``."""
        return dict(self.payload.get("diagnostics") or {})

    @property
    def notes(self) -> list[str]:
        """results.json ``notes``."""
        return [str(n) for n in self.payload.get("notes") or []]

    @property
    def level(self) -> float:
        """Confidence level of the intervals (plan ``inference.level``)."""
        return float((self.plan.get("inference") or {}).get("level", 0.95))

    @property
    def level_label(self) -> str:
        """``"95% CI"``."""
        return f"{fmt_number(self.level * 100, 0)}% CI"

    def diagnostic_table(self, key: str, part: str = "table") -> pd.DataFrame | None:
        """One diagnostics entry's table as a DataFrame (``None`` when absent)."""
        entry = self.diagnostics.get(key)
        if not isinstance(entry, dict) or not isinstance(entry.get(part), list):
            return None
        return pd.DataFrame(entry[part])

    def note(self, prefix: str) -> str | None:
        """Return the first note starting with ``prefix``, without the prefix (``None`` if none)."""
        for text in self.notes:
            if text.startswith(prefix):
                return text[len(prefix) :].strip()
        return None

    def row(self, *, method: str, outcome: str | None = None, term: str | None = None) -> Any:
        """Return the first estimate row matching ``method`` (and outcome, term), or ``None``."""
        e = self.estimates
        mask = e.method == method
        if outcome is not None:
            mask &= e.outcome == outcome
        if term is not None:
            mask &= e.term == term
        rows = e[mask]
        return None if rows.empty else rows.iloc[0]

    def economics(self, term: str) -> Any:
        """Return the economics row of ``term`` (``net_benefit``, ``roi_percent``, ...), or ``None``."""
        e = self.estimates
        rows = e[(e.analysis == "economics") & (e.term == term)]
        return None if rows.empty else rows.iloc[0]

    @property
    def randomised(self) -> bool:
        """Whether the plan is a randomised rollout (``design.type: randomised_rollout``)."""
        design = str((self.plan.get("design") or {}).get("type", "")).lower()
        return design in ("randomised_rollout", "randomized_rollout")

    @property
    def primary_method(self) -> str:
        """The plan's primary method for survey outcomes (``did_dr`` by default)."""
        return str((self.plan.get("methods") or {}).get("primary", "did_dr"))

    def primary_survey(self, outcome: str) -> Any:
        """Return the primary overall estimate of one survey outcome, or ``None``."""
        for term in ("ATT (overall)", "change"):
            r = self.row(method=self.primary_method, outcome=outcome, term=term)
            if r is not None:
                return r
        return None

    # ---------------------------------------------------------------- evidence ---

    def headline(self) -> list[str]:
        """Plain-language sentences for the primary findings (:func:`coacheval.evidence.headline`)."""
        from coacheval.evidence import headline

        design = (self.plan.get("design") or {}).get("type")
        return headline(
            self.estimates,
            currency=self.currency,
            level=self.level,
            design=None if design is None else str(design),
            adjusted=bool(self.plan.get("covariates")),
        )

    @cached_property
    def certainty(self) -> Any:
        """:class:`~coacheval.evidence.CertaintyResult` of this evaluation."""
        from coacheval.evidence import rate_certainty

        return rate_certainty(self.estimates, self.diagnostics, plan=self.plan)

    def certainty_table(self, *, brief: bool = False) -> pd.DataFrame:
        """Tabulate finding, certainty level and the reasons for it, one row per outcome.

        ``brief=True`` (executive summary) names the design's starting level without its
        explanation and puts findings with the same level and reasons on one row.
        """
        t = self.certainty.table
        details = self.certainty.details
        rows = []
        for r in t.itertuples():
            steps = details[(details.outcome == r.outcome) & (details.rule != "start")]
            down = [s.reason for s in steps.itertuples() if s.change < 0]
            start = details[(details.outcome == r.outcome) & (details.rule == "start")]
            if brief and self.randomised:  # say which findings the randomisation covers
                why = (
                    f"randomised, starts {r.start}"
                    if r.analysis != "spillover"
                    else f"not randomised (units with vs without a coached leader), starts {r.start}"
                )
            elif brief or not len(start):
                why = f"design starts {r.start}"
            else:
                why = f"starts {r.start} ({start.reason.iloc[0]})"
            rows.append(
                {
                    "Finding": str(r.outcome).replace("_", " ").capitalize(),
                    "Certainty": str(r.level),
                    "Why": "; ".join([why, *down]) if down else f"{why}; no downgrade",
                }
            )
        out = pd.DataFrame(rows, columns=["Finding", "Certainty", "Why"])
        if brief and len(out):
            out = (
                out.groupby(["Certainty", "Why"], sort=False)["Finding"]
                .agg(", ".join)
                .reset_index()[["Finding", "Certainty", "Why"]]
            )
        return out

    def stronger_evidence(self) -> list[str]:
        """Say what would make the evidence stronger, from the downgrades and the power verdict."""
        details = self.certainty.details
        hit = details[(details.rule != "start") & (details.change < 0)]
        out = []
        for rule, steps in hit.groupby("rule", sort=False):
            outcomes = ", ".join(dict.fromkeys(steps.outcome.str.replace("_", " ")))
            advice = _ADVICE.get(str(rule), str(rule).replace("_", " "))
            out.append(f"{advice.capitalize()} ({outcomes}).")
        power = self.note("retention power")
        if power:
            out.append(f"Retention power {power.rstrip('.')}.")
        starts = details[details.rule == "start"]
        if not self.randomised and starts.reason.str.contains("not randomised").any():
            out.append(
                "Randomising the order in which peer groups start (coacheval rollout: a stepped "
                "wedge), so that who volunteers first cannot bias the comparison; the evaluation "
                "of later cohorts then starts from high certainty."
            )
        return out

    def break_even(self) -> str | None:
        """Return the evaluation's break-even sentence for the return on investment."""
        text = self.note("economics: The program pays")
        return None if text is None else f"The program pays {text}"

    def power_verdict(self) -> str | None:
        """Return the evaluation's verdict on the power of the retention analysis."""
        text = self.note("retention power")
        return None if text is None else f"Retention power {text}"

    def key_numbers(self) -> pd.DataFrame:
        """Tabulate the few numbers that matter, each with its interval (formatted)."""
        rows = []
        versus = "randomised leaders waiting to start" if self.randomised else "comparison leaders"
        for outcome, name in _SURVEY_KEY.items():
            r = self.primary_survey(outcome)
            if r is not None:
                rows.append(
                    {
                        "Measure": f"{name}: change in score vs {versus}",
                        "Estimate": fmt_number(r.estimate, 2),
                        self.level_label: fmt_interval(r.conf_low, r.conf_high, 2),
                    }
                )
        hr = self.row(method="cox_tv", outcome="voluntary turnover")
        if hr is not None:
            rows.append(
                {
                    "Measure": "Voluntary turnover: hazard ratio "
                    + ("after the group's assigned start" if self.randomised else "while enrolled"),
                    "Estimate": fmt_number(hr.estimate, 2),
                    self.level_label: fmt_interval(hr.conf_low, hr.conf_high, 2),
                }
            )
        nb, roi = self.economics("net_benefit"), self.economics("roi_percent")
        if nb is not None:
            rows.append(
                {
                    "Measure": f"Net benefit ({self.currency})",
                    "Estimate": fmt_money(nb.estimate, self.currency),
                    self.level_label: f"{fmt_money(nb.conf_low, self.currency)} to "
                    f"{fmt_money(nb.conf_high, self.currency)}",
                }
            )
        if roi is not None:
            rows.append(
                {
                    "Measure": "Return on investment",
                    "Estimate": f"{fmt_number(roi.estimate, 0)}%",
                    self.level_label: f"{fmt_number(roi.conf_low, 0)}% to "
                    f"{fmt_number(roi.conf_high, 0)}%",
                }
            )
        return pd.DataFrame(rows, columns=["Measure", "Estimate", self.level_label])

    def cost_table(self) -> pd.DataFrame | None:
        """Program cost by category (and the total), formatted."""
        t = self.diagnostic_table("cost:program")
        if t is None or t.empty:
            return None
        t = t[t.level.isin(["total", "category"])]
        return pd.DataFrame(
            {
                "Cost": t.group.replace({"all": "total"}).str.replace("_", " ").str.capitalize(),
                "Amount": [fmt_money(v, self.currency) for v in t.amount_usd],
                "Share": [fmt_percent(v) for v in t.share],
            }
        )

    # ---------------------------------------------------------------- quarterly ---

    def kpi_frame(self) -> pd.DataFrame | None:
        """Return the ``kpi:quarterly`` table as stored."""
        return self.diagnostic_table("kpi:quarterly")

    def quarters(self) -> list[str]:
        """Quarters of the KPI table, in order."""
        k = self.kpi_frame()
        return [] if k is None else sorted(k.quarter.astype(str).unique())

    def kpi_table(self, period: str | None = None, last: int = 4) -> pd.DataFrame | None:
        """Tabulate KPIs (rows) by quarter (columns) up to the quarter ``period``.

        Shows ``period`` (default: the latest) and the ``last - 1`` quarters before it.
        Cells resting on fewer people than the minimum reporting size show ``"suppressed"``.
        """
        k = self.kpi_frame()
        if k is None or k.empty:
            return None
        quarters = self.quarters()
        end = quarters.index(period) + 1 if period in quarters else len(quarters)
        shown = quarters[max(0, end - last) : end]
        k = k[k.quarter.astype(str).isin(shown)]
        counts = {"enrolled_in_quarter", "enrolled_to_date", "groups_meeting", "sessions_held"}

        def cell(r: Any) -> str:
            if bool(r.suppressed) or pd.isna(r.value):
                return "suppressed"
            if r.kpi == "attendance_rate":
                return fmt_percent(r.value, 1)
            if r.kpi in counts:
                return fmt_number(r.value, 0)
            text = fmt_number(r.value, 2)
            if pd.notna(r.conf_low):
                text += f" ({fmt_interval(r.conf_low, r.conf_high, 2)})"
            return text

        k = k.assign(cell=[cell(r) for r in k.itertuples()])
        wide = k.pivot(index="kpi", columns="quarter", values="cell")
        order = list(dict.fromkeys(self.kpi_frame().kpi))
        wide = wide.reindex([x for x in order if x in wide.index]).fillna("–")
        wide.columns = [str(c) for c in wide.columns]
        wide.insert(0, "KPI", [str(x).replace("_", " ") for x in wide.index])
        return wide.reset_index(drop=True)

    def kpi_definitions(self) -> pd.DataFrame | None:
        """Each KPI with its definition."""
        k = self.kpi_frame()
        if k is None or "definition" not in k:
            return None
        d = k.drop_duplicates("kpi")
        return pd.DataFrame(
            {"KPI": d.kpi.str.replace("_", " "), "Definition": d.definition}
        ).reset_index(drop=True)

    def control_charts(self) -> list[tuple[str, FigureInfo | None, list[str]]]:
        """Each control chart: its title, its stored figure and its signals as sentences."""
        charts = sorted(n for n in self.figures if n.startswith("control_chart_"))
        out = []
        for key, entry in self.diagnostics.items():
            if not key.startswith("spc:"):
                continue
            what = key[4:]
            stem = "control_chart_" + "_".join(what.split()[:3])
            figure = self.figures.get(stem) or next(
                (self.figures[c] for c in charts if what.startswith(c[14:].replace("_", " "))),
                None,
            )
            signals = [
                f"{s.get('period')}: {s.get('description')}" for s in entry.get("signals") or []
            ]
            out.append((f"{entry.get('title', 'Control chart')}: {what}", figure, signals))
        return out

    def reaim_tables(self) -> dict[str, pd.DataFrame]:
        """Format the RE-AIM tables (reach, adoption, completion, fidelity and dose, maintenance).

        Proportions as percentages with their intervals; values the result tables hid (small
        counts and their complements) as ``"suppressed"``.
        """
        out = {}
        for key in ("reach", "adoption", "completion", "fidelity_dose", "maintenance"):
            entry = self.diagnostics.get(f"reaim:{key}")
            t = self.diagnostic_table(f"reaim:{key}")
            if t is None or t.empty:
                continue
            t = t.drop(columns=[c for c in ("recruitment_open_date", "start_date") if c in t])
            shown = pd.DataFrame(index=t.index)
            for col in t.columns:
                if col in ("conf_low", "conf_high", "suppressed"):
                    continue
                values = t[col]
                if col in ("proportion", "completion_rate") and "conf_low" in t:
                    shown[col] = [
                        f"{fmt_percent(v, 1)} ({fmt_percent(lo, 1)} to {fmt_percent(hi, 1)})"
                        for v, lo, hi in zip(values, t.conf_low, t.conf_high, strict=True)
                    ]
                elif pd.api.types.is_float_dtype(values) and (
                    "share" in col or "attendance" in col or "dose" in col
                ):
                    shown[col] = [fmt_percent(v, 1) for v in values]
                elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(
                    values
                ):
                    shown[col] = [fmt_number(v, 0) for v in values]
                else:
                    shown[col] = values.astype(str)
            if "suppressed" in t:
                # A suppressed row keeps what the result table left visible; every value it hid
                # (a small count, or its complement) shows as "suppressed", never as "<5": the
                # complement of a small count can be large, and the minimum is the plan's.
                hidden_row = t.suppressed.astype(bool).to_numpy()
                for col in shown.columns[1:]:
                    source = t[col] if col in t else pd.Series(np.nan, index=t.index)
                    hide = hidden_row & source.isna().to_numpy()
                    shown.loc[hide, col] = "suppressed"
            shown.columns = [str(c).replace("_", " ") for c in shown.columns]
            out[str((entry or {}).get("title", key))] = shown.reset_index(drop=True)
        return out

    def data_quality(self) -> pd.DataFrame | None:
        """Rows in, clean and quarantined per table (``validation.json``), when available."""
        if not self.validation:
            return None
        rows = [
            {
                "Table": name,
                "Rows in": fmt_number(t.get("rows_in"), 0),
                "Clean": fmt_number(t.get("rows_clean"), 0),
                "Quarantined": fmt_number(t.get("rows_quarantined"), 0),
                "Errors": fmt_number(t.get("errors"), 0),
                "Warnings": fmt_number(t.get("warnings"), 0),
                "Usable": "yes" if t.get("usable") else f"no: {t.get('unusable_reason', '')}",
            }
            for name, t in (self.validation.get("tables") or {}).items()
        ]
        return pd.DataFrame(rows)

    # ---------------------------------------------------------------- technical ---

    def flow(self) -> pd.DataFrame | None:
        """Flow of spells, people and person-time into the retention analysis."""
        t = self.diagnostic_table("person_time:retention", "flow")
        if t is None:
            return None
        return pd.DataFrame(
            {
                "Step": t.step,
                "Count": [
                    fmt_number(c, 1 if "person-years" in s else 0)
                    for s, c in zip(t.step, t["count"], strict=True)
                ],
            }
        )

    def table1(self) -> str | None:
        """``measures/table1.md`` (already suppressed to the minimum cell size)."""
        if self.measures is None or not (self.measures / "table1.md").is_file():
            return None
        return (self.measures / "table1.md").read_text(encoding="utf-8").strip()

    def reliability(self) -> pd.DataFrame | None:
        """Cronbach's alpha and omega per scale, at the first wave (``measures/reliability.csv``)."""
        if self.measures is None or not (self.measures / "reliability.csv").is_file():
            return None
        r = pd.read_csv(self.measures / "reliability.csv")
        first = r.drop_duplicates("scale") if "wave" in r else r
        return pd.DataFrame(
            {
                "Scale": first.scale,
                "Construct": first.construct.str.replace("_", " "),
                "Wave": first.get("wave", ""),
                "n": [fmt_number(v, 0) for v in first.n_obs],
                "Items": [fmt_number(v, 0) for v in first.n_items],
                "Alpha (95% CI)": [
                    f"{fmt_number(a, 2)} ({fmt_interval(lo, hi, 2)})"
                    for a, lo, hi in zip(
                        first.raw_alpha, first.conf_low, first.conf_high, strict=True
                    )
                ],
                "Omega": [fmt_number(v, 2) for v in first.omega_total],
            }
        )

    def primary_rows(self) -> pd.DataFrame:
        """Return the primary estimates (:func:`coacheval.evidence.primary_rows`)."""
        from coacheval.evidence import primary_rows

        return primary_rows(self.estimates)

    def forest_figure(self) -> Any:
        """Forest plot of the primary survey and retention estimates (not the money rows)."""
        from coacheval.figures import forest_plot

        p = self.primary_rows()
        p = p[p.analysis != "economics"].copy()
        p["label"] = p.outcome.str.replace("_", " ")
        return forest_plot(p, label_col="label", title="Primary estimates")

    def forest_markdown(self) -> str:
        """Return the forest plot as markdown with its alt text (the PNG embedded as a data URI)."""
        fig = self.forest_figure()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
        info = FigureInfo("forest", Path("forest.png"), str(getattr(fig, "alt_text", "")))
        return info.markdown("Primary estimates with their confidence intervals").replace(
            "](forest.png)", f"]({uri})"
        )

    def estimate_table(self, analysis: str, *, overall_only: bool = True) -> pd.DataFrame:
        """Estimates of one analysis, formatted (event-time and cohort rows left out)."""
        e = self.estimates[self.estimates.analysis == analysis]
        if overall_only:
            e = e[~e.term.astype(str).str.match(r"ATT\((e|g)=|ATT of one cohort")]
            e = e[~e.estimand.astype(str).str.startswith(("ATT by periods", "ATT of one cohort"))]
        money = analysis == "economics"
        decimals = 0 if money else 3
        return pd.DataFrame(
            {
                "Outcome": e.outcome.astype(str).str.replace("_", " "),
                "Method": e.method,
                "Term": e.term,
                "Estimate": [fmt_number(v, decimals) for v in e.estimate],
                self.level_label: [
                    fmt_interval(lo, hi, decimals)
                    for lo, hi in zip(e.conf_low, e.conf_high, strict=True)
                ],
                "p": [fmt_number(v, 3) for v in e.p_value],
                "n": [fmt_number(v, 0) for v in e.n],
            }
        ).reset_index(drop=True)

    def sensitivity_text(self) -> str:
        """Introduce the sensitivity analyses in the words of the plan's design."""
        if self.randomised:
            return (
                "Multiple imputation against complete cases where the evaluation has them. The "
                "comparison is randomised (who starts when was decided by chance), so the "
                "E-values of the primary estimates (how strong an unmeasured confounder would "
                "have to be to explain each away) are shown for completeness only: chance, not "
                "confounding, is the main alternative explanation, and the intervals measure it."
            )
        return (
            "Multiple imputation against complete cases, the naive (selection-biased) comparison "
            "and the E-values of the primary estimates (how strong an unmeasured confounder "
            "would have to be to explain each away)."
        )

    def sensitivity(self) -> pd.DataFrame:
        """Tabulate the sensitivity analyses of each survey outcome, formatted.

        Primary, complete case, multiple imputation, naive comparison and the E-values of the
        primary estimate.
        """
        rows = []
        outcomes = self.estimates.loc[self.estimates.analysis == "survey outcomes", "outcome"]
        for outcome in dict.fromkeys(outcomes):
            p = self.primary_survey(outcome)
            cc = self.row(method="complete_case", outcome=outcome)
            mi = self.row(method="multiple_imputation", outcome=outcome)
            naive = self.row(method="naive_post", outcome=outcome)

            def show(r: Any) -> str:
                if r is None:
                    return "–"
                return f"{fmt_number(r.estimate, 2)} ({fmt_interval(r.conf_low, r.conf_high, 2)})"

            rows.append(
                {
                    "Outcome": outcome.replace("_", " "),
                    "Primary": show(p),
                    "Complete case": show(cc),
                    "Multiple imputation": show(mi),
                    "Naive (biased)": show(naive),
                    "E-value (point / CI)": "–"
                    if p is None
                    else f"{fmt_number(p.get('evalue_point'), 2)} / "
                    f"{fmt_number(p.get('evalue_ci'), 2)}",
                }
            )
        return pd.DataFrame(rows)

    def retention_sensitivity(self) -> pd.DataFrame:
        """Tabulate every retention estimate, formatted.

        The time-varying Cox (primary) beside the immortal-time-biased ever-enrolled comparison,
        Fine-Gray, rates and the landmark analyses.
        """
        e = self.estimates
        r = e[e.analysis == "retention"]
        return pd.DataFrame(
            {
                "Outcome": r.outcome,
                "Method": r.method,
                "Estimand": r.estimand,
                "Estimate": [fmt_number(v, 3) for v in r.estimate],
                self.level_label: [
                    fmt_interval(lo, hi, 3) for lo, hi in zip(r.conf_low, r.conf_high, strict=True)
                ],
            }
        ).reset_index(drop=True)

    def provenance_table(self, *, rendered_at: str = "", engine: str = "") -> pd.DataFrame:
        """Provenance for the report footer: version, plan hash, data hashes, seed, times."""
        p = self.provenance
        rows = [
            ("coacheval version", p.get("version", "")),
            ("Analysis plan", f"{p.get('plan_name', '')} (sha256 {p.get('plan_hash', '')})"),
            ("Seed", p.get("seed", "")),
            ("Results created", p.get("created", "")),
            ("Report rendered", rendered_at),
            ("Render engine", engine),
        ]
        rows += [(f"Data: {k}", f"sha256 {v}") for k, v in (p.get("data_hashes") or {}).items()]
        return pd.DataFrame(rows, columns=["Item", "Value"])

    def design_text(self) -> str:
        """Describe the plan's design in words (type, comparison, baseline wave, cluster, outcomes)."""
        plan = self.plan
        d = plan.get("design") or {}
        inf = plan.get("inference") or {}
        ret = plan.get("retention") or {}
        outcomes = ", ".join(str(o).replace("_", " ") for o in plan.get("outcomes") or [])
        if self.randomised:
            rollout = self.provenance.get("rollout") or {}
            name = str(rollout.get("design") or "randomised rollout (stepped wedge)")
            seed = rollout.get("seed")
            strata = ", ".join(str(x) for x in rollout.get("strata") or [])
            how = "; ".join(
                x
                for x in (
                    str(rollout.get("method") or ""),
                    f"strata: {strata}" if strata else "",
                    f"{rollout.get('n_units')} peer groups to {rollout.get('n_cohorts')} cohorts"
                    if rollout.get("n_units") and rollout.get("n_cohorts")
                    else "",
                    f"randomised on {rollout['randomised_date']}"
                    if rollout.get("randomised_date")
                    else "",
                )
                if x
            )
            covariates = plan.get("covariates") or []
            adjusted = (
                f"adjusted for {', '.join(map(str, covariates))}"
                if covariates
                else "no covariate adjustment"
            )
            design = (
                f"Design: {name}"
                + (f", seed {seed}" if seed is not None else ", randomisation record not found")
                + (f" ({how})" if how else "")
                + ". Leaders whose group had started are compared with randomised leaders still "
                "waiting to start, by assignment (intention to treat), "
                f"{adjusted}; baseline wave {d.get('baseline_wave', '–')}."
            )
        else:
            design = (
                f"Design: {str(d.get('type', 'unknown')).replace('_', ' ')} with "
                f"{str(d.get('comparison', 'no')).replace('_', ' ')} comparison leaders, baseline "
                f"wave {d.get('baseline_wave', '–')}."
            )
        return (
            f"{design} Primary method: {self.primary_method}; "
            f"standard errors clustered by {inf.get('cluster', '–')}; "
            f"{fmt_number(self.level * 100, 0)}% intervals. Outcomes: {outcomes}. Retention: "
            f"{ret.get('cause', '–')} exits on the {ret.get('time_scale', '–')} time scale, "
            f"horizon {fmt_number(ret.get('horizon_years'), 1)} years, target hazard ratio "
            f"{fmt_number(ret.get('target_hazard_ratio'), 2)}. Minimum reporting cell size: "
            f"{(plan.get('reporting') or {}).get('min_cell', '–')}."
        )

    def checklist(self) -> pd.DataFrame:
        """TREND / SQUIRE 2.0 items and the section of the technical report answering each."""
        items = [
            ("Title and abstract", "TREND 1 / SQUIRE 1-2", "Title; Summary"),
            ("Background and rationale", "TREND 2 / SQUIRE 3-5", "Design and population"),
            ("Participants, eligibility, setting", "TREND 3 / SQUIRE 6", "Design and population"),
            ("Intervention", "TREND 4 / SQUIRE 7", "Implementation (RE-AIM)"),
            ("Objectives", "TREND 5", "Design and population"),
            ("Outcomes and measures", "TREND 6 / SQUIRE 10", "Table 1; Reliability"),
            ("Sample size and power", "TREND 7", "Effects: retention (power)"),
            ("Assignment method and comparison", "TREND 8", "Design and population"),
            ("Blinding", "TREND 9", "Methods (not blinded: routine data)"),
            ("Unit of analysis and clustering", "TREND 10", "Methods"),
            ("Statistical methods", "TREND 11 / SQUIRE 13", "Methods"),
            ("Participant flow", "TREND 12", "Flow of person-time"),
            ("Recruitment and follow-up periods", "TREND 13", "Flow of person-time"),
            ("Baseline data", "TREND 14", "Table 1"),
            ("Baseline equivalence", "TREND 15", "Table 1 (SMD)"),
            ("Numbers analysed", "TREND 16", "Every effect (n columns)"),
            ("Outcomes and estimation", "TREND 17 / SQUIRE 15", "Every effect"),
            ("Ancillary analyses", "TREND 18", "Sensitivity analyses"),
            ("Adverse events and harms", "TREND 19 / SQUIRE 16", "Certainty (benefit and harm)"),
            ("Interpretation and limitations", "TREND 20-21 / SQUIRE 17-18", "Certainty"),
            ("Study of the intervention (fidelity)", "SQUIRE 12", "Implementation (RE-AIM)"),
            ("Costs", "SQUIRE 16", "Economics"),
            ("Ethical considerations", "SQUIRE 14", "Provenance (pseudonymised data)"),
        ]
        return pd.DataFrame(items, columns=["Item", "Guideline", "Where answered"])


def load_results(folder: str | Path) -> ResultsBundle:
    """Read an evaluation's results folder.

    Parameters
    ----------
    folder
        The folder ``coacheval evaluate`` wrote (``estimates.csv``, ``results.json``,
        ``figures/``), or its ``results.json``. ``../validation/validation.json`` and
        ``../measures/`` are read when they exist beside it.

    Returns
    -------
    ResultsBundle

    Raises
    ------
    DataValidationError
        ``results.json`` or ``estimates.csv`` is missing or unreadable.

    Examples
    --------
    >>> import tempfile
    >>> load_results(tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    coacheval.errors.DataValidationError: ...results.json is missing...
    """
    folder = Path(folder)
    if folder.name == "results.json":
        folder = folder.parent
    folder = folder.resolve()
    results_json = folder / "results.json"
    if not results_json.is_file():
        raise DataValidationError(
            f"{results_json} is missing: point the report at a folder written by "
            "`coacheval evaluate` or `coacheval demo`"
        )
    try:
        payload = json.loads(results_json.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataValidationError(f"{results_json} is not valid JSON: {exc}") from exc
    csv = folder / "estimates.csv"
    if csv.is_file():
        estimates = pd.read_csv(csv)
    elif isinstance(payload.get("estimates"), list):
        estimates = pd.DataFrame(payload["estimates"])
    else:
        raise DataValidationError(f"{csv} is missing and results.json holds no estimates")
    figures = {}
    fig_dir = folder / "figures"
    if fig_dir.is_dir():
        for png in sorted(fig_dir.glob("*.png")):
            figures[png.stem] = FigureInfo(png.stem, png, _png_alt(png))
    validation = None
    vjson = folder.parent / "validation" / "validation.json"
    if vjson.is_file():
        validation = json.loads(vjson.read_text(encoding="utf-8"))
    measures = folder.parent / "measures"
    return ResultsBundle(
        folder=folder,
        estimates=estimates,
        payload=payload,
        figures=figures,
        validation=validation,
        measures=measures if measures.is_dir() else None,
    )
