"""How the champion is doing on leads whose outcomes have not matured: confidence-based
performance estimation (CBPE, as NannyML does it), and the check once the outcomes are in.

Assumption: the champion's calibrated probabilities are right for these leads (what they look
like may have changed, how their features relate to conversion has not). Then each lead
converts with its probability, and
- the expected conversion is the mean probability;
- the expected ROC AUC is the AUC's expectation over the pairs of leads: a pair (i, j) is a
  won-lost pair with chance p_i (1 - p_j), ranked right when p_i > p_j (half when tied), so
  E[AUC] = sum p_i (1 - p_j) [p_i > p_j] / sum p_i (1 - p_j), over pairs i != j.

The interval has three parts. Chance: outcomes drawn from the probabilities ``draws`` times;
the realised figure falls in the central ``confidence`` share of those draws if the assumption
holds. Method: the same estimate made on the latest leads whose outcomes are known (the
holdout) missed its realised figure by some amount (a miscalibrated champion misses: isotonic
steps fitted on a small slice make it overconfident, and CBPE's AUC then reads high); the
interval is widened by that miss on both sides. The miss is itself measured on a sample: the
spread of the holdout's realised figure under draws from its own probabilities is added to the
chance part in quadrature. If the champion misses by the same amount on both sets, then
realised - expected = miss + chance, and the triangle inequality keeps the coverage at least
``confidence``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from scipy.stats import norm, rankdata

from leadloop.label_null import auc_of_draws

ASSUMPTION = (
    "The champion's calibrated probabilities stay right for these leads: their mix may have "
    "changed, but not how their features relate to conversion (no concept drift). Expected "
    "figures treat each probability as the lead's true chance of converting."
)
_CHUNK = 64  # draws per matrix product


@dataclass(frozen=True)
class Estimate:
    """One expected figure with its interval; ``realised`` is filled in once outcomes mature."""

    metric: str  # "conversion" or "roc_auc"
    expected: float
    lower: float
    upper: float
    chance_lower: float  # the interval from outcome chance alone
    chance_upper: float
    method_gap: float  # how far the estimate missed on the holdout (added to both sides)
    realised: float | None = None

    @property
    def within(self) -> bool | None:
        """Whether the realised figure lies in the interval (None until it is known)."""
        if self.realised is None:
            return None
        return self.lower <= self.realised <= self.upper


@dataclass(frozen=True)
class Backtest:
    """The estimate made on the holdout, whose outcomes are known, against what happened; the
    ``*_sd`` are the spreads of the realised figures under draws from the holdout's own
    probabilities (how much of the miss chance alone could explain)."""

    leads: int
    expected_conversion: float
    realised_conversion: float
    expected_auc: float
    realised_auc: float
    conversion_sd: float = 0.0
    auc_sd: float = 0.0


@dataclass(frozen=True)
class PerformanceEstimate:
    """Expected conversion and AUC of the champion on immature leads."""

    leads: int
    conversion: Estimate
    roc_auc: Estimate | None  # None when fewer than two leads
    backtest: Backtest
    confidence: float
    draws: int
    seed: int
    assumption: str = ASSUMPTION

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["conversion"]["within"] = self.conversion.within
        if self.roc_auc is not None:
            out["roc_auc"]["within"] = self.roc_auc.within
        return out


def expected_auc(p: np.ndarray) -> float:
    """The ROC AUC expected when each lead converts with its probability (see module doc)."""
    p = np.asarray(p, dtype=np.float64)
    values, group = np.unique(p, return_inverse=True)
    won = np.bincount(group, weights=p, minlength=len(values))
    lost = np.bincount(group, weights=1 - p, minlength=len(values))
    same = np.bincount(group, weights=p * (1 - p), minlength=len(values))
    lost_below = np.cumsum(lost) - lost
    right = float((won * lost_below).sum() + 0.5 * (won * lost - same).sum())
    pairs = float(won.sum() * lost.sum() - same.sum())
    return right / pairs if pairs > 0 else float("nan")


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    return float(auc_of_draws(np.asarray(y, dtype=np.float64)[None, :], rankdata(p))[0])


def _draws(p: np.ndarray, *, draws: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Realised conversion and AUC of ``p`` under ``draws`` outcome draws from ``p`` itself."""
    rng = np.random.default_rng(seed)
    ranks = rankdata(p)
    rates, aucs = [], []
    for start in range(0, draws, _CHUNK):
        size = min(_CHUNK, draws - start)
        labels = (rng.uniform(size=(size, len(p))) < p).astype(np.float64)
        rates.append(labels.mean(axis=1))
        aucs.append(auc_of_draws(labels, ranks))
    return np.concatenate(rates), np.concatenate(aucs)


def _interval(
    metric: str, expected: float, drawn: np.ndarray, miss: tuple[float, float], confidence: float
) -> Estimate:
    """The chance interval of ``drawn`` around ``expected``, widened by the holdout's miss
    (``miss``: its size and the spread chance gives it)."""
    finite = drawn[np.isfinite(drawn)]
    tail = (1 - confidence) / 2 * 100
    low, high = (
        (float(v) for v in np.percentile(finite, [tail, 100 - tail]))
        if len(finite)
        else (expected, expected)
    )
    gap, sd = miss
    z = float(norm.ppf(0.5 + confidence / 2))
    below = math.hypot(expected - low, z * sd) + gap
    above = math.hypot(high - expected, z * sd) + gap
    return Estimate(
        metric,
        expected,
        max(0.0, expected - below),
        min(1.0, expected + above),
        low,
        high,
        gap,
    )


def backtest(y: np.ndarray, p: np.ndarray, *, draws: int = 400, seed: int = 0) -> Backtest:
    """The estimate on leads whose outcomes are known, next to the realised figures."""
    y = np.asarray(y, dtype=np.float64)
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    rates, aucs = _draws(p, draws=draws, seed=seed)
    finite = aucs[np.isfinite(aucs)]
    return Backtest(
        len(y),
        float(np.mean(p)),
        float(y.mean()),
        expected_auc(p),
        _auc(y, p),
        float(np.std(rates, ddof=1)) if len(rates) > 1 else 0.0,
        float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0,
    )


def estimate_performance(
    p: np.ndarray,
    *,
    reference: Backtest,
    confidence: float = 0.95,
    draws: int = 400,
    seed: int = 0,
) -> PerformanceEstimate:
    """CBPE on immature leads' calibrated probabilities ``p``; ``reference`` is the backtest
    on the holdout, whose misses widen the intervals."""
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    rates, aucs = _draws(p, draws=draws, seed=seed)
    conversion_miss = (
        abs(reference.realised_conversion - reference.expected_conversion),
        reference.conversion_sd,
    )
    auc_miss = (abs(reference.realised_auc - reference.expected_auc), reference.auc_sd)
    conversion = _interval("conversion", float(p.mean()), rates, conversion_miss, confidence)
    auc = _interval("roc_auc", expected_auc(p), aucs, auc_miss, confidence) if len(p) >= 2 else None
    return PerformanceEstimate(len(p), conversion, auc, reference, confidence, draws, seed)


def check_estimate(
    p: np.ndarray,
    y: np.ndarray,
    *,
    reference: Backtest,
    confidence: float = 0.95,
    draws: int = 400,
    seed: int = 0,
) -> PerformanceEstimate:
    """The estimate for leads once their outcomes ``y`` matured, with the realised figures.

    ``p`` are the probabilities the champion gave these very leads when they were young, and
    ``reference`` the backtest recorded then: the estimate is made again exactly as it was,
    on the leads whose outcomes are now known (they are chosen by age, not by outcome).
    """
    y = np.asarray(y, dtype=np.float64)
    estimate = estimate_performance(
        p, reference=reference, confidence=confidence, draws=draws, seed=seed
    )
    conversion = replace(estimate.conversion, realised=float(y.mean()))
    auc = estimate.roc_auc
    if auc is not None and 0 < y.sum() < len(y):
        auc = replace(auc, realised=_auc(y, p))
    return replace(estimate, conversion=conversion, roc_auc=auc)
