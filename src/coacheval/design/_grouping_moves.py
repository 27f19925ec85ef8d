"""Peer-group formation: local search over the move, swap, split and merge neighbourhoods.

Every round evaluates the exact change of the objective of every feasible move and of the
most promising swaps for all leaders at once (numpy over count tables, O(n G) a round), and
applies the best improving candidates that touch disjoint groups.

This is an engine module of :mod:`coacheval.design.groups` without public API: its names are
private and may change; use :func:`coacheval.design.groups.form_peer_groups`.
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np

from coacheval.design._grouping_instance import (
    _EPS,
    _apply,
    _compact,
    _Eval,
    _evaluate,
    _incompat,
    _Instance,
    _leave_ok,
    _pair_score,
    _subset_eval,
)

__all__: list[str] = []


def _insert_unplaced(inst: _Instance, grp: np.ndarray) -> None:
    """Put unplaced leaders into groups with room, best gain first, until none fits."""
    while (grp < 0).any():
        pool = np.flatnonzero(grp < 0)
        ev = _evaluate(inst, grp, rows=pool)
        if ev.G == 0:
            return
        ok = (ev.B == 0) & (ev.size < inst.smax)[None, :]
        if ev.cUi is not None:
            ok &= ev.cUi < inst.cap
        gain = np.where(
            ok, 2.0 * (ev.P[None, :] + ev.S) / ev.size[None, :] - ev.f[None, :], -np.inf
        )
        h = np.argmax(gain, axis=1)
        best = gain[np.arange(pool.size), h]
        can = np.isfinite(best)
        if not can.any():
            return
        none = np.full(int(can.sum()), -1)
        _apply(grp, pool[can], none, none, h[can], best[can])


def _moves(inst: _Instance, ev: _Eval, grp: np.ndarray) -> tuple[np.ndarray, ...]:
    """Best improving move of each leader: (leader, from, to, gain)."""
    if ev.G == 0:
        return (np.empty(0, np.int64),) * 3 + (np.empty(0),)
    placed = grp >= 0
    rows = np.flatnonzero(~placed | _leave_ok(inst, ev, grp))
    if rows.size == 0:
        return (np.empty(0, np.int64),) * 3 + (np.empty(0),)
    g = grp[rows]
    pl = g >= 0
    gi = np.where(pl, g, 0)
    ok = (ev.B[rows] == 0) & (ev.size < inst.smax)[None, :]
    if ev.cUi is not None:
        ok &= ev.cUi[rows] < inst.cap
    ok[np.flatnonzero(pl), g[pl]] = False
    after = 2.0 * (ev.P[gi] - ev.own[rows]) / np.maximum(ev.size[gi] - 2, 1)
    base = np.where(pl, after - ev.f[gi], inst.big)
    gain = base[:, None] + 2.0 * (ev.P[None, :] + ev.S[rows]) / ev.size[None, :] - ev.f[None, :]
    gain[~ok] = -np.inf
    h = np.argmax(gain, axis=1)
    best = gain[np.arange(rows.size), h]
    keep = best > _EPS
    return rows[keep], g[keep], h[keep], best[keep]


def _swap_eval(
    inst: _Instance, ev: _Eval, grp: np.ndarray, i: np.ndarray, h: np.ndarray, j: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feasibility and gain of swapping ``i`` (placed or not) with ``j``, a member of ``h``."""
    g = grp[i]
    pl = g >= 0
    gi = np.where(pl, g, 0)
    pb = _incompat(inst, i, j)
    ok = (ev.B[i, h] - pb == 0) & (g != h) & (i != j)
    ok &= ~pl | (ev.B[j, gi] - pb == 0)
    if ev.cUi is not None:
        same = inst.unit[i] == inst.unit[j]
        ok &= ev.cUi[i, h] - same < inst.cap
        ok &= ~pl | (ev.cUi[j, gi] - same < inst.cap)
    if inst.mindep > 1:
        same = inst.dep[i] == inst.dep[j]
        cD = ev.cD
        nd_h = ev.nd[h] - (cD[h, inst.dep[j]] == 1) + ((cD[h, inst.dep[i]] - same) == 0)
        nd_g = ev.nd[gi] - (cD[gi, inst.dep[i]] == 1) + ((cD[gi, inst.dep[j]] - same) == 0)
        ok &= (nd_h >= inst.mindep) & (~pl | (nd_g >= inst.mindep))
    d = _pair_score(inst, i, j)
    gain = ev.c[h] * (ev.S[i, h] - d - ev.S[j, h])
    gain += np.where(pl, ev.c[gi] * (ev.S[j, gi] - d - ev.S[i, gi]), 0.0)
    return ok, gain, np.where(pl, g, -1)


def _swaps(inst: _Instance, ev: _Eval, grp: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """Best improving swap of each leader within its ``k`` most promising groups."""
    n, G = inst.n, ev.G
    empty = (np.empty(0, np.int64),) * 4 + (np.empty(0),)
    if G < 1:
        return empty
    placed = grp >= 0
    gi = np.where(placed, grp, 0)
    M = ev.c[None, :] * ev.S - np.where(placed, ev.c[gi] * ev.own, 0.0)[:, None]
    mask = ev.B <= 3
    mask[np.flatnonzero(placed), grp[placed]] = False
    if k < G:
        M[~mask] = -np.inf
        top = np.argpartition(-M, k - 1, axis=1)[:, :k]
    else:
        top = np.broadcast_to(np.arange(G), (n, G))
    i = np.repeat(np.arange(n), top.shape[1])
    h = top.ravel()
    keep = mask[i, h]
    i, h = i[keep], h[keep]
    j = ev.members[h].ravel()
    i, h = np.repeat(i, ev.members.shape[1]), np.repeat(h, ev.members.shape[1])
    keep = j >= 0
    i, h, j = i[keep], h[keep], j[keep]
    ok, gain, g = _swap_eval(inst, ev, grp, i, h, j)
    keep = ok & (gain > _EPS)
    i, j, g, h, gain = i[keep], j[keep], g[keep], h[keep], gain[keep]
    if i.size == 0:
        return empty
    order = np.lexsort((-gain, i))
    first = order[np.r_[True, i[order][1:] != i[order][:-1]]]
    return i[first], j[first], g[first], h[first], gain[first]


COMPOUND_MAX = 200  # leaders up to which local search also splits and merges groups
COMPOUND_COMBOS = 30_000  # candidate new groups per split step


def _split_or_merge(inst: _Instance, ev: _Eval, grp: np.ndarray) -> bool:
    """Apply the best improving split or merge, if any; these change the number of groups.

    Split: a new group of the smallest size from members of different groups above it. Merge:
    dissolve a group of the smallest size, its members joining different groups with room.
    """
    smin = inst.smin
    best_gain, action = _EPS, None
    donors = np.flatnonzero(_leave_ok(inst, ev, grp))
    if donors.size >= smin:
        g = grp[donors]
        leave = 2.0 * (ev.P[g] - ev.own[donors]) / np.maximum(ev.size[g] - 2, 1) - ev.f[g]
        top = smin
        while top < donors.size and math.comb(top + 1, smin) <= COMPOUND_COMBOS:
            top += 1
        pick = np.argsort(-leave, kind="stable")[:top]
        combos = np.array(list(itertools.combinations(range(pick.size), smin)), np.int64)
        members = donors[pick][combos]
        ok, value = _subset_eval(inst, members)
        src = grp[members]
        for a, b in itertools.combinations(range(smin), 2):
            ok &= src[:, a] != src[:, b]
        gain = np.where(ok, value + leave[pick][combos].sum(axis=1), -np.inf)
        t = int(np.argmax(gain)) if gain.size else 0
        if gain.size and gain[t] > best_gain:
            best_gain, action = gain[t], ("split", members[t])
    small = np.flatnonzero(ev.size == smin)
    if small.size and (ev.size < inst.smax).any():
        mem = ev.members[small][:, :smin]
        rows = mem.ravel()
        ok = (ev.B[rows] == 0) & (ev.size < inst.smax)[None, :]
        if ev.cUi is not None:
            ok &= ev.cUi[rows] < inst.cap
        ok[np.arange(rows.size), grp[rows]] = False
        join = np.where(
            ok, 2.0 * (ev.P[None, :] + ev.S[rows]) / ev.size[None, :] - ev.f[None, :], -np.inf
        )
        k = min(3, ev.G)
        targets = np.argsort(-join, axis=1, kind="stable")[:, :k].reshape(small.size, smin, k)
        gains = np.take_along_axis(join.reshape(small.size, smin, -1), targets, axis=2)
        choice = np.array(list(itertools.product(range(k), repeat=smin)), np.int64)
        cols = np.arange(smin)
        tgt = targets[:, cols, choice]  # (groups, combos, members)
        total = gains[:, cols, choice].sum(axis=2) - ev.f[small][:, None]
        for a, b in itertools.combinations(range(smin), 2):
            total = np.where(tgt[:, :, a] == tgt[:, :, b], -np.inf, total)
        flat = int(np.argmax(total)) if total.size else 0
        gs, cs = divmod(flat, choice.shape[0])
        if total.size and total[gs, cs] > best_gain:
            best_gain, action = total[gs, cs], ("merge", (mem[gs], tgt[gs, cs]))
    if action is None:
        return False
    if action[0] == "split":
        grp[action[1]] = ev.G
    else:
        members, targets = action[1]
        grp[members] = targets
        _compact(grp)
    return True


def _local_search(inst: _Instance, grp: np.ndarray, k: int, deadline: float) -> int:
    rounds = 0
    while time.perf_counter() < deadline:
        ev = _evaluate(inst, grp)
        mi, mg, mh, mgain = _moves(inst, ev, grp)
        si, sj, sg, sh, sgain = _swaps(inst, ev, grp, k)
        if mi.size + si.size == 0:
            if inst.n <= COMPOUND_MAX and _split_or_merge(inst, ev, grp):
                rounds += 1
                continue
            break
        _apply(
            grp,
            np.concatenate([mi, si]),
            np.concatenate([np.full(mi.size, -1), sj]),
            np.concatenate([mg, sg]),
            np.concatenate([mh, sh]),
            np.concatenate([mgain, sgain]),
        )
        rounds += 1
    return rounds


def _new_groups(inst: _Instance, grp: np.ndarray, *, by_value: bool = True) -> bool:
    """Place unplaced leaders in new groups, with members taken from groups above the minimum."""
    n, need = inst.n, inst.smin - 1
    if not (grp < 0).any() or n < inst.smin:
        return False
    ev = _evaluate(inst, grp)
    grp0 = grp.copy()
    donor = _leave_ok(inst, ev, grp0)
    used_group = np.zeros(max(ev.G, 1), bool)
    taken = np.zeros(n, bool)
    next_id, made = ev.G, False
    limit = need
    while limit < n and math.comb(limit + 1, need) <= 2_000:
        limit += 1
    for u in np.flatnonzero(grp0 < 0).tolist():
        if taken[u]:
            continue
        avail = ((grp0 < 0) | (donor & ~used_group[np.maximum(grp0, 0)])) & ~taken
        avail[u] = False
        cand = np.flatnonzero(avail)
        cand = cand[_incompat(inst, np.full(cand.size, u), cand) == 0]
        if cand.size < need:
            continue
        pool = grp0[cand] < 0
        score = _pair_score(inst, np.full(cand.size, u), cand)
        cand = cand[np.lexsort((-score, ~pool))][:limit]
        combos = np.array(list(itertools.combinations(range(cand.size), need)), np.int64)
        members = np.column_stack([np.full(len(combos), u), cand[combos]])
        ok, value = _subset_eval(inst, members)
        src = grp0[members[:, 1:]]
        for a, b in itertools.combinations(range(need), 2):
            ok &= (src[:, a] < 0) | (src[:, a] != src[:, b])
        if not ok.any():
            continue
        rank = (src < 0).sum(axis=1) * inst.big + (value if by_value else 0.0)
        best = members[np.argmax(np.where(ok, rank, -np.inf))]
        used_group[grp0[best][grp0[best] >= 0]] = True
        grp[best] = next_id
        taken[best] = True
        next_id += 1
        made = True
    return made


def _settle(inst: _Instance, grp: np.ndarray, candidates: int, deadline: float) -> int:
    _insert_unplaced(inst, grp)
    rounds = _local_search(inst, grp, candidates, deadline)
    while (grp < 0).any() and time.perf_counter() < deadline and _new_groups(inst, grp):
        _insert_unplaced(inst, grp)
        rounds += _local_search(inst, grp, candidates, deadline)
    return rounds
