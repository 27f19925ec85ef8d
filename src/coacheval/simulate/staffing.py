"""Front-line staff on the leaders' units: monthly headcount and separations (team spillover).

For every clinical unit (not the departments' administration cost centres, which hold no
front-line staff) and every month from the window start to the extract month:

* headcount ``H[u, m] = round(L[u] * exp(x[u, m]))``: a level ``L[u]`` uniform on
  ``staff_headcount_range`` and a slowly varying AR(1) deviation ``x`` (autocorrelation 0.9,
  stationary SD ``staff_headcount_sd``);
* separations ``~ Poisson(H[u, m] * staff_turnover_annual / 12 * f[u] * RR^coached[u, m])``,
  capped at ``H[u, m]``, with ``f[u]`` a mean-1 gamma frailty of variance
  ``staff_frailty_variance`` (so counts are overdispersed: negative binomial marginally) and
  ``RR = staff_turnover_rr``;
* ``coached[u, m] = 1`` from the month after the first enrolment of any leader whose seat is in
  the unit (enrolment in month ``k`` switches it on in month ``k + 1``), for good (intention to
  treat: it stays on if that leader withdraws or leaves).

The annual rate is separations per headcount-year (the NSI turnover definition: separations over
average headcount), so the monthly rate is it divided by 12. Draws use their own counter-based
streams (``staff_*``), so switching the table on or off changes no other output.

Part of the simulator's engine, called by
:func:`~coacheval.simulate.simulate_health_system`: the module has no public API (the public
names are those :mod:`coacheval.simulate` exports), so its ``__all__`` is empty.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import signal, stats

from coacheval.errors import ConfigError
from coacheval.simulate.config import SimulationConfig
from coacheval.simulate.organisation import Organisation
from coacheval.simulate.program import Program
from coacheval.simulate.streams import Streams

__all__: list[str] = []

HEADCOUNT_AUTOCORRELATION = 0.9
"""Month-to-month autocorrelation of a unit's log headcount deviation."""

EXPOSURE_DEFINITION = (
    "a unit is coached from the month after the month in which any leader whose seat is in "
    "the unit (hr_roster.unit_id) first enrolled (enrolment.enrol_date), for good"
)


def check_staffing_config(cfg: SimulationConfig) -> None:
    """Raise :class:`~coacheval.errors.ConfigError` for invalid ``staff_*`` parameters.

    Examples
    --------
    >>> check_staffing_config(SimulationConfig(staff_turnover_rr=0.0))
    Traceback (most recent call last):
    ...
    coacheval.errors.ConfigError: staff_turnover_rr must be positive
    """
    lo, hi = cfg.staff_headcount_range
    problems = []
    if not 0 < cfg.staff_turnover_annual < 12:
        problems.append("staff_turnover_annual must be a positive rate per headcount-year")
    if not cfg.staff_turnover_rr > 0:
        problems.append("staff_turnover_rr must be positive")
    if not cfg.staff_frailty_variance >= 0:
        problems.append("staff_frailty_variance must be >= 0")
    if not (1 <= lo <= hi):
        problems.append("staff_headcount_range must be two whole numbers 1 <= low <= high")
    if not cfg.staff_headcount_sd >= 0:
        problems.append("staff_headcount_sd must be >= 0")
    if problems:
        raise ConfigError("; ".join(problems))


def month_starts(cfg: SimulationConfig) -> np.ndarray:
    """First days of the months from the window start to the extract month (``datetime64[D]``).

    Examples
    --------
    >>> m = month_starts(SimulationConfig(window_start="2021-01-15", extract_date="2025-03-02"))
    >>> [str(d) for d in m[:2]], str(m[-1]), len(m)
    (['2021-01-01', '2021-02-01'], '2025-03-01', 51)
    """
    first = np.datetime64(cfg.window_start, "M")
    last = np.datetime64(cfg.extract_date, "M")
    return np.arange(first, last + 1).astype("datetime64[D]")


def simulate_unit_staffing(
    cfg: SimulationConfig, org: Organisation, program: Program, streams: Streams
) -> pd.DataFrame:
    """Simulate staff headcount and separations per clinical unit and month.

    Parameters
    ----------
    cfg
        Simulation configuration (``staff_*`` parameters).
    org
        The organisation (units and seats).
    program
        The program (enrolment days and the enrolees' seats).
    streams
        Random streams of the simulation.

    Returns
    -------
    pandas.DataFrame
        One row per clinical unit and month: ``unit`` (row of ``org.units``), ``month``
        (``datetime64`` first day), ``headcount``, ``separations``, ``coached`` (0/1), ``frailty``
        and ``expected`` (the Poisson mean before capping).

    Raises
    ------
    ConfigError
        An invalid ``staff_*`` parameter.

    Examples
    --------
    >>> from coacheval.simulate import simulate_health_system
    >>> system = simulate_health_system(seed=2, n_leaders=150)
    >>> staffing = system.staffing
    >>> bool((staffing.separations <= staffing.headcount).all())
    True
    >>> sorted(staffing.coached.unique().tolist())
    [0, 1]
    """
    check_staffing_config(cfg)
    units = np.flatnonzero(~org.units.is_admin.to_numpy())
    months = month_starts(cfg)
    n_u, n_m = len(units), len(months)
    lo, hi = cfg.staff_headcount_range
    level = lo + np.minimum(
        (streams.uniform("staff_headcount_level", units) * (hi - lo + 1)).astype(np.int64),
        hi - lo,
    )
    eps = streams.normal("staff_headcount_walk", units[:, None], np.arange(n_m)[None, :])
    rho = HEADCOUNT_AUTOCORRELATION
    sd = cfg.staff_headcount_sd
    # AR(1) started in its stationary distribution: x0 = sd e0, x_t = rho x_(t-1) + s e_t
    innov = sd * np.sqrt(1 - rho**2) * eps
    innov[:, 0] = sd * eps[:, 0]
    dev = signal.lfilter([1.0], [1.0, -rho], innov, axis=1)
    headcount = np.maximum(np.rint(level[:, None] * np.exp(dev)), 0).astype(np.int64)

    v = cfg.staff_frailty_variance
    if v > 0:
        frailty = stats.gamma.ppf(streams.uniform("staff_frailty", units), a=1 / v, scale=v)
    else:
        frailty = np.ones(n_u)

    enr = program.enrolment
    seat_unit = org.seats.unit.to_numpy()
    people = program.people.set_index("pid").seat
    enrol_unit = seat_unit[people.loc[enr.pid.to_numpy()].to_numpy()]
    first = pd.Series(enr.enrol_day.to_numpy(float)).groupby(enrol_unit).min()
    first_enrol = np.full(len(org.units), np.inf)
    first_enrol[first.index.to_numpy()] = first.to_numpy()
    epoch = np.datetime64("1970-01-01", "D")
    month_index = months.astype("datetime64[M]").astype(np.int64)
    enrol_month = np.full(len(org.units), np.inf)
    has = np.isfinite(first_enrol)
    enrol_month[has] = (
        (epoch + first_enrol[has].astype(np.int64)).astype("datetime64[M]").astype(np.int64)
    )
    coached = month_index[None, :] > enrol_month[units][:, None]

    rate = cfg.staff_turnover_annual / 12.0
    expected = headcount * rate * frailty[:, None] * np.where(coached, cfg.staff_turnover_rr, 1.0)
    u = streams.uniform("staff_separations", units[:, None], np.arange(n_m)[None, :])
    draws = np.where(expected > 0, stats.poisson.ppf(u, np.maximum(expected, 1e-300)), 0)
    separations = np.minimum(draws.astype(np.int64), headcount)
    return pd.DataFrame(
        {
            "unit": np.repeat(units, n_m),
            "month": np.tile(months, n_u),
            "headcount": headcount.ravel(),
            "separations": separations.ravel(),
            "coached": coached.ravel().astype(np.int64),
            "frailty": np.repeat(frailty, n_m),
            "expected": expected.ravel(),
        }
    )


def staffing_extract(org: Organisation, staffing: pd.DataFrame) -> pd.DataFrame:
    """Build the ``unit_staffing`` extract: ``unit_id, month, headcount, separations``.

    Examples
    --------
    >>> from coacheval.simulate import simulate_health_system
    >>> system = simulate_health_system(seed=2, n_leaders=150)
    >>> list(staffing_extract(system.organisation, system.staffing).columns)
    ['unit_id', 'month', 'headcount', 'separations']
    """
    return pd.DataFrame(
        {
            "unit_id": org.units.unit_id.to_numpy()[staffing.unit.to_numpy()],
            "month": staffing.month.to_numpy().astype("datetime64[D]").astype(str).astype(object),
            "headcount": staffing.headcount.to_numpy(np.int64),
            "separations": staffing.separations.to_numpy(np.int64),
        }
    )
