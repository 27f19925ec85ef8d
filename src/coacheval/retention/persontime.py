"""Counting-process person-time for retention analyses, built from the validated HR extract.

Each employment spell (a roster row, or an episode built from HR snapshots, so rehires give
several) becomes one or more ``(start, stop]`` rows:

* **Observation window.** A spell is followed from ``max(hire, window_start)`` (delayed entry for
  leaders already employed when observation starts) to ``min(termination, extract_date)``
  (administrative censoring at the extract date: an exit after it is not counted).
* **Time-varying exposure.** A spell is split at the enrolment date: rows before it are
  unexposed, rows from it on are exposed for the rest of employment, whatever happens in the
  program afterwards (intention to treat). A leader who enrols late is counted as unexposed until
  they enrol, so the time they had to survive to enrol is not credited to coaching (the
  immortal-time bias of "ever enrolled" comparisons). A second split at the completion date gives
  ``completed`` for per-protocol style secondary analyses.
* **Time scale.** ``"tenure"`` (years since hire: the hazard of leaving depends strongly on
  tenure, so this is the default) or ``"calendar"`` (years since ``window_start``, with tenure at
  entry as a covariate).
* **Competing events.** The termination reason (and type) is mapped to a cause — voluntary,
  involuntary, retirement, other — by ordered, configurable rules (:data:`DEFAULT_CAUSE_RULES`).

Every spell in the extract is either used or listed in ``excluded`` with its reason, and
:attr:`RetentionData.flow` counts both, so the numbers add up.

Examples
--------
>>> import pandas as pd
>>> roster = pd.DataFrame({
...     "employee_id": ["a", "b", "c"],
...     "hire_date": pd.to_datetime(["2015-03-01", "2020-06-01", "2022-01-10"]),
...     "termination_date": pd.to_datetime([None, "2023-05-31", None]),
...     "termination_reason": [None, "Resigned - Relocation", None],
...     "termination_type": [None, "Voluntary", None],
...     "role_level": ["nurse_manager", "charge_nurse", "director"],
... })
>>> enrolment = pd.DataFrame({"employee_id": ["b"], "enrol_date": pd.to_datetime(["2022-07-01"]),
...                           "status": ["completed"], "status_date": pd.to_datetime(["2023-03-31"]),
...                           "group_id": ["G1"]})
>>> data = build_person_time(roster, enrolment, window_start="2021-01-01",
...                          extract_date="2024-12-31")

Leader b enrolled on 2022-07-01 and completed on 2023-03-31, so their spell is split twice
(``completed`` is 1 on the last piece); a and c were never enrolled.

>>> data.rows[["person", "start", "stop", "exposed", "event", "cause"]].round(2)
  person  start  stop  exposed  event      cause
0      a   5.84  9.84        0      0
1      b   0.59  2.08        0      0
2      b   2.08  2.83        1      0
3      b   2.83  3.00        1      1  voluntary
4      c   0.00  2.97        0      0

The causes, and the first rules that map a termination reason to one:

>>> from coacheval.retention.persontime import CAUSES, DEFAULT_CAUSE_RULES
>>> CAUSES
('voluntary', 'involuntary', 'retirement', 'other')
>>> list(DEFAULT_CAUSE_RULES), DEFAULT_CAUSE_RULES["retirement"]
(['retirement', 'other', 'involuntary', 'voluntary'], ('retire',))
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from coacheval.errors import ConfigError, DataValidationError

__all__ = [
    "CAUSES",
    "DEFAULT_CAUSE_RULES",
    "RetentionData",
    "TimeScale",
    "build_person_time",
    "person_time_from_study",
]

#: Time scale of the ``(start, stop]`` rows: ``"tenure"`` (years since hire) or ``"calendar"``
#: (years since ``window_start``).
TimeScale = Literal["tenure", "calendar"]
DAYS_PER_YEAR = 365.25
#: The causes of exit, in the order tables list them (an unmatched reason is ``"unknown"``).
CAUSES = ("voluntary", "involuntary", "retirement", "other")
UNKNOWN_CAUSE = "unknown"

DEFAULT_CAUSE_RULES: dict[str, tuple[str, ...]] = {
    "retirement": (r"retire",),
    "other": (r"death|deceased|died|disab",),
    "involuntary": (
        r"terminat|dismiss|discharg|eliminat|lay-?off|reduction in force|redundan|involuntary",
    ),
    "voluntary": (r"resign|quit|voluntary|left for|career|relocat",),
}
"""Ordered rules mapping a termination reason (regular expressions, case-insensitive) to a cause.

The first matching cause wins, so "Retirement" is a retirement even though HR types it as
voluntary. A reason no rule matches falls back to ``termination_type`` (Voluntary → voluntary,
Involuntary → involuntary, Other → other); with neither, the cause is ``"unknown"``.
"""

_TYPE_FALLBACK = {"voluntary": "voluntary", "involuntary": "involuntary", "other": "other"}

_COVARIATES = (
    "role_level",
    "facility_id",
    "department_id",
    "unit_id",
    "fte",
    "age_band",
    "gender",
    "highest_degree",
)


@dataclass(frozen=True)
class RetentionData:
    """Counting-process person-time with time-varying exposure and competing causes.

    Attributes
    ----------
    rows
        One row per person-time interval: ``person, spell, start, stop`` (years on the chosen
        time scale; at risk on ``(start, stop]``), ``event`` (1 when the spell ends in a
        termination at ``stop``), ``cause`` (``''`` when censored), ``exposed`` (enrolled on or
        before ``start``), ``completed``, ``start_date, stop_date, hire_date, enrol_date``,
        ``tenure_at_entry`` (years), ``peer_group`` (the enrolment's group; ``solo-<person>`` for
        everyone else, so that clustering by peer group treats them as their own clusters), and
        the roster covariates that are present (role level, unit, facility, department, FTE,
        age band, ...).
    excluded
        Spells not used, with ``person``, ``reason`` and the source row where known.
    flow
        Counts: spells in the extract, excluded by reason, used, people, person-years by
        exposure, and exits by cause.
    time_scale, window_start, extract_date
        The choices the rows were built with.

    Examples
    --------
    Returned by :func:`build_person_time` (and :func:`person_time_from_study`):

    >>> import pandas as pd
    >>> from coacheval.retention.persontime import build_person_time
    >>> roster = pd.DataFrame({
    ...     "employee_id": ["a", "b", "c", "d"],
    ...     "hire_date": pd.to_datetime(["2015-03-01", "2020-06-01", "2022-01-10", "2026-02-01"]),
    ...     "termination_date": pd.to_datetime([None, "2023-05-31", "2024-06-30", None]),
    ...     "termination_reason": [None, "Resigned - Relocation", "Retirement", None],
    ...     "termination_type": [None, "Voluntary", "Voluntary", None],
    ... })
    >>> enrolment = pd.DataFrame({"employee_id": ["b"],
    ...                           "enrol_date": pd.to_datetime(["2022-07-01"])})
    >>> data = build_person_time(roster, enrolment, window_start="2021-01-01",
    ...                          extract_date="2024-12-31")
    >>> data.time_scale, data.window_start, data.extract_date
    ('tenure', Timestamp('2021-01-01 00:00:00'), Timestamp('2024-12-31 00:00:00'))
    >>> data.rows[["person", "start", "stop", "exposed", "event", "cause"]].round(2)
      person  start  stop  exposed  event       cause
    0      a   5.84  9.84        0      0
    1      b   0.59  2.08        0      0
    2      b   2.08  3.00        1      1   voluntary
    3      c   0.00  2.47        0      1  retirement
    >>> data.events_for("voluntary").tolist()
    [0, 0, 1, 0]
    >>> data.excluded
      person  spell  source_row                        reason
    0      d      1           5  hired after the extract date
    >>> data.flow.round(2)
                                    step  count
    0              spells in the extract   4.00
    1       hired after the extract date   1.00
    2                        spells used   3.00
    3                             people   3.00
    4               people ever enrolled   1.00
    5   person-years, not (yet) enrolled   7.96
    6             person-years, enrolled   0.91
    7                   exits: voluntary   1.00
    8                 exits: involuntary   0.00
    9                  exits: retirement   1.00
    10                      exits: other   0.00
    11      censored at the extract date   1.00
    """

    rows: pd.DataFrame
    excluded: pd.DataFrame
    flow: pd.DataFrame
    time_scale: TimeScale
    window_start: pd.Timestamp
    extract_date: pd.Timestamp
    notes: tuple[str, ...] = field(default=())

    def events_for(self, cause: str | Sequence[str] | None = None) -> np.ndarray:
        """Return 0/1 event indicators for one cause, several, or any exit (``None``).

        Examples
        --------
        >>> import pandas as pd
        >>> roster = pd.DataFrame({"employee_id": ["a"], "hire_date": pd.to_datetime(["2020-01-01"]),
        ...     "termination_date": pd.to_datetime(["2022-01-01"]),
        ...     "termination_reason": ["Retirement"], "termination_type": ["Voluntary"]})
        >>> d = build_person_time(roster, None, window_start="2021-01-01", extract_date="2023-01-01")
        >>> d.events_for("retirement").tolist(), d.events_for("voluntary").tolist()
        ([1], [0])
        """
        event = self.rows.event.to_numpy().astype(bool)
        if cause is None:
            return event.astype(np.int8)
        wanted = [cause] if isinstance(cause, str) else list(cause)
        return (event & self.rows.cause.isin(wanted).to_numpy()).astype(np.int8)

    def ever_enrolled(self) -> pd.DataFrame:
        """One row per spell with exposure fixed at "ever enrolled": the immortal-time mistake.

        Shown only to demonstrate the bias (every enrolled leader's time before enrolment is
        credited to coaching). Do not use it for estimates.

        Examples
        --------
        >>> import pandas as pd
        >>> roster = pd.DataFrame({"employee_id": ["a"], "hire_date": pd.to_datetime(["2020-01-01"]),
        ...     "termination_date": pd.NaT})
        >>> enr = pd.DataFrame({"employee_id": ["a"], "enrol_date": pd.to_datetime(["2022-01-01"])})
        >>> d = build_person_time(roster, enr, window_start="2021-01-01", extract_date="2023-01-01")
        >>> len(d.rows), d.ever_enrolled()[["exposed", "start", "stop"]].round(2).values.tolist()
        (2, [[1.0, 1.0, 3.0]])
        """
        r = self.rows
        grouped = r.groupby(["person", "spell"], sort=False)
        first = grouped.head(1).set_index(["person", "spell"])
        last = grouped.tail(1).set_index(["person", "spell"])
        out = first.copy()
        out["stop"] = last["stop"]
        out["stop_date"] = last["stop_date"]
        out["event"] = last["event"]
        out["cause"] = last["cause"]
        out["exposed"] = r.assign(ever=r.enrol_date.notna()).groupby(["person", "spell"]).ever.max()
        out["exposed"] = out["exposed"].astype(np.int8)
        return out.reset_index()


def _day(value: object, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a date (got {value!r})") from exc
    if pd.isna(ts):
        raise ConfigError(f"{name} must be a date (got {value!r})")
    return ts.normalize()


def classify_causes(
    reasons: pd.Series,
    types: pd.Series | None = None,
    rules: Mapping[str, Sequence[str]] | None = None,
) -> pd.Series:
    """Map termination reasons (and types) to causes by ordered regular-expression rules.

    Parameters
    ----------
    reasons
        Free-text termination reasons (missing allowed).
    types
        ``termination_type`` (Voluntary / Involuntary / Other), used when no rule matches.
    rules
        Cause → patterns, tried in order; default :data:`DEFAULT_CAUSE_RULES`.

    Returns
    -------
    Series
        One cause per row (``"unknown"`` when neither the reason nor the type decides).

    Examples
    --------
    >>> classify_causes(pd.Series(["Retirement", "Resigned - Relocation", None, "Moved on"]),
    ...                 pd.Series(["Voluntary", "Voluntary", "Involuntary", None])).tolist()
    ['retirement', 'voluntary', 'involuntary', 'unknown']
    """
    rules = DEFAULT_CAUSE_RULES if rules is None else rules
    text = reasons.astype("string").fillna("").str.strip()
    out = pd.Series(UNKNOWN_CAUSE, index=reasons.index, dtype=object)
    decided = np.zeros(len(text), bool)
    for cause, patterns in rules.items():
        for pattern in patterns:
            try:
                hit = text.str.contains(pattern, flags=re.IGNORECASE, regex=True).to_numpy(bool)
            except re.error as exc:
                raise ConfigError(
                    f"cause rule for {cause!r}: bad pattern {pattern!r} ({exc})"
                ) from exc
            new = hit & ~decided
            out[new] = cause
            decided |= new
    if types is not None:
        t = types.astype("string").fillna("").str.strip().str.lower().map(_TYPE_FALLBACK)
        fill = ~decided & t.notna().to_numpy()
        out[fill] = t[fill]
    return out


def _spells(roster: pd.DataFrame, episodes: pd.DataFrame | None) -> pd.DataFrame:
    """Employment spells: ``person, spell, hire, end, reason, type`` + roster covariates."""
    covariates = [c for c in _COVARIATES if c in roster]
    if episodes is not None and len(episodes):
        spells = pd.DataFrame(
            {
                "person": episodes.employee_id.astype(str).to_numpy(),
                "spell": episodes.episode.to_numpy(),
                "hire": pd.to_datetime(episodes.start_date).to_numpy(),
                "end": pd.to_datetime(episodes.end_date).to_numpy(),
                "reason": episodes.end_reason.to_numpy(),
                "type": None,
                "source_row": np.nan,
            }
        )
        last = roster.drop_duplicates("employee_id", keep="last").set_index("employee_id")
        for c in covariates:
            spells[c] = spells.person.map(last[c]).to_numpy()
        return spells
    missing = [c for c in ("employee_id", "hire_date") if c not in roster]
    if missing:
        raise DataValidationError(
            f"hr_roster: column(s) {', '.join(missing)} needed for retention analyses are missing"
        )
    n = len(roster)
    spells = pd.DataFrame(
        {
            "person": roster.employee_id.astype(str).to_numpy(),
            "hire": pd.to_datetime(roster.hire_date).to_numpy(),
            "end": pd.to_datetime(roster["termination_date"]).to_numpy()
            if "termination_date" in roster
            else np.full(n, np.datetime64("NaT"), "datetime64[ns]"),
            "reason": roster["termination_reason"].to_numpy()
            if "termination_reason" in roster
            else np.full(n, None),
            "type": roster["termination_type"].to_numpy()
            if "termination_type" in roster
            else np.full(n, None),
            "source_row": roster["_row"].to_numpy() if "_row" in roster else np.arange(n) + 2,
        }
    )
    spells.insert(1, "spell", spells.groupby("person").cumcount() + 1)
    for c in covariates:
        spells[c] = roster[c].to_numpy()
    return spells


def build_person_time(
    roster: pd.DataFrame,
    enrolment: pd.DataFrame | None,
    *,
    window_start: object,
    extract_date: object,
    time_scale: TimeScale = "tenure",
    episodes: pd.DataFrame | None = None,
    cause_rules: Mapping[str, Sequence[str]] | None = None,
) -> RetentionData:
    """Build counting-process person-time from an HR roster (or episodes) and enrolments.

    Parameters
    ----------
    roster
        Validated ``hr_roster``: ``employee_id, hire_date`` and, for leavers,
        ``termination_date, termination_reason, termination_type``; other columns (role level,
        unit, ...) are carried as covariates.
    enrolment
        Validated ``enrolment`` (``employee_id, enrol_date`` and optionally ``status,
        status_date, group_id``), or ``None`` for no program.
    window_start, extract_date
        The observation window: follow-up starts at ``window_start`` (leaders hired earlier
        enter late) and is censored at ``extract_date``.
    time_scale
        ``"tenure"`` (years since hire) or ``"calendar"`` (years since ``window_start``).
    episodes
        Employment episodes built from HR snapshots (``employee_id, episode, start_date,
        end_date, end_reason``); when given they replace the roster's single spell per person,
        so rehires are separate spells.
    cause_rules
        Termination reason → cause rules (default :data:`DEFAULT_CAUSE_RULES`).

    Returns
    -------
    RetentionData

    Raises
    ------
    ConfigError
        The window is empty or the time scale unknown.
    DataValidationError
        A required column is missing.

    Examples
    --------
    >>> import pandas as pd
    >>> roster = pd.DataFrame({"employee_id": ["a", "b"],
    ...     "hire_date": pd.to_datetime(["2010-01-01", "2023-01-01"]),
    ...     "termination_date": pd.to_datetime(["2020-01-01", None])})
    >>> d = build_person_time(roster, None, window_start="2021-01-01", extract_date="2024-01-01")
    >>> d.flow.set_index("step").loc[["spells in the extract", "ended before the window"], "count"].tolist()
    [2.0, 1.0]
    """
    if time_scale not in ("tenure", "calendar"):
        raise ConfigError(f"time_scale must be 'tenure' or 'calendar' (got {time_scale!r})")
    w0 = _day(window_start, "window_start")
    w1 = _day(extract_date, "extract_date")
    if w1 <= w0:
        raise ConfigError(
            f"the observation window is empty: extract_date {w1.date()} is not after "
            f"window_start {w0.date()}"
        )
    spells = _spells(roster, episodes)
    n_spells = len(spells)
    excluded_parts = []

    def exclude(mask: np.ndarray, reason: str) -> None:
        nonlocal spells
        if mask.any():
            part = spells.loc[mask, ["person", "spell", "source_row"]].assign(reason=reason)
            excluded_parts.append(part)
            spells = spells.loc[~mask].reset_index(drop=True)

    exclude(spells.hire.isna().to_numpy(), "no hire date")
    exclude((spells.end.notna() & (spells.end < spells.hire)).to_numpy(), "termination before hire")
    exclude((spells.end.notna() & (spells.end < w0)).to_numpy(), "ended before the window")
    exclude((spells.hire > w1).to_numpy(), "hired after the extract date")

    entry = spells.hire.where(spells.hire > w0, w0)
    left = spells.end.notna() & (spells.end <= w1)
    exit_ = spells.end.where(left, w1)
    exit_ = exit_.where(exit_ <= w1, w1)
    cause = classify_causes(spells.reason, spells.type, cause_rules).where(left, "")

    base = pd.DataFrame(
        {
            "person": spells.person.to_numpy(),
            "spell": spells.spell.to_numpy(),
            "hire_date": spells.hire.to_numpy(),
            "entry_date": entry.to_numpy(),
            "exit_date": exit_.to_numpy(),
            "event": left.to_numpy().astype(np.int8),
            "cause": cause.to_numpy(),
        }
    )
    for c in _COVARIATES:
        if c in spells:
            base[c] = spells[c].to_numpy()

    enrol_date = pd.Series(pd.NaT, index=base.index, dtype="datetime64[ns]")
    complete_date = enrol_date.copy()
    group = pd.Series(None, index=base.index, dtype=object)
    if enrolment is not None and len(enrolment):
        e = enrolment.sort_values("enrol_date").drop_duplicates("employee_id", keep="first")
        e = e.set_index(e.employee_id.astype(str))
        enrol_date = base.person.map(e.enrol_date).astype("datetime64[ns]")
        if "status" in e and "status_date" in e:
            done = e.status_date.where(e.status.astype(str).str.lower() == "completed")
            complete_date = base.person.map(done).astype("datetime64[ns]")
        if "group_id" in e:
            group = base.person.map(e.group_id)
    base["enrol_date"] = enrol_date.to_numpy()
    base["peer_group"] = group.where(group.notna(), "solo-" + base.person.astype(str)).to_numpy()

    # Split each spell at enrolment and at completion when they fall strictly inside it: the
    # boundaries of every spell, sorted, give consecutive (start, stop] pieces.
    entry_ns = base.entry_date.to_numpy("datetime64[ns]")
    exit_ns = base.exit_date.to_numpy("datetime64[ns]")
    owners = [np.arange(len(base)), np.arange(len(base))]
    bounds = [entry_ns, exit_ns]
    for cut in (enrol_date.to_numpy("datetime64[ns]"), complete_date.to_numpy("datetime64[ns]")):
        inside = ~np.isnat(cut) & (cut > entry_ns) & (cut < exit_ns)
        owners.append(np.flatnonzero(inside))
        bounds.append(cut[inside])
    owner_all = np.concatenate(owners)
    bound_all = np.concatenate(bounds).astype("int64")
    order = np.lexsort((bound_all, owner_all))
    owner_all, bound_all = owner_all[order], bound_all[order]
    keep = np.ones(len(owner_all), bool)  # drop a cut equal to another (enrolled and completed)
    keep[1:] = (owner_all[1:] != owner_all[:-1]) | (bound_all[1:] != bound_all[:-1])
    owner_all, bound_all = owner_all[keep], bound_all[keep]
    pair = owner_all[1:] == owner_all[:-1]
    owner = owner_all[:-1][pair]
    start_ns = bound_all[:-1][pair].astype("datetime64[ns]")
    stop_ns = bound_all[1:][pair].astype("datetime64[ns]")
    zero_length = entry_ns == exit_ns  # a spell that ends on the day it enters follow-up
    owner = np.concatenate([owner, np.flatnonzero(zero_length)])
    start_ns = np.concatenate([start_ns, entry_ns[zero_length]])
    stop_ns = np.concatenate([stop_ns, exit_ns[zero_length]])

    rows = base.iloc[owner].reset_index(drop=True)
    rows["start_date"] = start_ns
    rows["stop_date"] = stop_ns
    last_piece = rows.stop_date.to_numpy() == rows.exit_date.to_numpy()
    rows["event"] = np.where(last_piece, rows.event, 0).astype(np.int8)
    rows["cause"] = np.where(last_piece, rows.cause, "")
    start_arr = rows.start_date.to_numpy("datetime64[ns]")
    enrol_ns = rows.enrol_date.to_numpy("datetime64[ns]")
    rows["exposed"] = (~np.isnat(enrol_ns) & (enrol_ns <= start_arr)).astype(np.int8)
    comp_ns = complete_date.to_numpy("datetime64[ns]")[owner]
    rows["completed"] = (~np.isnat(comp_ns) & (comp_ns <= start_arr)).astype(np.int8)

    origin = rows.hire_date if time_scale == "tenure" else pd.Series(w0, index=rows.index)
    day = np.timedelta64(1, "D")
    rows["start"] = (rows.start_date - origin).to_numpy() / day / DAYS_PER_YEAR
    rows["stop"] = (rows.stop_date - origin).to_numpy() / day / DAYS_PER_YEAR
    # A spell that ends on its first day still has an event: give it half a day at risk.
    zero = rows.stop.to_numpy() <= rows.start.to_numpy()
    rows.loc[zero, "stop"] = rows.loc[zero, "start"] + 0.5 / DAYS_PER_YEAR
    rows["tenure_at_entry"] = (rows.entry_date - rows.hire_date).to_numpy() / day / DAYS_PER_YEAR
    rows = rows.sort_values(["person", "spell", "start"], kind="stable").reset_index(drop=True)
    front = ["person", "spell", "start", "stop", "event", "cause", "exposed", "completed"]
    rows = rows[front + [c for c in rows.columns if c not in front]]

    excluded = (
        pd.concat(excluded_parts, ignore_index=True)
        if excluded_parts
        else pd.DataFrame(columns=["person", "spell", "source_row", "reason"])
    )
    flow = _flow(n_spells, excluded, rows)
    notes = (
        f"Observation window {w0.date()} to {w1.date()}; time scale: {time_scale}"
        + (" (years since hire, delayed entry)" if time_scale == "tenure" else " (years)"),
    )
    return RetentionData(rows, excluded, flow, time_scale, w0, w1, notes)


def _flow(n_spells: int, excluded: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    steps: list[tuple[str, float]] = [("spells in the extract", n_spells)]
    for reason, count in excluded.reason.value_counts().items():
        steps.append((str(reason), int(count)))
    used = rows.drop_duplicates(["person", "spell"])
    steps.append(("spells used", len(used)))
    steps.append(("people", rows.person.nunique()))
    steps.append(("people ever enrolled", rows.loc[rows.enrol_date.notna(), "person"].nunique()))
    years = rows.stop - rows.start
    steps.append(("person-years, not (yet) enrolled", float(years[rows.exposed == 0].sum())))
    steps.append(("person-years, enrolled", float(years[rows.exposed == 1].sum())))
    exits = rows.loc[rows.event == 1, "cause"].value_counts()
    for cause in (*CAUSES, UNKNOWN_CAUSE):
        if cause in exits.index or cause in CAUSES:
            steps.append((f"exits: {cause}", int(exits.get(cause, 0))))
    steps.append(("censored at the extract date", int(len(used) - (rows.event == 1).sum())))
    return pd.DataFrame(steps, columns=["step", "count"])


def person_time_from_study(
    study: object,
    *,
    time_scale: TimeScale = "tenure",
    window_start: object | None = None,
    extract_date: object | None = None,
    cause_rules: Mapping[str, Sequence[str]] | None = None,
) -> RetentionData:
    """Build retention person-time from a validated :class:`~coacheval.io.study.Study`.

    Without explicit dates, the window starts at the earliest termination in the HR extract (an
    extract of everyone employed since a date lists leavers from that date on) and ends at the
    latest date found in the extracts (hires, terminations, enrolments, sessions, responses);
    give both explicitly (in the analysis plan) when you know them.

    Examples
    --------
    >>> import tempfile
    >>> from coacheval.io.pseudonymise import PseudonymKey
    >>> from coacheval.io.study import load_study
    >>> from coacheval.simulate import simulate_health_system
    >>> folder = tempfile.mkdtemp()
    >>> _ = simulate_health_system(seed=3, n_leaders=200).write(folder)
    >>> study = load_study(folder, key=PseudonymKey(b"k" * 32))
    >>> data = person_time_from_study(study, window_start="2021-01-01", extract_date="2025-12-31")
    >>> int(data.rows.exposed.max()), data.time_scale
    (1, 'tenure')
    """
    tables = study.tables  # type: ignore[attr-defined]
    roster = tables.get("hr_roster")
    episodes = tables.get("employment_episodes")
    if roster is None and episodes is None:
        raise DataValidationError("retention analyses need the HR extract (hr_roster)")
    if roster is None:
        roster = pd.DataFrame({"employee_id": episodes.employee_id.unique()})
    enrolment = tables.get("enrolment")
    if window_start is None:
        ends = pd.to_datetime(roster.get("termination_date", pd.Series(dtype="datetime64[ns]")))
        if episodes is not None and len(episodes):
            ends = pd.to_datetime(episodes.end_date)
        if ends.notna().any():
            window_start = ends.min()
        else:
            raise ConfigError(
                "cannot tell when the HR extract's follow-up starts (no terminations): set "
                "retention.window_start in the analysis plan"
            )
    if extract_date is None:
        candidates = []
        for name, cols in {
            "hr_roster": ("hire_date", "termination_date"),
            "enrolment": ("enrol_date", "status_date"),
            "sessions": ("session_date",),
            "survey_responses": ("response_date",),
        }.items():
            t = tables.get(name)
            if t is None:
                continue
            for c in cols:
                if c in t:
                    candidates.append(pd.to_datetime(t[c]).max())
        candidates = [c for c in candidates if pd.notna(c)]
        if not candidates:
            raise ConfigError(
                "cannot tell the extract date: set retention.extract_date in the plan"
            )
        extract_date = max(candidates)
    return build_person_time(
        roster,
        enrolment,
        window_start=window_start,
        extract_date=extract_date,
        time_scale=time_scale,
        episodes=episodes,
        cause_rules=cause_rules,
    )
