"""Analysis plans: what an evaluation estimates, declared in YAML and validated.

A plan names the design, the outcomes, the covariates, the methods, the clustering level for
inference, resampling settings, the minimum reporting size and the seed. Its hash (SHA-256 of the
validated plan as canonical JSON) goes into every output, so a result can always be traced to the
exact plan that produced it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from coacheval._resources import resource_dir
from coacheval.errors import ConfigError

__all__ = [
    "Design",
    "Inference",
    "Methods",
    "Plan",
    "Reporting",
    "Retention",
    "load_plan",
    "parse_plan",
]

CONSTRUCTS = (
    "job_satisfaction",
    "work_engagement",
    "burnout",
    "wellbeing",
    "perceived_support",
    "turnover_intention",
    "leadership_self_efficacy",
    "professional_isolation",
)
COVARIATES = ("tenure_years", "role_level")
PRIMARY_METHODS = ("did_dr", "did_reg", "did_ipw", "pre_post")
DEFAULT_ASSIGNMENT = "rollout/assignment.csv"
RANDOMISED_SECONDARY = ("did_reg", "did_ipw", "twfe", "mixed")
"""Secondary methods a randomised_rollout plan may ask for (the others compare participants
with leaders who never enrolled, who are not part of a randomised evaluation)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Design(_Strict):
    """Who is compared with whom, and when.

    Examples
    --------
    >>> from coacheval.evaluate.plan import Design
    >>> Design(type="staggered_did", comparison="not_yet_treated").comparison
    'not_yet_treated'
    """

    type: Literal["staggered_did", "single_arm", "randomised_rollout"] = Field(
        description="staggered_did: cohorts against never or not-yet enrolled leaders; single_arm: "
        "pre/post only; randomised_rollout: peer groups randomised to cohorts (a stepped wedge), "
        "started against not-yet-started randomised cohorts"
    )
    comparison: Literal["never_treated", "not_yet_treated"] = "never_treated"
    baseline_wave: str | None = Field(
        None, description="wave before the program (default: the first wave)"
    )
    followup_wave: str | None = Field(
        None, description="wave for the single-arm pre/post (default: the last)"
    )
    assignment: str | None = Field(
        None,
        description="randomised_rollout only: the randomisation record written by coacheval "
        "rollout, relative to the extracts folder (default rollout/assignment.csv); the "
        "leaders randomised come from the rollout_assignment extract",
    )


class Inference(_Strict):
    """How uncertainty is computed.

    Examples
    --------
    >>> from coacheval.evaluate.plan import Inference
    >>> Inference().cluster, Inference().level, Inference(cluster="peer_group").cluster
    ('unit_id', 0.95, 'peer_group')
    """

    cluster: Literal["unit_id", "peer_group", "department_id", "facility_id", "none"] = "unit_id"
    level: float = Field(0.95, gt=0.5, lt=1)
    wild_bootstrap_below_clusters: int = Field(
        30,
        ge=0,
        description="with fewer (treated) clusters: wild cluster bootstrap for regression estimators "
        "(TWFE) and the G/(G-1), t(G-1) small-sample correction for group-time DiD",
    )
    bootstrap_draws: int = Field(9999, ge=99)


class Methods(_Strict):
    """Which estimator answers the question, and which check it.

    Examples
    --------
    >>> from coacheval.evaluate.plan import Methods
    >>> Methods(primary="did_dr", secondary=["twfe", "mixed"]).secondary
    ('twfe', 'mixed')
    """

    primary: Literal["did_dr", "did_reg", "did_ipw", "pre_post"] = "did_dr"
    secondary: tuple[
        Literal[
            "did_reg",
            "did_ipw",
            "naive_post",
            "ps_att",
            "aipw",
            "twfe",
            "mixed",
            "dose_response",
            "multiple_imputation",
        ],
        ...,
    ] = ()


class Reporting(_Strict):
    """What may be shown.

    Examples
    --------
    >>> from coacheval.evaluate.plan import Reporting
    >>> Reporting().min_cell
    5
    """

    min_cell: int = Field(5, ge=1, description="no cell shows fewer people than this")


RETENTION_COVARIATES = ("role_level", "fte", "age_band", "tenure_at_entry")


class Retention(_Strict):
    """Turnover as time to event, from the HR extract (see :mod:`coacheval.retention`).

    Examples
    --------
    >>> from coacheval.evaluate.plan import load_plan
    >>> retention = load_plan("default").retention
    >>> retention.time_scale, retention.cause
    ('tenure', 'voluntary')
    """

    time_scale: Literal["tenure", "calendar"] = Field(
        "tenure",
        description="tenure: years since hire (delayed entry); calendar: years since window_start",
    )
    window_start: date | None = Field(
        None, description="start of follow-up (default: the earliest termination in the HR extract)"
    )
    extract_date: date | None = Field(
        None,
        description="end of follow-up, censoring date (default: the latest date in the extracts)",
    )
    cause: Literal["voluntary", "involuntary", "retirement", "other", "any"] = Field(
        "voluntary", description="the exit the primary hazard ratio is about"
    )
    covariates: tuple[str, ...] = ("role_level",)
    baseline_scores: tuple[str, ...] = Field(
        (),
        description="survey scales measured at the baseline wave to adjust the Cox and Fine-Gray "
        "models for (follow-up then starts at each leader's baseline response)",
    )
    cluster: Literal["person", "peer_group", "unit_id", "department_id", "facility_id"] = (
        "peer_group"
    )
    horizon_years: float = Field(
        2.0, gt=0, description="horizon of the restricted mean survival time and of the risk table"
    )
    target_hazard_ratio: float = Field(
        0.85,
        gt=0,
        lt=1,
        description="hazard ratio the power statement is about (0.85: 15% fewer voluntary exits)",
    )
    cause_rules: dict[str, tuple[str, ...]] | None = Field(
        None,
        description="termination reason patterns per cause, tried in order (default: coacheval's rules)",
    )
    spillover: bool = Field(
        True,
        description="staff turnover on units with a coached leader vs not, from the optional "
        "unit_staffing extract (skipped with a note when the extract is absent)",
    )

    @field_validator("covariates")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [v for v in value if v not in RETENTION_COVARIATES]
        if unknown:
            raise ValueError(
                f"unknown covariate(s) {', '.join(unknown)}; known: {', '.join(RETENTION_COVARIATES)}"
            )
        return value

    @field_validator("baseline_scores")
    @classmethod
    def _known_scores(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [v for v in value if v not in CONSTRUCTS]
        if unknown:
            raise ValueError(
                f"unknown scale(s) {', '.join(unknown)}; known: {', '.join(CONSTRUCTS)}"
            )
        return value

    @field_validator("cause_rules")
    @classmethod
    def _known_causes(cls, value: dict[str, tuple[str, ...]] | None) -> dict | None:
        if value is not None:
            unknown = [
                k for k in value if k not in ("voluntary", "involuntary", "retirement", "other")
            ]
            if unknown:
                raise ValueError(f"unknown cause(s) {', '.join(unknown)}")
        return value


class Plan(_Strict):
    """An analysis plan (see ``analyses/default.yaml``).

    Examples
    --------
    >>> plan = load_plan("default")
    >>> plan.design.type, plan.methods.primary
    ('staggered_did', 'did_dr')
    >>> len(plan.hash)
    64
    """

    name: str
    description: str = ""
    design: Design
    outcomes: tuple[str, ...] = Field(min_length=1)
    covariates: tuple[str, ...] = COVARIATES
    methods: Methods = Methods()
    inference: Inference = Inference()
    reporting: Reporting = Reporting()
    retention: Retention | None = Field(
        None, description="turnover analyses from the HR extract (omit to skip them)"
    )
    seed: int = 20260101

    @field_validator("outcomes")
    @classmethod
    def _known_outcomes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [v for v in value if v not in CONSTRUCTS]
        if unknown:
            raise ValueError(
                f"unknown outcome(s) {', '.join(unknown)}; known: {', '.join(CONSTRUCTS)}"
            )
        return value

    @field_validator("covariates")
    @classmethod
    def _known_covariates(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [v for v in value if v not in COVARIATES]
        if unknown:
            raise ValueError(
                f"unknown covariate(s) {', '.join(unknown)}; known: {', '.join(COVARIATES)}"
            )
        return value

    @property
    def hash(self) -> str:
        """SHA-256 of the plan as canonical JSON (sorted keys): changes with any setting."""
        data = self.model_dump(mode="json")
        if data["design"].get("assignment") is None:  # plans without it hash as they always did
            data["design"].pop("assignment", None)
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_plan(data: Any, source: str = "") -> Plan:
    """Validate a plan mapping; errors name every field that is wrong.

    Raises
    ------
    ConfigError
        With one line per problem: ``field.path: message``.

    Examples
    --------
    >>> parse_plan({"name": "x", "design": {"type": "rct"}, "outcomes": ["work_engagement"]})
    Traceback (most recent call last):
    ...
    coacheval.errors.ConfigError: invalid analysis plan:
      design.type: Input should be 'staggered_did', 'single_arm' or 'randomised_rollout' (got 'rct')

    A randomised rollout compares started with not-yet-started cohorts; its randomisation record
    defaults to ``rollout/assignment.csv`` in the extracts folder:

    >>> plan = parse_plan({"name": "r", "design": {"type": "randomised_rollout"},
    ...                    "outcomes": ["work_engagement"]})
    >>> plan.design.comparison, plan.design.assignment
    ('not_yet_treated', 'rollout/assignment.csv')
    """
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(plan)"
            message = err["msg"].replace("Value error, ", "")
            got = (
                f" (got {err['input']!r})"
                if err["type"] not in ("missing", "extra_forbidden")
                and not isinstance(err.get("input"), dict)
                else ""
            )
            if err["type"] == "extra_forbidden":
                message = "unknown setting"
            lines.append(f"  {where}: {message}{got}")
        raise ConfigError(
            "invalid analysis plan:\n" + "\n".join(lines), source=source or None
        ) from None
    if plan.design.type == "single_arm" and plan.methods.primary != "pre_post":
        raise ConfigError(
            "a single_arm design has no comparison group: methods.primary must be pre_post",
            source=source or None,
        )
    if plan.design.type in ("staggered_did", "randomised_rollout") and (
        plan.methods.primary == "pre_post"
    ):
        raise ConfigError(
            "pre_post ignores the comparison group: choose did_dr, did_reg or did_ipw",
            source=source or None,
        )
    if plan.design.type != "randomised_rollout":
        if plan.design.assignment is not None:
            raise ConfigError(
                "design.assignment is read only by a randomised_rollout design",
                source=source or None,
            )
        return plan
    return _randomised_plan(plan, source)


def _randomised_plan(plan: Plan, source: str) -> Plan:
    """Check a randomised_rollout plan and fill its defaults (not-yet-started comparison)."""
    design = plan.design
    if "comparison" in design.model_fields_set and design.comparison != "not_yet_treated":
        raise ConfigError(
            "a randomised_rollout compares started cohorts with randomised cohorts that have not "
            "started yet: design.comparison must be not_yet_treated (or left out)",
            source=source or None,
        )
    other = [m for m in plan.methods.secondary if m not in RANDOMISED_SECONDARY]
    if other:
        raise ConfigError(
            f"methods.secondary {', '.join(other)} compare participants with leaders who never "
            "enrolled (dose_response: attendance bands against them); a randomised_rollout "
            "analyses the randomised leaders only (allowed: "
            f"{', '.join(RANDOMISED_SECONDARY)})",
            source=source or None,
        )
    path = design.assignment or DEFAULT_ASSIGNMENT
    if Path(path).is_absolute() or ".." in Path(path).parts:
        raise ConfigError(
            f"design.assignment must be a path inside the extracts folder (got {path!r})",
            source=source or None,
        )
    filled = design.model_copy(update={"comparison": "not_yet_treated", "assignment": path})
    return plan.model_copy(update={"design": filled})


def load_plan(name_or_path: str | Path) -> Plan:
    """Load a plan by file path, or by the name of a plan shipped in ``analyses/``.

    Parameters
    ----------
    name_or_path
        ``"default"``, ``"single_arm"`` or ``"randomised"`` (the shipped plans), or the path
        to a YAML plan.

    Returns
    -------
    Plan
        The validated plan; ``plan.hash`` (SHA-256) identifies it in every output.

    Raises
    ------
    ConfigError
        The file is missing, not YAML, or an invalid plan.

    Examples
    --------
    >>> from coacheval.evaluate.plan import load_plan
    >>> plan = load_plan("randomised")
    >>> plan.design.type, plan.design.comparison, plan.design.assignment
    ('randomised_rollout', 'not_yet_treated', 'rollout/assignment.csv')
    >>> len(plan.hash)
    64
    """
    path = Path(name_or_path)
    if not path.suffix:
        path = resource_dir("analyses") / f"{name_or_path}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the analysis plan ({exc})", source=str(path)) from exc
    return parse_plan(data, str(path))
