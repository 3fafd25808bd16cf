"""Batch scoring speed: compiled trees vs LightGBM, leaf-table TreeSHAP vs pred_contrib.

Usage: python benchmarks/scoring.py [--rows 1000000] [--reason-rows 100000] [--repeat 3]

Setup: 20k synthetic leads and `leadloop run` in a temp dir (the champion), then `leadloop
generate` for the big file. Prints, best of --repeat runs each:

1. Margins of the encoded matrix: LightGBM's Booster.predict vs the compiled trees (lleaves),
   rows/s, and the largest difference (they must agree to float precision); compile time once
   and the cached load.
2. Contributions: LightGBM's pred_contrib vs leadloop's leaf tables, rows/s and the largest
   difference.
3. score_file end to end (read Parquet, prepare, encode, score, write): reasons=0 with
   LightGBM and with compiled trees; reasons=3 with pred_contrib (the old path, measured on a
   slice) and with leaf tables.

The machine's 2 cores are shared, so read the ratios more than the rows/s. Never asserts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leadloop.batch import load_scorer, score_file, use_compiled_trees
from leadloop.config import load_settings
from leadloop.model.forest import BoosterForest, compile_forest
from leadloop.model.treeshap import TreeShap


def cli(root: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADLOOP_")}
    done = subprocess.run(
        [sys.executable, "-m", "leadloop", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"leadloop {' '.join(args)} failed:\n{done.stderr[-2000:]}")


def best(repeat: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """The shortest of ``repeat`` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return min(times), result


def table(title: str, rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print(f"\n{title}")
    for k, row in enumerate(rows):
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells))
        if k == 0:
            print("  ".join("-" * w for w in widths))


def margins(scorer: Any, matrix: np.ndarray, cache: Path, repeat: int) -> None:
    booster = scorer.model.booster
    text = booster.model_to_string()
    lgb_s, expected = best(repeat, lambda: BoosterForest(booster).margin(matrix))
    started = time.perf_counter()
    forest = compile_forest(text, cache_dir=cache, label="bench")
    compile_s = time.perf_counter() - started
    rows = [["margins of the encoded matrix", "seconds", "rows/s", "x LightGBM", "max |diff|"]]
    rows.append(
        ["LightGBM Booster.predict", f"{lgb_s:.2f}", f"{len(matrix) / lgb_s:,.0f}", "1.0", ""]
    )
    if forest is None:
        rows.append(["compiled trees: lleaves not installed", "", "", "", ""])
    else:
        started = time.perf_counter()
        compile_forest(text, cache_dir=cache, label="bench")
        load_s = time.perf_counter() - started
        ll_s, got = best(repeat, lambda: forest.margin(matrix))
        diff = float(np.abs(got - expected).max())
        rows.append(
            [
                f"compiled (lleaves; compile {compile_s:.1f} s once, cached load {load_s:.2f} s)",
                f"{ll_s:.2f}",
                f"{len(matrix) / ll_s:,.0f}",
                f"{lgb_s / ll_s:.1f}",
                f"{diff:.1e}",
            ]
        )
    table(f"1. Margins, {len(matrix):,} leads", rows)


def contributions(scorer: Any, matrix: np.ndarray, repeat: int) -> None:
    booster = scorer.model.booster
    started = time.perf_counter()
    explainer = TreeShap(booster)
    build_s = time.perf_counter() - started
    lgb_s, expected = best(repeat, lambda: booster.predict(matrix, pred_contrib=True))
    ours_s, got = best(repeat, lambda: explainer.contributions(matrix))
    diff = float(np.abs(got - expected).max())
    n = len(matrix)
    one = matrix[:1]
    one_lgb, _ = best(200, lambda: booster.predict(one, pred_contrib=True, num_threads=1))
    one_ours, _ = best(200, lambda: explainer.contributions(one))
    rows = [["TreeSHAP contributions", "seconds", "rows/s", "x LightGBM", "one lead, ms"]]
    rows.append(
        [
            "LightGBM pred_contrib",
            f"{lgb_s:.2f}",
            f"{n / lgb_s:,.0f}",
            "1.0",
            f"{one_lgb * 1e3:.3f}",
        ]
    )
    rows.append(
        [
            f"leaf tables ({explainer.engine}; built in {build_s:.2f} s)",
            f"{ours_s:.2f}",
            f"{n / ours_s:,.0f}",
            f"{lgb_s / ours_s:.1f}",
            f"{one_ours * 1e3:.3f}",
        ]
    )
    table(f"2. Contributions, {n:,} leads (max |diff| {diff:.1e})", rows)


def files(settings: Any, big: Path, part: Path, out: Path, repeat: int) -> None:
    rows = [["score_file (read, prepare, encode, score, write)", "leads", "seconds", "rows/s"]]
    scoring = settings.scoring
    plain = settings.model_copy(update={"scoring": scoring.model_copy(update={"compile": "never"})})

    def run(label: str, source: Path, reasons: int, *, compiled: bool, before: bool) -> None:
        chosen = settings if compiled else plain
        scorer = load_scorer(chosen, reasons=reasons)
        if compiled:
            use_compiled_trees(scorer, chosen)
        if before:  # the reasons as they were computed before: LightGBM's pred_contrib
            scorer.model.__dict__["explainer"] = _LightGBMContrib(scorer.model.booster)
        seconds, result = best(repeat, lambda: score_file(chosen, source, out, scorer=scorer))
        rows.append([label, f"{result.rows:,}", f"{seconds:.2f}", f"{result.rows / seconds:,.0f}"])

    run("reasons=0, LightGBM (before)", big, 0, compiled=False, before=True)
    run("reasons=0, compiled trees", big, 0, compiled=True, before=False)
    run("reasons=3, LightGBM pred_contrib (before)", part, 3, compiled=False, before=True)
    run("reasons=3, leaf tables + compiled trees", part, 3, compiled=True, before=False)
    table("3. Files", rows)


class _LightGBMContrib:
    """The reasons' contributions as before: LightGBM's pred_contrib."""

    engine = "lightgbm"

    def __init__(self, booster: Any) -> None:
        self.booster = booster

    def contributions(self, matrix: np.ndarray, *, threads: int | None = None) -> np.ndarray:
        return np.asarray(self.booster.predict(matrix, pred_contrib=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reason-rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="leadloop-scoring-bench-"))
    print(f"scoring benchmark in {root}: {os.cpu_count()} cores, load {os.getloadavg()}")
    try:
        cli(root, "generate", "-o", "data", "--n-leads", "20000", "--months", "12")
        cli(root, "run", "-q")
        cli(root, *f"generate -o big --n-leads {args.rows} --months 12 --format parquet".split())
        big = root / "big" / "leads.parquet"
        frame = pd.read_parquet(big)
        part = root / "big" / "part.parquet"
        frame.head(args.reason_rows).to_parquet(part, index=False)
        settings = load_settings(None, environ={}, base_dir=root)
        scorer = load_scorer(settings, reasons=0)
        matrix = scorer.model.encoder.transform(frame)
        trees = scorer.model.booster.num_trees()
        print(f"champion: {trees} trees, {matrix.shape[1]} features")
        margins(scorer, matrix, root / "compiled", args.repeat)
        contributions(scorer, matrix[: args.reason_rows], args.repeat)
        files(settings, big, part, root / "big" / "scored.parquet", args.repeat)
        print(f"\nload average at the end: {os.getloadavg()}")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
