"""What training learns about a model beyond its trees, saved with it as JSON.

Training writes it (``model/train.py``); assessment reads it (``assess.py``): the drift
reference, the score profile, the offsets of its label null and its global importance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModelMetadata:
    """Facts of one trained model. Fields may be None for models saved by older versions."""

    feature_importance: dict[str, float] = field(default_factory=dict)  # mean |contribution|
    label_null: dict[str, float] | None = None  # see label_quality.null_offsets
    validation_auc: float | None = None
    trained_rows: int = 0
    profile: dict[str, Any] | None = None  # drift.build_profile of the training matrix
    score_profile: dict[str, Any] | None = None  # drift.score_profile on the calibration slice

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelMetadata:
        """Read what ``to_dict`` wrote; unknown keys (from newer versions) are ignored."""
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)
