"""A PostgreSQL database of the benchmark's own: created for a run, dropped after it.

The benchmark never touches a table of a database others use (the tests' ``test`` database,
say): it connects to the server named by ``--pg-url`` only to create and drop its own database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from uuid import uuid4

import sqlalchemy as sa


class Unavailable(Exception):
    """PostgreSQL cannot be used here; the message says why."""


@contextmanager
def own_database(server_url: str) -> Iterator[str]:
    """The URL of a new database on ``server_url``'s server, dropped on exit (even in use)."""
    name = f"leadloop_bench_{uuid4().hex[:10]}"
    try:
        admin = sa.create_engine(
            server_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except (ImportError, sa.exc.SQLAlchemyError) as err:
        text = str(err).strip().splitlines()
        raise Unavailable(f"{type(err).__name__}: {text[0] if text else ''}") from err
    try:
        yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
