"""The FastAPI app: scoring, the signed CRM webhooks, the model card, health and metrics.

Routes are thin: they authenticate, bound the request, call the scorer or the store, and map
errors to HTTP statuses (in ``_handlers``, the one place that does). The feedback routes live
in ``feedback``; the OpenAPI document and the docs page in ``docs``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Body, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

import leadloop
from leadloop.config import Settings, load_settings
from leadloop.data.store import FeedbackStore
from leadloop.errors import ConfigError, LeadloopError
from leadloop.serve import docs, feedback
from leadloop.serve.champion import ChampionWatcher
from leadloop.serve.deps import (
    ERRORS,
    SECURED,
    ScoringDep,
    Service,
    ServiceDep,
    champion,
    check_key,
)
from leadloop.serve.metrics import BodyLimitMiddleware, MetricsMiddleware, ServiceMetrics
from leadloop.serve.schemas import LEAD_EXAMPLE, Health, Lead, ModelInfo, Problem, ScoreResponse

log = logging.getLogger(__name__)
# Worker processes started by uvicorn read these; they are not settings.
CONFIG_ENV = "LEADLOOP_CONFIG"  # the settings file
NO_AUTH_ENV = "LEADLOOP_NO_AUTH"  # "1" when `leadloop serve --no-auth` was given
WORKER_ENV = (CONFIG_ENV, NO_AUTH_ENV)
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
        _warn_about(settings, has_champion=watcher.current is not None)
        yield
        watcher.stop()
        store.dispose()

    app = FastAPI(
        title="leadloop",
        version=leadloop.__version__,
        summary="Lead scores with reasons, and the signed CRM webhooks that feed retraining.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.service = Service(settings, metrics, watcher, store)
    app.add_middleware(BodyLimitMiddleware, limit=settings.serve.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    _handlers(app)
    app.include_router(router)
    app.include_router(feedback.router)
    if settings.serve.docs:
        docs.install(app)
    return app


def _warn_about(settings: Settings, *, has_champion: bool) -> None:
    serve = settings.serve
    if serve.api_key is None:
        log.warning(
            "no API key: /v1/score and /v1/model answer anyone who can reach this address "
            "(set LEADLOOP_SERVE__API_KEY)"
        )
    if not has_champion:
        log.warning("no champion registered yet: /v1/score answers 503 until one is")
    secrets = (serve.webhook_secret, serve.hubspot.client_secret, serve.standard.secret)
    if all(secret is None for secret in secrets):
        log.warning("no webhook secret is set: the feedback routes answer 503")


def require_auth(settings: Settings, *, no_auth: bool) -> None:
    """Refuse to serve without a usable API key unless the operator said so (``--no-auth``)."""
    key = settings.serve.api_key
    if key is None and not no_auth:
        raise ConfigError(
            "no API key: set LEADLOOP_SERVE__API_KEY (clients then send `Authorization: Bearer "
            "<key>`), or pass --no-auth to serve without authentication"
        )
    if key is not None and key.get_secret_value() != key.get_secret_value().strip():
        raise ConfigError(
            "serve.api_key (LEADLOOP_SERVE__API_KEY) starts or ends with whitespace, which HTTP "
            "strips from headers: no client could send it"
        )


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
    environ = {k: v for k, v in os.environ.items() if k not in WORKER_ENV}
    settings = load_settings(Path(path) if path else None, environ=environ)
    require_auth(settings, no_auth=os.environ.get(NO_AUTH_ENV) == "1")
    return create_app(settings, metrics_dir=os.environ.get(METRICS_DIR_ENV))


def _handlers(app: FastAPI) -> None:
    """Errors to HTTP statuses, in one place: each error class names its status (errors.py)."""

    @app.exception_handler(LeadloopError)
    async def _leadloop(_request: Request, err: LeadloopError) -> JSONResponse:
        status = err.http_status
        if status >= 500:
            log.error("%s", err)
        retry = "; retry later" if status == 503 else ""
        return JSONResponse({"detail": f"{err}{retry}"}, status_code=status)


router = APIRouter()


@router.post(
    "/v1/score",
    response_model=ScoreResponse,
    responses={**ERRORS, 422: {"model": Problem, "description": "A field has a wrong value."}},
    tags=["scoring"],
    openapi_extra=SECURED,
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
    """Score leads with the champion: probability, score 1-99, grade, reasons, unknown fields."""
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
    scoring.service.metrics.scores.labels(scorer.version).inc(len(scores))
    return JSONResponse({"model_version": scorer.version, "scores": scores})


@router.get(
    "/v1/model",
    response_model=ModelInfo,
    responses={401: ERRORS[401], 503: ERRORS[503]},
    tags=["model"],
    openapi_extra=SECURED,
)
async def model_info(request: Request, service: ServiceDep) -> ModelInfo:
    """The champion being served: version, when it was trained, its holdout metrics."""
    check_key(service, request)
    loaded, settings = champion(service), service.settings
    card = loaded.card
    return ModelInfo(
        model_name=settings.tracking.model_name,
        version=loaded.scorer.version,
        trained_at=card.get("created"),
        trained_as=card.get("trained_as"),
        promoted_by=card.get("promoted_by"),
        promoted_at=card.get("promoted_at"),
        data_version=card.get("data_version"),
        run=card.get("run"),
        features=loaded.scorer.model.encoder.feature_names_,
        holdout_metrics=card.get("holdout_metrics", {}),
        loaded_at=loaded.loaded_at,
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
