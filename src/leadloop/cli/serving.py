"""Scoring commands: ``score`` a file of leads, ``serve`` the API and the CRM webhooks."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from leadloop.cli.app import (
    ConfigOption,
    QuietOption,
    app,
    console,
    err_console,
    fail,
    guard,
    load,
    refuse_without_registry,
)

if TYPE_CHECKING:
    from leadloop.config import Settings

CHUNK_ROWS = 100_000  # rows read at a time by `leadloop score` unless --chunk-rows says


BatchOption = Annotated[
    str | None,
    typer.Option(
        help="The scoring batch in the score log (default: the file's name and the time); "
        "scoring a batch again logs nothing twice and, with policy.seed, draws the same."
    ),
]


@app.command()
def score(
    source: Annotated[Path, typer.Argument(help="Leads to score: a CSV or Parquet file.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where: .csv or .parquet.")],
    model: Annotated[
        str, typer.Option("--model", "-m", help="A registered version number or an alias.")
    ] = "champion",
    reasons: Annotated[
        int | None,
        typer.Option(help="Top positive and negative factors per lead; 0 skips them (fast)."),
    ] = None,
    chunk_rows: Annotated[int, typer.Option(help="Rows read at a time (bounds memory).")] = (
        CHUNK_ROWS
    ),
    config: ConfigOption = None,
    quiet: QuietOption = False,
    engine: Annotated[
        str,
        typer.Option(
            help="local: in this process; spark: on Spark through MLflow's spark_udf "
            "(pip install 'leadloop\\[spark]'; Parquet paths or Spark table names)."
        ),
    ] = "local",
    batch_id: BatchOption = None,
) -> None:
    """Score a file of leads with the champion (or --model): probability, score, grade, reasons;
    under policy.capacity also priority, explored and propensity. Scores go to the score log."""
    settings = load(config)
    if chunk_rows < 1 or (reasons is not None and reasons < 0):
        raise fail("--chunk-rows must be positive and --reasons at least 0")
    _refuse_early(settings, source, engine=engine)
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    from leadloop import batch

    scorer = guard(lambda: batch.load_scorer(settings, model, reasons=reasons))
    columns = (TextColumn("scoring"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    enabled = not quiet and console.is_terminal
    with Progress(*columns, console=console, transient=True, disable=not enabled) as bar:
        task = bar.add_task("scoring", total=1.0)
        result = guard(
            lambda: batch.score_file(
                settings,
                source,
                output,
                scorer=scorer,
                chunk_rows=chunk_rows,
                progress=lambda done: bar.update(task, completed=done),
                engine=engine,
                batch_id=batch_id,
            )
        )
    grades = ", ".join(f"{g}: {n:,}" for g, n in result.grades.items()) or "none"
    console.print(
        f"scored {result.rows:,} leads with v{result.model_version} in {result.seconds:.1f} s "
        f"({grades}) -> {result.output}"
    )


def _refuse_early(settings: Settings, source: Path, *, engine: str) -> None:
    """A missing or unreadable input, or no registry yet: said before any heavy import."""
    from leadloop.data.files import check_file

    if engine == "local":  # Spark takes table names too
        guard(lambda: check_file(source))
    refuse_without_registry(settings)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address (default: serve.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: serve.port).")] = None,
    workers: Annotated[int | None, typer.Option(help="Processes (default: serve.workers).")] = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Serve without an API key (not for production).")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Start the scoring API and the CRM webhooks (FastAPI under uvicorn)."""
    import uvicorn

    from leadloop.serve.app import (
        CONFIG_ENV,
        METRICS_DIR_ENV,
        NO_AUTH_ENV,
        create_app,
        preflight,
        require_auth,
        worker_command,
    )

    settings = load(config)
    guard(lambda: require_auth(settings, no_auth=no_auth))
    host = host or settings.serve.host
    port = settings.serve.port if port is None else port
    workers = workers or settings.serve.workers
    guard(lambda: preflight(settings))
    if settings.serve.api_key is None:
        err_console.print(
            f"[yellow]warning:[/yellow] serving WITHOUT authentication (--no-auth): anyone who "
            f"can reach {host}:{port} can score leads and read the model card",
            highlight=False,
            soft_wrap=True,
        )
    docs = " (API docs at /docs)" if settings.serve.docs else ""
    console.print(f"leadloop serving on http://{host}:{port}{docs}")
    if workers == 1:
        service = guard(lambda: create_app(settings))
        uvicorn.run(service, host=host, port=port, log_level="warning")
        return
    if config is not None:
        os.environ[CONFIG_ENV] = str(config.resolve())
    if no_auth:
        os.environ[NO_AUTH_ENV] = "1"
    # Workers share their Prometheus counters through files in a fresh directory.
    os.environ[METRICS_DIR_ENV] = tempfile.mkdtemp(prefix="leadloop-metrics-")
    command = worker_command(host=host, port=port, workers=workers)
    console.file.flush()
    err_console.file.flush()
    os.execv(command[0], command)  # uvicorn's own command, so workers start fast: see there
