"""The optional ``unit_staffing`` extract: its contract, its validation and its simulation.

Contract: one row per unit and month (first day), headcount and separations whole numbers >= 0,
separations <= headcount, units known to the HR extract; a folder without the file validates.
Simulator: the file is written for every clinical unit and month of the window, its rates match
the configured base rate (checked against a Poisson band on a large system with no frailty), the
coached indicator follows the stated definition (recomputed here from the extracts), the truth is
recorded, and switching the table on or off changes no other output of a fixed seed.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from coacheval.errors import ConfigError
from coacheval.io.dictionary import data_dictionary_markdown
from coacheval.io.pseudonymise import PseudonymKey
from coacheval.io.rules import RULES
from coacheval.io.schema import load_table_schemas
from coacheval.io.validate import validate_folder
from coacheval.simulate import SimulationConfig, simulate_health_system
from coacheval.simulate.staffing import month_starts

KEY = PseudonymKey(b"unit-staffing-test-key-0123456")
SEED = 41


@pytest.fixture(scope="module")
def system():
    return simulate_health_system(seed=SEED, n_leaders=150)


@pytest.fixture(scope="module")
def clean_folder(tmp_path_factory, system):
    folder = tmp_path_factory.mktemp("staffing")
    system.write(folder)
    return folder


# ------------------------------------------------------------------------------ contract
def test_schema_declares_the_table():
    spec = load_table_schemas()["unit_staffing"]
    assert spec.field_names == ("unit_id", "month", "headcount", "separations")
    assert spec.primary_key == ("unit_id", "month")
    assert set(spec.required_fields) == set(spec.field_names)
    assert spec.field("headcount").type == "integer" and spec.field("headcount").minimum == 0
    assert spec.field("separations").minimum == 0
    assert {fk.resource for fk in spec.foreign_keys} == {"hr_roster", "hr_snapshot"}
    assert {r.name for r in spec.rules} == {"month_is_first_day", "separations_not_above_headcount"}
    assert all(r.name in RULES for r in spec.rules)
    text = data_dictionary_markdown(tables=["unit_staffing"])
    assert "## unit_staffing" in text and "separations_not_above_headcount" in text


def test_simulated_file_validates_clean(clean_folder, system):
    report = validate_folder(clean_folder, key=KEY)
    tv = report.tables["unit_staffing"]
    assert report.usable
    assert tv.rows_in == len(system.extracts["unit_staffing"]) == tv.rows_clean
    assert tv.rows_quarantined == 0 and not tv.errors
    assert str(tv.clean.month.dtype).startswith("datetime64")
    assert tv.clean.headcount.dtype == "Int64"


def _corrupt(clean_folder, tmp_path, change):
    folder = tmp_path / "x"
    shutil.copytree(clean_folder, folder)
    path = folder / "unit_staffing.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    rows = change(frame)
    frame.to_csv(path, index=False, lineterminator="\n")
    report = validate_folder(folder, key=KEY)
    return report.tables["unit_staffing"], [r + 2 for r in rows]  # file rows (header = 1)


def test_bad_rows_are_quarantined_with_reasons(clean_folder, tmp_path):
    def change(frame):
        frame.loc[0, "unit_id"] = "U99999"  # not a unit of the HR extract
        frame.loc[1, "headcount"] = "-3"
        frame.loc[2, "separations"] = "-1"
        frame.loc[3, ["headcount", "separations"]] = ["4", "5"]  # more leavers than staff
        frame.loc[4, "month"] = "2021-05-15"  # not the first day of a month
        frame.loc[5, "separations"] = "1.5"
        return [0, 1, 2, 3, 4, 5]

    tv, rows = _corrupt(clean_folder, tmp_path, change)
    expected = [
        "foreign_key",
        "range",
        "range",
        "separations_not_above_headcount",
        "month_is_first_day",
        "integer",
    ]
    reasons = dict(zip(tv.quarantine._row, tv.quarantine.reasons, strict=True))
    assert sorted(reasons) == rows
    for row, rule in zip(rows, expected, strict=True):
        assert reasons[row].startswith(rule), (row, reasons[row])
    assert "'U99999' is not in hr_roster" in reasons[rows[0]]
    assert "must not exceed" in reasons[rows[3]]
    assert tv.rows_clean + tv.rows_quarantined == tv.rows_in
    assert tv.rows_quarantined == 6


def test_duplicate_unit_month_is_quarantined(clean_folder, tmp_path):
    def change(frame):
        frame.loc[7, ["unit_id", "month"]] = frame.loc[6, ["unit_id", "month"]].to_numpy()
        frame.loc[7, ["headcount", "separations"]] = [str(int(frame.headcount[6]) + 1), "0"]
        return [7]

    tv, rows = _corrupt(clean_folder, tmp_path, change)
    assert tv.quarantine._row.tolist() == rows
    assert tv.quarantine.reasons.iloc[0].startswith("duplicate_key")


def test_zero_headcount_and_zero_separations_are_valid(clean_folder, tmp_path):
    def change(frame):
        frame.loc[0, ["headcount", "separations"]] = ["0", "0"]
        frame.loc[1, ["headcount", "separations"]] = ["3", "3"]  # everybody left: allowed
        return []

    tv, _ = _corrupt(clean_folder, tmp_path, change)
    assert tv.rows_quarantined == 0


def test_folder_without_the_table_still_validates(clean_folder, tmp_path):
    folder = tmp_path / "no_staffing"
    shutil.copytree(clean_folder, folder)
    (folder / "unit_staffing.csv").unlink()
    report = validate_folder(folder, key=KEY)
    assert report.usable and "unit_staffing" not in report.tables


def test_units_checked_against_snapshots_when_there_is_no_roster(system, tmp_path):
    folder = tmp_path / "snap"
    system.write(folder, snapshots=True)
    (folder / "hr_roster.csv").unlink()
    path = folder / "unit_staffing.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[0, "unit_id"] = "U99999"
    frame.to_csv(path, index=False)
    tv = validate_folder(folder, key=KEY).tables["unit_staffing"]
    assert tv.quarantine._row.tolist() == [2]
    assert "'U99999' is not in hr_snapshot" in tv.quarantine.reasons.iloc[0]


# ----------------------------------------------------------------------------- simulator
def test_file_covers_every_clinical_unit_and_month(clean_folder, system):
    written = pd.read_csv(clean_folder / "unit_staffing.csv", dtype=str, keep_default_na=False)
    org = system.organisation
    clinical = set(org.units.unit_id[~org.units.is_admin])
    months = [str(m) for m in month_starts(system.config)]
    assert months[0] == "2021-01-01" and months[-1] == "2025-12-01"
    assert set(written.unit_id) == clinical
    assert len(written) == len(clinical) * len(months)
    assert all(g == months for g in written.groupby("unit_id").month.apply(list))
    hc = written.headcount.astype(int)
    sep = written.separations.astype(int)
    assert hc.between(10, 70).all() and (sep <= hc).all() and (sep >= 0).all()
    # slowly varying: month-to-month changes of a few percent
    step = np.abs(np.diff(np.log(hc.to_numpy().reshape(len(clinical), -1)), axis=1))
    assert np.median(step) < 0.06 and step.max() < 0.5
    level = hc.groupby(written.unit_id).mean()
    assert level.min() < 25 and level.max() > 35  # the units differ in size (15-45)


def test_truth_is_recorded(clean_folder, system):
    truth = json.loads((clean_folder / "truth.json").read_text(encoding="utf-8"))
    sp = truth["spillover"]
    assert sp["rate_ratio"] == system.config.staff_turnover_rr == 0.90
    assert "month after" in sp["exposure"] and "hr_roster.unit_id" in sp["exposure"]
    assert sp["base_annual_turnover"] == 0.164
    assert sp["separations"] == int(system.extracts["unit_staffing"].separations.sum())
    assert "unit_staffing.csv" in truth["files"]
    assert truth["sources"]["staff_turnover_rr"].startswith("[U]")
    assert truth["sources"]["staff_turnover_annual"].startswith("[S]")


def test_coached_follows_the_stated_definition(system):
    """Recompute the exposure from the extracts alone (roster units, enrolment dates)."""
    ex = system.extracts
    enr = ex["enrolment"].merge(ex["hr_roster"][["employee_id", "unit_id"]], on="employee_id")
    first = pd.to_datetime(enr.enrol_date).groupby(enr.unit_id).min()
    staffing = ex["unit_staffing"]
    month = pd.to_datetime(staffing.month)
    start = staffing.unit_id.map(first)
    expected = (month.dt.to_period("M") > start.dt.to_period("M")).fillna(False)
    # pandas compares Period with NaT as False; units without enrolees are never coached
    assert np.array_equal(expected.to_numpy(bool), system.staffing.coached.to_numpy() == 1)
    assert 0 < system.staffing.coached.mean() < 1


def test_rates_match_the_configured_base_rate():
    """No frailty, no effect: separations per headcount-year estimate staff_turnover_annual."""
    system = simulate_health_system(
        seed=SEED, n_leaders=1500, staff_frailty_variance=0.0, staff_turnover_rr=1.0
    )
    st = system.staffing
    person_years = st.headcount.sum() / 12
    events = st.separations.sum()
    rate = events / person_years
    se = np.sqrt(events) / person_years
    assert abs(rate - 0.164) < 3.5 * se, (rate, se)
    assert np.allclose(st.expected, st.headcount * 0.164 / 12)
    # with a frailty: expected counts are base x frailty x RR, observed around them
    default = simulate_health_system(seed=SEED, n_leaders=1500)
    d = default.staffing
    ratio = d.expected / (d.headcount * 0.164 / 12 * d.frailty)
    assert np.allclose(ratio, np.where(d.coached == 1, 0.9, 1.0))
    assert abs(d.separations.sum() - d.expected.sum()) < 4 * np.sqrt(d.expected.sum())
    assert abs(d.groupby("unit").frailty.first().var() - 0.25) < 0.08


def test_table_changes_no_other_output(system):
    off = simulate_health_system(seed=SEED, n_leaders=150, unit_staffing=False)
    assert off.staffing is None and "unit_staffing" not in off.extracts
    assert "spillover" not in off.truth
    for name, frame in off.extracts.items():
        pd.testing.assert_frame_equal(frame, system.extracts[name], check_exact=True)
    a = {k: v for k, v in system.truth.items() if k not in ("spillover", "config")}
    b = {k: v for k, v in off.truth.items() if k != "config"}
    assert json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def test_effect_setting_changes_only_separations(system):
    other = simulate_health_system(seed=SEED, n_leaders=150, staff_turnover_rr=1.0)
    pd.testing.assert_frame_equal(other.extracts["hr_roster"], system.extracts["hr_roster"])
    a, b = system.staffing, other.staffing
    assert np.array_equal(a.headcount, b.headcount) and np.array_equal(a.coached, b.coached)
    # inverse-CDF draws on the same uniforms: a lower rate never gives more separations
    assert (a.separations <= b.separations).all() and a.separations.sum() < b.separations.sum()


def test_messy_mode_leaves_the_table_clean(system, clean_folder, tmp_path):
    system.write(tmp_path, messy=True)
    assert (tmp_path / "unit_staffing.csv").read_bytes() == (
        clean_folder / "unit_staffing.csv"
    ).read_bytes()


@pytest.mark.parametrize(
    "override",
    [
        {"staff_turnover_rr": 0.0},
        {"staff_turnover_annual": -0.1},
        {"staff_frailty_variance": -1.0},
        {"staff_headcount_range": [30, 10]},
    ],
)
def test_bad_staffing_parameters_raise(override):
    cfg = SimulationConfig(n_leaders=60).with_overrides(override)
    with pytest.raises(ConfigError, match="staff_"):
        simulate_health_system(cfg)


def test_staffing_parameters_are_grouped_overrides():
    cfg = SimulationConfig.from_mapping({"turnover": {"staff_turnover_rr": 1.0}})
    assert cfg.staff_turnover_rr == 1.0
    with pytest.raises(ConfigError, match="must be true or false"):
        SimulationConfig().with_overrides({"unit_staffing": "yes"})
