"""The report templates (reports/*.qmd) rendered by the built-in engine on a small evaluation.

One 300-leader system is simulated, validated into a study, evaluated with the default plan
and written once; each template is then rendered and its output checked against the files the
evaluation wrote: the key numbers equal estimates.csv formatted as the loader formats them,
every image carries non-empty alt text, and no code, traceback or error reaches the report.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib

import pandas as pd
import pytest

from coacheval._resources import resource_dir
from coacheval.evaluate.plan import load_plan
from coacheval.evaluate.run import evaluate
from coacheval.io.pseudonymise import PseudonymKey
from coacheval.io.study import load_study
from coacheval.reports import render
from coacheval.reports.results import fmt_interval, fmt_money, fmt_number, load_results
from coacheval.simulate import simulate_health_system

pytest.importorskip("nbclient")
pytest.importorskip("pypandoc")

TEMPLATES = ("executive", "quarterly", "technical")


@pytest.fixture(scope="module")
def results_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reports")
    system = simulate_health_system(seed=7, n_leaders=300)
    system.write(folder / "extracts")
    study = load_study(folder / "extracts", key=PseudonymKey(b"r" * 32))
    evaluate(study, load_plan("default")).write(folder / "evaluation")
    return folder / "evaluation"


@pytest.fixture(scope="module")
def rendered(results_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("rendered")
    files, times = {}, {}
    for name in TEMPLATES:
        formats = ("html", "pdf", "docx")
        res = render(
            resource_dir("reports") / f"{name}.qmd",
            results_folder,
            formats=formats,
            out=out,
            params={"period": "", "site": "Test site", "audience": "tests"},
            engine="builtin",
        )
        files.update({f"{name}.{fmt}": path for fmt, path in res.outputs.items()})
        times[name] = res.timings["total"]
    return files, times


def _html(rendered, name):
    return rendered[0][f"{name}.html"].read_text(encoding="utf-8")


def _text(html):
    html = re.sub(r"<img[^>]*>", " ", html)
    html = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&amp;", "&")


def test_every_template_is_packaged_and_has_a_parameters_cell():
    folder = resource_dir("reports")
    for name in TEMPLATES:
        text = (folder / f"{name}.qmd").read_text(encoding="utf-8")
        assert "#| tags: [parameters]" in text
        for param in ("results", "period", "site", "audience"):
            assert re.search(rf"^{param} = ", text, re.M), (name, param)
    assert (folder / "_quarto.yml").is_file()
    assert "Quarto subset" in (folder / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", TEMPLATES)
def test_no_code_errors_or_missing_alt_text(rendered, name):
    html = _html(rendered, name)
    text = _text(html)
    assert "Traceback" not in text
    assert not re.search(r"\bError\b", text)
    assert "sourceCode" not in html and "import " not in text and "bundle." not in text
    images = re.findall(r"<img\b[^>]*>", html)
    for img in images:
        alt = re.search(r'(?<![-\w])alt="([^"]*)"', img)
        assert alt and alt.group(1).strip(), img[:200]
    if name != "executive":
        assert images
    assert "coacheval" in text and "sha256" in text and "builtin" in text  # provenance


def test_executive_summary_numbers_headings_and_length(rendered, results_folder):
    text = _text(_html(rendered, "executive"))
    e = pd.read_csv(results_folder / "estimates.csv")
    for heading in (
        "The answer",
        "The numbers that matter",
        "How certain is this?",
        "Cost and return",
        "What would make the evidence stronger",
        "Provenance",
    ):
        assert heading in text
    engagement = e[
        (e.method == "did_dr") & (e.outcome == "work_engagement") & (e.term == "ATT (overall)")
    ].iloc[0]
    assert fmt_number(engagement.estimate, 2) in text
    assert fmt_interval(engagement.conf_low, engagement.conf_high, 2) in text
    hr = e[(e.method == "cox_tv") & (e.outcome == "voluntary turnover")].iloc[0]
    assert f"| {fmt_number(hr.estimate, 2)} |" not in text  # HTML, not a raw pipe table
    assert fmt_interval(hr.conf_low, hr.conf_high, 2) in text
    nb = e[(e.analysis == "economics") & (e.term == "net_benefit")].iloc[0]
    assert fmt_money(nb.estimate) in text
    assert f"{fmt_money(nb.conf_low)} to {fmt_money(nb.conf_high)}" in text
    bundle = load_results(results_folder)
    if bundle.break_even():
        assert bundle.break_even() in text
    for level in bundle.certainty.table.level:
        assert level in text
    pdf = rendered[0]["executive.pdf"]
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
        pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    else:
        raw = pdf.read_bytes()
        pages = len(re.findall(rb"/Type\s*/Page(?!s)", raw))
        for stream in re.findall(rb"stream\r?\n(.*?)endstream", raw, re.S):
            try:
                pages += len(re.findall(rb"/Type\s*/Page(?!s)", zlib.decompress(stream)))
            except zlib.error:
                pass
    assert 1 <= pages <= 2
    # The Word version carries the same numbers (PDF text is checked where pdftotext exists).
    import zipfile

    with zipfile.ZipFile(rendered[0]["executive.docx"]) as docx:
        words = re.sub(r"<[^>]+>", "", docx.read("word/document.xml").decode("utf-8"))
    words = words.replace("&amp;", "&")
    for number in (
        fmt_interval(engagement.conf_low, engagement.conf_high, 2),
        fmt_interval(hr.conf_low, hr.conf_high, 2),
        fmt_money(nb.estimate),
    ):
        assert number in words
    if shutil.which("pdftotext"):
        pdf_text = subprocess.run(
            ["pdftotext", str(pdf), "-"], capture_output=True, text=True
        ).stdout
        assert fmt_money(nb.estimate) in pdf_text


def test_quarterly_report_kpis_charts_and_data_quality(rendered, results_folder):
    text = _text(_html(rendered, "quarterly"))
    bundle = load_results(results_folder)
    for heading in (
        "Key performance indicators",
        "Definitions",
        "Control charts",
        "Implementation (RE-AIM)",
        "Data quality",
    ):
        assert heading in text
    kpi = bundle.kpi_frame()
    latest = kpi[kpi.quarter == bundle.quarters()[-1]]
    row = latest[latest.kpi == "voluntary_exits_per_100py"].iloc[0]
    assert bundle.quarters()[-1] in text
    assert fmt_interval(row.conf_low, row.conf_high, 2) in text
    assert kpi.definition.iloc[0] in text
    for _, _, signals in bundle.control_charts():
        for s in signals:
            assert s in text
    # No validation folder beside this evaluation: the report says so instead of failing.
    assert "No validation report" in text


def test_technical_report_sections_and_estimates(rendered, results_folder):
    html = _html(rendered, "technical")
    text = _text(html)
    e = pd.read_csv(results_folder / "estimates.csv")
    for heading in (
        "Design and population",
        "Flow of person-time",
        "Every effect",
        "Certainty of the evidence",
        "Economics",
        "Sensitivity analyses",
        "Methods",
        "Reporting checklist (TREND / SQUIRE 2.0)",
    ):
        assert heading in text
    mi = e[(e.method == "multiple_imputation") & (e.outcome == "burnout")].iloc[0]
    assert fmt_number(mi.estimate, 2) in text
    cox = e[(e.method == "cox_tv") & (e.outcome == "voluntary turnover")].iloc[0]
    assert f"{fmt_number(cox.estimate, 3)}" in text
    assert fmt_interval(cox.conf_low, cox.conf_high, 3) in text
    primary = e[(e.method == "did_dr") & (e.term == "ATT (overall)")]
    for r in primary.itertuples():
        assert f"{fmt_number(r.evalue_point, 2)} / {fmt_number(r.evalue_ci, 2)}" in text
    assert 'alt="Forest plot of' in html
    n_event = sum(name.startswith("event_study_") for name in load_results(results_folder).figures)
    alts = re.findall(r'(?<![-\w])alt="(Event-study plot[^"]*)"', html)
    assert n_event >= 1 and len(alts) == n_event


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_renders_to_pdf_and_docx_with_its_title(rendered, name):
    import zipfile

    files = rendered[0]
    pdf = files[f"{name}.pdf"].read_bytes()
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") + pdf.count(b"/Type/Page") >= 1
    with zipfile.ZipFile(files[f"{name}.docx"]) as docx:
        xml = docx.read("word/document.xml").decode("utf-8")
    # Every image carries its alt text in the DOCX (descr) and the tagged PDF (/Alt).
    images = _html(rendered, name).count("<img")
    descr = re.findall(r'<wp:docPr [^>]*descr="([^"]+)"', xml)
    assert len(descr) == images
    assert pdf.count(b"/Alt") >= images
    html_title = re.search(r"<title>(.*?)</title>", _html(rendered, name), re.S).group(1).strip()
    first_words = html_title.split(":")[0].split()[0]
    assert first_words in xml
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", str(files[f"{name}.pdf"]), "-"], capture_output=True, text=True
        ).stdout
        assert first_words in text and "Traceback" not in text


def test_load_results_reads_alt_text_and_rejects_a_bad_folder(results_folder, tmp_path):
    bundle = load_results(results_folder / "results.json")
    assert bundle.figures and all(f.alt for f in bundle.figures.values())
    assert bundle.validation is None and bundle.measures is None
    from coacheval.errors import DataValidationError

    with pytest.raises(DataValidationError, match=r"results\.json is missing"):
        load_results(tmp_path)
    (tmp_path / "results.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(DataValidationError, match="not valid JSON"):
        load_results(tmp_path)


def _html_table_after(html_text: str, heading: str) -> list[list[str]]:
    """Cells of the first table after the heading whose text starts with ``heading``."""
    import html as html_lib

    for m in re.finditer(r"<h[1-4][^>]*>(.*?)</h[1-4]>", html_text, re.S):
        if re.sub(r"<.*?>|\s+", " ", m.group(1)).strip().startswith(heading):
            table = re.findall(r"<table.*?</table>", html_text[m.end() :], re.S)[0]
            return [
                [
                    html_lib.unescape(re.sub(r"<.*?>", "", c)).strip()
                    for c in re.findall(r"<t[hd].*?</t[hd]>", row, re.S)
                ]
                for row in re.findall(r"<tr.*?</tr>", table, re.S)
            ]
    raise AssertionError(f"no table after a heading {heading!r}")


def test_a_report_shows_no_group_below_the_minimum_directly_or_by_subtraction(tmp_path):
    # A small system: cohorts of 7-9 leaders, so completion and withdrawal counts fall below
    # the plan's minimum reporting size of 5. The rendered quarterly report must not show a
    # hidden count, nor enough of the other counts to recover it from the totals.
    from coacheval.quality.reaim import completion

    system = simulate_health_system(seed=3, n_leaders=90)
    system.write(tmp_path / "extracts")
    study = load_study(tmp_path / "extracts", key=PseudonymKey(b"s" * 32))
    evaluate(study, load_plan("default")).write(tmp_path / "evaluation")
    render(
        resource_dir("reports") / "quarterly.qmd",
        tmp_path / "evaluation",
        formats=("html",),
        out=tmp_path / "reports",
        params={"period": "", "site": "small", "audience": "tests"},
        engine="builtin",
    )
    html_text = (tmp_path / "reports" / "quarterly.html").read_text(encoding="utf-8")
    rows = _html_table_after(html_text, "Completion and withdrawal")
    header, body = rows[0], {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    truth = completion(study, min_cell=1).table.set_index("cohort_id")
    small = [
        (cohort, col)
        for cohort in truth.index
        for col in ("completed", "withdrew")
        if 0 < truth.loc[cohort, col] < 5
    ]
    assert small, "the fixture must contain a small cell"
    for cohort, col in small:
        assert body[cohort][col] == "suppressed"
        # No subtraction: in that row, the complement is hidden too ...
        other = "withdrew" if col == "completed" else "completed"
        assert body[cohort][other] == "suppressed"
        # ... and in that column, the total or another cohort is hidden as well.
        column = [body[c][col] for c in body]
        assert column.count("suppressed") >= 2
    assert "<5" not in html_text and header[0] == "cohort id"


def _randomised_folder(tmp_path, covariates=()):
    """A minimal results folder of a randomised rollout (stepped wedge), written by hand."""
    import json

    label = "randomised rollout (stepped wedge), seed 20261126"
    plan = {
        "design": {"type": "randomised_rollout", "comparison": "not_yet_treated"},
        "covariates": list(covariates),
        "methods": {"primary": "did_dr"},
        "inference": {"level": 0.95, "cluster": "peer_group"},
        "retention": {"target_hazard_ratio": 0.85},
    }
    rollout = {
        "design": "randomised rollout (stepped wedge)",
        "method": "stratified permuted-block randomisation with balanced stratum x cohort counts",
        "seed": 20261126,
        "strata": ["facility_id"],
        "n_units": 32,
        "n_cohorts": 3,
        "randomised_date": "2022-05-02",
        "label": label,
    }
    payload = {"plan": plan, "provenance": {"seed": 20260101, "rollout": rollout}, "notes": []}
    (tmp_path / "results.json").write_text(json.dumps(payload), encoding="utf-8")
    rows = [
        ("survey outcomes", "job_satisfaction", "did_dr", "ATT (overall)", 0.264, -0.115, 0.644),
        ("retention", "voluntary turnover", "cox_tv", "exposed", 1.067, 0.164, 6.944),
        ("spillover", "staff turnover", "negative_binomial", "coached", 0.863, 0.683, 1.091),
    ]
    e = pd.DataFrame(
        rows,
        columns=["analysis", "outcome", "method", "term", "estimate", "conf_low", "conf_high"],
    )
    e["design"] = [f"{label}: started vs not-yet-started", f"{label}; Cox", "negative binomial"]
    e.to_csv(tmp_path / "estimates.csv", index=False)
    return load_results(tmp_path)


def test_a_randomised_rollout_is_described_as_one(tmp_path, results_folder):
    bundle = _randomised_folder(tmp_path)
    satisfaction, turnover = bundle.headline()
    assert satisfaction.startswith(
        "Job satisfaction: inconclusive; leaders whose group had started scored 0.26 points "
        "higher (better) than randomised leaders still waiting to start (1-7 MOAQ-JSS scale;"
    )
    assert "adjustment" not in satisfaction and "participants" not in satisfaction
    assert "more voluntary exits after their group's assigned start (HR 1.07" in turnover
    assert "while enrolled" not in turnover
    design = bundle.design_text()
    assert design.startswith(
        "Design: randomised rollout (stepped wedge), seed 20261126 (stratified permuted-block"
    )
    assert "randomised on 2022-05-02" in design and "no covariate adjustment" in design
    measures = bundle.key_numbers().Measure.tolist()
    assert measures == [
        "Job satisfaction: change in score vs randomised leaders waiting to start",
        "Voluntary turnover: hazard ratio after the group's assigned start",
    ]
    assert "selection-biased" not in bundle.sensitivity_text()
    starts = bundle.certainty.table.set_index("outcome").start
    assert starts.to_dict() == {
        "job_satisfaction": "high",
        "voluntary turnover": "high",
        "staff turnover": "low",  # units with a coached leader were not randomised
    }
    brief = bundle.certainty_table(brief=True).set_index("Finding").Why
    assert brief["Voluntary turnover"].startswith("randomised, starts high;")
    assert brief["Staff turnover"].startswith("not randomised (units with vs without a coached")
    # Covariates in a randomised plan: the survey sentence says it was adjusted.
    adjusted = _randomised_folder(tmp_path, covariates=["tenure"])
    assert "waiting to start, after adjustment (1-7" in adjusted.headline()[0]
    assert "adjusted for tenure" in adjusted.design_text()
    # The volunteer design's report keeps its wording.
    volunteer = load_results(results_folder)
    assert all("waiting to start" not in s for s in volunteer.headline())
    assert any("than comparison leaders, after adjustment" in s for s in volunteer.headline())
    assert volunteer.design_text().startswith("Design: staggered did with")
    assert "naive (selection-biased) comparison" in volunteer.sensitivity_text()


def test_a_volunteer_design_is_told_that_randomising_the_start_would_help(tmp_path, results_folder):
    advice = "Randomising the order in which peer groups start (coacheval rollout"
    assert any(s.startswith(advice) for s in load_results(results_folder).stronger_evidence())
    assert not any(s.startswith(advice) for s in _randomised_folder(tmp_path).stronger_evidence())
