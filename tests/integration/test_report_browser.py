"""The report in a real headless Chromium: loads from disk, no console errors, not blank."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from leadloop.config import load_settings
from leadloop.data.synthetic import SyntheticSpec
from leadloop.pipeline import run_loop, write_synthetic

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (Debian package 'chromium'; .ci/run installs it)",
)


def test_report_renders_in_chromium(tmp_path: Path) -> None:
    """It opens the report offline in headless Chromium with no console errors, not blank."""
    write_synthetic(
        SyntheticSpec(n_leads=4000, months=12, seed=3),
        leads_path=tmp_path / "data" / "leads.csv",
        outcomes_path=tmp_path / "data" / "outcomes.csv",
    )
    result = run_loop(load_settings(base_dir=tmp_path))
    shot = tmp_path / "report.png"
    done = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1200,4000",
            "--enable-logging=stderr",
            "--v=0",
            f"--screenshot={shot}",
            (result.report_dir / "report.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line or "net::ERR" in line]
    assert console == []
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape[0] >= 1000
    assert (pixels < 200).mean() > 0.01  # text, tables and plots, not an empty page
    assert pixels.std() > 10
