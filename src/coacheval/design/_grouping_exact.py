"""Peer-group formation: exact solvers (branch and bound over feasible groups, set-packing MILP).

This is an engine module of :mod:`coacheval.design.groups` without public API: its names are
private and may change; use :func:`coacheval.design.groups.form_peer_groups`.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from coacheval.design._grouping_instance import _Instance, _subset_eval

__all__: list[str] = []


PACK_MAX = 20  # unplaced leaders up to which a re-grouping is packed exactly (depth-first)
PACK_NODES = 4_000  # nodes of that search (in each of its two phases)


def _pack(
    inst: _Instance, rng: np.random.Generator, node_limit: int | None = None
) -> tuple[np.ndarray, bool] | None:
    """Best grouping (most placed, then best score) by branch and bound; None for many leaders.

    Depth first over the undecided leader with the fewest feasible groups: each feasible group
    holding them (best score first, ties in random order), or leaving them out. A branch is cut when
    even placing every undecided leader at the best pair score could not beat the best so far.
    The search stops after ``node_limit`` nodes with the best grouping found; the flag
    returned says whether it finished (then the grouping is optimal).
    """
    n = inst.n
    if n > PACK_MAX:
        return None
    node_limit = PACK_NODES if node_limit is None else node_limit
    rows_, vals_ = [], []
    for s in range(inst.smin, inst.smax + 1):
        if n >= s:
            members = np.array(list(itertools.combinations(range(n), s)), np.int64)
            ok, value = _subset_eval(inst, members)
            rows_ += list(members[ok])
            vals_.append(value[ok])
    if not rows_:
        return np.full(n, -1, np.int64), True
    vals = np.concatenate(vals_)
    sizes = np.array([len(r) for r in rows_])
    flat = np.concatenate(rows_)
    # Bit positions: the leaders with the fewest feasible groups first (decided first).
    options = np.bincount(flat, minlength=n)
    bit = np.empty(n, np.int64)
    bit[np.lexsort((rng.random(n), options))] = np.arange(n)
    order = np.lexsort((rng.random(vals.size), -vals))
    owner = np.full(vals.size, n, np.int64)
    np.minimum.at(owner, np.repeat(np.arange(vals.size), sizes), bit[flat])
    masks = np.zeros(vals.size, np.int64)
    np.add.at(masks, np.repeat(np.arange(vals.size), sizes), np.left_shift(1, bit[flat]))
    with_elem: list[list[tuple[int, int, float]]] = [[] for _ in range(n)]
    for c, o, m, v in zip(order.tolist(), owner[order].tolist(), masks[order].tolist(),
                          vals[order].tolist(), strict=True):  # fmt: skip
        with_elem[o].append((m, c, v))
    # Bound: each undecided leader adds at most the best score per member of a group holding them.
    per_member = np.full(n, -np.inf)
    np.maximum.at(per_member, bit[flat], np.repeat(vals / sizes, sizes))
    can = np.isfinite(per_member)
    per_member[~can] = 0.0
    can_mask = sum(1 << int(k) for k in np.flatnonzero(can))
    n_can = int(can.sum())
    bits = (np.arange(1024)[:, None] >> np.arange(10)) & 1
    lo_table = (bits * np.r_[per_member, np.zeros(20)][:10]).sum(axis=1).tolist()
    hi_table = (bits * np.r_[per_member, np.zeros(20)][10:20]).sum(axis=1).tolist()
    best: list[Any] = [-1, -np.inf, []]
    nodes = 0

    def dfs(remaining: int, chosen: list[int], placed: int, value: float, count_only: bool) -> None:
        nonlocal nodes
        nodes += 1
        if placed > best[0] or (placed == best[0] and value > best[1] + 1e-12):
            best[0], best[1], best[2] = placed, value, list(chosen)
        rest = (remaining & can_mask).bit_count()
        if rest == 0 or nodes > node_limit or placed + rest < best[0]:
            return
        bound = value + lo_table[remaining & 1023] + hi_table[remaining >> 10]
        if placed + rest == best[0] and (count_only or bound <= best[1] + 1e-12):
            return
        e = (remaining & can_mask & -(remaining & can_mask)).bit_length() - 1
        for mask, c, v in with_elem[e]:
            if mask & remaining == mask:
                chosen.append(c)
                dfs(remaining & ~mask, chosen, placed + mask.bit_count(), value + v, count_only)
                chosen.pop()
                if count_only and best[0] == n_can:
                    return
        dfs(remaining & ~(1 << e), chosen, placed, value, count_only)

    # First the most leaders placed (quick), then the best score with as many placed.
    dfs((1 << n) - 1, [], 0, 0.0, True)
    nodes = 0
    dfs((1 << n) - 1, [], 0, 0.0, False)
    grp = np.full(n, -1, np.int64)
    for gid, c in enumerate(best[2]):
        grp[rows_[c]] = gid
    return grp, nodes <= node_limit


def _exact(inst: _Instance, time_limit: float, max_candidates: int) -> dict[str, Any] | None:
    """Solve the set-packing program over every feasible group exactly (None when too large)."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csc_array

    n = inst.n
    total = sum(math.comb(n, s) for s in range(inst.smin, inst.smax + 1))
    if total > max_candidates or n < inst.smin:
        return None
    groups, values = [], []
    for s in range(inst.smin, inst.smax + 1):
        members = np.array(list(itertools.combinations(range(n), s)), np.int64).reshape(-1, s)
        ok, value = _subset_eval(inst, members)
        groups += [m for m in members[ok]]
        values.append(value[ok])
    if not groups:
        return {"grp": np.full(n, -1, np.int64), "optimal": True, "candidates": 0}
    vals = np.concatenate(values)
    sizes = np.array([len(g) for g in groups], float)
    rows = np.concatenate(groups)
    cols = np.repeat(np.arange(len(groups)), sizes.astype(int))
    A = csc_array((np.ones(rows.size), (rows, cols)), shape=(n, len(groups)))
    # One program, lexicographic through the weight: a leader placed outweighs any score.
    res = milp(
        -(inst.big * sizes + vals),
        constraints=[LinearConstraint(A, 0, 1)],
        integrality=np.ones(len(groups)),
        bounds=Bounds(0, 1),
        options={"time_limit": time_limit, "mip_rel_gap": 1e-12},
    )
    if res.x is None:
        return None
    x = res.x
    grp = np.full(n, -1, np.int64)
    for gid, c in enumerate(np.flatnonzero(x > 0.5)):
        grp[groups[c]] = gid
    return {
        "grp": grp,
        "optimal": bool(res.status == 0),
        "candidates": len(groups),
    }
