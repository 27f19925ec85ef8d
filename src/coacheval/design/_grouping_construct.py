"""Peer-group formation: the feasible starting grouping (dynamic program) and random groupings.

This is an engine module of :mod:`coacheval.design.groups` without public API: its names are
private and may change; use :func:`coacheval.design.groups.form_peer_groups`.
"""

from __future__ import annotations

import numpy as np

from coacheval.design._grouping_instance import _apply, _evaluate, _Instance, _subset_eval
from coacheval.design._grouping_moves import _new_groups

__all__: list[str] = []


def _construct(inst: _Instance, rng: np.random.Generator, *, optimise: bool = True) -> np.ndarray:
    """Order leaders by level (departments spread evenly), cut the order by dynamic programming."""
    n = inst.n
    jitter = rng.permutation(n)
    if optimise:
        o = np.lexsort((jitter, inst.dep, inst.lev))
        key = inst.lev[o] * (len(inst.dep_names) + 1) + inst.dep[o]
        start = np.r_[True, key[1:] != key[:-1]]
        run_start = np.maximum.accumulate(np.where(start, np.arange(n), 0))
        turn = np.empty(n, np.int64)
        turn[o] = np.arange(n) - run_start
        # Spread each department evenly over its level's sequence (a large department would
        # otherwise fill the end of it alone): position = (rank + U(0, 1)) / department count.
        count = np.bincount(key, minlength=int(key.max()) + 1)[key]
        spread = np.empty(n)
        spread[o] = (turn[o] + rng.random(n)) / count
        dept_rank = rng.permutation(max(len(inst.dep_names), 1))[inst.dep]
        order = np.lexsort((dept_rank, spread, inst.lev))
    else:
        order = np.lexsort((jitter, inst.lev))
    sizes = range(inst.smin, inst.smax + 1)
    ok, val = {}, {}
    for s in sizes:
        if n < s:
            ok[s], val[s] = [], []
            continue
        windows = np.lib.stride_tricks.sliding_window_view(order, s)
        o_s, v_s = _subset_eval(inst, windows)
        ok[s] = o_s.tolist()
        val[s] = (v_s if optimise else np.zeros_like(v_s)).tolist()
    best = [0.0] * (n + 1)
    choice = [0] * (n + 1)
    big = inst.big
    for i in range(n - 1, -1, -1):
        b, ch = best[i + 1], 0
        for s in sizes:
            if i + s <= n and ok[s][i]:
                v = best[i + s] + big * s + val[s][i]
                if v > b:
                    b, ch = v, s
        best[i], choice[i] = b, ch
    grp = np.full(n, -1, np.int64)
    i, gid = 0, 0
    while i < n:
        s = choice[i]
        if s:
            grp[order[i : i + s]] = gid
            gid += 1
            i += s
        else:
            i += 1
    return grp


def _fill_randomly(inst: _Instance, grp: np.ndarray, rng: np.random.Generator) -> None:
    """Put unplaced leaders into random groups that can take them (the random baseline)."""
    while (grp < 0).any():
        ev = _evaluate(inst, grp)
        rows = np.flatnonzero(grp < 0)
        if ev.G == 0:
            break
        ok = (ev.B[rows] == 0) & (ev.size < inst.smax)[None, :]
        if ev.cUi is not None:
            ok &= ev.cUi[rows] < inst.cap
        score = np.where(ok, rng.random(ok.shape), -1.0)
        h = np.argmax(score, axis=1)
        can = ok[np.arange(rows.size), h]
        if not can.any():
            break
        _apply(grp, rows[can], np.full(can.sum(), -1), np.full(can.sum(), -1), h[can],
               rng.random(int(can.sum())))  # fmt: skip


def _random_grouping(inst: _Instance, rng: np.random.Generator) -> np.ndarray:
    grp = _construct(inst, rng, optimise=False)
    _fill_randomly(inst, grp, rng)
    while _new_groups(inst, grp, by_value=False):
        _fill_randomly(inst, grp, rng)
    return grp
