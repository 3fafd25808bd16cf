"""``leadloop history``: every registered version scored on one common holdout, decisions and
human overrides on one timeline, and each run's estimate for its immature leads set beside the
outcomes that have matured since.

Wiring: it reads the reports and the current inputs and loads models from the registry; the
figures come from ``backtest`` and ``estimate``, the page from ``report``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leadloop.backtest import may_have_trained_on, score_versions
from leadloop.columns import AMOUNT, CREATED_AT, LABEL, LEAD_ID
from leadloop.config import Settings
from leadloop.data import io
from leadloop.data.labels import LabelResult
from leadloop.errors import LeadloopError
from leadloop.estimate import Backtest, check_estimate
from leadloop.insights import PROBABILITY, YOUNG_SCORES
from leadloop.pipeline.inputs import label_inputs, load_inputs, resolve_cutoff
from leadloop.pipeline.publish import LATEST
from leadloop.report.html import render_history
from leadloop.report.timeline import page_context
from leadloop.tracking import ModelRegistry, check_store

HISTORY_FILE = "history.html"
SCORES_FILE = "holdout_scores.parquet"


@dataclass(frozen=True)
class Run:
    """One run's folder under reports/ and what it recorded."""

    name: str
    directory: Path
    record: dict[str, Any] | None
    decision: dict[str, Any] | None


@dataclass(frozen=True)
class Current:
    """The inputs as they are now, labelled as of now: what has matured since each run."""

    leads: pd.DataFrame
    labels: LabelResult


def history(
    settings: Settings, *, now: pd.Timestamp | None = None
) -> tuple[list[dict[str, Any]], Path]:
    """Every registered version with its facts; writes reports/history.html."""
    check_store(settings, writing=False)
    tracker = ModelRegistry(settings)
    versions = [_with_moves(tracker, v) for v in tracker.versions()]
    reports = settings.resolve(settings.reports_dir)
    runs = _runs(reports)
    current, why = _current(settings, now)
    common = _common_holdout(settings, tracker, versions, runs, current, why)
    checks = [_estimate_check(run, current, why) for run in runs if _has_estimate(run)]
    context = page_context(
        versions=versions,
        decisions=[{"run": r.name, **r.decision} for r in runs if r.decision],
        records={r.name: r.record for r in runs if r.record},
        common=common,
        checks=checks,
    )
    target = reports / HISTORY_FILE
    io.write_text(render_history(context), target)
    scores = common.get("scores", {})
    for v in versions:
        found = scores.get(v["version"])
        v["common_holdout_auc"] = found["roc_auc"] if found else None
    return versions, target


def _with_moves(tracker: ModelRegistry, version: dict[str, Any]) -> dict[str, Any]:
    """A version's facts with what the registry recorded about moving it (who, when, why)."""
    tags = tracker.version_tags(version["version"])
    moves = ("promotion_reason", "previous_champion", "rolled_back_at", "rollback_reason")
    return {**version, **{key: tags.get(key) for key in moves}}


def _runs(reports: Path) -> list[Run]:
    """Every run folder, oldest first (names start with the run's time)."""
    if not reports.is_dir():
        return []
    out = []
    for directory in sorted(p for p in reports.iterdir() if p.is_dir() and p.name != LATEST):
        record = directory / "run.json"
        decision = directory / "decision.json"
        if not (record.is_file() or decision.is_file()):
            continue
        out.append(
            Run(
                directory.name,
                directory,
                io.read_json(record) if record.is_file() else None,
                io.read_json(decision) if decision.is_file() else None,
            )
        )
    return out


def _current(settings: Settings, now: pd.Timestamp | None) -> tuple[Current | None, str | None]:
    """The current inputs and their labels, or why they cannot be read."""
    now = now if now is not None else pd.Timestamp.now(tz="UTC").tz_localize(None)
    try:
        inputs = load_inputs(settings, now=now)
        labels = label_inputs(settings, inputs, resolve_cutoff(settings, inputs, now=now))
    except LeadloopError as err:
        return None, f"the current inputs cannot be read: {err}"
    return Current(inputs.leads.frame, labels), None


def _common_holdout(
    settings: Settings,
    tracker: ModelRegistry,
    versions: list[dict[str, Any]],
    runs: list[Run],
    current: Current | None,
    why: str | None,
) -> dict[str, Any]:
    """The newest run's holdout with every version's figures on it, or why there are none."""
    newest = next((r for r in reversed(runs) if (r.directory / SCORES_FILE).is_file()), None)
    if newest is None or current is None or not versions:
        reason = why or ("no run has written its holdout" if newest is None else "no version")
        return {"why_not": reason}
    holdout = io.read_table(newest.directory / SCORES_FILE)
    rows = holdout[[LEAD_ID]].merge(current.leads, on=LEAD_ID, how="inner")
    if rows.empty:
        return {"why_not": f"no lead of run {newest.name}'s holdout is in today's leads file"}
    kept = holdout.set_index(LEAD_ID).loc[rows[LEAD_ID]]
    y = kept[LABEL].to_numpy(dtype=np.float64)
    amount = kept[AMOUNT].to_numpy(dtype=np.float64) if AMOUNT in kept.columns else None
    models = {v["version"]: tracker.load(v["version"]).model for v in versions}
    scored = score_versions(
        rows,
        y=y,
        models=models,
        capacity=settings.evaluation.capacity,
        amount=amount,
        confidence=settings.gate.confidence,
    )
    split = (newest.record or {}).get("split") or {}
    return {
        "run": newest.name,
        "leads": len(rows),
        "won": int(y.sum()),
        "missing": len(holdout) - len(rows),
        "start": split.get("holdout_start"),
        "end": split.get("holdout_end"),
        "scores": {k: s.to_dict() for k, s in scored.items()},
        "optimistic": _optimistic(versions, runs, split.get("holdout_start")),
    }


def _optimistic(
    versions: list[dict[str, Any]], runs: list[Run], common_start: str | None
) -> list[str]:
    """Versions whose own out-of-time holdout began after the common one: they may have
    trained on some of its leads."""
    starts = {r.name: ((r.record or {}).get("split") or {}).get("holdout_start") for r in runs}
    return [
        v["version"]
        for v in versions
        if may_have_trained_on(starts.get(v.get("run") or ""), common_start)
    ]


def _has_estimate(run: Run) -> bool:
    young = ((run.record or {}).get("insights") or {}).get("young") or {}
    return young.get("estimate") is not None and (run.directory / YOUNG_SCORES).is_file()


def _estimate_check(run: Run, current: Current | None, why: str | None) -> dict[str, Any]:
    """A run's immature-lead estimate against the outcomes of those leads that matured since."""
    record = run.record or {}
    young = record["insights"]["young"]
    recorded = young["estimate"]
    out: dict[str, Any] = {
        "run": run.name,
        "leads": young["leads"],
        "created_from": young["created_from"],
        "created_to": young["created_to"],
        "champion": (record.get("versions") or {}).get("compared_with"),
        "recorded": recorded,
        "matured": 0,
        "check": None,
    }
    if current is None:
        return {**out, "why_not": why}
    if CREATED_AT not in current.leads.columns:
        return {**out, "why_not": "today's leads have no creation time"}
    table = io.read_table(run.directory / YOUNG_SCORES)
    labels = current.labels
    mature_by = labels.cutoff - pd.Timedelta(days=labels.maturity_days)
    now = pd.DataFrame(
        {
            LEAD_ID: labels.labels[LEAD_ID],
            LABEL: labels.labels[LABEL],
            CREATED_AT: current.leads[CREATED_AT],
        }
    )
    joined = table[[LEAD_ID, PROBABILITY]].merge(now, on=LEAD_ID, how="inner")
    matured = joined[(joined[CREATED_AT] <= mature_by) & joined[LABEL].notna()]
    out.update({"matured": len(matured), "cutoff": labels.cutoff.isoformat()})
    if matured.empty:
        return {**out, "why_not": None}
    check = check_estimate(
        matured[PROBABILITY].to_numpy(dtype=np.float64),
        matured[LABEL].to_numpy(dtype=np.float64),
        reference=Backtest(**recorded["backtest"]),
        confidence=recorded["confidence"],
        draws=recorded["draws"],
        seed=recorded["seed"],
    )
    return {**out, "check": check.to_dict(), "why_not": None}
