"""What a month of the loop achieved, measured on the world's truth rather than on its labels."""

from __future__ import annotations

import numpy as np


def true_auc(truth: np.ndarray, scores: np.ndarray) -> float:
    """The ROC AUC a model's ``scores`` would have in expectation on these leads: the chance
    that a lead which converts (drawn in proportion to its true probability) outranks one
    which does not (drawn in proportion to one minus it), over pairs of distinct leads; ties
    count one half. No outcome draw is involved, so the figure carries no label noise."""
    p = np.asarray(truth, dtype=float)
    s = np.asarray(scores, dtype=float)
    order = np.argsort(s, kind="stable")
    p, s = p[order], s[order]
    neg = 1.0 - p
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    group = np.cumsum(np.r_[True, s[1:] != s[:-1]]) - 1
    group_neg = np.add.reduceat(neg, starts)
    below = np.r_[0.0, np.cumsum(group_neg)[:-1]][group]
    tied = group_neg[group] - neg
    pairs = p.sum() * neg.sum() - float(np.dot(p, neg))
    if pairs <= 0:
        return float("nan")
    return float(np.dot(p, below + 0.5 * tied) / pairs)


def top_share(scores: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` leads with the highest scores (ties in batch order), as a mask."""
    picked = np.zeros(len(scores), dtype=bool)
    picked[np.argsort(-np.asarray(scores, dtype=float), kind="stable")[:count]] = True
    return picked
