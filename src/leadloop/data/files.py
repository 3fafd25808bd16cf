"""Is a path a table leadloop can read? Answered from the file system alone, with no heavy
import, so the CLI can refuse a wrong path at once (before pandas, LightGBM or MLflow load)."""

from __future__ import annotations

from pathlib import Path

from leadloop.errors import InputError

TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".xlsx")


def check_file(path: Path) -> str:
    """The suffix of a readable table file; ``InputError`` for a missing, empty or other file."""
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
