"""Randomised rollout order (stepped wedge): reproducibility, balance, edge cases, files, CLI.

The assignment is a pure function of (seed, units): checked by re-running, shuffling input rows
and reading the written record back. Balance is checked exactly (counts per stratum x cohort
differ by at most 1, cohort totals by at most 1; with cohort_sizes every count is the floor or
ceiling of its proportional share and the margins are exact) over many random stratum layouts.
Randomness is checked by the distribution of assignments over seeds: each unit lands in each of
K cohorts with probability 1/K (chi-square over 600 seeds).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

from coacheval.cli.rollout import rollout
from coacheval.design.rollout import randomise_rollout, read_rollout
from coacheval.errors import ConfigError, DataValidationError


def _groups(sizes: dict[str, int]) -> pd.DataFrame:
    rows = []
    for facility, n in sizes.items():
        rows += [{"group": f"{facility}-G{i:02d}", "facility": facility} for i in range(n)]
    return pd.DataFrame(rows)


def _counts(assignment) -> np.ndarray:
    body = assignment.allocation[assignment.allocation.stratum != "total"]
    return body[[f"cohort_{k}" for k in range(1, assignment.n_cohorts + 1)]].to_numpy()


def test_same_seed_same_assignment_other_seed_other():
    units = _groups({"F1": 13, "F2": 9, "F3": 11})
    a = randomise_rollout(units, n_cohorts=3, strata=("facility",), unit_col="group", seed=11)
    b = randomise_rollout(units, n_cohorts=3, strata=("facility",), unit_col="group", seed=11)
    c = randomise_rollout(units, n_cohorts=3, strata=("facility",), unit_col="group", seed=12)
    assert a.assignment.equals(b.assignment) and a.allocation.equals(b.allocation)
    assert not a.cohort_of().sort_index().equals(c.cohort_of().sort_index())
    assert a.record() == b.record() and a.record()["seed"] == 11


def test_assignment_does_not_depend_on_row_order():
    units = _groups({"F1": 10, "F2": 7})
    units["tenure"] = np.arange(len(units), dtype=float)
    a = randomise_rollout(units, n_cohorts=3, strata=("facility",), unit_col="group", seed=5)
    shuffled = units.sample(frac=1, random_state=1)
    b = randomise_rollout(shuffled, n_cohorts=3, strata=("facility",), unit_col="group", seed=5)
    assert a.assignment.equals(b.assignment)
    assert a.input_sha256 == b.input_sha256
    changed = units.assign(tenure=units.tenure + 1)
    assert (
        randomise_rollout(
            changed, n_cohorts=3, strata=("facility",), unit_col="group", seed=5
        ).input_sha256
        != a.input_sha256
    )


def test_record_names_generator_and_numpy_version():
    a = randomise_rollout(_groups({"F1": 6}), n_cohorts=2, strata=("facility",), seed=3)
    record = a.record()
    assert record["bit_generator"] == "PCG64"
    assert record["numpy_version"] == np.__version__
    assert record["method"].startswith("stratified permuted-block")
    assert record["strata"] == ["facility"] and record["n_units"] == 6


@pytest.mark.parametrize("trial", range(40))
def test_every_stratum_and_cohort_is_balanced(trial):
    rng = np.random.default_rng(trial)
    sizes = {f"F{i}": int(n) for i, n in enumerate(rng.integers(1, 17, size=rng.integers(1, 7)))}
    sizes["F0"] = max(sizes["F0"], 2)
    units = _groups(sizes)
    k = min(int(rng.integers(2, 6)), len(units))
    a = randomise_rollout(units, n_cohorts=k, strata=("facility",), seed=trial)
    counts = _counts(a)
    assert (counts.max(axis=1) - counts.min(axis=1) <= 1).all()
    totals = counts.sum(axis=0)
    assert totals.max() - totals.min() <= 1
    assert counts.sum(axis=1).tolist() == list(sizes.values())
    # The assignment table agrees with the allocation table.
    table = a.assignment.groupby(["stratum", "cohort"]).size().unstack(fill_value=0)
    assert np.array_equal(table.reindex(columns=range(1, k + 1), fill_value=0).to_numpy(), counts)


@pytest.mark.parametrize("trial", range(40))
def test_given_cohort_sizes_are_met_by_controlled_rounding(trial):
    rng = np.random.default_rng(100 + trial)
    sizes = {f"F{i}": int(n) for i, n in enumerate(rng.integers(1, 15, size=rng.integers(1, 7)))}
    sizes["F0"] = max(sizes["F0"], 2)
    units = _groups(sizes)
    k = min(int(rng.integers(2, 6)), len(units))
    cohort_sizes = rng.multinomial(len(units) - k, rng.dirichlet(np.ones(k))) + 1
    a = randomise_rollout(
        units,
        n_cohorts=k,
        strata=("facility",),
        seed=trial,
        cohort_sizes=[int(s) for s in cohort_sizes],
    )
    counts = _counts(a)
    assert counts.sum(axis=0).tolist() == cohort_sizes.tolist()
    assert counts.sum(axis=1).tolist() == list(sizes.values())
    share = np.outer(list(sizes.values()), cohort_sizes) / len(units)
    assert (np.abs(counts - share) < 1).all()  # floor or ceiling of the proportional share
    assert a.cohort_sizes == tuple(int(s) for s in cohort_sizes)


def test_each_unit_is_equally_likely_in_each_cohort():
    units = _groups({"F1": 7, "F2": 5})
    seeds = range(600)
    hits = np.zeros((len(units), 3))
    for seed in seeds:
        cohort = randomise_rollout(units, n_cohorts=3, strata=("facility",), seed=seed).cohort_of()
        hits[np.arange(len(units)), cohort.reindex(units.group).to_numpy() - 1] += 1
    # Per unit, counts over 3 cohorts are multinomial(600, 1/3) under a fair randomisation
    # (not independent across units, but each unit's own chi-square is exact in distribution).
    p_values = stats.chisquare(hits, axis=1).pvalue
    assert p_values.min() > 0.001 / len(units)  # Bonferroni over units at 0.1%


def test_permuted_blocks_hold_every_cohort_once():
    units = _groups({"F1": 10})
    a = randomise_rollout(units, n_cohorts=3, strata=("facility",), seed=9)
    by_block = a.assignment.groupby("block").cohort.apply(sorted)
    assert by_block.iloc[:3].tolist() == [[1, 2, 3]] * 3
    assert len(by_block.iloc[3]) == 1  # the leftover block


def test_member_rows_collapse_to_units_and_balance_is_over_members():
    members = pd.DataFrame(
        {
            "group": ["A"] * 3 + ["B"] * 4 + ["C"] * 3 + ["D"] * 4,
            "facility": ["F1"] * 7 + ["F2"] * 7,
            "tenure_years": [1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14],
            "role_level": ["charge_nurse", "director"] * 7,
            "employee_id": [f"E{i}" for i in range(14)],
        }
    )
    a = randomise_rollout(members, n_cohorts=2, strata=("facility",), seed=4)
    assert len(a.assignment) == 4 and a.assignment.n_rows.sum() == 14
    balance = a.balance.set_index(["covariate", "level"])
    assert "employee_id" not in balance.index.get_level_values(0)  # an identifier
    cohort = members.group.map(a.cohort_of())
    expected = members.groupby(cohort).tenure_years.mean()
    got = balance.loc[("tenure_years", ""), ["cohort_1", "cohort_2"]].to_numpy(dtype=float)
    assert np.allclose(got, expected.to_numpy())
    n_rows = balance.loc[("n", "rows"), ["cohort_1", "cohort_2"]].to_numpy(dtype=float)
    assert n_rows.sum() == 14
    assert balance.loc[("role_level", "director"), "max_smd"] >= 0


def test_unstratified_and_individual_units():
    leaders = pd.DataFrame({"employee_id": [f"E{i:03d}" for i in range(10)]})
    a = randomise_rollout(leaders, n_cohorts=2, strata=(), unit_col="employee_id", seed=1)
    assert a.allocation.stratum.tolist() == ["all", "total"]
    assert sorted(a.assignment.cohort.value_counts().tolist()) == [5, 5]
    rows = randomise_rollout(leaders, n_cohorts=5, strata=(), unit_col=None, seed=1)
    assert len(rows.assignment) == 10 and "unit" in rows.assignment


def test_one_stratum_with_a_single_group_and_one_stratum_only():
    a = randomise_rollout(_groups({"F1": 5, "F2": 1}), n_cohorts=3, strata=("facility",), seed=2)
    counts = _counts(a)
    assert counts[1].sum() == 1  # the lone group goes to one cohort
    totals = counts.sum(axis=0)
    assert sorted(totals.tolist()) == [2, 2, 2]  # and still balances the cohorts
    one = randomise_rollout(_groups({"F1": 8}), n_cohorts=4, strata=("facility",), seed=2)
    assert _counts(one).tolist() == [[2, 2, 2, 2]]


def test_fewer_groups_than_cohorts_is_a_clear_error():
    with pytest.raises(DataValidationError, match="2 unit\\(s\\) cannot fill 3 cohorts"):
        randomise_rollout(_groups({"F1": 2}), n_cohorts=3, strata=("facility",), seed=1)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n_cohorts": 1}, ConfigError, "at least 2 cohorts"),
        ({"n_cohorts": 2.5}, ConfigError, "n_cohorts must be an integer"),
        ({"seed": -1}, ConfigError, "non-negative integer"),
        ({"seed": True}, ConfigError, "non-negative integer"),
        ({"strata": "facility"}, ConfigError, "sequence of column names"),
        ({"strata": ("site",)}, DataValidationError, "no column\\(s\\) 'site'"),
        ({"unit_col": "team"}, DataValidationError, "no column\\(s\\) 'team'"),
        ({"cohort_sizes": [3, 2]}, ConfigError, "summing to the 6 units"),
        ({"cohort_sizes": [6, 0]}, ConfigError, "positive integers"),
        ({"cohort_sizes": [2, 2, 2]}, ConfigError, "must be 2 positive"),
        ({"covariates": ["age"]}, DataValidationError, "no covariate column"),
    ],
)
def test_bad_arguments_raise_coacheval_errors(kwargs, error, message):
    arguments = {"n_cohorts": 2, "strata": ("facility",), "unit_col": "group", "seed": 1}
    with pytest.raises(error, match=message):
        randomise_rollout(_groups({"F1": 3, "F2": 3}), **{**arguments, **kwargs})


def test_bad_data_raise_data_validation_errors():
    with pytest.raises(DataValidationError, match="empty"):
        randomise_rollout(pd.DataFrame({"group": []}), n_cohorts=2, strata=(), seed=1)
    with pytest.raises(DataValidationError, match="DataFrame"):
        randomise_rollout([1, 2, 3], n_cohorts=2, strata=(), seed=1)  # type: ignore[arg-type]
    missing = _groups({"F1": 4}).astype(object)
    missing.loc[2, "facility"] = None
    with pytest.raises(DataValidationError, match="without a unit id or stratum"):
        randomise_rollout(missing, n_cohorts=2, strata=("facility",), seed=1)
    mixed = pd.DataFrame({"group": ["A", "A", "B", "C"], "facility": ["F1", "F2", "F1", "F1"]})
    with pytest.raises(DataValidationError, match="differ between rows of the same unit"):
        randomise_rollout(mixed, n_cohorts=2, strata=("facility",), seed=1)


def test_write_and_read_back_and_detect_tampering(tmp_path):
    units = _groups({"F1": 7, "F2": 6})
    units["size"] = 4
    a = randomise_rollout(units, n_cohorts=3, strata=("facility",), seed=8)
    written = a.write(tmp_path / "first")
    again = randomise_rollout(units, n_cohorts=3, strata=("facility",), seed=8).write(
        tmp_path / "second"
    )
    for p, q in zip(written, again, strict=True):
        assert p.read_bytes() == q.read_bytes(), p.name  # byte-for-byte reproducible
    record = json.loads((tmp_path / "first" / "rollout.json").read_text())
    assert record["seed"] == 8 and record["strata"] == ["facility"]
    back = read_rollout(tmp_path / "first" / "assignment.csv")
    assert back.cohort_of().sort_index().equals(a.cohort_of().sort_index())
    assert back.record() == a.record()
    text = (tmp_path / "first" / "assignment.csv").read_text()
    (tmp_path / "first" / "assignment.csv").write_text(text.replace(",1,", ",2,", 1))
    with pytest.raises(ConfigError, match="does not match the SHA-256"):
        read_rollout(tmp_path / "first")
    with pytest.raises(ConfigError, match="cannot read the rollout"):
        read_rollout(tmp_path / "nowhere")


def test_summary_and_plot():
    a = randomise_rollout(_groups({"F1": 4, "F2": 4}), n_cohorts=2, strata=("facility",), seed=6)
    assert "seed 6" in a.summary() and "F2" in a.summary()
    figure = a.plot()
    assert figure.axes[0].get_title() == "Rollout order (seed 6)"
    assert a.to_dict()["table"][0].keys() >= {"group", "cohort", "stratum"}
    assert "<table" in a._repr_html_()


def test_cli_writes_the_files_and_keeps_leading_zeros(tmp_path):
    path = tmp_path / "groups.csv"
    pd.DataFrame(
        {"group": [f"00{i}" for i in range(9)], "facilities": ["F1"] * 5 + ["F2"] * 4}
    ).to_csv(path, index=False)
    result = CliRunner().invoke(
        rollout, [str(path), "--cohorts", "3", "--seed", "42", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 0, result.output
    assert "facilities" in result.output  # the stratum column found by name
    assignment = pd.read_csv(tmp_path / "r" / "assignment.csv", dtype=str)
    assert assignment.group.str.startswith("00").all()
    expected = randomise_rollout(
        pd.read_csv(path, dtype=str), n_cohorts=3, strata=("facilities",), seed=42
    )
    assert read_rollout(tmp_path / "r").cohort_of().to_dict() == expected.cohort_of().to_dict()


def test_cli_sizes_strata_none_and_errors(tmp_path):
    path = tmp_path / "groups.csv"
    pd.DataFrame({"group": list("ABCDEF"), "facility": list("xxxyyy")}).to_csv(path, index=False)
    args = [str(path), "--cohorts", "2", "--seed", "1", "--strata", "none", "--sizes", "2,4"]
    ok = CliRunner().invoke(rollout, [*args, "--out", str(tmp_path / "r")])
    assert ok.exit_code == 0, ok.output
    assert json.loads((tmp_path / "r" / "rollout.json").read_text())["cohort_sizes"] == [2, 4]
    for extra, message in (
        (["--cohorts", "9", "--seed", "1"], "cannot fill 9 cohorts"),
        (["--cohorts", "2", "--seed", "1", "--strata", "site"], "no column(s) 'site'"),
        (["--cohorts", "2", "--seed", "1", "--sizes", "a,b"], "whole numbers"),
    ):
        bad = CliRunner().invoke(rollout, [str(path), *extra, "--out", str(tmp_path / "x")])
        assert bad.exit_code == 2 and message in bad.output, bad.output
    missing_seed = CliRunner().invoke(rollout, [str(path), "--cohorts", "2"])
    assert missing_seed.exit_code == 2 and "--seed" in missing_seed.output
