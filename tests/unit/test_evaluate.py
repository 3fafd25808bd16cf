"""Metrics on hand-checkable inputs."""

import numpy as np
import pytest

from leadloop.errors import InputError
from leadloop.evaluate import (
    compare,
    compute_metrics,
    expected_calibration_error,
    recall_at_capacity,
)


def test_perfect_ranking() -> None:
    """It gives AUC 1 and full recall at capacity when every won lead is ranked first."""
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.3, 0.2, 0.2, 0.1, 0.1, 0.1, 0.05, 0.01])
    m = compute_metrics(y, p, capacity=0.2)
    assert m.roc_auc == pytest.approx(1.0)
    assert m.pr_auc == pytest.approx(1.0)
    assert m.recall_at_capacity == pytest.approx(1.0)
    assert m.top_decile_conversion == pytest.approx(1.0)
    assert m.top_decile_lift == pytest.approx(5.0)
    assert (m.n, m.positives) == (10, 2)


def test_recall_at_capacity_counts_top_share() -> None:
    """It counts the share of won leads found in the top K% by score."""
    y = np.array([1, 0, 1, 0, 1, 0, 0, 0, 0, 0])
    p = np.linspace(1, 0, 10)
    assert recall_at_capacity(y, p, capacity=0.3) == pytest.approx(2 / 3)


def test_calibration_error_is_zero_when_rates_match() -> None:
    """It measures no calibration error when predicted and observed rates agree per bin."""
    y = np.array([0, 0, 0, 1] * 25, dtype=float)
    p = np.full(100, 0.25)
    assert expected_calibration_error(y, p, bins=5) == pytest.approx(0.0)
    assert expected_calibration_error(y, np.full(100, 0.75), bins=5) == pytest.approx(0.5)


def test_single_class_refused() -> None:
    """It refuses to evaluate a holdout with only one class."""
    with pytest.raises(InputError, match="both won and lost"):
        compute_metrics(np.zeros(5), np.full(5, 0.2))


def test_compare_direction() -> None:
    """It marks the challenger better on AUC when higher and on log loss when lower."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    good = np.clip(y * 0.6 + rng.uniform(0, 0.4, 500), 0.01, 0.99)
    bad = rng.uniform(0.01, 0.99, 500)
    diff = compare(compute_metrics(y, bad), compute_metrics(y, good))
    assert diff["roc_auc"]["challenger_better"] is True
    assert diff["log_loss"]["challenger_better"] is True
    assert diff["roc_auc"]["difference"] > 0
