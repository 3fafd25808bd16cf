"""Column kinds: what each column of a leads table is (numeric, categorical, yes/no, a time),
and which columns are never features by their name or role."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from leadloop.columns import CREATED_AT, LEAD_ID
from leadloop.data.values import BOOLEAN_TEXT

Kind = Literal["numeric", "categorical", "boolean", "datetime"]
RESERVED = (LEAD_ID, CREATED_AT)
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


@dataclass(frozen=True)
class Feature:
    """One model input: its column, its kind and, for categoricals, the categories in code order."""

    name: str
    kind: Kind
    categories: list[str] = field(default_factory=list)


def infer_kind(values: pd.Series) -> Kind:
    if pd.api.types.is_bool_dtype(values):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "datetime"
    if pd.api.types.is_numeric_dtype(values):
        return "numeric"
    present = values.dropna().astype(str).str.strip().str.lower()
    if len(present) and present.isin(list(BOOLEAN_TEXT)).all():
        return "boolean"
    return "categorical"
