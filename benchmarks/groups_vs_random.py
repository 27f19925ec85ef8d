"""Peer-group formation against random groupings, against the exact optimum, and at scale.

Usage: python benchmarks/groups_vs_random.py [--quick]

1. The simulator's default health system (``simulate_health_system()``): its roster is written,
   read back through coacheval's validation (pseudonymised), and the leaders employed at the
   first cohort's start are grouped. Compared on the stated objective (score per placed
   leader, see coacheval.design.groups) with (a) random splits into groups of 3-4 that ignore
   the rules (how many groups break which rule) and (b) random *feasible* groupings
   (``method="random"``: random order within role level, cut into feasible groups, the rest
   placed at random), their mean and the best of N.
2. The same on a harder roster (35 % of leaders in one department, units of 6 with their
   managers, 3 facilities), where the upper bound cannot be reached; and the default search
   against a ten times longer one (the best solution known).
3. Small rosters: the search alone (``method="search"``) against the exact optimum of the
   set-packing integer program (``method="exact"``, HiGHS through scipy.optimize.milp). Up to
   20 leaders the search starts with a branch and bound that is often exhaustive; from 21
   leaders on it is the iterated local search alone.
4. Scale: 3,000 leaders (the simulator with 3,070 leader positions, and the harder roster).

Every figure is printed with its wall-clock time on this machine.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from coacheval.design.groups import (
    check_peer_groups,
    eligible_leaders,
    form_peer_groups,
    read_roster,
)
from coacheval.io.pseudonymise import PseudonymKey
from coacheval.simulate import simulate_health_system

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_design_groups import hard_roster

KEY = PseudonymKey(b"benchmark-key-0123456789")
RULES = ["size_ok", "level_span_ok", "unit_ok", "managers_ok", "departments_ok"]


def simulated_leaders(**overrides: object) -> tuple[pd.DataFrame, float]:
    """Leaders employed at the first cohort's start, read through validation."""
    system = simulate_health_system(**overrides)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hr_roster.csv"
        system.extracts["hr_roster"].to_csv(path, index=False)
        start = time.perf_counter()
        roster = read_roster(path, key=KEY).clean
        seconds = time.perf_counter() - start
    first = system.extracts["program_cohorts"]["start_date"][0]
    return eligible_leaders(roster, as_of=first), seconds


def compare(name: str, leaders: pd.DataFrame, n_random: int) -> None:
    print(f"\n== {name}: {len(leaders):,} eligible leaders ==")
    start = time.perf_counter()
    best = form_peer_groups(leaders, seed=0)
    t_best = time.perf_counter() - start
    o = best.objective
    print(
        f"search: {o['placed']:,} placed, {o['unplaced']} unplaced, score per leader "
        f"{o['per_leader']:.4f} (departments {o['department_diversity']:.3f}, facilities "
        f"{o['facility_diversity']:.3f}, role-level spread {o['level_spread']:.4f}); "
        f"{t_best:.1f} s, stopped by {best.stats['stopped_by']}"
    )
    start = time.perf_counter()
    randoms = [form_peer_groups(leaders, seed=k, method="random") for k in range(n_random)]
    t_random = time.perf_counter() - start
    per = np.array([r.objective["per_leader"] for r in randoms])
    placed = np.array([r.objective["placed"] for r in randoms])
    print(
        f"random feasible (N={n_random}): score per leader mean {per.mean():.4f} "
        f"(sd {per.std(ddof=1):.4f}), best {per.max():.4f}; placed mean {placed.mean():.1f}, "
        f"min {placed.min()}; {t_random / n_random:.2f} s each"
    )
    print(
        f"margin: search - best of {n_random} random = {o['per_leader'] - per.max():+.4f} per "
        f"leader ({(o['per_leader'] / per.max() - 1) * 100:+.1f} %); search - random mean = "
        f"{o['per_leader'] - per.mean():+.4f} ({(o['per_leader'] - per.mean()) / per.std(ddof=1):.1f} sd)"
    )
    rng = np.random.default_rng(0)
    n = len(leaders)
    sizes = np.r_[np.full(n % 3, 4), np.full((n - 4 * (n % 3)) // 3, 3)]
    shares = []
    for _ in range(20):
        labels = np.repeat(np.arange(sizes.size), sizes)[rng.permutation(n)]
        checked = check_peer_groups(leaders, labels)
        shares.append([1 - checked[r].mean() for r in [*RULES, "feasible"]])
    share = np.mean(shares, axis=0)
    print(
        "random split into groups of 3-4 ignoring the rules (20 draws), share of groups "
        "breaking: "
        + ", ".join(f"{r.removesuffix('_ok')} {s:.1%}" for r, s in zip(RULES, share, strict=False))
        + f"; any rule {share[-1]:.1%} (search: 0 %)"
    )
    print(
        "search groups breaking a rule (checked by check_peer_groups): "
        f"{int((~check_peer_groups(leaders, _labels(leaders, best))['feasible']).sum())}"
    )


def _labels(leaders: pd.DataFrame, result: object) -> list:
    a = result.assignments  # type: ignore[attr-defined]
    group_of = dict(zip(a["employee_id"], a["group"], strict=True))
    return [group_of.get(e) for e in leaders["employee_id"]]


def against_longer(leaders: pd.DataFrame) -> None:
    start = time.perf_counter()
    default = form_peer_groups(leaders, seed=0)
    t1 = time.perf_counter() - start
    start = time.perf_counter()
    longer = form_peer_groups(leaders, seed=1, patience=1500, max_iterations=20000, time_limit=300)
    t2 = time.perf_counter() - start
    a, b = default.objective, longer.objective
    print(
        f"default search {a['placed']} placed, score {a['total']:.2f} ({t1:.1f} s); ten times "
        f"longer {b['placed']} placed, score {b['total']:.2f} ({t2:.1f} s); gap to the longer "
        f"run {(b['total'] - a['total']) / max(b['total'], 1e-9):+.2%}"
    )


def optimality(label: str, instances: list[pd.DataFrame]) -> None:
    optimal = placed_equal = 0
    gaps, t_search, t_exact = [], [], []
    for k, leaders in enumerate(instances):
        start = time.perf_counter()
        a = form_peer_groups(leaders, seed=k, method="search")
        t_search.append(time.perf_counter() - start)
        start = time.perf_counter()
        b = form_peer_groups(leaders, method="exact", exact_max_candidates=10**6, time_limit=120)
        t_exact.append(time.perf_counter() - start)
        assert b.stats["exact"]["proven_optimal"]
        same = a.objective["placed"] == b.objective["placed"]
        placed_equal += same
        gap = (b.objective["total"] - a.objective["total"]) / b.objective["placed"]
        if same:
            gaps.append(gap)
        optimal += same and gap < 1e-9
    print(
        f"{label}: {len(instances)} rosters; the search placed as many as the optimum in "
        f"{placed_equal}, reached the proven optimum in {optimal}; largest gap "
        f"{max(gaps):.3f} score per leader (where as many placed); search {np.mean(t_search):.2f} s "
        f"mean, {np.max(t_search):.2f} s max; exact {np.mean(t_exact):.2f} s mean, "
        f"{np.max(t_exact):.2f} s max"
    )


def main(quick: bool) -> None:
    n_random = 20 if quick else 100
    leaders, t_read = simulated_leaders()
    print(f"(roster read and validated in {t_read:.1f} s)")
    compare("simulator default system, employed at the first cohort's start", leaders, n_random)
    leaders3, _ = simulated_leaders(seed=1, n_leaders=300, n_facilities=3)
    compare("simulator, 300 positions in 3 facilities (the test's system)", leaders3, n_random)
    hard = hard_roster(1000, seed=1, departments=12, dominant=0.35, facilities=3, unit_size=6)
    compare("harder roster (35 % in one department, units of 6 with their managers)", hard, 20)
    if not quick:
        against_longer(hard)
    print("\n== small rosters: search alone against the exact optimum ==")
    count = 10 if quick else 40

    def moderate(n: int, s: int) -> pd.DataFrame:
        return hard_roster(n, seed=s, departments=5, dominant=0.35, unit_size=4)

    def contrived(n: int, s: int) -> pd.DataFrame:
        return hard_roster(
            n, seed=s, departments=3 + s % 3, dominant=0.4 + 0.1 * (s % 3), facilities=1 + s % 2
        )

    optimality(
        "12-18 leaders (branch and bound, then local search), 5 departments, 35 % in one",
        [moderate(12 + s % 7, s) for s in range(count)],
    )
    optimality(
        "21-28 leaders (local search only), 5 departments, 35 % in one, units of 4, 2 facilities",
        [moderate(21 + s % 8, s) for s in range(count)],
    )
    optimality(
        "21-28 leaders (local search only), 3-5 departments, 40-60 % in one, 1-2 facilities",
        [contrived(21 + s % 8, s) for s in range(100, 100 + (10 if quick else 60))],
    )
    print("\n== scale: 3,000 leaders ==")
    big, t_read = simulated_leaders(n_leaders=3070)
    start = time.perf_counter()
    res = form_peer_groups(big, seed=0)
    print(
        f"simulator, {len(big):,} leaders (read and validated in {t_read:.1f} s): grouped in "
        f"{time.perf_counter() - start:.1f} s, {res.objective['unplaced']} unplaced, score per "
        f"leader {res.objective['per_leader']:.4f}, stopped by {res.stats['stopped_by']}"
    )
    hard3 = hard_roster(3000, seed=2, departments=30, dominant=0.3, facilities=6, unit_size=6)
    start = time.perf_counter()
    res = form_peer_groups(hard3, seed=0)
    rand = form_peer_groups(hard3, seed=0, method="random")
    print(
        f"harder roster, 3,000 leaders: grouped in {time.perf_counter() - start:.1f} s "
        f"({res.stats['subproblems']} sub-problems, stopped by {res.stats['stopped_by']}, time "
        f"limit reached: {res.stats['time_limit_reached']}), {res.objective['unplaced']} "
        f"unplaced, score per leader {res.objective['per_leader']:.4f} against "
        f"{rand.objective['per_leader']:.4f} for a random feasible grouping"
    )


if __name__ == "__main__":
    main("--quick" in sys.argv[1:])
