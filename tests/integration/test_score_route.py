"""``POST /v1/score``'s own parameter reading against FastAPI's general one, over real HTTP:
the same status and the same answer for good requests and for every kind of bad one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from leadloop.serve import problems
from leadloop.serve.app import create_app
from leadloop.serve.routes import score
from leadloop.serve.score_writer import ScoreWriter
from tests.integration.conftest import serving_app, settings_for

KEY = "route-test-key"
JSON = {"content-type": "application/json"}
LEAD = {"lead_id": "P-1", "pages_viewed": 3, "industry": "software"}
CASES: dict[str, tuple[str, bytes, dict[str, str]]] = {
    "one lead": ("?reasons=2&batch=p", json.dumps(LEAD).encode(), JSON),
    "a batch": ("?reasons=0", json.dumps([LEAD, {"pages_viewed": 1}]).encode(), JSON),
    "+json type": ("", json.dumps(LEAD).encode(), {"content-type": "application/vnd.x+json"}),
    "bad json": ("", b'{"a": ', JSON),
    "a string": ("", b'"not a lead"', JSON),
    "null": ("", b"null", JSON),
    "list of numbers": ("", b"[1]", JSON),
    "number as id": ("", b'{"lead_id": 5, "pages_viewed": 1}', JSON),
    "bad created_at": ("", b'{"created_at": "garbage", "pages_viewed": 1}', JSON),
    "object as value": ("", b'{"pages_viewed": {"a": 1}}', JSON),
    "reasons not a number": ("?reasons=abc", json.dumps(LEAD).encode(), JSON),
    "reasons and batch out of range": ("?reasons=21&batch=", json.dumps(LEAD).encode(), JSON),
    "query and body bad": ("?reasons=21", b'"x"', JSON),
    "no body": ("", b"", JSON),
    "text/plain": ("", json.dumps(LEAD).encode(), {"content-type": "text/plain"}),
    "no content type": ("", json.dumps(LEAD).encode(), {}),
    "no field the model uses": ("", b"{}", JSON),
    "NaN value": ("", b'{"pages_viewed": NaN}', JSON),
    "too deep": ("", b"[" * 20_000 + b"]" * 20_000, JSON),
    "huge number": ("", b'{"pages_viewed": ' + b"9" * 5000 + b"}", JSON),
    "invalid utf-8": ("", b'{"lead_id": "caf\xe9", "pages_viewed": 1}', JSON),
}
UNAUTHORISED = {
    "no key": ("", json.dumps(LEAD).encode(), JSON),
    "no key, bad json": ("", b"{", JSON),
    "no key, bad query": ("?reasons=99", b"{}", JSON),
}


@pytest.fixture(scope="module")
def servers(registered: Path) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """The service, and beside it the same endpoint served by FastAPI's general route on the
    same champion and settings (its own score writer: one per event loop)."""
    app = create_app(settings_for(registered, serve__api_key=KEY))
    with serving_app(app) as url:
        general = FastAPI(default_response_class=problems.SafeJSONResponse)
        general.state.service = replace(
            app.state.service, score_log=ScoreWriter(app.state.service.store)
        )
        problems.install(general)
        declared = next(r for r in score.router.routes if isinstance(r, APIRoute))
        general.add_api_route(
            declared.path,
            declared.endpoint,
            methods=sorted(declared.methods or ()),
            response_model=declared.response_model,
        )
        with (
            serving_app(general) as general_url,
            httpx.Client(base_url=url, timeout=60) as lean,
            httpx.Client(base_url=general_url, timeout=60) as plain,
        ):
            yield lean, plain


def _answer(client: httpx.Client, query: str, body: bytes, headers: dict[str, str]) -> Any:
    response = client.post(f"/v1/score{query}", content=body, headers=headers)
    content = response.json()
    if response.status_code == 200:
        for record in content["scores"]:
            record.pop("scored_at")  # the second's clock
    return response.status_code, content


@pytest.mark.parametrize("name", list(CASES))
def test_the_route_answers_as_fastapi_would(
    servers: tuple[httpx.Client, httpx.Client], name: str
) -> None:
    query, body, headers = CASES[name]
    keyed = {**headers, "authorization": f"Bearer {KEY}"}
    lean, plain = servers
    assert _answer(lean, query, body, keyed) == _answer(plain, query, body, keyed)


@pytest.mark.parametrize("name", list(UNAUTHORISED))
def test_without_a_key_it_answers_as_fastapi_would(
    servers: tuple[httpx.Client, httpx.Client], name: str
) -> None:
    """A syntax error in the body is answered before the key is checked, a bad query after."""
    query, body, headers = UNAUTHORISED[name]
    lean, plain = servers
    assert _answer(lean, query, body, headers) == _answer(plain, query, body, headers)
