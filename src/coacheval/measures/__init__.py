"""Survey measures: instrument definitions, scoring, reliability, Table 1 and pre/post change."""

from coacheval.measures.baseline import BaselineTable, baseline_table, study_baseline
from coacheval.measures.instruments import Instrument, Item, load_instrument, load_instruments
from coacheval.measures.prepost import PrePostResult, paired_change, pre_post
from coacheval.measures.reliability import (
    AlphaResult,
    ReliabilityTable,
    cronbach_alpha,
    reliability_by_wave,
)
from coacheval.measures.scoring import item_matrix, score_instrument, score_instruments

__all__ = [
    "AlphaResult",
    "BaselineTable",
    "Instrument",
    "Item",
    "PrePostResult",
    "ReliabilityTable",
    "baseline_table",
    "cronbach_alpha",
    "item_matrix",
    "load_instrument",
    "load_instruments",
    "paired_change",
    "pre_post",
    "reliability_by_wave",
    "score_instrument",
    "score_instruments",
    "study_baseline",
]
