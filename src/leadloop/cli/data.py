"""Commands about data: ``inspect`` a file, ``init`` a settings file, ``generate`` test data."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from leadloop.cli.app import ConfigOption, app, console, fail, guard, load
from leadloop.config import CONFIG_FILENAME


@app.command()
def inspect(
    path: Annotated[Path, typer.Argument(help="A CSV, Excel or Parquet file.")],
    config: ConfigOption = None,
) -> None:
    """Show each column's inferred type, missing share, cardinality and role in the model,
    and the leak guard's evidence for every column it flags."""
    settings = load(config)
    from leadloop.data.files import check_file

    guard(lambda: check_file(path))
    from rich.markup import escape
    from rich.table import Table

    from leadloop import pipeline

    rows = guard(lambda: pipeline.inspect_table(settings, path))
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
def init(
    path: Annotated[Path, typer.Argument(help="Where to write it.")] = Path(CONFIG_FILENAME),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented leadloop.yaml with every setting at its default."""
    if path.exists() and not force:
        raise fail(f"{path} exists already; use --force to overwrite it.")
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
        raise fail(f"--format must be csv or parquet, not '{fmt}'")
    from leadloop import pipeline
    from leadloop.data.synthetic import SyntheticSpec

    spec = SyntheticSpec(
        n_leads=n_leads,
        months=months,
        seed=seed,
        label_noise=label_noise,
        covariate_drift=covariate_drift,
        concept_drift=concept_drift,
        base_rate_shift=base_rate_shift,
    )
    paths = guard(
        lambda: pipeline.write_synthetic(
            spec, leads_path=out / f"leads.{fmt}", outcomes_path=out / f"outcomes.{fmt}"
        )
    )
    for path in paths:
        console.print(f"wrote {path}")
