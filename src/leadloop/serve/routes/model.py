"""``GET /v1/model``: the champion being served, its training and its holdout metrics."""

from __future__ import annotations

from fastapi import APIRouter

from leadloop.serve.deps import ERRORS, SECURED, ScoringDep
from leadloop.serve.schemas import ModelInfo

router = APIRouter(tags=["model"])


@router.get(
    "/v1/model",
    response_model=ModelInfo,
    responses={401: ERRORS[401], 503: ERRORS[503]},
    openapi_extra=SECURED,
)
async def model_info(scoring: ScoringDep) -> ModelInfo:
    """The champion being served: version, when it was trained, its holdout metrics."""
    loaded, settings = scoring.champion, scoring.service.settings
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
