"""Scoring 10M leads on local Spark vs in one process: rows/s and the driver's peak memory.

Usage: python benchmarks/spark.py [--rows 10000000] [--reasons 0] [--master local[2]]

Setup: 20k synthetic leads and `leadloop run` in a temp dir (the champion), then `leadloop
generate` writes the big Parquet file. Each engine then runs in a fresh child process, so each
one's memory is its own:

- local: `leadloop score`'s path (batch.score_file: chunks of 100k rows, compiled trees where
  lleaves is installed);
- spark: `leadloop score --engine spark`'s path (MLflow's spark_udf on a local session; the
  Python workers score with the logged model).

Prints rows/s, and peak resident memory of the Python driver and, for Spark, of its JVM (in
local mode the executors live in it; the Python workers that score are not counted). Both
engines share the machine's 2 cores with whatever else runs. Never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def cli(root: Path, *args: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADLOOP_")}
    started = time.perf_counter()
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
    return time.perf_counter() - started


def measure(root: Path, engine: str, reasons: int, master: str) -> dict[str, float]:
    """Score the big file with ``engine`` in this (child) process; figures as a dict."""
    from leadloop.batch import load_scorer, score_file
    from leadloop.config import load_settings

    settings = load_settings(None, environ={}, base_dir=root)
    scorer = load_scorer(settings, reasons=reasons)
    source = root / "big" / "leads.parquet"
    target = root / "big" / f"scored-{engine}.parquet"
    started = time.perf_counter()
    if engine == "spark":
        from leadloop import spark

        session = spark.spark_session(master, ui=False)
        try:
            done = spark.score_on_spark(
                settings, str(source), str(target), scorer=scorer, spark=session
            )
            jvm = jvm_peak_mib()
        finally:
            session.stop()
        rows = done.rows
    else:
        rows, jvm = score_file(settings, source, target, scorer=scorer).rows, 0.0
    seconds = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows": rows, "seconds": seconds, "driver_mib": own, "child_mib": jvm}


def jvm_peak_mib() -> float:
    """Peak resident memory (VmHWM) of this process's Java child: Spark's driver JVM."""
    peak = 0.0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
            command = (status.parent / "cmdline").read_bytes()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if int(fields.get("PPid", "0").strip()) == os.getpid() and b"java" in command:
            peak = max(peak, float(fields.get("VmHWM", "0 kB").split()[0]) / 1024)
    return peak


def child(root: Path, engine: str, reasons: int, master: str) -> dict[str, float]:
    command = [sys.executable, __file__, "--measure", engine, "--root", str(root)]
    done = subprocess.run(
        [*command, "--reasons", str(reasons), "--master", master],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{engine} run failed:\n{done.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--reasons", type=int, default=0)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--measure", choices=["local", "spark"])
    parser.add_argument("--root", type=Path)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.root, args.measure, args.reasons, args.master)))
        return 0
    root = Path(tempfile.mkdtemp(prefix="leadloop-spark-bench-"))
    print(f"Spark benchmark in {root}: {os.cpu_count()} cores, load {os.getloadavg()}")
    try:
        cli(root, "generate", "-o", "data", "--n-leads", "20000", "--months", "12")
        cli(root, "run", "-q")
        made = cli(
            root, *f"generate -o big --n-leads {args.rows} --months 12 --format parquet".split()
        )
        print(f"{args.rows:,} leads generated in {made:.0f} s; reasons={args.reasons}")
        print(
            f"{'engine':<36}{'rows':>12}{'seconds':>10}{'rows/s':>12}{'driver MiB':>12}"
            f"{'JVM MiB':>10}"
        )
        for engine in ("local", "spark"):
            got = child(root, engine, args.reasons, args.master)
            label = (
                "one process (leadloop score)"
                if engine == "local"
                else (f"Spark {args.master} (--engine spark)")
            )
            jvm = f"{got['child_mib']:,.0f}" if engine == "spark" else "-"
            print(
                f"{label:<36}{got['rows']:>12,.0f}{got['seconds']:>10.1f}"
                f"{got['rows'] / got['seconds']:>12,.0f}{got['driver_mib']:>12,.0f}{jvm:>10}"
            )
        print(f"load average at the end: {os.getloadavg()}")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
