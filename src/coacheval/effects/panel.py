"""The analysis panel: one row per leader and survey wave, with treatment timing and covariates.

Examples
--------
The panel has one dummy column ``role_<level>`` per role level:

>>> ROLE_LEVELS
('charge_nurse', 'assistant_nurse_manager', 'nurse_manager', 'director')
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from coacheval.measures.scoring import score_instruments

__all__ = ["ROLE_LEVELS", "survey_panel"]

#: Role levels of the HR roster, lowest first; :func:`survey_panel` adds a ``role_<level>``
#: dummy for each (analyses adjusting for role leave the first out as the reference).
ROLE_LEVELS = ("charge_nurse", "assistant_nurse_manager", "nurse_manager", "director")


def attendance_dose(study: object) -> pd.Series:
    """Share of planned program sessions each enrolled leader attended (0 to 1), by person."""
    tables = study.tables  # type: ignore[attr-defined]
    if not {"attendance", "sessions", "enrolment", "program_cohorts", "peer_groups"} <= set(tables):
        return pd.Series(dtype=float)
    sessions = tables["sessions"]
    program = sessions[sessions.phase.fillna("program") == "program"][["session_id", "group_id"]]
    attended = tables["attendance"].merge(program, on="session_id")
    attended = attended[attended.attended == "Y"].groupby("employee_id").size()
    enrolment = tables["enrolment"].merge(
        tables["program_cohorts"][["cohort_id", "planned_sessions"]], on="cohort_id"
    )
    planned = enrolment.set_index("employee_id").planned_sessions.astype(float)
    return (attended.reindex(planned.index, fill_value=0) / planned).clip(0, 1).rename("dose")


def survey_panel(study: object) -> pd.DataFrame:
    """Build the leader-by-wave panel of scale scores with treatment timing.

    Columns: ``person, period`` (1 = first wave), ``wave_id``, one score column per construct,
    ``group`` (the first period after the leader's cohort started; 0 = never enrolled),
    ``cohort_id``, ``peer_group``, ``unit_id``, ``facility_id``, ``department_id``, ``role_level``
    with one dummy per level (``role_<level>``), ``tenure_years`` (at the first wave) and ``dose``
    (share of planned sessions attended; 0 for comparison leaders). Respondents without an HR
    roster row (for example a row quarantined by validation) keep their scores, with unit, role
    (its dummies included) and tenure missing: analyses adjusting for them drop those leaders and
    count them.

    Examples
    --------
    >>> import tempfile
    >>> from coacheval.io.pseudonymise import PseudonymKey
    >>> from coacheval.io.study import load_study
    >>> from coacheval.simulate import simulate_health_system
    >>> folder = tempfile.mkdtemp()
    >>> _ = simulate_health_system(seed=4, n_leaders=200).write(folder)
    >>> panel = survey_panel(load_study(folder, key=PseudonymKey(b"k" * 32)))
    >>> sorted(panel.group.unique().tolist())
    [0, 2, 3, 4]
    """
    tables = study.tables  # type: ignore[attr-defined]
    responses = tables["survey_responses"]
    scores = score_instruments(responses, study.instruments)  # type: ignore[attr-defined]
    wide = scores.pivot_table(
        index=["person", "wave"], columns="construct", values="score", aggfunc="first"
    )
    wide = wide.reset_index().rename(columns={"wave": "wave_id"})
    waves = tables["survey_waves"].sort_values("open_date").reset_index(drop=True)
    waves["period"] = np.arange(1, len(waves) + 1)
    panel = wide.merge(waves[["wave_id", "period", "open_date"]], on="wave_id")
    roster = tables["hr_roster"].set_index("employee_id")
    first_open = waves.open_date.iloc[0]
    panel["group"] = 0
    panel["cohort_id"] = None
    panel["peer_group"] = None
    if "enrolment" in tables and "program_cohorts" in tables:
        enrolment = tables["enrolment"].merge(
            tables["program_cohorts"][["cohort_id", "start_date"]], on="cohort_id"
        )
        first = {
            row.cohort_id: int(waves.period[waves.open_date >= row.start_date].min())
            for row in tables["program_cohorts"].itertuples()
            if (waves.open_date >= row.start_date).any()
        }
        by_person = enrolment.set_index("employee_id")
        enrolled = panel.person.isin(by_person.index)
        panel.loc[enrolled, "cohort_id"] = panel.loc[enrolled, "person"].map(by_person.cohort_id)
        panel.loc[enrolled, "peer_group"] = panel.loc[enrolled, "person"].map(by_person.group_id)
        panel.loc[enrolled, "group"] = (
            panel.loc[enrolled, "cohort_id"].map(first).fillna(0).astype(int)
        )
    for column in ("unit_id", "facility_id", "department_id", "role_level"):
        panel[column] = panel.person.map(roster[column]) if column in roster else None
    known_role = panel.role_level.notna()
    for level in ROLE_LEVELS:  # a missing role stays missing, not the reference level
        panel[f"role_{level}"] = (panel.role_level == level).astype(float).where(known_role)
    panel["tenure_years"] = panel.person.map((first_open - roster.hire_date).dt.days / 365.25)
    dose = attendance_dose(study)
    panel["dose"] = panel.person.map(dose).fillna(0.0)
    panel = panel.rename(columns={"person": "person"}).drop(columns=["open_date"])
    return panel.sort_values(["person", "period"], ignore_index=True)
