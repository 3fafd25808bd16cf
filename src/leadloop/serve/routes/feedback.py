"""The feedback webhooks: leadloop's own scheme, HubSpot's v3 and Standard Webhooks.

Each route checks its scheme's signature on the raw body, turns the delivery into leadloop's
events (a CRM's payload through ``serve.<scheme>.fields``) and hands them to ``ingest``, which
validates each event on its own and answers only once the valid ones are committed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from pydantic import SecretStr

from leadloop.serve import ingest
from leadloop.serve.deps import ERRORS, ServiceDep
from leadloop.serve.problems import SafeJSONResponse
from leadloop.serve.schemas import FeedbackResponse, Problem
from leadloop.serve.security import (
    HUBSPOT_SIGNATURE_HEADER,
    HUBSPOT_TIMESTAMP_HEADER,
    SIGNATURE_HEADER,
    STANDARD_ID_HEADER,
    STANDARD_SIGNATURE_HEADER,
    STANDARD_TIMESTAMP_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    verify_hubspot,
    verify_signature,
    verify_standard,
)
from leadloop.serve.webhook_docs import HUBSPOT_OPENAPI, LEADLOOP_OPENAPI, STANDARD_OPENAPI

router = APIRouter(tags=["feedback"])
RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    400: {"model": Problem, "description": "The body is not JSON events."},
    422: {"model": FeedbackResponse, "description": "Some events were invalid; the rest kept."},
}


@router.post(
    "/v1/feedback",
    response_model=FeedbackResponse,
    responses=RESPONSES,
    openapi_extra=LEADLOOP_OPENAPI,
)
async def feedback(request: Request, service: ServiceDep) -> Response:
    """Store CRM outcome events signed with leadloop's scheme; a retry is not stored twice."""
    serve = service.settings.serve
    secret = _secret(serve.webhook_secret, "serve.webhook_secret")
    body = await request.body()
    _verified(
        verify_signature,
        secret=secret,
        timestamp=request.headers.get(TIMESTAMP_HEADER),
        signature=request.headers.get(SIGNATURE_HEADER),
        body=body,
        window_seconds=serve.replay_window_seconds,
    )
    return _answer(await ingest.store_events(service, _items(body, serve.max_batch)))


@router.post(
    "/v1/feedback/hubspot",
    response_model=FeedbackResponse,
    responses=RESPONSES,
    openapi_extra=HUBSPOT_OPENAPI,
)
async def feedback_hubspot(request: Request, service: ServiceDep) -> Response:
    """Store outcomes from HubSpot webhooks (v3 signature), mapped by serve.hubspot.fields."""
    serve = service.settings.serve
    secret = _secret(serve.hubspot.client_secret, "serve.hubspot.client_secret")
    body = await request.body()
    _verified(
        verify_hubspot,
        secret=secret,
        method=request.method,
        uri=_called_uri(request, serve.hubspot.public_url),
        body=body,
        timestamp=request.headers.get(HUBSPOT_TIMESTAMP_HEADER),
        signature=request.headers.get(HUBSPOT_SIGNATURE_HEADER),
        window_seconds=serve.replay_window_seconds,
    )
    items = _items(body, serve.max_batch)
    return _answer(await ingest.store_mapped(service, items, serve.hubspot, delivery_id=None))


@router.post(
    "/v1/feedback/standard",
    response_model=FeedbackResponse,
    responses=RESPONSES,
    openapi_extra=STANDARD_OPENAPI,
)
async def feedback_standard(request: Request, service: ServiceDep) -> Response:
    """Store outcomes sent as Standard Webhooks, mapped by serve.standard.fields."""
    serve = service.settings.serve
    secret = _secret(serve.standard.secret, "serve.standard.secret")
    body = await request.body()
    msg_id = request.headers.get(STANDARD_ID_HEADER)
    _verified(
        verify_standard,
        secret=secret,
        msg_id=msg_id,
        timestamp=request.headers.get(STANDARD_TIMESTAMP_HEADER),
        signature=request.headers.get(STANDARD_SIGNATURE_HEADER),
        body=body,
        window_seconds=serve.replay_window_seconds,
    )
    items = _items(body, serve.max_batch)
    return _answer(await ingest.store_mapped(service, items, serve.standard, delivery_id=msg_id))


def _called_uri(request: Request, public_url: str | None) -> str:
    """The URL the sender called: the configured public one (plus the query), else ours."""
    if public_url is None:
        return str(request.url)
    query = request.url.query
    return public_url + (f"?{query}" if query else "")


def _secret(value: SecretStr | None, setting: str) -> str:
    if value is None:
        variable = "LEADLOOP_" + setting.upper().replace(".", "__")
        raise HTTPException(
            503, f"this webhook is off: set {setting} (in the environment: {variable})"
        )
    return value.get_secret_value()


def _verified(check: Callable[..., None], **arguments: Any) -> None:
    try:
        check(**arguments)
    except SignatureError as err:
        raise HTTPException(401, str(err)) from err


def _items(body: bytes, limit: int) -> list[Any]:
    try:
        items = ingest.decode(body)
    except ValueError as err:
        raise HTTPException(400, str(err)) from err
    if len(items) > limit:
        raise HTTPException(413, f"{len(items)} events in one delivery; the limit is {limit}")
    return items


def _answer(answer: FeedbackResponse) -> Response:
    """200 when every event was stored or acknowledged; 422 when some were rejected."""
    return SafeJSONResponse(answer.model_dump(), status_code=422 if answer.rejected else 200)
