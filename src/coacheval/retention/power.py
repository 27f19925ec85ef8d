"""Is a retention analysis big enough? Power for a hazard ratio of turnover, coached vs not.

:func:`retention_power` uses Schoenfeld's (1981, 1983) formula for the log-rank test / Cox
model with a binary exposure: the number of events (separations) needed for a two-sided level
``alpha`` test to have power ``1 - beta`` against hazard ratio ``HR`` is

    ``d = (z_{1-alpha/2} + z_{1-beta})^2 / (p (1 - p) (log HR)^2)``

with ``p`` the share of leaders coached. Freedman's (1982) formula
``d = (z_{1-alpha/2} + z_{1-beta})^2 ((1 - p) + p HR)^2 / (p (1 - p) (1 - HR)^2)`` is the
option ``method="freedman"``. Both are what ``rpact::getSampleSizeSurvival`` computes
(``typeOfComputation = "Schoenfeld"`` / ``"Freedman"``; allocation ratio ``r = p / (1 - p)``).

Expected events come from an exponential time to leaving: the uncoached hazard is
``lambda0 = -log(1 - annual_turnover)`` (``annual_turnover`` is the share of leaders who leave
within a year), the coached one ``HR * lambda0``. A leader entering at a uniform time over
``accrual_years`` and followed until ``accrual_years + follow_up_years`` leaves during the
study with probability ``1 - (exp(-lambda F) - exp(-lambda (a + F))) / (lambda a)``
(``1 - exp(-lambda F)`` without accrual). Other reasons for leaving the study (e.g. loss of
the HR record) are ignored, so the expected events are an upper bound when such losses occur.

Power for ``n`` leaders is ``Phi(delta - z) + Phi(-delta - z)`` with ``z = z_{1-alpha/2}`` and
``delta = sqrt(D p (1 - p)) |log HR|`` (Schoenfeld) or ``sqrt(D p (1 - p)) |1 - HR| / ((1 -
p) + p HR)`` (Freedman), ``D`` the expected events under that ``HR``. The minimum detectable
hazard ratio solves ``power(HR) = 1 - beta`` on each side of 1; the protective one (< 1, fewer
separations among the coached) is the headline.

References: Schoenfeld D. (1981) The asymptotic properties of nonparametric tests for
comparing survival distributions. *Biometrika* 68:316-319; Schoenfeld D. A. (1983) Sample-size
formula for the proportional-hazards regression model. *Biometrics* 39:499-503; Freedman L. S.
(1982) Tables of the number of patients required in clinical trials using the logrank test.
*Statistics in Medicine* 1:121-129.

Examples
--------
>>> from coacheval.retention.power import retention_power
>>> res = retention_power(400, share_treated=0.5, follow_up_years=2, annual_turnover=0.15,
...                       hazard_ratio=0.85)
>>> round(res.events_required)  # 4 * (1.959964 + 0.841621)^2 / log(0.85)^2
1189
>>> res.verdict.startswith("too small to detect a hazard ratio of 0.85")
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from scipy import optimize, stats

from coacheval.errors import ConfigError
from coacheval.results import TableResult

__all__ = ["PowerMethod", "PowerResult", "event_probability", "events_required", "retention_power"]

#: Events-required formula: ``"schoenfeld"`` (Schoenfeld 1983, the default) or ``"freedman"``
#: (Freedman 1982).
PowerMethod = Literal["schoenfeld", "freedman"]


def _check_fraction(value: float, name: str) -> None:
    if not (isinstance(value, (int, float)) and 0.0 < float(value) < 1.0):
        raise ConfigError(f"{name} must be strictly between 0 and 1, got {value!r}")


def event_probability(
    hazard: float | np.ndarray, follow_up_years: float, accrual_years: float = 0.0
) -> np.ndarray:
    """Probability of leaving during the study under an exponential hazard.

    Parameters
    ----------
    hazard
        Constant hazard of leaving, per year.
    follow_up_years
        Follow-up after the last leader enters (the whole follow-up without accrual).
    accrual_years
        Length of uniform entry; 0 when everyone starts together.

    Returns
    -------
    numpy.ndarray
        ``1 - exp(-hazard F)`` (no accrual) or
        ``1 - (exp(-hazard F) - exp(-hazard (a + F))) / (hazard a)``.

    Examples
    --------
    >>> round(float(event_probability(-np.log(0.8), 1.0)), 6)
    0.2
    """
    lam = np.asarray(hazard, dtype=float)
    f, a = float(follow_up_years), float(accrual_years)
    if a == 0:
        return -np.expm1(-lam * f)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 1 - (np.exp(-lam * f) - np.exp(-lam * (a + f))) / (lam * a)
    return np.where(lam > 0, out, 0.0)


def events_required(
    hazard_ratio: float,
    *,
    share_treated: float = 0.5,
    alpha: float = 0.05,
    power: float = 0.8,
    method: PowerMethod = "schoenfeld",
) -> float:
    """Events needed to detect ``hazard_ratio`` (two-sided test), Schoenfeld or Freedman.

    Parameters
    ----------
    hazard_ratio
        Hazard ratio to detect (coached vs not); must differ from 1.
    share_treated
        Share of leaders coached, ``p``.
    alpha, power
        Two-sided level and target power.
    method
        ``"schoenfeld"`` or ``"freedman"``.

    Returns
    -------
    float
        The (unrounded) number of events.

    Raises
    ------
    ConfigError
        ``hazard_ratio`` of 1 (infinitely many events), not positive, or bad options.

    Examples
    --------
    >>> round(events_required(0.5), 2)  # rpact::getSampleSizeSurvival: 65.3457
    65.35
    """
    _check_fraction(share_treated, "share_treated")
    _check_fraction(alpha, "alpha")
    _check_fraction(power, "power")
    if method not in get_args(PowerMethod):
        raise ConfigError(f"method must be one of {get_args(PowerMethod)}, got {method!r}")
    hr = float(hazard_ratio)
    if not (np.isfinite(hr) and hr > 0):
        raise ConfigError(f"hazard_ratio must be a positive number, got {hazard_ratio!r}")
    if hr == 1:
        raise ConfigError(
            "hazard_ratio = 1 means no effect: no number of events can detect it (the required "
            "number is infinite); give the smallest hazard ratio worth detecting, e.g. 0.8"
        )
    p = share_treated
    zz = (stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) ** 2
    if method == "schoenfeld":
        return float(zz / (p * (1 - p) * np.log(hr) ** 2))
    return float(zz * ((1 - p) + p * hr) ** 2 / (p * (1 - p) * (1 - hr) ** 2))


def _delta(hr: np.ndarray, events: np.ndarray, p: float, method: str) -> np.ndarray:
    root = np.sqrt(events * p * (1 - p))
    if method == "schoenfeld":
        return root * np.abs(np.log(hr))
    return root * np.abs(1 - hr) / ((1 - p) + p * hr)


def _power_from_events(hr: Any, events: Any, p: float, alpha: float, method: str) -> np.ndarray:
    z = stats.norm.ppf(1 - alpha / 2)
    d = _delta(np.asarray(hr, float), np.asarray(events, float), p, method)
    return stats.norm.cdf(d - z) + stats.norm.cdf(-d - z)


@dataclass(frozen=True, eq=False)
class PowerResult(TableResult):
    """Power of a retention (time-to-leaving) comparison of coached and uncoached leaders.

    Attributes
    ----------
    table
        One row per scenario: ``"target"`` (when ``hazard_ratio`` was given),
        ``"minimum detectable (protective)"`` and ``"minimum detectable (harmful)"``, with
        ``hazard_ratio``, ``expected_events`` (for ``n_leaders``), ``events_required``,
        ``leaders_required`` and ``power`` (achieved with ``n_leaders``).
    n_leaders, share_treated, follow_up_years, accrual_years, annual_turnover
        The design.
    hazard_ratio
        Target hazard ratio (None when not given).
    alpha, target_power, method
        Options used.
    mdhr_protective, mdhr_harmful
        Minimum detectable hazard ratios below and above 1 (NaN if none is detectable).

    Examples
    --------
    Returned by :func:`retention_power`: 400 leaders, a quarter of them coached, followed for 3
    years with 12% annual turnover, against a target hazard ratio of 0.7:

    >>> from coacheval.retention.power import retention_power
    >>> res = retention_power(400, share_treated=0.25, follow_up_years=3, annual_turnover=0.12,
    ...                       hazard_ratio=0.7)
    >>> round(res.power, 3), round(res.expected_events, 1), round(res.events_required, 1)
    (0.392, 119.1, 329.0)
    >>> round(res.mdhr_protective, 3), round(res.mdhr_harmful, 3)
    (0.546, 1.715)
    >>> res.table[["scenario", "hazard_ratio", "leaders_required", "power"]].round(2)
                              scenario  hazard_ratio  leaders_required  power
    0                           target          0.70            1105.1   0.39
    1  minimum detectable (protective)          0.55             400.0   0.80
    2     minimum detectable (harmful)          1.72             400.0   0.80
    """

    table: pd.DataFrame
    n_leaders: int
    share_treated: float
    follow_up_years: float
    accrual_years: float
    annual_turnover: float
    hazard_ratio: float | None
    alpha: float
    target_power: float
    method: str
    mdhr_protective: float
    mdhr_harmful: float
    title: str = "Retention power (Schoenfeld)"
    notes: tuple[str, ...] = field(default=())

    def _row(self, scenario: str) -> pd.Series:
        return self.table.loc[self.table["scenario"] == scenario].iloc[0]

    @property
    def power(self) -> float:
        """Power achieved against the target hazard ratio (NaN without one)."""
        return float(self._row("target")["power"]) if self.hazard_ratio is not None else np.nan

    @property
    def events_required(self) -> float:
        """Events needed for the target power against the target hazard ratio."""
        if self.hazard_ratio is None:
            return np.nan
        return float(self._row("target")["events_required"])

    @property
    def expected_events(self) -> float:
        """Separations expected among ``n_leaders`` (under the target HR, else under HR = 1)."""
        if self.hazard_ratio is None:
            lam = -np.log1p(-self.annual_turnover)
            prob = event_probability(lam, self.follow_up_years, self.accrual_years)
            return float(self.n_leaders * prob)
        return float(self._row("target")["expected_events"])

    @property
    def verdict(self) -> str:
        """Return a plain-language sentence for a report saying whether the analysis is big enough."""
        pct = f"{100 * self.target_power:.0f}%"
        mdhr = (
            f"minimum detectable {self.mdhr_protective:.2f}"
            if np.isfinite(self.mdhr_protective)
            else "no protective hazard ratio is detectable"
        )
        if self.hazard_ratio is None:
            if np.isfinite(self.mdhr_protective):
                return (
                    f"with {self.n_leaders} leaders and about {self.expected_events:.0f} expected "
                    f"separations, only a hazard ratio of {self.mdhr_protective:.2f} or stronger "
                    f"can be detected with {pct} power"
                )
            return (
                f"with {self.n_leaders} leaders and about {self.expected_events:.0f} expected "
                f"separations, no protective effect can be detected with {pct} power"
            )
        hr = self.hazard_ratio
        if self.power >= self.target_power:
            return (
                f"large enough to detect a hazard ratio of {hr:.2f}: {100 * self.power:.0f}% "
                f"power with about {self.expected_events:.0f} expected separations "
                f"({self.events_required:.0f} needed; {mdhr})"
            )
        leaders = float(self._row("target")["leaders_required"])
        # Say the minimum detectable effect plainly: with few separations it can be extreme
        # (0.05 = 95% fewer separations), and "minimum detectable 0.05" reads like a small one.
        only = (
            f"only a hazard ratio of {self.mdhr_protective:.2f} or stronger "
            f"({100 * (1 - self.mdhr_protective):.0f}% fewer separations) could be detected "
            f"with {pct} power"
            if np.isfinite(self.mdhr_protective)
            else f"no protective hazard ratio could be detected with {pct} power"
        )
        return (
            f"too small to detect a hazard ratio of {hr:.2f}: "
            f"{100 * self.power:.0f}% power with about {self.expected_events:.0f} expected "
            f"separations, {self.events_required:.0f} needed (about {np.ceil(leaders):.0f} "
            f"leaders); {only}"
        )

    def plot(self) -> Any:
        """Power against the hazard ratio for this design; returns a matplotlib Figure.

        Examples
        --------
        >>> res = retention_power(300, share_treated=0.4, follow_up_years=2,
        ...                       annual_turnover=0.2)
        >>> res.plot().axes[0].get_ylabel()
        'Power'
        """
        from matplotlib.figure import Figure

        lam0 = -np.log1p(-self.annual_turnover)
        hr = np.exp(np.linspace(np.log(0.3), np.log(3.0), 200))
        prob = (1 - self.share_treated) * event_probability(
            lam0, self.follow_up_years, self.accrual_years
        ) + self.share_treated * event_probability(
            lam0 * hr, self.follow_up_years, self.accrual_years
        )
        pw = _power_from_events(
            hr, self.n_leaders * prob, self.share_treated, self.alpha, self.method
        )
        fig = Figure(figsize=(6.0, 3.5))
        ax = fig.add_subplot()
        ax.plot(hr, pw, color="C0")
        ax.axhline(self.target_power, color="grey", ls="--", lw=0.8)
        for v in (self.mdhr_protective, self.mdhr_harmful, self.hazard_ratio):
            if v is not None and np.isfinite(v):
                ax.axvline(v, color="C1", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("Hazard ratio of leaving, coached vs not")
        ax.set_ylabel("Power")
        ax.set_ylim(0, 1)
        ax.set_title(self.title)
        fig.tight_layout()
        return fig


def retention_power(
    n_leaders: int,
    *,
    share_treated: float,
    follow_up_years: float,
    annual_turnover: float,
    hazard_ratio: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    accrual_years: float = 0.0,
    method: PowerMethod = "schoenfeld",
) -> PowerResult:
    """Power, events needed and minimum detectable hazard ratio for a retention comparison.

    Parameters
    ----------
    n_leaders
        Leaders in the analysis (coached plus comparison).
    share_treated
        Share coached, ``p`` in (0, 1).
    follow_up_years
        Follow-up after the last leader enters.
    annual_turnover
        Share of uncoached leaders who leave within a year (0 < q < 1); the hazard is
        ``-log(1 - q)``.
    hazard_ratio
        Hazard ratio worth detecting (coached vs not), optional; must not be 1.
    alpha, power
        Two-sided level and target power.
    accrual_years
        Uniform entry period (0: everyone followed for ``follow_up_years``).
    method
        ``"schoenfeld"`` (default) or ``"freedman"``.

    Returns
    -------
    PowerResult
        With :attr:`PowerResult.verdict` for reports.

    Raises
    ------
    ConfigError
        ``hazard_ratio`` of 1 (infinitely many events needed), non-positive ``n_leaders`` or
        follow-up, fractions outside (0, 1).

    Examples
    --------
    >>> res = retention_power(1200, share_treated=0.5, follow_up_years=3, annual_turnover=0.2,
    ...                       hazard_ratio=0.7)
    >>> round(res.power, 3), round(res.mdhr_protective, 3), round(res.mdhr_harmful, 3)
    (0.982, 0.785, 1.249)
    """
    _check_fraction(share_treated, "share_treated")
    _check_fraction(annual_turnover, "annual_turnover")
    _check_fraction(alpha, "alpha")
    _check_fraction(power, "power")
    if method not in get_args(PowerMethod):
        raise ConfigError(f"method must be one of {get_args(PowerMethod)}, got {method!r}")
    if not (isinstance(n_leaders, (int, np.integer, float)) and n_leaders > 0):
        raise ConfigError(f"n_leaders must be a positive number, got {n_leaders!r}")
    if not (follow_up_years > 0 and np.isfinite(follow_up_years)):
        raise ConfigError(f"follow_up_years must be positive, got {follow_up_years!r}")
    if not (accrual_years >= 0 and np.isfinite(accrual_years)):
        raise ConfigError(f"accrual_years must be >= 0, got {accrual_years!r}")
    if hazard_ratio is not None:
        # validates (and rejects HR = 1 with a clear message)
        events_required(
            hazard_ratio, share_treated=share_treated, alpha=alpha, power=power, method=method
        )
    p = float(share_treated)
    lam0 = -np.log1p(-annual_turnover)
    p0 = float(event_probability(lam0, follow_up_years, accrual_years))

    def prob_event(hr: float) -> float:
        return (1 - p) * p0 + p * float(
            event_probability(lam0 * hr, follow_up_years, accrual_years)
        )

    def power_at(hr: float) -> float:
        return float(_power_from_events(hr, n_leaders * prob_event(hr), p, alpha, method))

    def solve(lo: float, hi: float) -> float:
        f_lo, f_hi = power_at(lo) - power, power_at(hi) - power
        if f_lo * f_hi > 0:
            return np.nan
        return float(
            np.exp(
                optimize.brentq(
                    lambda lh: power_at(float(np.exp(lh))) - power,
                    np.log(lo),
                    np.log(hi),
                    xtol=1e-12,
                )
            )
        )

    mdhr_lo = solve(1e-6, 1 - 1e-9)
    mdhr_hi = solve(1 + 1e-9, 1e6)

    rows = []
    scenarios = [
        ("minimum detectable (protective)", mdhr_lo),
        ("minimum detectable (harmful)", mdhr_hi),
    ]
    if hazard_ratio is not None:
        scenarios.insert(0, ("target", float(hazard_ratio)))
    for name, hr in scenarios:
        if not np.isfinite(hr):
            rows.append((name, np.nan, np.nan, np.nan, np.nan, np.nan))
            continue
        d = events_required(hr, share_treated=p, alpha=alpha, power=power, method=method)
        pe = prob_event(hr)
        rows.append((name, hr, n_leaders * pe, d, d / pe, power_at(hr)))
    table = pd.DataFrame(
        rows,
        columns=[
            "scenario",
            "hazard_ratio",
            "expected_events",
            "events_required",
            "leaders_required",
            "power",
        ],
    )
    label = "Schoenfeld" if method == "schoenfeld" else "Freedman"
    notes = (
        f"{label} formula, two-sided alpha {alpha:g}, target power {power:g}; exponential time "
        f"to leaving with {100 * annual_turnover:g}% annual turnover among the uncoached "
        f"(hazard {lam0:.4f}/year), {p:.0%} coached, follow-up {follow_up_years:g} years"
        + (f" after {accrual_years:g} years of uniform entry" if accrual_years else "")
        + ". Losses other than leaving are ignored.",
    )
    result = PowerResult(
        table=table,
        n_leaders=int(n_leaders),
        share_treated=p,
        follow_up_years=float(follow_up_years),
        accrual_years=float(accrual_years),
        annual_turnover=float(annual_turnover),
        hazard_ratio=None if hazard_ratio is None else float(hazard_ratio),
        alpha=float(alpha),
        target_power=float(power),
        method=method,
        mdhr_protective=mdhr_lo,
        mdhr_harmful=mdhr_hi,
        title=f"Retention power ({label})",
        notes=notes,
    )
    return result
