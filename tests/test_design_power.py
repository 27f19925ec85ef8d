"""Design power: internal consistency of the formulas, the planned-rollout verdict, edge cases.

The GLS variance is checked against closed forms where they exist (Hussey & Hughes 2007 for
the cross-sectional stepped wedge; the Donner-Klar design effect and Teerenstra's ANCOVA
correlation for parallel designs with and without a baseline, which the GLS reproduces exactly)
to 1e-12 relative; R comparisons are in test_design_power_vs_r.py, simulations in
test_design_power_simulation.py.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from matplotlib.figure import Figure

from coacheval.cli.power import power as power_command
from coacheval.design.power import (
    DesignPowerResult,
    baseline_correlation,
    cluster_power,
    design_effect,
    design_power,
    gls_power,
    hussey_hughes_variance,
    power_summary,
    rollout_design,
    stepped_wedge_power,
    t2n_power,
    t_test_power,
    treatment_variance,
)
from coacheval.errors import ConfigError
from coacheval.retention.power import retention_power


# ------------------------------------------------------------------- closed forms
@pytest.mark.parametrize(
    ("units", "cohorts", "waves", "icc", "m"),
    [(24, 4, None, 0.05, 20), (9, 3, 7, 0.2, 5), (5, 5, None, 0.01, 50), (30, 2, 4, 0.5, 3)],
)
def test_gls_equals_hussey_hughes_closed_form(units, cohorts, waves, icc, m) -> None:
    x = rollout_design(units, cohorts, waves)
    v = treatment_variance(x, icc=icc, cluster_size=m)
    assert v == pytest.approx(hussey_hughes_variance(x, sigma2=(1 - icc) / m, tau2=icc), rel=1e-12)


@pytest.mark.parametrize(
    ("icc", "m", "cac", "iac"), [(0.05, 10, 1.0, 0.0), (0.1, 8, 0.7, 0.5), (0.3, 4, 1.0, 0.8)]
)
def test_parallel_with_baseline_is_the_ancova_design_effect(icc, m, cac, iac) -> None:
    k = 10
    x = rollout_design(2 * k, 1, 2, control_units=k)
    v = treatment_variance(
        x, icc=icc, cluster_size=m, cluster_autocorrelation=cac, individual_autocorrelation=iac
    )
    r = baseline_correlation(m, icc, cluster_autocorrelation=cac, individual_autocorrelation=iac)
    assert v == pytest.approx(2 * design_effect(m, icc) * (1 - r**2) / (k * m), rel=1e-12)
    se = cluster_power(cluster_size=m, icc=icc, clusters=k, d=0.3, baseline_r=r).se
    assert v == pytest.approx(se**2, rel=1e-12)


def test_parallel_post_only_is_the_donner_klar_design_effect() -> None:
    x = rollout_design(16, 1, 1, cohort_start_waves=[0], control_units=8)
    v = treatment_variance(x, icc=0.08, cluster_size=12)
    assert v == pytest.approx(2 * design_effect(12, 0.08) / (8 * 12), rel=1e-12)


def test_response_rate_scales_cross_sectional_cells_and_cohort_overlap() -> None:
    x = rollout_design(12, 3)
    assert treatment_variance(x, icc=0.05, cluster_size=20, response_rate=0.5) == pytest.approx(
        treatment_variance(x, icc=0.05, cluster_size=10), rel=1e-12
    )
    # cohort: independent response at each wave leaves q^2 m leaders in two waves, so the
    # covariance of two wave means is zeta^2 / m, not zeta^2 / (q m)
    cohort = {"individual_autocorrelation": 0.6}
    half = treatment_variance(x, icc=0.05, cluster_size=20, response_rate=0.5, **cohort)
    same_people = treatment_variance(x, icc=0.05, cluster_size=10, **cohort)
    assert half > same_people  # fewer repeated respondents, less within-person information


def test_cluster_of_one_is_the_t_test() -> None:
    # m = 1: no clustering whatever the ICC; k clusters per arm = a t test with n = k
    for icc in (0.0, 0.3, 1.0):
        res = cluster_power(cluster_size=1, icc=icc, clusters=25, d=0.5)
        assert res.table.design_effect.item() == 1.0
        assert res.power == pytest.approx(t_test_power(n=25, d=0.5).power, rel=1e-12)


def test_t2n_with_equal_groups_is_pwr_t_test() -> None:
    assert t2n_power(n1=40, n2=40, d=0.4).power == pytest.approx(
        t_test_power(n=40, d=0.4).power, rel=1e-13
    )


def test_solving_inverts_the_power_function() -> None:
    n = t_test_power(d=0.35, power=0.9, type="paired", alternative="greater").n
    assert t_test_power(n=n, d=0.35, type="paired", alternative="greater").power == (
        pytest.approx(0.9, abs=1e-12)
    )
    k = cluster_power(cluster_size=6, icc=0.05, d=0.3, power=0.8, cv=0.5).clusters
    assert cluster_power(cluster_size=6, icc=0.05, clusters=k, d=0.3, cv=0.5).power == (
        pytest.approx(0.8, abs=1e-12)
    )
    res = stepped_wedge_power(rollout_design(12, 3), icc=0.05, cluster_size=8, df=10)
    assert gls_power(res.variance, effect=res.mde, df=10)[0] == pytest.approx(0.8, abs=1e-12)


# ------------------------------------------------------------------- edge cases
def test_effect_zero_gives_power_alpha() -> None:
    assert t_test_power(n=30, d=0.0).power == pytest.approx(0.05, abs=1e-12)
    assert t_test_power(n=30, d=0.0, alpha=0.01, alternative="greater").power == pytest.approx(
        0.01, abs=1e-12
    )
    assert cluster_power(cluster_size=5, icc=0.1, clusters=6, d=0.0).power == pytest.approx(
        0.05, abs=1e-12
    )
    res = stepped_wedge_power(rollout_design(8, 4), icc=0.05, cluster_size=6, effect=0.0)
    assert res.power == pytest.approx(0.05, abs=1e-12)
    plan = design_power(units=12, leaders_per_unit=6, outcomes={"wellbeing": 0.0})
    assert plan.table.power.iloc[0] == pytest.approx(0.05, abs=1e-12)
    assert "no effect is expected" in plan.table.verdict.iloc[0]


def test_icc_zero_is_independent_leaders() -> None:
    x = rollout_design(6, 3)
    v = treatment_variance(x, icc=0.0, cluster_size=10)
    # no cluster effect: the two-way (period, treatment) least-squares variance s2 I / (I U - W)
    u, w = x.sum(), (x.sum(axis=0) ** 2).sum()
    assert v == pytest.approx(0.1 * 6 / (6 * u - w), rel=1e-12)
    assert design_effect(50, 0.0) == 1.0


def test_icc_one_stepped_wedge_is_exact_and_parallel_keeps_cluster_variance() -> None:
    # no within-unit variation: within-unit contrasts identify the effect without error
    res = stepped_wedge_power(rollout_design(8, 4), icc=1.0, cluster_size=5, effect=0.1)
    assert res.variance < 1e-8
    assert res.power == pytest.approx(1.0)
    # parallel, post only: only the clusters count (design effect m)
    x = rollout_design(10, 1, 1, cohort_start_waves=[0], control_units=5)
    assert treatment_variance(x, icc=1.0, cluster_size=7) == pytest.approx(2 / 5, rel=1e-8)
    assert design_effect(7, 1.0) == 7.0


def test_one_cluster_per_step_and_single_leader_units() -> None:
    res = stepped_wedge_power(rollout_design(4, 4), icc=0.1, cluster_size=1, effect=0.5)
    assert np.isfinite(res.variance) and 0.05 < res.power < 1
    x = rollout_design(4, 4)
    assert res.variance == pytest.approx(hussey_hughes_variance(x, sigma2=0.9, tau2=0.1), rel=1e-12)


def test_missing_cells_and_zero_sizes_are_the_same_thing() -> None:
    x = rollout_design(6, 3)
    m = np.full(x.shape, 10.0)
    x_nan = x.copy()
    x_nan[0, 3] = np.nan
    m_zero = m.copy()
    m_zero[0, 3] = 0
    a = treatment_variance(x_nan, icc=0.05, cluster_size=m, individual_autocorrelation=0.3)
    b = treatment_variance(x, icc=0.05, cluster_size=m_zero, individual_autocorrelation=0.3)
    assert a == pytest.approx(b, rel=1e-13)
    assert a > treatment_variance(x, icc=0.05, cluster_size=m, individual_autocorrelation=0.3)


def test_rollout_design_defaults_and_spacing() -> None:
    x = rollout_design(7, 3, 7)
    starts = [int(np.argmax(row)) for row in x]
    assert starts == [1, 1, 1, 3, 3, 5, 5]  # earlier cohorts take the extra unit
    assert rollout_design(3, 3).shape == (3, 4)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: t_test_power(n=20), "give all but one"),
        (lambda: t_test_power(n=20, d=0.5, power=0.8), "give all but one"),
        (lambda: t_test_power(n=20, d=0.5, alpha=1.5), "alpha"),
        (lambda: t_test_power(n=20, d=0.5, type="welch"), "type"),
        (lambda: t_test_power(d=0.0001, power=0.99), "no n between"),
        (lambda: t2n_power(n1=1, n2=20, d=0.5), "at least 2"),
        (lambda: design_effect(0.5, 0.1), "cluster_size"),
        (lambda: design_effect(5, 1.2), "icc"),
        (lambda: cluster_power(cluster_size=5, icc=0.1, clusters=1, d=0.3), "exceed 1"),
        (lambda: cluster_power(cluster_size=5, icc=0.1, d=0.3, power=0.8, df="z"), "df"),
        (lambda: rollout_design(2, 3), "cannot fill 3 cohorts"),
        (lambda: rollout_design(6, 2, 3, cohort_start_waves=[1, 3]), "wave numbers"),
        (lambda: rollout_design(6, 2, 1), "single survey wave"),
        (lambda: treatment_variance([[0, 2]], icc=0.1, cluster_size=5), "between 0 and 1"),
        (lambda: treatment_variance([[0, 1], [0, 1]], icc=0.1, cluster_size=5), "cannot separate"),
        (lambda: treatment_variance(np.ones(3), icc=0.1, cluster_size=5), "2-dimensional"),
        (
            lambda: treatment_variance(rollout_design(4, 2), icc=0.1, cluster_size=[1, 2]),
            "2 entries for 4 clusters",
        ),
        (
            lambda: treatment_variance(rollout_design(4, 2), icc=0.1, cluster_size=-1),
            ">= 0",
        ),
        (lambda: design_power(units=6, leaders_per_unit=[5, 5]), "one per unit"),
        (lambda: design_power(units=2, leaders_per_unit=5, cohorts=1), "degrees of freedom"),
        (lambda: design_power(units=6, leaders_per_unit=5, outcomes={"x": "big"}), "number"),
        (lambda: design_power(units=6, leaders_per_unit=5, response_rate=0), "response_rate"),
        (lambda: design_power(units=6, leaders_per_unit=5, hazard_ratio=1.0), "hazard_ratio = 1"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message) -> None:
    with pytest.raises(ConfigError, match=message):
        call()


# ------------------------------------------------------------- the planned rollout
def test_design_power_table_verdict_and_retention() -> None:
    res = design_power(
        units=24,
        leaders_per_unit=10,
        cohorts=3,
        icc=0.05,
        response_rate=0.6,
        outcomes={"work_engagement": 0.15, "burnout": {"effect": -0.5, "icc": 0.2}},
        annual_turnover=0.1,
        hazard_ratio=0.8,
        follow_up_years=2,
    )
    assert isinstance(res, DesignPowerResult)
    t = res.table.set_index("outcome")
    assert list(t.index) == ["work_engagement", "burnout", "turnover"]
    eng = t.loc["work_engagement"]
    direct = stepped_wedge_power(
        rollout_design(24, 3), icc=0.05, cluster_size=10, response_rate=0.6, df=22, effect=0.15
    )
    assert eng.minimum_detectable == pytest.approx(direct.mde, rel=1e-12)
    assert eng.power == pytest.approx(direct.power, rel=1e-12)
    assert eng.verdict == (
        f"work engagement: the evaluation can detect an effect of d >= {direct.mde:.2f} with 80% "
        f"power; it cannot detect the 0.15 expected (power {100 * direct.power:.0f}%)."
    )
    assert bool(t.loc["burnout", "detectable"]) is True
    assert "it can detect the 0.50 expected" in t.loc["burnout", "verdict"]
    # retention: Schoenfeld for all 240 leaders, exposed share of person-time (1+2+3)/9
    ret = retention_power(
        240, share_treated=6 / 9, follow_up_years=2, annual_turnover=0.1, hazard_ratio=0.8
    )
    assert t.loc["turnover", "minimum_detectable"] == pytest.approx(ret.mdhr_protective)
    assert t.loc["turnover", "power"] == pytest.approx(ret.power)
    assert res.parameters["exposed_share"] == pytest.approx(6 / 9)
    assert res.verdict.splitlines()[0].startswith("Planned rollout: 24 units with about 240")
    assert len(res.verdict.splitlines()) == 4


def test_more_units_detect_smaller_effects_and_normal_df_is_optimistic() -> None:
    small = design_power(units=12, leaders_per_unit=8, outcomes={"wellbeing": 0.2})
    large = design_power(units=48, leaders_per_unit=8, outcomes={"wellbeing": 0.2})
    assert large.table.minimum_detectable.iloc[0] < small.table.minimum_detectable.iloc[0]
    z = design_power(units=12, leaders_per_unit=8, outcomes={"wellbeing": 0.2}, df="normal")
    assert z.table.minimum_detectable.iloc[0] < small.table.minimum_detectable.iloc[0]
    assert z.df is None and small.df == 10


def test_default_outcomes_come_from_the_simulator_and_control_units_work() -> None:
    res = design_power(units=20, leaders_per_unit=[8, 12] * 10, cohorts=2, control_units=4)
    assert set(res.table.outcome) >= {"work_engagement", "job_satisfaction", "burnout"}
    assert res.design[-4:].sum() == 0
    assert "(4 never starting)" in res.verdict
    summary = power_summary(res)
    assert list(summary.columns) == [
        "outcome",
        "measure",
        "expected",
        "minimum_detectable",
        "power",
        "detectable",
        "verdict",
    ]
    assert power_summary(units=20, leaders_per_unit=10, outcomes={"wellbeing": 0.2}).shape[0] == 2
    with pytest.raises(ConfigError, match="not both"):
        power_summary(res, units=3)


def test_no_retention_contrast_without_exposure_change() -> None:
    # every program unit exposed at the only wave: the survey compares arms, retention has a
    # coached share of 1/2; with no control units there is no contrast at all
    res = design_power(
        units=10,
        leaders_per_unit=10,
        cohorts=1,
        waves=1,
        cohort_start_waves=[0],
        control_units=5,
        outcomes={"wellbeing": 0.3},
    )
    assert res.parameters["exposed_share"] == pytest.approx(0.5)
    assert res.retention is not None


def test_result_serialises_and_plots() -> None:
    res = design_power(units=12, leaders_per_unit=8, hazard_ratio=None)
    data = json.loads(json.dumps(res.to_dict()))
    assert data["design"] == res.design.tolist()
    assert data["parameters"]["hazard_ratio"] is None
    assert "turnover: a hazard ratio of leaving of" in res.verdict
    fig = res.plot()
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert isinstance(t_test_power(n=20, d=0.5).plot(), Figure)
    assert isinstance(
        stepped_wedge_power(rollout_design(6, 3), icc=0.1, cluster_size=5).plot(), Figure
    )
    assert "n is the number in each group" in t_test_power(n=20, d=0.5).summary()


# ------------------------------------------------------------------------------ CLI
def test_cli_writes_power_files(tmp_path) -> None:
    out = tmp_path / "power"
    result = CliRunner().invoke(
        power_command,
        [
            "--units", "24", "--leaders-per-unit", "10", "--cohorts", "3", "--icc", "0.05",
            "--outcome", "work_engagement=0.15", "--out", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "cannot detect the 0.15 expected" in " ".join(result.output.split())
    data = json.loads((out / "power.json").read_text())
    assert data["table"][0]["outcome"] == "work_engagement"
    table = pd.read_csv(out / "power.csv")
    assert list(table.outcome) == ["work_engagement", "turnover"]


def test_cli_plan_file_groups_and_overrides(tmp_path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "power:\n  groups: 30\n  leaders_per_group: 4\n  cohorts: 3\n  icc: 0.03\n"
        "  outcomes:\n    burnout: -0.3\n    wellbeing: {effect: 0.2, icc: 0.05}\n"
    )
    out = tmp_path / "o"
    result = CliRunner().invoke(
        power_command, ["--plan", str(plan), "--response-rate", "0.8", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads((out / "power.json").read_text())
    assert data["parameters"]["cluster_label"] == "peer group"
    assert data["parameters"]["response_rate"] == 0.8
    assert data["parameters"]["units"] == 30
    assert [r["icc"] for r in data["table"][:2]] == [0.03, 0.05]


def test_cli_simulation_check(tmp_path) -> None:
    result = CliRunner().invoke(
        power_command,
        [
            "--units", "9", "--leaders-per-unit", "6", "--outcome", "wellbeing=0.5",
            "--simulate", "60", "--workers", "1", "--seed", "3", "--out", str(tmp_path),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    sim = pd.read_csv(tmp_path / "power_simulation.csv")
    mde = json.loads((tmp_path / "power.json").read_text())["table"][0]["minimum_detectable"]
    assert sim.effect.round(6).tolist() == [0.0, 0.5, round(mde, 6)]
    assert (sim.analysis == "mixed").all()
    assert "Check by simulation" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--leaders-per-unit", "10"], "give --units (or --groups)"),
        (["--units", "5", "--groups", "5", "--leaders-per-unit", "3"], "not both"),
        (["--units", "2", "--leaders-per-unit", "10"], "cannot fill 3 cohorts"),
        (["--units", "9", "--leaders-per-unit", "10", "--icc", "2"], "0<=x<=1"),
        (["--units", "9", "--leaders-per-unit", "10", "--outcome", "engagement"], "NAME=EFFECT"),
        (["--units", "9", "--leaders-per-unit", "10", "--hazard-ratio", "1"], "hazard_ratio = 1"),
    ],
)
def test_cli_bad_options_exit_2_with_a_message(tmp_path, args, message) -> None:
    result = CliRunner().invoke(power_command, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_cli_bad_plan_file(tmp_path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("units: 10\nleaders: 5\n")
    result = CliRunner().invoke(power_command, ["--plan", str(plan), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown key(s) leaders" in " ".join(result.output.split())
