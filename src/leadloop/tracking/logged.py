"""The logged MLflow model of a trained version: registered first, so that it knows its version.

The model is logged "from code" (``model/pyfunc.py``, no pickle) with its configuration: the
registered ``model_version``, the ``grade_cutoffs`` and ``reasons`` of the run, so that any MLflow
tool (``load_model``, ``spark_udf``, ``mlflow models serve``) returns the service's score records.
Its signature takes every lead column as optional and timestamps of any type (text included).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, infer_signature
from mlflow.types import ColSpec, DataType, Schema, TensorSpec
from mlflow.types.schema import AnyType

import leadloop
from leadloop.model.train import ENCODING_FILE, MODEL_FILE, LeadModel
from leadloop.scoring import Scorer
from leadloop.tracking.store import MlflowStore, quiet

PYFUNC_CODE = Path(leadloop.__file__).parent / "model" / "pyfunc.py"
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


def log_scoring_model(
    store: MlflowStore,
    *,
    model: LeadModel,
    sample: pd.DataFrame,
    files: Path,
    run_id: str,
    experiment_id: str,
) -> str:
    """Register a new version, then log its model into it (inside the active run); the version.

    A version whose model could not be logged is deleted again.
    """
    logged = mlflow.initialize_logged_model(
        name="model", source_run_id=run_id, experiment_id=experiment_id
    )
    version = _register(store, logged.model_id, run_id)
    config = model_config(store, version)
    try:
        _log(model, sample, files, logged.model_id, config)
    except BaseException:
        store.client().delete_model_version(store.name, version)
        raise
    return version


def model_config(store: MlflowStore, version: str) -> dict[str, Any]:
    """What the logged model needs to write the service's score records (callers may override
    any of these keys when loading it)."""
    settings = store.settings
    return {
        "model_name": store.name,
        "model_version": version,
        "grade_cutoffs": list(settings.evaluation.grade_cutoffs),
        "reasons": settings.serve.reasons,
        "date_formats": dict(settings.leads.date_formats),
        "compiled_dir": "",  # where a caller wants compiled trees cached ("": LightGBM)
    }


def _register(store: MlflowStore, model_id: str, run_id: str) -> str:
    """A new version of the registered model for the logged model ``model_id``."""
    client = store.client()
    try:
        client.create_registered_model(store.name)
    except MlflowException as err:
        if err.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    mv = client.create_model_version(
        store.name, source=f"models:/{model_id}", run_id=run_id, model_id=model_id
    )
    return str(mv.version)


def _log(
    model: LeadModel, sample: pd.DataFrame, files: Path, model_id: str, config: dict[str, Any]
) -> None:
    scorer = Scorer(
        model, config["model_version"], tuple(config["grade_cutoffs"]), config["reasons"]
    )
    sample = sample.reset_index(drop=True)
    if "lead_id" not in sample.columns:
        sample.insert(0, "lead_id", [f"L-{i + 1}" for i in range(len(sample))])
    records = scorer.score_frame(sample, scored_at=pd.Timestamp.now(tz="UTC").floor("s"))
    with quiet():
        mlflow.pyfunc.log_model(
            name="model",
            python_model=str(PYFUNC_CODE),
            artifacts={name: str(files / name) for name in (MODEL_FILE, ENCODING_FILE)},
            code_paths=[str(Path(leadloop.__file__).parent)],
            signature=_signature(sample, records),
            pip_requirements=PIP_REQUIREMENTS,
            model_config=config,
            model_id=model_id,
        )


def _signature(sample: pd.DataFrame, records: pd.DataFrame) -> ModelSignature:
    """Input columns typed from a sample, every one optional: leads may miss any value; the
    score records as outputs; ``reasons`` as a parameter (-1 by default: the configuration's).
    Timestamps are of any type: they may come as text, as the service takes them (the model
    parses them)."""
    plain = sample.copy()
    for column in plain.columns:
        if isinstance(plain[column].dtype, pd.StringDtype):
            plain[column] = plain[column].astype(object)
    inferred = infer_signature(plain, records, params={"reasons": -1})
    columns: list[ColSpec | TensorSpec] = [
        ColSpec(_any() if c.type == DataType.datetime else c.type, c.name, required=False)
        for c in inferred.inputs.inputs
    ]
    return ModelSignature(inputs=Schema(columns), outputs=inferred.outputs, params=inferred.params)


def _any() -> AnyType:
    return AnyType()  # type: ignore[no-untyped-call]
