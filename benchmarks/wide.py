"""Wide leads tables: how long `leadloop inspect` and `leadloop run` take as columns grow, and
how fast a table past `leads.max_columns` is refused.

Usage: python benchmarks/wide.py [LEADS] [COLUMNS ...]   (default: 3000 leads; 13, 250, 1000
and 10000 columns; the widest runs with the default limit, so it is refused)

Each figure is a real `leadloop` process on a generated lead base plus that many integer
noise columns, on a fresh store. Prints wall seconds and exit codes; never asserts.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from leadloop.data.synthetic import SyntheticSpec, generate


def _project(root: Path, leads: int, columns: int) -> None:
    data = generate(SyntheticSpec(n_leads=leads, months=12, seed=5))
    extra = max(columns - data.leads.shape[1], 0)
    noise = np.random.default_rng(0).integers(0, 9, size=(len(data.leads), extra))
    wide = pd.concat(
        [data.leads.reset_index(drop=True), pd.DataFrame(noise).add_prefix("f")], axis=1
    )
    (root / "data").mkdir(parents=True)
    wide.to_csv(root / "data" / "leads.csv", index=False)
    data.outcomes.to_csv(root / "data" / "outcomes.csv", index=False)
    if columns <= 1000 + data.leads.shape[1]:
        (root / "leadloop.yaml").write_text(f"leads:\n  max_columns: {max(columns, 1000) + 50}\n")


def _time(root: Path, *args: str) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "leadloop", *args], cwd=root, capture_output=True, check=False
    )
    return time.perf_counter() - started, done.returncode


def main() -> None:
    leads = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    widths = [int(a) for a in sys.argv[2:]] or [13, 250, 1000, 10000]
    print(f"{'columns':>8} {'inspect s':>10} {'exit':>5} {'run s':>8} {'exit':>5}")
    for columns in widths:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            _project(root, leads, columns)
            inspect = _time(root, "inspect", "data/leads.csv")
            run = _time(root, "run", "--quiet")
            print(f"{columns:>8} {inspect[0]:>10.1f} {inspect[1]:>5} {run[0]:>8.1f} {run[1]:>5}")


if __name__ == "__main__":
    main()
