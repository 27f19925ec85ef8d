"""Cause-specific exit hazards of leaders, their calibration, and exact event-time sampling.

Hazards are piecewise constant (per year):

* voluntary: ``lam_v * tenure_multiplier(tenure) * frailty * voluntary_hr ** enrolled(t)``;
* involuntary and other: constant ``lam_i`` and ``lam_o``;
* retirement: ``lam_r * age_multiplier(age)``, and a forced retirement at the mandatory age.

``frailty = exp(b_e z_engagement + b_b z_burnout - v / 2)`` has mean one. Event times are drawn
exactly by inverting the cumulative hazard with one unit exponential per person, so a person's
exit with and without the program are coupled (same draw). The base rates are calibrated so that
the equilibrium separations per person-year by cause equal the configured values.

This module is the simulator's engine, called by
:func:`~coacheval.simulate.simulate_health_system`; like the simulator's other engine modules, it
has no public API (its functions take per-person arrays of draws), so its ``__all__`` is empty.
The calibrated model is reported in ``truth.json`` and kept as ``SimulatedSystem.hazards``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import root

from coacheval.errors import ConfigError
from coacheval.simulate.config import SimulationConfig

__all__: list[str] = []

DAYS_PER_YEAR = 365.25
N_CAUSES = 4  # voluntary, involuntary, retirement, other
AGE_SD = 7.0
AGE_BOUNDS = (22.0, 62.0)


@dataclass(frozen=True)
class HazardModel:
    """Calibrated base hazards (per year) and the multipliers they are combined with."""

    base: tuple[float, float, float, float]
    tenure_multipliers: tuple[float, ...]
    age_bands: tuple[float, ...]
    age_multipliers: tuple[float, ...]
    mandatory_age: float
    voluntary_hr: float
    frailty_coefficients: tuple[float, float]
    frailty_variance: float

    def to_dict(self) -> dict[str, object]:
        """JSON-ready description for ``truth.json``."""
        return {
            "base_hazard_per_year": dict(
                zip(("voluntary", "involuntary", "retirement", "other"), self.base, strict=True)
            ),
            "voluntary_tenure_multipliers_by_year": list(self.tenure_multipliers),
            "retirement_age_bands": list(self.age_bands),
            "retirement_age_multipliers": list(self.age_multipliers),
            "mandatory_exit_age": self.mandatory_age,
            "voluntary_hr_enrolled": self.voluntary_hr,
            "frailty_log_hr_per_sd": {
                "work_engagement": self.frailty_coefficients[0],
                "burnout": self.frailty_coefficients[1],
            },
            "frailty_variance": self.frailty_variance,
        }


def frailty_parameters(cfg: SimulationConfig) -> tuple[tuple[float, float], float]:
    """Log-hazard coefficients on the engagement and burnout traits, and the frailty variance."""
    b = np.array([np.log(cfg.engagement_hr_per_sd), np.log(cfg.burnout_hr_per_sd)])
    corr = np.asarray(cfg.construct_correlation)
    r = corr[1, 2]  # work_engagement x burnout
    v = float(b[0] ** 2 + b[1] ** 2 + 2 * r * b[0] * b[1])
    return (float(b[0]), float(b[1])), v


def _segment_hazards(
    model: HazardModel,
    tenure_mid: np.ndarray,
    age_mid: np.ndarray,
    frailty: np.ndarray,
    enrolled: np.ndarray,
) -> np.ndarray:
    """Cause-specific hazards (..., 4) per year at the given tenure/age points."""
    band = np.clip(np.floor(tenure_mid).astype(np.int64), 0, len(model.tenure_multipliers) - 1)
    tenure_mult = np.asarray(model.tenure_multipliers)[band]
    age_band = np.searchsorted(np.asarray(model.age_bands), age_mid, side="right")
    age_mult = np.asarray(model.age_multipliers)[age_band]
    lam_v, lam_i, lam_r, lam_o = model.base
    vol = lam_v * tenure_mult * frailty * np.where(enrolled, model.voluntary_hr, 1.0)
    return np.stack(
        [vol, np.full_like(vol, lam_i), lam_r * age_mult, np.full_like(vol, lam_o)], axis=-1
    )


def _breakpoints(model: HazardModel, age_hire: np.ndarray, enrol_years: np.ndarray) -> np.ndarray:
    """Sorted segment starts in years since hire, (n, B); the last column is the mandatory age."""
    n = len(age_hire)
    mandatory = model.mandatory_age - age_hire
    tenure_points = np.arange(1, len(model.tenure_multipliers), dtype=float)
    cols = [np.zeros(n)]
    cols += [np.full(n, t) for t in tenure_points]
    cols += [np.asarray(a - age_hire) for a in model.age_bands]
    cols.append(np.asarray(enrol_years, dtype=float))
    points = np.stack(cols, axis=1)
    points = np.where((points >= 0) & (points < mandatory[:, None]), points, np.inf)
    points[:, 0] = 0.0
    points = np.sort(points, axis=1)
    return np.concatenate([points, mandatory[:, None]], axis=1)


def _segments(
    model: HazardModel, age_hire: np.ndarray, frailty: np.ndarray, enrol_years: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segment starts, ends (years since hire) and hazards (n, B, 4) up to the mandatory age."""
    points = _breakpoints(model, age_hire, enrol_years)
    mandatory = points[:, -1:]
    starts = points[:, :-1]
    ends = np.concatenate([points[:, 1:-1], mandatory], axis=1)
    # Infinite breakpoints are placeholders after the mandatory age: make them empty segments.
    starts = np.minimum(starts, mandatory)
    ends = np.minimum(np.maximum(ends, starts), mandatory)
    probe = starts + 1e-9
    haz = _segment_hazards(
        model,
        probe,
        age_hire[:, None] + probe,
        frailty[:, None],
        probe >= np.asarray(enrol_years, dtype=float)[:, None],
    )
    return starts, ends, haz


def sample_exits(
    model: HazardModel,
    age_hire: np.ndarray,
    frailty: np.ndarray,
    enrol_years: np.ndarray,
    exp_draw: np.ndarray,
    cause_draw: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact exit times (years since hire) and causes (0-3) by inverting the cumulative hazard.

    Parameters
    ----------
    model
        Calibrated hazards.
    age_hire, frailty
        Per-person age at hire (years) and frailty multiplier.
    enrol_years
        Time of enrolment in years since hire (``inf`` if never enrolled).
    exp_draw, cause_draw
        One unit-exponential and one uniform draw per person.

    Returns
    -------
    tuple of ndarray
        Exit time in years since hire, and the cause index.
    """
    starts, ends, haz = _segments(model, age_hire, frailty, enrol_years)
    total = haz.sum(axis=-1)
    length = ends - starts
    cum_end = np.cumsum(total * length, axis=1)
    cum_start = cum_end - total * length
    seg = np.argmax(cum_end >= exp_draw[:, None], axis=1)
    reached = cum_end[np.arange(len(seg)), seg] >= exp_draw
    rows = np.arange(len(seg))
    t = starts[rows, seg] + (exp_draw - cum_start[rows, seg]) / total[rows, seg]
    probs = haz[rows, seg] / total[rows, seg][:, None]
    cause = np.argmax(np.cumsum(probs, axis=1) > cause_draw[:, None], axis=1)
    mandatory = ends[:, -1]
    t = np.where(reached, t, mandatory)
    cause = np.where(reached, cause, 2)  # forced retirement at the mandatory age
    return t, cause


def integrated_hazards(
    model: HazardModel,
    age_hire: np.ndarray,
    frailty: np.ndarray,
    enrol_years: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    exposed: bool | None = None,
) -> np.ndarray:
    """Integrated cause-specific hazards over ``[lower, upper]`` years since hire, (n, 4).

    The forced retirement at the mandatory age is counted as one retirement event when the
    interval reaches it. ``exposed`` restricts the integral to enrolled (``True``) or not yet
    enrolled (``False``) time.
    """
    starts, ends, haz = _segments(model, age_hire, frailty, enrol_years)
    lo = np.clip(starts, lower[:, None], upper[:, None])
    hi = np.clip(ends, lower[:, None], upper[:, None])
    overlap = np.maximum(hi - lo, 0.0)
    if exposed is not None:
        is_exposed = starts >= np.asarray(enrol_years, dtype=float)[:, None]
        overlap = np.where(is_exposed == exposed, overlap, 0.0)
    out = np.einsum("nb,nbc->nc", overlap, haz)
    mandatory = ends[:, -1]
    forced = (upper >= mandatory) & (lower < mandatory)
    if exposed is not None:
        forced &= (mandatory >= enrol_years) == exposed
    out[:, 2] += forced
    return out


def calibrate(cfg: SimulationConfig, role_counts: np.ndarray) -> HazardModel:
    """Find base hazards whose equilibrium separations per person-year match the targets.

    The workforce is a renewal process per seat (each leaver replaced after a vacancy), so in
    equilibrium the separations per person-year of cause c are
    ``sum_r n_r E[N_c,r] / (E[T_r] + vacancy) / sum_r n_r E[T_r] / (E[T_r] + vacancy)``,
    computed by quadrature over age at hire (per role) and frailty, on a monthly tenure grid.

    Parameters
    ----------
    cfg
        Simulation configuration.
    role_counts
        Number of seats per role level.

    Returns
    -------
    HazardModel
    """
    coef, v = frailty_parameters(cfg)
    targets = np.array(list(cfg.cause_rates().values()))

    def model_for(base: np.ndarray) -> HazardModel:
        return HazardModel(
            tuple(float(b) for b in base),
            cfg.tenure_multipliers,
            cfg.retirement_age_bands,
            cfg.retirement_age_multipliers,
            cfg.mandatory_exit_age,
            cfg.voluntary_hr,
            coef,
            v,
        )

    def log_gap(log_base: np.ndarray) -> np.ndarray:
        rates = equilibrium_rates(cfg, model_for(np.exp(log_base)), role_counts)
        return np.log(rates) - np.log(targets)

    solution = root(log_gap, np.log(targets), method="hybr", options={"xtol": 1e-10})
    if not solution.success or np.max(np.abs(log_gap(solution.x))) > 1e-7:
        raise ConfigError(
            "the turnover targets cannot be reached with these settings (for example, forced "
            "retirement at mandatory_exit_age alone exceeds the retirement share)"
        )
    return model_for(np.exp(solution.x))


def equilibrium_rates(
    cfg: SimulationConfig, model: HazardModel, role_counts: np.ndarray
) -> np.ndarray:
    """Separations per person-year by cause of a workforce in renewal equilibrium.

    Quadrature over age at hire (9 Gauss-Hermite nodes per role) and frailty (15 nodes), on a
    monthly tenure grid up to the mandatory exit age.
    """
    return _equilibrium(cfg, model, role_counts)[0]


def employed_trait_means(
    cfg: SimulationConfig, model: HazardModel, role_counts: np.ndarray
) -> np.ndarray:
    """Mean of each standardised trait among the leaders employed at any moment in equilibrium.

    New hires' traits are N(0, R). Leaders with a low frailty stay longer, so the employed
    workforce is tilted: its density of the log-frailty ``u = b'z`` is proportional to
    ``phi(u) E[T | u]`` and, since ``E[z | u] = R b u / v``, the trait means are
    ``R b E_employed[u] / v``.
    """
    _, mean_u = _equilibrium(cfg, model, role_counts)
    b = np.zeros(len(cfg.construct_correlation))
    b[1], b[2] = model.frailty_coefficients  # work_engagement, burnout
    corr = np.asarray(cfg.construct_correlation)
    v = model.frailty_variance
    return corr @ b * (mean_u / v) if v > 0 else np.zeros(len(b))


def _equilibrium(
    cfg: SimulationConfig, model: HazardModel, role_counts: np.ndarray
) -> tuple[np.ndarray, float]:
    v = model.frailty_variance
    gh_x, gh_w = np.polynomial.hermite_e.hermegauss(15)
    gh_w = gh_w / gh_w.sum()
    frail_nodes = np.exp(np.sqrt(v) * gh_x - v / 2)
    age_x, age_w = np.polynomial.hermite_e.hermegauss(9)
    age_w = age_w / age_w.sum()
    dt = 1.0 / 12.0
    grid = np.arange(0.0, 60.0, dt)
    vac = cfg.vacancy_days_mean / DAYS_PER_YEAR
    events = np.zeros(N_CAUSES)
    time = 0.0
    u_time = 0.0
    for r, n_r in enumerate(role_counts):
        if n_r == 0:
            continue
        ages = np.clip(cfg.role_level_age_mean[r] + AGE_SD * age_x, *AGE_BOUNDS)
        a, f = np.meshgrid(ages, frail_nodes, indexing="ij")
        w = np.outer(age_w, gh_w).ravel()
        a, f = a.ravel(), f.ravel()
        mandatory = cfg.mandatory_exit_age - a
        mid = grid[None, :] + dt / 2
        haz = _segment_hazards(
            model, mid, a[:, None] + mid, f[:, None], np.zeros((len(a), len(grid)), bool)
        )
        alive_step = (grid[None, :] + dt) <= mandatory[:, None]
        haz = haz * alive_step[..., None]
        total = haz.sum(-1)
        cum = np.concatenate([np.zeros((len(a), 1)), np.cumsum(total * dt, axis=1)], axis=1)
        surv = np.exp(-cum)
        step_event = surv[:, :-1] - surv[:, 1:]
        with np.errstate(invalid="ignore", divide="ignore"):
            exp_time = np.where(total > 0, step_event / total, 0.0)
            share = np.where(total[..., None] > 0, haz / total[..., None], 0.0)
        e_t = (exp_time * alive_step).sum(1)
        e_n = (step_event[..., None] * share).sum(1)
        e_n[:, 2] += surv[np.arange(len(a)), alive_step.sum(1)]  # forced retirement
        e_t_r, e_n_r = w @ e_t, w @ e_n
        cycle = e_t_r + vac
        events += n_r * e_n_r / cycle
        time += n_r * e_t_r / cycle
        u = np.log(f) + v / 2
        u_time += n_r * (w @ (u * e_t)) / cycle
    return events / time, u_time / time
