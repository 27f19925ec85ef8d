"""The simulator checked against its own truth.

Structural facts (peer groups, cohorts) are checked exactly on the default system. Calibration
(turnover rates, response rates, ICC, selection) is checked on a 30,000-position system, where
sampling error is small; every tolerance is a multiple of the standard error stated next to it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import cronbach_alpha, icc1_anova

ROLE_RANK = {"charge_nurse": 0, "assistant_nurse_manager": 1, "nurse_manager": 2, "director": 3}
Z_LIMIT = 3.5  # |z| beyond 3.5 has probability < 5e-4 under the truth: failures mean a real bug


def _members(system):
    ex = system.extracts
    hr = ex["hr_roster"].set_index("employee_id")
    enr = ex["enrolment"]
    return enr.assign(
        department_id=enr.employee_id.map(hr.department_id),
        role_rank=enr.employee_id.map(hr.role_level).map(ROLE_RANK),
    )


@pytest.mark.parametrize("which", ["default_system", "large_system"])
def test_peer_groups_have_3_to_4_similar_leaders_from_several_departments(which, request):
    members = _members(request.getfixturevalue(which))
    per_group = members.groupby("group_id").agg(
        size=("employee_id", "size"),
        departments=("department_id", "nunique"),
        role_span=("role_rank", lambda r: r.max() - r.min()),
    )
    assert per_group["size"].between(3, 4).all()
    assert (per_group.departments >= 2).all()
    assert (per_group.role_span <= 1).all()
    # Groups are cohort-internal and every group lists the same cohort for all its members.
    assert (members.groupby("group_id").cohort_id.nunique() == 1).all()


def test_most_groups_mix_departments_fully(default_system):
    members = _members(default_system)
    per_group = members.groupby("group_id").agg(
        size=("employee_id", "size"), departments=("department_id", "nunique")
    )
    assert (per_group.departments == per_group["size"]).mean() > 0.9


def test_cohorts_are_staggered(default_system):
    ex = default_system.extracts
    cohorts = ex["program_cohorts"]
    starts = pd.to_datetime(cohorts.start_date)
    assert len(cohorts) >= 3
    assert starts.is_monotonic_increasing and starts.nunique() == len(cohorts)
    assert (np.diff(starts.to_numpy()).astype("timedelta64[D]").astype(int) >= 150).all()
    ends = pd.to_datetime(cohorts.end_date)
    assert ((ends - starts).dt.days.between(360, 370)).all()  # 12-month program
    enr = ex["enrolment"].merge(cohorts[["cohort_id", "start_date"]], on="cohort_id")
    assert (enr.enrol_date == enr.start_date).all()
    assert enr.groupby("cohort_id").size().min() >= 30
    first_wave = pd.to_datetime(ex["survey_waves"].open_date).min()
    assert first_wave < starts.min()  # a baseline wave before the first cohort


def test_enrolled_leaders_differ_at_baseline_in_the_configured_direction(large_system):
    """Selection is real: enrolees were more engaged, newer, and more often nurse managers."""
    ex = large_system.extracts
    hr = ex["hr_roster"].set_index("employee_id")
    survey = ex["survey_responses"]
    baseline = survey[survey.wave_id == "W1"]
    uwes = baseline[[f"uwes_{i}" for i in range(1, 10)]].astype(float).mean(axis=1)
    enrolled = baseline.employee_id.isin(ex["enrolment"].employee_id)
    treated, control = uwes[enrolled], uwes[~enrolled]
    smd = (treated.mean() - control.mean()) / np.sqrt((treated.var() + control.var()) / 2)
    se = np.sqrt(1 / len(treated) + 1 / len(control))
    assert smd > 0 and smd / se > Z_LIMIT
    assert 0.1 < smd < 0.6  # selection on the engagement trait, attenuated by occasion noise

    start = pd.to_datetime(ex["enrolment"].enrol_date.min())
    employed = hr[
        (pd.to_datetime(hr.hire_date) <= start - pd.Timedelta(days=180))
        & (
            (hr.termination_date == "")
            | (pd.to_datetime(hr.termination_date.replace("", None)) > start)
        )
    ]
    tenure = (start - pd.to_datetime(employed.hire_date)).dt.days
    first = ex["enrolment"].employee_id[ex["enrolment"].cohort_id == "C1"]
    in_first = employed.index.isin(first)
    assert np.median(tenure[in_first]) < np.median(tenure[~in_first])
    share_nm = lambda mask: (employed.role_level[mask] == "nurse_manager").mean()  # noqa: E731
    share_cn = lambda mask: (employed.role_level[mask] == "charge_nurse").mean()  # noqa: E731
    assert share_nm(in_first) > share_nm(~in_first)
    assert share_cn(in_first) < share_cn(~in_first)


def _days(values: pd.Series) -> np.ndarray:
    """ISO date strings to day numbers; '' to NaN."""
    return (pd.to_datetime(values.replace("", None)) - pd.Timestamp("1970-01-01")).dt.days.to_numpy(
        float
    )


def _person_time(system, exposed: bool | None):
    """Observed events by cause and person-years in the window, optionally by exposure."""
    cfg = system.config
    ex = system.extracts
    hr = ex["hr_roster"]
    start, end = float(cfg.window_start_day), float(cfg.extract_day)
    hire = _days(hr.hire_date)
    term = _days(hr.termination_date)
    enrol = _days(
        hr.employee_id.map(ex["enrolment"].set_index("employee_id").enrol_date).fillna("")
    )
    enrol = np.where(np.isnan(enrol), np.inf, enrol)
    lo = np.maximum(hire, start)
    hi = np.minimum(np.where(np.isnan(term), end, term), end)
    if exposed is False:
        hi = np.minimum(hi, enrol)
    elif exposed is True:
        lo = np.maximum(lo, enrol)
    years = np.clip(hi - lo, 0, None).sum() / 365.25
    happened = ~np.isnan(term) & (term <= end) & (term >= lo) & (term <= hi) & (hi > lo)
    cause = hr.termination_reason.map(_cause_of_reason)
    return cause[happened].value_counts(), years


def _cause_of_reason(reason: str) -> str:
    if reason.startswith("Resigned"):
        return "voluntary"
    if reason.startswith(("Terminated", "Position")):
        return "involuntary"
    if reason == "Retirement":
        return "retirement"
    return "other"


def test_observed_turnover_by_reason_matches_configured_rates(large_system):
    """Separations per person-year without the program (unexposed time) vs the configured rates.

    Tolerance: Z_LIMIT Poisson standard errors plus 3% of the rate, which covers the small
    selection effect (enrolees are more engaged, so the leaders left unexposed are slightly
    more likely to resign); at 30,000 positions the SE of the voluntary rate is about 1.1%.
    """
    events, years = _person_time(large_system, exposed=False)
    for cause, target in large_system.config.cause_rates().items():
        observed = events.get(cause, 0)
        rate = observed / years
        se = np.sqrt(max(observed, 1)) / years
        assert abs(rate - target) <= Z_LIMIT * se + 0.03 * target, (cause, rate, target)
    total = sum(events.values) / years
    assert (
        abs(total - large_system.config.annual_exit_rate)
        <= 0.05 * large_system.config.annual_exit_rate
    )


@pytest.mark.parametrize("exposed", [None, False, True])
def test_observed_events_match_the_integrated_true_hazard(large_system, exposed):
    """Exactness of event sampling: observed events ~ Poisson(sum of integrated hazards)."""
    key = {None: "all_time", False: "unexposed_time", True: "exposed_time"}[exposed]
    expected = large_system.truth["retention"]["expected_events_in_window"][key]
    events, _ = _person_time(large_system, exposed=exposed)
    for cause, mu in expected.items():
        if mu < 20:
            continue
        assert abs(events.get(cause, 0) - mu) <= Z_LIMIT * np.sqrt(mu), (
            key,
            cause,
            events.get(cause, 0),
            mu,
        )


def test_program_lowers_only_voluntary_exits(large_system):
    exposed_events, exposed_years = _person_time(large_system, exposed=True)
    unexposed_events, unexposed_years = _person_time(large_system, exposed=False)
    ratio = (exposed_events["voluntary"] / exposed_years) / (
        unexposed_events["voluntary"] / unexposed_years
    )
    # crude ratio includes selection (more engaged enrol), so it is below the true 0.85
    assert ratio < 1.0
    assert large_system.truth["retention"]["true_effect"]["causes_affected"] == ["voluntary"]


def test_survey_response_rates_match_configuration(large_system):
    waves = pd.DataFrame(large_system.truth["surveys"]["waves"])
    p = large_system.config.response_rate
    rate = waves.responded / waves.invited
    se = np.sqrt(p * (1 - p) / waves.invited)
    assert (np.abs(rate - p) <= Z_LIMIT * se).all(), rate.tolist()
    # The extract holds exactly the responses the truth counts.
    survey = large_system.extracts["survey_responses"]
    assert survey.groupby("wave_id").size().tolist() == waves.responded.tolist()


def test_nonresponse_depends_on_engagement(large_system):
    """Less engaged leaders respond less: later-wave respondents were more engaged at W1."""
    survey = large_system.extracts["survey_responses"]
    w1 = survey[survey.wave_id == "W1"].set_index("employee_id")
    uwes = w1[[f"uwes_{i}" for i in range(1, 10)]].astype(float).mean(axis=1)
    w2 = set(survey.employee_id[survey.wave_id == "W2"])
    responded_again = uwes.index.isin(w2)
    assert uwes[responded_again].mean() > uwes[~responded_again].mean()


@pytest.mark.parametrize(("prefix", "n_items"), [("uwes", 9), ("who5", 5)])
def test_unit_icc_of_a_scale_is_near_its_configured_value(large_system, prefix, n_items):
    """Observed ICC(1) by unit, disattenuated by Cronbach's alpha, averaged over the 8 waves.

    The configured ICC is that of the true score (0.05), so observed ICC / reliability should
    recover it. One wave's SE is about 0.010 on this system; the wave average is checked within
    0.015 (waves share units and people, so the average is less precise than SE / sqrt(8)).
    """
    ex = large_system.extracts
    unit = ex["hr_roster"].set_index("employee_id").unit_id
    survey = ex["survey_responses"]
    estimates = []
    for _, wave in survey.groupby("wave_id"):
        items = wave[[f"{prefix}_{i}" for i in range(1, n_items + 1)]].astype(float)
        icc, _se = icc1_anova(items.mean(axis=1), wave.employee_id.map(unit))
        estimates.append(icc / cronbach_alpha(items))
    assert abs(np.mean(estimates) - large_system.config.icc_unit) < 0.015, estimates


def test_scale_reliability_is_near_configured(large_system):
    survey = large_system.extracts["survey_responses"]
    w1 = survey[survey.wave_id == "W1"]
    alpha = cronbach_alpha(w1[[f"uwes_{i}" for i in range(1, 10)]].astype(float))
    assert abs(alpha - large_system.config.scales["work_engagement"].reliability) < 0.02


def test_reverse_keyed_items_are_stored_reversed(default_system):
    survey = default_system.extracts["survey_responses"]
    corr = survey[["jss_1", "jss_2", "jss_3"]].astype(float).corr()
    assert corr.loc["jss_1", "jss_2"] < 0 < corr.loc["jss_1", "jss_3"]
    spos = survey[[f"spos_{i}" for i in range(1, 9)]].astype(float).corr()
    assert spos.loc["spos_1", "spos_2"] < 0 and spos.loc["spos_1", "spos_4"] > 0


def test_item_values_lie_on_their_response_scales(default_system):
    survey = default_system.extracts["survey_responses"]
    simulated = {scale.instrument for scale in default_system.config.scales.values()}
    for name in simulated:
        instrument = default_system.instruments[name]
        values = survey[list(instrument.item_ids)].stack()
        assert values.between(instrument.scale_min, instrument.scale_max).all()


def test_item_nonresponse_rate(large_system):
    survey = large_system.extracts["survey_responses"]
    first_items = survey[[c for c in survey.columns[3:13]]]  # before break-offs can happen
    p = large_system.config.item_missing_rate
    n = first_items.size
    assert abs(first_items.isna().mean().mean() - p) <= Z_LIMIT * np.sqrt(p * (1 - p) / n)


def test_effects_grow_after_start_and_with_dose(large_system):
    effects = large_system.surveys.effects
    engagement = effects[effects.construct == "work_engagement"]
    before = engagement[engagement.months_since_start <= 0]
    assert (before.effect == 0).all()
    after = engagement[engagement.months_since_start.between(6, 12)]
    high = after[after.dose >= 0.75].effect.mean()
    low = after[after.dose < 0.4].effect.mean()
    assert high > low > 0 or (high > 0 and low >= 0)
    assert (
        high
        > 0.5
        * large_system.config.scales["work_engagement"].effect_d
        * large_system.config.scales["work_engagement"].sd
    )


def test_attendance_fidelity_and_maintenance(default_system):
    ex = default_system.extracts
    sessions = ex["sessions"]
    program = sessions[sessions.phase == "program"]
    held = program.groupby("group_id").size() / 12
    assert 0.75 < held.mean() < 0.97 and held.std() > 0.02  # fidelity varies between groups
    assert (sessions.phase == "maintenance").any()
    share_maintaining = (
        sessions[sessions.phase == "maintenance"].group_id.nunique() / sessions.group_id.nunique()
    )
    assert 0.2 < share_maintaining < 0.6
    attended = (ex["attendance"].attended == "Y").mean()
    assert 0.6 < attended < 0.9


def test_hr_roster_is_consistent(default_system):
    hr = default_system.extracts["hr_roster"]
    assert hr.employee_id.is_unique
    assert hr.employee_id.str.fullmatch(r"\d{7}").all()
    terminated = hr.termination_date != ""
    assert (
        pd.to_datetime(hr.termination_date[terminated]) >= pd.to_datetime(hr.hire_date[terminated])
    ).all()
    assert set(hr.termination_reason[terminated].map(_cause_of_reason)) <= {
        "voluntary",
        "involuntary",
        "retirement",
        "other",
    }
    assert (hr.employment_status == np.where(terminated, "Terminated", "Active")).all()
    # Every enrolee, attendee and respondent is in the roster (clean mode).
    ids = set(hr.employee_id)
    for name in ("enrolment", "attendance", "survey_responses"):
        assert set(default_system.extracts[name].employee_id) <= ids
    # Managers are in the roster, or outside the leader population (directors' CNOs), or vacant.
    managers = hr.manager_id[hr.manager_id != ""]
    assert (managers.isin(ids) | managers.str.startswith("91")).all()


def test_realised_att_is_recorded_for_every_post_start_cohort_wave(default_system):
    att = pd.DataFrame(default_system.truth["surveys"]["realised_att"])
    assert set(att.construct) == set(default_system.truth["surveys"]["scales"])
    assert (att.mean_months_since_start > 0).all()
    engagement = att[att.construct == "work_engagement"]
    assert (engagement.att > 0).all()
    burnout = att[att.construct == "burnout"]
    assert (burnout.att < 0).all()


def test_employed_trait_means_match_the_equilibrium_tilt(large_system):
    """Leaders who stay are more engaged and less burned out; the analytic tilt matches.

    SE of a mean of ~29,000 unit-variance traits is about 0.006; tolerance 0.025 adds the
    quadrature and role-mix approximations of the analytic value.
    """
    people = large_system.program.people
    day = large_system.config.window_start_day
    employed = people[(people.hire_day <= day) & (people.exit_day > day)]
    expected = large_system.truth["surveys"]["population"]["employed_trait_means"]
    for construct, mean in expected.items():
        assert abs(employed[f"z_{construct}"].mean() - mean) < 0.025, construct
    assert expected["work_engagement"] > 0.1 and expected["burnout"] < -0.1
