"""Peer-group formation: the problem instance and the state of a grouping.

The leaders as integer codes and their pair relations as sorted keys (:class:`_Instance`), the
pairwise rules and scores, and the count tables of a grouping (:class:`_Eval`) from which every
neighbourhood evaluates exact changes of the objective with numpy.

This is an engine module of :mod:`coacheval.design.groups` without public API: its names are
private and may change; use :func:`coacheval.design.groups.form_peer_groups`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from coacheval.errors import ConfigError, DataValidationError

if TYPE_CHECKING:
    from coacheval.design.groups import GroupRules, ObjectiveWeights


__all__: list[str] = []


REQUIRED_COLUMNS = ("employee_id", "role_level", "department_id", "unit_id", "facility_id")
_EPS = 1e-9


def _whole(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@dataclass
class _Instance:
    """The leaders as integer codes, the pair relations as sorted keys, and the settings."""

    ids: np.ndarray
    lev: np.ndarray
    dep: np.ndarray
    fac: np.ndarray
    unit: np.ndarray
    level_names: list[str]
    dep_names: np.ndarray
    fac_names: np.ndarray
    unit_names: np.ndarray
    mgr_keys: np.ndarray
    excl_keys: np.ndarray
    conf_keys: np.ndarray
    pref_keys: np.ndarray
    smin: int
    smax: int
    span: int
    cap: int  # most per unit; 0 for no rule
    mindep: int
    w: ObjectiveWeights
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.ids)

    def __post_init__(self) -> None:
        n = self.n
        nl = len(self.level_names)
        grid = np.abs(np.subtract.outer(np.arange(nl), np.arange(nl)))
        self.absdiff = grid.astype(float)
        self.far = (grid > self.span).astype(np.int64)
        self.conf_a, self.conf_b = self.conf_keys // max(n, 1), self.conf_keys % max(n, 1)
        self.pref_a, self.pref_b = self.pref_keys // max(n, 1), self.pref_keys % max(n, 1)
        w = self.w
        per_pair = w.department + w.facility + w.level * max(nl - 1, 0) + w.preference
        self.big = 1.0 + 4.0 * max(n, 1) * max(per_pair, 1.0)
        # Leaders with enough others they may share a group with (an upper bound on the placed).
        partners = np.zeros(n, np.int64)
        for lo in range(0, n, 256):
            a = np.repeat(np.arange(lo, min(lo + 256, n)), n)
            b = np.tile(np.arange(n), a.size // max(n, 1))
            ok = (_incompat(self, a, b) == 0) & (a != b)
            partners[lo : lo + 256] = ok.reshape(-1, n).sum(axis=1)
        self.placeable = int((partners >= self.smin - 1).sum())


def _keys(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    keep = a != b
    a, b = a[keep], b[keep]
    return np.unique(np.concatenate([a * n + b, b * n + a]))


def _has(keys: np.ndarray, a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    a = np.asarray(a, np.int64)
    if keys.size == 0:
        return np.zeros(np.broadcast(a, b).shape, bool)
    k = a * n + b
    idx = np.minimum(np.searchsorted(keys, k), keys.size - 1)
    return keys[idx] == k


def _incompat(inst: _Instance, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Count the pairwise rules ``a`` and ``b`` break together (0: they may share a group)."""
    out = (np.abs(inst.lev[a] - inst.lev[b]) > inst.span).astype(np.int64)
    out += _has(inst.conf_keys, a, b, inst.n)
    if inst.cap == 1:
        out += inst.unit[a] == inst.unit[b]
    return out


def _pair_score(inst: _Instance, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w = inst.w
    return (
        w.department * (inst.dep[a] != inst.dep[b])
        + w.facility * (inst.fac[a] != inst.fac[b])
        - w.level * np.abs(inst.lev[a] - inst.lev[b])
        + w.preference * _has(inst.pref_keys, a, b, inst.n)
    )


def _subset_eval(inst: _Instance, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Feasibility and score ``f`` of candidate groups (one row of leader indices each)."""
    m, s = members.shape
    ok = np.ones(m, bool)
    total = np.zeros(m)
    for a, b in itertools.combinations(range(s), 2):
        ok &= _incompat(inst, members[:, a], members[:, b]) == 0
        total += _pair_score(inst, members[:, a], members[:, b])
    if inst.mindep > 1:
        depts = np.sort(inst.dep[members], axis=1)
        ok &= 1 + (np.diff(depts, axis=1) != 0).sum(axis=1) >= inst.mindep
    if inst.cap > 1:
        units = inst.unit[members]
        most = (units[:, :, None] == units[:, None, :]).sum(axis=2).max(axis=1)
        ok &= most <= inst.cap
    return ok, 2.0 * total / max(s - 1, 1)


def _build_instance(
    leaders: pd.DataFrame,
    smin: int,
    smax: int,
    rules: GroupRules,
    weights: ObjectiveWeights,
    pairs: pd.DataFrame | None,
) -> _Instance:
    """Turn the leaders, rules and pairs into an :class:`_Instance` (types checked by the caller)."""
    if rules.min_departments > smax:
        raise ConfigError(
            f"min_departments ({rules.min_departments}) is larger than the largest group ({smax})"
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in leaders.columns]
    if missing:
        raise DataValidationError(
            f"the leaders table has no column(s) {', '.join(missing)}; it needs "
            f"{', '.join(REQUIRED_COLUMNS)} (the hr_roster fields)"
        )
    if rules.separate_managers and "manager_id" not in leaders.columns:
        raise DataValidationError(
            "the leaders table has no manager_id column, so leaders cannot be kept apart from "
            "their managers; add it, or pass GroupRules(separate_managers=False)"
        )
    for col in REQUIRED_COLUMNS:
        na = leaders[col].isna().to_numpy()
        if na.any():
            raise DataValidationError(
                f"{int(na.sum())} leader(s) have no {col}; every eligible leader needs one "
                "(validate the roster first: such rows are quarantined)",
                failure_cases=leaders.loc[na, ["employee_id"]],
            )
    ids = leaders["employee_id"].astype(str).to_numpy(dtype=object)
    dup = pd.Series(ids).duplicated().to_numpy()
    if dup.any():
        raise DataValidationError(
            f"{int(dup.sum())} employee_id value(s) occur more than once; give one row per leader",
            failure_cases=leaders.loc[dup, ["employee_id"]],
        )
    lev, level_names = _level_codes(leaders["role_level"], rules)
    n = len(ids)
    dep_codes, dep_names = pd.factorize(leaders["department_id"].astype(str), sort=True)
    fac_codes, fac_names = pd.factorize(leaders["facility_id"].astype(str), sort=True)
    unit_codes, unit_names = pd.factorize(leaders["unit_id"].astype(str), sort=True)
    index = pd.Series(np.arange(n), index=pd.Index(ids))
    notes: list[str] = []
    if rules.separate_managers:
        mgr = leaders["manager_id"].astype(object).where(leaders["manager_id"].notna())
        j = mgr.map(index).to_numpy(dtype=float)
        has = ~np.isnan(j)
        mgr_keys = _keys(np.flatnonzero(has), j[has].astype(np.int64), n)
    else:
        mgr_keys = np.empty(0, np.int64)
    excl_keys, pref_keys = _pair_keys(pairs, index, n, notes)
    conf_keys = np.union1d(mgr_keys, excl_keys)
    dropped = np.intersect1d(pref_keys, conf_keys).size // 2
    if dropped:
        notes.append(
            f"{dropped} 'prefer together' pair(s) ignored: the two are excluded from sharing a "
            "group (a stated exclusion or a manager and a direct report)"
        )
    pref_keys = np.setdiff1d(pref_keys, conf_keys)
    return _Instance(
        ids=ids,
        lev=lev,
        dep=dep_codes.astype(np.int64),
        fac=fac_codes.astype(np.int64),
        unit=unit_codes.astype(np.int64),
        level_names=level_names,
        dep_names=np.asarray(dep_names, dtype=object),
        fac_names=np.asarray(fac_names, dtype=object),
        unit_names=np.asarray(unit_names, dtype=object),
        mgr_keys=mgr_keys,
        excl_keys=excl_keys,
        conf_keys=conf_keys,
        pref_keys=pref_keys,
        smin=smin,
        smax=smax,
        span=int(rules.max_level_span),
        cap=0 if rules.max_per_unit is None else int(rules.max_per_unit),
        mindep=int(rules.min_departments),
        w=weights,
        notes=notes,
    )


def _check_size(size: Any) -> tuple[int, int]:
    if _whole(size):
        size = (size, size)
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or not all(_whole(v) for v in size)
        or not 2 <= size[0] <= size[1]
    ):
        raise ConfigError(
            f"size must be (smallest, largest) whole numbers with 2 <= smallest <= largest "
            f"(got {size!r})"
        )
    return int(size[0]), int(size[1])


def _level_codes(levels: pd.Series, rules: GroupRules) -> tuple[np.ndarray, list[str]]:
    if pd.api.types.is_numeric_dtype(levels) and not pd.api.types.is_bool_dtype(levels):
        values = levels.to_numpy(dtype=float)
        if not np.all(values == np.round(values)):
            raise DataValidationError("numeric role levels must be whole numbers")
        lo = int(values.min())
        codes = values.astype(np.int64) - lo
        return codes, [str(lo + k) for k in range(int(codes.max()) + 1)]
    text = levels.astype(str)
    known = {name: k for k, name in enumerate(rules.level_order)}
    unknown = sorted(set(text) - set(known))
    if unknown:
        raise DataValidationError(
            f"role_level value(s) {', '.join(map(repr, unknown))} are not in the level order "
            f"({', '.join(rules.level_order)}); set GroupRules(level_order=...)",
            failure_cases=unknown,
        )
    return text.map(known).to_numpy(dtype=np.int64), list(rules.level_order)


def _pair_keys(
    pairs: pd.DataFrame | None, index: pd.Series, n: int, notes: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    empty = np.empty(0, np.int64)
    if pairs is None or len(pairs) == 0:
        return empty, empty
    if not isinstance(pairs, pd.DataFrame) or not {"person_a", "person_b"} <= set(pairs.columns):
        raise ConfigError("pairs must be a DataFrame with columns person_a, person_b[, relation]")
    relation = (
        pairs["relation"].astype(str).str.strip().str.lower()
        if "relation" in pairs
        else pd.Series("exclude", index=pairs.index)
    )
    bad = sorted(set(relation) - {"exclude", "prefer"})
    if bad:
        raise ConfigError(
            f"pair relation(s) {', '.join(map(repr, bad))} not understood; use 'exclude' (not in "
            "the same group) or 'prefer' (in the same group if the rules allow)"
        )
    a = pairs["person_a"].astype(str).map(index).to_numpy(dtype=float)
    b = pairs["person_b"].astype(str).map(index).to_numpy(dtype=float)
    known = ~np.isnan(a) & ~np.isnan(b)
    if (~known).any():
        notes.append(
            f"{int((~known).sum())} stated pair(s) ignored: a person in them is not among the "
            "eligible leaders"
        )
    ex = known & (relation.to_numpy() == "exclude")
    pr = known & (relation.to_numpy() == "prefer")
    return (
        _keys(a[ex].astype(np.int64), b[ex].astype(np.int64), n),
        _keys(a[pr].astype(np.int64), b[pr].astype(np.int64), n),
    )


@dataclass
class _Eval:
    """Count tables of a grouping and the pair sums of every leader with every group."""

    size: np.ndarray
    cD: np.ndarray
    nd: np.ndarray
    S: np.ndarray  # S[i, h]: sum of d_ij over members j of group h
    own: np.ndarray  # S[i, group of i] (0 when unplaced)
    P: np.ndarray  # pair sum of each group
    f: np.ndarray  # score of each group
    c: np.ndarray  # 2 / (size - 1)
    B: np.ndarray  # B[i, h]: members of h that break a pairwise rule with i
    cUi: np.ndarray | None  # members of h from i's unit (only when max_per_unit > 1)
    members: np.ndarray  # members of each group, padded with -1

    @property
    def G(self) -> int:
        return len(self.size)


def _table(groups: np.ndarray, codes: np.ndarray, G: int, k: int) -> np.ndarray:
    """Count each code (rows) in each group (columns)."""
    return np.bincount(codes * G + groups, minlength=G * k).reshape(k, G)


def _evaluate(inst: _Instance, grp: np.ndarray, rows: np.ndarray | None = None) -> _Eval:
    """Count tables, and the (leader, group) arrays for ``rows`` (all leaders by default)."""
    n = inst.n
    placed = grp >= 0
    G = int(grp.max()) + 1 if placed.any() else 0
    gi = grp[placed]
    size = np.bincount(gi, minlength=G)
    nl = len(inst.level_names)
    cL = _table(gi, inst.lev[placed], G, nl)
    cD = _table(gi, inst.dep[placed], G, len(inst.dep_names))
    cF = _table(gi, inst.fac[placed], G, len(inst.fac_names))
    LD = inst.absdiff @ cL
    w = inst.w
    wd, wf, wl = float(w.department), float(w.facility), float(w.level)
    r = np.arange(n) if rows is None else rows
    # Row gathers from (code, group) tables give (leader, group) arrays, contiguous in memory.
    S = ((wd + wf) * size)[None, :] - wd * cD[inst.dep[r]]
    S -= wf * cF[inst.fac[r]]
    S -= wl * LD[inst.lev[r]]
    B = (inst.far @ cL)[inst.lev[r]]
    cUi = None
    if inst.cap:
        cU = _table(gi, inst.unit[placed], G, len(inst.unit_names))
        if inst.cap == 1:
            B += cU[inst.unit[r]]
        else:
            cUi = cU[inst.unit[r]]
    pos = np.full(n, -1, np.int64)
    pos[r] = np.arange(r.size)
    if inst.conf_keys.size:
        m = (grp[inst.conf_b] >= 0) & (pos[inst.conf_a] >= 0)
        np.add.at(B, (pos[inst.conf_a[m]], grp[inst.conf_b[m]]), 1)
    own = np.zeros(n)
    pl = np.flatnonzero(placed)
    own[pl] = (
        (wd + wf) * size[gi]
        - wd * cD[inst.dep[pl], gi]
        - wf * cF[inst.fac[pl], gi]
        - wl * LD[inst.lev[pl], gi]
    )
    if inst.pref_keys.size:
        m = (grp[inst.pref_b] >= 0) & (pos[inst.pref_a] >= 0)
        np.add.at(S, (pos[inst.pref_a[m]], grp[inst.pref_b[m]]), w.preference)
        same = (grp[inst.pref_a] >= 0) & (grp[inst.pref_a] == grp[inst.pref_b])
        own += w.preference * np.bincount(inst.pref_a[same], minlength=n)
    P = 0.5 * np.bincount(gi, weights=own[placed], minlength=G)
    c = np.where(size > 1, 2.0 / np.maximum(size - 1, 1), 0.0)
    order = np.argsort(grp, kind="stable")[n - placed.sum() :]
    slot = np.arange(order.size) - np.repeat(np.cumsum(size) - size, size)
    members = np.full((G, inst.smax), -1, np.int64)
    members[grp[order], slot] = order
    return _Eval(size, cD.T, (cD > 0).sum(axis=0), S, own, P, c * P, c, B, cUi, members)


def _value(ev: _Eval, grp: np.ndarray) -> tuple[int, float]:
    return int((grp >= 0).sum()), float(ev.f.sum())


def _better(a: tuple[int, float], b: tuple[int, float]) -> bool:
    return a[0] > b[0] or (a[0] == b[0] and a[1] > b[1] + 1e-9)


def _leave_ok(inst: _Instance, ev: _Eval, grp: np.ndarray) -> np.ndarray:
    """Whether each placed leader may leave their group (it stays feasible)."""
    placed = grp >= 0
    if ev.G == 0:
        return placed
    gi = np.where(placed, grp, 0)
    ok = placed & (ev.size[gi] > inst.smin)
    if inst.mindep > 1:
        ok &= ev.nd[gi] - (ev.cD[gi, inst.dep] == 1) >= inst.mindep
    return ok


def _apply(grp: np.ndarray, i: Any, j: Any, g: Any, h: Any, gain: np.ndarray) -> int:
    """Apply the best candidates that touch disjoint groups (their gains then add up exactly)."""
    G = int(grp.max()) + 1 if (grp >= 0).any() else 0
    used_g = np.zeros(max(G, 1), bool)
    used_l = np.zeros(grp.size, bool)
    i, j, g, h = (np.asarray(x).tolist() for x in (i, j, g, h))
    applied = 0
    for t in np.argsort(-gain, kind="stable").tolist():
        a, b, src, dst = i[t], j[t], g[t], h[t]
        if used_g[dst] or (src >= 0 and used_g[src]) or used_l[a] or (b >= 0 and used_l[b]):
            continue
        used_g[dst] = used_l[a] = True
        if src >= 0:
            used_g[src] = True
        grp[a] = dst
        if b >= 0:
            used_l[b] = True
            grp[b] = src
        applied += 1
    return applied


def _compact(grp: np.ndarray) -> None:
    """Renumber groups 0..G-1 (no empty group ids)."""
    placed = grp >= 0
    grp[placed] = np.unique(grp[placed], return_inverse=True)[1]


def _upper_bound(inst: _Instance, placed: int) -> float:
    """Largest possible score F with ``placed`` leaders placed (every pair at its best)."""
    w = inst.w
    per_leader = w.department * (len(inst.dep_names) > 1) + w.facility * (len(inst.fac_names) > 1)
    return placed * per_leader + 2.0 * w.preference * (inst.pref_keys.size // 2) / (inst.smin - 1)


def _at_bound(inst: _Instance, value: tuple[int, float]) -> bool:
    """Whether no better solution can exist: all who can be placed are, at the best score."""
    return value[0] >= inst.placeable and value[1] >= _upper_bound(inst, value[0]) - 1e-9
