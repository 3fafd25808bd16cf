"""The commands beside the loop: re-render a report, a person's promote and rollback, and the
"nothing new" skip (the model history is ``pipeline.history``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leadloop import registry
from leadloop.config import Settings
from leadloop.data import io
from leadloop.errors import InputError
from leadloop.lineage import Unchanged, record_unchanged, unchanged_since_last
from leadloop.pipeline.inputs import Inputs
from leadloop.pipeline.publish import REPORT_FILE
from leadloop.report.html import render_report
from leadloop.tracking import ModelRegistry, check_store


def rerender_report(settings: Settings, run: str) -> Path:
    """Render a run's report again from what the run wrote (its record and holdout scores);
    ``run`` is a folder name under the reports directory, never a path out of it."""
    reports = settings.resolve(settings.reports_dir).resolve()
    directory = (reports / run).resolve()
    if not run.strip() or run.startswith(".") or directory.parent != reports:
        raise InputError(
            f"'{run}' is not a run: give the name of a folder directly under {reports}",
            path=str(reports),
        )
    if not (directory / "run.json").is_file():
        raise InputError(
            f"no run '{run}' under {directory.parent} (see the folder names there)",
            path=str(directory),
        )
    record = io.read_json(directory / "run.json")
    scores = io.read_table(directory / "holdout_scores.parquet")
    target = directory / REPORT_FILE
    io.write_text(render_report(record, scores, importance=record.get("importance")), target)
    return target


def write_record(record: dict[str, Any], path: Path) -> None:
    """Write a JSON record (validation findings, decisions) for scripts and DVC."""
    io.write_json(record, path)


def promote(
    settings: Settings, version: str, *, reason: str, by: str, expected: str | None = None
) -> tuple[str | None, str | None]:
    """A person's override, compare-and-set: make ``version`` the champion (only while it is
    still ``expected``, if given); returns (previous champion, champion after)."""
    check_store(settings, writing=False)
    return registry.promote(
        ModelRegistry(settings), version, reason=reason, by=by, expected=expected
    )


def rollback(
    settings: Settings, *, reason: str, expected: str | None = None
) -> tuple[str, str | None]:
    """Point ``champion`` back at the version it replaced; returns (from, champion after)."""
    check_store(settings, writing=False)
    return registry.rollback(ModelRegistry(settings), reason=reason, expected=expected)


def nothing_new(settings: Settings, inputs: Inputs) -> Unchanged | None:
    """The last run, when data, settings, code and champion are all as it left them; the skip
    is then recorded in MLflow."""
    unchanged = unchanged_since_last(settings, inputs.data_version)
    if unchanged is not None:
        record_unchanged(settings, unchanged)
    return unchanged
