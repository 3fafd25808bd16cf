"""The GitHub Actions workflows pass actionlint."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
ACTIONLINT = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which(
    "actionlint"
)


@pytest.mark.skipif(ACTIONLINT is None, reason="actionlint is not installed (dev extra)")
@pytest.mark.parametrize("name", ["retrain.yml", "tests.yml"])
def test_workflow_is_valid(name: str) -> None:
    """It finds no problem in the workflow file."""
    path = ROOT / ".github" / "workflows" / name
    done = subprocess.run(
        [str(ACTIONLINT), str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_retrain_fails_on_block() -> None:
    """It runs nightly and on dispatch, and fails the job when the gate blocks (exit 3)."""
    text = (ROOT / ".github" / "workflows" / "retrain.yml").read_text()
    assert "schedule:" in text and "workflow_dispatch:" in text
    assert "leadloop run --quiet --json" in text
    assert "exit 1" in text
