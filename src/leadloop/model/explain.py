"""Score records: probability, score 1-99, grade, and the reasons behind each score.

Reasons come from LightGBM's own TreeSHAP contributions (``pred_contrib``), which are exact and
add up to the booster's log-odds margin. A sales rep reads points, not log-odds, so each lead's
contributions are scaled by one factor: the change of its score (0-100) from the baseline lead's
per unit of margin. The points therefore keep TreeSHAP's signs and order, and add up to how far
this lead's score is from the score of a lead with the average margin (where calibration is
flat around a lead, the booster's own probability curve sets the scale instead).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from leadloop.data.values import FALSE_WORDS, TRUE_WORDS
from leadloop.drift import grade_index
from leadloop.features import Feature, FeatureEncoder
from leadloop.model.train import LeadModel

GRADES = ("A", "B", "C", "D")
MIN_POINTS = 0.5  # a factor worth less than half a point is not a reason
_SLOPE_STEP = 0.05  # margin step for the local slope where a lead sits at the baseline


@dataclass(frozen=True)
class Scores:
    """Scores for a batch of leads, as arrays (one entry per lead)."""

    probability: np.ndarray
    score: np.ndarray
    grade: np.ndarray
    reasons: list[list[dict[str, Any]]] | None  # None: not asked for (or given as JSON)
    reasons_json: list[str] | None = None  # each lead's reasons as a JSON array


def score_matrix(
    model: LeadModel,
    matrix: np.ndarray,
    values: Mapping[str, Sequence[Any] | np.ndarray],
    *,
    cutoffs: Sequence[float],
    reasons: int,
    as_json: bool = False,
) -> Scores:
    """Score encoded leads; ``values`` holds each feature's raw values, for the reasons' words.

    The probability comes from the forest's margin (compiled trees where available); with
    ``reasons`` the exact TreeSHAP contributions are computed too, and each lead's top factors
    are listed, as dictionaries or (``as_json``, for files) as the JSON text of that list.
    """
    margin = model.forest.margin(matrix)
    proba = model.calibrator.predict(margin)
    score, grade = to_score(proba), to_grade(proba, cutoffs)
    if reasons == 0 or len(matrix) == 0:
        return Scores(proba, score, grade, None)
    contrib = model.explainer.contributions(matrix)
    points = _points(model, contrib, margin)
    labels = _labels(model.encoder)
    words = [
        _Words(feat, label, values.get(feat.name, ()))
        for feat, label in zip(model.encoder.features_, labels, strict=True)
    ]
    # Row by row, so that no big list of small objects is kept (the garbage collector would
    # scan it again and again).
    rows = ((i, points[i].tolist()) for i in range(len(points)))
    if as_json:
        texts = [_json_row(i, _picks(row, reasons), words) for i, row in rows]
        return Scores(proba, score, grade, None, texts)
    return Scores(
        proba, score, grade, [_dict_row(i, _picks(row, reasons), words) for i, row in rows]
    )


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
    both = model.calibrator.predict(np.concatenate([upper, lower]))
    rise = 100 * (both[: len(upper)] - both[len(upper) :])
    # Inside one flat step of an isotonic calibration the score does not move at all; the
    # booster's own probability curve then gives the scale, so the reasons do not vanish.
    raw_rise = 100 * (_sigmoid(upper) - _sigmoid(lower))
    slope = np.where(np.abs(rise) >= MIN_POINTS, rise, raw_rise) / run
    return np.asarray(contrib[:, :-1] * slope[:, None])


def _sigmoid(margin: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-margin)))


class _Label:
    """A feature's name and label, plain and JSON-escaped, and its known categories."""

    def __init__(self, feat: Feature) -> None:
        self.name = feat.name
        self.label = feat.name.replace("_", " ").strip()
        self.name_json = json.dumps(self.name)
        self.label_json = json.dumps(self.label)[1:-1]
        self.known = frozenset(feat.categories)


@lru_cache(maxsize=16)
def _labels(encoder: FeatureEncoder) -> tuple[_Label, ...]:
    """Per feature, its label (an encoder is fitted once: computed once per model)."""
    return tuple(_Label(feat) for feat in encoder.features_)


class _Words:
    """A feature's label and its values as a sales rep reads them."""

    def __init__(self, feat: Feature, label: _Label, values: Sequence[Any] | np.ndarray) -> None:
        self.name, self.label, self.known = label.name, label.label, label.known
        self.name_json, self.label_json = label.name_json, label.label_json
        self.feat = feat
        self.values = values
        self._json: dict[tuple[type, Any], str] = {}

    def value_json(self, row: int) -> str:
        """``value(row)`` escaped for a JSON string (without quotes), cached per raw value."""
        raw = self.values[row] if row < len(self.values) else None
        if isinstance(raw, float) and raw != raw:  # NaN: never equal to a cached key
            return "missing"
        try:
            key = (type(raw), raw)
            found = self._json.get(key)
        except TypeError:  # an unhashable value
            return _escaped(self.value(row))
        if found is None:
            found = self._json[key] = _escaped(self.value(row))
        return found

    def value(self, row: int) -> str:
        raw = self.values[row] if row < len(self.values) else None
        if raw is None or (isinstance(raw, float) and raw != raw):
            return "missing"
        if not isinstance(raw, str | bool | int | float) and bool(pd.isna(raw)):
            return "missing"
        if self.feat.kind == "categorical":
            text = str(raw)
            return text if text in self.known else f"{text} (rare or new)"
        if self.feat.kind == "boolean":
            return _yes_no(raw)
        if self.feat.kind == "numeric" and not isinstance(raw, bool):
            return _number(raw)
        return str(raw)


def _picks(row: list[float], count: int) -> list[tuple[int, float]]:
    """A lead's ``count`` largest positive factors, then its ``count`` largest negative ones
    (ties in feature order, the negatives' in reverse), each worth half a point or more."""
    order = sorted(range(len(row)), key=lambda j: -row[j])  # stable, like a stable argsort
    up = [(j, row[j]) for j in order[:count] if row[j] >= MIN_POINTS]
    return up + [(j, row[j]) for j in order[::-1][:count] if row[j] <= -MIN_POINTS]


def _dict_row(
    row: int, picks: list[tuple[int, float]], words: list[_Words]
) -> list[dict[str, Any]]:
    out = []
    for j, points in picks:
        w = words[j]
        value = w.value(row)
        shown = round(points)
        unit = "point" if abs(shown) == 1 else "points"
        out.append(
            {
                "feature": w.name,
                "value": value,
                "points": round(points, 1),
                "text": f"{w.label} = {value}: {shown:+d} {unit}",
            }
        )
    return out


def _json_row(row: int, picks: list[tuple[int, float]], words: list[_Words]) -> str:
    """``json.dumps(_dict_row(...))``, written directly (the same text, several times faster)."""
    parts = []
    for j, points in picks:
        w = words[j]
        value = w.value_json(row)
        shown = round(points)
        unit = "point" if abs(shown) == 1 else "points"
        parts.append(
            f'{{"feature": {w.name_json}, "value": "{value}", "points": {round(points, 1)!r}, '
            f'"text": "{w.label_json} = {value}: {shown:+d} {unit}"}}'
        )
    return "[" + ", ".join(parts) + "]"


_PLAIN = re.compile(r"[ !#-\[\]-~]*")  # printable ASCII but the quote and the backslash


def _escaped(text: str) -> str:
    """``text`` as inside a JSON string (``json.dumps`` without the quotes)."""
    return text if _PLAIN.fullmatch(text) else json.dumps(text)[1:-1]


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
