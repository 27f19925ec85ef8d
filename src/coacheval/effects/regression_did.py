"""Regression-based difference-in-differences: two-way fixed effects and a mixed model.

Two-way fixed effects (TWFE) regresses the outcome on ``treated x post`` with unit and period
fixed effects. With staggered adoption its coefficient is a weighted average of comparisons that
can use already-treated cohorts as controls, with weights that can even be negative (Goodman-Bacon
2021), so it is offered only as a secondary analysis and warns when adoption is staggered; the
group-time estimator of :mod:`coacheval.effects.did` is the one to report.

The fixed effects are absorbed by alternating projections (demeaning by unit and by period until
the change is below 1e-10), then the coefficient gets a cluster-robust (CR1) variance, or, when
clusters are fewer than ``wild_below`` clusters, a restricted wild cluster bootstrap (WCR11,
Webb weights) p-value and test-inversion interval.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from coacheval.errors import CoachevalError, CoachevalWarning, DataValidationError
from coacheval.results import TableResult

__all__ = ["StaggeredTWFEWarning", "TWFEResult", "dose_response", "mixed_did", "twfe"]


class StaggeredTWFEWarning(CoachevalWarning):
    """Two-way fixed effects under staggered adoption: the coefficient may be a biased average.

    Examples
    --------
    :func:`twfe` warns when treated cohorts start in different periods (here periods 2 and 3):

    >>> import warnings
    >>> rows = [
    ...     {"u": u, "t": t, "g": 2 if u < 10 else 3 if u < 20 else 0, "y": u + t + u * t % 3}
    ...     for u in range(30)
    ...     for t in (1, 2, 3)
    ... ]
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     result = twfe(pd.DataFrame(rows), outcome="y", unit="u", period="t", group="g",
    ...                   cluster="u", wild_below=0)
    >>> caught[0].category.__name__, result.staggered
    ('StaggeredTWFEWarning', True)
    """


def demean_two_way(
    values: np.ndarray,
    unit: np.ndarray,
    period: np.ndarray,
    *,
    tol: float = 1e-10,
    max_iter: int = 10_000,
) -> np.ndarray:
    """Remove unit and period means from each column by alternating projections.

    Examples
    --------
    >>> y = np.array([[1.0], [2.0], [3.0], [5.0]])
    >>> unit, period = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    >>> np.round(demean_two_way(y, unit, period).ravel(), 6).tolist()
    [0.25, -0.25, -0.25, 0.25]
    """
    out = np.array(values, dtype=float, copy=True)
    u_codes = pd.factorize(unit)[0]
    p_codes = pd.factorize(period)[0]
    u_counts = np.bincount(u_codes)
    p_counts = np.bincount(p_codes)
    for _ in range(max_iter):
        before = out.copy()
        for codes, counts in ((u_codes, u_counts), (p_codes, p_counts)):
            sums = np.zeros((len(counts), out.shape[1]))
            np.add.at(sums, codes, out)
            out -= (sums / counts[:, None])[codes]
        if np.max(np.abs(out - before)) < tol:
            return out
    raise DataValidationError(
        "two-way demeaning did not converge (disconnected unit and period groups?)"
    )


class TWFEResult(TableResult):
    """The TWFE coefficient of ``treated x post`` with its inference.

    Attributes
    ----------
    table
        One row, ``treated x post``, in the estimate-table vocabulary.
    staggered
        Whether treated cohorts start in different periods (a
        :class:`StaggeredTWFEWarning` was issued).
    inference
        How the standard error, p-value and interval were computed.

    Examples
    --------
    :func:`twfe` returns one; here for sixty leaders surveyed twice, half of them in the program
    from the second wave (true effect 0.5):

    >>> rng = np.random.default_rng(1)
    >>> panel = pd.DataFrame({"u": np.repeat(np.arange(60), 2), "t": np.tile([1, 2], 60)})
    >>> panel["g"] = np.where(panel.u < 30, 2, 0)
    >>> post = (panel.g > 0) & (panel.t >= panel.g)
    >>> panel["y"] = panel.u % 7 + panel.t + 0.5 * post + rng.normal(0, 0.5, 120)
    >>> result = twfe(panel, outcome="y", unit="u", period="t", group="g", cluster="u",
    ...               wild_below=0)
    >>> result.table[["term", "estimate", "std_error", "n", "n_clusters"]].round(3)
                 term  estimate  std_error    n  n_clusters
    0  treated x post      0.37      0.144  120          60
    >>> result.staggered, result.inference.split(" (")[0]
    (False, 'CR1')
    """

    def __init__(
        self, table: pd.DataFrame, staggered: bool, inference: str, notes: tuple[str, ...]
    ) -> None:
        self.table = table
        self.staggered = staggered
        self.inference = inference
        self.notes = notes
        self.title = "Two-way fixed effects (secondary)"


def twfe(
    panel: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    period: str,
    group: str,
    cluster: str,
    covariates: Sequence[str] = (),
    wild_below: int = 30,
    draws: int = 9999,
    seed: int = 0,
    level: float = 0.95,
) -> TWFEResult:
    """Two-way fixed effects DiD of ``1{group > 0 and period >= group}``.

    Parameters
    ----------
    panel
        Long panel, one row per unit and period.
    outcome, unit, period, group
        Column names; ``group`` is the first treated period (0 = never).
    cluster
        Cluster column for inference.
    covariates
        Time-varying covariates (time-constant ones are absorbed by the unit effects).
    wild_below
        Use the wild cluster bootstrap when there are fewer clusters than this.
    draws, seed
        Bootstrap draws and seed.
    level
        Confidence level.

    Returns
    -------
    TWFEResult

    Warns
    -----
    StaggeredTWFEWarning
        Treated cohorts start in different periods.

    Examples
    --------
    >>> rows = [{"u": u, "t": t, "g": 2 if u < 10 else 0, "c": u % 5,
    ...          "y": u + t + (1.0 if (u < 10 and t >= 2) else 0.0)} for u in range(20) for t in (1, 2)]
    >>> round(float(twfe(pd.DataFrame(rows), outcome="y", unit="u", period="t", group="g",
    ...                  cluster="c", wild_below=0).table.estimate.iloc[0]), 6)
    1.0
    """
    from coacheval.effects.inference import fit_ols, wild_cluster_bootstrap

    data = panel.dropna(subset=[outcome, *covariates])
    treated = ((data[group] > 0) & (data[period] >= data[group])).astype(float).to_numpy()
    cohorts = sorted(g for g in data[group].unique() if g > 0)
    staggered = len(cohorts) > 1
    notes = []
    if staggered:
        message = (
            "two-way fixed effects with staggered cohorts can compare later cohorts with already "
            "treated ones; report the group-time estimate instead (Goodman-Bacon 2021)"
        )
        warnings.warn(message, StaggeredTWFEWarning, stacklevel=2)
        notes.append(message)
    columns = np.column_stack(
        [
            data[outcome].to_numpy(dtype=float),
            treated,
            *(data[c].to_numpy(dtype=float) for c in covariates),
        ]
    )
    demeaned = demean_two_way(columns, data[unit].to_numpy(), data[period].to_numpy())
    y, x = demeaned[:, 0], demeaned[:, 1:]
    names = ["treated x post", *covariates]
    clusters = data[cluster].to_numpy()
    n_clusters = len(pd.unique(clusters))
    fit = fit_ols(y, x, cluster=clusters, vcov="CR1", names=names, level=level)
    row = fit.table.iloc[[0]].copy()
    inference = "CR1 (clusters nest the units, so the absorbed unit effects need no df correction)"
    if n_clusters < wild_below:
        boot = wild_cluster_bootstrap(
            y, x, clusters, term=0, weights="webb", draws=draws, seed=seed, names=names, level=level
        )
        row["p_value"] = boot.p_value
        row["conf_low"], row["conf_high"] = boot.conf_low, boot.conf_high
        inference = (
            f"wild cluster bootstrap (WCR, Webb weights, {draws} draws) with {n_clusters} clusters"
        )
    row["n"] = len(data)
    row["n_clusters"] = n_clusters
    notes.append(f"Inference: {inference}.")
    return TWFEResult(row.reset_index(drop=True), staggered, inference, tuple(notes))


def mixed_did(
    panel: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    period: str,
    group: str,
    covariates: Sequence[str] = (),
    second_level: str | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Linear mixed model for repeated waves: the ``treated x post`` contrast with random intercepts.

    ``outcome ~ treated_post + period dummies + covariates + (1 | unit) [+ (1 | second_level)]``
    fitted by REML with Satterthwaite degrees of freedom (see :func:`coacheval.effects.mixed.fit_mixed`).
    Like TWFE, under staggered adoption the contrast is an average over cohorts and periods.

    Returns
    -------
    DataFrame
        One row: the ``treated x post`` coefficient in the estimate-table vocabulary.

    Examples
    --------
    Sixty leaders surveyed twice, half of them in the program from the second wave (true
    effect 0.5):

    >>> rng = np.random.default_rng(1)
    >>> panel = pd.DataFrame({"u": np.repeat(np.arange(60), 2), "t": np.tile([1, 2], 60)})
    >>> panel["g"] = np.where(panel.u < 30, 2, 0)
    >>> post = (panel.g > 0) & (panel.t >= panel.g)
    >>> panel["y"] = panel.u % 7 + panel.t + 0.5 * post + rng.normal(0, 0.5, 120)
    >>> row = mixed_did(panel, outcome="y", unit="u", period="t", group="g")
    >>> row[["term", "estimate", "std_error", "n_clusters"]].round(3)
                 term  estimate  std_error  n_clusters
    0  treated x post     0.367      0.144          60
    """
    from coacheval.effects.mixed import fit_mixed

    data = panel.dropna(subset=[outcome, *covariates]).copy()
    data["treated_post"] = ((data[group] > 0) & (data[period] >= data[group])).astype(float)
    periods = sorted(data[period].unique())
    dummies = []
    for p in periods[1:]:
        name = f"period_{p}"
        data[name] = (data[period] == p).astype(float)
        dummies.append(name)
    fixed = ["treated_post", *dummies, *[c for c in covariates if data[c].nunique() > 1]]
    groups = [unit] if second_level is None else [second_level, unit]
    result = fit_mixed(data, outcome=outcome, fixed=fixed, groups=groups, alpha=1 - level)
    row = result.table[result.table.term == "treated_post"].copy()
    row["term"] = "treated x post"
    row["n_clusters"] = data[unit].nunique()
    return row.reset_index(drop=True)


def dose_response(
    panel: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    period: str,
    group: str,
    dose: str,
    covariates: Sequence[str] = (),
    cluster: str | None = None,
    bands: int = 2,
    level: float = 0.95,
    min_cell: int = 5,
) -> pd.DataFrame:
    """Overall ATT by attendance band: participants split at dose quantiles, each against the comparison.

    Returns
    -------
    DataFrame
        One row per band: ``term`` (``dose band 1 (0.08-0.58)`` ...), the overall ATT of that band
        and its inference, from :func:`coacheval.effects.did.group_time_att` (doubly robust), and
        ``note``: empty, or why that band is not estimable (its estimate and inference are then
        missing), for example too few treated units in every post-treatment cell.

    Raises
    ------
    DataValidationError
        No treated unit has a dose, or no band is estimable (the message gives each band's
        reason).

    Examples
    --------
    The effect grows with attendance (twice the share of sessions attended):

    >>> rng = np.random.default_rng(1)
    >>> panel = pd.DataFrame({"u": np.repeat(np.arange(60), 2), "t": np.tile([1, 2], 60)})
    >>> panel["g"] = np.where(panel.u < 30, 2, 0)
    >>> panel["dose"] = np.where(panel.u < 30, 0.2 + panel.u / 50, 0.0)
    >>> post = (panel.g > 0) & (panel.t >= panel.g)
    >>> panel["y"] = panel.u % 7 + panel.t + 2 * panel.dose * post + rng.normal(0, 0.5, 120)
    >>> bands = dose_response(panel, outcome="y", unit="u", period="t", group="g", dose="dose")
    >>> bands[["term", "estimate", "std_error", "n"]].round(2)
                          term  estimate  std_error   n
    0  dose band 1 (0.20-0.49)      0.69       0.15  15
    1  dose band 2 (0.49-0.78)      1.01       0.20  15
    """
    from coacheval.effects.did import group_time_att

    people = panel.drop_duplicates(unit).set_index(unit)
    treated_dose = people.loc[people[group] > 0, dose].dropna()
    if treated_dose.empty:
        raise DataValidationError(
            f"dose response: no treated unit with a {dose!r} value, so there are no dose bands"
        )
    edges = np.unique(np.quantile(treated_dose, np.linspace(0, 1, bands + 1)))
    band_of = pd.Series(
        np.clip(np.searchsorted(edges, treated_dose, side="right") - 1, 0, len(edges) - 2),
        index=treated_dose.index,
    )
    if len(edges) < 2:  # every treated unit has the same dose: one band
        edges = np.array([edges[0], edges[0]])
    rows = []
    for b in range(len(edges) - 1):
        keep = people.index[(people[group] == 0)].union(band_of.index[band_of == b])
        sub = panel[panel[unit].isin(keep)]
        term = f"dose band {b + 1} ({edges[b]:.2f}-{edges[b + 1]:.2f})"
        n_band = int((band_of == b).sum())
        try:
            overall = group_time_att(
                sub,
                outcome=outcome,
                unit=unit,
                period=period,
                group=group,
                covariates=covariates,
                cluster=cluster,
                level=level,
                min_cell=min_cell,
            ).overall()
        except CoachevalError as exc:  # this band cannot be estimated: say why, keep the others
            rows.append(
                {
                    "term": term,
                    **dict.fromkeys(
                        ("estimate", "std_error", "conf_low", "conf_high", "p_value"), np.nan
                    ),
                    "n": n_band,
                    "n_clusters": np.nan,
                    "note": f"{term}: not estimable ({exc})",
                }
            )
            continue
        rows.append(
            {
                "term": term,
                "estimate": overall.estimate,
                "std_error": overall.std_error,
                "conf_low": overall.conf_low,
                "conf_high": overall.conf_high,
                "p_value": overall.p_value,
                "n": n_band,
                "n_clusters": overall.n_clusters,
                "note": "",
            }
        )
    table = pd.DataFrame(rows)
    if table.estimate.isna().all():
        raise DataValidationError(
            "no attendance band is estimable: " + "; ".join(table.note.tolist())
        )
    return table
