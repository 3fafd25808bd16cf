"""The run record: every count, exclusion, warning and figure of one run, typed.

Built once the decision is made (``build_record``), completed once the registry has settled
(``settled``); ``to_dict`` is the JSON form written to ``run.json`` and read by the report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from leadloop.assess import Assessment
from leadloop.columns import CHALLENGER, CHAMPION, LABEL
from leadloop.config import Settings
from leadloop.data.labels import LabelResult
from leadloop.errors import redact
from leadloop.evaluate import Metrics, compare
from leadloop.gate import Decision
from leadloop.influence import Influence
from leadloop.insights import Insights
from leadloop.model.train import TrainResult
from leadloop.pipeline.inputs import Inputs, outcomes_location
from leadloop.registry import Settled
from leadloop.split import Split


@dataclass(frozen=True)
class Versions:
    """The registered versions a run is about: the champion after it, its challenger (empty
    when none was trained) and the champion its decision was compared against."""

    champion: str = ""
    challenger: str = ""
    compared_with: str = ""


@dataclass(frozen=True)
class RunRecord:
    """What one run read, excluded, trained, measured and decided."""

    run: str
    data_version: str
    inputs: dict[str, Any]
    labels: dict[str, Any]
    split: dict[str, Any]
    trained: dict[str, TrainResult]
    metrics: dict[str, Metrics]
    capacity: float
    assessment: Assessment
    decision: Decision
    warnings: list[str]
    importance: dict[str, dict[str, float]]
    insights: Insights | None = None  # segments and the immature-lead estimate, for the report
    mlflow_run_id: str = ""
    registry: Settled | None = None
    versions: Versions = field(default_factory=Versions)
    influence: dict[str, Any] = field(default_factory=dict)  # the loop's own influence

    @property
    def comparison(self) -> dict[str, dict[str, float | bool]]:
        """Champion vs challenger, metric by metric, on the shared holdout."""
        return compare(self.metrics[CHAMPION], self.metrics[CHALLENGER])

    def settled(self, settled: Settled, *, run_id: str, versions: dict[str, str]) -> RunRecord:
        """The record once the registry has settled: what the run did to the champion."""
        return replace(
            self,
            mlflow_run_id=run_id,
            registry=settled,
            versions=Versions(
                champion=settled.champion or "",
                challenger=versions.get(CHALLENGER, ""),
                compared_with=versions.get(CHAMPION) or settled.compared_with or "",
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``run.json``), as the report and scripts read it."""
        return {
            "run": self.run,
            "data_version": self.data_version,
            "inputs": self.inputs,
            "labels": self.labels,
            "split": self.split,
            "training": {role: t.to_dict() for role, t in self.trained.items()},
            "features": {role: t.model.encoder.to_dict() for role, t in self.trained.items()},
            "metrics": {role: m.to_dict() for role, m in self.metrics.items()},
            "comparison": self.comparison,
            "capacity": self.capacity,
            "assessment": self.assessment.to_dict(),
            "decision": self.decision.to_dict(),
            "warnings": self.warnings,
            "importance": self.importance,
            "insights": self.insights.to_dict() if self.insights is not None else None,
            "mlflow_run_id": self.mlflow_run_id,
            "registry": self.registry.to_dict() if self.registry is not None else None,
            "versions": asdict(self.versions),
            "influence": self.influence,
        }


def build_record(
    settings: Settings,
    *,
    inputs: Inputs,
    labels: LabelResult,
    split: Split,
    run_name: str,
    metrics: dict[str, Metrics],
    trained: dict[str, TrainResult | None],
    assessment: Assessment,
    decision: Decision,
    used: int,
    importance: dict[str, dict[str, float]],
    insights: Insights | None = None,
    influence: Influence | None = None,
) -> RunRecord:
    """The record of a run whose decision is made and whose registry moves are still to come.
    A run that cannot correct for the loop's own influence says so among its warnings."""
    models = {role: t for role, t in trained.items() if t is not None}
    uncorrected = [influence.note()] if influence is not None and not influence.corrected else []
    return RunRecord(
        run=run_name,
        data_version=inputs.data_version,
        inputs=_inputs_record(settings, inputs),
        labels={
            **labels.to_dict(),
            "used": used,
            "left_out_young_decided": int(labels.labels[LABEL].notna().sum()) - used,
        },
        split=split.to_dict(),
        trained=models,
        metrics=metrics,
        capacity=settings.evaluation.capacity,
        assessment=assessment,
        decision=decision,
        warnings=inputs.warnings + leak_warnings(models) + uncorrected,
        importance=importance,
        insights=insights,
        influence=influence.to_dict() if influence is not None else {},
    )


def leak_warnings(trained: dict[str, TrainResult]) -> list[str]:
    """One warning per leak guard finding (or leak-like name), with its evidence and remedy."""
    found: dict[str, str] = {}
    for result in trained.values():
        encoder = result.model.encoder
        found.update({n: r for n, r in encoder.excluded_.items() if r.startswith("name suggests")})
        for finding in getattr(encoder, "findings_", []):
            found[finding.column] = (
                f"kept because leads.feature_types declares it, although {finding.check}: "
                f"{finding.evidence}"
                if finding.kept
                else finding.reason
            )
    return [f"column '{name}' {_verb(reason)}: {reason}" for name, reason in sorted(found.items())]


def _verb(reason: str) -> str:
    return "is a feature" if reason.startswith("kept") else "is not used as a feature"


def _inputs_record(settings: Settings, inputs: Inputs) -> dict[str, Any]:
    return {
        "dvc_md5": inputs.dvc_hashes,
        "leads": {
            "path": str(settings.resolve(settings.leads.path)),
            "rows": len(inputs.leads.frame),
            "sha256": inputs.digests["leads"],
        },
        "outcomes": {
            "path": outcomes_location(settings),
            "rows": len(inputs.outcomes),
            "sha256": inputs.digests["outcomes"],
        },
    }


def flat_metrics(record: RunRecord) -> dict[str, float]:
    """The holdout comparison as MLflow metrics (``champion_roc_auc``, ``diff_roc_auc`` ...)."""
    out: dict[str, float] = {}
    for name, values in record.comparison.items():
        out[f"champion_{name}"] = float(values["champion"])
        out[f"challenger_{name}"] = float(values["challenger"])
        out[f"diff_{name}"] = float(values["difference"])
    out["holdout_rows"] = float(record.metrics[CHALLENGER].n)
    out["holdout_positives"] = float(record.metrics[CHALLENGER].positives)
    return out


def data_metrics(record: RunRecord) -> dict[str, float]:
    """Input sizes, lead statuses and event exclusions as MLflow metrics."""
    labels = record.labels
    out = {
        "leads_rows": float(record.inputs["leads"]["rows"]),
        "outcome_rows": float(record.inputs["outcomes"]["rows"]),
    }
    out.update({f"leads_{k}": float(v) for k, v in labels["lead_counts"].items()})
    out.update({f"events_excluded_{k}": float(v) for k, v in labels["event_exclusions"].items()})
    return out


def params(settings: Settings) -> dict[str, Any]:
    """The configuration flattened to MLflow params (section.key -> value), with the password
    of every URI (the tracking store's, the lock's) replaced by ``***``."""
    flat: dict[str, Any] = {}
    for section, values in settings.model_dump(mode="json", exclude={"base_dir", "serve"}).items():
        if isinstance(values, dict):
            flat.update({f"{section}.{k}": redact(str(v))[:500] for k, v in values.items()})
        else:
            flat[section] = redact(str(values))
    return flat
