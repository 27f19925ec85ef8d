"""Small statistics used by the tests to check the simulator against its truth.

These are deliberately independent of coacheval's own estimators (which later issues test
against R): one-way ANOVA ICC(1) and Cronbach's alpha in their textbook closed forms.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def icc1_anova(values: pd.Series, groups: pd.Series) -> tuple[float, float]:
    """One-way ANOVA ICC(1) with unequal group sizes, and its large-sample standard error.

    ICC = (MSB - MSW) / (MSB + (n0 - 1) MSW) with n0 = (N - sum n_i^2 / N) / (k - 1);
    SE from Donner (1986): sqrt(2 (1-r)^2 (1 + (n0-1) r)^2 / (n0 (n0-1) (k-1))).
    """
    frame = pd.DataFrame({"y": values.to_numpy(), "g": groups.to_numpy()}).dropna()
    stats = frame.groupby("g").y.agg(["size", "mean"])
    n_total, k = len(frame), len(stats)
    grand = frame.y.mean()
    ssb = float((stats["size"] * (stats["mean"] - grand) ** 2).sum())
    ssw = float(((frame.y - frame.g.map(stats["mean"])) ** 2).sum())
    msb, msw = ssb / (k - 1), ssw / (n_total - k)
    n0 = (n_total - (stats["size"] ** 2).sum() / n_total) / (k - 1)
    r = (msb - msw) / (msb + (n0 - 1) * msw)
    se = np.sqrt(2 * (1 - r) ** 2 * (1 + (n0 - 1) * r) ** 2 / (n0 * (n0 - 1) * (k - 1)))
    return float(r), float(se)


def cronbach_alpha(items: pd.DataFrame) -> float:
    """Raw Cronbach's alpha on complete cases: k/(k-1) (1 - sum var_i / var_total)."""
    complete = items.dropna()
    k = complete.shape[1]
    return float(k / (k - 1) * (1 - complete.var(ddof=1).sum() / complete.sum(axis=1).var(ddof=1)))
