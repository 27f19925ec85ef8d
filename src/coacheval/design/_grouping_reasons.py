"""Peer-group formation: why leaders could not be placed, and the result's tables.

This is an engine module of :mod:`coacheval.design.groups` without public API: its names are
private and may change; use :func:`coacheval.design.groups.form_peer_groups`.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from coacheval.design._grouping_instance import _Eval, _evaluate, _has, _Instance

__all__: list[str] = []


def _infeasible_message(inst: _Instance) -> str | None:
    """Why no group at all can be formed, or None when the pairwise rules leave some hope."""
    n, need = inst.n, inst.smin - 1
    if n < inst.smin:
        return f"only {n} eligible leader(s); a peer group needs at least {inst.smin}"
    if inst.mindep > len(np.unique(inst.dep)):
        return (
            f"all {n} eligible leaders are in {len(np.unique(inst.dep))} department(s), but a group "
            f"needs leaders from at least {inst.mindep} departments (rule min_departments)"
        )
    counts = np.zeros((4, n), np.int64)
    for lo in range(0, n, 512):
        a = np.arange(lo, min(lo + 512, n))
        A = np.repeat(a, n)
        Bv = np.tile(np.arange(n), a.size)
        step = np.abs(inst.lev[A] - inst.lev[Bv]) <= inst.span
        step &= A != Bv
        counts[0, a] = step.reshape(a.size, n).sum(axis=1)
        if inst.cap == 1:
            step &= inst.unit[A] != inst.unit[Bv]
        counts[1, a] = step.reshape(a.size, n).sum(axis=1)
        step &= ~_has(inst.mgr_keys, A, Bv, n)
        counts[2, a] = step.reshape(a.size, n).sum(axis=1)
        step &= ~_has(inst.excl_keys, A, Bv, n)
        counts[3, a] = step.reshape(a.size, n).sum(axis=1)
    labels = [
        f"within {inst.span} role level(s) of each other (rule max_level_span)",
        "from different units (rule max_per_unit=1)" if inst.cap == 1 else "",
        "not each other's manager or direct report (rule separate_managers)",
        "not excluded from each other by a stated pair",
    ]
    for k in range(4):
        if (counts[k] >= need).sum() == 0:
            labels = [label for label in labels[: k + 1] if label]
            return (
                f"no peer group can be formed: no eligible leader has {need} others "
                + " and ".join(labels)
                + f" (largest number: {int(counts[k].max())}; {n} eligible leaders)"
            )
    return None


def _reasons(inst: _Instance, grp: np.ndarray) -> list[str]:
    """For every unplaced leader, which rules block every existing group and a new one."""
    pool = np.flatnonzero(grp < 0)
    if pool.size == 0:
        return []
    n, need = inst.n, inst.smin - 1
    ev = _evaluate(inst, grp)
    everyone = np.arange(n)
    placed_in = np.where(grp >= 0, grp, 0)
    out = []
    span_txt = f"{inst.span} role level" + ("s" if inst.span != 1 else "")
    for u in pool.tolist():
        level = inst.level_names[inst.lev[u]]
        unit = inst.unit_names[inst.unit[u]]
        other = everyone != u
        steps = [
            ("other eligible leaders", other),
            (f"are within {span_txt} of {level}", np.abs(inst.lev - inst.lev[u]) <= inst.span),
            (
                f"are outside their unit {unit}",
                inst.unit != inst.unit[u] if inst.cap == 1 else None,
            ),
            ("are not their manager or a direct report", ~_has(inst.mgr_keys, u, everyone, n)),
            ("are not excluded from them by a stated pair", ~_has(inst.excl_keys, u, everyone, n)),
        ]
        mask = np.ones(n, bool)
        parts, reason = [], ""
        for label, step in steps:
            if step is None:
                continue
            mask &= step
            count = int(mask.sum())
            parts.append(f"{count} {label}" if not parts else f"{count} of them {label}")
            if count < need:
                reason = (
                    f"only {count} other eligible leader(s) may share a group with them ("
                    + "; ".join(parts)
                    + f"); a group needs {inst.smin}"
                )
                break
        if not reason and inst.mindep > 1:
            depts = np.unique(np.r_[inst.dep[mask], inst.dep[u]])
            if depts.size < inst.mindep:
                reason = (
                    f"all {int(mask.sum())} leaders who may share a group with them are in their "
                    f"department {inst.dep_names[inst.dep[u]]}; a group needs {inst.mindep} "
                    "departments"
                )
        if not reason:
            reason = _group_blocks(inst, ev, grp, u, mask, placed_in, span_txt, level, unit)
        out.append(reason)
    return out


def _group_blocks(
    inst: _Instance,
    ev: _Eval,
    grp: np.ndarray,
    u: int,
    partners: np.ndarray,
    placed_in: np.ndarray,
    span_txt: str,
    level: str,
    unit: str,
) -> str:
    n, G = inst.n, ev.G
    placed = grp >= 0
    everyone = np.arange(n)

    def per_group(flag: np.ndarray) -> np.ndarray:
        return np.bincount(placed_in[placed & flag], minlength=G) > 0

    blocks = [
        (
            per_group(np.abs(inst.lev - inst.lev[u]) > inst.span),
            f"have a member more than {span_txt} from {level}",
        ),
        (per_group(inst.unit == inst.unit[u]) if inst.cap == 1 else None, f"have a member from their unit {unit}"),
        (per_group(_has(inst.mgr_keys, u, everyone, n)), "hold their manager or a direct report"),
        (per_group(_has(inst.excl_keys, u, everyone, n)), "hold someone they are excluded from"),
        (ev.cUi[u] >= inst.cap if ev.cUi is not None else None, f"already have {inst.cap} from their unit {unit}"),
        (ev.size >= inst.smax, f"are full ({inst.smax} members)"),
    ]  # fmt: skip
    left = np.ones(G, bool)
    parts = []
    for flag, label in blocks:
        if flag is None:
            continue
        hit = left & flag
        if hit.any():
            parts.append(f"{int(hit.sum())} {label}")
        left &= ~flag
    others = int((partners & (grp < 0)).sum())
    text = f"no group can take them: of {G} group(s), " + ", ".join(parts) if G else "no group"
    return (
        text
        + f"; {others} other unplaced leader(s) may share a group with them and no feasible new "
        f"group of {inst.smin} can be made with members from groups above {inst.smin}"
    )


def _result_parts(
    inst: _Instance, grp: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, Any], list[str]]:
    """Build the result's group table, assignments, unplaced (with why), objective and notes."""
    ev = _evaluate(inst, grp)
    placed = np.flatnonzero(grp >= 0)
    # Groups are numbered by lowest role level, then by their first member's position.
    first = np.full(ev.G, inst.n)
    np.minimum.at(first, grp[placed], placed)
    lowest = np.full(ev.G, 10**9)
    np.minimum.at(lowest, grp[placed], inst.lev[placed])
    order = np.lexsort((first, lowest))
    label = np.empty(ev.G, dtype=object)
    width = max(3, len(str(ev.G)))
    label[order] = [f"G{k + 1:0{width}d}" for k in range(ev.G)]
    rows = []
    for g in order.tolist():
        m = np.sort(ev.members[g][ev.members[g] >= 0])
        s = m.size
        a, b = np.array(list(itertools.combinations(m, 2))).T
        lev = inst.lev[m]
        rows.append(
            {
                "group": label[g],
                "size": s,
                "members": ";".join(inst.ids[m]),
                "role_levels": ";".join(inst.level_names[k] for k in lev),
                "departments": ";".join(inst.dep_names[inst.dep[m]]),
                "facilities": ";".join(inst.fac_names[inst.fac[m]]),
                "n_departments": int(np.unique(inst.dep[m]).size),
                "n_facilities": int(np.unique(inst.fac[m]).size),
                "level_spread": float(np.abs(inst.lev[a] - inst.lev[b]).mean()),
                "department_diversity": float((inst.dep[a] != inst.dep[b]).mean()),
                "facility_diversity": float((inst.fac[a] != inst.fac[b]).mean()),
                "preferences_met": int(_has(inst.pref_keys, a, b, inst.n).sum()),
                "score": float(ev.f[g]),
                "one_role_level": bool(lev.min() == lev.max()),
                "all_departments_differ": bool(np.unique(inst.dep[m]).size == s),
                "several_facilities": bool(np.unique(inst.fac[m]).size > 1),
            }
        )
    columns = [
        "group", "size", "members", "role_levels", "departments", "facilities", "n_departments",
        "n_facilities", "level_spread", "department_diversity", "facility_diversity",
        "preferences_met", "score", "one_role_level", "all_departments_differ",
        "several_facilities",
    ]  # fmt: skip
    table = pd.DataFrame(rows, columns=columns)
    assignments = pd.DataFrame(
        {"employee_id": inst.ids[placed], "group": label[grp[placed]] if placed.size else []}
    ).sort_values(["group", "employee_id"], ignore_index=True)
    pool = np.flatnonzero(grp < 0)
    unplaced = pd.DataFrame(
        {
            "employee_id": pd.Series(inst.ids[pool], dtype=object),
            "role_level": pd.Series([inst.level_names[k] for k in inst.lev[pool]], dtype=object),
            "department_id": pd.Series(inst.dep_names[inst.dep[pool]], dtype=object),
            "unit_id": pd.Series(inst.unit_names[inst.unit[pool]], dtype=object),
            "reason": pd.Series(_reasons(inst, grp), dtype=object),
        }
    )
    n_placed = int(placed.size)
    weight = table["size"].to_numpy(dtype=float)
    total = float(ev.f.sum())

    def mean(col: str) -> float:
        return float(np.dot(weight, table[col]) / n_placed) if n_placed else float("nan")

    objective = {
        "total": total,
        "per_leader": total / n_placed if n_placed else float("nan"),
        "placed": n_placed,
        "unplaced": int(pool.size),
        "department_diversity": mean("department_diversity"),
        "facility_diversity": mean("facility_diversity"),
        "level_spread": mean("level_spread"),
        "preferences_met": int(table["preferences_met"].sum()),
        "groups_by_size": {int(k): int(v) for k, v in table["size"].value_counts().items()},
    }
    notes = list(inst.notes)
    if pool.size:
        notes.append(f"{pool.size} leader(s) could not be placed; see unplaced for why.")
    return table, assignments, unplaced, objective, notes
