"""Validation throughput on a large HR extract (run on demand, not in the tests).

Usage: python benchmarks/validate_scale.py [ROWS]   (default 1,000,000)

Builds an HR roster of ROWS rows from a simulated system (rows repeated with fresh ids), then
times coacheval's validation of it (read, repair, pseudonymise, pandera checks, rules) and, as a
floor in the same run, pandas reading the same file as text. Prints rows per second and the
ratio to the floor.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from coacheval.io.pseudonymise import PseudonymKey
from coacheval.io.validate import validate_folder
from coacheval.simulate import simulate_health_system


def build_roster(rows: int, folder: Path) -> Path:
    base = simulate_health_system(seed=1, n_leaders=50_000).extracts["hr_roster"]
    reps = int(np.ceil(rows / len(base)))
    big = pd.concat([base] * reps, ignore_index=True).iloc[:rows].copy()
    big["employee_id"] = np.char.zfill(np.arange(1, rows + 1).astype(str), 8)
    big["manager_id"] = ""
    path = folder / "hr_roster.csv"
    big.to_csv(path, index=False)
    return path


def main(rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = build_roster(rows, folder)
        start = time.perf_counter()
        pd.read_csv(path, dtype=str, keep_default_na=False)
        floor = time.perf_counter() - start
        start = time.perf_counter()
        report = validate_folder(folder, key=PseudonymKey(b"benchmark-key-0123456789"))
        elapsed = time.perf_counter() - start
        table = report.tables["hr_roster"]
        print(
            f"rows: {table.rows_in:,} (clean {table.rows_clean:,}, quarantined {table.rows_quarantined:,})"
        )
        print(f"coacheval validate: {elapsed:.1f} s = {table.rows_in / elapsed:,.0f} rows/s")
        print(
            f"pandas read_csv (text only, the floor): {floor:.1f} s = {table.rows_in / floor:,.0f} rows/s"
        )
        print(f"ratio validate / read: {elapsed / floor:.1f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
