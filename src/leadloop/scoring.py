"""Scoring: turn leads (a table or JSON records) into score records with a registered model.

A score record is design.md's: ``lead_id``, calibrated ``probability``, ``score`` 1-99,
``grade`` A-D, ``model_version``, ``reasons`` and ``scored_at``; under a work-allocation policy
also ``priority``, ``explored`` and ``propensity``. The table path serves batch
files; the record path serves the API and never builds a DataFrame.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from leadloop.data.timestamps import parse_timestamps
from leadloop.errors import InputError
from leadloop.features import FeatureEncoder
from leadloop.model.explain import score_matrix
from leadloop.model.forest import compile_forest
from leadloop.model.train import LeadModel

SCORE_SCHEMA = pa.schema(
    [
        ("lead_id", pa.string()),
        ("probability", pa.float64()),
        ("score", pa.int64()),
        ("grade", pa.string()),
        ("model_version", pa.string()),
        ("reasons", pa.string()),
        ("scored_at", pa.timestamp("s", tz="UTC")),
    ]
)
# Under a work-allocation policy (``leadloop.policy``) each record also carries its draw.
POLICY_FIELDS = ("priority", "explored", "propensity")
POLICY_SCHEMA = pa.schema(
    [
        *SCORE_SCHEMA,
        pa.field("priority", pa.int64()),
        pa.field("explored", pa.bool_()),
        pa.field("propensity", pa.float64()),
    ]
)


@dataclass(frozen=True)
class Scorer:
    """A registered model ready to score, with the settings that shape its records."""

    model: LeadModel
    version: str
    cutoffs: tuple[float, ...]
    reasons: int

    def check_columns(self, columns: Iterable[str], *, source: str) -> None:
        """Refuse, before any work, input that lacks a column the model needs."""
        present = set(columns)
        missing = [name for name in self.model.encoder.feature_names_ if name not in present]
        if missing:
            raise InputError(
                f"columns the model (v{self.version}) needs are missing: {missing}",
                path=source,
                column=missing[0],
            )

    def score_table(self, frame: pd.DataFrame, *, scored_at: pd.Timestamp, source: str) -> pa.Table:
        """Score a prepared table (``lead_id``, optional ``created_at``, the features)."""
        matrix = self.model.encoder.transform(frame, source=source)
        names = self.model.encoder.feature_names_ if self.reasons else []  # words for reasons
        values = {name: frame[name].to_numpy(dtype=object) for name in names}
        scores = score_matrix(
            self.model, matrix, values, cutoffs=self.cutoffs, reasons=self.reasons, as_json=True
        )
        n = len(frame)
        reasons = (
            pa.repeat("[]", n)
            if scores.reasons_json is None
            else pa.array(scores.reasons_json, pa.string())
        )
        return pa.table(
            [
                pa.array(frame["lead_id"].astype("string"), pa.string(), from_pandas=True),
                pa.array(scores.probability, pa.float64()),
                pa.array(scores.score, pa.int64()),
                pa.array(scores.grade, pa.string()),
                pa.repeat(self.version, n),
                reasons,
                pa.repeat(pa.scalar(scored_at.to_pydatetime(), SCORE_SCHEMA[6].type), n),
            ],
            schema=SCORE_SCHEMA,
        )

    def score_frame(
        self,
        frame: pd.DataFrame,
        *,
        scored_at: pd.Timestamp,
        date_formats: Mapping[str, str] | None = None,
    ) -> pd.DataFrame:
        """Score any table of leads as the service scores JSON leads (the MLflow model's
        ``predict``): a missing column is a missing value, timestamps may be text."""
        prepared = prepare_leads(frame, self.model.encoder, date_formats=date_formats)
        table = self.score_table(prepared, scored_at=scored_at, source="model input")
        out: pd.DataFrame = table.to_pandas()
        out["scored_at"] = scored_at.isoformat(timespec="seconds")
        return out

    def score_records(
        self, records: Sequence[Mapping[str, Any]], *, now: pd.Timestamp
    ) -> list[dict[str, Any]]:
        """Score JSON-like records; raises ``InputError`` naming the field and the lead."""
        _check_any_feature(records, self.model.encoder.feature_names_)
        try:
            matrix = self.model.encoder.transform_records(records, now=now.tz_localize(None))
        except InputError as err:
            raise InputError(_which_lead(records, err)) from err
        names = self.model.encoder.feature_names_ if self.reasons else []  # words for reasons
        values = {name: [r.get(name) for r in records] for name in names}
        scores = score_matrix(
            self.model, matrix, values, cutoffs=self.cutoffs, reasons=self.reasons
        )
        stamp = now.isoformat(timespec="seconds")
        return [
            {
                "lead_id": _lead_id(record),
                "probability": float(scores.probability[i]),
                "score": int(scores.score[i]),
                "grade": str(scores.grade[i]),
                "model_version": self.version,
                "reasons": scores.reasons[i] if scores.reasons is not None else [],
                "scored_at": stamp,
            }
            for i, record in enumerate(records)
        ]


def prepare_leads(
    frame: pd.DataFrame,
    encoder: FeatureEncoder,
    *,
    date_formats: Mapping[str, str] | None = None,
    source: str = "model input",
) -> pd.DataFrame:
    """Leads as the service takes them: ``lead_id`` as text (or missing), every feature column
    present (absent ones missing), ``created_at`` and datetime features parsed from text."""
    formats = dict(date_formats or {})
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    ids = frame["lead_id"] if "lead_id" in frame.columns else pd.Series([None] * len(frame))
    out["lead_id"] = ids.reset_index(drop=True).astype("string").str.strip()
    stamped = [f.name for f in encoder.features_ if f.kind == "datetime"]
    for name in ["created_at", *stamped]:
        if name in frame.columns and name not in out.columns:
            values = frame[name].reset_index(drop=True)
            out[name] = parse_timestamps(
                values, column=name, source=source, date_format=formats.get(name)
            ).to_numpy()
    for feat in encoder.features_:
        if feat.name not in out.columns:
            present = feat.name in frame.columns
            out[feat.name] = frame[feat.name].reset_index(drop=True) if present else None
    return out


def _which_lead(records: Sequence[Mapping[str, Any]], err: InputError) -> str:
    """'lead 2 (L-7), field 'x': ...' for an error found in a request's leads."""
    row = err.rows[0] if err.rows and isinstance(err.rows[0], int) else 0
    lead_id = _lead_id(records[row - 1]) if 0 < row <= len(records) else None
    where = f"lead {row}" + (f" ({lead_id})" if lead_id else "")
    field = f", field '{err.column}'" if err.column else ""
    return f"{where}{field}: {err.detail}"


def _lead_id(record: Mapping[str, Any]) -> str | None:
    value = record.get("lead_id")
    return None if value is None else str(value)


def _check_any_feature(records: Sequence[Mapping[str, Any]], names: list[str]) -> None:
    """A lead that names none of the model's features is a mistake, not a lead to score."""
    wanted = set(names)
    empty = [i + 1 for i, r in enumerate(records) if not wanted.intersection(r)]
    if empty:
        shown = ", ".join(map(str, empty[:5]))
        raise InputError(
            f"lead {shown}: no field the model uses; expected some of {sorted(wanted)}"
        )


def compile_trees(scorer: Scorer, *, cache_dir: Path, label: str, background: bool = False) -> None:
    """Swap compiled trees into the scorer's model: from ``cache_dir``, compiled there first
    when missing; LightGBM stays where lleaves is not installed (a log line says so). In the
    background, LightGBM scores until the swap (one reference assignment: requests in flight
    are unaffected)."""
    model = scorer.model
    if model.forest.engine != "lightgbm":
        return

    def swap() -> None:
        forest = compile_forest(model.booster.model_to_string(), cache_dir=cache_dir, label=label)
        if forest is not None:
            model.forest = forest

    if background:
        threading.Thread(target=swap, name="compile-trees", daemon=True).start()
    else:
        swap()
