"""Every registered version scored on one common holdout, so their figures can be compared.

Each version's own run measured it on that run's holdout; holdouts differ from run to run, so
those figures make no trend. Here every version, champion or challenger, is scored on the same
leads: the newest run's holdout. A version trained after part of that holdout was already
labelled (its own run's out-of-time holdout began later) may have trained on some of those
leads; it is flagged, since its figure is then optimistic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm, rankdata

from leadloop.lift import capture_at_capacity
from leadloop.model.train import LeadModel


@dataclass(frozen=True)
class VersionScore:
    """One version on the common holdout."""

    version: str
    roc_auc: float
    lower: float
    upper: float
    recall_at_capacity: float
    revenue_share: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def auc_interval(
    y: np.ndarray, p: np.ndarray, *, confidence: float = 0.95
) -> tuple[float, float, float]:
    """ROC AUC with its DeLong confidence interval (mid-ranks, O(n log n))."""
    won = np.asarray(y) == 1
    m, n = int(won.sum()), int((~won).sum())
    if m == 0 or n == 0:
        return math.nan, math.nan, math.nan
    p = np.asarray(p, dtype=np.float64)
    ranks = rankdata(p)
    auc = float((ranks[won].sum() - m * (m + 1) / 2) / (m * n))
    v10 = (ranks[won] - rankdata(p[won])) / n
    v01 = 1.0 - (ranks[~won] - rankdata(p[~won])) / m
    var = (float(np.var(v10, ddof=1)) / m if m > 1 else 0.0) + (
        float(np.var(v01, ddof=1)) / n if n > 1 else 0.0
    )
    half = float(norm.ppf(0.5 + confidence / 2)) * math.sqrt(max(var, 0.0))
    return auc, max(0.0, auc - half), min(1.0, auc + half)


def score_versions(
    holdout: pd.DataFrame,
    *,
    y: np.ndarray,
    models: Mapping[str, LeadModel],
    capacity: float,
    amount: np.ndarray | None = None,
    confidence: float = 0.95,
) -> dict[str, VersionScore]:
    """Each model's AUC (with interval), recall and revenue share at capacity on ``holdout``."""
    out = {}
    for version, model in models.items():
        p = model.predict_proba(holdout, source="common holdout")
        auc, lower, upper = auc_interval(y, p, confidence=confidence)
        capture = capture_at_capacity(y, p, role=version, capacity=capacity, amount=amount)
        out[version] = VersionScore(
            version,
            auc,
            lower,
            upper,
            capture.recall,
            capture.revenue_share,
        )
    return out


def may_have_trained_on(
    version_holdout_start: str | None, common_holdout_start: str | None
) -> bool:
    """Whether a version whose run's out-of-time holdout began at ``version_holdout_start``
    may have trained on leads of a holdout that begins at ``common_holdout_start``."""
    if version_holdout_start is None or common_holdout_start is None:
        return False
    return pd.Timestamp(version_holdout_start) > pd.Timestamp(common_holdout_start)
