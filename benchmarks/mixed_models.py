"""Time fit_mixed against lme4 (via Rscript, same run) and statsmodels MixedLM.

Usage: python benchmarks/mixed_models.py [N_LEADERS ...] [--reps 3] [--timeout 120] [--no-r]
       [--no-statsmodels]

Data: N leaders x 4 survey waves, leaders nested in units of 20, a coached arm (30%) with a
treatment-by-time effect; random intercepts for leader (model "leader") and for leader and unit
(model "leader+unit"). The same CSV is fitted by

* fit_mixed (REML) with Satterthwaite df (the default) and with ``inference="wald"``;
* lme4::lmer (REML, default control) and lmerTest::lmer + summary() (lme4 plus the
  Satterthwaite df), timed inside R with system.time (R start-up and CSV reading excluded);
* statsmodels MixedLM (REML, model "leader" only), in a subprocess killed after --timeout s.

Each figure is the best of --reps fits (lmerTest and statsmodels: one fit). Printed: seconds,
ratios to lme4, and the largest difference of the fixed effects from lme4's. The target
(shared/PERFORMANCE.md) is fit_mixed at most as slow as lme4.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

from coacheval.effects.mixed import fit_mixed

FIXED = ["time", "treat", "treat_time"]
MODELS = {"leader": ["leader"], "leader+unit": ["leader", "unit"]}

R_SCRIPT = textwrap.dedent(
    """
    args <- commandArgs(TRUE)
    reps <- as.integer(args[2])
    suppressPackageStartupMessages({library(lme4); library(lmerTest); library(jsonlite)})
    d <- read.csv(args[1])
    d$leader <- factor(d$leader); d$unit <- factor(d$unit)
    forms <- list(
      "leader" = y ~ time + treat + treat_time + (1 | leader),
      "leader+unit" = y ~ time + treat + treat_time + (1 | leader) + (1 | unit))
    out <- list()
    for (nm in names(forms)) {
      best <- Inf
      for (i in seq_len(reps)) {
        el <- system.time(f <- lme4::lmer(forms[[nm]], data = d))[["elapsed"]]
        best <- min(best, el)
      }
      el_t <- system.time({g <- lmerTest::lmer(forms[[nm]], data = d); s <- summary(g)})
      out[[nm]] <- list(lme4 = best, lmerTest = el_t[["elapsed"]], beta = unname(fixef(f)),
                        df = unname(s$coefficients[, "df"]), sigma = sigma(f),
                        theta = unname(getME(f, "theta")))
    }
    cat(toJSON(out, digits = NA, auto_unbox = TRUE))
    """
)

SM_SCRIPT = textwrap.dedent(
    """
    import json, sys, time, warnings
    import pandas as pd
    import statsmodels.formula.api as smf
    warnings.simplefilter("ignore")
    d = pd.read_csv(sys.argv[1])
    start = time.perf_counter()
    fit = smf.mixedlm("y ~ time + treat + treat_time", d, groups=d["leader"]).fit(reml=True)
    print(json.dumps({"seconds": time.perf_counter() - start,
                      "beta": [float(v) for v in fit.fe_params]}))
    """
)


def simulate(n_leaders: int, seed: int = 1, waves: int = 4, unit_size: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    leader = np.repeat(np.arange(n_leaders), waves)
    n_units = -(-n_leaders // unit_size)
    unit = (np.arange(n_leaders) // unit_size)[leader]
    t = np.tile(np.arange(waves, dtype=float), n_leaders)
    treat = (rng.random(n_leaders) < 0.3).astype(float)[leader]
    y = (
        3.0
        + 0.1 * t
        + 0.2 * treat
        + 0.15 * treat * t
        + rng.normal(0, 0.3, n_units)[unit]
        + rng.normal(0, 0.7, n_leaders)[leader]
        + rng.normal(0, 0.5, len(t))
    )
    return pd.DataFrame(
        {"y": y, "time": t, "treat": treat, "treat_time": treat * t, "leader": leader, "unit": unit}
    )


def best_of(reps: int, func, /, *args, **kwargs) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    best, result = np.inf, None
    for _ in range(reps):
        start = time.perf_counter()
        result = func(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best, result


def run_r(csv: Path, reps: int, timeout: float) -> dict | None:
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as fh:
        fh.write(R_SCRIPT)
    try:
        proc = subprocess.run(
            ["Rscript", fh.name, str(csv), str(reps)],
            capture_output=True,
            text=True,
            timeout=timeout * (2 * reps + 2),
            check=True,
        )
        return json.loads(proc.stdout)
    except (FileNotFoundError, subprocess.SubprocessError) as exc:
        print(f"  lme4 not timed: {exc}")
        return None
    finally:
        os.unlink(fh.name)


def run_statsmodels(csv: Path, timeout: float) -> dict | None:
    try:
        proc = subprocess.run(
            [sys.executable, "-c", SM_SCRIPT, str(csv)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        return {"seconds": None, "note": f"did not finish in {timeout:.0f} s"}
    except subprocess.SubprocessError as exc:
        return {"seconds": None, "note": f"failed: {exc}"}


def fmt(value: float | None) -> str:
    return f"{value:9.3f}" if value is not None else f"{'—':>9}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--no-r", action="store_true")
    parser.add_argument("--no-statsmodels", action="store_true")
    args = parser.parse_args()
    print(
        f"cores {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
    )
    header = (
        f"{'leaders':>8} {'rows':>8} {'model':<12} {'fit_mixed':>9} {'fm_wald':>9} {'lme4':>9} "
        f"{'lmerTest':>9} {'statsmod':>9} {'fm/lme4':>8} {'fmW/lme4':>8} {'sm/lme4':>8} "
        f"{'max|dbeta|':>10} {'max rel ddf':>11}"
    )
    print(header)
    for n in args.sizes:
        data = simulate(n)
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "panel.csv"
            data.to_csv(csv, index=False)
            r = None if args.no_r else run_r(csv, args.reps, args.timeout)
            sm = None if args.no_statsmodels else run_statsmodels(csv, args.timeout)
        for model, groups in MODELS.items():
            spec = {"outcome": "y", "fixed": FIXED, "groups": groups}
            t_sat, res = best_of(args.reps, fit_mixed, data, **spec)
            t_wald, _ = best_of(args.reps, fit_mixed, data, inference="wald", **spec)
            rr = r.get(model) if r else None
            t_r = rr["lme4"] if rr else None
            t_rt = rr["lmerTest"] if rr else None
            t_sm = sm.get("seconds") if (sm and model == "leader") else None
            dbeta = ddf = None
            if rr:
                dbeta = float(np.max(np.abs(res.table.estimate.to_numpy() - np.array(rr["beta"]))))
                ddf = float(np.max(np.abs(res.table.df.to_numpy() / np.array(rr["df"]) - 1)))

            def ratio(a: float | None, b: float | None) -> str:
                return f"{a / b:8.2f}" if (a is not None and b) else f"{'—':>8}"

            print(
                f"{n:>8,} {len(data):>8,} {model:<12} {fmt(t_sat)} {fmt(t_wald)} {fmt(t_r)} "
                f"{fmt(t_rt)} {fmt(t_sm)} {ratio(t_sat, t_r)} {ratio(t_wald, t_r)} "
                f"{ratio(t_sm, t_r)} " + (f"{dbeta:10.1e} {ddf:11.1e}" if dbeta is not None else "")
            )
            if sm and model == "leader" and sm.get("note"):
                print(f"{'':>8} statsmodels MixedLM: {sm['note']}")


if __name__ == "__main__":
    main()
