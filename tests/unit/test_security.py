"""Webhook signatures (leadloop, HubSpot v3, Standard Webhooks) and API keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from leadloop.config import load_settings
from leadloop.errors import ConfigError
from leadloop.serve.app import require_auth
from leadloop.serve.security import (
    SignatureError,
    bearer_matches,
    hubspot_signature,
    sign,
    standard_signature,
    verify_hubspot,
    verify_signature,
    verify_standard,
)

BODY = b'{"event_id": "e1"}'


def _verify(timestamp: str | None, signature: str | None, *, now: float = 1_000_000) -> None:
    verify_signature(
        secret="s", timestamp=timestamp, signature=signature, body=BODY, window_seconds=300, now=now
    )


def test_accepts_a_fresh_signature_with_or_without_prefix() -> None:
    """It accepts the hex HMAC of timestamp.body, bare or as sha256=<hex>."""
    signature = sign("s", "1000000", BODY)
    _verify("1000000", signature)
    _verify("1000000", f"sha256={signature}", now=1_000_299)


@pytest.mark.parametrize(
    ("timestamp", "signature", "message"),
    [
        (None, "x", "missing"),
        ("1000000", None, "missing"),
        ("soon", "x", "Unix seconds"),
        ("999699", "", "missing"),
        ("999699", sign("s", "999699", BODY), "window"),
        ("1000301", sign("s", "1000301", BODY), "window"),
        ("1000000", sign("other", "1000000", BODY), "does not match"),
        ("1000000", sign("s", "1000001", BODY), "does not match"),
    ],
)
def test_refuses_what_is_not_signed_recently_with_the_secret(
    timestamp: str | None, signature: str | None, message: str
) -> None:
    """It refuses missing, malformed, stale, future and forged signatures, saying which."""
    with pytest.raises(SignatureError, match=message):
        _verify(timestamp, signature)


def test_bearer_key() -> None:
    """It matches only `Bearer <key>` with the exact key."""
    assert bearer_matches("Bearer k1", "k1") and bearer_matches("bearer k1", "k1")
    assert not bearer_matches("Bearer k2", "k1")
    assert not bearer_matches("k1", "k1") and not bearer_matches(None, "k1")


# HubSpot's own Python client (hubspot-api-python, tests/spec/utils/test_signature.py) publishes
# this v3 example: client secret, POST, URI, body and timestamp, and the signature it expects.
HUBSPOT_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
HUBSPOT_URI = "https://www.example.com/webhook_uri"
HUBSPOT_BODY = b"{'example_field':'example_value'}"
HUBSPOT_TIMESTAMP = "15000000"
HUBSPOT_EXPECTED = "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="
# The Standard Webhooks reference libraries (standard-webhooks, libraries/python/tests) publish
# this example: secret, message id, timestamp, payload and the signature entry they expect.
STANDARD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
STANDARD_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
STANDARD_TIMESTAMP = "1614265330"
STANDARD_BODY = b'{"test": 2432232314}'
STANDARD_EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
STANDARD_FORGED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="  # the libraries' bad example


def _hubspot(**changes: Any) -> None:
    arguments: dict[str, Any] = {
        "secret": HUBSPOT_SECRET,
        "method": "POST",
        "uri": HUBSPOT_URI,
        "body": HUBSPOT_BODY,
        "timestamp": HUBSPOT_TIMESTAMP,
        "signature": HUBSPOT_EXPECTED,
        "window_seconds": 300,
        "now": int(HUBSPOT_TIMESTAMP) / 1000,
    }
    verify_hubspot(**{**arguments, **changes})


def _standard(**changes: Any) -> None:
    arguments: dict[str, Any] = {
        "secret": STANDARD_SECRET,
        "msg_id": STANDARD_ID,
        "timestamp": STANDARD_TIMESTAMP,
        "signature": STANDARD_EXPECTED,
        "body": STANDARD_BODY,
        "window_seconds": 300,
        "now": int(STANDARD_TIMESTAMP),
    }
    verify_standard(**{**arguments, **changes})


def test_hubspot_v3_matches_hubspots_published_example() -> None:
    """It computes and accepts HubSpot's published v3 signature for its example request."""
    signature = hubspot_signature(
        HUBSPOT_SECRET, method="POST", uri=HUBSPOT_URI, body=HUBSPOT_BODY, timestamp="15000000"
    )
    assert signature == HUBSPOT_EXPECTED
    _hubspot()
    _hubspot(method="post", now=int(HUBSPOT_TIMESTAMP) / 1000 + 299)


def test_hubspot_v3_decodes_the_listed_escapes_of_the_uri() -> None:
    """It signs a URI with %3A, %2F, %3F... decoded, as HubSpot does, and leaves others alone."""
    escaped = "https://www.example.com/webhook_uri%3Fa%3Db%2C%28c%29%40d%20e"
    plain = "https://www.example.com/webhook_uri?a%3Db,(c)@d%20e"

    def signed(uri: str) -> str:
        return hubspot_signature(
            HUBSPOT_SECRET, method="POST", uri=uri, body=HUBSPOT_BODY, timestamp=HUBSPOT_TIMESTAMP
        )

    assert signed(escaped) == signed(plain)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"signature": None}, "missing"),
        ({"timestamp": "soon"}, "Unix milliseconds"),
        ({"now": int(HUBSPOT_TIMESTAMP) / 1000 + 301}, "window"),
        ({"now": int(HUBSPOT_TIMESTAMP) / 1000 - 301}, "window"),
        ({"secret": "another-secret"}, "does not match"),
        ({"body": HUBSPOT_BODY + b" "}, "does not match"),
        ({"uri": HUBSPOT_URI + "?x=1"}, "does not match"),
        ({"method": "GET"}, "does not match"),
        ({"signature": HUBSPOT_EXPECTED.lower()}, "does not match"),
    ],
    ids=[
        "unsigned",
        "bad-timestamp",
        "replayed",
        "future",
        "forged",
        "body",
        "uri",
        "method",
        "case",
    ],
)
def test_hubspot_v3_refuses_forged_and_replayed_requests(
    changes: dict[str, Any], message: str
) -> None:
    """It refuses a HubSpot request that is unsigned, stale, or not signed as sent."""
    with pytest.raises(SignatureError, match=message):
        _hubspot(**changes)


def test_standard_webhooks_matches_the_published_example() -> None:
    """It computes and accepts the Standard Webhooks libraries' published signature."""
    signature = standard_signature(
        STANDARD_SECRET, msg_id=STANDARD_ID, timestamp=STANDARD_TIMESTAMP, body=STANDARD_BODY
    )
    assert signature == STANDARD_EXPECTED
    _standard()
    _standard(secret=STANDARD_SECRET.removeprefix("whsec_"))


def test_standard_webhooks_accepts_any_signature_during_rotation() -> None:
    """It accepts a header listing several signatures when one v1 entry matches."""
    rotated = f"v1,{'A' * 43}= v1a,{'B' * 86}== {STANDARD_EXPECTED} {STANDARD_FORGED}"
    _standard(signature=rotated)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"msg_id": None}, "missing"),
        ({"timestamp": "hello"}, "Unix seconds"),
        ({"signature": STANDARD_FORGED}, "no v1 entry"),
        ({"signature": STANDARD_EXPECTED.replace("v1,", "v2,")}, "no v1 entry"),
        ({"signature": STANDARD_EXPECTED.removeprefix("v1,")}, "no v1 entry"),
        ({"msg_id": "msg_other"}, "no v1 entry"),
        ({"body": b'{"test": 2432232315}'}, "no v1 entry"),
        ({"now": int(STANDARD_TIMESTAMP) + 301}, "window"),
        ({"now": int(STANDARD_TIMESTAMP) - 301}, "window"),
    ],
    ids=[
        "no-id",
        "bad-timestamp",
        "forged",
        "v2",
        "bare",
        "other-id",
        "body",
        "replayed",
        "future",
    ],
)
def test_standard_webhooks_refuses_forged_and_replayed_deliveries(
    changes: dict[str, Any], message: str
) -> None:
    """It refuses a delivery that is unsigned, stale, or whose signature matches nothing."""
    with pytest.raises(SignatureError, match=message):
        _standard(**changes)


def test_serving_refuses_an_api_key_with_surrounding_spaces_or_none() -> None:
    """It refuses to serve with no key (unless --no-auth) or a key HTTP could not carry."""
    padded = load_settings(None, environ={"LEADLOOP_SERVE__API_KEY": " k "}, base_dir=Path("."))
    with pytest.raises(ConfigError, match=r"LEADLOOP_SERVE__API_KEY.*whitespace"):
        require_auth(padded, no_auth=False)
    none = load_settings(None, environ={}, base_dir=Path("."))
    with pytest.raises(ConfigError, match=r"no API key: set LEADLOOP_SERVE__API_KEY.*--no-auth"):
        require_auth(none, no_auth=False)
    require_auth(none, no_auth=True)


def test_a_standard_secret_must_be_base64_naming_the_variable() -> None:
    """It refuses a Standard Webhooks secret that is not whsec_ + base64, naming the variable."""
    with pytest.raises(ConfigError, match=r"LEADLOOP_SERVE__STANDARD__SECRET.*whsec_"):
        load_settings(None, environ={"LEADLOOP_SERVE__STANDARD__SECRET": "whsec_%%%"})
