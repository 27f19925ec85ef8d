"""``coacheval groups``: form peer groups from a validated HR roster.

The command reads the roster through coacheval's validation (bad rows are quarantined with
their reasons, identifiers are pseudonymised, names and e-mails dropped), keeps the eligible
leaders, forms the groups with :func:`coacheval.design.groups.form_peer_groups` and writes
``groups.csv``, ``group_summary.csv``, ``unplaced.csv`` and ``groups.json`` (plus
``roster_quarantine.csv`` when rows were quarantined). It prints, computes nothing itself. The
click command is documented by its ``--help``; it is no Python API, so ``__all__`` is empty.

Examples
--------
>>> from click.testing import CliRunner
>>> result = CliRunner().invoke(groups, ["--help"])
>>> result.exit_code, "--exclusions" in result.output
(0, True)
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import click

__all__: list[str] = []

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class InputProblem(click.ClickException):
    """Bad input or options: a message and exit code 2, never a traceback."""

    exit_code = 2


def _size(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, int]:
    text = str(value).replace(" ", "")
    parts = text.split("-") if "-" in text else [text, text]
    try:
        lo, hi = (int(p) for p in parts)
    except ValueError:
        raise click.BadParameter(
            "give the group size as MIN-MAX (for example 3-4) or one number"
        ) from None
    if not 2 <= lo <= hi:
        raise click.BadParameter(f"{value!r}: sizes must be whole numbers with 2 <= MIN <= MAX")
    return lo, hi


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@click.command("groups", context_settings=CONTEXT)
@click.argument("roster", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for groups.csv, group_summary.csv, unplaced.csv and groups.json.",
)
@click.option(
    "--size",
    default="3-4",
    show_default=True,
    callback=_size,
    help="Group size as MIN-MAX, or one number.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--exclusions",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Pairs file: person_a, person_b (employee ids) and relation: exclude (never in one "
    "group) or prefer (together when the rules allow); without relation, all are exclusions.",
)
@click.option(
    "--eligible",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="File listing the employee ids who may be grouped (column employee_id).",
)
@click.option(
    "--as-of",
    default=None,
    help="Group the leaders employed on this date (YYYY-MM-DD). Default: leaders without a "
    "termination date.",
)
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Extract config (YAML): column names, date order, id width, pseudonym key file.",
)
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Pseudonym key file (created if missing). Default: the config's pseudonym_key_file, "
    "then the COACHEVAL_PSEUDONYM_KEY environment variable.",
)
@click.option(
    "--max-level-span",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Largest role-level difference within a group.",
)
@click.option(
    "--max-per-unit",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Most leaders of one unit in a group (0: no unit rule).",
)
@click.option(
    "--min-departments",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Fewest departments in a group.",
)
@click.option(
    "--allow-manager-pairs",
    is_flag=True,
    help="Allow a leader in the same group as their manager or a direct report.",
)
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0.1),
    default=25.0,
    show_default=True,
    help="Seconds the search may take at most.",
)
@click.option(
    "--method",
    type=click.Choice(["auto", "search", "exact", "random"]),
    default="auto",
    show_default=True,
    help="auto: local search, plus the exact integer program for small programs.",
)
def groups(
    roster: Path,
    out: Path,
    size: tuple[int, int],
    seed: int,
    exclusions: Path | None,
    eligible: Path | None,
    as_of: str | None,
    config: Path | None,
    key_file: Path | None,
    max_level_span: int,
    max_per_unit: int,
    min_departments: int,
    allow_manager_pairs: bool,
    time_limit: float,
    method: str,
) -> None:
    """Form peer groups of leaders in similar roles from different departments.

    ROSTER is the HR roster file (or an extract folder holding it). It is validated as
    `coacheval validate` does; identifiers become pseudonyms and no name or e-mail is written.
    Every group meets the rules (size, role-level span, one per unit, several departments, no
    manager with a direct report, stated exclusions); the groups are the most diverse in
    departments and facilities, with the most similar role levels, the search finds. Leaders
    who cannot be placed are listed in unplaced.csv with the reason.

    Exit codes: 0 groups written; 2 bad input or rules that cannot be met (with a message).

    Example: coacheval groups extracts/hr_roster.csv --key-file secrets/key --out groups/
    """
    from coacheval.errors import CoachevalError

    try:
        summary = _run(
            roster=roster,
            out=out,
            size=size,
            seed=seed,
            exclusions=exclusions,
            eligible=eligible,
            as_of=as_of,
            config=config,
            key_file=key_file,
            max_level_span=max_level_span,
            max_per_unit=max_per_unit,
            min_departments=min_departments,
            allow_manager_pairs=allow_manager_pairs,
            time_limit=time_limit,
            method=method,
        )
    except CoachevalError as exc:
        raise InputProblem(str(exc)) from exc
    _print(summary, out)


def _run(**kw: Any) -> dict[str, Any]:
    from coacheval.design.groups import (
        GroupRules,
        eligible_leaders,
        form_peer_groups,
        read_id_list,
        read_pairs,
        read_roster,
    )
    from coacheval.io.config import ExtractConfig
    from coacheval.io.study import resolve_key

    cfg = ExtractConfig.from_yaml(kw["config"]) if kw["config"] else ExtractConfig()
    key_file = kw["key_file"]
    key = resolve_key(key_file=key_file, config=cfg, create=key_file is not None)
    validated = read_roster(kw["roster"], key=key, config=cfg)
    ids = None
    if kw["eligible"] is not None:
        ids = read_id_list(kw["eligible"], key=key, id_width=cfg.id_width)
    leaders = eligible_leaders(validated.clean, as_of=kw["as_of"], ids=ids)
    pairs = None
    if kw["exclusions"] is not None:
        pairs = read_pairs(kw["exclusions"], key=key, id_width=cfg.id_width)
    rules = GroupRules(
        max_level_span=kw["max_level_span"],
        max_per_unit=kw["max_per_unit"] or None,
        min_departments=kw["min_departments"],
        separate_managers=not kw["allow_manager_pairs"],
    )
    result = form_peer_groups(
        leaders,
        size=kw["size"],
        rules=rules,
        pairs=pairs,
        seed=kw["seed"],
        time_limit=kw["time_limit"],
        method=kw["method"],
    )
    roster_path = Path(kw["roster"])
    folder = roster_path if roster_path.is_dir() else roster_path.parent
    inputs: dict[str, Any] = {
        "roster_files": {name: _sha256(folder / name) for name in validated.files},
        "roster_rows": validated.rows_in,
        "roster_rows_quarantined": validated.rows_quarantined,
        "eligible_leaders": len(leaders),
        "pseudonym_key_fingerprint": key.fingerprint,
    }
    for name in ("eligible", "exclusions", "config"):
        if kw[name] is not None:
            inputs[f"{name}_file"] = {Path(kw[name]).name: _sha256(Path(kw[name]))}
    if ids is not None:
        inputs["eligible_ids_not_in_roster"] = int(
            (~ids.isin(validated.clean["employee_id"])).sum()
        )
    if kw["as_of"]:
        inputs["as_of"] = str(kw["as_of"])
    written = result.write(kw["out"], inputs=inputs)
    if validated.rows_quarantined:
        path = Path(kw["out"]) / "roster_quarantine.csv"
        validated.quarantine.rename(columns={"_file": "file", "_row": "row"}).to_csv(
            path, index=False, lineterminator="\n"
        )
        written.append(path)
    return {"result": result, "validated": validated, "written": written, "inputs": inputs}


def _print(summary: dict[str, Any], out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    result, validated = summary["result"], summary["validated"]
    obj = result.objective
    if validated.rows_quarantined:
        console.print(
            f"[yellow]{validated.rows_quarantined:,} of {validated.rows_in:,} roster rows "
            "quarantined (see roster_quarantine.csv).[/yellow]"
        )
    table = Table(title="Peer groups", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    sizes = ", ".join(f"{n} of {s}" for s, n in sorted(obj["groups_by_size"].items()))
    rows = [
        ("eligible leaders", f"{summary['inputs']['eligible_leaders']:,}"),
        ("groups", f"{len(result.table):,} ({sizes})"),
        ("placed / unplaced", f"{obj['placed']:,} / {obj['unplaced']:,}"),
        ("score per leader", f"{obj['per_leader']:.3f}"),
        ("department diversity", f"{obj['department_diversity']:.3f}"),
        ("facility diversity", f"{obj['facility_diversity']:.3f}"),
        ("role-level spread", f"{obj['level_spread']:.3f}"),
        ("preferences met", f"{obj['preferences_met']:,}"),
        ("solver", f"{result.stats['method_used']}, {result.stats['seconds']:.1f} s"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    for note in result.notes:
        console.print(f"[yellow]{note}[/yellow]", highlight=False)
    for row in result.unplaced.head(5).itertuples():
        console.print(f"  unplaced {row.employee_id}: {row.reason}", highlight=False)
    if result.stats.get("time_limit_reached"):
        console.print(
            "[yellow]The time limit was reached: another run may differ; raise --time-limit "
            "for a reproducible result.[/yellow]"
        )
    names = ", ".join(p.name for p in summary["written"])
    console.print(f"Wrote {names} to [bold]{out}[/bold]")
