"""Calibration of the staff-turnover spillover rate ratio on the simulator (run on demand).

Usage: python benchmarks/calibrate_spillover.py [N_SYSTEMS] [N_LEADERS]

For each seeded system, the unit-month rows of the evaluation (coacheval.evaluate.spillover.
unit_months) are fitted with the evaluation's model (negative binomial with calendar-year terms,
CR1 by unit) twice: on the simulated staff separations (true rate ratio 0.90) and on a redraw
with the same random numbers and a true rate ratio of 1. Prints the bias of the log rate ratio,
its Monte Carlo SE, the SD of the estimates, the mean SE and the 95% CI coverage.
"""

from __future__ import annotations

import dataclasses
import sys
import time
import types
import warnings

import numpy as np
import pandas as pd

from coacheval.evaluate.plan import load_plan
from coacheval.evaluate.spillover import unit_months
from coacheval.retention.spillover import unit_turnover_model
from coacheval.simulate import simulate_health_system
from coacheval.simulate.staffing import simulate_unit_staffing, staffing_extract
from coacheval.simulate.streams import Streams

MODEL = dict(
    separations_col="separations",
    exposure_col="coached",
    headcount_col="headcount",
    covariates=["year"],
    cluster_col="unit_id",
    family="negative_binomial",
    vcov="CR1",
)


def replicate(seed: int, n_leaders: int) -> list[tuple[float, float, float, float, float]]:
    system = simulate_health_system(seed=seed, n_leaders=n_leaders)
    ex = system.extracts
    tab = staffing_extract(system.organisation, system.staffing)
    study = types.SimpleNamespace(
        tables={
            "hr_roster": ex["hr_roster"][["employee_id", "unit_id"]],
            "enrolment": ex["enrolment"].assign(
                enrol_date=pd.to_datetime(ex["enrolment"].enrol_date)
            ),
            "unit_staffing": tab.assign(month=pd.to_datetime(tab.month)),
        }
    )
    frame = unit_months(study, load_plan("default"))
    out = []
    streams = Streams(10_000 + seed)
    for truth, cfg in (
        (system.config.staff_turnover_rr, system.config),
        (1.0, dataclasses.replace(system.config, staff_turnover_rr=1.0)),
    ):
        staffing = simulate_unit_staffing(cfg, system.organisation, system.program, streams)
        counts = staffing_extract(system.organisation, staffing)
        counts = counts.assign(month=pd.to_datetime(counts.month))
        data = frame.drop(columns="separations").merge(
            counts[["unit_id", "month", "separations"]], on=["unit_id", "month"]
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            row = unit_turnover_model(data, **MODEL).table.set_index("term").loc["coached"]
        out.append((truth, row.estimate, row.std_error, row.conf_low, row.conf_high))
    return out


def main(n: int, leaders: int) -> None:
    start = time.perf_counter()
    rows = [r for seed in range(1, n + 1) for r in replicate(seed, leaders)]
    frame = pd.DataFrame(rows, columns=["truth", "log_rr", "se", "low", "high"])
    frame["error"] = frame.log_rr - np.log(frame.truth)
    frame["covered"] = (frame.low <= np.log(frame.truth)) & (np.log(frame.truth) <= frame.high)
    summary = frame.groupby("truth").agg(
        bias=("error", "mean"),
        mc_se=("error", lambda x: x.std(ddof=1) / np.sqrt(len(x))),
        sd=("log_rr", "std"),
        mean_se=("se", "mean"),
        coverage=("covered", "mean"),
        runs=("covered", "size"),
    )
    print(f"{n} systems of {leaders} leader positions, {time.perf_counter() - start:.0f} s")
    print(summary.round(3).to_string())


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else 200, int(args[1]) if len(args) > 1 else 300)
