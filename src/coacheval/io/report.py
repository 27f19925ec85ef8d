"""Write a validation to disk: ``validation.json``, ``quarantine/<table>.csv``, ``validation.html``.

Nothing written here holds a raw identifier or personal data: person identifiers are
pseudonyms, personal-data columns were dropped at load, and problem values come from the
pseudonymised table.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from pathlib import Path

from coacheval.io.validate import ValidationReport

__all__ = ["write_validation"]

MAX_HTML_PROBLEMS = 200


def write_validation(report: ValidationReport, out: str | Path) -> list[Path]:
    """Write the validation outputs into ``out``; return the files written.

    Examples
    --------
    >>> import tempfile
    >>> from coacheval.io.pseudonymise import PseudonymKey
    >>> from coacheval.io.validate import validate_folder
    >>> from coacheval.simulate import simulate_health_system
    >>> folder, out = tempfile.mkdtemp(), tempfile.mkdtemp()
    >>> _ = simulate_health_system(seed=3, n_leaders=120).write(folder)
    >>> paths = write_validation(validate_folder(folder, key=PseudonymKey(b"k" * 32)), out)
    >>> sorted(p.name for p in paths)[:2]
    ['attendance.csv', 'enrolment.csv']
    """
    out = Path(out)
    quarantine_dir = out / "quarantine"
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in report.tables.items():
        path = quarantine_dir / f"{name}.csv"
        table.quarantine.rename(columns={"_file": "file", "_row": "row"}).to_csv(
            path, index=False, lineterminator="\n"
        )
        written.append(path)
    json_path = out / "validation.json"
    json_path.write_text(
        json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n",
        encoding="utf-8",
    )
    html_path = out / "validation.html"
    html_path.write_text(render_html(report), encoding="utf-8")
    return [*written, json_path, html_path]


def render_html(report: ValidationReport) -> str:
    """Render the validation as a self-contained, readable HTML page."""
    esc = html.escape
    verdict = (
        "<p class='ok'>The data are usable.</p>"
        if report.usable
        else "<p class='bad'>The data are <b>not</b> usable: "
        + "; ".join(f"{esc(t)}: {esc(r)}" for t, r in report.unusable.items())
        + "</p>"
    )
    rows = "".join(
        f"<tr><td>{esc(n)}</td><td>{esc(', '.join(t.files))}</td><td>{t.rows_in:,}</td><td>{t.rows_clean:,}</td>"
        f"<td>{t.rows_quarantined:,}</td><td>{len(t.errors):,}</td><td>{len(t.warnings):,}</td></tr>"
        for n, t in report.tables.items()
    )
    sections = []
    for name, table in report.tables.items():
        if not table.problems and not table.notes:
            continue
        counts = Counter((p.severity, p.rule) for p in table.problems)
        summary = "".join(
            f"<li>{esc(sev)} <code>{esc(rule)}</code>: {n:,}</li>"
            for (sev, rule), n in sorted(counts.items())
        )
        ordered = sorted(table.problems, key=lambda p: (p.severity != "error", p.file, p.row))
        shown = ordered[:MAX_HTML_PROBLEMS]
        problem_rows = "".join(
            f"<tr class='{p.severity}'><td>{esc(p.file)}</td><td>{p.row or ''}</td><td>{esc(p.column)}</td>"
            f"<td>{esc(p.value)}</td><td>{esc(p.rule)}</td><td>{esc(p.message)}</td><td>{esc(p.action)}</td></tr>"
            for p in shown
        )
        more = (
            f"<p>{len(table.problems) - len(shown):,} more in validation.json.</p>"
            if len(table.problems) > len(shown)
            else ""
        )
        notes = "".join(f"<li>{esc(n)}</li>" for n in table.notes)
        sections.append(
            f"<h2>{esc(name)}</h2><ul>{summary}</ul>"
            + (
                f"<details><summary>Reading notes</summary><ul>{notes}</ul></details>"
                if notes
                else ""
            )
            + (
                "<table><tr><th>file</th><th>row</th><th>column</th><th>value</th><th>rule</th><th>what</th>"
                f"<th>action</th></tr>{problem_rows}</table>{more}"
                if shown
                else ""
            )
        )
    ignored = (
        f"<p>Files not used: {esc(', '.join(report.ignored_files))}</p>"
        if report.ignored_files
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>coacheval validation</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; max-width: 70em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }}
th {{ background: #f0f0f0; }} tr.warning td {{ color: #7a5b00; }} tr.error td {{ color: #8a1c1c; }}
.ok {{ color: #1b6e20; font-weight: bold; }} .bad {{ color: #8a1c1c; }}
</style></head><body>
<h1>Validation of extracts</h1>
<p>Folder: <code>{esc(report.folder)}</code>. Pseudonym key fingerprint: <code>{esc(report.key_fingerprint)}</code>.
Quarantine limit per table: {report.max_quarantine_share:.0%}.</p>
{verdict}
<table><tr><th>table</th><th>files</th><th>rows in</th><th>clean</th><th>quarantined</th><th>errors</th>
<th>warnings</th></tr>{rows}</table>
{ignored}
{"".join(sections)}
</body></html>
"""
