"""Settling the publishing of runs that died midway (killed, the machine lost power), from the
journal each left in ``reports/.staging/``; the next ``leadloop run`` does it before anything.

A run that had not moved an alias yet is undone: its versions deleted, its MLflow runs marked
FAILED, its report folder removed. A run that had (the commit) is completed: promotion tags,
records that say what the registry did, run tags, FINISHED, and ``reports/latest`` when it is
the newest run. Either way no MLflow run stays RUNNING and no staging folder stays behind.
"""

from __future__ import annotations

import logging
from dataclasses import fields
from pathlib import Path
from typing import Any

from leadloop import registry
from leadloop.columns import CHALLENGER, CHAMPION
from leadloop.config import Settings
from leadloop.data import io, staging
from leadloop.pipeline.publish import LATEST, REPORT_FILE, switch_latest
from leadloop.registry import Settled
from leadloop.report.html import render_report
from leadloop.tracking import ModelRegistry, RunLog, check_store

log = logging.getLogger(__name__)


def prepare_run(settings: Settings) -> list[str]:
    """Before a run does any work: the reports directory and the tracking store are usable
    (one clear error otherwise, not after training), and publishing left by a dead run is
    settled; returns what was settled, to show as warnings."""
    staging.writable_dir(settings.resolve(settings.reports_dir), what="reports_dir")
    check_store(settings)
    return recover(settings, runs=RunLog(settings), models=ModelRegistry(settings))


def recover(settings: Settings, *, runs: RunLog, models: ModelRegistry) -> list[str]:
    """Settle every publishing left by a dead process; returns one message per run settled."""
    reports = settings.resolve(settings.reports_dir)
    notes = []
    for journal in staging.leftovers(reports):
        try:
            notes.append(_settle(journal, reports, runs=runs, models=models))
        except Exception as err:  # left for the next run; the message says so
            log.debug("settling run %s failed", journal.run, exc_info=True)
            journal.release()
            notes.append(
                f"run {journal.run} was interrupted while publishing and could not be settled "
                f"yet ({err}); the next run tries again"
            )
            continue
        journal.close()
    return notes


def _settle(journal: staging.Journal, reports: Path, *, runs: RunLog, models: ModelRegistry) -> str:
    facts = journal.facts
    run = journal.run
    versions: dict[str, str] = facts.get("versions") or {
        str(i): v for i, v in enumerate(models.versions_of(runs.runs_of(run)))
    }
    ours = set(versions.values())
    moved = {models.alias_version(a, strict=True) for a in (CHAMPION, CHALLENGER)} & ours
    step = facts.get("state", "begun")
    if facts.get("state") == "failed" or not moved:
        registry.undo(models, versions=versions, aliases_before=facts.get("aliases_before", {}))
        runs.finish(run, status="FAILED")
        staging.remove_dir(reports / run)
        return (
            f"run {run} was interrupted while publishing (after '{step}'): undone, the "
            "registry and the reports are as it found them"
        )
    settled = _settled(facts, models)
    final = reports / run
    if not final.exists() and journal.folder.is_dir():
        staging.place(journal.folder, final)
    registry.complete_promotion(
        models,
        versions=versions,
        compared_with=facts.get("aliases_before", {}).get(CHAMPION),
        reason=str(facts.get("reason", "")),
        run=run,
    )
    if not facts.get("rendered"):
        _rewrite(final, settled)
        runs.log_report(str(facts["evaluate_run_id"]), final)
    record = io.read_json(final / "run.json")
    runs.tag_run(str(facts["run_id"]), _tags(record, settled))
    runs.finish(run, status="FINISHED")
    if _newest(reports, run):
        switch_latest(reports, final)
    return (
        f"run {run} was interrupted after it moved the registry (after '{step}'): its "
        f"publishing was completed ({settled.message})"
    )


def _settled(facts: dict[str, Any], models: ModelRegistry) -> Settled:
    """What the run did to the registry: as its journal says, else as the registry shows."""
    if facts.get("settled"):
        return _from_dict(facts["settled"])
    plan = _from_dict(facts["planned"])
    champion = models.alias_version(CHAMPION, strict=True)
    if champion == plan.champion:
        return plan
    return registry.changed(plan.compared_with, champion, wanted=plan.wanted)


def _from_dict(data: dict[str, Any]) -> Settled:
    return Settled(**{f.name: data[f.name] for f in fields(Settled)})


def _rewrite(final: Path, settled: Settled) -> None:
    """The run's records and report rewritten to say what the registry did."""
    record = io.read_json(final / "run.json")
    record["registry"] = settled.to_dict()
    record["versions"]["champion"] = settled.champion or ""
    io.write_json(record, final / "run.json")
    scores = io.read_table(final / "holdout_scores.parquet")
    page = render_report(record, scores, importance=record.get("importance"))
    io.write_text(page, final / REPORT_FILE)


def _tags(record: dict[str, Any], settled: Settled) -> dict[str, str]:
    versions = record.get("versions") or {}
    return {
        "champion_after": settled.champion or "",
        "compared_with": str(versions.get("compared_with", "")),
        "challenger_version": str(versions.get("challenger", "")),
        "registry": settled.message[:5000],
    }


def _newest(reports: Path, run: str) -> bool:
    """Whether ``run`` is newer than the run ``reports/latest`` shows (names start with the
    run's time)."""
    latest = reports / LATEST / "run.json"
    if not latest.is_file():
        return True
    shown = str(io.read_json(latest).get("run", ""))
    return run > shown
