"""Everything that talks to MLflow: runs, metrics, models, the registry and its aliases.

The rest of leadloop hands this module finished results; it writes them in one go at the end of
a run, so a run that fails earlier leaves the store and the registry as they were. Aliases
(``champion``, ``challenger``) are moved last, by ``registry.py``, under the registry's lock.
"""

from __future__ import annotations

import io as io_module
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import (
    AbstractContextManager,
    contextmanager,
    nullcontext,
    redirect_stderr,
    redirect_stdout,
)
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, infer_signature
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, DataType, Schema, TensorSpec
from mlflow.types.schema import AnyType

import leadloop
from leadloop.config import Settings
from leadloop.data import io
from leadloop.errors import RegistryError
from leadloop.locking import registry_lock
from leadloop.model.train import ENCODING_FILE, MODEL_FILE, LeadModel, TrainResult
from leadloop.scoring import Scorer

log = logging.getLogger(__name__)
REGISTRY_ENV = "MLFLOW_REGISTRY_URI"  # what mlflow.set_registry_uri exports
_NOT_FOUND = {"INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"}  # no such alias, no model
PYFUNC_CODE = Path(__file__).parent / "model" / "pyfunc.py"
PIP_REQUIREMENTS = [
    "lightgbm",
    "numpy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "pydantic",
    "pyyaml",
    "scipy",
]


@dataclass(frozen=True)
class ModelToLog:
    """A trained model to log in its own nested run and register under ``role``'s alias."""

    role: str
    result: TrainResult
    sample: pd.DataFrame
    facts: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Published:
    """What a run wrote to MLflow."""

    run_id: str
    experiment_id: str
    versions: dict[str, str]
    evaluate_run_id: str


@dataclass(frozen=True)
class RegisteredModel:
    """A registered model version loaded for use."""

    version: str
    model: LeadModel
    run_id: str | None


class Tracker:
    """MLflow store for one configuration (tracking URI, experiment, registered model name)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.uri = settings.tracking_uri()
        self.name = settings.tracking.model_name

    def store_exists(self) -> bool:
        """False when the default SQLite store has never been created (nothing to read)."""
        prefix = "sqlite:///"
        return not self.uri.startswith(prefix) or Path(self.uri[len(prefix) :]).exists()

    def alias_version(self, alias: str, *, strict: bool = False) -> str | None:
        """The version an alias points at, or None; never creates the store.

        With ``strict``, only a missing alias or model reads as None; any other failure (an
        unreachable store) raises, so a compare-and-set never mistakes it for "no champion".
        """
        if not self.store_exists():
            return None
        try:
            return str(self._client().get_model_version_by_alias(self.name, alias).version)
        except MlflowException as err:
            if strict and err.error_code not in _NOT_FOUND:
                raise
            return None

    def load(self, ref: str) -> RegisteredModel:
        """Load a registered version by number or by alias (``champion``)."""
        client = self._client()
        try:
            mv = (
                client.get_model_version(self.name, ref)
                if ref.isdigit()
                else client.get_model_version_by_alias(self.name, ref)
            )
        except MlflowException as err:
            raise RegistryError(
                f"model '{self.name}' has no version or alias '{ref}' in {self.uri}"
            ) from err
        with _tracking_uri(self.uri), tempfile.TemporaryDirectory() as tmp, _quiet():
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

    def publish(
        self,
        *,
        run_name: str,
        tags: Mapping[str, str],
        params: Mapping[str, Any],
        metrics: Mapping[str, float],
        models: list[ModelToLog],
        evaluation: Mapping[str, float],
        report_dir: Path,
    ) -> Published:
        """Log the whole run (parent + nested stage runs) and register its models.

        Aliases are not moved here: ``registry.settle_run`` does that, compare-and-set.
        """
        ensure_store_dir(self.settings)
        # Two first runs must not both create the SQLite store or the experiment.
        first = self.lock() if not self.store_exists() else nullcontext()
        with _tracking_uri(self.uri):
            with first:
                experiment_id = self._experiment()
            with mlflow.start_run(
                experiment_id=experiment_id,
                run_name=run_name,
                tags={**tags, "pipeline_stage": "loop"},
            ) as parent:
                mlflow.log_params(dict(params))
                mlflow.log_metrics(dict(metrics))
                versions = {m.role: self._log_model(m, tags, experiment_id) for m in models}
                with mlflow.start_run(
                    experiment_id=experiment_id,
                    run_name="evaluate",
                    nested=True,
                    tags={**tags, "pipeline_stage": "evaluate"},
                ) as evaluate:
                    mlflow.log_metrics(dict(evaluation))
                    mlflow.log_artifacts(str(report_dir), artifact_path="report")
        return Published(parent.info.run_id, experiment_id, versions, evaluate.info.run_id)

    def log_report(self, run_id: str, report_dir: Path) -> None:
        """Log (again) the report files of a run, once they say what the registry did."""
        with _quiet():
            self._client().log_artifacts(run_id, str(report_dir), artifact_path="report")

    def lock(self) -> AbstractContextManager[None]:
        """The registry's lock (see ``locking.py``), held while an alias is compared and moved."""
        config = self.settings.tracking
        target = config.lock_url or self.uri
        return registry_lock(target, name=self.name, timeout=config.lock_timeout)

    def version_tags(self, version: str) -> dict[str, str]:
        """A registered version's tags; ``RegistryError`` when there is no such version."""
        try:
            return dict(self._client().get_model_version(self.name, version).tags)
        except MlflowException as err:
            raise RegistryError(f"model '{self.name}' has no version {version}") from err

    def set_alias(self, alias: str, version: str) -> None:
        """Point ``alias`` at ``version`` (callers hold ``lock()`` and compared first)."""
        self._client().set_registered_model_alias(self.name, alias, version)

    def tag_version(self, version: str, tags: Mapping[str, str]) -> None:
        """Write tags on a registered version."""
        client = self._client()
        for key, value in tags.items():
            client.set_model_version_tag(self.name, version, key, value)

    def tag_run(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Add tags to a logged run (what happened in the registry after it was logged)."""
        client = self._client()
        for key, value in tags.items():
            client.set_tag(run_id, key, value)

    def last_run(self, stage: str = "loop") -> dict[str, str] | None:
        """The tags of the newest finished run of ``stage`` in the experiment, or None."""
        if not self.store_exists():
            return None
        client = self._client()
        found = client.get_experiment_by_name(self.settings.tracking.experiment)
        if found is None:
            return None
        runs = client.search_runs(
            [found.experiment_id],
            filter_string=f"tags.pipeline_stage = '{stage}' and attributes.status = 'FINISHED'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        return {**runs[0].data.tags, "run_id": runs[0].info.run_id} if runs else None

    def log_marker(self, *, run_name: str, tags: Mapping[str, str]) -> str:
        """Log an empty run that only records an event (a skipped run); returns its id."""
        ensure_store_dir(self.settings)
        with _tracking_uri(self.uri), _quiet():
            experiment_id = self._experiment()
            with mlflow.start_run(
                experiment_id=experiment_id, run_name=run_name, tags=dict(tags)
            ) as run:
                return str(run.info.run_id)

    def versions(self) -> list[dict[str, Any]]:
        """Every registered version, newest first, with its tags, aliases and holdout AUC."""
        if not self.store_exists():
            return []
        client = self._client()
        found = client.search_model_versions(f"name='{self.name}'")
        aliases: dict[str, list[str]] = {}
        for alias, version in client.get_registered_model(self.name).aliases.items():
            aliases.setdefault(str(version), []).append(alias)
        rows = [_version_facts(client, mv) for mv in sorted(found, key=lambda m: -int(m.version))]
        for row in rows:
            row["aliases"] = sorted(aliases.get(row["version"], []))
        return rows

    def model_card(self, version: str) -> dict[str, Any]:
        """A version's facts for the service: when and how it was trained, holdout metrics."""
        client = self._client()
        return _version_facts(client, client.get_model_version(self.name, version))

    def spark_udf(
        self, spark: Any, version: str, *, result_type: str, model_config: Mapping[str, Any]
    ) -> Any:
        """MLflow's Spark UDF of registered version ``version``, in this Python environment."""
        with _tracking_uri(self.uri), _quiet():
            return mlflow.pyfunc.spark_udf(
                spark,
                f"models:/{self.name}/{version}",
                result_type=result_type,
                env_manager="local",
                model_config=dict(model_config),
            )

    def _log_model(self, item: ModelToLog, tags: Mapping[str, str], experiment_id: str) -> str:
        with (
            mlflow.start_run(
                experiment_id=experiment_id,
                run_name=f"train_{item.role}",
                nested=True,
                tags={**tags, "pipeline_stage": f"train_{item.role}"},
            ) as run,
            tempfile.TemporaryDirectory() as tmp,
        ):
            mlflow.log_params({f"lgbm_{k}": v for k, v in item.result.params.items()})
            mlflow.log_metrics(
                {
                    "best_iteration": item.result.best_iteration,
                    "fit_seconds": item.result.fit_seconds,
                    **{f"rows_{k}": v for k, v in item.result.rows.items()},
                    **item.facts,
                }
            )
            io.write_texts(item.result.model.to_artifacts(), Path(tmp))
            # The version is registered first so that the logged model knows it: its
            # predictions carry model_version like the service's (see model/pyfunc.py).
            logged = mlflow.initialize_logged_model(
                name="model", source_run_id=run.info.run_id, experiment_id=experiment_id
            )
            version = self._register(logged.model_id, run.info.run_id)
            config = self._model_config(version)
            try:
                self._save_pyfunc(item, Path(tmp), logged.model_id, config)
            except BaseException:
                self._client().delete_model_version(self.name, version)
                raise
        client = self._client()
        for key in ("data_version", "git_commit", "leadloop_run"):
            if key in tags:
                client.set_model_version_tag(self.name, version, key, tags[key])
        client.set_model_version_tag(self.name, version, "trained_as", item.role)
        return version

    def _register(self, model_id: str, run_id: str) -> str:
        """A new version of the registered model for the logged model ``model_id``."""
        client = self._client()
        try:
            client.create_registered_model(self.name)
        except MlflowException as err:
            if err.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        mv = client.create_model_version(
            self.name, source=f"models:/{model_id}", run_id=run_id, model_id=model_id
        )
        return str(mv.version)

    def _model_config(self, version: str) -> dict[str, Any]:
        """What the logged model needs to write the service's score records."""
        return {
            "model_name": self.name,
            "model_version": version,
            "grade_cutoffs": list(self.settings.evaluation.grade_cutoffs),
            "reasons": self.settings.serve.reasons,
            "date_formats": dict(self.settings.leads.date_formats),
            "compiled_dir": "",  # where a caller wants compiled trees cached ("": LightGBM)
        }

    def _save_pyfunc(
        self, item: ModelToLog, files: Path, model_id: str, config: dict[str, Any]
    ) -> None:
        model = item.result.model
        scorer = Scorer(
            model, config["model_version"], tuple(config["grade_cutoffs"]), config["reasons"]
        )
        sample = item.sample.reset_index(drop=True)
        if "lead_id" not in sample.columns:
            sample.insert(0, "lead_id", [f"L-{i + 1}" for i in range(len(sample))])
        stamp = pd.Timestamp.now(tz="UTC").floor("s")
        records = scorer.score_frame(sample, scored_at=stamp)
        with _quiet():
            mlflow.pyfunc.log_model(
                name="model",
                python_model=str(PYFUNC_CODE),
                artifacts={name: str(files / name) for name in (MODEL_FILE, ENCODING_FILE)},
                code_paths=[str(Path(leadloop.__file__).parent)],
                signature=_signature(sample, records, reasons=config["reasons"]),
                pip_requirements=PIP_REQUIREMENTS,
                model_config=config,
                model_id=model_id,
            )

    def _experiment(self) -> str:
        name = self.settings.tracking.experiment
        found = mlflow.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        location = None
        if not self.uri.startswith(("http://", "https://", "databricks")):
            root = self.settings.resolve(self.settings.tracking.artifact_root).resolve()
            root.mkdir(parents=True, exist_ok=True)
            location = (root / name).as_uri()
        # An MLflow tracking server chooses where artifacts go (its --artifacts-destination).
        try:
            return str(mlflow.create_experiment(name, artifact_location=location))
        except MlflowException:
            found = mlflow.get_experiment_by_name(name)  # created meanwhile by another run
            if found is None:
                raise
            return str(found.experiment_id)

    def _client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)


def ensure_store_dir(settings: Settings) -> None:
    """Create the directory of a local SQLite store so MLflow can create the database."""
    uri = settings.tracking_uri()
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)


def _version_facts(client: MlflowClient, mv: Any) -> dict[str, Any]:
    """One version's facts: tags, decision and holdout metrics of the run that trained it."""
    parent = client.get_run(mv.run_id).data.tags.get("mlflow.parentRunId") if mv.run_id else None
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
        "decision": client.get_run(parent).data.tags.get("decision") if parent else None,
        "roc_auc": metrics.get("roc_auc"),
        "holdout_metrics": metrics,
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


def _signature(sample: pd.DataFrame, records: pd.DataFrame, *, reasons: int) -> ModelSignature:
    """Input columns typed from a sample, every one optional: leads may miss any value; the
    score records as outputs; ``reasons`` as a parameter. Timestamps are of any type: they may
    come as text, as the service takes them (the model parses them)."""
    plain = sample.copy()
    for column in plain.columns:
        if isinstance(plain[column].dtype, pd.StringDtype):
            plain[column] = plain[column].astype(object)
    inferred = infer_signature(plain, records, params={"reasons": reasons})
    columns: list[ColSpec | TensorSpec] = [
        ColSpec(_any() if c.type == DataType.datetime else c.type, c.name, required=False)
        for c in inferred.inputs.inputs
    ]
    return ModelSignature(inputs=Schema(columns), outputs=inferred.outputs, params=inferred.params)


@contextmanager
def _quiet() -> Iterator[None]:
    """Keep MLflow's own console chatter (warnings, "registered model" lines) out of the CLI."""
    chatter = io_module.StringIO()
    with warnings.catch_warnings(), redirect_stderr(chatter), redirect_stdout(chatter):
        warnings.simplefilter("ignore")
        yield
    if chatter.getvalue().strip():
        log.debug("mlflow: %s", chatter.getvalue().strip())


@contextmanager
def _tracking_uri(uri: str) -> Iterator[None]:
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


def _any() -> AnyType:
    return AnyType()  # type: ignore[no-untyped-call]
