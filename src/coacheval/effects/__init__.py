"""Effects of the program on survey outcomes: designs, estimators and honest inference.

The public API is in the modules of this package (:mod:`coacheval.effects.did`,
:mod:`coacheval.effects.weighting`, ...), imported from them; the package itself exports
nothing, so its ``__all__`` is empty.
"""

__all__: list[str] = []
