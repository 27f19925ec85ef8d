"""Retention power by simulation vs Schoenfeld/Freedman (run on demand; figures in the docs).

Usage: python benchmarks/power_retention.py [N_SYSTEMS] [PROCESSES] [HR,HR,...] [LEADERS,...]

Defaults: 200 systems per hazard ratio, os.cpu_count() processes, hazard ratios 0.85 and 0.70,
1,000 and 3,000 leader positions. For each size, prints the simulated power of the default
plan's time-varying Cox hazard ratio of voluntary turnover (share of 95% CIs excluding 1, with
its Monte Carlo SE) next to Schoenfeld's and Freedman's power for the simulated systems' own
voluntary exits and enrolled share of person-time, the mean events, the mean and SD of the log
hazard ratio, and the model's mean SE against Schoenfeld's 1 / sqrt(D p (1 - p)). Selection of
volunteers on engagement is off (power of the design, not of confounding). Each replication
costs ~2-5 s of CPU (mostly simulating and loading the system), so the default run takes
about 15-30 minutes on 2 idle cores.
"""

from __future__ import annotations

import os
import sys
import time

import pandas as pd

from coacheval.retention.simulated_power import simulated_retention_power

COLUMNS = [
    "hazard_ratio",
    "power",
    "power_mc_se",
    "formula_power",
    "freedman_power",
    "mean_events",
    "mean_share_treated",
    "mean_log_hr",
    "sd_log_hr",
    "mean_se_log_hr",
    "formula_se_log_hr",
]


def main(n: int, processes: int, hazard_ratios: list[float], sizes: list[int]) -> None:
    pd.set_option("display.width", 200)
    for leaders in sizes:
        start = time.perf_counter()
        res = simulated_retention_power(
            n_leaders=leaders, hazard_ratio=hazard_ratios, n_systems=n, processes=processes
        )
        elapsed = time.perf_counter() - start
        print(f"\n{leaders} leader positions, {n} systems per hazard ratio, {elapsed:.0f} s")
        table = res.table[COLUMNS].rename(
            columns={"formula_power": "schoenfeld_power", "power": "simulated_power"}
        )
        print(table.round(3).to_string(index=False))
        print(res.verdict, flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(
        int(args[0]) if args else 200,
        int(args[1]) if len(args) > 1 else (os.cpu_count() or 1),
        [float(x) for x in args[2].split(",")] if len(args) > 2 else [0.85, 0.70],
        [int(x) for x in args[3].split(",")] if len(args) > 3 else [1000, 3000],
    )
