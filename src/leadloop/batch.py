"""Batch scoring, wired: a file of leads in, a file of score records out, a chunk at a time.

Memory stays bounded by the chunk size whatever the file's size; the output file appears only
when every row is scored (a failure leaves no half-written file).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from leadloop.columns import CHAMPION
from leadloop.config import Settings
from leadloop.data import io
from leadloop.data.schema import prepare_to_score
from leadloop.errors import ConfigError, InputError, RegistryError, redact
from leadloop.scoring import SCORE_SCHEMA, Scorer, compile_trees
from leadloop.tracking import ModelRegistry, check_store

CHUNK_ROWS = 100_000  # rows per chunk when the caller does not say (the CLI says)


@dataclass(frozen=True)
class BatchResult:
    """What a batch scoring run wrote."""

    output: Path
    rows: int
    model_version: str
    grades: dict[str, int]
    seconds: float


def load_scorer(
    settings: Settings,
    ref: str = CHAMPION,
    *,
    reasons: int | None = None,
    service: bool = False,
) -> Scorer:
    """The registered model ``ref`` (a version number or an alias) ready to score.

    With ``scoring.compile: always`` its trees are compiled now; for a ``service`` (unless
    ``never``) they are compiled in the background while LightGBM scores the first requests.
    """
    check_store(settings, writing=False)
    tracker = ModelRegistry(settings)
    if not tracker.store_exists():
        raise RegistryError(
            f"no model registry at {redact(settings.tracking_uri())}: run `leadloop run` first"
        )
    if ref == CHAMPION and tracker.alias_version(CHAMPION) is None:
        raise RegistryError(
            f"model '{settings.tracking.model_name}' has no champion yet: run `leadloop run` first"
        )
    registered = tracker.load(ref)
    scorer = Scorer(
        registered.model,
        registered.version,
        tuple(settings.evaluation.grade_cutoffs),
        settings.serve.reasons if reasons is None else reasons,
    )
    mode = settings.scoring.compile
    if service and mode != "never":
        use_compiled_trees(scorer, settings, background=True)
    elif mode == "always":
        use_compiled_trees(scorer, settings)
    return scorer


def use_compiled_trees(scorer: Scorer, settings: Settings, *, background: bool = False) -> None:
    """Swap compiled trees into the scorer's model, cached in ``scoring.cache_dir``."""
    compile_trees(
        scorer,
        cache_dir=settings.resolve(settings.scoring.cache_dir),
        label=f"{settings.tracking.model_name}-v{scorer.version}",
        background=background,
    )


def score_file(
    settings: Settings,
    source: Path,
    target: Path,
    *,
    scorer: Scorer,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[float], None] | None = None,
    engine: str = "local",
) -> BatchResult:
    """Score every lead in ``source`` (CSV or Parquet) into ``target`` (CSV or Parquet).

    ``engine="spark"`` scores on Spark instead (``leadloop.spark``): Parquet or Spark tables.
    """
    if engine == "spark":
        return _score_on_spark(settings, source, target, scorer=scorer)
    if engine != "local":
        raise ConfigError(f"unknown scoring engine '{engine}': use local or spark")
    started = time.perf_counter()
    if target.resolve() == source.resolve():
        raise InputError(
            "the output would overwrite the input; name another file", path=str(target)
        )
    chunks = io.TableChunks(source, rows=chunk_rows, missing=tuple(settings.missing_values))
    scorer.check_columns(chunks.columns, source=str(source))
    scored_at = pd.Timestamp.now(tz="UTC").floor("s")
    grades: dict[str, int] = {}
    rows = 0
    pending = settings.scoring.compile == "auto"
    many = settings.scoring.compile_rows
    with io.TableWriter(target) as writer:
        for raw in chunks:
            if pending and (rows >= many or (chunks.total_rows or 0) > many):
                use_compiled_trees(scorer, settings)  # worth its seconds on many leads
                pending = False
            try:
                frame = prepare_to_score(raw, settings.leads, source=str(source))
                table = scorer.score_table(frame, scored_at=scored_at, source=str(source))
            except InputError as err:
                raise err.shifted(rows) from err
            writer.write(table)
            rows += len(raw)
            for grade, count in pd.Series(table["grade"].to_numpy()).value_counts().items():
                grades[str(grade)] = grades.get(str(grade), 0) + int(count)
            if progress is not None:
                progress(chunks.done)
        if rows == 0:
            writer.write(SCORE_SCHEMA.empty_table())
    return BatchResult(
        target, rows, scorer.version, dict(sorted(grades.items())), time.perf_counter() - started
    )


def _score_on_spark(
    settings: Settings, source: Path, target: Path, *, scorer: Scorer
) -> BatchResult:
    """Score on a Spark session started (and stopped) for this run."""
    from leadloop import spark

    session = spark.spark_session()
    try:
        done = spark.score_on_spark(
            settings, str(source), str(target), scorer=scorer, spark=session
        )
    finally:
        session.stop()
    return BatchResult(Path(done.output), done.rows, done.model_version, done.grades, done.seconds)
