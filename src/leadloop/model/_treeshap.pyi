"""Types of the C extension ``_treeshap`` (see _treeshap.c)."""

from typing import Any

def leaf_table(zero: Any, value: float, out: Any, /) -> None: ...
def contributions(
    arrays: tuple[Any, ...],
    matrix: Any,
    out: Any,
    n_trees: int,
    max_nodes: int,
    start: int,
    end: int,
    /,
) -> None: ...
def margins(arrays: tuple[Any, ...], matrix: Any, out: Any, start: int, end: int, /) -> None: ...
