"""Competing risks for turnover: Aalen–Johansen cumulative incidence and cause-specific Cox.

A leader can leave in several ways (voluntary, involuntary, retirement, other). Each exit type
is a *cause*; the cumulative incidence :math:`F_k(t)` is the probability of having left for
cause :math:`k` by time :math:`t`, with the other causes competing. ``1 - KM`` that treats the
other causes as censoring overstates it.

:func:`cumulative_incidence` is the Aalen–Johansen estimator with infinitesimal-jackknife
standard errors, as ``survival::survfit(Surv(start, stop, status) ~ group, id = id)`` with a
factor ``status`` (multi-state survfit), on ``(start, stop]`` rows with delayed entry and case
weights. :func:`cause_specific_cox` fits the cause-specific hazard (the other causes censored).

Examples
--------
>>> import pandas as pd
>>> from coacheval.retention.competing import cumulative_incidence
>>> df = pd.DataFrame({
...     "months": [3, 5, 5, 8, 12, 12, 15, 20],
...     "exit": ["voluntary", "retirement", 0, "voluntary", 0, "voluntary", "retirement", 0],
... })
>>> res = cumulative_incidence(df, stop_col="months", event_col="exit")
>>> # In R: survfit(Surv(months, factor(exit, c(0, "retirement", "voluntary"))) ~ 1, df)
>>> # pstate at 10: retirement 0.125, voluntary 0.275
>>> res.at([10])[["cause", "time", "estimate"]].round(4)
        cause  time  estimate
0  retirement  10.0     0.125
1   voluntary  10.0     0.275

Besides 0 and False, these texts in the event column mean "censored" (in any case):

>>> from coacheval.retention.competing import CENSOR_LABELS
>>> CENSOR_LABELS
('0', 'censored', 'censor')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from coacheval.errors import ConfigError, DataValidationError
from coacheval.results import TableResult
from coacheval.retention._inputs import MAX_LISTED, numeric_column, rows_list
from coacheval.retention.cox import CoxResult, Ties, fit_cox

__all__ = [
    "CENSOR_LABELS",
    "CumulativeIncidenceResult",
    "GrayTestResult",
    "cause_specific_cox",
    "cumulative_incidence",
    "event_codes",
    "gray_test",
]

CENSOR_LABELS = ("0", "censored", "censor")
"""Text values of the event column that mean "censored" (case-insensitive), besides 0/False."""

_CIF_COLUMNS = (
    "group",
    "cause",
    "time",
    "n_risk",
    "n_event",
    "estimate",
    "std_error",
    "conf_low",
    "conf_high",
)


# ------------------------------------------------------------------------ event codes ---


def _is_censor(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(values):
        return ~values.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=float) == 0
    text = values.astype(str).str.strip().str.lower()
    num = pd.to_numeric(values, errors="coerce")
    return (text.isin(CENSOR_LABELS) | (num == 0)).to_numpy()


def _sort_key(label: Any) -> tuple[int, Any]:
    if isinstance(label, int | float | np.integer | np.floating):
        return (0, float(label))
    return (1, str(label))


def event_codes(
    values: pd.Series, *, event_col: str, causes: Sequence[Any] | None = None
) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Code an event column as 0 (censored) or 1..K (the position of the cause in ``causes``).

    Parameters
    ----------
    values
        The event column: 0, False, ``"0"``, ``"censored"`` or ``"censor"`` (any case) for a
        censored row, otherwise the label of the cause that ended the row.
    event_col
        Its name, for messages.
    causes
        The cause labels, in the order wanted. ``None`` takes the labels in the data, numbers
        first in numeric order, then text in alphabetical order. A cause given here that never
        occurs is kept (its cumulative incidence is 0).

    Returns
    -------
    codes : numpy.ndarray
        Integer codes, 0 = censored.
    causes : tuple
        The cause labels; code ``k`` is ``causes[k - 1]``.

    Raises
    ------
    DataValidationError
        Missing values, or a value that is neither censoring nor one of ``causes``.
    ConfigError
        ``causes`` is empty, repeats a label or names a censoring value.

    Examples
    --------
    >>> import pandas as pd
    >>> codes, causes = event_codes(pd.Series(["vol", 0, "ret", "vol"]), event_col="exit")
    >>> codes.tolist(), causes
    ([2, 0, 1, 2], ('ret', 'vol'))
    """
    if values.isna().any():
        mask = values.isna().to_numpy()
        raise DataValidationError(
            f"missing values in event column {event_col!r} ({int(mask.sum())} rows); code "
            "censored rows as 0 or 'censored'",
            failure_cases=values[mask].head(MAX_LISTED),
        )
    censor = _is_censor(values)
    labels = pd.Series(values.to_numpy()[~censor], dtype=object)
    if causes is None:
        causes_t = tuple(sorted(pd.unique(labels), key=_sort_key))
    else:
        causes_t = tuple(causes)
        if not causes_t:
            raise ConfigError("give at least one cause label", source="causes")
        if len(set(map(str, causes_t))) != len(causes_t):
            raise ConfigError(f"cause labels repeat: {list(causes_t)}", source="causes")
        bad = [c for c in causes_t if bool(_is_censor(pd.Series([c], dtype=object))[0])]
        if bad:
            raise ConfigError(
                f"{bad} mean 'censored' in {event_col!r}, so they cannot be causes",
                source="causes",
            )
    # match on the text form so 1 and "1" and 1.0 agree
    key = {str(c): k + 1 for k, c in enumerate(causes_t)}
    key.update({str(float(c)): k + 1 for k, c in enumerate(causes_t) if _is_number(c)})
    codes = np.zeros(len(values), dtype=np.int64)
    mapped = labels.map(lambda v: key.get(str(v), key.get(_float_text(v), 0)))
    unknown = mapped.to_numpy() == 0
    if unknown.any():
        bad_vals = sorted(pd.unique(labels[unknown]).tolist(), key=_sort_key)
        raise DataValidationError(
            f"{event_col!r} has value(s) {bad_vals[:MAX_LISTED]} that are neither censoring "
            f"(0, False, {list(CENSOR_LABELS)}) nor one of the causes {list(causes_t)}",
            failure_cases=values[~censor][unknown].head(MAX_LISTED),
        )
    codes[~censor] = mapped.to_numpy(dtype=np.int64)
    return codes, causes_t


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _float_text(value: Any) -> str:
    try:
        return str(float(value))
    except (TypeError, ValueError):
        return str(value)


# ------------------------------------------------------------------------ validation ---


@dataclass(frozen=True)
class _Prepared:
    """Validated arrays in the caller's row order."""

    start: np.ndarray  # -inf when there is no start column
    stop: np.ndarray
    code: np.ndarray
    weight: np.ndarray
    subject: np.ndarray  # integer subject codes
    causes: tuple[Any, ...]
    has_start: bool


def _prepare(
    data: pd.DataFrame,
    *,
    start_col: str | None,
    stop_col: str,
    event_col: str,
    weights_col: str | None,
    id_col: str | None,
    causes: Sequence[Any] | None,
    extra_cols: Sequence[str] = (),
    allow_zero_weights: bool = True,
) -> _Prepared:
    if not isinstance(data, pd.DataFrame):
        raise ConfigError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    used = [c for c in (start_col, stop_col, event_col, weights_col, id_col) if c]
    used += list(extra_cols)
    missing = [c for c in dict.fromkeys(used) if c not in data.columns]
    if missing:
        raise ConfigError(f"column(s) not in data: {missing}")
    if start_col is not None and id_col is None:
        raise ConfigError(
            "(start, stop] rows need id_col: the person each row belongs to", source="id_col"
        )
    if len(data) == 0:
        raise DataValidationError("data has no rows")
    nan_cols = [c for c in dict.fromkeys(used) if c != event_col and data[c].isna().any()]
    if nan_cols:
        mask = data[nan_cols].isna().any(axis=1).to_numpy()
        raise DataValidationError(
            f"missing values in {nan_cols} (rows {rows_list(data.index, mask)})",
            failure_cases=data.loc[mask, nan_cols],
        )
    n = len(data)
    stop = numeric_column(data, stop_col)
    if not np.isfinite(stop).all():
        bad = ~np.isfinite(stop)
        raise DataValidationError(
            f"infinite values in {stop_col!r} (rows {rows_list(data.index, bad)})"
        )
    if start_col is None:
        if id_col is not None and data[id_col].duplicated().any():
            raise DataValidationError(
                f"{id_col!r} repeats but there is no start column: several rows per person "
                "need (start, stop] intervals; give start_col"
            )
        start = np.full(n, -np.inf)
    else:
        start = numeric_column(data, start_col)
        bad = ~(stop > start)
        if bad.any():
            raise DataValidationError(
                f"stop <= start in {int(bad.sum())} row(s) ({start_col!r}, {stop_col!r}): rows "
                f"{rows_list(data.index, bad)}; an interval (start, stop] must have stop > start",
                failure_cases=data.loc[bad, [start_col, stop_col]],
            )
    code, causes_t = event_codes(data[event_col], event_col=event_col, causes=causes)
    if weights_col is None:
        w = np.ones(n)
    else:
        w = numeric_column(data, weights_col)
        rule = (w >= 0) if allow_zero_weights else (w > 0)
        bad = ~(np.isfinite(w) & rule)
        if bad.any():
            need = ">= 0" if allow_zero_weights else "> 0"
            raise DataValidationError(
                f"weights in {weights_col!r} must be finite and {need} "
                f"(rows {rows_list(data.index, bad)})",
                failure_cases=data.loc[bad, [weights_col]],
            )
    if id_col is None:
        subject = np.arange(n)
    else:
        subject = pd.factorize(data[id_col], sort=True)[0]
    if start_col is not None:
        _check_histories(data, start, stop, code, subject, id_col or "", start_col, stop_col)
    return _Prepared(start, stop, code, w, subject, causes_t, start_col is not None)


def _check_histories(
    data: pd.DataFrame,
    start: np.ndarray,
    stop: np.ndarray,
    code: np.ndarray,
    subject: np.ndarray,
    id_col: str,
    start_col: str,
    stop_col: str,
) -> None:
    """One person's rows must abut (no gap, no overlap) and only the last may end in an exit."""
    order = np.lexsort((stop, subject))
    s_sub, s_start, s_stop = subject[order], start[order], stop[order]
    same = s_sub[1:] == s_sub[:-1]
    gap = same & (s_start[1:] != s_stop[:-1])
    if gap.any():
        rows = order[1:][gap]
        mask = np.zeros(len(data), dtype=bool)
        mask[rows] = True
        kind = "overlap" if (s_start[1:][gap] < s_stop[:-1][gap]).any() else "gap"
        raise DataValidationError(
            f"a person's (start, stop] rows must abut without gaps or overlaps (found a {kind}; "
            f"{id_col!r}, {start_col!r}, {stop_col!r}): rows {rows_list(data.index, mask)}. "
            "Split the person into separate ids or fill the gap",
            failure_cases=data.loc[mask, [id_col, start_col, stop_col]],
        )
    early = same & (code[order][:-1] != 0)
    if early.any():
        mask = np.zeros(len(data), dtype=bool)
        mask[order[:-1][early]] = True
        raise DataValidationError(
            "an exit (a cause) is recorded on a row that is not the person's last row: rows "
            f"{rows_list(data.index, mask)}; competing exits end follow-up",
            failure_cases=data.loc[mask, [id_col, start_col, stop_col]],
        )


# ------------------------------------------------------------------- Aalen–Johansen ---


@dataclass(frozen=True)
class _Curve:
    times: np.ndarray  # (T,)
    n_risk: np.ndarray  # (T,)
    n_event: np.ndarray  # (T, K)
    cif: np.ndarray  # (T, K)
    se: np.ndarray  # (T, K)


def _aalen_johansen(
    start: np.ndarray,
    stop: np.ndarray,
    code: np.ndarray,
    w: np.ndarray,
    subject: np.ndarray,
    n_causes: int,
) -> _Curve:
    """AJ cumulative incidence and its infinitesimal-jackknife SE (survival's survfitci).

    survfitci updates, at each event time, a per-subject influence vector ``U_i`` over the
    states (alive, cause 1..K); the SE is ``sqrt(sum_i w_i^2 U_ik^2)``. With ``c_i = a_i / S``
    (``a_i`` the influence on the alive state) the recursions are, with ``Y`` at risk, ``dN``
    the subject's own exit, ``h = d / n``, ``lam_k = d_k / n`` (weighted counts):

    ``c(j) = c(j-1) + Y (h - dN) / (n (1 - h))``,
    ``b_k(j) = b_k(j-1) + S(j-) lam_k c(j-1) + Y S(j-) (dN_k - lam_k) / n``.

    Over a stretch of rows where a subject is at risk without exiting, ``b_k(j)`` is
    ``alpha_k(j) + beta + gamma F_k(j)`` (time functions alpha, F shared by all, constants per
    subject), and after leaving it is ``beta + gamma F_k(j)``; so ``sum_i w_i^2 b_k(j)^2``
    is a quadratic in alpha and F whose coefficients are running sums over subjects, built
    with difference arrays. No loop over subjects or times.
    """
    times = np.unique(stop)
    n_t = times.size
    hi = np.searchsorted(times, stop)  # the time index of each row's stop
    lo = np.searchsorted(times, start, side="right")  # first time index with time > start
    k_idx = np.arange(1, n_causes + 1)
    pos = w > 0

    def span_sum(values: np.ndarray, s: np.ndarray, e: np.ndarray) -> np.ndarray:
        """For every time index, the sum of ``values`` over spans [s, e] covering it."""
        ok = e >= s
        diff = np.zeros((n_t + 1, *values.shape[1:]))
        np.add.at(diff, s[ok], values[ok])
        np.add.at(diff, e[ok] + 1, -values[ok])
        return np.cumsum(diff, axis=0)[:n_t]

    n_risk = np.rint(span_sum(np.ones(len(stop)), lo, hi)).astype(np.int64)
    n_w = span_sum(w, lo, hi)
    n_pos = np.rint(span_sum(pos.astype(float), lo, hi))
    ev = code > 0
    onehot = (code[:, None] == k_idx[None, :]).astype(float)  # (n, K)
    n_event = np.zeros((n_t, n_causes), dtype=np.int64)
    np.add.at(n_event, hi[ev], onehot[ev].astype(np.int64))
    d_k = np.zeros((n_t, n_causes))
    np.add.at(d_k, hi[ev], onehot[ev] * w[ev, None])
    e_pos = np.bincount(hi[ev & pos], minlength=n_t)
    d = d_k.sum(axis=1)
    has_n = n_w > 0
    safe_n = np.where(has_n, n_w, 1.0)
    h = np.where(has_n, d / safe_n, 0.0)
    all_exit = (n_pos > 0) & (e_pos == n_pos)  # everyone with weight at risk exits: S -> 0
    h = np.where(all_exit, 1.0, h)
    s_after = np.cumprod(1.0 - h)
    s_before = np.concatenate([[1.0], s_after[:-1]])
    lam = np.where(has_n[:, None], d_k / safe_n[:, None], 0.0)
    f = s_before[:, None] * lam  # CIF increments
    cif = np.cumsum(f, axis=0)

    valid = has_n & (h < 1.0)
    one_minus = np.where(valid, 1.0 - h, 1.0)
    g = np.where(valid, h / (safe_n * one_minus), 0.0)
    e_own = np.where(valid, 1.0 / (safe_n * one_minus), 0.0)
    r = np.where(has_n, s_before / safe_n, 0.0)
    q = np.where(has_n[:, None], f / safe_n[:, None], 0.0)

    gp = np.concatenate([[0.0], np.cumsum(g)])  # G(j) = gp[j + 1]
    fp = np.vstack([np.zeros((1, n_causes)), np.cumsum(f, axis=0)])  # F(j) = fp[j + 1]
    ap = np.vstack([np.zeros((1, n_causes)), np.cumsum(f * gp[:-1, None], axis=0)])
    qp = np.vstack([np.zeros((1, n_causes)), np.cumsum(q, axis=0)])

    # rows in subject/time order
    order = np.lexsort((stop, subject))
    sub, lo_o, hi_o, w_o = subject[order], lo[order], hi[order], w[order]
    dn = ev[order]
    dnk = onehot[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = sub[1:] != sub[:-1]
    last = np.ones(len(order), dtype=bool)
    last[:-1] = sub[1:] != sub[:-1]
    grp_start = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))

    def within_cumsum(x: np.ndarray) -> np.ndarray:
        cs = np.cumsum(x, axis=0)
        base = np.concatenate([np.zeros((1, *x.shape[1:])), cs[:-1]], axis=0)
        return cs - base[grp_start]

    dc = gp[hi_o + 1] - gp[lo_o] - dn * e_own[hi_o]
    c_end = within_cumsum(dc)
    c0 = c_end - dc
    gamma_act = c0 - gp[lo_o]
    prev_hi = np.concatenate([[0], hi_o[:-1]])
    prev_c_end = np.concatenate([[0.0], c_end[:-1]])
    gap_term = np.where(first[:, None], 0.0, prev_c_end[:, None] * (fp[lo_o] - fp[prev_hi + 1]))
    db = (
        gamma_act[:, None] * (fp[hi_o + 1] - fp[lo_o])
        + (ap[hi_o + 1] - ap[lo_o])
        - (qp[hi_o + 1] - qp[lo_o])
        + dnk * r[hi_o, None]
    )
    b_end = within_cumsum(db + gap_term)
    b0 = b_end - db
    beta_act = b0 - gamma_act[:, None] * fp[lo_o] - ap[lo_o] + qp[lo_o]
    gamma_in = c_end
    beta_in = b_end - c_end[:, None] * fp[hi_o + 1]
    next_lo = np.concatenate([lo_o[1:], [n_t]])
    in_end = np.where(last, n_t - 1, next_lo - 1)

    w2 = w_o**2
    act_s, act_e = lo_o, hi_o - 1
    w0 = span_sum(w2, act_s, act_e)
    w1 = span_sum(w2[:, None] * beta_act, act_s, act_e)
    w2g = span_sum(w2 * gamma_act, act_s, act_e)
    p_b = span_sum(w2[:, None] * beta_act**2, act_s, act_e) + span_sum(
        w2[:, None] * beta_in**2, hi_o, in_end
    )
    m_bg = span_sum(w2[:, None] * beta_act * gamma_act[:, None], act_s, act_e) + span_sum(
        w2[:, None] * beta_in * gamma_in[:, None], hi_o, in_end
    )
    r_g = span_sum(w2 * gamma_act**2, act_s, act_e) + span_sum(w2 * gamma_in**2, hi_o, in_end)
    alpha = ap[1:] - qp[1:]
    big_f = fp[1:]
    var = (
        alpha**2 * w0[:, None]
        + 2 * alpha * w1
        + 2 * alpha * big_f * w2g[:, None]
        + p_b
        + 2 * big_f * m_bg
        + big_f**2 * r_g[:, None]
    )
    se = np.sqrt(np.maximum(var, 0.0))
    return _Curve(times=times, n_risk=n_risk, n_event=n_event, cif=cif, se=se)


def _log_ci(p: np.ndarray, se: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Log-scale CIs, survfit's default ``conf.type = "log"`` for multi-state curves (NaN where p = 0)."""
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(se == 0, 0.0, se / p)
        low = np.where(p > 0, p * np.exp(-z * rel), np.nan)
        high = np.where(p > 0, np.minimum(p * np.exp(z * rel), 1.0), np.nan)
    return low, high


# ----------------------------------------------------------------------------- result ---


@dataclass(frozen=True, eq=False)
class CumulativeIncidenceResult(TableResult):
    """Aalen–Johansen cumulative incidence curves, one per group and cause.

    Attributes
    ----------
    table
        Columns ``group, cause, time, n_risk, n_event, estimate, std_error, conf_low,
        conf_high``: one row per group, cause and distinct stop time of the group (as
        ``survfit``), ``n_risk`` the rows at risk just before ``time`` and ``n_event`` the
        exits for that cause at ``time`` (both unweighted counts, as survfit), ``estimate``
        the cumulative incidence, ``std_error`` its infinitesimal-jackknife standard error and
        the confidence limits on the log scale (survfit's ``conf.type = "log"``). A split
        point inside one person's follow-up is not an observed time and gets no row
        (survfit's rule: the stop times of people's first and last rows are shown).
    causes
        Cause labels in order.
    groups
        Group labels in order (``("all",)`` without ``group_col``).
    alpha
        1 minus the confidence level.

    Examples
    --------
    Returned by :func:`cumulative_incidence`:

    >>> import pandas as pd
    >>> from coacheval.retention.competing import cumulative_incidence
    >>> df = pd.DataFrame({
    ...     "months": [3, 5, 5, 8, 12, 12, 15, 20, 4, 9, 11, 18],
    ...     "exit": ["voluntary", "retirement", 0, "voluntary", 0, "voluntary", "retirement", 0,
    ...              "voluntary", 0, "voluntary", 0],
    ...     "coached": [0] * 8 + [1] * 4,
    ... })
    >>> res = cumulative_incidence(df, stop_col="months", event_col="exit", group_col="coached")
    >>> res.causes, res.groups
    (('retirement', 'voluntary'), (0, 1))
    >>> voluntary = res.table.query("group == 0 and cause == 'voluntary'")
    >>> voluntary[["time", "n_risk", "n_event", "estimate"]].round(3)
        time  n_risk  n_event  estimate
    6    3.0       8        1     0.125
    7    5.0       7        0     0.125
    8    8.0       5        1     0.275
    9   12.0       4        1     0.425
    10  15.0       2        0     0.425
    11  20.0       1        0     0.425
    >>> res.at([12]).round(3)  # the curves at 12 months
       group       cause  time  estimate  std_error  conf_low  conf_high
    0      0  retirement  12.0     0.125      0.117     0.020      0.782
    1      0   voluntary  12.0     0.425      0.187     0.179      1.000
    2      1  retirement  12.0     0.000      0.000       NaN        NaN
    3      1   voluntary  12.0     0.625      0.286     0.255      1.000
    """

    table: pd.DataFrame
    causes: tuple[Any, ...]
    groups: tuple[Any, ...]
    alpha: float
    title: str = "Cumulative incidence (Aalen–Johansen)"
    notes: tuple[str, ...] = field(default=())

    def at(self, times: Sequence[float] | float) -> pd.DataFrame:
        """Cumulative incidence at given times (step function, right-continuous).

        Parameters
        ----------
        times
            Times to evaluate.

        Returns
        -------
        pandas.DataFrame
            Columns ``group, cause, time, estimate, std_error, conf_low, conf_high``. Before a
            group's first time the estimate is 0 (standard error 0, limits NaN); after its
            last observed time the curve is unknown (NaN).

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"t": [1, 2, 3, 4], "e": [1, 2, 0, 1]})
        >>> cumulative_incidence(df, stop_col="t", event_col="e").at([0.5, 2.5])["estimate"].tolist()
        [0.0, 0.25, 0.0, 0.25]
        """
        t = np.atleast_1d(np.asarray(times, dtype=float))
        parts = []
        for (grp, cause), sub in self.table.groupby(["group", "cause"], sort=False):
            tt = sub["time"].to_numpy()
            i = np.searchsorted(tt, t, side="right") - 1
            before = i < 0
            after = t > tt[-1]
            ii = np.clip(i, 0, len(tt) - 1)
            out = {}
            for col in ("estimate", "std_error", "conf_low", "conf_high"):
                v = sub[col].to_numpy(dtype=float)[ii]
                fill = 0.0 if col in ("estimate", "std_error") else np.nan
                v = np.where(before, fill, v)
                out[col] = np.where(after, np.nan, v)
            parts.append(pd.DataFrame({"group": grp, "cause": cause, "time": t, **out}))
        return pd.concat(parts, ignore_index=True)

    def plot(
        self,
        *,
        kind: Literal["curves", "stacked"] = "curves",
        by: Literal["group", "cause"] = "group",
        ci: bool = True,
    ):  # type: ignore[no-untyped-def]
        """Step curves of the cumulative incidence with confidence bands.

        Parameters
        ----------
        kind
            ``"curves"``: one step curve per cause (or group) with its band; ``"stacked"``:
            the causes stacked, so the top edge is the probability of having left for any
            cause (one panel per group; no bands).
        by
            ``"group"``: one panel per group, causes as curves; ``"cause"``: one panel per
            cause, groups as curves (easier to compare groups).
        ci
            Draw the pointwise confidence bands.

        Returns
        -------
        matplotlib.figure.Figure

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"t": [1, 2, 3, 4], "e": [1, 2, 0, 1]})
        >>> fig = cumulative_incidence(df, stop_col="t", event_col="e").plot()
        >>> len(fig.axes)
        1
        """
        from matplotlib.figure import Figure

        if kind not in ("curves", "stacked"):
            raise ConfigError(f"kind must be 'curves' or 'stacked', got {kind!r}", source="kind")
        if by not in ("group", "cause"):
            raise ConfigError(f"by must be 'group' or 'cause', got {by!r}", source="by")
        panels = (
            self.groups if (by == "group" or kind == "stacked") else tuple(map(str, self.causes))
        )
        fig = Figure(figsize=(4.2 * len(panels), 3.4), layout="constrained")
        axes = fig.subplots(1, len(panels), squeeze=False, sharey=True)[0]
        for ax, panel in zip(axes, panels, strict=True):
            key = "group" if (by == "group" or kind == "stacked") else "cause"
            other = "cause" if key == "group" else "group"
            sub = self.table[self.table[key] == panel]
            if kind == "stacked":
                curves = [sub[sub["cause"] == str(c)][["time", "estimate"]] for c in self.causes]
                grid = np.unique(np.concatenate([[0.0], sub["time"].to_numpy(dtype=float)]))
                ys = []
                for cur in curves:
                    tt, yy = cur["time"].to_numpy(float), cur["estimate"].to_numpy(float)
                    i = np.searchsorted(tt, grid, side="right") - 1
                    ys.append(np.where(i < 0, 0.0, yy[np.clip(i, 0, None)]))
                ax.stackplot(grid, *ys, labels=[str(c) for c in self.causes], step="post")
            else:
                for label, cur in sub.groupby(other, sort=False):
                    tt = np.concatenate([[0.0], cur["time"].to_numpy(float)])
                    yy = np.concatenate([[0.0], cur["estimate"].to_numpy(float)])
                    (line,) = ax.step(tt, yy, where="post", label=str(label))
                    if ci:
                        lo = np.concatenate([[0.0], cur["conf_low"].to_numpy(float)])
                        hi = np.concatenate([[0.0], cur["conf_high"].to_numpy(float)])
                        ax.fill_between(
                            tt,
                            np.nan_to_num(lo),
                            np.nan_to_num(hi),
                            step="post",
                            alpha=0.2,
                            color=line.get_color(),
                            linewidth=0,
                        )
            ax.set_title(f"{key}: {panel}" if len(panels) > 1 or key == "cause" else "")
            ax.set_xlabel("time")
            ax.set_ylim(0, None)
            ax.legend(frameon=False, fontsize=8)
        axes[0].set_ylabel("cumulative incidence")
        return fig


# ----------------------------------------------------------------------------- public ---


def cumulative_incidence(
    data: pd.DataFrame,
    *,
    stop_col: str,
    event_col: str,
    start_col: str | None = None,
    group_col: str | None = None,
    weights_col: str | None = None,
    id_col: str | None = None,
    causes: Sequence[Any] | None = None,
    alpha: float = 0.05,
) -> CumulativeIncidenceResult:
    r"""Aalen–Johansen cumulative incidence of each cause, with standard errors and CIs.

    Parameters
    ----------
    data
        One row per person, or per ``(start, stop]`` interval with ``id_col``.
    stop_col
        Exit time of each row.
    event_col
        0, False, ``"0"``, ``"censored"`` or ``"censor"`` when the row ends censored (or is
        followed by the person's next row), otherwise the cause label (e.g. ``"voluntary"``).
    start_col
        Entry time of each row (delayed entry, or split rows); ``None`` means every row is at
        risk from the time origin.
    group_col
        Separate curves per group (e.g. coached / not coached).
    weights_col
        Non-negative case weights (e.g. inverse-probability weights), as survfit's
        ``weights``.
    id_col
        The person each row belongs to (required with ``start_col``); the standard errors sum
        influence within person, as survfit's ``id``.
    causes
        Cause labels in the order wanted; ``None`` takes those in the data. A cause listed
        that never occurs gets a curve of zeros.
    alpha
        1 minus the confidence level.

    Returns
    -------
    CumulativeIncidenceResult

    Raises
    ------
    ConfigError
        A column is absent, ``alpha`` is not in (0, 1), ``start_col`` without ``id_col``, or
        bad ``causes``.
    DataValidationError
        Missing or non-numeric values, ``stop <= start``, negative weights, an event value
        that is not a cause, a person whose rows overlap or leave gaps (survfit refuses these
        too), or an exit recorded before a person's last row.

    Notes
    -----
    At each distinct exit time with weighted number at risk :math:`n`, weighted exits
    :math:`d_k` per cause and :math:`d = \sum_k d_k`, the overall survival is
    :math:`S(t) = S(t-)(1 - d/n)` and :math:`F_k(t) = F_k(t-) + S(t-) d_k / n`. The standard
    error is the infinitesimal jackknife of survival's ``survfitci``:
    :math:`\sqrt{\sum_i w_i^2 U_{ik}(t)^2}`, :math:`U_i` the influence of person :math:`i`
    (for unweighted data without ties it agrees with the usual delta-method/Greenwood-type
    variance to first order). Intervals are ``F exp(± z se / F)`` capped at 1, survfit's
    ``conf.type = "log"`` default for multi-state curves. Rows are at risk at :math:`t` when
    ``start < t <= stop``. Exits with weight 0 are counted in ``n_event`` but do not move the
    curve, as in survfit.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({
    ...     "id": [1, 2, 2, 3, 4, 5, 6],
    ...     "start": [0, 0, 4, 2, 0, 0, 1],
    ...     "stop": [5, 4, 9, 6, 3, 8, 7],
    ...     "exit": ["vol", "censored", "ret", "vol", "censored", "censored", "ret"],
    ...     "coached": [1, 0, 0, 1, 0, 1, 1],
    ... })
    >>> res = cumulative_incidence(df, start_col="start", stop_col="stop", event_col="exit",
    ...                            id_col="id")
    >>> # In R: survfit(Surv(start, stop, factor(exit, c("censored", "ret", "vol"))) ~ 1,
    >>> #               data = df, id = id)   # at 9: pstate 0.6, 0.4; std.err 0.219089 (both)
    >>> res.at([9])[["cause", "estimate", "std_error"]].round(6)
      cause  estimate  std_error
    0   ret       0.6   0.219089
    1   vol       0.4   0.219089
    """
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must be in (0, 1), got {alpha!r}", source="alpha")
    prep = _prepare(
        data,
        start_col=start_col,
        stop_col=stop_col,
        event_col=event_col,
        weights_col=weights_col,
        id_col=id_col,
        causes=causes,
        extra_cols=[group_col] if group_col else [],
    )
    n_causes = len(prep.causes)
    if group_col is None:
        gcodes = np.zeros(len(data), dtype=np.int64)
        glabels: tuple[Any, ...] = ("all",)
    else:
        codes_g, uniq = pd.factorize(data[group_col], sort=True)
        gcodes, glabels = codes_g, tuple(uniq)
    frames = []
    for gi, glabel in enumerate(glabels):
        rows = np.flatnonzero(gcodes == gi)
        if n_causes == 0:
            continue
        cur = _aalen_johansen(
            prep.start[rows],
            prep.stop[rows],
            prep.code[rows],
            prep.weight[rows],
            prep.subject[rows],
            n_causes,
        )
        # report at the stop times of people's first and last rows, as survfit, which
        # merges each middle row (neither first nor last) into the row after it
        sub = prep.subject[rows]
        stop_g = prep.stop[rows]
        order = np.lexsort((stop_g, sub))
        edge = np.ones(rows.size, dtype=bool)
        edge[:-1] = sub[order][1:] != sub[order][:-1]
        edge[1:] |= sub[order][1:] != sub[order][:-1]
        shown = np.isin(cur.times, stop_g[order][edge])
        cur = _Curve(
            times=cur.times[shown],
            n_risk=cur.n_risk[shown],
            n_event=cur.n_event[shown],
            cif=cur.cif[shown],
            se=cur.se[shown],
        )
        low, high = _log_ci(cur.cif, cur.se, alpha)
        n_t = cur.times.size
        for k, cause in enumerate(prep.causes):
            frames.append(
                pd.DataFrame(
                    {
                        "group": glabel,
                        "cause": str(cause),
                        "time": cur.times,
                        "n_risk": cur.n_risk,
                        "n_event": cur.n_event[:, k],
                        "estimate": cur.cif[:, k],
                        "std_error": cur.se[:, k],
                        "conf_low": low[:, k],
                        "conf_high": high[:, k],
                    },
                    index=np.arange(n_t),
                )
            )
    n_exits = int((prep.code > 0).sum())
    if frames:
        table = pd.concat(frames, ignore_index=True)[list(_CIF_COLUMNS)]
    else:
        table = pd.DataFrame(columns=list(_CIF_COLUMNS))
    notes = [
        f"{len(data)} rows, {len(np.unique(prep.subject))} people, {n_exits} exits; causes: "
        + (", ".join(map(str, prep.causes)) if prep.causes else "none (all censored)")
        + ".",
        "Standard errors: infinitesimal jackknife (survfit multi-state); "
        f"{100 * (1 - alpha):g}% CIs on the log scale.",
    ]
    if not prep.causes:
        notes.append("No exits in the data: every curve would be 0, so the table is empty.")
    return CumulativeIncidenceResult(
        table=table,
        causes=prep.causes,
        groups=glabels,
        alpha=alpha,
        notes=tuple(notes),
    )


def cause_specific_cox(
    data: pd.DataFrame,
    *,
    cause: Any,
    event_col: str,
    stop_col: str,
    covariates: Sequence[str],
    start_col: str | None = None,
    causes: Sequence[Any] | None = None,
    ties: Ties = "efron",
    weights_col: str | None = None,
    strata_col: str | None = None,
    cluster_col: str | None = None,
    robust: bool = False,
    alpha: float = 0.05,
    tol: float = 1e-9,
    max_iter: int = 30,
) -> CoxResult:
    """Cox model of the cause-specific hazard of one exit type; other exits are censoring.

    Parameters
    ----------
    data
        One row per person or per ``(start, stop]`` interval.
    cause
        The exit type modelled (a label in ``event_col``).
    event_col
        Censoring (0 / ``"censored"``) or the cause label of each row.
    stop_col, covariates, start_col, ties, weights_col, strata_col, cluster_col, robust, alpha, tol, max_iter
        As :func:`coacheval.retention.cox.fit_cox`. Rows with weight 0 are dropped (coxph
        refuses them; they add nothing to the fit).
    causes
        All cause labels, to check the event column against (``None``: those in the data).

    Returns
    -------
    CoxResult
        As fit_cox, with a ``cause`` column first in ``table`` and a title naming the cause.
        The hazard ratios describe the rate of this exit among those still employed; they do
        not translate into cumulative incidence (see :func:`coacheval.retention.finegray.
        fit_finegray` for that).

    Raises
    ------
    DataValidationError
        ``cause`` is not among the causes, or as :func:`fit_cox`.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({
    ...     "months": [3, 5, 6, 8, 12, 13, 15, 20, 22, 24],
    ...     "exit": ["vol", "ret", "vol", 0, "vol", "ret", 0, "vol", 0, "vol"],
    ...     "coached": [1, 1, 0, 1, 0, 1, 1, 0, 1, 0],
    ... })
    >>> res = cause_specific_cox(df, cause="vol", event_col="exit", stop_col="months",
    ...                          covariates=["coached"])
    >>> # In R: coxph(Surv(months, exit == "vol") ~ coached, data = df)  # coef -1.065788907
    >>> res.table[["cause", "term", "estimate"]].round(6)
      cause     term  estimate
    0   vol  coached -1.065789
    """
    codes, causes_t = event_codes(data[event_col], event_col=event_col, causes=causes)
    match = [k for k, c in enumerate(causes_t) if str(c) == str(cause) or c == cause]
    if not match:
        raise DataValidationError(
            f"cause {cause!r} is not among the causes in {event_col!r}: {list(causes_t)}"
        )
    k = match[0] + 1
    work = data.copy()
    tmp = "__coacheval_cause_event__"
    work[tmp] = (codes == k).astype(np.int64)
    dropped = 0
    if weights_col is not None and weights_col in work.columns:
        wv = pd.to_numeric(work[weights_col], errors="coerce")
        zero = (wv == 0).to_numpy()
        dropped = int(zero.sum())
        work = work.loc[~zero]
    res = fit_cox(
        work,
        start_col=start_col,
        stop_col=stop_col,
        event_col=tmp,
        covariates=covariates,
        ties=ties,
        weights_col=weights_col,
        strata_col=strata_col,
        cluster_col=cluster_col,
        robust=robust,
        alpha=alpha,
        tol=tol,
        max_iter=max_iter,
    )
    label = str(causes_t[k - 1])
    table = res.table.copy()
    table.insert(0, "cause", label)
    others = [str(c) for c in causes_t if str(c) != label]
    notes = [
        f"Cause-specific hazard of {label!r}; other exits ({', '.join(others) or 'none'}) "
        "are treated as censoring.",
        *res.notes,
    ]
    if dropped:
        notes.append(f"{dropped} rows with weight 0 dropped.")
    return dataclasses.replace(
        res,
        table=table,
        title=f"Cause-specific Cox: {label}",
        notes=tuple(notes),
    )


# ------------------------------------------------------------------------ Gray's test ---

_GRAY_COLUMNS = ("cause", "statistic", "df", "p_value", "n_events")


def _gray_stratum(
    time: np.ndarray, m: np.ndarray, g: np.ndarray, n_groups: int, rho: float
) -> tuple[np.ndarray, np.ndarray]:
    """Scores and their covariance for all groups in one stratum (cmprsk's ``crst``).

    ``m`` is 0 (censored), 1 (the cause tested) or 2 (another cause); ``g`` the group code
    ``0..n_groups-1``. Returns the score vector (G,) and covariance matrix (G, G); cmprsk keeps
    the first G - 1 of each.
    """
    G = n_groups
    scores = np.zeros(G)
    var = np.zeros((G, G))
    if time.size == 0:
        return scores, var
    uniq, idx = np.unique(time, return_inverse=True)
    T = uniq.size
    cell = idx * G + g
    n_all = np.bincount(cell, minlength=T * G).reshape(T, G).astype(float)
    d1 = np.bincount(cell, weights=(m == 1), minlength=T * G).reshape(T, G)
    d2 = np.bincount(cell, weights=(m == 2), minlength=T * G).reshape(T, G)
    # at risk at t: time >= t (count of rows from t on)
    rs = np.cumsum(n_all[::-1], axis=0)[::-1]
    keep = (d1 + d2).sum(axis=1) > 0  # only times with an exit change anything
    if not keep.any():
        return scores, var
    rs, d1, d2 = rs[keep], d1[keep], d2[keep]
    at_risk = rs > 0
    safe_rs = np.where(at_risk, rs, 1.0)
    # group-wise all-cause Kaplan-Meier (right- and left-continuous) and cumulative incidence
    skm = np.cumprod(np.where(at_risk, 1.0 - (d1 + d2) / safe_rs, 1.0), axis=0)
    skmm = np.vstack([np.ones((1, G)), skm[:-1]])
    f1 = np.cumsum(np.where(at_risk, skmm * d1 / safe_rs, 0.0), axis=0)
    f1m = np.vstack([np.zeros((1, G)), f1[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(at_risk, rs / np.where(at_risk, skmm, 1.0), 0.0)  # (T, G)
    tr = h.sum(axis=1)  # > 0: someone is at risk at an exit time
    tq = (h * (1.0 - f1m)).sum(axis=1)
    nd1 = d1.sum(axis=1)
    f = np.cumsum(nd1 / tr)  # pooled cumulative incidence, right-continuous
    fm = np.concatenate([[0.0], f[:-1]])
    fb = (1.0 - fm) ** rho
    with np.errstate(divide="ignore", invalid="ignore"):
        expect = np.where(nd1[:, None] > 0, nd1[:, None] * h * (1.0 - f1m) / tq[:, None], 0.0)
    scores = (fb[:, None] * (d1 - expect)).sum(axis=0)
    # a_t = fb (diag(h) - h h' / tr); c = cumulative sum of a_t nd1 / (tr (1 - fm))
    a = -(fb / tr)[:, None, None] * h[:, :, None] * h[:, None, :]
    diag = np.arange(G)
    a[:, diag, diag] += fb[:, None] * h
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.where(nd1 > 0, nd1 / (tr * (1.0 - fm)), 0.0)
    c = np.cumsum(a * step[:, None, None], axis=0)  # (T, G, G): [t, i, k]
    v3 = np.zeros(G)
    v2 = np.zeros((G, G))
    # exits from the cause tested
    ok1 = (nd1[:, None] > 0) & at_risk
    safe_skm = np.where(skm > 0, skm, 1.0)
    t4 = np.where(skm > 0, 1.0 - (1.0 - f[:, None]) / safe_skm, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t5 = np.where(
            nd1[:, None] > 1, 1.0 - (nd1[:, None] - 1.0) / (tr[:, None] * skmm - 1.0), 1.0
        )
        t3 = np.where(ok1, t5 * skmm * nd1[:, None] / (tr[:, None] * safe_rs), 0.0)
    t4 = np.where(ok1, t4, 0.0)
    v3 += (t4 * t4 * t3).sum(axis=0)
    t1 = a - t4[:, None, :] * c
    t1 = np.where(ok1[:, None, :], t1, 0.0)
    v2 += np.einsum("tik,tk->ik", t1, t4 * t3)
    var += np.einsum("tik,tjk,tk->ij", t1, t1, t3)
    # exits from the other causes
    ok2 = (skm > 0) & (d2 > 0)
    t4b = np.where(ok2, (1.0 - f[:, None]) / safe_skm, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t5b = np.where(d2 > 1, 1.0 - (d2 - 1.0) / (rs - 1.0), 1.0)
        t3b = np.where(ok2, t5b * skmm**2 * d2 / safe_rs**2, 0.0)
    v3 += (t4b * t4b * t3b).sum(axis=0)
    t1b = t4b[:, None, :] * c
    v2 -= np.einsum("tik,tk->ik", t1b, t4b * t3b)
    var += np.einsum("tik,tjk,tk->ij", t1b, t1b, t3b)
    cT = c[-1]
    var += (cT * v3) @ cT.T + cT @ v2.T + v2 @ cT.T
    return scores, var


def _quadratic_form(s: np.ndarray, v: np.ndarray) -> float:
    """``s' V^-1 s``, NaN when V is rank-deficient (cmprsk: LINPACK QR, tolerance 1e-7)."""
    if v.size == 0 or not np.isfinite(v).all() or not np.isfinite(s).all():
        return float("nan")
    r = np.linalg.qr(v, mode="r")
    rd = np.abs(np.diag(r))
    if rd.max() <= 0 or (rd < 1e-7 * np.linalg.norm(v, axis=0).max()).any():
        return float("nan")
    return float(s @ np.linalg.solve(v, s))


@dataclass(frozen=True)
class GrayTestResult(TableResult):
    r"""Gray's K-sample test that the cumulative incidence of a cause is equal across groups.

    Attributes
    ----------
    table
        Columns ``cause, statistic, df, p_value, n_events``: one row per cause tested, the
        chi-square statistic on ``df`` = groups - 1 degrees of freedom, its p-value and the
        number of exits from that cause. The statistic is NaN when its covariance matrix is
        singular (e.g. no exits from the cause; cmprsk reports -1 and p = 1 there).
    causes
        Cause labels tested, in table order.
    groups
        Group labels (those with at least one row), in order.
    rho
        Power of the weight :math:`(1 - \hat F(t-))^\rho`.
    n_strata
        Number of strata.
    scores
        Per cause, the score (observed minus expected weighted exits) of every group but the
        last, summed over strata (cmprsk's ``s``).
    variances
        Per cause, the covariance matrix of ``scores`` (cmprsk's ``vs``).

    Examples
    --------
    Returned by :func:`gray_test`:

    >>> import pandas as pd
    >>> from coacheval.retention.competing import gray_test
    >>> df = pd.DataFrame({
    ...     "months": [3, 5, 5, 8, 12, 12, 15, 20, 4, 9, 11, 18],
    ...     "exit": ["vol", "ret", 0, "vol", 0, "vol", "ret", 0, "vol", 0, "vol", 0],
    ...     "coached": [0] * 6 + [1] * 6,
    ... })
    >>> res = gray_test(df, time_col="months", event_col="exit", group_col="coached")
    >>> res.causes, res.groups
    (('ret', 'vol'), (0, 1))
    >>> res.table.columns.tolist()
    ['cause', 'statistic', 'df', 'p_value', 'n_events']
    """

    table: pd.DataFrame
    causes: tuple[Any, ...]
    groups: tuple[Any, ...]
    rho: float
    n_strata: int
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    variances: dict[str, np.ndarray] = field(default_factory=dict)
    title: str = "Gray's test of equal cumulative incidence"
    notes: tuple[str, ...] = field(default=())

    def plot(self, *, alpha: float = 0.05) -> Any:
        """Bar chart of the statistic per cause, with the chi-square critical value.

        Parameters
        ----------
        alpha
            Level of the critical value drawn.

        Returns
        -------
        matplotlib.figure.Figure

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6], "e": [1, 2, 1, 0, 1, 2],
        ...                    "g": [0, 0, 0, 1, 1, 1]})
        >>> fig = gray_test(df, time_col="t", event_col="e", group_col="g").plot()
        >>> len(fig.axes)
        1
        """
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5.0, 0.6 + 0.5 * max(len(self.table), 1)), layout="constrained")
        ax = fig.subplots()
        labels = self.table["cause"].astype(str).tolist()
        stat = self.table["statistic"].to_numpy(dtype=float)
        ax.barh(labels, np.nan_to_num(stat), color="tab:blue")
        df_ = len(self.groups) - 1
        crit = float(stats.chi2.isf(alpha, df_))
        ax.axvline(crit, color="tab:red", linestyle="--", label=f"chi-square({df_}) {1 - alpha:g}")
        ax.set_xlabel("Gray's statistic")
        ax.legend(frameon=False, fontsize=8)
        return fig


def gray_test(
    data: pd.DataFrame,
    *,
    time_col: str,
    event_col: str,
    group_col: str,
    cause: Any = None,
    rho: float = 0.0,
    strata_col: str | None = None,
) -> GrayTestResult:
    r"""Gray's K-sample test of equal cumulative incidence across groups, per cause.

    As ``cmprsk::cuminc(ftime, fstatus, group, strata, rho)$Tests`` (Gray 1988, *Annals of
    Statistics* 16:1141-1154).

    Parameters
    ----------
    data
        One row per person.
    time_col
        Exit (or censoring) time.
    event_col
        0, False, ``"0"``, ``"censored"`` or ``"censor"`` when censored, otherwise the cause.
    group_col
        The groups compared (at least two with rows).
    cause
        A cause label or a list of them; ``None`` tests every cause in the data. A cause with
        no exits gets a NaN statistic (with a note).
    rho
        Power of the weight :math:`(1 - \hat F^{0}(t-))^\rho`; 0 (the default) weights all
        times alike, positive values up-weight early differences, negative late ones.
    strata_col
        Stratify: scores and variances are computed within strata and summed, as cuminc's
        ``strata``.

    Returns
    -------
    GrayTestResult

    Raises
    ------
    ConfigError
        A column is absent, ``rho`` is not a finite number, or fewer than two groups.
    DataValidationError
        Missing or non-numeric times, missing events or groups, an event value that is
        neither censoring nor a cause, or no exits at all with ``cause=None``.

    Notes
    -----
    Within each stratum, at each distinct exit time :math:`t` with :math:`R_g` at risk in
    group :math:`g`, group Kaplan–Meier (all causes) :math:`\hat S_g(t-)` and cumulative
    incidence :math:`\hat F_g(t-)` of the cause, let :math:`h_g = R_g / \hat S_g(t-)` and
    :math:`\hat F^0` the pooled cumulative incidence with increments
    :math:`d / \sum_g h_g`. The score of group :math:`g` is

    .. math:: s_g = \sum_t (1 - \hat F^0(t-))^\rho \Big(d_g - d\,
       \frac{h_g (1 - \hat F_g(t-))}{\sum_r h_r (1 - \hat F_r(t-))}\Big)

    and its covariance the estimator of Gray's paper, exactly as cmprsk's Fortran ``crstm``
    (with its tie corrections). The statistic :math:`s' V^{-1} s` over the first K-1 groups is
    chi-square with K-1 degrees of freedom under the null. Times only (no delayed entry or
    weights): cmprsk has none. Vectorised over exit times; one pass per stratum and cause.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({
    ...     "months": [3, 5, 5, 8, 12, 12, 15, 20, 4, 9, 11, 18, 2, 6, 7, 10],
    ...     "exit": ["vol", "ret", 0, "vol", 0, "vol", "ret", 0,
    ...              "vol", 0, "vol", 0, "vol", "vol", "ret", "vol"],
    ...     "coached": [0] * 8 + [1] * 8,
    ... })
    >>> res = gray_test(df, time_col="months", event_col="exit", group_col="coached")
    >>> # In R: cuminc(df$months, df$exit, df$coached)$Tests
    >>> #       ret stat 0.5020428319 pv 0.4786038923; vol stat 1.1388110782 pv 0.2859036929
    >>> res.table.round(4)
      cause  statistic  df  p_value  n_events
    0   ret     0.5020   1   0.4786         3
    1   vol     1.1388   1   0.2859         8
    """
    if not isinstance(rho, int | float | np.integer | np.floating) or not np.isfinite(rho):
        raise ConfigError(f"rho must be a finite number, got {rho!r}", source="rho")
    extra = [group_col] + ([strata_col] if strata_col else [])
    prep = _prepare(
        data,
        start_col=None,
        stop_col=time_col,
        event_col=event_col,
        weights_col=None,
        id_col=None,
        causes=None,
        extra_cols=extra,
    )
    if data[group_col].isna().any():
        raise DataValidationError(f"missing values in group column {group_col!r}")
    gcode, glabels = pd.factorize(data[group_col], sort=True)
    groups = tuple(glabels)
    G = len(groups)
    if G < 2:
        raise ConfigError(
            f"Gray's test compares groups, but {group_col!r} has {G} value(s) "
            f"({list(groups)}); it needs at least two",
            source="group_col",
        )
    if strata_col is None:
        scode = np.zeros(len(data), dtype=np.int64)
        n_strata = 1
    else:
        scode, slabels = pd.factorize(data[strata_col], sort=True)
        n_strata = len(slabels)
    notes: list[str] = []
    if cause is None:
        if not prep.causes:
            raise DataValidationError(
                f"no exits of any cause in {event_col!r} (all rows censored): nothing to test"
            )
        wanted = list(prep.causes)
    else:
        wanted = list(cause) if isinstance(cause, list | tuple) else [cause]
    text_key = {str(c): k + 1 for k, c in enumerate(prep.causes)}
    text_key.update({_float_text(c): k + 1 for k, c in enumerate(prep.causes) if _is_number(c)})
    order = np.lexsort((prep.stop, scode))
    t_s, g_s, s_s, code_s = prep.stop[order], gcode[order], scode[order], prep.code[order]
    bounds = np.searchsorted(s_s, np.arange(n_strata + 1))
    rows, scores, variances = [], {}, {}
    for label in wanted:
        k = text_key.get(str(label), text_key.get(_float_text(label), 0))
        # cmprsk's coding: 0 censored, 1 the cause tested, 2 another cause (k = 0: absent)
        m = np.where(code_s == 0, 0, np.where(code_s == k, 1, 2))
        s_tot = np.zeros(G)
        v_tot = np.zeros((G, G))
        for st in range(n_strata):
            lo, hi = bounds[st], bounds[st + 1]
            s_k, v_k = _gray_stratum(t_s[lo:hi], m[lo:hi], g_s[lo:hi], G, float(rho))
            s_tot += s_k
            v_tot += v_k
        s_use, v_use = s_tot[: G - 1], v_tot[: G - 1, : G - 1]
        n_ev = int((m == 1).sum())
        stat = _quadratic_form(s_use, v_use) if n_ev else float("nan")
        p = float(stats.chi2.sf(stat, G - 1)) if np.isfinite(stat) else float("nan")
        if n_ev == 0:
            notes.append(f"Cause {label!r} has no exits: nothing to test (statistic NaN).")
        elif not np.isfinite(stat):
            notes.append(
                f"Cause {label!r}: the score covariance is singular, so the statistic is NaN "
                "(cmprsk reports -1)."
            )
        rows.append((str(label), stat, G - 1, p, n_ev))
        scores[str(label)] = s_use
        variances[str(label)] = v_use
    table = pd.DataFrame(rows, columns=list(_GRAY_COLUMNS))
    notes.insert(
        0,
        f"{len(data)} rows, {G} groups ({', '.join(map(str, groups))}), {n_strata} "
        f"strat{'um' if n_strata == 1 else 'a'}, rho = {rho:g}; chi-square on {G - 1} df.",
    )
    return GrayTestResult(
        table=table,
        causes=tuple(wanted),
        groups=groups,
        rho=float(rho),
        n_strata=n_strata,
        scores=scores,
        variances=variances,
        notes=tuple(notes),
    )
