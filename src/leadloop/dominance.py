"""The leak guard's dominance check: a number that alone ranks the label like every feature.

A call's length or a vendor's own score, recorded with or after the outcome, alone ranks the
label nearly as well as a model on all features does; an honest column is one signal among
many. The column's own out-of-fold AUC is compared with a quick out-of-fold LightGBM's on every
feature (README "The leak guard" says how the thresholds were derived).
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.stats import rankdata

from leadloop.leaks import DOMINANT_CHECK, Finding
from leadloop.model.params import quick_params

DOMINANT_AUC = 0.714  # Cohen's "large" effect, d = 0.8, as an AUC: Phi(0.8 / sqrt(2))
DOMINANT_SHARE = 2 / 3  # alone it gives >= 2/3 of the all-feature model's lift over chance
Z95 = 1.645  # one-sided 95%
PERFECT_AUC = 0.95  # alone it predicts the label almost perfectly, whatever the model does
MIN_CLASS_ROWS = 10  # rows of each class to fit a model at all (as training requires)
FOLDS = 3


@dataclass(frozen=True)
class Encoded:
    """Sampled, encoded training rows for the dominance check."""

    matrix: np.ndarray
    names: list[str]
    categorical: list[int]
    y: np.ndarray
    numbers: frozenset[str] = frozenset()  # numeric and datetime columns: judged by dominance


def dominance(data: Encoded, *, seed: int = 0) -> dict[str, dict[str, float]]:
    """Per column: its own out-of-fold AUC, the all-feature model's, and its share of the lift."""
    folds = _folds(data.y, seed)
    all_auc = _model_auc(data, folds, seed)
    out = {}
    for j, name in enumerate(data.names):
        alone = _single_auc(data.matrix[:, j], data.y, folds, categorical=j in data.categorical)
        share = (alone - 0.5) / max(all_auc - 0.5, 1e-9)
        out[name] = {"auc_alone": alone, "auc_all": all_auc, "lift_share": share}
    return out


def dominant(data: Encoded, *, seed: int = 0) -> list[Finding]:
    """Columns that alone rank the label nearly as well as all features (out of fold).

    Numbers (lengths, counts, scores) are judged so. A text or boolean column is judged by its
    values' purity instead (a disposition has pure values; a segment such as a lead source,
    however strong, has mixed ones), and here only when it alone predicts almost perfectly.
    The AUC bar is taken on the one-sided 95% lower bound of the column's AUC (Hanley and
    McNeil's standard error), so a small table's noise cannot carry an honest column over it.
    """
    positives = float(data.y.sum())
    if min(positives, len(data.y) - positives) < MIN_CLASS_ROWS:
        return _near_perfect(data)
    found = []
    for name, fig in dominance(data, seed=seed).items():
        alone, share = fig["auc_alone"], fig["lift_share"]
        lower = alone - Z95 * _auc_se(alone, positives, len(data.y) - positives)
        strong = name in data.numbers and lower >= DOMINANT_AUC and share >= DOMINANT_SHARE
        if alone >= PERFECT_AUC or strong:
            evidence = (
                f"alone AUC {alone:.2f} (95% lower bound {lower:.2f}), all features together "
                f"{fig['auc_all']:.2f} (out of fold): alone it gives {share:.0%} of the model's "
                f"lift over chance; flagged when the lower bound >= {DOMINANT_AUC} and >= "
                f"{DOMINANT_SHARE:.0%} of the lift, or alone >= {PERFECT_AUC}"
            )
            found.append(Finding(name, DOMINANT_CHECK, evidence, {**fig, "auc_lower": lower}))
    return found


def _auc_se(auc: float, positives: float, negatives: float) -> float:
    """Hanley and McNeil's (1982) standard error of an AUC."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)
    return float(np.sqrt(max(var, 0.0) / (positives * negatives)))


def _near_perfect(data: Encoded) -> list[Finding]:
    """Too few rows for a model: only columns that alone predict the label almost perfectly."""
    found = []
    for j, name in enumerate(data.names):
        alone = _single_auc(data.matrix[:, j], data.y, None, categorical=j in data.categorical)
        if alone >= PERFECT_AUC:
            evidence = (
                f"alone AUC {alone:.2f}; flagged when >= {PERFECT_AUC} (too few rows to compare)"
            )
            found.append(Finding(name, DOMINANT_CHECK, evidence, {"auc_alone": alone}))
    return found


def _folds(y: np.ndarray, seed: int) -> np.ndarray:
    """A stratified fold number per row."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=np.int64)
    for cls in (0.0, 1.0):
        rows = rng.permutation(np.flatnonzero(y == cls))
        fold[rows] = np.arange(len(rows)) % FOLDS
    return fold


def _model_auc(data: Encoded, folds: np.ndarray, seed: int) -> float:
    """Out-of-fold ROC AUC of a quick LightGBM on every feature."""
    params = quick_params(rows=len(data.y), seed=seed)
    out = np.empty(len(data.y))
    for k in range(FOLDS):
        fit, held = folds != k, folds == k
        train = lgb.Dataset(
            data.matrix[fit], data.y[fit], categorical_feature=data.categorical, free_raw_data=True
        )
        booster = lgb.train(params, train, num_boost_round=100)
        out[held] = np.asarray(booster.predict(data.matrix[held]))
    return _auc(data.y, out)


def _single_auc(
    column: np.ndarray, y: np.ndarray, folds: np.ndarray | None, *, categorical: bool
) -> float:
    """How well one encoded column ranks the label, in either direction.

    Categories (and "missing") are scored by their won rate, out of fold when ``folds`` are
    given; numbers by their value, with missing at whichever end ranks better.
    """
    if categorical or len(np.unique(column[~np.isnan(column)])) <= 2:
        score = _category_rates(column, y, folds)
        return _auc(y, score)
    missing = np.isnan(column)
    if not missing.any():
        return _auc(y, column)
    low, high = np.nanmin(column) - 1, np.nanmax(column) + 1
    return max(_auc(y, np.where(missing, low, column)), _auc(y, np.where(missing, high, column)))


def _category_rates(column: np.ndarray, y: np.ndarray, folds: np.ndarray | None) -> np.ndarray:
    """Each row's category (missing is one) scored by its won rate in the other folds."""
    codes = np.where(np.isnan(column), -1.0, column)
    base = float(y.mean())
    if folds is None:
        rates = pd.Series(y).groupby(codes).mean()
        return pd.Series(codes).map(rates).to_numpy(dtype=np.float64)
    out = np.empty(len(y))
    for k in np.unique(folds):
        fit, held = folds != k, folds == k
        grouped = pd.Series(y[fit]).groupby(codes[fit]).agg(["sum", "count"])
        rates = (grouped["sum"] + base) / (grouped["count"] + 1)  # one prior row at the base rate
        out[held] = pd.Series(codes[held]).map(rates).fillna(base).to_numpy(dtype=np.float64)
    return out


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC in the better direction (a leak can rank either way), as the Mann-Whitney
    statistic on mid-ranks: the same figure as scikit-learn's, without its per-call checks
    (it is computed once per column, so a wide table pays them thousands of times)."""
    positive = y == 1
    n_pos = int(positive.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs both classes")
    ranks = rankdata(score)
    auc = (float(ranks[positive].sum()) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return max(auc, 1 - auc)
