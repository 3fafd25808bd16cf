"""The whole loop on generated leads: wall time, peak memory, AUCs next to the oracle.

Usage: python benchmarks/loop.py [N ...]   (default: 100000 1000000)

Each size runs in its own process so peak memory (max RSS) is that run's alone. Prints a table;
never asserts on time. Targets (issue 2): at 100k the challenger's AUC is within 0.01 of the
oracle; at 1M the loop takes at most 1.5x the bare LightGBM fits and stays under 4 GiB.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sklearn.metrics import roc_auc_score

SIZES = [100_000, 1_000_000]


def one(n: int) -> dict[str, float]:
    """Generate n leads into a temp dir, run the loop once, return the figures."""
    import pandas as pd

    from leadloop.config import load_settings
    from leadloop.data.synthetic import SyntheticSpec
    from leadloop.pipeline import run_loop, write_synthetic

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        write_synthetic(
            SyntheticSpec(n_leads=n, months=18, seed=11),
            leads_path=root / "data" / "leads.parquet",
            outcomes_path=root / "data" / "outcomes.parquet",
        )
        generate_s = time.perf_counter() - started
        # The user's cache, as a real run has it (the MLflow store template lives there).
        cache = {k: os.environ[k] for k in ("HOME", "XDG_CACHE_HOME") if k in os.environ}
        settings = load_settings(
            environ={
                **cache,
                "LEADLOOP_LEADS__PATH": "data/leads.parquet",
                "LEADLOOP_OUTCOMES__PATH": "data/outcomes.parquet",
            },
            base_dir=root,
        )
        started = time.perf_counter()
        result = run_loop(settings)
        loop_s = time.perf_counter() - started
        truth = pd.read_parquet(root / "data" / "truth.parquet")
        scores = result.holdout_scores.merge(truth, on="lead_id", how="left")
        training = result.record.to_dict()["training"]
        fits = sum(t["fit_seconds"] for t in training.values())
        comparison = result.record.comparison["roc_auc"]
        return {
            "n": n,
            "generate_s": generate_s,
            "loop_s": loop_s,
            "fits_s": fits,
            "loop_over_fits": loop_s / fits,
            "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
            "holdout_rows": len(scores),
            "champion_auc": comparison["champion"],
            "challenger_auc": comparison["challenger"],
            "oracle_auc": float(roc_auc_score(scores["label"], scores["true_probability"])),
        }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        print(json.dumps(one(int(sys.argv[2]))))
        return
    sizes = [int(a) for a in sys.argv[1:]] or SIZES
    header = (
        "n",
        "generate_s",
        "loop_s",
        "fits_s",
        "loop_over_fits",
        "peak_gib",
        "holdout_rows",
        "champion_auc",
        "challenger_auc",
        "oracle_auc",
    )
    print(" | ".join(f"{h:>14}" for h in header))
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(n)], check=True, capture_output=True, text=True
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            " | ".join(
                f"{row[h]:>14.4f}" if isinstance(row[h], float) else f"{row[h]:>14}" for h in header
            )
        )


if __name__ == "__main__":
    main()
