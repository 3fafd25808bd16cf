"""Drift figures on generated distributions with known shifts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from leadloop.drift import (
    adjust_p_values,
    build_profile,
    feature_drift,
    label_drift,
    score_profile,
    score_shift,
)
from leadloop.features import Feature

FEATURES = [
    Feature("x", "numeric"),
    Feature("flag", "boolean"),
    Feature("source", "categorical", ["a", "b", "c"]),
]


def _matrix(
    n: int, *, seed: int, shift: float = 0.0, other: float = 0.0, missing: float = 0.0
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    x[rng.uniform(size=n) < missing] = np.nan
    flag = (rng.uniform(size=n) < 0.15).astype(float)
    codes = rng.choice(3, n, p=[0.5, 0.3, 0.2]).astype(float)
    codes[rng.uniform(size=n) < other] = 3.0  # the shared "other" code: unseen categories
    return np.column_stack([x, flag, codes])


def _by_name(report: object) -> dict[str, object]:
    return {f.feature: f for f in report.features}  # type: ignore[attr-defined]


def test_same_distribution_is_quiet() -> None:
    """It finds no drift between two samples of the same distribution, discrete ones included."""
    profile = build_profile(_matrix(20_000, seed=1), FEATURES)
    report = feature_drift(profile, _matrix(20_000, seed=2), FEATURES)
    assert report.severe() == []
    for f in report.features:
        assert f.psi < 0.01 and f.severity == "none"


def test_mean_shift_is_severe_only_where_it_happened() -> None:
    """It calls a one-sd mean shift severe and leaves the unchanged features alone."""
    profile = build_profile(_matrix(20_000, seed=1), FEATURES)
    report = feature_drift(profile, _matrix(20_000, seed=2, shift=1.0), FEATURES)
    assert report.severe() == ["x"]
    assert report.features[0].feature == "x"
    assert report.features[0].ks is not None and report.features[0].ks > 0.3


def test_out_of_range_values_are_counted() -> None:
    """It counts values beyond the reference range in the open outer bins."""
    profile = build_profile(_matrix(5_000, seed=1), FEATURES)
    current = _matrix(5_000, seed=2)
    current[:, 0] = 100.0
    x = _by_name(feature_drift(profile, current, FEATURES))["x"]
    assert x.current_shares[-2] == pytest.approx(1.0)  # type: ignore[attr-defined]
    assert x.severity == "severe"  # type: ignore[attr-defined]


def test_unseen_categories_raise_psi_and_js() -> None:
    """It flags a surge of unseen categories through PSI and Jensen-Shannon distance."""
    profile = build_profile(_matrix(20_000, seed=1), FEATURES)
    source = _by_name(feature_drift(profile, _matrix(20_000, seed=2, other=0.4), FEATURES))[
        "source"
    ]
    assert source.js is not None and source.js > 0.15  # type: ignore[attr-defined]
    assert source.severity == "severe"  # type: ignore[attr-defined]


def test_missing_share_change_is_seen() -> None:
    """It treats missing values as their own bin and sees their share change."""
    profile = build_profile(_matrix(20_000, seed=1), FEATURES)
    x = _by_name(feature_drift(profile, _matrix(20_000, seed=2, missing=0.5), FEATURES))["x"]
    assert x.missing_current == pytest.approx(0.5, abs=0.02)  # type: ignore[attr-defined]
    assert x.psi > 0.25  # type: ignore[attr-defined]


def test_large_samples_tiny_shift_not_flagged() -> None:
    """It lets a tiny shift on a million rows reach a tiny p-value without calling it drift."""
    profile = build_profile(_matrix(1_000_000, seed=1), FEATURES)
    report = feature_drift(profile, _matrix(1_000_000, seed=2, shift=0.02), FEATURES)
    x = _by_name(report)["x"]
    assert x.p_value_adjusted is not None and x.p_value_adjusted < 1e-6  # type: ignore[attr-defined]
    assert x.severity == "none"  # type: ignore[attr-defined]


def test_p_value_corrections() -> None:
    """It applies Holm and Benjamini-Hochberg corrections correctly, keeping None."""
    p = [0.01, 0.04, None, 0.03]
    holm = adjust_p_values(p, method="holm")
    assert holm == pytest.approx([0.03, 0.06, None, 0.06])
    bh = adjust_p_values(p, method="bh")
    assert bh == pytest.approx([0.03, 0.04, None, 0.04])


def test_profile_is_small_json_and_prediction_drift() -> None:
    """It stores a small JSON profile (no raw rows) and compares score distributions."""
    matrix = _matrix(100_000, seed=1)
    profile = build_profile(matrix, FEATURES)
    assert len(json.dumps(profile)) < 50_000
    scores = np.random.default_rng(0).beta(2, 8, 100_000)
    report = feature_drift(
        profile,
        _matrix(1000, seed=3),
        FEATURES,
        reference_scores=score_profile(scores),
        current_scores=np.random.default_rng(1).beta(5, 5, 1000),
    )
    assert report.prediction is not None and report.prediction.severity == "severe"
    json.dumps(report.to_dict())


def test_score_shift_matrix() -> None:
    """It counts how many leads move between grades if the challenger replaced the champion."""
    champion = np.array([0.5, 0.3, 0.15, 0.05, 0.05])
    challenger = np.array([0.5, 0.5, 0.05, 0.05, 0.25])
    shift = score_shift(champion, challenger, cutoffs=(0.4, 0.2, 0.1))
    assert shift.matrix[0][0] == 1 and shift.matrix[1][0] == 1
    assert shift.matrix[2][3] == 1 and shift.matrix[3][1] == 1
    assert shift.changed == 3 and shift.n == 5


def test_label_drift_by_month() -> None:
    """It gives the won rate per month of creation."""
    created = pd.Series(pd.to_datetime(["2025-01-03", "2025-01-20", "2025-02-01"]))
    months = label_drift(created, np.array([1.0, 0.0, 1.0]))
    assert months == [
        {"month": "2025-01", "n": 2, "won": 1, "rate": 0.5},
        {"month": "2025-02", "n": 1, "won": 1, "rate": 1.0},
    ]
