"""Shared fixtures: small generated data sets written to real files in temporary directories."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# One OpenMP thread per test process before LightGBM loads: tests fit small models, and with
# several test processes (pytest-xdist) or other load on the cores, OpenMP's spinning threads
# make each boosting round orders of magnitude slower. A value set by the caller wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from leadloop.data.synthetic import SyntheticSpec
from leadloop.pipeline import write_synthetic

SMALL = SyntheticSpec(n_leads=4000, months=12, seed=3)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory holding a small synthetic lead base in data/ (the default paths)."""
    write_synthetic(
        SMALL,
        leads_path=tmp_path / "data" / "leads.csv",
        outcomes_path=tmp_path / "data" / "outcomes.csv",
    )
    return tmp_path


def run_cli(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real ``leadloop`` command in a subprocess."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LEADLOOP_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "leadloop", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
