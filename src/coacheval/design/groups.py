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

# The solver engine lives in private modules: _grouping_instance (codes, rules, count tables),
# _grouping_construct (dynamic-program start), _grouping_moves (local search), _grouping_search
# (ILS, perturbation, POPMUSIC), _grouping_exact (branch and bound, MILP), _grouping_reasons.
from coacheval.design._grouping_construct import _random_grouping
from coacheval.design._grouping_exact import _exact
from coacheval.design._grouping_instance import (
    _better,
    _build_instance,
    _check_size,
    _evaluate,
    _has,
    _Instance,
    _pair_score,
    _value,
    _whole,
)
from coacheval.design._grouping_reasons import _infeasible_message, _result_parts
from coacheval.design._grouping_search import _search
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
    return _build_instance(leaders, smin, smax, rules, weights, pairs)


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
    table, assignments, unplaced, objective, notes = _result_parts(inst, grp)
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
