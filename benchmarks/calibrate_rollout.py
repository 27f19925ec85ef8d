"""Calibration of the randomised-rollout (stepped-wedge) estimators on the simulator.

Usage: python benchmarks/calibrate_rollout.py [N_SYSTEMS] [N_LEADERS] [PROCESSES] [OUT_CSV]

Simulates N systems whose peer groups were randomised to cohorts (seeds 1..N), in two worlds:
the program's effect (voluntary-exit HR 0.85) and a null program (HR 1). Prints, per estimate,
the bias (survey outcomes in baseline SDs, retention on the log hazard-ratio scale), its Monte
Carlo SE, the SD of the errors, RMSE, 95% CI coverage (with its MC SE) and the rejection rate at
5%: the randomised DiD of started vs not-yet-started cohorts, the randomised Cox model, and, on
the same systems, the volunteer design's time-varying Cox model and the "ever enrolled" model.
With OUT_CSV, the replication rows are written there (one file per world, suffixed).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from coacheval.evaluate.rollout_calibration import calibrate_randomised

WORLDS = {"effect": {}, "null": {"voluntary_hr": 1.0}}


def main(n: int, leaders: int, processes: int, out: str | None) -> None:
    for world, overrides in WORLDS.items():
        start = time.perf_counter()
        rows, summary = calibrate_randomised(
            range(1, n + 1), n_leaders=leaders, processes=processes, overrides=overrides
        )
        elapsed = time.perf_counter() - start
        print(
            f"\nworld {world}: {n} randomised systems of {leaders} leader positions, {elapsed:.0f} s"
        )
        print(summary.round(3).to_string())
        if out:
            path = Path(out)
            rows.to_csv(path.with_name(f"{path.stem}_{world}{path.suffix}"), index=False)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(
        int(args[0]) if args else 200,
        int(args[1]) if len(args) > 1 else 1000,
        int(args[2]) if len(args) > 2 else (os.cpu_count() or 1),
        args[3] if len(args) > 3 else None,
    )
