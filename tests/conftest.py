"""Shared fixtures: simulated systems are expensive, so each is built once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from coacheval.simulate import SimulatedSystem, simulate_health_system

DEFAULT_SEED = 11
LARGE_SEED = 12
LARGE_LEADERS = 30_000


@pytest.fixture(scope="session")
def default_system() -> SimulatedSystem:
    """The default configuration (1,000 leader positions), as the demo uses it."""
    return simulate_health_system(seed=DEFAULT_SEED)


@pytest.fixture(scope="session")
def large_system() -> SimulatedSystem:
    """A large system, so that sampling error is small enough to check calibration tightly."""
    return simulate_health_system(seed=LARGE_SEED, n_leaders=LARGE_LEADERS)


@pytest.fixture(scope="session")
def messy_pair(
    tmp_path_factory: pytest.TempPathFactory, default_system: SimulatedSystem
) -> tuple[Path, Path]:
    """The default system written clean and messy."""
    clean = tmp_path_factory.mktemp("clean")
    messy = tmp_path_factory.mktemp("messy")
    default_system.write(clean)
    default_system.write(messy, messy=True)
    return clean, messy
