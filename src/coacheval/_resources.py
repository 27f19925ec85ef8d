"""Locate the files coacheval reads at run time (schemas, instruments, templates, plans).

The folders ``data_schema/``, ``reports/`` and ``analyses/`` at the top of the source tree are the
single source; the wheel carries copies under ``coacheval/_resources/``. An editable install or
a plain source checkout reads the top-level folders directly.

An internal module (its name starts with an underscore): it has no public API, so its
``__all__`` is empty.
"""

from __future__ import annotations

from pathlib import Path

__all__: list[str] = []

_PACKAGE_DIR = Path(__file__).resolve().parent
_RESOURCE_ROOTS = ("data_schema", "reports", "analyses")


def resource_dir(name: str) -> Path:
    """Return the directory holding one of coacheval's run-time resource folders.

    Parameters
    ----------
    name
        One of ``"data_schema"``, ``"reports"`` or ``"analyses"``.

    Returns
    -------
    Path
        The folder inside the installed package, or in the source tree for an editable install.

    Raises
    ------
    FileNotFoundError
        The installation is incomplete (the folder is in neither place).

    Examples
    --------
    >>> (resource_dir("data_schema") / "instruments").is_dir()
    True
    """
    if name not in _RESOURCE_ROOTS:
        raise ValueError(f"unknown resource folder {name!r}; expected one of {_RESOURCE_ROOTS}")
    installed = _PACKAGE_DIR / "_resources" / name
    if installed.is_dir():
        return installed
    source_tree = _PACKAGE_DIR.parents[1] / name
    if source_tree.is_dir():
        return source_tree
    raise FileNotFoundError(
        f"coacheval's {name!r} folder is missing from this installation "
        f"(looked in {installed} and {source_tree}); reinstall the package."
    )


def resource_origin() -> str:
    """Say whether resources come from the installed package or from a source tree.

    Returns
    -------
    str
        ``"package"`` for a regular (wheel) install, ``"source"`` for an editable checkout.

    Examples
    --------
    >>> resource_origin() in {"package", "source"}
    True
    """
    return "package" if (_PACKAGE_DIR / "_resources").is_dir() else "source"
