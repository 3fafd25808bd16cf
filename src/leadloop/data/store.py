"""The feedback store: CRM outcome events kept in a SQL database through SQLAlchemy.

A SQLite file by default (created readable by its owner only), PostgreSQL when the URL says so.
Events are keyed by ``event_id``: storing the same event twice stores it once, so a CRM may
retry a delivery as often as it likes; an id that comes back with other content is a conflict,
reported and not stored (the first content stays). ``leadloop run`` reads the stored events as
its outcomes. Events are checked (``data/events.py``) before they are added.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
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
# The score log: every score served, with the work-allocation policy's draw (data/score_log.py).
# The key's first column, lead_id, serves look-ups by lead: no second index to keep up on bulk
# writes (stores created before keep theirs; nothing reads it differently).
SCORES = sa.Table(
    "score_log",
    METADATA,
    sa.Column(LEAD_ID, sa.String(200), nullable=False),
    sa.Column("model_version", sa.String(50), nullable=False),
    sa.Column("batch_id", sa.String(200), nullable=False),
    sa.Column("probability", sa.Float(), nullable=False),
    sa.Column("priority", sa.Integer(), nullable=True),
    sa.Column("explored", sa.Boolean(), nullable=True),
    sa.Column("propensity", sa.Float(), nullable=True),
    sa.Column("scored_at", sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint(LEAD_ID, "model_version", "batch_id", name="score_log_key"),
)
COLUMNS = (EVENT_ID, LEAD_ID, OUTCOME, OCCURRED_AT, AMOUNT)
CONTENT = (LEAD_ID, OUTCOME, OCCURRED_AT, AMOUNT)  # what a repeated id must repeat
# user:password@ after a scheme; greedy up to the last @ of the word (a password may hold @).
_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^:/?#@\s'\"]*:)[^\s'\"/]*@", re.I)


@dataclass(frozen=True)
class Conflict:
    """An event whose id was stored (or came earlier in the batch) with other content."""

    position: int  # in the list given to ``add``
    event_id: str
    fields: list[str]  # the fields whose values differ from the stored ones

    def message(self) -> str:
        return (
            f"event_id: stored before with another {' and '.join(self.fields)}; the stored event "
            "stays as it was: send a correction as an event of its own id"
        )


@dataclass(frozen=True)
class Stored:
    """What one ``add`` did: events newly stored, events already there exactly so (retries),
    and events whose id was taken by other content (not stored)."""

    stored: list[str]
    duplicates: list[str]
    conflicts: list[Conflict] = field(default_factory=list)


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
        """Store events not stored before; one transaction, so a batch lands whole or not at all.

        A repeated id is a duplicate when its content is the stored one (or its batch's first
        copy), else a conflict; either way nothing is written for it.
        """
        first: dict[str, int] = {}
        for position, event in enumerate(events):
            first.setdefault(event[EVENT_ID], position)
        if not first:
            return Stored([], [])
        now = datetime.now(UTC).replace(tzinfo=None)
        rows = [
            {**{c: events[p].get(c) for c in COLUMNS}, "received_at": now} for p in first.values()
        ]
        statement = _insert_ignoring_duplicates(self.engine).values(rows)
        try:
            with self.engine.begin() as conn:
                new = set(conn.execute(statement.returning(EVENTS.c.event_id)).scalars())
                older = [eid for eid in first if eid not in new]
                stored_before = {r[EVENT_ID]: r for r in self._select(conn, older)} if older else {}
        except SQLAlchemyError as err:
            raise StoreError(f"feedback store {self.safe_url}: {_first_line(err)}") from err
        return _classify(events, first, new, stored_before)

    def count(self) -> int:
        """How many events are stored."""
        try:
            with self.engine.connect() as conn:
                found = conn.execute(sa.select(sa.func.count()).select_from(EVENTS)).scalar()
                return int(found or 0)
        except SQLAlchemyError as err:
            raise StoreError(f"feedback store {self.safe_url}: {_first_line(err)}") from err

    def rows(self) -> list[dict[str, Any]]:
        """Every stored event, oldest first, as stored; an ``occurred_at`` that is no readable
        time (a row written by hand, a year PostgreSQL calls BC) is None."""
        try:
            with self.engine.connect() as conn:
                return self._select(conn, None)
        except SQLAlchemyError as err:
            raise StoreError(f"feedback store {self.safe_url}: {_first_line(err)}") from err

    def outcomes(self) -> pd.DataFrame:
        """Every stored event as an outcomes table (the CRM export's columns); times that
        pandas cannot hold are NaT."""
        frame = pd.DataFrame(self.rows(), columns=list(COLUMNS))
        frame[OCCURRED_AT] = pd.to_datetime(frame[OCCURRED_AT], errors="coerce")
        return frame

    def _select(self, conn: sa.Connection, ids: list[str] | None) -> list[dict[str, Any]]:
        """Stored rows (all, or those of ``ids``), times read from their text so that no stored
        value can make the read itself fail."""
        stamp = sa.cast(EVENTS.c.occurred_at, sa.String).label(OCCURRED_AT)
        columns = [EVENTS.c[c] if c != OCCURRED_AT else stamp for c in COLUMNS]
        query = sa.select(*columns).order_by(EVENTS.c.occurred_at, EVENTS.c.event_id)
        if ids is not None:
            query = query.where(EVENTS.c.event_id.in_(ids))
        at = COLUMNS.index(OCCURRED_AT)
        rows = [tuple(row) for row in conn.execute(query)]
        return [
            dict(zip(COLUMNS, (*r[:at], _read_time(r[at]), *r[at + 1 :]), strict=True))
            for r in rows
        ]

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()


def safe_url(url: str) -> str:
    """A database URL without its password."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # not a URL; a port that is not a number
        masked = redact(url)
        return masked if masked != url or "@" not in url else "***@" + url.rsplit("@", 1)[1]


def redact(text: str) -> str:
    """``text`` with the password of every URL in it masked (``scheme://user:***@host``)."""
    return _PASSWORD.sub(lambda m: m.group("head") + "***@", text)


def _classify(
    events: Sequence[dict[str, Any]],
    first: dict[str, int],
    new: set[str],
    stored_before: dict[str, dict[str, Any]],
) -> Stored:
    """Each event's fate, in the order given: stored, duplicate, or conflict."""
    stored: list[str] = []
    duplicates: list[str] = []
    conflicts: list[Conflict] = []
    for position, event in enumerate(events):
        eid = event[EVENT_ID]
        if eid in new and first[eid] == position:
            stored.append(eid)
            continue
        reference = events[first[eid]] if eid in new else stored_before.get(eid, event)
        differ = [c for c in CONTENT if not _same(event.get(c), reference.get(c))]
        if differ:
            conflicts.append(Conflict(position, eid, differ))
        else:
            duplicates.append(eid)
    return Stored(stored, duplicates, conflicts)


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, datetime) and isinstance(right, datetime):
        return left.replace(tzinfo=None) == right.replace(tzinfo=None)
    return bool(left == right)


def _read_time(text: str | None) -> datetime | None:
    """A stored time as a naive datetime; None when the text is no ISO time Python can hold."""
    try:
        return None if text is None else datetime.fromisoformat(str(text))
    except ValueError:
        return None


def _engine(url: str) -> Engine:
    try:
        parsed = sa.make_url(url)
    except (ArgumentError, ValueError) as err:
        raise ConfigError(f"serve.store_url '{safe_url(url)}' is not a database URL") from err
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        _private_file(Path(parsed.database))
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


def _private_file(path: Path) -> None:
    """Create the SQLite file (and its directory) readable and writable by its owner only;
    SQLite gives its -wal and -shm files the database file's permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


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
    text = str(err).strip()
    return redact(text.splitlines()[0]) if text else type(err).__name__
