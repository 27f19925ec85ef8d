"""The simulator's randomised rollout (``rollout="randomised"``), and the default left untouched.

The default (volunteer) system must stay byte-identical: truth.json records the SHA-256 of every
extract, so one digest of it, taken with the code before the rollout option existed (commit
58f8535, numpy 2.4.6, pandas 2.3.3, scipy 1.17.1), pins every byte of a small system; other
library versions may legitimately change floating-point output, so the check is skipped there.
Re-pinned when employee ids became a function of the person (stable across extract dates): the
extracts of that system are then the same as at 58f8535 once ids are relabelled person by person,
except that hr_roster and survey_responses, sorted by id, list their rows in another order.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import scipy

from coacheval.design.rollout import randomise_rollout, read_rollout
from coacheval.errors import ConfigError
from coacheval.io.pseudonymise import PseudonymKey
from coacheval.io.study import load_study
from coacheval.simulate import SimulationConfig, simulate_health_system
from coacheval.simulate.config import ROLE_LEVELS

BEFORE_OPTION_TRUTH_SHA256 = "5f8caa5c5c074bc83d3916e4115842dbde4bbf9b63b9fa78212497f17cf199b3"
VERSIONS = ("2.4.6", "2.3.3", "1.17.1")


@pytest.fixture(scope="module")
def randomised():
    return simulate_health_system(seed=7, n_leaders=1000, rollout="randomised")


@pytest.fixture(scope="module")
def written(randomised, tmp_path_factory):
    folder = tmp_path_factory.mktemp("randomised")
    randomised.write(folder)
    return folder


@pytest.mark.skipif(
    (np.__version__, pd.__version__, scipy.__version__) != VERSIONS,
    reason="the pinned digest was taken with numpy 2.4.6, pandas 2.3.3, scipy 1.17.1",
)
def test_default_system_is_byte_identical_to_before_the_option(tmp_path):
    simulate_health_system(seed=5, n_leaders=120, n_cohorts=4).write(tmp_path)
    digest = hashlib.sha256((tmp_path / "truth.json").read_bytes()).hexdigest()
    assert digest == BEFORE_OPTION_TRUTH_SHA256


def test_volunteer_is_the_default_and_is_not_recorded(tmp_path):
    default = simulate_health_system(seed=9, n_leaders=150, unit_staffing=False)
    explicit = simulate_health_system(
        seed=9, n_leaders=150, unit_staffing=False, rollout="volunteer"
    )
    a = default.write(tmp_path / "a")
    b = explicit.write(tmp_path / "b")
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert "rollout" not in default.truth and "rollout" not in default.truth["config"]
    assert default.program.rollout is None and "rollout_assignment" not in default.extracts
    assert not (tmp_path / "a" / "rollout").exists()


def test_config_checks():
    with pytest.raises(ConfigError, match="rollout must be one of volunteer, randomised"):
        SimulationConfig(rollout="random")
    with pytest.raises(ConfigError, match="needs n_cohorts >= 2"):
        SimulationConfig(rollout="randomised", n_cohorts=1)
    with pytest.raises(ConfigError, match="rollout must be text"):
        SimulationConfig().with_overrides({"program": {"rollout": 1}})
    cfg = SimulationConfig.from_mapping({"program": {"rollout": "randomised"}})
    assert cfg.to_dict()["rollout"] == "randomised"
    assert SimulationConfig.from_mapping(cfg.to_dict()) == cfg


def test_too_few_groups_for_the_cohorts_is_a_clear_error():
    with pytest.raises(ConfigError, match="peer group\\(s\\) could be formed"):
        simulate_health_system(
            seed=1, n_leaders=20, n_cohorts=6, rollout="randomised", unit_staffing=False
        )


def test_everyone_is_recruited_at_once_by_the_selection_model(randomised):
    cfg = randomised.config
    program = randomised.program
    r = program.randomised
    people = program.people.set_index("pid")
    day = int(r.randomised_day.iloc[0])
    assert day == int(program.cohorts.recruitment_day.iloc[0])
    capacity = max(6, round(cfg.cohort_share * cfg.n_leaders))
    assert 0.95 * cfg.n_cohorts * capacity <= len(r) <= cfg.n_cohorts * capacity
    hire = people.hire_day.loc[r.pid].to_numpy()
    assert (hire <= day - cfg.min_tenure_days).all()
    assert (people.exit_day.loc[r.pid].to_numpy() > day).all()
    # Volunteers are selected on engagement: more engaged than the eligible who were not chosen.
    eligible = people[
        (people.hire_day <= day - cfg.min_tenure_days)
        & (people.exit_day > day)
        & ~people.index.isin(r.pid)
    ]
    assert people.z_work_engagement.loc[r.pid].mean() - eligible.z_work_engagement.mean() > 0.2


def test_groups_are_formed_within_facility_and_follow_the_rules(randomised):
    program = randomised.program
    r = program.randomised
    seats = randomised.organisation.seats
    seat = program.people.set_index("pid").seat.loc[r.pid].to_numpy()
    members = r.assign(
        level=seats.role_rank.to_numpy()[seat], department=seats.department.to_numpy()[seat]
    )
    by_group = members.groupby("group_label")
    assert (by_group.facility_id.nunique() == 1).all()
    assert by_group.size().between(3, 4).all()
    assert (by_group["level"].max() - by_group["level"].min() <= 1).all()
    assert (by_group.department.nunique() >= 2).all()
    prefix = members.group_label.str.split("-P").str[0]
    assert (prefix == members.facility_id).all()
    assert (by_group.cohort.nunique() == 1).all()


def test_groups_are_randomised_with_the_recorded_seed_and_balanced(randomised):
    program = randomised.program
    record = program.rollout
    assert record.seed == randomised.config.seed and record.strata == ("facility_id",)
    counts = record.allocation[record.allocation.stratum != "total"].iloc[:, 1:4].to_numpy()
    assert (counts.max(axis=1) - counts.min(axis=1) <= 1).all()
    # Re-running the randomisation on the groups reproduces it.
    r = program.randomised
    seat = program.people.set_index("pid").seat.loc[r.pid].to_numpy()
    units = pd.DataFrame(
        {
            "group": r.group_label.to_numpy(),
            "facility_id": r.facility_id.to_numpy(),
            "role_level": randomised.organisation.seats.role_level.to_numpy()[seat],
        }
    )
    again = randomise_rollout(
        units, n_cohorts=3, strata=("facility_id",), unit_col="group", seed=record.seed
    )
    assert again.cohort_of().sort_index().equals(record.cohort_of().sort_index())
    assert (r.group_label.map(record.cohort_of()) - 1).tolist() == r.cohort.tolist()


def test_cohorts_are_balanced_on_the_unmeasured_trait():
    """Randomisation balances what volunteering selects on: the latent engagement trait."""
    system = simulate_health_system(
        seed=21, n_leaders=3000, rollout="randomised", unit_staffing=False
    )
    r = system.program.randomised
    trait = system.program.people.set_index("pid").z_work_engagement.loc[r.pid].to_numpy()
    means = pd.Series(trait).groupby(r.cohort.to_numpy()).mean()
    sizes = r.groupby("cohort").size().to_numpy()
    sd = trait.std(ddof=1)
    # Each pairwise difference of means has SE sd*sqrt(1/n_i + 1/n_j) ~ 0.08 sd with ~300 per
    # cohort; 3.5 SE bounds all three pairs with family-wise error below 0.2%.
    for i in range(3):
        for j in range(i + 1, 3):
            se = sd * np.sqrt(1 / sizes[i] + 1 / sizes[j])
            assert abs(means.iloc[i] - means.iloc[j]) < 3.5 * se


def test_waiting_leaders_start_at_their_assigned_start_or_never(randomised):
    program = randomised.program
    r = program.randomised.set_index("pid")
    people = program.people.set_index("pid")
    start = program.cohorts.start_day.to_numpy()[r.cohort.to_numpy()]
    exit_day = people.exit_day.loc[r.index].to_numpy()
    assert np.array_equal(r.started.to_numpy(), exit_day > start)
    assert (~r.started).sum() > 0  # some left while their group waited
    # Exposure (the hazard model's enrolment) is the assigned start, for everyone randomised.
    assert np.array_equal(people.enrol_day.loc[r.index].to_numpy(), start.astype(float))
    enrolment = program.enrolment.set_index("pid")
    assert set(enrolment.index) == set(r.index[r.started])
    assert np.array_equal(
        enrolment.enrol_day.to_numpy(),
        program.cohorts.start_day.to_numpy()[enrolment.cohort.to_numpy()],
    )
    # Later cohorts wait longer, so more of them leave before starting.
    left = 1 - r.groupby("cohort").started.mean()
    assert left.iloc[0] <= left.iloc[-1]


def test_extracts_and_record_are_written_and_link(randomised, written):
    extract = randomised.extracts["rollout_assignment"]
    r = randomised.program.randomised
    assert len(extract) == len(r) and extract.employee_id.is_unique
    assert list(extract.columns) == [
        "employee_id",
        "group_id",
        "stratum",
        "cohort_id",
        "randomised_date",
    ]
    groups = randomised.extracts["peer_groups"]
    met = extract[extract.group_id.isin(groups.group_id)]
    cohort_of_group = groups.set_index("group_id").cohort_id
    assert (met.cohort_id.to_numpy() == cohort_of_group.loc[met.group_id].to_numpy()).all()
    enrolment = randomised.extracts["enrolment"]
    assert set(enrolment.employee_id) <= set(extract.employee_id)
    assert (
        enrolment.group_id.to_numpy()
        == extract.set_index("employee_id").group_id.loc[enrolment.employee_id].to_numpy()
    ).all()
    record = read_rollout(written / "rollout")
    assert set(record.assignment.group) == set(extract.group_id)
    truth = json.loads((written / "truth.json").read_text())
    for name in ("rollout/assignment.csv", "rollout/rollout.json", "rollout_assignment.csv"):
        digest = hashlib.sha256((written / name).read_bytes()).hexdigest()
        assert truth["files"][name] == digest


def test_randomised_system_validates_cleanly(written):
    study = load_study(written, key=PseudonymKey(b"r" * 32))
    table = study.validation.tables["rollout_assignment"]
    assert table.rows_quarantined == 0 and table.rows_clean > 250
    assert study.validation.usable and "rollout" not in study.validation.ignored_files
    clean = study.tables["rollout_assignment"]
    assert clean.employee_id.isin(study.tables["hr_roster"].employee_id).all()
    assert pd.api.types.is_datetime64_any_dtype(clean.randomised_date)


def test_same_seed_same_bytes_and_messy_mode(tmp_path):
    def files(folder, **kwargs):
        system = simulate_health_system(
            seed=3, n_leaders=300, rollout="randomised", unit_staffing=False
        )
        paths = system.write(folder, **kwargs)
        return {p.relative_to(folder).as_posix(): p.read_bytes() for p in paths}

    first, second = files(tmp_path / "a"), files(tmp_path / "b")
    assert first == second and "rollout/rollout.json" in first
    messy = files(tmp_path / "m", messy=True)
    assert messy["rollout_assignment.csv"] == first["rollout_assignment.csv"]
    study = load_study(
        tmp_path / "m", key=PseudonymKey(b"r" * 32), config=tmp_path / "m" / "extracts.yaml"
    )
    assert study.validation.tables["rollout_assignment"].rows_quarantined == 0


def test_truth_holds_the_randomised_estimands(randomised):
    t = randomised.truth["rollout"]
    assert t["design"] == "randomised rollout (stepped wedge)" and t["seed"] == 7
    assert t["randomised_leaders"] == len(randomised.program.randomised)
    assert sum(c["leaders"] for c in t["cohorts"]) == t["randomised_leaders"]
    assert sum(c["left_before_start"] for c in t["cohorts"]) == int(
        (~randomised.program.randomised.started).sum()
    )
    assert t["retention"]["hazard_ratio"] == randomised.config.voluntary_hr
    cells = pd.DataFrame(t["survey_effects"]["realised_att"])
    weights = t["survey_effects"]["cohort_weights"]
    waves = randomised.surveys.waves.set_index("wave_id").open_day
    last_start = randomised.program.cohorts.start_day.max()
    assert (cells.identified == (waves.loc[cells.wave_id].to_numpy() < last_start)).all()
    for construct, target in t["survey_effects"]["target_att"].items():
        c = cells[(cells.construct == construct) & cells.identified]
        w = c.cohort_id.map(weights).to_numpy(dtype=float)
        assert target == pytest.approx(np.average(c.att, weights=w), abs=1e-9)
    # The program has an effect on engagement (d = 0.30) in the identified cells.
    assert t["survey_effects"]["target_att"]["work_engagement"] > 0
    assert set(ROLE_LEVELS) >= set(randomised.extracts["hr_roster"].role_level.unique())
