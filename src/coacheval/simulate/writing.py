"""Write a simulated system to disk, byte-for-byte reproducibly."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from coacheval.simulate.system import SimulatedSystem, dump_json, file_digest

CLEAN_FILES = {
    "hr_roster": "hr_roster.csv",
    "program_cohorts": "program_cohorts.csv",
    "peer_groups": "peer_groups.csv",
    "enrolment": "enrolment.csv",
    "sessions": "sessions.csv",
    "attendance": "attendance.csv",
    "survey_waves": "survey_waves.csv",
    "survey_responses": "survey_responses.csv",
    "program_costs": "program_costs.csv",
}


def write_csv(frame: pd.DataFrame, path: Path, *, encoding: str = "utf-8") -> None:
    """Write a CSV with Unix line endings and blank cells for missing values."""
    frame.to_csv(path, index=False, lineterminator="\n", encoding=encoding, na_rep="")


def write_system(system: SimulatedSystem, out: Path, *, messy: bool) -> list[Path]:
    """Write the extracts (clean or messy) and ``truth.json`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    problems: list[dict[str, object]] = []
    if messy:
        from coacheval.simulate.messy import write_messy

        written, problems = write_messy(system, out)
    else:
        for name, filename in CLEAN_FILES.items():
            path = out / filename
            write_csv(system.extracts[name], path)
            written.append(path)
    truth = dict(system.truth)
    truth["mode"] = "messy" if messy else "clean"
    truth["files"] = {p.name: file_digest(p) for p in written}
    truth["injected_problems"] = problems
    truth_path = out / "truth.json"
    dump_json(truth, truth_path)
    return [*written, truth_path]
