"""What can the planned evaluation detect? Power and sample size for the program's rollout.

Three families of formulas, from the simplest design to the one a staged rollout really has:

**Individually randomised comparison of two means** (:func:`t_test_power`,
:func:`t2n_power`): the noncentral-t power of a two-sided (or one-sided) t test, solved for the
power, the sample size or the standardised effect ``d`` (Cohen's d), exactly as
``pwr::pwr.t.test`` and ``pwr::pwr.t2n.test`` compute it (Cohen 1988): with ``nu`` degrees of
freedom and noncentrality ``lambda = d sqrt(n / 2)`` (two equal groups of ``n``) or
``d / sqrt(1/n1 + 1/n2)``, power ``= P(T'_{nu, lambda} > t_{nu, 1-alpha/2}) + P(T'_{nu,
lambda} < -t_{nu, 1-alpha/2})``.

**Parallel cluster design** (:func:`design_effect`, :func:`cluster_power`): leaders surveyed in
``k`` units per arm of ``m`` leaders; the variance of a mean is inflated by the design effect
``1 + (m - 1) ICC`` (Donner & Klar 2000), or ``1 + ((cv^2 + 1) m - 1) ICC`` when unit sizes vary
with coefficient of variation ``cv`` (Eldridge, Ashby & Kerry 2006), and deflated by ``1 -
r^2`` when the follow-up is adjusted for a baseline whose cluster-mean correlation with it is
``r`` (ANCOVA; :func:`baseline_correlation` gives ``r`` from the ICC and the cluster and
individual autocorrelations, Teerenstra et al. 2012). The test is a t test on ``2 k - 2``
degrees of freedom (the number of clusters drives the precision, not the number of leaders).

**Stepped-wedge or multiple-cohort rollout** (:func:`rollout_design`,
:func:`treatment_variance`, :func:`stepped_wedge_power`): units (clusters) start the program at
given survey waves (periods). The outcome model is Hussey & Hughes' (2007) with the
extensions of Hooper et al. (2016) and Girling & Hemming (2016): the score of leader ``k`` of
unit ``i`` at wave ``j`` is ``mu_j + theta X_ij + C_i + G_ij + S_ik + E_ijk``, wave effects
``mu_j`` fixed, a persistent unit effect ``C_i`` (variance ``tau^2 = ICC * CAC``), a unit-wave
effect ``G_ij`` (``gamma^2 = ICC (1 - CAC)``), a persistent leader effect ``S_ik`` for a cohort
surveyed at every wave (``zeta^2 = (1 - ICC) IAC``) and a residual (``sigma_e^2 = (1 - ICC) (1 -
IAC)``), all in units of the outcome's total standard deviation, so ``theta`` is a standardised
effect ``d``. ``ICC`` is the within-wave intracluster correlation, ``CAC`` the cluster
autocorrelation (1: Hussey & Hughes' model), ``IAC`` the individual autocorrelation (0: a
cross-sectional design, new respondents at each wave). The unit-wave means ``Ybar_ij`` of the
``n_ij`` respondents have covariance ``tau^2 + gamma^2 + (zeta^2 + sigma_e^2) / n_ij`` on the
diagonal and ``tau^2 + zeta^2 o_ijj' / (n_ij n_ij')`` off it, with ``o_ijj'`` the respondents
answering at both waves. With a response rate ``q`` and ``m_ij`` leaders, ``n_ij = q m_ij`` and
``o_ijj' = q^2 min(m_ij, m_ij')`` (independent response at each wave); with ``q = 1`` and
constant ``m`` this is the covariance of ``swCRTdesign::swPwr`` and ``SteppedPower`` (ICC, CAC,
IAC parametrisation). The generalised least squares (GLS) variance of ``theta_hat`` is the
treatment element of ``(sum_i Z_i' V_i^-1 Z_i)^-1`` with ``Z_i = [wave indicators, X_i]`` on
the observed waves of unit ``i``, computed in numpy for any design matrix (cells may be
missing: NaN in the design or 0 leaders). For the cross-sectional model with equal sizes it
equals Hussey & Hughes' closed form (:func:`hussey_hughes_variance`). Power is ``Phi(|theta| /
se - z_{1-alpha/2}) + Phi(-|theta| / se - z_{1-alpha/2})`` (normal, as ``swPwr``), or the
noncentral t with ``df`` degrees of freedom; the minimum detectable effect (MDE) solves power =
target.

:func:`design_power` puts it in the program's terms — units (or peer groups), leaders per unit,
cohorts, survey waves, ICC, response rate, annual turnover, follow-up — computes the MDE of each
survey outcome and the minimum detectable hazard ratio of leaving (:mod:`coacheval.retention.power`,
Schoenfeld) and says in plain words what the evaluation can and cannot detect.

References: Cohen J. (1988) *Statistical Power Analysis for the Behavioral Sciences*, 2nd ed.;
Donner A., Klar N. (2000) *Design and Analysis of Cluster Randomization Trials*; Eldridge S.,
Ashby D., Kerry S. (2006) Sample size for cluster randomized trials: effect of coefficient of
variation of cluster size. *Int J Epidemiol* 35:1292-1300; Teerenstra S. et al. (2012) A
simple sample size formula for analysis of covariance in cluster randomized trials. *Stat Med*
31:2169-2178; Hussey M. A., Hughes J. P. (2007) Design and analysis of stepped wedge cluster
randomized trials. *Contemp Clin Trials* 28:182-191; Hooper R., Teerenstra S., de Hoop E.,
Eldridge S. (2016) Sample size calculation for stepped wedge and other longitudinal cluster
randomised trials. *Stat Med* 35:4718-4728; Girling A. J., Hemming K. (2016) Statistical
efficiency and optimal design for stepped cluster studies under linear mixed effects models.
*Stat Med* 35:2149-2166.

Examples
--------
>>> from coacheval.design.power import design_effect, t_test_power
>>> round(t_test_power(d=0.3, power=0.8).n, 2)  # leaders per arm; pwr.t.test: 175.38
175.38
>>> round(design_effect(4, 0.05), 2)  # peer groups of 4, ICC 0.05 (DOMAIN.md)
1.15
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from scipy import optimize, stats

from coacheval.errors import ConfigError
from coacheval.results import TableResult
from coacheval.retention.power import PowerResult, retention_power

__all__ = [
    "DesignPowerResult",
    "PowerCalculation",
    "baseline_correlation",
    "cluster_power",
    "design_effect",
    "design_power",
    "gls_power",
    "hussey_hughes_variance",
    "power_summary",
    "rollout_design",
    "stepped_wedge_power",
    "t2n_power",
    "t_test_power",
    "treatment_variance",
]

Alternative = Literal["two-sided", "greater", "less"]
TestType = Literal["two-sample", "one-sample", "paired"]

_ICC_ONE = 1.0 - 1e-10
"""An ICC of 1 leaves no within-unit variation and a singular covariance; the GLS variance is
its limit, evaluated here (the within-unit variance 1e-10 of the total changes nothing else)."""


# --------------------------------------------------------------------------------- checks
def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ConfigError(f"{name} must be finite, got {value!r}")
    return value


def _fraction(value: Any, name: str, *, low_open: bool = True, high_open: bool = True) -> float:
    v = _number(value, name)
    lo_ok = v > 0 if low_open else v >= 0
    hi_ok = v < 1 if high_open else v <= 1
    if not (lo_ok and hi_ok):
        lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
        raise ConfigError(f"{name} must lie in {lo}0, 1{hi}, got {value!r}")
    return v


def _positive(value: Any, name: str) -> float:
    v = _number(value, name)
    if v <= 0:
        raise ConfigError(f"{name} must be positive, got {value!r}")
    return v


def _choice(value: Any, name: str, options: tuple[str, ...]) -> str:
    if value not in options:
        raise ConfigError(f"{name} must be one of {', '.join(options)}, got {value!r}")
    return str(value)


def _one_missing(names: Sequence[str], values: Sequence[Any]) -> str:
    missing = [n for n, v in zip(names, values, strict=True) if v is None]
    if len(missing) != 1:
        raise ConfigError(
            f"give all but one of {', '.join(names)} (the one left out is solved for); "
            f"left out: {', '.join(missing) if missing else 'none'}"
        )
    return missing[0]


def _solve(
    func: Callable[[float], float],
    lo: float,
    hi: float,
    what: str,
    guess: float | None = None,
) -> float:
    if guess is not None and np.isfinite(guess) and lo < guess < hi:
        # a narrow bracket around a normal-theory guess saves most of Brent's iterations
        a, b = max(lo, 0.5 * guess), min(hi, 2.0 * guess + 2.0)
        f_a, f_b = func(a), func(b)
        if np.sign(f_a) != np.sign(f_b) and f_a != 0 and f_b != 0:
            return float(optimize.brentq(func, a, b, xtol=1e-13, rtol=4 * np.finfo(float).eps))
    f_lo, f_hi = func(lo), func(hi)
    if f_lo == 0:
        return lo
    if f_hi == 0:
        return hi
    if np.sign(f_lo) == np.sign(f_hi):
        raise ConfigError(
            f"no {what} between {lo:g} and {hi:g} reaches the requested power; "
            "check the effect size, power and level"
        )
    return float(optimize.brentq(func, lo, hi, xtol=1e-13, rtol=4 * np.finfo(float).eps))


# ------------------------------------------------------------------------ t-test power
def _nct_sf(q: Any, nu: float, ncp: Any) -> Any:
    """Upper tail of the noncentral t; scipy returns NaN deep in a tail, where it is ~0."""
    out = stats.nct.sf(q, nu, ncp)
    return np.where(np.isnan(out), stats.norm.sf(q - ncp), out)


def _nct_cdf(q: Any, nu: float, ncp: Any) -> Any:
    """Lower tail of the noncentral t (see :func:`_nct_sf`)."""
    out = stats.nct.cdf(q, nu, ncp)
    return np.where(np.isnan(out), stats.norm.cdf(q - ncp), out)


def _t_power(
    ncp: float | np.ndarray, nu: float, alpha: float, alternative: str
) -> float | np.ndarray:
    """Power of a t test with ``nu`` df and noncentrality ``ncp`` (pwr's ``p.body``)."""
    if alternative == "two-sided":
        qu = stats.t.isf(alpha / 2, nu)
        out = _nct_sf(qu, nu, ncp) + _nct_cdf(-qu, nu, ncp)
    elif alternative == "greater":
        out = _nct_sf(stats.t.isf(alpha, nu), nu, ncp)
    else:
        out = _nct_cdf(stats.t.ppf(alpha, nu), nu, ncp)
    return out[()] if isinstance(out, np.ndarray) and out.ndim == 0 else out


def _normal_power(
    ncp: float | np.ndarray, alpha: float, alternative: str = "two-sided"
) -> float | np.ndarray:
    if alternative == "two-sided":
        z = stats.norm.isf(alpha / 2)
        return stats.norm.cdf(ncp - z) + stats.norm.cdf(-ncp - z)
    if alternative == "greater":
        return stats.norm.cdf(ncp - stats.norm.isf(alpha))
    return stats.norm.cdf(-ncp - stats.norm.isf(alpha))


def _normal_n(d: float, alpha: float, power: float, alternative: str) -> float:
    """Normal-theory ``(z_alpha + z_beta)^2 / d^2``: a starting guess for the t-based roots."""
    if d == 0:
        return np.inf
    za = stats.norm.isf(alpha / 2 if alternative == "two-sided" else alpha)
    return float((za + stats.norm.ppf(power)) ** 2 / d**2)


def _d_bracket(alternative: str) -> tuple[float, float]:
    # pwr's search intervals for d: two-sided (1e-7, 10), less (-10, 5), greater (-5, 10)
    return {"two-sided": (1e-7, 10.0), "less": (-10.0, 5.0), "greater": (-5.0, 10.0)}[alternative]


@dataclass(frozen=True, eq=False)
class PowerCalculation(TableResult):
    """One power calculation: the quantity solved for and the inputs, as a one-row table.

    Attributes
    ----------
    table
        One row: the design quantities (e.g. ``n``, ``d``, ``alpha``, ``power``, and for
        cluster designs ``clusters``, ``cluster_size``, ``icc``, ``design_effect``; for GLS
        designs ``variance``, ``se``, ``mde``).
    kind
        ``"t test"``, ``"t test (unequal groups)"``, ``"cluster"`` or ``"stepped wedge"``.
    solved
        The quantity that was solved for (``"power"``, ``"n"``, ``"n1"``, ``"n2"``, ``"d"``,
        ``"clusters"``).
    design
        The clusters-by-periods design matrix (GLS designs only).
    power_of
        Power as a function of the effect size for this design (used by :meth:`plot`).

    Examples
    --------
    >>> res = t_test_power(n=50, d=0.5)
    >>> res.solved, round(res.power, 4)
    ('power', 0.6969)
    """

    table: pd.DataFrame
    kind: str
    solved: str
    design: np.ndarray | None = None
    power_of: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False)
    title: str = "Power calculation"
    notes: tuple[str, ...] = field(default=())

    def _get(self, name: str) -> float:
        if name not in self.table.columns:
            return float("nan")
        return float(self.table[name].iloc[0])

    @property
    def power(self) -> float:
        """Power (given or solved)."""
        return self._get("power")

    @property
    def d(self) -> float:
        """Standardised effect size (given or solved); the MDE when solved."""
        return self._get("d")

    @property
    def n(self) -> float:
        """Sample size per group (t tests)."""
        return self._get("n")

    @property
    def n1(self) -> float:
        """First group's size (unequal groups)."""
        return self._get("n1")

    @property
    def n2(self) -> float:
        """Second group's size (unequal groups)."""
        return self._get("n2")

    @property
    def clusters(self) -> float:
        """Clusters per arm (cluster designs)."""
        return self._get("clusters")

    @property
    def variance(self) -> float:
        """Variance of the effect estimate in squared SD units (GLS designs)."""
        return self._get("variance")

    @property
    def se(self) -> float:
        """Standard error of the effect estimate in SD units (cluster and GLS designs)."""
        return self._get("se")

    @property
    def mde(self) -> float:
        """Minimum detectable effect at the target power (GLS designs)."""
        return self._get("mde")

    def plot(self) -> Any:
        """Power against the standardised effect size; returns a matplotlib Figure.

        Examples
        --------
        >>> t_test_power(n=40, d=0.5).plot().axes[0].get_ylabel()
        'Power'
        """
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.0, 3.5))
        ax = fig.add_subplot()
        d = np.linspace(0.0, 1.5, 151)
        if self.power_of is not None:
            ax.plot(d, self.power_of(d), color="C0")
        ax.axhline(self._get("alpha"), color="grey", ls=":", lw=0.8)
        marked = self.mde if np.isfinite(self.mde) else self.d
        if np.isfinite(marked):
            ax.axvline(abs(marked), color="C1", lw=0.8)
        ax.set_xlabel("Standardised effect size d")
        ax.set_ylabel("Power")
        ax.set_ylim(0, 1.02)
        ax.set_title(self.title)
        fig.tight_layout()
        return fig


def t_test_power(
    *,
    n: float | None = None,
    d: float | None = None,
    power: float | None = None,
    alpha: float = 0.05,
    type: TestType = "two-sample",
    alternative: Alternative = "two-sided",
) -> PowerCalculation:
    """Power, sample size or effect size of a t test of means, as ``pwr::pwr.t.test``.

    Give all but one of ``n``, ``d`` and ``power``; the one left out is solved for.

    Parameters
    ----------
    n
        Leaders per group (two-sample), or observations/pairs (one-sample/paired); real,
        > 2 when solved for.
    d
        Standardised effect (difference in means over the SD; for ``"paired"``, the mean
        change over the SD of the changes). Negative for ``alternative="less"``.
    power
        Power, in (0, 1).
    alpha
        Significance level.
    type
        ``"two-sample"`` (default), ``"one-sample"`` or ``"paired"``.
    alternative
        ``"two-sided"`` (default), ``"greater"`` or ``"less"``.

    Returns
    -------
    PowerCalculation
        With ``n``, ``d``, ``power``, ``alpha`` in its one-row ``table``.

    Raises
    ------
    ConfigError
        Not exactly one quantity left out, bad values, or no solution in pwr's search interval
        (``n`` in (2, 1e9), ``d`` in (1e-7, 10) two-sided).

    Notes
    -----
    Solved quantities use Brent's method to about 1e-13; ``pwr`` uses R's ``uniroot`` with its
    default tolerance (about 1e-4), so solved values agree with pwr to that tolerance and with
    a tight ``uniroot`` on pwr's own power function to about 1e-10.

    Examples
    --------
    >>> res = t_test_power(d=0.5, power=0.8)  # pwr.t.test(d = 0.5, power = 0.8)$n: 63.77
    >>> round(res.n, 2)
    63.77
    >>> round(t_test_power(n=64, power=0.8).d, 4)
    0.4991
    """
    _choice(type, "type", get_args(TestType))
    _choice(alternative, "alternative", get_args(Alternative))
    alpha = _fraction(alpha, "alpha")
    solved = _one_missing(("n", "d", "power"), (n, d, power))
    tsample = 2.0 if type == "two-sample" else 1.0
    if n is not None:
        n = _number(n, "n")
        if n <= 1:
            raise ConfigError(f"n must be greater than 1, got {n!r}")
    if power is not None:
        power = _fraction(power, "power")
    if d is not None:
        d = _number(d, "d")
        if alternative == "two-sided":
            d = abs(d)

    def pw(n_: float, d_: float | np.ndarray) -> float | np.ndarray:
        return _t_power(np.sqrt(n_ / tsample) * d_, (n_ - 1) * tsample, alpha, alternative)

    if solved == "power":
        power = float(pw(n, d))
    elif solved == "n":
        guess = _normal_n(d, alpha, power, alternative) * tsample
        n = _solve(lambda x: float(pw(x, d)) - power, 2 + 1e-10, 1e9, "n", guess)
    else:
        lo, hi = _d_bracket(alternative)
        d = _solve(lambda x: float(pw(n, x)) - power, lo, hi, "d")
    table = pd.DataFrame([{"n": n, "d": d, "alpha": alpha, "power": power}])
    label = {"two-sample": "Two-sample", "one-sample": "One-sample", "paired": "Paired"}[type]
    note = {
        "two-sample": "n is the number in each group.",
        "paired": "n is the number of pairs.",
        "one-sample": "n is the number of observations.",
    }[type]
    return PowerCalculation(
        table=table,
        kind="t test",
        solved=solved,
        power_of=lambda x, n_=n: np.asarray(pw(n_, np.abs(x) if alternative == "two-sided" else x)),
        title=f"{label} t test power calculation ({alternative})",
        notes=(note,),
    )


def t2n_power(
    *,
    n1: float | None = None,
    n2: float | None = None,
    d: float | None = None,
    power: float | None = None,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> PowerCalculation:
    """Two-sample t test with unequal group sizes, as ``pwr::pwr.t2n.test``.

    Give all but one of ``n1``, ``n2``, ``d`` and ``power``. Degrees of freedom ``n1 + n2 -
    2``, noncentrality ``d / sqrt(1/n1 + 1/n2)``.

    Parameters
    ----------
    n1, n2
        Group sizes (e.g. coached leaders and comparison leaders), >= 2.
    d
        Standardised difference in means.
    power
        Power, in (0, 1).
    alpha
        Significance level.
    alternative
        ``"two-sided"``, ``"greater"`` or ``"less"``.

    Returns
    -------
    PowerCalculation

    Raises
    ------
    ConfigError
        Not exactly one quantity left out, group sizes below 2, bad values.

    Examples
    --------
    >>> round(t2n_power(n1=96, n2=400, d=0.3).power, 4)  # one cohort vs the rest
    0.75
    >>> round(t2n_power(n1=96, d=0.3, power=0.8).n2, 1)
    971.5
    """
    _choice(alternative, "alternative", get_args(Alternative))
    alpha = _fraction(alpha, "alpha")
    solved = _one_missing(("n1", "n2", "d", "power"), (n1, n2, d, power))
    for name, value in (("n1", n1), ("n2", n2)):
        if value is not None and _number(value, name) < 2:
            raise ConfigError(f"{name} must be at least 2, got {value!r}")
    n1 = None if n1 is None else float(n1)
    n2 = None if n2 is None else float(n2)
    if power is not None:
        power = _fraction(power, "power")
    if d is not None:
        d = _number(d, "d")
        if alternative == "two-sided":
            d = abs(d)

    def pw(a: float, b: float, d_: float | np.ndarray) -> float | np.ndarray:
        return _t_power(d_ / np.sqrt(1 / a + 1 / b), a + b - 2, alpha, alternative)

    if solved == "power":
        power = float(pw(n1, n2, d))
    elif solved == "n1":
        n1 = _solve(lambda x: float(pw(x, n2, d)) - power, 2 + 1e-10, 1e9, "n1", n2)
    elif solved == "n2":
        n2 = _solve(lambda x: float(pw(n1, x, d)) - power, 2 + 1e-10, 1e9, "n2", n1)
    else:
        lo, hi = _d_bracket(alternative)
        d = _solve(lambda x: float(pw(n1, n2, x)) - power, lo, hi, "d")
    table = pd.DataFrame([{"n1": n1, "n2": n2, "d": d, "alpha": alpha, "power": power}])
    return PowerCalculation(
        table=table,
        kind="t test (unequal groups)",
        solved=solved,
        power_of=lambda x: np.asarray(pw(n1, n2, np.abs(x) if alternative == "two-sided" else x)),
        title=f"Two-sample t test power calculation, unequal groups ({alternative})",
    )


# ----------------------------------------------------------------------- cluster designs
def design_effect(cluster_size: float, icc: float, *, cv: float = 0.0) -> float:
    """Variance inflation of a mean from clustering (Donner & Klar; Eldridge et al. 2006).

    Parameters
    ----------
    cluster_size
        Mean number of leaders surveyed per cluster, ``m`` >= 1.
    icc
        Intracluster correlation, in [0, 1].
    cv
        Coefficient of variation of the cluster sizes (0: equal sizes).

    Returns
    -------
    float
        ``1 + ((cv^2 + 1) m - 1) ICC`` (``1 + (m - 1) ICC`` with equal sizes).

    Raises
    ------
    ConfigError
        Cluster size below 1, ICC outside [0, 1], negative ``cv``.

    Examples
    --------
    >>> design_effect(30, 0.06)  # units of 30 respondents, ICC 0.06 (DOMAIN.md)
    2.74
    >>> round(design_effect(10, 0.05, cv=0.5), 3)
    1.575
    """
    m = _number(cluster_size, "cluster_size")
    if m < 1:
        raise ConfigError(f"cluster_size must be at least 1, got {cluster_size!r}")
    icc = _fraction(icc, "icc", low_open=False, high_open=False)
    cv = _number(cv, "cv")
    if cv < 0:
        raise ConfigError(f"cv must be >= 0, got {cv!r}")
    return float(1 + ((cv**2 + 1) * m - 1) * icc)


def baseline_correlation(
    cluster_size: float,
    icc: float,
    *,
    cluster_autocorrelation: float = 1.0,
    individual_autocorrelation: float = 0.0,
) -> float:
    """Correlation between a cluster's baseline and follow-up means (Teerenstra et al. 2012).

    Parameters
    ----------
    cluster_size
        Leaders surveyed per cluster and wave, ``m``.
    icc
        Within-wave intracluster correlation.
    cluster_autocorrelation
        Correlation of the cluster effects at the two waves (``CAC``; 1: persistent).
    individual_autocorrelation
        Correlation of a leader's own (non-cluster) part at the two waves (``IAC``; 0: new
        respondents at each wave).

    Returns
    -------
    float
        ``r = (m ICC CAC + (1 - ICC) IAC) / (1 + (m - 1) ICC)``; an ANCOVA on the baseline
        multiplies the variance by ``1 - r^2``.

    Examples
    --------
    >>> round(baseline_correlation(10, 0.05, individual_autocorrelation=0.5), 4)
    0.6724
    """
    m = _number(cluster_size, "cluster_size")
    if m < 1:
        raise ConfigError(f"cluster_size must be at least 1, got {cluster_size!r}")
    icc = _fraction(icc, "icc", low_open=False, high_open=False)
    cac = _fraction(
        cluster_autocorrelation, "cluster_autocorrelation", low_open=False, high_open=False
    )
    iac = _fraction(
        individual_autocorrelation, "individual_autocorrelation", low_open=False, high_open=False
    )
    return float((m * icc * cac + (1 - icc) * iac) / (1 + (m - 1) * icc))


def cluster_power(
    *,
    cluster_size: float,
    icc: float,
    clusters: float | None = None,
    d: float | None = None,
    power: float | None = None,
    alpha: float = 0.05,
    cv: float = 0.0,
    baseline_r: float = 0.0,
    df: Literal["clusters", "normal"] = "clusters",
) -> PowerCalculation:
    """Power, clusters per arm or detectable effect of a parallel cluster design.

    Give all but one of ``clusters``, ``d`` and ``power``. The difference of two arm means of
    ``clusters`` clusters of ``cluster_size`` leaders has variance ``2 DE (1 - r^2) / (k m)``
    (total SD 1), ``DE`` from :func:`design_effect`; the test is a noncentral t on ``2 k - 2``
    degrees of freedom (``df="clusters"``) or a z test (``df="normal"``).

    Parameters
    ----------
    cluster_size
        Mean leaders surveyed per cluster, ``m``.
    icc
        Intracluster correlation.
    clusters
        Clusters per arm, ``k`` (> 1 with ``df="clusters"``).
    d
        Standardised effect.
    power
        Power.
    alpha
        Two-sided level.
    cv
        Coefficient of variation of cluster sizes.
    baseline_r
        Cluster-mean correlation of baseline and follow-up for a baseline-adjusted analysis
        (0: no baseline); see :func:`baseline_correlation`.
    df
        ``"clusters"`` (t with ``2 k - 2`` df) or ``"normal"``.

    Returns
    -------
    PowerCalculation
        With ``clusters, cluster_size, icc, cv, design_effect, baseline_r, n_effective`` (leaders
        per arm an unclustered comparison would need for the same precision), ``d``, ``se``,
        ``alpha`` and ``power``.

    Raises
    ------
    ConfigError
        Bad values, or no solution.

    Examples
    --------
    >>> res = cluster_power(cluster_size=4, icc=0.05, d=0.3, power=0.8, df="normal")
    >>> round(res.clusters * 4)  # leaders per arm: 175 x 1.15 (DOMAIN.md's "about 200")
    201
    >>> round(cluster_power(cluster_size=30, icc=0.06, clusters=6, d=0.5).power, 3)
    0.733
    """
    _choice(df, "df", ("clusters", "normal"))
    alpha = _fraction(alpha, "alpha")
    de = design_effect(cluster_size, icc, cv=cv)
    r = _number(baseline_r, "baseline_r")
    if not -1 < r < 1:
        raise ConfigError(f"baseline_r must lie in (-1, 1), got {baseline_r!r}")
    solved = _one_missing(("clusters", "d", "power"), (clusters, d, power))
    if clusters is not None:
        clusters = _positive(clusters, "clusters")
        if df == "clusters" and clusters <= 1:
            raise ConfigError(
                f"clusters must exceed 1 per arm for a t test on 2k - 2 df, got {clusters!r}"
            )
        if df == "clusters" and clusters < 1.5:
            raise ConfigError(
                f"clusters per arm must be at least 1.5 (one degree of freedom), got {clusters!r}"
            )
    if power is not None:
        power = _fraction(power, "power")
    if d is not None:
        d = abs(_number(d, "d"))
    m = float(cluster_size)
    factor = 2 * de * (1 - r**2) / m  # variance x k

    def pw(k: float, d_: float | np.ndarray) -> float | np.ndarray:
        ncp = d_ / np.sqrt(factor / k)
        if df == "normal":
            return _normal_power(ncp, alpha)
        return _t_power(ncp, 2 * k - 2, alpha, "two-sided")

    if solved == "power":
        power = float(pw(clusters, d))
    elif solved == "clusters":
        # at least one degree of freedom (scipy's noncentral t is unreliable below it)
        lo = 1.5 if df == "clusters" else 1e-9
        guess = factor * _normal_n(d, alpha, power, "two-sided")
        clusters = _solve(lambda k: float(pw(k, d)) - power, lo, 1e9, "number of clusters", guess)
    else:
        d = _solve(lambda x: float(pw(clusters, x)) - power, 1e-7, 50.0, "d")
    table = pd.DataFrame(
        [
            {
                "clusters": clusters,
                "cluster_size": m,
                "icc": float(icc),
                "cv": float(cv),
                "design_effect": de,
                "baseline_r": r,
                "n_effective": clusters * m / (de * (1 - r**2)),
                "d": d,
                "se": float(np.sqrt(factor / clusters)),
                "alpha": alpha,
                "power": power,
            }
        ]
    )
    return PowerCalculation(
        table=table,
        kind="cluster",
        solved=solved,
        power_of=lambda x: np.asarray(pw(clusters, np.abs(x))),
        title="Parallel cluster design power calculation",
        notes=(
            f"Design effect {de:.3f} = 1 + ((cv^2 + 1) m - 1) ICC"
            + (f", times 1 - r^2 = {1 - r**2:.3f} for the baseline adjustment" if r else "")
            + ("; t test on 2k - 2 df." if df == "clusters" else "; z test."),
        ),
    )


# ------------------------------------------------------------------ stepped-wedge / GLS
def rollout_design(
    units: int,
    cohorts: int,
    waves: int | None = None,
    *,
    cohort_start_waves: Sequence[int] | None = None,
    control_units: int = 0,
) -> np.ndarray:
    """Design matrix of a staged rollout: units x survey waves, 1 once a unit's cohort started.

    The ``units - control_units`` program units are split into ``cohorts`` as evenly as
    possible (earlier cohorts take the extra unit); cohort ``c`` (0-based) counts as exposed
    from wave ``cohort_start_waves[c]`` (0-based) on. The ``control_units`` never start (a
    concurrent comparison arm). Without ``cohort_start_waves`` the starts are spread over the
    waves after the baseline: ``1 + floor(c (waves - 1) / cohorts)``, i.e. the classic
    stepped wedge ``1, 2, ..., cohorts`` when ``waves = cohorts + 1`` (the default).

    Parameters
    ----------
    units
        Clusters in the evaluation (units, departments or peer groups), program and control.
    cohorts
        Number of cohorts (steps).
    waves
        Survey waves (periods); default ``cohorts + 1``.
    cohort_start_waves
        First exposed wave of each cohort (0-based; 0 means exposed at the first wave, no
        baseline).
    control_units
        Units that never start the program during the evaluation.

    Returns
    -------
    numpy.ndarray
        ``units x waves`` array of 0.0/1.0, program units first (cohort by cohort), then the
        control units.

    Raises
    ------
    ConfigError
        Fewer program units than cohorts, starts outside the waves, bad counts.

    Examples
    --------
    >>> rollout_design(6, 3).astype(int)
    array([[0, 1, 1, 1],
           [0, 1, 1, 1],
           [0, 0, 1, 1],
           [0, 0, 1, 1],
           [0, 0, 0, 1],
           [0, 0, 0, 1]])
    >>> rollout_design(4, 1, 2, control_units=2).astype(int)  # parallel with baseline
    array([[0, 1],
           [0, 1],
           [0, 0],
           [0, 0]])
    """
    for name, value, low in (("units", units, 1), ("cohorts", cohorts, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    if (
        isinstance(control_units, bool)
        or not isinstance(control_units, (int, np.integer))
        or control_units < 0
    ):
        raise ConfigError(f"control_units must be an integer >= 0, got {control_units!r}")
    program = int(units) - int(control_units)
    if program < cohorts:
        raise ConfigError(
            f"{program} program unit(s) ({units} units minus {control_units} control units) "
            f"cannot fill {cohorts} cohorts: each cohort needs at least one unit"
        )
    if waves is None:
        waves = cohorts + 1
    if isinstance(waves, bool) or not isinstance(waves, (int, np.integer)) or waves < 1:
        raise ConfigError(f"waves must be an integer >= 1, got {waves!r}")
    if cohort_start_waves is None:
        if waves < 2:
            raise ConfigError(
                "with a single survey wave give cohort_start_waves=[0] (exposed at the only "
                "wave) and control units; a default rollout needs a baseline wave and later ones"
            )
        starts = [1 + (c * (waves - 1)) // cohorts for c in range(cohorts)]
    else:
        starts = list(cohort_start_waves)
        if len(starts) != cohorts:
            raise ConfigError(
                f"cohort_start_waves has {len(starts)} entries for {cohorts} cohort(s)"
            )
        for s in starts:
            if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 0 <= s < waves:
                raise ConfigError(
                    f"cohort_start_waves must be wave numbers from 0 to {waves - 1}, got {s!r}"
                )
    sizes = [len(a) for a in np.array_split(np.arange(program), cohorts)]
    start_of_unit = np.repeat(np.asarray(starts), sizes)
    x = (np.arange(waves)[None, :] >= start_of_unit[:, None]).astype(float)
    return np.vstack([x, np.zeros((int(control_units), waves))])


def _as_design(design: Any) -> np.ndarray:
    try:
        x = np.asarray(design, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ConfigError("design must be a numeric clusters x periods array") from exc
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ConfigError(
            f"design must be a 2-dimensional clusters x periods array, got shape {x.shape}"
        )
    ok = np.isnan(x) | ((x >= 0) & (x <= 1))
    if not ok.all():
        raise ConfigError(
            "design entries must be between 0 and 1 (the treatment indicator or fraction) or NaN "
            "(cluster-period not observed)"
        )
    return x


def _cell_sizes(cluster_size: Any, shape: tuple[int, int]) -> np.ndarray:
    try:
        m = np.asarray(cluster_size, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ConfigError("cluster_size must be a number, one per cluster, or a matrix") from exc
    n_cl, n_per = shape
    if m.ndim == 0:
        m = np.full(shape, float(m))
    elif m.ndim == 1:
        if m.shape[0] != n_cl:
            raise ConfigError(f"cluster_size has {m.shape[0]} entries for {n_cl} clusters")
        m = np.repeat(m[:, None], n_per, axis=1)
    elif m.shape != shape:
        raise ConfigError(f"cluster_size has shape {m.shape}, the design {shape}")
    if not np.isfinite(m).all() or (m < 0).any():
        raise ConfigError("cluster_size must be finite and >= 0 (0: not observed)")
    return m


@dataclass(frozen=True)
class _Components:
    tau2: float  # persistent cluster
    gamma2: float  # cluster-period
    zeta2: float  # persistent individual
    sigma2: float  # residual


def _components(
    icc: float, cac: float, iac: float, total_variance: float
) -> tuple[_Components, bool]:
    icc = _fraction(icc, "icc", low_open=False, high_open=False)
    cac = _fraction(cac, "cluster_autocorrelation", low_open=False, high_open=False)
    iac = _fraction(iac, "individual_autocorrelation", low_open=False, high_open=False)
    total = _positive(total_variance, "total_variance")
    limit = icc == 1 and cac == 1
    if icc == 1:
        icc = _ICC_ONE
    within = (1 - icc) * total
    comp = _Components(
        tau2=total * icc * cac,
        gamma2=total * icc * (1 - cac),
        zeta2=within * iac,
        sigma2=within * (1 - iac),
    )
    return comp, limit


def _cluster_cov(
    m_row: np.ndarray, comp: _Components, response_rate: float, cohort: bool
) -> np.ndarray:
    """Covariance of one cluster's period means (observed periods only)."""
    n = response_rate * m_row
    cov = np.full((len(m_row), len(m_row)), comp.tau2)
    if cohort and comp.zeta2 > 0:
        overlap = response_rate**2 * np.minimum.outer(m_row, m_row)
        cov = cov + comp.zeta2 * overlap / np.outer(n, n)
        np.fill_diagonal(cov, comp.tau2 + comp.gamma2 + (comp.zeta2 + comp.sigma2) / n)
    else:
        np.fill_diagonal(cov, comp.tau2 + comp.gamma2 + (comp.zeta2 + comp.sigma2) / n)
    return cov


def _information(
    x: np.ndarray, m: np.ndarray, comp: _Components, response_rate: float
) -> tuple[np.ndarray, np.ndarray]:
    """Sum over clusters of Z_i' V_i^-1 Z_i; returns it and the periods kept."""
    observed = ~np.isnan(x) & (m > 0)
    if not observed.any():
        raise ConfigError("the design has no observed cluster-period")
    keep = observed.any(axis=0)
    x, m, observed = x[:, keep], m[:, keep], observed[:, keep]
    n_per = x.shape[1]
    cohort = comp.zeta2 > 0
    # clusters with the same treatment pattern, sizes and missing cells contribute equally
    key = np.hstack([np.nan_to_num(x, nan=-1.0), m, observed])
    patterns, counts = np.unique(key, axis=0, return_counts=True)
    info = np.zeros((n_per + 1, n_per + 1))
    for row, count in zip(patterns, counts, strict=True):
        xi, mi = row[:n_per], row[n_per : 2 * n_per]
        obs = row[2 * n_per :] > 0.5
        z = np.hstack([np.eye(n_per)[obs], xi[obs, None]])
        v = _cluster_cov(mi[obs], comp, response_rate, cohort)
        info += count * (z.T @ np.linalg.solve(v, z))
    return info, keep


def treatment_variance(
    design: Any,
    *,
    icc: float,
    cluster_size: Any,
    cluster_autocorrelation: float = 1.0,
    individual_autocorrelation: float = 0.0,
    response_rate: float = 1.0,
    total_variance: float = 1.0,
) -> float:
    """GLS variance of the treatment effect for any clusters x periods design.

    Parameters
    ----------
    design
        Clusters x periods array: 1 (exposed), 0 (not yet), a fraction (partly exposed), or
        NaN (cluster-period not observed).
    icc
        Within-period intracluster correlation, in [0, 1].
    cluster_size
        Leaders per cluster and period: a number, one per cluster, or a clusters x periods
        matrix (0: not observed). For a cohort design (``individual_autocorrelation > 0``) the
        same leaders are followed; the overlap of two periods is the smaller size.
    cluster_autocorrelation
        ``CAC`` in [0, 1] (1: Hussey & Hughes' persistent cluster effect).
    individual_autocorrelation
        ``IAC`` in [0, 1] (0: cross-sectional; > 0: a cohort surveyed at every wave).
    response_rate
        Share of leaders answering at each wave, independently across waves, in (0, 1].
    total_variance
        Variance of an individual score (1: effects in SD units).

    Returns
    -------
    float
        ``Var(theta_hat)``.

    Raises
    ------
    ConfigError
        Bad values, or a design that cannot separate the effect from the period effects (e.g.
        every cluster starting at the same period with no comparison).

    Examples
    --------
    >>> x = rollout_design(24, 4)  # Hussey & Hughes' 24 clusters in 4 steps
    >>> v = treatment_variance(x, icc=0.05, cluster_size=20)
    >>> bool(np.isclose(v, hussey_hughes_variance(x, sigma2=0.95 / 20, tau2=0.05)))
    True
    """
    x = _as_design(design)
    m = _cell_sizes(cluster_size, x.shape)
    rr = _fraction(response_rate, "response_rate", high_open=False)
    comp, _ = _components(icc, cluster_autocorrelation, individual_autocorrelation, total_variance)
    info, _ = _information(x, m, comp, rr)
    scale = np.sqrt(np.diag(info))
    if (scale == 0).any():
        raise ConfigError("the design has a period or treatment column with no information")
    corr = info / np.outer(scale, scale)
    if np.linalg.cond(corr) > 1e12:
        raise ConfigError(
            "the design cannot separate the program's effect from the survey waves (for "
            "example every unit starts at the same wave and there are no comparison units, or "
            "no unit is observed both before and after its start)"
        )
    unit = np.zeros(len(info))
    unit[-1] = 1.0
    sol = np.linalg.solve(corr, unit / scale)
    return float(sol[-1] / scale[-1])


def hussey_hughes_variance(design: Any, *, sigma2: float, tau2: float) -> float:
    """Hussey & Hughes' (2007) closed-form variance of the treatment effect.

    For the cross-sectional model with a persistent cluster effect, equal cluster-period
    sizes and every cell observed: ``Var = I s2 (s2 + T t2) / ((I U - W) s2 + (U^2 + I T U - T
    W - I V) t2)`` with ``U`` the sum of the design, ``W`` the sum of squared column sums and
    ``V`` the sum of squared row sums.

    Parameters
    ----------
    design
        Clusters x periods 0/1 array, no missing cells.
    sigma2
        Variance of a cluster-period mean about its cluster's level (``sigma_e^2 / m``).
    tau2
        Variance of the cluster effects.

    Returns
    -------
    float

    Examples
    --------
    >>> x = rollout_design(24, 4)
    >>> f"{hussey_hughes_variance(x, sigma2=0.0425 * 0.9575 / 120, tau2=0.01**2):.5e}"
    '2.96823e-05'
    """
    x = _as_design(design)
    if np.isnan(x).any():
        raise ConfigError("Hussey & Hughes' closed form needs every cluster-period observed")
    s2, t2 = _number(sigma2, "sigma2"), _number(tau2, "tau2")
    if s2 <= 0 or t2 < 0:
        raise ConfigError("sigma2 must be positive and tau2 >= 0")
    n_cl, n_per = x.shape
    u = x.sum()
    w = (x.sum(axis=0) ** 2).sum()
    v = (x.sum(axis=1) ** 2).sum()
    den = (n_cl * u - w) * s2 + (u**2 + n_cl * n_per * u - n_per * w - n_cl * v) * t2
    if den <= 0:
        raise ConfigError("the design cannot separate the program's effect from the periods")
    return float(n_cl * s2 * (s2 + n_per * t2) / den)


def _power_from_se(
    effect: float | np.ndarray, se: float, alpha: float, df: float | None
) -> float | np.ndarray:
    if se == 0:
        e = np.asarray(effect, dtype=float)
        return np.where(e != 0, 1.0, alpha) if e.ndim else (1.0 if e != 0 else alpha)
    ncp = np.abs(effect) / se
    if df is None:
        return _normal_power(ncp, alpha)
    return _t_power(ncp, df, alpha, "two-sided")


def _mde(se: float, alpha: float, power: float, df: float | None) -> float:
    if se == 0:
        return 0.0
    return _solve(
        lambda e: float(_power_from_se(e, se, alpha, df)) - power, 1e-12 * se, 1e3 * se, "effect"
    )


def gls_power(
    variance: float,
    *,
    effect: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    df: float | None = None,
) -> tuple[float, float]:
    """Power at ``effect`` and minimum detectable effect from a treatment-effect variance.

    Parameters
    ----------
    variance
        ``Var(theta_hat)`` (e.g. from :func:`treatment_variance`).
    effect
        Effect to compute the power for (None: power is NaN).
    alpha
        Two-sided level.
    power
        Target power of the minimum detectable effect.
    df
        Degrees of freedom of a t reference (None: normal, as Hussey & Hughes and ``swPwr``).

    Returns
    -------
    tuple of float
        ``(power at effect, minimum detectable effect)``.

    Examples
    --------
    >>> p, mde = gls_power(0.01, effect=0.28)
    >>> round(p, 3), round(mde, 4)
    (0.8, 0.2802)
    """
    var = _number(variance, "variance")
    if var < 0:
        raise ConfigError(f"variance must be >= 0, got {variance!r}")
    alpha = _fraction(alpha, "alpha")
    power = _fraction(power, "power")
    if df is not None:
        df = _positive(df, "df")
    se = float(np.sqrt(var))
    pw = (
        np.nan
        if effect is None
        else float(_power_from_se(_number(effect, "effect"), se, alpha, df))
    )
    return pw, _mde(se, alpha, power, df)


def stepped_wedge_power(
    design: Any,
    *,
    icc: float,
    cluster_size: Any,
    effect: float | None = None,
    cluster_autocorrelation: float = 1.0,
    individual_autocorrelation: float = 0.0,
    response_rate: float = 1.0,
    total_variance: float = 1.0,
    alpha: float = 0.05,
    power: float = 0.8,
    df: float | None = None,
) -> PowerCalculation:
    """Power and minimum detectable effect of a stepped-wedge or multiple-cohort rollout.

    Parameters
    ----------
    design
        Clusters x periods array (see :func:`treatment_variance`; :func:`rollout_design`
        builds the usual ones).
    icc, cluster_size, cluster_autocorrelation, individual_autocorrelation, response_rate, total_variance
        The outcome model (see :func:`treatment_variance`).
    effect
        Effect to compute the power for, in the units of ``sqrt(total_variance)`` (optional).
    alpha
        Two-sided level.
    power
        Target power of the minimum detectable effect.
    df
        Degrees of freedom of a t reference (None: normal).

    Returns
    -------
    PowerCalculation
        ``variance``, ``se``, ``d`` (the effect), ``power`` (at ``effect``), ``mde``,
        ``target_power``, ``alpha``, ``df``, ``clusters``, ``periods``.

    Examples
    --------
    Hussey & Hughes' example as in the swCRTdesign README (24 clusters in 4 steps, 120
    observations per cluster-period, incidence 5% vs 3.5%, tau = 0.01): power 0.7861896.

    >>> mu = (0.05 + 0.035) / 2
    >>> total = mu * (1 - mu) + 0.01**2
    >>> res = stepped_wedge_power(rollout_design(24, 4), icc=0.01**2 / total, cluster_size=120,
    ...                           total_variance=total, effect=0.015)
    >>> round(res.power, 7)
    0.7861896
    """
    x = _as_design(design)
    var = treatment_variance(
        x,
        icc=icc,
        cluster_size=cluster_size,
        cluster_autocorrelation=cluster_autocorrelation,
        individual_autocorrelation=individual_autocorrelation,
        response_rate=response_rate,
        total_variance=total_variance,
    )
    pw, mde = gls_power(var, effect=effect, alpha=alpha, power=power, df=df)
    se = float(np.sqrt(var))
    table = pd.DataFrame(
        [
            {
                "clusters": x.shape[0],
                "periods": x.shape[1],
                "icc": float(icc),
                "cluster_autocorrelation": float(cluster_autocorrelation),
                "individual_autocorrelation": float(individual_autocorrelation),
                "response_rate": float(response_rate),
                "variance": var,
                "se": se,
                "d": np.nan if effect is None else float(effect),
                "alpha": float(alpha),
                "df": np.nan if df is None else float(df),
                "power": pw,
                "target_power": float(power),
                "mde": mde,
            }
        ]
    )
    reference = "normal" if df is None else f"t on {df:g} df"
    return PowerCalculation(
        table=table,
        kind="stepped wedge",
        solved="power",
        design=x,
        power_of=lambda e: np.asarray(_power_from_se(e, se, float(alpha), df)),
        title="Stepped-wedge / multiple-cohort rollout power (GLS)",
        notes=(
            f"GLS variance of the effect for {x.shape[0]} clusters x {x.shape[1]} periods "
            f"(ICC {icc:g}, CAC {cluster_autocorrelation:g}, IAC {individual_autocorrelation:g}, "
            f"response rate {response_rate:g}); {reference} reference distribution.",
        ),
    )


# ------------------------------------------------------------------ the planned rollout
def _default_outcomes() -> dict[str, float]:
    from coacheval.simulate.config import SimulationConfig

    return {name: float(s.effect_d) for name, s in SimulationConfig().scales.items()}


def _parse_outcomes(
    outcomes: Mapping[str, Any] | None, icc: float
) -> list[tuple[str, float, float]]:
    if outcomes is None:
        outcomes = _default_outcomes()
    if not isinstance(outcomes, Mapping) or not outcomes:
        raise ConfigError(
            "outcomes must map outcome names to the expected effect d, or to "
            "{'effect': d, 'icc': icc}"
        )
    out = []
    for name, spec in outcomes.items():
        if isinstance(spec, Mapping):
            unknown = sorted(set(spec) - {"effect", "icc"})
            if unknown or "effect" not in spec:
                raise ConfigError(
                    f"outcomes.{name} must give 'effect' (and optionally 'icc'), got {dict(spec)!r}"
                )
            d = _number(spec["effect"], f"outcomes.{name}.effect")
            o_icc = _fraction(
                spec.get("icc", icc), f"outcomes.{name}.icc", low_open=False, high_open=False
            )
        else:
            d = _number(spec, f"outcomes.{name}")
            o_icc = icc
        out.append((str(name), d, o_icc))
    return out


def _label(name: str) -> str:
    return name.replace("_", " ")


@dataclass(frozen=True, eq=False)
class DesignPowerResult(TableResult):
    """What the planned rollout can detect: survey outcomes and retention, with a verdict.

    Attributes
    ----------
    table
        One row per survey outcome and one for retention: ``outcome, measure`` (``"d"`` or
        ``"hazard ratio"``), ``expected`` (the effect the plan expects), ``minimum_detectable``
        (MDE in SD units, or the protective minimum detectable hazard ratio), ``power`` (at the
        expected effect), ``se`` (of the effect estimate: SD units, or log hazard ratio),
        ``icc``, ``detectable`` (power >= target) and ``verdict`` (a plain sentence).
    design
        Units x waves rollout matrix (1: the unit's cohort has started).
    leaders
        Leaders per unit.
    parameters
        The planning inputs, as given and derived (respondents per wave, exposed share of
        person-time, follow-up, degrees of freedom).
    retention
        Schoenfeld retention power (:func:`coacheval.retention.power.retention_power`), or None
        when the design has no contrast in exposure over time.
    alpha, target_power, df
        Level, target power, t degrees of freedom of the survey tests (None: normal).

    Examples
    --------
    >>> res = design_power(units=24, leaders_per_unit=10, cohorts=3, icc=0.05,
    ...                    outcomes={"work_engagement": 0.15})
    >>> print(res.table.verdict.iloc[0])  # doctest: +NORMALIZE_WHITESPACE
    work engagement: the evaluation can detect an effect of d >= 0.40 with 80% power; it cannot
    detect the 0.15 expected (power 18%).
    """

    table: pd.DataFrame
    design: np.ndarray
    leaders: np.ndarray
    parameters: dict[str, Any]
    retention: PowerResult | None
    alpha: float
    target_power: float
    df: float | None
    title: str = "Power of the planned rollout"
    notes: tuple[str, ...] = field(default=())

    @property
    def verdict(self) -> str:
        """Return the plain-language verdict: the plan in one line, then one line per outcome.

        Examples
        --------
        >>> res = design_power(units=12, leaders_per_unit=8, cohorts=2,
        ...                    outcomes={"burnout": -0.3})
        >>> res.verdict.splitlines()[0].startswith("Planned rollout: 12 units")
        True
        """
        p = self.parameters
        control = f" ({p['control_units']} never starting)" if p["control_units"] else ""
        head = (
            f"Planned rollout: {p['units']} {p['cluster_label']}s{control} with about "
            f"{p['leaders_total']:.0f} leaders, "
            f"{p['cohorts']} cohort(s) over {p['waves']} survey wave(s); about "
            f"{p['respondents_per_wave']:.0f} respondents per wave at a "
            f"{100 * p['response_rate']:.0f}% response rate, ICC {p['icc']:g}."
        )
        return "\n".join([head, *self.table.verdict.tolist()])

    def to_dict(self) -> dict[str, Any]:
        """Return the table, notes, verdict, planning parameters and design as plain data.

        Examples
        --------
        >>> d = design_power(units=6, leaders_per_unit=10, cohorts=2).to_dict()
        >>> d["design"][0], d["parameters"]["waves"]
        ([0.0, 1.0, 1.0], 3)
        """
        out = super().to_dict()
        out["verdict"] = self.verdict
        out["parameters"] = {k: _plain(v) for k, v in self.parameters.items()}
        out["design"] = self.design.tolist()
        out["leaders"] = self.leaders.tolist()
        out["retention"] = None if self.retention is None else self.retention.to_dict()
        return out

    def plot(self) -> Any:
        """Power curves: each survey outcome by effect size, retention by hazard ratio.

        Returns
        -------
        matplotlib.figure.Figure

        Examples
        --------
        >>> fig = design_power(units=12, leaders_per_unit=8, cohorts=3).plot()
        >>> [ax.get_xlabel() for ax in fig.axes]
        ['Standardised effect size d', 'Hazard ratio of leaving, coached vs not']
        """
        from matplotlib.figure import Figure

        fig = Figure(figsize=(9.0, 4.2))
        ax1, ax2 = fig.subplots(1, 2)
        survey = self.table[self.table.measure == "d"]
        grid = np.linspace(0.0, max(1.0, 1.5 * float(survey.minimum_detectable.max())), 151)
        for k, (_, row) in enumerate(survey.drop_duplicates("se").iterrows()):
            same = survey.loc[np.isclose(survey.se, row.se), "outcome"].map(_label).tolist()
            ax1.plot(
                grid,
                _power_from_se(grid, float(row.se), self.alpha, self.df),
                color=f"C{k}",
                label=", ".join(same),
            )
        for _, row in survey.iterrows():
            ax1.plot(abs(row.expected), row.power, "o", color="black", ms=3)
        ax1.axhline(self.target_power, color="grey", ls="--", lw=0.8)
        ax1.axhline(self.alpha, color="grey", ls=":", lw=0.8)
        ax1.set_xlabel("Standardised effect size d")
        ax1.set_ylabel("Power")
        ax1.set_ylim(0, 1.02)
        ax1.set_title("Survey outcomes")
        # Outcomes sharing a standard error share a curve; the legend goes below the panels
        # (inside, it would cover the curve's lower half).
        fig.legend(
            *ax1.get_legend_handles_labels(),
            loc="lower left",
            fontsize="x-small",
            frameon=False,
            ncol=1,
        )
        if self.retention is not None:
            r = self.retention
            lam0 = -np.log1p(-r.annual_turnover)
            from coacheval.retention.power import _power_from_events, event_probability

            # From the minimum detectable hazard ratio (or 0.3) to 1, so the curve meets 80%.
            low = float(np.nan_to_num(r.mdhr_protective, nan=0.3))
            hr = np.exp(np.linspace(np.log(min(0.3, 0.9 * low)), np.log(1.0), 160))
            prob = (1 - r.share_treated) * event_probability(
                lam0, r.follow_up_years
            ) + r.share_treated * event_probability(lam0 * hr, r.follow_up_years)
            ax2.plot(
                hr,
                _power_from_events(hr, r.n_leaders * prob, r.share_treated, r.alpha, r.method),
                color="C0",
            )
            if r.hazard_ratio is not None:
                ax2.plot(r.hazard_ratio, r.power, "o", color="black", ms=3)
        ax2.axhline(self.target_power, color="grey", ls="--", lw=0.8)
        ax2.set_xscale("log")
        ticks = [t for t in (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.85, 1.0) if t >= ax2.get_xlim()[0]]
        ax2.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax2.minorticks_off()
        ax2.set_xlabel("Hazard ratio of leaving, coached vs not")
        ax2.set_ylim(0, 1.02)
        ax2.set_title("Retention")
        n_lines = len(ax1.get_legend_handles_labels()[1])
        fig.tight_layout(rect=(0, 0.04 + 0.035 * n_lines, 1, 1))
        return fig


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _survey_verdict(label: str, d: float, mde: float, power: float, target: float) -> str:
    pct = f"{100 * target:.0f}%"
    if d == 0:
        return (
            f"{label}: the evaluation can detect an effect of d >= {mde:.2f} with {pct} power "
            "(no effect is expected)."
        )
    can = power >= target
    return (
        f"{label}: the evaluation can detect an effect of d >= {mde:.2f} with {pct} power; it "
        f"{'can' if can else 'cannot'} detect the {abs(d):.2f} expected "
        f"(power {100 * power:.0f}%)."
    )


def _retention_verdict(res: PowerResult, target: float) -> str:
    pct = f"{100 * target:.0f}%"
    events = res.expected_events
    where = (
        f"about {events:.0f} expected exits among {res.n_leaders} leaders over "
        f"{res.follow_up_years:g} year(s)"
    )
    if np.isfinite(res.mdhr_protective):
        head = (
            f"turnover: a hazard ratio of leaving of {res.mdhr_protective:.2f} or stronger can be "
            f"detected with {pct} power ({where})"
        )
    else:
        head = f"turnover: no protective hazard ratio can be detected with {pct} power ({where})"
    if res.hazard_ratio is None:
        return head + "."
    can = res.power >= target
    return (
        f"{head}; it {'can' if can else 'cannot'} detect the {res.hazard_ratio:.2f} expected "
        f"(power {100 * res.power:.0f}%)."
    )


def design_power(
    *,
    units: int,
    leaders_per_unit: float | Sequence[float],
    cohorts: int = 3,
    waves: int | None = None,
    cohort_start_waves: Sequence[int] | None = None,
    control_units: int = 0,
    icc: float = 0.05,
    response_rate: float = 0.6,
    cluster_autocorrelation: float = 1.0,
    individual_autocorrelation: float = 0.0,
    outcomes: Mapping[str, Any] | None = None,
    annual_turnover: float = 0.088,
    hazard_ratio: float | None = 0.85,
    follow_up_years: float | None = None,
    wave_interval_months: float = 6.0,
    alpha: float = 0.05,
    power: float = 0.8,
    df: Literal["clusters", "normal"] = "clusters",
    cluster_label: str = "unit",
) -> DesignPowerResult:
    """Power of the planned rollout, in the program's terms, for every outcome and retention.

    Units (departments, or peer groups when those are what is rolled out) are split into
    cohorts that start the program at successive survey waves (:func:`rollout_design`); the
    GLS variance of each survey outcome's effect follows from the ICC, the leaders per unit and
    the response rate (:func:`treatment_variance`), giving the minimum detectable effect in SD
    units and the power at the effect the plan expects. Retention uses Schoenfeld's formula
    (:func:`coacheval.retention.power.retention_power`) for all leaders (HR records need no
    survey response), with the coached share equal to the exposed share of person-time in the
    rollout.

    Parameters
    ----------
    units
        Units in the evaluation (including ``control_units``).
    leaders_per_unit
        Leaders per unit: one number or one per unit.
    cohorts
        Cohorts (steps) the program units are split into.
    waves
        Survey waves; default ``cohorts + 1`` (a baseline, then one wave after each start).
    cohort_start_waves
        First exposed wave of each cohort (0-based); default spread evenly after the baseline.
    control_units
        Units that never start during the evaluation (a concurrent comparison arm).
    icc
        Within-wave intracluster correlation of the survey outcomes (DOMAIN.md: job
        satisfaction 0.06 at unit level, 0.02-0.15; peer groups 0.02-0.05).
    response_rate
        Share of leaders answering each wave (DOMAIN.md default 0.60).
    cluster_autocorrelation
        Correlation of a unit's effects between waves (1: Hussey & Hughes).
    individual_autocorrelation
        Correlation of a leader's own scores between waves (0: treat respondents as new at each
        wave, the conservative default; about 0.5 for a cohort surveyed repeatedly).
    outcomes
        Expected effect per survey outcome (``{"work_engagement": 0.3}``, or ``{"burnout":
        {"effect": -0.3, "icc": 0.2}}``); default: the simulator's expected effects
        (:class:`coacheval.simulate.ScaleConfig`, from DOMAIN.md).
    annual_turnover
        Share of leaders leaving within a year without the program (DOMAIN.md: 0.088).
    hazard_ratio
        Expected hazard ratio of leaving, coached vs not (None: only the minimum detectable).
    follow_up_years
        Retention follow-up; default the survey span ``(waves - 1) * wave_interval_months / 12``
        (at least one year).
    wave_interval_months
        Months between survey waves.
    alpha
        Two-sided level.
    power
        Target power.
    df
        ``"clusters"``: survey tests are t tests on ``units - 2`` degrees of freedom (the
        small-sample correction usually recommended for few clusters); ``"normal"``: z tests
        (Hussey & Hughes).
    cluster_label
        What a unit is called in the verdict (``"unit"``, ``"peer group"``).

    Returns
    -------
    DesignPowerResult
        ``table`` with a ``verdict`` per outcome, ``verdict`` text, ``plot()``.

    Raises
    ------
    ConfigError
        Bad counts or values, or a rollout that cannot separate the program from time.

    Examples
    --------
    >>> res = design_power(units=24, leaders_per_unit=10, cohorts=3,
    ...                    outcomes={"work_engagement": 0.3, "burnout": -0.3})
    >>> res.table[["outcome", "expected", "minimum_detectable", "power"]].round(3)
               outcome  expected  minimum_detectable  power
    0  work_engagement      0.30               0.402  0.553
    1          burnout     -0.30               0.402  0.553
    2         turnover      0.85               0.216  0.069
    """
    alpha = _fraction(alpha, "alpha")
    target = _fraction(power, "power")
    _choice(df, "df", ("clusters", "normal"))
    if not isinstance(cluster_label, str) or not cluster_label.strip():
        raise ConfigError("cluster_label must be a non-empty string")
    icc = _fraction(icc, "icc", low_open=False, high_open=False)
    rr = _fraction(response_rate, "response_rate", high_open=False)
    interval = _positive(wave_interval_months, "wave_interval_months")
    x = rollout_design(
        units, cohorts, waves, cohort_start_waves=cohort_start_waves, control_units=control_units
    )
    n_units, n_waves = x.shape
    sizes = np.asarray(leaders_per_unit, dtype=float)
    if sizes.ndim == 0:
        sizes = np.full(n_units, float(sizes))
    if sizes.shape != (n_units,):
        raise ConfigError(
            f"leaders_per_unit must be one number or one per unit ({n_units}), got "
            f"{sizes.shape[0] if sizes.ndim == 1 else sizes.shape} values"
        )
    if not np.isfinite(sizes).all() or (sizes < 1).any():
        raise ConfigError("leaders_per_unit must be at least 1 leader in every unit")
    if df == "clusters":
        if n_units <= 2:
            raise ConfigError(
                f"{n_units} units leave no degrees of freedom for a t test (units - 2); use "
                "more units or df='normal'"
            )
        t_df: float | None = float(n_units - 2)
    else:
        t_df = None
    specs = _parse_outcomes(outcomes, icc)

    rows = []
    cache: dict[float, float] = {}
    for name, d, o_icc in specs:
        if o_icc not in cache:
            cache[o_icc] = treatment_variance(
                x,
                icc=o_icc,
                cluster_size=sizes,
                cluster_autocorrelation=cluster_autocorrelation,
                individual_autocorrelation=individual_autocorrelation,
                response_rate=rr,
            )
        var = cache[o_icc]
        pw, mde = gls_power(var, effect=d, alpha=alpha, power=target, df=t_df)
        rows.append(
            {
                "outcome": name,
                "measure": "d",
                "expected": d,
                "minimum_detectable": mde,
                "power": pw,
                "se": float(np.sqrt(var)),
                "icc": o_icc,
                "detectable": bool(pw >= target),
                "verdict": _survey_verdict(_label(name), d, mde, pw, target),
            }
        )

    # retention: exposed share of person-time, intervals between waves labelled by their end
    weights = sizes[:, None] * np.ones_like(x)
    exposed = x[:, 1:] if n_waves > 1 else x
    share = float(
        (weights[:, : exposed.shape[1]] * exposed).sum() / weights[:, : exposed.shape[1]].sum()
    )
    years = (
        float(_positive(follow_up_years, "follow_up_years"))
        if follow_up_years is not None
        else max((n_waves - 1) * interval / 12.0, 1.0)
    )
    turnover = _fraction(annual_turnover, "annual_turnover")
    leaders_total = float(sizes.sum())
    notes = [
        f"Survey outcomes: GLS variance of the effect in a {n_units} x {n_waves} rollout "
        f"(Hussey & Hughes 2007; Hooper et al. 2016) with ICC, cluster autocorrelation "
        f"{cluster_autocorrelation:g}, individual autocorrelation {individual_autocorrelation:g} "
        f"and {100 * rr:.0f}% response; "
        + (f"t tests on {t_df:g} df." if t_df is not None else "z tests."),
    ]
    retention = None
    if 0 < share < 1 and round(leaders_total) >= 1:
        retention = retention_power(
            round(leaders_total),
            share_treated=share,
            follow_up_years=years,
            annual_turnover=turnover,
            hazard_ratio=hazard_ratio,
            alpha=alpha,
            power=target,
        )
        row = retention.table.iloc[0]
        pe = float(row.expected_events) if hazard_ratio is not None else retention.expected_events
        rows.append(
            {
                "outcome": "turnover",
                "measure": "hazard ratio",
                "expected": np.nan if hazard_ratio is None else float(hazard_ratio),
                "minimum_detectable": retention.mdhr_protective,
                "power": retention.power,
                "se": float(1 / np.sqrt(pe * share * (1 - share))) if pe > 0 else np.inf,
                "icc": np.nan,
                "detectable": bool(retention.power >= target)
                if hazard_ratio is not None
                else False,
                "verdict": _retention_verdict(retention, target),
            }
        )
        notes.append(
            f"Retention: Schoenfeld's formula for all {leaders_total:.0f} leaders with "
            f"{100 * share:.0f}% of person-time after their unit's start, {100 * turnover:g}% "
            f"annual turnover, {years:g} year(s) of follow-up; it ignores clustering of exits "
            "within units and the adjustment for calendar time, so it is optimistic for a "
            "rollout (check with coacheval.retention.simulated_power)."
        )
    else:
        notes.append(
            "Retention: every leader is in the same exposure state throughout, so the rollout "
            "gives no contrast for a hazard ratio; no retention power is computed."
        )
    parameters = {
        "units": int(n_units),
        "control_units": int(control_units),
        "cluster_label": cluster_label,
        "cohorts": int(cohorts),
        "waves": int(n_waves),
        "cohort_start_waves": None if cohort_start_waves is None else list(cohort_start_waves),
        "leaders_total": leaders_total,
        "respondents_per_wave": rr * leaders_total,
        "icc": icc,
        "response_rate": rr,
        "cluster_autocorrelation": float(cluster_autocorrelation),
        "individual_autocorrelation": float(individual_autocorrelation),
        "annual_turnover": turnover,
        "hazard_ratio": None if hazard_ratio is None else float(hazard_ratio),
        "follow_up_years": years,
        "wave_interval_months": interval,
        "exposed_share": share,
        "alpha": alpha,
        "power": target,
        "df": t_df,
    }
    return DesignPowerResult(
        table=pd.DataFrame(rows),
        design=x,
        leaders=sizes,
        parameters=parameters,
        retention=retention,
        alpha=alpha,
        target_power=target,
        df=t_df,
        notes=tuple(notes),
    )


def power_summary(result: DesignPowerResult | None = None, **design: Any) -> pd.DataFrame:
    """Return the verdict table of a planned rollout: one plain row per outcome.

    Parameters
    ----------
    result
        A :class:`DesignPowerResult`; when omitted, ``design`` is passed to
        :func:`design_power`.
    **design
        Arguments of :func:`design_power`.

    Returns
    -------
    pandas.DataFrame
        ``outcome, measure, expected, minimum_detectable, power, detectable, verdict``.

    Examples
    --------
    >>> power_summary(units=24, leaders_per_unit=10, outcomes={"wellbeing": 0.2}).outcome.tolist()
    ['wellbeing', 'turnover']
    """
    if result is None:
        result = design_power(**design)
    elif design:
        raise ConfigError("give a DesignPowerResult or design arguments, not both")
    cols = [
        "outcome",
        "measure",
        "expected",
        "minimum_detectable",
        "power",
        "detectable",
        "verdict",
    ]
    return result.table[cols].copy()
