"""Command definitions. Commands parse options, call the public API and print; nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console

from coacheval import __version__

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
        default=20260101,
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
    behind them, under OUT/extracts.
    """
    system = _simulate(seed, leaders, {}, None, "Simulating a health system")
    written = system.write(out / "extracts")
    _print_summary(system, out / "extracts", written)
    console.print(
        "\nThe true effects behind these data are in [bold]truth.json[/bold]; "
        "coacheval's estimates can be checked against them."
    )
