"""Compiled trees: LightGBM's margins from lleaves, compiled once per model and cached."""

from __future__ import annotations

import logging
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from leadloop.model.forest import OBJECT_FILE, BoosterForest, compile_forest

pytest.importorskip("lleaves", reason="compiled trees need the fast extra (lleaves)")


def _booster() -> tuple[lgb.Booster, np.ndarray]:
    """A model with a categorical code column and missing values, and rows to score."""
    rng = np.random.default_rng(5)
    n = 3000
    matrix = np.column_stack([rng.integers(0, 8, n), rng.normal(size=(n, 4))]).astype(float)
    matrix[rng.random(matrix.shape) < 0.1] = np.nan
    logit = (np.nan_to_num(matrix[:, 0]) % 2) * 1.2 - 1 + np.nan_to_num(matrix[:, 1])
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    params = {"objective": "binary", "verbose": -1, "seed": 2, "num_leaves": 15}
    data = lgb.Dataset(matrix, label=y, categorical_feature=[0])
    booster = lgb.train(params, data, num_boost_round=25)
    rows = matrix.copy()
    rows[:20, 0] = 30.0  # a category never seen in training: LightGBM's "other" side
    return booster, rows


def test_compiled_margins_equal_lightgbm(tmp_path: Path) -> None:
    """It gives LightGBM's raw margins, categorical codes and missing values included."""
    booster, rows = _booster()
    forest = compile_forest(booster.model_to_string(), cache_dir=tmp_path, label="m-v1")
    assert forest is not None and forest.engine == "lleaves"
    expected = BoosterForest(booster).margin(rows)
    np.testing.assert_allclose(forest.margin(rows), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(forest.margin(rows[:1]), expected[:1], rtol=1e-12, atol=1e-12)


def test_compiled_once_per_model(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """It compiles a model's trees once into the cache and loads them from there afterwards."""
    booster, rows = _booster()
    text = booster.model_to_string()
    with caplog.at_level(logging.INFO, logger="leadloop.model.forest"):
        first = compile_forest(text, cache_dir=tmp_path, label="m-v1")
        second = compile_forest(text, cache_dir=tmp_path, label="m-v1")
    compiles = [r for r in caplog.records if r.getMessage().startswith("compiling the trees")]
    assert len(compiles) == 1
    cached = list(tmp_path.glob(f"m-v1-*/{OBJECT_FILE}"))
    assert len(cached) == 1
    assert first is not None and second is not None
    np.testing.assert_array_equal(first.margin(rows), second.margin(rows))
