"""Webhook signatures and API keys."""

from __future__ import annotations

import pytest

from leadloop.serve.security import SignatureError, bearer_matches, sign, verify_signature

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
