"""The feedback webhooks: leadloop's own scheme, HubSpot's v3 and Standard Webhooks.

Each route checks its scheme's signature on the raw body, turns the delivery into leadloop's
events (a CRM's payload through ``serve.<scheme>.fields``), validates each event on its own and
stores the valid ones in one transaction. The answer is sent only after that transaction has
committed: a 2xx means the events are in the store, and a retried delivery repeats event ids
that are then acknowledged as duplicates, not stored twice.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import SecretStr, ValidationError

from leadloop.config import CrmWebhook, Settings
from leadloop.serve.deps import ERRORS, Service, ServiceDep
from leadloop.serve.mapping import map_event
from leadloop.serve.schemas import FeedbackEvent, FeedbackResponse, Problem, RejectedEvent
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
Indexed = list[tuple[int, Any]]


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
    items = list(enumerate(_event_list(body, serve.max_batch)))
    return await _store(service, items, rejected=[], ignored=[])


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
    return await _mapped(service, body, serve.hubspot, delivery_id=None)


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
    return await _mapped(service, body, serve.standard, delivery_id=msg_id)


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


def _verified(check: Any, **arguments: Any) -> None:
    try:
        check(**arguments)
    except SignatureError as err:
        raise HTTPException(401, str(err)) from err


async def _mapped(
    service: Service, body: bytes, crm: CrmWebhook, *, delivery_id: str | None
) -> Response:
    """A CRM's delivery: each object mapped to leadloop's event, or ignored, or rejected."""
    settings = service.settings
    items = _event_list(body, settings.serve.max_batch)
    several = len(items) > 1
    events: Indexed = []
    rejected: list[RejectedEvent] = []
    ignored: list[int] = []
    for index, item in enumerate(items):
        mapped = map_event(
            item, crm, settings.outcomes, delivery_id=delivery_id, index=index, several=several
        )
        if mapped.ignored:
            ignored.append(index)
        elif mapped.event is None:
            rejected.append(RejectedEvent(index=index, event_id=None, errors=list(mapped.errors)))
        else:
            events.append((index, mapped.event))
    return await _store(service, events, rejected=rejected, ignored=ignored)


async def _store(
    service: Service, items: Indexed, *, rejected: list[RejectedEvent], ignored: list[int]
) -> Response:
    """Validate, store in one committed transaction, then answer (never before the commit)."""
    valid, invalid = _validate_events(items, service.settings)
    rejected = sorted([*rejected, *invalid], key=lambda r: r.index)
    result = await run_in_threadpool(service.store.add, valid)
    metrics = service.metrics
    metrics.feedback.labels("stored").inc(len(result.stored))
    metrics.feedback.labels("duplicate").inc(len(result.duplicates))
    metrics.feedback.labels("rejected").inc(len(rejected))
    metrics.feedback.labels("ignored").inc(len(ignored))
    answer = FeedbackResponse(
        stored=result.stored, duplicates=result.duplicates, rejected=rejected, ignored=ignored
    )
    return JSONResponse(answer.model_dump(), status_code=422 if rejected else 200)


def _event_list(body: bytes, limit: int) -> list[Any]:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise HTTPException(400, f"the body is not JSON: {err}") from err
    items = payload if isinstance(payload, list) else [payload]
    if len(items) > limit:
        raise HTTPException(413, f"{len(items)} events in one delivery; the limit is {limit}")
    return items


def _validate_events(
    items: Indexed, settings: Settings
) -> tuple[list[dict[str, Any]], list[RejectedEvent]]:
    """Each event on its own: the valid ones are kept whatever is wrong with the others."""
    won = {v.strip().lower() for v in settings.outcomes.won_values}
    lost = {v.strip().lower() for v in settings.outcomes.lost_values}
    latest = datetime.now(UTC) + timedelta(seconds=settings.serve.replay_window_seconds)
    valid: list[dict[str, Any]] = []
    rejected: list[RejectedEvent] = []
    for index, item in items:
        event_id = item.get("event_id") if isinstance(item, dict) else None
        try:
            event = FeedbackEvent.model_validate(item)
        except ValidationError as err:
            errors = [
                f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in err.errors()
            ]
            rejected.append(RejectedEvent(index=index, event_id=_text(event_id), errors=errors))
            continue
        problems = []
        if event.outcome.strip().lower() not in won | lost:
            problems.append(
                f"outcome: '{event.outcome}' is neither a won nor a lost value "
                f"({settings.outcomes.won_values} / {settings.outcomes.lost_values})"
            )
        occurred = _utc(event.occurred_at)
        if occurred > latest.replace(tzinfo=None):
            problems.append(f"occurred_at: {event.occurred_at.isoformat()} is in the future")
        if problems:
            rejected.append(RejectedEvent(index=index, event_id=event.event_id, errors=problems))
            continue
        valid.append({**event.model_dump(), "occurred_at": occurred})
    return valid, rejected


def _utc(stamp: datetime) -> datetime:
    """Naive UTC (a stamp without a zone is taken as UTC)."""
    return stamp.astimezone(UTC).replace(tzinfo=None) if stamp.tzinfo else stamp


def _text(value: Any) -> str | None:
    return None if value is None else str(value)[:200]
