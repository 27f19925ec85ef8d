"""The methods appendix (coacheval.methods): complete, true to the tests, and in every report format.

The appendix states, for each estimator, the tolerance of its reference comparison and the
largest difference observed. These tests keep it from drifting away from the test suite:

* every entry has every field, and every ``used_by`` name imports;
* every check names a test file that exists, and its ``anchor`` (by default the tolerance)
  appears literally in that file;
* every number in scientific notation or percent given as ``observed``, and every three-decimal
  number in a simulation text, appears in the test file (or docs/calibration.md) it comes from;
* every public function of the estimator modules is implemented by some entry, exclusions stated;
* the Markdown holds every title, and its math converts without a Pandoc warning to HTML (plain,
  as the report renderer writes it), Typst and Word, and parses as MyST ``dollarmath``;
* the technical report, rendered by the built-in engine to HTML, PDF and DOCX from a small
  simulated evaluation, carries the appendix with the entries that evaluation used.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

import coacheval
from coacheval.errors import ConfigError
from coacheval.methods import Check, load_methods, methods_for_results, methods_markdown

ROOT = Path(__file__).resolve().parents[1]
METHODS = load_methods()
BY_ID = {m.id: m for m in METHODS}

# Packages whose public functions are estimators (or build the data an estimator needs).
ESTIMATOR_PACKAGES = (
    "coacheval.retention",
    "coacheval.effects",
    "coacheval.measures",
    "coacheval.quality",
    "coacheval.evidence.certainty",
    "coacheval.design",
)
# Public functions of those packages that are not estimators, and why.
EXCLUDED = {
    "coacheval.measures.instruments.load_instrument": "reads an instrument definition",
    "coacheval.measures.instruments.load_instruments": "reads instrument definitions",
}


def test_ids_are_unique_snake_case_and_every_field_is_filled():
    assert len(BY_ID) == len(METHODS) >= 30
    for m in METHODS:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", m.id), m.id
        for name in ("title", "estimand", "method"):
            assert getattr(m, name).strip(), (m.id, name)
        for name in ("assumptions", "checked_against", "references", "used_by"):
            items = getattr(m, name)
            assert items and all(items), (m.id, name)
        for check in m.checked_against:
            for name in ("reference", "test_file", "tolerance", "observed", "anchor"):
                assert getattr(check, name).strip(), (m.id, name)
        assert m.simulation is None or m.simulation.strip()


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.id)
def test_used_by_names_import(method):
    for name in method.used_by:
        module, _, attribute = name.rpartition(".")
        assert callable(getattr(importlib.import_module(module), attribute)), name


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.id)
def test_checks_name_existing_tests_and_quote_their_tolerance(method):
    for check in method.checked_against:
        path = ROOT / check.test_file
        assert check.test_file.startswith("tests/") and path.is_file(), check.test_file
        text = path.read_text(encoding="utf-8")
        assert check.anchor in text, (method.id, check.test_file, check.anchor)


def _sources(check_or_text: str, default: Path) -> str:
    """The text of the default file plus every tests/*.py or docs/*.md file a text names."""
    files = {default}
    files |= {ROOT / f for f in re.findall(r"(tests/test_\w+\.py|docs/\w+\.md)", check_or_text)}
    return "\n".join(f.read_text(encoding="utf-8") for f in files if f.is_file())


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.id)
def test_observed_figures_are_those_the_tests_record(method):
    for check in method.checked_against:
        source = _sources(check.observed, ROOT / check.test_file)
        for figure in re.findall(r"\d+(?:\.\d+)?e-\d+|\d+(?:\.\d+)?%", check.observed):
            assert figure in source, (method.id, check.test_file, figure)


@pytest.mark.parametrize("method", [m for m in METHODS if m.simulation], ids=lambda m: m.id)
def test_simulation_figures_are_those_of_their_sources(method):
    source = _sources(method.simulation, ROOT / "docs" / "calibration.md")
    source += "\n".join(
        (ROOT / c.test_file).read_text(encoding="utf-8") for c in method.checked_against
    )
    for figure in re.findall(r"[+-]?\d+\.\d{3}\b", method.simulation):
        assert figure in source, (method.id, figure)


def _public_functions() -> dict[str, object]:
    found = {}
    for package in ESTIMATOR_PACKAGES:
        try:
            root = importlib.import_module(package)
        except ImportError:  # pragma: no cover - a package not written yet
            continue
        modules = [root]
        if hasattr(root, "__path__"):
            modules += [
                importlib.import_module(info.name)
                for info in pkgutil.iter_modules(root.__path__, prefix=f"{package}.")
                if not info.name.rpartition(".")[2].startswith("_")
            ]
        for module in modules:
            names = getattr(module, "__all__", None)
            for name, obj in vars(module).items():
                if name.startswith("_") or not inspect.isfunction(obj):
                    continue
                if obj.__module__ != module.__name__ or (names is not None and name not in names):
                    continue
                found[f"{module.__name__}.{name}"] = obj
    return found


def test_every_public_estimator_is_in_the_appendix():
    covered = {name for m in METHODS for name in m.used_by}
    public = _public_functions()
    assert len(public) > 80
    missing = sorted(set(public) - covered - set(EXCLUDED))
    assert not missing, f"public functions no appendix entry implements: {missing}"
    assert set(EXCLUDED) <= set(public)  # exclusions name real functions


def test_markdown_holds_every_title_at_the_asked_level():
    text = methods_markdown()
    for m in METHODS:
        assert f"\n## {m.title}\n" in f"\n{text}"
    assert text.count("\n## ") + text.startswith("## ") == len(METHODS)
    some = methods_markdown(["rmst", "km"], heading_level=4)
    assert [line for line in some.splitlines() if line.startswith("#")] == [
        "#### Kaplan–Meier survival curves",
        "#### Restricted mean survival time",
    ]  # appendix order, whatever the order asked
    assert methods_markdown("rates").startswith("## Turnover rates")
    for bad in (0, 7, True, 2.0):
        with pytest.raises(ConfigError, match="heading_level"):
            methods_markdown(heading_level=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown method id"):
        methods_markdown(["km", "kaplan"])


def test_check_sentence_and_default_anchor():
    check = Check("R", "tests/test_km_vs_r.py", "rtol 1e-12", "1e-15.")
    assert check.anchor == "rtol 1e-12"
    assert check.markdown() == (
        "Against R. Tolerance: rtol 1e-12. Observed: 1e-15. Test: `tests/test_km_vs_r.py`."
    )


def _pandoc_warnings(markdown: str, to: str, tmp_path: Path) -> str:
    pypandoc = pytest.importorskip("pypandoc")
    source = tmp_path / "appendix.md"
    source.write_text(markdown, encoding="utf-8")
    proc = subprocess.run(
        [
            pypandoc.get_pandoc_path(),
            "-f",
            "markdown",
            "-t",
            to,
            str(source),
            "-o",
            str(tmp_path / f"appendix.{to}"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


@pytest.mark.parametrize("to", ["html5", "typst", "docx"])
def test_every_formula_converts_without_a_pandoc_warning(to, tmp_path):
    text = methods_markdown()
    assert "Could not convert TeX math" not in _pandoc_warnings(text, to, tmp_path)
    if to == "html5":  # no dollar sign left outside math and code
        html = (tmp_path / "appendix.html5").read_text(encoding="utf-8")
        html = re.sub(r'<span\s+class="math (?:inline|display)">.*?</span>', "", html, flags=re.S)
        html = re.sub(r"<code>.*?</code>", "", html, flags=re.S)
        assert "$" not in html and "\\" not in html


def test_markdown_parses_as_myst_dollarmath():
    markdown_it = pytest.importorskip("markdown_it")
    dollarmath = pytest.importorskip("mdit_py_plugins.dollarmath")
    md = markdown_it.MarkdownIt("commonmark").use(dollarmath.dollarmath_plugin)
    tokens = md.parse(methods_markdown())
    kinds: dict[str, int] = {}
    leftover = []
    for token in tokens:
        kinds[token.type] = kinds.get(token.type, 0) + 1
        for child in token.children or ():
            kinds[child.type] = kinds.get(child.type, 0) + 1
            if child.type == "text" and "$" in child.content:
                leftover.append(child.content)
    assert not leftover, leftover[:3]
    assert kinds.get("math_block", 0) + kinds.get("math_block_eqno", 0) == 4
    assert kinds.get("math_inline", 0) > 200


def test_methods_for_results_reads_a_payload_and_refuses_other_things():
    payload = {
        "plan": {"inference": {"wild_bootstrap_below_clusters": 30}},
        "estimates": [
            {"analysis": "survey outcomes", "method": "twfe", "n_clusters": 12, "q_value": None},
            {"analysis": "survey outcomes", "method": "did_dr", "q_value": 0.2},
        ],
        "diagnostics": {"attrition:last wave": {}},
    }
    ids = methods_for_results(payload)
    assert ids == [
        m.id
        for m in METHODS
        if m.id
        in {
            "did_group_time",
            "twfe",
            "ols_sandwich",
            "wild_cluster_bootstrap",
            "bh_qvalues",
            "attrition",
            "scale_scores",
            "table1_smd",
            "evidence_certainty",
        }
    ]
    payload["estimates"][0]["n_clusters"] = 40  # enough clusters: no bootstrap
    assert "wild_cluster_bootstrap" not in methods_for_results(payload)
    assert "randomised_rollout" not in methods_for_results(payload)
    payload["plan"]["design"] = {"type": "randomised_rollout"}
    assert "randomised_rollout" in methods_for_results(payload)
    assert methods_for_results({"estimates": [], "diagnostics": {}}) == []
    with pytest.raises(ConfigError, match="results must be"):
        methods_for_results(42)


# ------------------------------------------------------------------ the technical report ---


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    from coacheval.evaluate.plan import load_plan
    from coacheval.evaluate.run import evaluate
    from coacheval.io.pseudonymise import PseudonymKey
    from coacheval.io.study import load_study
    from coacheval.simulate import simulate_health_system

    folder = tmp_path_factory.mktemp("methods")
    simulate_health_system(seed=3, n_leaders=200).write(folder / "extracts")
    study = load_study(folder / "extracts", key=PseudonymKey(b"m" * 32))
    plan = load_plan("default")  # one secondary survey analysis keeps this fast
    plan = plan.model_copy(
        update={"methods": plan.methods.model_copy(update={"secondary": ("twfe",)})}
    )
    result = evaluate(study, plan)
    result.write(folder / "evaluation")
    return result, folder / "evaluation"


def test_methods_for_results_agrees_across_the_forms_of_an_evaluation(evaluation):
    from coacheval.reports.results import load_results

    result, folder = evaluation
    from_folder = methods_for_results(folder)
    assert from_folder == methods_for_results(folder / "results.json")
    assert from_folder == methods_for_results(load_results(folder))
    assert {"cox_time_varying", "did_group_time", "rates", "evidence_certainty"} <= set(from_folder)
    # the Evaluation object knows no measures folder, and nothing else differs
    assert set(methods_for_results(result)) <= set(from_folder)
    assert "did_group_time" in methods_for_results(result)


def test_technical_report_carries_the_appendix_in_every_format(evaluation, tmp_path):
    pytest.importorskip("nbclient")
    from coacheval._resources import resource_dir
    from coacheval.reports import render

    _, folder = evaluation
    res = render(
        resource_dir("reports") / "technical.qmd",
        folder,
        formats=("html", "pdf", "docx"),
        out=tmp_path,
        engine="builtin",
    )
    used = [BY_ID[i] for i in methods_for_results(folder)]
    html = res.outputs["html"].read_text(encoding="utf-8")
    assert ">Methods appendix<" in html
    appendix = " ".join(html[html.index(">Methods appendix<") :].split())
    assert len(used) >= 15
    for m in used:
        assert m.title.replace("&", "&amp;").replace("'", "’") in appendix, m.id
    assert '<math display="block"' in appendix and "Could not convert" not in appendix
    with zipfile.ZipFile(res.outputs["docx"]) as docx:
        xml = docx.read("word/document.xml").decode("utf-8")
    assert "Methods appendix" in xml and "<m:oMathPara>" in xml
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", str(res.outputs["pdf"]), "-"], capture_output=True, text=True
        ).stdout
        assert "Methods appendix" in text
        assert "Cox proportional hazards model with time-varying enrolment" in text


def test_the_appendix_file_is_package_data():
    from importlib import resources

    assert resources.files("coacheval.methods").joinpath("methods.yaml").is_file()
    assert Path(coacheval.__file__).parent.joinpath("methods", "methods.yaml").is_file()
