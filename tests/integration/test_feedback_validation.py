"""Every feedback event validated at the webhook, over real HTTP, on SQLite and PostgreSQL.

What a sender controls (values, repeated ids, the body's bytes, the headers) gets a 2xx or a
4xx, never a 5xx; valid events of a delivery are kept whatever is wrong with the others.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from leadloop.data.store import FeedbackStore
from leadloop.serve.security import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    standard_signature,
)
from tests.integration.conftest import serving, settings_for, store_database

SECRET = "validation-webhook-secret"
STANDARD_SECRET = "whsec_dmFsaWRhdGlvbi1zdGFuZGFyZC13ZWJob29rLXNlY3JldA=="


def _event(event_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "lead_id": "L0000001",
        "outcome": "Closed Won",
        "occurred_at": "2025-06-01T10:00:00Z",
        **extra,
    }


def _signed(body: bytes, *, stamp: str | None = None) -> dict[str, str]:
    stamp = stamp or str(int(time.time()))
    return {
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(SECRET, stamp, body),
        "content-type": "application/json",
    }


class Webhook:
    """A served webhook and its store."""

    def __init__(self, client: httpx.Client, store: FeedbackStore) -> None:
        self.client, self.store = client, store

    def post(self, body: bytes, path: str = "/v1/feedback") -> httpx.Response:
        return self.client.post(path, content=body, headers=_signed(body))

    def ids(self) -> set[str]:
        return {row["event_id"] for row in self.store.rows()}


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def webhook(request: pytest.FixtureRequest, registered: Path) -> Iterator[Webhook]:
    """The service with a store in a SQLite file, or in a PostgreSQL database of its own."""
    with ExitStack() as stack:
        url = stack.enter_context(store_database(request.param, registered, "validation"))
        settings = settings_for(
            registered,
            serve__webhook_secret=SECRET,
            serve__standard__secret=STANDARD_SECRET,
            serve__store_url=url,
        )
        base = stack.enter_context(serving(settings))
        client = stack.enter_context(httpx.Client(base_url=base, timeout=30))
        store = FeedbackStore(url)
        stack.callback(store.dispose)
        yield Webhook(client, store)


BAD_EVENTS: list[tuple[str, str, str]] = [
    # (raw JSON of the event, the field named, a phrase of the error)
    ('{"event_id": "v-inf", "amount": Infinity}', "amount", "finite"),
    ('{"event_id": "v-nan", "amount": NaN}', "amount", "finite"),
    ('{"event_id": "v-1e999", "amount": 1e999}', "amount", "finite"),
    ('{"event_id": "v-huge", "amount": 1' + "0" * 30 + "}", "amount", "2**53"),
    ('{"event_id": "v-year1", "occurred_at": "0001-01-01T00:00:00Z"}', "occurred_at", "1973"),
    ('{"event_id": "v-zone", "occurred_at": "0001-01-01T00:00:00+01:00"}', "occurred_at", "1973"),
    ('{"event_id": "v-epoch0", "occurred_at": "1970-01-01T00:00:00Z"}', "occurred_at", "1973"),
    ('{"event_id": "v-9999", "occurred_at": "9999-12-31T23:59:59Z"}', "occurred_at", "future"),
    ('{"event_id": "v-nul\\u0000"}', "event_id", "control character (U+0000)"),
    ('{"event_id": "v-surrogate\\ud800"}', "event_id", "valid string"),
    ('{"event_id": "v-newline", "lead_id": "L1\\nL2"}', "lead_id", "control character"),
    ('{"event_id": "v-outcome", "outcome": "Closed Won\\u0000"}', "outcome", "control"),
]


def _with_defaults(raw: str) -> str:
    """The event's own fields over a valid event's (as JSON text, so NaN stays a literal)."""
    defaults = json.dumps(_event("unused"))[1:-1]
    return "{" + defaults + ", " + raw[1:]


@pytest.mark.parametrize(
    ("raw", "field", "phrase"), BAD_EVENTS, ids=[b[0][14:26] for b in BAD_EVENTS]
)
def test_an_invalid_value_is_refused_naming_the_field_and_the_rest_kept(
    webhook: Webhook, raw: str, field: str, phrase: str
) -> None:
    """It answers 422 naming the field at fault, stores the delivery's valid event, not this one."""
    tag = f"{field}-{abs(hash(raw)) % 10**8}"
    body = ("[" + json.dumps(_event(f"ok-{tag}")) + ", " + _with_defaults(raw) + "]").encode()
    answer = webhook.post(body)
    assert answer.status_code == 422, answer.text
    result = answer.json()
    assert result["stored"] == [f"ok-{tag}"]
    [rejected] = result["rejected"]
    assert rejected["index"] == 1 and not rejected["conflict"]
    assert any(e.startswith(field) and phrase in e for e in rejected["errors"]), rejected
    stored = webhook.ids()
    assert f"ok-{tag}" in stored
    assert not any(i.startswith("v-") for i in stored)


def test_a_rejected_id_is_echoed_printable(webhook: Webhook) -> None:
    """It echoes a refused id with its NUL or lone surrogate escaped, in valid UTF-8 JSON."""
    body = b'[{"event_id": "echo\\u0000nul", "lead_id": "L1", "outcome": "won", "occurred_at": 1}]'
    answer = webhook.post(body)
    assert answer.status_code == 422
    assert answer.json()["rejected"][0]["event_id"] == "echo\\x00nul"
    body = b'{"event_id": "echo\\udc00", "lead_id": "L1\\ud800", "outcome": "won"}'
    answer = webhook.post(body)
    assert answer.status_code == 422
    assert answer.json()["rejected"][0]["event_id"] == "echo\\udc00"


def test_a_repeated_id_with_other_content_is_a_conflict_never_stored(webhook: Webhook) -> None:
    """It stores an id's first content, reports other content under it as a conflict (in one
    batch or later) and acknowledges the exact same event again as a duplicate."""
    won, lost = _event("cf-1"), _event("cf-1", outcome="Closed Lost")
    body = json.dumps([won, lost]).encode()
    answer = webhook.post(body)
    assert answer.status_code == 422
    result = answer.json()
    assert result["stored"] == ["cf-1"] and result["duplicates"] == []
    assert result["rejected"] == [
        {
            "index": 1,
            "event_id": "cf-1",
            "errors": [
                "event_id: stored before with another outcome; the stored event stays as it "
                "was: send a correction as an event of its own id"
            ],
            "conflict": True,
        }
    ]
    later = json.dumps(_event("cf-1", amount=100.0, occurred_at="2025-06-02T10:00:00Z")).encode()
    answer = webhook.post(later)
    assert answer.status_code == 422
    assert answer.json()["stored"] == [] and answer.json()["duplicates"] == []
    assert "occurred_at and amount" in answer.json()["rejected"][0]["errors"][0]
    same = json.dumps(_event("cf-1", occurred_at="2025-06-01T12:00:00+02:00")).encode()
    answer = webhook.post(same)  # the same instant written in another zone: the same event
    assert answer.status_code == 200 and answer.json()["duplicates"] == ["cf-1"]
    [row] = [r for r in webhook.store.rows() if r["event_id"] == "cf-1"]
    assert row["outcome"] == "Closed Won" and row["amount"] is None


HOSTILE_BODIES = {
    "nested-100k": b"[" * 100_000 + b"]" * 100_000,
    "nested-900": b'{"a":' * 900 + b"1" + b"}" * 900,
    "nested-in-a-field": json.dumps(_event("deep"))[:-1].encode()
    + b', "amount": '
    + b"[" * 50
    + b"]" * 50
    + b"}",
    "5000-digit-number": b'[{"event_id": "big", "amount": ' + b"9" * 5000 + b"}]",
    "5000-digit-negative": b'{"event_id": "big", "occurred_at": -' + b"9" * 5000 + b"}",
    "invalid-utf8": b'{"event_id": "caf\xe9"}',
    "utf8-encoded-surrogate": json.dumps(_event("sur-X")).encode().replace(b"X", b"\xed\xa0\x80"),
    "nul-bytes": b'{"event_id": "a\x00b"}',
    "a-bare-string": b'"hello"',
    "empty": b"",
}


@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
def test_a_hostile_body_is_a_4xx_never_a_5xx(webhook: Webhook, name: str) -> None:
    """It answers 400 or 422 to bodies a sender controls, and stores nothing of them."""
    before = webhook.ids()
    answer = webhook.post(HOSTILE_BODIES[name])
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:300])
    assert answer.json()["detail"] if answer.status_code == 400 else answer.json()["rejected"]
    assert webhook.ids() == before


def test_a_crm_scheme_refuses_hostile_bodies_too(webhook: Webhook) -> None:
    """It answers 400 on the Standard Webhooks route to too deep and too long JSON."""
    for body in (HOSTILE_BODIES["nested-100k"], HOSTILE_BODIES["5000-digit-number"]):
        stamp = str(int(time.time()))
        headers = {
            "webhook-id": "msg-hostile",
            "webhook-timestamp": stamp,
            "webhook-signature": standard_signature(
                STANDARD_SECRET, msg_id="msg-hostile", timestamp=stamp, body=body
            ),
        }
        answer = webhook.client.post("/v1/feedback/standard", content=body, headers=headers)
        assert answer.status_code == 400, answer.text[:300]


@pytest.mark.parametrize("stamp", ["9" * 400, "9" * 5000, "1e9", "-" + "9" * 30, "0x10"])
def test_an_absurd_signature_timestamp_is_401(webhook: Webhook, stamp: str) -> None:
    """It answers 401 to a timestamp header no clock could send (not a 500)."""
    body = json.dumps(_event("stamp")).encode()
    answer = webhook.client.post("/v1/feedback", content=body, headers=_signed(body, stamp=stamp))
    assert answer.status_code == 401, answer.text[:300]
