"""The files of a run being published: a staging area under the reports directory, a journal
of what the run has done so far, and the atomic moves that put its reports into place.

``reports/.staging/`` holds, per run being published, its staged folder, a journal
(``<run>.json``) and a lock file (``<run>.lock``) the publishing process holds for as long as
it lives. A journal whose lock nobody holds belongs to a process that died: the next run
finds it with ``leftovers`` and finishes or undoes that publishing (``pipeline/recovery.py``).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leadloop.errors import ConfigError, StorageError

STAGING = ".staging"
_RENAME_EXCHANGE = 2  # renameat2 flag: swap two paths atomically (Linux 3.15+)
_AT_FDCWD = -100
DISK_ERRNOS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}
DATABASE_FAULTS = {  # the same faults in words (SQLite's, via MLflow; Arrow's)
    "database or disk is full": "no space left on the device",
    "no space left on device": "no space left on the device",
    "read-only file system": "read-only file system",
    "disk quota exceeded": "disk quota exceeded",
    "attempt to write a readonly database": "read-only database",
    "unable to open database file": "the database file cannot be opened",
    "disk i/o error": "disk I/O error",
}


def storage_fault(err: BaseException) -> str | None:
    """What a failed write says about the disk (full, read-only, no permission), or None
    when the failure is not the storage's; follows the chain of causes."""
    seen: BaseException | None = err
    for _ in range(10):
        if seen is None:
            return None
        if isinstance(seen, OSError) and seen.errno in DISK_ERRNOS:
            return DISK_ERRNOS[seen.errno]
        text = str(seen).lower()
        for words, reason in DATABASE_FAULTS.items():
            if words in text:
                return reason
        seen = seen.__cause__ or seen.__context__
    return None


def writable_dir(path: Path, *, what: str) -> None:
    """Make sure ``path`` is, or can be made, a directory this process can write into, by
    writing and removing a probe file in it (or in its nearest existing parent, so nothing is
    left behind): one clear error before any work."""
    existing = path
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        where = "" if existing == path else f": {existing}"
        raise ConfigError(f"{what} {path}{where} is a file, not a directory")
    try:
        fd, probe = tempfile.mkstemp(prefix=".probe-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        reason = DISK_ERRNOS.get(err.errno or 0, err.strerror or str(err))
        raise StorageError(f"{what} {path} cannot be written: {reason}") from err


@dataclass
class Journal:
    """What one publishing run has done so far, kept on disk while the run holds its lock."""

    path: Path
    lock_fd: int
    facts: dict[str, Any]

    @property
    def run(self) -> str:
        return str(self.facts["run"])

    @property
    def folder(self) -> Path:
        """The run's staged report folder."""
        return self.path.with_suffix("")

    def note(self, **facts: Any) -> None:
        """Record more of what the run did (written atomically before the run goes on)."""
        self.facts.update(facts)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps(self.facts, indent=2, default=str), encoding="utf-8")
        os.replace(tmp, self.path)

    def close(self) -> None:
        """Forget the journal: the publishing is settled, one way or the other."""
        shutil.rmtree(self.folder, ignore_errors=True)
        self.path.unlink(missing_ok=True)
        self.path.with_suffix(".lock").unlink(missing_ok=True)
        self.release()

    def release(self) -> None:
        """Let go of the lock, leaving the journal for the next run to settle."""
        if self.lock_fd >= 0:
            os.close(self.lock_fd)
            self.lock_fd = -1


def begin(reports: Path, run: str) -> Journal:
    """Open the journal and the staged folder of ``run``, holding its lock."""
    area = reports / STAGING
    area.mkdir(parents=True, exist_ok=True)
    fd = os.open(area / f"{run}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    journal = Journal(area / f"{run}.json", fd, {})
    try:
        journal.folder.mkdir(exist_ok=True)
        journal.note(run=run, pid=os.getpid(), host=socket.gethostname(), state="begun")
    except OSError:
        journal.path.with_name(f".{journal.path.name}.tmp").unlink(missing_ok=True)
        journal.close()
        raise
    return journal


def leftovers(reports: Path) -> Iterator[Journal]:
    """Journals of publishing runs whose process died, each locked while the caller settles
    it; also removes staging folders no journal owns."""
    area = reports / STAGING
    if not area.is_dir():
        return
    for path in sorted(area.glob("*.json")):
        fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)  # its process is alive and still publishing
            continue
        try:
            facts = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            facts = {"run": path.stem, "state": "begun"}
        yield Journal(path, fd, facts)
    owned = {p.stem for p in area.glob("*.json")}
    for folder in area.iterdir():
        owner = folder.name.split(".")[0]  # <run>, <run>.latest, <run>.latest.old
        if folder.is_dir() and owner not in owned and not _locked(area, owner):
            shutil.rmtree(folder, ignore_errors=True)


def _locked(area: Path, run: str) -> bool:
    """Whether a live process holds ``run``'s lock (lock files are never removed by others:
    removing one another process is about to lock would let two owners believe in it)."""
    lock = area / f"{run}.lock"
    if not lock.exists():
        return False
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def place(staged: Path, final: Path) -> None:
    """Move a fully written staged folder to its final name (one rename)."""
    os.rename(staged, final)


def switch(source: Path, target: Path, *, scratch: Path) -> None:
    """Make ``target`` a copy of the folder ``source``: the copy is written at ``scratch``,
    then swapped with ``target`` by one atomic exchange, so ``target`` is whole at every
    instant (a plain rename where it does not exist yet)."""
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(source, scratch)
    if not target.exists():
        os.rename(scratch, target)
        return
    if not _exchange(scratch, target):
        # No atomic exchange here (not Linux): the old copy steps aside for one rename.
        aside = scratch.with_name(scratch.name + ".old")
        os.rename(target, aside)
        os.rename(scratch, target)
        scratch = aside
    shutil.rmtree(scratch, ignore_errors=True)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically with Linux's renameat2; False where it is unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL):
        return False
    raise OSError(code, os.strerror(code), str(second))


def remove_dir(path: Path) -> None:
    """Remove a folder a failed run had put in place."""
    shutil.rmtree(path, ignore_errors=True)
