"""Fixtures for the serving side: a project with registered models, a real uvicorn server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import sqlalchemy as sa
import uvicorn

from leadloop.config import Settings, load_settings
from leadloop.data.store import FeedbackStore
from leadloop.pipeline import rollback, run_loop, write_synthetic
from tests.conftest import SMALL

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose registry holds v1 (the champion) and v2 (a challenger), from one run."""
    root = tmp_path_factory.mktemp("registered")
    write_synthetic(
        SMALL, leads_path=root / "data" / "leads.csv", outcomes_path=root / "data" / "outcomes.csv"
    )
    settings = settings_for(root)
    result = run_loop(settings)
    assert result.challenger_version == "2"
    if result.champion_version == "2":  # the gate promoted it: put v1 back for a fixed start
        rollback(settings, reason="fixture")
    return root


def settings_for(root: Path, **env: str) -> Settings:
    """Settings for a project directory, with ``LEADLOOP_...`` overrides given as keywords."""
    return load_settings(
        None, environ={f"LEADLOOP_{k.upper()}": v for k, v in env.items()}, base_dir=root
    )


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """Run the service under a real uvicorn server on 127.0.0.1; yields its base URL."""
    from leadloop.serve.app import create_app

    with serving_app(create_app(settings)) as url:
        yield url


@contextmanager
def serving_app(app: Any) -> Iterator[str]:
    """Run an ASGI app under a real uvicorn server on 127.0.0.1; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def postgres_url() -> str:
    """The machine's PostgreSQL test database, or skip with the reason it cannot be used."""
    try:
        engine = sa.create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as err:  # any failure to connect means: no PostgreSQL here
        pytest.skip(f"PostgreSQL is not reachable at {PG_URL}: {type(err).__name__}: {err}")
    return PG_URL


@contextmanager
def fresh_postgres(prefix: str) -> Iterator[str]:
    """A new PostgreSQL database of its own (concurrent test runs never share tables), dropped
    afterwards; skips with the reason when PostgreSQL is not reachable."""
    admin_url = postgres_url()
    name = f"{prefix}_{uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'create database "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@contextmanager
def store_database(kind: str, folder: Path, name: str) -> Iterator[str]:
    """An empty feedback store's URL: a SQLite file ``name``.db in ``folder``, or a PostgreSQL
    database of its own (``kind`` is "sqlite" or "postgresql", a fixture's param)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'{name}.db'}"
    else:
        with fresh_postgres(f"leadloop_{name}") as url:
            yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FeedbackStore]:
    """An empty feedback store in a SQLite file, or in a PostgreSQL database of its own (named
    after the test module)."""
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    with store_database(request.param, tmp_path, name) as url:
        created = FeedbackStore(url).create()
        yield created
        created.dispose()
