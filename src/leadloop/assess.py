"""The evidence behind a promotion decision: paired differences, drift, label quality and the
champion's standing under today's feature policy.

Pure functions of the models, the shared holdout and the newest leads; the pipeline hands the
result to ``gate.decide``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from leadloop.columns import CHALLENGER, CHAMPION, CREATED_AT, LABEL, LEAD_ID
from leadloop.config import (
    DriftConfig,
    EvaluationConfig,
    GateConfig,
    LabelQualityConfig,
    Settings,
)
from leadloop.drift import DriftReport, feature_drift, label_drift, score_shift
from leadloop.evaluate import (
    Metrics,
    PairedDifference,
    bootstrap_recall_difference,
    delong_auc_difference,
    ece_noise_floor,
)
from leadloop.gate import Evidence
from leadloop.influence import OffPolicy, ipw_weights, off_policy_auc_difference
from leadloop.label_quality import LabelPolicy, LabelQuality, assess_labels
from leadloop.model.scored import Scored
from leadloop.model.train import LeadModel

DATA_STATES = ("constant", "all values missing")


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
            "off_policy_difference": (
                ev.off_policy.difference.to_dict() if ev.off_policy is not None else None
            ),
            "off_policy": ev.off_policy.to_dict() if ev.off_policy is not None else None,
            "top_features": ev.top_features,
            "policy_conflicts": ev.policy_conflicts,
            "drift": ev.drift.to_dict() if ev.drift is not None else None,
            "label_quality": ev.label_quality.to_dict() if ev.label_quality is not None else None,
            "label_drift": self.label_drift,
            "score_shift": self.score_shift,
        }


@dataclass(frozen=True)
class Policy:
    """The settings assessment reads: the gate's, drift's and label quality's, the business
    figures of evaluation, and the run's seed."""

    gate: GateConfig
    drift: DriftConfig
    label_quality: LabelQualityConfig
    evaluation: EvaluationConfig
    seed: int

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        return cls(
            settings.gate,
            settings.drift,
            settings.label_quality,
            settings.evaluation,
            settings.model.seed,
        )


def assess(
    policy: Policy,
    *,
    champion: Scored,
    challenger: LeadModel,
    holdout: pd.DataFrame,
    scores: pd.DataFrame,
    metrics: dict[str, Metrics],
    importance: dict[str, float],
    train_rows: pd.DataFrame,
    history_label: np.ndarray | None,
    labeled: pd.DataFrame,
    propensity: np.ndarray | None = None,
) -> Assessment:
    """Everything the gate weighs, computed once.

    ``importance`` is the champion's mean |contribution| per feature on the holdout, the same
    figures the report shows. ``champion`` is the champion scored on the newest leads (the
    holdout window and later: what drift reads). ``propensity`` (per holdout row, from the
    score log) gives the off-policy comparison when every holdout lead has one.
    """
    gate = policy.gate
    y = scores[LABEL].to_numpy()
    champ, chall = scores[CHAMPION].to_numpy(), scores[CHALLENGER].to_numpy()
    evidence = Evidence(
        auc=delong_auc_difference(y, champ, chall, confidence=gate.confidence),
        recall=_recall(policy, y, champ, chall),
        champion_auc=metrics[CHAMPION].roc_auc,
        challenger_auc=metrics[CHALLENGER].roc_auc,
        challenger_ece=metrics[CHALLENGER].ece,
        champion_ece=metrics[CHAMPION].ece,
        ece_noise=ece_noise_floor(
            metrics[CHALLENGER].n,
            metrics[CHALLENGER].base_rate,
            bins=policy.evaluation.calibration_bins,
        ),
        holdout_positives=metrics[CHALLENGER].positives,
        holdout_rows=metrics[CHALLENGER].n,
        top_features=top_features(importance),
        drift=_drift(policy.drift, champion),
        label_quality=_label_quality(
            policy,
            champion=champion,
            holdout=holdout,
            scores=scores,
            history=_history_pairs(train_rows, history_label),
        ),
        policy_conflicts=policy_conflicts(champion.model, challenger),
        off_policy=_off_policy(policy, y, champ, chall, propensity),
    )
    created = labeled[CREATED_AT] if CREATED_AT in labeled.columns else None
    months = label_drift(created, labeled[LABEL].to_numpy()) if created is not None else []
    shift = score_shift(champ, chall, cutoffs=tuple(policy.evaluation.grade_cutoffs))
    return Assessment(evidence, months, shift.to_dict())


def _recall(
    policy: Policy, y: np.ndarray, champion: np.ndarray, challenger: np.ndarray
) -> PairedDifference:
    return bootstrap_recall_difference(
        y,
        champion,
        challenger,
        capacity=policy.evaluation.capacity,
        confidence=policy.gate.confidence,
        resamples=policy.gate.bootstrap_resamples,
        seed=policy.seed,
    )


def _off_policy(
    policy: Policy,
    y: np.ndarray,
    champion: np.ndarray,
    challenger: np.ndarray,
    propensity: np.ndarray | None,
) -> OffPolicy | None:
    """Champion and challenger compared on all leads, each worked lead weighted by 1 /
    propensity; none unless every holdout lead has a logged propensity."""
    if propensity is None or len(propensity) == 0 or np.isnan(propensity).any():
        return None
    return off_policy_auc_difference(
        y,
        champion,
        challenger,
        ipw_weights(propensity).weights,
        confidence=policy.gate.confidence,
        resamples=policy.gate.bootstrap_resamples,
        seed=policy.seed,
    )


def top_features(importance: dict[str, float]) -> list[str]:
    """Features by mean |contribution|, most important first."""
    return [name for name, _ in sorted(importance.items(), key=lambda kv: -float(kv[1]))]


def policy_conflicts(champion: LeadModel, challenger: LeadModel) -> dict[str, str]:
    """Columns the champion uses that today's run excludes (configured, declared or found to
    leak), with today's reason. A column that is merely constant or empty today is not a
    change of policy."""
    today = challenger.encoder.excluded_
    return {
        name: today[name]
        for name in champion.encoder.feature_names_
        if name in today and today[name] not in DATA_STATES
    }


def _drift(config: DriftConfig, newest: Scored) -> DriftReport | None:
    champion = newest.model
    profile = champion.metadata.profile
    if profile is None or newest.frame.empty:
        return None
    return feature_drift(
        profile,
        newest.matrix,
        champion.encoder.features_,
        thresholds=config,
        reference_scores=champion.metadata.score_profile,
        current_scores=newest.proba,
    )


def _history_pairs(
    train_rows: pd.DataFrame, history_label: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray] | None:
    if history_label is None:
        return None
    return train_rows[LABEL].to_numpy(dtype=np.float64), history_label


def _label_quality(
    policy: Policy,
    *,
    champion: Scored,
    holdout: pd.DataFrame,
    scores: pd.DataFrame,
    history: tuple[np.ndarray, np.ndarray] | None,
) -> LabelQuality:
    """Label checks on the holdout, with the champion's own (uncalibrated booster) probability:
    the isotonic step function is flat at its ends, which would make the null too certain."""
    margin = champion.margin_of(holdout, source="holdout")
    return assess_labels(
        scores[LABEL].to_numpy(),
        champion=1 / (1 + np.exp(-np.asarray(margin, dtype=np.float64))),
        challenger=scores[CHALLENGER].to_numpy(),
        lead_ids=scores[LEAD_ID].to_numpy(),
        history=history,
        offsets=champion.model.metadata.label_null,
        policy=LabelPolicy(
            policy.label_quality, confidence=policy.gate.confidence, seed=policy.seed
        ),
    )
