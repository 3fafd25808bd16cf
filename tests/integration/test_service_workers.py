"""`leadloop serve --workers N` as an operator starts it: from a script, with --config."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

# What the `leadloop` console script is: a main script that imports the CLI. A worker that
# re-ran it before answering uvicorn's health check would wait here longer than the check's
# 5 s window (as importing the CLI's stack does on a busy machine) and be killed.
SLOW_SCRIPT = """
import time
if __name__ == "__mp_main__":
    time.sleep(8)
from leadloop.cli import main
if __name__ == "__main__":
    main()
"""


def _children(pid: int) -> set[int]:
    """Every process below ``pid`` (its children, theirs...)."""
    found: set[int] = set()
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            text = (task / "children").read_text() if (task / "children").exists() else ""
            kids = {int(k) for k in text.split()}
            frontier += list(kids - found)
            found |= kids
    return found


def test_workers_start_from_a_script_with_a_config_file_elsewhere(
    registered: Path, tmp_path: Path
) -> None:
    """It serves with two workers started from a script, each reading --config (not as a
    setting), and keeps the same workers: none is killed and respawned."""
    config = tmp_path / "conf" / "service.yaml"
    config.parent.mkdir()
    settings = {
        "tracking": {"uri": f"sqlite:///{registered / '.leadloop' / 'mlflow.db'}"},
        "serve": {"docs": False, "store_url": f"sqlite:///{tmp_path / 'feedback.db'}"},
    }
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    script = tmp_path / "leadloop-script"
    script.write_text(SLOW_SCRIPT, encoding="utf-8")
    elsewhere = tmp_path / "cwd"  # no leadloop.yaml, no registry: only --config can point there
    elsewhere.mkdir()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADLOOP_")}
    command = [sys.executable, str(script), "serve", "--workers", "2", "--port", str(port)]
    command += ["--config", str(config), "--no-auth"]
    server = subprocess.Popen(
        command, cwd=elsewhere, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                health = httpx.get(f"{url}/healthz", timeout=5)
                if health.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "no worker became healthy"
            time.sleep(0.3)
        assert health.json()["model_version"] == "1"
        time.sleep(3)  # both workers up (the second may load its champion a little later)
        workers = _children(server.pid)
        for _ in range(20):  # new connections, spread over the workers
            assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
            assert httpx.get(f"{url}/docs", timeout=10).status_code == 404  # docs: false
        time.sleep(6)  # more than uvicorn's health-check window
        assert _children(server.pid) == workers, "a worker was killed and respawned"
    finally:
        server.terminate()
        out, errors = server.communicate(timeout=30)
    assert b"leadloop serving on" in out
    assert b"unknown key" not in errors and b"Traceback" not in errors, errors[-2000:]
