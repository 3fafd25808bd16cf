"""Column typing, exclusions and encoding."""

import json

import numpy as np
import pandas as pd
import pytest

from leadloop.errors import InputError
from leadloop.features import FeatureEncoder


def _frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "lead_id": [f"L{i}" for i in range(n)],
            "created_at": pd.date_range("2025-01-01", periods=n, freq="h"),
            "size": rng.normal(size=n),
            "source": rng.choice(["web", "referral", "event"], n),
            "flag": rng.choice(["yes", "no"], n),
            "notes": [f"free text number {i}" for i in range(n)],
            "converted": rng.integers(0, 2, n),
            "empty": [None] * n,
            "same": ["x"] * n,
            "last_touch": pd.date_range("2024-12-01", periods=n, freq="h"),
        }
    )


def test_types_and_exclusions() -> None:
    """It types columns and excludes ids, timestamps, leaks, free text, empty and constant ones."""
    enc = FeatureEncoder().fit(_frame())
    kinds = {f.name: f.kind for f in enc.features_}
    assert kinds == {
        "size": "numeric",
        "source": "categorical",
        "flag": "boolean",
        "last_touch": "datetime",
    }
    assert set(enc.excluded_) == {"lead_id", "created_at", "notes", "converted", "empty", "same"}


def test_configured_exclusion_and_declared_type() -> None:
    """It honours configured exclusions and declared types, even for a leak-like name."""
    enc = FeatureEncoder(exclude=("size",), feature_types={"converted": "categorical"})
    enc.fit(_frame())
    assert "size" in enc.excluded_
    assert {f.name: f.kind for f in enc.features_}["converted"] == "categorical"


def test_unknown_and_missing_categories() -> None:
    """It encodes unseen categories as the shared other code and missing as NaN."""
    frame = _frame()
    enc = FeatureEncoder().fit(frame)
    new = frame.head(3).copy()
    new["source"] = ["web", "carrier pigeon", None]
    col = enc.feature_names_.index("source")
    codes = enc.transform(new)[:, col]
    feat = enc.features_[col]
    assert codes[0] == feat.categories.index("web")
    assert codes[1] == len(feat.categories)
    assert np.isnan(codes[2])


def test_column_order_does_not_matter_and_json_round_trip() -> None:
    """It encodes the same regardless of column order and after a JSON round trip."""
    frame = _frame()
    enc = FeatureEncoder().fit(frame)
    again = FeatureEncoder.from_dict(json.loads(json.dumps(enc.to_dict())))
    shuffled = frame[list(reversed(frame.columns))]
    np.testing.assert_array_equal(enc.transform(frame), again.transform(shuffled))


def test_missing_column_is_named() -> None:
    """It names a feature column the input lacks."""
    enc = FeatureEncoder().fit(_frame())
    with pytest.raises(InputError, match="'size'"):
        enc.transform(_frame().drop(columns=["size"]), source="new.csv")


def test_datetime_becomes_age_in_days() -> None:
    """It turns a datetime feature into its age in days at the lead's creation."""
    frame = _frame(3)
    enc = FeatureEncoder().fit(_frame())
    col = enc.feature_names_.index("last_touch")
    np.testing.assert_allclose(enc.transform(frame)[:, col], 31.0)


def test_leaking_columns_are_excluded_unless_declared() -> None:
    """It excludes a column that alone predicts the label, one whose missingness does, and a
    status whose values are pure in it, each with its evidence."""
    rng = np.random.default_rng(1)
    n = 2000
    y = (rng.uniform(size=n) < 0.3).astype(float)
    frame = pd.DataFrame(
        {
            "size": rng.normal(size=n),
            "call_seconds": y * 500 + rng.uniform(0, 100, n),
            "close_reason_code": np.where(y == 1, np.nan, rng.uniform(size=n)),
            "stage_name": np.where(y == 1, "signed", "dropped"),
        }
    )
    enc = FeatureEncoder().fit(frame, y)
    assert enc.feature_names_ == ["size"]
    assert enc.excluded_["call_seconds"].startswith("leaks the label (one column ranks")
    assert "alone AUC 1.00" in enc.excluded_["call_seconds"]
    assert "missing is 100% won" in enc.excluded_["close_reason_code"]
    assert "'signed' is 100% won" in enc.excluded_["stage_name"]
    kept = FeatureEncoder(feature_types={"call_seconds": "numeric"}).fit(frame, y)
    assert "call_seconds" in kept.feature_names_


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Rows as JSON would bring them: no NaN, timestamps as ISO text."""
    out = []
    for row in frame.to_dict("records"):
        record = {str(k): v for k, v in row.items() if not (isinstance(v, float) and np.isnan(v))}
        for key in ("created_at", "last_touch"):
            if key in record:
                record[key] = pd.Timestamp(record[key]).isoformat()
        out.append(record)
    return out


def test_records_encode_exactly_like_the_table() -> None:
    """It encodes JSON records (the API path) exactly as it encodes the same rows as a table."""
    train = _frame()
    enc = FeatureEncoder().fit(train)
    new = _frame(40)
    new.loc[0:4, "size"] = np.nan
    new.loc[5:9, "source"] = "podcast"  # unseen: the shared "other" code
    new.loc[10:12, "source"] = None
    new.loc[13:15, "flag"] = "maybe"
    new["size"] = new["size"].astype(object)
    new.loc[16, "size"] = "3.5"  # numbers as text, as a CRM may send them
    table = enc.transform(new)
    records = enc.transform_records(_records(new))
    np.testing.assert_allclose(records, table, rtol=0, atol=1e-9, equal_nan=True)


def test_records_name_the_lead_and_field_of_a_bad_value() -> None:
    """It refuses a non-number in a numeric field, naming the field and the record."""
    enc = FeatureEncoder().fit(_frame())
    with pytest.raises(InputError, match=r"column 'size', rows 2: expected a number, found 'big'"):
        enc.transform_records([{"size": 1.0}, {"size": "big"}])
