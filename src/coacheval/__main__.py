"""Run the command-line interface: ``python -m coacheval``.

Nothing here is meant to be imported (its ``__all__`` is empty); from Python, call
:func:`coacheval.cli.main`.
"""

from coacheval.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    main()
