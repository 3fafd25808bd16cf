"""LightGBM's parameters, in one place: the scorer's (from ``model:`` settings) and the quick
out-of-fold model the leak guard compares single columns with."""

from __future__ import annotations

from typing import Any

from leadloop.config import ModelConfig

# Every booster leadloop trains: binary, reproducible for a seed, silent.
COMMON: dict[str, Any] = {"objective": "binary", "deterministic": True, "verbose": -1}


def scorer_params(config: ModelConfig) -> dict[str, Any]:
    """The lead scorer: the configured LightGBM settings, early-stopped on log loss."""
    return {
        **COMMON,
        "metric": "binary_logloss",
        "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves,
        "min_data_in_leaf": config.min_data_in_leaf,
        "feature_fraction": config.feature_fraction,
        "lambda_l2": config.lambda_l2,
        "num_threads": config.num_threads,
        "seed": config.seed,
        "force_row_wise": True,
    }


def quick_params(*, rows: int, seed: int) -> dict[str, Any]:
    """A small, fast model (100 rounds at rate 0.1) for the leak guard's comparison: what all
    features together reach, on one thread so it never competes with the run."""
    return {
        **COMMON,
        "learning_rate": 0.1,
        "num_leaves": 15,
        "min_data_in_leaf": 20 if rows >= 2_000 else 5,
        "num_threads": 1,
        "seed": seed,
    }
