"""Difference-in-differences: closed forms, a second implementation, simulation, edge cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coacheval.effects.did import did_2x2, group_time_att
from coacheval.errors import ConfigError, DataValidationError


def _four_means(pre, post, d):
    return (post[d == 1].mean() - pre[d == 1].mean()) - (post[d == 0].mean() - pre[d == 0].mean())


@pytest.mark.parametrize("method", ["reg", "ipw", "dr"])
def test_2x2_without_covariates_is_the_difference_of_four_means(method):
    rng = np.random.default_rng(1)
    pre, post = rng.normal(size=50), rng.normal(size=50)
    d = (np.arange(50) < 20).astype(float)
    att, se = did_2x2(pre, post, d, method=method)
    assert att == pytest.approx(_four_means(pre, post, d), abs=1e-12)
    # and its SE is the two-sample SE of the change (influence function, n-1 in the sd)
    change = post - pre
    assert se > 0 and se == pytest.approx(
        np.std(
            np.r_[
                (change[d == 1] - change[d == 1].mean()) * 50 / 20,
                -(change[d == 0] - change[d == 0].mean()) * 50 / 30,
            ],
            ddof=1,
        )
        / np.sqrt(50),
        rel=1e-12,
    )


def test_outcome_regression_equals_a_hand_fitted_regression():
    """Second implementation: OR ATT = mean treated change - mean of predictions from the
    comparison group's regression, computed with numpy.linalg directly."""
    rng = np.random.default_rng(2)
    n = 300
    x = rng.normal(size=(n, 2))
    d = (rng.uniform(size=n) < 0.4).astype(float)
    pre = rng.normal(size=n)
    post = pre + x @ [0.5, -0.2] + 1.5 * d + rng.normal(size=n)
    att, _ = did_2x2(pre, post, d, x, method="reg")
    design = np.column_stack([np.ones(n), x])
    beta = np.linalg.lstsq(design[d == 0], (post - pre)[d == 0], rcond=None)[0]
    expected = (post - pre)[d == 1].mean() - (design[d == 1] @ beta).mean()
    assert att == pytest.approx(expected, abs=1e-12)


def test_weighting_and_regression_remove_confounded_trends_where_naive_did_fails():
    rng = np.random.default_rng(3)
    estimates = {"naive": [], "reg": [], "ipw": [], "dr": []}
    for _ in range(200):
        n = 400
        x = rng.normal(size=(n, 2))
        d = (rng.uniform(size=n) < 1 / (1 + np.exp(-x[:, 0]))).astype(float)
        pre = x @ [1, 0.5] + rng.normal(size=n)
        post = pre + 0.5 * x[:, 0] + 2 * d + rng.normal(size=n)
        estimates["naive"].append(did_2x2(pre, post, d)[0])
        for m in ("reg", "ipw", "dr"):
            estimates[m].append(did_2x2(pre, post, d, x, method=m)[0])
    assert np.mean(estimates["naive"]) - 2 > 0.3  # confounded trend: biased
    for m in ("reg", "ipw", "dr"):
        mc_se = np.std(estimates[m]) / np.sqrt(200)
        assert abs(np.mean(estimates[m]) - 2) < 3 * mc_se + 0.01, m


def _panel(seed, n=300, effect=1.0, groups=(2, 3), periods=4):
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n):
        g = groups[u % (len(groups) + 1)] if u % (len(groups) + 1) < len(groups) else 0
        alpha = rng.normal()
        cluster = u // 10
        for t in range(1, periods + 1):
            y = alpha + 0.3 * t + rng.normal() + (effect * (t - g + 1) if g and t >= g else 0)
            rows.append({"id": u, "t": t, "g": g, "y": y, "c": cluster})
    return pd.DataFrame(rows)


def test_group_time_cells_equal_their_2x2_comparisons():
    panel = _panel(4)
    result = group_time_att(panel, outcome="y", unit="id", period="t", group="g", method="dr")
    wide = panel.pivot(index="id", columns="t", values="y")
    g_of = panel.drop_duplicates("id").set_index("id").g
    for row in result.table.itertuples():
        keep = g_of.isin([row.group, 0])
        d = (g_of[keep] == row.group).to_numpy(dtype=float)
        expected = _four_means(
            wide.loc[keep, row.base].to_numpy(), wide.loc[keep, row.period].to_numpy(), d
        )
        assert row.estimate == pytest.approx(expected, abs=1e-12)


def test_group_time_recovers_dynamic_effects_and_placebos_are_null():
    panel = _panel(5, n=900, effect=0.5)
    result = group_time_att(panel, outcome="y", unit="id", period="t", group="g", cluster="c")
    dyn = result.aggregations[result.aggregations.aggregation == "event_time"].set_index(
        "event_time"
    )
    for e, truth in ((0, 0.5), (1, 1.0)):
        assert abs(dyn.loc[e, "estimate"] - truth) < 4 * dyn.loc[e, "std_error"]
    pre = result.table[~result.table.post]
    assert (np.abs(pre.estimate) < 4 * pre.std_error).all()
    assert result.n_clusters == 90


def test_not_yet_treated_comparison_uses_later_cohorts():
    panel = _panel(6, groups=(2, 4), periods=4)
    never = group_time_att(
        panel, outcome="y", unit="id", period="t", group="g", comparison="never_treated"
    )
    not_yet = group_time_att(
        panel, outcome="y", unit="id", period="t", group="g", comparison="not_yet_treated"
    )
    a = never.table.set_index("term").loc["ATT(g=2, t=2)"]
    b = not_yet.table.set_index("term").loc["ATT(g=2, t=2)"]
    assert b.n_comparison > a.n_comparison  # the g=4 cohort is not yet treated at t=2


def test_cluster_robust_se_is_larger_with_clustered_shocks():
    rng = np.random.default_rng(7)
    panel = _panel(7, n=600)
    panel["c"] = (
        panel.g * 1000 + panel.id // 30
    )  # each cluster holds one cohort: shocks do not cancel
    panel["c"] = pd.factorize(panel.c)[0]
    shock = rng.normal(scale=1.5, size=panel.c.max() + 1)
    panel["y"] = panel.y + np.where(panel.t >= 2, shock[panel.c], 0)
    plain = group_time_att(panel, outcome="y", unit="id", period="t", group="g").overall()
    clustered = group_time_att(
        panel, outcome="y", unit="id", period="t", group="g", cluster="c"
    ).overall()
    assert clustered.std_error > 1.3 * plain.std_error


def test_errors_are_clear():
    panel = _panel(8)
    with pytest.raises(ConfigError, match="method must be"):
        group_time_att(panel, outcome="y", unit="id", period="t", group="g", method="ols")
    with pytest.raises(ConfigError, match="no column"):
        group_time_att(panel, outcome="nope", unit="id", period="t", group="g")
    with pytest.raises(DataValidationError, match="no treated group"):
        group_time_att(panel.assign(g=0), outcome="y", unit="id", period="t", group="g")
    few = panel[(panel.g == 0) | (panel.id < 6)]
    with pytest.raises(DataValidationError, match="no group-time cell"):
        group_time_att(few, outcome="y", unit="id", period="t", group="g", min_cell=10)


def test_event_study_plot():
    result = group_time_att(_panel(9), outcome="y", unit="id", period="t", group="g")
    figure = result.plot()
    assert figure.axes[0].get_xlabel().startswith("Periods since")
    import matplotlib.pyplot as plt

    plt.close(figure)


def test_few_treated_clusters_use_the_small_sample_correction():
    rng = np.random.default_rng(11)
    panel = _panel(11, n=300, groups=(2,))
    panel["c"] = np.where(panel.g > 0, (panel.id // 2) % 6, 100 + panel.id)  # 6 treated clusters
    shock = rng.normal(scale=1.0, size=6)
    treated = panel.g > 0
    panel.loc[treated & (panel.t >= 2), "y"] += shock[
        panel.loc[treated & (panel.t >= 2), "c"].to_numpy()
    ]
    normal = group_time_att(panel, outcome="y", unit="id", period="t", group="g", cluster="c")
    small = group_time_att(
        panel, outcome="y", unit="id", period="t", group="g", cluster="c", few_clusters_below=30
    )
    a, b = normal.overall(), small.overall()
    assert b.std_error == pytest.approx(a.std_error * np.sqrt(6 / 5), rel=1e-12)
    from scipy import stats

    assert (b.conf_high - b.estimate) == pytest.approx(
        stats.t.ppf(0.975, 5) * b.std_error, rel=1e-12
    )
    assert any("6 treated clusters" in n for n in small.notes)


def test_aggregate_standard_error_includes_the_estimated_cohort_shares():
    # Cohort 2 gains 4 points, cohort 3 nothing: the overall ATT depends on the cohorts' shares,
    # which are estimated. The leave-one-unit-out jackknife, an independent variance estimate
    # that refits everything (shares included), agrees with the analytic SE to within 2%
    # (the jackknife is larger by about n/(n-1) plus O(1/n) terms; seen: 0.8%). Taking the
    # shares as fixed gave less than half the jackknife SE on this panel.
    rng = np.random.default_rng(1)
    rows = []
    for u in range(150):
        g = (2, 3, 0)[u % 3]
        level = rng.normal()
        for t in (1, 2, 3):
            gain = 4.0 if g == 2 and t >= 2 else 0.0
            rows.append(
                {"id": u, "t": t, "g": g, "y": level + 0.3 * t + rng.normal(scale=0.5) + gain}
            )
    panel = pd.DataFrame(rows)
    fit = group_time_att(panel, outcome="y", unit="id", period="t", group="g")
    leave_one_out = np.array(
        [
            group_time_att(panel[panel.id != u], outcome="y", unit="id", period="t", group="g")
            .overall()
            .estimate
            for u in range(150)
        ]
    )
    jackknife_se = np.sqrt(149 / 150 * np.sum((leave_one_out - leave_one_out.mean()) ** 2))
    assert fit.overall().std_error == pytest.approx(jackknife_se, rel=0.02)
    assert any("as in the did package" in note for note in fit.notes)


@pytest.mark.parametrize("method", ["reg", "dr"])
def test_a_covariate_level_held_only_by_treated_units_is_not_adjusted_for_in_that_cell(method):
    # A role level that no comparison unit holds cannot enter the comparison group's outcome
    # regression (its X'X is singular); the cell drops it instead of failing, so the estimate
    # equals the one without that covariate. Found on a 200-leader simulated system.
    panel = _panel(9)
    treated_ids = panel.loc[panel.g == 2, "id"].unique()[:5]
    panel["rare"] = panel.id.isin(treated_ids).astype(float)
    kwargs = {"outcome": "y", "unit": "id", "period": "t", "group": "g", "method": method}
    with_rare = group_time_att(panel, covariates=["rare"], **kwargs)
    without = group_time_att(panel, **kwargs)
    np.testing.assert_allclose(
        with_rare.table.estimate.to_numpy(), without.table.estimate.to_numpy(), atol=1e-12
    )


def test_units_with_a_missing_covariate_are_dropped_and_counted():
    # Regression (messy extracts, seed 7): a survey respondent whose HR row was quarantined has
    # no tenure or role; one such leader made every group-time analysis "not estimable". Now the
    # adjusted analysis is the complete-case one: the same numbers as without those units, with
    # how many were dropped (treated / comparison, rows, per covariate) in the notes.
    panel = _panel(12)
    rng = np.random.default_rng(12)
    panel["x"] = rng.normal(size=panel.id.max() + 1)[panel.id]
    gaps = [0, 3, 5]  # ids 0 and 3 treated (group 2), 5 never treated
    messy = panel.assign(x=panel.x.where(~panel.id.isin(gaps)))
    messy.loc[messy.id == 5, "x"] = np.r_[np.nan, 1.0, 1.0, 1.0]  # missing where first seen
    kwargs = {"outcome": "y", "unit": "id", "period": "t", "group": "g", "covariates": ["x"]}
    dropped = group_time_att(messy, **kwargs)
    complete = group_time_att(panel[~panel.id.isin(gaps)], **kwargs)
    np.testing.assert_allclose(dropped.table.estimate, complete.table.estimate, atol=1e-12)
    np.testing.assert_allclose(dropped.table.std_error, complete.table.std_error, rtol=1e-12)
    assert dropped.n_dropped == 3 and complete.n_dropped == 0
    assert dropped.n_units == complete.n_units == 297
    assert dropped.notes[0] == (
        "3 of 300 units (2 treated, 1 comparison; 12 of 1200 rows with an outcome) dropped from "
        "the adjusted analysis because a covariate is missing (missing per column: {'x': 3}); "
        "297 units used."
    )
    assert not any("dropped" in n for n in complete.notes)
    # without covariates nothing is dropped; missing="raise" lists the units
    assert group_time_att(messy, **{**kwargs, "covariates": []}).n_units == 300
    with pytest.raises(DataValidationError, match=r"missing values for 3 unit\(s\)") as info:
        group_time_att(messy, missing="raise", **kwargs)
    assert sorted(info.value.failure_cases.index) == gaps
    with pytest.raises(ConfigError, match="missing must be 'drop' or 'raise'"):
        group_time_att(messy, missing="impute", **kwargs)


def test_a_unit_without_a_cluster_id_is_its_own_cluster():
    # Regression: survey_panel gives comparison leaders no peer group, and
    # group_time_att(cluster="peer_group") raised a bare ValueError (bincount of code -1).
    # Cluster-robust practice: a unit sharing no cluster is independent of the others, so it
    # is a cluster of one: the same as giving each such unit an id of its own.
    panel = _panel(13)
    panel["c"] = panel.c.astype(object).where(panel.g > 0)  # comparison units: no cluster
    panel.loc[panel.id == 0, "c"] = None  # and one treated unit
    own = panel.assign(c=panel.c.fillna("own-" + panel.id.astype(str)))
    kwargs = {"outcome": "y", "unit": "id", "period": "t", "group": "g", "cluster": "c"}
    missing = group_time_att(panel, **kwargs)
    filled = group_time_att(own, **kwargs)
    np.testing.assert_allclose(
        missing.aggregations[["estimate", "std_error"]].to_numpy(),
        filled.aggregations[["estimate", "std_error"]].to_numpy(),
        rtol=1e-12,
    )
    assert missing.n_clusters == filled.n_clusters == 30 + 100 + 1  # 30 shared, 101 alone
    assert "101 units without a c (1 treated, 100 comparison) are each their own cluster." in (
        missing.notes
    )


def test_aggregation_counts_equal_a_direct_count_over_the_cells():
    # The aggregation counts people, treated people and clusters over the cells it combines
    # (vectorised: a per-unit Python loop dominated the run time). Checked against plain set
    # arithmetic, with text unit ids in shuffled order and an unbalanced panel.
    panel = _panel(14)
    panel = panel.sample(frac=0.9, random_state=1)  # unbalanced, rows shuffled
    panel["id"] = "leader-" + panel.id.astype(str)
    result = group_time_att(panel, outcome="y", unit="id", period="t", group="g", cluster="c")
    wide = panel.pivot_table(index="id", columns="t", values="y")
    unit = panel.drop_duplicates("id").set_index("id")
    members = {}
    for row in result.table.itertuples():
        keep = unit.index[unit.g.isin([row.group, 0])]
        pair = wide.loc[keep, [row.base, row.period]].dropna()
        assert len(pair) == row.n
        members[(row.group, row.period)] = set(pair.index)
    for agg in result.aggregations.itertuples():
        cells = result.table
        if agg.aggregation == "overall":
            cells = cells[cells.post]
        elif agg.aggregation == "event_time":
            cells = cells[cells.event_time == agg.event_time]
        else:
            cells = cells[cells.post & (cells.group == agg.group)]
        people = set().union(*(members[(r.group, r.period)] for r in cells.itertuples()))
        assert agg.n == len(people)
        assert agg.n_treated == sum(unit.g[p] > 0 for p in people)
        assert agg.n_clusters == len({unit.c[p] for p in people})
