"""OpenAPI descriptions of the three feedback routes: their signature headers and bodies."""

from __future__ import annotations

from typing import Any

from leadloop.serve.schemas import FeedbackEvent
from leadloop.serve.security import (
    HUBSPOT_SIGNATURE_HEADER,
    HUBSPOT_TIMESTAMP_HEADER,
    SIGNATURE_HEADER,
    STANDARD_ID_HEADER,
    STANDARD_SIGNATURE_HEADER,
    STANDARD_TIMESTAMP_HEADER,
    TIMESTAMP_HEADER,
)


def _header(name: str, kind: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": True,
        "schema": {"type": kind},
        "description": description,
    }


def _body(description: str, schema: dict[str, Any], example: Any) -> dict[str, Any]:
    return {
        "required": True,
        "description": description,
        "content": {"application/json": {"schema": schema, "example": example}},
    }


_EVENT = FeedbackEvent.model_json_schema()
LEADLOOP_OPENAPI: dict[str, Any] = {
    "parameters": [
        _header(
            TIMESTAMP_HEADER,
            "integer",
            "Unix seconds when the delivery was signed; refused outside the window.",
        ),
        _header(
            SIGNATURE_HEADER,
            "string",
            'Hex HMAC-SHA256 of timestamp + "." + raw body with serve.webhook_secret.',
        ),
    ],
    "requestBody": _body(
        "One event or a list of events, signed (see the headers).",
        {"oneOf": [_EVENT, {"type": "array", "items": _EVENT}]},
        _EVENT["examples"][0],
    ),
}
HUBSPOT_EXAMPLE = [
    {
        "eventId": 1004,
        "subscriptionId": 2315,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": 1764660240000,
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": 10042,
        "propertyName": "dealstage",
        "propertyValue": "closedwon",
        "changeSource": "CRM_UI",
    }
]
HUBSPOT_OPENAPI: dict[str, Any] = {
    "parameters": [
        _header(
            HUBSPOT_TIMESTAMP_HEADER,
            "integer",
            "Unix milliseconds when HubSpot sent the request; refused outside the window.",
        ),
        _header(
            HUBSPOT_SIGNATURE_HEADER,
            "string",
            "Base64 HMAC-SHA256 of method + URI + raw body + timestamp, keyed by the app's "
            "client secret (serve.hubspot.client_secret).",
        ),
    ],
    "requestBody": _body(
        "HubSpot's list of events (up to 100). Each is mapped by serve.hubspot.fields; events "
        "that do not match serve.hubspot.only, or whose value is not in outcome_values, are "
        "acknowledged and ignored.",
        {"type": "array", "items": {"type": "object"}},
        HUBSPOT_EXAMPLE,
    ),
}
STANDARD_EXAMPLE = {
    "type": "deal.closed",
    "timestamp": "2026-12-02T15:04:00Z",
    "data": {"lead_id": "L-10042", "outcome": "Closed Won", "amount": 12000.0},
}
STANDARD_OPENAPI: dict[str, Any] = {
    "parameters": [
        _header(STANDARD_ID_HEADER, "string", "The event's id: retries repeat it."),
        _header(
            STANDARD_TIMESTAMP_HEADER,
            "integer",
            "Unix seconds of the attempt; refused outside the window.",
        ),
        _header(
            STANDARD_SIGNATURE_HEADER,
            "string",
            "Space-separated `v1,<base64>` HMAC-SHA256 signatures of id.timestamp.body, keyed "
            "by the whsec_ secret (serve.standard.secret); any one may match.",
        ),
    ],
    "requestBody": _body(
        "One event (or a list), mapped by serve.standard.fields.",
        {"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]},
        STANDARD_EXAMPLE,
    ),
}
