"""The scoring service over real HTTP: a uvicorn server on 127.0.0.1, a real registry and store."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from leadloop import pipeline
from leadloop.batch import load_scorer
from leadloop.data.schema import prepare_to_score
from leadloop.data.store import FeedbackStore
from leadloop.serve.schemas import FeedbackResponse, ModelInfo, ScoreResponse
from leadloop.serve.security import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.integration.conftest import serving, settings_for

SECRET = "test-webhook-secret"
KEY_ENV = {"LEADLOOP_SERVE__API_KEY": "k-cli"}
REASON_TEXT = re.compile(r"^[a-z0-9 ]+ = .+: [+-]\d+ points?$")


def _leads(root: Path, n: int) -> list[dict[str, Any]]:
    frame = pd.read_csv(root / "data" / "leads.csv", nrows=n)
    return [{str(k): v for k, v in row.items() if pd.notna(v)} for row in frame.to_dict("records")]


def _signed(body: bytes, *, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    stamp = str(int(time.time() if at is None else at))
    return {
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(secret, stamp, body),
        "content-type": "application/json",
    }


def _event(event_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "lead_id": "L0000001",
        "outcome": "Closed Won",
        "occurred_at": "2025-06-01T10:00:00Z",
        **extra,
    }


@pytest.fixture(scope="module")
def service(registered: Path) -> Any:
    """The service on the registered project, with a webhook secret and small limits."""
    settings = settings_for(
        registered,
        serve__webhook_secret=SECRET,
        serve__max_batch="50",
        serve__max_body_bytes="65536",
        serve__store_url=f"sqlite:///{registered / 'service-feedback.db'}",
    )
    with serving(settings) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


def test_scores_one_lead_with_readable_reasons(service: httpx.Client, registered: Path) -> None:
    """It returns a score record with probability, score, grade, version and worded reasons."""
    response = service.post("/v1/score", json=_leads(registered, 1)[0])
    assert response.status_code == 200, response.text
    body = ScoreResponse.model_validate(response.json())
    record = body.scores[0]
    assert body.model_version == record.model_version == "1"
    assert record.lead_id == "L0000001"
    assert 1 <= record.score <= 99 and record.grade in "ABCD"
    assert abs(record.score - round(record.probability * 100)) <= 1
    assert record.reasons and all(REASON_TEXT.match(r.text) for r in record.reasons)
    signs = [r.points > 0 for r in record.reasons]
    assert signs == sorted(signs, reverse=True), "positive factors first, then negative"


def test_a_strong_lead_outranks_a_weak_one_for_the_planted_reasons(service: httpx.Client) -> None:
    """It scores a referral who asked for a demo above a cold lead, and says why."""
    strong = {"lead_id": "s", "lead_source": "referral", "demo_requested": True, "pages_viewed": 25}
    weak = {"lead_id": "w", "lead_source": "web", "demo_requested": False, "pages_viewed": 0}
    scores = service.post("/v1/score", json=[strong, weak]).json()["scores"]
    assert scores[0]["probability"] > scores[1]["probability"]
    positive = {r["feature"] for r in scores[0]["reasons"] if r["points"] > 0}
    assert {"demo_requested", "lead_source"} & positive
    assert any(r["text"].startswith("demo requested = yes: +") for r in scores[0]["reasons"])


def test_batch_scores_match_the_batch_file_path(service: httpx.Client, registered: Path) -> None:
    """It scores a batch in request order, exactly as batch file scoring scores the same rows."""
    leads = _leads(registered, 30)
    body = ScoreResponse.model_validate(service.post("/v1/score", json=leads).json())
    assert [s.lead_id for s in body.scores] == [lead["lead_id"] for lead in leads]
    settings = settings_for(registered)
    scorer = load_scorer(settings, "1")
    raw = pd.read_csv(registered / "data" / "leads.csv", nrows=30)
    table = scorer.score_table(
        prepare_to_score(raw, settings.leads, source="x"),
        scored_at=pd.Timestamp.now(tz="UTC"),
        source="x",
    )
    np.testing.assert_allclose(
        [s.probability for s in body.scores], table["probability"].to_numpy(), rtol=1e-12
    )
    assert [json.loads(r) for r in table["reasons"].to_pylist()] == [
        [r.model_dump() for r in s.reasons] for s in body.scores
    ]


def test_reasons_can_be_skipped_per_request(service: httpx.Client, registered: Path) -> None:
    """It leaves reasons out with ?reasons=0 and gives the same scores; 21 is refused."""
    lead = _leads(registered, 1)[0]
    full = service.post("/v1/score", json=lead).json()["scores"][0]
    bare = service.post("/v1/score", params={"reasons": 0}, json=lead).json()["scores"][0]
    one = service.post("/v1/score", params={"reasons": 1}, json=lead).json()["scores"][0]
    assert bare["reasons"] == [] and bare["probability"] == full["probability"]
    assert 1 <= len(one["reasons"]) <= 2
    assert service.post("/v1/score", params={"reasons": 21}, json=lead).status_code == 422


def test_missing_fields_and_unknown_categories_are_scored(service: httpx.Client) -> None:
    """It treats absent fields as missing and unseen categories as 'other', as training did:
    two unseen sources score alike, and a reason about one names it as rare or new."""
    leads = [
        {"lead_id": "x", "lead_source": "carrier pigeon"},
        {"lead_id": "y", "lead_source": "smoke signal"},
    ]
    response = service.post("/v1/score", params={"reasons": 20}, json=leads)
    assert response.status_code == 200, response.text
    first, second = response.json()["scores"]
    assert first["probability"] == second["probability"]
    reasons = {r["feature"]: r["value"] for r in first["reasons"]}
    assert "missing" in reasons.values()
    sources = [v for f, v in reasons.items() if f == "lead_source"]
    assert sources in ([], ["carrier pigeon (rare or new)"])


def test_bad_values_are_422_naming_the_lead_and_field(service: httpx.Client) -> None:
    """It answers 422 naming the lead and the field when a number is not a number."""
    good = {"lead_id": "ok", "pages_viewed": 3}
    bad = {"lead_id": "L-9", "pages_viewed": "lots"}
    response = service.post("/v1/score", json=[good, bad])
    assert response.status_code == 422
    assert (
        response.json()["detail"] == "lead 2 (L-9), field 'pages_viewed': expected a number, "
        "found 'lots'"
    )
    empty = service.post("/v1/score", json={"lead_id": "x", "colour": "blue"})
    assert empty.status_code == 422 and "no field the model uses" in empty.json()["detail"]
    wrong_type = service.post("/v1/score", json="not a lead")
    assert wrong_type.status_code == 422


def test_limits_give_413(service: httpx.Client) -> None:
    """It refuses a batch over serve.max_batch and a body over the byte limit, streamed too."""
    many = service.post("/v1/score", json=[{"pages_viewed": 1}] * 51)
    assert many.status_code == 413 and "limit is 50" in many.json()["detail"]
    big = service.post("/v1/score", json={"lead_source": "x" * 70_000})
    assert big.status_code == 413

    def chunks() -> Any:
        yield b'{"lead_source": "'
        for _ in range(10):
            yield b"y" * 10_000
        yield b'"}'

    streamed = service.post(
        "/v1/score", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413


def test_model_card(service: httpx.Client) -> None:
    """It describes the champion: version, training time, features and holdout metrics."""
    info = ModelInfo.model_validate(service.get("/v1/model").json())
    assert info.version == "1" and info.trained_as == "champion"
    assert "lead_source" in info.features
    assert 0.5 < info.holdout_metrics["roc_auc"] < 1
    assert service.get("/healthz").json()["status"] == "ok"


def test_feedback_signed_stored_once_and_replay_acknowledged(
    service: httpx.Client, registered: Path
) -> None:
    """It stores a signed delivery, and a replayed one is acknowledged without storing twice."""
    body = json.dumps([_event("fb-1"), _event("fb-2", outcome="lost", amount=10.5)]).encode()
    headers = _signed(body)
    first = service.post("/v1/feedback", content=body, headers=headers)
    assert first.status_code == 200, first.text
    assert FeedbackResponse.model_validate(first.json()).stored == ["fb-1", "fb-2"]
    again = service.post("/v1/feedback", content=body, headers=headers)
    assert again.status_code == 200
    assert again.json() == {
        "stored": [],
        "duplicates": ["fb-1", "fb-2"],
        "rejected": [],
        "ignored": [],
    }
    stored = FeedbackStore(f"sqlite:///{registered / 'service-feedback.db'}").outcomes()
    assert sorted(stored["event_id"][stored["event_id"].str.startswith("fb-")]) == ["fb-1", "fb-2"]


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing"),
        ({SIGNATURE_HEADER: "0" * 64}, "does not match"),
        ({"secret": "another-secret"}, "does not match"),
        ({"ago": 301}, "window"),
        ({"ago": -600}, "window"),
        ({TIMESTAMP_HEADER: "yesterday"}, "Unix seconds"),
    ],
    ids=["unsigned", "forged", "wrong-secret", "expired", "from-the-future", "bad-timestamp"],
)
def test_feedback_refuses_bad_signatures(
    service: httpx.Client, registered: Path, headers: dict[str, Any], reason: str
) -> None:
    """It answers 401 and stores nothing unless the delivery is signed, with the secret, lately."""
    body = json.dumps(_event("forged-1")).encode()
    if not headers:
        sent = {"content-type": "application/json"}
    elif "secret" in headers or "ago" in headers:
        at = time.time() - headers.get("ago", 0)
        sent = _signed(body, secret=headers.get("secret", SECRET), at=at)
    else:
        sent = {**_signed(body), **headers}
    response = service.post("/v1/feedback", content=body, headers=sent)
    assert response.status_code == 401 and reason in response.json()["detail"]
    stored = FeedbackStore(f"sqlite:///{registered / 'service-feedback.db'}").outcomes()
    assert "forged-1" not in set(stored["event_id"])


def test_feedback_altered_body_is_refused(service: httpx.Client) -> None:
    """It refuses a body changed after signing (the signature covers the raw bytes)."""
    body = json.dumps(_event("alt-1")).encode()
    headers = _signed(body)
    altered = body.replace(b"Closed Won", b"Closed Lost")
    assert service.post("/v1/feedback", content=altered, headers=headers).status_code == 401


def test_feedback_partial_batch_keeps_the_valid_events(service: httpx.Client) -> None:
    """It stores the valid events of a batch and answers 422 listing each invalid one."""
    events = [
        _event("part-1"),
        _event("part-2", outcome="maybe"),
        {"lead_id": "L1"},
        _event("part-3", occurred_at="2099-01-01T00:00:00Z"),
        _event("part-4", amount=-5),
        _event("part-1"),
    ]
    body = json.dumps(events).encode()
    response = service.post("/v1/feedback", content=body, headers=_signed(body))
    assert response.status_code == 422
    answer = FeedbackResponse.model_validate(response.json())
    assert answer.stored == ["part-1"] and answer.duplicates == ["part-1"]
    assert [r.index for r in answer.rejected] == [1, 2, 3, 4]
    assert "neither a won nor a lost" in answer.rejected[0].errors[0]
    assert any("event_id" in e for e in answer.rejected[1].errors)
    assert "future" in answer.rejected[2].errors[0]


def test_feedback_bad_bodies(service: httpx.Client) -> None:
    """It answers 400 to a body that is not JSON and 413 to too many events."""
    body = b"{not json"
    assert service.post("/v1/feedback", content=body, headers=_signed(body)).status_code == 400
    many = json.dumps([_event(f"m-{i}") for i in range(51)]).encode()
    assert service.post("/v1/feedback", content=many, headers=_signed(many)).status_code == 413


def test_concurrent_retried_deliveries_store_each_event_once(registered: Path) -> None:
    """It stores every event exactly once while senders deliver and retry in parallel."""
    url = f"sqlite:///{registered / 'concurrent.db'}"
    settings = settings_for(registered, serve__webhook_secret=SECRET, serve__store_url=url)
    batches = [[_event(f"c-{b}-{i}") for i in range(20)] for b in range(12)]
    acknowledged: list[str] = []
    lock = threading.Lock()
    with serving(settings) as base:

        def sender(which: list[int]) -> None:
            with httpx.Client(base_url=base, timeout=30) as client:
                for b in which:
                    body = json.dumps(batches[b]).encode()
                    answer = client.post("/v1/feedback", content=body, headers=_signed(body))
                    assert answer.status_code == 200
                    with lock:
                        acknowledged.extend(answer.json()["stored"])

        # Every batch is sent by two senders: one of them stores it, the other is a duplicate.
        threads = [
            threading.Thread(target=sender, args=(list(range(12)),)),
            threading.Thread(target=sender, args=(list(reversed(range(12))),)),
            threading.Thread(target=sender, args=([0, 5, 11],)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(acknowledged) == sorted(e["event_id"] for b in batches for e in b)
    assert FeedbackStore(url).count() == 240


def test_feedback_is_off_without_a_secret(registered: Path) -> None:
    """It answers 503 to feedback when no webhook secret is configured."""
    with serving(settings_for(registered)) as url:
        body = json.dumps(_event("x")).encode()
        answer = httpx.post(f"{url}/v1/feedback", content=body, headers=_signed(body))
        assert answer.status_code == 503 and "webhook_secret" in answer.json()["detail"]


def test_without_a_champion_it_says_so(tmp_path: Path) -> None:
    """It starts with an empty registry and answers 503 with what to do."""
    with serving(settings_for(tmp_path)) as url:
        assert httpx.get(f"{url}/healthz").status_code == 503
        answer = httpx.post(f"{url}/v1/score", json={"pages_viewed": 1})
        assert answer.status_code == 503 and "leadloop run" in answer.json()["detail"]


def test_metrics_count_requests_scores_and_feedback(service: httpx.Client) -> None:
    """It exposes Prometheus counters for requests, latencies, scores served and feedback."""
    service.post("/v1/score", json={"pages_viewed": 2})
    body = json.dumps([_event("metrics-1")]).encode()
    assert service.post("/v1/feedback", content=body, headers=_signed(body)).status_code == 200
    text = service.get("/metrics").text
    assert re.search(r'leadloop_http_requests_total\{.*route="/v1/score".*\} \d', text)
    assert "leadloop_http_request_duration_seconds_bucket" in text
    assert re.search(r'leadloop_scores_total\{model_version="1"\} [1-9]', text)
    assert 'leadloop_feedback_events_total{result="stored"}' in text


def test_openapi_documents_every_endpoint(service: httpx.Client) -> None:
    """It publishes request and response models, headers and examples for each endpoint."""
    spec = service.get("/openapi.json").json()
    paths = spec["paths"]
    assert {"/v1/score", "/v1/feedback", "/v1/model", "/healthz", "/metrics"} <= set(paths)
    score = paths["/v1/score"]["post"]
    assert score["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "ScoreResponse"
    )
    assert {"401", "413", "422", "503"} <= set(score["responses"])
    assert score["requestBody"]["content"]["application/json"]["examples"]
    feedback = paths["/v1/feedback"]["post"]
    assert {p["name"] for p in feedback["parameters"]} == {TIMESTAMP_HEADER, SIGNATURE_HEADER}
    body_schema = feedback["requestBody"]["content"]["application/json"]["schema"]
    assert body_schema["oneOf"][0]["required"] == ["event_id", "lead_id", "outcome", "occurred_at"]
    schemas = spec["components"]["schemas"]
    assert {"Lead", "ScoreRecord", "Reason", "FeedbackResponse", "ModelInfo"} <= set(schemas)
    assert schemas["ScoreRecord"]["properties"]["grade"]["enum"] == ["A", "B", "C", "D"]


def test_new_champion_is_picked_up_during_traffic(registered: Path) -> None:
    """It swaps to a newly promoted champion without a restart and fails no request meanwhile;
    once a client has been answered by the new champion, none of its later requests is answered
    by the old one (requests of other clients already in flight at the swap may still be)."""
    settings = settings_for(registered, serve__reload_seconds="0.2")
    statuses: list[int] = []
    seen: list[list[str]] = [[] for _ in range(3)]  # the versions each client was answered by
    stop = threading.Event()
    with serving(settings) as url:

        def traffic(versions: list[str]) -> None:
            with httpx.Client(base_url=url, timeout=30) as client:
                while not stop.is_set():
                    answer = client.post("/v1/score", json=[{"pages_viewed": 4}] * 5)
                    statuses.append(answer.status_code)
                    if answer.status_code == 200:
                        versions.append(answer.json()["model_version"])

        senders = [threading.Thread(target=traffic, args=(own,)) for own in seen]
        for sender in senders:
            sender.start()
        try:
            time.sleep(0.5)
            pipeline.promote(settings, "2", reason="hot-swap test", by="tests")
            deadline = time.monotonic() + 30
            while any(not v or v[-1] != "2" for v in seen) and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.3)
        finally:
            stop.set()
            for sender in senders:
                sender.join()
            pipeline.rollback(settings, reason="restore for other tests")
    assert set(statuses) == {200}
    for versions in seen:
        assert versions[0] == "1" and versions[-1] == "2"
        assert "1" not in versions[versions.index("2") :], "a client went back to the old model"


def test_the_serve_command_with_two_workers(registered: Path) -> None:
    """It serves from `leadloop serve --workers 2`, and /metrics counts what both workers did."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADLOOP_")}
    command = [sys.executable, "-m", "leadloop", "serve", "--port", str(port), "--workers", "2"]
    command.append("--no-auth")
    server = subprocess.Popen(command, cwd=registered, env=env, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        for _ in range(40):  # a new connection each time, so both workers get some
            assert httpx.post(f"{url}/v1/score", json={"pages_viewed": 1}).status_code == 200
        text = httpx.get(f"{url}/metrics").text
        assert re.search(r'leadloop_scores_total\{model_version="1"\} 40\.0', text), text[:2000]
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)
    assert b"serving WITHOUT authentication (--no-auth)" in errors


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nonsense", "is not a database URL"),
        ("postgresql+psycopg://nobody@127.0.0.1:1/x", "feedback store postgresql"),
    ],
)
def test_serve_refuses_an_unusable_store_in_one_line(
    registered: Path, url: str, message: str
) -> None:
    """It exits 2 with one line naming the store when the store URL cannot be used."""
    from tests.forked import fork_cli

    done = fork_cli(
        "serve", "--port", "0", cwd=registered, env={"LEADLOOP_SERVE__STORE_URL": url, **KEY_ENV}
    )
    assert done.returncode == 2 and message in done.stderr
    assert "Traceback" not in done.stderr


def test_scores_carry_the_policy_and_are_logged_once_per_batch(
    registered: Path, tmp_path: Path
) -> None:
    """It gives each lead of a request its priority, exploration flag and propensity under
    policy.capacity, logs every score, and logs a retried batch once with the same draw."""
    from leadloop.data.score_log import read_score_log

    store_url = f"sqlite:///{tmp_path / 'feedback.db'}"
    settings = settings_for(
        registered, policy__capacity="5", policy__seed="1", serve__store_url=store_url
    )
    leads = _leads(registered, 40)
    with serving(settings) as url, httpx.Client(base_url=url, timeout=30) as client:
        first = client.post("/v1/score?batch=b1&reasons=0", json=leads)
        again = client.post("/v1/score?batch=b1&reasons=0", json=leads)
        other = client.post("/v1/score?reasons=0", json=leads[:3])
    assert first.status_code == again.status_code == other.status_code == 200, first.text
    scores = ScoreResponse.model_validate(first.json()).scores
    assert sorted(s.priority or 0 for s in scores) == list(range(1, 41))
    assert all(s.propensity is not None and 0 < s.propensity <= 1 for s in scores)
    assert [s["priority"] for s in again.json()["scores"]] == [s.priority for s in scores]
    store = FeedbackStore(store_url)
    log = read_score_log(store)
    store.dispose()
    assert len(log[log["batch_id"] == "b1"]) == 40 and len(log) == 43
    assert log["propensity"].notna().all()
