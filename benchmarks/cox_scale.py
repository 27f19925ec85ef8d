"""Time-varying Cox with clustered variance at scale, against R's coxph on the same data.

Usage: python benchmarks/cox_scale.py [N_PERSONS ...]   (default: 100000 1000000)

For each size, simulates leaders with a tenure-scale hazard, delayed entry and enrolment as a
time-varying exposure (two (start, stop] rows for the enrolled), clustered in peer groups of 4,
fits coacheval's fit_cox (Efron ties, robust variance by peer group) and, when Rscript with the
survival package is on PATH, survival::coxph(Surv(start, stop, event) ~ exposed + x) on the same
CSV, timing the fits only (not reading the data): the model-based fit at every size, and the
fit with cluster = group up to R_CLUSTER_MAX persons (environment variable, default 200000),
because survival's robust variance for counting-process data grows about quadratically with
the number of rows (100,000 persons: 14 s; 1,000,000 would take tens of minutes). Prints the
times, their ratios and the largest relative differences of coefficients and SEs.
"""

from __future__ import annotations

import os
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
fit <- coxph(Surv(start, stop, event) ~ exposed + x, data = d, ties = "efron")
el <- proc.time()[["elapsed"]] - t0
out <- c(el, coef(fit), sqrt(diag(vcov(fit))))
if (args[2] == "cluster") {
  t0 <- proc.time()[["elapsed"]]
  fit <- coxph(Surv(start, stop, event) ~ exposed + x, data = d, cluster = group,
               ties = "efron")
  out <- c(out, proc.time()[["elapsed"]] - t0, sqrt(diag(vcov(fit))))
}
cat(out, "\\n")
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


def _fit(data: pd.DataFrame, cluster: bool) -> tuple[float, object]:
    t0 = time.perf_counter()
    fit = fit_cox(
        data,
        start_col="start",
        stop_col="stop",
        event_col="event",
        covariates=["exposed", "x"],
        cluster_col="group" if cluster else None,
    )
    return time.perf_counter() - t0, fit


def main(sizes: list[int]) -> None:
    rscript = shutil.which("Rscript")
    cluster_max = int(os.environ.get("R_CLUSTER_MAX", "200000"))
    for n in sizes:
        data = simulate(n)
        t_model, model = _fit(data, cluster=False)
        t_robust, robust = _fit(data, cluster=True)
        line = (
            f"{n:>9,} persons, {len(data):>9,} rows, {int(data.event.sum()):,} exits: coacheval "
            f"{t_model:.2f} s model-based, {t_robust:.2f} s clustered"
        )
        if rscript:
            with_cluster = n <= cluster_max
            with tempfile.TemporaryDirectory() as folder:
                csv = Path(folder) / "d.csv"
                script = Path(folder) / "fit.R"
                data.to_csv(csv, index=False)
                script.write_text(R_SCRIPT)
                args = [rscript, str(script), str(csv), "cluster" if with_cluster else "model"]
                out = np.array(
                    subprocess.run(args, capture_output=True, text=True, check=True).stdout.split(),
                    float,
                )
            dc = np.max(np.abs(model.coef.to_numpy() / out[1:3] - 1))
            ds = np.max(np.abs(model.std_error.to_numpy() / out[3:5] - 1))
            line += (
                f"; R coxph {out[0]:.2f} s model-based (R/coacheval {out[0] / t_model:.1f}x; "
                f"coef rel. diff {dc:.1e}, SE {ds:.1e})"
            )
            if with_cluster:
                dr = np.max(np.abs(robust.std_error.to_numpy() / out[6:8] - 1))
                line += (
                    f", {out[5]:.2f} s clustered (R/coacheval {out[5] / t_robust:.1f}x; robust "
                    f"SE rel. diff {dr:.1e})"
                )
            else:
                line += f", clustered not run in R above {cluster_max:,} persons"
        else:
            line += " (Rscript not found: no R comparison)"
        print(line, flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
