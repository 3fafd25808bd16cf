"""Small commands through the real CLI: init, generate, validate."""

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
