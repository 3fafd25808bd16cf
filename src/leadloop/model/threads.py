"""Rows shared out over threads, for the C kernels that release the GIL while they run."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

CORES = os.cpu_count() or 1  # looked up once: the call is slow in some containers


def by_rows(run: Callable[[int, int], None], n: int, *, threads: int | None, min_rows: int) -> None:
    """``run(start, end)`` over rows [0, n): on one thread, or split evenly over up to
    ``threads`` (default: every core) when each gets at least ``min_rows`` rows."""
    workers = min(threads or CORES, max(1, n // min_rows))
    if workers <= 1:
        run(0, n)
        return
    bounds = np.linspace(0, n, workers + 1).astype(int)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda a, b: run(int(a), int(b)), bounds[:-1], bounds[1:]))
