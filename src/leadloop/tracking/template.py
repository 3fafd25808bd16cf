"""New local SQLite stores start as a copy of an empty MLflow store instead of migrating one.

MLflow creates a new store's tables by replaying its schema migrations, about two seconds on
two cores, on every first run of a project. The template is that empty store made once per
MLflow version (``mlflow-<version>.db`` in ``tracking.store_template_dir``, by default the
user's cache directory): MLflow's tables at its schema's head and no row of ours. MLflow adds
its default experiment when it first opens the copy, with the project's own artifact location,
exactly as in a store it created itself.

The template is built in a file of its own and renamed into place, and a store is written in a
file of its own and linked into place, so neither is ever seen half-written, and two first runs
get one store. Where the template cannot be built or copied (no cache directory, a full disk, a
file system without links), the store is created empty and MLflow migrates it, as before.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

log = logging.getLogger(__name__)
SQLITE_HEADER = b"SQLite format 3\x00"


def create_store(path: Path, *, template_dir: Path | None) -> None:
    """Create the SQLite store file ``path`` (mode 0600) unless it exists: a copy of the
    template where there is one, else an empty file for MLflow to migrate."""
    if path.exists():
        return
    template = template_path(template_dir) if template_dir is not None else None
    if template is not None and _copy_into_place(template, path):
        return
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def template_path(directory: Path) -> Path | None:
    """The template for the installed MLflow in ``directory``, built there first if missing;
    None (and a debug line) where it cannot be built."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    path = directory / f"mlflow-{mlflow.__version__}.db"
    if is_sqlite(path):
        return path
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _scratch(directory, path.name) as building:
            _build(building)
            os.replace(building, path)
    except (OSError, ImportError, SQLAlchemyError, MlflowException) as err:
        log.debug("no MLflow store template in %s: %s", directory, err)
        return None
    return path


def is_sqlite(path: Path) -> bool:
    """True for an SQLite database file (checked by its header)."""
    try:
        with path.open("rb") as handle:
            return handle.read(16) == SQLITE_HEADER
    except OSError:
        return False


def _build(path: Path) -> None:
    """MLflow's tables, created in ``path`` by MLflow's own initialisation of a new store."""
    import sqlalchemy
    from mlflow.store.db.utils import _initialize_tables

    engine = sqlalchemy.create_engine(f"sqlite:///{path}")
    try:
        _initialize_tables(engine)  # type: ignore[no-untyped-call]
    finally:
        engine.dispose()
    if not is_sqlite(path):
        raise OSError(f"{path} is not an SQLite database after MLflow created its tables")


def _copy_into_place(template: Path, path: Path) -> bool:
    """Copy ``template`` to a new file beside ``path`` and link it as ``path``; False where the
    copy could not be made (the caller creates the store empty)."""
    try:
        with _scratch(path.parent, path.name) as copy:
            fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out, template.open("rb") as source:
                shutil.copyfileobj(source, out)
                out.flush()
                os.fsync(out.fileno())
            with suppress(FileExistsError):  # another run made the store meanwhile: as good
                os.link(copy, path)
    except OSError as err:
        log.debug("store %s not copied from the template %s: %s", path, template, err)
        return False
    return True


@contextmanager
def _scratch(directory: Path, name: str) -> Iterator[Path]:
    """A unique hidden file name in ``directory``, removed afterwards if still there."""
    path = directory / f".{name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
