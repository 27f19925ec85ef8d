"""Reading, validating and linking extracts: the data contract at work.

The public API is in the modules of this package (:mod:`coacheval.io.study`,
:mod:`coacheval.io.validate`, :mod:`coacheval.io.config`, ...), imported from them; the package
itself exports nothing, so its ``__all__`` is empty.
"""

__all__: list[str] = []
