"""Column typing and encoding for the model, fitted once and saved as JSON beside the model.

``FeatureEncoder`` follows the scikit-learn contract: ``__init__`` stores settings, ``fit``
learns which columns are features and how to encode them (state ending in ``_``), ``transform``
turns any table with those columns into the float matrix LightGBM reads, with categoricals as
LightGBM's own integer codes. Unknown and rare categories share an "other" code; missing values
stay NaN, as in training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from leadloop import leaks
from leadloop.data.labels import YoungLeads
from leadloop.errors import InputError
from leadloop.features.encode import encode_records, encode_table
from leadloop.features.guard import guard
from leadloop.features.kinds import LEAK_NAMES, RESERVED, Feature, Kind, infer_kind
from leadloop.leaks import Finding


class FeatureEncoder:
    """Learns feature columns and their encoding from a training table."""

    def __init__(
        self,
        *,
        exclude: tuple[str, ...] = (),
        feature_types: dict[str, Kind] | None = None,
        max_categories: int = 50,
        min_category_count: int = 5,
        id_like_share: float = leaks.ID_UNIQUE_SHARE,
    ) -> None:
        self.exclude = exclude
        self.feature_types = feature_types
        self.max_categories = max_categories
        self.min_category_count = min_category_count
        self.id_like_share = id_like_share

    def fit(
        self, frame: pd.DataFrame, y: np.ndarray | None = None, *, young: YoungLeads | None = None
    ) -> FeatureEncoder:
        """Type every column and learn categories; columns that cannot be features are recorded.

        The leak guard (``leadloop.leaks``) flags ids and counters; with labels ``y`` also
        nearly pure values and one dominant column; with ``young`` (recent leads, decided or
        not) also fields filled after the outcome. Flagged columns are excluded with their
        evidence unless declared in ``feature_types``; a declared one is kept and its finding
        marked kept.
        """
        declared = dict(self.feature_types or {})
        features: list[Feature] = []
        excluded: dict[str, str] = {}
        for name in map(str, frame.columns):
            reason = self._exclusion(name, frame[name], declared)
            if reason:
                excluded[name] = reason
                continue
            kind = declared.get(name) or infer_kind(frame[name])
            cats = self._categories(frame[name]) if kind == "categorical" else []
            features.append(Feature(name, kind, cats))
        labels = None if y is None else np.asarray(y, dtype=np.float64)
        guarded = guard(frame, features, labels, young, declared=frozenset(declared))
        self.features_ = guarded.features
        self.excluded_ = {**excluded, **guarded.excluded}
        self.findings_ = guarded.findings
        self.__dict__.pop("_codes_cache", None)
        if not self.features_:
            raise InputError(
                "no usable feature columns (every column is an id, a timestamp, a "
                f"label or excluded: {self.excluded_})"
            )
        return self

    def transform(self, frame: pd.DataFrame, *, source: str = "input") -> np.ndarray:
        """Encode ``frame`` into a float64 matrix, one column per feature, in fitted order."""
        return encode_table(self.features_, frame, source=source)

    def transform_records(
        self,
        records: Sequence[Mapping[str, Any]],
        *,
        now: pd.Timestamp | None = None,
        source: str = "request",
    ) -> np.ndarray:
        """Encode plain records (JSON objects) exactly as ``transform`` encodes a table (the
        per-request path: no DataFrame); ages are taken at ``created_at``, else at ``now``."""
        now = now if now is not None else pd.Timestamp.now(tz="UTC").tz_localize(None)
        return encode_records(self.features_, records, codes=self._codes(), now=now, source=source)

    def _codes(self) -> list[dict[str, int]]:
        """Per feature, category text -> LightGBM code (cached: the encoder is fitted once)."""
        cached: list[dict[str, int]] | None = getattr(self, "_codes_cache", None)
        if cached is None:
            cached = [{c: k for k, c in enumerate(f.categories)} for f in self.features_]
            self._codes_cache = cached
        return cached

    @property
    def feature_names_(self) -> list[str]:
        return [f.name for f in self.features_]

    @property
    def categorical_indices_(self) -> list[int]:
        return [j for j, f in enumerate(self.features_) if f.kind == "categorical"]

    def to_dict(self) -> dict[str, Any]:
        """The fitted encoding as JSON-ready data."""
        return {
            "features": [asdict(f) for f in self.features_],
            "excluded": self.excluded_,
            "leak_findings": [f.to_dict() for f in getattr(self, "findings_", [])],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureEncoder:
        """Rebuild a fitted encoder from ``to_dict`` output."""
        encoder = cls()
        encoder.features_ = [Feature(**f) for f in data["features"]]
        encoder.excluded_ = dict(data.get("excluded", {}))
        encoder.findings_ = [
            Finding(**{k: v for k, v in f.items() if k != "reason"})
            for f in data.get("leak_findings", [])
        ]
        return encoder

    def _exclusion(self, name: str, values: pd.Series, declared: dict[str, Kind]) -> str | None:
        if name in RESERVED:
            return "id or timestamp"
        if name in self.exclude:
            return "excluded by configuration"
        if name in declared:
            return None
        if name.strip().lower() in LEAK_NAMES:
            return (
                "name suggests it leaks the outcome (declare it in leads.feature_types to use it)"
            )
        present = values.dropna()
        if present.empty:
            return "all values missing"
        if present.nunique() < 2:
            return "constant"
        if infer_kind(values) == "categorical" and self._id_like(present):
            finding = leaks.text_ids(name, present)
            return f"free text or id-like: {finding.evidence}; {leaks.DECLARE}"
        return None

    def _id_like(self, present: pd.Series) -> bool:
        unique = present.nunique()
        return unique > self.max_categories and unique > self.id_like_share * len(present)

    def _categories(self, values: pd.Series) -> list[str]:
        counts = values.dropna().astype(str).value_counts()
        kept = counts[counts >= self.min_category_count].head(self.max_categories)
        return sorted(kept.index.tolist())
