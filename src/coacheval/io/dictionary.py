"""The data dictionary, generated from the table schemas and instrument definitions.

One source of truth: the same JSON and YAML files that drive validation and the simulator.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from coacheval.io.schema import FieldSpec, TableSchema, load_table_schemas
from coacheval.measures.instruments import Instrument, load_instruments

__all__ = ["data_dictionary_markdown", "markdown_to_html"]


def _constraint(f: FieldSpec) -> str:
    parts = []
    if f.enum:
        parts.append("one of " + ", ".join(f"`{v}`" for v in f.enum))
    if f.minimum is not None or f.maximum is not None:
        lo = "" if f.minimum is None else f"{f.minimum:g}"
        hi = "" if f.maximum is None else f"{f.maximum:g}"
        parts.append(f"{lo} to {hi}".strip())
    if f.role == "person_id":
        parts.append("pseudonymised at load")
    if f.pii:
        parts.append(f"personal data ({f.pii}): dropped at load")
    return "; ".join(parts)


def table_markdown(spec: TableSchema) -> str:
    """Markdown section describing one table.

    Examples
    --------
    >>> print(table_markdown(load_table_schemas()["survey_waves"]).splitlines()[0])
    ## survey_waves — Survey waves
    """
    lines = [f"## {spec.name} — {spec.title}", "", spec.description, ""]
    lines.append(f"Key: {', '.join(f'`{k}`' for k in spec.primary_key) or 'none'}.")
    for fk in spec.foreign_keys:
        lines.append(
            f"`{', '.join(fk.fields)}` must exist in `{fk.resource}.{', '.join(fk.reference_fields)}`."
        )
    lines += ["", "| column | type | required | allowed | description |", "|---|---|---|---|---|"]
    for f in spec.fields:
        lines.append(
            f"| `{f.name}` | {f.type} | {'yes' if f.required else ''} | {_constraint(f)} | {f.description} |"
        )
    if spec.item_fields_from == "instruments":
        lines += ["", "Plus one column per item of each instrument (see Instruments)."]
    if spec.rules:
        lines += ["", "Rules:", ""]
        lines += [f"- `{r.name}` ({r.severity}): {r.description}" for r in spec.rules]
    return "\n".join(lines) + "\n"


def instrument_markdown(inst: Instrument) -> str:
    """Markdown section describing one instrument."""
    lines = [
        f"### {inst.short_name} — {inst.name}",
        "",
        f"Construct: `{inst.construct}` ({'higher is better' if inst.higher_is_better else 'higher is worse'}). "
        f"Response scale {inst.scale_min}–{inst.scale_max}; score = {inst.scoring_rule} of items"
        + (f" × {inst.item_multiplier:g}" if inst.item_multiplier != 1 else "")
        + f", needs at least {inst.min_items} of {len(inst.items)} items.",
        "",
        f"Licence: {inst.licence}",
        "",
        f"Citation: {inst.citation}",
        "",
        "| item | reverse-keyed | wording |",
        "|---|---|---|",
    ]
    for item in inst.items:
        text = item.text or "*(not bundled: supply the licensed wording)*"
        lines.append(f"| `{item.id}` | {'yes' if item.reverse else ''} | {text} |")
    labels = ", ".join(f"{k} = {v}" for k, v in sorted(inst.labels.items()))
    return "\n".join([*lines, "", f"Labels: {labels}.", ""]) + "\n"


def data_dictionary_markdown(
    schemas: Mapping[str, TableSchema] | None = None,
    instruments: Mapping[str, Instrument] | None = None,
    tables: list[str] | None = None,
) -> str:
    """Return the whole data dictionary as Markdown.

    Examples
    --------
    >>> text = data_dictionary_markdown()
    >>> "## hr_roster" in text and "### UWES-9" in text
    True
    """
    schemas = schemas or load_table_schemas()
    instruments = instruments or load_instruments()
    names = tables or list(schemas)
    parts = [
        "# coacheval data dictionary",
        "",
        "Generated from `data_schema/` (the table schemas and instrument definitions that validation "
        "and the simulator also use).",
        "",
    ]
    parts += [table_markdown(schemas[n]) for n in names]
    if tables is None or "survey_responses" in tables:
        parts += ["## Instruments", ""] + [instrument_markdown(i) for i in instruments.values()]
    return "\n".join(parts)


def markdown_to_html(markdown: str, title: str = "coacheval data dictionary") -> str:
    r"""Render the dictionary's simple Markdown (headings, tables, lists, code) as HTML.

    Examples
    --------
    >>> page = markdown_to_html("# Tables\n\n| column | type |\n|---|---|\n| `hire_date` | date |")
    >>> print(page[page.index("<body>") + 6 :])
    <h1>Tables</h1>
    <table>
    <tr><th>column</th><th>type</th></tr>
    <tr><td><code>hire_date</code></td><td>date</td></tr>
    </table>
    </body></html>
    """
    import re

    def inline(text: str) -> str:
        text = html.escape(text)
        text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
        return re.sub(r"\*([^*]+)\*", r"<em>\1</em>", text)

    out, in_table, in_list = [], False, False
    for line in markdown.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if set("".join(cells)) <= {"-"}:
                continue
            if not in_table:
                out.append("<table>")
                out.append("<tr>" + "".join(f"<th>{inline(c)}</th>" for c in cells) + "</tr>")
                in_table = True
                continue
            out.append("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in cells) + "</tr>")
            continue
        if in_table:
            out.append("</table>")
            in_table = False
        if line.startswith("- "):
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{inline(line[2:])}</li>")
            continue
        if in_list:
            out.append("</ul>")
            in_list = False
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{inline(line[level:].strip())}</h{level}>")
        elif line.strip():
            out.append(f"<p>{inline(line)}</p>")
    if in_table:
        out.append("</table>")
    if in_list:
        out.append("</ul>")
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:75em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.2em .5em;vertical-align:top;text-align:left}th{background:#f0f0f0}"
    )
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>\n" + "\n".join(out) + "\n</body></html>\n"
    )
