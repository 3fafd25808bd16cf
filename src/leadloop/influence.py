"""Undoing the loop's influence on what it learns from: inverse-propensity weights and the
off-policy comparison of two models.

Once leadloop's scores decide which leads sales works, only worked leads get outcomes, and the
labelled leads are mostly the ones the champion ranked high. Each labelled lead stands for
1 / propensity leads like it (its chance of having been worked, logged by ``leadloop.policy``):
weighting by that undoes the selection (Horvitz and Thompson, 1952; for the loop, Bottou et
al., JMLR 2013), so training and evaluation see the population the model will score.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from leadloop.errors import InputError
from leadloop.evaluate import PairedDifference

NO_PROPENSITIES = (
    "No propensities are logged for these leads (old data, a CRM import, or no work-allocation "
    "policy): only the leads sales chose to work have outcomes, and the loop cannot correct "
    "for its own influence on which leads those are. Set policy.capacity to log them."
)


@dataclass(frozen=True)
class Weights:
    """Inverse-propensity weights, clipped and self-normalised (mean 1), with their cost."""

    weights: np.ndarray
    cap: float  # the largest raw weight kept, as a multiple of the mean raw weight
    clipped: int  # weights cut down to the cap
    effective_size: float  # Kish: (sum w)^2 / sum w^2
    rows: int

    def to_dict(self) -> dict[str, float | int]:
        out = asdict(self)
        del out["weights"]
        out["effective_share"] = self.effective_size / self.rows if self.rows else 0.0
        return out


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size: the rows an unweighted sample of equal variance holds."""
    w = np.asarray(weights, dtype=float)
    total = float((w * w).sum())
    return float(w.sum()) ** 2 / total if total > 0 else 0.0


def ipw_weights(propensity: np.ndarray) -> Weights:
    """Weights 1 / propensity, clipped at sqrt(n) times their mean, then scaled to mean 1.

    The clip is truncated importance sampling (Ionides, JCGS 2008): capping each weight at
    mean * sqrt(n) keeps any one lead from carrying more than about 1 / sqrt(n) of the total,
    bounds the variance, and the bias it adds vanishes as n grows. Under the policy every raw
    weight is at most n_batch / (epsilon * capacity), so the cap binds only where propensities
    are tiny (a small exploration share, a huge batch); the count clipped is reported.
    """
    p = np.asarray(propensity, dtype=float)
    bad = np.flatnonzero(~(np.isfinite(p) & (p > 0) & (p <= 1)))
    if bad.size:
        raise InputError(
            "propensity must be in (0, 1]", column="propensity", rows=(bad + 1).tolist()
        )
    n = len(p)
    if n == 0:
        return Weights(np.zeros(0), 0.0, 0, 0.0, 0)
    raw = 1.0 / p
    cap = math.sqrt(n)
    limit = cap * float(raw.mean())
    clipped = np.minimum(raw, limit)
    weights = clipped / clipped.mean()
    return Weights(weights, cap, int((raw > limit).sum()), effective_sample_size(weights), n)


def weighted_auc(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> float:
    """ROC AUC with each lead counted ``weights`` times: the weighted share of (won, lost)
    pairs the score orders right, ties counted half."""
    return _Ranked(score).auc(np.asarray(y, dtype=float), np.asarray(weights, dtype=float))


class _Ranked:
    """One score's order and tie groups, computed once for many weightings."""

    def __init__(self, score: np.ndarray) -> None:
        s = np.asarray(score, dtype=float)
        self.order = np.argsort(s, kind="stable")
        sorted_s = s[self.order]
        self.starts = np.flatnonzero(np.r_[True, sorted_s[1:] != sorted_s[:-1]])

    def auc(self, y: np.ndarray, w: np.ndarray) -> float:
        ys, ws = y[self.order], w[self.order]
        won = np.add.reduceat(ws * ys, self.starts)
        lost = np.add.reduceat(ws * (1 - ys), self.starts)
        below = np.cumsum(lost) - lost
        pairs = float(won.sum()) * float(lost.sum())
        return float((won * (below + 0.5 * lost)).sum() / pairs) if pairs > 0 else math.nan


@dataclass(frozen=True)
class OffPolicy:
    """Challenger minus champion AUC on the population, from the worked leads' outcomes."""

    difference: PairedDifference
    champion_auc: float
    challenger_auc: float
    naive_difference: float  # the same difference unweighted: what the loop sees by itself
    effective_size: float  # Kish, over the holdout's weights
    effective_minority: float  # Kish, over the weights of the rarer outcome's leads

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "difference": self.difference.to_dict()}


def off_policy_auc_difference(
    y: np.ndarray,
    champion: np.ndarray,
    challenger: np.ndarray,
    weights: np.ndarray,
    *,
    confidence: float = 0.95,
    resamples: int = 200,
    seed: int = 0,
) -> OffPolicy:
    """The IPW-weighted AUC difference of two models on the same holdout, with a paired
    percentile bootstrap interval (rows resampled, each keeping its weight)."""
    y = np.asarray(y, dtype=float)
    w = np.asarray(weights, dtype=float)
    ranked = (_Ranked(champion), _Ranked(challenger))
    aucs = [r.auc(y, w) for r in ranked]
    plain = np.ones(len(y))
    naive = ranked[1].auc(y, plain) - ranked[0].auc(y, plain)
    rng = np.random.default_rng(seed)
    diffs = np.empty(resamples)
    for b in range(resamples):
        drawn = w * np.bincount(rng.integers(0, len(y), len(y)), minlength=len(y))
        diffs[b] = ranked[1].auc(y, drawn) - ranked[0].auc(y, drawn)
    tail = (1 - confidence) / 2 * 100
    lower, upper = np.nanpercentile(diffs, [tail, 100 - tail])
    minority = y == (1.0 if y.sum() * 2 <= len(y) else 0.0)
    difference = PairedDifference(
        "roc_auc_ipw",
        float(aucs[1] - aucs[0]),
        float(lower),
        float(upper),
        confidence,
        f"inverse-propensity weighted, paired bootstrap ({resamples} resamples)",
    )
    return OffPolicy(
        difference,
        aucs[0],
        aucs[1],
        float(naive),
        effective_sample_size(w),
        effective_sample_size(w[minority]),
    )


@dataclass(frozen=True)
class Influence:
    """Whether a run can undo the loop's influence: propensities found for its labelled leads,
    the training weights (None: unweighted) and the holdout's propensities for the gate."""

    train_logged: int
    train_rows: int
    holdout_logged: int
    holdout_rows: int
    train_weights: Weights | None
    holdout_propensity: np.ndarray | None

    @property
    def corrected(self) -> bool:
        return self.train_weights is not None and self.holdout_propensity is not None

    def note(self) -> str:
        """What the run did about its own influence, in a sentence or two."""
        if self.train_logged == 0 and self.holdout_logged == 0:
            return NO_PROPENSITIES
        if not self.corrected:
            return (
                f"Propensities are logged for {self.train_logged} of {self.train_rows} training "
                f"and {self.holdout_logged} of {self.holdout_rows} holdout leads, not all (the "
                "others were scored before the policy or outside leadloop): the loop cannot "
                "correct for its own influence on this run."
            )
        weights = self.train_weights
        assert weights is not None  # corrected
        return (
            f"The off-policy comparison weights each labelled lead by 1 / its propensity "
            f"(clipped at {weights.cap:.1f} x the mean, {weights.clipped} clipped): an effective "
            f"{weights.effective_size:.0f} of {weights.rows} training leads (Kish). Training "
            "uses these weights to the power (0, 1/2 or 1) whose importance-weighted validation "
            "loss is least (the run record's training.challenger.weight_flattening)."
        )

    def to_dict(self) -> dict[str, object]:
        weights = self.train_weights
        return {
            "corrected": self.corrected,
            "propensities_logged": {
                "train": self.train_logged,
                "train_rows": self.train_rows,
                "holdout": self.holdout_logged,
                "holdout_rows": self.holdout_rows,
            },
            "training_weights": weights.to_dict() if weights is not None else None,
            "note": self.note(),
        }


def influence_of(train: np.ndarray, holdout: np.ndarray) -> Influence:
    """The run's stance on its own influence from the propensities of its training and
    holdout rows (NaN: none logged): weights only where every row has one."""
    train = np.asarray(train, dtype=float)
    holdout = np.asarray(holdout, dtype=float)
    full_train = len(train) > 0 and not np.isnan(train).any()
    full_holdout = len(holdout) > 0 and not np.isnan(holdout).any()
    return Influence(
        int((~np.isnan(train)).sum()),
        len(train),
        int((~np.isnan(holdout)).sum()),
        len(holdout),
        ipw_weights(train) if full_train else None,
        holdout if full_holdout else None,
    )
