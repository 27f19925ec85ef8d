"""Survey measures: instrument definitions and, later, scoring and reliability."""

from coacheval.measures.instruments import Instrument, Item, load_instrument, load_instruments

__all__ = ["Instrument", "Item", "load_instrument", "load_instruments"]
