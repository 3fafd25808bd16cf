"""The ``leadloop`` command: parse, load settings, call the pipeline, render with Rich.

Exit codes: 0 success, 1 internal error, 2 bad input or configuration, 3 the gate blocked,
4 the champion changed (or the registry stayed locked) while a command meant to move it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import webbrowser
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, TypeVar

import pandas as pd
import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from leadloop import batch, pipeline
from leadloop.config import CONFIG_FILENAME, Settings, load_settings
from leadloop.data.synthetic import SyntheticSpec
from leadloop.errors import LeadloopError, version_label
from leadloop.evaluate import HIGHER_IS_BETTER, METRIC_NAMES
from leadloop.lineage import Unchanged, require_shared

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")
EXIT_BLOCKED = 3
EXIT_CHAMPION_CHANGED = 4

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help=f"Settings file (default: ./{CONFIG_FILENAME} if present)."
    ),
]

IfChampionOption = Annotated[
    str | None,
    typer.Option(
        "--if-champion",
        help="Move only while the champion is still this version (what you reviewed).",
    ),
]


def main() -> None:
    """Entry point for ``python -m leadloop``."""
    app()


@app.callback()
def _setup(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log details.")] = False,
) -> None:
    """Lead scoring that learns from CRM outcomes and promotes a challenger only on evidence."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        handlers=[RichHandler(console=err_console, show_path=False)],
        force=True,
    )
    for noisy in ("mlflow", "alembic", "urllib3", "git", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)


@app.command()
def run(
    config: ConfigOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the decision record as JSON on stdout.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Retrain even when nothing is new since the last run.")
    ] = False,
    shared_registry: Annotated[
        bool,
        typer.Option(
            "--shared-registry",
            help="Refuse a local SQLite or file store (CI: the registry must outlive the runner).",
        ),
    ] = False,
) -> None:
    """Run the whole loop: label, split, train, evaluate, check, decide, track.

    Exit status: 0 promoted, kept the champion, or nothing new since the last run; 3 the gate
    blocked (a person must review); 4 the champion changed during the run (or the registry stayed
    locked): nothing moved, rerun to compare; 2 bad input or configuration; 1 internal error.
    The progress bar shows only on a terminal.
    """
    settings = _guard(lambda: _settings(config))
    if shared_registry or settings.tracking.shared:
        _guard(lambda: require_shared(settings))
    out = err_console if as_json else console
    generated = _guard(lambda: pipeline.ensure_data(settings))
    for path in generated:
        out.print(f"[dim]generated synthetic data: {path}[/dim]")
    now = _now()
    with _progress(enabled=not quiet and out.is_terminal) as step:
        step("read")
        inputs = _guard(lambda: pipeline.load_inputs(settings, now=now))
        unchanged = None if force else _guard(lambda: pipeline.nothing_new(settings, inputs))
        if unchanged is None:
            result = _guard(
                lambda: pipeline.run_loop(settings, progress=step, now=now, inputs=inputs)
            )
    if unchanged is not None:
        _report_unchanged(unchanged, as_json=as_json)
        return
    for warning in result.record["warnings"]:
        err_console.print(f"[yellow]warning:[/yellow] {warning}")
    code = _run_exit_code(result)
    if as_json:
        typer.echo(json.dumps({**_json_summary(result), "exit_code": code}, indent=2, default=str))
    else:
        _render_result(result)
        _render_decision(result)
    if code:
        raise typer.Exit(code)


def _run_exit_code(result: pipeline.LoopResult) -> int:
    """4 when a move the run decided on was refused (rerun first), 3 when the gate blocked."""
    if result.settled is not None and result.settled.conflict:
        return EXIT_CHAMPION_CHANGED
    return EXIT_BLOCKED if result.decision.verdict == "block" else 0


def _report_unchanged(unchanged: Unchanged, *, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({**unchanged.to_dict(), "exit_code": 0}, indent=2))
    else:
        console.print(unchanged.message, highlight=False)


def _json_summary(result: pipeline.LoopResult) -> dict[str, object]:
    return {
        "run": result.run_name,
        "report_dir": str(result.report_dir),
        "versions": result.record["versions"],
        "registry": result.record.get("registry"),
        "data_version": result.record["data_version"],
        "decision": result.decision.to_dict(),
        "metrics": result.record["metrics"],
    }


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
        batch.CHUNK_ROWS
    ),
    config: ConfigOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    engine: Annotated[
        str,
        typer.Option(
            help="local: in this process; spark: on Spark through MLflow's spark_udf "
            "(pip install 'leadloop[spark]'; Parquet paths or Spark table names)."
        ),
    ] = "local",
) -> None:
    """Score a file of leads with the champion (or --model): probability, score, grade, reasons."""
    settings = _guard(lambda: _settings(config))
    if chunk_rows < 1 or (reasons is not None and reasons < 0):
        err_console.print("--chunk-rows must be positive and --reasons at least 0")
        raise typer.Exit(2)
    scorer = _guard(lambda: batch.load_scorer(settings, model, reasons=reasons))
    columns = (TextColumn("scoring"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    enabled = not quiet and console.is_terminal
    with Progress(*columns, console=console, transient=True, disable=not enabled) as bar:
        task = bar.add_task("scoring", total=1.0)
        result = _guard(
            lambda: batch.score_file(
                settings,
                source,
                output,
                scorer=scorer,
                chunk_rows=chunk_rows,
                progress=lambda done: bar.update(task, completed=done),
                engine=engine,
            )
        )
    grades = ", ".join(f"{g}: {n:,}" for g, n in result.grades.items()) or "none"
    console.print(
        f"scored {result.rows:,} leads with v{result.model_version} in {result.seconds:.1f} s "
        f"({grades}) -> {result.output}"
    )


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
    )

    settings = _guard(lambda: _settings(config))
    _guard(lambda: require_auth(settings, no_auth=no_auth))
    host = host or settings.serve.host
    port = settings.serve.port if port is None else port
    workers = workers or settings.serve.workers
    _guard(lambda: preflight(settings))
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
        service = _guard(lambda: create_app(settings))
        uvicorn.run(service, host=host, port=port, log_level="warning")
        return
    if config is not None:
        os.environ[CONFIG_ENV] = str(config.resolve())
    if no_auth:
        os.environ[NO_AUTH_ENV] = "1"
    # Workers share their Prometheus counters through files in a fresh directory.
    os.environ[METRICS_DIR_ENV] = tempfile.mkdtemp(prefix="leadloop-metrics-")
    uvicorn.run(
        "leadloop.serve.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
    )


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write it.")] = Path(CONFIG_FILENAME),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented leadloop.yaml with every setting at its default."""
    if path.exists() and not force:
        err_console.print(f"{path} exists already; use --force to overwrite it.")
        raise typer.Exit(2)
    template = resources.files("leadloop").joinpath("leadloop.yaml").read_text(encoding="utf-8")
    path.write_text(template, encoding="utf-8")
    console.print(f"wrote {path}: point leads.path and outcomes.path at your files.")


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write into.")] = Path(
        "data"
    ),
    n_leads: Annotated[int, typer.Option(help="Number of leads.")] = 20_000,
    months: Annotated[int, typer.Option(help="Months the leads span.")] = 18,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    label_noise: Annotated[float, typer.Option(help="Share of CRM outcomes flipped.")] = 0.0,
    covariate_drift: Annotated[float, typer.Option(help="Feature shift in late months.")] = 0.0,
    concept_drift: Annotated[float, typer.Option(help="Change of the true function.")] = 0.0,
    base_rate_shift: Annotated[float, typer.Option(help="Logit shift of conversion.")] = 0.0,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
) -> None:
    """Generate synthetic leads, CRM outcomes and the true probabilities (truth file)."""
    if fmt not in ("csv", "parquet"):
        err_console.print(f"--format must be csv or parquet, not '{fmt}'")
        raise typer.Exit(2)
    spec = SyntheticSpec(
        n_leads=n_leads,
        months=months,
        seed=seed,
        label_noise=label_noise,
        covariate_drift=covariate_drift,
        concept_drift=concept_drift,
        base_rate_shift=base_rate_shift,
    )
    paths = _guard(
        lambda: pipeline.write_synthetic(
            spec, leads_path=out / f"leads.{fmt}", outcomes_path=out / f"outcomes.{fmt}"
        )
    )
    for path in paths:
        console.print(f"wrote {path}")


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
    settings = _guard(lambda: _settings(config))
    if not reason.strip():
        err_console.print("--reason must say why the champion is being replaced")
        raise typer.Exit(2)
    previous, after = _guard(
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
    settings = _guard(lambda: _settings(config))
    current, after = _guard(
        lambda: pipeline.rollback(settings, reason=reason, expected=if_champion)
    )
    console.print(
        f"champion: v{current} -> {version_label(after)} (rolled back: {reason})", highlight=False
    )


@app.command()
def inspect(
    path: Annotated[Path, typer.Argument(help="A CSV, Excel or Parquet file.")],
    config: ConfigOption = None,
) -> None:
    """Show each column's inferred type, missing share, cardinality and role in the model,
    and the leak guard's evidence for every column it flags."""
    settings = _guard(lambda: _settings(config))
    rows = _guard(lambda: pipeline.inspect_table(settings, path))
    table = Table(title=f"{path}: {rows[0]['rows']:,} rows" if rows else str(path))
    for column in ("column", "type", "missing", "distinct", "role"):
        table.add_column(column)
    for row in rows:
        colour = "green" if row["role"].startswith("feature") else "yellow"
        table.add_row(
            escape(row["column"]),
            row["type"],
            f"{row['missing']:.1%}",
            f"{row['distinct']:,}",
            f"[{colour}]{escape(row['role'])}[/{colour}]",
        )
    console.print(table)
    flagged = [row for row in rows if row["evidence"]]
    if flagged:
        console.print(
            "[bold]Leak guard evidence[/bold] (declare a column in leads.feature_types to keep it):"
        )
    for row in flagged:
        console.print(
            f"- [yellow]{escape(row['column'])}[/yellow]: {escape(row['evidence'])}",
            highlight=False,
        )


@app.command()
def report(
    run_id: Annotated[str, typer.Argument(help="The run's folder name under reports/.")],
    open_it: Annotated[bool, typer.Option("--open", help="Open it in the browser.")] = False,
    config: ConfigOption = None,
) -> None:
    """Render a run's HTML report again from what the run logged."""
    settings = _guard(lambda: _settings(config))
    path = _guard(lambda: pipeline.rerender_report(settings, run_id))
    console.print(f"wrote {path}")
    if open_it:
        webbrowser.open(path.as_uri())


@app.command()
def history(config: ConfigOption = None) -> None:
    """Every registered version and decision; also writes reports/history.html."""
    settings = _guard(lambda: _settings(config))
    versions, path = _guard(lambda: pipeline.history(settings))
    table = Table(title=f"{settings.tracking.model_name}: registered versions")
    for column in (
        "version",
        "created",
        "data version",
        "holdout AUC",
        "trained as",
        "run decision",
        "promoted by",
        "aliases",
    ):
        table.add_column(column)
    for v in versions:
        auc = f"{v['roc_auc']:.3f}" if v["roc_auc"] is not None else ""
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


@app.command()
def validate(
    config: ConfigOption = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Also write the findings as JSON here.")
    ] = None,
) -> None:
    """Read and check the inputs and print how the leads are labelled, without training."""
    settings = _guard(lambda: _settings(config))
    _guard(lambda: pipeline.ensure_data(settings))
    inputs = _guard(lambda: pipeline.load_inputs(settings, now=_now()))
    cutoff = pipeline.resolve_cutoff(settings, inputs, now=_now())
    labels = _guard(lambda: pipeline.label_inputs(settings, inputs, cutoff))
    for warning in inputs.warnings:
        err_console.print(f"[yellow]warning:[/yellow] {warning}")
    if out is not None:
        record = {
            "data_version": inputs.data_version,
            "warnings": inputs.warnings,
            **labels.to_dict(),
        }
        _guard(lambda: pipeline.write_record(record, out))
    table = Table(title=f"Labels as of {cutoff:%Y-%m-%d %H:%M}")
    table.add_column("what")
    table.add_column("reason")
    table.add_column("count", justify="right")
    for status, count in labels.lead_counts.items():
        table.add_row("leads", status, f"{count:,}")
    for reason, count in labels.event_exclusions.items():
        table.add_row("events excluded", reason, f"{count:,}")
    console.print(table)


def _render_decision(result: pipeline.LoopResult) -> None:
    decision = result.decision
    colour = {"promote": "green", "keep": "cyan", "block": "red"}[decision.verdict]
    settled = result.settled
    said = settled.message if settled is not None else ""
    if settled is not None and settled.conflict:
        said = f"[bold red]{said}[/bold red]"
    console.print(
        f"decision: [bold {colour}]{decision.verdict.upper()}[/bold {colour}]: {said}",
        highlight=False,
    )
    for reason in decision.reasons:
        console.print(f"  - {reason}", highlight=False)


def _render_result(result: pipeline.LoopResult) -> None:
    champion = result.record["versions"]["compared_with"]
    title = f"Champion v{champion} vs challenger v{result.challenger_version} on the shared holdout"
    if not result.challenger_version:  # one model: the decision says why
        title = f"Champion v{champion} on the holdout (no separate challenger)"
    table = Table(title=title)
    table.add_column("metric")
    table.add_column(f"champion v{champion}", justify="right")
    table.add_column(f"challenger v{result.challenger_version}", justify="right")
    table.add_column("difference", justify="right")
    for name in METRIC_NAMES:
        row = result.comparison[name]
        colour = "green" if row["challenger_better"] else "default"
        arrow = "↑" if HIGHER_IS_BETTER[name] else "↓"
        table.add_row(
            f"{name} [dim]{arrow}[/dim]",
            f"{row['champion']:.4f}",
            f"{row['challenger']:.4f}",
            f"[{colour}]{row['difference']:+.4f}[/{colour}]",
        )
    console.print(table)
    split = result.record["split"]
    console.print(
        f"holdout: {split['holdout_rows']:,} leads ({split['method']}), "
        f"{result.record['metrics']['challenger']['positives']:,} won"
    )
    console.print(f"reports: {result.report_dir}")


@contextmanager
def _progress(*, enabled: bool) -> Iterator[Callable[[str], None]]:
    if not enabled:
        yield lambda _stage: None
        return
    columns = (TextColumn("{task.description:<12}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("starting", total=len(pipeline.STAGES))
        seen: list[str] = []

        def step(stage: str) -> None:
            if seen:
                bar.advance(task)
            seen.append(stage)
            bar.update(task, description=stage)

        yield step
        bar.update(task, completed=len(pipeline.STAGES))


def _settings(config: Path | None) -> Settings:
    return load_settings(config, environ=dict(os.environ))


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").tz_localize(None)


def _guard(action: Callable[[], T]) -> T:
    """Run ``action``; a ``LeadloopError`` becomes one line on stderr and its exit code."""
    try:
        return action()
    except LeadloopError as err:
        err_console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        raise typer.Exit(err.exit_code) from err
    except (typer.Exit, KeyboardInterrupt):
        raise
    except Exception as err:
        logging.getLogger("leadloop").debug("internal error", exc_info=True)
        err_console.print(
            f"[red]internal error:[/red] {type(err).__name__}: {err} (run with "
            "--verbose for the traceback; please report it)",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1) from err


if __name__ == "__main__":
    main()
