"""Linear mixed models with random intercepts: repeated survey waves, leaders in units or groups.

The model is ``y = X beta + Z_1 b_1 (+ Z_2 b_2) + e`` with one or two grouping factors, each with
a random intercept ``b_k ~ N(0, sigma_k^2 I)``, and ``e ~ N(0, sigma^2 I)``. The two factors may
be nested (leaders within units) or crossed (leaders and peer groups, plates and samples).

Estimation follows lme4 (Bates, Maechler, Bolker & Walker 2015): the fixed effects and the
residual variance are profiled out, and the profiled deviance (ML) or REML criterion is
minimised over the relative covariance parameters ``theta_k = sigma_k / sigma >= 0``. With
random intercepts only, every quantity the criterion needs comes from per-group sums of the
model matrix ``M = [X y]``:

* one factor ``a`` with ``n_j`` observations in group ``j``:
  ``M' V^-1 M = W + sum_j s_j s_j' / (n_j (1 + theta^2 n_j))`` with ``W`` the within-group
  cross-products, ``s_j`` the group sums and ``log|V| = sum_j log(1 + theta^2 n_j)``;
* a second factor ``b``: the first is eliminated as above and the second enters through the
  Schur complement ``S = I + theta_b^2 (D_b - N' diag(theta_a^2 / (1 + theta_a^2 n_a)) N)``,
  ``N`` the cross-tabulation of the two factors. ``S`` is diagonal when ``a`` is nested in
  ``b`` (each leader in one unit), dense when ``b`` has few levels, and a scipy.sparse LU
  otherwise.

An evaluation costs O(groups x p^2), not O(n). The gradient is analytic (a central difference
for large crossed designs) and the criterion is minimised by projected Newton steps, so the
optimum is found to about 1e-9 relative in ``theta`` (lme4's derivative-free BOBYQA, with its
default tolerances, stops up to a few 1e-5 away).

With ``r^2`` the penalised residual sum of squares at ``theta``, ``n`` observations and ``p``
fixed effects (lme4's ``REMLcrit`` and ``deviance``)::

    ML:   d(theta) = log|V| + n (1 + log(2 pi r^2 / n))
    REML: d(theta) = log|V| + log|X' V^-1 X| + (n - p) (1 + log(2 pi r^2 / (n - p)))

and ``logLik = -d / 2`` exactly as ``logLik()`` on an ``lmer`` fit (the REML criterion for
REML fits). ``sigma^2 = r^2 / n`` (ML) or ``r^2 / (n - p)`` (REML), ``vcov(beta) =
sigma^2 (X' V^-1 X)^-1`` as lme4's ``vcov()``.

Inference on fixed effects uses Satterthwaite degrees of freedom computed as lmerTest
(Kuznetsova, Brockhoff & Christensen 2017) computes them: the covariance of
``(theta, sigma)`` is twice the (pseudo-)inverse of the Hessian of the deviance in those
parameters, the gradient of ``L' vcov(beta) L`` is a Jacobian in the same parameters, and both
derivatives are taken with numDeriv's Richardson extrapolation (same steps), so the degrees of
freedom agree with ``lmerTest::lmer`` to about 1e-7 relative. ``inference="wald"`` gives normal
(z) tests and intervals instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import linalg, sparse, stats
from scipy.sparse import linalg as sparse_linalg

from coacheval._columns import ESTIMATE_COLUMNS
from coacheval.errors import CoachevalError, ConfigError, DataValidationError
from coacheval.results import TableResult

__all__ = ["ContrastResult", "MixedConvergenceError", "MixedResult", "fit_mixed"]

Method = Literal["REML", "ML"]
Inference = Literal["satterthwaite", "wald"]
MissingPolicy = Literal["drop", "raise"]

SINGULAR_TOL = 1e-4
"""``theta`` below this counts as a singular fit (lme4's ``isSingular`` default)."""
DENSE_SCHUR_MAX = 1500
"""Crossed designs whose smaller factor has at most this many levels use dense algebra."""
_EIGEN_TOL = 1e-8  # lmerTest's tolerance on the eigenvalues of the varpar Hessian


class MixedConvergenceError(CoachevalError, RuntimeError):
    """The optimiser did not reach a stationary point of the REML/ML criterion.

    Examples
    --------
    Raised by :func:`fit_mixed` when the optimiser stops away from a stationary point. Here the
    outcome never varies within a group, so the residual variance is zero and ``theta = sigma_g /
    sigma`` grows without bound:

    >>> import numpy as np
    >>> import pandas as pd
    >>> from coacheval.effects.mixed import MixedConvergenceError, fit_mixed
    >>> df = pd.DataFrame({"g": np.repeat(np.arange(5), 3), "x": np.tile([0.0, 1.0, 2.0], 5)})
    >>> df["y"] = 2.0 * df["g"]
    >>> fit_mixed(df, outcome="y", fixed=["x"], groups=["g"])
    Traceback (most recent call last):
        ...
    coacheval.effects.mixed.MixedConvergenceError: the optimiser stopped at theta = [...] ...

    It is a :class:`~coacheval.errors.CoachevalError`, so one ``except`` clause catches it with
    coacheval's other errors:

    >>> from coacheval.errors import CoachevalError
    >>> issubclass(MixedConvergenceError, CoachevalError)
    True
    """


# --------------------------------------------------------------------------- numerical engine


class _Engine:
    """Profiled REML/ML criterion of a random-intercept model, from per-group sums.

    ``codes`` (one integer array per factor) and ``phi`` (the squared ``theta``) are in the
    user's order; internally factor ``a`` is the one with more levels.
    """

    def __init__(self, y: np.ndarray, x: np.ndarray, codes: list[np.ndarray], reml: bool):
        n, p = x.shape
        self.n, self.p, self.reml, self.k = n, p, reml, len(codes)
        # Centre the regressors (x_j - mean_j = X T with T unit triangular, det T = 1: the REML
        # criterion is unchanged) and the outcome (absorbed by the intercept).
        self.x_means = x.mean(axis=0)
        self.x_means[0] = 0.0
        self.y_mean = float(y.mean())
        m = np.column_stack([x - self.x_means, y - self.y_mean])
        m[:, 0] = 1.0
        levels = [int(c.max()) + 1 for c in codes]
        self.order = sorted(range(self.k), key=lambda i: -levels[i])
        ca = codes[self.order[0]]
        self.q_a = levels[self.order[0]]
        za = sparse.csr_matrix((np.ones(n), (np.arange(n), ca)), shape=(n, self.q_a))
        self.n_a = np.bincount(ca, minlength=self.q_a).astype(float)
        self.s_a = np.asarray(za.T @ m)
        centred = m - (self.s_a / self.n_a[:, None])[ca]
        self.w_a = centred.T @ centred
        self.mode = "none"
        if self.k == 2:
            cb = codes[self.order[1]]
            self.q_b = levels[self.order[1]]
            zb = sparse.csr_matrix((np.ones(n), (np.arange(n), cb)), shape=(n, self.q_b))
            self.n_b = np.bincount(cb, minlength=self.q_b).astype(float)
            self.s_b = np.asarray(zb.T @ m)
            self.cross = sparse.csr_matrix(za.T @ zb)
            self.cross.sum_duplicates()
            self.cross_t = sparse.csr_matrix(self.cross.T)
            if np.all(np.diff(self.cross.indptr) == 1):  # a nested in b: N' D N is diagonal
                self.mode = "diag"
                self.parent = self.cross.indices.copy()
            elif self.q_b <= DENSE_SCHUR_MAX:
                self.mode = "dense"
            else:
                self.mode = "sparse"

    # -- the cross-tabulation N (q_a x q_b) of the two factors, applied without forming products
    def _nt(self, values: np.ndarray) -> np.ndarray:
        """``N' values`` for a (q_a x m) array."""
        return np.asarray(self.cross_t @ values)

    def _n(self, values: np.ndarray) -> np.ndarray:
        """``N values`` for a (q_b x m) array."""
        return np.asarray(self.cross @ values)

    def _ntdn(self, weights: np.ndarray) -> np.ndarray | sparse.spmatrix:
        """``N' diag(weights) N``: a vector (diagonal), a dense or a sparse matrix."""
        if self.mode == "diag":
            return np.bincount(self.parent, weights=weights * self.n_a**2, minlength=self.q_b)
        product = self.cross.T @ self.cross.multiply(weights[:, None]).tocsr()
        return product.toarray() if self.mode == "dense" else sparse.csc_matrix(product)

    def state(self, phi_user: np.ndarray) -> dict:
        """Everything the criterion and its gradient need at ``phi`` (= theta squared)."""
        phi_a = float(phi_user[self.order[0]])
        d_a = 1.0 / (1.0 + phi_a * self.n_a)
        q = self.w_a + (self.s_a * (d_a / self.n_a)[:, None]).T @ self.s_a
        logdet = float(-np.log(d_a).sum())
        st: dict = {"phi_a": phi_a, "d_a": d_a}
        if self.k == 2:
            phi_b = float(phi_user[self.order[1]])
            w = phi_a * d_a
            f = self.s_b - self._nt(w[:, None] * self.s_a)
            h = self._ntdn(w)
            if self.mode == "diag":
                h = self.n_b - h
                s = 1.0 + phi_b * h
                logdet += float(np.log(s).sum())
                sinv_f = f / s[:, None]
            elif self.mode == "dense":
                h = np.diag(self.n_b) - h
                s = np.eye(self.q_b) + phi_b * h
                chol = linalg.cho_factor(s, lower=True, check_finite=False)
                logdet += float(2 * np.log(np.diag(chol[0])).sum())
                sinv_f = linalg.cho_solve(chol, f, check_finite=False)
                st["chol"] = chol
            else:
                h = sparse.diags(self.n_b).tocsc() - h
                s = sparse.identity(self.q_b, format="csc") + phi_b * h
                lu = sparse_linalg.splu(sparse.csc_matrix(s))
                logdet += float(np.log(np.abs(lu.U.diagonal())).sum())
                sinv_f = lu.solve(f)
            q = q - phi_b * f.T @ sinv_f
            st.update(phi_b=phi_b, h=h, s=s, f=f, sinv_f=sinv_f)
        q = (q + q.T) / 2
        p = self.p
        qxx = q[:p, :p]
        try:
            chol_x = np.linalg.cholesky(qxx)
        except np.linalg.LinAlgError as exc:  # pragma: no cover - guarded by the rank check
            raise DataValidationError("the fixed-effect design is rank deficient") from exc
        # numpy only for these p x p matrices (scipy's wrappers cost more than the algebra)
        beta = np.linalg.solve(qxx, q[:p, p])
        l_inv = np.linalg.inv(chol_x)
        r2 = float(q[p, p] - q[:p, p] @ beta)
        st.update(
            q=q,
            beta=beta,
            r2=r2,
            logdet_a=logdet,
            logdet_x=float(2 * np.log(np.diag(chol_x)).sum()),
            qxx_inv=l_inv.T @ l_inv,
        )
        return st

    def criterion(self, st: dict) -> float:
        """Profiled deviance (ML) or REML criterion."""
        if st["r2"] <= 0:
            return np.inf
        if self.reml:
            df = self.n - self.p
            return st["logdet_a"] + st["logdet_x"] + df * (1 + np.log(2 * np.pi * st["r2"] / df))
        return st["logdet_a"] + self.n * (1 + np.log(2 * np.pi * st["r2"] / self.n))

    @property
    def analytic_gradient(self) -> bool:
        return self.mode != "sparse"

    def gradient(self, st: dict) -> np.ndarray:
        """Gradient of the criterion in ``phi`` (user order)."""
        p = self.p
        u = np.append(-st["beta"], 1.0)
        d_a = st["d_a"]
        if self.k == 2:
            g_a = d_a[:, None] * (self.s_a - st["phi_b"] * self._n(st["sinv_f"]))
            blocks = [g_a, st["sinv_f"]]
            k2 = self._ntdn(d_a**2)
            if self.mode == "diag":
                tr_k = float((k2 / st["s"]).sum())
                tr_h = float((st["h"] / st["s"]).sum())
            else:
                s_inv = linalg.cho_solve(st["chol"], np.eye(self.q_b), check_finite=False)
                tr_k = float((s_inv * k2).sum())
                tr_h = float((s_inv * st["h"]).sum())
            dlog_a = [float((self.n_a * d_a).sum()) - st["phi_b"] * tr_k, tr_h]
        else:
            blocks = [d_a[:, None] * self.s_a]
            dlog_a = [float((self.n_a * d_a).sum())]
        grad_internal = []
        for g, dlog in zip(blocks, dlog_a, strict=True):
            gtg = g.T @ g  # d(M' V^-1 M) / d phi = -G'G
            dr2 = -float(u @ gtg @ u)
            if self.reml:
                dlog_x = -float((st["qxx_inv"] * gtg[:p, :p]).sum())
                grad_internal.append(dlog + dlog_x + (self.n - p) * dr2 / st["r2"])
            else:
                grad_internal.append(dlog + self.n * dr2 / st["r2"])
        out = np.empty(self.k)
        for pos, user in enumerate(self.order):
            out[user] = grad_internal[pos]
        return out

    def objective(self, phi: np.ndarray) -> float:
        return self.criterion(self.state(phi))

    def objective_and_gradient(self, phi: np.ndarray) -> tuple[float, np.ndarray]:
        st = self.state(phi)
        value = self.criterion(st)
        if self.analytic_gradient:
            return value, self.gradient(st)
        return value, self._fd_gradient(phi, value)

    def _fd_gradient(self, phi: np.ndarray, value: float) -> np.ndarray:
        grad = np.empty(self.k)
        for i in range(self.k):
            h = 1e-6 * max(phi[i], 1e-2)
            up, down = phi.copy(), phi.copy()
            up[i] += h
            if phi[i] > h:
                down[i] -= h
                grad[i] = (self.objective(up) - self.objective(down)) / (2 * h)
            else:
                grad[i] = (self.objective(up) - value) / h
        return grad

    # -- unprofiled deviance and vcov(beta) in (theta, sigma), as lmerTest's devfun_vp/get_covbeta
    def deviance_varpar(self, varpar: np.ndarray) -> float:
        theta, sigma2 = varpar[:-1], varpar[-1] ** 2
        st = self.state(theta**2)
        dev = st["logdet_a"] + st["r2"] / sigma2 + self.n * np.log(2 * np.pi * sigma2)
        if self.reml:
            dev += st["logdet_x"] - self.p * np.log(2 * np.pi * sigma2)
        return float(dev)

    def covbeta_varpar(self, varpar: np.ndarray) -> np.ndarray:
        st = self.state(varpar[:-1] ** 2)
        return (varpar[-1] ** 2 * self.to_original(st["qxx_inv"])).ravel()

    def to_original(self, cov: np.ndarray) -> np.ndarray:
        """Map a covariance of the centred-design coefficients to the user's design."""
        t = np.eye(self.p)
        t[0, 1:] = -self.x_means[1:]
        return t @ cov @ t.T

    def beta_original(self, beta_c: np.ndarray) -> np.ndarray:
        beta = beta_c.copy()
        beta[0] = beta_c[0] - self.x_means[1:] @ beta_c[1:] + self.y_mean
        return beta


def _hessian_fd(engine: _Engine, phi: np.ndarray, grad: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Hessian of the criterion in the coordinates ``idx``, by differences of the gradient."""
    hess = np.empty((len(idx), len(idx)))
    for col, i in enumerate(idx):
        h = 1e-5 * max(phi[i], 1e-3)
        up = phi.copy()
        up[i] += h
        if phi[i] > h:
            down = phi.copy()
            down[i] -= h
            diff = engine.objective_and_gradient(up)[1] - engine.objective_and_gradient(down)[1]
            hess[:, col] = diff[idx] / (2 * h)
        else:
            hess[:, col] = (engine.objective_and_gradient(up)[1][idx] - grad[idx]) / h
    return (hess + hess.T) / 2


def _optimise(engine: _Engine, max_iter: int = 200) -> np.ndarray:
    """Minimise the criterion over ``phi = theta^2 >= 0`` by projected Newton steps.

    Newton steps use the analytic gradient and a Hessian from its differences (made positive
    definite when it is not), with a backtracking line search and the bound ``phi >= 0`` handled
    as an active set, starting from lme4's ``theta = 1``. (Only numpy is used in the loop:
    scipy's L-BFGS-B is slow when OpenBLAS threads compete for a small machine.)
    """
    k = engine.k
    phi = np.ones(k)
    value, grad = engine.objective_and_gradient(phi)
    if not np.isfinite(value):
        raise MixedConvergenceError("the REML/ML criterion is not finite at the start, theta = 1")
    for _ in range(max_iter):
        free = ~((phi <= 0) & (grad >= 0))
        if not free.any():
            break
        idx = np.flatnonzero(free)
        hess = _hessian_fd(engine, phi, grad, idx)
        evals = np.linalg.eigvalsh(hess)
        if evals.min() <= 1e-10 * max(float(np.abs(evals).max()), 1e-12):
            # not convex here (Levenberg): shift the curvature up to a tenth of the largest
            shift = -float(evals.min()) + 0.1 * max(float(np.abs(evals).max()), 1e-8)
            hess = hess + shift * np.eye(len(idx))
        step = np.zeros(k)
        step[idx] = -np.linalg.solve(hess, grad[idx])
        step[(phi <= 0) & (step < 0)] = 0.0
        if float(grad @ step) >= 0:  # not a descent direction: steepest descent instead
            step = np.where(free, -grad, 0.0)
        # never move a variance ratio more than 10-fold (or by more than 1 from near zero) at once,
        # keeping the direction
        ratio = float(np.max(np.abs(step) / (10.0 * np.maximum(phi, 0.1))))
        if ratio > 1:
            step = step / ratio
        t, accepted = 1.0, False
        for _ in range(60):
            trial = np.maximum(phi + t * step, 0.0)
            t_value, t_grad = engine.objective_and_gradient(trial)
            if np.isfinite(t_value) and t_value <= value + 1e-4 * float(grad @ (trial - phi)):
                accepted = True
                break
            t /= 2
        if not accepted:
            break
        moved = float(np.max(np.abs(trial - phi) / (1 + phi)))
        decrease = value - t_value
        phi, value, grad = trial, t_value, t_grad
        if moved < 1e-12 or (decrease <= 1e-15 * abs(value) and moved < 1e-8):
            break
    # lme4's edge check: a theta within 1e-5 of the boundary is set to 0 when that does not
    # raise the criterion
    for i in range(k):
        if 0 < phi[i] < 1e-10:
            trial = phi.copy()
            trial[i] = 0.0
            if engine.objective(trial) <= value:
                phi = trial
                value, grad = engine.objective_and_gradient(phi)
    free = ~((phi <= 0) & (grad >= 0))
    if free.any():
        idx = np.flatnonzero(free)
        hess = _hessian_fd(engine, phi, grad, idx)
        evals = np.linalg.eigvalsh(hess)
        newton = np.linalg.solve(hess, grad[idx]) if evals.min() > 0 else np.full(len(idx), np.inf)
        if not np.all(np.abs(newton) <= 1e-6 * (1 + phi[idx])):
            raise MixedConvergenceError(
                f"the optimiser stopped at theta = {np.sqrt(phi).tolist()} with gradient "
                f"{grad.tolist()} (Hessian eigenvalues {evals.tolist()}); check the data, e.g. a "
                "grouping factor confounded with a regressor"
            )
    return phi


# ------------------------------------------------- numDeriv's Richardson derivatives (lmerTest)

_ZERO_TOL = float(np.sqrt(np.finfo(float).eps / 7e-7))


def _richardson_hessian(func: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    """Hessian as ``numDeriv::hessian`` (genD, d = 0.1, eps = 1e-4, r = 4, v = 2)."""
    n, r = len(x), 4
    h0 = np.abs(0.1 * x) + 1e-4 * (np.abs(x) < _ZERO_TOL)
    f0 = func(x)
    hdiag = np.empty(n)
    for i in range(n):
        h = h0.copy()
        approx = np.empty(r)
        e = np.zeros(n)
        e[i] = 1.0
        for k in range(r):
            f1, f2 = func(x + e * h), func(x - e * h)
            approx[k] = (f1 - 2 * f0 + f2) / h[i] ** 2
            h = h / 2
        hdiag[i] = _richardson_extrapolate(approx)
    hess = np.diag(hdiag)
    for i in range(n):
        for j in range(i):
            h = h0.copy()
            approx = np.empty(r)
            e = np.zeros(n)
            e[i] = e[j] = 1.0
            for k in range(r):
                f1, f2 = func(x + e * h), func(x - e * h)
                approx[k] = (f1 - 2 * f0 + f2 - hdiag[i] * h[i] ** 2 - hdiag[j] * h[j] ** 2) / (
                    2 * h[i] * h[j]
                )
                h = h / 2
            hess[i, j] = hess[j, i] = _richardson_extrapolate(approx)
    return hess


def _richardson_jacobian(func: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """Jacobian as ``numDeriv::jacobian`` (Richardson, d = 1e-4, eps = 1e-4, r = 4, v = 2)."""
    n, r = len(x), 4
    h = np.abs(1e-4 * x) + 1e-4 * (np.abs(x) < _ZERO_TOL)
    m = len(func(x))
    approx = np.empty((m, r, n))
    for k in range(r):
        for i in range(n):
            e = np.zeros(n)
            e[i] = h[i]
            approx[:, k, i] = (func(x + e) - func(x - e)) / (2 * h[i])
        h = h / 2
    for m_ in range(1, r):
        approx = (approx[:, 1:, :] * 4**m_ - approx[:, :-1, :]) / (4**m_ - 1)
    return approx[:, 0, :]


def _richardson_extrapolate(approx: np.ndarray) -> float:
    a = approx.copy()
    r = len(a)
    for m in range(1, r):
        for k in range(r - m):
            a[k] = (a[k + 1] * 4**m - a[k]) / (4**m - 1)
    return float(a[0])


# --------------------------------------------------------------------------------- results


def _inference_row(
    estimate: float, variance: float, df: float, alpha: float, n: int
) -> dict[str, float]:
    se = float(np.sqrt(variance))
    statistic = estimate / se if se > 0 else np.nan
    if np.isnan(df):
        p_value = float(2 * stats.norm.sf(abs(statistic)))
        crit = float(stats.norm.ppf(1 - alpha / 2))
    else:
        p_value = float(2 * stats.t.sf(abs(statistic), df))
        crit = float(stats.t.ppf(1 - alpha / 2, df))
    return {
        "estimate": estimate,
        "std_error": se,
        "statistic": statistic,
        "df": df,
        "p_value": p_value,
        "conf_low": estimate - crit * se,
        "conf_high": estimate + crit * se,
        "n": n,
    }


@dataclass(frozen=True)
class ContrastResult(TableResult):
    """A linear combination ``L' beta`` of fixed effects with its standard error and test.

    Attributes
    ----------
    table
        One row: ``term, estimate, std_error, statistic, df, p_value, conf_low, conf_high, n``
        (``df`` is Satterthwaite's, or NaN for a Wald z test).
    weights
        The weight of each fixed-effect term.

    Examples
    --------
    Returned by :meth:`MixedResult.contrast` and :meth:`MixedResult.difference`:

    >>> import numpy as np
    >>> import pandas as pd
    >>> from coacheval.effects.mixed import fit_mixed
    >>> rng = np.random.default_rng(1)
    >>> g = np.repeat(np.arange(20), 4)
    >>> t = np.tile(np.arange(4.0), 20)
    >>> y = 1 + 0.5 * t + rng.normal(size=20)[g] + rng.normal(size=80)
    >>> fit = fit_mixed(pd.DataFrame({"y": y, "t": t, "g": g}), outcome="y", fixed=["t"],
    ...                 groups=["g"])
    >>> c = fit.contrast({"(Intercept)": 1, "t": 3}, label="mean at t = 3")
    >>> round(c.estimate, 3), round(c.std_error, 3)
    (2.393, 0.194)
    >>> c.weights
    (Intercept)    1.0
    t              3.0
    Name: weight, dtype: float64
    >>> c.table[["term", "estimate", "df", "conf_low", "conf_high"]].round(3)
                term  estimate      df  conf_low  conf_high
    0  mean at t = 3     2.393  53.915     2.003      2.782
    """

    table: pd.DataFrame
    weights: pd.Series
    title: str = "Contrast of fixed effects"
    notes: tuple[str, ...] = ()

    @property
    def estimate(self) -> float:
        """The estimated linear combination."""
        return float(self.table["estimate"].iloc[0])

    @property
    def std_error(self) -> float:
        """Its standard error."""
        return float(self.table["std_error"].iloc[0])


@dataclass(frozen=True)
class MixedResult(TableResult):
    """A fitted random-intercept linear mixed model.

    Attributes
    ----------
    table
        Fixed effects, one row per term: ``term, estimate, std_error, statistic, df, p_value,
        conf_low, conf_high, n`` (``n`` observations used; ``df`` Satterthwaite's, NaN for Wald).
    variance_components
        One row per grouping factor and one for the residual: ``group, variance, std_dev,
        theta`` (``std_dev / sigma``, lme4's relative parameter) and ``n_groups``.
    vcov
        Covariance matrix of the fixed effects (lme4's ``vcov()``).
    loglik
        Log-likelihood at the optimum; for REML fits the REML log-likelihood (``logLik()`` of
        the ``lmer`` fit), so it is comparable only between models with the same fixed effects.
    criterion
        ``-2 loglik``: lme4's ``REMLcrit()`` for REML, ``deviance()`` for ML.
    aic, bic
        ``criterion + 2 k`` and ``criterion + log(n) k`` with ``k`` fixed effects plus variance
        parameters, as ``AIC()``/``BIC()`` on the fit (use ML fits to compare fixed effects).
    singular
        True when some ``theta < 1e-4`` (a variance estimated at or next to zero), as
        ``lme4::isSingular``.
    n_obs, n_groups, n_dropped
        Observations used, levels of each grouping factor (after dropping), rows dropped for
        missing values.
    theta, sigma
        Relative SDs ``sigma_k / sigma`` of the random intercepts (lme4's ``getME(fit,
        "theta")``, in the order of ``groups``) and the residual SD (``sigma(fit)``).
    notes
        What was dropped or relabelled, singular fits, and the kind of inference.

    Examples
    --------
    Returned by :func:`fit_mixed`; four survey waves of 50 leaders:

    >>> import numpy as np
    >>> import pandas as pd
    >>> from coacheval.effects.mixed import fit_mixed
    >>> rng = np.random.default_rng(3)
    >>> leader = np.repeat(np.arange(50), 4)
    >>> wave = np.tile(np.arange(4.0), 50)
    >>> y = 3 + 0.2 * wave + rng.normal(0, 0.8, 50)[leader] + rng.normal(0, 0.5, 200)
    >>> df = pd.DataFrame({"score": y, "wave": wave, "leader": leader})
    >>> fit = fit_mixed(df, outcome="score", fixed=["wave"], groups=["leader"])
    >>> fit.params.round(3)
    term
    (Intercept)    3.019
    wave           0.202
    Name: estimate, dtype: float64
    >>> fit.variance_components.round(3)
          group  variance  std_dev  theta  n_groups
    0    leader     0.786    0.886  1.729        50
    1  Residual     0.263    0.513    NaN      <NA>
    >>> fit.n_obs, fit.n_groups, fit.singular
    (200, {'leader': 50}, False)
    >>> print(fit.summary())
    Linear mixed model fit by REML: score ~ 1 + wave + (1 | leader)
    <BLANKLINE>
    Fixed effects:
           term  estimate  std_error  statistic    df   p_value  conf_low  conf_high
    (Intercept)     3.019     0.1393      21.67 63.17 5.982e-31      2.74      3.297
           wave    0.2021    0.03244      6.232   149 4.489e-09     0.138     0.2662
    <BLANKLINE>
    Random effects:
       group  variance  std_dev  theta  n_groups
      leader    0.7859   0.8865  1.729        50
    Residual     0.263   0.5129    NaN      <NA>
    <BLANKLINE>
    REML criterion 433.78; logLik -216.89; AIC 441.78; BIC 454.98
    Observations: 200 (0 dropped); groups: leader 50
    <BLANKLINE>
    degrees of freedom: Satterthwaite (as lmerTest)
    """

    table: pd.DataFrame
    variance_components: pd.DataFrame
    vcov: pd.DataFrame
    method: str
    inference: str
    alpha: float
    loglik: float
    criterion: float
    aic: float
    bic: float
    n_obs: int
    n_groups: dict[str, int]
    n_dropped: int
    singular: bool
    theta: tuple[float, ...] = ()
    sigma: float = 0.0
    title: str = ""
    notes: tuple[str, ...] = ()
    _jacobian: np.ndarray | None = field(default=None, repr=False, compare=False)
    _vcov_varpar: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def params(self) -> pd.Series:
        """Fixed-effect estimates indexed by term."""
        return self.table.set_index("term")["estimate"]

    def contrast(
        self, weights: Mapping[str, float] | Sequence[float], *, label: str | None = None
    ) -> ContrastResult:
        """Estimate a linear combination of the fixed effects, with SE, test and interval.

        Parameters
        ----------
        weights
            A mapping from term to weight (missing terms weigh 0), or one weight per term in
            the order of ``table``.
        label
            Name of the contrast in the table; by default built from the weights.

        Returns
        -------
        ContrastResult
            With Satterthwaite degrees of freedom (as ``lmerTest::contest1D``) when the model was
            fitted with ``inference="satterthwaite"``, else a Wald z test.

        Raises
        ------
        ConfigError
            Unknown term, wrong number of weights, or all weights zero.

        Examples
        --------
        >>> rng = np.random.default_rng(1)
        >>> g = np.repeat(np.arange(20), 4)
        >>> t = np.tile(np.arange(4.0), 20)
        >>> y = 1 + 0.5 * t + rng.normal(size=20)[g] + rng.normal(size=80)
        >>> fit = fit_mixed(pd.DataFrame({"y": y, "t": t, "g": g}), outcome="y", fixed=["t"],
        ...                 groups=["g"])
        >>> c = fit.contrast({"(Intercept)": 1, "t": 3})  # predicted mean at t = 3
        >>> # In R: lmerTest::contest1D(fit, c(1, 3), confint = TRUE)
        >>> bool(abs(c.estimate - (fit.params["(Intercept)"] + 3 * fit.params["t"])) < 1e-12)
        True
        """
        terms = list(self.table["term"])
        if isinstance(weights, Mapping):
            unknown = [t for t in weights if t not in terms]
            if unknown:
                raise ConfigError(f"contrast: unknown term(s) {unknown}; terms are {terms}")
            vec = np.array([float(weights.get(t, 0.0)) for t in terms])
        else:
            vec = np.asarray(list(weights), dtype=float)
            if vec.shape != (len(terms),):
                raise ConfigError(
                    f"contrast: {len(vec)} weights given for {len(terms)} terms {terms}"
                )
        if not np.any(vec):
            raise ConfigError("contrast: all weights are zero")
        if label is None:
            label = " + ".join(f"{w:g}*{t}" for w, t in zip(vec, terms, strict=True) if w)
        vcov = self.vcov.to_numpy()
        variance = float(vec @ vcov @ vec)
        df = np.nan
        if self._jacobian is not None and self._vcov_varpar is not None:
            grad = np.array([vec @ jac @ vec for jac in self._jacobian])
            df = float(2 * variance**2 / (grad @ self._vcov_varpar @ grad))
        estimate = float(vec @ self.params.to_numpy())
        row = {"term": label, **_inference_row(estimate, variance, df, self.alpha, self.n_obs)}
        return ContrastResult(
            pd.DataFrame([row]), pd.Series(vec, index=terms, name="weight"), title=label
        )

    def difference(self, first: str, second: str) -> ContrastResult:
        """Estimate ``first - second`` for two fixed-effect terms (see :meth:`contrast`).

        Examples
        --------
        >>> rng = np.random.default_rng(2)
        >>> g = np.repeat(np.arange(30), 3)
        >>> a, b = (g % 3 == 1).astype(float), (g % 3 == 2).astype(float)
        >>> y = 0.2 * a + 0.6 * b + rng.normal(size=30)[g] + rng.normal(size=90)
        >>> fit = fit_mixed(pd.DataFrame({"y": y, "a": a, "b": b, "g": g}), outcome="y",
        ...                 fixed=["a", "b"], groups=["g"])
        >>> fit.difference("b", "a").table["term"].iloc[0]
        'b - a'
        """
        return self.contrast({first: 1.0, second: -1.0}, label=f"{first} - {second}")

    def summary(self) -> str:
        """Return the fit as plain text: fixed effects, variance components, fit statistics."""
        fixed = self.table.drop(columns=["n"]).to_string(
            index=False, float_format=lambda v: f"{v:.4g}"
        )
        vc = self.variance_components.to_string(index=False, float_format=lambda v: f"{v:.4g}")
        groups = ", ".join(f"{g} {n}" for g, n in self.n_groups.items())
        fit = (
            f"{'REML criterion' if self.method == 'REML' else 'Deviance'} {self.criterion:.2f}; "
            f"logLik {self.loglik:.2f}; AIC {self.aic:.2f}; BIC {self.bic:.2f}\n"
            f"Observations: {self.n_obs} ({self.n_dropped} dropped); groups: {groups}"
            + (
                "\nSingular fit: a variance component is estimated at (or next to) zero."
                if self.singular
                else ""
            )
        )
        parts = [self.title, "Fixed effects:\n" + fixed, "Random effects:\n" + vc, fit, *self.notes]
        return "\n\n".join(p for p in parts if p)

    def _repr_html_(self) -> str:
        fmt = {"index": False, "float_format": lambda v: f"{v:.4g}"}
        groups = ", ".join(f"{g} {n}" for g, n in self.n_groups.items())
        return (
            f"<p><b>{self.title}</b></p><p>Fixed effects</p>"
            + self.table.to_html(**fmt)
            + "<p>Random effects</p>"
            + self.variance_components.to_html(**fmt)
            + f"<p>logLik {self.loglik:.2f}; AIC {self.aic:.2f}; BIC {self.bic:.2f}; "
            f"{self.n_obs} observations; groups: {groups}</p>"
            + "".join(f"<p><small>{n}</small></p>" for n in self.notes)
        )


# ----------------------------------------------------------------------------- the verb


def _prepare(
    data: pd.DataFrame,
    outcome: str,
    fixed: Sequence[str],
    groups: Sequence[str],
    missing: MissingPolicy,
) -> tuple[pd.DataFrame, int, list[str]]:
    if not isinstance(data, pd.DataFrame):
        raise ConfigError(f"fit_mixed: data must be a pandas DataFrame (got {type(data).__name__})")
    if isinstance(fixed, str) or isinstance(groups, str):
        raise ConfigError("fit_mixed: fixed and groups take a sequence of column names")
    fixed, groups = list(fixed), list(groups)
    if len(groups) not in (1, 2):
        raise ConfigError(f"fit_mixed: groups takes 1 or 2 grouping columns (got {len(groups)})")
    names = [outcome, *fixed, *groups]
    duplicated = sorted({c for c in names if names.count(c) > 1})
    if duplicated:
        raise ConfigError(f"fit_mixed: column(s) used twice: {duplicated}")
    absent = [c for c in names if c not in data.columns]
    if absent:
        raise ConfigError(f"fit_mixed: no column(s) {absent} in data")
    for col in [outcome, *fixed]:
        dtype = data[col].dtype
        if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)):
            raise DataValidationError(
                f"column {col!r} must be numeric or 0/1 (dtype {dtype}); encode it first",
                failure_cases=data[col].head(),
            )
    frame = data[names]
    na = frame.isna()
    notes = []
    n_dropped = int(na.any(axis=1).sum())
    if n_dropped:
        counts = {c: int(v) for c, v in na.sum().items() if v}
        if missing == "raise":
            raise DataValidationError(
                f"missing values in {counts} (missing='raise')",
                failure_cases=frame[na.any(axis=1)],
            )
        notes.append(
            f"{n_dropped} row(s) with missing values dropped (missing per column: {counts})"
        )
        frame = frame[~na.any(axis=1)]
    values = frame[[outcome, *fixed]].to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        cols = [c for c, b in zip([outcome, *fixed], bad.any(axis=0), strict=True) if b]
        raise DataValidationError(
            f"infinite values in {cols}", failure_cases=frame[bad.any(axis=1)]
        )
    return frame, n_dropped, notes


def fit_mixed(
    data: pd.DataFrame,
    *,
    outcome: str,
    fixed: Sequence[str],
    groups: Sequence[str],
    method: Method = "REML",
    alpha: float = 0.05,
    inference: Inference = "satterthwaite",
    nested: bool = False,
    missing: MissingPolicy = "drop",
) -> MixedResult:
    """Fit a linear mixed model with a random intercept for each of one or two grouping factors.

    Parameters
    ----------
    data
        One row per observation (e.g. a leader's survey response at one wave).
    outcome
        Numeric outcome column.
    fixed
        Numeric or 0/1 regressor columns (build interactions such as ``treat_x_time`` and
        dummies beforehand); an intercept is added.
    groups
        One or two grouping columns, each with its own random intercept. Two factors may be
        crossed or nested; nesting is read from the data when the inner factor's labels are
        unique (a leader id within units), otherwise pass ``nested=True``.
    method
        ``"REML"`` (default, as lme4) or ``"ML"`` (to compare models with different fixed
        effects by likelihood, AIC or BIC).
    alpha
        1 - confidence level of the intervals.
    inference
        ``"satterthwaite"`` (t tests and intervals on Satterthwaite degrees of freedom, as
        lmerTest) or ``"wald"`` (z tests and normal intervals; ``df`` is NaN).
    nested
        With two groups: the second is nested in the first and its labels repeat across the
        first (cask ``a`` of batch ``A`` and of batch ``B`` differ); it is relabelled as the
        combination, like lme4's ``(1 | first/second)``, and named ``second:first``.
    missing
        ``"drop"`` (default, lme4's ``na.omit``): rows with a missing outcome, regressor or
        group are dropped, counted in ``n_dropped`` and noted; ``"raise"``: an error lists them.

    Returns
    -------
    MixedResult
        Fixed effects with SEs and tests, variance components, log-likelihood, AIC/BIC, counts.

    Raises
    ------
    ConfigError
        Unknown option, absent column, a column used twice, not 1 or 2 groups.
    DataValidationError
        Non-numeric or infinite outcome/regressor values, missing values with
        ``missing="raise"``, a constant or collinear regressor, a grouping factor with a single
        level or with as many levels as observations (lme4 refuses both), too few observations.
    MixedConvergenceError
        The optimiser did not converge.

    Notes
    -----
    Groups with a single observation are kept (they inform the fixed effects and the
    variances, as in lme4). A variance component estimated at zero is reported as such
    (``theta = 0``, ``singular = True``), as lme4 does for a singular fit.

    References
    ----------
    Bates D, Maechler M, Bolker B, Walker S (2015). Fitting linear mixed-effects models using
    lme4. Journal of Statistical Software 67(1). Kuznetsova A, Brockhoff PB, Christensen RHB
    (2017). lmerTest package: tests in linear mixed effects models. Journal of Statistical
    Software 82(13).

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> leader = np.repeat(np.arange(50), 4)
    >>> wave = np.tile(np.arange(4.0), 50)
    >>> y = 3 + 0.2 * wave + rng.normal(0, 0.8, 50)[leader] + rng.normal(0, 0.5, 200)
    >>> df = pd.DataFrame({"score": y, "wave": wave, "leader": leader})
    >>> fit = fit_mixed(df, outcome="score", fixed=["wave"], groups=["leader"])
    >>> # In R: lmerTest::lmer(score ~ wave + (1 | leader), data = df)
    >>> fit.table[["term", "estimate", "std_error", "df"]].round(3)
              term  estimate  std_error       df
    0  (Intercept)     3.019      0.139   63.165
    1         wave     0.202      0.032  149.000
    >>> fit.variance_components[["group", "std_dev"]].round(3)
          group  std_dev
    0    leader    0.886
    1  Residual    0.513
    """
    if method not in ("REML", "ML"):
        raise ConfigError(f"fit_mixed: method must be 'REML' or 'ML' (got {method!r})")
    if inference not in ("satterthwaite", "wald"):
        raise ConfigError(
            f"fit_mixed: inference must be 'satterthwaite' or 'wald' (got {inference!r})"
        )
    if missing not in ("drop", "raise"):
        raise ConfigError(f"fit_mixed: missing must be 'drop' or 'raise' (got {missing!r})")
    if not (isinstance(alpha, float | int) and 0 < alpha < 1):
        raise ConfigError(f"fit_mixed: alpha must be in (0, 1) (got {alpha!r})")
    if nested and len(groups) != 2:
        raise ConfigError("fit_mixed: nested=True needs exactly two groups (outer, inner)")
    frame, n_dropped, notes = _prepare(data, outcome, fixed, groups, missing)
    fixed, groups = list(fixed), list(groups)
    n = len(frame)
    y = frame[outcome].to_numpy(dtype=float)
    x = np.column_stack([np.ones(n), frame[fixed].to_numpy(dtype=float)]) if n else np.ones((0, 1))
    terms = ["(Intercept)", *fixed]
    p = len(terms)
    if n <= p + len(groups):
        raise DataValidationError(
            f"{n} observation(s) for {p} fixed effects and {len(groups)} variance component(s)"
        )
    codes = [pd.factorize(frame[g], sort=True)[0] for g in groups]
    group_names = list(groups)
    if nested:
        outer, inner = codes
        codes[1] = pd.factorize(outer.astype(np.int64) * (inner.max() + 1) + inner, sort=True)[0]
        group_names[1] = f"{groups[1]}:{groups[0]}"
        notes.append(
            f"{groups[1]} nested in {groups[0]}: levels are {groups[1]} within {groups[0]}"
        )
    n_levels = [int(c.max()) + 1 for c in codes]
    for name, q in zip(group_names, n_levels, strict=True):
        if q < 2:
            raise DataValidationError(
                f"grouping factor {name!r} has a single level; a random intercept needs at least "
                "2 (lme4 stops with 'grouping factors must have > 1 sampled level')"
            )
        if q >= n:
            raise DataValidationError(
                f"grouping factor {name!r} has {q} levels for {n} observations; the number of "
                "levels must be smaller than the number of observations (as lme4 requires)"
            )
    if len(codes) == 2:
        pairs = pd.factorize(codes[0].astype(np.int64) * n_levels[1] + codes[1])[0].max() + 1
        if pairs == max(n_levels) == min(n_levels):
            raise DataValidationError(
                f"grouping factors {group_names} define the same groups; their variances are "
                "not separately identifiable"
            )
    xc = x - x.mean(axis=0)
    xc[:, 0] = 1.0
    col_scale = np.maximum(np.abs(xc).max(axis=0), 1e-300)
    rank = np.linalg.matrix_rank(xc / col_scale, tol=1e-10 * n)
    if rank < p:
        constant = [t for t, c in zip(terms[1:], np.ptp(x[:, 1:], axis=0), strict=True) if c == 0]
        what = f"constant regressor(s) {constant}" if constant else "collinear regressors"
        raise DataValidationError(
            f"the fixed-effect design has rank {rank} < {p} terms ({what} among {fixed}); "
            "drop or combine them (lme4 would drop columns silently)"
        )

    engine = _Engine(y, x, codes, reml=method == "REML")
    phi = _optimise(engine)
    st = engine.state(phi)
    crit = engine.criterion(st)
    sigma2 = st["r2"] / (n - p if method == "REML" else n)
    sigma = float(np.sqrt(sigma2))
    theta = np.sqrt(phi)
    beta = engine.beta_original(st["beta"])
    vcov = sigma2 * engine.to_original(st["qxx_inv"])
    npar = p + len(groups) + 1
    singular = bool(np.any(theta < SINGULAR_TOL))
    if singular:
        zero = [g for g, t in zip(group_names, theta, strict=True) if t < SINGULAR_TOL]
        notes.append(
            f"singular fit: the variance of {zero} is estimated at (or next to) zero "
            "(as lme4's isSingular)"
        )

    jac_list = vcov_varpar = None
    if inference == "satterthwaite":
        varpar = np.append(theta, sigma)
        hess = _richardson_hessian(engine.deviance_varpar, varpar)
        evals, evecs = np.linalg.eigh(hess)
        pos = evals > _EIGEN_TOL
        if np.any(evals < -_EIGEN_TOL) or np.any(~pos):
            notes.append(
                "the Hessian of the deviance in (theta, sigma) has non-positive eigenvalues "
                f"{evals[~pos].tolist()}; as lmerTest, they are left out of the Satterthwaite "
                "degrees of freedom"
            )
        h_inv = (evecs[:, pos] / evals[pos]) @ evecs[:, pos].T
        vcov_varpar = 2 * h_inv
        jac = _richardson_jacobian(engine.covbeta_varpar, varpar)
        jac_list = np.stack([jac[:, i].reshape(p, p) for i in range(len(varpar))])
        grads = np.einsum("kjj->kj", jac_list)  # d var(beta_j) / d varpar_k
        dfs = 2 * np.diag(vcov) ** 2 / np.einsum("kj,kl,lj->j", grads, vcov_varpar, grads)
        notes.append("degrees of freedom: Satterthwaite (as lmerTest)")
    else:
        dfs = np.full(p, np.nan)
        notes.append("tests and intervals: Wald z (normal), no degrees of freedom")

    rows = [
        {"term": t, **_inference_row(float(b), float(v), float(d), alpha, n)}
        for t, b, v, d in zip(terms, beta, np.diag(vcov), dfs, strict=True)
    ]
    table = pd.DataFrame(rows)[[c for c in ESTIMATE_COLUMNS if c in rows[0]]]
    n_groups = dict(zip(group_names, n_levels, strict=True))
    vc = pd.DataFrame(
        {
            "group": [*group_names, "Residual"],
            "variance": [*(sigma2 * phi), sigma2],
            "std_dev": [*(sigma * theta), sigma],
            "theta": [*theta, np.nan],
            "n_groups": pd.array([*n_levels, None], dtype="Int64"),
        }
    )
    return MixedResult(
        table=table,
        variance_components=vc,
        vcov=pd.DataFrame(vcov, index=terms, columns=terms),
        method=method,
        inference=inference,
        alpha=float(alpha),
        loglik=-crit / 2,
        criterion=crit,
        aic=crit + 2 * npar,
        bic=crit + np.log(n) * npar,
        n_obs=n,
        n_groups=n_groups,
        n_dropped=n_dropped,
        singular=singular,
        theta=tuple(float(t) for t in theta),
        sigma=sigma,
        title=f"Linear mixed model fit by {method}: {outcome} ~ "
        + " + ".join(["1", *fixed, *(f"(1 | {g})" for g in group_names)]),
        notes=tuple(notes),
        _jacobian=jac_list,
        _vcov_varpar=vcov_varpar,
    )
