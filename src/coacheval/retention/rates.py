"""Turnover rates per person-time with exact Poisson intervals, rate ratios and the HR convention.

Three ways of putting a number on turnover:

* :func:`turnover_rates` — separations per ``per`` (default 100) person-years, with the exact
  (Garwood 1936) Poisson interval that R's ``poisson.test(x, T)`` gives:
  ``[qgamma(alpha/2, x), qgamma(1 - alpha/2, x + 1)] / T``, i.e. half the chi-square
  quantiles with ``2x`` and ``2x + 2`` degrees of freedom. With no events the rate is 0 and the
  upper limit is ``-log(alpha/2) / T`` (3.689 / T at 95%).
* :func:`rate_ratio` / :func:`rate_ratio_from_counts` — the ratio of two rates with the exact
  conditional interval and p-value of ``poisson.test(c(x1, x2), c(t1, t2), r = null)``
  (given ``x1 + x2``, ``x1`` is binomial with ``p = r t1 / (r t1 + t2)``; Clopper–Pearson limits
  mapped back to the ratio scale), plus the Wald interval ``exp(log RR +- z sqrt(1/x1 + 1/x2))``.
* :func:`hr_turnover_rate` — the human-resources convention that quality reports and
  benchmarks use (e.g. the NSI Nursing Solutions *National Health Care Retention & RN Staffing
  Report*; SHRM's turnover calculation): separations during the period divided by the
  average headcount over the period, where the average headcount is the mean of the monthly
  headcounts, annualised by ``12 / months``.

How the HR rate differs from a person-time rate
------------------------------------------------
Annualised, the HR rate is ``separations / (average headcount * months / 12)``: the average
headcount times the period in years *approximates* the person-years at risk, so the two
conventions agree when headcount is stable within months. They differ because (1) headcount is
a snapshot count (often taken on one day a month) and misses the time of people who join and
leave between snapshots, whereas person-time counts exactly the days each person was employed;
(2) HR reports usually express the result as a percentage "of staff", which readers take as
the share who leave within a year; that share is ``1 - exp(-rate)`` under a constant hazard
and is smaller than the rate when turnover is high (a rate of 30 per 100 person-years is a
25.9% one-year leaving probability). Benchmarks quoted as HR turnover should be compared with
the HR rate; the person-time rate is the one that Poisson and survival models estimate.

Examples
--------
>>> import pandas as pd
>>> from coacheval.retention.rates import turnover_rates
>>> df = pd.DataFrame({"left": [1, 0, 1, 0, 0, 1], "years": [0.5, 2.0, 1.0, 2.0, 1.5, 0.8],
...                    "coached": ["yes", "yes", "no", "no", "no", "yes"]})
>>> res = turnover_rates(df, events_col="left", person_time_col="years", group_col="coached")
>>> res.table[["group", "events", "rate"]].round(2).to_dict("list")
{'group': ['no', 'yes'], 'events': [1, 2], 'rate': [22.22, 60.61]}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from coacheval._columns import ESTIMATE_COLUMNS
from coacheval.errors import ConfigError, DataValidationError
from coacheval.results import TableResult
from coacheval.retention._inputs import MAX_LISTED, check_alpha, rows_list

__all__ = [
    "HRTurnoverResult",
    "RateRatioResult",
    "RateResult",
    "exact_poisson_interval",
    "hr_turnover_rate",
    "rate_ratio",
    "rate_ratio_from_counts",
    "turnover_rates",
]


# ---------------------------------------------------------------------------- helpers ---


def _check_per(per: float) -> None:
    if not (isinstance(per, (int, float)) and np.isfinite(per) and per > 0):
        raise ConfigError(f"per must be a positive number (e.g. 100 or 1000), got {per!r}")


def _column(data: pd.DataFrame, col: str, role: str) -> pd.Series:
    if not isinstance(data, pd.DataFrame):
        raise ConfigError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if col not in data.columns:
        raise ConfigError(f"{role} column {col!r} is not in the data")
    return data[col]


def _counts_and_time(
    data: pd.DataFrame, events_col: str, person_time_col: str
) -> tuple[np.ndarray, np.ndarray]:
    ev = pd.to_numeric(_column(data, events_col, "events"), errors="coerce").to_numpy(float)
    pt = pd.to_numeric(_column(data, person_time_col, "person-time"), errors="coerce").to_numpy(
        float
    )
    bad = ~np.isfinite(ev) | (ev < 0) | (ev != np.round(ev))
    if bad.any():
        raise DataValidationError(
            f"column {events_col!r} must hold non-negative whole numbers of events (no "
            f"missing values); rows {rows_list(data.index, bad)} break this",
            failure_cases=data.loc[bad, [events_col]],
        )
    bad = ~np.isfinite(pt) | (pt < 0)
    if bad.any():
        raise DataValidationError(
            f"column {person_time_col!r} must hold non-negative finite person-time (no "
            f"missing values); rows {rows_list(data.index, bad)} break this",
            failure_cases=data.loc[bad, [person_time_col]],
        )
    return ev, pt


def exact_poisson_interval(
    events: float | np.ndarray, person_time: float | np.ndarray, alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) confidence limits for a Poisson rate, as ``poisson.test(x, T)$conf.int``.

    Parameters
    ----------
    events
        Observed event counts (whole numbers >= 0).
    person_time
        Person-time (> 0), in the unit the rate is expressed per.
    alpha
        One minus the confidence level.

    Returns
    -------
    tuple of numpy.ndarray
        Lower and upper limits of the rate per unit of person-time:
        ``qgamma(alpha/2, x) / T`` (0 when ``x = 0``) and ``qgamma(1 - alpha/2, x + 1) / T``.

    Examples
    --------
    >>> lo, hi = exact_poisson_interval(0, 1.0)
    >>> float(lo), round(float(hi), 4)  # R: poisson.test(0, 1)$conf.int -> 0 3.688879
    (0.0, 3.6889)
    """
    check_alpha(alpha)
    x = np.asarray(events, dtype=float)
    t = np.asarray(person_time, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(x > 0, stats.gamma.ppf(alpha / 2, np.maximum(x, 1e-300)), 0.0) / t
        upper = stats.gamma.ppf(1 - alpha / 2, x + 1) / t
    return lower, upper


def _binom_two_sided_p(x: int, n: int, p: float) -> float:
    """Two-sided exact binomial p-value, R's ``binom.test`` rule (relative tolerance 1e-7)."""
    if n == 0:
        return 1.0
    rel_err = 1 + 1e-7
    d = stats.binom.pmf(x, n, p)
    m = n * p
    if x == m:
        return 1.0
    if x < m:
        i = np.arange(int(np.ceil(m)), n + 1)
        y = int(np.sum(stats.binom.pmf(i, n, p) <= d * rel_err))
        pv = stats.binom.cdf(x, n, p) + stats.binom.sf(n - y, n, p)
    else:
        i = np.arange(0, int(np.floor(m)) + 1)
        y = int(np.sum(stats.binom.pmf(i, n, p) <= d * rel_err))
        pv = stats.binom.cdf(y - 1, n, p) + stats.binom.sf(x - 1, n, p)
    return float(min(1.0, pv))


def _rate_plot(table: pd.DataFrame, label_col: str, xlabel: str, title: str) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 0.6 + 0.45 * max(len(table), 1)))
    ax = fig.add_subplot()
    y = np.arange(len(table))[::-1]
    est = table["rate"].to_numpy(float)
    lo = table["conf_low"].to_numpy(float)
    hi = table["conf_high"].to_numpy(float)
    ax.errorbar(est, y, xerr=[est - lo, hi - est], fmt="o", color="C0", capsize=3)
    ax.set_yticks(y)
    ax.set_yticklabels([str(v) for v in table[label_col]])
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.set_xlim(left=0)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------ rates ---


@dataclass(frozen=True, eq=False)
class RateResult(TableResult):
    """Turnover rates per ``per`` units of person-time with exact Poisson intervals.

    Attributes
    ----------
    table
        One row per group (one row ``"all"`` without groups): ``group``, ``events``,
        ``person_time``, ``rate``, ``conf_low``, ``conf_high`` (per ``per`` units of
        person-time) and ``n`` (rows).
    per, alpha
        Options used.

    Examples
    --------
    Returned by :func:`turnover_rates`:

    >>> import pandas as pd
    >>> from coacheval.retention.rates import turnover_rates
    >>> df = pd.DataFrame({"left": [3, 1, 4, 2], "years": [10.0, 12.0, 9.0, 11.0],
    ...                    "coached": ["yes", "yes", "no", "no"]})
    >>> res = turnover_rates(df, events_col="left", person_time_col="years", group_col="coached")
    >>> res.per, res.alpha
    (100.0, 0.05)
    >>> res.table.round(2)  # In R: poisson.test(6, 20)$conf.int * 100 for "no"
      group  events  person_time   rate  conf_low  conf_high  n
    0    no       6         20.0  30.00     11.01      65.30  2
    1   yes       4         22.0  18.18      4.95      46.55  2
    """

    table: pd.DataFrame
    per: float
    alpha: float
    title: str = "Turnover rates (exact Poisson intervals)"
    notes: tuple[str, ...] = field(default=())

    def plot(self) -> Any:
        """Plot each group's rate with its exact interval; returns a matplotlib Figure.

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"left": [1, 0, 2], "years": [1.0, 2.0, 3.0]})
        >>> turnover_rates(df, events_col="left", person_time_col="years").plot().axes[0].get_xlabel()
        'Separations per 100 person-years'
        """
        return _rate_plot(
            self.table, "group", f"Separations per {self.per:g} person-years", self.title
        )


def turnover_rates(
    data: pd.DataFrame,
    *,
    events_col: str,
    person_time_col: str,
    group_col: str | None = None,
    per: float = 100,
    alpha: float = 0.05,
) -> RateResult:
    """Separations per ``per`` person-years with exact Poisson (Garwood) confidence intervals.

    Parameters
    ----------
    data
        One row per person, episode or unit-month.
    events_col
        Number of separations in the row (0/1 for a person, a count for a unit-month).
    person_time_col
        Person-time at risk in the row, in years (the rate is per ``per`` person-years).
    group_col
        Optional grouping column (e.g. coached or not); rows with a missing group are an error.
    per
        Multiplier: rates per 100 person-years by default.
    alpha
        One minus the confidence level.

    Returns
    -------
    RateResult
        ``table`` with one row per group (sorted), or one row ``"all"``.

    Raises
    ------
    DataValidationError
        Negative, fractional or missing event counts, negative or missing person-time, a
        missing group label, or a group (or the whole data) with zero total person-time (a
        rate needs time at risk).

    Notes
    -----
    Limits as ``poisson.test(x, T)``: ``qgamma(alpha/2, x) / T`` and
    ``qgamma(1 - alpha/2, x + 1) / T``. With ``x = 0`` the rate is 0 and the upper limit
    ``-log(alpha/2) / T``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"left": [0, 0, 0], "years": [1.0, 0.5, 1.5]})
    >>> res = turnover_rates(df, events_col="left", person_time_col="years")
    >>> row = res.table.iloc[0]
    >>> float(row["rate"]), round(float(row["conf_high"]), 2)  # 100 * 3.689 / 3
    (0.0, 122.96)
    """
    check_alpha(alpha)
    _check_per(per)
    ev, pt = _counts_and_time(data, events_col, person_time_col)
    if group_col is None:
        codes = np.zeros(len(ev), dtype=np.intp)
        labels: list[Any] = ["all"]
    else:
        g = _column(data, group_col, "group")
        missing = g.isna().to_numpy()
        if missing.any():
            raise DataValidationError(
                f"column {group_col!r} has missing group labels in rows "
                f"{rows_list(data.index, missing)}; drop them or give them a group",
                failure_cases=data.loc[missing, [group_col]],
            )
        codes_raw, uniques = pd.factorize(g, sort=True)
        codes = codes_raw.astype(np.intp)
        labels = list(uniques)
    k = len(labels)
    x = np.bincount(codes, weights=ev, minlength=k)
    t = np.bincount(codes, weights=pt, minlength=k)
    n = np.bincount(codes, minlength=k)
    if len(ev) == 0:
        raise DataValidationError("the data have no rows: a rate needs person-time")
    zero = t <= 0
    if zero.any():
        which = ", ".join(str(labels[i]) for i in np.flatnonzero(zero))
        raise DataValidationError(
            f"zero total person-time in column {person_time_col!r} for group(s) {which}: "
            "a rate needs time at risk"
        )
    lo, hi = exact_poisson_interval(x, t, alpha)
    table = pd.DataFrame(
        {
            "group": labels,
            "events": x.astype(np.int64),
            "person_time": t,
            "rate": per * x / t,
            "conf_low": per * lo,
            "conf_high": per * hi,
            "n": n.astype(np.int64),
        }
    )
    notes = [
        f"Rates per {per:g} person-years; exact Poisson (Garwood) {100 * (1 - alpha):g}% "
        "intervals, as R's poisson.test."
    ]
    if (x == 0).any():
        notes.append(
            "Groups with no separations have rate 0 and an exact upper limit "
            f"of {-np.log(alpha / 2):.3f} / person-time."
        )
    return RateResult(table=table, per=float(per), alpha=float(alpha), notes=tuple(notes))


# ------------------------------------------------------------------------ rate ratios ---


@dataclass(frozen=True, eq=False)
class RateRatioResult(TableResult):
    """Ratio of two Poisson rates: exact conditional and Wald (log-scale) inference.

    Attributes
    ----------
    table
        Two rows with the columns of :data:`coacheval._columns.ESTIMATE_COLUMNS` (``term`` =
        ``"rate_ratio (exact)"`` and ``"rate_ratio (Wald)"``): ``estimate`` the rate ratio;
        for the exact row ``std_error`` and ``statistic`` are NaN and ``p_value`` is
        ``poisson.test``'s; for the Wald row ``std_error`` is the SE of the log ratio,
        ``statistic`` the z for ``log(RR / null)``.
    rates
        The two groups' rates (:class:`RateResult` table rows, treated first).
    events, person_time
        ``(x1, x2)`` and ``(t1, t2)``, treated (numerator) first.
    null, alpha
        The null ratio tested and one minus the confidence level.

    Examples
    --------
    Returned by :func:`rate_ratio` and :func:`rate_ratio_from_counts`:

    >>> import pandas as pd
    >>> from coacheval.retention.rates import rate_ratio
    >>> df = pd.DataFrame({"left": [3, 1, 4, 2], "years": [10.0, 12.0, 9.0, 11.0],
    ...                    "coached": [1, 1, 0, 0]})
    >>> res = rate_ratio(df, events_col="left", person_time_col="years",
    ...                  group_col="coached", treated=1, reference=0)
    >>> # In R: poisson.test(c(4, 6), c(22, 20))
    >>> # rate ratio 0.6060606, 95% CI 0.1257924 to 2.5557219, p-value 0.5336
    >>> round(res.estimate, 4), res.events, res.person_time
    (0.6061, (4, 6), (22.0, 20.0))
    >>> res.table[["term", "estimate", "p_value", "conf_low", "conf_high"]].round(4)
                     term  estimate  p_value  conf_low  conf_high
    0  rate_ratio (exact)    0.6061   0.5336    0.1258     2.5557
    1   rate_ratio (Wald)    0.6061   0.4379    0.1710     2.1477
    >>> res.rates[["group", "events", "rate"]].round(3)
      group  events   rate
    0     1       4  0.182
    1     0       6  0.300
    """

    table: pd.DataFrame
    rates: pd.DataFrame
    events: tuple[int, int]
    person_time: tuple[float, float]
    null: float
    alpha: float
    title: str = "Rate ratio"
    notes: tuple[str, ...] = field(default=())

    @property
    def estimate(self) -> float:
        """The rate ratio ``(x1 / t1) / (x2 / t2)``."""
        return float(self.table["estimate"].iloc[0])

    def plot(self) -> Any:
        """Plot the two groups' rates with exact intervals; returns a matplotlib Figure.

        Examples
        --------
        >>> rate_ratio_from_counts(10, 50.0, 20, 60.0).plot().axes[0].get_title()
        'Rate ratio, group 1 vs group 2'
        """
        return _rate_plot(self.rates, "group", "Events per unit of person-time", self.title)


def rate_ratio_from_counts(
    x1: float,
    t1: float,
    x2: float,
    t2: float,
    *,
    null: float = 1.0,
    alpha: float = 0.05,
    labels: tuple[str, str] = ("group 1", "group 2"),
) -> RateRatioResult:
    """Rate ratio ``(x1/t1) / (x2/t2)`` as ``poisson.test(c(x1, x2), c(t1, t2), r = null)``.

    Parameters
    ----------
    x1, t1
        Events and person-time of the numerator group (e.g. coached).
    x2, t2
        Events and person-time of the denominator (reference) group.
    null
        Rate ratio under the null hypothesis (``r`` of ``poisson.test``).
    alpha
        One minus the confidence level.
    labels
        Names of the two groups for the ``rates`` table.

    Returns
    -------
    RateRatioResult

    Raises
    ------
    DataValidationError
        Negative or fractional counts, non-positive person-time, or no events in either group
        (the ratio is then undefined).

    Notes
    -----
    Conditional on ``n = x1 + x2``, ``x1 ~ Binomial(n, p)`` with ``p = null t1 / (null t1 + t2)``.
    The exact interval is the Clopper–Pearson interval ``[pL, pU]`` for ``p`` mapped to
    ``p / (1 - p) * t2 / t1``; the p-value is ``binom.test``'s two-sided one (outcomes no more
    likely than the observed, relative tolerance 1e-7). The Wald interval uses
    ``SE(log RR) = sqrt(1/x1 + 1/x2)`` and is NaN when either count is 0.

    Examples
    --------
    >>> res = rate_ratio_from_counts(53, 83.5236, 111, 106.8172)
    >>> round(res.estimate, 4), round(float(res.table["p_value"].iloc[0]), 5)
    (0.6106, 0.00274)
    """
    check_alpha(alpha)
    if not (np.isfinite(null) and null > 0):
        raise ConfigError(f"null must be a positive rate ratio, got {null!r}")
    for name, v in (("x1", x1), ("x2", x2)):
        if not (np.isfinite(v) and v >= 0 and float(v) == round(float(v))):
            raise DataValidationError(f"{name} must be a whole number of events >= 0, got {v!r}")
    for name, v in (("t1", t1), ("t2", t2)):
        if not (np.isfinite(v) and v > 0):
            raise DataValidationError(
                f"{name} must be positive person-time, got {v!r}: a rate needs time at risk"
            )
    x1, x2 = int(np.rint(x1)), int(np.rint(x2))
    if x1 + x2 == 0:
        raise DataValidationError("no events in either group: the rate ratio is undefined (0 / 0)")
    n = x1 + x2
    z = stats.norm.ppf(1 - alpha / 2)
    est = (x1 / t1) / (x2 / t2) if x2 > 0 else np.inf
    p_lo = stats.beta.ppf(alpha / 2, x1, n - x1 + 1) if x1 > 0 else 0.0
    p_hi = stats.beta.ppf(1 - alpha / 2, x1 + 1, n - x1) if x1 < n else 1.0
    with np.errstate(divide="ignore"):
        ci_lo = p_lo / (1 - p_lo) * t2 / t1
        ci_hi = p_hi / (1 - p_hi) * t2 / t1 if p_hi < 1 else np.inf
    p_value = _binom_two_sided_p(x1, n, null * t1 / (null * t1 + t2))
    if x1 > 0 and x2 > 0:
        se = float(np.sqrt(1 / x1 + 1 / x2))
        stat = (np.log(est) - np.log(null)) / se
        w_lo, w_hi = np.exp(np.log(est) - z * se), np.exp(np.log(est) + z * se)
        w_p = float(2 * stats.norm.sf(abs(stat)))
    else:
        se = stat = w_lo = w_hi = w_p = np.nan
    table = pd.DataFrame(
        {
            "term": ["rate_ratio (exact)", "rate_ratio (Wald)"],
            "estimate": [est, est],
            "std_error": [np.nan, se],
            "statistic": [np.nan, stat],
            "df": [np.nan, np.nan],
            "p_value": [p_value, w_p],
            "conf_low": [ci_lo, w_lo],
            "conf_high": [ci_hi, w_hi],
            "n": [n, n],
            "n_clusters": [np.nan, np.nan],
        },
        columns=list(ESTIMATE_COLUMNS),
    )
    lo, hi = exact_poisson_interval(np.array([x1, x2]), np.array([t1, t2]), alpha)
    rates = pd.DataFrame(
        {
            "group": list(labels),
            "events": [x1, x2],
            "person_time": [float(t1), float(t2)],
            "rate": [x1 / t1, x2 / t2],
            "conf_low": lo,
            "conf_high": hi,
        }
    )
    notes = [
        f"{labels[0]} vs {labels[1]}; exact conditional (binomial) interval and p-value as "
        f"R's poisson.test(c(x1, x2), c(t1, t2), r = {null:g}); Wald interval on the log scale."
    ]
    if x1 == 0 or x2 == 0:
        notes.append("A group has no events: the Wald interval is undefined (NaN).")
    return RateRatioResult(
        table=table,
        rates=rates,
        events=(x1, x2),
        person_time=(float(t1), float(t2)),
        null=float(null),
        alpha=float(alpha),
        title=f"Rate ratio, {labels[0]} vs {labels[1]}",
        notes=tuple(notes),
    )


def rate_ratio(
    data: pd.DataFrame,
    *,
    events_col: str,
    person_time_col: str,
    group_col: str,
    treated: Any,
    reference: Any,
    null: float = 1.0,
    alpha: float = 0.05,
) -> RateRatioResult:
    """Rate ratio of group ``treated`` to group ``reference`` with exact and Wald inference.

    Parameters
    ----------
    data
        One row per person, episode or unit-month.
    events_col, person_time_col
        Separations and person-time (years) per row.
    group_col
        Column holding the group labels.
    treated, reference
        Labels of the numerator and denominator groups (both must occur in the data).
    null, alpha
        Null rate ratio and one minus the confidence level (see
        :func:`rate_ratio_from_counts`).

    Returns
    -------
    RateRatioResult

    Raises
    ------
    DataValidationError
        A group label not in the data, zero person-time in a group, or no events at all.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"left": [3, 1, 4, 2], "years": [10.0, 12.0, 9.0, 11.0],
    ...                    "coached": [1, 1, 0, 0]})
    >>> res = rate_ratio(df, events_col="left", person_time_col="years",
    ...                  group_col="coached", treated=1, reference=0)
    >>> round(res.estimate, 4)  # (4 / 22) / (6 / 20)
    0.6061
    """
    g = _column(data, group_col, "group")
    ev, pt = _counts_and_time(data, events_col, person_time_col)
    present = set(g.dropna().unique().tolist())
    for role, lab in (("treated", treated), ("reference", reference)):
        if lab not in present:
            raise DataValidationError(
                f"{role} group {lab!r} does not occur in column {group_col!r} (groups present: "
                f"{sorted(map(str, present))[:MAX_LISTED]})"
            )
    if treated == reference:
        raise ConfigError("treated and reference must be different groups")
    s1 = (g == treated).to_numpy()
    s2 = (g == reference).to_numpy()
    t1, t2 = float(pt[s1].sum()), float(pt[s2].sum())
    for lab, t in ((treated, t1), (reference, t2)):
        if t <= 0:
            raise DataValidationError(
                f"group {lab!r} has zero total person-time in {person_time_col!r}: "
                "a rate needs time at risk"
            )
    return rate_ratio_from_counts(
        float(ev[s1].sum()),
        t1,
        float(ev[s2].sum()),
        t2,
        null=null,
        alpha=alpha,
        labels=(str(treated), str(reference)),
    )


# -------------------------------------------------------------------------- HR rates ---


@dataclass(frozen=True, eq=False)
class HRTurnoverResult(TableResult):
    """Turnover by the HR convention (separations / average headcount, annualised).

    Attributes
    ----------
    table
        One row: ``separations``, ``average_headcount`` (mean of the monthly headcounts),
        ``months``, ``period_rate`` (separations / average headcount, per ``per``),
        ``annualised_rate`` (times ``12 / months``), the approximate person-years
        ``person_time = average_headcount * months / 12`` and exact Poisson limits
        ``conf_low``, ``conf_high`` for the annualised rate treating that as person-time,
        and ``one_year_leaving_probability`` = ``1 - exp(-annualised_rate / per)`` (times
        ``per``), the share expected to leave within a year under a constant hazard.
    per, alpha
        Options used.

    Examples
    --------
    Returned by :func:`hr_turnover_rate`. Six leaders left in a quarter with monthly headcounts of
    50, 52 and 49:

    >>> from coacheval.retention.rates import hr_turnover_rate
    >>> res = hr_turnover_rate([2, 1, 3], [50, 52, 49], months_per_period=3)
    >>> round(res.annualised_rate, 2)
    47.68
    >>> res.table[["separations", "average_headcount", "period_rate", "annualised_rate"]].round(2)
       separations  average_headcount  period_rate  annualised_rate
    0          6.0              50.33        11.92            47.68
    >>> res.table[["conf_low", "conf_high", "one_year_leaving_probability"]].round(2)
       conf_low  conf_high  one_year_leaving_probability
    0      17.5     103.78                         37.92
    """

    table: pd.DataFrame
    per: float
    alpha: float
    title: str = "Turnover (HR convention: separations / average headcount, annualised)"
    notes: tuple[str, ...] = field(default=())

    @property
    def annualised_rate(self) -> float:
        """The annualised HR turnover rate (per ``per`` staff)."""
        return float(self.table["annualised_rate"].iloc[0])

    def plot(self) -> Any:
        """Plot the annualised rate with its approximate exact interval; returns a Figure.

        Examples
        --------
        >>> res = hr_turnover_rate(6, [50, 52, 49], months_per_period=3)
        >>> res.plot().axes[0].get_xlabel()
        'Annualised separations per 100 staff'
        """
        tab = self.table.assign(label="period", rate=self.table["annualised_rate"])
        return _rate_plot(
            tab, "label", f"Annualised separations per {self.per:g} staff", self.title
        )


def hr_turnover_rate(
    separations: float | Sequence[float] | np.ndarray,
    headcounts: Sequence[float] | np.ndarray,
    *,
    months_per_period: float,
    per: float = 100,
    alpha: float = 0.05,
) -> HRTurnoverResult:
    """Turnover as HR quality reports compute it: separations / average headcount, annualised.

    Parameters
    ----------
    separations
        Separations during the period: a count, or the monthly counts (summed).
    headcounts
        Headcount on each month's reference date during the period; their mean is the
        average headcount.
    months_per_period
        Length of the period in months (3 for a quarter); the rate is annualised by
        ``12 / months_per_period``.
    per
        Multiplier: per 100 staff (a percentage) by default.
    alpha
        One minus the confidence level of the approximate exact Poisson interval.

    Returns
    -------
    HRTurnoverResult

    Raises
    ------
    DataValidationError
        Negative or missing separations or headcounts, or an average headcount of zero.

    Notes
    -----
    ``annualised = per * separations / mean(headcounts) * 12 / months``. This is the
    convention of the NSI Nursing Solutions *National Health Care Retention & RN Staffing
    Report* and of SHRM's turnover calculation (average headcount over the period). It equals
    a person-time rate whose person-years are approximated by ``mean(headcounts) * months /
    12``; see the module notes for how it differs from an exact person-time rate and from the
    one-year probability of leaving.

    Examples
    --------
    >>> res = hr_turnover_rate([2, 1, 3], [50, 52, 49], months_per_period=3)
    >>> round(res.annualised_rate, 2)  # 100 * 6 / 50.333 * 12 / 3
    47.68
    """
    check_alpha(alpha)
    _check_per(per)
    if not (isinstance(months_per_period, (int, float)) and months_per_period > 0):
        raise ConfigError(f"months_per_period must be positive, got {months_per_period!r}")
    sep = np.atleast_1d(np.asarray(separations, dtype=float))
    hc = np.atleast_1d(np.asarray(headcounts, dtype=float))
    if sep.size == 0 or not np.all(np.isfinite(sep)) or np.any(sep < 0):
        raise DataValidationError("separations must be non-negative finite counts")
    if hc.size == 0 or not np.all(np.isfinite(hc)) or np.any(hc < 0):
        raise DataValidationError("headcounts must be non-negative finite numbers (one a month)")
    x = float(sep.sum())
    avg = float(hc.mean())
    if avg <= 0:
        raise DataValidationError("the average headcount is zero: turnover is undefined")
    months = float(months_per_period)
    years = avg * months / 12.0
    lo, hi = exact_poisson_interval(round(x), years, alpha)
    annual = per * x / years
    table = pd.DataFrame(
        {
            "separations": [x],
            "average_headcount": [avg],
            "months": [months],
            "period_rate": [per * x / avg],
            "annualised_rate": [annual],
            "person_time": [years],
            "conf_low": [per * float(lo)],
            "conf_high": [per * float(hi)],
            "one_year_leaving_probability": [per * (1 - np.exp(-annual / per))],
        }
    )
    notes = [
        "HR convention: separations / average of the monthly headcounts, annualised by "
        f"12 / {months:g}. The interval treats average headcount x years as person-time "
        "(approximate).",
    ]
    if hc.size != round(months):
        notes.append(
            f"{hc.size} monthly headcounts were given for a {months:g}-month period: check "
            "that the headcounts cover the period."
        )
    return HRTurnoverResult(table=table, per=float(per), alpha=float(alpha), notes=tuple(notes))
