"""Time-varying Cox with clustered variance at scale, against R's coxph on the same data.

Usage: python benchmarks/cox_scale.py [N_PERSONS ...]   (default: 100000 1000000)

For each size, simulates leaders with a tenure-scale hazard, delayed entry and enrolment as a
time-varying exposure (two (start, stop] rows for the enrolled), clustered in peer groups of 4,
fits coacheval's fit_cox (Efron ties, robust variance by peer group) and, when Rscript with the
survival package is on PATH, survival::coxph(Surv(start, stop, event) ~ exposed + x,
cluster = group) on the same CSV, timing the fits only (not reading the data). Prints both
times, their ratio and the largest relative difference of coefficients and robust SEs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from coacheval.retention.cox import fit_cox

R_SCRIPT = """
suppressMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
t0 <- proc.time()[["elapsed"]]
fit <- coxph(Surv(start, stop, event) ~ exposed + x, data = d, cluster = group,
             ties = "efron")
el <- proc.time()[["elapsed"]] - t0
cat(el, coef(fit), sqrt(diag(vcov(fit))), "\\n")
"""


def simulate(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    entry = rng.uniform(0, 10, n)
    enrol = np.where(rng.random(n) < 0.3, entry + rng.uniform(0, 3, n), np.inf)
    base = 0.08 * np.exp(0.3 * x)
    # exit time: piecewise hazard, HR 0.85 after enrolment
    e1 = rng.exponential(1 / base) + entry
    after = e1 > enrol
    e2 = enrol + rng.exponential(1 / (base * 0.85))
    exit_ = np.where(after, e2, e1)
    censor = entry + rng.uniform(1, 5, n)
    stop = np.minimum(exit_, censor)
    event = (exit_ <= censor).astype(int)
    split = enrol < stop
    group = np.arange(n) // 4
    first = pd.DataFrame(
        {
            "start": entry,
            "stop": np.where(split, enrol, stop),
            "event": np.where(split, 0, event),
            "exposed": 0,
            "x": x,
            "group": group,
        }
    )
    second = pd.DataFrame(
        {
            "start": enrol[split],
            "stop": stop[split],
            "event": event[split],
            "exposed": 1,
            "x": x[split],
            "group": group[split],
        }
    )
    return pd.concat([first, second], ignore_index=True)


def main(sizes: list[int]) -> None:
    rscript = shutil.which("Rscript")
    for n in sizes:
        data = simulate(n)
        t0 = time.perf_counter()
        fit = fit_cox(
            data,
            start_col="start",
            stop_col="stop",
            event_col="event",
            covariates=["exposed", "x"],
            cluster_col="group",
        )
        ours = time.perf_counter() - t0
        line = f"{n:>9,} persons, {len(data):>9,} rows: coacheval {ours:6.2f} s"
        if rscript:
            with tempfile.TemporaryDirectory() as folder:
                csv = Path(folder) / "d.csv"
                script = Path(folder) / "fit.R"
                data.to_csv(csv, index=False)
                script.write_text(R_SCRIPT)
                out = subprocess.run(
                    [rscript, str(script), str(csv)], capture_output=True, text=True, check=True
                ).stdout.split()
            r_time, r_coef, r_se = (
                float(out[0]),
                np.array(out[1:3], float),
                np.array(out[3:5], float),
            )
            dc = np.max(np.abs(fit.coef.to_numpy() / r_coef - 1))
            ds = np.max(np.abs(fit.std_error.to_numpy() / r_se - 1))
            line += (
                f", R coxph {r_time:6.2f} s, ratio R/coacheval {r_time / ours:4.1f}x; "
                f"max rel. diff coef {dc:.1e}, robust SE {ds:.1e}"
            )
        else:
            line += " (Rscript not found: no R comparison)"
        print(line, flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
