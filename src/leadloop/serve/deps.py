"""What routes share: the service built once per app, and the request dependencies.

Each dependency is an ``Annotated`` alias a route names as a parameter type (``ServiceDep``,
``ScoringDep``); these are the HTTP layer too, so they may answer 401 or 503 themselves.

Dependencies are coroutines and few: FastAPI runs plain functions in a thread pool, and each
dependency has a cost per request that is comparable to scoring a lead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from leadloop.config import Settings
from leadloop.data.store import FeedbackStore
from leadloop.serve.champion import ChampionWatcher, Loaded
from leadloop.serve.metrics import ServiceMetrics
from leadloop.serve.schemas import Problem
from leadloop.serve.score_writer import ScoreWriter
from leadloop.serve.security import bearer_matches

BEARER = "bearer"  # the OpenAPI security scheme's name
SECURED: dict[str, Any] = {"security": [{BEARER: []}]}  # openapi_extra of a keyed route
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Missing or wrong credentials."},
    413: {"model": Problem, "description": "Body or batch larger than the configured limit."},
    503: {"model": Problem, "description": "No champion yet, or the store is unreachable."},
}


@dataclass(frozen=True)
class Service:
    """What the routes work with, built once per app."""

    settings: Settings
    metrics: ServiceMetrics
    watcher: ChampionWatcher
    store: FeedbackStore
    score_log: ScoreWriter


@dataclass(frozen=True)
class Scoring:
    """An authorised request's service and the champion it will finish on."""

    service: Service
    champion: Loaded


async def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def scoring_of(request: Request) -> Scoring:
    """The API key check, then the current champion (503 until there is one)."""
    service: Service = request.app.state.service
    check_key(service, request)
    return Scoring(service, champion(service))


def check_key(service: Service, request: Request) -> None:
    """401 unless the request carries the API key (when one is configured)."""
    key = service.settings.serve.api_key
    if key is not None and not bearer_matches(
        request.headers.get("authorization"), key.get_secret_value()
    ):
        raise HTTPException(
            401,
            "a valid API key is required: send `Authorization: Bearer <key>`",
            headers={"WWW-Authenticate": "Bearer"},
        )


def champion(service: Service) -> Loaded:
    """The champion being served; 503 until one is registered."""
    loaded = service.watcher.current
    if loaded is None:
        raise HTTPException(503, "no champion model is registered yet: run `leadloop run` first")
    return loaded


ServiceDep = Annotated[Service, Depends(_service)]
ScoringDep = Annotated[Scoring, Depends(scoring_of)]
