"""Exact TreeSHAP by leaf tables: the very contributions of LightGBM's pred_contrib."""

from __future__ import annotations

from functools import cache
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

from leadloop.model import treeshap
from leadloop.model.treeshap import TreeShap


def _data(rng: np.random.Generator, n: int, *, nan_share: float) -> np.ndarray:
    """Two categorical code columns, eleven numbers (some exactly zero), with missing values."""
    numbers = rng.normal(size=(n, 11))
    numbers[:, 0] = np.round(numbers[:, 0])  # many exact zeros
    matrix = np.column_stack([rng.integers(0, 12, n), rng.integers(0, 4, n), numbers])
    matrix = matrix.astype(np.float64)
    matrix[rng.random(matrix.shape) < nan_share] = np.nan
    return matrix


CASES: dict[str, tuple[dict[str, Any], float, int]] = {
    "missing values as NaN": ({"num_leaves": 31}, 0.1, 30),
    "zero as missing": ({"num_leaves": 31, "zero_as_missing": True}, 0.1, 30),
    "no missing values in training": ({"num_leaves": 15}, 0.0, 30),
    "deep trees": ({"num_leaves": 120, "max_depth": -1}, 0.05, 6),
}


@cache
def _booster(case: str) -> lgb.Booster:
    params, nan_share, rounds = CASES[case]
    rng = np.random.default_rng(7)
    matrix = _data(rng, 3000, nan_share=nan_share)
    codes = np.nan_to_num(matrix[:, 0], nan=5.0)
    logit = (codes % 3 == 0) * 1.5 - 1 + np.nansum(matrix[:, 2:6], axis=1) * 0.7
    y = (rng.random(len(logit)) < 1 / (1 + np.exp(-logit))).astype(float)
    data = lgb.Dataset(matrix, label=y, categorical_feature=[0, 1], free_raw_data=False)
    base = {"objective": "binary", "verbose": -1, "seed": 1, "min_data_in_leaf": 5}
    return lgb.train({**base, **params}, data, num_boost_round=rounds)


def _rows(nan_share: float) -> np.ndarray:
    """Rows to explain: unseen and negative codes, NaNs, zeros and tiny values included."""
    rows = _data(np.random.default_rng(11), 6000, nan_share=nan_share)
    rows[:50, 0] = 40.0  # a category never seen in training
    rows[50:60, 1] = -1.0  # a negative code
    rows[60:80, 2] = 1e-40  # read as zero, as LightGBM reads it
    return rows


@pytest.mark.parametrize("case", list(CASES))
def test_contributions_equal_pred_contrib(case: str) -> None:
    """It gives LightGBM's pred_contrib, bias column included, to float tolerance."""
    booster = _booster(case)
    explainer = TreeShap(booster)
    assert explainer.engine == "leaf tables", "the _treeshap extension is not built: make install"
    rows = _rows(0.1)[:2000]
    expected = np.asarray(booster.predict(rows, pred_contrib=True))
    got = explainer.contributions(rows)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-10)
    margin = np.asarray(booster.predict(rows, raw_score=True))
    np.testing.assert_allclose(got.sum(axis=1), margin, atol=1e-9)


def test_leaves_without_a_table_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """It computes leaves whose paths test too many features for a table on the fly, alike."""
    monkeypatch.setattr(treeshap, "TABLE_MAX_FEATURES", 3)
    booster = _booster("missing values as NaN")
    explainer = TreeShap(booster)
    assert explainer._arrays is not None
    leaf_d, tables = explainer._arrays[8], explainer._arrays[12]
    assert ((leaf_d > 3) & (tables < 0)).any() and (tables >= 0).any()
    rows = _rows(0.1)[:2000]
    expected = np.asarray(booster.predict(rows, pred_contrib=True))
    np.testing.assert_allclose(explainer.contributions(rows), expected, rtol=1e-9, atol=1e-10)


def test_one_row_and_many_threads_agree() -> None:
    """It gives each row the same values alone, in one thread or split over several."""
    explainer = TreeShap(_booster("missing values as NaN"))
    rows = _rows(0.1)
    together = explainer.contributions(rows, threads=3)
    np.testing.assert_allclose(explainer.contributions(rows, threads=1), together, atol=1e-12)
    for i in (0, 55, 70, 4000):
        np.testing.assert_allclose(explainer.contributions(rows[i : i + 1])[0], together[i])


def test_constant_trees_add_only_to_the_bias() -> None:
    """It handles trees that are one leaf (no split was worth making) like LightGBM."""
    rng = np.random.default_rng(3)
    matrix = rng.normal(size=(400, 3))
    y = (rng.random(400) < 0.3).astype(float)
    params = {"objective": "binary", "verbose": -1, "min_gain_to_split": 1e9}
    booster = lgb.train(params, lgb.Dataset(matrix, label=y), num_boost_round=3)
    got = TreeShap(booster).contributions(matrix)
    expected = np.asarray(booster.predict(matrix, pred_contrib=True))
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_linear_trees_fall_back_to_lightgbm() -> None:
    """It leaves models with linear trees, which its tables do not cover, to LightGBM."""
    rng = np.random.default_rng(4)
    matrix = rng.normal(size=(500, 3))
    y = (matrix[:, 0] + rng.normal(size=500) > 0).astype(float)
    params = {"objective": "binary", "verbose": -1, "linear_tree": True}
    booster = lgb.train(params, lgb.Dataset(matrix, label=y), num_boost_round=3)
    assert TreeShap(booster).engine == "lightgbm"
