"""Same seed, same bytes; another seed, other data."""

from __future__ import annotations

import pytest

from coacheval.cli import main


def _simulate(out, seed, *extra):
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "--out", str(out), "--seed", str(seed), "--leaders", "300", *extra])
    assert exit_info.value.code == 0
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


@pytest.mark.parametrize("mode", [[], ["--messy"]], ids=["clean", "messy"])
def test_same_seed_gives_byte_identical_files(tmp_path, mode, capsys):
    first = _simulate(tmp_path / "a", 42, *mode)
    second = _simulate(tmp_path / "b", 42, *mode)
    capsys.readouterr()
    assert first.keys() == second.keys()
    for name in first:
        assert first[name] == second[name], name


def test_another_seed_gives_different_data(tmp_path, capsys):
    first = _simulate(tmp_path / "a", 42)
    other = _simulate(tmp_path / "b", 43)
    capsys.readouterr()
    for name in ("hr_roster.csv", "survey_responses.csv", "enrolment.csv", "truth.json"):
        assert first[name] != other[name], name
