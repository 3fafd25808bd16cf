"""Null distributions of the label statistics: labels drawn from a model's own probabilities.

What a statistic reads on these very rows when the labels are exactly as uncertain as the
model says (a parametric bootstrap): the champion's AUC and its confident-learning count per
lead of the minority class. ``null_offsets`` measures once, at training, how far that null sits
from the truth on clean rows the model was not fitted on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata

MAX_ROWS = 100_000  # rows assessed at most (a seeded sample beyond)
CHUNK = 20  # label draws generated at a time (bounds memory)


def sample_rows(n: int, *, seed: int) -> np.ndarray:
    if n <= MAX_ROWS:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, MAX_ROWS, replace=False))


def shift_to_rate(p: np.ndarray, rate: float) -> np.ndarray:
    """``p`` moved by one constant on the log-odds scale so that its mean is ``rate``."""
    logit = np.log(np.clip(p, 1e-6, 1 - 1e-6) / (1 - np.clip(p, 1e-6, 1 - 1e-6)))
    low, high = -20.0, 20.0
    for _ in range(50):
        mid = (low + high) / 2
        mean = float((1 / (1 + np.exp(-(logit + mid)))).mean())
        low, high = (mid, high) if mean < rate else (low, mid)
    return np.asarray(1 / (1 + np.exp(-(logit + (low + high) / 2))), dtype=np.float64)


def auc_of_draws(labels: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """AUC of one fixed score (given by its mid-ranks) against each row of 0/1 ``labels``."""
    n = labels.shape[1]
    won = labels.sum(axis=1).astype(np.float64)
    rank_sum = labels @ ranks
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray((rank_sum - won * (won + 1) / 2) / (won * (n - won)), dtype=np.float64)


def confident_flags(labels: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Confident-learning flags per row of ``labels`` (2-D): the label contradicts a confident
    prediction. Per class j the threshold t_j is the mean probability of j among rows labelled j;
    a row is confidently j when its probability of j reaches t_j (ties to the likelier class)."""
    won = labels.sum(axis=1, keepdims=True)
    lost = labels.shape[1] - won
    with np.errstate(invalid="ignore", divide="ignore"):
        t_won = (labels @ p)[:, None] / won
        t_lost = ((1 - labels) @ (1 - p))[:, None] / lost
    sure_won = (p >= t_won) & ((1 - p < t_lost) | (p > 0.5))
    sure_lost = (1 - p >= t_lost) & ~sure_won
    flags: np.ndarray = np.where(labels == 1, sure_lost, sure_won)
    return flags


def null_draws(y: np.ndarray, p: np.ndarray, *, draws: int, seed: int) -> dict[str, Any]:
    """Observed and null (drawn from ``p`` moved to the won rate of ``y``) AUC and
    confident-learning count per minority lead."""
    q = shift_to_rate(p, float(y.mean()))
    ranks = rankdata(p)
    rng = np.random.default_rng(seed)
    minority = float(min(y.sum(), len(y) - y.sum()))
    aucs, shares = [], []
    for start in range(0, draws, CHUNK):
        k = min(CHUNK, draws - start)
        labels = (rng.random((k, len(q)), dtype=np.float32) < q).astype(np.float64)
        aucs.append(auc_of_draws(labels, ranks))
        shares.append(confident_flags(labels, q).sum(axis=1) / minority)
    flags = confident_flags(y[None, :], q)[0]
    return {
        "auc": float(auc_of_draws(y[None, :], ranks)[0]),
        "share": float(flags.sum() / minority),
        "null_auc": np.concatenate(aucs),
        "null_share": np.concatenate(shares),
        "flags": flags,
        "minority": int(minority),
    }


def null_offsets(
    y: np.ndarray, p: np.ndarray, *, draws: int = 100, seed: int = 0
) -> dict[str, float]:
    """How far a model's own null is off on labelled rows it was not fitted on.

    A model's probabilities carry estimation error, so labels drawn from them look a little
    more predictable than real ones. Measured once at training on clean rows of the same world
    that the model scoring them never fitted (out-of-fold, ``model.train._label_null``): the
    offset of each statistic from its null mean, and the null's spread there (the offset's own
    uncertainty). The gate moves today's null by the offset and widens it.
    """
    y = np.asarray(y, dtype=np.float64)
    rows = sample_rows(len(y), seed=seed)
    if len(np.unique(y[rows])) < 2:
        return {}
    got = null_draws(y[rows], np.asarray(p, dtype=np.float64)[rows], draws=draws, seed=seed)
    return {
        "auc": float(got["null_auc"].mean() - got["auc"]),
        "auc_sd": float(got["null_auc"].std(ddof=1)),
        "share": float(got["share"] - got["null_share"].mean()),
        "share_sd": float(got["null_share"].std(ddof=1)),
    }
