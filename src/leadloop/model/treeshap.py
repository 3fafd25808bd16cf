"""Exact TreeSHAP contributions, as LightGBM's ``pred_contrib`` gives them, several times faster.

LightGBM walks each tree per row with Lundberg's recursive algorithm (O(L D^2) per tree). The
same numbers come from a sum over leaves: a leaf adds to each feature its path tests a share
that depends only on which of those features the row satisfies, the features' cover fractions
and the leaf's value. ``_treeshap`` (C, built with the package) tabulates each leaf's shares once
per model for every satisfied-feature mask, then scores a row in one pass over each tree's nodes.
The forest is read from LightGBM's own JSON dump (``Booster.dump_model``), so decisions follow
LightGBM's rules: missing values by the split's missing type and default direction, categorical
codes by the split's category set (NaN and negative codes go right).

Where the extension is not built, or the model is of a kind it does not cover (several classes,
linear trees), contributions come from LightGBM, and a log line says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np

from leadloop.model.threads import by_rows

log = logging.getLogger(__name__)

try:
    from leadloop.model import _treeshap
except ImportError:  # the C extension was not built (no compiler when installing)
    _treeshap = None  # type: ignore[assignment]

TABLE_MAX_FEATURES = 10  # a leaf testing more distinct features is computed on the fly
TABLE_BUDGET = 8_000_000  # table entries (float64) per model, at most
MAX_PATH_FEATURES = 60  # the C masks are 64-bit
ROWS_PER_THREAD = 2_048  # fewer rows than this per thread are not worth a thread


@dataclass
class _Flat:
    """The forest flattened for the C kernel, every tree in preorder."""

    parent: list[int] = field(default_factory=list)
    side: list[int] = field(default_factory=list)
    feature: list[int] = field(default_factory=list)
    kind: list[int] = field(default_factory=list)
    cat_start: list[int] = field(default_factory=list)
    cat_words: list[int] = field(default_factory=list)
    slot: list[int] = field(default_factory=list)
    fresh: list[int] = field(default_factory=list)
    leaf_d: list[int] = field(default_factory=list)
    leaf_path: list[int] = field(default_factory=list)
    path_feature: list[int] = field(default_factory=list)
    tree_start: list[int] = field(default_factory=lambda: [0])
    leaf_table: list[int] = field(default_factory=list)
    threshold: list[float] = field(default_factory=list)
    leaf_value: list[float] = field(default_factory=list)
    path_zero: list[float] = field(default_factory=list)
    cat_bits: list[int] = field(default_factory=list)
    leaves: list[tuple[int, int, float]] = field(default_factory=list)  # (node, d, value)
    bias: float = 0.0
    linear: bool = False  # leaves with linear models: not covered


class TreeShap:
    """Computes ``pred_contrib`` for a booster: one column per feature, then the bias."""

    def __init__(self, booster: lgb.Booster) -> None:
        self.booster = booster
        self.n_features = booster.num_feature()
        self.engine = "lightgbm"
        self._arrays: tuple[np.ndarray, ...] | None = None
        reason = _unsupported(booster)
        if reason is None:
            self._build(booster.dump_model())
        else:
            log.info("reasons: LightGBM's pred_contrib (%s)", reason)

    def _build(self, dump: dict[str, Any]) -> None:
        flat = _Flat()
        for info in dump["tree_info"]:
            _add_tree(flat, info["tree_structure"])
            flat.tree_start.append(len(flat.parent))
        if flat.linear or max(flat.leaf_d, default=0) > MAX_PATH_FEATURES:
            why = "linear trees" if flat.linear else "a path tests too many features"
            log.info("reasons: LightGBM's pred_contrib (%s)", why)
            return
        self.bias = flat.bias
        self.max_nodes = max(np.diff(flat.tree_start), default=1)
        self.n_trees = len(flat.tree_start) - 1
        self._arrays = _arrays(flat, _tables(flat))
        self.engine = "leaf tables"

    def contributions(self, matrix: np.ndarray, *, threads: int | None = None) -> np.ndarray:
        """TreeSHAP values of each row: shape (rows, features + 1), the bias last."""
        matrix = np.ascontiguousarray(matrix, dtype=np.float64)
        if self._arrays is None or _treeshap is None:
            small: dict[str, Any] = {"num_threads": 1} if len(matrix) <= ROWS_PER_THREAD else {}
            return np.asarray(self.booster.predict(matrix, pred_contrib=True, **small))
        out = np.zeros((len(matrix), self.n_features + 1), dtype=np.float64)
        out[:, -1] = self.bias
        by_rows(self._runner(matrix, out), len(matrix), threads=threads, min_rows=ROWS_PER_THREAD)
        return out

    def _runner(self, matrix: np.ndarray, out: np.ndarray) -> Callable[[int, int], None]:
        arrays, trees, nodes = self._arrays, self.n_trees, int(self.max_nodes)
        assert _treeshap is not None and arrays is not None

        def run(start: int, end: int) -> None:
            _treeshap.contributions(arrays, matrix, out, trees, nodes, int(start), int(end))

        return run


def _unsupported(booster: lgb.Booster) -> str | None:
    if _treeshap is None:
        return "the _treeshap extension is not built"
    if booster.num_model_per_iteration() != 1:
        return "a model with several classes"
    return None


def _add_tree(flat: _Flat, root: dict[str, Any]) -> None:
    """Append one tree in preorder with its path bookkeeping (slots, zero fractions)."""
    if "split_index" not in root:  # one leaf: a constant, only the bias moves
        _append(flat, parent=-1, side=0)
        flat.feature[-1] = -1
        flat.leaf_value[-1] = float(root["leaf_value"])
        flat.bias += float(root["leaf_value"])
        return
    total = float(root["internal_count"])
    # (node, parent index, side, path features, their zero fractions)
    stack: list[tuple[dict[str, Any], int, int, list[int], list[float]]] = [(root, -1, 0, [], [])]
    while stack:
        node, parent, side, feats, zeros = stack.pop()
        index = len(flat.parent)
        _append(flat, parent=parent, side=side)
        if "split_index" not in node:
            _leaf(flat, node, feats, zeros, total)
            continue
        _split(flat, node)
        feat = int(node["split_feature"])
        fresh = feat not in feats
        slot = len(feats) if fresh else feats.index(feat)
        flat.slot[-1], flat.fresh[-1] = slot, int(fresh)
        count = float(node["internal_count"])
        for child_side, key in ((1, "right_child"), (0, "left_child")):  # left popped first
            child = node[key]
            share = _count(child) / count
            child_feats, child_zeros = list(feats), list(zeros)
            if fresh:
                child_feats.append(feat)
                child_zeros.append(share)
            else:
                child_zeros[slot] *= share
            stack.append((child, index, child_side, child_feats, child_zeros))


def _append(flat: _Flat, *, parent: int, side: int) -> None:
    flat.parent.append(parent)
    flat.side.append(side)
    flat.feature.append(-1)
    flat.kind.append(0)
    flat.cat_start.append(0)
    flat.cat_words.append(0)
    flat.slot.append(0)
    flat.fresh.append(0)
    flat.leaf_d.append(0)
    flat.leaf_path.append(0)
    flat.leaf_table.append(-1)
    flat.threshold.append(0.0)
    flat.leaf_value.append(0.0)


def _leaf(
    flat: _Flat, node: dict[str, Any], feats: list[int], zeros: list[float], total: float
) -> None:
    value = float(node["leaf_value"])
    flat.linear = flat.linear or "leaf_coeff" in node
    flat.leaf_value[-1] = value
    flat.leaf_d[-1] = len(feats)
    flat.leaf_path[-1] = len(flat.path_feature)
    flat.path_feature.extend(feats)
    flat.path_zero.extend(zeros)
    flat.leaves.append((len(flat.parent) - 1, len(feats), value))
    flat.bias += float(node["leaf_count"]) / total * value


_MISSING = {"None": 0, "Zero": 1, "NaN": 2}


def _split(flat: _Flat, node: dict[str, Any]) -> None:
    """A split node's feature and decision, as LightGBM's decision_type encodes it."""
    flat.feature[-1] = int(node["split_feature"])
    kind = (2 if node.get("default_left") else 0) | (_MISSING[str(node["missing_type"])] << 2)
    if node["decision_type"] == "==":
        codes = [int(c) for c in str(node["threshold"]).split("||") if c != ""]
        words = max(codes, default=0) // 32 + 1
        bits = [0] * words
        for code in codes:
            bits[code // 32] |= 1 << (code % 32)
        flat.cat_start[-1] = len(flat.cat_bits)
        flat.cat_words[-1] = words
        flat.cat_bits.extend(bits)
        kind |= 1
    else:
        flat.threshold[-1] = float(node["threshold"])
    flat.kind[-1] = kind


def _count(node: dict[str, Any]) -> float:
    return float(node["internal_count"] if "split_index" in node else node["leaf_count"])


def _tables(flat: _Flat) -> np.ndarray:
    """Every small enough leaf's shares for each mask, within ``TABLE_BUDGET`` entries."""
    assert _treeshap is not None
    sizes = [(node, d, value) for node, d, value in flat.leaves if d <= TABLE_MAX_FEATURES]
    sizes.sort(key=lambda leaf: leaf[1])
    total = 0
    chosen = []
    for node, d, value in sizes:
        size = (1 << d) * d
        if total + size > TABLE_BUDGET:
            break
        chosen.append((node, d, value, total))
        total += size
    tables = np.zeros(max(total, 1), dtype=np.float64)
    zero = np.asarray(flat.path_zero, dtype=np.float64)
    for node, d, value, offset in chosen:
        start = flat.leaf_path[node]
        _treeshap.leaf_table(zero[start : start + d].copy(), value, tables[offset:][: (1 << d) * d])
        flat.leaf_table[node] = offset
    return tables


def _arrays(flat: _Flat, tables: np.ndarray) -> tuple[np.ndarray, ...]:
    """The 18 arrays in the order the C kernel reads them."""
    i32 = np.int32
    return (
        np.asarray(flat.parent, i32),
        np.asarray(flat.side, i32),
        np.asarray(flat.feature, i32),
        np.asarray(flat.kind, i32),
        np.asarray(flat.cat_start, i32),
        np.asarray(flat.cat_words, i32),
        np.asarray(flat.slot, i32),
        np.asarray(flat.fresh, i32),
        np.asarray(flat.leaf_d, i32),
        np.asarray(flat.leaf_path, i32),
        np.asarray(flat.path_feature or [0], i32),
        np.asarray(flat.tree_start, i32),
        np.asarray(flat.leaf_table, np.int64),
        np.asarray(flat.threshold, np.float64),
        np.asarray(flat.leaf_value, np.float64),
        np.asarray(flat.path_zero or [0.0], np.float64),
        tables,
        np.asarray(flat.cat_bits or [0], np.uint32),
    )
