"""The registry's commands: a person's ``promote`` and ``rollback``, ``history`` and ``report``."""

from __future__ import annotations

import webbrowser
from typing import Annotated

import typer

from leadloop.cli.app import (
    ConfigOption,
    IfChampionOption,
    app,
    console,
    fail,
    guard,
    load,
    refuse_without_registry,
)


@app.command()
def promote(
    version: Annotated[str, typer.Argument(help="Registered version to make champion.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the registry).")],
    by: Annotated[str, typer.Option("--by", help="Who decided.")] = "human",
    if_champion: IfChampionOption = None,
    config: ConfigOption = None,
) -> None:
    """Human override: make VERSION the champion, recording who and why (exit 4 if
    --if-champion no longer holds)."""
    settings = load(config)
    if not reason.strip():
        raise fail("--reason must say why the champion is being replaced")
    refuse_without_registry(settings)
    from leadloop import pipeline
    from leadloop.errors import version_label

    previous, after = guard(
        lambda: pipeline.promote(settings, version, reason=reason, by=by, expected=if_champion)
    )
    console.print(
        f"champion: {version_label(previous)} -> {version_label(after)} ({by}: {reason})",
        highlight=False,
    )


@app.command()
def rollback(
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).")] = "rollback",
    if_champion: IfChampionOption = None,
    config: ConfigOption = None,
) -> None:
    """Point the champion back at the version it replaced (exit 4 if --if-champion no longer
    holds)."""
    settings = load(config)
    refuse_without_registry(settings)
    from leadloop import pipeline
    from leadloop.errors import version_label

    current, after = guard(lambda: pipeline.rollback(settings, reason=reason, expected=if_champion))
    console.print(
        f"champion: v{current} -> {version_label(after)} (rolled back: {reason})", highlight=False
    )


@app.command()
def report(
    run_id: Annotated[str, typer.Argument(help="The run's folder name under reports/.")],
    open_it: Annotated[bool, typer.Option("--open", help="Open it in the browser.")] = False,
    config: ConfigOption = None,
) -> None:
    """Render a run's HTML report again from what the run logged."""
    settings = load(config)
    from leadloop import pipeline

    path = guard(lambda: pipeline.rerender_report(settings, run_id))
    console.print(f"wrote {path}")
    if open_it:
        webbrowser.open(path.as_uri())


HISTORY_COLUMNS = (
    "version",
    "created",
    "data version",
    "AUC, newest holdout",
    "trained as",
    "run decision",
    "promoted by",
    "aliases",
)


@app.command()
def history(config: ConfigOption = None) -> None:
    """Every registered version and decision; also writes reports/history.html."""
    settings = load(config)
    from rich.table import Table

    from leadloop import pipeline

    versions, path = guard(lambda: pipeline.history(settings))
    table = Table(title=f"{settings.tracking.model_name}: registered versions")
    for column in HISTORY_COLUMNS:
        table.add_column(column)
    for v in versions:
        common = v.get("common_holdout_auc")  # every version on the same leads: comparable
        auc = f"{common:.3f}" if common is not None else ""
        table.add_row(
            f"v{v['version']}",
            v["created"],
            v["data_version"] or "",
            auc,
            v["trained_as"] or "",
            v["decision"] or "",
            v["promoted_by"] or "",
            ", ".join(v["aliases"]),
        )
    console.print(table)
    console.print(f"wrote {path}")
