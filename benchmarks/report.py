"""Rendering the report: time to render one run's page, and to import the renderer.

Usage: python benchmarks/report.py [RUN_DIR]

With RUN_DIR (a folder under reports/, e.g. reports/latest after `make run`), renders that run's
record again; without it, runs the loop once on the bundled data size (20,000 leads) in a
temporary directory first. Prints figures; never asserts on time.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _import_seconds() -> float:
    """Importing the renderer in a fresh interpreter, as the CLI does on start-up."""
    code = "import time; t = time.perf_counter(); import leadloop.report.html; "
    code += "print(time.perf_counter() - t)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


def _render(directory: Path) -> None:
    from leadloop.data import io
    from leadloop.report.html import render_report

    record = io.read_json(directory / "run.json")
    scores = io.read_table(directory / "holdout_scores.parquet")
    times, html = [], ""
    for _ in range(5):
        started = time.perf_counter()
        html = render_report(record, scores, importance=record.get("importance"))
        times.append(time.perf_counter() - started)
    print(f"run {record['run']}: {len(scores):,} holdout leads")
    print(f"render_report: best {min(times) * 1000:.1f} ms, first {times[0] * 1000:.1f} ms")
    print(f"page size: {len(html.encode()) / 1024:.0f} KB")
    print(f"import leadloop.report.html: {_import_seconds():.2f} s")


def main() -> None:
    if len(sys.argv) > 1:
        _render(Path(sys.argv[1]))
        return
    from leadloop.config import load_settings
    from leadloop.data.synthetic import SyntheticSpec
    from leadloop.pipeline import run_loop, write_synthetic

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_synthetic(
            SyntheticSpec(),
            leads_path=root / "data" / "leads.csv",
            outcomes_path=root / "data" / "outcomes.csv",
        )
        result = run_loop(load_settings(base_dir=root))
        _render(result.report_dir)


if __name__ == "__main__":
    main()
