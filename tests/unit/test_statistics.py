"""The gate's statistics against brute-force references: DeLong's variance from its pairwise
definition, the sorted-once bootstrap against resampling row by row, the ECE noise floor
against simulated calibrated models."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from leadloop.evaluate import (
    bootstrap_recall_difference,
    delong_auc_difference,
    ece_noise_floor,
    expected_calibration_error,
    recall_at_capacity,
)


def _scores(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and two correlated scores with ties (rounded), as real models give."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(float)
    shared = rng.normal(size=n)
    a = np.round(y + shared + rng.normal(size=n), 1)
    b = np.round(1.3 * y + shared + rng.normal(size=n), 1)
    return y, a, b


def _psi(x: float, z: float) -> float:
    return 1.0 if x > z else 0.5 if x == z else 0.0


def _delong_by_definition(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """DeLong et al. (1988) written out: structural components from every (won, lost) pair."""
    won, lost = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    m, n = len(won), len(lost)
    v10, v01 = np.zeros((2, m)), np.zeros((2, n))
    for k, s in enumerate((a, b)):
        pair = np.array([[_psi(s[i], s[j]) for j in lost] for i in won])
        v10[k], v01[k] = pair.mean(axis=1), pair.mean(axis=0)
    s10, s01 = np.cov(v10), np.cov(v01)
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n
    diff = float(v10[1].mean() - v10[0].mean())
    return diff, math.sqrt(var)


def test_delong_equals_its_pairwise_definition() -> None:
    """It gives the AUC difference and standard error of DeLong's pairwise formula, ties too."""
    y, a, b = _scores(300, seed=1)
    diff, se = _delong_by_definition(y, a, b)
    got = delong_auc_difference(y, a, b, confidence=0.95)
    assert math.isclose(got.difference, diff, abs_tol=1e-12)
    assert math.isclose(got.difference, roc_auc_score(y, b) - roc_auc_score(y, a), abs_tol=1e-12)
    z = float(norm.ppf(0.975))
    assert math.isclose(got.upper - got.lower, 2 * z * se, rel_tol=1e-9)


def _naive_bootstrap(
    y: np.ndarray, a: np.ndarray, b: np.ndarray, *, capacity: float, resamples: int, seed: int
) -> np.ndarray:
    """The same resamples (same generator calls), each scored by resampling rows explicitly."""
    rng = np.random.default_rng(seed)
    out = np.empty(resamples)
    for r in range(resamples):
        weights = np.bincount(rng.integers(0, len(y), len(y)), minlength=len(y)).astype(float)
        recalls = []
        for s in (a, b):
            order = np.argsort(-s, kind="stable")
            taken, found, budget = 0.0, 0.0, capacity * weights.sum()
            for i in order:
                if taken + weights[i] > budget:
                    break
                taken += weights[i]
                found += weights[i] * y[i]
            recalls.append(found / float((weights * y).sum()))
        out[r] = recalls[1] - recalls[0]
    return out


def test_bootstrap_interval_equals_resampling_row_by_row() -> None:
    """It gives the percentile interval that resampling each row explicitly gives."""
    y, a, b = _scores(400, seed=2)
    got = bootstrap_recall_difference(y, a, b, capacity=0.2, resamples=60, seed=5)
    naive = _naive_bootstrap(y, a, b, capacity=0.2, resamples=60, seed=5)
    lower, upper = np.percentile(naive, [2.5, 97.5])
    assert math.isclose(got.lower, lower, abs_tol=1e-12)
    assert math.isclose(got.upper, upper, abs_tol=1e-12)
    point = recall_at_capacity(y, b, capacity=0.2) - recall_at_capacity(y, a, capacity=0.2)
    assert got.difference == point


def test_ece_noise_floor_covers_a_calibrated_model() -> None:
    """It lies above what perfectly calibrated models show on that many rows by chance (95%
    of them), and below what a model off by 0.1 shows."""
    rng = np.random.default_rng(3)
    n, floor = 2000, ece_noise_floor(2000, 0.2, bins=10)
    calibrated, off = [], []
    for _ in range(200):
        p = np.clip(rng.beta(2, 8, size=n), 1e-3, 1 - 1e-3)
        y = (rng.random(n) < p).astype(float)
        calibrated.append(expected_calibration_error(y, p, bins=10))
        off.append(expected_calibration_error(y, np.clip(p + 0.1, 0, 1), bins=10))
    assert np.quantile(calibrated, 0.95) <= floor
    assert min(off) > floor
