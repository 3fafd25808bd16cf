"""The booster's margins by walking its trees in C: LightGBM's numbers without LightGBM's
per-call and per-row overhead, for the predictions a run makes on models it has just trained.

The trees are read from LightGBM's own text model (``Booster.model_to_string``: the best
iteration's trees, thresholds and leaf values written to 17 significant digits, so they read back
as the very doubles LightGBM holds). Each row takes every tree's leaf by LightGBM's decision rules
(``goes_right`` in ``_treeshap.c``: missing values by the split's missing type and default
direction, categorical codes by the split's bitset) and adds the leaf values in tree order, as
``Booster.predict(raw_score=True)`` does, so the sums are the same to the last bit (tested).

Models the walk does not cover (several classes, linear trees, averaged outputs) and a missing C
extension leave ``walk_of`` returning None: LightGBM predicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from leadloop.model.threads import by_rows

try:
    from leadloop.model import _treeshap
except ImportError:  # the C extension was not built (no compiler when installing)
    _treeshap = None  # type: ignore[assignment]

ROWS_PER_THREAD = 8_192  # fewer rows than this per thread are not worth a thread


@dataclass
class _Trees:
    """Every tree's split nodes and leaves, concatenated, as the C walk reads them."""

    feature: list[np.ndarray] = field(default_factory=list)
    left: list[np.ndarray] = field(default_factory=list)
    right: list[np.ndarray] = field(default_factory=list)
    kind: list[np.ndarray] = field(default_factory=list)
    cat_start: list[np.ndarray] = field(default_factory=list)
    cat_words: list[np.ndarray] = field(default_factory=list)
    threshold: list[np.ndarray] = field(default_factory=list)
    leaf_value: list[np.ndarray] = field(default_factory=list)
    cat_bits: list[np.ndarray] = field(default_factory=list)
    node_start: list[int] = field(default_factory=lambda: [0])
    leaf_start: list[int] = field(default_factory=lambda: [0])
    words: int = 0  # categorical bitset words so far


class TreeWalk:
    """Raw margins of one booster's trees (build with ``walk_of``)."""

    def __init__(self, arrays: tuple[np.ndarray, ...], n_features: int) -> None:
        self._arrays = arrays
        self.n_features = n_features

    def margin(self, matrix: np.ndarray, *, threads: int | None = None) -> np.ndarray:
        """Each row's margin: the sum of its leaves' values over the trees."""
        assert _treeshap is not None
        matrix = np.ascontiguousarray(matrix, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != self.n_features:
            raise ValueError(
                f"the matrix has {matrix.shape[-1]} columns; the model reads {self.n_features}"
            )
        out = np.zeros(len(matrix), dtype=np.float64)
        arrays = self._arrays

        def run(start: int, end: int) -> None:
            assert _treeshap is not None
            _treeshap.margins(arrays, matrix, out, start, end)

        by_rows(run, len(matrix), threads=threads, min_rows=ROWS_PER_THREAD)
        return out


def walk_of(model_text: str) -> TreeWalk | None:
    """The walk of a LightGBM text model, or None where it is not covered (see the module)."""
    if _treeshap is None:
        return None
    header, _, body = model_text.partition("\nTree=")
    fields = _fields(header)
    if fields.get("num_tree_per_iteration", "1") != "1" or "average_output" in header.split():
        return None
    trees = _Trees()
    body = body.partition("\nend of trees")[0]
    for block in ("Tree=" + body).split("\nTree=") if body else []:
        if not _add(trees, _fields(block)):
            return None
    return TreeWalk(_arrays(trees), int(fields["max_feature_idx"]) + 1)


def _fields(block: str) -> dict[str, str]:
    out = {}
    for line in block.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _add(trees: _Trees, tree: dict[str, str]) -> bool:
    """Append one tree; False for a tree the walk does not cover (linear leaves)."""
    if tree.get("is_linear", "0") != "0":
        return False
    leaves = np.array(tree["leaf_value"].split(), dtype=np.float64)
    n_nodes = int(tree["num_leaves"]) - 1
    if n_nodes > 0:
        feature = _ints(tree["split_feature"])
        kind = _ints(tree["decision_type"])
        threshold = np.array(tree["threshold"].split(), dtype=np.float64)
        cat_start, cat_words = np.zeros(n_nodes, np.int32), np.zeros(n_nodes, np.int32)
        categorical = (kind & 1).astype(bool)
        if categorical.any():
            bounds = _ints(tree["cat_boundaries"])
            index = threshold[categorical].astype(np.int64)
            cat_start[categorical] = trees.words + bounds[index]
            cat_words[categorical] = bounds[index + 1] - bounds[index]
            bits = np.array(tree["cat_threshold"].split(), dtype=np.uint64).astype(np.uint32)
            trees.cat_bits.append(bits)
            trees.words += len(bits)
        left, right = _ints(tree["left_child"]), _ints(tree["right_child"])
        trees.feature.append(feature)
        trees.left.append(left)
        trees.right.append(right)
        trees.kind.append(kind)
        trees.cat_start.append(cat_start)
        trees.cat_words.append(cat_words)
        trees.threshold.append(threshold)
    trees.leaf_value.append(leaves)
    trees.node_start.append(trees.node_start[-1] + max(n_nodes, 0))
    trees.leaf_start.append(trees.leaf_start[-1] + len(leaves))
    return True


def _ints(text: str) -> np.ndarray:
    return np.array(text.split(), dtype=np.int64).astype(np.int32)


def _arrays(trees: _Trees) -> tuple[np.ndarray, ...]:
    """The 11 arrays in the order the C walk reads them."""

    def joined(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(1, dtype)

    i32 = np.int32
    return (
        joined(trees.feature, i32),
        joined(trees.left, i32),
        joined(trees.right, i32),
        joined(trees.kind, i32),
        joined(trees.cat_start, i32),
        joined(trees.cat_words, i32),
        np.asarray(trees.node_start, i32),
        np.asarray(trees.leaf_start, i32),
        joined(trees.threshold, np.float64),
        joined(trees.leaf_value, np.float64),
        joined(trees.cat_bits, np.uint32),
    )
