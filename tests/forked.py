"""``leadloop`` in a real child process that starts with its imports done.

A test that kills a run at a step, or fills a disk under it, needs a process of its own: one
that can die by SIGKILL and leave behind only what it wrote. Started as ``python -m leadloop``,
each such process spends about 4 s importing MLflow, LightGBM and scikit-learn before its run
starts (the suite's publishing tests start more than a dozen). ``fork_cli`` forks the child
instead from a server process that imported them once (multiprocessing's forkserver, which
imports nothing else and opens nothing: no thread, connection or file is shared with the
child). The child then is ``leadloop`` as the command runs it: its own working directory,
environment, stdout and stderr, exit status (or the signal that killed it), atexit handlers.
``run_cli`` (the real command line, interpreter start included) stays for the tests about it.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import subprocess
import sys
import tempfile
import traceback
from multiprocessing.process import BaseProcess
from pathlib import Path

# What a `leadloop run` imports, beyond the standard library: most of its start-up time.
PRELOAD = [
    "leadloop.cli",
    "leadloop.pipeline",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
]
TIMEOUT_S = 600
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(PRELOAD)


def fork_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``leadloop ARGS`` in a child process forked with its imports done, with the
    environment ``run_cli`` gives (no ``LEADLOOP_...`` but ``env``); its exit status is
    negative when a signal killed it, as ``subprocess`` reports it."""
    with tempfile.TemporaryDirectory(prefix="leadloop-fork-") as tmp:
        out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
        child = start_cli(*args, cwd=cwd, env=env, stdout=out, stderr=err)
        child.join(TIMEOUT_S)
        if child.exitcode is None:
            child.kill()
            child.join()
            raise TimeoutError(f"leadloop {' '.join(args)} ran over {TIMEOUT_S} s")
        return subprocess.CompletedProcess(
            ["leadloop", *args],
            child.exitcode,
            out.read_text(encoding="utf-8", errors="replace"),
            err.read_text(encoding="utf-8", errors="replace"),
        )


def start_cli(
    *args: str, cwd: Path, stdout: Path, stderr: Path, env: dict[str, str] | None = None
) -> BaseProcess:
    """Start ``leadloop ARGS`` as ``fork_cli`` runs it, writing its stdout and stderr to those
    files, and return at once: the child's ``exitcode`` is None while it runs."""
    child = _CONTEXT.Process(
        target=_child, args=(list(args), str(cwd), cli_env(env), str(stdout), str(stderr))
    )
    child.start()
    return child


def cli_env(env: dict[str, str] | None) -> dict[str, str]:
    """The environment a test's ``leadloop`` process gets: this one without ``LEADLOOP_...``
    settings (a developer's own must not leak in), plus ``env``."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("LEADLOOP_")}
    full.update(env or {})
    return full


def _child(args: list[str], cwd: str, env: dict[str, str], out: str, err: str) -> None:
    """The child's whole life: ``leadloop ARGS`` as ``python -m leadloop`` runs it."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for fd, path in ((1, out), (2, err)):
        opened = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(opened, fd)
        os.close(opened)
    sys.argv = ["leadloop", *args]
    from leadloop.cli import app

    code = 0
    try:
        app(args, prog_name="leadloop")
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException:  # what Python does with an uncaught error: its traceback, status 1
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
