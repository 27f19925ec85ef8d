"""Every example in coacheval's docstrings runs and prints what it claims (doctest)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import coacheval

MODULES = sorted(
    name
    for _, name, _ in pkgutil.walk_packages(coacheval.__path__, prefix="coacheval.")
    if name != "coacheval.__main__"
)


@pytest.mark.parametrize("module_name", ["coacheval", *MODULES])
def test_docstring_examples_run(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    assert result.failed == 0, f"{result.failed} doctest failure(s) in {module_name}"
