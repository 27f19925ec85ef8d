"""Read Quarto ``.qmd`` documents into notebooks, as Quarto's Jupyter engine does.

The scanner mirrors Quarto's ``quartoMdToJupyter`` (``src/core/jupyter/jupyter.ts``): the YAML
front matter is split off, a ```` ```{python} ```` fence opens a code cell that ends at a line
with the same indent and the same number of backticks, and everything else is markdown. The
leading ``#| key: value`` lines of a code cell are YAML cell options; keys Quarto does not know
(such as ``tags``) move to the cell metadata, so ``#| tags: [parameters]`` marks the papermill
parameters cell. Parameters are injected in a new cell right after that cell, tagged
``injected-parameters``, as Quarto's ``nb_parameterize`` does.

Examples
--------
>>> doc = parse_qmd('''---
... title: Demo
... ---
... Some *text*.
...
... ```{python}
... #| tags: [parameters]
... n = 1
... ```
... ''')
>>> doc.front_matter["title"]
'Demo'
>>> [cell.kind for cell in doc.cells]
['markdown', 'code']
>>> doc.cells[1].metadata["tags"]
['parameters']
"""

from __future__ import annotations

import datetime as _dt
import json
import keyword
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from coacheval.errors import ConfigError

__all__ = [
    "QmdCell",
    "QmdDocument",
    "format_parameters",
    "inject_parameters",
    "parse_qmd",
    "read_qmd",
]

# Quarto's kJupyterCellOptionKeys (and the figure/table keys it shares with knitr): these stay
# in the cell source as comments; any other key moves to the cell metadata.
CELL_OPTION_KEYS = frozenset(
    {
        "eval",
        "echo",
        "code-fold",
        "code-summary",
        "code-overflow",
        "code-line-numbers",
        "warning",
        "error",
        "output",
        "include",
        "label",
        "classes",
        "panel",
        "column",
        "fig-cap",
        "fig-subcap",
        "fig-alt",
        "fig-align",
        "fig-env",
        "fig-pos",
        "fig-width",
        "fig-height",
        "fig-format",
        "fig-dpi",
        "tbl-cap",
        "tbl-subcap",
        "tbl-colwidths",
        "tbl-column",
        "layout",
        "layout-ncol",
        "layout-nrow",
        "layout-align",
        "layout-valign",
        "html-table-processing",
        "output-location",
    }
)

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
_CODE_START = re.compile(r"^(\s*)(```+)\s*\{python( *[ ,].*)?\}\s*$")
_OPTION_LINE = re.compile(r"^#\|\s?(.*)$")


@dataclass
class QmdCell:
    """One cell of a parsed ``.qmd``: markdown text, or Python code with its ``#|`` options.

    Parameters
    ----------
    kind
        ``"markdown"`` or ``"code"``.
    source
        The cell text; for code, including the ``#|`` lines (they are Python comments).
    options
        The Quarto cell options (``echo``, ``label``, ``fig-cap``, ...).
    metadata
        Other ``#|`` keys, as Quarto moves them to the notebook cell metadata (``tags``).
    line
        The 1-based line of the ``.qmd`` where the cell starts.

    Examples
    --------
    >>> QmdCell("code", "x = 1", {"echo": False}).code
    'x = 1'
    """

    kind: str
    source: str
    options: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    line: int = 1

    @property
    def code(self) -> str:
        """The code without its leading ``#|`` option lines."""
        lines = self.source.splitlines()
        i = 0
        while i < len(lines) and _OPTION_LINE.match(lines[i]):
            i += 1
        return "\n".join(lines[i:]).strip("\n")

    @property
    def tags(self) -> list[str]:
        """The cell's tags (``#| tags: [...]``)."""
        tags = self.metadata.get("tags") or []
        return [str(t) for t in (tags if isinstance(tags, list) else [tags])]


@dataclass
class QmdDocument:
    """A parsed ``.qmd``: its YAML front matter and its cells.

    Parameters
    ----------
    front_matter
        The YAML header as a dict (empty when there is none).
    cells
        The markdown and code cells in document order.
    path
        The file read, when the document came from a file.

    Examples
    --------
    >>> doc = parse_qmd("Just text.")
    >>> doc.front_matter, len(doc.cells)
    ({}, 1)
    """

    front_matter: dict[str, Any]
    cells: list[QmdCell]
    path: Path | None = None

    def parameters_cell(self) -> int | None:
        """Index of the first cell tagged ``parameters`` (None when there is none)."""
        for i, cell in enumerate(self.cells):
            if cell.kind == "code" and "parameters" in cell.tags:
                return i
        return None

    def to_notebook(self) -> Any:
        r"""Build an ``nbformat`` v4 notebook with one cell per ``.qmd`` cell.

        Returns
        -------
        nbformat.NotebookNode
            Code cells carry ``metadata["quarto"]`` (the cell options) and the tags.

        Examples
        --------
        >>> nb = parse_qmd("```{python}\n#| echo: true\n1 + 1\n```\n").to_notebook()
        >>> nb.cells[0].cell_type, nb.cells[0].metadata["quarto"]
        ('code', {'echo': True})
        """
        import nbformat

        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {
            "name": str(self.front_matter.get("jupyter") or "python3"),
            "language": "python",
            "display_name": "Python 3",
        }
        nb.metadata["language_info"] = {"name": "python"}
        for cell in self.cells:
            if cell.kind == "code":
                nb_cell = nbformat.v4.new_code_cell(cell.source)
                nb_cell.metadata.update(cell.metadata)
                nb_cell.metadata["quarto"] = dict(cell.options)
                nb_cell.metadata["qmd_line"] = cell.line
            else:
                nb_cell = nbformat.v4.new_markdown_cell(cell.source)
            nb.cells.append(nb_cell)
        return nb


def _parse_options(lines: list[str], line_no: int, source: str) -> tuple[dict, dict]:
    option_lines = []
    for text in lines:
        m = _OPTION_LINE.match(text)
        if not m:
            break
        option_lines.append(m.group(1))
    if not option_lines:
        return {}, {}
    try:
        parsed = yaml.safe_load("\n".join(option_lines)) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"cell options at line {line_no} are not valid YAML: {exc}", source=source
        ) from exc
    if not isinstance(parsed, dict):
        raise ConfigError(
            f"cell options at line {line_no} must be 'key: value' lines", source=source
        )
    options = {k: v for k, v in parsed.items() if k in CELL_OPTION_KEYS}
    metadata = {k: v for k, v in parsed.items() if k not in CELL_OPTION_KEYS}
    return options, metadata


def parse_qmd(text: str, *, source: str = "<qmd>") -> QmdDocument:
    r"""Parse the text of a Quarto document into front matter and cells.

    Parameters
    ----------
    text
        The ``.qmd`` text.
    source
        A name for error messages (the file path).

    Returns
    -------
    QmdDocument

    Raises
    ------
    ConfigError
        The front matter or a cell's ``#|`` options are not valid YAML, or a code fence is
        never closed.

    Examples
    --------
    >>> doc = parse_qmd("# Title\n\n```{python}\n#| label: fig-a\n#| fig-cap: A\nx\n```\nEnd\n")
    >>> [(c.kind, c.options) for c in doc.cells]
    [('markdown', {}), ('code', {'label': 'fig-a', 'fig-cap': 'A'}), ('markdown', {})]
    """
    front_matter: dict[str, Any] = {}
    offset_lines = 0
    m = _FRONT_MATTER.match(text)
    if m:
        try:
            front_matter = yaml.safe_load(m.group(1)) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"the YAML front matter is invalid: {exc}", source=source) from exc
        if not isinstance(front_matter, dict):
            raise ConfigError("the YAML front matter must be a mapping", source=source)
        offset_lines = text[: m.end()].count("\n")
        text = text[m.end() :]
    lines = text.splitlines()
    cells: list[QmdCell] = []
    markdown: list[str] = []
    markdown_start = offset_lines + 1

    def flush_markdown() -> None:
        body = "\n".join(markdown).strip("\n")
        if body.strip():
            cells.append(QmdCell("markdown", body, line=markdown_start))
        markdown.clear()

    i = 0
    while i < len(lines):
        start = _CODE_START.match(lines[i])
        if not start:
            if not markdown:
                markdown_start = offset_lines + i + 1
            markdown.append(lines[i])
            i += 1
            continue
        indent, ticks = start.group(1), start.group(2)
        end = re.compile(rf"^{re.escape(indent)}{ticks}\s*$")
        j = i + 1
        while j < len(lines) and not end.match(lines[j]):
            j += 1
        if j == len(lines):
            raise ConfigError(
                f"the code cell opened at line {offset_lines + i + 1} is never closed",
                source=source,
            )
        flush_markdown()
        body = [
            line[len(indent) :] if line.startswith(indent) else line for line in lines[i + 1 : j]
        ]
        options, metadata = _parse_options(body, offset_lines + i + 1, source)
        cells.append(QmdCell("code", "\n".join(body), options, metadata, line=offset_lines + i + 1))
        i = j + 1
    flush_markdown()
    return QmdDocument(front_matter, cells)


def read_qmd(path: str | Path) -> QmdDocument:
    r"""Read and parse a ``.qmd`` file.

    Parameters
    ----------
    path
        The template file.

    Returns
    -------
    QmdDocument

    Raises
    ------
    ConfigError
        The file does not exist, or it does not parse (see :func:`parse_qmd`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.qmd"
    >>> _ = path.write_text("---\ntitle: T\n---\nHello\n", encoding="utf-8")
    >>> read_qmd(path).front_matter
    {'title': 'T'}
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"report template {path} does not exist")
    doc = parse_qmd(path.read_text(encoding="utf-8"), source=str(path))
    doc.path = path
    return doc


def _plain(value: Any, name: str) -> Any:
    """Check that a parameter value is JSON-like; dates and paths become strings (as in Quarto)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"parameter {name!r} is {value!r}; only finite numbers can be passed")
        return value
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _plain(value.item(), name)
    if isinstance(value, (list, tuple)):
        return [_plain(v, name) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v, name) for k, v in value.items()}
    raise ConfigError(
        f"parameter {name!r} has type {type(value).__name__}; parameters must be str, int, "
        "float, bool, None, lists or dicts of these (pass dates as ISO strings)"
    )


def format_parameters(params: dict[str, Any]) -> str:
    r"""Write parameters as the Python source of papermill's injected-parameters cell.

    Parameters
    ----------
    params
        Names (Python identifiers) and JSON-like values; dates and paths become strings.

    Returns
    -------
    str
        ``"# Injected Parameters\nname = value\n..."``.

    Raises
    ------
    ConfigError
        A name is not an identifier, or a value is not JSON-like.

    Examples
    --------
    >>> print(format_parameters({"site": "North", "n": 3, "flags": [True, None]}))
    # Injected Parameters
    site = 'North'
    n = 3
    flags = [True, None]
    """
    lines = ["# Injected Parameters"]
    for name, value in params.items():
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise ConfigError(f"parameter name {name!r} is not a valid Python identifier")
        plain = _plain(value, name)
        # json round trip proves the value is JSON-like; repr gives the Python literal
        json.dumps(plain)
        lines.append(f"{name} = {plain!r}")
    return "\n".join(lines)


def inject_parameters(nb: Any, params: dict[str, Any]) -> int | None:
    r"""Insert the injected-parameters cell after the notebook's ``parameters`` cell.

    As in Quarto (``nb_parameterize``), the new cell is tagged ``injected-parameters`` and copies
    the parameters cell's options except ``label``. Without a ``parameters`` cell nothing is
    injected (Quarto ignores ``-P`` then too).

    Parameters
    ----------
    nb
        An ``nbformat`` notebook built by :meth:`QmdDocument.to_notebook`.
    params
        The values to inject.

    Returns
    -------
    int or None
        The index of the inserted cell, or None when the notebook has no parameters cell.

    Examples
    --------
    >>> nb = parse_qmd("```{python}\n#| tags: [parameters]\nx = 1\n```\n").to_notebook()
    >>> inject_parameters(nb, {"x": 2})
    1
    >>> nb.cells[1].source
    '# Injected Parameters\nx = 2'
    """
    import nbformat

    source = format_parameters(params)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "parameters" in (cell.metadata.get("tags") or []):
            new = nbformat.v4.new_code_cell(source)
            options = {k: v for k, v in cell.metadata.get("quarto", {}).items() if k != "label"}
            new.metadata["quarto"] = options
            new.metadata["tags"] = ["injected-parameters"]
            new.metadata["qmd_line"] = cell.metadata.get("qmd_line")
            nb.cells.insert(i + 1, new)
            return i + 1
    return None
