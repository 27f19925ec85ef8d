"""Command definitions. Commands parse options, call the public API and print; nothing else.

The commands are documented by their ``--help`` (the command-line reference); their click
objects are no Python API, so ``__all__`` is empty. Run them through :func:`coacheval.cli.main`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.console import Console

from coacheval import __version__

__all__: list[str] = []

console = Console()
console_err = Console(stderr=True)

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT, invoke_without_command=False)
@click.version_option(
    __version__, "--version", prog_name="coacheval", message="%(prog)s %(version)s"
)
def app() -> None:
    """Evaluate peer-to-peer coaching programs for healthcare leaders.

    coacheval reads survey and HR extracts, checks them, estimates what the program did to job
    satisfaction, engagement, well-being and turnover, and writes evidence reports.

    Start with `coacheval demo`: it simulates a realistic health system with known true effects
    and shows what coacheval makes of it, with no data of your own.

    Exit codes: 0 success, 2 bad usage or bad input (with a message), 1 internal error.
    """


def seed_option(func: Any) -> Any:
    """Add the --seed option shared by commands that simulate."""
    return click.option(
        "--seed",
        type=int,
        default=20261126,
        show_default=True,
        help="Random seed: the same seed gives byte-identical files.",
    )(func)


def leaders_option(func: Any) -> Any:
    """Add the --leaders option shared by commands that simulate."""
    return click.option(
        "--leaders",
        type=click.IntRange(min=20),
        default=None,
        help="Number of leader positions  [default: 1000].",
    )(func)


def extract_options(func: Any) -> Any:
    """Add the --config and --key-file options of commands that read extracts."""
    func = click.option(
        "--key-file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Pseudonym key file (created if missing). Default: the config's pseudonym_key_file, "
        "then the COACHEVAL_PSEUDONYM_KEY environment variable.",
    )(func)
    return click.option(
        "--config",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="YAML file saying which files are which, column names, date order, id width.",
    )(func)


def _simulate(
    seed: int, leaders: int | None, overrides: dict[str, Any], config: Path | None, label: str
) -> Any:
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from coacheval.simulate import SimulationConfig, simulate_health_system

    cfg = SimulationConfig.from_yaml(config) if config else SimulationConfig()
    changes = {"seed": seed, **({"n_leaders": leaders} if leaders else {}), **overrides}
    cfg = cfg.with_overrides(changes)
    stages = ["organisation", "turnover hazards", "workforce and program", "surveys", "extracts"]
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console_err,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=len(stages))

        def step(name: str) -> None:
            bar.update(task, completed=stages.index(name), description=f"{label}: {name}")

        system = simulate_health_system(cfg, progress=step)
        bar.update(task, completed=len(stages))
    return system


def _print_summary(system: Any, out: Path, written: list[Path]) -> None:
    from rich.table import Table

    s = system.summary()
    table = Table(title="Simulated health system", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("Leaders in the HR extract", f"{s['leaders']:,}")
    table.add_row("Leader positions", f"{s['leader_positions']:,}")
    table.add_row("Facilities / units", f"{s['facilities']} / {s['units']}")
    table.add_row("Coaching cohorts", str(s["cohorts"]))
    table.add_row("Leaders enrolled / peer groups", f"{s['enrolled']:,} / {s['peer_groups']:,}")
    table.add_row("Survey waves / responses", f"{s['survey_waves']} / {s['survey_responses']:,}")
    for reason, n in s["terminations"].items():
        table.add_row(f"Terminations, {reason}", f"{n:,}")
    console.print(table)
    console.print(f"Wrote {len(written)} files to [bold]{out}[/bold]:")
    for path in written:
        console.print(f"  {path.name}", highlight=False)


@app.command(context_settings=CONTEXT)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write the extracts and truth.json into.",
)
@seed_option
@leaders_option
@click.option(
    "--facilities",
    type=click.IntRange(min=1),
    default=None,
    help="Number of facilities  [default: about one per 250 leaders].",
)
@click.option(
    "--cohorts",
    type=click.IntRange(min=1),
    default=None,
    help="Number of staggered coaching cohorts  [default: 3].",
)
@click.option(
    "--voluntary-hr",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="True hazard ratio of voluntary exit once enrolled (1 = no effect)  [default: 0.85].",
)
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="YAML file of simulation parameters to change (see coacheval.simulate.SimulationConfig).",
)
@click.option(
    "--rollout",
    type=click.Choice(["volunteer", "randomised"]),
    default=None,
    help="How cohorts are filled: volunteers recruited per cohort, or all recruited at once and "
    "their peer groups randomised to a start (stepped wedge; writes rollout/)  "
    "[default: volunteer].",
)
@click.option(
    "--messy",
    is_flag=True,
    help="Write the extracts as real ones arrive: Qualtrics CSVs, an Excel HR file with US "
    "dates, odd encodings, duplicates and errors, each listed in truth.json.",
)
def simulate(
    out: Path,
    seed: int,
    leaders: int | None,
    facilities: int | None,
    cohorts: int | None,
    voluntary_hr: float | None,
    config: Path | None,
    rollout: str | None,
    messy: bool,
) -> None:
    """Simulate a health system's extracts, with the truth behind them in truth.json.

    The system has facilities, units and about a thousand nurse leaders, a peer-coaching program
    with staggered cohorts and non-random enrolment, survey waves at item level, turnover with
    competing reasons, attendance and program costs. Every parameter, its source, and every
    realised effect is written to truth.json.

    Example: coacheval simulate --out sim --seed 7 --leaders 500 --messy
    """
    overrides: dict[str, Any] = {}
    if facilities is not None:
        overrides["n_facilities"] = facilities
    if cohorts is not None:
        overrides["n_cohorts"] = cohorts
    if voluntary_hr is not None:
        overrides["voluntary_hr"] = voluntary_hr
    if rollout is not None:
        overrides["rollout"] = rollout
    system = _simulate(seed, leaders, overrides, config, "Simulating")
    written = system.write(out, messy=messy)
    _print_summary(system, out, written)


@app.command(context_settings=CONTEXT)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("coacheval-demo"),
    show_default=True,
    help="Folder for everything the demo makes.",
)
@seed_option
@leaders_option
def demo(out: Path, seed: int, leaders: int | None) -> None:
    """Run coacheval end to end on a simulated health system: no data needed.

    Simulates a realistic system with known true effects and writes its extracts, and the truth
    behind them, under OUT/extracts; validates them into OUT/validation, pseudonymising with a
    key kept in OUT/pseudonym.key; and scores the survey into OUT/measures (scale scores,
    reliability by wave, Table 1 of participants against the other leaders); and estimates the
    program's effects with the default analysis plan into OUT/evaluation; and renders the
    executive, quarterly and technical reports as HTML, PDF and DOCX into OUT/reports.
    """
    demo_started = time.perf_counter()
    system = _simulate(seed, leaders, {}, None, "Simulating a health system")
    written = system.write(out / "extracts")
    _print_summary(system, out / "extracts", written)
    console.print(
        "\nThe true effects behind these data are in [bold]truth.json[/bold]; "
        "coacheval's estimates can be checked against them.\n"
    )
    study = _run_validation(out / "extracts", out / "validation", None, out / "pseudonym.key", None)
    _print_validation(study.validation, out / "validation")
    _write_measures(study, out / "measures")
    evaluation = _run_evaluation(study, out / "extracts", "default", out / "evaluation")
    _print_estimates(evaluation, out / "evaluation")
    started = time.perf_counter()
    rendered = _render_reports(
        out / "evaluation",
        REPORT_TEMPLATES,
        ("html", "pdf", "docx"),
        out / "reports",
        {"period": "", "site": "simulated health system (demo)"},
    )
    console.print("\nReports:", style="bold")
    _print_reports(rendered, out / "reports")
    console.print(
        f"Rendering took {time.perf_counter() - started:.1f} s of the demo's "
        f"{time.perf_counter() - demo_started:.1f} s.",
        highlight=False,
    )
    truth = system.truth["surveys"]["realised_att"]
    console.print(
        "\nTrue effects (truth.json, realised ATT averaged over post-start cohort-waves): "
        + ", ".join(
            f"{c} {np.mean([r['att'] for r in truth if r['construct'] == c]):+.3f}"
            for c in dict.fromkeys(r["construct"] for r in truth)
        ),
        highlight=False,
    )
    hr = system.truth["retention"]["true_effect"]["hazard_ratio"]
    console.print(
        f"True hazard ratio of voluntary exit after enrolment: {hr:.2f} (conditional on the "
        "leaders' engagement and burnout traits; volunteers are more engaged, so observational "
        "estimates lean towards benefit: see docs/calibration.md)",
        highlight=False,
    )


def _print_validation(report: Any, out: Path) -> None:
    from rich.table import Table

    table = Table(title="Validation", title_justify="left")
    for name in ("table", "rows in", "clean", "quarantined", "errors", "warnings"):
        table.add_column(name, justify="left" if name == "table" else "right")
    for name, t in report.tables.items():
        table.add_row(
            name,
            f"{t.rows_in:,}",
            f"{t.rows_clean:,}",
            f"{t.rows_quarantined:,}",
            f"{len(t.errors):,}",
            f"{len(t.warnings):,}",
        )
    console.print(table)
    if report.usable:
        console.print("[green]The data are usable.[/green]")
    else:
        console.print("[bold red]The data are not usable:[/bold red]")
        for name, reason in report.unusable.items():
            console.print(f"  {name}: {reason}", highlight=False)
    console.print(f"Wrote validation.json, validation.html and quarantine/ to [bold]{out}[/bold]")


def _run_validation(
    folder: Path,
    out: Path,
    config: Path | None,
    key_file: Path | None,
    max_quarantine_share: float | None,
) -> Any:
    from coacheval.io.config import ExtractConfig
    from coacheval.io.report import write_validation
    from coacheval.io.study import Study, resolve_key
    from coacheval.io.validate import validate_folder

    cfg = ExtractConfig.from_yaml(config) if config else ExtractConfig()
    if max_quarantine_share is not None:
        import dataclasses

        cfg = dataclasses.replace(cfg, max_quarantine_share=max_quarantine_share)
    created = key_file is not None and not key_file.exists()
    key = resolve_key(key_file=key_file, config=cfg, create=key_file is not None)
    if created:
        console_err.print(
            f"[yellow]New pseudonym key written to {key_file}: keep it safe and reuse it "
            "every quarter so that pseudonyms link across extracts.[/yellow]"
        )
    with console_err.status("Validating extracts"):
        study = Study.from_report(validate_folder(folder, key=key, config=cfg))
    write_validation(study.validation, out)
    return study


@app.command(context_settings=CONTEXT)
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for validation.json, validation.html and quarantine/<table>.csv.",
)
@extract_options
@click.option(
    "--max-quarantine-share",
    type=click.FloatRange(0, 1),
    default=None,
    help="Above this share of quarantined rows a table is unusable  [default: 0.05].",
)
def validate(
    folder: Path,
    out: Path,
    config: Path | None,
    key_file: Path | None,
    max_quarantine_share: float | None,
) -> None:
    """Check a folder of extracts against the data contract, row by row.

    Every input row is kept or quarantined with every reason (file, row, column, value, rule).
    Person identifiers are pseudonymised with a keyed hash and personal-data columns are
    dropped, so nothing under OUT holds a raw identifier, a name, an e-mail or a phone number.
    Exit code 0 when the data are usable, 2 when not.

    Example: coacheval validate extracts/ --config extracts.yaml --key-file secrets/key --out checked/
    """
    report = _run_validation(folder, out, config, key_file, max_quarantine_share).validation
    _print_validation(report, out)
    if not report.usable:
        raise SystemExit(2)


@app.command(context_settings=CONTEXT)
@click.argument("tables", nargs=-1)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write data_dictionary.md and data_dictionary.html into this folder.",
)
def schema(tables: tuple[str, ...], out: Path | None) -> None:
    """Show the data contract: every extract's columns, types, rules, and the instruments.

    With table names, shows only those tables (e.g. coacheval schema hr_roster enrolment).
    """
    from rich.markdown import Markdown

    from coacheval.errors import ConfigError
    from coacheval.io.dictionary import data_dictionary_markdown, markdown_to_html
    from coacheval.io.schema import load_table_schemas

    known = load_table_schemas()
    unknown = [t for t in tables if t not in known]
    if unknown:
        raise ConfigError(f"unknown table(s) {', '.join(unknown)}; tables: {', '.join(known)}")
    text = data_dictionary_markdown(tables=list(tables) or None)
    if out is None:
        console.print(Markdown(text))
        return
    out.mkdir(parents=True, exist_ok=True)
    (out / "data_dictionary.md").write_text(text, encoding="utf-8")
    (out / "data_dictionary.html").write_text(markdown_to_html(text), encoding="utf-8")
    console.print(f"Wrote data_dictionary.md and data_dictionary.html to [bold]{out}[/bold]")


MIN_REPORTING_SIZE = 5


def _write_measures(study: Any, out: Path) -> None:
    from rich.table import Table

    from coacheval.measures import reliability_by_wave, score_instruments, study_baseline

    out.mkdir(parents=True, exist_ok=True)
    responses = study["survey_responses"]
    scores = score_instruments(responses, study.instruments)
    scores.to_csv(out / "scores.csv", index=False)
    reliability = reliability_by_wave(responses, study.instruments)
    reliability.table.to_csv(out / "reliability.csv", index=False)
    reliability.items.to_csv(out / "item_analysis.csv", index=False)
    table1 = study_baseline(study, min_cell=MIN_REPORTING_SIZE)
    table1.table.to_csv(out / "table1.csv", index=False)
    (out / "table1.html").write_text(table1.as_html(), encoding="utf-8")
    (out / "table1.md").write_text(table1.as_markdown(), encoding="utf-8")
    first = reliability.table[reliability.table.wave == reliability.table.wave.min()]
    smd = table1.smd.set_index("variable").smd
    shown = Table(title=f"Scales at baseline (wave {first.wave.iloc[0]})", title_justify="left")
    for name in ("scale", "construct", "alpha", "95% CI", "omega", "SMD participants vs others"):
        shown.add_column(name, justify="left" if name in ("scale", "construct") else "right")
    for row in first.itertuples():
        shown.add_row(
            row.scale,
            row.construct,
            f"{row.raw_alpha:.2f}",
            f"{row.conf_low:.2f}-{row.conf_high:.2f}",
            f"{row.omega_total:.2f}",
            f"{smd.get('baseline ' + row.construct, float('nan')):+.2f}",
        )
    console.print(shown)
    console.print(f"Wrote scores, reliability, item analysis and Table 1 to [bold]{out}[/bold]")


def _data_hashes(folder: Path, report: Any) -> dict[str, str]:
    import hashlib

    names = sorted({name for table in report.tables.values() for name in table.files})
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in names}


def _run_evaluation(study: Any, folder: Path, plan_ref: str, out: Path) -> Any:
    from coacheval.evaluate.plan import load_plan
    from coacheval.evaluate.run import evaluate as run_plan

    plan = load_plan(plan_ref)
    with console_err.status(f"Estimating ({plan.name} plan)"):
        evaluation = run_plan(study, plan, data_hashes=_data_hashes(folder, study.validation))
        evaluation.write(out)
    return evaluation


def _print_estimates(evaluation: Any, out: Path) -> None:
    from rich.table import Table

    primary = evaluation.primary()
    table = Table(
        title=f"Effects ({evaluation.plan.methods.primary}; plan {evaluation.plan.name}, "
        f"hash {evaluation.plan.hash[:10]})",
        title_justify="left",
    )
    for name in (
        "outcome",
        "estimate",
        "95% CI",
        "in baseline SD",
        "q-value",
        "people",
        "clusters",
    ):
        table.add_column(name, justify="left" if name == "outcome" else "right")
    for row in primary.itertuples():
        clusters = "" if row.n_clusters != row.n_clusters else f"{int(row.n_clusters):,}"
        table.add_row(
            row.outcome,
            f"{row.estimate:+.3f}",
            f"{row.conf_low:+.3f} to {row.conf_high:+.3f}",
            f"{row.estimate_sd:+.2f}",
            f"{row.q_value:.3f}",
            f"{int(row.n):,}",
            clusters,
        )
    console.print(table)
    for note in primary.design.unique():
        console.print(f"Design: {note}", highlight=False)
    for note in evaluation.notes:
        if "not estimable" in note:
            console.print(f"[yellow]Note:[/yellow] {note}", highlight=False)
    if primary.empty:
        console.print(
            "[yellow]No primary estimate could be made: the data are too few to answer the question. "
            "The smallest detectable effect needs more leaders, cohorts or waves.[/yellow]"
        )
    _print_retention(evaluation)
    console.print(f"Wrote estimates.csv, results.json and figures/ to [bold]{out}[/bold]")


def _print_retention(evaluation: Any) -> None:
    e = evaluation.estimates
    ret = e[e.analysis == "retention"]
    if ret.empty:
        return
    labels = {
        "cox_tv": "hazard ratio, time-varying Cox (primary)",
        "finegray": "subdistribution HR, Fine-Gray",
        "rmst_landmark": "years retained in 2 years (RMST difference)",
        "cox_ever_enrolled": "hazard ratio if 'ever enrolled' (immortal-time biased)",
    }
    console.print("\nRetention:", style="bold")
    for row in ret[ret.method.isin(list(labels))].itertuples():
        console.print(
            f"  {row.outcome}: {labels[row.method]} {row.estimate:.3f} "
            f"({row.conf_low:.3f} to {row.conf_high:.3f})",
            highlight=False,
        )
    for note in evaluation.notes:
        if note.startswith("retention power"):
            console.print(f"  {note}", highlight=False)
    roi = e[(e.analysis == "economics") & (e.term == "net_benefit")]
    if not roi.empty:
        r = roi.iloc[0]
        console.print(
            f"Economics: net benefit {r.estimate:,.0f} USD ({r.conf_low:,.0f} to "
            f"{r.conf_high:,.0f})",
            style="bold",
            highlight=False,
        )
        for note in evaluation.notes:
            if note.startswith("economics: The program"):
                console.print(f"  {note.removeprefix('economics: ')}", highlight=False)


@app.command(context_settings=CONTEXT)
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--plan",
    "plan_ref",
    default="default",
    show_default=True,
    help="Analysis plan: a YAML file, or the name of a shipped plan (default, single_arm).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for estimates.csv, results.json, figures/ and the validation.",
)
@extract_options
def evaluate(
    folder: Path, plan_ref: str, out: Path, config: Path | None, key_file: Path | None
) -> None:
    """Validate, score and estimate the program's effects as an analysis plan says.

    Writes OUT/estimates.csv (one tidy row per estimate: outcome, estimand, method, term,
    estimate, std_error, conf_low, conf_high, p_value, q_value, n, n_clusters), OUT/results.json
    (the same, every diagnostic, and provenance: version, plan hash, data hashes, seed),
    OUT/figures/ and OUT/validation/. Exit code 2 when the data are not usable.

    Example: coacheval evaluate extracts/ --plan analyses/default.yaml --key-file key --out results/
    """
    study = _run_validation(folder, out / "validation", config, key_file, None)
    if not study.validation.usable:
        _print_validation(study.validation, out / "validation")
        raise SystemExit(2)
    evaluation = _run_evaluation(study, folder, plan_ref, out)
    _print_estimates(evaluation, out)


REPORT_TEMPLATES = ("executive", "quarterly", "technical")


def _render_reports(
    results: Path, templates: Sequence[str], formats: Sequence[str], out: Path, params: dict
) -> dict[str, Any]:
    from coacheval._resources import resource_dir
    from coacheval.reports import render
    from coacheval.reports.results import load_results

    load_results(results)  # a folder that is not an evaluation fails here, before any kernel
    rendered = {}
    for name in templates:
        path = Path(name)
        if not path.suffix:
            path = resource_dir("reports") / f"{name}.qmd"
        if not path.is_file():
            raise click.BadParameter(
                f"no template {name!r}: use one of {', '.join(REPORT_TEMPLATES)} or a .qmd path",
                param_hint="--template",
            )
        with console_err.status(f"Rendering the {path.stem} report ({', '.join(formats)})"):
            rendered[path.stem] = render(path, results, formats=formats, out=out, params=params)
    return rendered


def _print_reports(rendered: dict[str, Any], out: Path) -> None:
    for name, result in rendered.items():
        files = ", ".join(p.name for p in result.outputs.values())
        console.print(
            f"  {name}: {files} ({result.timings['total']:.1f} s, {result.engine} engine)",
            highlight=False,
        )
    console.print(f"Wrote the reports to [bold]{out}[/bold]")


@app.command(context_settings=CONTEXT)
@click.argument("results", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--template",
    "templates",
    default=",".join(REPORT_TEMPLATES),
    show_default=True,
    help="Comma-separated: executive, quarterly, technical, or a path to your own .qmd.",
)
@click.option(
    "--format",
    "formats",
    default="html,pdf,docx",
    show_default=True,
    help="Comma-separated output formats: html, pdf, docx.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for the reports.",
)
@click.option("--period", default="", help="Reporting period shown in the reports, e.g. 2025Q4.")
@click.option("--site", default="", help="Site or scope shown in the reports.")
def report(results: Path, templates: str, formats: str, out: Path, period: str, site: str) -> None:
    """Render evidence reports from a results folder written by `coacheval evaluate`.

    Uses `quarto render` when Quarto is installed and coacheval's own renderer (Jupyter,
    Pandoc, Typst) otherwise. Writes are atomic: a failed render leaves no half-written report.

    Example: coacheval report results/ --template executive --format html,pdf --out reports/
    """
    names = [t.strip() for t in templates.split(",") if t.strip()]
    fmts = [f.strip() for f in formats.split(",") if f.strip()]
    rendered = _render_reports(results, names, fmts, out, {"period": period, "site": site})
    _print_reports(rendered, out)


def _register_design_commands() -> None:
    """Add the commands that plan a program's evaluation (their modules load only when used)."""
    from coacheval.cli.groups import groups
    from coacheval.cli.power import power
    from coacheval.cli.rollout import rollout

    app.add_command(groups)
    app.add_command(power)
    app.add_command(rollout)


_register_design_commands()
