"""A simulated health system with known truth: the embedded default of coacheval.

Examples
--------
>>> from coacheval.simulate import simulate_health_system
>>> system = simulate_health_system(seed=5, n_leaders=120)
>>> system.summary()["cohorts"]
3

The simulated role levels, survey constructs and causes of leaving, and the source of every
default of :class:`SimulationConfig`:

>>> from coacheval.simulate import CONSTRUCTS, ROLE_LEVELS, SOURCES, TERMINATION_CAUSES
>>> ROLE_LEVELS
('charge_nurse', 'assistant_nurse_manager', 'nurse_manager', 'director')
>>> CONSTRUCTS[:3]
('job_satisfaction', 'work_engagement', 'burnout')
>>> TERMINATION_CAUSES
('voluntary', 'involuntary', 'retirement', 'other')

How cohorts are filled (``SimulationConfig(rollout=...)``): volunteers recruited per cohort, or
all cohorts recruited at once and their peer groups randomised to a start (a stepped wedge):

>>> from coacheval.simulate import ROLLOUTS
>>> ROLLOUTS
('volunteer', 'randomised')
>>> SOURCES["voluntary_hr"][:33]
'[U] DOMAIN.md 5: 0.85 (range 0.70'
"""

from coacheval.simulate.config import (
    CONSTRUCTS,
    ROLE_LEVELS,
    ROLLOUTS,
    SOURCES,
    TERMINATION_CAUSES,
    ScaleConfig,
    SimulationConfig,
)
from coacheval.simulate.system import SimulatedSystem, simulate_health_system

__all__ = [
    "CONSTRUCTS",
    "ROLE_LEVELS",
    "ROLLOUTS",
    "SOURCES",
    "TERMINATION_CAUSES",
    "ScaleConfig",
    "SimulatedSystem",
    "SimulationConfig",
    "simulate_health_system",
]
