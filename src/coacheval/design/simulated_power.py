"""Power of a planned rollout by simulation, beside the formulas of :mod:`coacheval.design.power`.

Two simulations, both seeded per replicate and run in parallel:

:func:`simulate_rollout_power` simulates Hussey & Hughes' (2007) model directly, leader by
leader: for a clusters x periods ``design``, the score of leader ``k`` of cluster ``i`` at
period ``j`` is ``mu_j + theta X_ij + C_i + G_ij + S_ik + E_ijk`` with the variance components
of :func:`coacheval.design.power.treatment_variance` (ICC, cluster autocorrelation,
individual autocorrelation for a cohort; total variance 1, so ``theta`` is ``d``), and each
leader answers each wave with probability ``response_rate``. Each replicate is analysed by

* ``analysis="gls"``: generalised least squares on the cluster-period means of the respondents
  with the true variance components and that replicate's own respondent counts and overlaps (a
  Wald z test, or t with ``df``): the estimator the formula describes, so its power agrees with
  the formula up to Monte Carlo error. With non-response the formula uses the expected
  respondent counts while each replicate weights its realised counts optimally, which is a
  little more precise (about 1% in SE in the cohort designs of benchmarks/design_power.py): the
  formula is slightly conservative there;
* ``analysis="mixed"``: the linear mixed model an analyst would fit,
  :func:`coacheval.effects.mixed.fit_mixed` by REML on the respondents' scores with period
  indicators and the treatment as fixed effects and random intercepts for the cluster (plus the
  cluster-period when ``cluster_autocorrelation < 1``, or the leader in a cohort design), with
  Satterthwaite t tests: variance components estimated, so power is a little lower with few
  clusters.

Both estimators are equivariant: adding ``theta X`` to the data shifts the estimate by exactly
``theta`` and changes neither the GLS weights nor the REML variance estimates, so each replicate
is simulated and analysed once, at ``theta = 0``, and the estimate for every effect of a grid is
``estimate_0 + theta`` with the same standard error (common random numbers across the grid, no
approximation).

:func:`simulated_survey_power` runs the whole product instead: each seeded health system is
simulated by :func:`coacheval.simulate.simulate_health_system` with the program's effect on one
survey outcome set to ``effect_d``, written, loaded and evaluated with the primary survey
estimator (doubly-robust staggered DiD, clustered by peer group, as
:func:`coacheval.evaluate.calibration.replicate`), and the share of confidence intervals
excluding 0 is its power. It uses the simulator's (volunteer) rollout by default; pass
``rollout="randomised"`` for the randomised stepped-wedge rollout (the option is passed through
to :class:`coacheval.simulate.SimulationConfig`; the truth is then the realised ATT among the
randomised leaders, ``truth.json``'s ``rollout.survey_effects.target_att``).

Reproducibility: replicate ``k`` uses the ``k``-th child of
``numpy.random.SeedSequence(seed)`` (health systems: its first 32-bit word as the simulator's
seed), whatever the number of worker processes; results are gathered in replicate order.

Examples
--------
>>> from coacheval.design.power import rollout_design
>>> res = simulate_rollout_power(rollout_design(12, 3), effect=[0.0, 0.4], icc=0.05,
...                              cluster_size=8, n_reps=200, seed=3, workers=1)
>>> res.table[["effect", "power", "formula_power"]].round(2)
   effect  power  formula_power
0     0.0   0.06           0.05
1     0.4   0.64           0.65
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from coacheval.design.power import (
    _as_design,
    _cell_sizes,
    _Components,
    _components,
    _fraction,
    _power_from_se,
    treatment_variance,
)
from coacheval.errors import ConfigError
from coacheval.results import TableResult

__all__ = [
    "SimulatedRolloutPower",
    "SimulatedSurveyPower",
    "replicate_seeds",
    "simulate_rollout_power",
    "simulated_survey_power",
]

Analysis = Literal["gls", "mixed"]


def replicate_seeds(seed: int, n_reps: int) -> list[np.random.SeedSequence]:
    """Independent seed sequences, one per replicate, the same whatever ``n_reps`` follows.

    Parameters
    ----------
    seed
        Master seed, a non-negative integer.
    n_reps
        Number of replicates.

    Returns
    -------
    list of numpy.random.SeedSequence
        The children ``SeedSequence(seed).spawn(n_reps)``; the first ``k`` are the same for
        any ``n_reps >= k``.

    Examples
    --------
    >>> a, b = replicate_seeds(7, 5), replicate_seeds(7, 2)
    >>> bool((a[1].generate_state(2) == b[1].generate_state(2)).all())
    True
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(n_reps, bool) or not isinstance(n_reps, (int, np.integer)) or n_reps < 1:
        raise ConfigError(f"the number of replicates must be a positive integer, got {n_reps!r}")
    return np.random.SeedSequence(int(seed)).spawn(int(n_reps))


def _effects(effect: float | Iterable[float]) -> list[float]:
    values = [effect] if isinstance(effect, (int, float, np.integer, np.floating)) else list(effect)
    if not values:
        raise ConfigError("effect: give at least one effect size")
    out = []
    for v in values:
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float, np.integer, np.floating))
            or not np.isfinite(v)
        ):
            raise ConfigError(f"effect sizes must be finite numbers, got {v!r}")
        out.append(float(v))
    if len(set(out)) != len(out):
        raise ConfigError(f"effect has repeated values: {out}")
    return out


def _workers(workers: int | None, tasks: int) -> int:
    if workers is None:
        workers = os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ConfigError(f"workers must be a positive integer, got {workers!r}")
    return max(1, min(int(workers), tasks))


def _run(func: Any, tasks: list[Any], workers: int) -> list[Any]:
    if workers == 1:
        return [func(t) for t in tasks]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(func, tasks))  # results come back in task order


# ----------------------------------------------------------- direct model simulation
@dataclass(frozen=True)
class _Layout:
    """Leader-period rows of a design: which cluster, period and leader each row is."""

    cluster: np.ndarray
    period: np.ndarray
    leader: np.ndarray  # global leader id (cluster-major)
    x: np.ndarray  # design with NaN -> unobserved (kept for the analysis)
    n_clusters: int
    n_periods: int
    n_leaders: int


def _layout(x: np.ndarray, m: np.ndarray) -> _Layout:
    n_cl, n_per = x.shape
    m = np.where(np.isnan(x), 0, m)
    if np.any(np.abs(m - np.round(m)) > 1e-9):
        raise ConfigError("simulation needs whole numbers of leaders per cluster and period")
    m = np.round(m).astype(int)
    per_cluster = m.max(axis=1)
    offset = np.concatenate([[0], np.cumsum(per_cluster)[:-1]])
    cl, pe = np.nonzero(m > 0)
    counts = m[cl, pe]
    rows_cl = np.repeat(cl, counts)
    rows_pe = np.repeat(pe, counts)
    # leader k of a cluster (k < m_ij) is present at period j: the first m_ij leaders
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    within = np.arange(counts.sum()) - np.repeat(starts, counts)
    return _Layout(
        cluster=rows_cl,
        period=rows_pe,
        leader=offset[rows_cl] + within,
        x=x,
        n_clusters=n_cl,
        n_periods=n_per,
        n_leaders=int(per_cluster.sum()),
    )


def _draw(
    lay: _Layout, comp: _Components, rr: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Scores (without the treatment effect) and response indicators of every leader-period."""
    c = rng.normal(0.0, np.sqrt(comp.tau2), lay.n_clusters)
    g = rng.normal(0.0, np.sqrt(comp.gamma2), (lay.n_clusters, lay.n_periods))
    s = rng.normal(0.0, np.sqrt(comp.zeta2), lay.n_leaders)
    e = rng.normal(0.0, np.sqrt(comp.sigma2), len(lay.cluster))
    trend = 0.1 * lay.period  # period effects (any values: both analyses remove them)
    y = trend + c[lay.cluster] + g[lay.cluster, lay.period] + s[lay.leader] + e
    responds = rng.random(len(lay.cluster)) < rr if rr < 1 else np.ones(len(y), dtype=bool)
    return y, responds


def _gls_fit(
    lay: _Layout, y: np.ndarray, responds: np.ndarray, comp: _Components
) -> tuple[float, float]:
    """Known-variance GLS on the respondents' cluster-period means (batched over clusters)."""
    n_cl, n_per = lay.n_clusters, lay.n_periods
    cl, pe, ld = lay.cluster[responds], lay.period[responds], lay.leader[responds]
    cell = cl * n_per + pe
    n = np.bincount(cell, minlength=n_cl * n_per).reshape(n_cl, n_per).astype(float)
    total = np.bincount(cell, weights=y[responds], minlength=n_cl * n_per).reshape(n_cl, n_per)
    obs = (n > 0) & ~np.isnan(lay.x)
    mean = np.where(obs, total / np.where(n > 0, n, 1.0), 0.0)
    safe_n = np.where(obs, n, 1.0)
    v = np.broadcast_to(comp.tau2, (n_cl, n_per, n_per)).copy()
    if comp.zeta2 > 0:
        # respondents at both periods j and l of cluster i
        resp = np.zeros((lay.n_leaders, n_per))
        resp[ld, pe] = 1.0
        owner = np.zeros(lay.n_leaders, dtype=int)
        owner[lay.leader] = lay.cluster
        both = np.zeros((n_cl, n_per, n_per))
        np.add.at(both, owner, resp[:, :, None] * resp[:, None, :])
        v += comp.zeta2 * both / (safe_n[:, :, None] * safe_n[:, None, :])
    diag = comp.tau2 + comp.gamma2 + (comp.zeta2 + comp.sigma2) / safe_n
    idx = np.arange(n_per)
    v[:, idx, idx] = diag
    # unobserved cells: identity rows/columns, then zero weight
    mask = obs[:, :, None] & obs[:, None, :]
    v = np.where(mask, v, 0.0)
    v[:, idx, idx] = np.where(obs, v[:, idx, idx], 1.0)
    w = np.linalg.inv(v) * mask
    xz = np.where(obs, np.nan_to_num(lay.x), 0.0)
    z = np.concatenate([np.broadcast_to(np.eye(n_per), (n_cl, n_per, n_per)), xz[:, :, None]], 2)
    info = np.einsum("ija,ijk,ikb->ab", z, w, z)
    score = np.einsum("ija,ijk,ik->a", z, w, mean)
    keep = obs.any(axis=0)
    cols = np.concatenate([keep, [True]])
    info, score = info[np.ix_(cols, cols)], score[cols]
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return np.nan, np.nan
    est = float(cov[-1] @ score)
    var = float(cov[-1, -1])
    return est, float(np.sqrt(var)) if var > 0 else np.nan


def _mixed_fit(
    lay: _Layout,
    y: np.ndarray,
    responds: np.ndarray,
    groups: tuple[str, ...],
    alpha: float,
) -> tuple[float, float, float]:
    from coacheval.effects.mixed import fit_mixed

    obs = ~np.isnan(lay.x[lay.cluster, lay.period]) & responds
    pe = lay.period[obs]
    data = {
        "y": y[obs],
        "treat": lay.x[lay.cluster[obs], pe],
        "cluster": lay.cluster[obs],
        "cluster_period": lay.cluster[obs] * lay.n_periods + pe,
        "leader": lay.leader[obs],
    }
    present = np.unique(pe)
    fixed = []
    for j in present[1:]:
        data[f"p{j}"] = (pe == j).astype(float)
        fixed.append(f"p{j}")
    frame = pd.DataFrame(data)
    fit = fit_mixed(
        frame,
        outcome="y",
        fixed=[*fixed, "treat"],
        groups=list(groups),
        alpha=alpha,
        inference="satterthwaite",
    )
    row = fit.table.set_index("term").loc["treat"]
    return float(row.estimate), float(row.std_error), float(row.df)


def _rollout_chunk(task: tuple) -> list[dict[str, float]]:
    """Simulate and analyse a chunk of replicates (worker entry point)."""
    x, m, comp, rr, analysis, groups, alpha, df, reps = task
    lay = _layout(x, m)
    out = []
    for k, seq in reps:
        rng = np.random.default_rng(seq)
        y, responds = _draw(lay, comp, rr, rng)
        if analysis == "gls":
            try:
                est, se = _gls_fit(lay, y, responds, comp)
            except np.linalg.LinAlgError:
                est, se = np.nan, np.nan
            rep_df = np.nan if df is None else float(df)
        else:
            try:
                est, se, rep_df = _mixed_fit(lay, y, responds, groups, alpha)
            except Exception:  # a replicate the mixed model cannot fit counts as not rejecting
                est, se, rep_df = np.nan, np.nan, np.nan
        out.append(
            {
                "replicate": k,
                "estimate0": est,
                "se": se,
                "df": rep_df,
                "respondents": int(responds.sum()),
            }
        )
    return out


@dataclass(frozen=True, eq=False)
class SimulatedRolloutPower(TableResult):
    """Simulated power of a rollout design under Hussey & Hughes' model, beside the formula.

    Attributes
    ----------
    table
        One row per effect: ``effect, n_reps, estimable, rejections, power, power_mc_se,
        formula_power, formula_mc_se, z`` (``(power - formula_power) / formula_mc_se``, with
        ``formula_mc_se = sqrt(f (1 - f) / n_reps)`` the Monte Carlo SE if the formula is
        right), ``mean_estimate, bias, sd_estimate, mean_se, formula_se, coverage``.
    replications
        One row per replicate and effect: ``effect, replicate, estimate, se, df, respondents,
        rejects, covers``.
    analysis
        ``"gls"`` or ``"mixed"``.
    alpha
        Two-sided level.
    seed
        Master seed.
    parameters
        The model (ICC, autocorrelations, response rate, design shape, degrees of freedom).

    Examples
    --------
    >>> from coacheval.design.power import rollout_design
    >>> res = simulate_rollout_power(rollout_design(6, 3), effect=0.5, icc=0.1,
    ...                              cluster_size=10, n_reps=50, seed=1, workers=1)
    >>> res.agrees()
    True
    """

    table: pd.DataFrame
    replications: pd.DataFrame
    analysis: str
    alpha: float
    seed: int
    parameters: dict[str, Any]
    title: str = "Rollout power by simulation (Hussey & Hughes model)"
    notes: tuple[str, ...] = field(default=())

    @property
    def power(self) -> float:
        """Simulated power at the largest effect of the grid."""
        return float(self.table.loc[self.table.effect.abs().idxmax(), "power"])

    def agrees(self, within: float = 3.0) -> bool:
        """Whether every simulated power is within ``within`` Monte Carlo SEs of the formula.

        Parameters
        ----------
        within
            Number of Monte Carlo standard errors (of the formula's power) allowed.

        Returns
        -------
        bool
        """
        se = np.maximum(self.table.formula_mc_se.to_numpy(float), 1e-12)
        diff = np.abs(self.table.power.to_numpy(float) - self.table.formula_power.to_numpy(float))
        return bool((diff <= within * se + 1e-12).all())

    def plot(self) -> Any:
        """Plot simulated power (95% Monte Carlo error bars) and the formula's by effect size.

        Returns
        -------
        matplotlib.figure.Figure

        Examples
        --------
        >>> from coacheval.design.power import rollout_design
        >>> res = simulate_rollout_power(rollout_design(6, 3), effect=[0, 0.5], icc=0.1,
        ...                              cluster_size=10, n_reps=20, workers=1)
        >>> res.plot().axes[0].get_ylabel()
        'Power'
        """
        from matplotlib.figure import Figure

        t = self.table.sort_values("effect")
        fig = Figure(figsize=(6.0, 3.5))
        ax = fig.add_subplot()
        ax.errorbar(
            t.effect,
            t.power,
            yerr=1.96 * t.power_mc_se,
            fmt="o",
            color="C0",
            capsize=3,
            label=f"simulated, {self.analysis} ({int(t.n_reps.max())} replicates, 95% MC error)",
        )
        ax.plot(t.effect, t.formula_power, "s--", color="C1", label="GLS formula")
        ax.axhline(self.alpha, color="grey", ls=":", lw=0.8)
        ax.set_xlabel("Effect size d")
        ax.set_ylabel("Power")
        ax.set_ylim(0, 1.02)
        ax.set_title("Rollout power: simulation and formula")
        ax.legend(loc="best", fontsize="small")
        fig.tight_layout()
        return fig


def simulate_rollout_power(
    design: Any,
    *,
    effect: float | Iterable[float],
    icc: float,
    cluster_size: Any,
    cluster_autocorrelation: float = 1.0,
    individual_autocorrelation: float = 0.0,
    response_rate: float = 1.0,
    n_reps: int = 1000,
    seed: int = 1,
    workers: int | None = None,
    alpha: float = 0.05,
    analysis: Analysis = "gls",
    df: float | None = None,
) -> SimulatedRolloutPower:
    """Power of a rollout design by simulating Hussey & Hughes' model and analysing it.

    Parameters
    ----------
    design
        Clusters x periods design (:func:`coacheval.design.power.rollout_design`); NaN cells
        are not surveyed.
    effect
        Effect size(s) ``d`` (total SD 1); a grid shares the replicates.
    icc, cluster_size, cluster_autocorrelation, individual_autocorrelation, response_rate
        The model, as in :func:`coacheval.design.power.treatment_variance` (whole numbers of
        leaders; a cohort design, ``individual_autocorrelation > 0``, follows the same leaders).
    n_reps
        Replicates.
    seed
        Master seed (replicate ``k`` uses the ``k``-th child of ``SeedSequence(seed)``).
    workers
        Worker processes (default all cores); the result does not depend on it.
    alpha
        Two-sided level.
    analysis
        ``"gls"`` (known variance components) or ``"mixed"`` (REML mixed model, Satterthwaite
        t tests).
    df
        ``analysis="gls"`` only: t degrees of freedom of the test and of the formula (None:
        normal).

    Returns
    -------
    SimulatedRolloutPower
        ``table`` by effect (simulated and formula power, bias, coverage), ``replications``,
        ``agrees()``, ``plot()``.

    Raises
    ------
    ConfigError
        Bad values; ``analysis="mixed"`` with both ``cluster_autocorrelation < 1`` and
        ``individual_autocorrelation > 0`` (three random effects; fit_mixed takes two).

    Examples
    --------
    >>> from coacheval.design.power import rollout_design
    >>> res = simulate_rollout_power(rollout_design(8, 4), effect=0.0, icc=0.05,
    ...                              cluster_size=5, n_reps=100, workers=1)
    >>> round(float(res.table.formula_power.iloc[0]), 12)  # no effect: the level
    0.05
    """
    x = _as_design(design)
    m = _cell_sizes(cluster_size, x.shape)
    rr = _fraction(response_rate, "response_rate", high_open=False)
    alpha = _fraction(alpha, "alpha")
    effects = _effects(effect)
    if analysis not in ("gls", "mixed"):
        raise ConfigError(f"analysis must be 'gls' or 'mixed', got {analysis!r}")
    if df is not None:
        if analysis != "gls":
            raise ConfigError("df applies to analysis='gls' (the mixed model has its own df)")
        if not (isinstance(df, (int, float)) and df > 0):
            raise ConfigError(f"df must be positive, got {df!r}")
    cac = float(cluster_autocorrelation)
    iac = float(individual_autocorrelation)
    comp, _ = _components(icc, cac, iac, 1.0)
    groups: tuple[str, ...] = ("cluster",)
    if analysis == "mixed":
        if cac < 1 and iac > 0:
            raise ConfigError(
                "analysis='mixed' fits at most two random intercepts: use cluster_autocorrelation "
                "1 or individual_autocorrelation 0 (or analysis='gls')"
            )
        if cac < 1:
            groups = ("cluster", "cluster_period")
        elif iac > 0:
            groups = ("cluster", "leader")
    var = treatment_variance(
        x,
        icc=icc,
        cluster_size=m,
        cluster_autocorrelation=cac,
        individual_autocorrelation=iac,
        response_rate=rr,
    )
    _layout(x, m)  # whole numbers check before any worker starts
    seeds = replicate_seeds(seed, n_reps)
    n_workers = _workers(workers, n_reps)
    n_chunks = min(n_reps, 4 * n_workers) if n_workers > 1 else 1
    bounds = np.linspace(0, n_reps, n_chunks + 1).round().astype(int)
    tasks = [
        (
            x,
            m,
            comp,
            rr,
            analysis,
            groups,
            alpha,
            df,
            [(k, seeds[k]) for k in range(bounds[c], bounds[c + 1])],
        )
        for c in range(n_chunks)
        if bounds[c + 1] > bounds[c]
    ]
    base = pd.DataFrame([r for chunk in _run(_rollout_chunk, tasks, n_workers) for r in chunk])
    formula_se = float(np.sqrt(var))
    reps, rows = [], []
    for theta in effects:
        r = base.copy()
        r.insert(0, "effect", theta)
        r["estimate"] = r.estimate0 + theta
        stat = np.abs(r.estimate) / r.se
        if analysis == "gls" and df is None:
            crit = stats.norm.isf(alpha / 2)
        else:
            crit = stats.t.isf(alpha / 2, r["df"].to_numpy(float))
        r["rejects"] = (stat > crit).fillna(False).astype(bool)
        r["covers"] = (np.abs(r.estimate - theta) <= crit * r.se).fillna(False).astype(bool)
        r = r.drop(columns="estimate0")
        ok = r.estimate.notna()
        power = float(r.rejects.mean())
        f_power = float(_power_from_se(theta, formula_se, alpha, df))
        f_mc = float(np.sqrt(f_power * (1 - f_power) / n_reps))
        rows.append(
            {
                "effect": theta,
                "n_reps": int(n_reps),
                "estimable": int(ok.sum()),
                "rejections": int(r.rejects.sum()),
                "power": power,
                "power_mc_se": float(np.sqrt(power * (1 - power) / n_reps)),
                "formula_power": f_power,
                "formula_mc_se": f_mc,
                "z": (power - f_power) / f_mc if f_mc > 0 else 0.0,
                "mean_estimate": float(r.estimate[ok].mean()),
                "bias": float(r.estimate[ok].mean() - theta),
                "sd_estimate": float(r.estimate[ok].std(ddof=1)) if ok.sum() > 1 else np.nan,
                "mean_se": float(r.se[ok].mean()),
                "formula_se": formula_se,
                "coverage": float(r.covers[ok].mean()) if ok.any() else np.nan,
            }
        )
        reps.append(r)
    label = (
        "GLS with the true variance components ("
        + ("z" if df is None else f"t on {df:g} df")
        + " tests)"
        if analysis == "gls"
        else f"REML mixed model, random intercepts for {' and '.join(groups)}, Satterthwaite t"
    )
    notes = (
        f"{n_reps} replicates of a {x.shape[0]} x {x.shape[1]} design (ICC {icc:g}, CAC {cac:g}, "
        f"IAC {iac:g}, response rate {rr:g}); analysis: {label}. Power = share of replicates "
        "rejecting at the two-sided level; Monte Carlo SE sqrt(p (1 - p) / replicates).",
        "Formula: the GLS variance of coacheval.design.power.treatment_variance with expected "
        "respondent counts (normal reference unless df is given).",
    )
    return SimulatedRolloutPower(
        table=pd.DataFrame(rows),
        replications=pd.concat(reps, ignore_index=True),
        analysis=analysis,
        alpha=alpha,
        seed=int(seed),
        parameters={
            "icc": float(icc),
            "cluster_autocorrelation": cac,
            "individual_autocorrelation": iac,
            "response_rate": rr,
            "clusters": int(x.shape[0]),
            "periods": int(x.shape[1]),
            "df": df,
            "groups": list(groups),
        },
        notes=notes,
    )


# ------------------------------------------------------ through the product's simulator
_KEY_BYTES = b"design-power-key-00000"
_SURVEY_RESERVED = ("seed", "n_leaders", "scales", "rollout")


def _survey_replicate(task: tuple) -> dict[str, Any]:
    """Simulate, write, load and evaluate one health system; return the primary estimate."""
    from coacheval.evaluate.plan import parse_plan
    from coacheval.evaluate.run import evaluate
    from coacheval.io.pseudonymise import PseudonymKey
    from coacheval.io.study import load_study
    from coacheval.simulate import simulate_health_system

    effect, system, system_seed, n_leaders, outcome, alpha, cluster, rollout, overrides = task
    extra = {"rollout": rollout} if rollout != "volunteer" else {}
    sim = simulate_health_system(
        seed=system_seed,
        n_leaders=n_leaders,
        scales={outcome: {"effect_d": effect}},
        **extra,
        **dict(overrides),
    )
    with tempfile.TemporaryDirectory() as folder:
        sim.write(folder)
        study = load_study(folder, key=PseudonymKey(_KEY_BYTES))
        design = (
            {"type": "staggered_did", "comparison": "never_treated", "baseline_wave": "W1"}
            if rollout == "volunteer"
            else {"type": "randomised_rollout", "comparison": "not_yet_treated"}
        )
        plan = parse_plan(
            {
                "name": "design-power",
                "design": design,
                "outcomes": [outcome],
                "covariates": ["tenure_years", "role_level"],
                "methods": {"primary": "did_dr"},
                "inference": {"cluster": cluster, "level": 1 - alpha},
                "seed": int(system_seed),
            }
        )
        estimates = evaluate(study, plan).estimates
    if rollout == "volunteer":
        truth = pd.DataFrame(sim.truth["surveys"]["realised_att"])
        t = truth[truth.construct == outcome]
        true_att = float(np.average(t.att, weights=t.n_respondents)) if len(t) else np.nan
    else:  # the randomised leaders' realised ATT, which the randomised analysis targets
        true_att = float(sim.truth["rollout"]["survey_effects"]["target_att"][outcome])
    e = estimates[
        (estimates.outcome == outcome)
        & (estimates.method == "did_dr")
        & (estimates.term == "ATT (overall)")
    ]
    out = {
        "effect_d": effect,
        "system": system,
        "system_seed": system_seed,
        "truth": true_att,
        "estimate": np.nan,
        "std_error": np.nan,
        "conf_low": np.nan,
        "conf_high": np.nan,
        "baseline_sd": np.nan,
        "n": np.nan,
        "n_clusters": np.nan,
    }
    if len(e):
        row = e.iloc[0]
        for col in ("estimate", "std_error", "conf_low", "conf_high", "baseline_sd", "n"):
            out[col] = float(row[col]) if col in row and pd.notna(row[col]) else np.nan
        out["n_clusters"] = float(row["n_clusters"]) if pd.notna(row.get("n_clusters")) else np.nan
    return out


@dataclass(frozen=True, eq=False)
class SimulatedSurveyPower(TableResult):
    """Simulated power of the primary survey estimator on simulated health systems.

    Attributes
    ----------
    table
        One row per ``effect_d`` (the simulator's program effect at full ramp and reference
        dose, baseline-SD units): ``effect_d, n_systems, estimable, rejections, power,
        power_mc_se, mean_truth_d`` (the realised ATT of the enrolled respondents, in baseline
        SDs: smaller than ``effect_d`` because of the ramp, decay and dose), ``mean_estimate_d,
        bias_d, mean_se_d, coverage, normal_power`` (power a z test would have at each system's
        realised ATT with its own SE, averaged: what the SEs promise), ``mean_n``,
        ``mean_clusters``.
    replications
        One row per system and effect.
    outcome, n_leaders, alpha, seed, rollout
        The run.
    simulator_overrides
        Other simulator parameters used.

    Examples
    --------
    >>> reps = pd.DataFrame({"effect_d": 0.3, "system": [0, 1], "system_seed": [1, 2],
    ...                      "truth": 0.2, "estimate": [0.25, 0.05], "std_error": 0.1,
    ...                      "conf_low": [0.05, -0.15], "conf_high": [0.45, 0.25],
    ...                      "baseline_sd": 1.0, "n": 500.0, "n_clusters": 60.0})
    >>> res = SimulatedSurveyPower.from_replications(reps, outcome="work_engagement",
    ...                                              n_leaders=1000)
    >>> float(res.table.power.iloc[0]), float(res.table.coverage.iloc[0])
    (0.5, 1.0)
    """

    table: pd.DataFrame
    replications: pd.DataFrame
    outcome: str
    n_leaders: int
    alpha: float
    seed: int | None = None
    rollout: str = "volunteer"
    simulator_overrides: tuple[tuple[str, Any], ...] = ()
    title: str = "Survey power by simulating health systems (doubly-robust DiD)"
    notes: tuple[str, ...] = field(default=())

    @classmethod
    def from_replications(
        cls,
        replications: pd.DataFrame,
        *,
        outcome: str,
        n_leaders: int,
        alpha: float = 0.05,
        seed: int | None = None,
        rollout: str = "volunteer",
        simulator_overrides: Mapping[str, Any] | None = None,
    ) -> SimulatedSurveyPower:
        """Summarise per-system estimates into power, bias and coverage by effect.

        Parameters
        ----------
        replications
            One row per system: ``effect_d, system, system_seed, truth, estimate, std_error,
            conf_low, conf_high, baseline_sd, n, n_clusters``.
        outcome, n_leaders, alpha, seed, rollout, simulator_overrides
            Recorded for the report.

        Returns
        -------
        SimulatedSurveyPower

        Raises
        ------
        ConfigError
            Missing columns or no rows.
        """
        need = ("effect_d", "truth", "estimate", "std_error", "conf_low", "conf_high")
        missing = [c for c in need if c not in replications]
        if missing:
            raise ConfigError(f"replications lack the column(s) {missing}")
        if len(replications) == 0:
            raise ConfigError("replications has no rows")
        z = stats.norm.isf(alpha / 2)
        reps = replications.copy()
        reps["rejects"] = ((reps.conf_low > 0) | (reps.conf_high < 0)).fillna(False).astype(bool)
        reps["covers"] = (reps.conf_low <= reps.truth) & (reps.truth <= reps.conf_high)
        sd = reps.baseline_sd.where(reps.baseline_sd > 0) if "baseline_sd" in reps else 1.0
        ncp = np.abs(reps.truth) / reps.std_error
        reps["normal_power"] = stats.norm.cdf(ncp - z) + stats.norm.cdf(-ncp - z)
        rows = []
        for eff, g in reps.groupby("effect_d", sort=True):
            n = len(g)
            ok = g.estimate.notna()
            s = sd[g.index] if isinstance(sd, pd.Series) else 1.0
            power = float(g.rejects.mean())
            rows.append(
                {
                    "effect_d": float(eff),
                    "n_systems": n,
                    "estimable": int(ok.sum()),
                    "rejections": int(g.rejects.sum()),
                    "power": power,
                    "power_mc_se": float(np.sqrt(power * (1 - power) / n)),
                    "mean_truth_d": float((g.truth / s).mean()),
                    "mean_estimate_d": float((g.estimate / s)[ok].mean()),
                    "bias_d": float(((g.estimate - g.truth) / s)[ok].mean()),
                    "mean_se_d": float((g.std_error / s)[ok].mean()),
                    "coverage": float(g.covers[ok].mean()) if ok.any() else np.nan,
                    "normal_power": float(g.normal_power[ok].mean()) if ok.any() else np.nan,
                    "mean_n": float(g.n.mean()) if "n" in g else np.nan,
                    "mean_clusters": float(g.n_clusters.mean()) if "n_clusters" in g else np.nan,
                }
            )
        overrides = tuple(sorted((simulator_overrides or {}).items()))
        notes = (
            f"{int(reps.groupby('effect_d').size().max())} simulated health systems of "
            f"{n_leaders} leader positions per effect ({rollout} rollout"
            + (f"; {', '.join(f'{k}={v!r}' for k, v in overrides)}" if overrides else "")
            + f"); {outcome}: doubly-robust staggered DiD, overall ATT, "
            f"{100 * (1 - alpha):g}% CI clustered by peer group; power = share of CIs "
            "excluding 0.",
            "effect_d is the simulator's effect at full ramp and reference dose; the realised "
            "ATT (truth) is smaller (ramp, decay, dose), so compare power with mean_truth_d.",
        )
        return cls(
            table=pd.DataFrame(rows),
            replications=reps,
            outcome=outcome,
            n_leaders=int(n_leaders),
            alpha=float(alpha),
            seed=seed,
            rollout=rollout,
            simulator_overrides=overrides,
            notes=notes,
        )

    def plot(self) -> Any:
        """Plot simulated power (95% Monte Carlo error bars) by the simulator's effect size.

        Returns
        -------
        matplotlib.figure.Figure

        Examples
        --------
        >>> reps = pd.DataFrame({"effect_d": [0.0, 0.3], "system": 0, "system_seed": 1,
        ...                      "truth": [0.0, 0.2], "estimate": [0.01, 0.3],
        ...                      "std_error": 0.1, "conf_low": [-0.19, 0.1],
        ...                      "conf_high": [0.21, 0.5], "baseline_sd": 1.0, "n": 100.0,
        ...                      "n_clusters": 20.0})
        >>> fig = SimulatedSurveyPower.from_replications(reps, outcome="burnout",
        ...                                              n_leaders=300).plot()
        >>> fig.axes[0].get_ylabel()
        'Power'
        """
        from matplotlib.figure import Figure

        t = self.table
        fig = Figure(figsize=(6.0, 3.5))
        ax = fig.add_subplot()
        ax.errorbar(
            t.effect_d,
            t.power,
            yerr=1.96 * t.power_mc_se,
            fmt="o-",
            color="C0",
            capsize=3,
            label="simulated (95% MC error)",
        )
        ax.plot(t.effect_d, t.normal_power, "s--", color="C1", label="z test at realised ATT")
        ax.axhline(self.alpha, color="grey", ls=":", lw=0.8)
        ax.set_xlabel(f"Program effect on {self.outcome.replace('_', ' ')} (d, simulator)")
        ax.set_ylabel("Power")
        ax.set_ylim(0, 1.02)
        ax.set_title(f"Survey power, {self.n_leaders} leader positions")
        ax.legend(loc="best", fontsize="small")
        fig.tight_layout()
        return fig


def simulated_survey_power(
    *,
    n_leaders: int,
    effect_d: float | Iterable[float],
    outcome: str = "work_engagement",
    n_systems: int = 100,
    seed: int = 1,
    workers: int | None = None,
    alpha: float = 0.05,
    cluster: str = "peer_group",
    rollout: str = "volunteer",
    **simulator_overrides: Any,
) -> SimulatedSurveyPower:
    """Power of the primary survey analysis by simulating health systems and evaluating them.

    Parameters
    ----------
    n_leaders
        Leader positions per simulated system.
    effect_d
        The program's effect on ``outcome`` (simulator's ``effect_d``: full ramp, reference
        dose, baseline SDs), or a grid of them (the same system seeds for each).
    outcome
        Survey construct (``work_engagement``, ``job_satisfaction``, ``burnout``,
        ``wellbeing``, ``perceived_support``, ``turnover_intention``).
    n_systems
        Systems per effect size.
    seed
        Master seed; system ``k`` uses the first word of the ``k``-th child of
        ``SeedSequence(seed)``.
    workers
        Worker processes (default all cores); the result does not depend on it.
    alpha
        Two-sided level (the plan's confidence level is ``1 - alpha``).
    cluster
        The plan's clustering of the variance (``peer_group`` by default).
    rollout
        ``"volunteer"`` (the simulator's default design, analysed against never-enrolled
        leaders) or ``"randomised"`` (the simulator's randomised stepped-wedge rollout,
        analysed with the plan design ``randomised_rollout`` against not-yet-started cohorts).
    **simulator_overrides
        Other parameters of :func:`coacheval.simulate.simulate_health_system`.

    Returns
    -------
    SimulatedSurveyPower

    Raises
    ------
    ConfigError
        Bad counts, effects, outcome or simulator parameters.

    Examples
    --------
    >>> res = simulated_survey_power(n_leaders=300, effect_d=0.3, n_systems=1, workers=1)
    >>> res.table[["effect_d", "n_systems"]].values.tolist()
    [[0.3, 1.0]]
    """
    from coacheval.simulate import SimulationConfig
    from coacheval.simulate.config import CONSTRUCTS

    effects = _effects(effect_d)
    if outcome not in CONSTRUCTS:
        raise ConfigError(f"outcome must be one of {', '.join(CONSTRUCTS)}, got {outcome!r}")
    for name, value in (("n_leaders", n_leaders), ("n_systems", n_systems)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 0.5):
        raise ConfigError(f"alpha must lie in (0, 0.5), got {alpha!r}")
    if rollout not in ("volunteer", "randomised"):
        raise ConfigError(f"rollout must be 'volunteer' or 'randomised', got {rollout!r}")
    reserved = sorted(set(_SURVEY_RESERVED) & set(simulator_overrides))
    if reserved:
        raise ConfigError(
            f"simulator override(s) {reserved} are set by simulated_survey_power itself; use its "
            "seed, n_leaders, effect_d and rollout arguments"
        )
    check = {**simulator_overrides, "n_leaders": int(n_leaders)}
    if rollout != "volunteer":
        check["rollout"] = rollout
    SimulationConfig().with_overrides(check)
    seeds = [int(s.generate_state(1)[0]) for s in replicate_seeds(seed, n_systems)]
    frozen = tuple(sorted(simulator_overrides.items()))
    tasks = [
        (eff, k, s, int(n_leaders), outcome, float(alpha), cluster, rollout, frozen)
        for eff in effects
        for k, s in enumerate(seeds)
    ]
    rows = _run(_survey_replicate, tasks, _workers(workers, len(tasks)))
    return SimulatedSurveyPower.from_replications(
        pd.DataFrame(rows),
        outcome=outcome,
        n_leaders=int(n_leaders),
        alpha=float(alpha),
        seed=int(seed),
        rollout=rollout,
        simulator_overrides=dict(simulator_overrides),
    )
