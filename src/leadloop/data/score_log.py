"""The score log: every score served, kept in the feedback store beside the CRM events.

One row per (lead, model version, scoring batch): writing the same batch again writes nothing
new (insert-or-ignore on that key, on SQLite and PostgreSQL), so a retried batch or two workers
logging one request cannot double a lead. Under a work-allocation policy a row carries the
lead's priority, whether it was an exploration pick, and its propensity (``leadloop.policy``),
which retraining and evaluation use to undo the loop's influence on which outcomes it sees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from leadloop.columns import LEAD_ID
from leadloop.data.store import SCORES, FeedbackStore, _first_line
from leadloop.errors import ConfigError, StoreError

LOG_COLUMNS = (
    LEAD_ID,
    "model_version",
    "batch_id",
    "probability",
    "priority",
    "explored",
    "propensity",
    "scored_at",
)
KEY = (LEAD_ID, "model_version", "batch_id")
# Columns that repeat a few values over a batch (one time, two flags): bound once per value.
FEW_VALUES = frozenset({"explored", "scored_at"})
CHUNK_ROWS = 5000  # rows per executemany: one round trip per chunk, one transaction in all


def log_scores(
    store: FeedbackStore,
    records: Iterable[Mapping[str, Any]],
    *,
    batch_id: str,
    chunk_rows: int = CHUNK_ROWS,
) -> int:
    """Log score records (``lead_id``, ``probability``, ``model_version``, ``scored_at`` and,
    under a policy, ``priority``, ``explored``, ``propensity``) as one batch, in one
    transaction; returns how many rows were new (a row already logged is left as it was).
    ``records`` is consumed ``chunk_rows`` at a time, so a generator keeps memory flat."""
    return _insert(store, _chunks((_row(record, batch_id) for record in records), chunk_rows))


def log_score_batches(
    store: FeedbackStore, batches: Iterable[tuple[Iterable[Mapping[str, Any]], str]]
) -> int:
    """``log_scores`` for several batches, each given as (records, batch id), in one
    transaction: all are logged or none. Returns how many rows were new in all. The service
    commits the batches of concurrent requests together this way (``serve.score_writer``)."""
    rows = (_row(record, batch_id) for records, batch_id in batches for record in records)
    return _insert(store, _chunks(rows, CHUNK_ROWS))


def log_score_table(
    store: FeedbackStore, table: pa.Table, *, batch_id: str, chunk_rows: int = CHUNK_ROWS
) -> int:
    """``log_scores`` for a table of score records (batch scoring's path): a column at a time,
    never a dictionary per row. A column the table lacks (the policy's) is logged as missing."""

    def columns(part: pa.Table) -> list[Sequence[Any]]:
        return [_column(part, name, batch_id) for name in LOG_COLUMNS]

    starts = range(0, table.num_rows, chunk_rows)
    return _insert(store, (columns(table.slice(start, chunk_rows)) for start in starts))


def _chunks(rows: Iterator[tuple[Any, ...]], chunk_rows: int) -> Iterator[list[tuple[Any, ...]]]:
    """Rows of the log, ``chunk_rows`` at a time, each chunk as its columns."""
    while chunk := list(islice(rows, chunk_rows)):
        yield list(zip(*chunk, strict=True))


def _column(part: pa.Table, name: str, batch_id: str) -> list[Any]:
    """Column ``name`` of the log for these score records, as the store keeps it: text ids
    and versions, times naive UTC, missing where the records lack the column."""
    if name == "batch_id":
        return [batch_id] * part.num_rows
    if name not in part.column_names:
        return [None] * part.num_rows
    column = part[name]
    if name == "scored_at":
        if pa.types.is_timestamp(column.type) and column.type.tz is not None:
            column = column.cast(pa.timestamp(column.type.unit))  # the same instants, naive
        if column.null_count:
            column = column.fill_null(_naive_utc(None))
    elif name in (LEAD_ID, "model_version"):
        column = column.cast(pa.string())
    return list(column.to_pylist())


def _insert(store: FeedbackStore, chunks: Iterable[Sequence[Sequence[Any]]]) -> int:
    """Insert chunks of rows, each given as its columns in ``LOG_COLUMNS`` order, ignoring
    repeats, in one transaction; the number new. The driver's own executemany, with values
    bound by the column types' processors on this dialect (the forms SQLAlchemy reads back):
    several times faster than a Core insert, which builds a parameter dictionary per row."""
    try:
        with store.engine.begin() as conn:
            insert = _statement(conn.dialect)
            new = 0
            for columns in chunks:
                bound = [
                    _bound(columns[LOG_COLUMNS.index(name)], bind, few=name in FEW_VALUES)
                    for name, bind in zip(insert.order, insert.binders, strict=True)
                ]
                params: list[Any] = list(zip(*bound, strict=True))
                if not insert.positional:
                    params = [dict(zip(insert.order, values, strict=True)) for values in params]
                new += max(conn.exec_driver_sql(insert.sql, params).rowcount, 0)
    except SQLAlchemyError as err:
        raise StoreError(f"score log in {store.safe_url}: {_first_line(err)}") from err
    return new


@dataclass(frozen=True)
class _Insert:
    """The insert-or-ignore as the driver takes it: its SQL, its parameters' order and form,
    and how each parameter is bound."""

    sql: str
    order: tuple[str, ...]
    positional: bool
    binders: tuple[Callable[[Any], Any] | None, ...]


_STATEMENTS: dict[tuple[str, str], _Insert] = {}


def _statement(dialect: sa.Dialect) -> _Insert:
    """The insert for ``dialect``, compiled once per process (the API logs every request)."""
    key = (dialect.name, str(dialect.paramstyle))
    if key not in _STATEMENTS:
        compiled = _insert_ignoring_repeats(dialect.name).compile(
            dialect=dialect, column_keys=list(LOG_COLUMNS)
        )
        order = tuple(compiled.positiontup or LOG_COLUMNS)
        binders = tuple(_binder(dialect, name) for name in order)
        _STATEMENTS[key] = _Insert(str(compiled), order, bool(compiled.positional), binders)
    return _STATEMENTS[key]


def _binder(dialect: sa.Dialect, name: str) -> Callable[[Any], Any] | None:
    """How a value of column ``name`` is bound on ``dialect``; None: as it is."""
    process = SCORES.c[name].type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return None
    return lambda value: None if value is None else process(value)


def _bound(values: Sequence[Any], bind: Callable[[Any], Any] | None, *, few: bool) -> Sequence[Any]:
    """``values`` bound; with ``few`` distinct values, each one bound once."""
    if bind is None:
        return values
    if not few:
        return [bind(v) for v in values]
    done: dict[Any, Any] = {}
    return [done[v] if v in done else done.setdefault(v, bind(v)) for v in values]


def read_score_log(store: FeedbackStore, *, model_version: str | None = None) -> pd.DataFrame:
    """The logged scores (of one model version, or all), oldest first."""
    query = sa.select(*(SCORES.c[c] for c in LOG_COLUMNS)).order_by(
        SCORES.c.scored_at, SCORES.c.batch_id, SCORES.c.lead_id
    )
    if model_version is not None:
        query = query.where(SCORES.c.model_version == model_version)
    try:
        with store.engine.connect() as conn:
            rows = [tuple(row) for row in conn.execute(query)]
    except SQLAlchemyError as err:
        raise StoreError(f"score log in {store.safe_url}: {_first_line(err)}") from err
    frame = pd.DataFrame(rows, columns=list(LOG_COLUMNS))
    frame["scored_at"] = pd.to_datetime(frame["scored_at"])
    return frame


def first_propensities(log: pd.DataFrame) -> pd.Series:
    """Each lead's propensity from the first batch that scored it under a policy: the draw that
    decided whether sales worked it. Indexed by ``lead_id``; leads never scored under a policy
    are absent."""
    known = log.dropna(subset=["propensity"])
    first = known.sort_values(["scored_at", "batch_id"], kind="stable").drop_duplicates(LEAD_ID)
    return first.set_index(LEAD_ID)["propensity"].astype(float)


def _row(record: Mapping[str, Any], batch_id: str) -> tuple[Any, ...]:
    """A record as a row in ``LOG_COLUMNS`` order."""
    return (
        str(record[LEAD_ID]),
        str(record["model_version"]),
        batch_id,
        float(record["probability"]),
        _maybe(record.get("priority"), int),
        _maybe(record.get("explored"), bool),
        _maybe(record.get("propensity"), float),
        _naive_utc(record.get("scored_at")),
    )


def _maybe(value: Any, kind: type) -> Any:
    return None if value is None or pd.isna(value) else kind(value)


def _naive_utc(stamp: Any) -> datetime:
    """A score time as naive UTC (how the store keeps every time); now when not given."""
    if stamp is None:
        return datetime.now(UTC).replace(tzinfo=None)
    if isinstance(stamp, str):  # the service's ISO times: read without pandas (per row)
        with suppress(ValueError):  # anything else is pandas' to read, or to refuse
            stamp = datetime.fromisoformat(stamp)
    if isinstance(stamp, datetime) and not isinstance(stamp, pd.Timestamp):
        return stamp if stamp.tzinfo is None else stamp.astimezone(UTC).replace(tzinfo=None)
    moment = pd.Timestamp(stamp)
    if moment.tzinfo is not None:
        moment = moment.tz_convert("UTC").tz_localize(None)
    return moment.to_pydatetime()


def _insert_ignoring_repeats(name: str) -> Any:
    if name == "postgresql":
        return postgresql.insert(SCORES).on_conflict_do_nothing(index_elements=list(KEY))
    if name == "sqlite":
        return sqlite.insert(SCORES).on_conflict_do_nothing(index_elements=list(KEY))
    raise ConfigError(f"the feedback store supports SQLite and PostgreSQL, not {name}")


def stored_propensities(url: str) -> pd.Series:
    """Each lead's first logged propensity in the store at ``url``; empty when the store or its
    score log does not exist yet (a SQLite file is never created just to look)."""
    parsed = sa.make_url(url)
    database = parsed.database
    if parsed.get_backend_name() == "sqlite" and (not database or not Path(database).is_file()):
        return pd.Series(dtype="float64")
    store = FeedbackStore(url)
    try:
        if not sa.inspect(store.engine).has_table(SCORES.name):
            return pd.Series(dtype="float64")
        return first_propensities(read_score_log(store))
    except SQLAlchemyError as err:
        raise StoreError(f"score log in {store.safe_url}: {_first_line(err)}") from err
    finally:
        store.dispose()
