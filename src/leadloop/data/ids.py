"""Lead ids: read as text, hashed from the row when a file has none, and outcome events joined
to leads by them: by the exact text first, then by one normal form on both sides (case,
compatibility forms, spaces and invisible characters such as NBSP or a zero-width space), so
an id a CRM exported differently still finds its lead and a warning counts how many did."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from leadloop.columns import LEAD_ID
from leadloop.config import OutcomesConfig
from leadloop.errors import InputError

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class MatchedIds:
    """Outcome ids as joined, and how many found their lead only in the normal form."""

    ids: pd.Series
    normalised: int
    example: tuple[str, str] | None  # (the outcome's id, the lead's id)

    def warning(self, source: str) -> str | None:
        """The warning that names how many events matched only after normalising."""
        if not self.normalised or self.example is None:
            return None
        given, lead = self.example
        return (
            f"{source}: {self.normalised:,} outcome events name their lead only after "
            f"normalising the id (case, spaces, invisible characters), e.g. '{visible(given)}' "
            f"for lead '{visible(lead)}'; they are joined to those leads"
        )


def id_strings(ids: pd.Series) -> pd.Series:
    """Ids as strings; whole floats (from a CSV column with gaps) lose their '.0'."""
    present = ids.dropna()
    whole = pd.api.types.is_float_dtype(ids) and bool((present % 1 == 0).all())
    if whole and bool((present.abs() < 2**53).all()):
        ids = ids.astype("Int64")
    return ids.astype(str).str.strip()


def hash_ids(frame: pd.DataFrame) -> pd.Series:
    """Ids derived from a stable hash of each row (repeated rows numbered)."""
    rows = pd.util.hash_pandas_object(frame, index=False).astype("uint64")
    occurrence = rows.groupby(rows).cumcount()
    keys = rows.astype(str) + ":" + occurrence.astype(str)
    return keys.map(lambda k: "h" + hashlib.sha1(k.encode()).hexdigest()[:16])


def normal_form(value: str) -> str:
    """An id as compared when the exact text finds no lead: NFKC (a non-breaking space is a
    space, full-width letters are letters), format characters (zero-width spaces, joiners,
    byte-order marks, soft hyphens) removed, whitespace collapsed and trimmed, case folded."""
    text = unicodedata.normalize("NFKC", value)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return _SPACES.sub(" ", text).strip().casefold()


def visible(text: str) -> str:
    """Text with invisible and non-printing characters written as escapes (``\\u200b``)."""
    return "".join(ch if ch.isprintable() and ch != "\xa0" else f"\\u{ord(ch):04x}" for ch in text)


def outcome_ids(
    raw: pd.DataFrame, config: OutcomesConfig, *, source: str, leads: pd.DataFrame
) -> MatchedIds:
    """The lead id of each outcome event: by id (exact, else normal form), or by row order
    only when configured."""
    if config.join == "row_order":
        if len(raw) != len(leads):
            raise InputError(
                f"join: row_order needs as many outcome rows as leads "
                f"({len(raw)} outcomes, {len(leads)} leads)",
                path=source,
            )
        ids = pd.Series(leads[LEAD_ID].to_numpy(), index=raw.index, dtype=object)
        return MatchedIds(ids, 0, None)
    if config.id_column not in raw.columns:
        raise InputError(
            f"no lead id column '{config.id_column}'; outcomes are never joined to leads by row "
            "order silently (set outcomes.id_column, or outcomes.join: row_order if both files "
            "list the same leads in the same order)",
            path=source,
            column=config.id_column,
        )
    values = raw[config.id_column]
    text = id_strings(values).where(values.notna())
    return match_ids(text.where(text != ""), leads[LEAD_ID])


def ids_in(values: pd.Series | pd.Index, ids: pd.Series | pd.Index) -> np.ndarray:
    """Which ``values`` (ids as text) are among ``ids``, as a boolean array; a missing value
    is never among them. Arrow's hash set: about 25 times pandas' ``isin`` on a million ids."""
    wanted = pa.array(np.asarray(values, dtype=object), pa.string(), from_pandas=True)
    known = pa.array(np.asarray(ids, dtype=object), pa.string(), from_pandas=True)
    found = pc.is_in(wanted, value_set=known, skip_nulls=True).fill_null(False)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def match_ids(given: pd.Series, lead_ids: pd.Series) -> MatchedIds:
    """``given`` ids mapped to the leads' own ids: exact matches kept, others matched in the
    normal form when exactly one lead has that form (case-distinct ids stay distinct)."""
    unmatched = given.notna() & ~ids_in(given, lead_ids)
    if not unmatched.any():
        return MatchedIds(given, 0, None)
    forms = pd.Series(lead_ids.to_numpy(), index=lead_ids.map(normal_form).to_numpy())
    unique = forms[~forms.index.duplicated(keep=False)]
    wanted = given[unmatched]
    found = wanted.map(normal_form).map(unique)
    hit = found.notna()
    if not hit.any():
        return MatchedIds(given, 0, None)
    out = given.copy()
    out.loc[found.index[hit]] = found[hit]
    first = found.index[hit][0]
    return MatchedIds(out, int(hit.sum()), (str(wanted[first]), str(found[first])))
