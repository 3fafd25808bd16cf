"""The ``serve`` and ``scoring`` sections: the scoring service, its CRM webhooks and the
feedback store; how scores are computed (compiled trees or LightGBM).

Secrets come from the environment (``LEADLOOP_SERVE__API_KEY`` ...), taken byte for byte.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from leadloop.config.base import Section


class FeedbackFields(Section):
    """Where leadloop's event fields are in a CRM's event object, as dotted JSON paths."""

    event_id: list[str] = Field(
        default_factory=list,
        description="Paths whose values, joined with ':', identify the event (retries repeat "
        "them); empty: the delivery's id header (webhook-id).",
    )
    lead_id: str = "lead_id"
    outcome: str = "outcome"
    occurred_at: str = "occurred_at"
    amount: str | None = None
    time_unit: Literal["s", "ms"] = "s"  # for an occurred_at sent as a number


class CrmWebhook(Section):
    """A CRM's own webhook scheme: its payload mapped to leadloop's events."""

    fields: FeedbackFields = FeedbackFields()
    only: dict[str, str] = Field(default_factory=dict)  # keep events whose paths have these values
    outcome_values: dict[str, Literal["won", "lost"]] = Field(default_factory=dict)


def _deal_stages() -> dict[str, Literal["won", "lost"]]:
    """HubSpot's default pipeline: the internal ids of its closed stages."""
    return {"closedwon": "won", "closedlost": "lost"}


class HubSpotWebhook(CrmWebhook):
    """``POST /v1/feedback/hubspot``: HubSpot's v3 signature, its property-change events."""

    client_secret: SecretStr | None = None
    public_url: str | None = None  # the target URL as configured in HubSpot (what it signs)
    fields: FeedbackFields = FeedbackFields(
        event_id=["portalId", "objectId", "propertyName", "occurredAt"],
        lead_id="objectId",
        outcome="propertyValue",
        occurred_at="occurredAt",
        time_unit="ms",
    )
    only: dict[str, str] = Field(default_factory=lambda: {"propertyName": "dealstage"})
    outcome_values: dict[str, Literal["won", "lost"]] = Field(default_factory=_deal_stages)


class StandardWebhook(CrmWebhook):
    """``POST /v1/feedback/standard``: Standard Webhooks (webhook-id, -timestamp, -signature)."""

    secret: SecretStr | None = None  # whsec_<base64>, as the sender shows it
    fields: FeedbackFields = FeedbackFields(
        lead_id="data.lead_id",
        outcome="data.outcome",
        occurred_at="timestamp",
        amount="data.amount",
    )

    @field_validator("secret")
    @classmethod
    def _base64(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                key = base64.b64decode(
                    value.get_secret_value().removeprefix("whsec_"), validate=True
                )
            except ValueError as err:
                raise ValueError(
                    "expected whsec_ followed by base64 (as the sender shows it)"
                ) from err
            if not key:
                raise ValueError("the secret is empty")
        return value


class ServeConfig(Section):
    """The scoring service, the feedback webhooks and the feedback store.

    Secrets belong in the environment (``LEADLOOP_SERVE__API_KEY``,
    ``LEADLOOP_SERVE__WEBHOOK_SECRET``, ``LEADLOOP_SERVE__HUBSPOT__CLIENT_SECRET``,
    ``LEADLOOP_SERVE__STANDARD__SECRET``), not in the file; they are never logged.
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1)
    api_key: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    hubspot: HubSpotWebhook = HubSpotWebhook()
    standard: StandardWebhook = StandardWebhook()
    store_url: str = "sqlite:///.leadloop/feedback.db"
    max_batch: int = Field(default=1000, ge=1)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    replay_window_seconds: int = Field(default=300, ge=1)
    reload_seconds: float = Field(default=10.0, gt=0)
    reasons: int = Field(default=3, ge=0, le=20)
    strict_fields: bool = False
    docs: bool = True


class ScoringConfig(Section):
    """How scores are computed: compiled trees (``pip install 'leadloop[fast]'``) or LightGBM.

    ``compile: auto`` compiles a model's trees for batches of more than ``compile_rows`` leads
    and, in the background, for the service; ``always`` for every scorer; ``never`` keeps
    LightGBM. Compiled trees are cached per model version in ``cache_dir``.
    """

    compile: Literal["auto", "always", "never"] = "auto"
    compile_rows: int = Field(default=100_000, ge=0)
    cache_dir: Path = Path(".leadloop/compiled")
