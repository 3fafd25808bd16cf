"""The staging area of publishing: journals of live runs left alone, of dead ones handed over;
``reports/latest`` switched whole; disk faults recognised in any error chain."""

from __future__ import annotations

import errno
import multiprocessing
import os
import signal
import sqlite3
from pathlib import Path

import pytest

from leadloop.data import staging
from leadloop.errors import ConfigError, StorageError


def _hold(reports: str, run: str, ready: multiprocessing.synchronize.Event) -> None:
    staging.begin(Path(reports), run)
    ready.set()
    signal.pause()


def test_a_live_run_is_left_alone_and_a_dead_one_handed_over(tmp_path: Path) -> None:
    """It yields the journal of a run whose process died, and skips one whose process lives."""
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    live = context.Process(target=_hold, args=(str(tmp_path), "20260101T000000-aaaaaa", ready))
    live.start()
    try:
        assert ready.wait(30)
        dead = staging.begin(tmp_path, "20260101T000001-bbbbbb")
        dead.note(state="logged", versions={"challenger": "7"})
        dead.release()  # what a SIGKILL does to the lock
        (found,) = list(staging.leftovers(tmp_path))
        assert found.run == "20260101T000001-bbbbbb" and found.facts["versions"] == {
            "challenger": "7"
        }
        found.close()
        assert not (tmp_path / ".staging" / "20260101T000001-bbbbbb.json").exists()
        assert (tmp_path / ".staging" / "20260101T000000-aaaaaa.json").exists()
    finally:
        os.kill(live.pid or 0, signal.SIGKILL)
        live.join()
    (found,) = list(staging.leftovers(tmp_path))  # now that one is dead too
    assert found.run == "20260101T000000-aaaaaa"
    found.close()


def test_orphan_staging_folders_are_removed(tmp_path: Path) -> None:
    """It removes staged folders no journal owns and no live process holds."""
    area = tmp_path / ".staging"
    (area / "20260101T000000-cccccc.latest").mkdir(parents=True)
    (area / "20260101T000000-cccccc" / "x").mkdir(parents=True)
    assert list(staging.leftovers(tmp_path)) == []
    assert list(area.iterdir()) == []


def test_latest_is_switched_whole(tmp_path: Path) -> None:
    """It replaces reports/latest with a copy of the run's folder and leaves no scratch."""
    run = tmp_path / "run2"
    run.mkdir()
    (run / "run.json").write_text('{"run": "run2"}')
    latest = tmp_path / "latest"
    latest.mkdir()
    (latest / "run.json").write_text('{"run": "run1"}')
    (latest / "old-only.txt").write_text("x")
    scratch = tmp_path / ".staging" / "run2.latest"
    scratch.parent.mkdir()
    staging.switch(run, latest, scratch=scratch)
    assert sorted(p.name for p in latest.iterdir()) == ["run.json"]
    assert (latest / "run.json").read_text() == '{"run": "run2"}'
    assert not scratch.exists() and not scratch.with_name("run2.latest.old").exists()


def test_disk_faults_are_recognised_through_the_chain() -> None:
    """It names a full disk from an OSError, from SQLite's words, and through causes."""
    assert staging.storage_fault(OSError(errno.ENOSPC, "full")) == "no space left on the device"
    wrapped = RuntimeError("mlflow failed")
    wrapped.__cause__ = sqlite3.OperationalError("database or disk is full")
    assert staging.storage_fault(wrapped) == "no space left on the device"
    assert staging.storage_fault(OSError(errno.EROFS, "ro")) == "read-only file system"
    assert staging.storage_fault(ValueError("bad value")) is None


def test_a_directory_that_cannot_be_used_is_refused(tmp_path: Path) -> None:
    """It refuses a file where a directory is wanted, and probes without leaving anything."""
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a directory"):
        staging.writable_dir(tmp_path / "file", what="reports_dir")
    with pytest.raises(ConfigError, match="file is a file"):
        staging.writable_dir(tmp_path / "file" / "below", what="reports_dir")
    staging.writable_dir(tmp_path / "new" / "reports", what="reports_dir")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_a_read_only_directory_is_a_storage_error(tmp_path: Path) -> None:
    """It reports a directory it cannot write into as a storage fault, naming it."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root writes anyway: nothing to prove here
            pytest.skip("running as root: a 0500 directory is still writable")
        with pytest.raises(StorageError, match="locked cannot be written: permission denied"):
            staging.writable_dir(locked, what="reports_dir")
    finally:
        locked.chmod(0o700)
