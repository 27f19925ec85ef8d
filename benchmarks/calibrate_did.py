"""Calibration of the primary estimator on the simulator (run on demand; figures go in the docs).

Usage: python benchmarks/calibrate_did.py [N_SYSTEMS] [N_LEADERS] [CLUSTER]

Prints bias (in baseline SD), its Monte Carlo SE, RMSE and 95% CI coverage of the doubly-robust
group-time DiD and of the naive enrolled-vs-not comparison (see coacheval.evaluate.calibration).
"""

from __future__ import annotations

import sys
import time

from coacheval.evaluate.calibration import calibrate


def main(n: int, leaders: int, cluster: str) -> None:
    start = time.perf_counter()
    summary = calibrate(range(1, n + 1), n_leaders=leaders, cluster=cluster)
    print(
        f"{n} systems of {leaders} leader positions, clustered by {cluster}, {time.perf_counter() - start:.0f} s"
    )
    print(summary.round(3).to_string())


if __name__ == "__main__":
    args = sys.argv[1:]
    main(
        int(args[0]) if args else 200,
        int(args[1]) if len(args) > 1 else 1000,
        args[2] if len(args) > 2 else "peer_group",
    )
