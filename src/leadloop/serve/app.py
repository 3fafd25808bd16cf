"""The app factory: the service's parts built once, its routers, middleware and error mapping.

``create_app`` wires everything for one ``Settings``; ``app_from_environment`` is the factory
uvicorn's worker processes call. Routes live in ``routes/`` (one router per resource), what they
share in ``deps``, and the mapping of errors to HTTP statuses in ``problems``.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

import leadloop
from leadloop.config import Settings, load_settings
from leadloop.data.store import FeedbackStore
from leadloop.errors import ConfigError
from leadloop.serve import docs, problems
from leadloop.serve.champion import ChampionWatcher
from leadloop.serve.deps import Service
from leadloop.serve.metrics import BodyLimitMiddleware, MetricsMiddleware, ServiceMetrics
from leadloop.serve.routes import feedback, model, operations, score
from leadloop.serve.score_writer import ScoreWriter

log = logging.getLogger(__name__)
# Worker processes started by uvicorn read these; they are not settings.
CONFIG_ENV = "LEADLOOP_CONFIG"  # the settings file
NO_AUTH_ENV = "LEADLOOP_NO_AUTH"  # "1" when `leadloop serve --no-auth` was given
WORKER_ENV = (CONFIG_ENV, NO_AUTH_ENV)
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's shared directory


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
        default_response_class=problems.SafeJSONResponse,
    )
    app.state.service = Service(settings, metrics, watcher, store, ScoreWriter(store))
    app.add_middleware(BodyLimitMiddleware, limit=settings.serve.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    problems.install(app)
    for resource in (score, model, operations, feedback):
        app.include_router(resource.router)
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


def worker_command(*, host: str, port: int, workers: int) -> list[str]:
    """The command that serves with several workers: uvicorn's own, in a fresh interpreter.

    uvicorn starts each worker with multiprocessing's spawn, which first re-runs the parent's
    main script. Run from the ``leadloop`` script, that imports the whole CLI (MLflow, LightGBM,
    pandas) before the worker can answer uvicorn's health check, which gives up after 5 s: on a
    busy machine workers were killed and respawned without end. ``python -m uvicorn`` is a main
    module spawn does not re-run: a worker answers at once, then imports the app and loads the
    champion. The settings file and ``--no-auth`` reach workers in ``WORKER_ENV``.
    """
    return [
        sys.executable,
        "-m",
        "uvicorn",
        f"{__name__}:{app_from_environment.__name__}",
        "--factory",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]


def app_from_environment() -> FastAPI:
    """App factory for uvicorn worker processes: settings from ``LEADLOOP_CONFIG`` and env."""
    path = os.environ.get(CONFIG_ENV)
    environ = {k: v for k, v in os.environ.items() if k not in WORKER_ENV}
    settings = load_settings(Path(path) if path else None, environ=environ)
    require_auth(settings, no_auth=os.environ.get(NO_AUTH_ENV) == "1")
    return create_app(settings, metrics_dir=os.environ.get(METRICS_DIR_ENV))
