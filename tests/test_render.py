"""Report renderer: Quarto-free rendering of .qmd templates to HTML, PDF (Typst) and DOCX.

Rendering runs a real python3 Jupyter kernel, Pandoc (pypandoc-binary) and Typst (typst wheel);
the three-format render is done once per module. The Quarto path is tested through its command
line (Quarto is not installed here): ``shutil.which`` and ``subprocess.run`` are replaced.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml

from coacheval.errors import ConfigError
from coacheval.reports import (
    RenderResult,
    ReportRenderError,
    notebook_markdown,
    parse_qmd,
    quarto_command,
    render,
)
from coacheval.reports.qmd import format_parameters, inject_parameters

DATA = Path(__file__).parent / "data" / "render"
RENDER = sys.modules["coacheval.reports.render"]
SITE = "Northfield Clinic"
ALT = "A line falling from 1.0 to 0.7 over four quarters"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[RenderResult, Path]:
    base = tmp_path_factory.mktemp("render")
    result = render(
        DATA / "tiny.qmd",
        base / "results.json",
        formats=("html", "pdf", "docx"),
        out=base / "out",
        params={"site": SITE},
        engine="builtin",
    )
    return result, base


def test_result_lists_outputs_engine_timings_and_provenance(rendered):
    result, base = rendered
    assert result.engine == "builtin"
    assert set(result.outputs) == {"html", "pdf", "docx"}
    assert all(p.parent == base / "out" and p.stat().st_size > 0 for p in result.outputs.values())
    for step in ("parse", "kernel_start", "execute", "pandoc_html", "pandoc_typst", "total"):
        assert result.timings[step] >= 0
    assert result.timings["total"] >= result.timings["execute"] > 0
    assert result.params["engine"] == "builtin"
    assert result.params["results"] == str((base / "results.json").resolve())
    assert dt.datetime.fromisoformat(result.params["rendered_at"]).tzinfo is not None
    # the temporary render folder is gone and only the reports are in `out`
    assert sorted(p.name for p in base.iterdir()) == ["out"]
    assert sorted(p.name for p in (base / "out").iterdir()) == [
        "tiny.docx",
        "tiny.html",
        "tiny.pdf",
    ]


def test_html_is_self_contained_with_parameter_table_and_figure(rendered):
    html = rendered[0].outputs["html"].read_text(encoding="utf-8")
    assert f"Site: {SITE}" in html and "Engine: builtin" in html
    assert "The inline value is NORTHFIELD CLINIC." in html
    # cross-references are numbered links, captions carry the numbers (as in Quarto)
    assert '<a href="#fig-line">Figure\u00a01</a>' in html
    assert '<a href="#tbl-counts">Table\u00a01</a>' in html
    assert (
        "<caption>Table 1: Leaders by group</caption>" in html
        and "<td" in html
        and "comparison" in html
    )
    imgs = re.findall(r"<img[^>]*>", html)
    assert len(imgs) == 1
    assert 'src="data:image/png;base64,' in imgs[0] and f'alt="{ALT}"' in imgs[0]
    png = base64.b64decode(re.search(r"base64,([^\"]+)", imgs[0]).group(1))
    assert png.startswith(b"\x89PNG")
    assert '<figure id="fig-line">' in html
    assert "<figcaption>Figure 1: Retention over time</figcaption>" in html
    # nothing fetched from outside: no external scripts, stylesheets or images
    assert "<script src=" not in html
    assert not re.search(r"<link[^>]+href=\"?https?:", html)
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    # only results: no code, no cell options, no tracebacks
    for leaked in ("{python}", "#|", "import matplotlib", "Traceback", "Injected Parameters"):
        assert leaked not in html


def test_pdf_has_one_page_with_the_parameter(rendered):
    pdf = rendered[0].outputs["pdf"].read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf)) == 1
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", str(rendered[0].outputs["pdf"]), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert f"Site: {SITE}" in text and "Table 1: Leaders by group" in text
        assert "Figure 1: Retention over time" in text and "Traceback" not in text
        assert re.search(r"See Figure\s+1 and Table\s+1", text)


def test_docx_contains_text_table_and_figure_alt(rendered):
    with zipfile.ZipFile(rendered[0].outputs["docx"]) as z:
        xml = z.read("word/document.xml").decode("utf-8")
        media = [n for n in z.namelist() if n.startswith("word/media/")]
    assert f"Site: {SITE}" in xml and "comparison" in xml and "Table 1: Leaders by group" in xml
    assert "Figure\u00a01" in xml and "Figure 1: Retention over time" in xml
    assert f'descr="{ALT}"' in xml
    assert len(media) == 1


def test_failing_cell_names_the_cell_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)  # engine auto -> builtin
    out = tmp_path / "out"
    out.mkdir()
    stale = out / "failing.html"
    stale.write_text("previous report", encoding="utf-8")
    with pytest.raises(ReportRenderError, match=r"cell 'compute-kpis' \(line 12\)") as info:
        render(DATA / "failing.qmd", tmp_path, formats=("html", "docx"), out=out)
    assert "ZeroDivisionError" in str(info.value) and info.value.step == "execute"
    assert sorted(p.name for p in out.iterdir()) == ["failing.html"]
    assert stale.read_text(encoding="utf-8") == "previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folder left


def test_late_failure_in_one_format_leaves_no_other_format(tmp_path):
    template = tmp_path / "tpl" / "bad_typst.qmd"
    template.parent.mkdir()
    template.write_text(
        "---\ntitle: T\n---\n\nText.\n\n```{=typst}\n#this-function-does-not-exist()\n```\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    with pytest.raises(ReportRenderError, match="typst") as info:
        render(template, tmp_path, formats=("html", "pdf"), out=out, engine="builtin")
    assert info.value.step == "typst"
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tpl"]


def test_quarto_command_line(tmp_path, monkeypatch):
    calls, copies = [], []

    def fake_run(cmd, cwd, **kwargs):
        calls.append((list(cmd), Path(cwd)))
        copies.append((Path(cwd) / "tiny.qmd").read_bytes())
        target = Path(cwd) / cmd[cmd.index("--output") + 1]
        target.write_text(f"rendered by {cmd[0]}", encoding="utf-8")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: "/opt/quarto/bin/quarto")
    monkeypatch.setattr(subprocess, "run", fake_run)
    params = {"site": SITE, "n": 3, "flag": "yes", "period": "2025-01-01", "ids": [1, 2]}
    result = render(
        DATA / "tiny.qmd",
        tmp_path / "res",
        formats=("html", "pdf", "docx"),
        out=tmp_path / "out",
        params=params,
    )
    assert result.engine == "quarto" and result.params["engine"] == "quarto"
    assert [c[0][4] for c in calls] == ["html", "typst", "docx"]
    cmd, cwd = calls[1]
    assert cmd[:3] == ["/opt/quarto/bin/quarto", "render", str(cwd / "tiny.qmd")]
    assert cwd != DATA and copies == [(DATA / "tiny.qmd").read_bytes()] * 3
    assert cmd[3:7] == ["--to", "typst", "--output", "tiny.pdf"]
    assert "embed-resources:true" in calls[0][0] and "embed-resources:true" not in cmd
    pairs = [cmd[i + 1] for i, a in enumerate(cmd) if a == "-P"]
    assert pairs[:5] == [
        f"site:{SITE}",
        "n:3",
        'flag:"yes"',
        'period:"2025-01-01"',
        "ids:[1, 2]",
    ]
    assert pairs[5] == f"results:{(tmp_path / 'res').resolve()}" and pairs[6] == "engine:quarto"
    # Quarto splits at the first ':' and reads the value as YAML: every value comes back intact
    parsed = {p.split(":", 1)[0]: yaml.safe_load(p.split(":", 1)[1]) for p in pairs}
    assert {k: parsed[k] for k in params} == params
    assert parsed["rendered_at"] == result.params["rendered_at"]
    assert sorted(p.name for p in result.outputs.values()) == ["tiny.docx", "tiny.html", "tiny.pdf"]
    assert result.outputs["pdf"].read_text(encoding="utf-8") == "rendered by /opt/quarto/bin/quarto"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_quarto_engine_requires_quarto_and_options_are_checked(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    tpl = DATA / "tiny.qmd"
    with pytest.raises(ConfigError, match="not on the PATH"):
        render(tpl, tmp_path, out=tmp_path / "o", engine="quarto")
    with pytest.raises(ConfigError, match="unknown report format 'rtf'"):
        render(tpl, tmp_path, formats=("rtf",), out=tmp_path / "o")
    with pytest.raises(ConfigError, match="set by render"):
        render(tpl, tmp_path, out=tmp_path / "o", params={"engine": "x"})
    with pytest.raises(ConfigError, match="parameter 'when' has type"):
        render(tpl, tmp_path, out=tmp_path / "o", params={"when": object()})
    with pytest.raises(ConfigError, match="does not exist"):
        render(tmp_path / "missing.qmd", tmp_path, out=tmp_path / "o")
    assert quarto_command("a/r.qmd", "typst", {})[3:] == ["--to", "typst", "--output", "r.pdf"]
    assert not (tmp_path / "o").exists()


def test_parser_cells_options_and_parameter_injection():
    doc = parse_qmd(
        "---\ntitle: T\n---\nIntro\n\n"
        "```{python}\n#| label: params\n#| echo: true\n#| tags: [parameters]\nx = 1\n```\n\n"
        "```python\nnot a cell\n```\n\n"
        "  ````{python}\n  #| fig-cap: 'A: b'\n  y = 2\n  ````\n"
    )
    assert [c.kind for c in doc.cells] == ["markdown", "code", "markdown", "code"]
    params = doc.cells[1]
    assert params.options == {"label": "params", "echo": True}
    assert params.metadata == {"tags": ["parameters"]} and params.code == "x = 1"
    assert params.line == 6 and "not a cell" in doc.cells[2].source
    assert doc.cells[3].options == {"fig-cap": "A: b"} and doc.cells[3].code == "y = 2"
    nb = doc.to_notebook()
    assert inject_parameters(nb, {"x": 5, "name": "a'b"}) == 2
    injected = nb.cells[2]
    assert injected.metadata["tags"] == ["injected-parameters"]
    assert injected.metadata["quarto"] == {"echo": True}  # label is not copied
    namespace: dict = {}
    exec(injected.source, namespace)
    assert namespace["x"] == 5 and namespace["name"] == "a'b"
    assert inject_parameters(parse_qmd("```{python}\n1\n```\n").to_notebook(), {"x": 1}) is None
    with pytest.raises(ConfigError, match="never closed"):
        parse_qmd("```{python}\nx = 1\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_qmd("```{python}\n#| echo: [\nx\n```\n")
    with pytest.raises(ConfigError, match="valid Python identifier"):
        format_parameters({"not valid": 1})
    assert format_parameters({"d": dt.date(2025, 1, 2)}).endswith("d = '2025-01-02'")


def _cell(source: str, outputs: list, **options) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["quarto"] = options
    cell.outputs = outputs
    return cell


def test_outputs_to_markdown_follow_cell_options(tmp_path):
    out = nbformat.v4.new_output
    png = base64.b64encode(b"\x89PNG fake").decode()
    html_table = (
        "<div><style scoped>.x {}</style><table><thead><tr><th>a</th></tr></thead>"
        "<tbody><tr><td>7</td></tr></tbody></table></div>"
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell("secret = 1", [out("stream", name="stdout", text="shown\n")]),
        _cell("print('x')", [out("stream", name="stdout", text="**bold**\n")], output="asis"),
        _cell("import warnings", [out("stream", name="stderr", text="noise\n")], warning=False),
        _cell("hidden()", [out("stream", name="stdout", text="invisible\n")], include=False),
        _cell("visible_code = 2", [], echo=True),
        _cell(
            "plt.plot()",
            [
                out("execute_result", data={"text/plain": "[<matplotlib.lines.Line2D>]"}),
                out("display_data", data={"image/png": png, "text/plain": "<Figure>"}),
            ],
            label="fig-a",
            **{"fig-cap": "Cap [1]", "fig-alt": 'Alt "q"'},
        ),
        nbformat.v4.new_markdown_cell("As @fig-a shows ([@fig-a]); @fig-none; a@fig-a.org"),
        _cell("df", [out("execute_result", data={"text/html": html_table, "text/plain": "df"})]),
        _cell(
            "1/0", [out("error", ename="ZeroDivisionError", evalue="x", traceback=["\x1b[31mTB"])]
        ),
    ]
    md = notebook_markdown(
        nb,
        "html",
        {"title": "T"},
        tmp_path / "r_files",
        tmp_path / "r.qmd",
        dt.datetime(2025, 1, 1),
    )
    assert md.startswith("---\ntitle: T\n---\n")
    assert "```\nshown\n```" in md and "secret" not in md
    assert "\n**bold**\n" in md and "noise" not in md and "invisible" not in md
    assert "```python\nvisible_code = 2\n```" in md
    assert "![Figure 1: Cap \\[1\\]](r_files/figure/fig-a-1.png){#fig-a alt=\"Alt 'q'\"}" in md
    assert (tmp_path / "r_files" / "figure" / "fig-a-1.png").read_bytes() == b"\x89PNG fake"
    assert "Line2D" not in md and "<Figure>" not in md
    assert re.search(r"^\s*a\n\s*-{3,}\n\s*7$", md, re.M)  # a native table, not raw HTML
    assert "<table" not in md and "<style" not in md
    assert "TB" in md and "\x1b" not in md
    assert (
        "As [Figure\u00a01](#fig-a) shows ([Figure\u00a01](#fig-a)); ?\\@fig-none; a@fig-a.org"
        in md
    )
    typst_md = notebook_markdown(
        nb, "pdf", {}, tmp_path / "r_files", tmp_path / "r.qmd", dt.datetime(2025, 1, 1)
    )
    assert "pagetitle: r" in typst_md
    assert (
        '#figure(image("r_files/figure/fig-a-1.png", alt: "Alt \\"q\\"", width: 100%), '
        "caption: [Cap \\[1\\]]) <fig-a>"
    ) in typst_md
    assert "As `@fig-a`{=typst} shows (`@fig-a`{=typst})" in typst_md


def test_shipped_templates_are_found_by_name():
    from coacheval.reports import report_templates
    from coacheval.reports.render import _template_path

    shipped = report_templates()
    assert set(shipped) == {"executive", "quarterly", "technical"}
    assert all(path.is_file() for path in shipped.values())
    assert _template_path("technical") == shipped["technical"]


def test_unknown_template_name_is_a_clear_error(tmp_path):
    from coacheval.errors import ConfigError
    from coacheval.reports import render

    with pytest.raises(ConfigError, match=r"unknown report template 'exec'.*executive"):
        render("exec", tmp_path, out=tmp_path / "out")


def test_html_formulas_are_mathml_without_scripts(tmp_path):
    from coacheval.reports import render

    (tmp_path / "m.qmd").write_text(
        "---\ntitle: M\n---\n\nThe hazard ratio is $\\exp(\\hat\\beta_1)$.\n", encoding="utf-8"
    )
    render(tmp_path / "m.qmd", tmp_path, out=tmp_path / "out", engine="builtin")
    html = (tmp_path / "out" / "m.html").read_text(encoding="utf-8")
    assert "<math" in html and "β" in html
    assert "mathjax" not in html.lower() and "katex" not in html.lower()
