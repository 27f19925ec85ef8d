r"""Peer-group formation: groups of 3-4 leaders in similar roles from different departments.

A peer-coaching program puts its leaders into small groups that meet for a year. The groups must
follow the program's rules (hard constraints) and should be as good as possible by a stated
objective. :func:`form_peer_groups` takes the eligible leaders of a validated roster and returns
a :class:`PeerGroupResult`: every group, the objective and its terms, and, for every leader who
could not be placed, why.

Hard constraints (:class:`GroupRules`; defaults are the program's)
    * group size between ``size[0]`` and ``size[1]`` (3-4);
    * role levels within a group span at most ``max_level_span`` steps (1: a group may mix
      charge nurses with assistant nurse managers, but not with nurse managers);
    * at most ``max_per_unit`` leaders from one unit (1; ``None`` switches the rule off);
    * at least ``min_departments`` different departments (2);
    * nobody with their own manager or a direct report (``manager_id`` of the roster);
    * no stated exclusion pair ("A not with B") in one group.

Objective (maximised, lexicographically)
    First the number of leaders placed in a group, then the score :math:`F`. For two leaders
    :math:`i, j` let

    .. math::

        d_{ij} = w_D [\mathrm{dept}_i \ne \mathrm{dept}_j]
               + w_F [\mathrm{fac}_i \ne \mathrm{fac}_j]
               - w_L \lvert \mathrm{level}_i - \mathrm{level}_j \rvert
               + w_P [\{i, j\} \text{ stated "prefer together"}]

    and for a group :math:`g` of :math:`s_g` members let its score be the sum over its members
    of their mean :math:`d` with their group-mates,

    .. math::

        f(g) = \sum_{i \in g} \frac{1}{s_g - 1} \sum_{j \in g, j \ne i} d_{ij}
             = s_g \,(w_D D_g + w_F C_g - w_L L_g) + \frac{2 w_P Q_g}{s_g - 1},

    where :math:`D_g` (:math:`C_g`) is the share of member pairs from different departments
    (facilities) -- Blau's heterogeneity index computed without replacement, 1 when all differ
    -- :math:`L_g` is the mean absolute role-level difference over member pairs (0 when all
    share a level) and :math:`Q_g` the number of "prefer together" pairs in the group.
    :math:`F = \sum_g f(g)`, i.e. the sum over placed leaders of their mean pair score;
    ``objective["per_leader"]`` is :math:`F` divided by the number placed. Averaging per member
    makes groups of 3 and of 4 comparable (a plain sum over pairs would favour groups of 4).
    Default weights (:class:`ObjectiveWeights`): :math:`w_L = 1` per role-level step,
    :math:`w_D = 1`, :math:`w_F = 0.5`, :math:`w_P = 1`. With them the best possible group of
    any size scores 1.5 per member (one role level, every member from another department and
    facility); a group of 4 split 2-2 across two adjacent levels loses 2/3 per member.

Algorithm
    This is a constrained variant of the maximally diverse grouping problem (MDGP), solved by
    iterated local search (ILS) in the manner of Lai & Hao's iterated maxima search (2016), with
    the insertion ("move") and swap neighbourhoods of Gallego et al. (2013):

    1. Construction: leaders are ordered by role level and, within a level, each department is
       spread evenly over the sequence (so neighbours come from different departments even when
       one department is large); a dynamic program cuts the order into
       consecutive feasible groups, leaving out as few leaders as possible (then maximising
       :math:`F`). Up to ``PACK_MAX`` (20) leaders, a branch and bound over every feasible group
       is tried as well.
    2. Local search: every round evaluates, with numpy over all leaders and groups at once, the
       exact change of the objective for every feasible move of a leader into another group (or
       of an unplaced leader into a group) and, for the ``candidates`` most promising groups of
       each leader, every feasible swap of two leaders (or of an unplaced and a placed leader).
       The pair sums of each leader with each group come from count tables (department,
       facility, role-level and unit counts per group), so a round costs O(n G). The best
       improving candidates that touch disjoint groups are applied together; rounds repeat until
       nothing improves. Unplaced leaders that cannot join a group are tried in new groups, with
       one member taken from each of some groups above the smallest size.
    3. Perturbation: either a few random feasible swaps, or dissolving 1-5 groups of similar
       role levels and re-grouping their members (with any unplaced leaders) by the branch and
       bound (ruin and recreate); then local search again. A perturbed solution is accepted when
       it is at least as good as the current one; the search returns to the best solution after
       10 perturbations without improvement.
    4. Large programs (more than ``SUB_GROUPS`` = 24 groups): the ILS runs on sub-problems of 24
       groups of overlapping role levels at a time (with unplaced leaders of those levels), as
       in POPMUSIC (Taillard & Voss, 2002). The objective adds up over groups and every rule
       applies within a group, so a better sub-problem is a better whole by exactly as much.

    The search stops when no better solution can exist (everyone who can be placed is, and
    every group scores the largest possible :math:`d` for every pair), after ``patience``
    perturbations (sub-problems, for large programs) in a row without improvement, after
    ``max_iterations`` perturbations, or at ``time_limit`` seconds. Everything is deterministic
    for a seed as long as the time limit is not reached (``stats["time_limit_reached"]``).
    For small programs (up to ``exact_max_candidates`` possible groups, about 24 leaders)
    ``method="auto"`` also solves the set-packing integer program over every feasible group
    exactly with :func:`scipy.optimize.milp` (HiGHS), maximising ``big * size + f`` summed over
    the chosen groups (``big`` exceeds any score difference, so the most leaders are placed
    first), keeps the better of the two and reports the search's gap to the proven optimum in
    ``stats["exact"]``.

References
----------
Gallego, M., Laguna, M., Martí, R. & Duarte, A. (2013). Tabu search with strategic oscillation
for the maximally diverse grouping problem. *Journal of the Operational Research Society* 64,
724-734.

Lai, X. & Hao, J.-K. (2016). Iterated maxima search for the maximally diverse grouping problem.
*European Journal of Operational Research* 254, 780-800.

Taillard, É. D. & Voss, S. (2002). POPMUSIC -- partial optimization metaheuristic under special
intensification conditions. In *Essays and Surveys in Metaheuristics*, 613-629. Springer.

Harrison, D. A. & Klein, K. J. (2007). What's the difference? Diversity constructs as separation,
variety, or disparity in organizations. *Academy of Management Review* 32, 1199-1228.

Examples
--------
>>> import pandas as pd
>>> leaders = pd.DataFrame({
...     "employee_id": [f"P{i}" for i in range(7)],
...     "role_level": ["nurse_manager"] * 7,
...     "department_id": ["D1", "D2", "D3", "D1", "D2", "D3", "D4"],
...     "unit_id": [f"U{i}" for i in range(7)],
...     "facility_id": ["F1", "F1", "F2", "F2", "F1", "F2", "F1"],
...     "manager_id": [None] * 7})
>>> res = form_peer_groups(leaders, seed=1)
>>> sorted(res.table["size"]), len(res.unplaced)
([3, 4], 0)

Role levels are ranked in the data contract's order, lowest first:

>>> ROLE_LEVEL_ORDER
('charge_nurse', 'assistant_nurse_manager', 'nurse_manager', 'director')
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from coacheval.errors import ConfigError, DataValidationError
from coacheval.results import TableResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from coacheval.io.config import ExtractConfig
    from coacheval.io.pseudonymise import PseudonymKey
    from coacheval.io.results import TableValidation

__all__ = [
    "ROLE_LEVEL_ORDER",
    "GroupRules",
    "ObjectiveWeights",
    "PeerGroupResult",
    "check_peer_groups",
    "eligible_leaders",
    "form_peer_groups",
    "read_id_list",
    "read_pairs",
    "read_roster",
]

#: Role levels of the data contract (``hr_roster.role_level``), lowest first.
ROLE_LEVEL_ORDER: tuple[str, ...] = (
    "charge_nurse",
    "assistant_nurse_manager",
    "nurse_manager",
    "director",
)
Method = Literal["auto", "search", "exact", "random"]
REQUIRED_COLUMNS = ("employee_id", "role_level", "department_id", "unit_id", "facility_id")
_EPS = 1e-9


@dataclass(frozen=True)
class GroupRules:
    """The program's hard rules for a peer group (besides its size).

    Parameters
    ----------
    max_level_span
        Largest difference of role levels within a group (0: one level only).
    max_per_unit
        Most leaders of one unit in a group; ``None`` for no unit rule.
    min_departments
        Fewest different departments in a group.
    separate_managers
        Keep leaders apart from their manager and their direct reports (needs ``manager_id``).
    level_order
        Role levels, lowest first, for text levels; numeric levels are used as they are.

    Examples
    --------
    >>> GroupRules(max_per_unit=None).min_departments
    2
    >>> GroupRules(max_level_span=-1)
    Traceback (most recent call last):
    ...
    coacheval.errors.ConfigError: max_level_span must be a whole number >= 0 (got -1)
    """

    max_level_span: int = 1
    max_per_unit: int | None = 1
    min_departments: int = 2
    separate_managers: bool = True
    level_order: tuple[str, ...] = ROLE_LEVEL_ORDER

    def __post_init__(self) -> None:
        if not _whole(self.max_level_span) or self.max_level_span < 0:
            raise ConfigError(
                f"max_level_span must be a whole number >= 0 (got {self.max_level_span!r})"
            )
        if self.max_per_unit is not None and (
            not _whole(self.max_per_unit) or self.max_per_unit < 1
        ):
            raise ConfigError(
                f"max_per_unit must be a whole number >= 1 or None (got {self.max_per_unit!r})"
            )
        if not _whole(self.min_departments) or self.min_departments < 1:
            raise ConfigError(
                f"min_departments must be a whole number >= 1 (got {self.min_departments!r})"
            )
        if len(set(self.level_order)) != len(self.level_order) or not self.level_order:
            raise ConfigError("level_order must list distinct role levels")


@dataclass(frozen=True)
class ObjectiveWeights:
    """Weights of the objective's pair score (see the module docstring).

    Parameters
    ----------
    level
        Penalty per role-level step between two group-mates.
    department
        Reward for two group-mates from different departments.
    facility
        Reward for two group-mates from different facilities.
    preference
        Reward for a stated "prefer together" pair in one group.

    Examples
    --------
    >>> ObjectiveWeights().facility
    0.5
    >>> ObjectiveWeights(level=-1)
    Traceback (most recent call last):
    ...
    coacheval.errors.ConfigError: objective weight 'level' must be a finite number >= 0 (got -1)
    """

    level: float = 1.0
    department: float = 1.0
    facility: float = 0.5
    preference: float = 1.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if (
                not isinstance(value, (int, float))
                or isinstance(value, bool)
                or not math.isfinite(value)
                or value < 0
            ):
                raise ConfigError(
                    f"objective weight {name!r} must be a finite number >= 0 (got {value!r})"
                )


def _whole(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


# ----------------------------------------------------------------------------- instance ---


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


def _prepare(
    leaders: pd.DataFrame,
    size: tuple[int, int],
    rules: GroupRules,
    weights: ObjectiveWeights,
    pairs: pd.DataFrame | None,
) -> _Instance:
    if not isinstance(leaders, pd.DataFrame):
        raise ConfigError("leaders must be a pandas DataFrame (the validated hr_roster rows)")
    smin, smax = _check_size(size)
    if not isinstance(rules, GroupRules):
        raise ConfigError("rules must be a GroupRules")
    if not isinstance(weights, ObjectiveWeights):
        raise ConfigError("weights must be an ObjectiveWeights")
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


# -------------------------------------------------------------------------------- state ---


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


def _compact(grp: np.ndarray) -> None:
    """Renumber groups 0..G-1 (no empty group ids)."""
    placed = grp >= 0
    grp[placed] = np.unique(grp[placed], return_inverse=True)[1]


PACK_MAX = 20  # unplaced leaders up to which a re-grouping is packed exactly (depth-first)
PACK_NODES = 4_000  # nodes of that search (in each of its two phases)
RUIN_MAX = 5  # groups dissolved at most by one perturbation


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


# ------------------------------------------------------------------------------ solvers ---


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


def _at_bound(inst: _Instance, value: tuple[int, float]) -> bool:
    """Whether no better solution can exist: all who can be placed are, at the best score."""
    return value[0] >= inst.placeable and value[1] >= _upper_bound(inst, value[0]) - 1e-9


def _upper_bound(inst: _Instance, placed: int) -> float:
    """Largest possible score F with ``placed`` leaders placed (every pair at its best)."""
    w = inst.w
    per_leader = w.department * (len(inst.dep_names) > 1) + w.facility * (len(inst.fac_names) > 1)
    return placed * per_leader + 2.0 * w.preference * (inst.pref_keys.size // 2) / (inst.smin - 1)


def _settle(inst: _Instance, grp: np.ndarray, candidates: int, deadline: float) -> int:
    _insert_unplaced(inst, grp)
    rounds = _local_search(inst, grp, candidates, deadline)
    while (grp < 0).any() and time.perf_counter() < deadline and _new_groups(inst, grp):
        _insert_unplaced(inst, grp)
        rounds += _local_search(inst, grp, candidates, deadline)
    return rounds


def _random_grouping(inst: _Instance, rng: np.random.Generator) -> np.ndarray:
    grp = _construct(inst, rng, optimise=False)
    _fill_randomly(inst, grp, rng)
    while _new_groups(inst, grp, by_value=False):
        _fill_randomly(inst, grp, rng)
    return grp


# ------------------------------------------------------------------------------ reasons ---


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


# ------------------------------------------------------------------------------- result ---


@dataclass(frozen=True, eq=False)
class PeerGroupResult(TableResult):
    """Peer groups formed from a roster, with the objective and the unplaced leaders.

    Attributes
    ----------
    table
        One row per group: ``group``, ``size``, ``members`` (pseudonyms joined by ``;``),
        ``role_levels``, ``departments``, ``facilities`` (joined by ``;``, in member order),
        ``n_departments``, ``n_facilities``, ``level_spread`` (mean absolute role-level
        difference over member pairs), ``department_diversity`` and ``facility_diversity``
        (share of member pairs from different departments or facilities),
        ``preferences_met`` (stated "prefer together" pairs in the group), ``score`` (the
        group's objective term ``f``), and the soft criteria met: ``one_role_level``,
        ``all_departments_differ``, ``several_facilities``.
    assignments
        One row per placed leader: ``employee_id`` and ``group``.
    unplaced
        One row per leader not placed: ``employee_id``, ``role_level``, ``department_id``,
        ``unit_id`` and ``reason``.
    objective
        ``total`` (:math:`F`), ``per_leader``, ``placed``, ``unplaced``, and the objective's
        terms averaged over placed leaders (``department_diversity``, ``facility_diversity``,
        ``level_spread``) and the number of ``preferences_met``.
    settings
        Size, rules, weights, seed, method and limits.
    stats
        Solver statistics (method used, time, iterations, exact optimum when solved).

    Examples
    --------
    >>> import pandas as pd
    >>> from coacheval.design.groups import form_peer_groups
    >>> leaders = pd.DataFrame({
    ...     "employee_id": [f"P{i}" for i in range(6)],
    ...     "role_level": ["nurse_manager"] * 6,
    ...     "department_id": ["D1", "D2", "D3", "D1", "D2", "D3"],
    ...     "unit_id": [f"U{i}" for i in range(6)],
    ...     "facility_id": ["F1"] * 6,
    ...     "manager_id": [None] * 6})
    >>> res = form_peer_groups(leaders, seed=0)
    >>> res.table[["size", "n_departments", "all_departments_differ"]].to_numpy().tolist()
    [[3, 3, True], [3, 3, True]]
    >>> res.objective["placed"], res.objective["unplaced"]
    (6, 0)
    """

    table: pd.DataFrame
    assignments: pd.DataFrame
    unplaced: pd.DataFrame
    objective: dict[str, Any]
    settings: dict[str, Any]
    stats: dict[str, Any]
    title: str = "Peer groups"
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Plain data: settings, objective, solver statistics and notes (no member lists).

        Examples
        --------
        >>> res = form_peer_groups(_example_leaders(), seed=0)
        >>> sorted(res.to_dict())
        ['groups', 'notes', 'objective', 'settings', 'solver', 'title', 'unplaced']
        """
        return {
            "title": self.title,
            "settings": self.settings,
            "objective": self.objective,
            "solver": self.stats,
            "groups": len(self.table),
            "unplaced": len(self.unplaced),
            "notes": list(self.notes),
        }

    def write(self, out: str | Path, *, inputs: Mapping[str, str] | None = None) -> list[Path]:
        """Write ``groups.csv``, ``group_summary.csv``, ``unplaced.csv`` and ``groups.json``.

        Parameters
        ----------
        out
            Folder (created if needed).
        inputs
            Extra provenance for ``groups.json`` (for example SHA-256 hashes of input files).

        Returns
        -------
        list of pathlib.Path
            The files written. They hold pseudonyms and codes only, never names or e-mails.

        Examples
        --------
        >>> import tempfile
        >>> paths = form_peer_groups(_example_leaders(), seed=0).write(tempfile.mkdtemp())
        >>> [p.name for p in paths]
        ['groups.csv', 'group_summary.csv', 'unplaced.csv', 'groups.json']
        """
        from coacheval import __version__

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / n for n in ("groups.csv", "group_summary.csv", "unplaced.csv")]
        for frame, path in zip((self.assignments, self.table, self.unplaced), paths, strict=True):
            frame.to_csv(path, index=False, lineterminator="\n")
        doc = {
            **self.to_dict(),
            "coacheval_version": __version__,
            "inputs": dict(inputs or {}),
            "assignments_sha256": hashlib.sha256(paths[0].read_bytes()).hexdigest(),
        }
        json_path = out / "groups.json"
        json_path.write_text(json.dumps(doc, indent=2, default=_json) + "\n", encoding="utf-8")
        return [*paths, json_path]

    def plot(self) -> Figure:
        """Bar charts of the groups' department mix and role-level mix.

        Returns
        -------
        matplotlib.figure.Figure
            Two panels: groups by number of departments, and by role-level spread; with alt text.

        Examples
        --------
        >>> fig = form_peer_groups(_example_leaders(), seed=0).plot()
        >>> fig.axes[0].get_xlabel()
        'Departments in the group'
        """
        from matplotlib.figure import Figure

        from coacheval.figures import set_alt_text

        fig = Figure(figsize=(7.5, 3.2), layout="constrained")
        ax1, ax2 = fig.subplots(1, 2)
        nd = self.table["n_departments"].value_counts().sort_index()
        ax1.bar(nd.index.astype(str), nd.to_numpy(), color="#0072B2")
        ax1.set_xlabel("Departments in the group")
        ax1.set_ylabel("Groups")
        one = int(self.table["one_role_level"].sum())
        ax2.bar(["one level", "two or more"], [one, len(self.table) - one], color="#E69F00")
        ax2.set_xlabel("Role levels in the group")
        for ax in (ax1, ax2):
            ax.spines[["top", "right"]].set_visible(False)
        fig.suptitle(
            f"{len(self.table)} peer groups, {self.objective['placed']} leaders placed, "
            f"{self.objective['unplaced']} unplaced"
        )
        mix = ", ".join(f"{int(c)} with {k} departments" for k, c in nd.items())
        return set_alt_text(
            fig,
            f"Bar charts of {len(self.table)} peer groups: {mix}; {one} of them have members of "
            f"one role level and {len(self.table) - one} mix levels.",
        )


def _json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _build_result(
    inst: _Instance,
    grp: np.ndarray,
    settings: dict[str, Any],
    stats: dict[str, Any],
) -> PeerGroupResult:
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
    return PeerGroupResult(
        table, assignments, unplaced, objective, settings, stats, notes=tuple(notes)
    )


# ------------------------------------------------------------------------------ public API ---


def form_peer_groups(
    leaders: pd.DataFrame,
    *,
    size: tuple[int, int] | int = (3, 4),
    rules: GroupRules | None = None,
    weights: ObjectiveWeights | None = None,
    pairs: pd.DataFrame | None = None,
    seed: int = 0,
    time_limit: float = 25.0,
    max_iterations: int = 2000,
    patience: int = 150,
    candidates: int = 12,
    method: Method = "auto",
    exact_max_candidates: int = 15_000,
) -> PeerGroupResult:
    """Form peer groups that meet the program's rules and score best on the stated objective.

    Parameters
    ----------
    leaders
        Eligible leaders, one row each, with the hr_roster fields ``employee_id`` (a pseudonym),
        ``role_level``, ``department_id``, ``unit_id``, ``facility_id`` and ``manager_id``
        (see :func:`read_roster` and :func:`eligible_leaders`).
    size
        Smallest and largest group size (or one size).
    rules
        Hard rules; :class:`GroupRules` defaults (the program's) when omitted.
    weights
        Objective weights; :class:`ObjectiveWeights` defaults when omitted.
    pairs
        Stated pairs: columns ``person_a``, ``person_b`` (the same identifiers as
        ``employee_id``) and ``relation`` (``"exclude"``: never in one group; ``"prefer"``:
        rewarded in one group). Pairs naming someone not among ``leaders`` are ignored (noted).
    seed
        Random seed: the same seed gives the same groups (unless the time limit is reached).
    time_limit
        Seconds the search may take at most.
    max_iterations, patience
        The iterated local search stops after ``max_iterations`` perturbations, or after
        ``patience`` perturbations in a row that did not improve the best solution.
    candidates
        Groups per leader whose members are tried in swaps in each local-search round.
    method
        ``"search"`` (iterated local search), ``"exact"`` (integer program; small programs),
        ``"auto"`` (search, plus the exact program when it is small enough, keeping the better),
        or ``"random"`` (a random feasible grouping without optimisation: a baseline).
    exact_max_candidates
        Largest number of possible groups (before checking the rules) for the exact program.

    Returns
    -------
    PeerGroupResult

    Raises
    ------
    ConfigError
        Invalid options, or the rules cannot be met at all (the message names the rule and the
        count), or ``method="exact"`` on a program too large for it.
    DataValidationError
        Missing columns or values, duplicate leaders, unknown role levels.

    Examples
    --------
    >>> res = form_peer_groups(_example_leaders(), seed=0)
    >>> res.objective["placed"], res.objective["unplaced"], round(res.objective["per_leader"], 3)
    (12, 0, 1.333)
    >>> res.stats["exact"]["gap"]
    0.0
    """
    rules = rules if rules is not None else GroupRules()
    weights = weights if weights is not None else ObjectiveWeights()
    if method not in ("auto", "search", "exact", "random"):
        raise ConfigError(f"method must be auto, search, exact or random (got {method!r})")
    if not (isinstance(time_limit, (int, float)) and time_limit > 0):
        raise ConfigError(f"time_limit must be a positive number of seconds (got {time_limit!r})")
    for name, value in (("max_iterations", max_iterations), ("patience", patience)):
        if not _whole(value) or value < 0:
            raise ConfigError(f"{name} must be a whole number >= 0 (got {value!r})")
    if not _whole(candidates) or candidates < 1:
        raise ConfigError(f"candidates must be a whole number >= 1 (got {candidates!r})")
    inst = _prepare(leaders, size, rules, weights, pairs)
    message = _infeasible_message(inst)
    if message:
        raise ConfigError(message)
    t0 = time.perf_counter()
    deadline = t0 + float(time_limit)
    rng = np.random.default_rng(seed)
    stats: dict[str, Any] = {"method": method}
    if method == "random":
        grp = _random_grouping(inst, rng)
    elif method == "exact":
        solved = _exact(inst, float(time_limit), exact_max_candidates)
        if solved is None:
            raise ConfigError(
                f"the exact method is for small programs: {inst.n} leaders give more than "
                f"{exact_max_candidates:,} possible groups; use method='search'"
            )
        grp = solved["grp"]
        stats["exact"] = {
            "proven_optimal": solved["optimal"],
            "feasible_groups": solved["candidates"],
        }
    else:
        grp, search_stats = _search(inst, rng, deadline, max_iterations, patience, candidates)
        stats.update(search_stats)
        if method == "auto":
            solved = _exact(inst, max(deadline - time.perf_counter(), 5.0), exact_max_candidates)
            if solved is not None:
                heur = _value(_evaluate(inst, grp), grp)
                exact = _value(_evaluate(inst, solved["grp"]), solved["grp"])
                stats["exact"] = {
                    "proven_optimal": solved["optimal"],
                    "feasible_groups": solved["candidates"],
                    "placed": exact[0],
                    "objective": exact[1],
                    "search_placed": heur[0],
                    "search_objective": heur[1],
                    "gap": max(exact[1] - heur[1], 0.0) if exact[0] == heur[0] else None,
                }
                if _better(exact, heur):
                    grp = solved["grp"]
                    stats["method_used"] = "exact"
    stats.setdefault("method_used", "search" if method == "auto" else method)
    seconds = time.perf_counter() - t0
    stats["seconds"] = round(seconds, 3)
    stats["time_limit_reached"] = bool(seconds >= time_limit)
    if not (grp >= 0).any():
        raise ConfigError(
            f"no peer group can be formed from the {inst.n} eligible leaders: every set of "
            f"{inst.smin} breaks a rule (role-level span, units, managers, departments, exclusions)"
        )
    settings = {
        "size": [inst.smin, inst.smax],
        "rules": {k: v for k, v in asdict(rules).items() if k != "level_order"},
        "level_order": inst.level_names,
        "weights": asdict(weights),
        "seed": seed,
        "method": method,
        "time_limit": time_limit,
        "max_iterations": max_iterations,
        "patience": patience,
        "candidates": candidates,
        "eligible_leaders": inst.n,
    }
    return _build_result(inst, grp, settings, stats)


def check_peer_groups(
    leaders: pd.DataFrame,
    group: Sequence[Any] | pd.Series,
    *,
    size: tuple[int, int] | int = (3, 4),
    rules: GroupRules | None = None,
    weights: ObjectiveWeights | None = None,
    pairs: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Check any grouping (for example one made by hand) against the rules and score it.

    Parameters
    ----------
    leaders
        As for :func:`form_peer_groups`.
    group
        Group label of each leader, in the order of ``leaders`` (missing: not placed).
    size, rules, weights, pairs
        As for :func:`form_peer_groups`.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``group``, ``size``, ``score`` and one boolean column per hard rule
        (``size_ok``, ``level_span_ok``, ``unit_ok``, ``managers_ok``, ``exclusions_ok``,
        ``departments_ok``) and ``feasible`` (all of them).

    Examples
    --------
    >>> leaders = _example_leaders()
    >>> checked = check_peer_groups(leaders, [k // 4 for k in range(12)])
    >>> checked[["size", "level_span_ok", "departments_ok", "feasible"]].all().tolist()
    [True, True, True, True]
    """
    rules = rules if rules is not None else GroupRules()
    weights = weights if weights is not None else ObjectiveWeights()
    inst = _prepare(leaders, size, rules, weights, pairs)
    labels = pd.Series(list(group), dtype=object)
    if len(labels) != inst.n:
        raise ConfigError(f"group has {len(labels)} labels for {inst.n} leaders")
    codes, names = pd.factorize(labels, sort=True)
    rows = []
    for g in range(len(names)):
        m = np.flatnonzero(codes == g)
        s = m.size
        if s >= 2:
            a, b = np.array(list(itertools.combinations(m, 2))).T
        else:
            a = b = np.empty(0, np.int64)
        units = np.bincount(inst.unit[m]).max()
        rows.append(
            {
                "group": names[g],
                "size": s,
                "score": float(2.0 * _pair_score(inst, a, b).sum() / max(s - 1, 1)),
                "size_ok": inst.smin <= s <= inst.smax,
                "level_span_ok": bool(np.ptp(inst.lev[m]) <= inst.span),
                "unit_ok": bool(inst.cap == 0 or units <= inst.cap),
                "managers_ok": not bool(_has(inst.mgr_keys, a, b, inst.n).any()),
                "exclusions_ok": not bool(_has(inst.excl_keys, a, b, inst.n).any()),
                "departments_ok": bool(np.unique(inst.dep[m]).size >= inst.mindep),
            }
        )
    out = pd.DataFrame(rows)
    if len(out):
        out["feasible"] = out.filter(like="_ok").all(axis=1)
    return out


# ------------------------------------------------------------------------------- reading ---


def read_roster(
    path: str | Path, *, key: PseudonymKey, config: ExtractConfig | str | Path | None = None
) -> TableValidation:
    """Read and validate an HR roster with coacheval's validation (a file, or a folder holding one).

    Bad rows are quarantined with every reason, person identifiers become pseudonyms and
    personal-data columns are dropped, exactly as ``coacheval validate`` does.

    Parameters
    ----------
    path
        The roster file (CSV, Excel, Parquet, SPSS) or an extract folder with an hr_roster file.
    key
        Pseudonym key.
    config
        Extract config (or the path of its YAML file): column names, date order, id width.

    Returns
    -------
    coacheval.io.results.TableValidation
        ``clean`` (the validated roster), ``quarantine`` (with ``reasons``) and the counts.

    Raises
    ------
    ConfigError
        The path does not exist or a folder holds no roster.
    DataValidationError
        The roster is unusable (the reason is given).

    Examples
    --------
    >>> import tempfile
    >>> from coacheval.io.pseudonymise import PseudonymKey
    >>> from coacheval.simulate import simulate_health_system
    >>> folder = tempfile.mkdtemp()
    >>> _ = simulate_health_system(seed=2, n_leaders=60).write(folder)
    >>> roster = read_roster(folder, key=PseudonymKey(b"k" * 32))
    >>> roster.rows_quarantined, "employee_name" in roster.clean.columns
    (0, False)
    """
    from coacheval.io.columns import find_files
    from coacheval.io.config import ExtractConfig
    from coacheval.io.rules import RuleContext
    from coacheval.io.schema import load_table_schemas
    from coacheval.io.validate import TableValidator

    if config is not None and not isinstance(config, ExtractConfig):
        config = ExtractConfig.from_yaml(config)
    config = config or ExtractConfig()
    path = Path(path)
    if path.is_dir():
        files = find_files(path, config)[0].get("hr_roster")
        if not files:
            raise ConfigError(
                "no HR roster file found (expected e.g. hr_roster.csv)", source=str(path)
            )
    elif path.is_file():
        files = [path]
    else:
        raise ConfigError("the roster file does not exist", source=str(path))
    spec = load_table_schemas()["hr_roster"]
    context = RuleContext(group_size=config.group_size)
    result = TableValidator(spec, config, key, {}, context, {}).validate(files)
    if result.unusable_reason:
        raise DataValidationError(
            f"{', '.join(result.files)}: the roster is unusable: {result.unusable_reason}",
            failure_cases=result.quarantine,
        )
    return result


def eligible_leaders(
    roster: pd.DataFrame,
    *,
    as_of: str | pd.Timestamp | None = None,
    ids: Sequence[str] | pd.Series | None = None,
) -> pd.DataFrame:
    """Select the leaders who may be grouped: employed on a date, optionally from a list.

    Parameters
    ----------
    roster
        Validated roster (``read_roster(...).clean``).
    as_of
        Date: leaders hired on or before it and not terminated by then. Default: leaders
        without a termination date.
    ids
        Only these employee ids (pseudonyms), e.g. those who applied.

    Returns
    -------
    pandas.DataFrame
        The eligible rows, in roster order.

    Examples
    --------
    >>> roster = pd.DataFrame({"employee_id": ["P1", "P2", "P3"],
    ...     "hire_date": pd.to_datetime(["2020-01-01", "2023-01-01", "2019-05-01"]),
    ...     "termination_date": pd.to_datetime([None, None, "2022-06-30"])})
    >>> eligible_leaders(roster, as_of="2022-01-01")["employee_id"].tolist()
    ['P1', 'P3']
    >>> eligible_leaders(roster)["employee_id"].tolist()
    ['P1', 'P2']
    """
    keep = np.ones(len(roster), bool)
    term = roster["termination_date"] if "termination_date" in roster else None
    if as_of is not None:
        try:
            day = pd.Timestamp(as_of)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"as_of is not a date: {as_of!r}") from exc
        keep &= (pd.to_datetime(roster["hire_date"]) <= day).to_numpy()
        if term is not None:
            keep &= (pd.to_datetime(term).isna() | (pd.to_datetime(term) > day)).to_numpy()
    elif term is not None:
        keep &= term.isna().to_numpy()
    if ids is not None:
        keep &= roster["employee_id"].isin(list(ids)).to_numpy()
    return roster.loc[keep].reset_index(drop=True)


def _read_ids_table(path: str | Path) -> pd.DataFrame:
    from coacheval.io.columns import normalise_header
    from coacheval.io.readers import read_any

    raw = read_any(path)
    frame = raw.frame.copy()
    frame.columns = [normalise_header(str(c)) for c in frame.columns]
    return frame


def _pseudonyms(values: pd.Series, key: PseudonymKey, id_width: int | None) -> pd.Series:
    text = values.astype(str).str.strip()
    if id_width:
        short = text.str.fullmatch(r"\d+") & (text.str.len() < id_width)
        text = text.where(~short, text.str.zfill(id_width))
    return key.apply(text)


def read_id_list(path: str | Path, *, key: PseudonymKey, id_width: int | None = None) -> pd.Series:
    r"""Read a list of employee ids (column ``employee_id``, or the only column) as pseudonyms.

    Parameters
    ----------
    path
        CSV, Excel or Parquet file.
    key
        The pseudonym key the roster was read with.
    id_width
        Pad numeric ids that lost leading zeros to this width (the extract config's ``id_width``).

    Returns
    -------
    pandas.Series
        Pseudonyms (raw ids never leave this function).

    Examples
    --------
    >>> import tempfile
    >>> from coacheval.io.pseudonymise import PseudonymKey
    >>> path = Path(tempfile.mkdtemp()) / "eligible.csv"
    >>> _ = path.write_text("employee_id\n0042\n0043\n")
    >>> key = PseudonymKey(b"k" * 32)
    >>> read_id_list(path, key=key).tolist() == [key.pseudonym("0042"), key.pseudonym("0043")]
    True
    """
    frame = _read_ids_table(path)
    if "employee_id" in frame:
        col = frame["employee_id"]
    elif frame.shape[1] == 1:
        col = frame.iloc[:, 0]
    else:
        raise ConfigError("the id list needs an employee_id column", source=Path(path).name)
    return _pseudonyms(col.dropna(), key, id_width).reset_index(drop=True)


def read_pairs(path: str | Path, *, key: PseudonymKey, id_width: int | None = None) -> pd.DataFrame:
    r"""Read stated pairs: ``person_a``, ``person_b`` (employee ids) and ``relation``.

    ``relation`` is ``exclude`` (not in the same group) or ``prefer`` (in the same group if the
    rules allow); without a ``relation`` column every pair is an exclusion.

    Parameters
    ----------
    path
        CSV, Excel or Parquet file.
    key
        The pseudonym key the roster was read with.
    id_width
        Pad numeric ids that lost leading zeros to this width.

    Returns
    -------
    pandas.DataFrame
        ``person_a``, ``person_b`` as pseudonyms, ``relation`` in lower case.

    Raises
    ------
    ConfigError
        Missing columns, empty ids or relations other than exclude/prefer (naming the rows).

    Examples
    --------
    >>> import tempfile
    >>> from coacheval.io.pseudonymise import PseudonymKey
    >>> path = Path(tempfile.mkdtemp()) / "pairs.csv"
    >>> _ = path.write_text("person_a,person_b,relation\n11,12,exclude\n11,13,Prefer\n")
    >>> read_pairs(path, key=PseudonymKey(b"k" * 32))["relation"].tolist()
    ['exclude', 'prefer']
    """
    source = Path(path).name
    frame = _read_ids_table(path)
    missing = [c for c in ("person_a", "person_b") if c not in frame]
    if missing:
        raise ConfigError(
            f"the pairs file needs columns person_a, person_b and optionally relation "
            f"(missing: {', '.join(missing)})",
            source=source,
        )
    blank = frame["person_a"].isna() | frame["person_b"].isna()
    if blank.any():
        rows = ", ".join(str(r + 2) for r in np.flatnonzero(blank.to_numpy())[:10])
        raise ConfigError(f"pairs with an empty id on row(s) {rows}", source=source)
    relation = (
        frame["relation"].fillna("exclude").astype(str).str.strip().str.lower()
        if "relation" in frame
        else pd.Series("exclude", index=frame.index)
    )
    bad = ~relation.isin(["exclude", "prefer"])
    if bad.any():
        rows = ", ".join(str(r + 2) for r in np.flatnonzero(bad.to_numpy())[:10])
        raise ConfigError(
            f"relation must be 'exclude' or 'prefer' (row(s) {rows}: "
            f"{', '.join(sorted(set(relation[bad])))})",
            source=source,
        )
    return pd.DataFrame(
        {
            "person_a": _pseudonyms(frame["person_a"], key, id_width).to_numpy(),
            "person_b": _pseudonyms(frame["person_b"], key, id_width).to_numpy(),
            "relation": relation.to_numpy(),
        }
    )


def _example_leaders() -> pd.DataFrame:
    """Twelve nurse managers from six departments in two facilities (for the examples)."""
    k = np.arange(12)
    return pd.DataFrame(
        {
            "employee_id": [f"P{i:02d}" for i in k],
            "role_level": "nurse_manager",
            "department_id": [f"D{i % 6}" for i in k],
            "unit_id": [f"U{i}" for i in k],
            "facility_id": [f"F{i % 2}" for i in k],
            "manager_id": None,
        }
    )
