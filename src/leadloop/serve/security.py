"""Request authentication: the API key, and the three webhook signature schemes.

leadloop's own: HMAC-SHA256 over ``timestamp + "." + raw_body`` with the shared secret, hex in
``X-Leadloop-Signature`` (a ``sha256=`` prefix is accepted), Unix seconds in
``X-Leadloop-Timestamp``.

HubSpot v3: base64 HMAC-SHA256, keyed by the app's client secret, over
``method + URI + body + timestamp``, in ``X-HubSpot-Signature-v3``; the timestamp is Unix
milliseconds in ``X-HubSpot-Request-Timestamp``; a fixed set of percent-escapes in the URI is
decoded first, as HubSpot's request-validation guide lists them.

Standard Webhooks: base64 HMAC-SHA256, keyed by the base64-decoded ``whsec_`` secret, over
``webhook-id + "." + webhook-timestamp + "." + body``; ``webhook-signature`` holds one or more
space-separated ``v1,<base64>`` entries (several while a secret is rotated), any one may match.

Every scheme refuses a timestamp outside the replay window, so a captured delivery cannot be
replayed later; within the window a replay repeats its event ids and is stored once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time

from leadloop.errors import SignatureError

__all__ = ["SignatureError"]  # raised here, defined with every other error

TIMESTAMP_HEADER = "X-Leadloop-Timestamp"
SIGNATURE_HEADER = "X-Leadloop-Signature"
HUBSPOT_SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
HUBSPOT_TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
STANDARD_ID_HEADER = "webhook-id"
STANDARD_TIMESTAMP_HEADER = "webhook-timestamp"
STANDARD_SIGNATURE_HEADER = "webhook-signature"
# The escapes HubSpot decodes in the URI before signing (its v3 validation guide).
_HUBSPOT_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_HUBSPOT_ESCAPE = re.compile("|".join(_HUBSPOT_DECODED), re.IGNORECASE)


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
    _check_window(TIMESTAMP_HEADER, timestamp, 1, window_seconds, now)
    given = signature.strip().removeprefix("sha256=")
    if not hmac.compare_digest(given.encode(), sign(secret, timestamp, body).encode()):
        raise SignatureError("signature does not match the body (wrong secret or altered body)")


def hubspot_signature(secret: str, *, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """The base64 v3 signature HubSpot sends for this request."""
    decoded = _HUBSPOT_ESCAPE.sub(lambda m: _HUBSPOT_DECODED[m.group(0).upper()], uri)
    message = method.upper().encode() + decoded.encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_hubspot(
    *,
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    window_seconds: int,
    now: float | None = None,
) -> None:
    """Raise ``SignatureError`` unless HubSpot signed this request (v3) within the window."""
    if not timestamp or not signature:
        raise SignatureError(
            f"missing {HUBSPOT_TIMESTAMP_HEADER} or {HUBSPOT_SIGNATURE_HEADER} header"
        )
    _check_window(HUBSPOT_TIMESTAMP_HEADER, timestamp, 1000, window_seconds, now)
    expected = hubspot_signature(secret, method=method, uri=uri, body=body, timestamp=timestamp)
    if not hmac.compare_digest(signature.strip().encode(), expected.encode()):
        raise SignatureError(
            f"{HUBSPOT_SIGNATURE_HEADER} does not match (wrong client secret, altered body, or "
            f"a URI other than {uri}: set serve.hubspot.public_url to the target URL in HubSpot)"
        )


def standard_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret (``whsec_`` and base64)."""
    return base64.b64decode(secret.removeprefix("whsec_"))


def standard_signature(secret: str, *, msg_id: str, timestamp: str, body: bytes) -> str:
    """The ``v1,<base64>`` entry a Standard Webhooks sender puts in ``webhook-signature``."""
    message = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    digest = hmac.new(standard_key(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_standard(
    *,
    secret: str,
    msg_id: str | None,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    window_seconds: int,
    now: float | None = None,
) -> None:
    """Raise ``SignatureError`` unless one ``v1`` entry of ``webhook-signature`` matches."""
    if not msg_id or not timestamp or not signature:
        raise SignatureError(
            f"missing {STANDARD_ID_HEADER}, {STANDARD_TIMESTAMP_HEADER} or "
            f"{STANDARD_SIGNATURE_HEADER} header"
        )
    _check_window(STANDARD_TIMESTAMP_HEADER, timestamp, 1, window_seconds, now)
    expected = standard_signature(secret, msg_id=msg_id, timestamp=timestamp, body=body)
    entries = [e for e in signature.split(" ") if e.startswith("v1,")]
    matches = [hmac.compare_digest(e.encode(), expected.encode()) for e in entries]
    if not any(matches):
        raise SignatureError(
            f"no v1 entry of {STANDARD_SIGNATURE_HEADER} matches (wrong secret or altered body)"
        )


def _check_window(
    header: str, timestamp: str, per_second: int, window_seconds: int, now: float | None
) -> None:
    """Refuse a timestamp (in 1/``per_second`` s) further than the window from the clock."""
    unit = "Unix seconds" if per_second == 1 else "Unix milliseconds"
    try:
        sent = int(timestamp) / per_second
    except ValueError as err:
        raise SignatureError(f"{header} must be {unit}, not '{timestamp[:40]}'") from err
    skew = abs((now if now is not None else time.time()) - sent)
    if skew > window_seconds:
        raise SignatureError(
            f"{header} is {skew:.0f} s away from the server's clock (the window is "
            f"{window_seconds} s): an old delivery cannot be replayed; sign it again"
        )


def bearer_matches(header: str | None, key: str) -> bool:
    """True when ``Authorization: Bearer <key>`` carries ``key`` (constant-time comparison)."""
    scheme, _, token = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), key.encode())
