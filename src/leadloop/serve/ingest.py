"""A delivery's events validated one by one and stored in one transaction, then counted.

The answer is built only after that transaction has committed: an event listed as stored is in
the store, and a retried delivery repeats event ids that are then acknowledged as duplicates,
not stored twice.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from leadloop.config import CrmWebhook, Settings
from leadloop.serve.deps import Service
from leadloop.serve.mapping import map_event
from leadloop.serve.schemas import FeedbackEvent, FeedbackResponse, RejectedEvent

Indexed = list[tuple[int, Any]]


def decode(body: bytes) -> list[Any]:
    """The delivered JSON as a list of items; ``ValueError`` saying why when it is not JSON."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"the body is not JSON: {err}") from err
    return payload if isinstance(payload, list) else [payload]


async def store_events(service: Service, items: list[Any]) -> FeedbackResponse:
    """leadloop's own events, validated and stored."""
    return await _store(service, list(enumerate(items)), rejected=[], ignored=[])


async def store_mapped(
    service: Service, items: list[Any], crm: CrmWebhook, *, delivery_id: str | None
) -> FeedbackResponse:
    """A CRM's objects, each mapped to leadloop's event, ignored (not an outcome) or rejected;
    the mapped events validated and stored."""
    settings = service.settings
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
) -> FeedbackResponse:
    """Validate, store in one committed transaction, count, then say what became of each."""
    valid, invalid = _validate_events(items, service.settings)
    rejected = sorted([*rejected, *invalid], key=lambda r: r.index)
    result = await run_in_threadpool(service.store.add, valid)
    metrics = service.metrics
    metrics.feedback.labels("stored").inc(len(result.stored))
    metrics.feedback.labels("duplicate").inc(len(result.duplicates))
    metrics.feedback.labels("rejected").inc(len(rejected))
    metrics.feedback.labels("ignored").inc(len(ignored))
    return FeedbackResponse(
        stored=result.stored, duplicates=result.duplicates, rejected=rejected, ignored=ignored
    )


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
