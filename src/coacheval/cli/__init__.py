"""The ``coacheval`` command line.

Examples
--------
>>> from coacheval.cli import main
>>> try:
...     main(["--version"])
... except SystemExit as finished:
...     print("exit code", finished.code)
coacheval ...
exit code 0
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence

import click

from coacheval.cli.app import app, console_err
from coacheval.errors import CoachevalError, CoachevalWarning

__all__ = ["main"]

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI and exit with a code scripts can trust.

    0 on success; 2 on bad usage or bad input (a message, never a traceback); 1 on an internal
    error (a short message; set ``COACHEVAL_DEBUG=1`` to see the traceback).

    Parameters
    ----------
    argv
        Arguments (without the program name); ``sys.argv[1:]`` when omitted.

    Examples
    --------
    ``main`` always ends with :class:`SystemExit`; its code says how the command went:

    >>> try:
    ...     main(["validate", "--no-such-option"])
    ... except SystemExit as finished:
    ...     print("exit code", finished.code)
    exit code 2
    """
    args = list(sys.argv[1:] if argv is None else argv)
    warnings.showwarning = _show_warning
    try:
        result = app.main(args=args, prog_name="coacheval", standalone_mode=False)
    except click.exceptions.Abort:
        console_err.print("[red]Aborted.[/red]")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code)
    except CoachevalError as exc:
        console_err.print(f"[bold red]Error:[/bold red] {exc}", highlight=False)
        sys.exit(EXIT_USAGE)
    except Exception as exc:
        if os.environ.get("COACHEVAL_DEBUG"):
            raise
        console_err.print(
            f"[bold red]Internal error:[/bold red] {type(exc).__name__}: {exc}\n"
            "This is a bug in coacheval, not a problem with your data. Re-run with "
            "COACHEVAL_DEBUG=1 to see the traceback and report it.",
            highlight=False,
        )
        sys.exit(EXIT_INTERNAL)
    sys.exit(result if isinstance(result, int) else EXIT_OK)


_default_showwarning = warnings.showwarning


def _show_warning(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
    """Print coacheval's own warnings as one plain line; leave others to Python."""
    if issubclass(category, CoachevalWarning):
        console_err.print(f"[yellow]Warning:[/yellow] {message}", highlight=False)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)
