"""Everything that talks to MLflow (the only package that imports it).

- ``runs.RunLog``: a loop run as one MLflow run with nested stage runs, its models logged and
  registered, skipped runs recorded;
- ``models.ModelRegistry``: registered versions, their tags and aliases, loading a version;
- ``store``: what both share (the URI, the registry lock, MLflow's fluent API pointed at it).

The rest of leadloop hands this package finished results; a run writes them in one go at the
end, so a run that fails earlier leaves the store and the registry as they were. Aliases
(``champion``, ``challenger``) are moved last, by ``leadloop.registry``, under the lock.
"""

from __future__ import annotations

from leadloop.tracking.models import ModelRegistry, RegisteredModel
from leadloop.tracking.runs import ModelToLog, Published, RunLog
from leadloop.tracking.store import MlflowStore, check_store, ensure_store_dir

__all__ = [
    "MlflowStore",
    "ModelRegistry",
    "ModelToLog",
    "Published",
    "RegisteredModel",
    "RunLog",
    "check_store",
    "ensure_store_dir",
]
