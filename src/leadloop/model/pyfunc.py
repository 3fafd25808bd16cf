"""The MLflow pyfunc wrapper, logged as "models from code": MLflow stores this file, not a pickle.

Any MLflow tool (``mlflow.pyfunc.load_model``, ``mlflow models serve``, ``spark_udf``) loads the
LightGBM text model and the JSON encoding from the model's artifacts and returns the score
records of ``leadloop serve``: ``lead_id``, ``probability``, ``score``, ``grade``,
``model_version``, ``reasons`` (a JSON array, as in ``leadloop score`` files) and ``scored_at``.
Leads are taken as the service takes them: a missing column is a missing value, an unseen
category counts as "other", timestamps may be text.

The model configuration (``model_config``, set when the version was registered; a caller may
override any key when loading) holds ``model_version``, ``grade_cutoffs``, ``reasons`` (top
factors each way; 0 skips them), optionally ``date_formats`` (as ``leads.date_formats``) and
``compiled_dir`` (where to cache compiled trees; compiled only where lleaves is installed).
``params={"reasons": n}`` at predict time overrides ``reasons`` (its default, -1, keeps it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc.model import PythonModel, PythonModelContext

from leadloop.model.forest import compile_forest
from leadloop.model.train import ENCODING_FILE, MODEL_FILE, LeadModel
from leadloop.scoring import Scorer

DEFAULT_CUTOFFS = (0.4, 0.2, 0.1)  # evaluation.grade_cutoffs' defaults
USE_CONFIG = -1  # the ``reasons`` parameter's default: as the model configuration says


class LeadScorer(PythonModel):
    """Scores a table of leads with a ``LeadModel`` rebuilt from its text artifacts."""

    def load_context(self, context: PythonModelContext) -> None:
        files = {
            name: Path(context.artifacts[name]).read_text(encoding="utf-8")
            for name in (MODEL_FILE, ENCODING_FILE)
        }
        model = LeadModel.from_artifacts(files)
        config: dict[str, Any] = dict(context.model_config or {})
        self.scorer = Scorer(
            model,
            str(config.get("model_version", "unregistered")),
            tuple(float(c) for c in config.get("grade_cutoffs", DEFAULT_CUTOFFS)),
            int(config.get("reasons", 3)),
        )
        self.date_formats = {str(k): str(v) for k, v in config.get("date_formats", {}).items()}
        if config.get("compiled_dir"):
            forest = compile_forest(
                model.booster.model_to_string(),
                cache_dir=Path(str(config["compiled_dir"])),
                label=f"{config.get('model_name', 'model')}-v{self.scorer.version}",
            )
            if forest is not None:
                model.forest = forest

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        scorer = self.scorer
        reasons = int((params or {}).get("reasons", USE_CONFIG))
        if reasons != USE_CONFIG:  # MLflow passes the signature's default when none is given
            scorer = Scorer(scorer.model, scorer.version, scorer.cutoffs, reasons)
        stamp = pd.Timestamp.now(tz="UTC").floor("s")
        return scorer.score_frame(model_input, scored_at=stamp, date_formats=self.date_formats)


mlflow.models.set_model(LeadScorer())
