"""The scoring route against bodies a sender controls, over real HTTP: a 4xx, never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import serving, settings_for

BODIES = {
    "nested-100k": (b"[" * 100_000 + b"]" * 100_000, 400),
    "nested-in-a-field": (b'{"pages_viewed": ' + b"[" * 500 + b"]" * 500 + b"}", 422),
    "5000-digit-number": (b'{"pages_viewed": ' + b"9" * 5000 + b"}", 400),
    "invalid-utf8": (b'{"lead_id": "caf\xe9", "pages_viewed": 1}', 400),
    "lone-surrogate-id": (b'{"lead_id": "a\\ud800", "pages_viewed": 1}', 422),
    "lone-surrogate-field-name": (b'{"lead_id": "a", "x\\ud800": 1}', 422),
    "nan-id": (b'{"lead_id": NaN, "pages_viewed": 1}', 422),
}


@pytest.fixture(scope="module")
def client(registered: Path) -> Iterator[httpx.Client]:
    """The service on the registered project (no API key)."""
    with serving(settings_for(registered)) as url, httpx.Client(base_url=url, timeout=60) as c:
        yield c


@pytest.mark.parametrize("name", list(BODIES))
def test_a_hostile_score_request_is_a_4xx_in_valid_json(client: httpx.Client, name: str) -> None:
    """It answers 400 or 422 with a JSON body that is valid UTF-8, whatever the request held."""
    body, status = BODIES[name]
    answer = client.post("/v1/score", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == status, answer.text[:300]
    answer.content.decode("utf-8")  # strict: no lone surrogate written
    assert answer.json()["detail"]
    assert "input" not in answer.text[:2000], "the body is not echoed back"
