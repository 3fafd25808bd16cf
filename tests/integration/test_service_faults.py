"""The service killed with SIGKILL in the middle of a signed webhook load, on loopback.

Every event that got a 2xx must be in the store, none twice, and a batch lands whole or not at
all; a CRM that then retries everything it was not sure of ends with each event stored once.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from leadloop.serve.security import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.integration.conftest import serving, settings_for

SECRET = "fault-test-secret"
BATCH = 10
SENDERS = 3
LOAD_SECONDS = 1.5  # of load before the kill; each sender stops at its first failed request
MAX_BATCHES = 400  # per sender: the load is bounded whatever the machine's speed


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(root: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADLOOP_")}
    env |= {
        "LEADLOOP_SERVE__API_KEY": "fault-key",
        "LEADLOOP_SERVE__WEBHOOK_SECRET": SECRET,
        "LEADLOOP_SERVE__STORE_URL": f"sqlite:///{root / 'feedback.db'}",
    }
    command = [sys.executable, "-m", "leadloop", "serve", "--port", str(port)]
    server = subprocess.Popen(
        command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 90
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)  # 503 (no model) is up
            return server
        except httpx.TransportError:
            assert server.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)


def _batch(sender: int, number: int) -> bytes:
    events = [
        {
            "event_id": f"s{sender}-b{number}-e{i}",
            "lead_id": f"L{sender}{number:04d}{i}",
            "outcome": "won" if i % 2 else "lost",
            "occurred_at": "2025-06-01T10:00:00Z",
        }
        for i in range(BATCH)
    ]
    return json.dumps(events).encode()


def _post(client: httpx.Client, body: bytes) -> httpx.Response:
    stamp = str(int(time.time()))
    headers = {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(SECRET, stamp, body)}
    return client.post("/v1/feedback", content=body, headers=headers)


class Sender(threading.Thread):
    """Posts fresh batches, and every fifth time re-sends an acknowledged one, until a failure."""

    def __init__(self, number: int, base: str) -> None:
        super().__init__(daemon=True)
        self.number, self.base = number, base
        self.sent: list[bytes] = []
        self.acknowledged: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=10) as client:
            for n in range(MAX_BATCHES):
                body = self.sent[n // 2] if n % 5 == 4 else _batch(self.number, n)
                if body not in self.sent:
                    self.sent.append(body)
                try:
                    answer = _post(client, body)
                except httpx.TransportError:
                    return  # the server is gone: whatever was not acknowledged is unknown
                if answer.status_code // 100 != 2:
                    return
                result = answer.json()
                self.acknowledged += result["stored"] + result["duplicates"]


def _stored(root: Path) -> list[str]:
    engine = sa.create_engine(f"sqlite:///{root / 'feedback.db'}")
    with engine.connect() as conn:
        ids = [row[0] for row in conn.execute(sa.text("select event_id from feedback_events"))]
    engine.dispose()
    return ids


def test_a_killed_service_loses_no_acknowledged_event(tmp_path: Path) -> None:
    """It keeps every 2xx-acknowledged event through SIGKILL, none twice, batches whole."""
    port = _free_port()
    server = _start(tmp_path, port)
    senders = [Sender(i, f"http://127.0.0.1:{port}") for i in range(SENDERS)]
    for sender in senders:
        sender.start()
    time.sleep(LOAD_SECONDS)
    os.kill(server.pid, signal.SIGKILL)
    server.wait(timeout=30)
    for sender in senders:
        sender.join(timeout=30)
    acknowledged = {e for s in senders for e in s.acknowledged}
    stored = _stored(tmp_path)
    assert len(acknowledged) >= BATCH * SENDERS, "the load did not run before the kill"
    assert len(stored) == len(set(stored)), "an event was stored twice"
    assert acknowledged <= set(stored), sorted(acknowledged - set(stored))[:5]
    for body in (b for s in senders for b in s.sent):
        ids = {e["event_id"] for e in json.loads(body)}
        assert ids <= set(stored) or not ids & set(stored), "a batch landed in part"

    # Back up (in this process, to keep the test short), the CRM retries every delivery it sent.
    settings = settings_for(
        tmp_path,
        serve__webhook_secret=SECRET,
        serve__store_url=f"sqlite:///{tmp_path / 'feedback.db'}",
    )
    with serving(settings) as base, httpx.Client(base_url=base, timeout=30) as client:
        for body in (b for s in senders for b in s.sent):
            assert _post(client, body).status_code == 200
    everything = {e["event_id"] for s in senders for b in s.sent for e in json.loads(b)}
    after = _stored(tmp_path)
    assert len(after) == len(set(after)) and set(after) == everything
