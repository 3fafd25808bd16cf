"""The model registry: registered versions, their tags and aliases, and loading a version."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from leadloop.data import io
from leadloop.errors import RegistryError, redact
from leadloop.model.train import ENCODING_FILE, MODEL_FILE, LeadModel
from leadloop.tracking.store import MlflowStore, quiet, tracking_uri

_NOT_FOUND = {"INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"}  # no such alias, no model


@dataclass(frozen=True)
class RegisteredModel:
    """A registered model version loaded for use."""

    version: str
    model: LeadModel
    run_id: str | None


class ModelRegistry(MlflowStore):
    """The registered model ``tracking.model_name``: versions, tags, aliases."""

    def alias_version(self, alias: str, *, strict: bool = False) -> str | None:
        """The version an alias points at, or None; never creates the store.

        With ``strict``, only a missing alias or model reads as None; any other failure (an
        unreachable store) raises, so a compare-and-set never mistakes it for "no champion".
        """
        if not self.store_exists():
            return None
        try:
            return str(self.client().get_model_version_by_alias(self.name, alias).version)
        except MlflowException as err:
            if strict and err.error_code not in _NOT_FOUND:
                raise
            return None

    def load(self, ref: str) -> RegisteredModel:
        """Load a registered version by number or by alias (``champion``)."""
        client = self.client()
        try:
            mv = (
                client.get_model_version(self.name, ref)
                if ref.isdigit()
                else client.get_model_version_by_alias(self.name, ref)
            )
        except MlflowException as err:
            raise RegistryError(
                f"model '{self.name}' has no version or alias '{ref}' in {redact(self.uri)}"
            ) from err
        with tracking_uri(self.uri), tempfile.TemporaryDirectory() as tmp, quiet():
            local = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=f"models:/{self.name}/{mv.version}", dst_path=tmp
                )
            )
            found = sorted(local.rglob(MODEL_FILE))
            if not found:
                raise RegistryError(f"model '{self.name}' version {mv.version} has no {MODEL_FILE}")
            files = io.read_texts(found[0].parent, [MODEL_FILE, ENCODING_FILE])
        return RegisteredModel(str(mv.version), LeadModel.from_artifacts(files), mv.run_id)

    def version_tags(self, version: str) -> dict[str, str]:
        """A registered version's tags; ``RegistryError`` when there is no such version."""
        try:
            return dict(self.client().get_model_version(self.name, version).tags)
        except MlflowException as err:
            raise RegistryError(f"model '{self.name}' has no version {version}") from err

    def set_alias(self, alias: str, version: str) -> None:
        """Point ``alias`` at ``version`` (callers hold ``lock()`` and compared first)."""
        self.client().set_registered_model_alias(self.name, alias, version)

    def tag_version(self, version: str, tags: Mapping[str, str]) -> None:
        """Write tags on a registered version."""
        client = self.client()
        for key, value in tags.items():
            client.set_model_version_tag(self.name, version, key, value)

    def versions(self) -> list[dict[str, Any]]:
        """Every registered version, newest first, with its tags, aliases and holdout AUC."""
        if not self.store_exists():
            return []
        client = self.client()
        found = client.search_model_versions(f"name='{self.name}'")
        if not found:  # a store where nothing was registered yet (a run failed before it)
            return []
        aliases: dict[str, list[str]] = {}
        for alias, version in client.get_registered_model(self.name).aliases.items():
            aliases.setdefault(str(version), []).append(alias)
        rows = [_version_facts(client, mv) for mv in sorted(found, key=lambda m: -int(m.version))]
        for row in rows:
            row["aliases"] = sorted(aliases.get(row["version"], []))
        # A version whose run never finished publishing (it failed, or is publishing now) was
        # never part of the registry's story: not listed unless an alias points at it.
        return [row for row in rows if row.pop("published") or row["aliases"]]

    def versions_of(self, run_ids: Iterable[str]) -> list[str]:
        """The versions registered from these MLflow runs (a loop run's training runs)."""
        client = self.client()
        out: list[str] = []
        for run_id in run_ids:
            found = client.search_model_versions(f"name='{self.name}' and run_id='{run_id}'")
            out += [str(mv.version) for mv in found]
        return sorted(out, key=int)

    def delete_versions(self, versions: Iterable[str]) -> None:
        """Remove versions a failed run registered (their aliases and tags go with them)."""
        client = self.client()
        for version in versions:
            try:
                client.delete_model_version(self.name, version)
            except MlflowException as err:
                if err.error_code not in _NOT_FOUND:
                    raise

    def restore_alias(self, alias: str, version: str | None) -> None:
        """Point ``alias`` back at ``version``, or remove it when there was none."""
        if version:
            self.set_alias(alias, version)
            return
        try:
            self.client().delete_registered_model_alias(self.name, alias)
        except MlflowException as err:
            if err.error_code not in _NOT_FOUND:
                raise

    def spark_udf(
        self, spark: Any, version: str, *, result_type: str, model_config: Mapping[str, Any]
    ) -> Any:
        """MLflow's Spark UDF of registered version ``version``, in this Python environment."""
        with tracking_uri(self.uri), quiet():
            return mlflow.pyfunc.spark_udf(
                spark,
                f"models:/{self.name}/{version}",
                result_type=result_type,
                env_manager="local",
                model_config=dict(model_config),
            )

    def model_card(self, version: str) -> dict[str, Any]:
        """A version's facts for the service: when and how it was trained, holdout metrics."""
        client = self.client()
        facts = _version_facts(client, client.get_model_version(self.name, version))
        facts.pop("published")
        return facts


def _version_facts(client: MlflowClient, mv: Any) -> dict[str, Any]:
    """One version's facts: tags, decision and holdout metrics of the run that trained it."""
    parent = client.get_run(mv.run_id).data.tags.get("mlflow.parentRunId") if mv.run_id else None
    loop = client.get_run(parent) if parent else None
    prefix = f"{mv.tags.get('trained_as') or 'challenger'}_"
    metrics = {
        name[len(prefix) :]: value
        for name, value in sorted((_evaluate_metrics(client, parent) if parent else {}).items())
        if name.startswith(prefix)
    }
    return {
        "version": str(mv.version),
        "created": pd.Timestamp(mv.creation_timestamp, unit="ms").isoformat(timespec="seconds"),
        "data_version": mv.tags.get("data_version"),
        "trained_as": mv.tags.get("trained_as"),
        "run": mv.tags.get("leadloop_run"),
        "promoted_by": mv.tags.get("promoted_by"),
        "promoted_at": mv.tags.get("promoted_at"),
        "decision": loop.data.tags.get("decision") if loop else None,
        "roc_auc": metrics.get("roc_auc"),
        "holdout_metrics": metrics,
        "published": loop is None or loop.info.status == "FINISHED",
    }


def _evaluate_metrics(client: MlflowClient, parent: str) -> dict[str, float]:
    """The metrics of the 'evaluate' run nested under ``parent``."""
    run = client.get_run(parent)
    children = client.search_runs(
        [run.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent}' and tags.pipeline_stage = 'evaluate'",
    )
    if not children:
        return {}
    return {k: float(v) for k, v in children[0].data.metrics.items()}
