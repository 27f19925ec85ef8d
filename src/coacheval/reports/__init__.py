"""Evidence reports: render coacheval's Quarto templates with Quarto or without it.

``render`` runs ``quarto render`` when Quarto is installed and otherwise executes the same
``.qmd`` with Jupyter, Pandoc and Typst, all installed with coacheval.

Examples
--------
>>> from coacheval.reports import render, RenderResult, FORMATS
>>> sorted(FORMATS)
['docx', 'html', 'pdf']
"""

from __future__ import annotations

from coacheval.reports.qmd import QmdDocument, parse_qmd, read_qmd
from coacheval.reports.render import (
    FORMATS,
    RenderResult,
    ReportRenderError,
    notebook_markdown,
    quarto_command,
    render,
    report_templates,
)

__all__ = [
    "FORMATS",
    "QmdDocument",
    "RenderResult",
    "ReportRenderError",
    "notebook_markdown",
    "parse_qmd",
    "quarto_command",
    "read_qmd",
    "render",
    "report_templates",
]
