"""``GET /healthz`` for probes and ``GET /metrics`` for Prometheus: no key, nothing secret."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from leadloop.serve.deps import ServiceDep
from leadloop.serve.problems import SafeJSONResponse
from leadloop.serve.schemas import Health

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz(service: ServiceDep) -> Response:
    """200 when a champion is loaded and scoring works; 503 (status no_model) until then."""
    loaded = service.watcher.current
    health = Health(
        status="ok" if loaded else "no_model",
        model_version=loaded.scorer.version if loaded else None,
        feedback_store=service.store.safe_url,
    )
    return SafeJSONResponse(health.model_dump(), status_code=200 if loaded else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."}},
)
async def prometheus(service: ServiceDep) -> Response:
    """Prometheus metrics: requests, latencies, scores served, feedback stored."""
    loaded = service.watcher.current
    if loaded is not None and loaded.scorer.version.isdigit():
        service.metrics.model_version.set(int(loaded.scorer.version))
    return Response(service.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
