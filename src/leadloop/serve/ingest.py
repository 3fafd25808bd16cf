"""A delivery's events validated one by one and stored in one transaction, then counted.

The answer is built only after that transaction has committed: an event listed as stored is in
the store, and a retried delivery repeats event ids that are then acknowledged as duplicates,
not stored twice.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from leadloop.config import CrmWebhook, Settings
from leadloop.data.events import Rules, latest_time, shown_text, to_utc
from leadloop.serve.deps import Service
from leadloop.serve.mapping import map_event
from leadloop.serve.schemas import FeedbackEvent, FeedbackResponse, RejectedEvent

Indexed = list[tuple[int, Any]]  # items with their position in the delivery
MAX_DEPTH = 32  # a delivery nests a few levels (list, event, its data); any CRM's fits in 32
MAX_DIGITS = 100  # no id, time or amount has more digits; Python refuses over 4,300 anyway


def decode(body: bytes) -> list[Any]:
    """The delivered JSON as a list of items; ``ValueError`` saying why when it is not JSON a
    sender could mean: invalid UTF-8, nesting deeper than ``MAX_DEPTH``, an integer of more
    than ``MAX_DIGITS`` digits. ``NaN``, ``Infinity`` and ``1e999`` are read, to be refused
    per event (as amounts that are not finite)."""
    try:
        payload = json.loads(body, parse_int=_integer)
    except RecursionError as err:
        raise ValueError(f"the body nests JSON deeper than {MAX_DEPTH} levels") from err
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError, a too long integer
        raise ValueError(f"the body is not JSON events: {shown_text(str(err))}") from err
    if _depth(payload) > MAX_DEPTH:
        raise ValueError(f"the body nests JSON deeper than {MAX_DEPTH} levels")
    return payload if isinstance(payload, list) else [payload]


def _integer(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_DIGITS:
        raise ValueError(f"an integer of {len(digits):,} digits (at most {MAX_DIGITS})")
    return int(digits)


def _depth(payload: Any) -> int:
    """How deeply arrays and objects nest in ``payload`` (without recursion: any depth)."""
    deepest = 0
    stack = [(payload, 1)] if isinstance(payload, dict | list) else []
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        deepest = max(deepest, depth)
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return deepest


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
    result = await run_in_threadpool(service.store.add, [event for _, event in valid])
    conflicts = [
        RejectedEvent(
            index=valid[c.position][0],
            event_id=shown_text(c.event_id),
            errors=[c.message()],
            conflict=True,
        )
        for c in result.conflicts
    ]
    rejected = sorted([*rejected, *invalid, *conflicts], key=lambda r: r.index)
    metrics = service.metrics
    metrics.feedback.labels("stored").inc(len(result.stored))
    metrics.feedback.labels("duplicate").inc(len(result.duplicates))
    metrics.feedback.labels("conflict").inc(len(conflicts))
    metrics.feedback.labels("rejected").inc(len(rejected) - len(conflicts))
    metrics.feedback.labels("ignored").inc(len(ignored))
    return FeedbackResponse(
        stored=result.stored, duplicates=result.duplicates, rejected=rejected, ignored=ignored
    )


def _validate_events(items: Indexed, settings: Settings) -> tuple[Indexed, list[RejectedEvent]]:
    """Each event on its own, by the rules of ``data/events.py``: the valid ones are kept
    (with their position in the delivery) whatever is wrong with the others."""
    rules = Rules(settings.outcomes, latest=latest_time(settings.serve.replay_window_seconds))
    valid: Indexed = []
    rejected: list[RejectedEvent] = []
    for index, item in items:
        try:
            event = FeedbackEvent.model_validate(item)
        except ValidationError as err:
            errors = [_pydantic_error(e) for e in err.errors()]
            given = item.get("event_id") if isinstance(item, dict) else None
            rejected.append(RejectedEvent(index=index, event_id=_shown_id(given), errors=errors))
            continue
        record = {**event.model_dump(), "occurred_at": to_utc(event.occurred_at)}
        problems = rules.check(record)
        if problems:
            errors = [shown_text(p.message) for p in problems]
            rejected.append(
                RejectedEvent(index=index, event_id=_shown_id(event.event_id), errors=errors)
            )
        else:
            valid.append((index, record))
    return valid, rejected


def _pydantic_error(error: Any) -> str:
    where = ".".join(map(str, error["loc"])) or "event"
    return shown_text(f"{where}: {error['msg']}")


def _shown_id(value: Any) -> str | None:
    """The event id as the answer can echo it: printable, at most 200 characters."""
    if isinstance(value, str):
        return shown_text(value[:200])
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None
