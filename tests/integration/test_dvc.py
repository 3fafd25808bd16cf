"""The DVC pipeline, run by real DVC in a throwaway git repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_cli

ROOT = Path(__file__).parents[2]
DVC = shutil.which("dvc", path=str(Path(sys.executable).parent)) or shutil.which("dvc")
pytestmark = pytest.mark.skipif(DVC is None, reason="DVC is not installed (pip install '.[dvc]')")


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADLOOP_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = "leadloop tests"
    env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = "tests@localhost"
    done = subprocess.run(
        list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git + DVC repository with generated data, leadloop.yaml and the project's dvc.yaml."""
    root = tmp_path_factory.mktemp("dvcrepo")
    shutil.copy(ROOT / "dvc.yaml", root / "dvc.yaml")
    assert (
        run_cli(
            "generate", "--n-leads", "8000", "--months", "12", "--out", "data", cwd=root
        ).returncode
        == 0
    )
    assert run_cli("init", cwd=root).returncode == 0
    (root / ".gitignore").write_text(".leadloop/\nreports/20*\n")
    _run("git", "init", "-q", cwd=root)
    _run(str(DVC), "init", "-q", cwd=root)
    _run("git", "add", "-A", cwd=root)
    _run("git", "commit", "-qm", "start", cwd=root)
    return root


def _ran(output: str) -> set[str]:
    return {stage for stage in ("validate", "loop") if f"Running stage '{stage}'" in output}


def test_repro_runs_every_stage_then_nothing(repo: Path) -> None:
    """It runs every stage once, writes the metrics, and reruns nothing when nothing changed."""
    first = _run(str(DVC), "repro", cwd=repo)
    assert _ran(first.stdout) == {"validate", "loop"}
    assert (repo / "reports" / "latest" / "metrics.json").exists()
    assert (repo / "reports" / "validation.json").exists()
    metrics = _run(str(DVC), "metrics", "show", "--json", cwd=repo)
    assert "roc_auc" in metrics.stdout
    again = _run(str(DVC), "repro", cwd=repo)
    assert _ran(again.stdout) == set()


def test_changed_param_reruns_only_dependent_stages(repo: Path) -> None:
    """It reruns only the loop stage when a model parameter changes."""
    _run(str(DVC), "repro", cwd=repo)
    _run("git", "add", "-A", cwd=repo)
    _run("git", "commit", "-qm", "first run", cwd=repo)
    config = repo / "leadloop.yaml"
    settings = yaml.safe_load(config.read_text())
    settings["model"]["learning_rate"] = 0.08
    config.write_text(yaml.safe_dump(settings))
    changed = _run(str(DVC), "repro", cwd=repo)
    assert _ran(changed.stdout) == {"loop"}
    diff = _run(str(DVC), "params", "diff", cwd=repo)
    assert "model.learning_rate" in diff.stdout
