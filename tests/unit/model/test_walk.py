"""The trees walked in C: LightGBM's raw margins to the last bit, and LightGBM where not covered."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from leadloop.model.forest import BoosterForest, WalkedForest, booster_forest
from leadloop.model.walk import walk_of


def _data(seed: int, n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """Two categorical code columns (one with many codes), missing values, exact zeros."""
    rng = np.random.default_rng(seed)
    matrix = np.column_stack(
        [rng.integers(0, 70, n), rng.integers(0, 4, n), rng.normal(size=(n, 4))]
    ).astype(float)
    matrix[rng.random(n) < 0.1, 2] = np.nan  # NaN-type missing values
    matrix[rng.random(n) < 0.3, 3] = 0.0  # many exact zeros
    matrix[rng.random(n) < 0.05, 0] = np.nan  # a missing category
    logit = (np.nan_to_num(matrix[:, 0]) % 3 == 0) * 1.5 - 1 + np.nan_to_num(matrix[:, 2])
    logit += (matrix[:, 3] == 0) * 0.8 + 0.3 * matrix[:, 1]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return matrix, y


def _rows(matrix: np.ndarray) -> np.ndarray:
    """Rows to score, with what training never showed: unseen and negative codes, values within
    LightGBM's zero threshold, NaN where training had none."""
    rows = matrix.copy()
    rows[:20, 0] = 300.0
    rows[20:30, 0] = -3.0
    rows[30:40, 1] = np.nan
    rows[40:50, 4] = 1e-40
    rows[50:60, 5] = np.nan
    return rows


@pytest.mark.parametrize(
    "params",
    [
        {"num_leaves": 31},
        {"num_leaves": 7, "zero_as_missing": True},
        {"num_leaves": 15, "use_missing": False},
        {"num_leaves": 31, "max_cat_to_onehot": 8, "min_data_per_group": 5, "cat_smooth": 1},
    ],
    ids=["default", "zero-as-missing", "no-missing", "many-categories"],
)
def test_margins_equal_lightgbm_bit_for_bit(params: dict[str, object]) -> None:
    """Every row's margin is LightGBM's raw score exactly, on one thread and on several."""
    matrix, y = _data(3)
    base = {"objective": "binary", "verbose": -1, "seed": 1, "deterministic": True}
    data = lgb.Dataset(matrix, label=y, categorical_feature=[0, 1])
    booster = lgb.train({**base, **params}, data, num_boost_round=60)
    rows = _rows(matrix)
    walk = walk_of(booster.model_to_string())
    assert walk is not None, "the _treeshap extension is not built: make install"
    expected = np.asarray(booster.predict(rows, raw_score=True))
    np.testing.assert_array_equal(walk.margin(rows, threads=1), expected)
    np.testing.assert_array_equal(walk.margin(rows, threads=3), expected)
    np.testing.assert_array_equal(walk.margin(rows[7:8]), expected[7:8])


def test_early_stopped_model_uses_the_best_iteration() -> None:
    """An early-stopped booster's walk has the trees its predict uses: up to the best one."""
    matrix, y = _data(4)
    params = {"objective": "binary", "verbose": -1, "seed": 2, "learning_rate": 0.3}
    fit = lgb.Dataset(matrix[:3000], label=y[:3000])
    valid = lgb.Dataset(matrix[3000:], label=y[3000:], reference=fit)
    booster = lgb.train(
        params,
        fit,
        num_boost_round=400,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(5, verbose=False)],
    )
    assert 0 < booster.best_iteration < 400  # stopped early
    forest = booster_forest(booster)
    assert isinstance(forest, WalkedForest)
    np.testing.assert_array_equal(forest.margin(matrix), booster.predict(matrix, raw_score=True))


def test_one_leaf_trees() -> None:
    """A model whose trees are single leaves (nothing to split on) walks to their constants."""
    matrix = np.zeros((200, 2))
    y = np.r_[np.ones(50), np.zeros(150)]
    booster = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(matrix, y), 5)
    walk = walk_of(booster.model_to_string())
    assert walk is not None
    np.testing.assert_array_equal(walk.margin(matrix), booster.predict(matrix, raw_score=True))


def test_linear_trees_fall_back_to_lightgbm() -> None:
    """Leaves with linear models are not walked: LightGBM predicts them."""
    matrix, y = _data(5, n=1500)
    matrix = np.nan_to_num(matrix[:, 2:])
    params = {"objective": "binary", "verbose": -1, "linear_tree": True, "num_leaves": 4}
    booster = lgb.train(params, lgb.Dataset(matrix, y), num_boost_round=5)
    assert walk_of(booster.model_to_string()) is None
    forest = booster_forest(booster)
    assert isinstance(forest, BoosterForest)
    np.testing.assert_array_equal(forest.margin(matrix), booster.predict(matrix, raw_score=True))


def test_wrong_width_is_an_error() -> None:
    """A matrix with another number of columns than the model reads is refused, not misread."""
    matrix, y = _data(6, n=500)
    booster = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(matrix, y), 3)
    walk = walk_of(booster.model_to_string())
    assert walk is not None
    with pytest.raises(ValueError, match="5 columns; the model reads 6"):
        walk.margin(matrix[:, :5])
