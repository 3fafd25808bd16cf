"""Small commands through the real CLI: init, generate, validate."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from leadloop.config import load_settings
from tests.conftest import invoke_cli, run_cli


def test_init_writes_valid_config(tmp_path: Path) -> None:
    """It writes a leadloop.yaml that loads, and refuses to overwrite it without --force."""
    assert run_cli("init", cwd=tmp_path).returncode == 0
    settings = load_settings(tmp_path / "leadloop.yaml")
    assert settings.labels.maturity_days == 90
    assert run_cli("init", cwd=tmp_path).returncode == 2
    assert run_cli("init", "--force", cwd=tmp_path).returncode == 0


def test_generate_writes_three_files(tmp_path: Path) -> None:
    """It writes leads, outcomes and truth files of the requested size."""
    done = invoke_cli("generate", "--n-leads", "500", "--months", "6", "--out", "d", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    leads = pd.read_csv(tmp_path / "d" / "leads.csv")
    truth = pd.read_csv(tmp_path / "d" / "truth.csv")
    assert len(leads) == len(truth) == 500
    assert "true_probability" not in leads.columns
    assert (tmp_path / "d" / "outcomes.csv").exists()


def test_validate_prints_label_counts(project: Path) -> None:
    """It prints lead statuses and event exclusions without training or writing anything."""
    done = invoke_cli("validate", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "censored" in done.stdout
    assert not (project / ".leadloop").exists()


HEAVY = ("mlflow", "lightgbm", "sklearn", "pandas", "scipy", "matplotlib")
PROBE = """
import sys
from leadloop.cli import app
try:
    app(sys.argv[1:], prog_name="leadloop")
except SystemExit as done:
    code = done.code
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print(f"exit {{code}}, loaded {{heavy}}", file=sys.stderr)
"""


def test_help_and_early_errors_load_no_heavy_library(tmp_path: Path) -> None:
    """It answers --help, a missing or unreadable input file and a registry never created
    without importing pandas, LightGBM, MLflow, scikit-learn, SciPy or matplotlib (what makes
    these answers take seconds instead of a fraction of one)."""
    (tmp_path / "leads.csv").write_text("lead_id,x\nL1,1\n")
    (tmp_path / "notes").write_text("not a table")
    cases = {
        ("--help",): 0,
        ("score", "--help"): 0,
        ("score", "missing.csv", "-o", "out.csv"): 2,
        ("score", "notes", "-o", "out.csv"): 2,
        ("score", "leads.csv", "-o", "out.csv"): 2,  # no registry yet
        ("inspect", "missing.csv"): 2,
        ("run", "-c", "missing.yaml"): 2,
    }
    script = PROBE.format(heavy=HEAVY)
    for args, code in cases.items():
        done = subprocess.run(
            [sys.executable, "-c", script, *args],
            cwd=tmp_path,
            env={k: v for k, v in os.environ.items() if not k.startswith("LEADLOOP_")},
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        last = done.stderr.strip().splitlines()[-1]
        assert last == f"exit {code}, loaded []", (args, done.stderr[-500:])
