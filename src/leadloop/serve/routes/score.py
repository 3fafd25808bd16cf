"""``POST /v1/score``: leads scored by the champion, with reasons.

The route is declared as FastAPI routes are, and its OpenAPI entry comes from that declaration.
Requests are served by ``ScoreRoute``, which reads the route's four parameters (the body, two
query parameters, the scoring dependency) with code made for them, in FastAPI's order and with
its error answers, and calls the same endpoint. FastAPI's general solver cost more per request
than a bare endpoint does in all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from dataclasses import replace
from email.message import Message
from functools import lru_cache
from typing import Annotated, Any
from uuid import uuid4

import numpy as np
import pandas as pd
from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.datastructures import DefaultPlaceholder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.datastructures import QueryParams

from leadloop.policy import allocate, policy_rng
from leadloop.serve.deps import ERRORS, SECURED, ScoringDep, scoring_of
from leadloop.serve.problems import SafeJSONResponse
from leadloop.serve.schemas import LEAD_EXAMPLE, Lead, Problem, ScoreResponse

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


class _ScoreQuery(BaseModel):
    """The route's query parameters, validated as FastAPI validates them."""

    reasons: ReasonsQuery = None
    batch: BatchQuery = None


_LEADS: TypeAdapter[Lead | list[Lead]] = TypeAdapter(Lead | list[Lead])
_MISSING = object()  # no body at all


class ScoreRoute(APIRoute):
    """Serves ``score`` with its parameters read by code made for them: the body as JSON when
    the content type says so (FastAPI's strict content type), its syntax errors first; then the
    API key and champion (401, 503); then the query and the leads validated together, every
    error in one 422 with FastAPI's locations."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint
        strict = self.strict_content_type
        strict_type = bool(strict.value if isinstance(strict, DefaultPlaceholder) else strict)

        async def handler(request: Request) -> Response:
            body = _body(await request.body(), request.headers.get("content-type"), strict_type)
            scoring = await scoring_of(request)
            query, leads = _validated(request.query_params, body)
            response: Response = await endpoint(
                leads, scoring, reasons=query.reasons, batch=query.batch
            )
            return response

        return handler


def _body(raw: bytes, content_type: str | None, strict: bool) -> Any:
    """The request body as FastAPI reads it for a JSON body parameter."""
    if not raw:
        return _MISSING
    if content_type is None:
        return raw if strict else _json(raw)
    return _json(raw) if _is_json(content_type) else raw


@lru_cache(maxsize=64)
def _is_json(content_type: str) -> bool:
    """``application/json`` or ``application/*+json``, parameters aside (parsed once per
    content type a client sends, not once per request)."""
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as err:
        error = {"type": "json_invalid", "loc": ("body", err.pos), "msg": "JSON decode error"}
        raise RequestValidationError([{**error, "input": {}, "ctx": {"error": err.msg}}]) from err
    except (ValueError, RecursionError) as err:  # bad UTF-8, too deep, a 5000-digit number
        raise HTTPException(400, "There was an error parsing the body") from err


def _validated(params: QueryParams, body: Any) -> tuple[_ScoreQuery, Lead | list[Lead]]:
    """The query and the leads, or one 422 with every error (query first, as FastAPI)."""
    errors: list[dict[str, Any]] = []
    query = leads = None
    try:
        query = _ScoreQuery.model_validate(
            {k: params[k] for k in ("reasons", "batch") if k in params}
        )
    except ValidationError as err:
        errors += [{**e, "loc": ("query", *e["loc"])} for e in err.errors(include_url=False)]
    if body is _MISSING:
        errors.append({"type": "missing", "loc": ("body",), "msg": "Field required", "input": None})
    else:
        try:
            leads = _LEADS.validate_python(body, from_attributes=True)  # as FastAPI validates
        except ValidationError as err:
            errors += [{**e, "loc": ("body", *e["loc"])} for e in err.errors(include_url=False)]
    if errors or query is None or leads is None:
        raise RequestValidationError(errors)
    return query, leads


router = APIRouter(tags=["scoring"], route_class=ScoreRoute)


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
