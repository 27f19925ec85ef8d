"""Evidence statements for reports: plain-language sentences and a GRADE-style certainty rating.

Examples
--------
>>> from coacheval.evidence import effect_sentence, rate_certainty
>>> callable(effect_sentence) and callable(rate_certainty)
True
"""

from coacheval.evidence.certainty import CertaintyResult, rate_certainty
from coacheval.evidence.sentences import effect_sentence, headline, primary_rows, scale_info

__all__ = [
    "CertaintyResult",
    "effect_sentence",
    "headline",
    "primary_rows",
    "rate_certainty",
    "scale_info",
]
