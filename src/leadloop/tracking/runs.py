"""Run logging: a loop run as one MLflow run (nested stage runs), its models registered."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException
from mlflow.tracking.context.registry import resolve_tags

from leadloop.data import io
from leadloop.model.train import TrainResult
from leadloop.tracking.logged import log_scoring_model
from leadloop.tracking.store import MlflowStore, ensure_store_dir, quiet, tracking_uri


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


class RunLog(MlflowStore):
    """The experiment ``tracking.experiment``: loop runs, skipped runs, their tags."""

    def log_run(
        self,
        *,
        run_name: str,
        tags: Mapping[str, str],
        params: Mapping[str, Any],
        metrics: Mapping[str, float],
        models: list[ModelToLog],
        evaluation: Mapping[str, float],
    ) -> Published:
        """Log the whole run (parent + nested stage runs) and register its models.

        The parent run stays RUNNING until ``finish`` says how publishing ended; aliases are not
        moved here (``registry.settle_run`` does that, compare-and-set).
        """
        ensure_store_dir(self.settings)
        # Two first runs must not both create the SQLite store or the experiment.
        first = self.lock() if not self.store_exists() else nullcontext()
        with tracking_uri(self.uri):
            with first:
                experiment_id = self._experiment()
            client = self.client()
            parent = client.create_run(
                experiment_id,
                run_name=run_name,
                # the context tags MLflow's own runs carry (user, source, git commit)
                tags=resolve_tags({**tags, "pipeline_stage": "loop"}),
            ).info.run_id
            stamp = int(time.time() * 1000)
            client.log_batch(
                parent,
                metrics=[Metric(k, float(v), stamp, 0) for k, v in metrics.items()],
                params=[Param(k, str(v)) for k, v in params.items()],
            )
            versions = {m.role: self._log_model(m, tags, experiment_id, parent) for m in models}
            with mlflow.start_run(
                experiment_id=experiment_id,
                run_name="evaluate",
                parent_run_id=parent,
                tags={**tags, "pipeline_stage": "evaluate"},
            ) as evaluate:
                mlflow.log_metrics(dict(evaluation))
        return Published(parent, experiment_id, versions, evaluate.info.run_id)

    def runs_of(self, leadloop_run: str) -> dict[str, str]:
        """The MLflow runs (id -> status) a loop run logged: its parent and its stage runs."""
        if not self.store_exists():
            return {}
        client = self.client()
        found = client.get_experiment_by_name(self.settings.tracking.experiment)
        if found is None:
            return {}
        runs = client.search_runs(
            [found.experiment_id], filter_string=f"tags.leadloop_run = '{leadloop_run}'"
        )
        return {r.info.run_id: r.info.status for r in runs}

    def finish(self, leadloop_run: str, *, status: str) -> None:
        """Mark every MLflow run of a loop run FINISHED or FAILED (none is left RUNNING); on
        FINISHED, stage runs that ended on their own keep their status."""
        client = self.client()
        for run_id, now in self.runs_of(leadloop_run).items():
            if status == "FAILED" or now == "RUNNING":
                client.set_terminated(run_id, status=status)

    def log_report(self, run_id: str, report_dir: Path) -> None:
        """Log (again) the report files of a run, once they say what the registry did."""
        with quiet():
            self.client().log_artifacts(run_id, str(report_dir), artifact_path="report")

    def tag_run(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Add tags to a logged run (what happened in the registry after it was logged)."""
        client = self.client()
        for key, value in tags.items():
            client.set_tag(run_id, key, value)

    def last_run(self, stage: str = "loop") -> dict[str, str] | None:
        """The tags of the newest finished run of ``stage`` in the experiment, or None."""
        if not self.store_exists():
            return None
        client = self.client()
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
        with tracking_uri(self.uri), quiet():
            experiment_id = self._experiment()
            with mlflow.start_run(
                experiment_id=experiment_id, run_name=run_name, tags=dict(tags)
            ) as run:
                return str(run.info.run_id)

    def _log_model(
        self, item: ModelToLog, tags: Mapping[str, str], experiment_id: str, parent: str
    ) -> str:
        with (
            mlflow.start_run(
                experiment_id=experiment_id,
                run_name=f"train_{item.role}",
                parent_run_id=parent,
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
            version = log_scoring_model(
                self,
                model=item.result.model,
                sample=item.sample,
                files=Path(tmp),
                run_id=run.info.run_id,
                experiment_id=experiment_id,
            )
        client = self.client()
        for key in ("data_version", "git_commit", "leadloop_run"):
            if key in tags:
                client.set_model_version_tag(self.name, version, key, tags[key])
        client.set_model_version_tag(self.name, version, "trained_as", item.role)
        return version

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
