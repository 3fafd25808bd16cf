"""Refusals that need no heavy import (file system and settings only): the CLI asks them before
loading pandas, LightGBM or MLflow, so an error found before real work answers at once."""

from __future__ import annotations

from leadloop.config import Settings
from leadloop.errors import RegistryError, redact


def require_registry(settings: Settings) -> None:
    """``RegistryError`` when the local model registry was never created."""
    if settings.tracking_store_missing():
        raise RegistryError(
            f"no model registry at {redact(settings.tracking_uri())}: run `leadloop run` first"
        )
