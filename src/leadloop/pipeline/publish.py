"""Publishing a run: stage its records, log it to MLflow, move the aliases compare-and-set, then
put the report (which says what the registry did) into place. Nothing is left half-written: a
failure discards the staged directory and leaves earlier reports and the champion as they were.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from leadloop import registry
from leadloop.columns import LABEL, LEAD_ID
from leadloop.config import Settings
from leadloop.data import io
from leadloop.evaluate import METRIC_NAMES
from leadloop.lineage import lineage_tags
from leadloop.pipeline.inputs import Inputs
from leadloop.pipeline.record import RunRecord, data_metrics, flat_metrics, params
from leadloop.report.html import render_report
from leadloop.tracking import ModelRegistry, ModelToLog, Published, RunLog

REPORT_FILE = "report.html"
LATEST = "latest"  # reports/latest: a copy of the newest run's reports, at a fixed path


def publish(
    settings: Settings,
    *,
    runs: RunLog,
    models: ModelRegistry,
    record: RunRecord,
    inputs: Inputs,
    labeled: pd.DataFrame,
    scores: pd.DataFrame,
    compared_with: str | None,
) -> RunRecord:
    """Stage the records, log the run to MLflow, move the aliases compare-and-set, then write
    the report and put the records into place; returns the record as settled."""
    final = settings.resolve(settings.reports_dir) / record.run
    staged = io.staging_dir(final)
    try:
        write_records(record, staged)
        io.write_table(scores, staged / "holdout_scores.parquet")
        tags = {
            **lineage_tags(settings, inputs.data_version),
            "leadloop_run": record.run,
            "decision": record.decision.verdict,
            "compared_with": compared_with or "",
            **{f"dvc_md5_{name}": md5 for name, md5 in inputs.dvc_hashes.items()},
        }
        sample = labeled.drop(columns=[LEAD_ID, LABEL]).head(5)
        published = runs.publish(
            run_name=f"loop {record.run}",
            tags=tags,
            params=params(settings),
            metrics=data_metrics(record),
            models=[ModelToLog(role, t, sample) for role, t in record.trained.items()],
            evaluation=flat_metrics(record),
            report_dir=staged,
        )
        settled = _settle(runs, models, record, published, compared_with)
        # The records and the HTML report say what the registry did, so they follow the move.
        write_records(settled, staged)
        page = render_report(settled.to_dict(), scores, importance=settled.importance)
        io.write_text(page, staged / REPORT_FILE)
        runs.log_report(published.evaluate_run_id, staged)
        io.publish_dir(staged, final)
        io.copy_dir(final, final.parent / LATEST)
    except BaseException:
        io.discard_dir(staged)
        raise
    return settled


def _settle(
    runs: RunLog,
    models: ModelRegistry,
    record: RunRecord,
    published: Published,
    compared_with: str | None,
) -> RunRecord:
    """Move the aliases compare-and-set and write what happened into the record and MLflow."""
    versions = published.versions
    settled = registry.settle_run(
        models,
        compared_with=compared_with,
        versions=versions,
        promote=record.decision.verdict == "promote",
        reason=" ".join(record.decision.reasons),
        run=record.run,
    )
    done = record.settled(settled, run_id=published.run_id, versions=versions)
    runs.tag_run(
        published.run_id,
        {
            "champion_after": done.versions.champion,
            "compared_with": done.versions.compared_with,
            "challenger_version": done.versions.challenger,
            "registry": settled.message[:5000],
        },
    )
    return done


def write_records(record: RunRecord, directory: Path) -> None:
    """``metrics.json``, ``metrics.csv``, ``decision.json`` and ``run.json`` of a run."""
    data = record.to_dict()
    io.write_json(
        {
            "run": record.run,
            "capacity": record.capacity,
            "holdout": record.split,
            **data["metrics"],
            "comparison": data["comparison"],
        },
        directory / "metrics.json",
    )
    rows = [{"metric": name, **data["comparison"][name]} for name in METRIC_NAMES]
    io.write_table(pd.DataFrame(rows), directory / "metrics.csv")
    io.write_json(data["decision"], directory / "decision.json")
    io.write_json(data, directory / "run.json")
