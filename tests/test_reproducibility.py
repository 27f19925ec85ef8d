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


def test_fast_csv_writer_matches_pandas(default_system, tmp_path):
    """The column-wise writer produces exactly the bytes pandas' to_csv would."""
    from coacheval.simulate.writing import write_csv

    for name, frame in default_system.extracts.items():
        ours = tmp_path / f"{name}.csv"
        write_csv(frame, ours)
        expected = frame.to_csv(index=False, lineterminator="\n", na_rep="").encode("utf-8")
        assert ours.read_bytes() == expected, name


def test_fast_csv_writer_quotes_like_pandas(tmp_path):
    import pandas as pd

    from coacheval.simulate.writing import write_csv

    frame = pd.DataFrame(
        {
            "text": ["plain", "a, b", 'say "hi"', "two\nlines", "", None],
            "number": [1.5, float("nan"), 0.1, 1e-7, 2.0, 3.0],
            "count": pd.array([1, None, 3, 4, 5, 6], dtype="Int64"),
        }
    )
    path = tmp_path / "q.csv"
    write_csv(frame, path)
    assert path.read_bytes() == frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
