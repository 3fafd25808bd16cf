"""The MLflow store one configuration points at, shared by run logging and the registry.

Only the ``tracking`` package imports mlflow.
"""

from __future__ import annotations

import io as io_module
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import (
    AbstractContextManager,
    contextmanager,
    redirect_stderr,
    redirect_stdout,
)
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from leadloop.config import Settings
from leadloop.data import staging
from leadloop.errors import ConfigError, redact
from leadloop.locking import registry_lock
from leadloop.tracking.template import create_store, is_sqlite

log = logging.getLogger(__name__)
REGISTRY_ENV = "MLFLOW_REGISTRY_URI"
SQLITE = "sqlite:///"  # what mlflow.set_registry_uri exports


class MlflowStore:
    """The tracking URI, experiment and registered model name of one configuration."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.uri = settings.tracking_uri()
        self.name = settings.tracking.model_name

    def store_exists(self) -> bool:
        """False when the default SQLite store has never been created (nothing to read)."""
        return not self.settings.tracking_store_missing()

    def lock(self) -> AbstractContextManager[None]:
        """The registry's lock (see ``locking.py``), held while an alias is compared and moved."""
        config = self.settings.tracking
        target = config.lock_url or self.uri
        return registry_lock(target, name=self.name, timeout=config.lock_timeout)

    def client(self) -> MlflowClient:
        """An MLflow client on this store (tracking and registry alike)."""
        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)


def ensure_store_dir(settings: Settings) -> None:
    """Create a local SQLite store's directory (owner only) and its database file with mode
    0600 before MLflow opens it: SQLite keeps the mode, and gives it to its journals. A new
    file is a copy of the empty store template (``template.py``) where there is one."""
    uri = settings.tracking_uri()
    if uri.startswith(SQLITE):
        path = Path(uri[len(SQLITE) :])
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        template_dir = settings.tracking.store_template_dir
        create_store(path, template_dir=template_dir and settings.resolve(template_dir))


def check_store(settings: Settings, *, writing: bool = True) -> None:
    """Before any work: the tracking store is one leadloop can use, and reachable.

    A database URI must accept a connection and a tracking server must answer its health
    check; when ``writing`` (a run), a local SQLite store's directory and the artifact root
    must be writable and an existing database file an SQLite database. Each failure is one
    line, with no password in it.
    """
    uri = settings.tracking_uri()
    shown = redact(uri)
    if not writing:
        if uri.split(":", 1)[0].split("+", 1)[0] in ("postgresql", "postgres", "mysql", "mssql"):
            _connect(uri, shown)
        elif uri.startswith(("http://", "https://")):
            _health(uri, shown)
        return
    if uri.startswith(SQLITE):
        path = Path(uri[len(SQLITE) :])
        staging.writable_dir(path.parent, what="the MLflow store's directory")
        if path.is_dir():
            raise ConfigError(f"tracking.uri {shown} names a directory, not a database file")
        if path.is_file() and path.stat().st_size and not is_sqlite(path):
            raise ConfigError(f"tracking.uri {shown}: {path} is not an SQLite database")
    elif uri.split(":", 1)[0].split("+", 1)[0] in ("postgresql", "postgres", "mysql", "mssql"):
        _connect(uri, shown)
    elif uri.startswith(("http://", "https://")):
        _health(uri, shown)
    server = uri.startswith(("http://", "https://", "databricks", "uc"))
    if not server:
        root = settings.resolve(settings.tracking.artifact_root)
        staging.writable_dir(root, what="tracking.artifact_root")


def _connect(uri: str, shown: str) -> None:
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    try:
        engine = sa.create_engine(uri, poolclass=NullPool)
        with engine.connect():
            pass
        engine.dispose()
    except (sa.exc.SQLAlchemyError, ImportError, OSError) as err:  # a missing driver too
        first = redact(str(err).strip().splitlines()[0]) if str(err).strip() else type(err).__name__
        raise ConfigError(f"cannot reach the tracking database {shown}: {first}") from err


def _health(uri: str, shown: str) -> None:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=10):
            pass
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        raise ConfigError(
            f"the MLflow tracking server {shown} does not answer ({redact(str(reason))})"
        ) from err


@contextmanager
def quiet() -> Iterator[None]:
    """Keep MLflow's own console chatter (warnings, "registered model" lines) out of the CLI."""
    chatter = io_module.StringIO()
    with warnings.catch_warnings(), redirect_stderr(chatter), redirect_stdout(chatter):
        warnings.simplefilter("ignore")
        yield
    if chatter.getvalue().strip():
        log.debug("mlflow: %s", chatter.getvalue().strip())


@contextmanager
def tracking_uri(uri: str) -> Iterator[None]:
    """MLflow's fluent API pointed at ``uri`` for a block, then put back as it was.

    ``mlflow.set_registry_uri`` also exports ``MLFLOW_REGISTRY_URI`` (for subprocesses): both are
    restored, or every later client in this process (and its children) would read this store.
    """
    previous = mlflow.get_tracking_uri()
    previous_registry = os.environ.get(REGISTRY_ENV)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)
        mlflow.set_registry_uri(previous_registry or "")  # "": follow the tracking URI again
        if previous_registry is None:
            os.environ.pop(REGISTRY_ENV, None)
