"""``leadloop simulate``: months of the loop in a world its own scores act on, three ways."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from leadloop.cli.app import QuietOption, app, console, err_console, guard

if TYPE_CHECKING:
    from leadloop.simulation import Simulation


@app.command()
def simulate(
    months: Annotated[int, typer.Option(min=1, max=120, help="Months of the loop.")] = 12,
    seed: Annotated[
        list[int] | None, typer.Option("--seed", help="A world's seed (repeat for several).")
    ] = None,
    leads_per_month: Annotated[
        int, typer.Option(min=200, max=1_000_000, help="New leads each month.")
    ] = 2000,
    capacity: Annotated[
        float, typer.Option(min=0.01, max=0.99, help="Share of leads sales works.")
    ] = 0.2,
    epsilon: Annotated[
        float, typer.Option(min=0.001, max=1.0, help="Exploration share (exploration arm).")
    ] = 0.05,
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML page with the charts.")] = Path(
        "reports/simulate.html"
    ),
    svg: Annotated[
        Path | None, typer.Option("--svg", help="Also write the charts as one SVG file.")
    ] = None,
    keep: Annotated[
        Path | None,
        typer.Option("--keep", help="Keep each arm's files and MLflow store in this directory."),
    ] = None,
    history_propensities: Annotated[
        bool,
        typer.Option(
            help="Log the pre-leadloop rule's propensities for the exploration arm's history."
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    quiet: QuietOption = False,
) -> None:
    """Compare, in a synthetic world, a naive loop, exploration + weighting and an oracle.

    Sales works the top capacity by the champion's score and only worked leads can convert.
    Each month every arm retrains through the real loop (registry, gate, aliases), and its
    champion is measured on the true probabilities of a fresh cohort.
    """
    from leadloop.simulation import Simulation, World

    world = World(leads_per_month=leads_per_month)
    spec = Simulation(
        world=world,
        months=months,
        capacity=capacity,
        epsilon=epsilon,
        history_propensities=history_propensities,
    )
    seeds = list(seed) if seed else [0]
    summary = _run(spec, seeds, keep=keep, quiet=quiet or as_json)
    from leadloop.pipeline.simulate import write_page

    guard(lambda: write_page(summary, page=out, chart=svg))
    if as_json:
        typer.echo(json.dumps({**summary, "page": str(out)}, indent=2))
        return
    _render(summary)
    console.print(f"page: {out}" + (f", chart: {svg}" if svg is not None else ""))


def _run(spec: Simulation, seeds: list[int], *, keep: Path | None, quiet: bool) -> dict[str, Any]:
    from leadloop.pipeline.simulate import simulate_worlds
    from leadloop.simulation import summarise

    total = spec.months * len(spec.arms) * len(seeds)
    with _workdir(keep) as root, _progress(total, enabled=not quiet) as step:
        results = guard(lambda: simulate_worlds(spec, seeds=seeds, workdir=root, step=step))
    return summarise(results)


@contextmanager
def _workdir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        yield keep.resolve()
        return
    with tempfile.TemporaryDirectory(prefix="leadloop-simulate-") as tmp:
        yield Path(tmp)


@contextmanager
def _progress(total: int, *, enabled: bool) -> Iterator[Callable[[str], None]]:
    """A Rich progress bar over every (world, arm, month) run of the loop."""
    if not enabled or not err_console.is_terminal:
        yield lambda _what: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("simulating", total=total)

        def step(what: str) -> None:
            bar.update(task, advance=1, description=what)

        yield step


def _render(summary: dict[str, Any]) -> None:
    from rich.table import Table

    from leadloop.report.simulation import ARM_NAMES

    table = Table(title=f"{summary['months']} months, true AUC on each month's fresh cohort")
    for name in ("seed", "arm", "AUC month 1", "AUC last", "mean AUC", "conversions", "given up"):
        table.add_column(name, justify="left" if name == "arm" else "right")
    for world in summary["per_seed"]:
        for arm, a in world["arms"].items():
            table.add_row(
                str(world["seed"]),
                ARM_NAMES.get(arm, arm),
                f"{a['first_true_auc']:.3f}",
                f"{a['last_true_auc']:.3f}",
                f"{a['mean_true_auc']:.3f}",
                f"{a['conversions']:,.0f}",
                f"{a['given_up']:,.0f}",
            )
    console.print(table)
