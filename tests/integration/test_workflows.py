"""The GitHub Actions workflows pass actionlint, and the nightly retrain refuses a throwaway
registry: its own command is run here as the workflow runs it."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import invoke_cli, run_cli

ROOT = Path(__file__).parents[2]
RETRAIN = ROOT / ".github" / "workflows" / "retrain.yml"
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


def _steps() -> dict[str, dict[str, Any]]:
    workflow = yaml.safe_load(RETRAIN.read_text())
    return {s["name"]: s for s in workflow["jobs"]["retrain"]["steps"] if "name" in s}


def _loop_command() -> list[str]:
    """The `leadloop ...` arguments of the workflow's loop step, without the redirection."""
    script = _steps()["Run the loop"]["run"]
    line = next(x for x in script.splitlines() if x.strip().startswith("leadloop "))
    return shlex.split(line.split(">")[0])[1:]


@pytest.mark.parametrize(
    ("uri", "said", "leadloop"),
    [
        # a real process once, for the exit status the workflow's next step reads
        (
            "sqlite:///.leadloop/mlflow.db",
            "is a local store that is lost with this machine",
            run_cli,
        ),
        ("", "tracking.uri is empty", invoke_cli),  # what a job sees when the secret is not set
        ("postgresql+psycopg://ci@db.example/mlflow", "inside this checkout", invoke_cli),
    ],
)
def test_retrain_refuses_a_throwaway_store(
    tmp_path: Path, uri: str, said: str, leadloop: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    """It exits 2 with one line and writes nothing when the workflow's own command would track
    into a store that dies with the runner."""
    env = _steps()["Run the loop"]["env"]
    assert env["LEADLOOP_TRACKING__URI"] == "${{ secrets.LEADLOOP_TRACKING_URI }}"
    done = leadloop(*_loop_command(), cwd=tmp_path, env={"LEADLOOP_TRACKING__URI": uri})
    assert done.returncode == 2, done.stdout + done.stderr
    message = " ".join(done.stderr.split())
    assert message.startswith("error: shared registry required") and said in message
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert list(tmp_path.iterdir()) == []  # no store, no data, no reports


@pytest.mark.parametrize(("status", "fails"), [("0", False), ("2", True), ("3", True), ("4", True)])
def test_retrain_fails_the_job_unless_the_loop_exited_0(status: str, fails: bool) -> None:
    """It runs nightly and on dispatch, and its last step fails the job on exit 2, 3 or 4."""
    workflow = yaml.safe_load(RETRAIN.read_text())
    assert {"schedule", "workflow_dispatch"} <= set(workflow[True])  # YAML 1.1 reads `on` as True
    step = _steps()["Fail when the gate blocked or the run failed"]
    assert step["if"] == "steps.loop.outputs.status != '0'"
    if not fails:
        return
    script = step["run"].replace("${{ steps.loop.outputs.status }}", status)
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 1 and done.stdout.startswith("::error::")
