"""Rollout power by simulation against the GLS formula, and the speed-up from parallel workers.

Usage: python benchmarks/design_power.py [N_REPS] [WORKERS] [N_SYSTEMS]

Defaults: 2,000 replicates per design, os.cpu_count() workers, 0 health systems. For three
planned rollouts (a cross-sectional stepped wedge of 24 units in 3 cohorts; the same surveyed as
a cohort with cluster autocorrelation 0.8 and individual autocorrelation 0.5; a hybrid with 6
control units and unequal unit sizes) it prints, at d = 0, the design's minimum detectable effect
and the DOMAIN.md effect 0.3, the simulated power of the GLS analysis (true variance components)
and of the REML mixed model next to the formula's, with Monte Carlo SEs and z = (simulated -
formula) / MC SE; then times the mixed-model simulation with 1 worker and with WORKERS (the
results are identical: replicates are seeded one by one). With N_SYSTEMS > 0 it also runs the
survey DiD through the simulator (simulated_survey_power, about 2-4 s of CPU per system) at
effect_d 0 and 0.3 for 1,000 leader positions, 1 worker against WORKERS.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pandas as pd

from coacheval.design.power import rollout_design, stepped_wedge_power
from coacheval.design.simulated_power import simulate_rollout_power, simulated_survey_power

ICC = 0.05
RESPONSE = 0.6


def designs() -> dict[str, dict]:
    sizes = np.tile([6, 8, 10, 12, 14], 6)
    return {
        "stepped wedge, cross-sectional (24 x 4)": {
            "design": rollout_design(24, 3),
            "cluster_size": 10,
        },
        "stepped wedge, cohort (24 x 4, CAC 0.8, IAC 0.5)": {
            "design": rollout_design(24, 3),
            "cluster_size": 10,
            "cluster_autocorrelation": 0.8,
            "individual_autocorrelation": 0.5,
        },
        "hybrid, 6 controls, unequal sizes (30 x 4)": {
            "design": rollout_design(30, 3, control_units=6),
            "cluster_size": sizes,
        },
    }


def main(n_reps: int, workers: int, n_systems: int) -> None:
    pd.set_option("display.width", 200)
    for name, spec in designs().items():
        design = spec.pop("design")
        formula = stepped_wedge_power(design, icc=ICC, response_rate=RESPONSE, **spec)
        effects = [0.0, round(formula.mde, 4), 0.3]
        print(f"\n{name}: formula MDE {formula.mde:.3f} (normal), SE {formula.se:.4f}")
        for analysis in ("gls", "mixed"):
            if analysis == "mixed" and spec.get("cluster_autocorrelation", 1) < 1:
                if spec.get("individual_autocorrelation", 0) > 0:
                    print("  mixed: skipped (needs three random intercepts)")
                    continue
            start = time.perf_counter()
            res = simulate_rollout_power(
                design,
                effect=effects,
                icc=ICC,
                response_rate=RESPONSE,
                n_reps=n_reps,
                seed=2026,
                workers=workers,
                analysis=analysis,
                **spec,
            )
            elapsed = time.perf_counter() - start
            cols = ["effect", "power", "power_mc_se", "formula_power", "z", "bias", "coverage"]
            print(f"  {analysis} ({n_reps} replicates, {workers} workers, {elapsed:.1f} s)")
            print(res.table[cols].round(4).to_string(index=False))

    design = rollout_design(24, 3)
    timing = {}
    for w in sorted({1, workers}):
        start = time.perf_counter()
        res = simulate_rollout_power(
            design,
            effect=0.3,
            icc=ICC,
            cluster_size=10,
            response_rate=RESPONSE,
            n_reps=n_reps // 4,
            seed=1,
            workers=w,
            analysis="mixed",
        )
        timing[w] = (time.perf_counter() - start, res.replications)
    print(f"\nMixed-model simulation, {n_reps // 4} replicates:")
    for w, (sec, _) in timing.items():
        print(f"  {w} worker(s): {sec:.1f} s")
    if len(timing) > 1:
        a, b = (timing[w][1] for w in sorted(timing))
        print(
            f"  identical replicates: {a.equals(b)}; speed-up {timing[1][0] / timing[workers][0]:.2f}x"
        )

    if n_systems > 0:
        print(f"\nSurvey DiD through the simulator, {n_systems} systems per effect:")
        runs = {}
        for w in sorted({1, workers}):
            start = time.perf_counter()
            res = simulated_survey_power(
                n_leaders=1000, effect_d=[0.0, 0.3], n_systems=n_systems, seed=1, workers=w
            )
            runs[w] = (time.perf_counter() - start, res)
            print(f"  {w} worker(s): {runs[w][0]:.1f} s")
        res = runs[max(runs)][1]
        cols = ["effect_d", "power", "power_mc_se", "mean_truth_d", "bias_d", "coverage"]
        print(res.table[[*cols, "normal_power"]].round(3).to_string(index=False))


if __name__ == "__main__":
    args = sys.argv[1:]
    main(
        int(args[0]) if args else 2000,
        int(args[1]) if len(args) > 1 else (os.cpu_count() or 1),
        int(args[2]) if len(args) > 2 else 0,
    )
