"""Encoding values for the model: a table's columns (training, batch) and plain records (the
per-request path) by the same rules, categoricals as LightGBM's own integer codes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from leadloop.columns import CREATED_AT
from leadloop.data.values import BOOLEAN_TEXT, naive_utc, naive_utc_series
from leadloop.errors import InputError
from leadloop.features.kinds import Feature


def encode_table(features: list[Feature], frame: pd.DataFrame, *, source: str) -> np.ndarray:
    """A float64 matrix, one column per feature in order; a missing column is an error."""
    missing = [f.name for f in features if f.name not in frame.columns]
    if missing:
        raise InputError(
            f"columns the model needs are missing: {missing}", path=source, column=missing[0]
        )
    reference = frame[CREATED_AT] if CREATED_AT in frame.columns else None
    out = np.empty((len(frame), len(features)), dtype=np.float64)
    for j, feat in enumerate(features):
        out[:, j] = encode_column(frame[feat.name], feat, reference=reference, source=source)
    return out


def encode_records(
    features: list[Feature],
    records: Sequence[Mapping[str, Any]],
    *,
    codes: list[dict[str, int]],
    now: pd.Timestamp,
    source: str,
) -> np.ndarray:
    """Plain records (JSON objects) encoded exactly as ``encode_table`` encodes a table.

    No DataFrame is built. A key a record lacks is a missing value; a datetime feature's age is
    taken at the record's ``created_at``, else at ``now``. ``codes`` maps each categorical
    feature's categories to their codes.
    """
    out = np.full((len(records), len(features)), np.nan, dtype=np.float64)
    for j, feat in enumerate(features):
        for i, record in enumerate(records):
            value = record.get(feat.name)
            if value is None or (isinstance(value, float) and value != value):
                continue
            try:
                out[i, j] = encode_value(value, feat, codes[j], record, now)
            except (TypeError, ValueError) as err:
                raise InputError(
                    f"expected {EXPECTED[feat.kind]}, found {value!r}",
                    path=source,
                    column=feat.name,
                    rows=[i + 1],
                ) from err
    return out


def encode_column(
    values: pd.Series, feat: Feature, *, reference: pd.Series | None, source: str
) -> np.ndarray:
    """One column's values as model inputs; unseen or rare categories share the "other" code."""
    if feat.kind == "numeric":
        return _numeric(values, feat.name, source)
    if feat.kind == "boolean":
        return _boolean(values)
    if feat.kind == "datetime":
        return _age_days(values, reference)
    codes = pd.Index(feat.categories, dtype=object).get_indexer(pd.Index(values.astype("string")))
    out = codes.astype(np.float64)
    out[codes < 0] = len(feat.categories)  # rare or unseen: the shared "other" code
    out[values.isna().to_numpy()] = np.nan
    return out


EXPECTED = {
    "numeric": "a number",
    "boolean": "true or false",
    "datetime": "a timestamp",
    "categorical": "a text value",
}


def encode_value(
    value: Any, feat: Feature, codes: dict[str, int], record: Mapping[str, Any], now: pd.Timestamp
) -> float:
    """One present value, encoded as ``encode_column`` would (the same rules, row by row)."""
    if feat.kind == "numeric":
        number = float(value)  # bools, ints, floats and numeric text, as pd.to_numeric takes them
        if isinstance(value, str) and not value.strip():
            raise ValueError("empty text")
        return number if np.isfinite(number) else np.nan
    if feat.kind == "boolean":
        if isinstance(value, bool | int | float):
            return float(value)
        return BOOLEAN_TEXT.get(str(value).strip().lower(), np.nan)
    if feat.kind == "datetime":
        stamp = _stamp(value)
        created = record.get(CREATED_AT)
        ref = _stamp(created) if created is not None else now
        return float((ref - stamp).total_seconds() / 86400.0)
    return float(codes.get(str(value), len(feat.categories)))


def _stamp(value: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    if pd.isna(stamp):
        raise ValueError("not a timestamp")
    return naive_utc(stamp)


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
    return text.map(BOOLEAN_TEXT).to_numpy(dtype=np.float64, na_value=np.nan)


def _age_days(values: pd.Series, reference: pd.Series | None) -> np.ndarray:
    stamps = naive_utc_series(pd.to_datetime(values, errors="coerce"))
    ref = reference if reference is not None else pd.Timestamp.now(tz="UTC").tz_localize(None)
    age = (ref - stamps).dt.total_seconds() / 86400.0
    return age.to_numpy(dtype=np.float64, na_value=np.nan)
