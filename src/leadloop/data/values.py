"""How leadloop reads single values the same way everywhere: yes/no words, UTC times, and
values as the text they read as."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar

import numpy as np
import pandas as pd

from leadloop.config import OutcomesConfig

T = TypeVar("T", bound=datetime)

# Text that means true or false, lower-cased and stripped; the one vocabulary for boolean
# features, yes/no reasons and won/lost label columns (which add the outcome words).
TRUE_WORDS = frozenset({"1", "1.0", "true", "yes", "y", "t"})
FALSE_WORDS = frozenset({"0", "0.0", "false", "no", "n", "f"})
BOOLEAN_TEXT = {**dict.fromkeys(TRUE_WORDS, 1.0), **dict.fromkeys(FALSE_WORDS, 0.0)}


def text_codes(values: pd.Series, *, sort: bool = True) -> tuple[np.ndarray, list[str]]:
    """The distinct texts of ``values``, sorted, and each row's index among them:
    ``sorted(set(values.astype(str)))`` and a search, but hashed once per row and only the few
    distinct values converted. Values that hash alike but read differently (1 and True) stay
    apart; values that read alike (1 and "1") are one text. ``values`` holds no missing ones.
    With ``sort=False`` the texts come in order of first appearance (a column of a million ids
    is not sorted for nothing)."""
    if values.isna().any():
        raise ValueError("text_codes: the values must not be missing")
    codes, uniques = pd.factorize(values, sort=False)
    distinct_values = np.asarray(uniques, dtype=object)
    if values.dtype == object and len(set(map(type, distinct_values))) > 1:
        codes, uniques = pd.factorize(values.astype(str), sort=False)
        distinct_values = np.asarray(uniques, dtype=object)
    text = list(map(str, distinct_values))
    if not sort:  # one type: distinct values have distinct texts
        return np.asarray(codes, dtype=np.int64), text
    distinct = sorted(set(text))
    rank = {t: i for i, t in enumerate(distinct)}
    lookup = np.array([rank[t] for t in text], dtype=np.int64)
    return (lookup[codes] if len(codes) else np.zeros(0, dtype=np.int64)), distinct


def naive_utc(stamp: T) -> T:
    """A time as leadloop stores times: UTC without a zone (a naive one is taken as UTC
    already). Works for ``datetime`` and ``pd.Timestamp`` alike."""
    if stamp.tzinfo is None:
        return stamp
    return stamp.astimezone(UTC).replace(tzinfo=None)


def naive_utc_series(stamps: pd.Series) -> pd.Series:
    """A datetime column as naive UTC (zone-aware columns converted, naive ones kept)."""
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        converted: pd.Series = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
        return converted
    return stamps


def outcome_mapping(config: OutcomesConfig) -> dict[str, str]:
    """Each configured outcome value, stripped and lower-cased, to ``won``, ``lost`` or
    ``worked`` (an activity: sales worked the lead): how an outcome is read, from a CRM export
    and from the webhook alike."""
    mapping = {outcome_key(v): "worked" for v in config.worked_values}
    mapping |= {outcome_key(v): "won" for v in config.won_values}
    return mapping | {outcome_key(v): "lost" for v in config.lost_values}


def outcome_key(value: str) -> str:
    """An outcome value as it is looked up in ``outcome_mapping`` (case and spaces ignored)."""
    return value.strip().lower()
