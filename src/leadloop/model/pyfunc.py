"""The MLflow pyfunc wrapper, logged as "models from code": MLflow stores this file, not a pickle.

Any MLflow tool (``mlflow.pyfunc.load_model``, ``mlflow models serve``, ``spark_udf``) loads the
LightGBM text model and the JSON encoding from the model's artifacts and returns probabilities.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc.model import PythonModel, PythonModelContext

from leadloop.model.train import ENCODING_FILE, MODEL_FILE, LeadModel


class LeadScorer(PythonModel):
    """Scores a table of leads with a ``LeadModel`` rebuilt from its text artifacts."""

    def load_context(self, context: PythonModelContext) -> None:
        files = {
            name: Path(context.artifacts[name]).read_text(encoding="utf-8")
            for name in (MODEL_FILE, ENCODING_FILE)
        }
        self.model = LeadModel.from_artifacts(files)

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        return pd.DataFrame({"probability": self.model.predict_proba(model_input)})


mlflow.models.set_model(LeadScorer())
