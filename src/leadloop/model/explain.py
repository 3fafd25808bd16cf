"""Score records: probability, score 1-99, grade, and the reasons behind each score.

Reasons come from LightGBM's own TreeSHAP contributions (``pred_contrib``), which are exact and
add up to the booster's log-odds margin. A sales rep reads points, not log-odds, so each lead's
contributions are scaled by one factor: the change of its score (0-100) from the baseline lead's
per unit of margin. The points therefore keep TreeSHAP's signs and order, and add up to how far
this lead's score is from the score of a lead with the average margin (where calibration is
flat around a lead, the booster's own probability curve sets the scale instead).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from leadloop.data.values import FALSE_WORDS, TRUE_WORDS
from leadloop.drift import grade_index
from leadloop.features import Feature
from leadloop.model.train import LeadModel

GRADES = ("A", "B", "C", "D")
MIN_POINTS = 0.5  # a factor worth less than half a point is not a reason
FEW_ROWS = 256
_SLOPE_STEP = 0.05  # margin step for the local slope where a lead sits at the baseline


@dataclass(frozen=True)
class Scores:
    """Scores for a batch of leads, as arrays (one entry per lead)."""

    probability: np.ndarray
    score: np.ndarray
    grade: np.ndarray
    reasons: list[list[dict[str, Any]]] | None  # None: not asked for


def score_matrix(
    model: LeadModel,
    matrix: np.ndarray,
    values: Mapping[str, Sequence[Any] | np.ndarray],
    *,
    cutoffs: Sequence[float],
    reasons: int,
) -> Scores:
    """Score encoded leads; ``values`` holds each feature's raw values, for the reasons' words.

    With ``reasons`` 0 the booster predicts plainly (fast); otherwise it computes TreeSHAP
    contributions, whose sum is the margin, so one pass gives both.
    """
    # A few rows are faster on one thread: waking the others costs more than it saves.
    threads: dict[str, Any] = {"num_threads": 1} if len(matrix) <= FEW_ROWS else {}
    if reasons == 0 or len(matrix) == 0:
        raw = model.booster.predict(matrix, raw_score=True, **threads)
        proba = model.calibrator.predict(np.asarray(raw, dtype=np.float64))
        return Scores(proba, to_score(proba), to_grade(proba, cutoffs), None)
    contrib = np.asarray(model.booster.predict(matrix, pred_contrib=True, **threads), dtype=float)
    margin = contrib.sum(axis=1)
    proba = model.calibrator.predict(margin)
    points = _points(model, contrib, margin)
    words = [_Words(feat, values.get(feat.name, ())) for feat in model.encoder.features_]
    listed = [_top_reasons(row, words, i, reasons) for i, row in enumerate(points)]
    return Scores(proba, to_score(proba), to_grade(proba, cutoffs), listed)


def to_score(proba: np.ndarray) -> np.ndarray:
    """Probability as a whole score from 1 to 99 (1 point per percentage point)."""
    return np.asarray(np.clip(np.rint(np.asarray(proba) * 100), 1, 99), dtype=np.int64)


def to_grade(proba: np.ndarray, cutoffs: Sequence[float]) -> np.ndarray:
    """Grade A if the probability reaches cutoffs[0], B if cutoffs[1], C if cutoffs[2], else D."""
    return np.asarray(np.asarray(GRADES, dtype=object)[grade_index(proba, cutoffs)])


def _points(model: LeadModel, contrib: np.ndarray, margin: np.ndarray) -> np.ndarray:
    """Each feature's contribution in score points (see the module docstring)."""
    base = contrib[:, -1]
    gap = margin - base
    flat = np.abs(gap) < 1e-9
    upper = np.where(flat, base + _SLOPE_STEP, margin)
    lower = np.where(flat, base - _SLOPE_STEP, base)
    run = np.where(flat, 2 * _SLOPE_STEP, gap)
    rise = 100 * (model.calibrator.predict(upper) - model.calibrator.predict(lower))
    # Inside one flat step of an isotonic calibration the score does not move at all; the
    # booster's own probability curve then gives the scale, so the reasons do not vanish.
    raw_rise = 100 * (_sigmoid(upper) - _sigmoid(lower))
    slope = np.where(np.abs(rise) >= MIN_POINTS, rise, raw_rise) / run
    return np.asarray(contrib[:, :-1] * slope[:, None])


def _sigmoid(margin: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-margin)))


class _Words:
    """A feature's label and its values as a sales rep reads them."""

    def __init__(self, feat: Feature, values: Sequence[Any] | np.ndarray) -> None:
        self.name = feat.name
        self.label = feat.name.replace("_", " ").strip()
        self.feat = feat
        self.values = values
        self.known = set(feat.categories)

    def value(self, row: int) -> str:
        raw = self.values[row] if row < len(self.values) else None
        if raw is None or (not isinstance(raw, str) and bool(pd.isna(raw))):
            return "missing"
        if self.feat.kind == "categorical":
            text = str(raw)
            return text if text in self.known else f"{text} (rare or new)"
        if self.feat.kind == "boolean":
            return _yes_no(raw)
        if self.feat.kind == "numeric" and not isinstance(raw, bool):
            return _number(raw)
        return str(raw)


def _top_reasons(
    points: np.ndarray, words: list[_Words], row: int, count: int
) -> list[dict[str, Any]]:
    """The ``count`` largest positive factors, then the ``count`` largest negative ones."""
    order = np.argsort(-points, kind="stable")
    positive = [j for j in order[:count] if points[j] >= MIN_POINTS]
    negative = [j for j in order[::-1][:count] if points[j] <= -MIN_POINTS]
    out = []
    for j in positive + negative:
        w = words[j]
        value = w.value(row)
        shown = round(float(points[j]))
        unit = "point" if abs(shown) == 1 else "points"
        out.append(
            {
                "feature": w.name,
                "value": value,
                "points": round(float(points[j]), 1),
                "text": f"{w.label} = {value}: {shown:+d} {unit}",
            }
        )
    return out


def _yes_no(raw: Any) -> str:
    text = str(raw).strip().lower()
    if text in TRUE_WORDS:
        return "yes"
    if text in FALSE_WORDS:
        return "no"
    return str(raw)


def _number(raw: Any) -> str:
    try:
        number = float(raw)
    except (TypeError, ValueError):
        return str(raw)
    if number.is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    return f"{number:,.4g}" if abs(number) >= 1 else f"{number:.3g}"
