"""Time the simulator at health-system and consortium scale (run on demand, not in the tests).

Usage: python benchmarks/simulate_scale.py [N_LEADERS ...]

Prints, for each size, the seconds spent per simulation stage and writing the clean extracts.
There is no reference implementation to compare with (the simulator is coacheval's own); the
target is the issue's: a consortium-sized system (hundreds of thousands of leaders) simulates
in well under a minute on a 2-core machine.
"""

from __future__ import annotations

import sys
import tempfile
import time

from coacheval.simulate import simulate_health_system


def main(sizes: list[int]) -> None:
    print(
        f"{'leaders':>9} {'people':>9} {'responses':>10} {'simulate_s':>10} {'write_s':>8}  stages (s)"
    )
    for n in sizes:
        marks: list[tuple[str, float]] = []
        start = time.perf_counter()
        system = simulate_health_system(
            n_leaders=n,
            progress=lambda label, marks=marks: marks.append((label, time.perf_counter())),
        )
        simulated = time.perf_counter()
        with tempfile.TemporaryDirectory() as out:
            system.write(out)
        written = time.perf_counter()
        bounds = [t for _, t in marks] + [simulated]
        stages = ", ".join(
            f"{label} {b - a:.1f}" for (label, a), b in zip(marks, bounds[1:], strict=True)
        )
        print(
            f"{n:>9,} {len(system.extracts['hr_roster']):>9,} {len(system.extracts['survey_responses']):>10,} "
            f"{simulated - start:>10.1f} {written - simulated:>8.1f}  {stages}"
        )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1_000, 30_000, 300_000])
