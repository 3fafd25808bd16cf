"""The feedback store: CRM outcome events kept in a SQL database through SQLAlchemy.

A SQLite file by default, PostgreSQL (or any database SQLAlchemy speaks) when the URL says so.
Events are keyed by ``event_id``: storing an event twice stores it once, so a CRM may retry a
delivery as often as it likes. ``leadloop run`` reads the stored events as its outcomes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from leadloop.columns import AMOUNT, EVENT_ID, LEAD_ID, OCCURRED_AT, OUTCOME
from leadloop.errors import ConfigError, StoreError

log = logging.getLogger(__name__)
METADATA = sa.MetaData()
EVENTS = sa.Table(
    "feedback_events",
    METADATA,
    sa.Column(EVENT_ID, sa.String(200), primary_key=True),
    sa.Column(LEAD_ID, sa.String(200), nullable=False, index=True),
    sa.Column(OUTCOME, sa.String(100), nullable=False),
    sa.Column(OCCURRED_AT, sa.DateTime(), nullable=False),
    sa.Column(AMOUNT, sa.Float(), nullable=True),
    sa.Column("received_at", sa.DateTime(), nullable=False),
)
COLUMNS = (EVENT_ID, LEAD_ID, OUTCOME, OCCURRED_AT, AMOUNT)


@dataclass(frozen=True)
class Stored:
    """What one ``add`` did: events newly stored, and events already there (retries)."""

    stored: list[str]
    duplicates: list[str]


class FeedbackStore:
    """CRM outcome events in a SQL table, idempotent by ``event_id``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _engine(url)

    def create(self) -> FeedbackStore:
        """Create the table if it is not there yet."""
        try:
            METADATA.create_all(self.engine)
        except SQLAlchemyError as err:
            raise StoreError(f"feedback store {self.safe_url}: {_first_line(err)}") from err
        return self

    @property
    def safe_url(self) -> str:
        """The URL without its password, for messages and run records."""
        return safe_url(self.url)

    def add(self, events: Sequence[dict[str, Any]]) -> Stored:
        """Store events not stored before; one transaction, so a batch lands whole or not at all."""
        unique = list({e[EVENT_ID]: e for e in events}.values())
        if not unique:
            return Stored([], [])
        now = datetime.now(UTC).replace(tzinfo=None)
        rows = [{**{c: e.get(c) for c in COLUMNS}, "received_at": now} for e in unique]
        statement = _insert_ignoring_duplicates(self.engine).values(rows)
        try:
            with self.engine.begin() as conn:
                new = set(conn.execute(statement.returning(EVENTS.c.event_id)).scalars())
        except SQLAlchemyError as err:
            raise StoreError(f"feedback store {self.safe_url}: {_first_line(err)}") from err
        # An id repeated inside one batch is stored once; its later copies are duplicates.
        stored: list[str] = []
        duplicates: list[str] = []
        for event in events:
            eid = event[EVENT_ID]
            fresh = eid in new
            new.discard(eid)
            (stored if fresh else duplicates).append(eid)
        return Stored(stored, duplicates)

    def count(self) -> int:
        """How many events are stored."""
        try:
            with self.engine.connect() as conn:
                found = conn.execute(sa.select(sa.func.count()).select_from(EVENTS)).scalar()
                return int(found or 0)
        except SQLAlchemyError as err:
            raise StoreError(f"feedback store {self.safe_url}: {_first_line(err)}") from err

    def outcomes(self) -> pd.DataFrame:
        """Every stored event, oldest first, as an outcomes table (the CRM export's columns)."""
        query = sa.select(*(EVENTS.c[c] for c in COLUMNS)).order_by(
            EVENTS.c.occurred_at, EVENTS.c.event_id
        )
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
        except SQLAlchemyError as err:
            raise StoreError(f"feedback store {self.safe_url}: {_first_line(err)}") from err
        frame = pd.DataFrame([tuple(r) for r in rows], columns=list(COLUMNS))
        frame[OCCURRED_AT] = pd.to_datetime(frame[OCCURRED_AT])
        return frame

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()


def safe_url(url: str) -> str:
    """A database URL without its password."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(invalid URL)"


def _engine(url: str) -> Engine:
    try:
        parsed = sa.make_url(url)
    except ArgumentError as err:
        raise ConfigError(f"serve.store_url '{url}' is not a database URL") from err
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = sa.create_engine(parsed, pool_pre_ping=True)
    except (NoSuchModuleError, ImportError) as err:
        raise ConfigError(
            f"serve.store_url '{parsed.render_as_string(hide_password=True)}': no driver for "
            f"it is installed ({_first_line(err)}); for PostgreSQL install leadloop[postgres]"
        ) from err
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """Several service workers write at once: WAL and a busy timeout instead of 'locked'.

    ``synchronous=FULL`` syncs the log at every commit, so an acknowledged delivery survives a
    power cut too, not only a killed process (WAL's usual NORMAL may lose the last commits).
    """
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _insert_ignoring_duplicates(engine: Engine) -> Any:
    if engine.dialect.name == "postgresql":
        return postgresql.insert(EVENTS).on_conflict_do_nothing(index_elements=[EVENT_ID])
    if engine.dialect.name == "sqlite":
        return sqlite.insert(EVENTS).on_conflict_do_nothing(index_elements=[EVENT_ID])
    raise ConfigError(
        f"the feedback store supports SQLite and PostgreSQL, not {engine.dialect.name}"
    )


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
