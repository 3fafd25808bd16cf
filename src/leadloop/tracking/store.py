"""The MLflow store one configuration points at, shared by run logging and the registry.

Only the ``tracking`` package imports mlflow.
"""

from __future__ import annotations

import io as io_module
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from leadloop.config import Settings
from leadloop.locking import registry_lock

log = logging.getLogger(__name__)
REGISTRY_ENV = "MLFLOW_REGISTRY_URI"  # what mlflow.set_registry_uri exports


class MlflowStore:
    """The tracking URI, experiment and registered model name of one configuration."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.uri = settings.tracking_uri()
        self.name = settings.tracking.model_name

    def store_exists(self) -> bool:
        """False when the default SQLite store has never been created (nothing to read)."""
        prefix = "sqlite:///"
        return not self.uri.startswith(prefix) or Path(self.uri[len(prefix) :]).exists()

    def lock(self) -> AbstractContextManager[None]:
        """The registry's lock (see ``locking.py``), held while an alias is compared and moved."""
        config = self.settings.tracking
        target = config.lock_url or self.uri
        return registry_lock(target, name=self.name, timeout=config.lock_timeout)

    def client(self) -> MlflowClient:
        """An MLflow client on this store (tracking and registry alike)."""
        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)


def ensure_store_dir(settings: Settings) -> None:
    """Create the directory of a local SQLite store so MLflow can create the database."""
    uri = settings.tracking_uri()
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)


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
