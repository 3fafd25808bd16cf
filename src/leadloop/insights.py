"""What the report shows beyond the gate's evidence: performance per segment, and the
champion's expected performance on the leads whose outcomes have not matured yet.

Pure: models and tables in, typed results out; the pipeline stores them in the run record
(and the young leads' scores beside it, so a later ``leadloop history`` can check the estimate
against the outcomes once they mature).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from leadloop.columns import CHALLENGER, CHAMPION, CREATED_AT, LABEL, LEAD_ID, STATUS
from leadloop.config import GateConfig
from leadloop.data.labels import LabelResult
from leadloop.estimate import PerformanceEstimate, backtest, estimate_performance
from leadloop.model.scored import Scored
from leadloop.model.train import LeadModel
from leadloop.segments import SegmentReport, segment_performance

SEGMENT_KINDS = ("categorical", "boolean")
YOUNG_SCORES = "young_scores.parquet"
PROBABILITY = "probability"  # the champion's, in the young leads' table


@dataclass(frozen=True)
class YoungEstimate:
    """The immature leads, the champion's estimate on them, or why there is none."""

    estimate: PerformanceEstimate | None
    why_not: str | None
    scores: pd.DataFrame  # lead_id, created_at, probability (the champion's), status today
    created_from: str | None = None
    created_to: str | None = None

    def to_dict(self) -> dict[str, Any]:
        status = self.scores[STATUS] if len(self.scores) else pd.Series(dtype=object)
        return {
            "estimate": self.estimate.to_dict() if self.estimate is not None else None,
            "why_not": self.why_not,
            "leads": len(self.scores),
            "decided_so_far": {s: int((status == s).sum()) for s in ("won", "lost")},
            "created_from": self.created_from,
            "created_to": self.created_to,
        }


@dataclass(frozen=True)
class Insights:
    """Segments and the immature-lead estimate of one run."""

    segments: SegmentReport
    young: YoungEstimate

    def to_dict(self) -> dict[str, Any]:
        return {"segments": self.segments.to_dict(), "young": self.young.to_dict()}


def describe(
    gate: GateConfig,
    *,
    seed: int,
    champion: Scored,
    challenger: LeadModel,
    holdout: pd.DataFrame,
    scores: pd.DataFrame,
    leads: pd.DataFrame,
    labels: LabelResult,
) -> Insights:
    """Segments of the shared holdout and the estimate on today's immature leads
    (``champion``: the champion scored on the newest leads, among which the young ones are)."""
    names = {
        f.name
        for model in (champion.model, challenger)
        for f in model.encoder.features_
        if f.kind in SEGMENT_KINDS and f.name in holdout.columns
    }
    segments = segment_performance(
        holdout,
        y=scores[LABEL].to_numpy(),
        champion=scores[CHAMPION].to_numpy(),
        challenger=scores[CHALLENGER].to_numpy(),
        features=sorted(names),
        min_minority=gate.min_holdout_minority,
        confidence=gate.confidence,
    )
    young = young_estimate(
        gate, seed=seed, champion=champion, scores=scores, leads=leads, labels=labels
    )
    return Insights(segments, young)


def young_estimate(
    gate: GateConfig,
    *,
    seed: int,
    champion: Scored,
    scores: pd.DataFrame,
    leads: pd.DataFrame,
    labels: LabelResult,
) -> YoungEstimate:
    """CBPE on every lead younger than the maturity window at the cutoff, decided or not (the
    decided ones are mostly quick wins: leaving them out would bias the estimate down)."""
    empty = pd.DataFrame(columns=[LEAD_ID, CREATED_AT, PROBABILITY, STATUS])
    if labels.maturity_days <= 0:  # labels from the leads' own column have no window
        why = "labels come from the leads' own column: no outcome is waiting to mature"
        return YoungEstimate(None, why, empty)
    if CREATED_AT not in leads.columns:
        return YoungEstimate(None, "the leads have no creation time", empty)
    created = leads[CREATED_AT]
    young = (
        (created > labels.cutoff - pd.Timedelta(days=labels.maturity_days))
        & (created < labels.cutoff)
    ).to_numpy()
    if not young.any():
        why = f"no lead is younger than the maturity window ({labels.maturity_days} days)"
        return YoungEstimate(None, why, empty)
    rows = leads.loc[young]
    p = champion.proba_of(rows, source="young leads")
    table = pd.DataFrame(
        {
            LEAD_ID: rows[LEAD_ID].to_numpy(),
            CREATED_AT: rows[CREATED_AT].to_numpy(),
            PROBABILITY: p,
            STATUS: labels.labels[STATUS].to_numpy()[young],
        }
    )
    reference = backtest(
        scores[LABEL].to_numpy(),
        scores[CHAMPION].to_numpy(),
        draws=gate.bootstrap_resamples,
        seed=seed,
    )
    estimate = estimate_performance(
        p,
        reference=reference,
        confidence=gate.confidence,
        draws=gate.bootstrap_resamples,
        seed=seed,
    )
    first, last = rows[CREATED_AT].min(), rows[CREATED_AT].max()
    return YoungEstimate(estimate, None, table, _day(first), _day(last))


def _day(stamp: Any) -> str | None:
    return None if pd.isna(stamp) else pd.Timestamp(stamp).strftime("%Y-%m-%d")
