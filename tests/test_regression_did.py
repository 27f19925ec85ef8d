"""TWFE (with its staggered-adoption warning), the mixed-model contrast and dose-response."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coacheval.effects.regression_did import (
    StaggeredTWFEWarning,
    demean_two_way,
    dose_response,
    mixed_did,
    twfe,
)


def _panel(seed, n=200, groups=(2,), effect=1.0, periods=3, dose_effect=False):
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n):
        g = groups[(u // 2) % len(groups)] if u % 2 == 0 else 0
        dose = rng.uniform() if g else 0.0
        alpha = rng.normal()
        for t in range(1, periods + 1):
            tau = effect * (2 * dose if dose_effect else 1.0)
            rows.append(
                {
                    "id": u,
                    "t": t,
                    "g": g,
                    "c": u % 25,
                    "dose": dose,
                    "y": alpha + 0.2 * t + rng.normal(scale=0.5) + (tau if g and t >= g else 0.0),
                }
            )
    return pd.DataFrame(rows)


def test_twfe_in_the_2x2_case_is_the_difference_of_four_means():
    panel = _panel(1, periods=2)
    result = twfe(panel, outcome="y", unit="id", period="t", group="g", cluster="c", wild_below=0)
    wide = panel.pivot(index="id", columns="t", values="y")
    g = panel.drop_duplicates("id").set_index("id").g
    change = wide[2] - wide[1]
    expected = change[g > 0].mean() - change[g == 0].mean()
    assert result.table.estimate.iloc[0] == pytest.approx(expected, abs=1e-9)
    assert not result.staggered


def test_twfe_warns_under_staggered_adoption():
    panel = _panel(2, groups=(2, 3))
    with pytest.warns(StaggeredTWFEWarning, match="staggered cohorts"):
        result = twfe(
            panel, outcome="y", unit="id", period="t", group="g", cluster="c", wild_below=0
        )
    assert result.staggered


def test_twfe_uses_the_wild_bootstrap_with_few_clusters():
    panel = _panel(3, periods=2)
    result = twfe(
        panel, outcome="y", unit="id", period="t", group="g", cluster="c", wild_below=30, draws=999
    )
    assert "wild cluster bootstrap" in result.inference
    row = result.table.iloc[0]
    assert row.conf_low < row.estimate < row.conf_high and 0 <= row.p_value <= 1


def test_demeaning_leaves_no_unit_or_period_means():
    rng = np.random.default_rng(4)
    unit, period = np.repeat(np.arange(30), 4), np.tile(np.arange(4), 30)
    keep = rng.uniform(size=120) > 0.1  # unbalanced
    x = rng.normal(size=(keep.sum(), 2))
    out = demean_two_way(x, unit[keep], period[keep])
    frame = pd.DataFrame(out).assign(u=unit[keep], p=period[keep])
    assert np.abs(frame.groupby("u")[[0, 1]].mean().to_numpy()).max() < 1e-8
    assert np.abs(frame.groupby("p")[[0, 1]].mean().to_numpy()).max() < 1e-8


def test_mixed_model_contrast_recovers_the_effect_without_selection():
    panel = _panel(5, n=400, effect=0.5)
    row = mixed_did(panel, outcome="y", unit="id", period="t", group="g").iloc[0]
    assert abs(row.estimate - 0.5) < 4 * row.std_error and row.df > 10


def test_dose_response_bands_order_the_effects():
    panel = _panel(6, n=600, effect=1.0, dose_effect=True)
    table = dose_response(
        panel, outcome="y", unit="id", period="t", group="g", dose="dose", bands=2
    )
    assert len(table) == 2 and table.estimate.iloc[1] > table.estimate.iloc[0]
    assert table.term.iloc[0].startswith("dose band 1")


def test_a_band_without_post_treatment_cells_is_reported_not_estimable():
    # Regression (default plan on a clean 400-leader seed-7 system): a band whose post-treatment
    # cells were all skipped has only placebo cells, no overall ATT; dose_response raised a bare
    # IndexError. Now that band's row says why and the other band is still estimated.
    from coacheval.effects.did import group_time_att
    from coacheval.errors import DataValidationError

    panel = _panel(7, n=400, groups=(3,))  # cells: t=2 (placebo) and t=3 (post)
    people = panel.drop_duplicates("id").set_index("id")
    treated = people[people.g > 0]
    low = treated.index[treated.dose < treated.dose.median()]
    gappy = panel[~(panel.id.isin(low) & (panel.t == 3))]  # low dose: no answer after the start
    kwargs = {"outcome": "y", "unit": "id", "period": "t", "group": "g"}
    table = dose_response(gappy, dose="dose", bands=2, **kwargs)
    assert table.estimate.isna().tolist() == [True, False]
    assert table.note.iloc[1] == "" and np.isfinite(table.std_error.iloc[1])
    assert table.note.iloc[0].startswith("dose band 1 (")
    assert "not estimable (no post-treatment group-time cell" in table.note.iloc[0]
    assert "1: too few treated or comparison units observed" in table.note.iloc[0]
    assert table.n.tolist() == [len(low), len(treated) - len(low)]
    band = gappy[gappy.id.isin(low) | (gappy.g == 0)]
    placebo_only = group_time_att(band, **kwargs)
    assert placebo_only.table.post.tolist() == [False]
    with pytest.raises(DataValidationError, match="no overall ATT"):
        placebo_only.overall()
    no_post = panel[~((panel.g > 0) & (panel.t == 3))]
    with pytest.raises(DataValidationError, match="no attendance band is estimable: dose band 1"):
        dose_response(no_post, dose="dose", bands=2, **kwargs)
    with pytest.raises(DataValidationError, match="no treated unit with a 'dose' value"):
        dose_response(panel.assign(g=0), dose="dose", bands=2, **kwargs)
