"""Power of the retention analysis by simulation through coacheval's own simulator.

:func:`simulated_retention_power` answers "would the primary retention analysis detect a
program effect of this size?" by running it: each of ``n_systems`` seeded health systems is
simulated by :func:`coacheval.simulate.simulate_health_system` with the program's hazard ratio
of voluntary exit set to ``hazard_ratio``, written to a folder and loaded as a study (as
:func:`coacheval.evaluate.calibration.replicate_retention` does), and the default plan's primary
retention estimate is computed by :func:`coacheval.evaluate.retention.retention_estimates`: the
hazard ratio of voluntary turnover, enrolled vs not (yet) enrolled, from a Cox model with
time-varying enrolment on the tenure scale adjusted for role level with a variance clustered by
peer group (rows with ``method == "cox_tv"`` and ``outcome == "voluntary turnover"``). The
empirical power is the share of systems whose two-sided ``1 - alpha`` confidence interval
excludes 1, with Monte Carlo SE ``sqrt(power (1 - power) / n_systems)``.

Beside it, Schoenfeld's formula (:mod:`coacheval.retention.power`) is evaluated for the same
design: for each simulated system, with ``D`` its voluntary exits in the Cox model and ``p`` the
enrolled share of its person-time, ``Phi(sqrt(D p (1 - p)) |log HR| - z) + Phi(-sqrt(D p (1 -
p)) |log HR| - z)``, averaged over systems (so that it averages over the same spread of event
counts as the simulation). The formula assumes a fixed binary exposure, proportional hazards
and a model-based variance; the simulated analysis has time-varying enrolment, covariate
adjustment, a clustered sandwich variance and unmeasured frailty (engagement and burnout
traits), so the two can differ, and the comparison shows by how much.

Selection on engagement is switched off by default (``selection_engagement=0.0``): in the
default simulator more engaged leaders volunteer for coaching and also leave less, an unmeasured
confounder that biases the hazard ratio towards benefit (see
:data:`coacheval.evaluate.calibration.RETENTION_WORLDS`), which would make "power" partly the
power to detect confounding. With it off, enrolment still depends on tenure and role, which the
model accounts for, so the power is that of the design. Pass ``selection_engagement=0.5`` (the
simulator's default) to see the power of the analysis in the confounded world.

System seeds are drawn once from ``numpy.random.SeedSequence(seed).spawn(n_systems)`` and reused
for every hazard ratio of a grid (common random numbers: the power curve is smoother and the
comparison between hazard ratios more precise than with independent systems). The ``k``-th
system's seed does not depend on ``n_systems``, and results are gathered in task order, so a
seed gives the same result whatever the number of processes.

Examples
--------
>>> from coacheval.retention.simulated_power import SimulatedPowerResult
>>> reps = pd.DataFrame({"hazard_ratio": [0.7] * 4, "system": range(4),
...                      "system_seed": [11, 12, 13, 14], "events": [120, 130, 110, 125],
...                      "share_treated": [0.2] * 4, "person_years": [2900.0] * 4,
...                      "log_hr": [-0.5, -0.2, -0.4, -0.1], "se": [0.2] * 4})
>>> res = SimulatedPowerResult.from_replications(reps, n_leaders=1000)
>>> float(res.power), round(float(res.table.power_mc_se.iloc[0]), 3)
(0.5, 0.25)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from coacheval.errors import ConfigError
from coacheval.results import TableResult
from coacheval.retention.power import _power_from_events

__all__ = ["SimulatedPowerResult", "simulated_retention_power", "system_seeds"]

_OUTCOME = "voluntary turnover"
_METHOD = "cox_tv"
_RESERVED = ("seed", "n_leaders", "voluntary_hr")
_REPLICATION_COLUMNS = (
    "hazard_ratio",
    "system",
    "system_seed",
    "events",
    "share_treated",
    "person_years",
    "log_hr",
    "se",
)


def system_seeds(seed: int, n_systems: int) -> np.ndarray:
    """Seeds of the simulated health systems: one per system, independent of ``n_systems``.

    The ``k``-th seed is the first 32-bit word of the ``k``-th child of
    ``numpy.random.SeedSequence(seed)``, so the first systems of a longer run are those of a
    shorter one.

    Parameters
    ----------
    seed
        Master seed (a non-negative integer).
    n_systems
        Number of seeds.

    Returns
    -------
    numpy.ndarray
        ``n_systems`` integer seeds.

    Examples
    --------
    >>> bool((system_seeds(1, 5)[:3] == system_seeds(1, 3)).all())
    True
    """
    children = np.random.SeedSequence(int(seed)).spawn(int(n_systems))
    return np.array([int(c.generate_state(1)[0]) for c in children], dtype=np.int64)


def _replicate(task: tuple[float, int, int, int, float, tuple[tuple[str, Any], ...]]) -> dict:
    """Simulate, write, load and analyse one health system; return its primary estimate."""
    from coacheval.evaluate.calibration import _KEY
    from coacheval.evaluate.plan import load_plan
    from coacheval.evaluate.retention import retention_estimates
    from coacheval.io.study import load_study
    from coacheval.simulate import simulate_health_system

    hr, system, system_seed, n_leaders, alpha, overrides = task
    sim = simulate_health_system(
        seed=system_seed, n_leaders=n_leaders, voluntary_hr=hr, **dict(overrides)
    )
    with tempfile.TemporaryDirectory() as folder:
        sim.write(folder)
        study = load_study(folder, key=_KEY)
    plan = load_plan("default")
    plan = plan.model_copy(
        update={
            "retention": plan.retention.model_copy(
                update={
                    "window_start": pd.Timestamp(sim.config.window_start).date(),
                    "extract_date": pd.Timestamp(sim.config.extract_date).date(),
                }
            ),
            "inference": plan.inference.model_copy(update={"level": 1.0 - alpha}),
        }
    )
    rows, results = retention_estimates(study, plan, [])
    data = results[("person_time", "retention")]
    years = (data.rows.stop - data.rows.start).to_numpy()
    exposed = data.rows.exposed.to_numpy() == 1
    out = {
        "hazard_ratio": hr,
        "system": system,
        "system_seed": system_seed,
        "events": np.nan,
        "share_treated": float(years[exposed].sum() / years.sum()) if years.sum() > 0 else np.nan,
        "person_years": float(years.sum()),
        "log_hr": np.nan,
        "se": np.nan,
    }
    cox = results.get((_METHOD, _OUTCOME))
    if cox is not None:
        out["events"] = float(cox.n_events)
    else:
        out["events"] = float(data.events_for("voluntary").sum())
    primary = [r for r in rows if r["method"] == _METHOD and r["outcome"] == _OUTCOME]
    if primary:
        row = primary[0]
        out["log_hr"] = float(np.log(row["estimate"]))
        out["se"] = float(row["std_error"])
        out["conf_low"] = float(np.log(row["conf_low"]))
        out["conf_high"] = float(np.log(row["conf_high"]))
    return out


def _interpolate_mdhr(hrs: np.ndarray, power: np.ndarray, target: float) -> float:
    """Protective hazard ratio where ``power`` first reaches ``target`` going down from 1.

    Linear interpolation in ``log HR`` between the two grid points that bracket the target;
    NaN when the grid (hazard ratios <= 1) does not bracket it.
    """
    keep = hrs <= 1
    order = np.argsort(-hrs[keep])
    h, p = np.log(hrs[keep][order]), power[keep][order]
    for i in range(len(h) - 1):
        if p[i] < target <= p[i + 1]:
            w = (target - p[i]) / (p[i + 1] - p[i])
            return float(np.exp(h[i] + w * (h[i + 1] - h[i])))
    return np.nan


@dataclass(frozen=True, eq=False)
class SimulatedPowerResult(TableResult):
    """Simulated power of the primary retention analysis, beside Schoenfeld's formula.

    Attributes
    ----------
    table
        One row per hazard ratio: ``hazard_ratio, n_systems, estimable, rejections, power,
        power_mc_se, formula_power, freedman_power, mean_events, mean_share_treated,
        mean_log_hr, sd_log_hr, mean_se_log_hr, formula_se_log_hr``. ``power`` is the share of all systems whose CI
        excludes 1 (a system whose Cox model could not be fitted counts as not rejecting);
        ``formula_power`` and ``freedman_power`` are Schoenfeld's and Freedman's power for each
        system's own events ``D`` and enrolled share of person-time ``p``, averaged over systems
        (0 for a system without events); ``mean_log_hr``/``sd_log_hr``/``mean_se_log_hr`` are
        over the estimable systems; ``formula_se_log_hr`` is the mean of
        ``1 / sqrt(D p (1 - p))``, Schoenfeld's standard error of the log hazard ratio.
    replications
        One row per system and hazard ratio: ``hazard_ratio, system, system_seed, events,
        share_treated, person_years, log_hr, se, conf_low, conf_high, rejects``.
    n_leaders
        Leader positions per simulated system.
    alpha, target_power
        Two-sided level of the CIs and the power the minimum detectable HR refers to.
    mdhr, mdhr_formula
        Protective hazard ratios with ``target_power``, interpolated linearly in ``log HR`` on
        the grid (simulated and formula power); NaN unless the grid brackets the target.
    seed, simulator_overrides
        Master seed and the simulator parameters used besides ``seed``, ``n_leaders`` and
        ``voluntary_hr``.

    Examples
    --------
    >>> reps = pd.DataFrame({"hazard_ratio": [1.0, 1.0, 0.5, 0.5], "system": [0, 1, 0, 1],
    ...                      "system_seed": [5, 6, 5, 6], "events": [100, 90, 80, 70],
    ...                      "share_treated": 0.25, "person_years": 1500.0,
    ...                      "log_hr": [0.1, -0.2, -0.9, -0.5], "se": 0.3})
    >>> res = SimulatedPowerResult.from_replications(reps, n_leaders=300)
    >>> res.table.power.tolist()
    [0.0, 0.5]
    >>> round(res.mdhr, 3)  # 80% lies beyond the grid's strongest effect
    nan
    """

    table: pd.DataFrame
    replications: pd.DataFrame
    n_leaders: int
    alpha: float
    target_power: float
    mdhr: float
    mdhr_formula: float
    seed: int | None = None
    simulator_overrides: tuple[tuple[str, Any], ...] = ()
    title: str = "Retention power by simulation (time-varying Cox, voluntary turnover)"
    notes: tuple[str, ...] = field(default=())

    @classmethod
    def from_replications(
        cls,
        replications: pd.DataFrame,
        *,
        n_leaders: int,
        alpha: float = 0.05,
        target_power: float = 0.8,
        seed: int | None = None,
        simulator_overrides: Mapping[str, Any] | None = None,
    ) -> SimulatedPowerResult:
        """Summarise per-system estimates into simulated and formula power.

        Parameters
        ----------
        replications
            One row per system and hazard ratio with ``hazard_ratio, system, system_seed,
            events, share_treated, person_years, log_hr, se`` (``log_hr``/``se`` NaN where the
            Cox model could not be fitted); ``conf_low``/``conf_high`` (log scale) are computed
            as ``log_hr -/+ z se`` when absent.
        n_leaders
            Leader positions per system (for the report).
        alpha, target_power
            Two-sided level and the power the minimum detectable hazard ratio refers to.
        seed, simulator_overrides
            Recorded for the report.

        Returns
        -------
        SimulatedPowerResult

        Raises
        ------
        ConfigError
            Missing columns, or no rows.

        Examples
        --------
        >>> reps = pd.DataFrame({"hazard_ratio": 0.8, "system": [0, 1], "system_seed": [1, 2],
        ...                      "events": [200, 220], "share_treated": 0.3,
        ...                      "person_years": 3000.0, "log_hr": [-0.5, 0.1], "se": 0.2})
        >>> SimulatedPowerResult.from_replications(reps, n_leaders=1000).table.rejections.item()
        1
        """
        missing = [c for c in _REPLICATION_COLUMNS if c not in replications]
        if missing:
            raise ConfigError(f"replications lack the column(s) {missing}")
        if len(replications) == 0:
            raise ConfigError("replications has no rows")
        _check_alpha(alpha)
        if not 0 < target_power < 1:
            raise ConfigError(f"target_power must be strictly between 0 and 1, got {target_power}")
        z = float(stats.norm.ppf(1 - alpha / 2))
        reps = replications.copy()
        if "conf_low" not in reps:
            reps["conf_low"] = reps.log_hr - z * reps.se
        if "conf_high" not in reps:
            reps["conf_high"] = reps.log_hr + z * reps.se
        reps["rejects"] = ((reps.conf_high < 0) | (reps.conf_low > 0)).astype(bool)
        d = reps.events.to_numpy(float)
        p = reps.share_treated.to_numpy(float)
        info = d * p * (1 - p)
        # Schoenfeld's power (coacheval.retention.power) for each system's own D and p
        reps["formula_power"] = np.where(
            info > 0,
            _power_from_events(reps.hazard_ratio.to_numpy(float), d, p, alpha, "schoenfeld"),
            np.nan,
        )
        reps["freedman_power"] = np.where(
            info > 0,
            _power_from_events(reps.hazard_ratio.to_numpy(float), d, p, alpha, "freedman"),
            np.nan,
        )
        reps["formula_se"] = np.where(info > 0, 1 / np.sqrt(np.where(info > 0, info, 1)), np.inf)
        rows = []
        for hr, g in reps.groupby("hazard_ratio", sort=False):
            n = len(g)
            ok = g.log_hr.notna()
            power = float(g.rejects.sum() / n)
            rows.append(
                {
                    "hazard_ratio": float(hr),
                    "n_systems": n,
                    "estimable": int(ok.sum()),
                    "rejections": int(g.rejects.sum()),
                    "power": power,
                    "power_mc_se": float(np.sqrt(power * (1 - power) / n)),
                    "formula_power": float(g.formula_power.fillna(0.0).mean()),
                    "freedman_power": float(g.freedman_power.fillna(0.0).mean()),
                    "mean_events": float(g.events.mean()),
                    "mean_share_treated": float(g.share_treated.mean()),
                    "mean_log_hr": float(g.log_hr[ok].mean()) if ok.any() else np.nan,
                    "sd_log_hr": float(g.log_hr[ok].std(ddof=1)) if ok.sum() > 1 else np.nan,
                    "mean_se_log_hr": float(g.se[ok].mean()) if ok.any() else np.nan,
                    "formula_se_log_hr": float(g.formula_se[np.isfinite(g.formula_se)].mean()),
                }
            )
        table = pd.DataFrame(rows).sort_values("hazard_ratio", ascending=False, ignore_index=True)
        hrs = table.hazard_ratio.to_numpy(float)
        mdhr = _interpolate_mdhr(hrs, table.power.to_numpy(float), target_power)
        mdhr_f = _interpolate_mdhr(hrs, table.formula_power.to_numpy(float), target_power)
        overrides = tuple(sorted((simulator_overrides or {}).items()))
        n_fail = int((table.n_systems - table.estimable).sum())
        notes = [
            f"Each system: coacheval.simulate.simulate_health_system with {n_leaders} leader "
            "positions"
            + (f" and {', '.join(f'{k}={v!r}' for k, v in overrides)}" if overrides else "")
            + "; the default plan's time-varying Cox hazard ratio of voluntary turnover "
            f"(clustered by peer group); power = share of {100 * (1 - alpha):g}% CIs excluding 1, "
            "Monte Carlo SE sqrt(power (1 - power) / systems).",
            "Formula: Schoenfeld's (and Freedman's) power at the simulated hazard ratio for each "
            "system's own voluntary exits and enrolled share of person-time, averaged over "
            "systems. Both assume a fixed exposure and an HR near 1; with a small enrolled share "
            "and a strong effect Schoenfeld's can be optimistic (var(log HR) is nearer 1/D1 + 1/D0).",
        ]
        if n_fail:
            notes.append(
                f"{n_fail} system(s) without an estimable Cox model counted as not rejecting."
            )
        if len(table) > 1:
            notes.append(
                f"Minimum detectable hazard ratio at {100 * target_power:g}% power interpolated "
                "linearly in log HR between grid points (NaN when the grid does not bracket it)."
            )
        return cls(
            table=table,
            replications=reps.drop(columns=["formula_se"]),
            n_leaders=int(n_leaders),
            alpha=float(alpha),
            target_power=float(target_power),
            mdhr=mdhr,
            mdhr_formula=mdhr_f,
            seed=seed,
            simulator_overrides=overrides,
            notes=tuple(notes),
        )

    @property
    def power(self) -> float:
        """Simulated power at the (first) hazard ratio furthest from 1."""
        return float(self._headline()["power"])

    def _headline(self) -> pd.Series:
        dist = np.abs(np.log(self.table.hazard_ratio.to_numpy(float)))
        return self.table.iloc[int(np.argmax(dist))]

    @property
    def verdict(self) -> str:
        """Return a plain-language sentence for a report saying whether the design is big enough.

        With one hazard ratio: whether the simulated power reaches ``target_power``, with its
        Monte Carlo SE and the formula's power. With a grid: the simulated minimum detectable
        hazard ratio (and the formula's).

        Examples
        --------
        >>> reps = pd.DataFrame({"hazard_ratio": 0.7, "system": [0, 1, 2, 3],
        ...                      "system_seed": [1, 2, 3, 4], "events": 150,
        ...                      "share_treated": 0.2, "person_years": 3000.0,
        ...                      "log_hr": [-0.6, -0.5, -0.1, -0.7], "se": 0.2})
        >>> res = SimulatedPowerResult.from_replications(reps, n_leaders=1000)
        >>> res.verdict.startswith("too small to detect a hazard ratio of 0.70")
        True
        """
        pct = f"{100 * self.target_power:.0f}%"
        n_sys = int(self.table.n_systems.max())
        if len(self.table) > 1 and (self.table.hazard_ratio < 1).sum() > 1:
            events = self.table.mean_events.mean()
            if np.isfinite(self.mdhr):
                formula = (
                    f"{self.mdhr_formula:.2f}" if np.isfinite(self.mdhr_formula) else "off the grid"
                )
                return (
                    f"with {self.n_leaders} leader positions (about {events:.0f} voluntary "
                    f"separations per system), simulation puts the minimum detectable hazard "
                    f"ratio at {pct} power at about {self.mdhr:.2f} (Schoenfeld formula: "
                    f"{formula}; {n_sys} systems per hazard ratio)"
                )
            strongest = self.table.hazard_ratio.min()
            where = (
                "weaker than every hazard ratio on the grid"
                if (self.table.loc[self.table.hazard_ratio < 1, "power"] >= self.target_power).all()
                else f"stronger than {strongest:.2f}, the strongest on the grid"
            )
            return (
                f"with {self.n_leaders} leader positions (about {events:.0f} voluntary "
                f"separations per system), the minimum detectable hazard ratio at {pct} power is "
                f"{where} ({n_sys} systems per hazard ratio)"
            )
        row = self._headline()
        hr = float(row.hazard_ratio)
        head = (
            f"large enough to detect a hazard ratio of {hr:.2f}"
            if row.power >= self.target_power
            else f"too small to detect a hazard ratio of {hr:.2f}"
        )
        if hr == 1:
            head = "no effect simulated (hazard ratio 1): the rejection rate is the test's size"
        return (
            f"{head}: simulated power {100 * row.power:.0f}% (Monte Carlo SE "
            f"{100 * row.power_mc_se:.0f}%, {int(row.n_systems)} systems of {self.n_leaders} "
            f"leader positions, about {row.mean_events:.0f} voluntary separations each, "
            f"{100 * row.mean_share_treated:.0f}% of person-time enrolled); Schoenfeld's "
            f"formula gives {100 * row.formula_power:.0f}% for the same events (Freedman's "
            f"{100 * row.freedman_power:.0f}%)"
        )

    def plot(self) -> Any:
        """Plot simulated power (95% Monte Carlo error bars) and the formula's by hazard ratio.

        Returns
        -------
        matplotlib.figure.Figure

        Examples
        --------
        >>> reps = pd.DataFrame({"hazard_ratio": [1.0, 1.0, 0.6, 0.6], "system": [0, 1, 0, 1],
        ...                      "system_seed": [5, 6, 5, 6], "events": 100,
        ...                      "share_treated": 0.25, "person_years": 1500.0,
        ...                      "log_hr": [0.1, -0.2, -0.9, -0.5], "se": 0.3})
        >>> fig = SimulatedPowerResult.from_replications(reps, n_leaders=300).plot()
        >>> fig.axes[0].get_ylabel()
        'Power'
        """
        from matplotlib.figure import Figure

        t = self.table.sort_values("hazard_ratio")
        fig = Figure(figsize=(6.0, 3.5))
        ax = fig.add_subplot()
        ax.errorbar(
            t.hazard_ratio,
            t.power,
            yerr=1.96 * t.power_mc_se,
            fmt="o-",
            color="C0",
            capsize=3,
            label=f"simulated ({int(t.n_systems.max())} systems, 95% MC error)",
        )
        ax.plot(t.hazard_ratio, t.formula_power, "s--", color="C1", label="Schoenfeld formula")
        ax.plot(t.hazard_ratio, t.freedman_power, "^:", color="C2", label="Freedman formula")
        ax.axhline(self.target_power, color="grey", ls=":", lw=0.8)
        ax.axhline(self.alpha, color="grey", ls=":", lw=0.8)
        if np.isfinite(self.mdhr):
            ax.axvline(self.mdhr, color="C0", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("Hazard ratio of voluntary exit, enrolled vs not")
        ax.set_ylabel("Power")
        ax.set_ylim(0, 1.02)
        ax.set_title(f"Retention power, {self.n_leaders} leader positions")
        ax.legend(loc="best", fontsize="small")
        fig.tight_layout()
        return fig


def _check_alpha(alpha: float) -> None:
    if not (isinstance(alpha, (int, float)) and 0 < float(alpha) < 0.5):
        raise ConfigError(
            f"alpha must be strictly between 0 and 0.5 (the plan's CI level is 1 - alpha), "
            f"got {alpha!r}"
        )


def _hazard_ratios(hazard_ratio: float | Iterable[float]) -> list[float]:
    values = (
        [hazard_ratio]
        if isinstance(hazard_ratio, (int, float, np.integer, np.floating))
        else list(hazard_ratio)
    )
    if not values:
        raise ConfigError("hazard_ratio: give at least one hazard ratio")
    out = []
    for v in values:
        if not (isinstance(v, (int, float, np.integer, np.floating)) and np.isfinite(v) and v > 0):
            raise ConfigError(f"hazard_ratio must be positive finite number(s), got {v!r}")
        out.append(float(v))
    if len(set(out)) != len(out):
        raise ConfigError(f"hazard_ratio has repeated values: {out}")
    return out


def simulated_retention_power(
    *,
    n_leaders: int,
    hazard_ratio: float | Iterable[float],
    n_systems: int = 200,
    seed: int = 1,
    processes: int | None = None,
    alpha: float = 0.05,
    target_power: float = 0.8,
    **simulator_overrides: Any,
) -> SimulatedPowerResult:
    """Power of the primary retention analysis by simulating health systems and analysing them.

    Parameters
    ----------
    n_leaders
        Leader positions in each simulated system (the simulator's ``n_leaders``).
    hazard_ratio
        The program's hazard ratio of voluntary exit (the simulator's ``voluntary_hr``), or a
        grid of them; with two or more below 1 the minimum detectable hazard ratio at
        ``target_power`` is interpolated.
    n_systems
        Systems simulated per hazard ratio (the same system seeds for every hazard ratio).
    seed
        Master seed; system seeds come from ``numpy.random.SeedSequence(seed).spawn``.
    processes
        Worker processes (default ``os.cpu_count()``; 1 runs in this process). The result does
        not depend on it.
    alpha
        Two-sided level: the plan's confidence level is set to ``1 - alpha``.
    target_power
        Power the minimum detectable hazard ratio and the verdict refer to.
    **simulator_overrides
        Other parameters of :func:`coacheval.simulate.simulate_health_system`.
        ``selection_engagement`` defaults to 0.0 here (no selection of volunteers on the
        unmeasured engagement trait, so that power is about the design, not confounding);
        pass ``selection_engagement=0.5`` for the simulator's confounded default.

    Returns
    -------
    SimulatedPowerResult
        ``table`` by hazard ratio, ``replications`` by system, ``verdict`` and ``plot()``.

    Raises
    ------
    ConfigError
        Bad counts, hazard ratios, ``alpha``, or simulator parameters (including ``seed``,
        ``n_leaders`` or ``voluntary_hr`` among the overrides: they are set by this function).

    Examples
    --------
    >>> res = simulated_retention_power(n_leaders=200, hazard_ratio=0.7, n_systems=1,
    ...                                 processes=1)
    >>> res.table[["hazard_ratio", "n_systems"]].values.tolist()
    [[0.7, 1.0]]
    >>> 0 <= res.power <= 1 and 0 < res.table.formula_power.item() < 1
    True
    """
    from coacheval.simulate import SimulationConfig

    hrs = _hazard_ratios(hazard_ratio)
    for name, value, low in (("n_leaders", n_leaders, 1), ("n_systems", n_systems, 1)):
        if not (isinstance(value, (int, np.integer)) and value >= low):
            raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    if not (isinstance(seed, (int, np.integer)) and seed >= 0):
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    _check_alpha(alpha)
    if not (isinstance(target_power, (int, float)) and 0 < target_power < 1):
        raise ConfigError(f"target_power must be strictly between 0 and 1, got {target_power!r}")
    reserved = sorted(set(_RESERVED) & set(simulator_overrides))
    if reserved:
        raise ConfigError(
            f"simulator override(s) {reserved} are set by simulated_retention_power itself; "
            "use its seed, n_leaders and hazard_ratio arguments"
        )
    if processes is None:
        processes = os.cpu_count() or 1
    if not (isinstance(processes, (int, np.integer)) and processes >= 1):
        raise ConfigError(f"processes must be a positive integer, got {processes!r}")
    overrides = {"selection_engagement": 0.0, **simulator_overrides}
    # validate the simulator parameters here, before any worker starts
    SimulationConfig().with_overrides({**overrides, "n_leaders": int(n_leaders)})
    frozen = tuple(sorted(overrides.items()))
    seeds = system_seeds(seed, n_systems)
    tasks = [
        (hr, k, int(s), int(n_leaders), float(alpha), frozen)
        for hr in hrs
        for k, s in enumerate(seeds)
    ]
    workers = min(int(processes), len(tasks))
    if workers == 1:
        rows = [_replicate(t) for t in tasks]
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as pool:
            rows = list(pool.map(_replicate, tasks))  # results come back in task order
    return SimulatedPowerResult.from_replications(
        pd.DataFrame(rows),
        n_leaders=int(n_leaders),
        alpha=alpha,
        target_power=target_power,
        seed=int(seed),
        simulator_overrides=overrides,
    )
