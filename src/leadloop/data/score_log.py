"""The score log: every score served, kept in the feedback store beside the CRM events.

One row per (lead, model version, scoring batch): writing the same batch again writes nothing
new (insert-or-ignore on that key, on SQLite and PostgreSQL), so a retried batch or two workers
logging one request cannot double a lead. Under a work-allocation policy a row carries the
lead's priority, whether it was an exploration pick, and its propensity (``leadloop.policy``),
which retraining and evaluation use to undo the loop's influence on which outcomes it sees.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import pandas as pd
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
    rows = (_row(record, batch_id) for record in records)
    statement = _insert_ignoring_repeats(store).returning(SCORES.c.lead_id)
    new = 0
    try:
        with store.engine.begin() as conn:
            while chunk := list(islice(rows, chunk_rows)):
                new += len(conn.execute(statement, chunk).all())
    except SQLAlchemyError as err:
        raise StoreError(f"score log in {store.safe_url}: {_first_line(err)}") from err
    return new


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


def _row(record: Mapping[str, Any], batch_id: str) -> dict[str, Any]:
    stamp = record.get("scored_at")
    return {
        LEAD_ID: str(record[LEAD_ID]),
        "model_version": str(record["model_version"]),
        "batch_id": batch_id,
        "probability": float(record["probability"]),
        "priority": _maybe(record.get("priority"), int),
        "explored": _maybe(record.get("explored"), bool),
        "propensity": _maybe(record.get("propensity"), float),
        "scored_at": _naive_utc(stamp),
    }


def _maybe(value: Any, kind: type) -> Any:
    return None if value is None or pd.isna(value) else kind(value)


def _naive_utc(stamp: Any) -> datetime:
    """A score time as naive UTC (how the store keeps every time); now when not given."""
    if stamp is None:
        return datetime.now(UTC).replace(tzinfo=None)
    moment = pd.Timestamp(stamp)
    if moment.tzinfo is not None:
        moment = moment.tz_convert("UTC").tz_localize(None)
    return moment.to_pydatetime()


def _insert_ignoring_repeats(store: FeedbackStore) -> Any:
    name = store.engine.dialect.name
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
