"""Batch scoring, wired: a file of leads in, a file of score records out, a chunk at a time.

Memory stays bounded by the chunk size whatever the file's size; the output file appears only
when every row is scored (a failure leaves no half-written file).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from leadloop.columns import CHAMPION
from leadloop.config import Settings
from leadloop.data import io
from leadloop.data.schema import prepare_to_score
from leadloop.data.score_log import log_score_table
from leadloop.data.store import FeedbackStore
from leadloop.errors import ConfigError, InputError, RegistryError
from leadloop.policy import Allocation, allocate, policy_rng
from leadloop.preflight import require_registry
from leadloop.scoring import POLICY_FIELDS, POLICY_SCHEMA, SCORE_SCHEMA, Scorer, compile_trees
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
    require_registry(settings)
    check_store(settings, writing=False)
    tracker = ModelRegistry(settings)
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
    batch_id: str | None = None,
) -> BatchResult:
    """Score every lead in ``source`` (CSV or Parquet) into ``target`` (CSV or Parquet), and
    log the scores in the feedback store as batch ``batch_id`` (default: the file's name and
    the scoring time). Under ``settings.policy`` the records carry each lead's priority,
    exploration flag and propensity, allocated over the whole file.

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
    scored_at = pd.Timestamp.now(tz="UTC").floor("s")
    chunks = _chunks(settings, source, chunk_rows)
    scorer.check_columns(chunks.columns, source=str(source))
    batch = batch_id or f"{source.name}@{scored_at.isoformat()}"
    allocation = None
    if settings.policy.capacity is not None:
        again = _chunks(settings, source, chunk_rows)
        allocation = _allocate(settings, again, scorer, source=source, batch_id=batch)
    logged = _write_scores(settings, chunks, target, scorer, scored_at, allocation, progress)
    _log(settings, logged, batch)
    grades = pd.Series(logged["grade"].to_numpy()).value_counts()
    return BatchResult(
        target,
        logged.num_rows,
        scorer.version,
        dict(sorted((str(g), int(c)) for g, c in grades.items())),
        time.perf_counter() - started,
    )


def _chunks(settings: Settings, source: Path, rows: int) -> io.TableChunks:
    return io.TableChunks(source, rows=rows, missing=tuple(settings.missing_values))


def _write_scores(
    settings: Settings,
    chunks: io.TableChunks,
    target: Path,
    scorer: Scorer,
    scored_at: pd.Timestamp,
    allocation: Allocation | None,
    progress: Callable[[float], None] | None,
) -> pa.Table:
    """Write the score records chunk by chunk; returns the columns the score log keeps."""
    source = str(chunks.path)
    kept: list[pa.Table] = []
    rows = 0
    pending = settings.scoring.compile == "auto"
    many = settings.scoring.compile_rows
    with io.TableWriter(target) as writer:
        for raw in chunks:
            if pending and (rows >= many or (chunks.total_rows or 0) > many):
                use_compiled_trees(scorer, settings)  # worth its seconds on many leads
                pending = False
            try:
                frame = prepare_to_score(raw, settings.leads, source=source)
                table = scorer.score_table(frame, scored_at=scored_at, source=source)
            except InputError as err:
                raise err.shifted(rows) from err
            if allocation is not None:
                table = _with_policy(table, allocation, rows)
            writer.write(table)
            kept.append(table.drop_columns(["reasons", "score"]))
            rows += len(raw)
            if progress is not None:
                progress(chunks.done)
        if rows == 0:
            empty = SCORE_SCHEMA if allocation is None else POLICY_SCHEMA
            writer.write(empty.empty_table())
            kept.append(empty.empty_table().drop_columns(["reasons", "score"]))
    return pa.concat_tables(kept)


def _allocate(
    settings: Settings, chunks: io.TableChunks, scorer: Scorer, *, source: Path, batch_id: str
) -> Allocation:
    """The policy's draw over the whole file (a first pass for the probabilities alone)."""
    quick = replace(scorer, reasons=0)
    stamp = pd.Timestamp.now(tz="UTC")
    parts = []
    for raw in chunks:
        frame = prepare_to_score(raw, settings.leads, source=str(source))
        table = quick.score_table(frame, scored_at=stamp, source=str(source))
        parts.append(table["probability"].to_numpy())
    probabilities = np.concatenate(parts) if parts else np.zeros(0)
    policy = settings.policy
    assert policy.capacity is not None  # checked by the caller
    return allocate(
        probabilities,
        capacity=policy.capacity,
        epsilon=policy.epsilon,
        rng=policy_rng(policy.seed, batch_id),
    )


def _with_policy(table: pa.Table, allocation: Allocation, offset: int) -> pa.Table:
    """A chunk's score records with the policy's columns for its rows."""
    rows = slice(offset, offset + table.num_rows)
    columns = [
        pa.array(allocation.priority[rows], pa.int64()),
        pa.array(allocation.explored[rows], pa.bool_()),
        pa.array(allocation.propensity[rows], pa.float64()),
    ]
    for name, column in zip(POLICY_FIELDS, columns, strict=True):
        table = table.append_column(name, column)
    return table


def _log(settings: Settings, logged: pa.Table, batch_id: str) -> None:
    """Every score served goes to the score log (once the output file is complete)."""
    if logged.num_rows == 0:
        return
    store = FeedbackStore(settings.store_url()).create()
    try:
        log_score_table(store, logged, batch_id=batch_id)
    finally:
        store.dispose()


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
