"""Design power against R (pwr 1.3-0, explicit GLS matrix algebra) and published examples.

Fixtures from ``Rscript tests/reference/r/design_power.R`` (R 4.2.2, pwr 1.3-0; session in
tests/reference/expected/sessionInfo_design_power.txt). Tolerances and observed maxima:

* t-test power (``pwr.t.test``/``pwr.t2n.test``, 720 power rows): R's ``pt(ncp=)`` (AS 243,
  error bound 1e-12) against scipy's noncentral t (Boost); observed max |diff| 9.6e-13,
  tolerance 1e-11 absolute.
* Solved n, n2 and d (288 rows): pwr solves with ``uniroot``'s default ``tol =
  .Machine$double.eps^0.25`` (1.2e-4), so pwr's own values are only that accurate: observed max
  |diff| 3.0e-5, tolerance 2.5e-4 absolute (twice uniroot's tolerance). The same roots from
  ``uniroot(tol = 1e-14)`` on pwr's power function (``value_tight``): observed max relative
  diff 4.0e-12, tolerance 1e-10 (the root of a function computed to ~1e-12).
* Cluster designs (480 rows): design effect and SE are closed forms (observed 4e-16 / 1.6e-15,
  tolerance 1e-13 relative); power observed 9.5e-13 (tolerance 1e-11); clusters per arm for 80%
  power observed 1.8e-12 relative (tolerance 1e-10).
* Teerenstra's baseline correlation (48 rows): observed 1.1e-16, tolerance 1e-14.
* GLS variance of the treatment effect (12 designs: Hussey & Hughes' cross-sectional model,
  cohorts with individual and cluster autocorrelation, unequal and per-cell sizes, control
  units, missing cells, ICC 0, one cluster per step): R builds the full design and
  block-diagonal covariance matrices and inverts them; coacheval groups clusters by pattern and
  solves per pattern. Observed max relative diff 3.4e-15, tolerance 1e-12 (a few hundred
  flops on well-conditioned matrices). Hussey & Hughes' closed form where it applies: observed
  1.9e-15 relative.

Published examples: Cohen (1992) Table 2 and the swCRTdesign README (see the tests).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coacheval.design.power import (
    baseline_correlation,
    cluster_power,
    gls_power,
    hussey_hughes_variance,
    rollout_design,
    stepped_wedge_power,
    t2n_power,
    t_test_power,
    treatment_variance,
)

REF = Path(__file__).parent / "reference"
EXP = REF / "expected"
ALT = {"two.sided": "two-sided", "greater": "greater", "less": "less"}
TYPE = {"two.sample": "two-sample", "one.sample": "one-sample", "paired": "paired"}


@pytest.fixture(scope="module")
def t_ref() -> pd.DataFrame:
    return pd.read_csv(EXP / "design_power_t.csv")


def _solve_t(row: pd.Series) -> float:
    if row.fn == "t":
        kw = {"alpha": row.alpha, "type": TYPE[row.type], "alternative": ALT[row.alternative]}
        if row.solved == "power":
            return t_test_power(n=row.n, d=row.d, **kw).power
        if row.solved == "n":
            return t_test_power(d=row.d, power=row.power, **kw).n
        return t_test_power(n=row.n, power=row.power, **kw).d
    kw = {"alpha": row.alpha, "alternative": ALT[row.alternative]}
    if row.solved == "power":
        return t2n_power(n1=row.n1, n2=row.n2, d=row.d, **kw).power
    if row.solved == "n2":
        return t2n_power(n1=row.n1, d=row.d, power=row.power, **kw).n2
    return t2n_power(n1=row.n1, n2=row.n2, power=row.power, **kw).d


def test_t_power_matches_pwr(t_ref: pd.DataFrame) -> None:
    rows = t_ref[t_ref.solved == "power"]
    assert len(rows) == 720
    got = np.array([_solve_t(r) for _, r in rows.iterrows()])
    np.testing.assert_allclose(got, rows.power.to_numpy(), rtol=0, atol=1e-11)


def test_solved_quantities_match_pwr_and_tight_roots(t_ref: pd.DataFrame) -> None:
    rows = t_ref[t_ref.solved != "power"]
    assert set(rows.solved) == {"n", "n2", "d"}
    got = np.array([_solve_t(r) for _, r in rows.iterrows()])
    pwr_value = np.where(
        rows.solved == "n", rows.n, np.where(rows.solved == "n2", rows.n2, rows.d)
    ).astype(float)
    np.testing.assert_allclose(got, pwr_value, rtol=0, atol=2.5e-4)
    np.testing.assert_allclose(got, rows.value_tight.to_numpy(), rtol=1e-10)


def test_cluster_designs_match_r() -> None:
    ref = pd.read_csv(EXP / "design_power_cluster.csv")
    for _, r in ref.iterrows():
        kw = {"cluster_size": r.m, "icc": r.icc, "cv": r.cv, "baseline_r": r.baseline_r}
        res = cluster_power(clusters=r.k, d=r.d, df=r.df, **kw)
        assert res.table.design_effect.item() == pytest.approx(r.design_effect, rel=1e-13)
        assert res.se == pytest.approx(r.se, rel=1e-13)
        assert res.power == pytest.approx(r.power, abs=1e-11)
        k = cluster_power(d=r.d, power=0.8, df=r.df, **kw).clusters
        assert k == pytest.approx(r.k_solved, rel=1e-10)


def test_baseline_correlation_matches_r() -> None:
    ref = pd.read_csv(EXP / "design_power_baseline_r.csv")
    got = [
        baseline_correlation(
            r.m, r.icc, cluster_autocorrelation=r.cac, individual_autocorrelation=r.iac
        )
        for r in ref.itertuples()
    ]
    np.testing.assert_allclose(got, ref.r, rtol=0, atol=1e-14)


def _designs() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    long = pd.read_csv(REF / "data" / "design_power_designs.csv")
    out = {}
    for name, d in long.groupby("design", sort=False):
        x = d.pivot(index="cluster", columns="period", values="x").to_numpy()
        m = d.pivot(index="cluster", columns="period", values="m").to_numpy()
        out[str(name)] = (x, m)
    return out


GLS = pd.read_csv(EXP / "design_power_gls.csv")


@pytest.mark.parametrize("case", GLS.design.tolist())
def test_gls_variance_matches_r(case: str) -> None:
    r = GLS.set_index("design").loc[case]
    x, m = _designs()[case]
    v = treatment_variance(
        x,
        icc=r.icc,
        cluster_size=m,
        cluster_autocorrelation=r.cac,
        individual_autocorrelation=r.iac,
        response_rate=r.rr,
        total_variance=r.total_variance,
    )
    assert v == pytest.approx(r.variance, rel=1e-12)
    power, _ = gls_power(v, effect=r.effect, alpha=r.alpha)
    assert power == pytest.approx(r.power_normal, abs=1e-12)
    if np.isfinite(r.closed_form):
        hh = hussey_hughes_variance(
            x, sigma2=r.total_variance * (1 - r.icc) / m[0, 0], tau2=r.total_variance * r.icc
        )
        assert hh == pytest.approx(r.closed_form, rel=1e-12)
        assert v == pytest.approx(hh, rel=1e-12)


def test_rollout_design_builds_the_r_designs() -> None:
    designs = _designs()
    built = {
        "hh2007": rollout_design(24, 4),
        "sw3x4_cross": rollout_design(12, 3),
        "hybrid_unequal": rollout_design(10, 2, 3, control_units=4),
        "parallel_baseline": rollout_design(20, 1, 2, control_units=10),
        "parallel_post": rollout_design(20, 1, 1, cohort_start_waves=[0], control_units=10),
        "one_per_step": rollout_design(4, 4),
        "icc0": rollout_design(6, 3),
        "extended": rollout_design(9, 3, 7),
        "matrix_sizes": rollout_design(6, 3, 5, cohort_start_waves=[1, 2, 3]),
        "large_icc": rollout_design(20, 4),
    }
    for name, x in built.items():
        np.testing.assert_array_equal(x, designs[name][0], err_msg=name)


# ------------------------------------------------------------------ published examples
@pytest.mark.parametrize(
    ("alpha", "expected"),
    [(0.01, (586, 95, 38)), (0.05, (393, 64, 26)), (0.10, (310, 50, 20))],
)
def test_cohen_1992_table_2(alpha: float, expected: tuple[int, int, int]) -> None:
    """Cohen J. (1992) A power primer. Psychol Bull 112:155-159, Table 2 (p. 158).

    Row "1. Mean dif", power .80, two-tailed: N per group for small (d = .20), medium (.50)
    and large (.80) effects, printed as whole numbers (the exact n rounded).
    """
    got = tuple(round(t_test_power(d=d, power=0.8, alpha=alpha).n) for d in (0.2, 0.5, 0.8))
    assert got == expected


def test_swcrtdesign_readme_example() -> None:
    """The swCRTdesign README (CRAN, swCRTdesign 4.0; Voldal et al. 2020, Comput Methods
    Programs Biomed 196:105514), https://cran.r-project.org/web/packages/swCRTdesign/readme/
    README.html: ``swPwr(swDsn(c(6,6,6,6)), distn="binomial", n=120, mu0=0.05, mu1=0.035,
    tau=0.01, eta=0, rho=0, gamma=0, alpha=0.05)`` prints ``treatment.1 0.7861896`` for "a SW
    trial with 24 clusters and 5 periods" (Hussey & Hughes' 2007 model, cross-sectional).

    swPwr's binomial variance is mubar (1 - mubar) with mubar = (mu0 + mu1) / 2, so the total
    variance is that plus tau^2 and the ICC is tau^2 over it.
    """
    mubar = (0.05 + 0.035) / 2
    total = mubar * (1 - mubar) + 0.01**2
    res = stepped_wedge_power(
        rollout_design(24, 4),
        icc=0.01**2 / total,
        cluster_size=120,
        total_variance=total,
        effect=0.035 - 0.05,
    )
    assert round(res.power, 7) == 0.7861896
    # Hussey & Hughes' closed form gives the same variance
    hh = hussey_hughes_variance(rollout_design(24, 4), sigma2=mubar * (1 - mubar) / 120, tau2=1e-4)
    assert res.variance == pytest.approx(hh, rel=1e-12)
