"""Inverse-propensity weights and the off-policy AUC comparison, on worlds with known truth."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from leadloop.errors import InputError
from leadloop.influence import (
    effective_sample_size,
    ipw_weights,
    off_policy_auc_difference,
    weighted_auc,
)
from leadloop.policy import allocate

SEEDS = range(30)
TOLERANCE = 0.01  # on the mean over seeds; each seed's IPW error is a few hundredths


def _world(seed: int, n: int = 20_000) -> dict[str, np.ndarray]:
    """Leads with a true chance to convert if worked, two models, and one month of the policy:
    sales works the champion's top 20% plus a 10% exploration share; only they have outcomes."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    truth = 1 / (1 + np.exp(-(-2 + 1.5 * x[:, 0] + 0.8 * x[:, 1])))
    y = (rng.random(n) < truth).astype(float)  # the outcome each lead would have if worked
    champion = x[:, 0] + rng.normal(scale=0.8, size=n)
    challenger = 1.5 * x[:, 0] + 0.8 * x[:, 1]
    drawn = allocate(1 / (1 + np.exp(-champion)), capacity=0.2, epsilon=0.1, rng=rng)
    return {
        "y": y,
        "champion": champion,
        "challenger": challenger,
        "worked": drawn.within_capacity,
        "propensity": drawn.propensity,
    }


def test_ipw_auc_is_unbiased_where_the_naive_auc_is_not() -> None:
    """It recovers the champion's AUC on all leads, and the challenger's gain, from the worked
    leads alone: mean over 30 seeds within 0.01 of the truth, while the unweighted estimate on
    the same leads is off by more than 0.05."""
    errors: dict[str, list[float]] = {"ipw": [], "naive": [], "gain_ipw": [], "gain_naive": []}
    for seed in SEEDS:
        w = _world(seed)
        seen = w["worked"]
        y = w["y"][seen]
        weights = ipw_weights(w["propensity"][seen]).weights
        true_auc = roc_auc_score(w["y"], w["champion"])
        true_gain = roc_auc_score(w["y"], w["challenger"]) - true_auc
        errors["ipw"].append(weighted_auc(y, w["champion"][seen], weights) - true_auc)
        errors["naive"].append(roc_auc_score(y, w["champion"][seen]) - true_auc)
        found = off_policy_auc_difference(
            y, w["champion"][seen], w["challenger"][seen], weights, resamples=50, seed=seed
        )
        errors["gain_ipw"].append(found.difference.difference - true_gain)
        errors["gain_naive"].append(found.naive_difference - true_gain)
    mean = {k: float(np.mean(v)) for k, v in errors.items()}
    assert abs(mean["ipw"]) < TOLERANCE and abs(mean["gain_ipw"]) < TOLERANCE, mean
    assert abs(mean["naive"]) > 0.05 and abs(mean["gain_naive"]) > 0.05, mean


def test_the_interval_covers_the_true_gain_most_of_the_time() -> None:
    """It gives a 90% bootstrap interval that covers the true AUC gain in most seeds."""
    covered = 0
    for seed in range(20):
        w = _world(100 + seed)
        seen = w["worked"]
        true_gain = roc_auc_score(w["y"], w["challenger"]) - roc_auc_score(w["y"], w["champion"])
        found = off_policy_auc_difference(
            w["y"][seen],
            w["champion"][seen],
            w["challenger"][seen],
            ipw_weights(w["propensity"][seen]).weights,
            confidence=0.9,
            resamples=100,
            seed=seed,
        )
        covered += found.difference.lower <= true_gain <= found.difference.upper
    assert covered >= 15


def test_weights_are_clipped_and_self_normalised() -> None:
    """It scales weights to mean 1, cuts any above sqrt(n) times the mean, and counts them."""
    propensity = np.r_[np.full(99, 0.5), 1e-6]
    found = ipw_weights(propensity)
    assert found.weights.mean() == pytest.approx(1.0)
    assert found.clipped == 1 and found.cap == pytest.approx(10.0)
    assert found.weights.max() / found.weights.min() < 10 * 1e6 * 0.5
    assert found.to_dict()["effective_share"] == pytest.approx(found.effective_size / 100)


def test_kish_effective_sample_size() -> None:
    """It counts equal weights as n rows and one dominant weight as about one row."""
    assert effective_sample_size(np.ones(50)) == pytest.approx(50)
    assert effective_sample_size(np.r_[np.full(9, 1e-9), 1.0]) == pytest.approx(1.0, abs=1e-6)
    assert effective_sample_size(np.zeros(3)) == 0.0


def test_weighted_auc_with_unit_weights_is_the_auc() -> None:
    """It matches the usual AUC (ties counted half) when every weight is 1."""
    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.3).astype(float)
    score = np.round(rng.random(500) + 0.3 * y, 1)  # many ties
    assert weighted_auc(y, score, np.ones(500)) == pytest.approx(roc_auc_score(y, score))
    assert math.isnan(weighted_auc(np.ones(3), np.arange(3.0), np.ones(3)))


def test_a_propensity_outside_zero_one_is_refused() -> None:
    """It names the rows whose propensity is 0, negative or missing."""
    with pytest.raises(InputError, match="rows 2, 3"):
        ipw_weights(np.array([0.5, 0.0, np.nan]))
