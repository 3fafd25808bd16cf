"""Shared fixtures: small generated data sets written to real files in temporary directories."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

# One OpenMP thread per test process before LightGBM loads: tests fit small models, and with
# several test processes (pytest-xdist) or other load on the cores, OpenMP's spinning threads
# make each boosting round orders of magnitude slower. A value set by the caller wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from typer.testing import CliRunner

from leadloop.data.synthetic import SyntheticSpec
from leadloop.pipeline import write_synthetic
from tests.forked import cli_env


@contextlib.contextmanager
def _unset(*names: str) -> Iterator[None]:
    """The environment without the variables ``names`` for a block, then as it was."""
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


# Rich fixes a console's size from COLUMNS and LINES when the console is made, and leadloop
# makes its consoles on import; pytest-xdist's workers start with COLUMNS=80 and LINES=24.
# Made without them, the consoles read the size whenever they print, so a command run by
# invoke_cli takes it from the environment it is given, as a subprocess run by run_cli does.
with _unset("COLUMNS", "LINES"):
    from leadloop.cli import app

SMALL = SyntheticSpec(n_leads=4000, months=12, seed=3)
CACHE_ENV = "XDG_CACHE_HOME"
_CACHE = pytest.StashKey[tuple[str, str | None]]()


def pytest_configure(config: pytest.Config) -> None:
    """One user cache for the session, shared by every pytest-xdist worker (they inherit the
    environment) and every command a test runs: the empty MLflow store that new stores are
    copied from is built once per session, and the user's own cache is left alone."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        cache = tempfile.mkdtemp(prefix="leadloop-test-cache-")
        config.stash[_CACHE] = (cache, os.environ.get(CACHE_ENV))
        os.environ[CACHE_ENV] = cache


def pytest_unconfigure(config: pytest.Config) -> None:
    if _CACHE in config.stash:
        cache, before = config.stash[_CACHE]
        shutil.rmtree(cache, ignore_errors=True)
        if before is None:
            os.environ.pop(CACHE_ENV, None)
        else:
            os.environ[CACHE_ENV] = before


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory holding a small synthetic lead base in data/ (the default paths)."""
    write_synthetic(
        SMALL,
        leads_path=tmp_path / "data" / "leads.csv",
        outcomes_path=tmp_path / "data" / "outcomes.csv",
    )
    return tmp_path


def run_cli(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real ``leadloop`` command in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "leadloop", *args],
        cwd=cwd,
        env=cli_env(env),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def invoke_cli(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``leadloop`` in this process, as ``run_cli`` runs it in a subprocess but without a
    process start-up and its imports: the same environment (no ``LEADLOOP_...`` but ``env``),
    working directory, exit status and separate stdout and stderr; an uncaught error leaves its
    traceback on stderr and exit status 1, as Python would."""
    overrides: dict[str, str | None] = {k: None for k in os.environ if k.startswith("LEADLOOP_")}
    overrides.update(env or {})
    with _process_state_restored(), contextlib.chdir(cwd):
        done = CliRunner().invoke(app, list(args), env=overrides, prog_name="leadloop")
    stderr = done.stderr
    if done.exception is not None and not isinstance(done.exception, SystemExit):
        stderr += "".join(traceback.format_exception(done.exception))
    return subprocess.CompletedProcess(["leadloop", *args], done.exit_code, done.stdout, stderr)


@contextlib.contextmanager
def _process_state_restored() -> Iterator[None]:
    """Put back what a command changes in the test process: the environment variables it sets
    (MLflow's), and the logging it configures (root handlers and level, logger levels)."""
    environ = dict(os.environ)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    loggers = [
        x for x in logging.Logger.manager.loggerDict.values() if isinstance(x, logging.Logger)
    ]
    levels = {x: x.level for x in loggers}
    try:
        yield
    finally:
        for key in set(os.environ) - set(environ):
            del os.environ[key]
        os.environ.update(environ)
        for handler in root.handlers:
            if handler not in handlers:
                handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
        for logger, was in levels.items():
            logger.setLevel(was)
