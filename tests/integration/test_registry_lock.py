"""The registry lock: a file lock beside SQLite, an advisory lock on PostgreSQL; the one that
waits says so, the one that gives up says why, and a dead holder never blocks anyone."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from leadloop.errors import RegistryBusyError
from leadloop.locking import WAIT_NOTICE_SECONDS, lock_file, lock_kind, registry_lock
from tests.integration.conftest import fresh_postgres


def _contend(uri: str) -> tuple[list[str], str]:
    """Hold the lock, try it again from a second session, and return what the waiter said."""
    said: list[str] = []
    with (
        registry_lock(uri, name="lead-scorer", timeout=5),
        pytest.raises(RegistryBusyError) as gave_up,
        registry_lock(
            uri, name="lead-scorer", timeout=WAIT_NOTICE_SECONDS + 0.5, on_wait=said.append
        ),
    ):
        pytest.fail("a second holder got the lock")
    with registry_lock(uri, name="lead-scorer", timeout=1):  # free again once released
        pass
    return said, str(gave_up.value)


def test_file_lock_beside_sqlite(tmp_path: Path) -> None:
    """It locks a file beside the SQLite store; the waiter says it waits, then gives up."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert lock_kind(uri) == "file" and lock_file(uri) == tmp_path / "mlflow.db.lock"
    said, gave_up = _contend(uri)
    assert len(said) == 1 and said[0].startswith("waiting for the registry lock")
    assert "held by pid" in said[0]
    assert gave_up.startswith("gave up waiting for the registry lock")
    assert "nothing moved" in gave_up


def test_postgresql_advisory_lock() -> None:
    """It takes a PostgreSQL advisory lock; the waiter says it waits, then gives up."""
    with fresh_postgres("leadloop_lock") as uri:
        assert lock_kind(uri) == "postgresql"
        said, gave_up = _contend(uri)
    assert len(said) == 1 and "PostgreSQL advisory lock" in said[0]
    assert gave_up.startswith("gave up waiting") and "tracking.lock_timeout" in gave_up


def test_a_killed_holder_releases_the_file_lock(tmp_path: Path) -> None:
    """It frees the lock when the process holding it is killed with SIGKILL."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code = (
        "import sys, time\n"
        "from leadloop.locking import registry_lock\n"
        f"with registry_lock({uri!r}, name='lead-scorer', timeout=5):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(600)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(RegistryBusyError), registry_lock(uri, name="lead-scorer", timeout=0.3):
            pass
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        start = time.monotonic()
        with registry_lock(uri, name="lead-scorer", timeout=5):
            assert time.monotonic() - start < 1
    finally:
        holder.kill()
        holder.wait(timeout=30)
        if holder.stdout is not None:
            holder.stdout.close()
