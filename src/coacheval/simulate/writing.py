"""Write a simulated system to disk, byte-for-byte reproducibly.

Called by ``SimulatedSystem.write``: the module has no public API, so its ``__all__`` is empty.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from coacheval.simulate.system import SimulatedSystem, dump_json, file_digest

__all__: list[str] = []

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
    "unit_staffing": "unit_staffing.csv",
    "rollout_assignment": "rollout_assignment.csv",
}
"""File of each clean extract; ``unit_staffing`` and ``rollout_assignment`` are optional."""

ROLLOUT_FOLDER = "rollout"
"""Folder of a randomised rollout's record (assignment, allocation, balance, ``rollout.json``)."""


_SMALL_INTS = np.array([str(i) for i in range(1000)], dtype=object)
_NEEDS_QUOTES = (",", '"', "\n", "\r")


def _int_cells(values: np.ndarray) -> np.ndarray:
    if len(values) and values.min() >= 0 and values.max() < len(_SMALL_INTS):
        return _SMALL_INTS[values]  # survey codes: a table lookup beats int -> str conversion
    return values.astype(str).astype(object)


def _csv_cells(column: pd.Series) -> np.ndarray:
    """Render one column as CSV cells, as pandas' ``to_csv`` would (blank for missing)."""
    if pd.api.types.is_integer_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
        missing = column.isna().to_numpy()
        cells = _int_cells(column.to_numpy(dtype=np.int64, na_value=0))
        if missing.any():
            cells = cells.copy()
            cells[missing] = ""
        return cells
    values = column.to_numpy()
    if pd.api.types.is_float_dtype(column.dtype):
        return np.array(["" if np.isnan(v) else repr(float(v)) for v in values], dtype=object)
    missing = pd.isna(values)
    cells = values.astype(object)
    if missing.any():
        cells = cells.copy()
        cells[missing] = ""
    if pd.api.types.infer_dtype(cells, skipna=False) != "string":
        cells = np.array([str(v) for v in cells], dtype=object)
    joined = "\x00".join(cells)
    if any(ch in joined for ch in _NEEDS_QUOTES):
        quote = np.array([any(ch in v for ch in _NEEDS_QUOTES) for v in cells], dtype=bool)
        cells = cells.copy()
        cells[quote] = ['"' + v.replace('"', '""') + '"' for v in cells[quote]]
    return cells


def write_csv(frame: pd.DataFrame, path: Path, *, encoding: str = "utf-8") -> None:
    """Write a CSV with Unix line endings and blank cells for missing values.

    The output is byte-for-byte what ``DataFrame.to_csv(index=False)`` writes with Unix line
    ends, produced column-wise so that consortium-sized extracts are written quickly.
    """
    header = ",".join(_csv_cells(pd.Series(list(frame.columns), dtype=object)))
    columns = [_csv_cells(frame[c]) for c in frame.columns]
    body = "\n".join(map(",".join, zip(*columns, strict=True)))
    text = header + "\n" + (body + "\n" if len(frame) else "")
    path.write_bytes(text.encode(encoding))


def snapshot_frames(system: SimulatedSystem) -> dict[str, pd.DataFrame]:
    """Monthly HR headcount snapshots, as an HR system would export them at each month end.

    Each snapshot lists the leaders employed on that day (Active) and those whose termination
    fell in the month (Terminated, with date and reason), with the columns of ``hr_snapshot``.

    Returns
    -------
    dict of str to DataFrame
        ``{"hr_snapshot_YYYY-MM.csv": frame}`` for every month end in the window.
    """
    hr = system.extracts["hr_roster"]
    cfg = system.config
    hire = pd.to_datetime(hr.hire_date)
    term = pd.to_datetime(hr.termination_date.replace("", None))
    month_ends = pd.date_range(cfg.window_start, cfg.extract_date, freq="ME")
    columns = [
        "employee_id",
        "employee_name",
        "hire_date",
        "termination_date",
        "termination_reason",
        "employment_status",
        "job_code",
        "role_level",
        "facility_id",
        "department_id",
        "unit_id",
        "fte",
        "manager_id",
    ]
    frames = {}
    for i, day in enumerate(month_ends):
        start = month_ends[i - 1] if i else pd.Timestamp(cfg.window_start) - pd.Timedelta(days=1)
        active = (hire <= day) & (term.isna() | (term > day))
        left = term.notna() & (term > start) & (term <= day)
        snap = hr.loc[active | left, columns].copy()
        snap["employment_status"] = np.where(active[active | left], "Active", "Terminated")
        snap.loc[active[active | left].to_numpy(), ["termination_date", "termination_reason"]] = ""
        snap.insert(0, "snapshot_date", day.date().isoformat())
        frames[f"hr_snapshot_{day:%Y-%m}.csv"] = snap.reset_index(drop=True)
    return frames


def write_system(
    system: SimulatedSystem, out: Path, *, messy: bool, snapshots: bool = False
) -> list[Path]:
    """Write the extracts (clean or messy), optionally monthly snapshots, and ``truth.json``."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    problems: list[dict[str, object]] = []
    if messy:
        from coacheval.simulate.messy import write_messy

        written, problems = write_messy(system, out)
        for name in ("unit_staffing", "rollout_assignment"):  # messy mode leaves these clean
            if name in system.extracts:
                path = out / CLEAN_FILES[name]
                write_csv(system.extracts[name], path)
                written.append(path)
    else:
        for name, filename in CLEAN_FILES.items():
            if name not in system.extracts:
                continue
            path = out / filename
            write_csv(system.extracts[name], path)
            written.append(path)
    if snapshots:
        for filename, frame in snapshot_frames(system).items():
            write_csv(frame, out / filename)
            written.append(out / filename)
    if system.program.rollout is not None:
        written.extend(system.program.rollout.write(out / ROLLOUT_FOLDER))
    truth = dict(system.truth)
    truth["mode"] = "messy" if messy else "clean"
    truth["files"] = {p.relative_to(out).as_posix(): file_digest(p) for p in written}
    truth["injected_problems"] = problems
    truth_path = out / "truth.json"
    dump_json(truth, truth_path)
    return [*written, truth_path]
