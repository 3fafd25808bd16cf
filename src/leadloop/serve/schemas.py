"""Request and response models of the HTTP API: what the OpenAPI schema documents."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from leadloop.data.events import MAX_AMOUNT

FeatureValue = str | float | int | bool | None

LEAD_EXAMPLE: dict[str, Any] = {
    "lead_id": "L-10042",
    "created_at": "2026-11-20T09:30:00Z",
    "lead_source": "referral",
    "industry": "software",
    "company_size": 250,
    "pages_viewed": 12,
    "demo_requested": True,
}


class Lead(BaseModel):
    """One lead: its id, its creation time and its fields, named as in the training data.

    A field the model uses but the lead lacks counts as missing, as in training; fields the
    champion does not know are listed in the score's ``unknown_fields`` (or refused with
    ``serve.strict_fields``). The served OpenAPI document types each of the champion's fields.
    """

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [LEAD_EXAMPLE]})
    __pydantic_extra__: dict[str, FeatureValue] = Field(init=False)

    lead_id: str | None = Field(default=None, max_length=200, description="Your id for the lead.")
    created_at: datetime | None = Field(
        default=None,
        description="When the lead was created; ages of datetime fields count from it.",
    )


class Reason(BaseModel):
    """One factor behind a score, from the model's own TreeSHAP contributions."""

    feature: str = Field(description="The field.")
    value: str = Field(description="The lead's value, as a person reads it.")
    points: float = Field(description="Score points this value adds (or takes away).")
    text: str = Field(examples=["lead source = referral: +12 points"])


class ScoreRecord(BaseModel):
    """A lead's score."""

    lead_id: str | None
    probability: float = Field(ge=0, le=1, description="Calibrated probability the lead is won.")
    score: int = Field(ge=1, le=99, description="The probability in points, 1 to 99.")
    grade: Literal["A", "B", "C", "D"] = Field(description="By the configured cut-offs.")
    model_version: str = Field(description="The registered model version that scored it.")
    reasons: list[Reason] = Field(description="Top positive, then top negative factors.")
    scored_at: datetime
    unknown_fields: list[str] = Field(
        default_factory=list,
        description="Fields of the lead the champion does not know (misspelt, or not used): "
        "they did not count. Refused with 422 under serve.strict_fields.",
    )
    priority: int | None = Field(
        default=None, description="Under policy.capacity: the order to work the request's leads."
    )
    explored: bool | None = Field(
        default=None, description="Under policy.capacity: the priority was randomised."
    )
    propensity: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Under policy.capacity: the chance the policy puts this lead within capacity.",
    )


class ScoreResponse(BaseModel):
    """Scores for the leads of a request, in request order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model_version": "3",
                    "scores": [
                        {
                            "lead_id": "L-10042",
                            "probability": 0.31,
                            "score": 31,
                            "grade": "B",
                            "model_version": "3",
                            "reasons": [
                                {
                                    "feature": "lead_source",
                                    "value": "referral",
                                    "points": 12.2,
                                    "text": "lead source = referral: +12 points",
                                }
                            ],
                            "scored_at": "2026-11-25T10:00:00+00:00",
                            "unknown_fields": ["pagesViewed"],
                        }
                    ],
                }
            ]
        }
    )

    model_version: str
    scores: list[ScoreRecord]


class FeedbackEvent(BaseModel):
    """A CRM outcome: won or lost, by the values in outcomes.won_values and lost_values."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "event_id": "evt-7781",
                    "lead_id": "L-10042",
                    "outcome": "Closed Won",
                    "occurred_at": "2026-12-02T15:04:00Z",
                    "amount": 12000.0,
                }
            ]
        },
    )

    event_id: str = Field(
        min_length=1, max_length=200, description="Unique per event; retries repeat it."
    )
    lead_id: str = Field(min_length=1, max_length=200)
    outcome: str = Field(min_length=1, max_length=100, description="A won or lost value.")
    occurred_at: datetime = Field(description="When it happened; without a zone, UTC.")
    amount: float | None = Field(
        default=None,
        description="Deal amount, if any: finite, from 0 to 2**53.",
        json_schema_extra={"minimum": 0, "maximum": MAX_AMOUNT},
    )


class RejectedEvent(BaseModel):
    """An event of the delivery that was not stored, and why."""

    index: int = Field(description="Its position in the delivered list (0 for a single event).")
    event_id: str | None
    errors: list[str]
    conflict: bool = Field(
        default=False,
        description="Its event_id was stored before (or earlier in this delivery) with other "
        "content: the stored event stays, this one is not stored.",
    )


class FeedbackResponse(BaseModel):
    """What happened to each event: stored now, stored before (a retry), rejected or ignored."""

    stored: list[str] = Field(description="Event ids stored by this delivery.")
    duplicates: list[str] = Field(
        description="Event ids already stored: acknowledged, not stored again."
    )
    rejected: list[RejectedEvent] = Field(description="Invalid events; the others were kept.")
    ignored: list[int] = Field(
        default_factory=list,
        description="Positions of a CRM's events that are not outcomes (another property or "
        "stage): acknowledged, not stored.",
    )


class ModelInfo(BaseModel):
    """The champion the service scores with."""

    model_name: str
    version: str
    trained_at: str | None
    trained_as: str | None
    promoted_by: str | None
    promoted_at: str | None
    data_version: str | None
    run: str | None
    features: list[str] = Field(description="The lead fields the model uses.")
    holdout_metrics: dict[str, float] = Field(
        description="On the holdout of the run that trained it."
    )
    loaded_at: str


class Health(BaseModel):
    """Liveness and readiness."""

    status: Literal["ok", "no_model"]
    model_version: str | None
    feedback_store: str


class Problem(BaseModel):
    """An error: what is wrong and what to do."""

    detail: str
