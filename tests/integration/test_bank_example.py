"""The bank-marketing example: its preparation step and the loop on a real-data excerpt."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.conftest import invoke_cli

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "bank-marketing"
EXCERPT = ROOT / "tests" / "fixtures" / "bank-excerpt.csv"


def test_prepare_builds_leads_and_outcomes(tmp_path: Path) -> None:
    """It derives ids, contact dates with rising years and one outcome event per client."""
    done = subprocess.run(
        [sys.executable, str(EXAMPLE / "prepare.py"), str(EXCERPT), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    leads = pd.read_csv(tmp_path / "leads.csv", parse_dates=["created_at"])
    outcomes = pd.read_csv(tmp_path / "outcomes.csv", parse_dates=["occurred_at"])
    raw = pd.read_csv(EXCERPT, sep=";")
    assert len(leads) == len(outcomes) == len(raw)
    assert leads["lead_id"].is_unique and "y" not in leads.columns
    assert leads["created_at"].is_monotonic_increasing
    assert leads["created_at"].dt.year.min() == 2008 and leads["created_at"].dt.year.max() == 2010
    assert (outcomes["outcome"] == "won").sum() == (raw["y"] == "yes").sum()


def test_loop_runs_on_the_excerpt_with_the_example_config(tmp_path: Path) -> None:
    """It runs the whole loop on real rows with the example's config, which does not name
    `duration`: the leak guard excludes it, shows its evidence, keeps the honest columns."""
    subprocess.run(
        [sys.executable, str(EXAMPLE / "prepare.py"), str(EXCERPT), str(tmp_path / "data")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    config = (EXAMPLE / "leadloop.yaml").read_text()
    config += "split:\n  min_holdout_rows: 20\n"
    (tmp_path / "leadloop.yaml").write_text(config)
    done = invoke_cli("run", "--json", cwd=tmp_path)
    assert done.returncode in (0, 3), done.stderr
    record = pd.read_json(tmp_path / "reports" / "latest" / "run.json", typ="series")
    excluded = record["features"]["challenger"]["excluded"]
    assert "duration" not in (EXAMPLE / "leadloop.yaml").read_text().split("exclude_columns")[1]
    assert excluded["duration"].startswith("leaks the label (one column ranks")
    assert "alone AUC 0." in excluded["duration"]
    kept = {f["name"] for f in record["features"]["challenger"]["features"]}
    assert {"poutcome", "contact", "housing", "job", "pdays"} <= kept
    assert any(w.startswith("column 'duration' is not used") for w in record["warnings"])
    assert record["split"]["method"] == "out_of_time"
    shutil.rmtree(tmp_path / ".leadloop")
