"""Analysis plans and the evaluation that runs them.

The public API is in the modules of this package (:mod:`coacheval.evaluate.plan`,
:mod:`coacheval.evaluate.run`, ...), imported from them; the package itself exports nothing, so
its ``__all__`` is empty.
"""

__all__: list[str] = []
