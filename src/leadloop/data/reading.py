"""Reading tables as users hand them over: CSV (delimiter and encoding sniffed), Excel, Parquet.

Each file is read once into memory: the digest recorded for a run is of the very bytes parsed,
even if the file changes while it is read. The configured ``missing_values`` are the only
placeholders that mean "missing" (an empty cell always does), in every format.
"""

from __future__ import annotations

import csv
import hashlib
import io as io_module
import logging
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from leadloop.config import DEFAULT_MISSING
from leadloop.data import delimited
from leadloop.data.files import check_file
from leadloop.errors import InputError

log = logging.getLogger(__name__)
Decimal = Literal["auto", ".", ","]
# A default placeholder as frequent as the real values of a column with few values may be a
# value itself ("NA" for North America): it is read as missing, and a warning says so.
PLACEHOLDER_SHARE = 0.05
MAX_CATEGORIES = 50
WIDE = 100  # columns past which pandas warns that a frame is fragmented
CODE_LIKE = frozenset(p for p in DEFAULT_MISSING if p.replace("/", "").isalpha())


@dataclass(frozen=True)
class ReadOptions:
    """How to read one input: its placeholders, decimal mark and sheet; ``section`` is the
    settings section that sets them (``leads`` or ``outcomes``), for the hints in messages."""

    missing: tuple[str, ...] = DEFAULT_MISSING
    decimal: Decimal = "auto"
    sheet: str | None = None
    section: str = "leads"
    max_columns: int | None = None  # wider tables are refused before they are parsed


@dataclass(frozen=True)
class Table:
    """A table as read, the SHA-256 of the bytes it was parsed from, and what was noticed."""

    frame: pd.DataFrame
    digest: str
    warnings: list[str] = field(default_factory=list)


def read_table(
    path: Path, *, missing: tuple[str, ...] = DEFAULT_MISSING, options: ReadOptions | None = None
) -> pd.DataFrame:
    """The frame of ``read_input`` (its warnings are logged)."""
    table = read_input(path, options or ReadOptions(missing=missing))
    for warning in table.warnings:
        log.warning("%s", warning)
    return table.frame


def read_input(path: Path, options: ReadOptions | None = None) -> Table:
    """Read a CSV (any common delimiter and text encoding), Excel or Parquet file, with the
    configured placeholders as missing values; any failure is an ``InputError`` naming it."""
    options = options or ReadOptions()
    suffix = check_file(path)
    source = str(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot be read: {err.strerror or err}", path=source) from err
    try:
        if suffix in (".parquet", ".pq"):
            frame, warnings = _read_parquet(data, source, options)
            names = [str(c) for c in frame.columns]
        elif suffix == ".xlsx":
            frame, warnings = _read_excel(data, source, options)
            names = [str(c) for c in frame.columns]
        else:
            frame, names, warnings = _read_text(data, source, options)
    except InputError:
        raise
    except (ValueError, OSError, pa.ArrowException, csv.Error, zipfile.BadZipFile) as err:
        raise InputError(f"cannot be read: {err}".splitlines()[0], path=source) from err
    dupes = sorted(n for n, count in Counter(names).items() if count > 1)
    if dupes:
        raise InputError(f"duplicate column names {dupes}", path=source)
    frame = _drop_trailing_empty(frame)
    if frame.shape[1] > WIDE:  # one block per column as read: consolidated, so later inserts
        frame = frame.copy()  # (lead_id, created_at) stay cheap and pandas does not warn
    return Table(frame, hashlib.sha256(data).hexdigest(), warnings)


def check_width(columns: int, options: ReadOptions, *, source: str) -> None:
    """Refuse a table wider than ``max_columns`` before any per-column work."""
    limit = options.max_columns
    if limit is not None and columns > limit:
        raise InputError(
            f"has {columns:,} columns, more than {options.section}.max_columns ({limit:,}): "
            "the leak guard, drift and the report work column by column and would take many "
            "minutes; keep the columns that describe a lead (drop one-hot or survey "
            f"expansions), or raise {options.section}.max_columns",
            path=source,
        )


def _read_parquet(data: bytes, source: str, options: ReadOptions) -> tuple[pd.DataFrame, list[str]]:
    schema = pq.read_schema(pa.BufferReader(data))
    check_width(len(schema), options, source=source)
    refuse_nested(schema, source=source)
    frame = pd.read_parquet(io_module.BytesIO(data))
    frame, counts = blank_placeholders(frame, options.missing)
    return frame, placeholder_warnings(frame, counts, source=source)


def refuse_nested(schema: pa.Schema, *, source: str) -> None:
    """Columns of lists, structs or maps hold no value a model can use: refused by name."""
    for item in schema:
        if pa.types.is_nested(item.type):
            raise InputError(
                f"holds nested values ({item.type}), not one value per cell: flatten it into "
                "plain columns, or drop it",
                path=source,
                column=item.name,
            )


def _read_excel(data: bytes, source: str, options: ReadOptions) -> tuple[pd.DataFrame, list[str]]:
    """The configured sheet (else the first, with a warning naming the others)."""
    book = pd.ExcelFile(io_module.BytesIO(data), engine="openpyxl")
    names = [str(n) for n in book.sheet_names]
    warnings = []
    if options.sheet is not None and options.sheet not in names:
        listed = ", ".join(f"'{n}'" for n in names)
        raise InputError(
            f"has no sheet '{options.sheet}' (its sheets: {listed}); check {options.section}.sheet",
            path=source,
        )
    chosen = options.sheet if options.sheet is not None else names[0]
    if options.sheet is None and len(names) > 1:
        others = ", ".join(f"'{n}'" for n in names[1:])
        warnings.append(
            f"{source}: read sheet '{chosen}', the first of {len(names)}; the workbook also "
            f"has {others} (set {options.section}.sheet to read another)"
        )
    frame = pd.read_excel(book, sheet_name=chosen, dtype=object, keep_default_na=False)
    check_width(frame.shape[1], options, source=source)
    frame, counts = blank_placeholders(frame, options.missing)
    frame = frame.infer_objects()
    return frame, warnings + placeholder_warnings(frame, counts, source=source)


def _read_text(
    data: bytes, source: str, options: ReadOptions
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """A delimited text file: encoding and delimiter found from its first bytes, its rows
    checked against its header, decimal commas read as numbers where they are the file's."""
    sniffed = delimited.sniff(data[: delimited.SNIFF_BYTES], source=source)
    first_line = sniffed.sample.splitlines()[0] if sniffed.sample else ""
    if len(sniffed.header) == 1 and len(first_line) > 30:
        raise InputError(
            f"only one column found ('{first_line[:40]}...'): the delimiter was not "
            "recognised (use comma, semicolon, tab or |)",
            path=source,
            column=first_line[:40],
            rows=[1],
        )
    text = delimited.to_utf8(data, sniffed.encoding)
    first = text.split(b"\n", 1)[0].decode("utf-8")
    header = next(csv.reader([first], delimiter=sniffed.delimiter))
    check_width(len(header), options, source=source)
    delimited.check_records(text, delimiter=sniffed.delimiter, source=source)
    comma_file = sniffed.delimiter == ","
    decimal_comma = options.decimal == "," and not comma_file
    frame = pd.read_csv(
        io_module.BytesIO(text),
        low_memory=False,
        **csv_options(sniffed.delimiter, options, decimal_comma),
    )
    warnings = _decimal_commas(frame, options, source=source, comma_file=comma_file)
    if options.sheet is not None:
        warnings.append(f"{source}: {options.section}.sheet is set, but this is not a workbook")
    counts = _csv_placeholders(text, frame, sniffed.delimiter, options.missing)
    warnings += placeholder_warnings(frame, counts, source=source)
    return frame, [name.strip() for name in sniffed.header], warnings


def csv_options(
    delimiter: str, options: ReadOptions, decimal_comma: bool, *, encoding: str = "utf-8"
) -> dict[str, Any]:
    """pandas' reader settings: only the configured placeholders are missing values."""
    extra = {"decimal": ",", "thousands": "."} if decimal_comma else {}
    return {
        "sep": delimiter,
        "encoding": encoding,
        "na_values": sorted({*options.missing, ""}),
        "keep_default_na": False,
        "skipinitialspace": True,
        "index_col": False,
        **extra,
    }


def _decimal_commas(
    frame: pd.DataFrame, options: ReadOptions, *, source: str, comma_file: bool
) -> list[str]:
    """Text columns of decimal-comma numbers: numbers when the comma is the file's decimal
    mark (``decimal: ','``, or ``auto`` in a file not delimited by commas), else a warning."""
    columns = delimited.comma_number_columns(frame)
    convert = options.decimal == "," or (options.decimal == "auto" and not comma_file)
    if convert:
        for column in columns:
            frame[column] = delimited.from_decimal_comma(frame[column])
        if columns:
            log.info("%s: decimal commas read as numbers in %s", source, columns)
        return []
    return [
        f"{source}: column '{column}' holds numbers written with a comma (e.g. "
        f"'{frame[column].dropna().iloc[0]}') and is read as text; set "
        f"{options.section}.decimal: ',' if the comma is the decimal mark"
        for column in columns
    ]


def _csv_placeholders(
    text: bytes, frame: pd.DataFrame, delimiter: str, missing: tuple[str, ...]
) -> dict[str, dict[str, int]]:
    """How often each code-like placeholder stood in the text columns that lost many values
    to placeholders (read again as plain text: pandas does not say which placeholder it was)."""
    codes = CODE_LIKE & set(missing)
    threshold = PLACEHOLDER_SHARE * len(frame)
    columns = [
        str(c)
        for c in frame.columns
        if (frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c]))
        and frame[c].isna().sum() >= max(threshold, 1)
    ]
    if not codes or not columns:
        return {}
    raw = pd.read_csv(
        io_module.BytesIO(text),
        sep=delimiter,
        encoding="utf-8",
        usecols=columns,
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        skipinitialspace=True,
        index_col=False,
    )
    return {c: _counts(raw[c].str.strip(), codes) for c in columns}


def _counts(values: pd.Series, placeholders: set[str] | frozenset[str]) -> dict[str, int]:
    found = values[values.isin(placeholders)].value_counts()
    return {str(k): int(v) for k, v in found.items()}


def blank_placeholders(
    frame: pd.DataFrame, missing: tuple[str, ...]
) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """Placeholder strings in text columns become missing values; returns how often each
    code-like placeholder was found per column."""
    placeholders = {*missing, ""}
    codes = CODE_LIKE & placeholders
    counts: dict[str, dict[str, int]] = {}
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            stripped = values.astype("string").str.strip()
            counts[str(column)] = _counts(stripped, codes)
            frame[column] = values.where(~stripped.isin(placeholders), None)
    return frame, {c: n for c, n in counts.items() if n}


def placeholder_warnings(
    frame: pd.DataFrame, counts: dict[str, dict[str, int]], *, source: str
) -> list[str]:
    """A placeholder standing where a column of a few categories has real values, as often as
    a typical one of them, is probably a value: say so, the count and the remedy."""
    out = []
    for column, found in counts.items():
        values = frame[column].dropna().astype(str).value_counts()
        if not 1 <= len(values) <= MAX_CATEGORIES:
            continue
        typical = float(values.median())
        for placeholder, n in sorted(found.items()):
            if n >= PLACEHOLDER_SHARE * len(frame) and n >= typical:
                examples = ", ".join(f"'{v}'" for v in values.index[:3])
                out.append(
                    f"{source}: column '{column}': '{placeholder}' is read as missing in {n:,} "
                    f"rows ({n / len(frame):.0%}), as often as its real values ({examples}...); "
                    f"if '{placeholder}' is a value there, remove it from missing_values"
                )
    return out


def _drop_trailing_empty(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns made by trailing delimiters: unnamed and empty."""
    extra = [c for c in frame.columns if str(c).startswith("Unnamed: ") and frame[c].isna().all()]
    return frame.drop(columns=extra)
