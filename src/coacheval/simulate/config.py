"""Configuration of the simulated health system, with the source of every default.

Defaults describe a US health system's nurse-leader workforce. Each default carries a note in
:data:`SOURCES` saying where it comes from; ``[S]`` marks a value read in a secondary source,
``[V]`` one read in the primary source and ``[U]`` a modelling assumption (see DOMAIN.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from coacheval.errors import ConfigError

__all__ = [
    "CONSTRUCTS",
    "ROLE_LEVELS",
    "ROLLOUTS",
    "SOURCES",
    "TERMINATION_CAUSES",
    "ScaleConfig",
    "SimulationConfig",
]

ROLE_LEVELS: tuple[str, ...] = (
    "charge_nurse",
    "assistant_nurse_manager",
    "nurse_manager",
    "director",
)
"""Leader role levels, in ascending order of seniority."""

CONSTRUCTS: tuple[str, ...] = (
    "job_satisfaction",
    "work_engagement",
    "burnout",
    "wellbeing",
    "perceived_support",
    "turnover_intention",
)
"""Survey constructs simulated, in battery order."""

TERMINATION_CAUSES: tuple[str, ...] = ("voluntary", "involuntary", "retirement", "other")
"""Competing causes of leaving the organisation."""

ROLLOUTS: tuple[str, ...] = ("volunteer", "randomised")
"""How cohorts are filled (``rollout``).

``"volunteer"`` (default): each cohort recruits its own volunteers at its start. ``"randomised"``:
all cohorts' volunteers are recruited at the first cohort's recruitment date, peer groups are
formed once (within facility), and the groups' start order is randomised, stratified by facility
(a stepped wedge; see :mod:`coacheval.design.rollout`).
"""


@dataclass(frozen=True)
class ScaleConfig:
    """How one construct's scale behaves in the leader population.

    Attributes
    ----------
    instrument
        Instrument id (a file in ``data_schema/instruments``).
    mean, sd
        Population mean and standard deviation of the item mean, in item units.
    reliability
        Reliability of the scale score (the share of its variance that is true-score variance).
    effect_d
        Effect of the program at full ramp and the reference dose, in baseline SD units.

    Examples
    --------
    The defaults are in ``SimulationConfig.scales``; a changed scale goes in through
    ``with_overrides`` (or ``simulate_health_system(scales=...)``):

    >>> from coacheval.simulate import ScaleConfig, SimulationConfig
    >>> SimulationConfig().scales["work_engagement"]
    ScaleConfig(instrument='uwes9', mean=3.9, sd=1.0, reliability=0.9, effect_d=0.3)
    >>> cfg = SimulationConfig().with_overrides({"scales": {"work_engagement": {"effect_d": 0.5}}})
    >>> cfg.scales["work_engagement"].effect_d, cfg.scales["work_engagement"].instrument
    (0.5, 'uwes9')
    >>> isinstance(cfg.scales["burnout"], ScaleConfig)
    True
    """

    instrument: str
    mean: float
    sd: float
    reliability: float
    effect_d: float


def _default_scales() -> dict[str, ScaleConfig]:
    return {
        "job_satisfaction": ScaleConfig("moaq_jss", 5.2, 1.3, 0.80, 0.25),
        "work_engagement": ScaleConfig("uwes9", 3.9, 1.0, 0.90, 0.30),
        "burnout": ScaleConfig("cbi_work", 1.8, 0.72, 0.88, -0.30),
        "wellbeing": ScaleConfig("who5", 2.8, 1.0, 0.85, 0.20),
        "perceived_support": ScaleConfig("spos8", 4.3, 1.2, 0.90, 0.25),
        "turnover_intention": ScaleConfig("turnover_intention", 2.4, 1.0, 0.85, -0.20),
    }


def _default_correlations() -> tuple[tuple[float, ...], ...]:
    # order: CONSTRUCTS
    return (
        (1.00, 0.60, -0.50, 0.45, 0.50, -0.50),
        (0.60, 1.00, -0.50, 0.45, 0.40, -0.40),
        (-0.50, -0.50, 1.00, -0.60, -0.40, 0.40),
        (0.45, 0.45, -0.60, 1.00, 0.35, -0.30),
        (0.50, 0.40, -0.40, 0.35, 1.00, -0.40),
        (-0.50, -0.40, 0.40, -0.30, -0.40, 1.00),
    )


@dataclass(frozen=True)
class SimulationConfig:
    """Every parameter of the simulated health system.

    Create one with keyword overrides of the defaults, or from a YAML/JSON mapping with
    :meth:`from_mapping`. Dates are ISO strings.

    Examples
    --------
    >>> cfg = SimulationConfig(n_leaders=500)
    >>> cfg.n_leaders, cfg.n_cohorts
    (500, 3)
    >>> cfg.with_overrides({"retention": {"voluntary_hr": 1.0}}).voluntary_hr
    1.0
    """

    seed: int = 20261126
    # --- organisation
    n_leaders: int = 1000
    n_facilities: int | None = None
    units_per_department: tuple[int, int] = (3, 5)
    role_level_age_mean: tuple[float, ...] = (33.0, 37.0, 41.0, 46.0)
    # --- observation window
    window_start: str = "2021-01-01"
    extract_date: str = "2025-12-31"
    burn_in_years: float = 50.0
    vacancy_days_mean: float = 75.0
    # --- turnover (rates are separations per person-year, the HR definition)
    annual_exit_rate: float = 0.088
    cause_shares: tuple[float, float, float, float] = (0.76, 0.04, 0.19, 0.01)
    tenure_multipliers: tuple[float, ...] = (1.2, 1.3, 1.5, 1.3, 0.8)
    retirement_age_multipliers: tuple[float, ...] = (0.02, 0.25, 1.0, 3.0, 6.0)
    retirement_age_bands: tuple[float, ...] = (50.0, 55.0, 60.0, 65.0)
    mandatory_exit_age: float = 72.0
    engagement_hr_per_sd: float = 0.8
    burnout_hr_per_sd: float = 1.3
    voluntary_hr: float = 0.85
    # --- program
    n_cohorts: int = 3
    first_cohort_start: str = "2022-07-01"
    cohort_spacing_months: int = 6
    program_months: int = 12
    recruitment_lead_days: int = 60
    min_tenure_days: int = 180
    cohort_share: float = 0.10
    group_size_four_share: float = 0.7
    selection_engagement: float = 0.5
    selection_log_tenure: float = -0.3
    selection_role: tuple[float, ...] = (-0.5, 0.0, 0.3, -0.3)
    withdrawal_probability: float = 0.18
    withdrawal_burnout_log_odds: float = 0.3
    planned_sessions: int = 12
    session_fidelity_mean: float = 0.90
    attendance_mean: float = 0.80
    attendance_concentration: float = 8.0
    reference_dose: float = 0.75
    maintenance_probability: float = 0.40
    maintenance_months_mean: float = 9.0
    rollout: str = "volunteer"
    # --- effects on survey outcomes
    ramp_months: float = 6.0
    decay_by_month_12: float = 0.20
    floor_without_maintenance: float = 0.5
    # --- surveys
    scales: Mapping[str, ScaleConfig] = field(default_factory=_default_scales)
    construct_correlation: tuple[tuple[float, ...], ...] = field(
        default_factory=_default_correlations
    )
    variance_facility: float = 0.02
    variance_unit: float = 0.03
    variance_person: float = 0.60
    variance_peer_group: float = 0.03
    survey_first_wave: str = "2022-04-01"
    survey_interval_months: int = 6
    survey_field_days: int = 21
    response_rate: float = 0.60
    response_engagement_log_odds: float = 0.35
    item_missing_rate: float = 0.02
    breakoff_rate: float = 0.03
    # --- costs
    cost_per_leader_turnover_usd: float = 88000.0
    # --- staff turnover on the leaders' units (team-level spillover; unit_staffing extract)
    unit_staffing: bool = True
    staff_turnover_annual: float = 0.164
    staff_turnover_rr: float = 0.90
    staff_frailty_variance: float = 0.25
    staff_headcount_range: tuple[int, int] = (15, 45)
    staff_headcount_sd: float = 0.08

    def __post_init__(self) -> None:
        _check(self)

    # ----------------------------------------------------------------- derived values
    @property
    def variance_occasion(self) -> float:
        """True-score variance not explained by facility, unit or person."""
        return 1.0 - self.variance_facility - self.variance_unit - self.variance_person

    @property
    def icc_unit(self) -> float:
        """Share of true-score variance between units (facility included)."""
        return self.variance_facility + self.variance_unit

    @property
    def window_start_day(self) -> int:
        """Window start as days since 1970-01-01."""
        return _day(self.window_start)

    @property
    def extract_day(self) -> int:
        """Extract date as days since 1970-01-01."""
        return _day(self.extract_date)

    def cause_rates(self) -> dict[str, float]:
        """Target separations per person-year by cause, without the program."""
        return {
            c: self.annual_exit_rate * s
            for c, s in zip(TERMINATION_CAUSES, self.cause_shares, strict=True)
        }

    # ----------------------------------------------------------------- construction
    def with_overrides(self, overrides: Mapping[str, Any]) -> SimulationConfig:
        """Return a copy with some parameters changed.

        Parameters
        ----------
        overrides
            Flat ``{name: value}`` or grouped ``{"retention": {"voluntary_hr": 1.0}}`` mapping;
            group names are ignored, parameter names must exist. ``scales`` entries may give
            only the fields that change.

        Returns
        -------
        SimulationConfig

        Raises
        ------
        ConfigError
            An unknown parameter, or a value that fails the checks.
        """
        flat = _flatten(overrides)
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(flat) - known)
        if unknown:
            raise ConfigError(
                f"unknown simulation parameter(s): {', '.join(unknown)}. "
                f"Known: {', '.join(sorted(known))}"
            )
        if "scales" in flat:
            flat["scales"] = _merge_scales(self.scales, flat["scales"])
        for name, value in list(flat.items()):
            if name != "scales":
                flat[name] = _coerce(name, value, getattr(self, name))
        try:
            return dataclasses.replace(self, **flat)
        except TypeError as exc:
            raise ConfigError(str(exc)) from exc

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> SimulationConfig:
        """Build a configuration from defaults plus a (possibly grouped) mapping.

        Examples
        --------
        >>> SimulationConfig.from_mapping({"program": {"n_cohorts": 4}}).n_cohorts
        4
        """
        return cls().with_overrides(mapping)

    @classmethod
    def from_yaml(cls, path: str | Path) -> SimulationConfig:
        """Read a configuration file (YAML or JSON) of overrides.

        Raises
        ------
        ConfigError
            The file is missing, unreadable, or sets an unknown or invalid parameter.
        """
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read simulation config ({exc})", source=str(path)) from exc
        if not isinstance(data, Mapping):
            raise ConfigError("a simulation config must be a mapping", source=str(path))
        try:
            return cls.from_mapping(data)
        except ConfigError as exc:
            raise ConfigError(str(exc), source=str(path)) from exc

    def to_dict(self) -> dict[str, Any]:
        """All parameters as plain JSON-ready values.

        ``rollout`` is listed only when it is not the default ``"volunteer"``, so that the
        ``truth.json`` of a volunteer system is the same bytes as before the option existed.

        Examples
        --------
        >>> "rollout" in SimulationConfig().to_dict()
        False
        >>> SimulationConfig(rollout="randomised").to_dict()["rollout"]
        'randomised'
        """
        out = dataclasses.asdict(self)
        out["scales"] = {k: dataclasses.asdict(v) for k, v in self.scales.items()}
        if out["rollout"] == "volunteer":
            del out["rollout"]
        return out


_GROUP_NAMES = {
    "organisation",
    "window",
    "retention",
    "turnover",
    "program",
    "effects",
    "survey",
    "costs",
}


def _flatten(mapping: Mapping[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        if key in _GROUP_NAMES and isinstance(value, Mapping):
            flat.update(_flatten(value))
        else:
            flat[key] = value
    return flat


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _coerce(name: str, value: Any, default: Any) -> Any:
    """Check an override against the type of the default it replaces."""
    if name == "n_facilities":
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        raise ConfigError(f"{name} must be an integer or null (got {value!r})")
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{name} must be true or false (got {value!r})")
    if isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{name} must be an integer (got {value!r})")
    if isinstance(default, float):
        if _is_number(value):
            return float(value)
        raise ConfigError(f"{name} must be a number (got {value!r})")
    if isinstance(default, str):
        if isinstance(value, str):
            return value
        raise ConfigError(f"{name} must be text (got {value!r})")
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name} must be a list (got {value!r})")
        nested = bool(default) and isinstance(default[0], tuple)
        out = []
        for element in value:
            if nested:
                if not isinstance(element, (list, tuple)) or not all(
                    _is_number(v) for v in element
                ):
                    raise ConfigError(f"{name} must be a list of lists of numbers (got {value!r})")
                out.append(tuple(float(v) for v in element))
            elif _is_number(element):
                out.append(element)
            else:
                raise ConfigError(f"{name} must be a list of numbers (got {value!r})")
        return tuple(out)
    return value


def _merge_scales(current: Mapping[str, ScaleConfig], new: Any) -> dict[str, ScaleConfig]:
    if not isinstance(new, Mapping):
        raise ConfigError("'scales' must map construct names to scale settings")
    merged = dict(current)
    for construct, settings in new.items():
        if construct not in merged:
            raise ConfigError(f"unknown construct {construct!r}; known: {', '.join(CONSTRUCTS)}")
        if isinstance(settings, ScaleConfig):
            merged[construct] = settings
            continue
        if not isinstance(settings, Mapping):
            raise ConfigError(f"scales.{construct} must be a mapping of settings")
        current_scale = merged[construct]
        checked = {}
        for key, value in settings.items():
            if key not in {f.name for f in dataclasses.fields(ScaleConfig)}:
                raise ConfigError(f"scales.{construct}: unknown setting {key!r}")
            checked[key] = _coerce(f"scales.{construct}.{key}", value, getattr(current_scale, key))
        merged[construct] = dataclasses.replace(current_scale, **checked)
    return merged


def _day(text: str) -> int:
    try:
        return (date.fromisoformat(text) - date(1970, 1, 1)).days
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{text!r} is not an ISO date (YYYY-MM-DD)") from exc


def _check(cfg: SimulationConfig) -> None:
    def need(ok: bool, message: str) -> None:
        if not ok:
            raise ConfigError(message)

    need(
        isinstance(cfg.n_leaders, int) and cfg.n_leaders >= 20, "n_leaders must be an integer >= 20"
    )
    need(cfg.n_facilities is None or cfg.n_facilities >= 1, "n_facilities must be >= 1")
    need(cfg.window_start_day < cfg.extract_day, "window_start must be before extract_date")
    need(cfg.n_cohorts >= 1, "n_cohorts must be >= 1")
    first = _day(cfg.first_cohort_start)
    need(
        cfg.window_start_day < first <= cfg.extract_day, "first_cohort_start must lie in the window"
    )
    need(0 < cfg.annual_exit_rate < 1, "annual_exit_rate must lie in (0, 1)")
    need(
        len(cfg.cause_shares) == 4 and abs(sum(cfg.cause_shares) - 1) < 1e-9,
        "cause_shares must be four shares (voluntary, involuntary, retirement, other) summing to 1",
    )
    need(len(cfg.tenure_multipliers) == 5, "tenure_multipliers needs five values (years 1-4, 5+)")
    need(
        len(cfg.retirement_age_multipliers) == len(cfg.retirement_age_bands) + 1,
        "retirement_age_multipliers needs one more value than retirement_age_bands",
    )
    need(
        len(cfg.role_level_age_mean) == len(ROLE_LEVELS),
        "role_level_age_mean needs one value per role",
    )
    need(
        len(cfg.selection_role) == len(ROLE_LEVELS), "selection_role needs one value per role level"
    )
    need(
        cfg.voluntary_hr > 0 and cfg.engagement_hr_per_sd > 0 and cfg.burnout_hr_per_sd > 0,
        "hazard ratios must be positive",
    )
    need(0 < cfg.cohort_share < 0.5, "cohort_share must lie in (0, 0.5)")
    need(
        cfg.rollout in ROLLOUTS,
        f"rollout must be one of {', '.join(ROLLOUTS)} (got {cfg.rollout!r})",
    )
    need(
        cfg.rollout != "randomised" or cfg.n_cohorts >= 2,
        "a randomised rollout needs n_cohorts >= 2",
    )
    need(0 <= cfg.withdrawal_probability < 1, "withdrawal_probability must lie in [0, 1)")
    need(
        0 < cfg.attendance_mean < 1 and 0 < cfg.session_fidelity_mean <= 1,
        "attendance_mean and session_fidelity_mean must lie in (0, 1)",
    )
    need(0 < cfg.response_rate < 1, "response_rate must lie in (0, 1)")
    need(cfg.variance_occasion > 0, "facility + unit + person variance shares must sum to < 1")
    need(set(cfg.scales) == set(CONSTRUCTS), f"scales must cover exactly {', '.join(CONSTRUCTS)}")
    for name, s in cfg.scales.items():
        need(0 < s.reliability < 1 and s.sd > 0, f"scales.{name}: reliability in (0,1) and sd > 0")
    corr = np.asarray(cfg.construct_correlation, dtype=float)
    need(
        corr.shape == (len(CONSTRUCTS), len(CONSTRUCTS)) and np.allclose(corr, corr.T),
        "construct_correlation must be a symmetric 6x6 matrix",
    )
    need(
        bool(np.all(np.linalg.eigvalsh(corr) > 0)),
        "construct_correlation must be positive definite",
    )


#: Where each default of :class:`SimulationConfig` comes from, by parameter: ``[V]`` read in
#: the primary source, ``[S]`` in a secondary source, ``[U]`` a modelling assumption (DOMAIN.md).
SOURCES: dict[str, str] = {
    "n_leaders": "[U] the issue's 'order of a thousand leaders'; DOMAIN.md suggests 240 for a 4-hospital system",
    "n_facilities": "[U] about 250 leaders per facility (DOMAIN.md: 4 hospitals, ~60 frontline leaders each, plus charge nurses)",
    "annual_exit_rate": "[S] nurse-manager exit rate 8.8%/yr, Laudio/AONL 2024 (DOMAIN.md 2.1)",
    "cause_shares": "[S] resignations 94.7% of exits (NSI 2023); retirement ~20% of voluntary exits [U] (DOMAIN.md 5)",
    "tenure_multipliers": "[S/U] manager exits peak ~12% in year 3 (Laudio/AONL 2024); renormalised by calibration",
    "retirement_age_multipliers": "[U] retirement concentrated after 60",
    "engagement_hr_per_sd": "[U] DOMAIN.md 5 leader_turnover.engagement_hazard_ratio_per_sd",
    "burnout_hr_per_sd": "[U] DOMAIN.md 5 leader_turnover.burnout_hazard_ratio_per_sd",
    "voluntary_hr": "[U] DOMAIN.md 5: 0.85 (range 0.70-1.00); no trial evidence on actual turnover",
    "cohort_share": "[U] cohort of ~96 leaders per DOMAIN.md 5, i.e. ~10% of 1000",
    "group_size_four_share": "[U] group size mean 3.7 (DOMAIN.md 5)",
    "selection_engagement": "[U] volunteers differ at baseline (Dyrbye 2019: 12% uptake); baseline_selection_effect_d ~0.2",
    "withdrawal_probability": "[U] programme dropout 10-52% (Codier 2011: 52%); DOMAIN.md default 0.25 incl. leavers",
    "attendance_mean": "[U] DOMAIN.md 5 session_attendance_mean 0.75",
    "maintenance_probability": "[U] share of groups meeting after the program",
    "scales.job_satisfaction": "[U] MOAQ-JSS mean 5.2 (SD 1.3); alpha .67-.95 [V]; d 0.25 [U]",
    "scales.work_engagement": "[S/U] UWES-9 norm 3.74 (1.17), leaders assumed 3.9 (1.0); d 0.30 [U]",
    "scales.burnout": "[U] CBI work-related mean 45 (SD 18) on 0-100 = 1.8 (0.72) in codes; alpha .89 [V]; d -0.30",
    "scales.wellbeing": "[U] WHO-5 56% (SD 20) = item mean 2.8 (1.0); alpha .81-.90 [V]; d 0.20",
    "scales.perceived_support": "[U] SPOS-8 mean 4.3 (1.2); alpha ~.90 [V]; d 0.25",
    "scales.turnover_intention": "[U] 3-item intention 2.4 (1.0) on 1-5; d -0.20 (McGonagle 2020: no effect [V])",
    "construct_correlation": "[U] DOMAIN.md 5 correlations (engagement-burnout -0.5, ...), completed to be PD",
    "variance_unit": "[V/U] unit ICC 0.05 incl. facility (SAQ job satisfaction 0.06; range 0.02-0.15)",
    "variance_facility": "[U] hospital ICC 0.02 (DOMAIN.md 4)",
    "variance_peer_group": "[U] peer-group ICC 0.03 (range 0-0.05)",
    "variance_person": "[U] 6-month test-retest of true scores ~0.65",
    "response_rate": "[U] 0.60 leader survey response (range 0.40-0.81)",
    "response_engagement_log_odds": "[U] less engaged leaders respond less (DOMAIN.md: OR 1.2-1.4 per SD)",
    "item_missing_rate": "[U] 2% per item MCAR",
    "breakoff_rate": "[U] 3% break off in the last third of the battery",
    "cost_per_leader_turnover_usd": "[S/U] 0.75-2x salary (nursing turnover research); ~1x a $88k leader salary",
    "unit_staffing": "[U] write the optional unit_staffing extract (staff per unit-month)",
    "staff_turnover_annual": (
        "[S] staff/bedside RN turnover 16.4%/yr (NSI 2025, CY2024; 17.6% NSI 2026; DOMAIN.md "
        "2.1, 5): separations per headcount-year, so the monthly rate is this / 12"
    ),
    "staff_turnover_rr": (
        "[U] rate ratio of staff separations on a unit from the month after one of its leaders "
        "enrolled; no trial evidence (Laudio/AONL 2024: 2-7-pt observational swings with manager "
        "behaviour); 1.0 = null scenario"
    ),
    "staff_frailty_variance": (
        "[U] variance of a mean-1 gamma unit frailty on the staff separation rate "
        "(overdispersion; NSI bed-size range 5-36%)"
    ),
    "staff_headcount_range": (
        "[U] front-line staff per clinical unit, uniform between the bounds "
        "(DOMAIN.md: span of control median 46 per manager)"
    ),
    "staff_headcount_sd": (
        "[U] SD of a unit's log headcount around its level, AR(1) by month, autocorrelation 0.9"
    ),
}
