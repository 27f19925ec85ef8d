r"""``coacheval rollout``: randomise the order in which peer groups start (a stepped wedge).

The command reads the peer groups (one row per group, or one row per member with the group in
``--unit-col``), assigns them to ``--cohorts`` cohorts by stratified permuted-block randomisation
(:func:`coacheval.design.rollout.randomise_rollout`) and writes ``assignment.csv``,
``allocation.csv``, ``balance.csv`` and ``rollout.json`` (seed, method, numpy version, hashes)
into ``--out``. Keep that folder with the extracts (as ``rollout/``): the randomised analysis
plan (``analyses/randomised.yaml``) reads it and checks the analysis against it.

Examples
--------
>>> from click.testing import CliRunner
>>> import os, tempfile, pathlib
>>> folder = tempfile.mkdtemp()
>>> path = os.path.join(folder, "groups.csv")
>>> _ = pathlib.Path(path).write_text("group,facility\nG1,F1\nG2,F1\nG3,F2\nG4,F2\n")
>>> result = CliRunner().invoke(rollout, [path, "--cohorts", "2", "--seed", "7",
...                                       "--out", os.path.join(folder, "rollout")])
>>> result.exit_code, sorted(os.listdir(os.path.join(folder, "rollout")))
(0, ['allocation.csv', 'assignment.csv', 'balance.csv', 'rollout.json'])
"""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd
from rich.console import Console
from rich.table import Table

from coacheval.errors import CoachevalError

__all__: list[str] = []

console = Console()
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
_STRATUM_GUESSES = ("facility", "facility_id", "facilities")


class _InputError(click.ClickException):
    """Bad input: a message and exit code 2, never a traceback."""

    exit_code = 2

    def show(self, file: object = None) -> None:
        """Print the message on stderr."""
        Console(stderr=True).print(f"[bold red]Error:[/bold red] {self.message}", highlight=False)


def _read_units(path: Path, text_columns: list[str]) -> pd.DataFrame:
    """Read a CSV, Excel or Parquet table, keeping ids and strata as text (leading zeros)."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xls"):
            frame = pd.read_excel(path)
        elif suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            header = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns
            dtype = {c: str for c in text_columns if c in header}
            return pd.read_csv(path, dtype=dtype, encoding="utf-8-sig", keep_default_na=False)
    except (OSError, ValueError, ImportError) as exc:
        raise _InputError(f"cannot read {path}: {exc}") from exc
    for c in text_columns:
        if c in frame:
            frame[c] = frame[c].astype(str)
    return frame


def _strata(given: tuple[str, ...], columns: pd.Index) -> tuple[str, ...]:
    names = tuple(s.strip() for value in given for s in value.split(",") if s.strip())
    if names == ("none",):
        return ()
    if names:
        return names
    found = [c for c in _STRATUM_GUESSES if c in columns]
    return (found[0],) if found else ()


@click.command(context_settings=CONTEXT)
@click.argument("groups_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--cohorts",
    type=click.IntRange(min=2),
    required=True,
    help="Number of cohorts (start dates); cohort 1 starts first.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    required=True,
    help="Seed of the random numbers: record it; the same seed and groups give the same order.",
)
@click.option(
    "--strata",
    multiple=True,
    help="Column(s) to stratify by, e.g. --strata facility (repeat or comma-separate; 'none' for "
    "no strata). Default: a facility, facility_id or facilities column when there is one.",
)
@click.option(
    "--unit-col",
    default="group",
    show_default=True,
    help="Column of the randomised units (peer groups; employee_id to randomise leaders).",
)
@click.option(
    "--sizes",
    default=None,
    help="Units per cohort, comma-separated (e.g. 10,10,12); default: as equal as possible.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("rollout"),
    show_default=True,
    help="Folder for assignment.csv, allocation.csv, balance.csv and rollout.json.",
)
def rollout(
    groups_csv: Path,
    cohorts: int,
    seed: int,
    strata: tuple[str, ...],
    unit_col: str,
    sizes: str | None,
    out: Path,
) -> None:
    """Randomise which peer groups start in which cohort (a stepped-wedge rollout).

    Reads GROUPS_CSV (one row per group, or per member with the group in --unit-col), stratifies
    by --strata so that every stratum and every cohort gets a balanced share of groups, and
    writes the assignment with everything needed to reproduce and check it.

    Example: coacheval rollout groups.csv --cohorts 3 --strata facility --seed 20260701 --out rollout
    """
    from coacheval.design.rollout import randomise_rollout

    header = _read_units(groups_csv, []).columns
    chosen = _strata(strata, header)
    units = _read_units(groups_csv, [unit_col, *chosen])
    cohort_sizes = None
    if sizes:
        try:
            cohort_sizes = [int(s) for s in sizes.split(",")]
        except ValueError:
            raise _InputError(
                f"--sizes must be whole numbers separated by commas (got {sizes!r})"
            ) from None
    try:
        result = randomise_rollout(
            units,
            n_cohorts=cohorts,
            strata=chosen,
            unit_col=unit_col,
            seed=seed,
            cohort_sizes=cohort_sizes,
        )
        written = result.write(out)
    except CoachevalError as exc:
        raise _InputError(str(exc)) from exc
    except OSError as exc:
        raise _InputError(f"cannot write into {out}: {exc}") from exc
    table = Table(title=f"Units per stratum and cohort (seed {seed})")
    for column in result.allocation.columns:
        table.add_column(
            str(column).replace("_", " "), justify="left" if column == "stratum" else "right"
        )
    for row in result.allocation.itertuples(index=False):
        table.add_row(*[str(v) for v in row])
    console.print(table)
    strata_text = ", ".join(chosen) if chosen else "none"
    console.print(
        f"{len(result.assignment)} units randomised to {cohorts} cohorts; strata: {strata_text}; "
        f"method: {result.method}; numpy {result.numpy_version} {result.bit_generator}."
    )
    console.print(f"Wrote {', '.join(p.name for p in written)} to [bold]{out}[/bold]")
