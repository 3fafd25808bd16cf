"""The service under uvicorn in a subprocess, and the CPU the client and the server use."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx

from .plan import API_KEY, JSON_HEADERS, METRICS_DIR_ENV, SECRET, TICKS

# Written into the temp dir and started by uvicorn: the service plus the bare ceiling route.
BENCH_APP = '''"""The leadloop service plus POST /bare: reads the body and does nothing else."""

import os

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from leadloop.serve.app import app_from_environment


def make() -> FastAPI:
    app = app_from_environment()

    @app.post("/bare")
    async def bare(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"ok": True, "pid": os.getpid()})

    return app
'''


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without LEADLOOP_ settings (reproducible runs), plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LEADLOOP_") and k != METRICS_DIR_ENV
    }
    env.update(extra)
    return env


def leadloop_cli(root: Path, *args: str) -> float:
    """Run ``python -m leadloop ARGS`` in ``root``; the seconds it took."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "leadloop", *args],
        cwd=root,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"leadloop {' '.join(args)} failed (exit {done.returncode}):\n{done.stderr[-3000:]}"
        )
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def group_cpu_seconds(pgid: int) -> float | None:
    """CPU seconds (user + system) used so far by the live processes of group ``pgid``."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    ticks = 0
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 12 and int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / TICKS


def load_average() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Meter:
    """Wall time and the cores the client (this process) and the server used meanwhile."""

    def __init__(self, pgid: int) -> None:
        self.pgid = pgid
        self.wall = 0.0
        self.client = 0.0
        self.server: float | None = None

    def __enter__(self) -> Meter:
        self._t = time.perf_counter()
        self._c = client_cpu_seconds()
        self._s = group_cpu_seconds(self.pgid)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.wall = time.perf_counter() - self._t
        self.client = (client_cpu_seconds() - self._c) / self.wall
        end = group_cpu_seconds(self.pgid)
        if end is not None and self._s is not None:
            self.server = (end - self._s) / self.wall


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    workers: int
    log: Path
    store_url: str

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def wait_ready(server: Server, timeout: float = 120.0) -> None:
    """Until /healthz answers 200 and every worker has answered /bare (model loaded)."""
    deadline = time.monotonic() + timeout
    pids: set[int] = set()
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"the server exited (code {server.proc.returncode}):\n{server.tail()}"
            )
        try:  # a fresh connection each time, so any ready worker may take it
            health = httpx.get(server.url + "/healthz", timeout=2)
            bare = httpx.post(server.url + "/bare", content=b"{}", headers=JSON_HEADERS, timeout=2)
        except httpx.HTTPError:
            time.sleep(0.2)
            continue
        if health.status_code == 200 and bare.status_code == 200:
            pids.add(int(bare.json()["pid"]))
            if len(pids) >= server.workers:
                return
        time.sleep(0.05)
    raise RuntimeError(f"the server was not ready after {timeout:.0f} s:\n{server.tail()}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (the uvicorn master and its workers), then SIGKILL."""
    if proc.poll() is not None:
        return  # stopped before (and the group id may not be ours any more)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)
    with suppress(ProcessLookupError):  # a worker left behind still carries the group id
        os.killpg(proc.pid, signal.SIGKILL)


@contextmanager
def serving(root: Path, workers: int, store_url: str) -> Iterator[Server]:
    """The service with /bare under uvicorn with ``workers`` processes; stopped on exit."""
    port = free_port()
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)
    shared = {}
    if workers > 1:  # as `leadloop serve` does: workers share Prometheus counters in files
        shared[METRICS_DIR_ENV] = tempfile.mkdtemp(prefix="metrics-", dir=root)
    env = clean_env(
        PYTHONPATH=path,
        LEADLOOP_SERVE__WEBHOOK_SECRET=SECRET,
        LEADLOOP_SERVE__API_KEY=API_KEY,
        LEADLOOP_SERVE__STORE_URL=store_url,
        **shared,
    )
    command = [sys.executable, "-m", "uvicorn", "bench_app:make", "--factory"]
    command += f"--host 127.0.0.1 --port {port} --workers {workers} --log-level warning".split()
    log = root / f"server-{workers}w-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        server = Server(f"http://127.0.0.1:{port}", proc, workers, log, store_url)
        wait_ready(server)
        yield server
    finally:
        stop(proc)
