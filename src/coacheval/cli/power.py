"""``coacheval power``: what the planned rollout can detect, before the first cohort meets.

The command turns the program's plan (units or peer groups, leaders per unit, cohorts, survey
waves, ICC, response rate, turnover, follow-up) into the minimum detectable effect of every
survey outcome and the minimum detectable hazard ratio of leaving
(:func:`coacheval.design.power.design_power`), writes ``power.json`` and ``power.csv`` and prints
the verdict table. ``--simulate N`` adds a check by simulation
(:func:`coacheval.design.simulated_power.simulate_rollout_power`, in parallel). The click command
is documented by its ``--help``; it is no Python API, so ``__all__`` is empty.

Examples
--------
>>> from click.testing import CliRunner
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as out:
...     result = CliRunner().invoke(power, ["--units", "24", "--leaders-per-unit", "10",
...                                         "--out", out])
>>> result.exit_code
0
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd
import yaml
from rich.console import Console
from rich.table import Table

from coacheval.errors import CoachevalError

__all__: list[str] = []

console = Console()
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

_PLAN_KEYS = {
    "units",
    "groups",
    "leaders_per_unit",
    "leaders_per_group",
    "cohorts",
    "waves",
    "cohort_start_waves",
    "control_units",
    "icc",
    "response_rate",
    "cluster_autocorrelation",
    "individual_autocorrelation",
    "outcomes",
    "annual_turnover",
    "hazard_ratio",
    "follow_up_years",
    "wave_interval_months",
    "alpha",
    "power",
    "df",
    "cluster_label",
}


def _read_plan(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise click.BadParameter(f"cannot read {path}: {exc}", param_hint="--plan") from exc
    if isinstance(data, dict) and isinstance(data.get("power"), dict):
        data = data["power"]
    if not isinstance(data, dict):
        raise click.BadParameter(
            f"{path} must be a YAML mapping of planning values (units, leaders_per_unit, "
            "cohorts, waves, icc, ...), optionally under a 'power:' key",
            param_hint="--plan",
        )
    unknown = sorted(set(data) - _PLAN_KEYS)
    if unknown:
        raise click.BadParameter(
            f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_PLAN_KEYS))}",
            param_hint="--plan",
        )
    return dict(data)


def _parse_outcomes(values: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for item in values:
        name, sep, value = item.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise click.BadParameter(
                f"{item!r}: give NAME=EFFECT, e.g. work_engagement=0.3", param_hint="--outcome"
            ) from None
    return out


def _resolve(plan: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """Merge the plan file and the options (options win) into design_power's arguments."""
    args = dict(plan)
    if "groups" in args:
        if "units" in args:
            raise click.BadParameter("the plan gives both units and groups", param_hint="--plan")
        args["units"] = args.pop("groups")
        args.setdefault("cluster_label", "peer group")
    if "leaders_per_group" in args:
        args["leaders_per_unit"] = args.pop("leaders_per_group")
    if options.get("groups") is not None and options.get("units") is not None:
        raise click.BadParameter("give --units or --groups, not both", param_hint="--groups")
    if options.get("groups") is not None:
        args["units"] = options.pop("groups")
        args["cluster_label"] = "peer group"
    options.pop("groups", None)
    for key, value in options.items():
        if value is not None and value != ():
            args[key] = value
    for key in ("units", "leaders_per_unit"):
        if key not in args:
            flag = "--units (or --groups)" if key == "units" else "--leaders-per-unit"
            raise click.UsageError(f"give {flag} or a --plan file with {key}")
    return args


def _simulation(result: Any, n_reps: int, workers: int | None, seed: int) -> pd.DataFrame:
    from coacheval.design.power import gls_power
    from coacheval.design.simulated_power import simulate_rollout_power

    p = result.parameters
    # the analysis an evaluator would run: a REML mixed model (Satterthwaite t); GLS with the
    # true variances when the model needs three random effects
    mixed = not (p["cluster_autocorrelation"] < 1 and p["individual_autocorrelation"] > 0)
    sizes = np.round(result.leaders)
    rows = []
    survey = result.table[result.table.measure == "d"]
    for icc, group in survey.groupby("icc", sort=False):
        mde = float(group.minimum_detectable.iloc[0])
        effects = sorted({0.0, round(mde, 6), *(abs(float(e)) for e in group.expected)})
        sim = simulate_rollout_power(
            result.design,
            effect=effects,
            icc=float(icc),
            cluster_size=sizes,
            cluster_autocorrelation=p["cluster_autocorrelation"],
            individual_autocorrelation=p["individual_autocorrelation"],
            response_rate=p["response_rate"],
            n_reps=n_reps,
            seed=seed,
            workers=workers,
            alpha=result.alpha,
            analysis="mixed" if mixed else "gls",
            df=None if mixed else result.df,
        )
        t = sim.table[["effect", "power", "power_mc_se"]].copy()
        # the formula as the verdict uses it (t on units - 2 df, or normal)
        var = float(sim.table.formula_se.iloc[0]) ** 2
        t["formula_power"] = [
            gls_power(var, effect=e, alpha=result.alpha, df=result.df)[0] for e in t.effect
        ]
        f_mc = np.sqrt(t.formula_power * (1 - t.formula_power) / n_reps)
        t["z"] = (t.power - t.formula_power) / f_mc
        t.insert(0, "outcomes", ", ".join(group.outcome))
        t.insert(1, "icc", float(icc))
        t.insert(2, "analysis", sim.analysis)
        rows.append(t)
    return pd.concat(rows, ignore_index=True)


def _print(result: Any, sim: pd.DataFrame | None, out: Path) -> None:
    table = Table(title="What the planned rollout can detect", title_justify="left")
    for col, justify in (
        ("Outcome", "left"),
        ("Expected", "right"),
        ("Minimum detectable", "right"),
        ("Power", "right"),
        ("Verdict", "left"),
    ):
        table.add_column(col, justify=justify, overflow="fold")
    for row in result.table.itertuples():
        is_hr = row.measure == "hazard ratio"
        expected = "" if pd.isna(row.expected) else f"{row.expected:.2f}"
        mde = "" if pd.isna(row.minimum_detectable) else f"{row.minimum_detectable:.2f}"
        mde = f"HR {mde}" if is_hr and mde else (f"d {mde}" if mde else "none")
        power = "" if pd.isna(row.power) else f"{100 * row.power:.0f}%"
        verdict = "[green]detectable[/green]" if row.detectable else "[red]not detectable[/red]"
        table.add_row(
            row.outcome.replace("_", " "),
            (f"HR {expected}" if is_hr else f"d {expected}") if expected else "",
            mde,
            power,
            verdict,
        )
    console.print(table)
    for line in result.verdict.splitlines():
        console.print(line, highlight=False)
    if sim is not None:
        how = "REML mixed model" if (sim.analysis == "mixed").all() else "GLS"
        check = Table(
            title=f"Check by simulation (Hussey & Hughes model, analysed by {how})",
            title_justify="left",
        )
        for col in ("ICC", "Effect d", "Simulated power", "Formula power", "z"):
            check.add_column(col, justify="right")
        for r in sim.itertuples():
            check.add_row(
                f"{r.icc:g}",
                f"{r.effect:.2f}",
                f"{100 * r.power:.1f}% (± {196 * r.power_mc_se:.1f})",
                f"{100 * r.formula_power:.1f}%",
                f"{r.z:+.2f}",
            )
        console.print(check)
    console.print(f"Wrote power.json and power.csv to [bold]{out}[/bold]")


@click.command("power", context_settings=CONTEXT)
@click.option(
    "--plan",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="YAML file of planning values (the option names with underscores, e.g. "
    "leaders_per_unit, optionally under 'power:'; outcomes as NAME: EFFECT). Options override it.",
)
@click.option("--units", type=click.IntRange(min=1), default=None, help="Units in the evaluation.")
@click.option(
    "--groups",
    type=click.IntRange(min=1),
    default=None,
    help="Peer groups, when groups (not units) are what is rolled out (ICC of peer groups).",
)
@click.option(
    "--leaders-per-unit",
    type=click.FloatRange(min=1),
    default=None,
    help="Leaders per unit (or per group).",
)
@click.option("--cohorts", type=click.IntRange(min=1), default=None, help="Cohorts  [default: 3].")
@click.option(
    "--waves",
    type=click.IntRange(min=1),
    default=None,
    help="Survey waves  [default: cohorts + 1].",
)
@click.option(
    "--control-units",
    type=click.IntRange(min=0),
    default=None,
    help="Units that never start during the evaluation  [default: 0].",
)
@click.option(
    "--icc",
    type=click.FloatRange(0, 1),
    default=None,
    help="Intracluster correlation of the survey outcomes  [default: 0.05].",
)
@click.option(
    "--response-rate",
    type=click.FloatRange(0, 1, min_open=True),
    default=None,
    help="Share of leaders answering each wave  [default: 0.6].",
)
@click.option(
    "--cluster-autocorrelation",
    type=click.FloatRange(0, 1),
    default=None,
    help="Correlation of a unit's effects between waves  [default: 1].",
)
@click.option(
    "--individual-autocorrelation",
    type=click.FloatRange(0, 1),
    default=None,
    help="Correlation of a leader's scores between waves (0: cross-sectional)  [default: 0].",
)
@click.option(
    "--outcome",
    "outcomes",
    multiple=True,
    help="NAME=EFFECT expected effect d of a survey outcome; repeat for several "
    "[default: the simulator's expected effects].",
)
@click.option(
    "--annual-turnover",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=None,
    help="Share of leaders leaving within a year  [default: 0.088].",
)
@click.option(
    "--hazard-ratio",
    type=click.FloatRange(0, min_open=True),
    default=None,
    help="Expected hazard ratio of leaving, coached vs not  [default: 0.85].",
)
@click.option(
    "--follow-up-years",
    type=click.FloatRange(0, min_open=True),
    default=None,
    help="Retention follow-up  [default: the survey span, at least 1 year].",
)
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=None,
    help="Two-sided level  [default: 0.05].",
)
@click.option(
    "--power",
    "target_power",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=None,
    help="Target power  [default: 0.8].",
)
@click.option(
    "--df",
    type=click.Choice(["clusters", "normal"]),
    default=None,
    help="t tests on units - 2 df, or z tests  [default: clusters].",
)
@click.option(
    "--simulate",
    "n_reps",
    type=click.IntRange(min=1),
    default=None,
    help="Also check the formula by simulating N rollouts per outcome ICC.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes for --simulate  [default: all cores].",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Seed for --simulate.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for power.json and power.csv.",
)
def power(
    plan: Path | None,
    out: Path,
    n_reps: int | None,
    workers: int | None,
    seed: int,
    outcomes: tuple[str, ...],
    target_power: float | None,
    **options: Any,
) -> None:
    """Say what the planned rollout can detect: survey effects and turnover, before it starts.

    Units (or peer groups) are split into cohorts that start the program at successive survey
    waves (a stepped wedge); the minimum detectable effect of each survey outcome follows from
    the ICC, leaders per unit and response rate (Hussey & Hughes' GLS variance), and the
    minimum detectable hazard ratio of leaving from the expected exits (Schoenfeld).

    Example: coacheval power --units 24 --leaders-per-unit 10 --cohorts 3 --icc 0.05
    --outcome work_engagement=0.3 --out power/
    """
    from coacheval.design.power import design_power

    args = _resolve(_read_plan(plan) if plan else {}, dict(options))
    if outcomes:
        args["outcomes"] = _parse_outcomes(outcomes)
    if target_power is not None:
        args["power"] = target_power
    try:
        result = design_power(**args)
        sim = _simulation(result, n_reps, workers, seed) if n_reps else None
    except CoachevalError as exc:
        raise click.UsageError(str(exc)) from exc
    except TypeError as exc:  # a plan value of the wrong kind
        raise click.UsageError(f"invalid planning value: {exc}") from exc
    out.mkdir(parents=True, exist_ok=True)
    payload = result.to_dict()
    if sim is not None:
        payload["simulation"] = sim.to_dict("records")
    (out / "power.json").write_text(
        json.dumps(payload, indent=2, default=_json_default, allow_nan=True) + "\n",
        encoding="utf-8",
    )
    result.table.to_csv(out / "power.csv", index=False)
    if sim is not None:
        sim.to_csv(out / "power_simulation.csv", index=False)
    _print(result, sim, out)


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
