"""Exit codes and headless output of `leadloop run`, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from tests.conftest import invoke_cli, run_cli


def test_json_decision_on_stdout(project: Path) -> None:
    """It prints the decision record as JSON on stdout with --json and exits 0 or 3 to match,
    stating the champion the registry holds after the run."""
    done = invoke_cli("run", "--json", cwd=project)
    record = json.loads(done.stdout)
    verdict = record["decision"]["verdict"]
    assert verdict in {"promote", "keep", "block"}
    assert done.returncode == record["exit_code"] == (3 if verdict == "block" else 0), done.stderr
    champion = record["versions"]["champion"]
    assert record["registry"]["champion"] == champion
    assert f"v{champion}" in record["registry"]["message"]
    assert record["decision"]["checks"]
    assert "\x1b[" not in done.stdout  # no progress bar or colour when not on a terminal


def test_blocked_gate_exits_3(project: Path) -> None:
    """It exits 3 and says why when the gate blocks (outcomes joined to the wrong leads)."""
    outcomes = pd.read_csv(project / "data" / "outcomes.csv")
    rng = np.random.default_rng(0)
    outcomes["lead_id"] = rng.permutation(outcomes["lead_id"].to_numpy())
    outcomes.to_csv(project / "data" / "outcomes.csv", index=False)
    done = run_cli("run", cwd=project)
    assert done.returncode == 3, done.stderr
    assert "BLOCK" in done.stdout


def test_an_unusable_store_directory_exits_2_before_training(project: Path) -> None:
    """It exits 2 with one line naming the store's directory when it is a file (an operator's
    fault, found before any training; it used to be an internal error after it)."""
    blocker = project / "not-a-directory"
    blocker.write_text("a file where the store's directory should be")
    env = {"LEADLOOP_TRACKING__URI": f"sqlite:///{blocker}/mlflow.db"}
    done = run_cli("run", cwd=project, env=env)
    assert done.returncode == 2
    message = done.stderr.strip()
    assert len(message.splitlines()) == 1 and "Traceback" not in message
    assert "the MLflow store's directory" in message and "not-a-directory is a file" in message
    reports = project / "reports"
    assert not reports.exists() or not any(p.name[0].isdigit() for p in reports.iterdir())


def test_help_documents_exit_codes(tmp_path: Path) -> None:
    """It documents the exit codes in `leadloop run --help`, 4 for a champion that changed."""
    done = run_cli("run", "--help", cwd=tmp_path)
    text = " ".join(done.stdout.split())
    assert "3 the gate blocked" in text
    assert "4 the champion changed during the run" in text
