"""One lock per model registry, so concurrent runs and people move the champion one at a time.

The lock is held only around the read-compare-move of an alias and its tag writes (milliseconds),
never while a run trains. On PostgreSQL it is a session advisory lock in the tracking database;
beside a SQLite (or file) store it is an ``fcntl`` lock on a file next to the store. Both are
released by the operating system or the database when the holding process dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from leadloop.errors import RegistryBusyError

log = logging.getLogger(__name__)
# The locked section takes milliseconds; two seconds of waiting means another process holds it.
WAIT_NOTICE_SECONDS = 2.0
POLL_SECONDS = 0.05
Waiting = Callable[[str], None]


def lock_kind(uri: str) -> str:
    """Which lock guards a registry at ``uri``: 'postgresql', 'file' or 'none'."""
    if uri.startswith(("postgresql:", "postgresql+", "postgres:")):
        return "postgresql"
    if uri.startswith(("sqlite:///", "file:")) or "://" not in uri:
        return "file"
    return "none"


def lock_file(uri: str) -> Path:
    """The lock file beside a SQLite store (``<db>.lock``) or inside a file store."""
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///") :] + ".lock")
    path = Path(uri[len("file://") :] if uri.startswith("file://") else uri.removeprefix("file:"))
    return path / ".leadloop-registry.lock"


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory lock of one registered model."""
    digest = hashlib.sha256(f"leadloop registry {name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def registry_lock(
    uri: str, *, name: str, timeout: float, on_wait: Waiting | None = None
) -> Iterator[None]:
    """Hold the registry's lock for the block; raise ``RegistryBusyError`` after ``timeout`` s."""
    kind = lock_kind(uri)
    notice = on_wait or log.warning
    if kind == "postgresql":
        with _advisory_lock(uri, key=advisory_key(name), timeout=timeout, on_wait=notice):
            yield
    elif kind == "file":
        with _file_lock(lock_file(uri), timeout=timeout, on_wait=notice):
            yield
    else:
        log.warning(
            "no registry lock for %s: set tracking.lock_url to the PostgreSQL database behind it "
            "so concurrent runs cannot both move the champion",
            uri.split("@")[-1],
        )
        yield


@contextmanager
def _file_lock(path: Path, *, timeout: float, on_wait: Waiting) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # beside the store: owner only
    try:
        _wait(
            lambda: _try_flock(fd),
            what=f"the registry lock {path}",
            holder=lambda: _holder(path),
            timeout=timeout,
            on_wait=on_wait,
        )
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""
    return f" (held by {text})" if text else ""


@contextmanager
def _advisory_lock(uri: str, *, key: int, timeout: float, on_wait: Waiting) -> Iterator[None]:
    engine = sa.create_engine(uri, poolclass=NullPool)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            _wait(
                lambda: bool(
                    conn.execute(sa.text("select pg_try_advisory_lock(:k)"), {"k": key}).scalar()
                ),
                what=f"the registry lock (PostgreSQL advisory lock {key})",
                holder=lambda: "",
                timeout=timeout,
                on_wait=on_wait,
            )
            try:
                yield
            finally:
                conn.execute(sa.text("select pg_advisory_unlock(:k)"), {"k": key})
    finally:
        engine.dispose()


def _wait(
    attempt: Callable[[], bool],
    *,
    what: str,
    holder: Callable[[], str],
    timeout: float,
    on_wait: Waiting,
) -> None:
    """Retry ``attempt`` until it succeeds; say so once after a short wait; give up at timeout."""
    start = time.monotonic()
    told = False
    while not attempt():
        waited = time.monotonic() - start
        if waited >= timeout:
            raise RegistryBusyError(
                f"gave up waiting for {what} after {timeout:g} s{holder()}: another leadloop "
                "process is moving the champion; nothing moved, rerun (tracking.lock_timeout "
                "sets the wait)"
            )
        if not told and waited >= WAIT_NOTICE_SECONDS:
            on_wait(
                f"waiting for {what}{holder()}: another leadloop process is moving the champion"
            )
            told = True
        time.sleep(POLL_SECONDS)
