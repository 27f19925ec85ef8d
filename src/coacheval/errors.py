"""Exceptions and warnings raised by coacheval.

Every error a user can cause with their data or their options derives from
:class:`CoachevalError`; the command line turns these into a message and exit code 2, never a
traceback. Warnings derive from :class:`CoachevalWarning` so they can be filtered at once.

Examples
--------
>>> from coacheval.errors import ConfigError, CoachevalError
>>> issubclass(ConfigError, CoachevalError)
True
"""

from __future__ import annotations

__all__ = [
    "CoachevalError",
    "CoachevalWarning",
    "ConfigError",
    "DataValidationError",
    "InstrumentError",
    "PoorReliabilityWarning",
]


class CoachevalError(Exception):
    """Base class of the errors a user can cause (bad data, bad options, bad files).

    Examples
    --------
    Catch every error coacheval raises for bad input at once:

    >>> from coacheval.measures import load_instrument
    >>> try:
    ...     load_instrument("no_such_scale")
    ... except CoachevalError as exc:
    ...     print(type(exc).__name__)
    InstrumentError
    """


class ConfigError(CoachevalError, ValueError):
    """An option, configuration file or analysis plan is invalid.

    Parameters
    ----------
    message
        What is wrong and what was expected.
    source
        The file or option the problem was found in, when there is one.

    Examples
    --------
    Raised for an option that cannot be right, before any data are read:

    >>> from coacheval.effects.multiplicity import holm_adjust
    >>> try:
    ...     holm_adjust([0.01, 0.04], n=1)
    ... except ConfigError as exc:
    ...     print(exc)
    holm_adjust: n = 1 is less than the 2 non-missing p-values

    A file's problems name the file (kept in ``source``):

    >>> err = ConfigError("unknown setting 'colour'", source="analyses/plan.yaml")
    >>> print(err)
    analyses/plan.yaml: unknown setting 'colour'
    >>> err.source
    'analyses/plan.yaml'
    """

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


class InstrumentError(ConfigError):
    """An instrument definition file is malformed, or an instrument does not exist.

    Examples
    --------
    >>> from coacheval.measures import load_instrument
    >>> try:
    ...     load_instrument("no_such_scale")
    ... except InstrumentError as exc:
    ...     print(exc)
    no instrument 'no_such_scale'; available: cbi_work, lse, ...
    """


class CoachevalWarning(UserWarning):
    """Base class of coacheval's warnings.

    Examples
    --------
    Silence (or turn into errors) every coacheval warning at once:

    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", CoachevalWarning)
    ...     warnings.warn("alpha is low", PoorReliabilityWarning)  # not shown
    >>> issubclass(PoorReliabilityWarning, CoachevalWarning)
    True
    """


class DataValidationError(CoachevalError, ValueError):
    """Data that break a rule, with the offending rows in ``failure_cases``.

    Parameters
    ----------
    message
        What is wrong, naming the column and values.
    failure_cases
        The rows (and values) that fail, when known.

    Examples
    --------
    An item every respondent answered the same way has no variance, so alpha is undefined:

    >>> import pandas as pd
    >>> from coacheval.measures import cronbach_alpha
    >>> items = pd.DataFrame({"q1": [1, 2, 3, 4], "q2": [3, 3, 3, 3]})
    >>> try:
    ...     cronbach_alpha(items)
    ... except DataValidationError as exc:
    ...     print(exc)
    ...     print(exc.failure_cases)
    the scale: item(s) q2 have no variance (every answer is the same), so alpha and item
    correlations are undefined
      item
    0   q2
    """

    def __init__(self, message: str, *, failure_cases: object = None) -> None:
        self.failure_cases = failure_cases
        super().__init__(message)


class PoorReliabilityWarning(CoachevalWarning):
    """A scale's reliability is below the usual threshold (alpha or omega < 0.70).

    Examples
    --------
    :func:`~coacheval.measures.reliability_by_wave` issues it for each scale and wave whose
    alpha is low, here for answers given at random:

    >>> import warnings
    >>> import numpy as np
    >>> import pandas as pd
    >>> from coacheval.measures import load_instrument, reliability_by_wave
    >>> answers = np.random.default_rng(0).integers(1, 6, size=(50, 3))
    >>> survey = pd.DataFrame(answers, columns=["jss_1", "jss_2", "jss_3"]).assign(wave_id="W1")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     table = reliability_by_wave(survey, {"moaq_jss": load_instrument("moaq_jss")})
    >>> print(caught[0].category.__name__, caught[0].message)
    PoorReliabilityWarning moaq_jss in wave W1: alpha 0.221 is below 0.70
    """
