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


class CoachevalError(Exception):
    """Base class of the errors a user can cause (bad data, bad options, bad files)."""


class ConfigError(CoachevalError, ValueError):
    """An option, configuration file or analysis plan is invalid.

    Parameters
    ----------
    message
        What is wrong and what was expected.
    source
        The file or option the problem was found in, when there is one.
    """

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


class InstrumentError(ConfigError):
    """An instrument definition file is malformed."""


class CoachevalWarning(UserWarning):
    """Base class of coacheval's warnings."""


class DataValidationError(CoachevalError, ValueError):
    """Data that break a rule, with the offending rows in ``failure_cases``.

    Parameters
    ----------
    message
        What is wrong, naming the column and values.
    failure_cases
        The rows (and values) that fail, when known.
    """

    def __init__(self, message: str, *, failure_cases: object = None) -> None:
        self.failure_cases = failure_cases
        super().__init__(message)


class PoorReliabilityWarning(CoachevalWarning):
    """A scale's reliability is below the usual threshold (alpha or omega < 0.70)."""
