"""Randomised rollout order (stepped wedge): which peer groups start in which cohort, by chance.

When a program cannot start every peer group at once, the order in which groups start can be
randomised. Groups waiting for a later cohort are then a randomised comparison for the groups
already started, and an evaluation comparing started with not-yet-started cohorts needs no
assumption about who volunteers (a stepped-wedge design; Hussey & Hughes 2007, Hemming et al.
2015).

:func:`randomise_rollout` assigns randomisation units (peer groups, or single leaders) to cohorts
by **stratified permuted-block randomisation**:

1. *Counts first.* The number of units each stratum sends to each cohort is fixed so that every
   stratum is balanced (its counts differ by at most one between cohorts) and so is every cohort
   (cohort totals differ by at most one). Each stratum gets ``n_s // K`` units in every cohort; the
   ``n_s % K`` left over go to the cohorts with the fewest units so far, strata taken in random
   order and ties broken at random. With ``cohort_sizes`` the counts are a controlled rounding of
   the proportional allocation ``n_s * size_k / N``: every count is its floor or its ceiling and
   the margins are exact.
2. *Then the blocks.* Within each stratum the units are put in random order and given the
   stratum's cohort labels as consecutive permuted blocks (each full block a random permutation of
   the cohorts, the last block the leftover labels in random order).

Everything is drawn from one ``numpy.random.Generator(PCG64(seed))`` in a fixed order, after the
units are sorted, so the assignment depends only on the seed and the units (not on the input's
row order). The numpy version and bit generator are recorded with the seed: NumPy does not
promise identical streams across all of its versions.

References: Hussey MA, Hughes JP. Design and analysis of stepped wedge cluster randomized trials.
Contemp Clin Trials 2007;28:182-91. Hemming K et al. The stepped wedge cluster randomised trial:
rationale, design, analysis, and reporting. BMJ 2015;350:h391. Cox LH. A constructive procedure
for unbiased controlled rounding. JASA 1987;82:520-4.

Examples
--------
>>> import pandas as pd
>>> groups = pd.DataFrame({"group": [f"G{i:02d}" for i in range(12)],
...                        "facility": ["North"] * 7 + ["South"] * 5})
>>> plan = randomise_rollout(groups, n_cohorts=3, strata=("facility",), unit_col="group", seed=42)
>>> plan.allocation
  stratum  cohort_1  cohort_2  cohort_3  total
0   North         2         3         2      7
1   South         2         1         2      5
2   total         4         4         4     12

The method is recorded with the seed:

>>> METHOD
'stratified permuted-block randomisation with balanced stratum x cohort counts'
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coacheval.errors import ConfigError, DataValidationError
from coacheval.results import TableResult

__all__ = ["METHOD", "RolloutAssignment", "randomise_rollout", "read_rollout"]

METHOD = "stratified permuted-block randomisation with balanced stratum x cohort counts"
"""The method name recorded in ``rollout.json``."""

BIT_GENERATOR = "PCG64"
_STRATUM_SEPARATOR = " / "
_MAX_LEVELS = 20  # text columns with more levels than this are identifiers, not covariates


@dataclass(frozen=True)
class RolloutAssignment(TableResult):
    """A randomised rollout order: the assignment, its allocation table and balance.

    Attributes
    ----------
    assignment
        One row per randomisation unit: the unit id column, the strata columns, ``stratum`` (their
        values joined by ``" / "``), ``cohort`` (1 = starts first), ``block`` (the permuted block
        within the stratum) and ``n_rows`` (input rows of the unit, e.g. group members).
    allocation
        Units per stratum (rows) and cohort (``cohort_1`` ...), with totals.
    balance
        Covariates by cohort over the input rows: means of numeric columns, shares of each level of
        text columns, and the largest standardised difference between two cohorts (``max_smd``).
    seed
        The seed of the generator.
    n_cohorts, strata, unit_col
        The settings used (``unit_col`` is ``None`` when every input row was a unit).
    cohort_sizes
        Units per cohort, as realised.
    input_sha256
        SHA-256 of the input table in canonical form (sorted columns and rows), so that a later
        check can tell whether the same units were randomised.
    numpy_version, bit_generator, method
        How the random numbers were drawn.

    Examples
    --------
    >>> import pandas as pd
    >>> units = pd.DataFrame({"group": range(6), "site": ["A", "A", "A", "B", "B", "B"]})
    >>> a = randomise_rollout(units, n_cohorts=2, strata=("site",), seed=1)
    >>> a.assignment.groupby("stratum").cohort.value_counts().tolist()
    [2, 1, 2, 1]
    >>> a.record()["seed"], a.record()["bit_generator"]
    (1, 'PCG64')
    """

    assignment: pd.DataFrame
    allocation: pd.DataFrame
    balance: pd.DataFrame
    seed: int
    n_cohorts: int
    strata: tuple[str, ...]
    unit_col: str | None
    cohort_sizes: tuple[int, ...]
    input_sha256: str
    numpy_version: str = field(default_factory=lambda: np.__version__)
    bit_generator: str = BIT_GENERATOR
    method: str = METHOD
    title: str = "Randomised rollout order (stepped wedge)"
    notes: tuple[str, ...] = ()

    @property
    def table(self) -> pd.DataFrame:  # type: ignore[override]
        """The assignment (one row per unit)."""
        return self.assignment

    def cohort_of(self) -> pd.Series:
        """Return the cohort (1 = first) of each unit, indexed by unit id.

        Examples
        --------
        >>> import pandas as pd
        >>> a = randomise_rollout(pd.DataFrame({"group": ["x", "y"]}), n_cohorts=2, strata=(),
        ...                       seed=3)
        >>> sorted(a.cohort_of().tolist())
        [1, 2]
        """
        key = self.unit_col or "unit"
        return self.assignment.set_index(key).cohort

    def record(self) -> dict[str, Any]:
        """Return what ``rollout.json`` records: seed, method, strata, sizes and hashes.

        Examples
        --------
        >>> import pandas as pd
        >>> a = randomise_rollout(pd.DataFrame({"group": range(4)}), n_cohorts=2, strata=(),
        ...                       seed=9)
        >>> sorted(a.record())[:4]
        ['assignment_sha256', 'bit_generator', 'cohort_sizes', 'design']
        """
        return {
            "design": "randomised rollout (stepped wedge)",
            "method": self.method,
            "seed": int(self.seed),
            "bit_generator": self.bit_generator,
            "numpy_version": self.numpy_version,
            "n_cohorts": int(self.n_cohorts),
            "cohort_sizes": [int(s) for s in self.cohort_sizes],
            "strata": list(self.strata),
            "unit_col": self.unit_col,
            "n_units": len(self.assignment),
            "n_rows": int(self.assignment.n_rows.sum()),
            "input_sha256": self.input_sha256,
            "assignment_sha256": hashlib.sha256(_csv_bytes(self.assignment)).hexdigest(),
        }

    def write(self, out: str | Path) -> list[Path]:
        """Write ``assignment.csv``, ``allocation.csv``, ``balance.csv`` and ``rollout.json``.

        The files are byte-for-byte the same for the same seed and units (no time stamps), so a
        randomisation can be checked by re-running it.

        Parameters
        ----------
        out
            Folder to write into (created if needed).

        Returns
        -------
        list of Path
            The files written, ``rollout.json`` last.

        Examples
        --------
        >>> import tempfile, pandas as pd
        >>> a = randomise_rollout(pd.DataFrame({"group": range(6)}), n_cohorts=3, strata=(),
        ...                       seed=5)
        >>> [p.name for p in a.write(tempfile.mkdtemp())]
        ['assignment.csv', 'allocation.csv', 'balance.csv', 'rollout.json']
        """
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, frame in (
            ("assignment.csv", self.assignment),
            ("allocation.csv", self.allocation),
            ("balance.csv", self.balance),
        ):
            path = folder / name
            path.write_bytes(_csv_bytes(frame))
            written.append(path)
        path = folder / "rollout.json"
        path.write_text(json.dumps(self.record(), indent=2, sort_keys=True) + "\n", "utf-8")
        written.append(path)
        return written

    def summary(self) -> str:
        """Return the settings and the allocation table as text.

        Examples
        --------
        >>> import pandas as pd
        >>> a = randomise_rollout(pd.DataFrame({"group": range(4)}), n_cohorts=2, strata=(),
        ...                       seed=2)
        >>> print(a.summary().splitlines()[0])
        Randomised rollout order (stepped wedge): 4 units to 2 cohorts, seed 2
        """
        head = (
            f"{self.title}: {len(self.assignment)} units to {self.n_cohorts} cohorts, "
            f"seed {self.seed}"
        )
        strata = ", ".join(self.strata) if self.strata else "none"
        return "\n\n".join(
            [
                head,
                f"Method: {self.method}; strata: {strata}; numpy {self.numpy_version} "
                f"{self.bit_generator}",
                self.allocation.to_string(index=False),
                *self.notes,
            ]
        )

    def plot(self) -> Any:
        """Draw units per cohort, stacked by stratum; return the matplotlib Figure.

        Examples
        --------
        >>> import pandas as pd
        >>> a = randomise_rollout(pd.DataFrame({"group": range(6), "s": list("aabbcc")}),
        ...                       n_cohorts=2, strata=("s",), seed=1)
        >>> type(a.plot()).__name__
        'Figure'
        """
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5.5, 3.5))
        ax = fig.add_subplot()
        body = self.allocation[self.allocation.stratum != "total"]
        columns = [f"cohort_{k}" for k in range(1, self.n_cohorts + 1)]
        bottom = np.zeros(self.n_cohorts)
        x = np.arange(1, self.n_cohorts + 1)
        for row in body.itertuples(index=False):
            counts = np.array([getattr(row, c) for c in columns], dtype=float)
            ax.bar(x, counts, bottom=bottom, label=str(row.stratum))
            bottom += counts
        ax.set_xticks(x, [f"Cohort {k}" for k in x])
        ax.set_ylabel("Units randomised")
        ax.set_title(f"Rollout order (seed {self.seed})")
        if len(body) > 1:
            ax.legend(title="Stratum", fontsize="small")
        fig.tight_layout()
        return fig


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _canonical_hash(units: pd.DataFrame) -> str:
    """SHA-256 of the table with sorted columns and rows, so that row order does not matter."""
    frame = units[sorted(units.columns, key=str)].astype(str)
    frame = frame.sort_values(list(frame.columns), kind="stable", ignore_index=True)
    return hashlib.sha256(_csv_bytes(frame)).hexdigest()


def _sorted_ids(values: pd.Series) -> pd.Series:
    try:
        return values.sort_values(kind="stable")
    except TypeError:  # mixed types: sort by their text
        return values.iloc[np.argsort(values.astype(str).to_numpy(), kind="stable")]


def _check_arguments(
    units: Any, n_cohorts: Any, seed: Any, strata: Sequence[str], unit_col: str | None
) -> None:
    if not isinstance(units, pd.DataFrame):
        raise DataValidationError(f"units must be a pandas DataFrame, got {type(units).__name__}")
    if isinstance(n_cohorts, bool) or not isinstance(n_cohorts, (int, np.integer)):
        raise ConfigError(f"n_cohorts must be an integer (got {n_cohorts!r})")
    if n_cohorts < 2:
        raise ConfigError(f"a rollout needs at least 2 cohorts (got n_cohorts={n_cohorts})")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer (got {seed!r})")
    missing = [c for c in [*([unit_col] if unit_col else []), *strata] if c not in units]
    if missing:
        raise DataValidationError(
            f"units: no column(s) {', '.join(map(repr, missing))}; columns are "
            f"{', '.join(map(str, units.columns))}"
        )
    if unit_col in strata:
        raise ConfigError(f"the unit column {unit_col!r} cannot also be a stratum")


def _unit_table(
    units: pd.DataFrame, unit_col: str | None, strata: tuple[str, ...]
) -> tuple[pd.DataFrame, str]:
    """One row per unit (sorted by id) with its strata and number of input rows."""
    frame = units.copy()
    key = unit_col or "unit"
    if unit_col is None:
        if "unit" in frame:
            raise ConfigError("units has a column named 'unit': pass unit_col='unit'")
        frame[key] = np.arange(len(frame))
    bad = frame[key].isna().to_numpy()
    for c in strata:
        bad |= frame[c].isna().to_numpy()
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise DataValidationError(
            f"units: {int(bad.sum())} row(s) without a unit id or stratum value "
            f"({', '.join([key, *strata])}), e.g. rows {rows}",
            failure_cases=frame[bad],
        )
    if strata:
        varying = frame.groupby(key, sort=False)[list(strata)].nunique().max(axis=1) > 1
        if varying.any():
            ids = varying.index[varying].tolist()[:5]
            raise DataValidationError(
                f"units: the strata ({', '.join(strata)}) differ between rows of the same unit "
                f"({key} {', '.join(map(str, ids))}); give each unit one stratum value",
                failure_cases=frame[frame[key].isin(ids)],
            )
    table = frame.groupby(key, sort=False).agg(
        **{c: (c, "first") for c in strata}, n_rows=(key, "size")
    )
    table = table.reset_index()
    table = table.loc[_sorted_ids(table[key]).index].reset_index(drop=True)
    if strata:
        table["stratum"] = table[list(strata)].astype(str).agg(_STRATUM_SEPARATOR.join, axis=1)
    else:
        table["stratum"] = "all"
    return table, key


def _balanced_counts(sizes: np.ndarray, n_cohorts: int, rng: np.random.Generator) -> np.ndarray:
    """Stratum x cohort counts: n // K each, leftovers to the smallest cohorts so far."""
    counts = np.repeat((sizes // n_cohorts)[:, None], n_cohorts, axis=1)
    totals = counts.sum(axis=0)
    for s in rng.permutation(len(sizes)):
        extra = int(sizes[s] % n_cohorts)
        tie = rng.random(n_cohorts)
        chosen = np.lexsort((tie, totals))[:extra]
        counts[s, chosen] += 1
        totals[chosen] += 1
    return counts


def _rounded_counts(
    sizes: np.ndarray, cohort_sizes: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Round ``sizes[s] * cohort_sizes[k] / N`` to integers with exact margins (controlled).

    Every count is the floor or the ceiling of its share (a share that is a whole number is kept
    exactly), and rows and columns add up to the stratum sizes and the cohort sizes. The floors
    are kept; the leftover units (integer row and column sums) go one at a time to cells with a
    fractional share, each stratum in random order, to the cohort with the largest outstanding
    demand (random ties), re-routing earlier choices along an augmenting path when needed (a
    bipartite flow). A completion always exists: the fractional parts are a feasible point of the
    transportation polytope, whose vertices are integral (Cox 1987).
    """
    total = sizes.sum()
    share = np.outer(sizes, cohort_sizes) / total
    counts = np.floor(share + 1e-9).astype(np.int64)
    allowed = share - counts > 1e-9
    extra = np.zeros_like(counts)
    row_left = sizes - counts.sum(axis=1)
    col_left = cohort_sizes - counts.sum(axis=0)
    n_rows, n_cols = counts.shape
    for s in rng.permutation(n_rows):
        for _ in range(int(row_left[s])):
            tie = rng.random(n_cols)
            col_order = np.lexsort((tie, -col_left))
            # Breadth-first search for an augmenting path from stratum s to a cohort with room.
            parent_col: dict[int, int] = {}  # column -> row it was reached from
            parent_row: dict[int, int] = {s: -1}  # row -> column it was reached through
            queue, end = [s], -1
            while queue and end < 0:
                r = queue.pop(0)
                for k in col_order:
                    k = int(k)
                    if k in parent_col or not allowed[r, k] or extra[r, k]:
                        continue
                    parent_col[k] = r
                    if col_left[k] > 0:
                        end = k
                        break
                    for r2 in np.flatnonzero(extra[:, k]):
                        if int(r2) not in parent_row:
                            parent_row[int(r2)] = k
                            queue.append(int(r2))
            if end < 0:  # cannot happen: a completion exists
                raise DataValidationError("cohort_sizes cannot be allocated across the strata")
            k = end
            col_left[k] -= 1
            while True:
                r = parent_col[k]
                extra[r, k] = 1
                back = parent_row[r]
                if back < 0:
                    break
                extra[r, back] = 0
                k = back
    return counts + extra


def _balance(
    units: pd.DataFrame, cohort_of_row: np.ndarray, n_cohorts: int, skip: set[str]
) -> pd.DataFrame:
    """Means (numeric) and level shares (text) by cohort, with the largest pairwise SMD."""
    cohorts = range(1, n_cohorts + 1)
    columns = [f"cohort_{k}" for k in cohorts]
    rows = [
        {
            "covariate": "n",
            "level": "rows",
            **{c: float((cohort_of_row == k).sum()) for c, k in zip(columns, cohorts, strict=True)},
            "max_smd": np.nan,
        }
    ]

    def add(name: str, level: str, values: np.ndarray, binary: bool) -> None:
        means, variances = [], []
        for k in cohorts:
            v = values[(cohort_of_row == k) & ~np.isnan(values)]
            means.append(float(v.mean()) if len(v) else np.nan)
            if binary:
                variances.append(means[-1] * (1 - means[-1]) if len(v) else np.nan)
            else:
                variances.append(float(v.var(ddof=1)) if len(v) > 1 else np.nan)
        smd = []
        for i, j in combinations(range(n_cohorts), 2):
            pooled = np.sqrt((variances[i] + variances[j]) / 2)
            diff = abs(means[i] - means[j])
            if np.isfinite(pooled) and pooled > 0:
                smd.append(diff / pooled)
            elif diff == 0:
                smd.append(0.0)
        rows.append(
            {
                "covariate": name,
                "level": level,
                **dict(zip(columns, means, strict=True)),
                "max_smd": max(smd) if smd else np.nan,
            }
        )

    for name in units.columns:
        if name in skip:
            continue
        column = units[name]
        if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            add(str(name), "", column.to_numpy(dtype=float, na_value=np.nan), binary=False)
            continue
        text = column.astype("string")
        levels = text.dropna().unique()
        if len(levels) > _MAX_LEVELS or len(levels) == text.notna().sum() > 1:
            continue  # an identifier, not a covariate
        for level in sorted(levels):
            indicator = (text == level).astype(float).to_numpy(na_value=np.nan)
            add(str(name), str(level), indicator, binary=True)
    return pd.DataFrame(rows, columns=["covariate", "level", *columns, "max_smd"])


def randomise_rollout(
    units: pd.DataFrame,
    *,
    n_cohorts: int,
    strata: Sequence[str] = ("facility",),
    unit_col: str | None = "group",
    seed: int,
    cohort_sizes: Sequence[int] | None = None,
    covariates: Sequence[str] | None = None,
) -> RolloutAssignment:
    """Randomise the order in which units (peer groups or leaders) start, stratified.

    Parameters
    ----------
    units
        One row per unit, or one row per member with the unit in ``unit_col`` (members of a
        unit must share its strata). Other columns are summarised in the balance table.
    n_cohorts
        Number of cohorts (start dates), at least 2; cohort 1 starts first.
    strata
        Columns whose combinations are the strata (e.g. ``("facility",)`` or
        ``("facility", "role_level")``); ``()`` for no stratification.
    unit_col
        Column of the unit ids (``"group"`` for peer groups, ``"employee_id"`` for leaders), or
        ``None`` when every row is a unit.
    seed
        Non-negative integer seed of ``numpy.random.Generator(PCG64(seed))``.
    cohort_sizes
        Units per cohort (summing to the number of units). Default: as equal as possible, with
        the leftover units placed at random.
    covariates
        Columns to summarise in the balance table (default: every column except the unit id;
        text columns with more than 20 levels or one level per row are taken as identifiers and
        left out).

    Returns
    -------
    RolloutAssignment
        The assignment, its allocation and balance tables, and everything needed to reproduce it.

    Raises
    ------
    ConfigError
        Fewer than 2 cohorts, a negative or non-integer seed, or ``cohort_sizes`` that do not
        fit the units.
    DataValidationError
        A missing column or value, strata that differ within a unit, or fewer units than cohorts.

    Examples
    --------
    >>> import pandas as pd
    >>> members = pd.DataFrame({
    ...     "group": ["G1", "G1", "G1", "G2", "G2", "G2", "G3", "G3", "G3", "G4", "G4", "G4"],
    ...     "facility": ["F1"] * 6 + ["F2"] * 6,
    ...     "tenure_years": [2, 5, 1, 8, 3, 4, 6, 2, 9, 1, 1, 3]})
    >>> a = randomise_rollout(members, n_cohorts=2, strata=("facility",), unit_col="group",
    ...                       seed=2026)
    >>> a.assignment[["group", "facility", "cohort", "n_rows"]]
      group facility  cohort  n_rows
    0    G1       F1       1       3
    1    G3       F2       1       3
    2    G2       F1       2       3
    3    G4       F2       2       3
    >>> a.balance.loc[a.balance.covariate == "tenure_years", ["cohort_1", "cohort_2"]].round(2)
       cohort_1  cohort_2
    3      4.17      3.33

    The same seed gives the same assignment, whatever the order of the rows:

    >>> b = randomise_rollout(members.iloc[::-1], n_cohorts=2, strata=("facility",),
    ...                       unit_col="group", seed=2026)
    >>> b.assignment.equals(a.assignment), b.input_sha256 == a.input_sha256
    (True, True)
    """
    if isinstance(strata, str):
        raise ConfigError(f"strata must be a sequence of column names, e.g. ({strata!r},)")
    strata = tuple(strata or ())
    _check_arguments(units, n_cohorts, seed, strata, unit_col)
    n_cohorts = int(n_cohorts)
    if units.empty:
        raise DataValidationError("units is empty: there is nothing to randomise")
    table, key = _unit_table(units, unit_col, strata)
    n_units = len(table)
    if n_units < n_cohorts:
        raise DataValidationError(
            f"{n_units} unit(s) cannot fill {n_cohorts} cohorts: every cohort needs at least one "
            "unit (use fewer cohorts or randomise smaller units)"
        )
    if cohort_sizes is not None:
        sizes_given = np.asarray(list(cohort_sizes))
        if (
            len(sizes_given) != n_cohorts
            or not all(
                isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in sizes_given
            )
            or np.any(sizes_given < 1)
            or sizes_given.sum() != n_units
        ):
            raise ConfigError(
                f"cohort_sizes must be {n_cohorts} positive integers summing to the {n_units} "
                f"units (got {list(cohort_sizes)})"
            )
    rng = np.random.Generator(np.random.PCG64(int(seed)))
    strata_labels = sorted(table.stratum.unique())
    position = {s: i for i, s in enumerate(strata_labels)}
    stratum_index = table.stratum.map(position).to_numpy()
    stratum_sizes = np.bincount(stratum_index, minlength=len(strata_labels))
    if cohort_sizes is None:
        counts = _balanced_counts(stratum_sizes, n_cohorts, rng)
    else:
        counts = _rounded_counts(stratum_sizes, np.asarray(list(cohort_sizes), np.int64), rng)

    cohort = np.zeros(n_units, np.int64)
    block = np.zeros(n_units, np.int64)
    for s in range(len(strata_labels)):
        members = np.flatnonzero(stratum_index == s)
        shuffled = members[rng.permutation(len(members))]
        full = int(counts[s].min())
        labels = [rng.permutation(n_cohorts) + 1 for _ in range(full)]
        leftover = np.repeat(np.arange(1, n_cohorts + 1), counts[s] - full)
        labels.append(rng.permutation(leftover))
        sequence = np.concatenate(labels) if labels else np.empty(0, np.int64)
        blocks = np.concatenate(
            [np.full(n_cohorts, b + 1) for b in range(full)] + [np.full(len(leftover), full + 1)]
        )
        cohort[shuffled] = sequence
        block[shuffled] = blocks

    table["cohort"] = cohort
    table["block"] = block
    assignment = table[[key, *strata, "stratum", "cohort", "block", "n_rows"]]
    assignment = assignment.sort_values(["cohort", "stratum"], kind="stable", ignore_index=True)

    allocation = pd.DataFrame(counts, columns=[f"cohort_{k}" for k in range(1, n_cohorts + 1)])
    allocation.insert(0, "stratum", strata_labels)
    allocation["total"] = allocation.iloc[:, 1:].sum(axis=1)
    totals = allocation.iloc[:, 1:].sum(axis=0)
    allocation = pd.concat(
        [allocation, pd.DataFrame([{"stratum": "total", **totals.to_dict()}])], ignore_index=True
    )

    rows = units.reset_index(drop=True)
    unit_ids = rows[unit_col] if unit_col else pd.Series(np.arange(len(rows)))
    cohort_of_row = unit_ids.map(table.set_index(key).cohort).to_numpy()
    if covariates is None:
        balance_frame = rows.drop(columns=[unit_col] if unit_col else [])
    else:
        unknown = [c for c in covariates if c not in rows]
        if unknown:
            raise DataValidationError(f"units: no covariate column(s) {', '.join(unknown)}")
        balance_frame = rows[list(covariates)]
    balance = _balance(balance_frame, cohort_of_row, n_cohorts, skip=set())
    realised = tuple(int(c) for c in counts.sum(axis=0))
    notes = (
        f"{n_units} units in {len(strata_labels)} stratum(s) randomised to {n_cohorts} cohorts "
        f"of {', '.join(map(str, realised))} units.",
    )
    return RolloutAssignment(
        assignment=assignment,
        allocation=allocation,
        balance=balance,
        seed=int(seed),
        n_cohorts=n_cohorts,
        strata=strata,
        unit_col=unit_col,
        cohort_sizes=realised,
        input_sha256=_canonical_hash(units),
        notes=notes,
    )


def read_rollout(path: str | Path) -> RolloutAssignment:
    """Read a rollout written by :meth:`RolloutAssignment.write` and check it is unaltered.

    Parameters
    ----------
    path
        The folder, or its ``assignment.csv`` or ``rollout.json``.

    Returns
    -------
    RolloutAssignment

    Raises
    ------
    ConfigError
        A file is missing or unreadable, or ``assignment.csv`` no longer matches the SHA-256
        recorded in ``rollout.json``.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> a = randomise_rollout(pd.DataFrame({"group": ["a", "b", "c"]}), n_cohorts=3, strata=(),
    ...                       seed=4)
    >>> folder = tempfile.mkdtemp()
    >>> _ = a.write(folder)
    >>> read_rollout(folder).cohort_of().sort_index().tolist() == a.cohort_of().sort_index().tolist()
    True
    """
    folder = Path(path)
    if folder.suffix:
        folder = folder.parent
    try:
        record = json.loads((folder / "rollout.json").read_text(encoding="utf-8"))
        raw = (folder / "assignment.csv").read_bytes()
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the rollout in {folder} ({exc})") from exc
    digest = hashlib.sha256(raw).hexdigest()
    if digest != record.get("assignment_sha256"):
        raise ConfigError(
            f"{folder / 'assignment.csv'} does not match the SHA-256 recorded in rollout.json: "
            "the assignment was changed after randomisation"
        )
    key = record.get("unit_col") or "unit"
    strata = tuple(record.get("strata") or ())
    text = {key: str, "stratum": str, **{c: str for c in strata}}

    def read(name: str, **kwargs: Any) -> pd.DataFrame:
        file = folder / name
        if not file.exists():
            return pd.DataFrame()
        return pd.read_csv(file, keep_default_na=False, na_values=[""], **kwargs)

    assignment = pd.read_csv(folder / "assignment.csv", dtype=text, keep_default_na=False)
    return RolloutAssignment(
        assignment=assignment,
        allocation=read("allocation.csv", dtype={"stratum": str}),
        balance=read("balance.csv", dtype={"covariate": str, "level": str}),
        seed=int(record["seed"]),
        n_cohorts=int(record["n_cohorts"]),
        strata=strata,
        unit_col=record.get("unit_col"),
        cohort_sizes=tuple(int(s) for s in record["cohort_sizes"]),
        input_sha256=str(record["input_sha256"]),
        numpy_version=str(record["numpy_version"]),
        bit_generator=str(record["bit_generator"]),
        method=str(record["method"]),
    )
