"""The documentation site builds with Sphinx without a single warning, and shows what it claims.

The build runs as the lead's CI runs it (``python -m sphinx -W --keep-going -b html docs OUT``)
in a subprocess, into a temporary folder: fresh each time, so every page is read and every
docstring checked. It takes about 30 s of CPU (20-80 s of wall time, depending on load) on the
2-core development machine. Skipped only where Sphinx is not installed (the ``docs`` extra
installs it).
"""

from __future__ import annotations

import re
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest

pytest.importorskip("sphinx")

ROOT = Path(__file__).resolve().parents[1]


def _text(path: Path) -> str:
    """Visible text of an HTML page (tags dropped, entities decoded)."""
    return unescape(re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs") / "html"
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    run = subprocess.run(
        [*command, "-d", str(out.parent / "doctrees"), "docs", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert run.returncode == 0, f"Sphinx failed or warned:\n{run.stderr[-6000:]}"
    return out


def test_every_guide_page_and_api_page_is_built(site):
    for page in (
        "index",
        "calibration",
        "performance",
        "api/index",
        "guide/installation",
        "guide/quickstart",
        "guide/data",
        "guide/plans",
        "guide/methods",
        "guide/reports",
        "guide/privacy",
        "guide/cli",
        "guide/notebooks",
    ):
        assert (site / f"{page}.html").is_file(), page
    import coacheval

    api_index = _text(site / "api" / "index.html")
    for module in ("io", "measures", "effects", "retention", "evaluate", "evidence", "quality"):
        assert (site / "api" / f"{module}.html").is_file(), module
        assert f"coacheval.{module}" in api_index
    for name in coacheval.__all__:
        assert name in _text(site / "api" / "coacheval.html"), name


def test_every_exported_name_has_a_page(site):
    import coacheval.retention

    for name in coacheval.retention.__all__:
        page = site / "api" / "generated" / f"coacheval.retention.{name}.html"
        assert page.is_file(), name
    fit_cox = _text(site / "api" / "generated" / "coacheval.retention.fit_cox.html")
    assert "Parameters" in fit_cox and "Examples" in fit_cox


def test_generated_references_match_the_package(site):
    from coacheval.cli.app import app
    from coacheval.evaluate.plan import Plan
    from coacheval.io.schema import load_table_schemas

    cli = _text(site / "guide" / "cli.html")
    for command in app.commands:
        assert f"coacheval {command} [OPTIONS]" in cli, command
    dictionary = _text(site / "guide" / "data.html")
    for table, spec in load_table_schemas().items():
        assert table in dictionary
        for field in spec.fields:
            assert field.name in dictionary, (table, field.name)
    plans = _text(site / "guide" / "plans.html")
    for key in Plan.model_fields:
        assert key in plans, key
    for section in ("design", "methods", "inference", "reporting", "retention"):
        model = Plan.model_fields[section].annotation
        model = next(
            a for a in (model, *getattr(model, "__args__", ())) if hasattr(a, "model_fields")
        )
        for key in model.model_fields:
            assert f"{section}.{key}" in plans, f"{section}.{key}"


def test_notebooks_in_the_repository_are_on_the_site(site):
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    listing = _text(site / "guide" / "notebooks.html")
    for notebook in notebooks:
        assert (site / "notebooks" / f"{notebook.stem}.html").is_file(), notebook.name
    if not notebooks:
        assert "No notebooks" in listing
