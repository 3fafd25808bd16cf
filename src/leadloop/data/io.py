"""Reading and writing files: every table, JSON record and model artifact goes through here
(tables are read by ``data.reading``, re-exported here).

Writes are atomic (a temporary file renamed into place), so a failed run never leaves a
half-written output behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import yaml

from leadloop.data.chunks import TableChunks
from leadloop.data.files import TABLE_SUFFIXES
from leadloop.data.reading import ReadOptions, Table, read_input, read_table
from leadloop.data.staging import storage_fault
from leadloop.errors import InputError, StorageError

# and the writers below
__all__ = ["TABLE_SUFFIXES", "ReadOptions", "Table", "TableChunks", "read_input", "read_table"]


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
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.tmp.touch()  # a read-only or full disk shows before any work
        except OSError as err:
            raise self._fault(err) from err
        return self

    def write(self, table: pa.Table) -> None:
        """Append rows (every chunk with the same schema)."""
        try:
            if self.parquet:
                if self._parquet_writer is None:
                    self._parquet_writer = pq.ParquetWriter(self.tmp, table.schema)
                self._parquet_writer.write_table(table)
            else:
                options = pa_csv.WriteOptions(include_header=not self._started)
                with self.tmp.open("ab") as handle:
                    pa_csv.write_csv(table, handle, write_options=options)
        except OSError as err:
            raise self._fault(err) from err
        self._started = True

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if self._parquet_writer is not None:
                self._parquet_writer.close()
            if exc_type is None and self._started:
                os.replace(self.tmp, self.path)
        except OSError as err:
            raise self._fault(err) from err
        finally:
            self.tmp.unlink(missing_ok=True)

    def _fault(self, err: OSError) -> Exception:
        """A full or read-only disk as one line naming the output; other errors unchanged."""
        reason = storage_fault(err)
        if reason is None:
            return err
        return StorageError(f"{self.path}: cannot be written ({reason}); no output was left")


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
    """A fresh temporary directory beside ``final``, to be moved into place by the caller."""
    final.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))


def nanosecond_timestamps(path: Path) -> list[str]:
    """Columns of a local Parquet file (or directory of files) holding nanosecond timestamps,
    as pandas writes them (Spark reads those only as integers)."""
    files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
    if not files:
        return []
    schema = pq.read_schema(files[0])
    return [
        field.name
        for field in schema
        if pa.types.is_timestamp(field.type) and field.type.unit == "ns"
    ]


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
