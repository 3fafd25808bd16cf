"""A CRM's webhook events mapped to leadloop's feedback events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from leadloop.config import HubSpotWebhook, OutcomesConfig, StandardWebhook
from leadloop.serve.mapping import Mapped, map_event

OUTCOMES = OutcomesConfig()


def _hubspot(**changes: Any) -> dict[str, Any]:
    return {
        "eventId": 1004,
        "subscriptionId": 2315,
        "portalId": 62515,
        "occurredAt": 1764660240000,
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": 10042,
        "propertyName": "dealstage",
        "propertyValue": "closedwon",
        **changes,
    }


def _map_hubspot(item: Any) -> Mapped:
    return map_event(item, HubSpotWebhook(), OUTCOMES, delivery_id=None, index=0, several=False)


def test_a_hubspot_deal_won_becomes_a_won_event() -> None:
    """It maps HubSpot's objectId, dealstage value and millisecond occurredAt to an event."""
    mapped = _map_hubspot(_hubspot())
    assert mapped.event == {
        "event_id": "62515:10042:dealstage:1764660240000",
        "lead_id": "10042",
        "outcome": "won",
        "occurred_at": datetime(2025, 12, 2, 7, 24, tzinfo=UTC),
        "amount": None,
    }
    lost = _map_hubspot(_hubspot(propertyValue="ClosedLost"))
    assert lost.event is not None and lost.event["outcome"] == "lost"


def test_hubspot_events_that_are_not_outcomes_are_ignored() -> None:
    """It ignores another property's change and a stage that is neither won nor lost."""
    assert _map_hubspot(_hubspot(propertyName="amount", propertyValue="12")).ignored
    assert _map_hubspot(_hubspot(propertyValue="appointmentscheduled")).ignored


def test_a_hubspot_event_missing_a_mapped_field_is_rejected_naming_it() -> None:
    """It rejects an event whose mapped path is absent, naming the field and the path."""
    item = _hubspot()
    del item["objectId"]
    mapped = _map_hubspot(item)
    assert mapped.event is None and not mapped.ignored
    assert "lead_id: 'objectId' is missing" in mapped.errors
    assert _map_hubspot("not an object").errors == ("expected a JSON object, found str",)


def test_standard_webhooks_take_the_delivery_id_and_nested_paths() -> None:
    """It maps data.* paths and uses webhook-id (with the position in a list) as the event id."""
    item = {
        "type": "deal.closed",
        "timestamp": "2026-12-02T15:04:00Z",
        "data": {"lead_id": "L-1", "outcome": "Closed Won", "amount": 120.5},
    }
    one = map_event(item, StandardWebhook(), OUTCOMES, delivery_id="msg_1", index=0, several=False)
    assert one.event == {
        "event_id": "msg_1",
        "lead_id": "L-1",
        "outcome": "Closed Won",
        "occurred_at": "2026-12-02T15:04:00Z",
        "amount": 120.5,
    }
    two = map_event(item, StandardWebhook(), OUTCOMES, delivery_id="msg_1", index=1, several=True)
    assert two.event is not None and two.event["event_id"] == "msg_1#1"
