"""A CRM's webhook events mapped to leadloop's feedback events, by ``serve.<scheme>.fields``.

Each delivered object becomes either leadloop's event (``event_id``, ``lead_id``, ``outcome``,
``occurred_at``, ``amount``), still to be validated like any other, or is ignored: it does not
match ``only`` (another property changed), or its outcome value is not in ``outcome_values``
(a deal moved to a stage that is neither won nor lost). Ignored events are acknowledged, not
stored: a CRM should not retry them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from leadloop.config import CrmWebhook, OutcomesConfig
from leadloop.data.values import outcome_key

_MISSING = object()


@dataclass(frozen=True)
class Mapped:
    """What one delivered object became: an event to validate, or a reason it was skipped."""

    event: dict[str, Any] | None
    ignored: bool = False
    errors: tuple[str, ...] = ()


def map_event(
    item: Any,
    crm: CrmWebhook,
    outcomes: OutcomesConfig,
    *,
    delivery_id: str | None,
    index: int,
    several: bool,
) -> Mapped:
    """Map one delivered object; ``delivery_id`` stands in for an empty ``fields.event_id``."""
    if not isinstance(item, dict):
        return Mapped(None, errors=(f"expected a JSON object, found {type(item).__name__}",))
    if any(_text(_get(item, path)) != value for path, value in crm.only.items()):
        return Mapped(None, ignored=True)
    fields = crm.fields
    outcome = _text(_get(item, fields.outcome))
    if outcome is not None and crm.outcome_values:
        outcome = _translate(outcome, crm, outcomes)
        if outcome is None:
            return Mapped(None, ignored=True)
    event_id = _event_id(item, fields.event_id, delivery_id, index=index, several=several)
    event = {
        "event_id": event_id,
        "lead_id": _text(_get(item, fields.lead_id)),
        "outcome": outcome,
        "occurred_at": _stamp(_get(item, fields.occurred_at), fields.time_unit),
        "amount": None if fields.amount is None else _get(item, fields.amount),
    }
    sources = {
        "lead_id": fields.lead_id,
        "outcome": fields.outcome,
        "occurred_at": fields.occurred_at,
    }
    missing = [
        f"{name}: '{path}' is missing" for name, path in sources.items() if event[name] is None
    ]
    if event_id is None:
        made_of = ", ".join(f"'{p}'" for p in fields.event_id) or "the webhook-id header"
        missing.insert(0, f"event_id: made of {made_of}; one is missing")
    if missing:
        return Mapped(None, errors=tuple(missing))
    event["amount"] = None if event["amount"] is _MISSING else event["amount"]
    return Mapped(event)


def _get(item: dict[str, Any], path: str) -> Any:
    """The value at a dotted path, or ``_MISSING``."""
    node: Any = item
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _text(value: Any) -> str | None:
    if value is _MISSING or value is None:
        return None
    return str(value)


def _translate(value: str, crm: CrmWebhook, outcomes: OutcomesConfig) -> str | None:
    """The CRM's value as leadloop's first won or lost value; None when it is not an outcome."""
    mapped = {outcome_key(k): v for k, v in crm.outcome_values.items()}.get(outcome_key(value))
    if mapped is None:
        return None
    return outcomes.won_values[0] if mapped == "won" else outcomes.lost_values[0]


def _event_id(
    item: dict[str, Any], paths: list[str], delivery_id: str | None, *, index: int, several: bool
) -> str | None:
    if not paths:
        if delivery_id is None:
            return None
        return f"{delivery_id}#{index}" if several else delivery_id
    parts = [_text(_get(item, path)) for path in paths]
    return None if any(p is None for p in parts) else ":".join(p for p in parts if p is not None)


def _stamp(value: Any, unit: str) -> Any:
    """A number (or digits) is Unix time in ``unit``; anything else is left to validation."""
    if value is _MISSING:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return value
    if isinstance(value, str) and not value.strip().isdigit():
        return value
    seconds = float(value) / (1000.0 if unit == "ms" else 1.0)
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return value
