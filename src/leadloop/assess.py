"""The evidence behind a promotion decision: paired differences, drift and label quality.

Pure functions of the models, the shared holdout and the newest leads; the pipeline hands the
result to ``gate.decide``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from leadloop.config import Settings
from leadloop.drift import DriftReport, DriftThresholds, feature_drift, label_drift, score_shift
from leadloop.evaluate import (
    Metrics,
    bootstrap_recall_difference,
    delong_auc_difference,
    ece_noise_floor,
)
from leadloop.gate import Evidence
from leadloop.label_quality import LabelQuality, LabelQualityThresholds, assess_labels
from leadloop.model.train import LeadModel

REFERENCE_AUC = "validation_auc"


@dataclass(frozen=True)
class Assessment:
    """Gate evidence plus the descriptive figures that go in the report."""

    evidence: Evidence
    label_drift: list[dict[str, Any]]
    score_shift: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        ev = self.evidence
        return {
            "auc_difference": ev.auc.to_dict(),
            "recall_difference": ev.recall.to_dict(),
            "top_features": ev.top_features,
            "drift": ev.drift.to_dict() if ev.drift is not None else None,
            "label_quality": ev.label_quality.to_dict() if ev.label_quality is not None else None,
            "label_drift": self.label_drift,
            "score_shift": self.score_shift,
        }


def assess(
    settings: Settings,
    *,
    champion: LeadModel,
    scores: pd.DataFrame,
    metrics: dict[str, Metrics],
    train_rows: pd.DataFrame,
    history_label: np.ndarray | None,
    current: pd.DataFrame,
    labeled: pd.DataFrame,
) -> Assessment:
    """Everything the gate weighs, computed once."""
    gate = settings.gate
    y = scores["label"].to_numpy()
    champ, chall = scores["champion"].to_numpy(), scores["challenger"].to_numpy()
    evidence = Evidence(
        auc=delong_auc_difference(y, champ, chall, confidence=gate.confidence),
        recall=bootstrap_recall_difference(
            y,
            champ,
            chall,
            capacity=settings.evaluation.capacity,
            confidence=gate.confidence,
            resamples=gate.bootstrap_resamples,
            seed=settings.model.seed,
        ),
        champion_auc=metrics["champion"].roc_auc,
        challenger_auc=metrics["challenger"].roc_auc,
        challenger_ece=metrics["challenger"].ece,
        champion_ece=metrics["champion"].ece,
        ece_noise=ece_noise_floor(
            metrics["challenger"].n,
            metrics["challenger"].base_rate,
            bins=settings.evaluation.calibration_bins,
        ),
        holdout_positives=metrics["challenger"].positives,
        holdout_rows=metrics["challenger"].n,
        champion_reference_auc=champion.metadata.get(REFERENCE_AUC),
        top_features=top_features(champion),
        drift=_drift(settings, champion, current),
        label_quality=_label_quality(settings, train_rows, history_label),
    )
    created = labeled["created_at"] if "created_at" in labeled.columns else None
    months = label_drift(created, labeled["label"].to_numpy()) if created is not None else []
    shift = score_shift(champ, chall, cutoffs=tuple(settings.evaluation.grade_cutoffs))
    return Assessment(evidence, months, shift.to_dict())


def top_features(model: LeadModel) -> list[str]:
    """The model's features by total gain, most important first."""
    gains = model.metadata.get("feature_importance_gain", {})
    return [name for name, _ in sorted(gains.items(), key=lambda kv: -float(kv[1]))]


def _drift(settings: Settings, champion: LeadModel, current: pd.DataFrame) -> DriftReport | None:
    profile = champion.metadata.get("profile")
    if profile is None or current.empty:
        return None
    gate = settings.gate
    thresholds = DriftThresholds(
        psi_severe=gate.psi_severe, ks_severe=gate.ks_severe, js_severe=gate.js_severe
    )
    matrix = champion.encoder.transform(current, source="newest leads")
    return feature_drift(
        profile,
        matrix,
        champion.encoder.features_,
        thresholds=thresholds,
        reference_scores=champion.metadata.get("score_profile"),
        current_scores=champion.predict_matrix(matrix),
    )


def _label_quality(
    settings: Settings, train_rows: pd.DataFrame, history_label: np.ndarray | None
) -> LabelQuality:
    gate = settings.gate
    thresholds = LabelQualityThresholds(
        max_suspicious_share=gate.max_suspicious_share,
        min_signal_auc=gate.min_signal_auc,
        max_champion_auc_drop=gate.max_champion_auc_drop,
        min_history_agreement=gate.min_history_agreement,
    )
    return assess_labels(
        train_rows.drop(columns=["label"]),
        train_rows["label"].to_numpy(),
        model_config=settings.model,
        thresholds=thresholds,
        history_label=history_label,
        exclude=tuple(settings.leads.exclude_columns),
    )
