"""The randomised part of an evaluation: a stepped-wedge rollout analysed as randomised.

When peer groups were randomised to cohorts (:func:`~coacheval.design.rollout.randomise_rollout`),
the evaluation keeps to the randomised leaders and compares, at each time, those whose group had
started with those whose group had **not yet started** — both chosen by the same volunteering,
so the selection that biases volunteer comparisons cancels. Everything is by assignment
(intention to treat): a leader's exposure starts at their group's assigned start, and leaders who
left while their group waited stay in the analysis as unexposed person-time.

* **Survey outcomes**: Callaway & Sant'Anna group-time ATTs with not-yet-treated comparisons
  (:func:`~coacheval.effects.did.group_time_att`) on the randomised leaders' panel, each leader's
  first treated wave taken from the assigned cohort. Cohorts that started after every other had
  started have no randomised comparison left and add only pre-period cells.
* **Retention**: the plan's retention analyses (time-varying Cox, Fine-Gray, rates, landmark
  comparisons) on the randomised leaders only, with exposure from the assigned start and
  follow-up from the randomisation date.

The randomisation record (``rollout/assignment.csv`` and ``rollout.json``, written when the
groups were randomised) is read, its SHA-256 checked, and every randomised leader's cohort in the
``rollout_assignment`` extract is checked against it, so the analysis provably uses the
assignment made by chance. Its seed is reported with every estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from coacheval.design.rollout import RolloutAssignment, read_rollout
from coacheval.errors import DataValidationError
from coacheval.evaluate.plan import DEFAULT_ASSIGNMENT, Plan

__all__ = ["RandomisedRollout", "randomised_rollout", "relabel_retention_rows"]


@dataclass(frozen=True)
class RandomisedRollout:
    """The randomised population of a study and the record of its randomisation.

    Attributes
    ----------
    record
        The randomisation as recorded (group-level assignment, seed, method).
    leaders
        One row per randomised leader (pseudonymised ``employee_id``, ``group_id``,
        ``stratum``, ``cohort_id``, ``randomised_date``, ``start_date``: the assigned start).
    study
        The study restricted to the randomised leaders with their assigned starts as
        ``enrolment`` (intention to treat); the other tables are unchanged.
    label
        ``"randomised rollout (stepped wedge), seed N"``.

    Examples
    --------
    >>> import pandas as pd
    >>> from coacheval.design.rollout import randomise_rollout
    >>> record = randomise_rollout(pd.DataFrame({"group": ["a", "b"]}), n_cohorts=2, strata=(),
    ...                            seed=8)
    >>> leaders = pd.DataFrame({"employee_id": ["p", "q"], "group_id": ["a", "b"],
    ...     "randomised_date": pd.to_datetime(["2022-05-02"] * 2)})
    >>> r = RandomisedRollout(record, leaders, None, "randomised rollout (stepped wedge), seed 8")
    >>> r.randomised_date.date().isoformat()
    '2022-05-02'

    :func:`randomised_rollout` builds one from a study.
    """

    record: RolloutAssignment
    leaders: pd.DataFrame
    study: Any
    label: str

    @property
    def randomised_date(self) -> pd.Timestamp:
        """Return the (earliest) randomisation date: the start of follow-up."""
        return pd.Timestamp(self.leaders.randomised_date.min())

    def retention_plan(self, plan: Plan) -> Plan:
        """Return the plan with retention follow-up from the randomisation date (or later).

        Examples
        --------
        >>> import pandas as pd
        >>> from coacheval.design.rollout import randomise_rollout
        >>> from coacheval.evaluate.plan import load_plan
        >>> rec = randomise_rollout(pd.DataFrame({"group": ["a", "b"]}), n_cohorts=2, strata=(),
        ...                         seed=8)
        >>> leaders = pd.DataFrame({"employee_id": ["p", "q"], "group_id": ["a", "b"],
        ...     "randomised_date": pd.to_datetime(["2022-05-02"] * 2)})
        >>> r = RandomisedRollout(rec, leaders, None, "x")
        >>> str(r.retention_plan(load_plan("randomised")).retention.window_start)
        '2022-05-02'
        """
        r = plan.retention
        if r is None:
            return plan
        start = self.randomised_date.date()
        if r.window_start is not None and r.window_start > start:
            start = r.window_start
        return plan.model_copy(update={"retention": r.model_copy(update={"window_start": start})})

    def provenance(self) -> dict[str, Any]:
        """Return the randomisation's record for ``results.json`` (seed, method, hashes, counts).

        Examples
        --------
        >>> import pandas as pd
        >>> from coacheval.design.rollout import randomise_rollout
        >>> rec = randomise_rollout(pd.DataFrame({"group": ["a", "b"]}), n_cohorts=2, strata=(),
        ...                         seed=8)
        >>> leaders = pd.DataFrame({"employee_id": ["p", "q"], "group_id": ["a", "b"],
        ...     "randomised_date": pd.to_datetime(["2022-05-02"] * 2)})
        >>> RandomisedRollout(rec, leaders, None, "x").provenance()["seed"]
        8
        """
        return {
            **self.record.record(),
            "randomised_leaders": len(self.leaders),
            "randomised_groups_in_extract": int(self.leaders.group_id.nunique()),
            "randomised_date": self.randomised_date.date().isoformat(),
            "label": self.label,
        }


def randomised_rollout(study: Any, plan: Plan) -> RandomisedRollout:
    """Read and check the randomisation of a study and restrict the study to it.

    Parameters
    ----------
    study
        A validated :class:`~coacheval.io.study.Study` with the ``rollout_assignment`` extract;
        the randomisation record is read from ``plan.design.assignment`` relative to the
        study's folder.
    plan
        A ``randomised_rollout`` plan.

    Returns
    -------
    RandomisedRollout

    Raises
    ------
    DataValidationError
        No ``rollout_assignment`` extract, cohorts missing from ``program_cohorts``, or leaders
        whose cohort differs from the randomisation record.
    ConfigError
        The randomisation record is missing or was altered after randomisation.

    Examples
    --------
    >>> import tempfile
    >>> from coacheval.io.pseudonymise import PseudonymKey
    >>> from coacheval.io.study import load_study
    >>> from coacheval.evaluate.plan import load_plan
    >>> from coacheval.simulate import simulate_health_system
    >>> folder = tempfile.mkdtemp()
    >>> _ = simulate_health_system(seed=4, n_leaders=300, rollout="randomised").write(folder)
    >>> r = randomised_rollout(load_study(folder, key=PseudonymKey(b"k" * 32)),
    ...                        load_plan("randomised"))
    >>> r.label
    'randomised rollout (stepped wedge), seed 4'
    >>> sorted(r.study.tables["enrolment"].cohort_id.unique())
    ['C1', 'C2', 'C3']
    """
    from coacheval.io.study import Study

    tables = study.tables
    leaders = tables.get("rollout_assignment")
    if leaders is None or leaders.empty:
        raise DataValidationError(
            "a randomised_rollout plan needs the rollout_assignment extract (one row per "
            "randomised leader: employee_id, group_id, stratum, cohort_id, randomised_date); "
            "none was found among the extracts"
        )
    cohorts = tables.get("program_cohorts")
    if cohorts is None or cohorts.empty:
        raise DataValidationError("a randomised_rollout needs the program_cohorts extract")
    folder = Path(study.validation.folder)
    record = read_rollout(folder / (plan.design.assignment or DEFAULT_ASSIGNMENT))
    starts = cohorts.set_index("cohort_id").start_date
    unknown = sorted(set(leaders.cohort_id) - set(starts.index))
    if unknown:
        raise DataValidationError(
            f"rollout_assignment: cohort(s) {', '.join(unknown)} are not in program_cohorts"
        )
    leaders = leaders.assign(start_date=leaders.cohort_id.map(starts).to_numpy())
    _check_against_record(leaders, record)

    keep = set(leaders.employee_id)
    view = dict(tables)
    view["enrolment"] = _itt_enrolment(leaders, tables.get("enrolment"))
    for name in ("hr_roster", "employment_episodes", "role_spells"):
        if name in view:
            view[name] = view[name][view[name].employee_id.isin(keep)].reset_index(drop=True)
    label = f"randomised rollout (stepped wedge), seed {record.seed}"
    restricted = Study(view, study.validation, study.instruments)
    return RandomisedRollout(record, leaders.reset_index(drop=True), restricted, label)


def _check_against_record(leaders: pd.DataFrame, record: RolloutAssignment) -> None:
    """Every randomised group's cohort must be the one the randomisation gave it."""
    key = record.unit_col or "unit"
    order = (
        leaders.drop_duplicates("cohort_id").sort_values("start_date").cohort_id.tolist()
    )  # cohort 1 starts first
    recorded = record.assignment.set_index(record.assignment[key].astype(str)).cohort
    if len(order) > record.n_cohorts:
        raise DataValidationError(
            f"rollout_assignment uses {len(order)} cohorts but the randomisation had "
            f"{record.n_cohorts}"
        )
    groups = leaders.drop_duplicates("group_id").set_index("group_id").cohort_id
    missing = sorted(set(groups.index) - set(recorded.index))
    if missing:
        raise DataValidationError(
            f"rollout_assignment: group(s) {', '.join(missing[:5])} are not in the "
            "randomisation record",
            failure_cases=leaders[leaders.group_id.isin(missing)],
        )
    position = {c: k + 1 for k, c in enumerate(order)}
    found = groups.map(position)
    differ = found != recorded.reindex(groups.index)
    if differ.any():
        bad = groups.index[differ.to_numpy()].tolist()
        raise DataValidationError(
            f"rollout_assignment: the cohort of group(s) {', '.join(bad[:5])} differs from the "
            "randomisation record (the analysis must use the cohorts assigned by chance)",
            failure_cases=leaders[leaders.group_id.isin(bad)],
        )
    several = leaders.groupby("group_id").cohort_id.nunique() > 1
    if several.any():
        raise DataValidationError(
            "rollout_assignment: members of group(s) "
            f"{', '.join(several.index[several].tolist()[:5])} have different cohorts"
        )


def _itt_enrolment(leaders: pd.DataFrame, enrolment: pd.DataFrame | None) -> pd.DataFrame:
    """Enrolment by assignment: every randomised leader from their group's assigned start.

    Program status (completed, withdrew) is carried over from the real enrolment where the
    leader has one, so per-protocol style splits still work; leaders who left before their start
    have none.
    """
    itt = pd.DataFrame(
        {
            "employee_id": leaders.employee_id.to_numpy(),
            "cohort_id": leaders.cohort_id.to_numpy(),
            "group_id": leaders.group_id.to_numpy(),
            "enrol_date": pd.to_datetime(leaders.start_date).to_numpy(),
        }
    )
    if enrolment is not None and len(enrolment):
        carried = [c for c in ("status", "status_date", "withdrawal_reason") if c in enrolment]
        status = enrolment.drop_duplicates("employee_id").set_index("employee_id")[carried]
        itt = itt.join(status, on="employee_id")
    return itt


def relabel_retention_rows(rows: list[dict[str, Any]], label: str) -> list[dict[str, Any]]:
    """Say in each retention row that it compares randomised cohorts by assignment.

    Examples
    --------
    >>> rows = [{"estimand": "hazard ratio, enrolled vs not (yet) enrolled", "design": "Cox"}]
    >>> relabel_retention_rows(rows, "randomised rollout (stepped wedge), seed 3")[0]["estimand"]
    'hazard ratio, started vs not yet started (randomised cohorts, by assignment)'
    """
    out = []
    for row in rows:
        row = dict(row)
        row["estimand"] = (
            str(row.get("estimand", ""))
            .replace(
                "enrolled vs not (yet) enrolled",
                "started vs not yet started (randomised cohorts, by assignment)",
            )
            .replace("ever vs never enrolled", "ever started vs not (randomised leaders)")
        )
        row["design"] = f"{label}; {row.get('design', '')}"
        out.append(row)
    return out
