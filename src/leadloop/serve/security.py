"""Request authentication: the scoring API key and the CRM webhook's HMAC signature.

A webhook delivery is signed with HMAC-SHA256 over ``timestamp + "." + raw_body`` using the
shared secret; the hex digest goes in ``X-Leadloop-Signature`` (a ``sha256=`` prefix is
accepted) and the Unix timestamp in ``X-Leadloop-Timestamp``. Deliveries whose timestamp is
outside the replay window are refused, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Leadloop-Timestamp"
SIGNATURE_HEADER = "X-Leadloop-Signature"


class SignatureError(Exception):
    """A webhook delivery is not signed as it must be; the message says what is wrong."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The hex signature a sender puts in ``X-Leadloop-Signature``."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_signature(
    *,
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    window_seconds: int,
    now: float | None = None,
) -> None:
    """Raise ``SignatureError`` unless the delivery is signed with ``secret`` and is recent."""
    if not timestamp or not signature:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header")
    try:
        sent = int(timestamp)
    except ValueError as err:
        raise SignatureError(f"{TIMESTAMP_HEADER} must be Unix seconds, not '{timestamp}'") from err
    skew = abs((now if now is not None else time.time()) - sent)
    if skew > window_seconds:
        raise SignatureError(
            f"{TIMESTAMP_HEADER} is {skew:.0f} s away from the server's clock (the window is "
            f"{window_seconds} s): an old delivery cannot be replayed; sign it again"
        )
    given = signature.strip().removeprefix("sha256=")
    if not hmac.compare_digest(given.encode(), sign(secret, timestamp, body).encode()):
        raise SignatureError("signature does not match the body (wrong secret or altered body)")


def bearer_matches(header: str | None, key: str) -> bool:
    """True when ``Authorization: Bearer <key>`` carries ``key`` (constant-time comparison)."""
    scheme, _, token = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), key.encode())
