"""A simulated health system with known truth: the embedded default of coacheval.

Examples
--------
>>> from coacheval.simulate import simulate_health_system
>>> system = simulate_health_system(seed=5, n_leaders=120)
>>> system.summary()["cohorts"]
3
"""

from coacheval.simulate.config import (
    CONSTRUCTS,
    ROLE_LEVELS,
    SOURCES,
    TERMINATION_CAUSES,
    ScaleConfig,
    SimulationConfig,
)
from coacheval.simulate.system import SimulatedSystem, simulate_health_system

__all__ = [
    "CONSTRUCTS",
    "ROLE_LEVELS",
    "SOURCES",
    "TERMINATION_CAUSES",
    "ScaleConfig",
    "SimulatedSystem",
    "SimulationConfig",
    "simulate_health_system",
]
