"""Validation and normalisation of the two inputs into the data contracts of design.md section 2.

``prepare_leads`` and ``prepare_outcomes`` take raw tables as read and return frames with the
standard column names (``lead_id``, ``created_at``; ``outcome`` as won/lost, ``occurred_at``...),
or raise ``InputError`` naming the file, the column and the first rows at fault.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from leadloop.columns import AMOUNT, CREATED_AT, EVENT_ID, LEAD_ID, OCCURRED_AT, OUTCOME
from leadloop.config import LeadsConfig, OutcomesConfig
from leadloop.data.delimited import DECIMAL_COMMA
from leadloop.data.ids import hash_ids, id_strings, outcome_ids
from leadloop.data.timestamps import parse_timestamps
from leadloop.data.values import FALSE_WORDS, TRUE_WORDS, outcome_mapping, text_codes
from leadloop.errors import InputError

__all__ = [
    "PreparedLeads",
    "PreparedOutcomes",
    "check_named_columns",
    "check_values",
    "parse_timestamps",
    "prepare_leads",
    "prepare_outcome_events",
    "prepare_outcomes",
]

_TRUE = TRUE_WORDS | {"won", "converted"}  # a label column may also say won or lost
_FALSE = FALSE_WORDS | {"lost"}


@dataclass(frozen=True)
class PreparedLeads:
    """Leads in the standard shape, the historical label apart, and what was said about them."""

    frame: pd.DataFrame
    history_label: pd.Series | None
    has_created_at: bool
    warnings: list[str] = field(default_factory=list)


MAX_FIELD_CHARS = 10_000
MIXED_SHARE = 0.9


def prepare_leads(
    raw: pd.DataFrame,
    config: LeadsConfig,
    *,
    source: str,
    now: pd.Timestamp | None = None,
    outcome_values: tuple[list[str], list[str]] | None = None,
) -> PreparedLeads:
    """Check and normalise the leads table: ids, creation time and the optional label column.

    ``outcome_values`` (won values, lost values; by default the outcomes mapping's defaults)
    map the label column beside yes/no, 1/0...
    """
    if outcome_values is None:
        defaults = OutcomesConfig()
        outcome_values = (defaults.won_values, defaults.lost_values)
    if raw.empty:
        raise InputError("the leads table has no rows", path=source)
    exempt = {config.id_column, config.created_at_column, config.label_column}
    declared = set(config.feature_types) | {c for c in exempt if c is not None}
    check_values(raw, source=source, declared=declared)
    frame = raw.copy()
    warnings: list[str] = []
    ids = _lead_ids(frame, config, source=source, warnings=warnings)
    if config.id_column is not None:
        frame = frame.drop(columns=[config.id_column], errors="ignore")
    frame.insert(0, LEAD_ID, ids)
    has_created = _created_at(frame, config, source=source, warnings=warnings)
    _datetime_features(frame, config, source=source)
    if has_created and now is not None:
        future = frame[CREATED_AT] > now
        if future.any():
            raise InputError(
                f"lead created in the future ('{frame['created_at'][future].iloc[0]}' "
                f"is after now, {now:%Y-%m-%d %H:%M} UTC)",
                path=source,
                column=config.created_at_column,
                rows=_row_numbers(future),
            )
    history = None
    if config.label_column is not None:
        history = _history_label(frame, config.label_column, source=source, values=outcome_values)
        frame = frame.drop(columns=[config.label_column])
    return PreparedLeads(frame.reset_index(drop=True), history, has_created, warnings)


@dataclass(frozen=True)
class PreparedOutcomes:
    """Outcome events in the standard shape, and what was said about them."""

    frame: pd.DataFrame
    warnings: list[str] = field(default_factory=list)


def prepare_outcomes(
    raw: pd.DataFrame, config: OutcomesConfig, *, source: str, leads: pd.DataFrame
) -> pd.DataFrame:
    """The frame of ``prepare_outcome_events``."""
    return prepare_outcome_events(raw, config, source=source, leads=leads).frame


def prepare_outcome_events(
    raw: pd.DataFrame, config: OutcomesConfig, *, source: str, leads: pd.DataFrame
) -> PreparedOutcomes:
    """Check and normalise CRM outcome events; joins by row order only when configured, else
    by lead id (exact, then in one normal form, with a warning counting those)."""
    if raw.empty:
        raise InputError("the outcomes table has no rows", path=source)
    _require(raw, [config.outcome_column, config.occurred_at_column], source=source)
    out = pd.DataFrame(index=raw.index)
    matched = outcome_ids(raw, config, source=source, leads=leads)
    out[LEAD_ID] = matched.ids
    out[OUTCOME] = _map_outcomes(raw[config.outcome_column], config, source=source)
    out[OCCURRED_AT] = parse_timestamps(
        raw[config.occurred_at_column],
        column=config.occurred_at_column,
        source=source,
        date_format=config.date_formats.get(config.occurred_at_column),
        setting="outcomes.date_formats",
    )
    out[EVENT_ID] = _optional_text(raw, config.event_id_column)
    out[AMOUNT] = _optional_amount(raw, config.amount_column, source=source)
    warning = matched.warning(source)
    return PreparedOutcomes(out.reset_index(drop=True), [warning] if warning else [])


def check_named_columns(
    raw: pd.DataFrame, names: dict[str, list[str]], *, source: str, section: str
) -> None:
    """Refuse a setting (``exclude_columns``, ``feature_types``, ``date_formats``: setting ->
    the columns it names) that names a column the file does not have: a typo would otherwise
    leave a leak in, or a date unread, without a word."""
    have = {str(c) for c in raw.columns}
    for setting, columns in names.items():
        for column in columns:
            if column not in have:
                shown = ", ".join(sorted(have)[:12]) + (" ..." if len(have) > 12 else "")
                raise InputError(
                    f"{section}.{setting} names a column the file does not have (its columns: "
                    f"{shown}); check the spelling",
                    path=source,
                    column=column,
                )


def prepare_to_score(raw: pd.DataFrame, config: LeadsConfig, *, source: str) -> pd.DataFrame:
    """Leads to score: ids as text (hashed from the row when there is no id column) and the
    creation time parsed when present, so datetime features age from it as in training."""
    frame = raw.copy()
    column = config.id_column
    if column is not None and column in frame.columns:
        missing = frame[column].isna() | (frame[column].astype("string").str.strip() == "")
        if missing.any():
            raise InputError(
                "lead id is missing", path=source, column=column, rows=_row_numbers(missing)
            )
        ids = id_strings(frame.pop(column))
    else:
        ids = hash_ids(frame)
    frame.insert(0, LEAD_ID, ids.to_numpy())
    created = config.created_at_column
    if created is not None and created in frame.columns:
        stamps = parse_timestamps(
            frame.pop(created),
            column=created,
            source=source,
            date_format=config.date_formats.get(created),
        )
        frame.insert(1, CREATED_AT, stamps.to_numpy())
    _datetime_features(frame, config, source=source)
    return frame


def _datetime_features(frame: pd.DataFrame, config: LeadsConfig, *, source: str) -> None:
    """Feature columns typed ``datetime`` (in the configuration, or by a Parquet or Excel file):
    parsed once per column like ``created_at``, zoned ones converted to naive UTC."""
    declared = {c for c, kind in config.feature_types.items() if kind == "datetime"}
    typed = {str(c) for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])}
    for column in sorted((declared | typed) - {CREATED_AT}):
        if column in frame.columns:
            frame[column] = parse_timestamps(
                frame[column],
                column=column,
                source=source,
                date_format=config.date_formats.get(column),
            ).to_numpy()


def check_values(raw: pd.DataFrame, *, source: str, declared: set[str]) -> None:
    """Cells no column can hold: infinite numbers, huge text, numbers mixed with text."""
    for column in map(str, raw.columns):
        values = raw[column]
        if pd.api.types.is_float_dtype(values):
            bad = pd.Series(np.isinf(values.to_numpy(dtype=float)), index=values.index)
            if bad.any():
                raise InputError(
                    "infinite number", path=source, column=column, rows=_row_numbers(bad)
                )
        elif values.dtype == object or pd.api.types.is_string_dtype(values):
            _check_text(values, column=column, source=source, declared=column in declared)


def _check_text(values: pd.Series, *, column: str, source: str, declared: bool) -> None:
    """Too long, or numbers among text; each distinct text tested once (not once per row)."""
    present = values.notna().to_numpy()
    if not present.any():
        return
    codes, distinct = text_codes(values[present], sort=False)
    at = np.full(len(values), len(distinct))  # missing cells: the last entry, never flagged
    at[present] = codes
    long = np.append([len(t) > MAX_FIELD_CHARS for t in distinct], False)[at]
    if long.any():
        raise InputError(
            f"field longer than {MAX_FIELD_CHARS:,} characters",
            path=source,
            column=column,
            rows=_row_numbers(long),
        )
    if declared:  # a declared column may mix numbers with text
        return
    numeric = np.append(_numeric_texts(distinct), False)[at]
    text_only = present & ~numeric
    if numeric.sum() >= MIXED_SHARE * present.sum() and text_only.any():
        example = distinct[at[np.flatnonzero(text_only)[0]]]
        raise InputError(
            f"mixes numbers with text such as '{example}' (clean it, or declare the column in "
            "leads.feature_types)",
            path=source,
            column=column,
            rows=_row_numbers(text_only),
        )


def _numeric_texts(texts: list[str]) -> np.ndarray:
    """Which texts read as a number (decimal point or comma)."""
    values = pd.Series(texts, dtype="string")
    number = pd.to_numeric(values, errors="coerce").notna()
    number |= values.str.strip().str.fullmatch(DECIMAL_COMMA.pattern).fillna(False)
    return number.to_numpy(dtype=bool)


def _lead_ids(
    frame: pd.DataFrame, config: LeadsConfig, *, source: str, warnings: list[str]
) -> pd.Series:
    column = config.id_column
    if column is None:
        warnings.append(
            f"{source}: leads.id_column is null; lead ids are derived from a hash of each row"
        )
        return hash_ids(frame)
    if column not in frame.columns:
        if "id_column" in config.model_fields_set:
            _require(frame, [column], source=source)
        warnings.append(
            f"{source}: no '{column}' column; lead ids are derived from a hash of "
            "each row (set leads.id_column to use your own ids)"
        )
        return hash_ids(frame)
    ids = frame[column]
    missing = ids.isna() | (ids.astype("string").str.strip() == "")
    if missing.any():
        raise InputError(
            "lead id is missing", path=source, column=column, rows=_row_numbers(missing)
        )
    ids = id_strings(ids)
    dupes = ids.duplicated(keep=False)
    if dupes.any():
        first = list(dict.fromkeys(ids[dupes]))[:5]
        raise InputError(
            f"duplicate lead ids {first}", path=source, column=column, rows=_row_numbers(dupes)
        )
    return ids


def _created_at(
    frame: pd.DataFrame, config: LeadsConfig, *, source: str, warnings: list[str]
) -> bool:
    column = config.created_at_column
    if column is None or column not in frame.columns:
        if column is not None and "created_at_column" in config.model_fields_set:
            _require(frame, [column], source=source)
        warnings.append(
            f"{source}: no creation timestamp; the holdout is a stratified random "
            "split and out-of-time evaluation is not possible"
        )
        return False
    parsed = parse_timestamps(
        frame[column], column=column, source=source, date_format=config.date_formats.get(column)
    )
    if parsed.isna().any():
        raise InputError(
            "creation timestamp is missing",
            path=source,
            column=column,
            rows=_row_numbers(parsed.isna()),
        )
    del frame[column]
    frame.insert(1, CREATED_AT, parsed)
    return True


def _history_label(
    frame: pd.DataFrame, column: str, *, source: str, values: tuple[list[str], list[str]]
) -> pd.Series:
    _require(frame, [column], source=source)
    raw = frame[column]
    text = raw.astype("string").str.strip().str.lower()
    won = {v.strip().lower() for v in values[0]}
    lost = {v.strip().lower() for v in values[1]}
    label = pd.Series(np.nan, index=raw.index, dtype="float64")
    label[text.isin((_TRUE - lost) | won)] = 1.0
    label[text.isin((_FALSE - won) | lost)] = 0.0
    bad = label.isna() & raw.notna() & (text != "")
    if bad.any():
        example = raw[bad].iloc[0]
        raise InputError(
            f"label value '{example}' is not won/lost, yes/no, true/false, 1/0 or in "
            "outcomes.won_values / outcomes.lost_values",
            path=source,
            column=column,
            rows=_row_numbers(bad),
        )
    classes = set(label.dropna().unique())
    if len(classes) < 2:
        raise InputError(
            f"label has a single class ({sorted(classes) or 'no values'}); "
            "a model needs both won and lost examples",
            path=source,
            column=column,
        )
    return label.rename("history_label")


def _map_outcomes(values: pd.Series, config: OutcomesConfig, *, source: str) -> pd.Series:
    text = values.astype("string").str.strip()
    mapped = text.str.lower().map(outcome_mapping(config)).astype("object")
    bad = mapped.isna()
    if bad.any():
        shown = sorted({str(v) for v in text[bad].fillna("<empty>").unique()})[:5]
        raise InputError(
            f"outcome values {shown} are not in the won/lost mapping (add them to "
            "outcomes.won_values or outcomes.lost_values)",
            path=source,
            column=str(values.name),
            rows=_row_numbers(bad),
        )
    return mapped.astype(str)


def _optional_text(raw: pd.DataFrame, column: str | None) -> pd.Series:
    if column is None or column not in raw.columns:
        return pd.Series(pd.NA, index=raw.index, dtype="object")
    values = raw[column]
    return id_strings(values).where(values.notna())


def _optional_amount(raw: pd.DataFrame, column: str | None, *, source: str) -> pd.Series:
    if column is None or column not in raw.columns:
        return pd.Series(np.nan, index=raw.index, dtype="float64")
    values = pd.to_numeric(raw[column], errors="coerce")
    bad = values.isna() & raw[column].notna()
    if bad.any():
        raise InputError(
            "amount is not a number", path=source, column=column, rows=_row_numbers(bad)
        )
    wrong = (values < 0) | np.isinf(values.to_numpy(dtype=float))
    if wrong.any():
        raise InputError(
            f"amount must be a finite number of at least 0, found {values[wrong].iloc[0]}",
            path=source,
            column=column,
            rows=_row_numbers(wrong),
        )
    return values.astype("float64")


def _require(frame: pd.DataFrame, columns: list[str], *, source: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        have = ", ".join(map(str, frame.columns[:12]))
        raise InputError(
            f"required column is missing (found: {have})", path=source, column=missing[0]
        )


def _row_numbers(mask: pd.Series) -> list[int]:
    """1-based data row numbers (header excluded) where ``mask`` is true."""
    positions = np.flatnonzero(np.asarray(mask, dtype=bool))
    return [int(p) + 1 for p in positions]
