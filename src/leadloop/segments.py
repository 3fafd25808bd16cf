"""Champion vs challenger per segment of the holdout: each value of a categorical feature.

A segment is judged only with enough support: at least ``min_minority`` leads of each outcome
(the gate's rule for the whole holdout, applied to the segment). Its AUC difference has a
DeLong interval at a Bonferroni-adjusted level over every segment judged, so the flags hold
jointly: the chance that any segment is flagged "worse" by noise alone is at most 1 - confidence.
A lower AUC whose interval reaches zero is named as such ("lower, not proven"), never hidden.
Segments too small to judge are counted, never silently dropped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from leadloop.data.values import text_codes
from leadloop.evaluate import delong_auc_difference

MISSING = "(missing)"
Flag = Literal["worse", "better", "lower, not proven", "higher, not proven"]


@dataclass(frozen=True)
class Segment:
    """One value of one feature on the holdout, with both models' ranking inside it."""

    feature: str
    value: str
    leads: int
    won: int
    conversion: float
    champion_auc: float
    challenger_auc: float
    difference: float
    lower: float
    upper: float
    flag: Flag


@dataclass(frozen=True)
class SegmentReport:
    """Every judged segment, how many were too small, and the rule used."""

    segments: list[Segment]
    too_small: dict[str, int]  # per feature: segments without enough support
    min_minority: int
    confidence: float  # the joint level; each interval is at the Bonferroni-adjusted one
    adjusted_confidence: float
    features: list[str] = field(default_factory=list)

    def worse(self) -> list[Segment]:
        """Segments where the challenger ranks proven worse than the champion."""
        return [s for s in self.segments if s.flag == "worse"]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def segment_performance(
    frame: pd.DataFrame,
    *,
    y: np.ndarray,
    champion: np.ndarray,
    challenger: np.ndarray,
    features: list[str],
    min_minority: int = 30,
    confidence: float = 0.95,
) -> SegmentReport:
    """Both models' AUC per value of each feature in ``features`` (columns of ``frame``)."""
    y = np.asarray(y, dtype=np.float64)
    candidates: list[tuple[str, str, np.ndarray]] = []
    too_small: dict[str, int] = {}
    for name in features:
        codes, labels = _values(frame[name])
        for k, value in enumerate(labels):
            mask = codes == k
            won = int(y[mask].sum())
            if min(won, int(mask.sum()) - won) >= min_minority:
                candidates.append((name, value, mask))
            else:
                too_small[name] = too_small.get(name, 0) + 1
    adjusted = 1 - (1 - confidence) / max(len(candidates), 1)
    segments = [
        _segment(name, value, y[mask], champion[mask], challenger[mask], adjusted)
        for name, value, mask in candidates
    ]
    return SegmentReport(segments, too_small, min_minority, confidence, adjusted, list(features))


def _values(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each lead's segment (an index into the sorted labels): the value as text, missing as its
    own segment."""
    return text_codes(column.astype(object).where(column.notna(), MISSING))


def _segment(
    name: str,
    value: str,
    y: np.ndarray,
    champion: np.ndarray,
    challenger: np.ndarray,
    confidence: float,
) -> Segment:
    paired = delong_auc_difference(y, champion, challenger, confidence=confidence)
    flag: Flag
    if paired.upper < 0:
        flag = "worse"
    elif paired.lower > 0:
        flag = "better"
    else:
        flag = "lower, not proven" if paired.difference < 0 else "higher, not proven"
    champion_auc = _auc(y, champion)
    return Segment(
        feature=name,
        value=value,
        leads=len(y),
        won=int(y.sum()),
        conversion=float(y.mean()),
        champion_auc=champion_auc,
        challenger_auc=champion_auc + paired.difference,
        difference=paired.difference,
        lower=paired.lower,
        upper=paired.upper,
        flag=flag,
    )


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    ranks = rankdata(p)
    won = y == 1
    m, n = int(won.sum()), int((~won).sum())
    return float((ranks[won].sum() - m * (m + 1) / 2) / (m * n))
