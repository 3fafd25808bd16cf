"""The API docs page in a real headless Chromium with the network off: it renders from the
service's own packaged assets."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.integration.conftest import serving, settings_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (Debian package 'chromium'; .ci/run installs it)",
)
# Every host name but the loopback address fails to resolve: the network is off for the page.
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


def _chromium(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-proxy-server",
            OFFLINE,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1200,1600",
            "--virtual-time-budget=15000",
            "--enable-logging=stderr",
            "--v=0",
            *arguments,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_docs_render_offline_in_chromium(registered: Path, tmp_path: Path) -> None:
    """It renders Swagger UI with every route and the typed Lead, with no network errors."""
    settings = settings_for(registered, serve__api_key="docs-key")
    shot = tmp_path / "docs.png"
    with serving(settings) as url:
        dom = _chromium(tmp_path, "--dump-dom", f"{url}/docs")
        picture = _chromium(tmp_path, f"--screenshot={shot}", f"{url}/docs")
    assert dom.returncode == 0 and picture.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    for path in ("/v1/score", "/v1/feedback/hubspot", "/v1/feedback/standard", "/v1/model"):
        assert path in html, path
    assert "swagger-ui" in html and "btn authorize" in html  # the bearer scheme's button
    assert "Failed to load API definition" not in html
    errors = [line for line in dom.stderr.splitlines() if "net::ERR" in line or "CONSOLE" in line]
    assert errors == []
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert (pixels < 200).mean() > 0.01 and pixels.std() > 10  # text and colours, not blank
