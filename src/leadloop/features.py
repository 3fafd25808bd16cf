"""Column typing and encoding for the model, fitted once and saved as JSON beside the model.

``FeatureEncoder`` follows the scikit-learn contract: ``__init__`` stores settings, ``fit``
learns which columns are features and how to encode them (state ending in ``_``), ``transform``
turns any table with those columns into the float matrix LightGBM reads, with categoricals as
LightGBM's own integer codes. Unknown and rare categories share an "other" code; missing values
stay NaN, as in training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from leadloop import dominance, leaks
from leadloop.data.labels import YoungLeads
from leadloop.errors import InputError
from leadloop.leaks import Finding

Kind = Literal["numeric", "categorical", "boolean", "datetime"]
RESERVED = ("lead_id", "created_at")
LEAK_NAMES = frozenset(
    {
        "converted",
        "conversion",
        "is_converted",
        "won",
        "is_won",
        "lost",
        "outcome",
        "result",
        "stage",
        "deal_stage",
        "opportunity_stage",
        "close_date",
        "closed_at",
        "closed_date",
        "close_reason",
        "lost_reason",
        "revenue_won",
    }
)
_BOOL_TEXT = {"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0, "y": 1.0, "n": 0.0}


@dataclass(frozen=True)
class Feature:
    """One model input: its column, its kind and, for categoricals, the categories in code order."""

    name: str
    kind: Kind
    categories: list[str] = field(default_factory=list)


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
        self.findings_: list[Finding] = []
        for name in map(str, frame.columns):
            reason = self._exclusion(name, frame[name], declared)
            if reason:
                excluded[name] = reason
                continue
            kind = declared.get(name) or _infer_kind(frame[name])
            cats = self._categories(frame[name]) if kind == "categorical" else []
            features.append(Feature(name, kind, cats))
        self.features_ = features
        self.excluded_ = excluded
        self._guard(frame, None if y is None else np.asarray(y, dtype=np.float64), young)
        if not self.features_:
            raise InputError(
                "no usable feature columns (every column is an id, a timestamp, a "
                f"label or excluded: {self.excluded_})"
            )
        return self

    def _guard(self, frame: pd.DataFrame, y: np.ndarray | None, young: YoungLeads | None) -> None:
        """Run the leak checks in turn, each on the columns the previous ones left."""
        numeric = {f.name: frame[f.name] for f in self.features_ if f.kind == "numeric"}
        created = frame["created_at"] if "created_at" in frame.columns else None
        self._apply(leaks.counters(_numbers(numeric), created))
        if y is None or len(np.unique(y)) < 2:
            return
        rows = np.sort(np.random.default_rng(0).permutation(len(y))[: leaks.SAMPLE_ROWS])
        sample = frame.iloc[rows]
        kinds = {f.name: f.kind for f in self.features_}
        values = {n: sample[n] for n, k in kinds.items() if k != "datetime"}
        self._apply(leaks.pure_values(values, y[rows]))
        if young is not None:
            self._apply(leaks.after_outcome([f.name for f in self.features_], young))
        encoded = dominance.Encoded(
            self.transform(sample, source="training data"),
            self.feature_names_,
            self.categorical_indices_,
            y[rows],
            frozenset(f.name for f in self.features_ if f.kind in ("numeric", "datetime")),
        )
        self._apply(dominance.dominant(encoded))

    def _apply(self, findings: list[Finding]) -> None:
        """Exclude each flagged column unless declared; record every finding."""
        declared = set(self.feature_types or {})
        for finding in findings:
            kept = finding.column in declared
            self.findings_.append(replace(finding, kept=kept))
            if not kept:
                self.excluded_[finding.column] = finding.reason
        self.features_ = [f for f in self.features_ if f.name not in self.excluded_]
        self.__dict__.pop("_codes_cache", None)

    def transform(self, frame: pd.DataFrame, *, source: str = "input") -> np.ndarray:
        """Encode ``frame`` into a float64 matrix, one column per feature, in fitted order."""
        missing = [f.name for f in self.features_ if f.name not in frame.columns]
        if missing:
            raise InputError(
                f"columns the model needs are missing: {missing}", path=source, column=missing[0]
            )
        reference = frame["created_at"] if "created_at" in frame.columns else None
        out = np.empty((len(frame), len(self.features_)), dtype=np.float64)
        for j, feat in enumerate(self.features_):
            out[:, j] = _encode(frame[feat.name], feat, reference=reference, source=source)
        return out

    def transform_records(
        self,
        records: Sequence[Mapping[str, Any]],
        *,
        now: pd.Timestamp | None = None,
        source: str = "request",
    ) -> np.ndarray:
        """Encode plain records (JSON objects) exactly as ``transform`` encodes a table.

        The per-request path: no DataFrame is built. A key a record lacks is a missing value;
        a datetime feature's age is taken at the record's ``created_at``, else at ``now``.
        """
        out = np.full((len(records), len(self.features_)), np.nan, dtype=np.float64)
        codes = self._codes()
        now = now if now is not None else pd.Timestamp.now(tz="UTC").tz_localize(None)
        for j, feat in enumerate(self.features_):
            for i, record in enumerate(records):
                value = record.get(feat.name)
                if value is None or (isinstance(value, float) and value != value):
                    continue
                try:
                    out[i, j] = _encode_value(value, feat, codes[j], record, now)
                except (TypeError, ValueError) as err:
                    raise InputError(
                        f"expected {_EXPECTED[feat.kind]}, found {value!r}",
                        path=source,
                        column=feat.name,
                        rows=[i + 1],
                    ) from err
        return out

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
        if _infer_kind(values) == "categorical" and self._id_like(present):
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


def _numbers(columns: dict[str, pd.Series]) -> dict[str, pd.Series]:
    """Numeric columns as floats (text digits included), for the id and counter check."""
    return {n: pd.to_numeric(v, errors="coerce") for n, v in columns.items()}


def _infer_kind(values: pd.Series) -> Kind:
    if pd.api.types.is_bool_dtype(values):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "datetime"
    if pd.api.types.is_numeric_dtype(values):
        return "numeric"
    present = values.dropna().astype(str).str.strip().str.lower()
    if len(present) and present.isin(list(_BOOL_TEXT)).all():
        return "boolean"
    return "categorical"


def _encode(
    values: pd.Series, feat: Feature, *, reference: pd.Series | None, source: str
) -> np.ndarray:
    if feat.kind == "numeric":
        return _numeric(values, feat.name, source)
    if feat.kind == "boolean":
        return _boolean(values)
    if feat.kind == "datetime":
        return _age_days(values, reference)
    codes = pd.Categorical(values.astype("string"), categories=feat.categories).codes
    out = codes.astype(np.float64)
    out[codes < 0] = len(feat.categories)  # rare or unseen: the shared "other" code
    out[values.isna().to_numpy()] = np.nan
    return out


_EXPECTED = {
    "numeric": "a number",
    "boolean": "true or false",
    "datetime": "a timestamp",
    "categorical": "a text value",
}


def _encode_value(
    value: Any, feat: Feature, codes: dict[str, int], record: Mapping[str, Any], now: pd.Timestamp
) -> float:
    """One present value, encoded as ``_encode`` encodes a column (the same rules, row by row)."""
    if feat.kind == "numeric":
        number = float(value)  # bools, ints, floats and numeric text, as pd.to_numeric takes them
        if isinstance(value, str) and not value.strip():
            raise ValueError("empty text")
        return number if np.isfinite(number) else np.nan
    if feat.kind == "boolean":
        if isinstance(value, bool | int | float):
            return float(value)
        return _BOOL_TEXT.get(str(value).strip().lower(), np.nan)
    if feat.kind == "datetime":
        stamp = _naive_utc(pd.Timestamp(value))
        created = record.get("created_at")
        ref = _naive_utc(pd.Timestamp(created)) if created is not None else now
        return float((ref - stamp).total_seconds() / 86400.0)
    return float(codes.get(str(value), len(feat.categories)))


def _naive_utc(stamp: pd.Timestamp) -> pd.Timestamp:
    if pd.isna(stamp):
        raise ValueError("not a timestamp")
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp


def _numeric(values: pd.Series, name: str, source: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(values):
        return values.astype(np.float64).to_numpy()
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna()
    if bad.any():
        rows = [int(i) + 1 for i in np.flatnonzero(bad.to_numpy())]
        raise InputError(
            f"expected a number, found '{values[bad].iloc[0]}'", path=source, column=name, rows=rows
        )
    out = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.isfinite(out), out, np.nan)


def _boolean(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    text = values.astype("string").str.strip().str.lower()
    return text.map(_BOOL_TEXT).to_numpy(dtype=np.float64, na_value=np.nan)


def _age_days(values: pd.Series, reference: pd.Series | None) -> np.ndarray:
    stamps = pd.to_datetime(values, errors="coerce")
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    ref = reference if reference is not None else pd.Timestamp.now(tz="UTC").tz_localize(None)
    age = (ref - stamps).dt.total_seconds() / 86400.0
    return age.to_numpy(dtype=np.float64, na_value=np.nan)
