"""The command line: help, version, exit codes, and no traceback for user errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from coacheval import __version__
from coacheval.cli import main


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out = capsys.readouterr()
    return int(exit_info.value.code), out.out + out.err


def test_help_lists_commands_and_exits_zero(capsys):
    code, text = run_cli(["--help"], capsys)
    assert code == 0
    assert "demo" in text and "simulate" in text and "Exit codes" in text


def test_version(capsys):
    code, text = run_cli(["--version"], capsys)
    assert code == 0
    assert text.strip() == f"coacheval {__version__}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "--bogus"], "No such option"),
        (["simulate"], "Missing option '--out'"),
        (["simulate", "--out", "x", "--leaders", "5"], "5 is not in the range"),
        (["frobnicate"], "No such command"),
        ([], "Usage"),
    ],
)
def test_bad_usage_exits_two_without_traceback(args, message, capsys):
    code, text = run_cli(args, capsys)
    assert code == 2
    assert message in text
    assert "Traceback" not in text


@pytest.mark.parametrize(
    ("config_text", "message"),
    [
        ("program:\n  n_cohorts: 0\n", "n_cohorts must be >= 1"),
        ("response_rate: high\n", "response_rate must be a number"),
        ("[not, a, mapping]\n", "must be a mapping"),
    ],
)
def test_bad_config_file_names_the_file_and_exits_two(tmp_path, capsys, config_text, message):
    config = tmp_path / "sim.yaml"
    config.write_text(config_text, encoding="utf-8")
    code, text = run_cli(
        ["simulate", "--out", str(tmp_path / "o"), "--config", str(config)], capsys
    )
    assert code == 2
    assert str(config) in text and message in text
    assert "Traceback" not in text


def test_internal_error_exits_one_with_a_short_message(monkeypatch, tmp_path, capsys):
    import coacheval.simulate

    def broken(*_args, **_kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(coacheval.simulate, "simulate_health_system", broken)
    monkeypatch.delenv("COACHEVAL_DEBUG", raising=False)
    code, text = run_cli(["simulate", "--out", str(tmp_path)], capsys)
    assert code == 1
    assert "Internal error" in text and "simulated bug" in text
    assert "Traceback" not in text


def test_python_dash_m_and_console_script_agree(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "coacheval", "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0
    assert "simulate" in result.stdout


def test_demo_runs_from_any_folder_and_says_what_it_made(tmp_path):
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "coacheval", "demo", "--leaders", "200"],
        capture_output=True,
        text=True,
        cwd=workdir,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    made = workdir / "coacheval-demo" / "extracts"
    expected = {"hr_roster.csv", "survey_responses.csv", "enrolment.csv", "truth.json"}
    assert {"scores.csv", "reliability.csv", "table1.html"} <= {
        p.name for p in (workdir / "coacheval-demo" / "measures").iterdir()
    }
    assert expected <= {p.name for p in made.iterdir()}
    assert "coacheval-demo" in result.stdout and "Terminations, voluntary" in result.stdout
    reports = {p.name for p in (workdir / "coacheval-demo" / "reports").iterdir()}
    assert reports == {
        f"{name}.{fmt}"
        for name in ("executive", "quarterly", "technical")
        for fmt in ("html", "pdf", "docx")
    }
    assert "Rendering took" in result.stdout


def test_report_renders_a_results_folder_and_refuses_unknown_templates(tmp_path, capsys):
    from coacheval.evaluate.plan import load_plan
    from coacheval.evaluate.run import evaluate
    from coacheval.io.pseudonymise import PseudonymKey
    from coacheval.io.study import load_study
    from coacheval.simulate import simulate_health_system

    simulate_health_system(seed=9, n_leaders=200).write(tmp_path / "extracts")
    study = load_study(tmp_path / "extracts", key=PseudonymKey(b"cli" * 11))
    evaluate(study, load_plan("default")).write(tmp_path / "results")
    args = ["report", str(tmp_path / "results"), "--out", str(tmp_path / "reports")]
    code, _ = run_cli([*args, "--template", "executive", "--format", "html"], capsys)
    assert code == 0
    html = (tmp_path / "reports" / "executive.html").read_text(encoding="utf-8")
    assert "executive evidence summary" in html
    code, err = run_cli([*args, "--template", "annual"], capsys)
    assert code == 2 and "no template 'annual'" in err
    (tmp_path / "empty").mkdir()
    code, err = run_cli(["report", str(tmp_path / "empty"), "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and "is missing: point the report at a folder" in " ".join(err.split())
    assert "Traceback" not in err


def test_simulate_writes_where_asked(tmp_path, capsys):
    code, _ = run_cli(
        [
            "simulate",
            "--out",
            str(tmp_path / "sim"),
            "--leaders",
            "120",
            "--cohorts",
            "4",
            "--voluntary-hr",
            "1.0",
        ],
        capsys,
    )
    assert code == 0
    import json

    truth = json.loads(Path(tmp_path / "sim" / "truth.json").read_text(encoding="utf-8"))
    assert len(truth["program"]["cohorts"]) == 4
    assert truth["retention"]["true_effect"]["hazard_ratio"] == 1.0


def test_coacheval_warnings_print_as_one_line(capsys):
    import warnings

    from coacheval.cli import _show_warning
    from coacheval.errors import PoorReliabilityWarning

    _show_warning(PoorReliabilityWarning("alpha is low"), PoorReliabilityWarning, "x.py", 1)
    err = capsys.readouterr().err
    assert err.strip() == "Warning: alpha is low"
    assert warnings.showwarning is not None
