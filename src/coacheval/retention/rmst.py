"""Restricted mean survival time (RMST): the area under the Kaplan–Meier curve up to ``tau``.

For retention, the RMST to ``tau`` is the mean time retained within the first ``tau`` (e.g.
months retained in the first two years); the difference between groups is "months of
retention gained". The standard error is the Greenwood-type plug-in of ``survival``'s
``print(survfit(...), rmean = tau)`` (``se(rmean)``) and of ``survRM2::rmst2``, or with
weights and clusters the robust infinitesimal jackknife. It is not lifelines' variance of
``min(T, tau)``, which ignores that the curve is estimated (see ANCHORS.md, lifelines #1682).

Examples
--------
>>> import pandas as pd
>>> from coacheval.retention.rmst import rmst
>>> df = pd.DataFrame({"months": [3, 5, 5, 8, 12, 12, 15], "left": [1, 1, 0, 1, 0, 1, 0]})
>>> res = rmst(df, tau=12, stop_col="months", event_col="left")
>>> # In R: print(survfit(Surv(months, left) ~ 1, data = df), rmean = 12)  # 9, se 1.360897
>>> res.table[["group", "estimate", "std_error"]].round(4)
  group  estimate  std_error
0   all       9.0     1.3609
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from coacheval._columns import ESTIMATE_COLUMNS
from coacheval.errors import ConfigError
from coacheval.results import TableResult
from coacheval.retention._inputs import check_alpha
from coacheval.retention.km import _Curve, _km_curve, _prepare

__all__ = ["RMSTResult", "rmst"]


@dataclass(frozen=True, eq=False)
class RMSTResult(TableResult):
    """Restricted mean survival time per group and the contrasts between groups.

    Attributes
    ----------
    table
        One row per group: ``group``, ``tau``, ``estimate`` (RMST), ``std_error``,
        ``conf_low``, ``conf_high`` (normal limits), ``n`` (rows), ``n_events``.
    contrasts
        Rows ``"difference: g - ref"`` and ``"ratio: g / ref"`` for each group ``g`` against the
        first group ``ref``, in the columns of :data:`coacheval._columns.ESTIMATE_COLUMNS`. The
        ratio's estimate and limits are on the ratio scale; its statistic and p-value are for
        the log ratio. Empty with a single group.
    tau, alpha
        Truncation time and 1 minus the confidence level.
    robust
        Standard errors are the infinitesimal jackknife summed within clusters.
    curves
        The Kaplan–Meier steps (``group``, ``time``, ``survival``) used by :meth:`plot`.

    Examples
    --------
    Returned by :func:`rmst`. On ``survival::aml`` (weeks to relapse of acute myelogenous
    leukaemia, with and without maintenance chemotherapy), up to 40 weeks:

    >>> import pandas as pd
    >>> from coacheval.retention.rmst import rmst
    >>> aml = pd.DataFrame({
    ...     "weeks": [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161,
    ...               5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45],
    ...     "relapse": [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1],
    ...     "arm": ["Maintained"] * 11 + ["Nonmaintained"] * 12,
    ... })
    >>> res = rmst(aml, tau=40, stop_col="weeks", event_col="relapse", group_col="arm")
    >>> # In R: print(survfit(Surv(weeks, relapse) ~ arm, data = aml), rmean = 40)
    >>> # rmean 28.89773 (se 3.467578) and 21.93056 (se 3.835641)
    >>> res.tau, res.robust
    (40.0, False)
    >>> res.table[["group", "estimate", "std_error", "conf_low", "conf_high"]].round(3)
               group  estimate  std_error  conf_low  conf_high
    0     Maintained    28.898      3.468    22.101     35.694
    1  Nonmaintained    21.931      3.836    14.413     29.448
    >>> res.contrasts[["term", "estimate", "p_value"]].round(3)
                                         term  estimate  p_value
    0  difference: Nonmaintained - Maintained    -6.967    0.178
    1       ratio: Nonmaintained / Maintained     0.759    0.193
    """

    table: pd.DataFrame
    contrasts: pd.DataFrame
    tau: float
    alpha: float
    robust: bool
    curves: pd.DataFrame = field(repr=False)
    title: str = "Restricted mean survival time"
    notes: tuple[str, ...] = field(default=())

    def plot(self, *, xlabel: str = "Time", ylabel: str = "Survival probability") -> Figure:
        """Kaplan–Meier curves with the area up to ``tau`` (the RMST) shaded.

        Parameters
        ----------
        xlabel, ylabel
            Axis labels.

        Returns
        -------
        matplotlib.figure.Figure
            The figure (not shown).

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"t": [2, 4, 4, 6, 9, 3], "e": [1, 1, 0, 1, 0, 1]})
        >>> fig = rmst(df, tau=6, stop_col="t", event_col="e").plot()
        >>> fig.axes[0].get_xlabel()
        'Time'
        """
        fig = Figure(figsize=(6.5, 4.2), layout="constrained")
        ax = fig.add_subplot(1, 1, 1)
        for i, (g, sub) in enumerate(self.curves.groupby("group", sort=False)):
            t = np.r_[0.0, sub["time"].to_numpy()]
            s = np.r_[1.0, sub["survival"].to_numpy()]
            row = self.table[self.table["group"] == g].iloc[0]
            ax.step(t, s, where="post", color=f"C{i}", lw=1.6, label=f"{g}: {row['estimate']:.3g}")
            inside = t <= self.tau
            tt = np.r_[t[inside], self.tau]
            ss = np.r_[s[inside], s[inside][-1]]
            ax.fill_between(tt, 0, ss, step="post", color=f"C{i}", alpha=0.12, lw=0)
        ax.axvline(self.tau, color="0.4", lw=0.8, ls="--")
        ax.set_ylim(0, 1.02)
        ax.set_xlim(left=0)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(f"RMST to tau = {self.tau:g}", loc="left", fontsize=10)
        ax.legend(frameon=False, loc="lower left", title="RMST")
        ax.spines[["top", "right"]].set_visible(False)
        return fig


def _rmst_one(
    curve: _Curve,
    rows: dict[str, np.ndarray] | None,
    event: np.ndarray,
    w: np.ndarray,
    cluster: np.ndarray | None,
    tau: float,
    origin: float,
) -> tuple[float, float]:
    """RMST and its standard error for one curve (survival:::survmean, or the jackknife)."""
    keep = curve.time <= tau
    temptime = np.r_[curve.time[keep], tau]
    last = curve.surv[keep][-1] if keep.any() else 1.0
    tempsurv = np.r_[curve.surv[keep], last]
    delta = np.diff(np.r_[origin, temptime])
    rectangles = delta * np.r_[1.0, tempsurv[:-1]]
    mean = float(rectangles.sum() + origin)
    if cluster is None or rows is None:
        # area beyond each kept time, times Greenwood's increment
        beyond = np.cumsum(rectangles[1:][::-1])[::-1]
        return mean, float(np.sqrt(np.sum(beyond**2 * curve.hh[keep])))
    assert curve.jump_coef is not None and curve.haz_coef is not None
    # influence of the area: -w_i sum_k u_k A_i(k), u_k = S_k (width of step k inside tau)
    nk = curve.time.size
    u = np.zeros(nk)
    u[keep] = rectangles[1:]
    big_h = curve.haz_coef
    cu = np.r_[0.0, np.cumsum(u)]
    cv = np.r_[0.0, np.cumsum(u * big_h)]
    ke, ks = rows["k_enter"], rows["pos"]
    h_start, h_stop = rows["h_start"], rows["h_stop"]
    inside = -(cv[ks] - cv[ke]) + h_start * (cu[ks] - cu[ke])
    after = (event * curve.jump_coef[ks] - h_stop + h_start) * (cu[-1] - cu[ks])
    infl = -w * (inside + after)
    per_cluster = np.bincount(pd.factorize(cluster)[0], weights=infl)
    return mean, float(np.sqrt(np.sum(per_cluster**2)))


def rmst(
    data: pd.DataFrame,
    *,
    tau: float,
    stop_col: str,
    event_col: str,
    start_col: str | None = None,
    group_col: str | None = None,
    weights_col: str | None = None,
    cluster_col: str | None = None,
    alpha: float = 0.05,
) -> RMSTResult:
    r"""Restricted mean survival time to ``tau`` per group, with differences and ratios.

    Parameters
    ----------
    data
        One row per person or counting-process rows ``(start, stop]``.
    tau
        Truncation time, > 0 and not beyond the last follow-up time (largest stop) of any
        group.
    stop_col, event_col, start_col, group_col
        As :func:`coacheval.retention.km.kaplan_meier`.
    weights_col
        Non-negative case weights (weighted Kaplan–Meier). Without ``cluster_col`` the
        standard error is the Greenwood-type plug-in on weighted counts (frequency weights).
    cluster_col
        Person (or unit) identifier: infinitesimal-jackknife standard errors summed within
        clusters, the variance to use with estimated (propensity) weights.
    alpha
        1 minus the confidence level.

    Returns
    -------
    RMSTResult
        Per-group RMST (``table``) and contrasts against the first group (``contrasts``).

    Raises
    ------
    ConfigError
        A named column is absent, ``alpha`` is not in (0, 1), or ``tau`` is not a positive
        number or lies beyond the last follow-up time of a group.
    DataValidationError
        Bad data values (as :func:`~coacheval.retention.km.kaplan_meier`).

    Notes
    -----
    :math:`\hat\mu(\tau) = \int_0^\tau \hat S(t)\,dt`, a sum of rectangles under the step
    curve. Its variance (``survival:::survmean``, survRM2) is

    .. math::

        \widehat{\mathrm{var}}\,\hat\mu(\tau) = \sum_{t_j \le \tau}
        \Big(\int_{t_j}^{\tau} \hat S(u)\,du\Big)^2 \frac{d_j}{n_j (n_j - d_j)}.

    With ``cluster_col`` it is :math:`\sum_c (\sum_{i \in c} w_i\, \partial \hat\mu /
    \partial w_i)^2`, the integral of the jackknife influence of :math:`\hat S` (R:
    ``survfit(..., id =, robust = TRUE, influence = TRUE)`` and the area under
    ``influence.surv``). Groups are independent: the difference has standard error
    :math:`\sqrt{se_1^2 + se_0^2}` and the log ratio :math:`\sqrt{se_1^2/\mu_1^2 +
    se_0^2/\mu_0^2}` (survRM2). A person in two groups (Simon–Makuch) breaks that
    independence, and a note says so.

    References
    ----------
    Royston, P. and Parmar, M. K. B. (2013). Restricted mean survival time: an alternative to
    the hazard ratio for the design and analysis of randomized trials with a time-to-event
    outcome. *BMC Medical Research Methodology* 13, 152.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"t": [2, 4, 4, 6, 9, 3, 5, 7, 8, 10],
    ...                    "e": [1, 1, 0, 1, 0, 1, 1, 0, 1, 0],
    ...                    "coached": [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]})
    >>> res = rmst(df, tau=8, stop_col="t", event_col="e", group_col="coached")
    >>> # In R: print(survfit(Surv(t, e) ~ coached, data = df), rmean = 8)
    >>> # rmean 5.4 (se 1.0139033) and 6.4 (se 0.9208692)
    >>> res.table[["group", "estimate", "std_error"]].round(4)
       group  estimate  std_error
    0      0       5.4     1.0139
    1      1       6.4     0.9209
    >>> res.contrasts[["term", "estimate"]].round(4)  # doctest: +NORMALIZE_WHITESPACE
                   term  estimate
    0  difference: 1 - 0    1.0000
    1       ratio: 1 / 0    1.1852
    """
    check_alpha(alpha)
    if isinstance(tau, bool) or not isinstance(tau, int | float | np.integer | np.floating):
        raise ConfigError(f"tau must be a number, got {tau!r}", source="tau")
    tau = float(tau)
    if not np.isfinite(tau) or tau <= 0:
        raise ConfigError(f"tau must be a positive finite number, got {tau!r}", source="tau")
    sd = _prepare(
        data,
        stop_col=stop_col,
        event_col=event_col,
        start_col=start_col,
        group_col=group_col,
        weights_col=weights_col,
        cluster_col=cluster_col,
    )
    present = [c for c in range(len(sd.labels)) if (sd.group == c).any()]
    last = {sd.labels[c]: float(sd.stop[sd.group == c].max()) for c in present}
    beyond = {g: t for g, t in last.items() if tau > t}
    if beyond:
        raise ConfigError(
            f"tau = {tau:g} is beyond the last follow-up time of group(s) "
            + ", ".join(f"{g!r} (last time {t:g})" for g, t in beyond.items())
            + f"; choose tau <= {min(last.values()):g}",
            source="tau",
        )
    origin = min(0.0, float(sd.stop.min()))
    z = stats.norm.ppf(1 - alpha / 2)
    rows_out, curves = [], []
    for c in present:
        rows = sd.group == c
        cl = None if sd.cluster is None else sd.cluster[rows]
        curve, pieces = _km_curve(
            sd.start[rows], sd.stop[rows], sd.event[rows], sd.weight[rows], cl
        )
        est, se = _rmst_one(curve, pieces, sd.event[rows], sd.weight[rows], cl, tau, origin)
        rows_out.append(
            {
                "group": sd.labels[c],
                "tau": tau,
                "estimate": est,
                "std_error": se,
                "conf_low": est - z * se,
                "conf_high": est + z * se,
                "n": int(rows.sum()),
                "n_events": float(curve.n_event.sum()),
            }
        )
        curves.append(
            pd.DataFrame({"group": sd.labels[c], "time": curve.time, "survival": curve.surv})
        )
    table = pd.DataFrame(rows_out)
    contrasts = _contrasts(table, z)
    notes = [
        f"RMST to tau = {tau:g}; {100 * (1 - alpha):g}% normal confidence limits.",
        "Standard errors: "
        + (
            "robust infinitesimal jackknife summed within clusters."
            if sd.cluster is not None
            else "Greenwood-type plug-in (survival's se(rmean), survRM2)"
            + (" on weighted counts." if sd.weighted else ".")
        ),
    ]
    if len(present) > 1:
        notes.append(f"Contrasts against group {table['group'].iloc[0]!r}; groups independent.")
        if sd.counting and sd.cluster is not None:
            shared = pd.Series(sd.group).groupby(sd.cluster).nunique().gt(1).any()
            if shared:
                notes.append(
                    "Some clusters have rows in more than one group: the contrasts' standard "
                    "errors ignore that covariance."
                )
    return RMSTResult(
        table=table,
        contrasts=contrasts,
        tau=tau,
        alpha=alpha,
        robust=sd.cluster is not None,
        curves=pd.concat(curves, ignore_index=True),
        notes=tuple(notes),
    )


def _contrasts(table: pd.DataFrame, z: float) -> pd.DataFrame:
    records = table.to_dict("records")  # keeps integer group labels as they are
    ref = records[0]
    out: list[dict[str, Any]] = []
    for row in records[1:]:
        diff = row["estimate"] - ref["estimate"]
        se_d = float(np.hypot(row["std_error"], ref["std_error"]))
        zd = diff / se_d if se_d > 0 else np.nan
        n = int(row["n"] + ref["n"])
        out.append(
            {
                "term": f"difference: {row['group']} - {ref['group']}",
                "estimate": diff,
                "std_error": se_d,
                "statistic": zd,
                "df": np.nan,
                "p_value": 2 * stats.norm.sf(abs(zd)) if se_d > 0 else np.nan,
                "conf_low": diff - z * se_d,
                "conf_high": diff + z * se_d,
                "n": n,
                "n_clusters": np.nan,
            }
        )
        log_r = np.log(row["estimate"] / ref["estimate"])
        se_r = float(
            np.hypot(row["std_error"] / row["estimate"], ref["std_error"] / ref["estimate"])
        )
        zr = log_r / se_r if se_r > 0 else np.nan
        out.append(
            {
                "term": f"ratio: {row['group']} / {ref['group']}",
                "estimate": float(np.exp(log_r)),
                "std_error": se_r,
                "statistic": zr,
                "df": np.nan,
                "p_value": 2 * stats.norm.sf(abs(zr)) if se_r > 0 else np.nan,
                "conf_low": float(np.exp(log_r - z * se_r)),
                "conf_high": float(np.exp(log_r + z * se_r)),
                "n": n,
                "n_clusters": np.nan,
            }
        )
    return pd.DataFrame(out, columns=list(ESTIMATE_COLUMNS))
