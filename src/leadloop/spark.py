"""Batch scoring on Spark: ``leadloop score --engine spark INPUT OUTPUT``.

The registered model scores through MLflow's ``spark_udf``: each executor runs the logged model
(``model/pyfunc.py``, which carries leadloop's code), so the records are those of the
single-process path: probability, score, grade, reasons (JSON), model version, and one
``scored_at`` for the run. INPUT and OUTPUT are Parquet paths or Spark table names. The driver
only renames the configured id and creation-time columns, blanks the missing-value placeholders
in text columns (as ``leadloop score`` reads files) and refuses, before any scoring, input that
lacks a column the model needs or a lead id.

Spark runs in the session's time zone; leadloop sets it to UTC for sessions it starts, so
timestamps without a zone are read as UTC, as everywhere else. ``pip install 'leadloop[spark]'``.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from leadloop.config import Settings
from leadloop.data import io
from leadloop.errors import ConfigError, InputError
from leadloop.scoring import SCORE_SCHEMA, Scorer
from leadloop.tracking import ModelRegistry

RESULT_TYPE = "probability double, score long, grade string, model_version string, reasons string"
APP_NAME = "leadloop score"
PYTHON_ENV = "PYSPARK_PYTHON"
NANOS_AS_LONG = "spark.sql.legacy.parquet.nanosAsLong"  # the only way Spark reads them


@dataclass(frozen=True)
class SparkResult:
    """What a Spark scoring run wrote."""

    output: str
    rows: int
    model_version: str
    grades: dict[str, int]
    seconds: float


def spark_session(master: str | None = None, *, ui: bool = True) -> Any:
    """A Spark session in UTC whose Python workers run this interpreter (the current session if
    there is one); a local one listens on 127.0.0.1 only. ``ConfigError`` without pyspark."""
    try:
        from pyspark import SparkConf
        from pyspark.sql import SparkSession
    except ImportError as err:
        raise ConfigError(
            "--engine spark needs pyspark: pip install 'leadloop[spark]' (and Java 17)"
        ) from err
    # pyspark starts its Python workers with $PYSPARK_PYTHON (else "python3" on the PATH):
    # this interpreter, where leadloop and its model's dependencies are installed.
    os.environ.setdefault(PYTHON_ENV, sys.executable)
    resolved = master or SparkConf().get("spark.master", "local[*]")
    builder = (
        SparkSession.builder.appName(APP_NAME)
        .master(resolved)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", str(ui).lower())
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    )
    if resolved.startswith("local"):
        builder = builder.config("spark.driver.host", "127.0.0.1").config(
            "spark.driver.bindAddress", "127.0.0.1"
        )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def score_on_spark(
    settings: Settings, source: str, target: str, *, scorer: Scorer, spark: Any
) -> SparkResult:
    """Score every lead of ``source`` into ``target`` with ``scorer``'s registered version."""
    from pyspark.sql import functions as F

    started = time.perf_counter()
    if _same(source, target):
        raise InputError("the output would overwrite the input; name another", path=target)
    frame = _read(spark, source)
    leads = _prepared(frame, settings, scorer, source=source)
    config = {
        "model_name": settings.tracking.model_name,
        "model_version": scorer.version,
        "grade_cutoffs": list(scorer.cutoffs),
        "reasons": scorer.reasons,
        "date_formats": dict(settings.leads.date_formats),
    }
    if settings.scoring.compile != "never":
        config["compiled_dir"] = str(settings.resolve(settings.scoring.cache_dir))
    udf = ModelRegistry(settings).spark_udf(
        spark, scorer.version, result_type=RESULT_TYPE, model_config=config
    )
    stamp = pd.Timestamp.now(tz="UTC").floor("s").tz_localize(None).to_pydatetime()
    scored = leads.withColumn("_score", udf(F.struct(*[F.col(c) for c in leads.columns])))
    names = [field.name for field in SCORE_SCHEMA]
    out = scored.select(
        "lead_id",
        *[F.col(f"_score.{name}").alias(name) for name in names[1:-1]],
        F.lit(stamp).cast("timestamp").alias("scored_at"),
    )
    _write(out, target)
    written = _read(spark, target)
    counts = written.groupBy("grade").count().collect()
    grades = {str(row["grade"]): int(row["count"]) for row in counts}
    return SparkResult(
        target,
        sum(grades.values()),
        scorer.version,
        dict(sorted(grades.items())),
        time.perf_counter() - started,
    )


def _prepared(frame: Any, settings: Settings, scorer: Scorer, *, source: str) -> Any:
    """The columns the model reads, named as it knows them, placeholders blanked."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, FloatType

    id_column, created = settings.leads.id_column, settings.leads.created_at_column
    if id_column is None or id_column not in frame.columns:
        raise InputError(
            f"Spark scoring needs the lead id column '{id_column}' (leads.id_column)",
            path=source,
            column=id_column,
        )
    features = scorer.model.encoder.feature_names_
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise InputError(
            f"columns the model (v{scorer.version}) needs are missing: {missing}",
            path=source,
            column=missing[0],
        )
    types = {field.name: field.dataType for field in frame.schema.fields}
    ids = _blanked(F, id_column, types[id_column], settings)
    if isinstance(types[id_column], DoubleType | FloatType):
        ids = ids.cast("long")  # whole-number ids read as floats lose their '.0', as in files
    columns = [F.trim(ids.cast("string")).alias("lead_id")]
    if created is not None and created in frame.columns:
        columns.append(_blanked(F, created, types[created], settings).alias("created_at"))
    columns += [_blanked(F, name, types[name], settings).alias(name) for name in features]
    leads = frame.select(*columns)
    _check_ids(leads, source=source, column=id_column)
    return leads


def _blanked(F: Any, name: str, kind: Any, settings: Settings) -> Any:
    from pyspark.sql.types import StringType

    column = F.col(name)
    if not isinstance(kind, StringType):
        return column
    placeholders = list(settings.missing_values)
    return F.when(F.trim(column).isin(placeholders), F.lit(None)).otherwise(column)


def _check_ids(leads: Any, *, source: str, column: str) -> None:
    from pyspark.sql import functions as F

    lacking = leads.filter(F.col("lead_id").isNull() | (F.col("lead_id") == "")).count()
    if lacking:
        raise InputError(f"lead id is missing in {lacking:,} rows", path=source, column=column)


def _is_path(name: str) -> bool:
    return "/" in name or name.endswith((".parquet", ".pq")) or Path(name).exists()


def _same(source: str, target: str) -> bool:
    if _is_path(source) and _is_path(target):
        return Path(source).resolve() == Path(target).resolve()
    return source == target


def _read(spark: Any, name: str) -> Any:
    """A Parquet path or a table; nanosecond timestamps of a local file (pandas writes them)
    are read as the integers Spark can read and made timestamps again (to the microsecond)."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    local = Path(name)
    nanos = io.nanosecond_timestamps(local) if _is_path(name) and local.exists() else []
    if nanos:
        spark.conf.set(NANOS_AS_LONG, "true")
    try:
        frame = spark.read.parquet(name) if _is_path(name) else spark.table(name)
    except AnalysisException as err:
        raise InputError(f"cannot be read by Spark: {str(err).splitlines()[0]}", path=name) from err
    for column in nanos:
        frame = frame.withColumn(column, F.timestamp_micros(F.floor(F.col(column) / 1000)))
    return frame


def _write(frame: Any, name: str) -> None:
    if _is_path(name):
        frame.write.mode("overwrite").parquet(name)
    else:
        frame.write.mode("overwrite").saveAsTable(name)
