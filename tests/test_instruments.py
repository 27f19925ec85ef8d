"""Instrument definitions: the shipped library and the errors a malformed file gives."""

from __future__ import annotations

import pytest

from coacheval.errors import InstrumentError
from coacheval.measures import load_instrument, load_instruments

SHIPPED = {
    "moaq_jss",
    "uwes9",
    "cbi_work",
    "who5",
    "spos8",
    "turnover_intention",
    "lse",
    "professional_isolation",
}


def test_shipped_library():
    instruments = load_instruments()
    assert set(instruments) == SHIPPED
    constructs = {i.construct for i in instruments.values()}
    assert {
        "job_satisfaction",
        "work_engagement",
        "burnout",
        "wellbeing",
        "perceived_support",
        "turnover_intention",
        "leadership_self_efficacy",
        "professional_isolation",
    } == constructs


@pytest.mark.parametrize(
    ("instrument", "reverse"),
    [
        ("moaq_jss", ("jss_2",)),
        ("spos8", ("spos_2", "spos_3", "spos_5", "spos_7")),
        ("cbi_work", ("cbi_w7",)),
        ("uwes9", ()),
        ("who5", ()),
    ],
)
def test_reverse_keys_follow_the_published_scoring(instrument, reverse):
    assert load_instrument(instrument).reverse_keyed == reverse


def test_licensed_wording_is_not_bundled():
    for instrument_id in (
        "uwes9",
        "moaq_jss",
        "lse",
        "professional_isolation",
        "turnover_intention",
    ):
        instrument = load_instrument(instrument_id)
        assert not instrument.item_text_included
        assert all(item.text is None for item in instrument.items)


def test_every_code_has_a_label():
    for instrument in load_instruments().values():
        for item in instrument.items:
            assert set(instrument.item_labels(item.id)) == set(
                range(instrument.scale_min, instrument.scale_max + 1)
            )


def _write(tmp_path, text):
    (tmp_path / "x.yaml").write_text(text, encoding="utf-8")
    return tmp_path


GOOD = """
id: x
name: X
construct: c
response_scale: {min: 1, max: 3, labels: {1: a, 2: b, 3: c}}
items: [{id: x1}, {id: x2}]
scoring: {rule: mean, min_items: 1}
"""


def test_a_user_adds_an_instrument_by_adding_a_file(tmp_path):
    instruments = load_instruments(_write(tmp_path, GOOD))
    assert instruments["x"].item_ids == ("x1", "x2")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("rule: mean", "rule: median"), "scoring rule 'median'"),
        (("min_items: 1", "min_items: 5"), "min_items 5 must lie in 1..2"),
        (("{id: x2}", "{id: x1}"), "item ids must be unique"),
        (("min: 1, max: 3", "min: 3, max: 1"), "must be below max"),
        (("construct: c\n", ""), "required key 'construct'"),
        (("items: [", "items: [[[["), "not valid YAML"),
    ],
)
def test_malformed_instrument_files_name_the_file_and_the_problem(tmp_path, change, message):
    folder = _write(tmp_path, GOOD.replace(*change))
    with pytest.raises(InstrumentError, match=r"x\.yaml") as info:
        load_instruments(folder)
    assert message in str(info.value)


def test_unknown_instrument(tmp_path):
    with pytest.raises(InstrumentError, match="no instrument 'nope'"):
        load_instrument("nope")
