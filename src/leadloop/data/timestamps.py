"""Timestamps read a column at a time: one format per column, decided from all of its values.

The rules (README, "Your own data"):

- values the file already types (Parquet, Excel dates) are kept; zoned ones become UTC;
- numbers, and text made only of digits, are epoch times by magnitude: from 1e8 to 1e11
  seconds (March 1973 to the year 5138), from 1e11 to 1e14 milliseconds (the same span); a
  column holds one unit, values of the other are an error naming their rows, and so are
  numbers outside both (Excel serial dates, day counts). Eight-digit integers that are all
  valid dates (``20260115``) are read as YYYYMMDD;
- text with the year first (``2026-01-15``, ``2026/01/15``) is year-month-day;
- text with day and month as numbers before the year (``01/02/2026``) is day-first when some
  value's first number is above 12, month-first when some value's second number is, and an
  error naming two example values when no value decides, unless the column's format is set
  (``dayfirst``, ``monthfirst`` or a strptime format such as ``%d/%m/%Y``). Values that do
  not fit the column's format are an error naming their rows, never read another way;
- other text (month names...) is parsed value by value: no day/month ambiguity is left there;
- offsets and ``Z`` are converted to UTC; values without a zone are taken as UTC.

The result is naive UTC, ``datetime64[ns]``.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Literal

import numpy as np
import pandas as pd

from leadloop.data.values import naive_utc, naive_utc_series
from leadloop.errors import InputError

DAYFIRST = "dayfirst"
MONTHFIRST = "monthfirst"
SECONDS_FROM = 1e8  # epoch seconds from March 1973: smaller numbers are not lead timestamps
SECONDS_BELOW = 1e11  # epoch seconds up to the year 5138; 1e11 ms is only March 1973
MILLIS_BELOW = 1e14  # epoch milliseconds up to the year 5138
FIRST_YEAR, LAST_YEAR = 1678, 2261  # what a nanosecond timestamp can hold
_NUMBER = r"[+-]?\d+(?:\.\d+)?"
_DAY_MONTH = r"^(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})(?=$|[T\s,])(.*)$"
_YEAR_FIRST = r"^(\d{4})([/.\-])(\d{1,2})\2(\d{1,2})(?=$|[T\s])(.*)$"


def check_format(value: str) -> str:
    """A configured column format: ``dayfirst``, ``monthfirst`` or a strptime format."""
    if value in (DAYFIRST, MONTHFIRST) or "%" in value:
        return value
    raise ValueError(
        f"date format '{value}' is not dayfirst, monthfirst or a strptime format such as '%d/%m/%Y'"
    )


class _Column:
    """What the messages need to name: the file, the column and where its format is set."""

    def __init__(self, *, source: str, column: str, setting: str) -> None:
        self.source = source
        self.column = column
        self.setting = setting

    def hint(self) -> str:
        if not self.setting:
            return "write it year first (2026-02-01)"
        return (
            f"set {self.setting}: {{{self.column}: dayfirst}} (or monthfirst, or a format "
            "such as '%d/%m/%Y')"
        )

    def error(self, message: str, mask: pd.Series | None = None) -> InputError:
        rows = None if mask is None else _row_numbers(mask)
        return InputError(message, path=self.source, column=self.column, rows=rows)


def parse_timestamps(
    values: pd.Series,
    *,
    column: str,
    source: str,
    date_format: str | None = None,
    setting: str = "leads.date_formats",
) -> pd.Series:
    """Parse one column to naive UTC by the rules above; ``InputError`` names the rows at fault."""
    where = _Column(source=source, column=column, setting=setting)
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return _finish(values.dt.tz_convert("UTC"), values.astype("string"), where)
    if pd.api.types.is_datetime64_any_dtype(values):
        return _finish(values, values.astype("string"), where)
    if pd.api.types.is_bool_dtype(values):
        raise where.error("expected timestamps, found true/false values", values.notna())
    if pd.api.types.is_numeric_dtype(values):
        return _epoch(values.astype("float64"), values.astype("string"), where)
    text = values.astype("string").str.strip()
    text = text.where(text != "")
    if date_format is not None and "%" in date_format:
        return _strptime(text, date_format, where)
    present = text.notna()
    if present.any() and text[present].str.fullmatch(_NUMBER).all():
        return _epoch(pd.to_numeric(text, errors="coerce"), text, where)
    parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    if int(parsed.notna().sum()) == int(present.sum()):
        return _finish(parsed, text, where)
    return _by_layout(text, date_format, where)


def parse_value(value: object, *, name: str) -> datetime:
    """One configured timestamp (e.g. ``labels.cutoff``) by the same rules, as naive UTC."""
    if isinstance(value, datetime):
        stamp = pd.Timestamp(value)
    elif isinstance(value, date):
        stamp = pd.Timestamp(value.isoformat())
    else:
        series = pd.Series([value], dtype=object if isinstance(value, str) else None)
        try:
            parsed = parse_timestamps(series, column=name, source="", setting="")
            stamp = pd.Timestamp(parsed.iloc[0])
        except InputError as err:
            raise ValueError(err.detail) from err
    if not FIRST_YEAR <= stamp.year <= LAST_YEAR:
        raise ValueError(f"'{value}' is out of range (years {FIRST_YEAR} to {LAST_YEAR})")
    result: datetime = naive_utc(stamp).to_pydatetime()
    return result


def _strptime(text: pd.Series, date_format: str, where: _Column) -> pd.Series:
    parsed = pd.to_datetime(text, format=date_format, utc=True, errors="coerce")
    bad = parsed.isna() & text.notna()
    if bad.any():
        raise where.error(
            f"'{text[bad].iloc[0]}' does not match the format '{date_format}' set in "
            f"{where.setting}",
            bad,
        )
    return _finish(parsed, text, where)


def _epoch(numbers: pd.Series, text: pd.Series, where: _Column) -> pd.Series:
    """Numbers as epoch seconds or milliseconds (one unit per column), or YYYYMMDD dates."""
    present = numbers.notna()
    dates = _yyyymmdd(numbers[present])
    if dates is not None:
        out = pd.Series(pd.NaT, index=numbers.index, dtype="datetime64[ns, UTC]")
        out[present] = dates
        return _finish(out, text, where)
    outside = present & ((numbers < SECONDS_FROM) | (numbers >= MILLIS_BELOW))
    if outside.any():
        raise where.error(
            f"'{text[outside].iloc[0]}' is no epoch time: epoch seconds run from 1e8 (March "
            "1973) to 1e11, milliseconds from 1e11 to 1e14 (Excel serial dates or day counts "
            "are not timestamps: export the dates as text)",
            outside,
        )
    magnitude = numbers.abs()
    millis = present & (magnitude >= SECONDS_BELOW)
    unit: Literal["s", "ms"] = "ms" if int(millis.sum()) * 2 > int(present.sum()) else "s"
    misfit = millis if unit == "s" else present & ~millis
    if misfit.any():
        named = {"s": "seconds", "ms": "milliseconds"}[unit]
        raise where.error(
            f"'{text[misfit].iloc[0]}' is not epoch {named} like the rest of the column "
            "(epoch seconds are below 1e11, milliseconds from 1e11)",
            misfit,
        )
    return _finish(pd.to_datetime(numbers, unit=unit, utc=True), text, where)


def _yyyymmdd(numbers: pd.Series) -> pd.Series | None:
    """Eight-digit whole numbers that are all valid calendar dates, else None."""
    if numbers.empty or not ((numbers % 1 == 0) & numbers.between(1e7, 1e8 - 1)).all():
        return None
    parsed = pd.to_datetime(
        numbers.astype("int64").astype(str), format="%Y%m%d", utc=True, errors="coerce"
    )
    return parsed if bool(parsed.notna().all()) else None


def _by_layout(text: pd.Series, date_format: str | None, where: _Column) -> pd.Series:
    """Text the ISO reader refused, read once per distinct value when values repeat (dates
    without times do): the same decisions, a fraction of the work. An error is found again on
    every row, so that it names the rows."""
    codes, uniques = pd.factorize(text)
    if len(uniques) <= len(text) // 2:
        try:
            parsed = _layout(pd.Series(uniques, dtype="string"), date_format, where).to_numpy()
        except InputError:
            pass
        else:
            out = np.where(codes >= 0, parsed[np.maximum(codes, 0)], np.datetime64("NaT"))
            return pd.Series(out, index=text.index, dtype="datetime64[ns]")
    return _layout(text, date_format, where)


def _layout(text: pd.Series, date_format: str | None, where: _Column) -> pd.Series:
    """One layout per column, day and month decided once for the whole column."""
    present = text.notna()
    day_month = text.str.extract(_DAY_MONTH)
    year_first = text.str.extract(_YEAR_FIRST)
    layout = pd.Series("other", index=text.index).where(present)
    layout[day_month[0].notna()] = "day_month"
    layout[year_first[0].notna()] = "year_first"
    chosen = str(layout[present].mode().iloc[0])
    misfit = present & (layout != chosen)
    if misfit.any():
        odd = text.where(misfit)  # unreadable in any layout: say so rather than "not alike"
        _unparsed(pd.to_datetime(odd, format="mixed", utc=True, errors="coerce"), odd, where)
        example = text[present & (layout == chosen)].iloc[0]
        raise where.error(
            f"'{text[misfit].iloc[0]}' is not written like the rest of the column (e.g. "
            f"'{example}'): a column must use one date format",
            misfit,
        )
    if chosen == "year_first":
        iso = _iso(year_first[0], year_first[2], year_first[3], year_first[4])
        return _parse_iso(iso, text, where)
    if chosen == "day_month":
        return _day_month(text, day_month, date_format, where)
    mixed = pd.to_datetime(text, format="mixed", utc=True, errors="coerce")
    return _finish(_unparsed(mixed, text, where), text, where)


def _day_month(
    text: pd.Series, parts: pd.DataFrame, date_format: str | None, where: _Column
) -> pd.Series:
    """``NN/NN/YYYY``: decided day-first or month-first for the whole column, never per value."""
    first = pd.to_numeric(parts[0])
    second = pd.to_numeric(parts[2])
    dayfirst = _decide_order(text, first, second, date_format, where)
    day, month = (parts[0], parts[2]) if dayfirst else (parts[2], parts[0])
    return _parse_iso(_iso(_full_year(parts[3]), month, day, parts[4]), text, where)


def _decide_order(
    text: pd.Series, first: pd.Series, second: pd.Series, date_format: str | None, where: _Column
) -> bool:
    """True for day-first: from the configuration, else from the values that decide it."""
    only_dayfirst = first > 12
    only_monthfirst = second > 12
    if date_format in (DAYFIRST, MONTHFIRST):
        dayfirst = date_format == DAYFIRST
        reason = f"{date_format} as set in {where.setting}"
    elif only_dayfirst.any() or only_monthfirst.any():
        dayfirst = int(only_dayfirst.sum()) >= int(only_monthfirst.sum())
        decider = text[only_dayfirst if dayfirst else only_monthfirst].iloc[0]
        reason = f"{'day' if dayfirst else 'month'}-first as '{decider}' shows"
    else:
        differ = text[text.notna() & (first != second)].drop_duplicates()
        if differ.empty:  # 01/01, 02/02...: both readings give the same dates
            return True
        shown = " and ".join(f"'{v}'" for v in differ.iloc[:2])
        raise where.error(
            f"dates such as {shown} read both day-first and month-first and no value decides; "
            + where.hint()
        )
    misfit = only_monthfirst if dayfirst else only_dayfirst
    if misfit.any():
        raise where.error(
            f"'{text[misfit].iloc[0]}' does not fit the column's format ({reason})", misfit
        )
    return dayfirst


def _full_year(year: pd.Series) -> pd.Series:
    """Two-digit years as strptime reads them: 69-99 are 19xx, 00-68 are 20xx."""
    short = year.str.len() == 2
    century = pd.to_numeric(year).lt(69).map({True: "20", False: "19"})
    return year.where(~short, century + year)


def _iso(year: pd.Series, month: pd.Series, day: pd.Series, rest: pd.Series) -> pd.Series:
    return year + "-" + month.str.zfill(2) + "-" + day.str.zfill(2) + rest.fillna("")


def _parse_iso(iso: pd.Series, text: pd.Series, where: _Column) -> pd.Series:
    """Dates rewritten year first; a time part ISO cannot read (``2:30 PM``) is read alone."""
    parsed = pd.to_datetime(iso, format="ISO8601", utc=True, errors="coerce")
    retry = parsed.isna() & iso.notna()
    if retry.any():
        parsed[retry] = pd.to_datetime(iso[retry], format="mixed", utc=True, errors="coerce")
    return _finish(_unparsed(parsed, text, where), text, where)


def _unparsed(parsed: pd.Series, text: pd.Series, where: _Column) -> pd.Series:
    bad = parsed.isna() & text.notna()
    if bad.any():
        example = str(text[bad].iloc[0])
        zone = re.search(r"\s([A-Z]{3,5})$", example)
        hint = (
            f" (a zone name such as {zone.group(1)} is ambiguous: write an offset such as +01:00)"
            if zone and zone.group(1) not in ("AM", "PM")
            else ""
        )
        raise where.error(f"cannot parse timestamp '{example}'{hint}", bad)
    return parsed


def _finish(parsed: pd.Series, text: pd.Series, where: _Column) -> pd.Series:
    """Naive UTC in nanoseconds; years pandas cannot hold in nanoseconds are an error."""
    parsed = naive_utc_series(parsed)
    outside = parsed.notna() & ((parsed.dt.year > LAST_YEAR) | (parsed.dt.year < FIRST_YEAR))
    if outside.any():
        raise where.error(
            f"timestamp '{text[outside].iloc[0]}' is out of range (years {FIRST_YEAR} to "
            f"{LAST_YEAR})",
            outside,
        )
    result: pd.Series = parsed.astype("datetime64[ns]")
    return result


def _row_numbers(mask: pd.Series) -> list[int]:
    """1-based data row numbers (header excluded) where ``mask`` is true."""
    positions = np.flatnonzero(np.asarray(mask.fillna(False), dtype=bool))
    return [int(p) + 1 for p in positions]
