"""The FastAPI app: scoring, the signed CRM webhook, the model card, health and metrics.

Routes are thin: they authenticate, bound the request, call the scorer or the store, and map
errors to HTTP statuses (in ``_handlers``, the one place that does).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import ValidationError

import leadloop
from leadloop.config import Settings, load_settings
from leadloop.data.store import FeedbackStore, StoreError
from leadloop.errors import InputError, LeadloopError
from leadloop.serve.champion import ChampionWatcher, Loaded
from leadloop.serve.metrics import BodyLimitMiddleware, MetricsMiddleware, ServiceMetrics
from leadloop.serve.schemas import (
    LEAD_EXAMPLE,
    FeedbackEvent,
    FeedbackResponse,
    Health,
    Lead,
    ModelInfo,
    Problem,
    RejectedEvent,
    ScoreResponse,
)
from leadloop.serve.security import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    bearer_matches,
    verify_signature,
)

log = logging.getLogger(__name__)
CONFIG_ENV = "LEADLOOP_CONFIG"  # the settings file, for worker processes started by uvicorn
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's shared directory
INLINE_BATCH = 8  # up to this many leads are scored on the event loop; more go to a thread


def create_app(settings: Settings, *, metrics_dir: str | None = None) -> FastAPI:
    """The service for ``settings``: follows the registry's champion, stores feedback.

    ``metrics_dir`` is the shared Prometheus directory when several workers serve.
    """
    watcher = ChampionWatcher(settings)
    store = FeedbackStore(settings.store_url())
    metrics = ServiceMetrics(multiprocess_dir=metrics_dir)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(store.create)
        await run_in_threadpool(watcher.start)
        if watcher.current is None:
            log.warning("no champion registered yet: /v1/score answers 503 until one is")
        if settings.serve.webhook_secret is None:
            log.warning("serve.webhook_secret is not set: /v1/feedback answers 503")
        yield
        watcher.stop()
        store.dispose()

    app = FastAPI(
        title="leadloop",
        version=leadloop.__version__,
        summary="Lead scores with reasons, and the signed CRM webhook that feeds retraining.",
        lifespan=lifespan,
    )
    app.state.service = Service(settings, metrics, watcher, store)
    app.add_middleware(BodyLimitMiddleware, limit=settings.serve.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    _handlers(app)
    app.include_router(router)
    return app


def preflight(settings: Settings) -> None:
    """Check before starting that the feedback store can be reached (a clear error if not)."""
    store = FeedbackStore(settings.store_url())
    try:
        store.create()
    finally:
        store.dispose()


def app_from_environment() -> FastAPI:
    """App factory for uvicorn worker processes: settings from ``LEADLOOP_CONFIG`` and env."""
    path = os.environ.get(CONFIG_ENV)
    settings = load_settings(Path(path) if path else None, environ=dict(os.environ))
    return create_app(settings, metrics_dir=os.environ.get(METRICS_DIR_ENV))


def _handlers(app: FastAPI) -> None:
    """Errors to HTTP statuses, in one place."""

    @app.exception_handler(InputError)
    async def _input(_request: Request, err: InputError) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=422)

    @app.exception_handler(StoreError)
    async def _store(_request: Request, err: StoreError) -> JSONResponse:
        log.error("%s", err)
        return JSONResponse({"detail": f"{err}; retry later"}, status_code=503)

    @app.exception_handler(LeadloopError)
    async def _other(_request: Request, err: LeadloopError) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=500)


@dataclass(frozen=True)
class Service:
    """What the routes work with, built once per app."""

    settings: Settings
    metrics: ServiceMetrics
    watcher: ChampionWatcher
    store: FeedbackStore


@dataclass(frozen=True)
class Scoring:
    """An authorised scoring request's service and the champion it will finish on."""

    service: Service
    champion: Loaded


# Dependencies are coroutines and few: FastAPI runs plain functions in a thread pool, and
# each dependency has a cost per request that is comparable to scoring a lead.
async def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def _scoring(request: Request) -> Scoring:
    """The API key check, then the current champion (503 until there is one)."""
    service: Service = request.app.state.service
    key = service.settings.serve.api_key
    if key is not None and not bearer_matches(
        request.headers.get("authorization"), key.get_secret_value()
    ):
        raise HTTPException(
            401,
            "a valid API key is required: send `Authorization: Bearer <key>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Scoring(service, _champion(service))


def _champion(service: Service) -> Loaded:
    loaded = service.watcher.current
    if loaded is None:
        raise HTTPException(503, "no champion model is registered yet: run `leadloop run` first")
    return loaded


ServiceDep = Annotated[Service, Depends(_service)]
ScoringDep = Annotated[Scoring, Depends(_scoring)]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Missing or wrong credentials."},
    413: {"model": Problem, "description": "Body or batch larger than the configured limit."},
    503: {"model": Problem, "description": "No champion yet, or the store is unreachable."},
}
router = APIRouter()


@router.post(
    "/v1/score",
    response_model=ScoreResponse,
    responses={**ERRORS, 422: {"model": Problem, "description": "A field has a wrong value."}},
    tags=["scoring"],
)
async def score(
    leads: Annotated[
        Lead | list[Lead],
        Body(
            description="One lead, or a list of leads (up to serve.max_batch).",
            openapi_examples={
                "one": {"summary": "One lead", "value": LEAD_EXAMPLE},
                "batch": {"summary": "A batch", "value": [LEAD_EXAMPLE, {"lead_id": "L-2"}]},
            },
        ),
    ],
    scoring: ScoringDep,
    reasons: Annotated[
        int | None,
        Query(
            ge=0,
            le=20,
            description="Top positive and top negative factors per lead (default: "
            "serve.reasons); 0 skips them, which is several times faster.",
        ),
    ] = None,
) -> Response:
    """Score leads with the champion: probability, score 1-99, grade and the reasons."""
    items = leads if isinstance(leads, list) else [leads]
    limit = scoring.service.settings.serve.max_batch
    if len(items) > limit:
        raise HTTPException(413, f"{len(items)} leads in one request; the limit is {limit}")
    records = [lead.model_dump() for lead in items]
    now = pd.Timestamp.now(tz="UTC")
    scorer = scoring.champion.scorer  # this request ends on this model whatever arrives
    if reasons is not None:
        scorer = replace(scorer, reasons=reasons)
    if len(records) <= INLINE_BATCH:
        scores = scorer.score_records(records, now=now)
    else:
        scores = await run_in_threadpool(scorer.score_records, records, now=now)
    scoring.service.metrics.scores.labels(scorer.version).inc(len(scores))
    return JSONResponse({"model_version": scorer.version, "scores": scores})


FEEDBACK_BODY = {
    "required": True,
    "description": "One event or a list of events, signed (see the headers).",
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    FeedbackEvent.model_json_schema(),
                    {"type": "array", "items": FeedbackEvent.model_json_schema()},
                ]
            }
        }
    },
}
SIGNATURE_PARAMETERS = [
    {
        "name": TIMESTAMP_HEADER,
        "in": "header",
        "required": True,
        "schema": {"type": "integer"},
        "description": "Unix seconds when the delivery was signed; refused outside the window.",
    },
    {
        "name": SIGNATURE_HEADER,
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": 'Hex HMAC-SHA256 of timestamp + "." + raw body with the shared secret.',
    },
]


@router.post(
    "/v1/feedback",
    response_model=FeedbackResponse,
    responses={
        **ERRORS,
        400: {"model": Problem, "description": "The body is not JSON events."},
        422: {"model": FeedbackResponse, "description": "Some events were invalid; the rest kept."},
    },
    openapi_extra={"requestBody": FEEDBACK_BODY, "parameters": SIGNATURE_PARAMETERS},
    tags=["feedback"],
)
async def feedback(request: Request, service: ServiceDep) -> Response:
    """Store CRM outcome events; a retried delivery is acknowledged and not stored twice."""
    settings, metrics = service.settings, service.metrics
    secret = settings.serve.webhook_secret
    if secret is None:
        raise HTTPException(503, "feedback is off: set serve.webhook_secret (in the environment)")
    body = await request.body()
    try:
        verify_signature(
            secret=secret.get_secret_value(),
            timestamp=request.headers.get(TIMESTAMP_HEADER),
            signature=request.headers.get(SIGNATURE_HEADER),
            body=body,
            window_seconds=settings.serve.replay_window_seconds,
        )
    except SignatureError as err:
        raise HTTPException(401, str(err)) from err
    items = _event_list(body, settings.serve.max_batch)
    valid, rejected = _validate_events(items, settings)
    result = await run_in_threadpool(service.store.add, valid)
    metrics.feedback.labels("stored").inc(len(result.stored))
    metrics.feedback.labels("duplicate").inc(len(result.duplicates))
    metrics.feedback.labels("rejected").inc(len(rejected))
    answer = FeedbackResponse(stored=result.stored, duplicates=result.duplicates, rejected=rejected)
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
    items: list[Any], settings: Settings
) -> tuple[list[dict[str, Any]], list[RejectedEvent]]:
    """Each event on its own: the valid ones are kept whatever is wrong with the others."""
    won = {v.strip().lower() for v in settings.outcomes.won_values}
    lost = {v.strip().lower() for v in settings.outcomes.lost_values}
    latest = datetime.now(UTC) + timedelta(seconds=settings.serve.replay_window_seconds)
    valid: list[dict[str, Any]] = []
    rejected: list[RejectedEvent] = []
    for index, item in enumerate(items):
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


@router.get("/v1/model", response_model=ModelInfo, responses={503: ERRORS[503]}, tags=["model"])
async def model_info(service: ServiceDep) -> ModelInfo:
    """The champion being served: version, when it was trained, its holdout metrics."""
    champion, settings = _champion(service), service.settings
    card = champion.card
    return ModelInfo(
        model_name=settings.tracking.model_name,
        version=champion.scorer.version,
        trained_at=card.get("created"),
        trained_as=card.get("trained_as"),
        promoted_by=card.get("promoted_by"),
        promoted_at=card.get("promoted_at"),
        data_version=card.get("data_version"),
        run=card.get("run"),
        features=champion.scorer.model.encoder.feature_names_,
        holdout_metrics=card.get("holdout_metrics", {}),
        loaded_at=champion.loaded_at,
    )


@router.get("/healthz", response_model=Health, tags=["operations"])
async def healthz(service: ServiceDep) -> Response:
    """200 when a champion is loaded and scoring works; 503 (status no_model) until then."""
    loaded = service.watcher.current
    health = Health(
        status="ok" if loaded else "no_model",
        model_version=loaded.scorer.version if loaded else None,
        feedback_store=service.store.safe_url,
    )
    return JSONResponse(health.model_dump(), status_code=200 if loaded else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."}},
    tags=["operations"],
)
async def prometheus(service: ServiceDep) -> Response:
    """Prometheus metrics: requests, latencies, scores served, feedback stored."""
    loaded = service.watcher.current
    if loaded is not None and loaded.scorer.version.isdigit():
        service.metrics.model_version.set(int(loaded.scorer.version))
    return Response(service.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
