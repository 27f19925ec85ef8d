"""Counter-based random numbers: every draw is a pure function of (seed, stream, indices).

The simulator keys each person's draws by (seat, generation, ...), so re-simulating part of the
workforce (after enrolment changes someone's exit time) reproduces every untouched draw exactly,
and the output does not depend on the order in which arrays are processed. The mixer is
SplitMix64 (Steele, Lea & Flood 2014), applied to the index words in turn.

Part of the simulator's engine, called by
:func:`~coacheval.simulate.simulate_health_system`: the module has no public API (the public
names are those :mod:`coacheval.simulate` exports), so its ``__all__`` is empty.
"""

from __future__ import annotations

import hashlib

import numpy as np
from scipy.special import ndtri

__all__: list[str] = []

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


class Streams:
    """Named, indexable random streams derived from one integer seed.

    Parameters
    ----------
    seed
        The simulation seed.

    Examples
    --------
    >>> s = Streams(7)
    >>> u = s.uniform("exit", np.arange(3), 0)
    >>> bool(np.all((u > 0) & (u < 1)))
    True
    >>> bool(np.array_equal(u, Streams(7).uniform("exit", np.arange(3), 0)))
    True
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)

    def _key(self, stream: str) -> np.uint64:
        digest = hashlib.blake2b(f"{self.seed}:{stream}".encode(), digest_size=8).digest()
        return np.uint64(int.from_bytes(digest, "little"))

    def bits(self, stream: str, *indices: np.ndarray | int) -> np.ndarray:
        """Return 64 random bits for each element of the broadcast index arrays."""
        arrays = np.broadcast_arrays(*[np.asarray(i, dtype=np.int64) for i in indices])
        h = np.full(arrays[0].shape if arrays else (), self._key(stream), dtype=np.uint64)
        h = np.atleast_1d(h)
        for arr in arrays:
            h = _mix(h + np.atleast_1d(arr).astype(np.uint64) * _GOLDEN)
        return h

    def uniform(self, stream: str, *indices: np.ndarray | int) -> np.ndarray:
        """Uniform draws on the open interval (0, 1)."""
        h = self.bits(stream, *indices)
        return ((h >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / 2.0**53)

    def normal(self, stream: str, *indices: np.ndarray | int) -> np.ndarray:
        """Draw standard normals (inverse CDF of :meth:`uniform`)."""
        return ndtri(self.uniform(stream, *indices))

    def exponential(self, stream: str, *indices: np.ndarray | int) -> np.ndarray:
        """Unit-rate exponential draws."""
        return -np.log(self.uniform(stream, *indices))

    def generator(self, stream: str) -> np.random.Generator:
        """Return a sequential NumPy generator for one named stream (shuffles, choices)."""
        return np.random.Generator(np.random.PCG64(int(self._key(stream))))
