"""``leadloop run`` and ``leadloop validate``: the loop, and its inputs checked without training."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from leadloop.cli.app import (
    EXIT_BLOCKED,
    EXIT_CHAMPION_CHANGED,
    ConfigOption,
    QuietOption,
    app,
    console,
    err_console,
    guard,
    kill_hook,
    load,
    now,
)

if TYPE_CHECKING:
    from leadloop.lineage import Unchanged
    from leadloop.pipeline import LoopResult

SharedOption = Annotated[
    bool,
    typer.Option(
        "--shared-registry",
        help="Refuse a local SQLite or file store (CI: the registry must outlive the runner).",
    ),
]


@app.command()
def run(
    config: ConfigOption = None,
    quiet: QuietOption = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the decision record as JSON on stdout.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Retrain even when nothing is new since the last run.")
    ] = False,
    shared_registry: SharedOption = False,
) -> None:
    """Run the whole loop: label, split, train, evaluate, check, decide, track.

    Exit status: 0 promoted, kept the champion, or nothing new since the last run; 3 the gate
    blocked (a person must review); 4 the champion changed during the run (or the registry stayed
    locked): nothing moved, rerun to compare; 2 bad input or configuration; 1 internal error.
    The progress bar shows only on a terminal.
    """
    settings = load(config)
    from leadloop import pipeline
    from leadloop.lineage import require_shared

    if shared_registry or settings.tracking.shared:
        guard(lambda: require_shared(settings))
    out = err_console if as_json else console
    for note in guard(lambda: pipeline.prepare_run(settings)):
        err_console.print(f"[yellow]warning:[/yellow] {note}", highlight=False)
    for path in guard(lambda: pipeline.ensure_data(settings)):
        out.print(f"[dim]generated synthetic data: {path}[/dim]")
    started = now()
    with _progress(enabled=not quiet and out.is_terminal) as step:
        step("read")
        inputs = guard(lambda: pipeline.load_inputs(settings, now=started))
        unchanged = None if force else guard(lambda: pipeline.nothing_new(settings, inputs))
        if unchanged is None:
            result = guard(
                lambda: pipeline.run_loop(
                    settings, progress=step, now=started, inputs=inputs, checkpoint=kill_hook()
                )
            )
    if unchanged is not None:
        _report_unchanged(unchanged, as_json=as_json)
        return
    for warning in result.record.warnings:
        err_console.print(f"[yellow]warning:[/yellow] {warning}")
    code = _exit_code(result)
    if as_json:
        typer.echo(json.dumps({**_json_summary(result), "exit_code": code}, indent=2, default=str))
    else:
        _render_result(result)
        _render_decision(result)
    if code:
        raise typer.Exit(code)


@app.command()
def validate(
    config: ConfigOption = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Also write the findings as JSON here.")
    ] = None,
) -> None:
    """Read and check the inputs and print how the leads are labelled, without training."""
    settings = load(config)
    from rich.table import Table

    from leadloop import pipeline

    guard(lambda: pipeline.ensure_data(settings))
    inputs = guard(lambda: pipeline.load_inputs(settings, now=now()))
    cutoff = guard(lambda: pipeline.resolve_cutoff(settings, inputs, now=now()))
    labels = guard(lambda: pipeline.label_inputs(settings, inputs, cutoff))
    for warning in inputs.warnings:
        err_console.print(f"[yellow]warning:[/yellow] {warning}")
    if out is not None:
        record = {"data_version": inputs.data_version, "warnings": inputs.warnings}
        guard(lambda: pipeline.write_record({**record, **labels.to_dict()}, out))
    table = Table(title=f"Labels as of {cutoff:%Y-%m-%d %H:%M}")
    table.add_column("what")
    table.add_column("reason")
    table.add_column("count", justify="right")
    for status, count in labels.lead_counts.items():
        table.add_row("leads", status, f"{count:,}")
    for reason, count in labels.event_exclusions.items():
        table.add_row("events excluded", reason, f"{count:,}")
    console.print(table)


def _exit_code(result: LoopResult) -> int:
    """4 when a move the run decided on was refused (rerun first), 3 when the gate blocked."""
    settled = result.record.registry
    if settled is not None and settled.conflict:
        return EXIT_CHAMPION_CHANGED
    return EXIT_BLOCKED if result.decision.verdict == "block" else 0


def _report_unchanged(unchanged: Unchanged, *, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({**unchanged.to_dict(), "exit_code": 0}, indent=2))
    else:
        console.print(unchanged.message, highlight=False)


def _json_summary(result: LoopResult) -> dict[str, object]:
    record = result.record.to_dict()
    return {
        "run": record["run"],
        "report_dir": str(result.report_dir),
        "versions": record["versions"],
        "registry": record["registry"],
        "data_version": record["data_version"],
        "decision": record["decision"],
        "metrics": record["metrics"],
    }


def _render_decision(result: LoopResult) -> None:
    decision = result.decision
    colour = {"promote": "green", "keep": "cyan", "block": "red"}[decision.verdict]
    settled = result.record.registry
    said = settled.message if settled is not None else ""
    if settled is not None and settled.conflict:
        said = f"[bold red]{said}[/bold red]"
    console.print(
        f"decision: [bold {colour}]{decision.verdict.upper()}[/bold {colour}]: {said}",
        highlight=False,
    )
    for reason in decision.reasons:
        console.print(f"  - {reason}", highlight=False)


def _render_result(result: LoopResult) -> None:
    from rich.table import Table

    from leadloop.evaluate import HIGHER_IS_BETTER, METRIC_NAMES

    record = result.record
    champion, challenger = record.versions.compared_with, record.versions.challenger
    title = f"Champion v{champion} vs challenger v{challenger} on the shared holdout"
    if not challenger:  # one model: the decision says why
        title = f"Champion v{champion} on the holdout (no separate challenger)"
    table = Table(title=title)
    table.add_column("metric")
    table.add_column(f"champion v{champion}", justify="right")
    table.add_column(f"challenger v{challenger}", justify="right")
    table.add_column("difference", justify="right")
    comparison = record.comparison
    for name in METRIC_NAMES:
        row = comparison[name]
        colour = "green" if row["challenger_better"] else "default"
        arrow = "↑" if HIGHER_IS_BETTER[name] else "↓"
        table.add_row(
            f"{name} [dim]{arrow}[/dim]",
            f"{row['champion']:.4f}",
            f"{row['challenger']:.4f}",
            f"[{colour}]{row['difference']:+.4f}[/{colour}]",
        )
    console.print(table)
    console.print(
        f"holdout: {record.split['holdout_rows']:,} leads ({record.split['method']}), "
        f"{record.metrics['challenger'].positives:,} won"
    )
    console.print(f"reports: {result.report_dir}")


@contextmanager
def _progress(*, enabled: bool) -> Iterator[Callable[[str], None]]:
    """A Rich progress bar over the loop's stages (nothing when not on a terminal)."""
    if not enabled:
        yield lambda _stage: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from leadloop.pipeline import STAGES

    columns = (TextColumn("{task.description:<12}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("starting", total=len(STAGES))
        seen: list[str] = []

        def step(stage: str) -> None:
            if seen:
                bar.advance(task)
            seen.append(stage)
            bar.update(task, description=stage)

        yield step
        bar.update(task, completed=len(STAGES))
