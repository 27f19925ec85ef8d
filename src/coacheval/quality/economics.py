"""Economics of the program (Phillips level 5): cost, turnovers avoided, net benefit and ROI.

Four pieces:

* :func:`program_cost` — the program's cost from the cost extract (table ``program_costs``):
  total, by category and by cohort, within a time window.
* :class:`CostAssumptions` — the cost of one nurse-leader turnover, with its source, currency
  and price year (documented defaults from DOMAIN.md, or a figure the analysis plan states).
* :func:`turnovers_avoided` — expected voluntary exits among the coached without the program
  minus those with it.
* :func:`roi` — benefit, net benefit, ROI and benefit–cost ratio, each with an interval carried
  from the hazard ratio's sampling distribution, the probability that the program paid for
  itself, and the break-even effect.

The closed form
---------------
With ``PY`` the person-years the coached leaders were observed while enrolled (exposure as
observed), ``r`` the voluntary exit rate per person-year of leaders not (yet) enrolled, ``HR``
the voluntary-exit hazard ratio of enrolment and ``c`` the cost of one leader turnover::

    turnovers avoided  T   = PY * r * (1 - HR)
    benefit            B   = T * c
    net benefit        N   = B - cost
    ROI (%)                = N / cost * 100
    benefit-cost ratio     = B / cost
    break-even HR      HR* = 1 - cost / (PY * r * c)

The approximation: rates are constant over the period, the not-yet-enrolled rate is what the
coached would have had without the program (the hazard ratio carries whatever adjustment its
model made, nothing more), and the exposure is taken as observed — the program's effect on
exits would itself lengthen exposure a little, which is ignored (second order when exits are
rare). A negative ``T`` (HR above 1) is a cost: turnovers caused.

Uncertainty
-----------
Point values come from the point hazard ratio (the closed form). Intervals come from
simulation: ``log HR ~ N(log HR_hat, se^2)`` (seeded), optionally with the baseline rate drawn
from ``Gamma(x, PY0)`` (``x`` exits in ``PY0`` not-yet-enrolled person-years, the posterior of
a Poisson rate under the ``1/rate`` prior) when ``baseline_events`` is given. Program cost and
cost per turnover are treated as known (use :attr:`CostAssumptions.cost_per_turnover_range`
for a sensitivity analysis). With only the hazard ratio carried, every quantity is a monotone
function of ``log HR``, so the percentile limits equal the transformed Wald limits up to Monte
Carlo error and ``P(net > 0) = Phi((log HR* - log HR_hat) / se)``.

Examples
--------
>>> from coacheval.quality.economics import roi
>>> res = roi(cost=150_000, hazard_ratio=0.8, log_hr_se=0.25, exposed_person_years=300,
...           baseline_rate=0.09, cost_per_turnover=150_000, seed=1)
>>> round(res.estimate("net_benefit"))
660000
>>> round(res.break_even_hazard_ratio, 4)
0.963

The cost categories of the data contract, and the source of each default cost assumption:

>>> from coacheval.quality.economics import COST_CATEGORIES, COST_SOURCES
>>> COST_CATEGORIES
('training', 'staff', 'faculty', 'events', 'materials', 'participant_time', 'other')
>>> COST_SOURCES["cost_per_rn_turnover_usd"][:38]
'[S] USD 61,110 per bedside RN turnover'

What the return inherits from the hazard ratio depends on the design:

>>> from coacheval.quality.economics import BIAS_NOTES
>>> print(BIAS_NOTES["staggered_did"])
the return inherits the retention hazard ratio's biases; where volunteers are more engaged than
their peers it overstates the benefit (docs/calibration.md)
>>> BIAS_NOTES["randomised_rollout"][:70]
"the return inherits the retention hazard ratio's imprecision, not a se"
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from coacheval.errors import CoachevalWarning, ConfigError, DataValidationError
from coacheval.results import TableResult
from coacheval.retention._inputs import MAX_LISTED, rows_list

__all__ = [
    "BIAS_NOTES",
    "COST_CATEGORIES",
    "COST_SOURCES",
    "CostAssumptions",
    "CostResult",
    "ROIResult",
    "TurnoversAvoidedResult",
    "program_cost",
    "roi",
    "turnovers_avoided",
]

COST_CATEGORIES: tuple[str, ...] = (
    "training",
    "staff",
    "faculty",
    "events",
    "materials",
    "participant_time",
    "other",
)
"""Cost categories of the ``program_costs`` table (the data contract's allowed values)."""

PROGRAM_WIDE = "program-wide"
"""Label of cost items that belong to no cohort (empty ``cohort_id``)."""

COST_SOURCES: dict[str, str] = {
    "leader_annual_salary_usd": (
        "[U] nurse manager at USD 66/hour x 2080 hours, the simulator's wage for the role "
        "(simulate/costs.py HOURLY_WAGE_BY_ROLE); replace with the system's own salary"
    ),
    "salary_multiple": (
        "[S] replacement cost 0.75-2.0 x salary in nursing turnover research (OJIN 2007, as quoted); "
        "CAP (Boushey & Glynn 2012): 21% typical, up to 213% for executive roles (DOMAIN.md 2.1). "
        "No nurse-manager-specific figure found; 1.0 is mid-range"
    ),
    "downstream_rn_turnover_points": (
        "[S] RN retention on a manager's team falls 2-4 points in the 12 months after a manager "
        "transition (Laudio/AONL 2024, observational; DOMAIN.md 2.1)"
    ),
    "rn_span_of_control": "[S] median span of control 46 RNs per manager (Laudio/AONL Apr 2024)",
    "cost_per_rn_turnover_usd": (
        "[S] USD 61,110 per bedside RN turnover, range 49,500-72,700 (NSI 2025 report, CY2024)"
    ),
    "price_year": "[S] 2024: the year of the RN turnover cost (NSI CY2024); salary assumed current",
}
"""Source of every default of :class:`CostAssumptions` (grades as in DOMAIN.md: [V], [S], [U])."""


# ---------------------------------------------------------------------------- helpers ---


def _positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    v = float(value) if ok else math.nan
    if not (ok and math.isfinite(v) and (v >= 0 if allow_zero else v > 0)):
        rule = "a finite number >= 0" if allow_zero else "a finite number > 0"
        raise ConfigError(f"{name} must be {rule}, got {value!r}")
    return v


def _money(value: float, currency: str = "USD") -> str:
    sign = "-" if value < 0 else ""
    symbol = "$" if currency == "USD" else f"{currency} "
    return f"{sign}{symbol}{abs(value):,.0f}"


def _check_level(level: Any) -> float:
    ok = isinstance(level, (int, float, np.floating)) and not isinstance(level, bool)
    if not (ok and 0 < float(level) < 1):
        raise ConfigError(
            f"level must be a number strictly between 0 and 1 (e.g. 0.95), got {level!r}"
        )
    return float(level)


# ------------------------------------------------------------------------------ costs ---


@dataclass(frozen=True, eq=False)
class CostResult(TableResult):
    """The program's cost from the cost extract, within a time window.

    Attributes
    ----------
    table
        ``level`` (``"total"``, ``"category"`` or ``"cohort"``), ``group``, ``n_items``,
        ``amount_usd`` and ``share`` (of the total); categories in the data contract's order,
        cohorts in sorted order with ``"program-wide"`` last.
    total
        Total cost in the window (USD).
    n_items, n_excluded
        Cost items counted, and items left out because they fall outside the window.
    start, end
        The window asked for (``None`` when open).
    first_date, last_date
        Dates of the first and last item counted (``None`` when there is none).

    Examples
    --------
    Returned by :func:`program_cost`:

    >>> import pandas as pd
    >>> from coacheval.quality.economics import program_cost
    >>> costs = pd.DataFrame({
    ...     "cohort_id": ["", "C1", "C1", "C2"],
    ...     "category": ["training", "faculty", "participant_time", "faculty"],
    ...     "cost_date": ["2023-01-10", "2023-02-01", "2024-01-31", "2024-03-01"],
    ...     "amount_usd": [18000.0, 22000.0, 9500.0, 22000.0]})
    >>> res = program_cost(costs, end="2024-01-31")
    >>> res.total, res.n_items, res.n_excluded, res.window
    (49500.0, 3, 1, '2023-01-10 to 2024-01-31')
    >>> res.by_category
    training            18000.0
    faculty             22000.0
    participant_time     9500.0
    Name: amount_usd, dtype: float64
    >>> res.table.round(3)
          level             group  n_items  amount_usd  share
    0     total               all        3     49500.0  1.000
    1  category          training        1     18000.0  0.364
    2  category           faculty        1     22000.0  0.444
    3  category  participant_time        1      9500.0  0.192
    4    cohort                C1        2     31500.0  0.636
    5    cohort      program-wide        1     18000.0  0.364
    """

    table: pd.DataFrame
    total: float
    n_items: int
    n_excluded: int
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    first_date: pd.Timestamp | None
    last_date: pd.Timestamp | None
    title: str = "Program cost"
    notes: tuple[str, ...] = field(default=())

    @property
    def by_category(self) -> pd.Series:
        """Cost by category (USD), indexed by category."""
        t = self.table[self.table.level == "category"]
        return pd.Series(t.amount_usd.to_numpy(), index=t.group.to_numpy(), name="amount_usd")

    @property
    def by_cohort(self) -> pd.Series:
        """Cost by cohort (USD), indexed by cohort id (``"program-wide"`` for shared items)."""
        t = self.table[self.table.level == "cohort"]
        return pd.Series(t.amount_usd.to_numpy(), index=t.group.to_numpy(), name="amount_usd")

    @property
    def window(self) -> str:
        """The period the cost covers, as text (the items' dates when the window is open)."""
        lo = self.start if self.start is not None else self.first_date
        hi = self.end if self.end is not None else self.last_date
        if lo is None or hi is None:
            return "no cost items"
        return f"{lo:%Y-%m-%d} to {hi:%Y-%m-%d}"

    def plot(self) -> Figure:
        """Plot the cost by category as horizontal bars.

        Returns
        -------
        matplotlib.figure.Figure
            The figure (not shown).

        Examples
        --------
        >>> import pandas as pd
        >>> costs = pd.DataFrame({"category": ["staff", "faculty"],
        ...                       "cost_date": ["2024-01-01", "2024-02-01"],
        ...                       "amount_usd": [1000.0, 500.0]})
        >>> program_cost(costs).plot().axes[0].get_xlabel()
        'Cost (USD)'
        """
        by = self.by_category
        fig = Figure(figsize=(6.0, 0.8 + 0.4 * max(len(by), 1)), layout="constrained")
        ax = fig.add_subplot(1, 1, 1)
        y = np.arange(len(by))[::-1]
        ax.barh(y, by.to_numpy(), color="C0")
        ax.set_yticks(y)
        ax.set_yticklabels(list(by.index))
        ax.set_xlabel("Cost (USD)")
        ax.set_title(f"Program cost {_money(self.total)} ({self.window})")
        ax.spines[["top", "right"]].set_visible(False)
        return fig


def _parse_bound(name: str, value: Any) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{name} must be a date (e.g. '2024-06-30'), got {value!r}") from exc
    if pd.isna(ts):
        raise ConfigError(f"{name} must be a date (e.g. '2024-06-30'), got {value!r}")
    return ts


def program_cost(costs: pd.DataFrame, *, start: Any = None, end: Any = None) -> CostResult:
    """Total the program's cost items, by category and by cohort, within a time window.

    Parameters
    ----------
    costs
        The ``program_costs`` table (validated by :func:`~coacheval.io.study.load_study`, or as
        extracted): ``category``, ``cost_date``, ``amount_usd`` and, optionally, ``cohort_id``
        (empty for program-wide items). Dates may be datetimes or ISO text.
    start, end
        First and last day counted (inclusive; dates or ISO text). ``None`` leaves that end open.

    Returns
    -------
    CostResult

    Raises
    ------
    DataValidationError
        A required column is missing, or an amount is missing, negative or infinite, a date is
        missing or not a date, or a category is not one of :data:`COST_CATEGORIES`.
    ConfigError
        ``start`` or ``end`` is not a date, or ``start`` is after ``end``.

    Examples
    --------
    >>> import pandas as pd
    >>> costs = pd.DataFrame({
    ...     "cohort_id": ["", "C1", "C1", "C2"],
    ...     "category": ["training", "faculty", "participant_time", "faculty"],
    ...     "cost_date": ["2023-01-10", "2023-02-01", "2024-01-31", "2024-03-01"],
    ...     "amount_usd": [18000.0, 22000.0, 9500.0, 22000.0]})
    >>> res = program_cost(costs, end="2024-01-31")
    >>> res.total, res.n_excluded
    (49500.0, 1)
    >>> res.by_cohort.to_dict()
    {'C1': 31500.0, 'program-wide': 18000.0}
    """
    if not isinstance(costs, pd.DataFrame):
        raise ConfigError(f"costs must be a pandas DataFrame, got {type(costs).__name__}")
    missing = [c for c in ("category", "cost_date", "amount_usd") if c not in costs.columns]
    if missing:
        raise DataValidationError(
            f"program_costs lacks required column(s) {missing}; columns present: "
            f"{list(costs.columns)}"
        )
    lo, hi = _parse_bound("start", start), _parse_bound("end", end)
    if lo is not None and hi is not None and lo > hi:
        raise ConfigError(f"start ({lo:%Y-%m-%d}) is after end ({hi:%Y-%m-%d})")

    amount = pd.to_numeric(costs["amount_usd"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(amount) | (amount < 0)
    if bad.any():
        raise DataValidationError(
            "column 'amount_usd' must hold finite amounts >= 0 (rule: minimum 0, required); "
            f"rows {rows_list(costs.index, bad)} break this",
            failure_cases=costs.loc[bad, ["amount_usd"]].head(MAX_LISTED),
        )
    raw_dates = costs["cost_date"]
    if pd.api.types.is_datetime64_any_dtype(raw_dates):
        dates = pd.DatetimeIndex(raw_dates)
    else:
        dates = pd.DatetimeIndex(pd.to_datetime(raw_dates, errors="coerce", format="ISO8601"))
    bad = np.asarray(dates.isna())
    if bad.any():
        raise DataValidationError(
            "column 'cost_date' must hold a date (YYYY-MM-DD) on every row; "
            f"rows {rows_list(costs.index, bad)} break this",
            failure_cases=costs.loc[bad, ["cost_date"]].head(MAX_LISTED),
        )
    category = costs["category"].astype("string").str.strip()
    bad = ~category.isin(COST_CATEGORIES).fillna(False).to_numpy(dtype=bool)
    if bad.any():
        raise DataValidationError(
            f"column 'category' must be one of {list(COST_CATEGORIES)}; "
            f"rows {rows_list(costs.index, bad)} break this",
            failure_cases=costs.loc[bad, ["category"]].head(MAX_LISTED),
        )
    if "cohort_id" in costs.columns:
        cohort = costs["cohort_id"].astype("string").str.strip().fillna("")
        cohort = cohort.mask(cohort == "", PROGRAM_WIDE).to_numpy(dtype=object)
    else:
        cohort = np.full(len(costs), PROGRAM_WIDE, dtype=object)

    keep = np.ones(len(costs), dtype=bool)
    if lo is not None:
        keep &= np.asarray(dates >= lo)
    if hi is not None:
        keep &= np.asarray(dates <= hi)
    items = pd.DataFrame(
        {
            "category": category.to_numpy(dtype=object)[keep],
            "cohort": cohort[keep],
            "amount": amount[keep],
        }
    )
    total = float(items.amount.sum())
    cat = items.groupby("category", sort=False).amount.agg(["size", "sum"])
    cat = cat.reindex([c for c in COST_CATEGORIES if c in cat.index])
    coh = items.groupby("cohort", sort=True).amount.agg(["size", "sum"])
    coh_order = sorted(c for c in coh.index if c != PROGRAM_WIDE)
    coh = coh.reindex(coh_order + ([PROGRAM_WIDE] if PROGRAM_WIDE in coh.index else []))
    table = pd.DataFrame(
        {
            "level": ["total"] + ["category"] * len(cat) + ["cohort"] * len(coh),
            "group": ["all", *cat.index, *coh.index],
            "n_items": np.r_[len(items), cat["size"], coh["size"]].astype(np.int64),
            "amount_usd": np.r_[total, cat["sum"], coh["sum"]].astype(float),
        }
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        table["share"] = table.amount_usd / total if total > 0 else np.nan
    n_excluded = int((~keep).sum())
    kept_dates = dates[keep]
    notes = []
    if n_excluded:
        notes.append(f"{n_excluded} cost item(s) outside the window were left out")
    if not keep.any():
        notes.append("no cost items in the window: the program cost is 0")
    notes.append("amounts are nominal USD as recorded (no inflation adjustment, no discounting)")
    return CostResult(
        table=table,
        total=total,
        n_items=len(items),
        n_excluded=n_excluded,
        start=lo,
        end=hi,
        first_date=kept_dates.min() if len(kept_dates) else None,
        last_date=kept_dates.max() if len(kept_dates) else None,
        notes=tuple(notes),
    )


# -------------------------------------------------------------------- cost assumptions ---


@dataclass(frozen=True)
class CostAssumptions:
    """The cost of one nurse-leader turnover, with its source, currency and price year.

    By default the figure is built as DOMAIN.md recommends (no nurse-manager-specific
    replacement cost was found): a salary multiple for replacing the leader plus the downstream
    cost of the extra RN turnover on the leader's team,
    ``salary * multiple + points * span * cost_per_rn_turnover``. An analysis plan that has its
    own figure sets ``cost_per_leader_turnover_usd`` and ``source``, which then override the
    built-up figure. Every default's source is in :data:`COST_SOURCES`.

    Parameters
    ----------
    leader_annual_salary_usd
        Annual salary of the leader who leaves (default 137,280: USD 66/hour x 2080 [U]).
    salary_multiple
        Replacement cost as a multiple of salary (default 1.0; published range 0.75–2.0 [S]).
    downstream_rn_turnover_points
        Extra RN turnover on the team in the 12 months after a manager leaves, as a proportion
        (default 0.03; range 0.02–0.04 [S]).
    rn_span_of_control
        RNs reporting to the leader (default 46, the median [S]).
    cost_per_rn_turnover_usd
        Cost of one bedside RN turnover (default 61,110; range 49,500–72,700 [S], CY2024).
    cost_per_leader_turnover_usd
        A stated figure that replaces the built-up one (``None``: use the built-up figure).
    source
        Where the stated figure comes from (required with ``cost_per_leader_turnover_usd``).
    currency
        Currency of every amount (default ``"USD"``; the cost extract is in USD).
    price_year
        Price year of the amounts (default 2024).

    Examples
    --------
    >>> a = CostAssumptions()
    >>> round(a.cost_per_turnover)
    221612
    >>> [round(v) for v in a.cost_per_turnover_range]
    [148500, 408328]
    >>> CostAssumptions(cost_per_leader_turnover_usd=150_000, source="HR finance 2024").cost_per_turnover
    150000.0
    """

    leader_annual_salary_usd: float = 137_280.0
    salary_multiple: float = 1.0
    downstream_rn_turnover_points: float = 0.03
    rn_span_of_control: float = 46.0
    cost_per_rn_turnover_usd: float = 61_110.0
    cost_per_leader_turnover_usd: float | None = None
    source: str | None = None
    currency: str = "USD"
    price_year: int = 2024

    def __post_init__(self) -> None:
        _positive("leader_annual_salary_usd", self.leader_annual_salary_usd)
        _positive("salary_multiple", self.salary_multiple)
        _positive(
            "downstream_rn_turnover_points", self.downstream_rn_turnover_points, allow_zero=True
        )
        _positive("rn_span_of_control", self.rn_span_of_control, allow_zero=True)
        _positive("cost_per_rn_turnover_usd", self.cost_per_rn_turnover_usd, allow_zero=True)
        if self.cost_per_leader_turnover_usd is not None:
            _positive("cost_per_leader_turnover_usd", self.cost_per_leader_turnover_usd)
            if not (isinstance(self.source, str) and self.source.strip()):
                raise ConfigError(
                    "cost_per_leader_turnover_usd needs its source (e.g. source='HR finance, "
                    "replacement cost study 2024')"
                )
        if not (isinstance(self.currency, str) and self.currency.strip()):
            raise ConfigError(
                f"currency must be a currency code such as 'USD', got {self.currency!r}"
            )
        if not (isinstance(self.price_year, int) and 1900 <= self.price_year <= 2200):
            raise ConfigError(f"price_year must be a year such as 2024, got {self.price_year!r}")

    @property
    def direct_cost(self) -> float:
        """Replacement cost of the leader: salary times the multiple."""
        return self.leader_annual_salary_usd * self.salary_multiple

    @property
    def downstream_cost(self) -> float:
        """Cost of the extra RN turnover on the leader's team."""
        return (
            self.downstream_rn_turnover_points
            * self.rn_span_of_control
            * self.cost_per_rn_turnover_usd
        )

    @property
    def cost_per_turnover(self) -> float:
        """Cost of one leader turnover: the stated figure, or direct plus downstream cost."""
        if self.cost_per_leader_turnover_usd is not None:
            return float(self.cost_per_leader_turnover_usd)
        return self.direct_cost + self.downstream_cost

    @property
    def cost_per_turnover_range(self) -> tuple[float, float]:
        """Low and high cost per turnover for sensitivity analysis.

        The built-up figure at the ends of the published ranges (0.75–2.0 x salary, 2–4 points
        of RN turnover, USD 49,500–72,700 per RN); a stated figure has no range (both ends equal).
        """
        if self.cost_per_leader_turnover_usd is not None:
            v = float(self.cost_per_leader_turnover_usd)
            return v, v
        s, span = self.leader_annual_salary_usd, self.rn_span_of_control
        return 0.75 * s + 0.02 * span * 49_500.0, 2.0 * s + 0.04 * span * 72_700.0

    @property
    def description(self) -> str:
        """Where the cost per turnover comes from, in one sentence."""
        if self.cost_per_leader_turnover_usd is not None:
            return (
                f"{_money(self.cost_per_turnover, self.currency)} per leader turnover "
                f"({self.source}; {self.currency}, {self.price_year} prices)"
            )
        return (
            f"{_money(self.cost_per_turnover, self.currency)} per leader turnover = "
            f"{self.salary_multiple:g} x salary {_money(self.leader_annual_salary_usd, self.currency)} "
            f"+ {self.downstream_rn_turnover_points * 100:g} points of extra RN turnover x "
            f"{self.rn_span_of_control:g} RNs x {_money(self.cost_per_rn_turnover_usd, self.currency)} "
            f"per RN turnover (DOMAIN.md defaults: salary [U], multiple and RN figures [S]; "
            f"{self.currency}, {self.price_year} prices)"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the assumptions, the resulting cost per turnover and the sources as plain data."""
        out: dict[str, Any] = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["cost_per_turnover"] = self.cost_per_turnover
        out["sources"] = dict(COST_SOURCES) if self.cost_per_leader_turnover_usd is None else {}
        return out


# ---------------------------------------------------------------- turnovers avoided ---


def _check_effect_inputs(
    hazard_ratio: Any, log_hr_se: Any, exposed_person_years: Any, baseline_rate: Any
) -> tuple[float, float, float, float]:
    hr = _positive("hazard_ratio", hazard_ratio)
    se = _positive("log_hr_se", log_hr_se, allow_zero=True)
    py = _positive("exposed_person_years", exposed_person_years)
    rate = _positive("baseline_rate", baseline_rate)
    if rate > 1:
        warnings.warn(
            f"baseline_rate is per person-year; {rate:g} exits per person-year is implausible for "
            "leaders — was a rate per 100 person-years (or a percentage) passed?",
            CoachevalWarning,
            stacklevel=3,
        )
    return hr, se, py, rate


@dataclass(frozen=True, eq=False)
class TurnoversAvoidedResult(TableResult):
    """Expected voluntary exits among the coached with and without the program.

    Attributes
    ----------
    table
        ``quantity`` (``hazard_ratio``, ``exits_without_program``, ``exits_with_program``,
        ``turnovers_avoided``), ``estimate``, ``conf_low``, ``conf_high``; limits are the Wald
        limits of the hazard ratio carried through the (monotone) closed form.
    estimate, conf_low, conf_high
        Turnovers avoided and its limits.
    level
        Confidence level.

    Examples
    --------
    Returned by :func:`turnovers_avoided`: 300 coached person-years, 0.09 voluntary exits per
    person-year among leaders not (yet) enrolled, and a hazard ratio of 0.8:

    >>> from coacheval.quality.economics import turnovers_avoided
    >>> res = turnovers_avoided(hazard_ratio=0.8, log_hr_se=0.2, exposed_person_years=300,
    ...                         baseline_rate=0.09)
    >>> round(res.estimate, 2), round(res.conf_low, 2), round(res.conf_high, 2), res.level
    (5.4, -4.97, 12.4, 0.95)
    >>> res.table.round(2)
                    quantity  estimate  conf_low  conf_high
    0           hazard_ratio       0.8      0.54       1.18
    1  exits_without_program      27.0     27.00      27.00
    2     exits_with_program      21.6     14.60      31.97
    3      turnovers_avoided       5.4     -4.97      12.40
    """

    table: pd.DataFrame
    estimate: float
    conf_low: float
    conf_high: float
    level: float
    title: str = "Voluntary turnovers avoided among the coached"
    notes: tuple[str, ...] = field(default=())

    def plot(self) -> Figure:
        """Plot exits without and with the program, and turnovers avoided, with intervals.

        Returns
        -------
        matplotlib.figure.Figure
            The figure (not shown).

        Examples
        --------
        >>> res = turnovers_avoided(hazard_ratio=0.8, log_hr_se=0.2, exposed_person_years=300,
        ...                         baseline_rate=0.09)
        >>> res.plot().axes[0].get_xlabel()
        'Voluntary exits among the coached'
        """
        t = self.table[self.table.quantity != "hazard_ratio"]
        fig = Figure(figsize=(6.0, 2.6), layout="constrained")
        ax = fig.add_subplot(1, 1, 1)
        y = np.arange(len(t))[::-1]
        est = t.estimate.to_numpy(float)
        ax.errorbar(
            est,
            y,
            xerr=[est - t.conf_low.to_numpy(float), t.conf_high.to_numpy(float) - est],
            fmt="o",
            capsize=3,
            color="C0",
        )
        ax.axvline(0, color="0.5", lw=0.8)
        ax.set_yticks(y)
        ax.set_yticklabels([q.replace("_", " ") for q in t.quantity])
        ax.set_xlabel("Voluntary exits among the coached")
        ax.spines[["top", "right"]].set_visible(False)
        return fig


def turnovers_avoided(
    *,
    hazard_ratio: float,
    log_hr_se: float,
    exposed_person_years: float,
    baseline_rate: float,
    level: float = 0.95,
) -> TurnoversAvoidedResult:
    """Voluntary exits avoided among the coached: ``PY * rate * (1 - HR)``.

    Parameters
    ----------
    hazard_ratio
        Voluntary-exit hazard ratio of enrolment (enrolled vs not yet enrolled), > 0.
    log_hr_se
        Standard error of its logarithm (>= 0).
    exposed_person_years
        Person-years the coached were observed while enrolled (> 0).
    baseline_rate
        Voluntary exits per person-year among leaders not (yet) enrolled (> 0).
    level
        Confidence level of the interval.

    Returns
    -------
    TurnoversAvoidedResult

    Raises
    ------
    ConfigError
        A number is missing, not finite, or out of range (HR <= 0, se < 0, PY <= 0, rate <= 0).

    Notes
    -----
    Expected exits without the program are ``PY * rate`` and with it ``PY * rate * HR``: rates
    constant over the period, exposure as observed (the person-years the program's effect
    itself added are ignored). The interval is the Wald interval ``exp(log HR -+ z se)`` put
    through the closed form, which is monotone in the hazard ratio.

    Examples
    --------
    >>> res = turnovers_avoided(hazard_ratio=0.8, log_hr_se=0.2, exposed_person_years=300,
    ...                         baseline_rate=0.09)
    >>> round(res.estimate, 2), round(res.conf_low, 2), round(res.conf_high, 2)
    (5.4, -4.97, 12.4)
    """
    hr, se, py, rate = _check_effect_inputs(
        hazard_ratio, log_hr_se, exposed_person_years, baseline_rate
    )
    level = _check_level(level)
    z = float(stats.norm.ppf(0.5 + level / 2))
    hr_lo, hr_hi = hr * math.exp(-z * se), hr * math.exp(z * se)
    base = py * rate
    table = pd.DataFrame(
        {
            "quantity": [
                "hazard_ratio",
                "exits_without_program",
                "exits_with_program",
                "turnovers_avoided",
            ],
            "estimate": [hr, base, base * hr, base * (1 - hr)],
            "conf_low": [hr_lo, base, base * hr_lo, base * (1 - hr_hi)],
            "conf_high": [hr_hi, base, base * hr_hi, base * (1 - hr_lo)],
        }
    )
    notes = (
        f"expected exits without the program = {py:,.1f} coached person-years x {rate:.4f} "
        "voluntary exits per person-year among the not-yet-enrolled (rate treated as known)",
        "approximation: constant rates, exposure as observed, the not-yet-enrolled rate stands "
        "for the coached without the program",
    )
    return TurnoversAvoidedResult(
        table=table,
        estimate=base * (1 - hr),
        conf_low=base * (1 - hr_hi),
        conf_high=base * (1 - hr_lo),
        level=level,
        notes=notes,
    )


# ------------------------------------------------------------------------------- ROI ---


@dataclass(frozen=True, eq=False)
class ROIResult(TableResult):
    """Return on investment of the program, with intervals and the break-even effect.

    Attributes
    ----------
    table
        ``quantity``, ``estimate`` (closed form at the point hazard ratio), ``conf_low``,
        ``conf_high`` (simulation percentiles; equal to the estimate for inputs treated as
        known; missing for ``break_even_hazard_ratio`` and ``probability_pays``). Quantities:
        ``program_cost``, ``cost_per_turnover``, ``baseline_rate``, ``hazard_ratio`` (Wald
        limits), ``turnovers_avoided``, ``benefit``, ``net_benefit``, ``roi_percent``,
        ``benefit_cost_ratio``, ``break_even_hazard_ratio``, ``probability_pays``.
    cost, cost_per_turnover, hazard_ratio, log_hr_se, exposed_person_years, baseline_rate
        Inputs used.
    break_even_hazard_ratio
        ``1 - cost / (PY * rate * cost_per_turnover)``; <= 0 when even preventing every exit
        would not pay for the program.
    probability_pays
        Share of draws with net benefit > 0.
    net_benefit_draws
        The simulated net benefits.
    carried
        What uncertainty the intervals carry.
    cost_source, cost_window
        Where the cost per turnover and the program cost come from.
    level, n_draws, seed, currency
        Options used.

    Examples
    --------
    Returned by :func:`roi`:

    >>> from coacheval.quality.economics import roi
    >>> res = roi(cost=150_000, hazard_ratio=0.8, log_hr_se=0.25, exposed_person_years=300,
    ...           baseline_rate=0.09, cost_per_turnover=150_000, n_draws=2000, seed=1)
    >>> round(res.estimate("net_benefit")), [round(v, -3) for v in res.interval("net_benefit")]
    (660000, [-1454000.0, 1899000.0])
    >>> round(res.break_even_hazard_ratio, 3), round(res.probability_pays, 2)
    (0.963, 0.77)
    >>> res.table.set_index("quantity").loc[["turnovers_avoided", "roi_percent"]].round(1)
                       estimate  conf_low  conf_high
    quantity
    turnovers_avoided       5.4      -8.7       13.7
    roi_percent           440.0    -969.6     1266.1

    ``statement`` and ``break_even_sentence`` put these figures into sentences for a report.
    """

    table: pd.DataFrame
    cost: float
    cost_per_turnover: float
    hazard_ratio: float
    log_hr_se: float
    exposed_person_years: float
    baseline_rate: float
    break_even_hazard_ratio: float
    probability_pays: float
    net_benefit_draws: np.ndarray = field(repr=False)
    carried: tuple[str, ...]
    cost_source: str
    cost_window: str
    level: float
    n_draws: int
    seed: int
    currency: str = "USD"
    title: str = "Return on investment (Phillips level 5)"
    notes: tuple[str, ...] = field(default=())

    def _row(self, quantity: str) -> pd.Series:
        rows = self.table[self.table.quantity == quantity]
        if rows.empty:
            raise ConfigError(
                f"unknown quantity {quantity!r}; expected one of {self.table.quantity.tolist()}"
            )
        return rows.iloc[0]

    def estimate(self, quantity: str) -> float:
        """Point estimate of one quantity (a ``quantity`` of :attr:`table`)."""
        return float(self._row(quantity).estimate)

    def interval(self, quantity: str) -> tuple[float, float]:
        """Interval of one quantity (a ``quantity`` of :attr:`table`)."""
        row = self._row(quantity)
        return float(row.conf_low), float(row.conf_high)

    @property
    def break_even_reduction(self) -> float:
        """Reduction in voluntary exits (proportion, ``1 - HR*``) at which the program breaks even."""
        return 1.0 - self.break_even_hazard_ratio

    @property
    def break_even_sentence(self) -> str:
        """The break-even effect in one plain sentence."""
        c = self.currency
        expected = self.exposed_person_years * self.baseline_rate
        if self.break_even_hazard_ratio <= 0:
            return (
                "The program cannot pay for itself through avoided leader turnover alone: even "
                f"preventing every expected voluntary exit among the coached ({expected:.1f}) would "
                f"save {_money(expected * self.cost_per_turnover, c)}, less than its cost "
                f"{_money(self.cost, c)}."
            )
        return (
            "The program pays for itself if it lowers voluntary exits by at least "
            f"{self.break_even_reduction * 100:.1f}% (hazard ratio {self.break_even_hazard_ratio:.3f} "
            f"or lower), i.e. avoids at least {self.cost / self.cost_per_turnover:.2f} of the "
            f"{expected:.1f} voluntary exits expected among the coached."
        )

    @property
    def statement(self) -> str:
        """The result for executives: every figure with its interval, and the break-even effect."""
        c, pct = self.currency, f"{self.level * 100:g}%"
        t_lo, t_hi = self.interval("turnovers_avoided")
        n_lo, n_hi = self.interval("net_benefit")
        r_lo, r_hi = self.interval("roi_percent")
        b_lo, b_hi = self.interval("benefit_cost_ratio")
        h_lo, h_hi = self.interval("hazard_ratio")
        return (
            f"The program cost {_money(self.cost, c)} ({self.cost_window}). Leaders in it had a "
            f"voluntary-exit hazard ratio of {self.hazard_ratio:.2f} ({pct} CI {h_lo:.2f} to "
            f"{h_hi:.2f}): an estimated {self.estimate('turnovers_avoided'):.1f} turnovers avoided "
            f"({pct} interval {t_lo:.1f} to {t_hi:.1f}) over {self.exposed_person_years:,.0f} "
            f"coached person-years, at {_money(self.cost_per_turnover, c)} per leader turnover. "
            f"Net benefit {_money(self.estimate('net_benefit'), c)} ({pct} interval "
            f"{_money(n_lo, c)} to {_money(n_hi, c)}); ROI {self.estimate('roi_percent'):.0f}% "
            f"({r_lo:.0f}% to {r_hi:.0f}%); benefit-cost ratio "
            f"{self.estimate('benefit_cost_ratio'):.2f} ({b_lo:.2f} to {b_hi:.2f}). Probability "
            f"that the program paid for itself (share of simulated net benefits above 0): "
            f"{self.probability_pays * 100:.0f}%. "
            f"{self.break_even_sentence}"
        )

    def plot(self) -> Figure:
        """Plot the simulated net benefit as a histogram with the break-even line (net benefit 0).

        Returns
        -------
        matplotlib.figure.Figure
            The figure (not shown).

        Examples
        --------
        >>> res = roi(cost=150_000, hazard_ratio=0.8, log_hr_se=0.25, exposed_person_years=300,
        ...           baseline_rate=0.09, cost_per_turnover=150_000, n_draws=2000)
        >>> res.plot().axes[0].get_xlabel()
        'Net benefit (USD)'
        """
        draws = self.net_benefit_draws
        lo, hi = self.interval("net_benefit")
        fig = Figure(figsize=(6.5, 3.8), layout="constrained")
        ax = fig.add_subplot(1, 1, 1)
        ax.hist(draws, bins=60, color="C0", alpha=0.7)
        ax.axvspan(lo, hi, color="C0", alpha=0.12, label=f"{self.level * 100:g}% interval")
        ax.axvline(0.0, color="C3", lw=1.5, label="break-even (net benefit 0)")
        ax.axvline(self.estimate("net_benefit"), color="k", lw=1.2, ls="--", label="estimate")
        ax.set_xlabel(f"Net benefit ({self.currency})")
        ax.set_ylabel("Simulation draws")
        ax.set_title(f"P(program pays for itself) = {self.probability_pays:.2f}")
        ax.legend(frameon=False, fontsize="small")
        ax.spines[["top", "right"]].set_visible(False)
        return fig


_VOLUNTEER_NOTE = (
    "the return inherits the retention hazard ratio's biases; where volunteers are more engaged "
    "than their peers it overstates the benefit (docs/calibration.md)"
)

BIAS_NOTES: dict[str, str] = {
    "staggered_did": _VOLUNTEER_NOTE,
    "single_arm": _VOLUNTEER_NOTE,
    "randomised_rollout": (
        "the return inherits the retention hazard ratio's imprecision, not a selection bias: "
        "under the randomised rollout who starts when was decided by chance, and the hazard "
        "ratio is the effect of starting on the assigned date (by assignment, diluted where "
        "assigned leaders did not take part); its wide interval carries into the net benefit "
        "(docs/calibration.md)"
    ),
}
"""What the return on investment inherits from the retention hazard ratio, by plan
``design.type`` (a note of every evaluation, after ``economics:``). Volunteer cohorts
(``staggered_did``, ``single_arm``): selection, since more engaged leaders volunteer and also
leave less, so the benefit is overstated. A randomised rollout (stepped wedge): no selection
bias, but an imprecise, intention-to-treat hazard ratio."""


def roi(
    *,
    cost: float | CostResult,
    hazard_ratio: float,
    log_hr_se: float,
    exposed_person_years: float,
    baseline_rate: float,
    cost_per_turnover: float | CostAssumptions | None = None,
    baseline_events: float | None = None,
    n_draws: int = 10_000,
    seed: int = 20240601,
    level: float = 0.95,
) -> ROIResult:
    """Benefit, net benefit, ROI and benefit–cost ratio of the program, with intervals.

    Parameters
    ----------
    cost
        Program cost (> 0), or the :class:`CostResult` of :func:`program_cost`.
    hazard_ratio, log_hr_se
        Voluntary-exit hazard ratio of enrolment (> 0) and the standard error of its log (>= 0).
    exposed_person_years
        Person-years the coached were observed while enrolled (> 0).
    baseline_rate
        Voluntary exits per person-year among leaders not (yet) enrolled (> 0).
    cost_per_turnover
        Cost of one leader turnover: a number (> 0, in the cost's currency) or
        :class:`CostAssumptions`; ``None`` uses the documented defaults of
        :class:`CostAssumptions` (and says so in the notes).
    baseline_events
        Number of voluntary exits the baseline rate was estimated from. When given, the
        baseline rate's Poisson uncertainty is carried too (``Gamma(x, x / rate)`` draws);
        otherwise the rate is treated as known.
    n_draws
        Simulation draws (>= 1000).
    seed
        Seed of the draws (the same seed gives the same intervals).
    level
        Level of the intervals.

    Returns
    -------
    ROIResult

    Raises
    ------
    ConfigError
        A number is missing, not finite or out of range (cost <= 0, HR <= 0, se < 0, ...).

    Notes
    -----
    See the module docstring for the closed form and the approximation. ``log HR`` draws are
    ``log HR_hat + se * z`` with ``z`` standard normal drawn first, so the same seed reuses the
    same ``z`` whatever the standard error or whether the rate is carried. When the hazard ratio
    and the baseline rate come from the same comparison group their estimates are correlated;
    the draws treat them as independent, which slightly understates the part of the variance
    due to the comparison group's exits (by the factor ``(1 - HR)^2 + HR^2`` in the delta-method
    variance) — small when the comparison group has far more person-years than the coached.
    Costs are nominal, not discounted (a one-program, first-years ROI as in Phillips' method).

    References
    ----------
    Phillips JJ, Phillips PP. *Handbook of Training Evaluation and Measurement Methods*,
    4th ed. Routledge, 2016 (ROI = net program benefits / program costs x 100).

    Examples
    --------
    >>> res = roi(cost=150_000, hazard_ratio=0.8, log_hr_se=0.25, exposed_person_years=300,
    ...           baseline_rate=0.09, cost_per_turnover=150_000, seed=1)
    >>> res.table.set_index("quantity").loc[["net_benefit", "roi_percent"], "estimate"].round(1).tolist()
    [660000.0, 440.0]
    >>> print(res.break_even_sentence)  # doctest: +ELLIPSIS
    The program pays for itself if it lowers voluntary exits by at least 3.7% ...
    """
    if isinstance(cost, CostResult):
        cost_value, window = float(cost.total), cost.window
    else:
        cost_value, window = _positive("cost", cost, allow_zero=True), "as stated"
    if cost_value <= 0:
        raise ConfigError(
            f"program cost must be > 0 to compute an ROI (ROI divides by cost), got {cost_value!r}"
        )
    hr, se, py, rate = _check_effect_inputs(
        hazard_ratio, log_hr_se, exposed_person_years, baseline_rate
    )
    level = _check_level(level)
    if (
        not (isinstance(n_draws, (int, np.integer)) and not isinstance(n_draws, bool))
        or n_draws < 1000
    ):
        raise ConfigError(f"n_draws must be a whole number >= 1000, got {n_draws!r}")
    if not (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)) or seed < 0:
        raise ConfigError(f"seed must be a whole number >= 0, got {seed!r}")
    assumed_default = cost_per_turnover is None
    if isinstance(cost_per_turnover, CostAssumptions) or cost_per_turnover is None:
        assumptions = cost_per_turnover or CostAssumptions()
        c = assumptions.cost_per_turnover
        source, currency = assumptions.description, assumptions.currency
    else:
        c = _positive("cost_per_turnover", cost_per_turnover)
        source, currency = f"{_money(c)} per leader turnover, as stated", "USD"
    if isinstance(cost, CostResult) and currency != "USD":
        raise ConfigError(
            f"the cost extract is in USD but the cost per turnover is in {currency}; convert one "
            "of them first"
        )
    carried = ["hazard ratio: log HR ~ Normal(log HR_hat, se^2)"]
    if baseline_events is not None:
        x0 = _positive("baseline_events", baseline_events)
        carried.append(f"baseline rate: Gamma({x0:g} exits, {x0 / rate:,.1f} person-years)")

    rng = np.random.default_rng(int(seed))
    z = rng.standard_normal(int(n_draws))
    hr_draws = np.exp(math.log(hr) + se * z)
    if baseline_events is not None:
        rate_draws = rng.gamma(shape=x0, scale=rate / x0, size=int(n_draws))
    else:
        rate_draws = np.full(int(n_draws), rate)
    t_draws = py * rate_draws * (1.0 - hr_draws)
    benefit_draws = t_draws * c
    net_draws = benefit_draws - cost_value

    t_point = py * rate * (1.0 - hr)
    benefit = t_point * c
    net = benefit - cost_value
    alpha = 1.0 - level
    q = (alpha / 2, 1 - alpha / 2)

    def pct(values: np.ndarray) -> tuple[float, float]:
        lo, hi = np.quantile(values, q)
        return float(lo), float(hi)

    zc = float(stats.norm.ppf(1 - alpha / 2))
    rate_ci = pct(rate_draws) if baseline_events is not None else (rate, rate)
    rows = [
        ("program_cost", cost_value, (cost_value, cost_value)),
        ("cost_per_turnover", c, (c, c)),
        ("baseline_rate", rate, rate_ci),
        ("hazard_ratio", hr, (hr * math.exp(-zc * se), hr * math.exp(zc * se))),
        ("turnovers_avoided", t_point, pct(t_draws)),
        ("benefit", benefit, pct(benefit_draws)),
        ("net_benefit", net, pct(net_draws)),
        ("roi_percent", net / cost_value * 100, pct(net_draws / cost_value * 100)),
        ("benefit_cost_ratio", benefit / cost_value, pct(benefit_draws / cost_value)),
    ]
    break_even = 1.0 - cost_value / (py * rate * c)
    p_pays = float(np.mean(net_draws > 0))
    table = pd.DataFrame(
        {
            "quantity": [r[0] for r in rows] + ["break_even_hazard_ratio", "probability_pays"],
            "estimate": [r[1] for r in rows] + [break_even, p_pays],
            "conf_low": [r[2][0] for r in rows] + [math.nan, math.nan],
            "conf_high": [r[2][1] for r in rows] + [math.nan, math.nan],
        }
    )
    notes = [
        "benefit = turnovers avoided x cost per turnover; turnovers avoided = coached "
        "person-years x not-yet-enrolled voluntary exit rate x (1 - HR) (constant rates, "
        "exposure as observed)",
        f"estimates: closed form at the point hazard ratio; intervals: {level * 100:g}% "
        f"percentiles of {n_draws:,} draws (seed {seed}) carrying " + "; ".join(carried),
        "treated as known: program cost, cost per turnover"
        + ("" if baseline_events is not None else ", baseline rate"),
        f"cost per turnover: {source}",
    ]
    if assumed_default:
        notes.append(
            "the cost per turnover is coacheval's documented default (no figure was given): "
            "state the system's own figure in the analysis plan"
        )
    if currency != "USD":
        notes.append(
            f"the cost per turnover is in {currency}; the program cost is taken to be in the "
            "same currency"
        )
    return ROIResult(
        table=table,
        cost=cost_value,
        cost_per_turnover=c,
        hazard_ratio=hr,
        log_hr_se=se,
        exposed_person_years=py,
        baseline_rate=rate,
        break_even_hazard_ratio=break_even,
        probability_pays=p_pays,
        net_benefit_draws=net_draws,
        carried=tuple(carried),
        cost_source=source,
        cost_window=window,
        level=level,
        n_draws=int(n_draws),
        seed=int(seed),
        currency=currency,
        notes=tuple(notes),
    )
