"""Credentials in store and registry URLs never reach a log line or a message of the service."""

from __future__ import annotations

import json
import logging
import socket
import time
from pathlib import Path

import httpx
import pytest

from leadloop.data.store import redact, safe_url
from leadloop.serve.security import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.forked import fork_cli
from tests.integration.conftest import serving, settings_for

PASSWORD = "hunter2-Sup3rSecret"
SECRET = "secrets-webhook-secret"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://bob:{PASSWORD}@127.0.0.1:1/feedback",
        f"postgresql+psycopg://bob:{PASSWORD}@127.0.0.1:notaport/feedback",
        f"nosuchdriver://bob:{PASSWORD}@127.0.0.1/feedback",
        f"postgresql+psycopg://bob:{PASSWORD}@127.0.0.1:5432/x?sslmode=bogus",
        f"bob:{PASSWORD}@127.0.0.1/feedback",
    ],
    ids=["unreachable", "bad-port", "no-driver", "bad-option", "no-scheme"],
)
def test_serve_names_an_unusable_store_without_its_password(tmp_path: Path, url: str) -> None:
    """It exits 2 with one line naming the store, its password masked."""
    done = fork_cli(
        "serve",
        "--port",
        "0",
        cwd=tmp_path,
        env={"LEADLOOP_SERVE__STORE_URL": url, "LEADLOOP_SERVE__API_KEY": "k"},
    )
    assert done.returncode == 2, done.stderr
    assert PASSWORD not in done.stderr + done.stdout
    assert "***@" in done.stderr and "Traceback" not in done.stderr


def test_a_running_service_never_logs_or_answers_a_password(
    registered: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """It serves the webhook while its registry (a URL with a password) is unreachable, and no
    log line, health answer or error holds the password."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # nothing listens there once the probe is closed
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    settings = settings_for(
        registered,
        tracking__uri=f"http://bob:{PASSWORD}@127.0.0.1:{closed}",
        serve__webhook_secret=SECRET,
        serve__store_url=f"sqlite:///{registered / 'secrets.db'}",
        serve__reload_seconds="0.2",
    )
    caplog.set_level(logging.DEBUG)
    with serving(settings) as url, httpx.Client(base_url=url, timeout=30) as client:
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["status"] == "no_model"
        assert client.post("/v1/score", json={"pages_viewed": 1}).status_code == 503
        body = json.dumps(
            {"event_id": "s-1", "lead_id": "L1", "outcome": "won", "occurred_at": "2025-06-01"}
        ).encode()
        stamp = str(int(time.time()))
        headers = {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(SECRET, stamp, body)}
        stored = client.post("/v1/feedback", content=body, headers=headers)
        assert stored.status_code == 200 and stored.json()["stored"] == ["s-1"]
        time.sleep(1)  # a few more refreshes of the champion
        answers = health.text + stored.text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged and PASSWORD not in logged and PASSWORD not in answers


def test_redact_masks_the_password_of_every_url_in_a_text() -> None:
    """It masks each URL's password, one holding '@' too, and leaves other text alone."""
    text = (
        "store 'postgresql+psycopg://bob:p@ss@db:5432/x' and https://u:t0k@mlflow.example.com/ "
        "at http://127.0.0.1:8000/v1/feedback"
    )
    assert redact(text) == (
        "store 'postgresql+psycopg://bob:***@db:5432/x' and https://u:***@mlflow.example.com/ "
        "at http://127.0.0.1:8000/v1/feedback"
    )
    assert safe_url(f"postgresql://bob:{PASSWORD}@h:bad/x") == "postgresql://bob:***@h:bad/x"
    assert safe_url(f"bob:{PASSWORD}@h/x") == "***@h/x"
