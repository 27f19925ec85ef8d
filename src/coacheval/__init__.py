"""coacheval: evaluate peer-to-peer coaching programs for healthcare leaders.

The package loads and validates survey and HR extracts, estimates what a coaching program did to
job satisfaction, engagement, well-being and turnover, and renders evidence reports.

Importing :mod:`coacheval` is cheap: heavy modules load on first use.

Examples
--------
>>> import coacheval
>>> isinstance(coacheval.__version__, str)
True
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("coacheval")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "SimulatedSystem",
    "SimulationConfig",
    "__version__",
    "load_instruments",
    "simulate_health_system",
]

_LAZY = {
    "SimulationConfig": "coacheval.simulate",
    "SimulatedSystem": "coacheval.simulate",
    "simulate_health_system": "coacheval.simulate",
    "load_instruments": "coacheval.measures.instruments",
}

if TYPE_CHECKING:
    from coacheval.measures.instruments import load_instruments
    from coacheval.simulate import SimulatedSystem, SimulationConfig, simulate_health_system


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'coacheval' has no attribute {name!r}")
