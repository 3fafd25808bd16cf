"""Large tables read a slice of rows at a time (batch scoring), so memory stays bounded."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from leadloop.config import DEFAULT_MISSING
from leadloop.data import delimited
from leadloop.data.files import check_file
from leadloop.data.reading import ReadOptions, blank_placeholders, csv_options, refuse_nested
from leadloop.errors import InputError


class TableChunks:
    """A CSV or Parquet file read a slice of rows at a time, so memory stays bounded.

    ``columns`` is known before any row is read (to refuse a file that lacks a needed column
    before doing any work); ``done`` is the share of the file read so far, for progress bars.
    A CSV's rows are checked against its header in one streaming pass first (a stray quote or
    a row with missing fields is refused before anything is scored).
    """

    def __init__(
        self,
        path: Path,
        *,
        rows: int = 100_000,
        missing: tuple[str, ...] = DEFAULT_MISSING,
        options: ReadOptions | None = None,
    ) -> None:
        suffix = check_file(path)
        if suffix not in (".csv", ".tsv", ".txt", ".parquet", ".pq"):
            raise InputError("only CSV and Parquet files can be read in chunks", path=str(path))
        self.path = path
        self.rows = rows
        self.options = options or ReadOptions(missing=missing)
        self.parquet = suffix in (".parquet", ".pq")
        self.done = 0.0
        self.total_rows: int | None = None
        self.columns = self._open()

    def _open(self) -> list[str]:
        source = str(self.path)
        try:
            if self.parquet:
                meta = pq.ParquetFile(self.path)
                refuse_nested(meta.schema_arrow, source=source)
                self.total_rows = meta.metadata.num_rows
                return [str(name) for name in meta.schema_arrow.names]
            with self.path.open("rb") as handle:
                sniffed = delimited.sniff(handle.read(delimited.SNIFF_BYTES), source=source)
            self.encoding, self.delimiter = sniffed.encoding, sniffed.delimiter
            with self.path.open(encoding=self.encoding, newline="") as text:
                delimited.check_lines(text, self.delimiter, source)
        except InputError:
            raise
        except (ValueError, OSError, pa.ArrowException, csv.Error) as err:
            raise InputError(f"cannot be read: {err}".splitlines()[0], path=source) from err
        return [name.strip() for name in sniffed.header]

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
            yield blank_placeholders(batch.to_pandas(), self.options.missing)[0]

    def _csv(self) -> Iterator[pd.DataFrame]:
        size = max(self.path.stat().st_size, 1)
        comma_file = self.delimiter == ","
        convert = self.options.decimal == "," or (self.options.decimal == "auto" and not comma_file)
        with self.path.open("rb") as handle:
            settings = csv_options(
                self.delimiter,
                self.options,
                self.options.decimal == "," and not comma_file,
                encoding=self.encoding,
            )
            reader = pd.read_csv(handle, chunksize=self.rows, **settings)
            for chunk in reader:
                self.done = min(handle.tell() / size, 1.0)
                chunk.columns = [str(c).strip() for c in chunk.columns]
                if convert:
                    for column in delimited.comma_number_columns(chunk):
                        chunk[column] = delimited.from_decimal_comma(chunk[column])
                yield chunk
