"""Publishing a run as one transaction, from the user's point of view.

Everything is written first where nobody looks (``reports/.staging/<run>/``, MLflow versions
without an alias, the MLflow run RUNNING); the report is put in place under ``reports/<run>``
before any alias moves, so no champion ever lacks its report; then the aliases move
compare-and-set (the commit); then the run's tags, the run marked FINISHED, and
``reports/latest`` switched by one atomic exchange. A failure at any step takes everything
back (aliases restored, versions deleted, the run FAILED, the report folder removed); a run
killed outright is settled by the next run (``pipeline/recovery.py``), from its journal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from leadloop import registry
from leadloop.columns import CHALLENGER, CHAMPION, LABEL, LEAD_ID
from leadloop.config import Settings
from leadloop.data import io, staging
from leadloop.errors import LeadloopError, StorageError, redact, version_label
from leadloop.evaluate import METRIC_NAMES
from leadloop.insights import YOUNG_SCORES
from leadloop.lineage import lineage_tags
from leadloop.pipeline.inputs import Inputs
from leadloop.pipeline.record import RunRecord, data_metrics, flat_metrics, params
from leadloop.registry import Settled
from leadloop.report.html import render_report
from leadloop.tracking import ModelRegistry, ModelToLog, Published, RunLog

log = logging.getLogger(__name__)
REPORT_FILE = "report.html"
LATEST = "latest"  # reports/latest: a copy of the newest run's reports, at a fixed path
# The steps of publishing, in order; a test hook (``checkpoint``) is called after each.
PUBLISH_STEPS = ("begun", "logged", "staged", "placed", "aliased", "tagged", "finished", "latest")
Checkpoint = Callable[[str], None]


@dataclass
class _Transaction:
    """One run's publishing: what it wrote so far, to finish it or take it back."""

    settings: Settings
    runs: RunLog
    models: ModelRegistry
    journal: staging.Journal
    compared_with: str | None
    phase: str = "the reports directory"  # where the step now running writes
    placed: Path | None = None

    @property
    def reports(self) -> Path:
        return self.settings.resolve(self.settings.reports_dir)


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
    checkpoint: Checkpoint | None = None,
) -> RunRecord:
    """Stage, log, put the report in place, move the aliases, then tag, finish and switch
    ``reports/latest``; returns the record as settled. On failure nothing is left changed."""
    step = checkpoint or (lambda _name: None)
    reports = settings.resolve(settings.reports_dir)
    try:
        journal = staging.begin(reports, record.run)
    except OSError as err:
        fault = _storage_error(err, "the reports directory", compared_with)
        raise (fault or err) from err
    tx = _Transaction(settings, runs, models, journal, compared_with)
    try:
        return _steps(tx, record, inputs, labeled, scores, step)
    except BaseException as err:
        cleaned = _roll_back(tx)
        if isinstance(err, Exception) and not isinstance(err, LeadloopError):
            fault = _storage_error(err, tx.phase, compared_with, cleaned=cleaned)
            if fault is not None:
                raise fault from err
        raise


def _steps(
    tx: _Transaction,
    record: RunRecord,
    inputs: Inputs,
    labeled: pd.DataFrame,
    scores: pd.DataFrame,
    step: Checkpoint,
) -> RunRecord:
    folder = tx.journal.folder
    io.write_table(scores, folder / "holdout_scores.parquet")
    if record.insights is not None and len(record.insights.young.scores):
        # the young leads' scores, so a later history can check the estimate made on them
        io.write_table(record.insights.young.scores, folder / YOUNG_SCORES)
    write_records(record, folder)  # a full reports disk shows here, before MLflow is touched
    step("begun")
    published = _log(tx, record, inputs, labeled)
    step("logged")
    plan = registry.planned(
        compared_with=tx.compared_with,
        versions=published.versions,
        promote=record.decision.verdict == "promote",
    )
    tx.phase = "the reports directory"
    staged = record.settled(plan, run_id=published.run_id, versions=published.versions)
    write_report(staged, scores, folder)
    _mlflow(tx)
    tx.runs.log_report(published.evaluate_run_id, folder)
    tx.journal.note(state="staged", planned=plan.to_dict())
    step("staged")
    tx.phase = "the reports directory"
    final = tx.reports / record.run
    staging.place(folder, final)
    tx.placed = final
    tx.journal.note(state="placed")
    step("placed")
    done = _settle(tx, record, published, plan, scores, final)
    step("aliased")
    _mlflow(tx)
    tx.runs.tag_run(published.run_id, settled_tags(done))
    tx.journal.note(state="tagged")
    step("tagged")
    tx.runs.finish(record.run, status="FINISHED")
    tx.journal.note(state="finished")
    step("finished")
    tx.phase = "the reports directory"
    switch_latest(tx.reports, final)
    step("latest")
    tx.journal.close()
    return done


def _mlflow(tx: _Transaction) -> None:
    tx.phase = f"the MLflow store {redact(tx.settings.tracking_uri())}"


def _log(tx: _Transaction, record: RunRecord, inputs: Inputs, labeled: pd.DataFrame) -> Published:
    """The run, its stage runs and its models in MLflow (no alias moved yet)."""
    _mlflow(tx)
    tx.journal.note(
        state="logging",
        aliases_before={
            CHAMPION: tx.compared_with,
            CHALLENGER: tx.models.alias_version(CHALLENGER, strict=True),
        },
        reason=" ".join(record.decision.reasons),
    )
    tags = {
        **lineage_tags(tx.settings, inputs.data_version),
        "leadloop_run": record.run,
        "decision": record.decision.verdict,
        "compared_with": tx.compared_with or "",
        **{f"dvc_md5_{name}": md5 for name, md5 in inputs.dvc_hashes.items()},
    }
    sample = labeled.drop(columns=[LEAD_ID, LABEL]).head(5)
    published = tx.runs.log_run(
        run_name=f"loop {record.run}",
        tags=tags,
        params=params(tx.settings),
        metrics=data_metrics(record),
        models=[ModelToLog(role, t, sample) for role, t in record.trained.items()],
        evaluation=flat_metrics(record),
    )
    tx.journal.note(
        state="logged",
        run_id=published.run_id,
        evaluate_run_id=published.evaluate_run_id,
        versions=published.versions,
    )
    return published


def _settle(
    tx: _Transaction,
    record: RunRecord,
    published: Published,
    plan: Settled,
    scores: pd.DataFrame,
    final: Path,
) -> RunRecord:
    """Move the aliases compare-and-set (the commit); when the registry answered otherwise
    than planned, the records in place are rewritten to say what it did."""
    _mlflow(tx)
    settled = registry.settle_run(
        tx.models,
        compared_with=tx.compared_with,
        versions=published.versions,
        promote=record.decision.verdict == "promote",
        reason=" ".join(record.decision.reasons),
        run=record.run,
    )
    tx.journal.note(state="aliased", settled=settled.to_dict())
    done = record.settled(settled, run_id=published.run_id, versions=published.versions)
    if settled != plan:
        tx.phase = "the reports directory"
        write_report(done, scores, final)
        _mlflow(tx)
        tx.runs.log_report(published.evaluate_run_id, final)
    tx.journal.note(rendered=True)
    return done


def settled_tags(record: RunRecord) -> dict[str, str]:
    """The tags that say what a run did to the registry."""
    message = record.registry.message if record.registry is not None else ""
    return {
        "champion_after": record.versions.champion,
        "compared_with": record.versions.compared_with,
        "challenger_version": record.versions.challenger,
        "registry": message[:5000],
    }


def switch_latest(reports: Path, final: Path) -> None:
    """``reports/latest`` becomes a copy of ``final`` in one atomic exchange."""
    scratch = reports / staging.STAGING / f"{final.name}.latest"
    staging.switch(final, reports / LATEST, scratch=scratch)


def _roll_back(tx: _Transaction) -> bool:
    """Take back everything the run did; True when all of it could be (else the journal
    stays, marked failed, for the next run to finish taking it back)."""
    facts = tx.journal.facts
    try:
        if facts.get("state") != "begun":
            versions = facts.get("versions") or _versions_of(tx)
            registry.undo(
                tx.models, versions=versions, aliases_before=facts.get("aliases_before", {})
            )
            tx.runs.finish(facts["run"], status="FAILED")
        if tx.placed is not None:
            staging.remove_dir(tx.placed)
        tx.journal.close()
    except Exception as err:  # the first failure is the one to report; the next run settles
        log.info("run %s could not be taken back yet (%s); the next run will", tx.journal.run, err)
        try:
            tx.journal.note(state="failed")
        finally:
            tx.journal.release()
        return False
    return True


def _versions_of(tx: _Transaction) -> dict[str, str]:
    """Versions registered before the journal heard of them (found by the run's MLflow runs)."""
    found = tx.models.versions_of(tx.runs.runs_of(tx.journal.run))
    return {str(i): v for i, v in enumerate(found)}


def _storage_error(
    err: BaseException, where: str, champion: str | None, *, cleaned: bool = True
) -> StorageError | None:
    reason = staging.storage_fault(err)
    if reason is None:
        return None
    after = "" if cleaned else "; the next run finishes cleaning up"
    return StorageError(
        f"{where} cannot be written ({reason}): nothing was published, the champion is still "
        f"{version_label(champion)}{after}; free space or fix the permissions and rerun"
    )


def write_report(record: RunRecord, scores: pd.DataFrame, directory: Path) -> None:
    """The records and the HTML report of a run into ``directory``."""
    write_records(record, directory)
    page = render_report(record.to_dict(), scores, importance=record.importance)
    io.write_text(page, directory / REPORT_FILE)


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
