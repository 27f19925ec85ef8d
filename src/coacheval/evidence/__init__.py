"""Evidence statements for reports: plain-language sentences and a GRADE-style certainty rating.

Examples
--------
>>> from coacheval.evidence import effect_sentence
>>> callable(effect_sentence)
True
"""

from coacheval.evidence.sentences import effect_sentence, headline, primary_rows, scale_info

__all__ = [
    "effect_sentence",
    "headline",
    "primary_rows",
    "scale_info",
]
