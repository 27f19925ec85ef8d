"""The Study loader end to end: linked tables, episodes from snapshots, pseudonyms, privacy."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from coacheval.cli import main
from coacheval.errors import ConfigError
from coacheval.io.pseudonymise import PseudonymKey
from coacheval.io.study import load_study, resolve_key
from coacheval.simulate import simulate_health_system

KEY = PseudonymKey(b"study-test-key-0123456789")


@pytest.fixture(scope="module")
def snapshot_folder(tmp_path_factory):
    system = simulate_health_system(seed=21, n_leaders=250)
    folder = tmp_path_factory.mktemp("snap")
    system.write(folder, snapshots=True)
    return system, folder


def test_snapshots_become_the_roster_s_employment_episodes(snapshot_folder):
    _, folder = snapshot_folder
    study = load_study(folder, key=KEY)
    episodes = study["employment_episodes"].set_index("employee_id")
    roster = study["hr_roster"].set_index("employee_id")
    assert episodes.index.is_unique  # no rehires in the simulation: one episode each
    assert set(episodes.index) == set(roster.index)
    joined = episodes.join(roster[["hire_date", "termination_date", "termination_reason"]])
    assert (joined.start_date == joined.hire_date).all()
    left = joined.termination_date.notna()
    assert (joined.end_date[left] == joined.termination_date[left]).all()
    assert (joined.end_reason[left] == joined.termination_reason[left]).all()
    assert joined.censored[~left].all() and not joined.censored[left].any()
    assert set(study["role_spells"].employee_id) == set(roster.index)


def test_tables_link_through_pseudonyms(snapshot_folder):
    _, folder = snapshot_folder
    study = load_study(folder, key=KEY)
    roster_ids = set(study["hr_roster"].employee_id)
    for name in ("enrolment", "attendance", "survey_responses"):
        assert set(study[name].employee_id) <= roster_ids
    assert all(re.fullmatch(r"P[0-9A-F]{16}", i) for i in roster_ids)


def test_same_key_same_pseudonyms_across_extracts_other_key_others(tmp_path):
    first = simulate_health_system(seed=5, n_leaders=150)
    a, b = tmp_path / "q1", tmp_path / "q2"
    first.write(a)
    first.write(b, messy=True)  # the same people, exported another way next quarter
    config = b / "extracts.yaml"
    ids_a = set(load_study(a, key=KEY)["hr_roster"].employee_id)
    study_b = load_study(b, key=KEY, config=config)
    roster_b = study_b.validation.tables["hr_roster"]
    ids_b = set(roster_b.clean.employee_id) | set(roster_b.quarantine.employee_id)
    assert ids_a == ids_b  # quarantined rows carry pseudonyms too
    other = set(
        load_study(a, key=PseudonymKey(b"another-key-entirely-000"))["hr_roster"].employee_id
    )
    assert other.isdisjoint(ids_a)


def test_key_is_required_and_explained(monkeypatch):
    monkeypatch.delenv("COACHEVAL_PSEUDONYM_KEY", raising=False)
    with pytest.raises(ConfigError, match="no pseudonym key"):
        resolve_key()
    monkeypatch.setenv("COACHEVAL_PSEUDONYM_KEY", "an-environment-key-1234")
    assert resolve_key().fingerprint == PseudonymKey(b"an-environment-key-1234").fingerprint


def _raw_secrets(system) -> set[str]:
    hr = system.extracts["hr_roster"]
    values = set(hr.employee_id) | set(hr.work_email) | set(hr.work_phone)
    for name in hr.employee_name:
        last, _, first = name.partition(", ")
        values |= {name, f"{first} {last}"}
    values |= {m for m in hr.manager_id if m}
    return values


@pytest.mark.parametrize("messy", [False, True], ids=["clean", "messy"])
def test_no_raw_identifier_or_personal_data_reaches_the_outputs(tmp_path, messy, capsys):
    system = simulate_health_system(seed=8, n_leaders=200)
    extracts = tmp_path / "extracts"
    system.write(extracts, messy=messy, snapshots=not messy)
    args = [
        "validate",
        str(extracts),
        "--out",
        str(tmp_path / "out"),
        "--key-file",
        str(tmp_path / "key"),
    ]
    if messy:
        args += ["--config", str(extracts / "extracts.yaml")]
    with pytest.raises(SystemExit) as done:
        main(args)
    assert done.value.code == 0
    printed = capsys.readouterr()
    secrets = _raw_secrets(system)
    texts = [printed.out, printed.err] + [
        p.read_text(encoding="utf-8") for p in (tmp_path / "out").rglob("*") if p.is_file()
    ]
    for text in texts:
        tokens = set(re.split(r"[^0-9A-Za-z@._'+()-]+", text)) | set(re.findall(r"[^\n,\"]+", text))
        leaked = secrets & tokens
        assert not leaked, sorted(leaked)[:5]


def test_validate_cli_exit_codes(tmp_path, capsys):
    system = simulate_health_system(seed=9, n_leaders=150)
    system.write(tmp_path / "x")
    hr = (tmp_path / "x" / "hr_roster.csv").read_text(encoding="utf-8").splitlines()
    bad = [hr[0]] + [line.replace(",nurse_manager,", ",chief,") for line in hr[1:]]
    (tmp_path / "x" / "hr_roster.csv").write_text("\n".join(bad) + "\n", encoding="utf-8")
    with pytest.raises(SystemExit) as done:
        main(
            [
                "validate",
                str(tmp_path / "x"),
                "--out",
                str(tmp_path / "o"),
                "--key-file",
                str(tmp_path / "k"),
            ]
        )
    text = capsys.readouterr().out
    assert done.value.code == 2 and "not usable" in text and "hr_roster" in text
    with pytest.raises(SystemExit) as done:
        main(
            [
                "validate",
                str(tmp_path / "x"),
                "--out",
                str(tmp_path / "o"),
                "--key-file",
                str(tmp_path / "k"),
                "--max-quarantine-share",
                "0.5",
            ]
        )
    assert done.value.code == 0
    quarantine = pd.read_csv(tmp_path / "o" / "quarantine" / "hr_roster.csv")
    assert (quarantine.reasons.str.contains("enum")).all() and len(quarantine) > 0
    assert np.issubdtype(quarantine["row"].dtype, np.integer)


def test_validate_without_a_key_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("COACHEVAL_PSEUDONYM_KEY", raising=False)
    simulate_health_system(seed=9, n_leaders=100).write(tmp_path / "x")
    with pytest.raises(SystemExit) as done:
        main(["validate", str(tmp_path / "x"), "--out", str(tmp_path / "o")])
    assert done.value.code == 2
    assert "no pseudonym key" in capsys.readouterr().err
