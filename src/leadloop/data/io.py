"""Reading and writing files: every table, JSON record and model artifact goes through here.

Writes are atomic (a temporary file renamed into place), so a failed run never leaves a
half-written output behind.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io as io_module
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import charset_normalizer
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import yaml

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


class TableWriter:
    """Writes a CSV or Parquet file chunk by chunk; the file appears only when all is written."""

    def __init__(self, path: Path) -> None:
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".parquet", ".pq"):
            raise InputError("the output must be a .csv or .parquet file", path=str(path))
        self.path = path
        self.parquet = suffix != ".csv"
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self._parquet_writer: pq.ParquetWriter | None = None
        self._started = False

    def __enter__(self) -> TableWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self

    def write(self, table: pa.Table) -> None:
        """Append rows (every chunk with the same schema)."""
        if self.parquet:
            if self._parquet_writer is None:
                self._parquet_writer = pq.ParquetWriter(self.tmp, table.schema)
            self._parquet_writer.write_table(table)
        else:
            options = pa_csv.WriteOptions(include_header=not self._started)
            with self.tmp.open("ab") as handle:
                pa_csv.write_csv(table, handle, write_options=options)
        self._started = True

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._parquet_writer is not None:
            self._parquet_writer.close()
        if exc_type is None and self._started:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write a CSV or Parquet file (by suffix) atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _atomic(path) as tmp:
        if path.suffix.lower() == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)


def write_json(data: Mapping[str, Any], path: Path) -> None:
    """Write a JSON document atomically, pretty-printed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _atomic(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON document written by ``write_json``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(f"cannot be read as JSON: {err}", path=str(path)) from err
    if not isinstance(data, dict):
        raise InputError("expected a JSON object", path=str(path))
    return data


def write_texts(files: Mapping[str, str], directory: Path) -> None:
    """Write several text files (name -> content) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        with _atomic(directory / name) as tmp:
            tmp.write_text(text, encoding="utf-8")


def read_texts(directory: Path, names: Iterable[str]) -> dict[str, str]:
    """Read named text files from ``directory``."""
    out = {}
    for name in names:
        path = directory / name
        if not path.is_file():
            raise InputError("model artifact file is missing", path=str(path))
        out[name] = path.read_text(encoding="utf-8")
    return out


def write_text(text: str, path: Path) -> None:
    """Write one text file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _atomic(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dvc_hash(path: Path) -> str | None:
    """The MD5 DVC recorded for ``path`` in its ``.dvc`` file, when the file is DVC-tracked."""
    pointer = path.with_name(path.name + ".dvc")
    if not pointer.is_file():
        return None
    try:
        data = yaml.safe_load(pointer.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None
    outs = data.get("outs") or [{}]
    md5 = outs[0].get("md5") if isinstance(outs[0], dict) else None
    return str(md5) if md5 else None


def staging_dir(final: Path) -> Path:
    """A fresh temporary directory beside ``final``, to be moved into place by ``publish_dir``."""
    final.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))


def publish_dir(staged: Path, final: Path) -> None:
    """Move a fully written staging directory to its final name."""
    if final.exists():
        shutil.rmtree(final)
    os.replace(staged, final)


def publish_dir_once(staged: Path, final: Path) -> bool:
    """Move a staging directory to ``final`` unless another process already put one there
    (then drop ours): for caches that several processes may fill at once."""
    try:
        os.replace(staged, final)
    except OSError:
        if not final.is_dir():
            raise
        discard_dir(staged)
        return False
    return True


def copy_dir(source: Path, target: Path) -> None:
    """Replace ``target`` with a copy of ``source``, via a staging copy beside it."""
    staged = staging_dir(target)
    shutil.copytree(source, staged, dirs_exist_ok=True)
    publish_dir(staged, target)


def discard_dir(staged: Path) -> None:
    """Remove a staging directory after a failure."""
    shutil.rmtree(staged, ignore_errors=True)


class _atomic:
    """Context manager yielding a temporary path that replaces ``target`` on success."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")

    def __enter__(self) -> Path:
        return self.tmp

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            os.replace(self.tmp, self.target)
        else:
            self.tmp.unlink(missing_ok=True)
