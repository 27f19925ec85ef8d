"""Instrument definitions declared as data (YAML files), loaded into frozen objects.

An instrument file lists the items, the response scale and its labels, the reverse-keyed items,
the scoring rule and the licence. coacheval ships definitions in ``data_schema/instruments``; a
user adds an instrument by adding a file there or by passing a folder of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from coacheval._resources import resource_dir
from coacheval.errors import InstrumentError

__all__ = ["Instrument", "Item", "load_instrument", "load_instruments"]

_SCORING_RULES = ("mean", "sum")


@dataclass(frozen=True)
class Item:
    """One survey item.

    Attributes
    ----------
    id
        Column name of the item in survey extracts.
    text
        Item wording, or ``None`` where the licence does not allow bundling it.
    reverse
        Whether the item is reverse-keyed.
    labels
        Response labels for this item when they differ from the instrument's scale.
    subscale
        Name of the subscale the item belongs to, if any.

    Examples
    --------
    An instrument's items, from :func:`load_instrument`:

    >>> from coacheval.measures.instruments import Item, load_instrument
    >>> item = load_instrument("cbi_work").items[0]
    >>> item.id, item.text, item.reverse
    ('cbi_w1', 'Is your work emotionally exhausting?', False)
    >>> item.labels[4]
    'To a very high degree'
    >>> uwes = load_instrument("uwes9").items[0]
    >>> uwes.subscale, uwes.text is None  # wording not bundled (licence)
    ('vigor', True)

    A new item for a home-made instrument:

    >>> Item("climate_3", text="We help each other.")
    Item(id='climate_3', text='We help each other.', reverse=False, labels=None, subscale=None)
    """

    id: str
    text: str | None = None
    reverse: bool = False
    labels: Mapping[int, str] | None = None
    subscale: str | None = None


@dataclass(frozen=True)
class Instrument:
    """A survey instrument: items, response scale, keys and scoring rule.

    Examples
    --------
    >>> jss = load_instrument("moaq_jss")
    >>> jss.item_ids
    ('jss_1', 'jss_2', 'jss_3')
    >>> jss.reverse_keyed
    ('jss_2',)
    """

    id: str
    name: str
    short_name: str
    construct: str
    higher_is_better: bool
    scale_min: int
    scale_max: int
    labels: Mapping[int, str]
    items: tuple[Item, ...]
    scoring_rule: str
    min_items: int
    item_multiplier: float = 1.0
    citation: str = ""
    licence: str = ""
    item_text_included: bool = False
    source: str = field(default="", compare=False)

    @property
    def item_ids(self) -> tuple[str, ...]:
        """Item column names, in instrument order."""
        return tuple(item.id for item in self.items)

    @property
    def reverse_keyed(self) -> tuple[str, ...]:
        """Column names of the reverse-keyed items."""
        return tuple(item.id for item in self.items if item.reverse)

    def item_labels(self, item_id: str) -> Mapping[int, str]:
        """Response labels of one item (its own, or the instrument's).

        Examples
        --------
        >>> load_instrument("cbi_work").item_labels("cbi_w1")[4]
        'To a very high degree'
        """
        for item in self.items:
            if item.id == item_id:
                return item.labels if item.labels is not None else self.labels
        raise KeyError(f"{self.id} has no item {item_id!r}")


def _require(data: Mapping[str, Any], key: str, source: str) -> Any:
    if key not in data:
        raise InstrumentError(f"required key {key!r} is missing", source=source)
    return data[key]


def _parse_labels(raw: Any, source: str, where: str) -> dict[int, str]:
    if not isinstance(raw, Mapping) or not raw:
        raise InstrumentError(
            f"{where}: labels must be a non-empty mapping code -> text", source=source
        )
    try:
        return {int(code): str(text) for code, text in raw.items()}
    except (TypeError, ValueError) as exc:
        raise InstrumentError(
            f"{where}: label codes must be integers ({exc})", source=source
        ) from exc


def _parse(data: Any, source: str) -> Instrument:
    if not isinstance(data, Mapping):
        raise InstrumentError("an instrument file must hold a mapping", source=source)
    scale = _require(data, "response_scale", source)
    scoring = _require(data, "scoring", source)
    scale_min, scale_max = int(_require(scale, "min", source)), int(_require(scale, "max", source))
    if scale_min >= scale_max:
        raise InstrumentError(
            f"response_scale min {scale_min} must be below max {scale_max}", source=source
        )
    labels = _parse_labels(scale.get("labels"), source, "response_scale")
    items = []
    for raw in _require(data, "items", source):
        if not isinstance(raw, Mapping) or "id" not in raw:
            raise InstrumentError(f"every item needs an 'id' (got {raw!r})", source=source)
        item_labels = raw.get("labels")
        items.append(
            Item(
                id=str(raw["id"]),
                text=raw.get("text"),
                reverse=bool(raw.get("reverse", False)),
                labels=None
                if item_labels is None
                else _parse_labels(item_labels, source, str(raw["id"])),
                subscale=raw.get("subscale"),
            )
        )
    if len({item.id for item in items}) != len(items):
        raise InstrumentError("item ids must be unique", source=source)
    rule = _require(scoring, "rule", source)
    if rule not in _SCORING_RULES:
        raise InstrumentError(
            f"scoring rule {rule!r} is not one of {_SCORING_RULES}", source=source
        )
    min_items = int(_require(scoring, "min_items", source))
    if not 1 <= min_items <= len(items):
        raise InstrumentError(f"min_items {min_items} must lie in 1..{len(items)}", source=source)
    return Instrument(
        id=str(_require(data, "id", source)),
        name=str(_require(data, "name", source)),
        short_name=str(data.get("short_name", data["id"])),
        construct=str(_require(data, "construct", source)),
        higher_is_better=bool(data.get("higher_is_better", True)),
        scale_min=scale_min,
        scale_max=scale_max,
        labels=labels,
        items=tuple(items),
        scoring_rule=rule,
        min_items=min_items,
        item_multiplier=float(scoring.get("item_multiplier", 1.0)),
        citation=str(data.get("citation", "")),
        licence=str(data.get("licence", "")),
        item_text_included=bool(data.get("item_text_included", False)),
        source=source,
    )


def _instrument_dir(folder: str | Path | None) -> Path:
    return Path(folder) if folder is not None else resource_dir("data_schema") / "instruments"


def load_instruments(folder: str | Path | None = None) -> dict[str, Instrument]:
    """Load every instrument definition in a folder.

    Parameters
    ----------
    folder
        Folder of ``*.yaml`` instrument files; coacheval's own library when omitted.

    Returns
    -------
    dict of str to Instrument
        Instruments keyed by their ``id``, sorted by id.

    Raises
    ------
    InstrumentError
        A file is malformed; the message names the file and the problem.

    Examples
    --------
    >>> sorted(load_instruments())[:2]
    ['cbi_work', 'lse']
    """
    directory = _instrument_dir(folder)
    if not directory.is_dir():
        raise InstrumentError("instrument folder not found", source=str(directory))
    instruments: dict[str, Instrument] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise InstrumentError(f"not valid YAML ({exc})", source=str(path)) from exc
        instrument = _parse(data, str(path))
        if instrument.id in instruments:
            raise InstrumentError(f"duplicate instrument id {instrument.id!r}", source=str(path))
        instruments[instrument.id] = instrument
    return dict(sorted(instruments.items()))


def load_instrument(instrument_id: str, folder: str | Path | None = None) -> Instrument:
    """Load one instrument by id.

    Parameters
    ----------
    instrument_id
        The instrument's ``id`` (for example ``"uwes9"``).
    folder
        Folder of instrument files; coacheval's own library when omitted.

    Returns
    -------
    Instrument

    Raises
    ------
    InstrumentError
        No instrument has that id.

    Examples
    --------
    >>> load_instrument("who5").scale_max
    5
    """
    instruments = load_instruments(folder)
    if instrument_id not in instruments:
        raise InstrumentError(
            f"no instrument {instrument_id!r}; available: {', '.join(instruments)}"
        )
    return instruments[instrument_id]
