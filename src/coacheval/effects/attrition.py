"""Attrition: who answered the follow-up survey, and how responders differ from non-responders.

For each group (participants, comparison) and overall: the number answering at baseline, the
number of them answering at follow-up, and the response rate with a Wilson score 95% interval
(``prop.test(x, n, correct = FALSE)$conf.int`` in R). The difference in response rates between
groups (participants minus comparison) has a Wald interval.

Within each group, baseline characteristics of responders are compared with those of
non-responders by standardised mean differences (``smd_continuous`` / ``smd_categorical`` from
:mod:`coacheval.measures.baseline`, responders minus non-responders). Attrition that is
*differential* — responders differ from non-responders in one group more than in the other —
threatens a comparison of follow-up outcomes, and calls for weighting or multiple imputation
(:mod:`coacheval.effects.imputation`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from coacheval.errors import ConfigError, DataValidationError
from coacheval.measures.baseline import baseline_table
from coacheval.results import TableResult

__all__ = ["AttritionTable", "attrition_table", "wilson_interval"]

STATUS_LABELS = ("Responders", "Non-responders")


def wilson_interval(x: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion, as ``prop.test(x, n, correct = FALSE)``.

    Parameters
    ----------
    x
        Number of successes.
    n
        Number of trials (NaNs are returned when it is 0).
    level
        Confidence level.

    Returns
    -------
    tuple of float

    Examples
    --------
    >>> [round(v, 4) for v in wilson_interval(40, 50)]  # In R: prop.test(40, 50, correct = FALSE)
    [0.6696, 0.8876]
    """
    if n == 0:
        return (np.nan, np.nan)
    z = stats.norm.ppf(1 - (1 - level) / 2)
    p = x / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    low = 0.0 if x <= 0 else max(centre - half, 0.0)  # prop.test: exactly 0 and 1 at the ends
    high = 1.0 if x >= n else min(centre + half, 1.0)
    return (float(low), float(high))


@dataclass(frozen=True)
class AttritionTable(TableResult):
    """Response at follow-up by group, and responders against non-responders at baseline.

    Attributes
    ----------
    table
        Response rates: ``group, n_baseline, n_responded, n_lost, response_rate, conf_low,
        conf_high`` (one row per group, then ``All``).
    characteristics
        Baseline description: ``group, variable, level, status, n, mean, sd, percent,
        suppressed`` (``status`` is ``Responders`` or ``Non-responders``).
    smd
        ``group, variable, smd``: responders minus non-responders within each group (continuous
        SMDs are signed, categorical ones are not); NaN when one side is empty (or, for a
        continuous variable, has fewer than 2 values).
    rate_difference
        Difference in response rates, first group minus second, with its Wald interval
        ``(estimate, conf_low, conf_high)``; NaNs with a single group.

    Examples
    --------
    Returned by :func:`attrition_table`:

    >>> import pandas as pd
    >>> from coacheval.effects.attrition import attrition_table
    >>> df = pd.DataFrame({"g": [1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0],
    ...                    "resp": [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 0, 1],
    ...                    "base": [3.0, 4, 3.5, 2, 3, 2.5, 2.5, 2, 4, 3, 3.5, 3]})
    >>> t = attrition_table(df, responded_col="resp", group_col="g", continuous=["base"])
    >>> t.table[["group", "n_baseline", "n_responded", "response_rate", "conf_low"]].round(3)
              group  n_baseline  n_responded  response_rate  conf_low
    0  Participants           6            4          0.667     0.300
    1    Comparison           6            3          0.500     0.188
    2           All          12            7          0.583     0.320
    >>> [round(v, 3) for v in t.rate_difference]  # participants - comparison, with its 95% CI
    [0.167, -0.383, 0.717]
    >>> t.characteristics[["group", "status", "n", "mean", "sd"]].round(3)
              group          status  n   mean     sd
    0  Participants      Responders  4  3.375  0.479
    1  Participants  Non-responders  2  2.250  0.354
    2    Comparison      Responders  3  2.833  0.289
    3    Comparison  Non-responders  3  3.167  1.041
    >>> t.smd.round(3)
              group variable    smd
    0  Participants     base  2.673
    1    Comparison     base -0.436
    """

    table: pd.DataFrame
    characteristics: pd.DataFrame
    smd: pd.DataFrame
    rate_difference: tuple[float, float, float]
    title: str = "Attrition: response at follow-up"
    notes: tuple[str, ...] = field(default=())


def _flag(series: pd.Series, name: str) -> pd.Series:
    """Return a 0/1 or boolean column as booleans, refusing missing or other values."""
    if series.isna().any():
        raise DataValidationError(
            f"attrition_table: {name} has missing values; code them as 0/False",
            failure_cases=series[series.isna()],
        )
    bad = ~series.isin([0, 1, True, False])
    if bad.any():
        raise DataValidationError(
            f"attrition_table: {name} must be 0/1 or True/False, found "
            f"{sorted(map(str, series[bad].unique()))[:5]}",
            failure_cases=series[bad],
        )
    return series.astype(bool)


def attrition_table(
    data: pd.DataFrame,
    *,
    responded_col: str,
    group_col: str | None = None,
    continuous: Sequence[str] = (),
    categorical: Sequence[str] = (),
    group_labels: tuple[str, str] = ("Participants", "Comparison"),
    min_cell: int = 0,
    level: float = 0.95,
) -> AttritionTable:
    """Follow-up response rates by group and baseline differences of responders vs non-responders.

    Parameters
    ----------
    data
        One row per baseline respondent, with their baseline characteristics.
    responded_col
        1/True if the person answered at follow-up, 0/False if not.
    group_col
        1/True for participants, 0/False for the comparison group; ``None`` for one group.
    continuous, categorical
        Baseline characteristics to compare (e.g. baseline score, tenure; role, unit type).
    group_labels
        Display names of the two groups (participants first).
    min_cell
        Category counts from 1 to ``min_cell - 1`` are suppressed, as in the baseline table.
    level
        Confidence level of the intervals.

    Returns
    -------
    AttritionTable

    Raises
    ------
    ConfigError
        An absent column, or ``level`` not in (0, 1).
    DataValidationError
        ``responded_col`` or ``group_col`` has missing or non-0/1 values, or ``data`` is empty.

    Examples
    --------
    >>> df = pd.DataFrame({"g": [1, 1, 1, 1, 0, 0, 0, 0], "resp": [1, 1, 1, 0, 1, 0, 0, 1],
    ...                    "base": [3.0, 4, 3.5, 2, 3, 2.5, 2, 4]})
    >>> t = attrition_table(df, responded_col="resp", group_col="g", continuous=["base"])
    >>> t.table[["group", "n_baseline", "n_responded", "response_rate"]]
              group  n_baseline  n_responded  response_rate
    0  Participants           4            3          0.750
    1    Comparison           4            2          0.500
    2           All           8            5          0.625
    """
    needed = [responded_col, *([group_col] if group_col else []), *continuous, *categorical]
    absent = [c for c in needed if c not in data]
    if absent:
        raise ConfigError(f"attrition_table: no column(s) {', '.join(absent)}")
    if not 0 < level < 1:
        raise ConfigError(f"attrition_table: level must be in (0, 1), got {level}")
    if len(data) == 0:
        raise DataValidationError("attrition_table: no rows")
    responded = _flag(data[responded_col], responded_col)
    if group_col is None:
        groups: list[tuple[str, pd.Series]] = [("All", pd.Series(True, index=data.index))]
    else:
        flag = _flag(data[group_col], group_col)
        groups = [(group_labels[0], flag), (group_labels[1], ~flag)]

    everyone = pd.Series(True, index=data.index)
    rows = []
    for label, mask in [*groups, ("All", everyone)] if group_col else groups:
        n = int(mask.sum())
        x = int((responded & mask).sum())
        low, high = wilson_interval(x, n, level)
        rows.append(
            {
                "group": label,
                "n_baseline": n,
                "n_responded": x,
                "n_lost": n - x,
                "response_rate": x / n if n else np.nan,
                "conf_low": low,
                "conf_high": high,
            }
        )
    table = pd.DataFrame(rows)

    if group_col is None:
        rate_difference = (np.nan, np.nan, np.nan)
    else:
        (n1, x1), (n0, x0) = [
            (int(r.n_baseline), int(r.n_responded)) for r in table.iloc[:2].itertuples()
        ]
        if n1 and n0:
            p1, p0 = x1 / n1, x0 / n0
            se = np.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
            z = stats.norm.ppf(1 - (1 - level) / 2)
            rate_difference = (p1 - p0, p1 - p0 - z * se, p1 - p0 + z * se)
        else:
            rate_difference = (np.nan, np.nan, np.nan)

    described, smds = [], []
    if continuous or categorical:
        for label, mask in groups:
            part = data.loc[mask].assign(_responded=responded[mask])
            if part.empty:
                continue
            base = baseline_table(
                part,
                group_col="_responded",
                continuous=continuous,
                categorical=categorical,
                group_labels=STATUS_LABELS,
                min_cell=min_cell,
            )
            described.append(base.table.rename(columns={"group": "status"}).assign(group=label))
            smd = base.smd.assign(group=label)
            n_resp = int(part["_responded"].sum())
            if n_resp == 0 or n_resp == len(part):
                smd["smd"] = np.nan
            else:
                # a continuous SMD needs an SD on both sides (baseline_table reports 0 instead)
                counts = base.table[base.table.level.isna()].groupby("variable")["n"].min()
                smd.loc[smd.variable.map(counts).lt(2), "smd"] = np.nan
            smds.append(smd)
    characteristics = (
        pd.concat(described, ignore_index=True)[
            ["group", "variable", "level", "status", "n", "mean", "sd", "percent", "suppressed"]
        ]
        if described
        else pd.DataFrame(
            columns=[
                *("group", "variable", "level", "status", "n", "mean", "sd", "percent"),
                "suppressed",
            ]
        )
    )
    smd_table = (
        pd.concat(smds, ignore_index=True)[["group", "variable", "smd"]]
        if smds
        else pd.DataFrame(columns=["group", "variable", "smd"])
    )
    pct = round(100 * level)
    notes = [
        f"Response rate: share of baseline respondents who answered at follow-up ({pct}% Wilson "
        "intervals).",
        "SMD: responders minus non-responders within each group; |SMD| > 0.1 is a notable "
        "difference, and a difference that is larger in one group suggests differential attrition.",
    ]
    if group_col is not None and np.isfinite(rate_difference[0]):
        notes.append(
            f"Difference in response rates ({group_labels[0]} - {group_labels[1]}): "
            f"{rate_difference[0]:.3f} ({pct}% CI {rate_difference[1]:.3f} to "
            f"{rate_difference[2]:.3f})."
        )
    if min_cell:
        notes.append(f"Category counts below {min_cell} are suppressed.")
    return AttritionTable(
        table=table,
        characteristics=characteristics,
        smd=smd_table,
        rate_difference=tuple(float(v) for v in rate_difference),  # type: ignore[arg-type]
        notes=tuple(notes),
    )
