"""Render coacheval's Quarto report templates, with Quarto or without it.

``render`` uses ``quarto render`` when Quarto is on the ``PATH`` (``engine="auto"``) and
otherwise its own pipeline over the same ``.qmd``: parse it (:mod:`coacheval.reports.qmd`), inject
the parameters after the ``parameters`` cell, execute the notebook once with ``nbclient`` and a
``python3`` kernel in the template's folder, turn the outputs into Pandoc markdown, and call
Pandoc (``pypandoc-binary``) for self-contained HTML and DOCX and Pandoc's Typst writer plus the
``typst`` wheel for PDF. Everything is written into a temporary folder next to ``out``; the
finished files are moved into ``out`` only when every requested format succeeded.

Examples
--------
>>> sorted(FORMATS)
['docx', 'html', 'pdf']
>>> quarto_command("report.qmd", "pdf", {"period": "2025Q3", "n": 3}, quarto="quarto")
['quarto', 'render', 'report.qmd', '--to', 'typst', '--output', 'report.pdf',
 '-P', 'period:2025Q3', '-P', 'n:3']
"""

from __future__ import annotations

import ast
import base64
import datetime as _dt
import functools
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from coacheval.errors import CoachevalError, ConfigError
from coacheval.reports.qmd import QmdDocument, format_parameters, inject_parameters, read_qmd

__all__ = [
    "FORMATS",
    "RenderResult",
    "ReportRenderError",
    "notebook_markdown",
    "quarto_command",
    "render",
    "report_templates",
]

#: Output formats :func:`render` writes, with the file extension of each (the aliases
#: ``"typst"``, ``"word"`` and ``"html5"`` are accepted for ``"pdf"``, ``"docx"`` and ``"html"``).
FORMATS: dict[str, str] = {"html": ".html", "pdf": ".pdf", "docx": ".docx"}
_ALIASES = {"typst": "pdf", "word": "docx", "html5": "html"}
_QUARTO_TO = {"html": "html", "pdf": "typst", "docx": "docx"}
# Front-matter keys passed on to Pandoc as document metadata (title block, language).
_META_KEYS = ("title", "subtitle", "author", "date", "abstract", "lang", "keywords", "subject")
# Per-format keys that Pandoc's templates read as variables.
_TYPST_VARS = ("papersize", "margin", "fontsize", "mainfont", "section-numbering", "columns")
_DEFAULT_EXECUTE = {
    "eval": True,
    "echo": False,  # reports show results, not code
    "output": True,
    "include": True,
    "warning": True,
    "error": False,
}
_INLINE = re.compile(r"(^|[^`])`\{python\}[ \t]([^`]+)`", re.M)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_PROVENANCE = ("engine", "rendered_at")

_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  max-width: 52em; margin: 2em auto; padding: 0 1.5em; line-height: 1.5; color: #1f2328; }
h1, h2, h3 { line-height: 1.25; } h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .2em; }
table { border-collapse: collapse; margin: 1em 0; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #d0d7de; padding: .3em .7em; text-align: left; }
thead th { border-bottom: 2px solid #57606a; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: .3em; }
figure { margin: 1.5em 0; } figure img, p img { max-width: 100%; height: auto; }
figcaption { font-size: .92em; color: #57606a; }
pre { background: #f6f8fa; padding: .8em; overflow-x: auto; border-radius: 4px; }
.callout-note, .callout-tip, .callout-warning, .callout-important, .callout-caution {
  border-left: 4px solid #0969da; background: #f6f8fa; padding: .2em 1em; margin: 1em 0; }
"""


class ReportRenderError(CoachevalError, RuntimeError):
    """A report could not be rendered (a cell failed, Pandoc, Typst or Quarto failed).

    Parameters
    ----------
    message
        What failed, naming the template, cell or step.
    step
        The step that failed (``"execute"``, ``"pandoc"``, ``"typst"``, ``"quarto"``, ...).

    Examples
    --------
    >>> err = ReportRenderError("cell 'tbl-kpi' failed", step="execute")
    >>> err.step, isinstance(err, CoachevalError)
    ('execute', True)
    """

    def __init__(self, message: str, *, step: str) -> None:
        self.step = step
        super().__init__(message)


@dataclass(frozen=True)
class RenderResult:
    """The files a render produced, the engine used and how long each step took.

    Parameters
    ----------
    outputs
        Format (``"html"``, ``"pdf"``, ``"docx"``) to the written file.
    engine
        ``"quarto"`` or ``"builtin"``.
    timings
        Seconds per step (``parse``, ``kernel_start``, ``execute``, ``pandoc_html``, ...) and
        ``total``.
    params
        The parameters given to the template, including ``results``, ``engine`` and
        ``rendered_at``.
    notes
        Things worth knowing (for example: the template has no ``parameters`` cell).

    Examples
    --------
    >>> r = RenderResult({"html": Path("r.html")}, "builtin", {"total": 1.5}, {})
    >>> r.engine, r.outputs["html"].name
    ('builtin', 'r.html')
    """

    outputs: dict[str, Path]
    engine: str
    timings: dict[str, float]
    params: dict[str, Any]
    notes: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        files = ", ".join(str(p) for p in self.outputs.values())
        return f"Rendered with {self.engine} in {self.timings.get('total', 0):.1f} s: {files}"


# --------------------------------------------------------------------------- options


def _normalise_formats(formats: str | Iterable[str]) -> list[str]:
    if isinstance(formats, str):
        formats = [formats]
    out: list[str] = []
    for fmt in formats:
        name = _ALIASES.get(str(fmt).lower(), str(fmt).lower())
        if name not in FORMATS:
            raise ConfigError(
                f"unknown report format {fmt!r}; expected one of {sorted(FORMATS)} "
                "('typst' is accepted for pdf)"
            )
        if name not in out:
            out.append(name)
    if not out:
        raise ConfigError("no report format requested; give at least one of html, pdf, docx")
    return out


def _quarto_value(value: Any) -> str:
    """Write one ``-P`` value so Quarto's YAML (JSON schema) reads back the same value."""
    if isinstance(value, str):
        try:
            same = yaml.safe_load(value) == value and "\n" not in value
        except yaml.YAMLError:
            same = False
        return value if same and value.strip() == value and value else json.dumps(value)
    return json.dumps(value)


def quarto_command(
    template: str | Path,
    fmt: str,
    params: dict[str, Any],
    *,
    quarto: str = "quarto",
) -> list[str]:
    """Build the ``quarto render`` command line for one format.

    Parameters
    ----------
    template
        The ``.qmd`` to render (Quarto writes the output next to it).
    fmt
        ``"html"`` (self-contained: ``-M embed-resources:true``), ``"pdf"`` (``--to typst``)
        or ``"docx"``.
    params
        Execute parameters, passed as ``-P name:value``; values are written so that Quarto's
        YAML parsing returns them unchanged (strings that would read as numbers, booleans or
        dates are quoted; lists and dicts are JSON).
    quarto
        The Quarto executable.

    Returns
    -------
    list of str

    Examples
    --------
    >>> quarto_command("t.qmd", "html", {"label": "yes", "ids": [1, 2]})
    ['quarto', 'render', 't.qmd', '--to', 'html', '--output', 't.html',
     '-M', 'embed-resources:true', '-P', 'label:"yes"', '-P', 'ids:[1, 2]']
    """
    fmt = _normalise_formats(fmt)[0]
    template = Path(template)
    cmd = [quarto, "render", str(template), "--to", _QUARTO_TO[fmt]]
    cmd += ["--output", template.stem + FORMATS[fmt]]
    if fmt == "html":
        cmd += ["-M", "embed-resources:true"]
    for name, value in params.items():
        if not re.fullmatch(r"[A-Za-z_]\w*", name):
            raise ConfigError(f"parameter name {name!r} is not a valid identifier")
        cmd += ["-P", f"{name}:{_quarto_value(value)}"]
    return cmd


def _format_options(front: dict[str, Any], fmt: str) -> dict[str, Any]:
    """Top-level options overlaid with the ``format: <fmt>:`` options of the front matter."""
    opts = {k: front[k] for k in ("toc", "toc-depth", "number-sections") if k in front}
    formats = front.get("format")
    if isinstance(formats, dict):
        keys = {"html": ("html",), "pdf": ("typst", "pdf"), "docx": ("docx",)}[fmt]
        for key in keys:
            if isinstance(formats.get(key), dict):
                opts.update(formats[key])
                break
    return opts


def _execute_defaults(front: dict[str, Any]) -> dict[str, Any]:
    defaults = dict(_DEFAULT_EXECUTE)
    if isinstance(front.get("execute"), dict):
        defaults.update({k: v for k, v in front["execute"].items() if k in defaults})
    return defaults


# --------------------------------------------------------------------------- execution


def _cell_name(cell: Any, index: int) -> str:
    options = cell.metadata.get("quarto", {})
    line = cell.metadata.get("qmd_line")
    where = f" (line {line})" if line else ""
    if options.get("label"):
        return f"cell '{options['label']}'{where}"
    if "injected-parameters" in (cell.metadata.get("tags") or []):
        return f"the injected-parameters cell{where}"
    first = next((s for s in cell.source.splitlines() if s and not s.startswith("#|")), "")
    return f"code cell {index}{where} starting {first[:60]!r}"


def _setup_source(cwd: Path) -> str:
    return "\n".join(
        [
            "import os as _ce_os",
            f"_ce_os.chdir({str(cwd)!r})",
            "try:",
            "    import matplotlib as _ce_mpl",
            "    get_ipython().run_line_magic('matplotlib', 'inline')",
            "    from matplotlib_inline.backend_inline import set_matplotlib_formats as _ce_fmt",
            "    _ce_fmt('retina', 'svg')",
            "    _ce_mpl.rcParams['figure.figsize'] = (7.0, 5.0)",
            "    _ce_mpl.rcParams['figure.dpi'] = 96",
            "    _ce_mpl.rcParams['svg.fonttype'] = 'path'",
            "    del _ce_mpl, _ce_fmt",
            "except ImportError:",
            "    pass",
            "del _ce_os",
        ]
    )


def _inline_markdown(result: dict[str, Any]) -> str:
    data = result.get("data", {})
    if "text/markdown" in data:
        return str(data["text/markdown"])
    text = str(data.get("text/plain", ""))
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
        return re.sub(r"([\\`*_{}\[\]<>#|$@~^])", r"\\\1", str(value))
    return text


def _execute(nb: Any, cwd: Path, timeout: float, front: dict[str, Any], timings: dict) -> None:
    """Run every code cell of ``nb`` in a fresh python3 kernel; evaluate inline expressions."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    defaults = _execute_defaults(front)
    kernel = str(front.get("jupyter") or "python3")
    from traitlets.config import Config

    config = Config()
    ipc_dir = None
    if os.name == "posix":  # IPC sockets: no TCP ports, no "running over TCP" warning
        ipc_dir = tempfile.mkdtemp(prefix="coacheval-kernel-")
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = f"{ipc_dir}/k"
    client = NotebookClient(
        nb,
        config=config,
        kernel_name=kernel,
        timeout=timeout,
        allow_errors=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    setup = nbformat.v4.new_code_cell(_setup_source(cwd))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        # jupyter_client/ipykernel internals may emit deprecation notices; not the user's concern
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            with client.setup_kernel():
                timings["kernel_start"] = time.perf_counter() - t0
                t1 = time.perf_counter()
                # nbclient writes an executed cell back into nb.cells[index]: insert it for real
                nb.cells.insert(0, setup)
                try:
                    client.execute_cell(setup, 0, store_history=False)
                    for i, cell in enumerate(nb.cells[1:], 1):
                        if cell.cell_type == "code":
                            options = {**defaults, **cell.metadata.get("quarto", {})}
                            if not options["eval"]:
                                continue
                            if options["error"]:
                                tags = list(cell.metadata.get("tags") or [])
                                cell.metadata["tags"] = [*tags, "raises-exception"]
                            try:
                                client.execute_cell(cell, i)
                            except CellTimeoutError as exc:
                                raise ReportRenderError(
                                    f"{_cell_name(cell, i)} did not finish within {timeout:g} s",
                                    step="execute",
                                ) from exc
                            except CellExecutionError as exc:
                                summary = f"{exc.ename}: {_ANSI.sub('', str(exc.evalue))}"
                                raise ReportRenderError(
                                    f"{_cell_name(cell, i)} raised {summary}",
                                    step="execute",
                                ) from exc
                        elif cell.cell_type == "markdown":
                            _run_inline(client, cell)
                finally:
                    nb.cells.pop(0)
                timings["execute"] = time.perf_counter() - t1
                t2 = time.perf_counter()
        except ReportRenderError:
            raise
        except DeadKernelError as exc:
            raise ReportRenderError(f"the {kernel} kernel died: {exc}", step="execute") from exc
        except (RuntimeError, KeyError, OSError) as exc:  # NoSuchKernel is a KeyError
            raise ReportRenderError(
                f"could not start the {kernel!r} Jupyter kernel: {exc}", step="execute"
            ) from exc
        finally:
            if ipc_dir:
                shutil.rmtree(ipc_dir, ignore_errors=True)
    timings["kernel_shutdown"] = time.perf_counter() - t2


def _run_inline(client: Any, cell: Any) -> None:
    expressions = [m.group(2) for m in _INLINE.finditer(cell.source)]
    if not expressions:
        return
    msg_id = client.kc.execute(
        "",
        silent=False,
        store_history=False,
        user_expressions={str(k): e for k, e in enumerate(expressions)},
    )
    reply = client.wait_for_reply(msg_id)
    results = reply["content"].get("user_expressions", {})
    values = {}
    for k, expr in enumerate(expressions):
        res = results.get(str(k), {})
        if res.get("status") != "ok":
            raise ReportRenderError(
                f"inline expression `{{python}} {expr}` failed: "
                f"{res.get('ename', 'Error')}: {_ANSI.sub('', str(res.get('evalue', '')))}",
                step="execute",
            )
        values[expr] = _inline_markdown(res)
    cell.metadata["inline_results"] = values


# --------------------------------------------------------------------------- markdown


def _typst_text(text: str) -> str:
    return re.sub(r"([\\#\[\]*_<>@$`~])", r"\\\1", text)


def _typst_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _attr_value(text: str) -> str:
    return '"' + " ".join(str(text).split()).replace('"', "'") + '"'


@functools.lru_cache(maxsize=64)
def _html_table_markdown(html: str) -> str:
    import pypandoc

    html = re.sub(r"<style.*?</style>", "", html, flags=re.S | re.I)
    return pypandoc.convert_text(
        html, "markdown-raw_html-native_divs-native_spans-fenced_divs", format="html"
    ).strip()


def _nth(value: Any, k: int) -> str | None:
    if isinstance(value, list):
        return str(value[k]) if k < len(value) else None
    return None if value is None else (str(value) if k == 0 else None)


def _figure(
    data: dict[str, Any],
    meta: dict[str, Any],
    fmt: str,
    options: dict[str, Any],
    k: int,
    n_images: int,
    files: Path,
    stem: str,
) -> str:
    """Save one image output under ``files`` and return its markdown (raw Typst for PDF)."""
    label = options.get("label")
    fig_id = None
    if label and str(label).startswith("fig-"):
        fig_id = str(label) if n_images == 1 else f"{label}-{k + 1}"
    caption = _nth(options.get("fig-cap"), k) or ""
    alt = _nth(options.get("fig-alt"), k) or caption
    if fmt == "pdf" and "image/svg+xml" in data:
        mime, ext = "image/svg+xml", "svg"
    elif "image/png" in data:
        mime, ext = "image/png", "png"
    elif "image/jpeg" in data:
        mime, ext = "image/jpeg", "jpg"
    else:
        mime, ext = "image/svg+xml", "svg"
    folder = files / "figure"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}-{k + 1}.{ext}"
    payload = data[mime]
    if ext == "svg":
        path.write_text(payload if isinstance(payload, str) else "".join(payload), "utf-8")
    else:
        path.write_bytes(base64.b64decode(payload))
    rel = path.relative_to(files.parent).as_posix()
    if fmt == "pdf":
        img = f"image({_typst_string(rel)}, alt: {_typst_string(alt)}, width: 100%)"
        if caption:
            body = f"#figure({img}, caption: [{_typst_text(caption)}])"
            body += f" <{fig_id}>" if fig_id else ""
        else:
            body = f"#align(center, {img})"
        return f"```{{=typst}}\n{body}\n```"
    attrs = [f"#{fig_id}"] if fig_id else []
    width = (meta.get(mime) or {}).get("width")
    if width:
        attrs.append(f"width={int(width)}px")
    attrs.append(f"alt={_attr_value(alt)}")
    number = options.get("_crossref", {}).get(fig_id)
    if caption and number:
        caption = f"Figure {number}: {caption}"
    cap = caption.replace("[", "\\[").replace("]", "\\]")
    return f"![{cap}]({rel}){{{' '.join(attrs)}}}"


def _code_block(text: str, cls: str = "") -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}{cls}\n{text.rstrip()}\n{fence}"


def _table_caption(markdown: str, options: dict[str, Any]) -> str:
    caption = options.get("tbl-cap")
    label = str(options.get("label") or "")
    if not caption or not re.search(r"^\s*\|?[ :]*-{3,}", markdown, re.M):
        return markdown
    ident = f" {{#{label}}}" if label.startswith("tbl-") else ""
    caption = " ".join(str(caption).split())
    number = options.get("_crossref", {}).get(label)
    if number and options.get("_format") != "pdf":  # Typst numbers its figures itself
        caption = f"Table {number}: {caption}"
    return f"{markdown.rstrip()}\n\n: {caption}{ident}"


def _code_cell_markdown(
    cell: Any, index: int, fmt: str, defaults: dict[str, Any], files: Path, numbers: dict
) -> str:
    options = {**defaults, **cell.metadata.get("quarto", {}), "_crossref": numbers, "_format": fmt}
    if not options["include"] or "injected-parameters" in (cell.metadata.get("tags") or []):
        return ""
    parts = []
    code = "\n".join(line for line in cell.source.splitlines() if not line.startswith("#|")).strip(
        "\n"
    )
    if options["echo"] and code:
        parts.append(_code_block(code, "python"))
    output = options["output"]
    if output is False or not options["eval"]:
        return "\n\n".join(parts)
    asis = output == "asis"
    outputs = list(cell.get("outputs", []))
    has_image = any(
        o.get("output_type") in ("display_data", "execute_result")
        and any(m.startswith("image/") for m in o.get("data", {}))
        for o in outputs
    )
    n_images = sum(
        1
        for o in outputs
        if any(m.startswith("image/") for m in o.get("data", {}))
        and o.get("output_type") in ("display_data", "execute_result")
    )
    k_image = 0
    stream_name, stream_text = None, []

    def flush_stream() -> None:
        nonlocal stream_name
        if stream_text:
            text = "".join(stream_text)
            parts.append(
                text.strip("\n") if asis and stream_name == "stdout" else _code_block(text)
            )
        stream_name = None
        stream_text.clear()

    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            if out.get("name") == "stderr" and not options["warning"]:
                continue
            if stream_name not in (None, out.get("name")):
                flush_stream()
            stream_name = out.get("name")
            stream_text.append(out.get("text", ""))
            continue
        flush_stream()
        if kind == "error":
            trace = _ANSI.sub("", "\n".join(out.get("traceback", [])))
            parts.append(_code_block(trace or f"{out.get('ename')}: {out.get('evalue')}"))
            continue
        data = out.get("data", {})
        if "text/markdown" in data:
            parts.append(_table_caption(str(data["text/markdown"]).strip("\n"), options))
        elif any(m.startswith("image/") for m in data):
            stem = re.sub(r"[^\w-]", "_", str(options.get("label") or f"cell-{index}"))
            parts.append(
                _figure(data, out.get("metadata", {}), fmt, options, k_image, n_images, files, stem)
            )
            k_image += 1
        elif "text/html" in data and "<table" in str(data["text/html"]).lower():
            parts.append(_table_caption(_html_table_markdown(str(data["text/html"])), options))
        elif "text/plain" in data:
            if has_image and kind == "execute_result":
                continue  # '[<matplotlib.lines.Line2D ...>]', 'Text(0.5, 1.0, ...)'
            text = str(data["text/plain"])
            if has_image and re.fullmatch(r"<(Figure|matplotlib)[^\n]*>", text.strip()):
                continue
            parts.append(text if asis else _code_block(text))
    flush_stream()
    return "\n\n".join(p for p in parts if p)


def _markdown_cell(cell: Any, fmt: str, numbers: dict[str, int]) -> str:
    values = cell.metadata.get("inline_results", {})
    text = cell.source
    if values:
        text = _INLINE.sub(lambda m: m.group(1) + values.get(m.group(2), m.group(0)), text)
    return _XREF.sub(lambda m: _crossref(m.group(1) or m.group(2), fmt, numbers), text)


_XREF = re.compile(
    r"\[-?@((?:fig|tbl)-[A-Za-z0-9_-]*[A-Za-z0-9_])\]|(?<![\w@\\`])@((?:fig|tbl)-[A-Za-z0-9_-]*[A-Za-z0-9_])"
)


def _crossref(label: str, fmt: str, numbers: dict[str, int]) -> str:
    """``@fig-x`` -> "Figure N" (a link), or Typst's own reference for PDF; ``?@fig-x`` if unknown."""
    if label not in numbers:
        return f"?@{label}".replace("@", "\\@")
    if fmt == "pdf":
        return f"`@{label}`{{=typst}}"
    kind = "Figure" if label.startswith("fig-") else "Table"
    return f"[{kind}\u00a0{numbers[label]}](#{label})"


def _crossref_numbers(nb: Any, defaults: dict[str, Any]) -> dict[str, int]:
    """Give the ``fig-``/``tbl-`` labels of code cells (and ``{#fig-x}`` ids) their numbers."""
    numbers: dict[str, int] = {}
    counts = {"fig": 0, "tbl": 0}
    for cell in nb.cells:
        if cell.cell_type == "code":
            options = {**defaults, **cell.metadata.get("quarto", {})}
            labels = [str(options.get("label") or "")] if options["include"] else []
        else:
            labels = re.findall(r"\{#((?:fig|tbl)-[A-Za-z0-9_-]+)", cell.source)
        for label in labels:
            kind = label[:3]
            if kind in counts and label[3:4] == "-" and label not in numbers:
                counts[kind] += 1
                numbers[label] = counts[kind]
    return numbers


def _pandoc_metadata(front: dict[str, Any], fmt: str, template: Path, now: _dt.datetime) -> dict:
    meta = {k: front[k] for k in _META_KEYS if k in front}
    date = meta.get("date")
    if date == "today":
        meta["date"] = now.date().isoformat()
    elif date == "now":
        meta["date"] = now.isoformat(timespec="minutes")
    elif date == "last-modified":
        meta["date"] = _dt.date.fromtimestamp(template.stat().st_mtime).isoformat()
    elif isinstance(date, (_dt.date, _dt.datetime)):
        meta["date"] = date.isoformat()
    if "title" not in meta:
        meta["pagetitle"] = template.stem
    if fmt == "pdf":
        opts = _format_options(front, fmt)
        meta.update({k: opts[k] for k in _TYPST_VARS if k in opts})
    return meta


def notebook_markdown(
    nb: Any, fmt: str, front: dict[str, Any], files: Path, template: Path, now: _dt.datetime
) -> str:
    r"""Turn an executed notebook into Pandoc markdown for one output format.

    Parameters
    ----------
    nb
        The executed notebook (cells built by :meth:`QmdDocument.to_notebook`).
    fmt
        ``"html"``, ``"pdf"`` (figures as raw Typst, SVG preferred) or ``"docx"``.
    front
        The template's front matter (title block and ``execute:`` defaults).
    files
        Folder for the figure files (``<stem>_files``); links are relative to its parent.
    template
        The template path (for ``date: last-modified`` and the page title).
    now
        The render time (for ``date: today``).

    Returns
    -------
    str
        Markdown with a YAML metadata block.

    Examples
    --------
    >>> import tempfile, datetime
    >>> from coacheval.reports.qmd import parse_qmd
    >>> nb = parse_qmd("---\ntitle: T\n---\n# Hi\n").to_notebook()
    >>> tmp = Path(tempfile.mkdtemp())
    >>> print(notebook_markdown(nb, "html", {"title": "T"}, tmp / "t_files", tmp / "t.qmd",
    ...                         datetime.datetime(2025, 1, 2)))
    ---
    title: T
    ---
    <BLANKLINE>
    # Hi
    <BLANKLINE>
    """
    defaults = _execute_defaults(front)
    numbers = _crossref_numbers(nb, defaults)
    blocks = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            blocks.append(_markdown_cell(cell, fmt, numbers))
        elif cell.cell_type == "code":
            blocks.append(_code_cell_markdown(cell, i, fmt, defaults, files, numbers))
    meta = _pandoc_metadata(front, fmt, template, now)
    header = "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"
    return header + "\n" + "\n\n".join(b for b in blocks if b.strip()) + "\n"


# --------------------------------------------------------------------------- pandoc / typst


def _run_pandoc(args: Sequence[str], cwd: Path, step: str) -> None:
    import pypandoc

    pandoc = pypandoc.get_pandoc_path()
    proc = subprocess.run(
        [pandoc, *args], cwd=cwd, capture_output=True, text=True, encoding="utf-8", check=False
    )
    if proc.returncode != 0:
        raise ReportRenderError(
            f"pandoc failed ({step}, exit {proc.returncode}): {proc.stderr.strip()[-2000:]}",
            step=step,
        )


def _has_level_one_heading(nb: Any) -> bool:
    for cell in nb.cells:
        text = cell.source if cell.cell_type == "markdown" else ""
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            text += "\n" + str(out.get("data", {}).get("text/markdown", ""))
        text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
        if re.search(r"^#\s", text, re.M):
            return True
    return False


def _resolve(path: Any, base: Path) -> str:
    p = Path(str(path))
    return str(p if p.is_absolute() else (base / p).resolve())


_MD_IMAGE = re.compile(r"(!\[([^\]]*)\]\()([^)\s]+)\)(\{[^}]*\})?")
_ALT_ATTR = re.compile(r'(?:fig-alt|alt)="((?:[^"\\]|\\.)*)"')


def _localise_images(markdown: str, work: Path, template_dir: Path) -> str:
    r"""Copy every image a Markdown text points at into ``work`` for Typst.

    Typst reads files only under its root (the work folder) and cannot read the data URIs that
    Pandoc passes through, so images referenced by absolute paths, paths outside the work
    folder, or ``data:`` URIs are written to ``work/_media`` and the references rewritten. An
    image with alt text (``fig-alt`` or ``alt`` attribute) becomes a raw Typst figure carrying
    it, because Pandoc's Typst writer drops alt text.

    Examples
    --------
    >>> import base64, tempfile
    >>> work = Path(tempfile.mkdtemp())
    >>> png = base64.b64encode(b"PNG fake").decode()
    >>> _localise_images(f"![a](data:image/png;base64,{png})", work, work)
    '![a](_media/image-1.png)'
    >>> _localise_images(f'![Rates](data:image/png;base64,{png}){{fig-alt="Two lines"}}', work, work)
    '`#figure(image("_media/image-1.png", alt: "Two lines", width: 100%), caption: [Rates])`{=typst}'
    """
    media = work / "_media"
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        target = match.group(3)
        if target.startswith(("http://", "https://")):
            return match.group(0)
        if target.startswith("data:"):
            header, _, payload = target.partition(",")
            ext = "." + header.split("/")[1].split(";")[0].replace("svg+xml", "svg")
            data = base64.b64decode(payload) if ";base64" in header else payload.encode()
        else:
            path = Path(target)
            path = path if path.is_absolute() else (work / path)
            if not path.is_file():
                path = template_dir / target
            if not path.is_file():
                return match.group(0)
            if path.resolve().is_relative_to(work.resolve()):
                return _typst_image(match, path.resolve().relative_to(work.resolve()).as_posix())
            ext, data = path.suffix, path.read_bytes()
        count += 1
        media.mkdir(exist_ok=True)
        name = f"image-{count}{ext}"
        (media / name).write_bytes(data)
        return _typst_image(match, f"_media/{name}")

    def _typst_image(match: re.Match[str], rel: str) -> str:
        caption, attrs = match.group(2), match.group(4) or ""
        alt = _ALT_ATTR.search(attrs)
        if alt is None:
            return f"![{caption}]({rel}){attrs}"
        image = f"image({_typst_string(rel)}, alt: {_typst_string(alt.group(1))}, width: 100%)"
        body = f"#figure({image}, caption: [{_typst_text(caption)}])" if caption else f"#{image}"
        return f"`{body}`{{=typst}}"

    return _MD_IMAGE.sub(replace, markdown)


def _pandoc_format(
    fmt: str,
    md: Path,
    work: Path,
    stem: str,
    front: dict[str, Any],
    template_dir: Path,
    shift_headings: bool,
    timings: dict,
) -> Path:
    opts = _format_options(front, fmt)
    common = ["-f", "markdown", "-s", f"--resource-path={work}{os.pathsep}{template_dir}"]
    if opts.get("toc"):
        common.append("--toc")
        if opts.get("toc-depth"):
            common.append(f"--toc-depth={int(opts['toc-depth'])}")
    if opts.get("number-sections"):
        common.append("--number-sections")
    target = work / (stem + FORMATS[fmt])
    t0 = time.perf_counter()
    if fmt == "html":
        css = work / "_coacheval.css"
        css.write_text(_CSS, encoding="utf-8")
        # Formulas (the technical report's methods appendix) as MathML: self-contained, no
        # script; Quarto's equivalent is the front-matter option html-math-method: mathml.
        math = str(opts.get("html-math-method", "mathml"))
        if math not in ("mathml", "plain"):
            raise ConfigError(
                f"html-math-method {math!r} needs a script from the internet; use mathml or plain"
            )
        extra = [f"--css={css.name}", *(["--mathml"] if math == "mathml" else [])]
        user_css = opts.get("css") or []
        for sheet in [user_css] if isinstance(user_css, str) else user_css:
            extra.append(f"--css={_resolve(sheet, template_dir)}")
        _run_pandoc(
            [*common, "-t", "html5", "--embed-resources", *extra, "-o", target.name, md.name],
            work,
            "pandoc_html",
        )
        timings["pandoc_html"] = time.perf_counter() - t0
    elif fmt == "docx":
        extra = []
        if opts.get("reference-doc"):
            extra.append(f"--reference-doc={_resolve(opts['reference-doc'], template_dir)}")
        _run_pandoc(
            [*common, "-t", "docx", *extra, "-o", target.name, md.name], work, "pandoc_docx"
        )
        timings["pandoc_docx"] = time.perf_counter() - t0
    else:
        import typst

        typ = work / (stem + ".typ")
        shift = ["--shift-heading-level-by=-1"] if shift_headings else []
        local_md = work / (stem + ".typst.md")
        local_md.write_text(
            _localise_images(md.read_text(encoding="utf-8"), work, template_dir), encoding="utf-8"
        )
        _run_pandoc(
            [*common, "-t", "typst", *shift, "-o", typ.name, local_md.name], work, "pandoc_typst"
        )
        timings["pandoc_typst"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        fonts = opts.get("font-paths") or []
        fonts = [_resolve(f, template_dir) for f in ([fonts] if isinstance(fonts, str) else fonts)]
        try:
            typst.compile(str(typ), output=str(target), root=str(work), font_paths=fonts)
        except Exception as exc:  # typst.TypstError and RuntimeError differ between versions
            raise ReportRenderError(
                f"typst could not compile the PDF: {exc}", step="typst"
            ) from exc
        timings["typst_compile"] = time.perf_counter() - t1
    if not target.is_file():
        raise ReportRenderError(f"{fmt} output {target.name} was not written", step=fmt)
    return target


# --------------------------------------------------------------------------- engines


def _render_builtin(
    template: Path,
    fmts: list[str],
    work: Path,
    params: dict[str, Any],
    timeout: float,
    now: _dt.datetime,
    timings: dict,
    notes: list[str],
) -> dict[str, Path]:
    t0 = time.perf_counter()
    doc: QmdDocument = read_qmd(template)
    nb = doc.to_notebook()
    if inject_parameters(nb, params) is None:
        notes.append(
            "the template has no cell tagged 'parameters' (#| tags: [parameters]), so no "
            "parameters were injected (Quarto does the same)"
        )
    timings["parse"] = time.perf_counter() - t0
    _execute(nb, template.parent, timeout, doc.front_matter, timings)
    stem = template.stem
    files = work / f"{stem}_files"
    shift = not _has_level_one_heading(nb)
    outputs = {}
    for fmt in fmts:
        t1 = time.perf_counter()
        md = work / f"{stem}.{fmt}.md"
        md.write_text(
            notebook_markdown(nb, fmt, doc.front_matter, files, template, now), encoding="utf-8"
        )
        timings[f"markdown_{fmt}"] = time.perf_counter() - t1
        outputs[fmt] = _pandoc_format(
            fmt, md, work, stem, doc.front_matter, template.parent, shift, timings
        )
    return outputs


_IGNORE_COPY = shutil.ignore_patterns(".quarto", "*_files", "__pycache__", ".ipynb_checkpoints")


def _render_quarto(
    quarto: str,
    template: Path,
    fmts: list[str],
    work: Path,
    params: dict[str, Any],
    timeout: float,
    timings: dict,
) -> dict[str, Path]:
    # Quarto writes next to the document: render a copy of the template's folder in `work`.
    src = work / "src"
    shutil.copytree(template.parent, src, ignore=_IGNORE_COPY)
    qmd = src / template.name
    outputs = {}
    for fmt in fmts:
        cmd = quarto_command(qmd, fmt, params, quarto=quarto)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd, cwd=src, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise ReportRenderError(
                f"quarto render --to {_QUARTO_TO[fmt]} did not finish within {timeout:g} s",
                step="quarto",
            ) from exc
        timings[f"quarto_{fmt}"] = time.perf_counter() - t0
        target = src / (template.stem + FORMATS[fmt])
        if proc.returncode != 0 or not target.is_file():
            raise ReportRenderError(
                f"quarto render --to {_QUARTO_TO[fmt]} failed (exit {proc.returncode}): "
                f"{(proc.stderr or '').strip()[-2000:]}",
                step="quarto",
            )
        outputs[fmt] = target
    return outputs


def report_templates() -> dict[str, Path]:
    """List the report templates shipped with coacheval, by name.

    Returns
    -------
    dict of str to Path
        ``{"executive": .../executive.qmd, "quarterly": ..., "technical": ...}``: the ``.qmd``
        files :func:`render` (and ``coacheval report``) use when given a name.

    Examples
    --------
    >>> from coacheval.reports import report_templates
    >>> sorted(report_templates())
    ['executive', 'quarterly', 'technical']
    >>> report_templates()["executive"].suffix
    '.qmd'
    """
    from coacheval._resources import resource_dir

    folder = resource_dir("reports")
    return {p.stem: p for p in sorted(folder.glob("*.qmd")) if not p.stem.startswith("_")}


def _template_path(template: str | Path) -> Path:
    """Resolve a template given by name (``"executive"``) or as a path to a ``.qmd`` file."""
    if isinstance(template, str) and not template.endswith(".qmd") and "/" not in template:
        shipped = report_templates()
        if template in shipped:
            return shipped[template]
        if not Path(template).exists():
            raise ConfigError(
                f"unknown report template {template!r}: the shipped ones are "
                f"{', '.join(sorted(shipped))}, or give the path to a .qmd file"
            )
    return Path(template).resolve()


def render(
    template: str | Path,
    results: str | Path,
    *,
    formats: str | Sequence[str] = ("html",),
    out: str | Path,
    params: dict[str, Any] | None = None,
    engine: Literal["auto", "quarto", "builtin"] = "auto",
    timeout: float = 600.0,
) -> RenderResult:
    """Render a Quarto report template to self-contained HTML, PDF (Typst) and/or DOCX.

    Parameters
    ----------
    template
        A shipped template's name (``"executive"``, ``"quarterly"``, ``"technical"``: see
        :func:`report_templates`) or the path to a ``.qmd`` file. Its code runs with the
        template's folder as working directory.
    results
        The evaluation results the template reads (``results.json`` or its folder); given to
        the template as the parameter ``results`` (an absolute path string).
    formats
        Any of ``"html"``, ``"pdf"`` (also ``"typst"``), ``"docx"``.
    out
        Folder that receives ``<template stem>.html`` / ``.pdf`` / ``.docx``. Created if needed.
    params
        More template parameters (JSON-like values; dates and paths become strings). They are
        injected after the template's ``#| tags: [parameters]`` cell, as Quarto/papermill do.
        ``rendered_at`` may be overridden (for reproducible builds); ``results`` and
        ``engine`` may not.
    engine
        ``"auto"``: ``quarto render`` when ``quarto`` is on the PATH, else ``"builtin"``
        (Jupyter + Pandoc + Typst, no Quarto needed).
    timeout
        Seconds allowed per cell (builtin) or per ``quarto render`` call.

    Returns
    -------
    RenderResult
        Files written, engine, timings per step, injected parameters.

    Raises
    ------
    ConfigError
        Unknown format or engine, missing template, bad parameters, or ``engine="quarto"``
        without Quarto.
    ReportRenderError
        A cell raised (the message names the cell and the exception), or Pandoc, Typst or
        Quarto failed. Nothing is written to ``out`` then: outputs are moved into place only
        when every format succeeded, so no earlier report is replaced by a partial one.

    Examples
    --------
    >>> import tempfile
    >>> tmp = Path(tempfile.mkdtemp())
    >>> _ = (tmp / "mini.qmd").write_text('''---
    ... title: Mini
    ... ---
    ... ```{python}
    ... #| tags: [parameters]
    ... results = None
    ... ```
    ...
    ... ```{python}
    ... print("engine:", engine)
    ... ```
    ... ''', encoding="utf-8")
    >>> res = render(tmp / "mini.qmd", tmp, out=tmp / "out", engine="builtin")
    >>> res.engine, sorted(p.name for p in (tmp / "out").iterdir())
    ('builtin', ['mini.html'])
    >>> "engine: builtin" in (tmp / "out" / "mini.html").read_text(encoding="utf-8")
    True
    """
    t_start = time.perf_counter()
    template = _template_path(template)
    if not template.is_file():
        raise ConfigError(f"report template {template} does not exist")
    fmts = _normalise_formats(formats)
    if engine not in ("auto", "quarto", "builtin"):
        raise ConfigError(f"engine must be 'auto', 'quarto' or 'builtin', not {engine!r}")
    quarto = shutil.which("quarto") if engine in ("auto", "quarto") else None
    if engine == "quarto" and quarto is None:
        raise ConfigError("engine='quarto' was asked for but 'quarto' is not on the PATH")
    used = "quarto" if quarto else "builtin"
    user = dict(params or {})
    clash = sorted({"results", "engine"} & set(user))
    if clash:
        raise ConfigError(f"parameter(s) {clash} are set by render() and cannot be passed")
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    injected = {
        **user,
        "results": str(Path(results).resolve()),
        "engine": used,
        "rendered_at": user.get("rendered_at", now.isoformat()),
    }
    format_parameters(injected)  # validate names and values before any work
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out must be a folder; {out} is a file")
    out.parent.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    notes: list[str] = []
    work = Path(tempfile.mkdtemp(prefix=f".{template.stem}-render-", dir=out.parent))
    try:
        if quarto:
            produced = _render_quarto(quarto, template, fmts, work, injected, timeout, timings)
        else:
            produced = _render_builtin(template, fmts, work, injected, timeout, now, timings, notes)
        t0 = time.perf_counter()
        out.mkdir(parents=True, exist_ok=True)
        final = {}
        for fmt, path in produced.items():
            final[fmt] = out / path.name
            os.replace(path, final[fmt])
        timings["move"] = time.perf_counter() - t0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    timings["total"] = time.perf_counter() - t_start
    return RenderResult(final, used, timings, injected, tuple(notes))
