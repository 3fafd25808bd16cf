"""How leadloop reads single values the same way everywhere: yes/no words and UTC times."""

from __future__ import annotations

import pandas as pd

# Text that means true or false, lower-cased and stripped; the one vocabulary for boolean
# features, yes/no reasons and won/lost label columns (which add the outcome words).
TRUE_WORDS = frozenset({"1", "1.0", "true", "yes", "y", "t"})
FALSE_WORDS = frozenset({"0", "0.0", "false", "no", "n", "f"})
BOOLEAN_TEXT = {**dict.fromkeys(TRUE_WORDS, 1.0), **dict.fromkeys(FALSE_WORDS, 0.0)}


def naive_utc(stamp: pd.Timestamp) -> pd.Timestamp:
    """A timestamp as leadloop stores times: UTC without a zone (a naive one is taken as UTC)."""
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp


def naive_utc_series(stamps: pd.Series) -> pd.Series:
    """A datetime column as naive UTC (zone-aware columns converted, naive ones kept)."""
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        converted: pd.Series = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
        return converted
    return stamps
