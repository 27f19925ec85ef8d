"""Peer-group formation: iterated local search, perturbation and POPMUSIC decomposition.

Ruin and recreate (re-grouping dissolved groups by branch and bound) or random swaps, then
local search; programs of more than ``SUB_GROUPS`` groups are improved one sub-problem of
overlapping role levels at a time.

This is an engine module of :mod:`coacheval.design.groups` without public API: its names are
private and may change; use :func:`coacheval.design.groups.form_peer_groups`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from coacheval.design._grouping_construct import _construct
from coacheval.design._grouping_exact import PACK_MAX, PACK_NODES, _pack
from coacheval.design._grouping_instance import (
    _apply,
    _at_bound,
    _better,
    _compact,
    _evaluate,
    _Instance,
    _value,
)
from coacheval.design._grouping_moves import _settle, _swap_eval

__all__: list[str] = []


RUIN_MAX = 5  # groups dissolved at most by one perturbation


def _recreate(
    inst: _Instance, grp: np.ndarray, rng: np.random.Generator, nodes: int, tries: int = 4
) -> None:
    """Group the unplaced leaders among themselves: exactly when few, else best of a few cuts."""
    pool = np.flatnonzero(grp < 0)
    if pool.size < inst.smin:
        return
    sub = _sub_instance(inst, pool)
    packed = _pack(sub, rng, node_limit=nodes)
    best = None if packed is None else packed[0]
    if best is None:
        best_value = (0, 0.0)
        for t in range(tries):
            local = _construct(sub, rng, optimise=t % 2 == 0)
            value = _value(_evaluate(sub, local), local)
            if best is None or _better(value, best_value):
                best, best_value = local, value
    if best is not None and (best >= 0).any():
        G = int(grp.max()) + 1 if (grp >= 0).any() else 0
        grp[pool[best >= 0]] = G + best[best >= 0]


def _perturb(
    inst: _Instance,
    grp: np.ndarray,
    rng: np.random.Generator,
    strength: int,
    ruin_max: int,
    nodes: int,
) -> None:
    """Random feasible swaps, or dissolve a few related groups (their members are re-placed)."""
    placed = np.flatnonzero(grp >= 0)
    if placed.size < 2:
        return
    if rng.random() < 0.5:
        G = int(grp.max()) + 1
        lev = np.full(G, -1)
        np.maximum.at(lev, grp[placed], inst.lev[placed])
        seed = int(rng.integers(G))
        related = np.flatnonzero(np.abs(lev - lev[seed]) <= inst.span)
        ruin = rng.choice(
            related, min(related.size, int(rng.integers(1, ruin_max + 1))), replace=False
        )
        sizes = np.bincount(grp[placed], minlength=G)[ruin]
        keep = np.cumsum(sizes) + (grp < 0).sum() <= PACK_MAX
        keep[0] = True
        grp[np.isin(grp, ruin[keep])] = -1
        _compact(grp)
        _recreate(inst, grp, rng, nodes)
        return
    ev = _evaluate(inst, grp)
    tries = 40 * strength
    i = rng.choice(inst.n, tries)
    j = rng.choice(placed, tries)
    ok, _, g = _swap_eval(inst, ev, grp, i, grp[j], j)
    ok &= grp[i] != grp[j]
    if ok.any():
        k = min(int(ok.sum()), strength)
        _apply(grp, i[ok][:k], j[ok][:k], g[ok][:k], grp[j][ok][:k], np.zeros(k))


SUB_GROUPS = 24  # groups per sub-problem of the decomposition (all groups when fewer)
SUB_ITERATIONS = 40  # perturbations per sub-problem at most
SUB_PATIENCE = 8  # ... or in a row without improvement
SUB_RUIN_MAX = 3  # groups dissolved at most by one perturbation of a sub-problem


def _ils(
    inst: _Instance,
    grp: np.ndarray,
    rng: np.random.Generator,
    deadline: float,
    max_iterations: int,
    patience: int,
    candidates: int,
    *,
    ruin_max: int = RUIN_MAX,
    nodes: int = 2 * PACK_NODES,
) -> tuple[np.ndarray, tuple[int, float], int, int, int]:
    """Run iterated local search from a local optimum: perturb, settle, keep the best."""
    best, best_value = grp, _value(_evaluate(inst, grp), grp)
    current, current_value = best, best_value
    G = int(best.max()) + 1 if (best >= 0).any() else 0
    top = max(3, min(20, G // 10))
    it = since = rounds = 0
    while (
        it < max_iterations
        and since < patience
        and time.perf_counter() < deadline
        and (G > 1 or (best < 0).any())
        and not _at_bound(inst, best_value)
    ):
        x = current.copy()
        _perturb(inst, x, rng, int(rng.integers(2, top + 1)), ruin_max, nodes)
        rounds += _settle(inst, x, candidates, deadline)
        value = _value(_evaluate(inst, x), x)
        if _better(value, best_value):
            best, best_value, since = x, value, 0
        else:
            since += 1
        # Accept a solution as good as the current one (moves along plateaus); go back to the
        # best after a few perturbations without improvement.
        if not _better(current_value, value):
            current, current_value = x, value
        if since and since % 10 == 0:
            current, current_value = best, best_value
        it += 1
    return best, best_value, it, rounds, since


def _sub_instance(inst: _Instance, idx: np.ndarray) -> _Instance:
    """Restrict the problem to the leaders ``idx`` (pairs among them kept)."""
    n, m = inst.n, idx.size
    pos = np.full(n, -1, np.int64)
    pos[idx] = np.arange(m)

    def remap(keys: np.ndarray) -> np.ndarray:
        a, b = pos[keys // n], pos[keys % n]
        keep = (a >= 0) & (b >= 0)
        return np.sort(a[keep] * m + b[keep])

    return _Instance(
        ids=inst.ids[idx],
        lev=inst.lev[idx],
        dep=inst.dep[idx],
        fac=inst.fac[idx],
        unit=inst.unit[idx],
        level_names=inst.level_names,
        dep_names=inst.dep_names,
        fac_names=inst.fac_names,
        unit_names=inst.unit_names,
        mgr_keys=remap(inst.mgr_keys),
        excl_keys=remap(inst.excl_keys),
        conf_keys=remap(inst.conf_keys),
        pref_keys=remap(inst.pref_keys),
        smin=inst.smin,
        smax=inst.smax,
        span=inst.span,
        cap=inst.cap,
        mindep=inst.mindep,
        w=inst.w,
    )


def _search(
    inst: _Instance,
    rng: np.random.Generator,
    deadline: float,
    max_iterations: int,
    patience: int,
    candidates: int,
) -> tuple[np.ndarray, dict[str, Any]]:
    grp = _construct(inst, rng)
    packed = _pack(inst, rng, node_limit=50 * PACK_NODES)
    if packed is not None and packed[1]:  # exhaustive: proven optimal
        value = _value(_evaluate(inst, packed[0]), packed[0])
        stats = {
            "construction": {"placed": value[0], "objective": value[1]},
            "iterations": 0,
            "subproblems": 0,
            "local_search_rounds": 0,
            "stopped_by": "proven optimal (exhaustive branch and bound)",
        }
        return packed[0], stats
    if packed is not None and _better(
        _value(_evaluate(inst, packed[0]), packed[0]), _value(_evaluate(inst, grp), grp)
    ):
        grp = packed[0]
    construction = _value(_evaluate(inst, grp), grp)
    rounds = _settle(inst, grp, candidates, deadline)
    settled = _value(_evaluate(inst, grp), grp)
    G = int(grp.max()) + 1 if (grp >= 0).any() else 0
    if G <= SUB_GROUPS:
        grp, value, it, more, since = _ils(
            inst, grp, rng, deadline, max_iterations, patience, candidates
        )
        rounds += more
        subproblems = 0
    else:
        grp, value, it, more, since, subproblems = _decompose(
            inst, grp, rng, deadline, max_iterations, patience, candidates
        )
        rounds += more
    stats = {
        "construction": {"placed": construction[0], "objective": construction[1]},
        "local_search": {"placed": settled[0], "objective": settled[1]},
        "final": {"placed": value[0], "objective": value[1]},
        "iterations": it,
        "subproblems": subproblems,
        "local_search_rounds": rounds,
        "stopped_by": _stop_reason(inst, value, deadline, since >= patience, it >= max_iterations),
    }
    return grp, stats


def _decompose(
    inst: _Instance,
    grp: np.ndarray,
    rng: np.random.Generator,
    deadline: float,
    max_iterations: int,
    patience: int,
    candidates: int,
) -> tuple[np.ndarray, tuple[int, float], int, int, int, int]:
    """ILS on sub-problems of ``SUB_GROUPS`` related groups at a time (POPMUSIC-style).

    The objective adds up over groups and every rule is within a group, so improving the
    grouping of some groups' members (and of unplaced leaders) among themselves improves the
    whole by exactly as much.
    """
    value = _value(_evaluate(inst, grp), grp)
    it = rounds = since = subproblems = 0
    while (
        it < max_iterations
        and since < patience
        and time.perf_counter() < deadline
        and not _at_bound(inst, value)
    ):
        placed = grp >= 0
        G = int(grp.max()) + 1
        lo = np.full(G, 10**9)
        hi = np.full(G, -1)
        np.minimum.at(lo, grp[placed], inst.lev[placed])
        np.maximum.at(hi, grp[placed], inst.lev[placed])
        seed = int(rng.integers(G))
        related = np.flatnonzero(
            (np.maximum(hi, hi[seed]) - np.minimum(lo, lo[seed]) <= inst.span + 1)
            & (np.arange(G) != seed)
        )
        pick = rng.choice(related, min(related.size, SUB_GROUPS - 1), replace=False)
        groups = np.r_[seed, pick]
        near = np.abs(inst.lev - lo[seed]) <= inst.span + 1
        idx = np.r_[
            np.flatnonzero(np.isin(grp, groups)), np.flatnonzero(~placed & near)[:SUB_GROUPS]
        ]
        mapping = np.full(G, -1, np.int64)
        mapping[groups] = np.arange(groups.size)
        local = np.where(grp[idx] >= 0, mapping[np.maximum(grp[idx], 0)], -1)
        sub = _sub_instance(inst, idx)
        before = _value(_evaluate(sub, local), local)
        best, after, its, more, _ = _ils(
            sub, local.copy(), rng, deadline, min(SUB_ITERATIONS, max_iterations - it),
            SUB_PATIENCE, candidates, ruin_max=SUB_RUIN_MAX, nodes=PACK_NODES,
        )  # fmt: skip
        it += max(its, 1)
        rounds += more
        subproblems += 1
        if _better(after, before):
            back = np.r_[groups, G + np.arange(max(int(best.max()) + 1 - groups.size, 0))]
            grp[idx] = np.where(best >= 0, back[np.maximum(best, 0)], -1)
            _compact(grp)
            # The score adds up over groups: the whole changes by the sub-problem's change.
            value = (value[0] + after[0] - before[0], value[1] + after[1] - before[1])
            since = 0
        else:
            since += 1
    return grp, value, it, rounds, since, subproblems


def _stop_reason(
    inst: _Instance, value: tuple[int, float], deadline: float, patient: bool, most: bool
) -> str:
    if _at_bound(inst, value):
        return "upper bound reached (no better score exists with this many placed)"
    if time.perf_counter() >= deadline:
        return "time limit"
    return "patience" if patient else "max_iterations" if most else "single group"
