"""A :class:`Study`: the linked, typed, pseudonymised tables of one evaluation, loaded in one call."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from coacheval.errors import ConfigError
from coacheval.io.config import ExtractConfig
from coacheval.io.pseudonymise import PseudonymKey
from coacheval.io.validate import ValidationReport, validate_folder
from coacheval.measures.instruments import Instrument, load_instruments

__all__ = ["Study", "load_study", "resolve_key"]


@dataclass
class Study:
    """Validated extracts of one health system, ready for analysis.

    Attributes
    ----------
    tables
        Clean tables by name (``hr_roster``, ``enrolment``, ``survey_responses``, ...): typed,
        person identifiers pseudonymised, personal data dropped, with lineage columns ``_file``
        and ``_row`` pointing at the source rows. When the HR extract comes as monthly
        snapshots, ``employment_episodes`` and ``role_spells`` are built from them (see
        :func:`~coacheval.io.episodes.snapshots_to_episodes`).
    validation
        The full validation report (counts, quarantine, problems).
    instruments
        Instrument definitions used to read the survey.

    Examples
    --------
    :func:`load_study` returns one; here for a folder holding only a cohort table:

    >>> import tempfile
    >>> from coacheval.io.pseudonymise import PseudonymKey
    >>> folder = Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"cohort_id": ["C1", "C2"], "start_date": ["2024-01-08", "2024-09-02"],
    ...               "end_date": ["2024-06-28", "2025-02-01"]}).to_csv(
    ...     folder / "program_cohorts.csv", index=False)
    >>> study = load_study(folder, key=PseudonymKey(b"k" * 32))
    >>> study
    Study(program_cohorts=2, hr_roster=0)
    >>> study["program_cohorts"][["cohort_id", "start_date", "_file", "_row"]]
      cohort_id start_date                _file  _row
    0        C1 2024-01-08  program_cohorts.csv     2
    1        C2 2024-09-02  program_cohorts.csv     3
    >>> study.validation.unusable
    {'hr_roster': 'no HR roster or snapshot file was found'}
    """

    tables: dict[str, pd.DataFrame]
    validation: ValidationReport
    instruments: dict[str, Instrument] = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        """Return one clean table by name."""
        return self.tables[name]

    @classmethod
    def from_report(cls, report: ValidationReport) -> Study:
        """Build the study from a validation already made (see :func:`load_study`)."""
        instruments = load_instruments()
        tables = {n: t.clean for n, t in report.tables.items()}
        snapshots = report.tables.get("hr_snapshot")
        if snapshots is not None and len(snapshots.clean):
            from coacheval.io.episodes import snapshots_to_episodes

            result = snapshots_to_episodes(snapshots.clean)
            tables["employment_episodes"] = result.episodes
            tables["role_spells"] = result.role_spells
            snapshots.problems.extend(result.problems)
            snapshots.notes.append(
                f"{len(result.episodes):,} employment episodes and {len(result.role_spells):,} role spells "
                "built from the snapshots"
            )
        return cls(tables, report, instruments)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{n}={len(t):,}" for n, t in self.tables.items())
        return f"Study({sizes})"


def resolve_key(
    *, key_file: str | Path | None = None, config: ExtractConfig | None = None, create: bool = False
) -> PseudonymKey:
    """Find the pseudonym key: an explicit file, the config's file, then ``COACHEVAL_PSEUDONYM_KEY``.

    Raises
    ------
    ConfigError
        No key is available, with instructions.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "k")
    >>> resolve_key(key_file=path, create=True).fingerprint == resolve_key(key_file=path).fingerprint
    True
    """
    if key_file is not None:
        return PseudonymKey.from_file(key_file, create=create)
    if config is not None and config.pseudonym_key_file:
        base = Path(config.source).parent if config.source else Path()
        return PseudonymKey.from_file(base / config.pseudonym_key_file, create=create)
    env = PseudonymKey.from_env()
    if env is not None:
        return env
    raise ConfigError(
        "no pseudonym key: pass --key-file FILE (created if it does not exist; keep it safe and reuse "
        "it every quarter so pseudonyms link), set pseudonym_key_file in the config, or set "
        "COACHEVAL_PSEUDONYM_KEY"
    )


def load_study(
    folder: str | Path, *, key: PseudonymKey, config: ExtractConfig | str | Path | None = None
) -> Study:
    """Read, validate and link a folder of extracts.

    Parameters
    ----------
    folder
        Folder of extracts.
    key
        Pseudonym key.
    config
        An :class:`~coacheval.io.config.ExtractConfig` or the path of its YAML file.

    Returns
    -------
    Study

    Examples
    --------
    >>> import tempfile
    >>> from coacheval.simulate import simulate_health_system
    >>> folder = tempfile.mkdtemp()
    >>> _ = simulate_health_system(seed=4, n_leaders=120).write(folder)
    >>> study = load_study(folder, key=PseudonymKey(b"k" * 32))
    >>> "employee_name" in study["hr_roster"].columns
    False
    >>> bool(study["hr_roster"]["employee_id"].str.startswith("P").all())
    True
    """
    if config is not None and not isinstance(config, ExtractConfig):
        config = ExtractConfig.from_yaml(config)
    return Study.from_report(validate_folder(folder, key=key, config=config))
