"""``POST /v1/score``: leads scored by the champion, with reasons."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any
from uuid import uuid4

import numpy as np
import pandas as pd
from fastapi import APIRouter, Body, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from leadloop.policy import allocate, policy_rng
from leadloop.serve.deps import ERRORS, SECURED, ScoringDep
from leadloop.serve.problems import SafeJSONResponse
from leadloop.serve.schemas import LEAD_EXAMPLE, Lead, Problem, ScoreResponse

router = APIRouter(tags=["scoring"])
INLINE_BATCH = 8  # up to this many leads are scored on the event loop; more go to a thread
LeadsBody = Annotated[
    Lead | list[Lead],
    Body(
        description="One lead, or a list of leads (up to serve.max_batch).",
        openapi_examples={
            "one": {"summary": "One lead", "value": LEAD_EXAMPLE},
            "batch": {"summary": "A batch", "value": [LEAD_EXAMPLE, {"lead_id": "L-2"}]},
        },
    ),
]
ReasonsQuery = Annotated[
    int | None,
    Query(
        ge=0,
        le=20,
        description="Top positive and top negative factors per lead (default: serve.reasons); "
        "0 skips them, which is several times faster.",
    ),
]

BatchQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=200,
        description="The scoring batch in the score log (default: one per request); a retry "
        "with the same batch id logs nothing twice.",
    ),
]


def add_policy(
    scores: list[dict[str, Any]], *, capacity: float | int, epsilon: float, rng: np.random.Generator
) -> None:
    """The policy's draw over one request's leads, added to their records."""
    probabilities = np.array([s["probability"] for s in scores], dtype=float)
    drawn = allocate(probabilities, capacity=capacity, epsilon=epsilon, rng=rng)
    for i, record in enumerate(scores):
        record["priority"] = int(drawn.priority[i])
        record["explored"] = bool(drawn.explored[i])
        record["propensity"] = float(drawn.propensity[i])


@router.post(
    "/v1/score",
    response_model=ScoreResponse,
    responses={**ERRORS, 422: {"model": Problem, "description": "A field has a wrong value."}},
    openapi_extra=SECURED,
)
async def score(
    leads: LeadsBody,
    scoring: ScoringDep,
    reasons: ReasonsQuery = None,
    batch: BatchQuery = None,
) -> Response:
    """Score leads with the champion: probability, score 1-99, grade, reasons, unknown fields;
    under a work-allocation policy also priority, explored and propensity over the request's
    leads. Every score with a lead_id is written to the score log before the answer."""
    items = leads if isinstance(leads, list) else [leads]
    serve = scoring.service.settings.serve
    if len(items) > serve.max_batch:
        raise HTTPException(
            413, f"{len(items)} leads in one request; the limit is {serve.max_batch}"
        )
    records = [lead.model_dump() for lead in items]
    fields = scoring.champion.fields
    unknown = [fields.unknown(record) for record in records]
    if serve.strict_fields and any(unknown):
        raise HTTPException(422, fields.refusal(records, unknown))
    now = pd.Timestamp.now(tz="UTC")
    scorer = scoring.champion.scorer  # this request ends on this model whatever arrives
    if reasons is not None:
        scorer = replace(scorer, reasons=reasons)
    if len(records) <= INLINE_BATCH:
        scores = scorer.score_records(records, now=now)
    else:
        scores = await run_in_threadpool(scorer.score_records, records, now=now)
    for record, names in zip(scores, unknown, strict=True):
        record["unknown_fields"] = names
    policy = scoring.service.settings.policy
    batch_id = batch or f"request-{uuid4().hex}"
    if policy.capacity is not None:
        rng = policy_rng(policy.seed, batch_id)
        add_policy(scores, capacity=policy.capacity, epsilon=policy.epsilon, rng=rng)
    logged = [s for s in scores if s["lead_id"] is not None]
    await scoring.service.score_log.log(logged, batch_id=batch_id)
    scoring.service.metrics.scores.labels(scorer.version).inc(len(scores))
    return SafeJSONResponse({"model_version": scorer.version, "scores": scores})
