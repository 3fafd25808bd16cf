"""Reading tables as users hand them over: CSV (delimiter and encoding sniffed), Excel, Parquet,
whole or in chunks; placeholders that mean "missing" are the configured ones."""

from __future__ import annotations

import codecs
import csv
import io as io_module
from collections.abc import Iterator
from pathlib import Path

import charset_normalizer
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from leadloop.config import DEFAULT_MISSING
from leadloop.errors import InputError

TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".xlsx")
DELIMITERS = ",;\t|"
SNIFF_BYTES = 64 * 1024
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
WESTERN = "cp1252"


def read_table(path: Path, *, missing: tuple[str, ...] = DEFAULT_MISSING) -> pd.DataFrame:
    """Read a CSV (any common delimiter and text encoding, see ``_encoding``), Excel or Parquet
    file, with ``missing`` values as NaN; any failure is an ``InputError`` naming the file."""
    suffix = _check_file(path)
    try:
        if suffix in (".parquet", ".pq"):
            frame = _blank_placeholders(pd.read_parquet(path), missing)
            names = [str(c) for c in frame.columns]
        elif suffix == ".xlsx":
            frame = _blank_placeholders(pd.read_excel(path, dtype=object), missing)
            frame = frame.infer_objects()
            names = [str(c) for c in frame.columns]
        else:
            frame, names = _read_text(path, missing)
    except InputError:
        raise
    except (ValueError, OSError, UnicodeDecodeError, pa.ArrowException, csv.Error) as err:
        raise InputError(f"cannot be read: {err}".splitlines()[0], path=str(path)) from err
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"duplicate column names {dupes}", path=str(path))
    return _drop_trailing_empty(frame)


def _check_file(path: Path) -> str:
    if not path.exists():
        raise InputError("file not found", path=str(path))
    if path.is_dir():
        raise InputError("is a directory, expected a CSV, Excel or Parquet file", path=str(path))
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(
            f"unsupported file type '{suffix}' (use {', '.join(TABLE_SUFFIXES)})", path=str(path)
        )
    if path.stat().st_size == 0:
        raise InputError("file is empty", path=str(path))
    return suffix


def _read_text(path: Path, missing: tuple[str, ...]) -> tuple[pd.DataFrame, list[str]]:
    """A delimited text file: encoding and delimiter found from its first bytes."""
    encoding, delimiter, header, sample = _sniff(path)
    try:
        frame = _read_csv(path, delimiter=delimiter, encoding=encoding, missing=missing)
    except UnicodeDecodeError as err:
        # UTF-8 in the first bytes, another code page further down: detect it where it shows.
        window = err.object[max(0, err.start - SNIFF_BYTES // 2) : err.start + SNIFF_BYTES // 2]
        found = _encoding(bytes(window)) if encoding == "utf-8-sig" else None
        if found is None or found == encoding:
            raise
        frame = _read_csv(path, delimiter=delimiter, encoding=found, missing=missing)
    if len(frame.columns) == 1 and len(sample.splitlines()[0]) > 30:
        raise InputError(
            f"only one column found ('{str(frame.columns[0])[:40]}...'): the delimiter was not "
            "recognised (use comma, semicolon, tab or |)",
            path=str(path),
            column=str(frame.columns[0])[:40],
            rows=[1],
        )
    return frame, [name.strip() for name in header]


def _read_csv(
    path: Path, *, delimiter: str, encoding: str, missing: tuple[str, ...]
) -> pd.DataFrame:
    return pd.read_csv(
        path,
        sep=delimiter,
        encoding=encoding,
        low_memory=False,
        na_values=list(missing),
        keep_default_na=True,
        skipinitialspace=True,
    )


def _sniff(path: Path) -> tuple[str, str, list[str], str]:
    """A text table's encoding, delimiter, header cells and first bytes (decoded)."""
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    encoding = _encoding(head)
    if encoding is None:
        raise InputError(
            "is not a text table (binary content, no text encoding fits); expected CSV",
            path=str(path),
        )
    sample = head.decode(encoding, errors="replace")
    delimiter = _delimiter(sample)
    header = next(csv.reader(io_module.StringIO(sample), delimiter=delimiter), [])
    return encoding, delimiter, header, sample


def _encoding(head: bytes) -> str | None:
    """The encoding of a text file from its first bytes, or None when it is not text.

    A byte-order mark decides; then UTF-8; then charset-normalizer. Code pages that decode the
    bytes identically are ranked arbitrarily by the detector, so Windows-1252 (what Excel and
    most Western CRMs write) is chosen whenever it reads the bytes as cleanly as the best guess:
    its euro sign and curly quotes are control characters in Latin-1. NUL bytes outside UTF-16
    or UTF-32 mean binary content.
    """
    for bom, name in BOMS:
        if head.startswith(bom):
            return name
    if b"\x00" not in head and _is_utf8(head):
        return "utf-8-sig"
    matches = charset_normalizer.from_bytes(head)
    best = matches.best()
    if best is None:
        return None
    if b"\x00" in head and not best.encoding.startswith(("utf_16", "utf_32")):
        return None
    western = any(WESTERN in m.could_be_from_charset and m.chaos <= best.chaos for m in matches)
    return WESTERN if western else str(best.encoding)


def _is_utf8(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.reason == "unexpected end of data"  # a character cut at the sample's end
    return True


def _delimiter(sample: str) -> str:
    lines = [line for line in sample.splitlines()[:50] if line.strip()]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in DELIMITERS}
        return max(counts, key=lambda d: counts[d]) if max(counts.values()) else ","


def _blank_placeholders(frame: pd.DataFrame, missing: tuple[str, ...]) -> pd.DataFrame:
    """Placeholder strings in text columns become missing values."""
    placeholders = set(missing)
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            stripped = values.astype("string").str.strip()
            frame[column] = values.where(~stripped.isin(placeholders), None)
    return frame


def _drop_trailing_empty(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns made by trailing delimiters: unnamed and empty."""
    extra = [c for c in frame.columns if str(c).startswith("Unnamed: ") and frame[c].isna().all()]
    return frame.drop(columns=extra)


class TableChunks:
    """A CSV or Parquet file read a slice of rows at a time, so memory stays bounded.

    ``columns`` is known before any row is read (to refuse a file that lacks a needed column
    before doing any work); ``done`` is the share of the file read so far, for progress bars.
    """

    def __init__(
        self, path: Path, *, rows: int = 100_000, missing: tuple[str, ...] = DEFAULT_MISSING
    ) -> None:
        suffix = _check_file(path)
        if suffix not in (".csv", ".tsv", ".txt", ".parquet", ".pq"):
            raise InputError("only CSV and Parquet files can be read in chunks", path=str(path))
        self.path = path
        self.rows = rows
        self.missing = missing
        self.parquet = suffix in (".parquet", ".pq")
        self.done = 0.0
        self.total_rows: int | None = None
        self.columns = self._open()

    def _open(self) -> list[str]:
        try:
            if self.parquet:
                meta = pq.ParquetFile(self.path)
                self.total_rows = meta.metadata.num_rows
                return [str(name) for name in meta.schema_arrow.names]
            self.encoding, self.delimiter, header, _sample = _sniff(self.path)
        except (ValueError, OSError, pa.ArrowException, csv.Error) as err:
            raise InputError(f"cannot be read: {err}".splitlines()[0], path=str(self.path)) from err
        return [name.strip() for name in header]

    def __iter__(self) -> Iterator[pd.DataFrame]:
        try:
            yield from self._parquet() if self.parquet else self._csv()
        except InputError:
            raise
        except (ValueError, OSError, UnicodeDecodeError, pa.ArrowException, csv.Error) as err:
            raise InputError(f"cannot be read: {err}".splitlines()[0], path=str(self.path)) from err

    def _parquet(self) -> Iterator[pd.DataFrame]:
        source = pq.ParquetFile(self.path)
        seen = 0
        for batch in source.iter_batches(batch_size=self.rows):
            seen += batch.num_rows
            self.done = seen / max(self.total_rows or 1, 1)
            yield _blank_placeholders(batch.to_pandas(), self.missing)

    def _csv(self) -> Iterator[pd.DataFrame]:
        size = max(self.path.stat().st_size, 1)
        with self.path.open("rb") as handle:
            reader = pd.read_csv(
                handle,
                sep=self.delimiter,
                encoding=self.encoding,
                na_values=list(self.missing),
                keep_default_na=True,
                skipinitialspace=True,
                chunksize=self.rows,
            )
            for chunk in reader:
                self.done = min(handle.tell() / size, 1.0)
                chunk.columns = [str(c).strip() for c in chunk.columns]
                yield chunk
