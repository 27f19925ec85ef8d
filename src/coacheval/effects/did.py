"""Difference-in-differences for staggered cohorts: group-time ATTs and their aggregations.

Estimand: ``ATT(g, t)``, the average effect at period ``t`` on the leaders first treated at period
``g`` (Callaway & Sant'Anna 2021). Each ``ATT(g, t)`` compares the change in outcome from a base
period to ``t`` of group ``g`` with the change of a comparison group — the never-treated, or the
not yet treated at ``t`` — among units observed at both periods. The base period is ``g - 1``
for post-treatment cells and ``t - 1`` for pre-treatment cells (the "varying" base of the ``did``
package), so pre-treatment cells are placebo tests of parallel trends.

Three estimators of each cell, from Sant'Anna & Zhao (2020) for panel data, with their
influence functions (estimation of the outcome regression and propensity score included):

* ``"reg"`` — outcome regression: the comparison group's change regressed on baseline covariates,
  predicted for the treated;
* ``"ipw"`` — inverse probability weighting with normalised (Hajek) weights ``p/(1-p)``;
* ``"dr"`` — doubly robust: weighting of the regression residuals (consistent if either model is
  right).

Standard errors come from the influence functions, summed within clusters when a cluster column
is given (cluster-robust), else per unit. Aggregations (overall, by event time, by group) weight
cells by group size; their influence functions are the same weighted sums plus the influence of
estimating the group shares that make the weights, as the ``did`` package does (Callaway &
Sant'Anna 2021, eq. 3.6 and their ``wif``).

Without covariates all three estimators reduce to the difference of four means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

from coacheval.errors import ConfigError, DataValidationError
from coacheval.results import TableResult

__all__ = ["GroupTimeResult", "did_2x2", "group_time_att"]

Method = Literal["reg", "ipw", "dr"]
Comparison = Literal["never_treated", "not_yet_treated"]
Missing = Literal["drop", "raise"]


@dataclass(frozen=True)
class CellEstimate:
    """One group-time ATT with its per-unit influence function."""

    group: int
    period: int
    base: int
    estimate: float
    units: np.ndarray  # unit ids in the cell sample
    influence: np.ndarray  # per unit of the cell sample: sqrt(n) (ATT_hat - ATT) ~ mean(influence)
    n_treated: int
    n_comparison: int


def _logit_fit(x: np.ndarray, d: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted logistic regression by Newton-Raphson; return coefficients and fitted p."""
    beta = np.zeros(x.shape[1])
    for _ in range(100):
        p = expit(x @ beta)
        grad = x.T @ (w * (d - p))
        hess = (x * (w * p * (1 - p))[:, None]).T @ x
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError as exc:
            raise DataValidationError(
                "the propensity model cannot be fitted in a group-time cell (the "
                "covariates separate treated from comparison units)"
            ) from exc
        beta += step
        if np.max(np.abs(step)) < 1e-12:
            break
        if np.max(np.abs(beta)) > 50:
            raise DataValidationError(
                "the propensity model diverges in a group-time cell (the covariates "
                "separate treated from comparison units)"
            )
    p = expit(x @ beta)
    if np.any(p > 1 - 1e-10):
        raise DataValidationError(
            "propensity scores of 1 in a group-time cell: the covariates separate "
            "treated from comparison units (no overlap)"
        )
    return beta, p


def _full_rank(x: np.ndarray, among: np.ndarray | None = None) -> np.ndarray:
    """Keep the intercept and a linearly independent subset of covariate columns.

    A covariate that is constant within a cell (for example no director in a small cohort) or
    collinear with others carries no information there and would make the fits singular. With
    ``among`` (a boolean row mask, the comparison units) the columns must also be independent on
    those rows, because the outcome regression is fitted on them alone: a role level that only
    treated units hold in a cell cannot be adjusted for there.
    """
    from scipy.linalg import qr

    rows = x if among is None else x[among]
    if rows.shape[0] == 0:
        return x[:, :1]
    _, r, order = qr(rows, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int((diag > diag.max() * 1e-10).sum()) if len(diag) else 0
    keep = sorted(set(order[:rank].tolist()) | {0})
    return x[:, keep]


def _cell(dy: np.ndarray, d: np.ndarray, x: np.ndarray, method: Method) -> tuple[float, np.ndarray]:
    """ATT and influence function for one 2x2 comparison (Sant'Anna & Zhao 2020, panel data)."""
    n = len(dy)
    w = np.ones(n)
    if method == "reg":
        c = d == 0
        beta = np.linalg.lstsq(x[c], dy[c], rcond=None)[0]
        fitted = x @ beta
        w_treat = w * d
        att_treat = w_treat * dy
        att_cont = w_treat * fitted
        eta_treat = att_treat.mean() / w_treat.mean()
        eta_cont = att_cont.mean() / w_treat.mean()
        weights_ols = w * (1 - d)
        xpx_inv = np.linalg.inv((x * weights_ols[:, None]).T @ x / n)
        lin_rep_ols = (x * (weights_ols * (dy - fitted))[:, None]) @ xpx_inv
        inf_treat = (att_treat - w_treat * eta_treat) / w_treat.mean()
        inf_cont_1 = att_cont - w_treat * eta_cont
        inf_cont_2 = lin_rep_ols @ (x * w_treat[:, None]).mean(axis=0)
        inf_cont = (inf_cont_1 + inf_cont_2) / w_treat.mean()
        return float(eta_treat - eta_cont), inf_treat - inf_cont
    _, ps = _logit_fit(x, d, w)
    ps = np.minimum(ps, 1 - 1e-6)
    w_treat = w * d
    w_cont = w * ps * (1 - d) / (1 - ps)
    score_ps = x * (w * (d - ps))[:, None]
    hessian_inv = np.linalg.inv((x * (w * ps * (1 - ps))[:, None]).T @ x / n)
    lin_rep_ps = score_ps @ hessian_inv
    if method == "ipw":
        att_treat = w_treat * dy
        att_cont = w_cont * dy
        eta_treat = att_treat.mean() / w_treat.mean()
        eta_cont = att_cont.mean() / w_cont.mean()
        inf_treat = (att_treat - w_treat * eta_treat) / w_treat.mean()
        inf_cont_1 = att_cont - w_cont * eta_cont
        m2 = (x * (w_cont * (dy - eta_cont))[:, None]).mean(axis=0)
        inf_cont = (inf_cont_1 + lin_rep_ps @ m2) / w_cont.mean()
        return float(eta_treat - eta_cont), inf_treat - inf_cont
    # doubly robust
    c = d == 0
    beta = np.linalg.lstsq(x[c], dy[c], rcond=None)[0]
    fitted = x @ beta
    resid = dy - fitted
    att_treat = w_treat * resid
    att_cont = w_cont * resid
    eta_treat = att_treat.mean() / w_treat.mean()
    eta_cont = att_cont.mean() / w_cont.mean()
    weights_ols = w * (1 - d)
    xpx_inv = np.linalg.inv((x * weights_ols[:, None]).T @ x / n)
    lin_rep_ols = (x * (weights_ols * resid)[:, None]) @ xpx_inv
    inf_treat_1 = att_treat - w_treat * eta_treat
    inf_treat_2 = lin_rep_ols @ (x * w_treat[:, None]).mean(axis=0)
    inf_treat = (inf_treat_1 - inf_treat_2) / w_treat.mean()
    inf_cont_1 = att_cont - w_cont * eta_cont
    inf_cont_2 = lin_rep_ps @ (x * (w_cont * (resid - eta_cont))[:, None]).mean(axis=0)
    inf_cont_3 = lin_rep_ols @ (x * w_cont[:, None]).mean(axis=0)
    inf_cont = (inf_cont_1 + inf_cont_2 - inf_cont_3) / w_cont.mean()
    return float(eta_treat - eta_cont), inf_treat - inf_cont


def did_2x2(
    pre: np.ndarray,
    post: np.ndarray,
    treated: np.ndarray,
    covariates: np.ndarray | None = None,
    *,
    method: Method = "dr",
) -> tuple[float, float]:
    """Two-group, two-period DiD on a balanced panel: the ATT and its standard error.

    Parameters
    ----------
    pre, post
        Outcome of each unit before and after.
    treated
        1 for treated units, 0 for comparison units.
    covariates
        Baseline covariates (an intercept is added); none gives the difference of four means.
    method
        ``"reg"``, ``"ipw"`` or ``"dr"``.

    Returns
    -------
    tuple of float
        ATT and its influence-function standard error.

    Examples
    --------
    >>> pre, post = np.array([1.0, 2, 3, 4]), np.array([2.0, 3, 3, 4])
    >>> att, se = did_2x2(pre, post, np.array([1, 1, 0, 0]))
    >>> att  # (2.5 - 1.5) - (3.5 - 3.5)
    1.0
    """
    d = np.asarray(treated, dtype=float)
    dy = np.asarray(post, dtype=float) - np.asarray(pre, dtype=float)
    x = (
        np.ones((len(dy), 1))
        if covariates is None
        else np.column_stack([np.ones(len(dy)), covariates])
    )
    att, inf = _cell(dy, d, x, method)
    return att, float(np.std(inf, ddof=1) / np.sqrt(len(dy)))


@dataclass(frozen=True)
class GroupTimeResult(TableResult):
    """Group-time ATTs and their aggregations.

    Attributes
    ----------
    table
        One row per cell: ``group, period, base, event_time, post, term, estimate, std_error,
        statistic, p_value, conf_low, conf_high, n, n_treated, n_comparison, n_clusters``.
    aggregations
        ``aggregation, term, event_time, group, estimate, std_error, ...`` for the overall ATT,
        by event time (an event study) and by group.
    n_units
        Units analysed (observed at least once, with complete covariates).
    n_dropped
        Units left out of the adjusted analysis because a covariate is missing (counted, per
        covariate, in ``notes``).

    Examples
    --------
    :func:`group_time_att` returns one; here twenty leaders start the program in period 2 and
    twenty never do (true effect 1):

    >>> rows = [
    ...     {"id": u, "t": t, "g": 2 if u < 20 else 0, "y": u % 5 + t + (u < 20 and t == 2)}
    ...     for u in range(40)
    ...     for t in (1, 2)
    ... ]
    >>> res = group_time_att(pd.DataFrame(rows), outcome="y", unit="id", period="t", group="g")
    >>> res.table[["group", "period", "event_time", "estimate", "n_treated", "n_comparison"]]
       group  period  event_time  estimate  n_treated  n_comparison
    0      2       2           0       1.0         20            20
    >>> res.aggregations[["aggregation", "term", "estimate"]]
      aggregation           term  estimate
    0     overall  ATT (overall)       1.0
    1  event_time       ATT(e=0)       1.0
    2       group       ATT(g=2)       1.0
    """

    table: pd.DataFrame
    aggregations: pd.DataFrame
    method: str
    comparison: str
    n_units: int
    n_clusters: int
    title: str = "Group-time average treatment effects on the treated"
    notes: tuple[str, ...] = field(default=())
    n_dropped: int = 0

    def overall(self) -> pd.Series:
        """Return the overall ATT (post-treatment cells, weighted by group size).

        Raises
        ------
        DataValidationError
            No post-treatment cell could be estimated (for example every one had fewer than
            ``min_cell`` treated or comparison units), so there is no overall ATT; the message
            lists the skipped cells.
        """
        rows = self.aggregations
        rows = rows[rows.aggregation == "overall"] if len(rows) else rows
        if not len(rows):
            raise DataValidationError(
                "no post-treatment group-time cell could be estimated, so there is no overall "
                "ATT" + _skipped_cells(self.notes)
            )
        return rows.iloc[0]

    def plot(self):  # type: ignore[no-untyped-def]
        """Event-study plot: ATT by event time with 95% CIs; pre-periods are placebo checks."""
        import matplotlib.pyplot as plt

        dyn = self.aggregations[self.aggregations.aggregation == "event_time"].sort_values(
            "event_time"
        )
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for mask, colour, label in (
            (dyn.event_time < 0, "#888888", "before (placebo)"),
            (dyn.event_time >= 0, "#1f5f8b", "after the cohort started"),
        ):
            part = dyn[mask]
            if part.empty:
                continue
            x = part.event_time.to_numpy(dtype=float)
            y = part.estimate.to_numpy(dtype=float)
            low = part.conf_low.to_numpy(dtype=float)
            high = part.conf_high.to_numpy(dtype=float)
            ax.errorbar(
                x,
                y,
                fmt="o",
                color=colour,
                capsize=3,
                label=label,
                yerr=[y - low, high - y],
            )
        ax.legend(frameon=False, fontsize=8)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.axvline(-0.5, color="#bbbbbb", linestyle="--", linewidth=0.8)
        ax.set_xlabel("Periods since the cohort's first treated period")
        ax.set_ylabel("ATT")
        ax.set_title("Event study")
        fig.tight_layout()
        return fig


def _skipped_cells(notes: Sequence[str]) -> str:
    """Count the skipped cells of ``notes`` by reason: `` (3 cells skipped: 2 ..., 1 ...)``."""
    reasons: dict[str, int] = {}
    for note in notes:
        if note.startswith("cell g=") and " skipped: " in note:
            reason = note.split(" skipped: ", 1)[1]
            if reason.endswith("units observed"):
                reason = "too few treated or comparison units observed"
            reasons[reason] = reasons.get(reason, 0) + 1
    if not reasons:
        return ""
    parts = ", ".join(f"{count}: {reason}" for reason, count in reasons.items())
    return f" ({sum(reasons.values())} cells skipped; {parts})"


def _summaries(
    estimate: float,
    influence_by_cluster: np.ndarray,
    n_units: int,
    level: float,
    few_clusters: int | None = None,
) -> dict[str, float]:
    se = float(np.sqrt(np.sum(influence_by_cluster**2)) / n_units)
    if few_clusters:
        se *= np.sqrt(few_clusters / (few_clusters - 1))
        dist = stats.t(few_clusters - 1)
    else:
        dist = stats.norm
    crit = float(dist.ppf(1 - (1 - level) / 2))
    stat = estimate / se if se > 0 else np.nan
    return {
        "estimate": estimate,
        "std_error": se,
        "statistic": stat,
        "p_value": float(2 * dist.sf(abs(stat))) if se > 0 else np.nan,
        "conf_low": estimate - crit * se,
        "conf_high": estimate + crit * se,
    }


def group_time_att(
    panel: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    period: str,
    group: str,
    covariates: Sequence[str] = (),
    method: Method = "dr",
    comparison: Comparison = "never_treated",
    cluster: str | None = None,
    level: float = 0.95,
    min_cell: int = 5,
    few_clusters_below: int = 0,
    missing: Missing = "drop",
) -> GroupTimeResult:
    """Callaway & Sant'Anna group-time ATTs with outcome-regression, IPW or doubly-robust cells.

    Parameters
    ----------
    panel
        Long panel: one row per unit and period (missing periods are allowed; each cell uses the
        units observed at both of its periods).
    outcome, unit, period
        Column names; periods are integers 1, 2, ...
    group
        First treated period of each unit (constant within unit); 0 for never treated.
    covariates
        Baseline covariates (numeric, constant within unit).
    method
        ``"reg"``, ``"ipw"`` or ``"dr"``.
    comparison
        ``"never_treated"`` or ``"not_yet_treated"``.
    cluster
        Column for cluster-robust standard errors (constant within unit), e.g. the unit or peer
        group. A unit without a cluster id (a comparison leader in no peer group) is its own
        cluster: clusters are the units whose errors may be correlated, and a leader who shares
        no group is independent of the others (counted in ``notes``).
    level
        Confidence level.
    min_cell
        Cells with fewer treated or comparison units are skipped (noted).
    few_clusters_below
        When fewer treated clusters than this carry the estimate, the aggregated estimates use the
        small-sample correction of cluster-robust inference: variance times ``G/(G-1)`` and
        t quantiles with ``G - 1`` degrees of freedom, ``G`` the number of treated clusters
        (as CR1 with G-1 df does); 0 never applies it.
    missing
        Units with a missing covariate: ``"drop"`` leaves them out of every cell (a complete-case
        adjusted analysis; how many, treated and comparison, and which covariates are missing are
        counted in ``notes`` and ``n_dropped``), ``"raise"`` raises a
        :class:`~coacheval.errors.DataValidationError` listing them.

    Returns
    -------
    GroupTimeResult

    Raises
    ------
    ConfigError
        Unknown method or comparison, or missing columns.
    DataValidationError
        No treated group, or no comparison units; missing covariates with ``missing="raise"``.

    Examples
    --------
    >>> rows = []
    >>> for u in range(40):
    ...     g = 2 if u < 20 else 0
    ...     for t in (1, 2):
    ...         rows.append({"id": u, "t": t, "g": g, "y": u % 5 + t + (1.0 if (g and t >= g) else 0)})
    >>> res = group_time_att(pd.DataFrame(rows), outcome="y", unit="id", period="t", group="g")
    >>> round(float(res.overall()["estimate"]), 6)
    1.0
    """
    if method not in ("reg", "ipw", "dr"):
        raise ConfigError(f"method must be 'reg', 'ipw' or 'dr' (got {method!r})")
    if comparison not in ("never_treated", "not_yet_treated"):
        raise ConfigError(
            f"comparison must be 'never_treated' or 'not_yet_treated' (got {comparison!r})"
        )
    if missing not in ("drop", "raise"):
        raise ConfigError(f"missing must be 'drop' or 'raise' (got {missing!r})")
    needed = [outcome, unit, period, group, *covariates, *([cluster] if cluster else [])]
    no_column = [c for c in needed if c not in panel]
    if no_column:
        raise ConfigError(f"group_time_att: no column(s) {', '.join(no_column)}")
    data = panel[needed].dropna(subset=[outcome])
    units = data.drop_duplicates(unit).set_index(unit)
    notes = []
    n_dropped = 0
    if covariates:
        absent = units[list(covariates)].isna()
        incomplete = absent.any(axis=1).to_numpy()
        if incomplete.any():
            counts = {c: int(v) for c, v in absent.sum().items() if v}
            n_dropped = int(incomplete.sum())
            dropped_treated = int((units[group].to_numpy()[incomplete] > 0).sum())
            if missing == "raise":
                raise DataValidationError(
                    f"covariates have missing values for {n_dropped} unit(s) (missing per "
                    f"column: {counts}); impute or drop those units first, or use missing='drop'",
                    failure_cases=units[incomplete],
                )
            kept_rows = ~data[unit].isin(units.index[incomplete]).to_numpy()
            notes.append(
                f"{n_dropped} of {len(units)} units ({dropped_treated} treated, "
                f"{n_dropped - dropped_treated} comparison; {int((~kept_rows).sum())} of "
                f"{len(data)} rows with an outcome) dropped from the adjusted analysis because a "
                f"covariate is missing (missing per column: {counts}); "
                f"{len(units) - n_dropped} units used."
            )
            data = data[kept_rows]
            units = units[~incomplete]
    wide = data.pivot_table(index=unit, columns=period, values=outcome, aggfunc="first")
    periods = sorted(int(p) for p in wide.columns)
    groups = sorted(int(g) for g in units[group].unique() if g > 0)
    if not groups:
        raise DataValidationError("no treated group: every unit has group 0 (never treated)")
    all_units = units.index.to_numpy()
    unit_groups = units[group].to_numpy()
    cluster_codes = pd.factorize(units[cluster])[0] if cluster else np.arange(len(all_units))
    alone = cluster_codes < 0  # no cluster id: a cluster of one
    if alone.any():
        cluster_codes[alone] = cluster_codes.max() + 1 + np.arange(int(alone.sum()))
        n_alone_treated = int((unit_groups[alone] > 0).sum())
        notes.append(
            f"{int(alone.sum())} units without a {cluster} ({n_alone_treated} treated, "
            f"{int(alone.sum()) - n_alone_treated} comparison) are each their own cluster."
        )
    n_clusters = int(cluster_codes.max() + 1)
    n_units = len(all_units)
    cells: list[CellEstimate] = []
    cell_positions: list[np.ndarray] = []  # each cell's units as positions in all_units
    for g in groups:
        for t in periods[1:]:
            base = g - 1 if t >= g else t - 1
            if base not in wide.columns or t not in wide.columns:
                continue
            g_units = units[group]
            if comparison == "never_treated":
                comp = g_units == 0
            else:
                comp = (g_units == 0) | (g_units > max(t, base))
            member = (g_units == g) | comp
            pair = wide.loc[member.index[member], [base, t]].dropna()
            if pair.empty:
                continue
            d = (units.loc[pair.index, group] == g).to_numpy(dtype=float)
            n1, n0 = int(d.sum()), int((1 - d).sum())
            if n1 < min_cell or n0 < min_cell:
                notes.append(
                    f"cell g={g}, t={t} skipped: {n1} treated and {n0} comparison units observed"
                )
                continue
            x = np.ones((len(pair), 1))
            if covariates:
                x = _full_rank(
                    np.column_stack(
                        [x, units.loc[pair.index, list(covariates)].to_numpy(dtype=float)]
                    ),
                    among=d == 0,
                )
            dy = (pair[t] - pair[base]).to_numpy(dtype=float)
            try:
                att, inf = _cell(dy, d, x, method)
            except DataValidationError as exc:
                notes.append(f"cell g={g}, t={t} skipped: {exc}")
                continue
            cells.append(CellEstimate(g, t, base, att, pair.index.to_numpy(), inf, n1, n0))
            cell_positions.append(units.index.get_indexer(pair.index))
    if not cells:
        raise DataValidationError("no group-time cell has enough treated and comparison units")

    rows = []
    cell_psi = []
    for cell, where in zip(cells, cell_positions, strict=True):
        n_cell = len(cell.units)
        psi = np.bincount(cluster_codes[where], weights=cell.influence, minlength=n_clusters)
        psi *= n_units / n_cell  # rescaled to all units
        cell_psi.append(psi)
        summary = _summaries(cell.estimate, psi, n_units, level)
        rows.append(
            {
                "group": cell.group,
                "period": cell.period,
                "base": cell.base,
                "event_time": cell.period - cell.group,
                "post": cell.period >= cell.group,
                "term": f"ATT(g={cell.group}, t={cell.period})",
                **summary,
                "n": n_cell,
                "n_treated": cell.n_treated,
                "n_comparison": cell.n_comparison,
                "n_clusters": n_clusters,
            }
        )
    table = pd.DataFrame(rows)
    group_size = units[group].value_counts()
    psi = np.vstack(cell_psi)
    aggs = []
    treated_clusters = len(np.unique(cluster_codes[unit_groups > 0]))
    small_sample = 1 < treated_clusters < few_clusters_below

    def weight_influence(cell_groups: np.ndarray, estimates: np.ndarray) -> np.ndarray:
        # Influence of estimating the group shares P(G = g) that weight the cells (the did
        # package's "wif"): w_k = p_k / sum(p), with IF(p_k) = 1{G = g_k} - p_k per unit.
        shares = np.array([group_size[g] for g in cell_groups], dtype=float) / n_units
        if_shares = (unit_groups[:, None] == cell_groups[None, :]) - shares[None, :]
        total = shares.sum()
        wif = if_shares / total - np.outer(if_shares.sum(axis=1), shares) / total**2
        return np.bincount(cluster_codes, weights=wif @ estimates, minlength=n_clusters)

    def aggregate(mask: np.ndarray, label: str, term: str, **extra: object) -> None:
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        people = np.unique(np.concatenate([cell_positions[i] for i in idx]))  # positions
        weights = np.array([group_size[table.group.iloc[i]] for i in idx], dtype=float)
        weights /= weights.sum()
        estimate = float(weights @ table.estimate.to_numpy()[idx])
        aggs.append(
            {
                "aggregation": label,
                "term": term,
                **extra,
                **_summaries(
                    estimate,
                    weights @ psi[idx]
                    + weight_influence(table.group.to_numpy()[idx], table.estimate.to_numpy()[idx]),
                    n_units,
                    level,
                    few_clusters=treated_clusters if small_sample else None,
                ),
                "n": len(people),
                "n_treated": int((unit_groups[people] > 0).sum()),
                "n_clusters": len(np.unique(cluster_codes[people])),
            }
        )

    post = table.post.to_numpy()
    aggregate(post, "overall", "ATT (overall)", event_time=np.nan, group=np.nan)
    for e in sorted(table.event_time.unique()):
        aggregate(
            table.event_time.to_numpy() == e,
            "event_time",
            f"ATT(e={e})",
            event_time=int(e),
            group=np.nan,
        )
    for g in groups:
        aggregate(
            post & (table.group.to_numpy() == g), "group", f"ATT(g={g})", event_time=np.nan, group=g
        )
    notes.append(
        "Aggregation weights (group shares) are estimated; their estimation is included in the "
        "standard errors, as in the did package."
    )
    if small_sample:
        notes.append(
            f"Only {treated_clusters} treated clusters: aggregated variances scaled by G/(G-1) and "
            f"intervals and p-values from t with {treated_clusters - 1} degrees of freedom."
        )
    notes.append(
        f"Comparison group: {comparison.replace('_', ' ')}; estimator: {method}; "
        f"standard errors {'clustered by ' + cluster if cluster else 'per unit'}."
    )
    return GroupTimeResult(
        table,
        pd.DataFrame(aggs),
        method,
        comparison,
        n_units,
        n_clusters,
        notes=tuple(notes),
        n_dropped=n_dropped,
    )
