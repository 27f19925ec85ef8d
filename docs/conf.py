"""Sphinx configuration of the coacheval documentation site.

Build from the repository root (the build must stay free of warnings)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Nothing generated is written by hand. When Sphinx loads this file it writes, into the
source tree and ignored by git, only what has changed since the last build:

- ``api/<module>.rst``: one page per public module of coacheval, listing every name in its
  ``__all__`` (a package without ``__all__`` is listed module by module) for autosummary, which
  writes one page per name into ``api/generated/``;
- ``_generated/*.md``: the data dictionary (from the Table Schemas and instrument definitions),
  the analysis-plan reference (from the plan's pydantic models), the ``--help`` of every CLI
  command (through click's ``CliRunner``), the methods appendix when ``coacheval.methods``
  provides one, and the toctrees of the API and notebook pages;
- ``notebooks/``: copies of ``../notebooks/*.ipynb``, rendered with their stored outputs and
  never executed here (the test suite executes them).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import shutil
import types
import typing
from pathlib import Path

import coacheval

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
GENERATED = DOCS / "_generated"

# -- project -------------------------------------------------------------------------------

project = "coacheval"
author = "coacheval developers"
copyright = "2026, coacheval developers"
release = coacheval.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_nb",  # Markdown pages (MyST) and notebooks; it loads myst_parser itself
]

exclude_patterns = ["_build", "_generated", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]
root_doc = "index"

# -- API reference ------------------------------------------------------------------------

autosummary_generate = True
autosummary_imported_members = False
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"show-inheritance": True}
# The Methods/Attributes tables numpydoc would add to every class page repeat what autodoc's
# ``:members:`` already documents (and give duplicate-object warnings).
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- Markdown and notebooks ---------------------------------------------------------------

myst_enable_extensions = ["colon_fence", "deflist", "dollarmath"]
myst_heading_anchors = 3
# The notebooks are stored without outputs (never stale); the site executes them at build time
# so readers see every table and figure, and a notebook that raises fails the build.
nb_execution_mode = "force"
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True

# -- HTML ---------------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"coacheval {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False

# intersphinx is deliberately not loaded: the site builds without internet access.


# -- generated sources --------------------------------------------------------------------


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` unless it already holds it (keeps incremental builds quick)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _underline(title: str, char: str = "=") -> str:
    return f"{title}\n{char * len(title)}\n"


# The API pages, in reading order; any other public module found in the package follows them.
API_ORDER = (
    "coacheval",
    "io",
    "measures",
    "effects",
    "retention",
    "evaluate",
    "evidence",
    "quality",
    "reports",
    "design",
    "figures",
    "simulate",
    "results",
)
API_SKIP = {"cli", "__main__"}  # the command line has its own page


def _public_modules() -> list[str]:
    found = [
        name
        for _, name, _ in pkgutil.iter_modules(coacheval.__path__)
        if not name.startswith("_") and name not in API_SKIP
    ]
    ordered = [n for n in API_ORDER[1:] if n in found]
    return ["coacheval", *ordered, *sorted(n for n in found if n not in ordered)]


def _names_of(module: types.ModuleType) -> list[str]:
    """Public names of a module: its ``__all__``, else the classes and functions defined in it."""
    declared = getattr(module, "__all__", None)
    if declared is not None:
        return list(declared)
    return [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and getattr(obj, "__module__", None) == module.__name__
    ]


def _autosummary(module: str, names: list[str]) -> str:
    """Autosummary of a module's names: a page each, or a link where another page has it."""
    own = [n for n in names if _HOME.get(f"{module}.{n}", f"{module}.{n}") == f"{module}.{n}"]
    elsewhere = [f"~{_HOME[f'{module}.{n}']}" for n in names if n not in own]
    text = f".. currentmodule:: {module}\n\n"
    if own:
        entries = "".join(f"   {n}\n" for n in sorted(own, key=str.lower))
        text += f".. autosummary::\n   :toctree: generated/\n   :nosignatures:\n\n{entries}\n"
    if elsewhere:
        entries = "".join(f"   {n}\n" for n in sorted(elsewhere, key=lambda n: n.lower()))
        text += (
            "Also exported here, documented with the module they belong to:\n\n"
            ".. currentmodule:: None\n\n"  # full names: not relative to this module
            f".. autosummary::\n   :nosignatures:\n\n{entries}\n"
        )
    return text


def _listing(short: str) -> list[tuple[str, list[str] | None]]:
    """List an API page's sections: (module, names); names None for a package's own docstring."""
    full = "coacheval" if short == "coacheval" else f"coacheval.{short}"
    module = importlib.import_module(full)
    if getattr(module, "__all__", None) or not hasattr(module, "__path__"):
        return [(full, _names_of(module))]
    # A package whose API is in its modules (empty or no ``__all__``): its modules with public
    # names, one section each (a module whose ``__all__`` is empty has no public API).
    sections: list[tuple[str, list[str] | None]] = [(full, None)]
    for _, sub, _ in pkgutil.iter_modules(module.__path__):
        if not sub.startswith("_") and sub not in API_SKIP:
            name = f"{full}.{sub}"
            names = _names_of(importlib.import_module(name))
            if names:
                sections.append((name, names))
    return sections


# Full name -> the full name under which the object is documented. A class or function that
# several modules export (``coacheval.SimulatedSystem`` is ``coacheval.simulate.SimulatedSystem``)
# gets one page, under the exporting module nearest to where it is defined; documenting it twice
# would describe one canonical object twice (a duplicate-object warning).
_HOME: dict[str, str] = {}


def _find_homes(listings: dict[str, list[tuple[str, list[str] | None]]]) -> None:
    exported: dict[int, list[str]] = {}
    for sections in listings.values():
        for module, names in sections:
            for name in names or ():
                # A name missing from its module: autosummary's warning says so.
                obj = getattr(importlib.import_module(module), name, None)
                if inspect.isclass(obj) or inspect.isfunction(obj):
                    exported.setdefault(id(obj), []).append(f"{module}.{name}")
                    defined = obj.__module__
                    exported[id(obj)].sort(
                        key=lambda full, d=defined: (-_common_prefix(full, d), full)
                    )
    for fulls in exported.values():
        for full in fulls:
            _HOME[full] = fulls[0]


def _common_prefix(full: str, defined: str) -> int:
    parts, home = full.split(".")[:-1], defined.split(".")
    return next(
        (i for i, (a, b) in enumerate(zip(parts, home, strict=False)) if a != b), len(parts)
    )


def _api_page(sections: list[tuple[str, list[str] | None]]) -> str:
    lines = []
    for i, (module, names) in enumerate(sections):
        lines.append(_underline(module, "=" if i == 0 else "-"))
        lines.append(f".. automodule:: {module}\n   :no-members:\n\n")
        if names is None:
            if len(sections) == 1:
                lines.append("No public names yet.\n")
            continue
        lines.append(_autosummary(module, names) if names else "No public names yet.\n")
    return "\n".join(lines)


def _generate_api() -> None:
    modules = _public_modules()
    listings = {short: _listing(short) for short in modules}
    _find_homes(listings)
    for short, sections in listings.items():
        _write(DOCS / "api" / f"{short}.rst", _api_page(sections))
    for stale in (DOCS / "api").glob("*.rst"):
        if stale.stem not in modules:
            stale.unlink()
    # Pages autosummary wrote for names no longer exported (or now documented elsewhere).
    pages = {
        f"{module}.{name}"
        for sections in listings.values()
        for module, names in sections
        for name in names or ()
        if _HOME.get(f"{module}.{name}", f"{module}.{name}") == f"{module}.{name}"
    }
    for stale in (DOCS / "api" / "generated").glob("*.rst"):
        if stale.stem not in pages:
            stale.unlink()
    toctree = "".join(f"{m}\n" for m in modules)
    _write(GENERATED / "api_toctree.md", f"```{{toctree}}\n:maxdepth: 1\n\n{toctree}```\n")


def _generate_dictionary() -> None:
    from coacheval.io.dictionary import data_dictionary_markdown

    text = data_dictionary_markdown()
    # The guide page has its own title and introduction: keep the sections from the first table.
    text = text[text.index("\n## ") + 1 :]
    _write(GENERATED / "data_dictionary.md", text)


def _generate_cli() -> None:
    import click
    from click.testing import CliRunner

    from coacheval.cli.app import app

    runner = CliRunner()
    sections: list[str] = []

    def visit(command: click.Command, path: list[str]) -> None:
        result = runner.invoke(
            app, [*path[1:], "--help"], prog_name="coacheval", terminal_width=100
        )
        if result.exit_code != 0:
            raise RuntimeError(f"`{' '.join(path)} --help` failed:\n{result.output}")
        level = "#" * min(len(path) + 1, 4)
        sections.append(f"{level} `{' '.join(path)}`\n\n```text\n{result.output.rstrip()}\n```\n")
        if isinstance(command, click.Group):
            for name in sorted(command.commands):
                visit(command.commands[name], [*path, name])

    visit(app, ["coacheval"])
    _write(GENERATED / "cli.md", "\n".join(sections))


# The plan's settings that a model field alone does not explain (values checked by validators).
PLAN_ALLOWED = {
    "outcomes": "CONSTRUCTS",
    "covariates": "COVARIATES",
    "retention.covariates": "RETENTION_COVARIATES",
    "retention.baseline_scores": "CONSTRUCTS",
}
# Explanations of settings whose pydantic field carries no ``description`` (better: give it one
# in evaluate/plan.py, and drop it from here). A setting with neither fails the build.
PLAN_NOTES = {
    "name": "name of the plan, shown in every output",
    "description": "what the plan estimates, in a sentence or two (shown in the reports)",
    "design.comparison": "the comparison group of the staggered design: leaders never enrolled, "
    "or also those not yet enrolled at the time",
    "outcomes": "survey scales the effects are estimated for (at least one)",
    "covariates": "baseline characteristics the propensity and outcome models adjust for",
    "methods.primary": "the estimator of the primary estimate (pre_post only for single_arm)",
    "methods.secondary": "estimators run as checks of the primary one (sensitivity analyses)",
    "inference.cluster": "level at which standard errors are clustered (the unit of delivery "
    "is the peer group)",
    "inference.level": "confidence level of every interval",
    "inference.bootstrap_draws": "draws of the wild cluster bootstrap",
    "retention.covariates": "covariates of the Cox and Fine-Gray models",
    "retention.cluster": "level at which the retention models' robust variance is clustered",
    "seed": "seed of every random step (bootstrap, imputation), so a run can be repeated",
}


def _type_text(annotation: object) -> str:
    """Readable type of a plan setting: allowed values for a Literal, 'list of' for tuples."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        kept = [a for a in args if a is not type(None)]
        text = " or ".join(_type_text(a) for a in kept)
        return text + (" or `null`" if len(kept) < len(args) else "")
    if origin is tuple:
        inner = _type_text(args[0])
        return "list, each " + inner if inner.startswith("one of") else "list of " + inner
    if origin is dict:
        return f"mapping of {_type_text(args[0])} to {_type_text(args[1])}"
    if isinstance(annotation, type):
        if _is_model(annotation):
            return "section (below)"
        return {"str": "text", "int": "integer", "float": "number", "bool": "true/false"}.get(
            annotation.__name__, annotation.__name__
        )
    return str(annotation)


def _plan_rows(model: type, prefix: str, sections: list[tuple[str, type]]) -> list[str]:
    import pydantic_core

    from coacheval.evaluate import plan as plan_module

    rows = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        kind = _type_text(field.annotation)
        limits = [
            f"{op} {getattr(m, attr)}"
            for m in field.metadata
            for attr, op in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))
            if getattr(m, attr, None) is not None
        ]
        if limits:
            kind += f" ({', '.join(limits)})"
        allowed = getattr(plan_module, PLAN_ALLOWED.get(path, ""), None)
        if allowed:
            kind = "list, each one of " + ", ".join(f"`{a}`" for a in allowed)
        if field.is_required():
            default = "required"
        else:
            value = field.get_default(call_default_factory=True)
            if hasattr(value, "model_dump"):
                default = "(see below)"
            else:
                dumped = pydantic_core.to_jsonable_python(value)
                default = "`null`" if dumped is None else f"`{dumped}`" if dumped != "" else "empty"
                if isinstance(dumped, list):
                    default = "`[" + ", ".join(str(v) for v in dumped) + "]`"
        section = next(
            (a for a in (field.annotation, *typing.get_args(field.annotation)) if _is_model(a)),
            None,
        )
        text = field.description or PLAN_NOTES.get(path) or (section and _first_line(section))
        if not text:
            _plan_missing.append(path)
            text = ""
        rows.append(f"| `{path}` | {kind} | {default} | {text} |")
        if section is not None:
            sections.append((path, section))
    return rows


def _is_model(obj: object) -> bool:
    return isinstance(obj, type) and hasattr(obj, "model_fields")


def _first_line(model: type) -> str:
    """First sentence of a model's docstring, without a trailing cross-reference."""
    doc = inspect.cleandoc(model.__doc__ or "").split("\n\n")[0]
    return doc.split(" (see")[0].rstrip(".")


_plan_missing: list[str] = []
_build_problems: list[str] = []  # reported as Sphinx warnings once the build has started


def _generate_plan_reference() -> None:
    from coacheval.evaluate.plan import Plan

    header = "| setting | value | default | meaning |\n|---|---|---|---|\n"
    sections: list[tuple[str, type]] = []
    parts = ["### Top level\n\n" + header + "\n".join(_plan_rows(Plan, "", sections)) + "\n"]
    while sections:
        path, model = sections.pop(0)
        doc = _first_line(model) + "."
        rows = _plan_rows(model, f"{path}.", sections)
        parts.append(f"### `{path}`\n\n{doc}\n\n{header}" + "\n".join(rows) + "\n")
    _write(GENERATED / "plan_reference.md", "\n".join(parts))


def _generate_methods() -> None:
    """Render the methods appendix of :mod:`coacheval.methods`, when that package provides it."""
    try:
        methods = importlib.import_module("coacheval.methods")
    except ImportError:
        methods = None
    render = getattr(methods, "methods_markdown", None)
    text = (
        "The methods appendix (estimands, assumptions, estimators, the reference implementations "
        "they were checked against, references) is part of the technical report; see "
        "{doc}`reports`.\n"
    )
    if callable(render):
        try:
            text = render(heading_level=3)  # the guide page puts it under a level-2 heading
        except Exception as exc:  # a broken appendix fails the build with this message
            _build_problems.append(f"coacheval.methods.methods_markdown() failed: {exc!r}")
    pages = sorted((DOCS / "methods").glob("*.md"))  # pages written there by the methods' owner
    if pages:
        entries = "".join(f"../methods/{page.stem}\n" for page in pages)
        text += f"\n```{{toctree}}\n:maxdepth: 1\n\n{entries}```\n"
    _write(GENERATED / "methods.md", text)


def _copy_notebooks() -> None:
    source = sorted((ROOT / "notebooks").glob("*.ipynb"))
    target = DOCS / "notebooks"
    target.mkdir(exist_ok=True)
    for nb in source:
        dest = target / nb.name
        if not dest.exists() or dest.read_bytes() != nb.read_bytes():
            shutil.copyfile(nb, dest)
    names = {nb.name for nb in source}
    for stale in target.glob("*.ipynb"):
        if stale.name not in names:
            stale.unlink()
    if source:
        entries = "".join(f"../notebooks/{nb.stem}\n" for nb in source)
        text = f"```{{toctree}}\n:maxdepth: 1\n\n{entries}```\n"
    else:
        text = "No notebooks have been written yet.\n"
    _write(GENERATED / "notebooks_toctree.md", text)


_generate_api()
_generate_dictionary()
_generate_cli()
_generate_plan_reference()
_generate_methods()
_copy_notebooks()


def setup(app):  # noqa: D103 (Sphinx's extension hook)
    from sphinx.util import logging

    logger = logging.getLogger("coacheval.docs")

    def report_problems(app) -> None:
        for problem in _build_problems:
            logger.warning(problem)
        for path in _plan_missing:
            logger.warning(
                "analysis-plan setting %r has no explanation: give its pydantic Field a "
                "description in src/coacheval/evaluate/plan.py",
                path,
            )

    app.connect("builder-inited", report_problems)
