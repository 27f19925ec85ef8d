"""Scale scores from item responses: reverse-keying, the minimum-items rule, prorated means.

For each response and instrument: reverse-keyed items become ``min + max - x``; when at least
``min_items`` items are answered the score is the mean of the answered items (a prorated mean),
times the instrument's ``item_multiplier`` (e.g. 25 for the CBI, 20 for WHO-5 percentages), and
for a ``sum`` rule times the number of items; otherwise the score is missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from coacheval.errors import DataValidationError
from coacheval.measures.instruments import Instrument, load_instruments

__all__ = ["item_matrix", "score_instrument", "score_instruments"]

SCORE_COLUMNS = (
    "person",
    "wave",
    "date",
    "scale",
    "construct",
    "score",
    "items_answered",
    "items_total",
)


def item_matrix(responses: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Items of one instrument as numbers, text labels mapped to codes, reverse keys applied.

    Raises
    ------
    DataValidationError
        A value is neither a response option nor one of its labels (validation should have
        removed it); the message names the rows and values.

    Examples
    --------
    >>> from coacheval.measures.instruments import load_instrument
    >>> jss = load_instrument("moaq_jss")
    >>> item_matrix(pd.DataFrame({"jss_1": [7], "jss_2": ["Strongly disagree"], "jss_3": [None]}), jss)
       jss_1  jss_2  jss_3
    0    7.0    7.0    NaN
    """
    out = {}
    for item in instrument.items:
        if item.id not in responses:
            out[item.id] = np.full(len(responses), np.nan)
            continue
        raw = responses[item.id]
        labels = {
            text.strip().lower(): code for code, text in instrument.item_labels(item.id).items()
        }
        text = raw.astype(object).where(raw.notna(), None)
        as_label = text.map(
            lambda v, m=labels: m.get(v.strip().lower()) if isinstance(v, str) else None
        )
        numeric = pd.to_numeric(text.where(as_label.isna(), None), errors="coerce")
        values = as_label.astype(float).fillna(numeric)
        bad = (text.notna() & values.isna()) | ~(
            values.isna() | values.between(instrument.scale_min, instrument.scale_max)
        )
        if bad.any():
            rows = list(np.flatnonzero(bad.to_numpy())[:5])
            shown = ", ".join(f"row {r}: {raw.iloc[r]!r}" for r in rows)
            raise DataValidationError(
                f"{instrument.short_name} item {item.id} has values outside {instrument.scale_min}-"
                f"{instrument.scale_max} or its labels ({shown}); validate the extract first",
                failure_cases=pd.DataFrame({"row": rows, "value": [raw.iloc[r] for r in rows]}),
            )
        if item.reverse:
            values = instrument.scale_min + instrument.scale_max - values
        out[item.id] = values.to_numpy(dtype=float)
    return pd.DataFrame(out, index=responses.index)


def score_instrument(
    responses: pd.DataFrame, instrument: Instrument
) -> tuple[pd.Series, pd.Series]:
    """Score one instrument for every response.

    Returns
    -------
    tuple of Series
        The score (NaN below the minimum number of answered items) and the number answered.

    Examples
    --------
    >>> from coacheval.measures.instruments import load_instrument
    >>> who5 = load_instrument("who5")
    >>> frame = pd.DataFrame({"who5_1": [5, 5], "who5_2": [4, None], "who5_3": [3, None],
    ...                       "who5_4": [2, None], "who5_5": [1, None]})
    >>> score, answered = score_instrument(frame, who5)
    >>> score.tolist(), answered.tolist()
    ([60.0, nan], [5, 1])
    """
    items = item_matrix(responses, instrument)
    answered = items.notna().sum(axis=1)
    mean = items.mean(axis=1, skipna=True)
    score = mean * instrument.item_multiplier
    if instrument.scoring_rule == "sum":
        score = score * len(instrument.items)
    score = score.where(answered >= instrument.min_items)
    return score.rename(instrument.id), answered.rename("items_answered")


def score_instruments(
    responses: pd.DataFrame,
    instruments: Mapping[str, Instrument] | None = None,
    *,
    person_col: str = "employee_id",
    wave_col: str = "wave_id",
    date_col: str = "response_date",
    scales: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Score every instrument present in a responses table into one tidy long table.

    Parameters
    ----------
    responses
        One row per response with item columns (numbers or text labels).
    instruments
        Instrument definitions; coacheval's own when omitted.
    person_col, wave_col, date_col
        Columns identifying the respondent, the wave and the date.
    scales
        Instrument ids to score; every instrument with at least one item column when omitted.

    Returns
    -------
    DataFrame
        ``person, wave, date, scale, construct, score, items_answered, items_total``.

    Examples
    --------
    >>> from coacheval.simulate import simulate_health_system
    >>> survey = simulate_health_system(seed=2, n_leaders=100).extracts["survey_responses"]
    >>> scores = score_instruments(survey)
    >>> sorted(scores.scale.unique())[:2]
    ['cbi_work', 'moaq_jss']
    """
    instruments = instruments or load_instruments()
    chosen = scales or [
        i for i, inst in instruments.items() if any(it in responses for it in inst.item_ids)
    ]
    frames = []
    for scale in chosen:
        inst = instruments[scale]
        score, answered = score_instrument(responses, inst)
        frames.append(
            pd.DataFrame(
                {
                    "person": responses[person_col].to_numpy(),
                    "wave": responses[wave_col].to_numpy() if wave_col in responses else None,
                    "date": responses[date_col].to_numpy() if date_col in responses else None,
                    "scale": scale,
                    "construct": inst.construct,
                    "score": score.to_numpy(),
                    "items_answered": answered.to_numpy(),
                    "items_total": len(inst.items),
                }
            )
        )
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SCORE_COLUMNS})
    return pd.concat(frames, ignore_index=True)
