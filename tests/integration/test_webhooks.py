"""The CRM webhooks over real HTTP: HubSpot v3 and Standard Webhooks, mapped and stored once."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from leadloop.data.store import FeedbackStore
from leadloop.serve.security import hubspot_signature, standard_signature
from tests.integration.conftest import serving, settings_for

HUBSPOT_SECRET = "hubspot-client-secret"
STANDARD_SECRET = "whsec_" + base64.b64encode(b"standard-webhooks-test-secret-32b").decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"the-secret-before-the-rotation!!").decode()
PUBLIC_URL = "https://leads.example.com/v1/feedback/hubspot"


@pytest.fixture(scope="module")
def webhooks(registered: Path) -> Any:
    """The service with both CRM schemes on, a public URL for HubSpot, and its own store."""
    url = f"sqlite:///{registered / 'webhooks.db'}"
    settings = settings_for(
        registered,
        serve__hubspot__client_secret=HUBSPOT_SECRET,
        serve__hubspot__public_url=PUBLIC_URL,
        serve__standard__secret=STANDARD_SECRET,
        serve__store_url=url,
    )
    with serving(settings) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client, FeedbackStore(url)


def _deal(object_id: int, stage: str, **extra: Any) -> dict[str, Any]:
    return {
        "eventId": 100,  # HubSpot does not promise unique event ids
        "subscriptionId": 7,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": 1764660240000 + object_id,
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": object_id,
        "propertyName": "dealstage",
        "propertyValue": stage,
        "changeSource": "CRM_UI",
        **extra,
    }


def _hubspot(body: bytes, *, secret: str = HUBSPOT_SECRET, ago: float = 0) -> dict[str, str]:
    stamp = str(int((time.time() - ago) * 1000))
    signature = hubspot_signature(secret, method="POST", uri=PUBLIC_URL, body=body, timestamp=stamp)
    return {
        "X-HubSpot-Request-Timestamp": stamp,
        "X-HubSpot-Signature-v3": signature,
        "X-HubSpot-Signature-Version": "v3",
        "content-type": "application/json",
    }


def _standard(
    body: bytes, msg_id: str, *, secrets: tuple[str, ...] = (STANDARD_SECRET,), ago: float = 0
) -> dict[str, str]:
    stamp = str(int(time.time() - ago))
    signatures = [standard_signature(s, msg_id=msg_id, timestamp=stamp, body=body) for s in secrets]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
    }


def _ids(store: FeedbackStore) -> list[str]:
    return list(store.outcomes()["event_id"])


def test_hubspot_deliveries_are_mapped_and_stored_once(webhooks: Any) -> None:
    """It stores won and lost deal stages, ignores other changes, and stores a retry once."""
    client, store = webhooks
    events = [
        _deal(1, "closedwon"),
        _deal(2, "closedlost"),
        _deal(3, "appointmentscheduled"),
        _deal(4, "12000", propertyName="amount"),
    ]
    body = json.dumps(events).encode()
    first = client.post("/v1/feedback/hubspot", content=body, headers=_hubspot(body))
    assert first.status_code == 200, first.text
    answer = first.json()
    won, lost = "62515:1:dealstage:1764660240001", "62515:2:dealstage:1764660240002"
    assert answer == {"stored": [won, lost], "duplicates": [], "rejected": [], "ignored": [2, 3]}
    stored = store.outcomes().set_index("event_id")
    assert stored.loc[won, "outcome"] == "won" and stored.loc[lost, "outcome"] == "lost"
    assert stored.loc[won, "lead_id"] == "1"
    retry = [{**e, "attemptNumber": 1} for e in events]
    again = json.dumps(retry).encode()
    second = client.post("/v1/feedback/hubspot", content=again, headers=_hubspot(again))
    assert second.status_code == 200 and second.json()["duplicates"] == [won, lost]
    assert _ids(store).count(won) == 1


def test_a_hubspot_event_missing_its_record_id_is_rejected_the_rest_kept(webhooks: Any) -> None:
    """It answers 422 naming the missing mapped field and keeps the delivery's valid events."""
    client, store = webhooks
    broken = _deal(6, "closedwon")
    del broken["objectId"]
    body = json.dumps([_deal(5, "closedwon"), broken]).encode()
    answer = client.post("/v1/feedback/hubspot", content=body, headers=_hubspot(body))
    assert answer.status_code == 422
    assert answer.json()["stored"] == ["62515:5:dealstage:1764660240005"]
    assert "lead_id: 'objectId' is missing" in answer.json()["rejected"][0]["errors"]
    assert "62515:5:dealstage:1764660240005" in _ids(store)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"secret": "not-the-client-secret"}, "does not match"),
        ({"ago": 301}, "window"),
        ({"ago": -301}, "window"),
        ({"alter": True}, "does not match"),
        ({"unsigned": True}, "missing"),
    ],
    ids=["forged", "replayed-late", "from-the-future", "altered", "unsigned"],
)
def test_hubspot_forged_and_replayed_deliveries_are_refused(
    webhooks: Any, change: dict[str, Any], reason: str
) -> None:
    """It answers 401 and stores nothing for a forged, stale, altered or unsigned delivery."""
    client, store = webhooks
    body = json.dumps([_deal(900, "closedwon")]).encode()
    headers = _hubspot(body, secret=change.get("secret", HUBSPOT_SECRET), ago=change.get("ago", 0))
    if change.get("unsigned"):
        headers = {"content-type": "application/json"}
    sent = body.replace(b"closedwon", b"closedlost") if change.get("alter") else body
    answer = client.post("/v1/feedback/hubspot", content=sent, headers=headers)
    assert answer.status_code == 401 and reason in answer.json()["detail"]
    assert not any(i.startswith("62515:900:") for i in _ids(store))


def test_hubspot_signature_covers_the_public_url(webhooks: Any) -> None:
    """It refuses a request signed for another URL than serve.hubspot.public_url."""
    client, _ = webhooks
    body = json.dumps([_deal(901, "closedwon")]).encode()
    headers = _hubspot(body)
    headers["X-HubSpot-Signature-v3"] = hubspot_signature(
        HUBSPOT_SECRET,
        method="POST",
        uri="https://evil.example.com/v1/feedback/hubspot",
        body=body,
        timestamp=headers["X-HubSpot-Request-Timestamp"],
    )
    answer = client.post("/v1/feedback/hubspot", content=body, headers=headers)
    assert answer.status_code == 401 and PUBLIC_URL in answer.json()["detail"]


def _standard_event(lead: str, outcome: str) -> dict[str, Any]:
    return {
        "type": "deal.closed",
        "timestamp": "2025-11-02T15:04:00Z",
        "data": {"lead_id": lead, "outcome": outcome, "amount": 250.0},
    }


def test_standard_webhooks_are_stored_once_by_webhook_id_during_rotation(webhooks: Any) -> None:
    """It accepts a delivery signed with old and new secrets and stores a retry once."""
    client, store = webhooks
    body = json.dumps(_standard_event("L0000002", "Closed Won")).encode()
    headers = _standard(
        body, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", secrets=(OLD_SECRET, STANDARD_SECRET)
    )
    first = client.post("/v1/feedback/standard", content=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["stored"] == ["msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"]
    retry = _standard(body, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W")
    again = client.post("/v1/feedback/standard", content=body, headers=retry)
    assert again.status_code == 200 and again.json()["duplicates"] == [
        "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
    ]
    row = store.outcomes().set_index("event_id").loc["msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"]
    assert row["lead_id"] == "L0000002" and row["amount"] == 250.0


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"secrets": (OLD_SECRET,)}, "no v1 entry"),
        ({"ago": 301}, "window"),
        ({"alter": True}, "no v1 entry"),
        ({"other_id": True}, "no v1 entry"),
        ({"unsigned": True}, "missing"),
    ],
    ids=["retired-secret", "replayed-late", "altered", "other-id", "unsigned"],
)
def test_standard_forged_and_replayed_deliveries_are_refused(
    webhooks: Any, change: dict[str, Any], reason: str
) -> None:
    """It answers 401 and stores nothing unless a v1 signature of id.timestamp.body matches."""
    client, store = webhooks
    body = json.dumps(_standard_event("L0000003", "Closed Lost")).encode()
    headers = _standard(
        body,
        "msg_forged",
        secrets=change.get("secrets", (STANDARD_SECRET,)),
        ago=change.get("ago", 0),
    )
    if change.get("unsigned"):
        headers = {"content-type": "application/json"}
    if change.get("other_id"):
        headers["webhook-id"] = "msg_other"
    sent = body.replace(b"Closed Lost", b"Closed Won") if change.get("alter") else body
    answer = client.post("/v1/feedback/standard", content=sent, headers=headers)
    assert answer.status_code == 401 and reason in answer.json()["detail"]
    assert not {"msg_forged", "msg_other"} & set(_ids(store))


def test_a_scheme_without_its_secret_is_off(registered: Path) -> None:
    """It answers 503 naming the variable to set when a scheme's secret is not configured."""
    with serving(settings_for(registered)) as url:
        answer = httpx.post(f"{url}/v1/feedback/hubspot", content=b"[]")
        assert answer.status_code == 503
        assert "LEADLOOP_SERVE__HUBSPOT__CLIENT_SECRET" in answer.json()["detail"]
        answer = httpx.post(f"{url}/v1/feedback/standard", content=b"{}")
        assert "LEADLOOP_SERVE__STANDARD__SECRET" in answer.json()["detail"]


def test_hubspot_without_a_public_url_checks_the_url_it_was_called_at(registered: Path) -> None:
    """It verifies against the request's own URL, query string included, by default."""
    settings = settings_for(
        registered,
        serve__hubspot__client_secret=HUBSPOT_SECRET,
        serve__store_url=f"sqlite:///{registered / 'webhooks-direct.db'}",
    )
    body = json.dumps([_deal(7, "closedwon")]).encode()
    with serving(settings) as base:
        target = f"{base}/v1/feedback/hubspot?portal=62515"
        stamp = str(int(time.time() * 1000))
        signature = hubspot_signature(
            HUBSPOT_SECRET, method="POST", uri=target, body=body, timestamp=stamp
        )
        headers = {"X-HubSpot-Request-Timestamp": stamp, "X-HubSpot-Signature-v3": signature}
        answer = httpx.post(target, content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["stored"] == ["62515:7:dealstage:1764660240007"]
        other = httpx.post(f"{base}/v1/feedback/hubspot", content=body, headers=headers)
        assert other.status_code == 401  # signed for another query string
