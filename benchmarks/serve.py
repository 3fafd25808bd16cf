"""The scoring service and batch scoring under load, on loopback: latency, throughput, ingestion.

Usage: python benchmarks/serve.py [--quick] [--workers 1,2] [--rows N] [--client raw|httpx]
                                  [--pg-url URL] [--big-source generate|repeat] [--keep]

Setup: 20k synthetic leads in a temp dir; `leadloop run` registers the champion there. For each
worker count the service runs under uvicorn in a subprocess, with one extra route, POST /bare, a
FastAPI endpoint that reads the body and does nothing else: the ceiling of what FastAPI and the
service's middleware serve on this machine. With several workers PROMETHEUS_MULTIPROC_DIR is set,
as `leadloop serve` sets it.

1. Single-lead scoring. Open loop: requests sent at a fixed 200/s whatever the answers do, each
   latency taken from the request's scheduled send time (a stalled client or server cannot hide
   its stall). Closed loop: 16 clients send as fast as they get answers, on /v1/score and on
   /bare with the same body (one real lead).
2. Feedback ingestion: 8 senders post signed batches of 50 events, about 20% of the batches
   re-sends of batches already acknowledged. Afterwards the store must hold every event once and
   no event may have been reported stored twice. SQLite, and PostgreSQL when it is reachable.
3. Batch file scoring of 1M generated leads against reading the file plus the bare model.

The load client is a minimal keep-alive HTTP/1.1 client on asyncio streams (about 0.1 ms of CPU
a request); httpx.AsyncClient (--client httpx) costs 1-2 ms of CPU a request, so on a small
machine it, not the server, sets the closed-loop figures and the bare ceiling. The raw client
spreads its keep-alive connections evenly over the workers (the kernel alone may give them all
to one); the conns/worker columns show the spread. Either way the client shares the machine's
cores with the server: throughputs are lower bounds.

Prints tables (with the CPU the client and the server used); never asserts on time.
Targets: single-lead p99 under 10 ms at 200 req/s; scoring throughput at least half of bare;
zero lost or duplicated events; file scoring within 2x of read + raw predict.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import sqlalchemy as sa

from leadloop.data.store import FeedbackStore
from leadloop.serve.security import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

SECRET = "benchmark-webhook-secret"
API_KEY = "benchmark-api-key"  # the service refuses to start without one
RATE = 200.0  # open-loop requests per second
PLAIN = "/v1/score?reasons=0"  # scores without reasons (no TreeSHAP)
CLIENTS = 16  # closed-loop concurrent clients
SENDERS = 8  # concurrent webhook senders
BATCH_EVENTS = 50
RESEND_SHARE = 0.2
SYNTHETIC_LEADS = 20_000
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
JSON_HEADERS = {"content-type": "application/json", "authorization": f"Bearer {API_KEY}"}
TIMEOUT_S = 30.0
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"  # set by `leadloop serve` when workers > 1
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

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


@dataclass(frozen=True)
class Plan:
    """How long and how much."""

    open_s: float
    closed_s: float
    feedback_s: float
    rows: int
    shap_rows: int
    workers: tuple[int, ...]
    pg_url: str
    big_source: str
    client: str


# ---------------------------------------------------------------- output


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    """Print a titled table; the first column left-aligned, the others right-aligned."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    print(f"\n{title}")
    print(line(header))
    print(line(["-" * w for w in widths]))
    for row in rows:
        print(line(row))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def cores(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


# ---------------------------------------------------------------- processes


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


# ---------------------------------------------------------------- load clients


class LoadError(Exception):
    """A request got no HTTP answer (refused, reset, timed out, garbled)."""


def shares(pids: Counter[int]) -> str:
    """Connections per worker, e.g. '8/8'."""
    return "/".join(str(count) for count in sorted(pids.values(), reverse=True))


class Pool:
    """``size`` keep-alive connections to one server; ``post`` waits for a free one."""

    size = 0

    async def prepare(self, workers: int) -> str:
        """Open the connections; how they landed on the workers (from /bare's pid), '9/7'."""
        answers = await asyncio.gather(*(self.post("/bare", b"{}") for _ in range(self.size)))
        return shares(Counter(json.loads(body)["pid"] for status, body in answers if status == 200))

    async def post(
        self, path: str, body: bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Pool:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()


class RawConnection:
    """One keep-alive HTTP/1.1 connection: a request, then its answer (Content-Length bodies)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        lines = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines += [f"Content-Length: {len(body)}", "", ""]
        try:
            async with asyncio.timeout(TIMEOUT_S):
                if self.reader is None or self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
                self.writer.write("\r\n".join(lines).encode() + body)
                status, length, close = parse_head(await self.reader.readuntil(b"\r\n\r\n"))
                payload = await self.reader.readexactly(length)
        except (OSError, EOFError, ValueError, IndexError, asyncio.LimitOverrunError) as err:
            self.close()
            raise LoadError(f"{type(err).__name__}: {err}") from err
        if close:
            self.close()
        return status, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def parse_head(head: bytes) -> tuple[int, int, bool]:
    """(status, Content-Length, whether the server closes) from a response head."""
    lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.lower().split(":", 1) for line in lines[1:] if ":" in line)
    if "content-length" not in fields:
        raise ValueError(f"no Content-Length in the answer: {lines[0]}")
    close = fields.get("connection", "").strip() == "close"
    return int(lines[0].split()[1]), int(fields["content-length"]), close


class RawPool(Pool):
    """``size`` connections of the minimal client: ~0.1 ms of client CPU per request."""

    def __init__(self, base_url: str, size: int) -> None:
        self.size = size
        url = httpx.URL(base_url)
        self.connections = [RawConnection(url.host, url.port or 80) for _ in range(size)]
        self.idle: asyncio.Queue[RawConnection] = asyncio.Queue()
        for connection in self.connections:
            self.idle.put_nowait(connection)

    async def post(
        self, path: str, body: bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        connection = await self.idle.get()
        try:
            return await connection.post(path, body, {**JSON_HEADERS, **(headers or {})})
        finally:
            self.idle.put_nowait(connection)

    async def prepare(self, workers: int) -> str:
        """Open the connections one by one, reconnecting until each worker holds its share.

        uvicorn's workers share one listening socket and the kernel decides which accepts a
        connection: in a burst one worker may take them all (seen: 16/0), and the other then
        idles for the whole run. Balanced, the figures are those of ``workers`` processes.
        """
        share = -(-self.size // workers)
        pids: Counter[int] = Counter()
        for connection in self.connections:
            for _attempt in range(50):
                pid = json.loads((await connection.post("/bare", b"{}", JSON_HEADERS))[1])["pid"]
                if pids[pid] < share:
                    break
                connection.close()
            pids[pid] += 1
        return shares(pids)

    async def aclose(self) -> None:
        for connection in self.connections:
            connection.close()


class HttpxPool(Pool):
    """httpx.AsyncClient with a pool of ``size`` connections: ~1-2 ms of client CPU a request."""

    def __init__(self, base_url: str, size: int) -> None:
        self.size = size
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self.client = httpx.AsyncClient(
            base_url=base_url, limits=limits, timeout=httpx.Timeout(TIMEOUT_S), headers=JSON_HEADERS
        )

    async def post(
        self, path: str, body: bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        try:
            answer = await self.client.post(path, content=body, headers=headers)
        except httpx.HTTPError as err:
            raise LoadError(f"{type(err).__name__}: {err}") from err
        return answer.status_code, answer.content

    async def aclose(self) -> None:
        await self.client.aclose()


def new_pool(kind: str, base_url: str, size: int) -> Pool:
    return RawPool(base_url, size) if kind == "raw" else HttpxPool(base_url, size)


# ---------------------------------------------------------------- single-lead scoring


async def warm_up(pool: Pool, path: str, body: bytes, n: int) -> None:
    answers = await asyncio.gather(*(pool.post(path, body) for _ in range(n)))
    bad = [a for a in answers if a[0] != 200]
    if bad:
        raise RuntimeError(f"{path} answered {bad[0][0]}: {bad[0][1][:500]!r}")


async def timed_post(pool: Pool, path: str, body: bytes, when: float) -> tuple[float, bool]:
    """(seconds from the scheduled send time to the answer, whether it was a 200)."""
    try:
        ok = (await pool.post(path, body))[0] == 200
    except LoadError:
        ok = False
    return asyncio.get_running_loop().time() - when, ok


async def open_loop(server: Server, body: bytes, plan: Plan) -> dict[str, Any]:
    """Send at a fixed rate whatever the answers do; latencies from the scheduled send times."""
    path = "/v1/score"
    async with new_pool(plan.client, server.url, 64) as pool:
        conns = await pool.prepare(server.workers)
        await warm_up(pool, path, body, 64)
        loop = asyncio.get_running_loop()
        n = max(1, round(RATE * plan.open_s))
        tasks: list[asyncio.Task[tuple[float, bool]]] = []
        lag = 0.0
        with Meter(server.proc.pid) as meter:
            start = loop.time() + 0.02
            for i in range(n):
                when = start + i / RATE
                delay = when - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                lag = max(lag, loop.time() - when)
                tasks.append(asyncio.create_task(timed_post(pool, path, body, when)))
            results = await asyncio.gather(*tasks)
    span = max(i / RATE + r[0] for i, r in enumerate(results))
    latencies = np.array([r[0] for r in results if r[1]] or [float("nan")])
    ok = sum(r[1] for r in results)
    return {
        "sent": n,
        "errors": n - ok,
        "p50": float(np.percentile(latencies, 50)),
        "p99": float(np.percentile(latencies, 99)),
        "max": float(latencies.max()),
        "rate": ok / span,
        "lag": lag,
        "conns": conns,
        "client": meter.client,
        "server": float("nan") if meter.server is None else meter.server,
    }


async def closed_loop(server: Server, path: str, body: bytes, plan: Plan) -> dict[str, Any]:
    """CLIENTS concurrent clients, each sending its next request when its answer arrives."""
    async with new_pool(plan.client, server.url, CLIENTS) as pool:
        conns = await pool.prepare(server.workers)
        await warm_up(pool, path, body, CLIENTS * 4)
        loop = asyncio.get_running_loop()
        stop_at = loop.time() + plan.closed_s

        async def one_client() -> tuple[int, int]:
            ok = bad = 0
            while loop.time() < stop_at:
                try:
                    status = (await pool.post(path, body))[0]
                except LoadError:
                    status = 0
                ok, bad = (ok + 1, bad) if status == 200 else (ok, bad + 1)
            return ok, bad

        with Meter(server.proc.pid) as meter:
            counts = await asyncio.gather(*(one_client() for _ in range(CLIENTS)))
    ok = sum(c[0] for c in counts)
    return {
        "rps": ok / meter.wall,
        "ok": ok,
        "errors": sum(c[1] for c in counts),
        "conns": conns,
        "client": meter.client,
        "server": float("nan") if meter.server is None else meter.server,
        "client_us": meter.client * meter.wall / max(ok, 1) * 1e6,
        "server_us": (meter.server or float("nan")) * meter.wall / max(ok, 1) * 1e6,
    }


def sample_lead(root: Path) -> bytes:
    """One real lead from data/leads.csv as a JSON object, missing values left out."""
    frame = pd.read_csv(root / "data" / "leads.csv", nrows=10)
    record = json.loads(frame.iloc[[0]].to_json(orient="records", date_format="iso"))[0]
    return json.dumps({k: v for k, v in record.items() if v is not None}).encode()


def check_score(server: Server, body: bytes) -> str:
    """Score the lead once; its answer, for the record."""
    answer = httpx.post(server.url + "/v1/score", content=body, headers=JSON_HEADERS, timeout=30)
    answer.raise_for_status()
    record = answer.json()["scores"][0]
    return (
        f"model v{record['model_version']}: probability {record['probability']:.4f}, "
        f"score {record['score']}, grade {record['grade']}, {len(record['reasons'])} reasons"
    )


# ---------------------------------------------------------------- feedback ingestion


@dataclass
class Ledger:
    """What the senders sent and what the server answered."""

    sent_ids: set[str] = field(default_factory=set)  # ids of acknowledged first deliveries
    batches: list[tuple[list[str], bytes]] = field(default_factory=list)
    stored: Counter[str] = field(default_factory=Counter)  # id -> times reported "stored"
    duplicates: int = 0
    rejected: int = 0
    delivered: int = 0  # events in acknowledged deliveries, re-sends included
    new_batches: int = 0
    resends: int = 0
    resent_events: int = 0
    unacknowledged: set[str] = field(default_factory=set)
    failures: Counter[str] = field(default_factory=Counter)

    def record(
        self, ids: list[str], body: bytes, answer: dict[str, Any] | None, resend: bool
    ) -> None:
        if answer is None:
            if not resend:
                self.unacknowledged.update(ids)
            return
        self.stored.update(answer["stored"])
        self.duplicates += len(answer["duplicates"])
        self.rejected += len(answer["rejected"])
        self.delivered += len(ids)
        if resend:
            self.resends += 1
            self.resent_events += len(ids)
        else:
            self.new_batches += 1
            self.sent_ids.update(ids)
            self.batches.append((ids, body))


@dataclass
class Feed:
    """What every sender shares."""

    pool: Pool
    ledger: Ledger
    stop_at: float
    run: str
    leads: list[str]
    batch_numbers: Iterator[int] = field(default_factory=itertools.count)


def make_batch(feed: Feed, rng: random.Random) -> tuple[list[str], bytes]:
    """A new batch of events with ids never used before."""
    first = next(feed.batch_numbers) * BATCH_EVENTS
    now = datetime.now(UTC)
    events: list[dict[str, Any]] = []
    for k in range(first, first + BATCH_EVENTS):
        won = rng.random() < 0.3
        event: dict[str, Any] = {
            "event_id": f"{feed.run}-{k:09d}",
            "lead_id": rng.choice(feed.leads),
            "outcome": "won" if won else "lost",
            "occurred_at": (now - timedelta(days=rng.uniform(0, 60))).isoformat(),
        }
        if won:
            event["amount"] = round(rng.uniform(1_000, 100_000), 2)
        events.append(event)
    return [e["event_id"] for e in events], json.dumps(events).encode()


async def deliver(feed: Feed, body: bytes, attempts: int = 3) -> dict[str, Any] | None:
    """Post a signed delivery (signed afresh on each attempt); the 200 answer or None."""
    for _ in range(attempts):
        stamp = str(int(time.time()))
        headers = {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(SECRET, stamp, body)}
        try:
            status, payload = await feed.pool.post("/v1/feedback", body, headers)
        except LoadError as err:
            feed.ledger.failures[str(err).partition(":")[0]] += 1
            continue
        if status == 200:
            result: dict[str, Any] = json.loads(payload)
            return result
        feed.ledger.failures[f"HTTP {status}"] += 1
    return None


async def sender(feed: Feed, seed: int) -> None:
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    while loop.time() < feed.stop_at:
        resend = bool(feed.ledger.batches) and rng.random() < RESEND_SHARE
        ids, body = rng.choice(feed.ledger.batches) if resend else make_batch(feed, rng)
        feed.ledger.record(ids, body, await deliver(feed, body), resend)


async def feedback_load(server: Server, leads: list[str], plan: Plan) -> tuple[Ledger, Meter, str]:
    ledger = Ledger()
    async with new_pool(plan.client, server.url, SENDERS) as pool:
        conns = await pool.prepare(server.workers)
        stop_at = asyncio.get_running_loop().time() + plan.feedback_s
        feed = Feed(pool, ledger, stop_at, "evt", leads)
        with Meter(server.proc.pid) as meter:
            await asyncio.gather(*(sender(feed, seed) for seed in range(SENDERS)))
    return ledger, meter, conns


def store_contents(url: str) -> tuple[int, set[str]]:
    """The store's count() and its event ids, read after the server stopped."""
    store = FeedbackStore(url).create()
    try:
        return store.count(), set(store.outcomes()["event_id"].astype(str))
    finally:
        store.dispose()


def feedback_row(label: str, conns: str, ledger: Ledger, meter: Meter, url: str) -> list[str]:
    count, ids = store_contents(url)
    reported = set(ledger.stored)
    lost = len(ledger.sent_ids - ids)
    duplicated = sum(n - 1 for n in ledger.stored.values() if n > 1)
    unexpected = len(ids - ledger.sent_ids - ledger.unacknowledged) + len(reported - ids)
    missed_dups = ledger.resent_events - ledger.duplicates
    failures = ", ".join(f"{k} x{v}" for k, v in ledger.failures.items()) or "0"
    return [
        label,
        conns,
        f"{ledger.new_batches}+{ledger.resends}",
        f"{ledger.delivered / meter.wall:,.0f}",
        f"{len(reported) / meter.wall:,.0f}",
        f"{len(ledger.sent_ids):,}",
        f"{count:,}",
        str(lost),
        str(duplicated),
        str(unexpected + max(missed_dups, 0) + ledger.rejected),
        failures,
        cores(meter.client),
        cores(meter.server),
    ]


FEEDBACK_HEADER = [
    "store",
    "conns/worker",
    "batches new+resent",
    "delivered ev/s",
    "stored ev/s",
    "unique sent",
    "store count",
    "lost",
    "duplicated",
    "other wrong",
    "failed posts",
    "client cores",
    "server cores",
]


def reset_postgres(url: str) -> str | None:
    """Drop the benchmark's feedback_events table; why PostgreSQL cannot be used, or None."""
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS feedback_events"))
        engine.dispose()
    except (ImportError, sa.exc.SQLAlchemyError) as err:
        text = str(err).strip().splitlines()
        return f"{type(err).__name__}: {text[0] if text else ''}"
    return None


# ---------------------------------------------------------------- batch file scoring


def big_file(root: Path, rows: int, source: str) -> tuple[Path, str, float]:
    """A parquet file of ``rows`` leads: generated, or data/leads.csv repeated with new ids."""
    started = time.perf_counter()
    if source == "generate":
        leadloop_cli(
            root, *f"generate -o big --n-leads {rows} --months 12 --format parquet".split()
        )
        return root / "big" / "leads.parquet", "leadloop generate", time.perf_counter() - started
    base = pd.read_csv(root / "data" / "leads.csv").convert_dtypes()
    frame = pd.concat([base] * -(-rows // len(base)), ignore_index=True).head(rows)
    frame["lead_id"] = [f"B{i:09d}" for i in range(rows)]
    target = root / "big" / "leads.parquet"
    target.parent.mkdir(exist_ok=True)
    frame.to_parquet(target, index=False)
    return target, "data/leads.csv repeated", time.perf_counter() - started


def batch_section(root: Path, plan: Plan) -> dict[str, float]:
    from leadloop.batch import load_scorer, score_file
    from leadloop.config import load_settings

    big, how, made_s = big_file(root, plan.rows, plan.big_source)
    settings = load_settings(None, environ={}, base_dir=root)
    scorer = load_scorer(settings, "champion", reasons=0)
    started = time.perf_counter()
    frame = pd.read_parquet(big)
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    matrix = scorer.model.encoder.transform(frame)
    scorer.model.booster.predict(matrix, raw_score=True)
    predict_s = time.perf_counter() - started
    rows = len(frame)
    shap_rows = min(plan.shap_rows, rows)
    part = root / "big" / "slice.parquet"
    frame.head(shap_rows).to_parquet(part, index=False)
    del frame, matrix
    plain = score_file(settings, big, root / "big" / "scored.parquet", scorer=scorer)
    explainer = load_scorer(settings, "champion", reasons=3)
    shap = score_file(settings, part, root / "big" / "scored-reasons.parquet", scorer=explainer)
    shap_rate = shap.rows / shap.seconds
    ratio = plain.seconds / (read_s + predict_s)
    per_s = f"{rows:,} rows"
    table(
        f"Batch file scoring: {rows:,} leads in parquet ({how}, {made_s:.1f} s to make)",
        ["step", "seconds", "rows/s"],
        [
            ["read parquet (pandas.read_parquet)", f"{read_s:.2f}", f"{rows / read_s:,.0f}"],
            [
                "raw predict (encoder.transform + booster, raw_score)",
                f"{predict_s:.2f}",
                f"{rows / predict_s:,.0f}",
            ],
            [
                "read + raw predict",
                f"{read_s + predict_s:.2f}",
                f"{rows / (read_s + predict_s):,.0f}",
            ],
            [
                f"score_file, reasons=0 ({per_s})",
                f"{plain.seconds:.2f}",
                f"{plain.rows / plain.seconds:,.0f}",
            ],
            [
                f"score_file, reasons=3 (measured on {shap.rows:,} rows)",
                f"{shap.seconds:.2f}",
                f"{shap_rate:,.0f}",
            ],
            [
                f"score_file, reasons=3 EXTRAPOLATED to {per_s}",
                f"{rows / shap_rate:.0f}",
                f"{shap_rate:,.0f}",
            ],
        ],
    )
    print(f"score_file(reasons=0) / (read + raw predict) = {ratio:.2f}x  (target: within 2x)")
    return {"ratio": ratio}


# ---------------------------------------------------------------- the run


@dataclass
class Results:
    latency: list[list[str]] = field(default_factory=list)
    throughput: list[list[str]] = field(default_factory=list)
    feedback: list[list[str]] = field(default_factory=list)
    p99: dict[int, tuple[float, float]] = field(default_factory=dict)  # p99, max send lag
    ratio: dict[int, float] = field(default_factory=dict)
    ratio_plain: dict[int, float] = field(default_factory=dict)  # scores without reasons
    bare_client: dict[int, float] = field(default_factory=dict)
    wrong_events: int = 0
    pg_note: str = ""


def scoring_runs(server: Server, body: bytes, plan: Plan, results: Results) -> None:
    w = server.workers
    lat = asyncio.run(open_loop(server, body, plan))
    results.p99[w] = (lat["p99"], lat["lag"])
    results.latency.append(
        [
            f"{w} worker{'s' if w > 1 else ''}",
            lat["conns"],
            f"{lat['sent']:,.0f}",
            f"{lat['errors']:.0f}",
            ms(lat["p50"]),
            ms(lat["p99"]),
            ms(lat["max"]),
            f"{lat['rate']:.1f}",
            ms(lat["lag"]),
            cores(lat["client"]),
            cores(lat["server"]),
        ]
    )
    figures = {}
    for path in ("/v1/score", PLAIN, "/bare"):
        figures[path] = asyncio.run(closed_loop(server, path, body, plan))
        got = figures[path]
        results.throughput.append(
            [
                f"{w} worker{'s' if w > 1 else ''}",
                path,
                got["conns"],
                f"{got['rps']:,.0f}",
                f"{got['ok']:,.0f}",
                f"{got['errors']:.0f}",
                cores(got["client"]),
                cores(got["server"]),
                f"{got['client_us']:,.0f}",
                f"{got['server_us']:,.0f}",
            ]
        )
    results.ratio[w] = figures["/v1/score"]["rps"] / figures["/bare"]["rps"]
    results.ratio_plain[w] = figures[PLAIN]["rps"] / figures["/bare"]["rps"]
    results.bare_client[w] = figures["/bare"]["client"]


def feedback_run(server: Server, label: str, leads: list[str], plan: Plan, out: Results) -> None:
    ledger, meter, conns = asyncio.run(feedback_load(server, leads, plan))
    stop(server.proc)  # read the store only once every worker has finished writing
    row = feedback_row(label, conns, ledger, meter, server.store_url)
    out.feedback.append(row)
    out.wrong_events += int(row[7]) + int(row[8]) + int(row[9])


def worker_runs(
    root: Path, w: int, plan: Plan, lead: bytes, leads: list[str], out: Results
) -> None:
    store = f"sqlite:///{root / f'fb-{w}w.db'}"
    with serving(root, w, store) as server:
        print(f"  {w} worker(s) up at {server.url}; {check_score(server, lead)}", flush=True)
        scoring_runs(server, lead, plan, out)
        feedback_run(server, f"sqlite, {w}w", leads, plan, out)
    reason = reset_postgres(plan.pg_url)
    if reason is not None:
        out.pg_note = f"PostgreSQL at {plan.pg_url}: skipped ({reason})"
        return
    out.pg_note = f"PostgreSQL at {plan.pg_url}: table feedback_events dropped before and after"
    with serving(root, w, plan.pg_url) as server:
        feedback_run(server, f"postgresql, {w}w", leads, plan, out)
    reset_postgres(plan.pg_url)  # leave the shared test database as it was


def print_service(out: Results, plan: Plan) -> None:
    table(
        f"Single-lead scoring, open loop at {RATE:.0f} req/s for {plan.open_s:.0f} s "
        "(latency in ms from each request's scheduled send time)",
        [
            "server",
            "conns/worker",
            "sent",
            "errors",
            "p50 ms",
            "p99 ms",
            "max ms",
            "achieved/s",
            "max send lag ms",
            "client cores",
            "server cores",
        ],
        out.latency,
    )
    table(
        f"Single-lead throughput, closed loop: {CLIENTS} clients for {plan.closed_s:.0f} s",
        [
            "server",
            "endpoint",
            "conns/worker",
            "req/s",
            "answered",
            "errors",
            "client cores",
            "server cores",
            "client CPU us/req",
            "server CPU us/req",
        ],
        out.throughput,
    )
    for w, ratio in out.ratio.items():
        print(
            f"/v1/score over /bare at {w} worker(s): {ratio:.2f} with reasons, "
            f"{out.ratio_plain[w]:.2f} without (?reasons=0)"
        )
    print(
        f"caveat: the load client ({plan.client}) runs on this machine and shares its "
        f"{os.cpu_count()} cores with the server (on /bare it used "
        + ", ".join(f"{c:.2f} at {w}w" for w, c in out.bare_client.items())
        + "): throughputs are lower bounds, the bare ceiling most of all."
    )
    table(
        f"Feedback ingestion: {SENDERS} senders, signed batches of {BATCH_EVENTS} events, "
        f"~{RESEND_SHARE:.0%} re-sends, {plan.feedback_s:.0f} s",
        FEEDBACK_HEADER,
        out.feedback,
    )
    print(
        "lost = acknowledged events missing from the store; duplicated = events reported "
        "'stored' more than once; other wrong = store rows never sent or not reported, re-sent "
        "events not reported as duplicates, rejected events."
    )
    print(out.pg_note)


def print_targets(out: Results, batch: dict[str, float] | None) -> None:
    rows = []
    for w, (p99, lag) in out.p99.items():
        stall = f" (client stalled up to {ms(lag)} ms)" if lag > 0.005 else ""
        rows.append(
            [
                f"single-lead p99 under 10 ms at 200 req/s ({w}w)",
                f"p99 {ms(p99)} ms{stall}",
                "met" if p99 < 0.010 else "missed",
            ]
        )
    for w, ratio in out.ratio.items():
        for label, value in (("with reasons", ratio), ("?reasons=0", out.ratio_plain[w])):
            rows.append(
                [
                    f"scoring throughput >= half of bare ({w}w, {label})",
                    f"{value:.2f} of bare",
                    "met" if value >= 0.5 else "missed",
                ]
            )
    rows.append(
        [
            "zero lost or duplicated events",
            f"{out.wrong_events} wrong in {len(out.feedback)} runs",
            "met" if out.wrong_events == 0 and out.feedback else "missed",
        ]
    )
    if batch is not None:
        rows.append(
            [
                "file scoring within 2x of read + raw predict",
                f"{batch['ratio']:.2f}x",
                "met" if batch["ratio"] <= 2 else "missed",
            ]
        )
    table("Targets", ["target", "measured", "result"], rows)


def precompile(root: Path) -> str:
    """Fill the compiled-trees cache the service loads the champion's from (it would compile
    them in the background after starting); the engine the service will score with."""
    from leadloop.batch import load_scorer, use_compiled_trees
    from leadloop.config import load_settings

    settings = load_settings(None, environ={}, base_dir=root)
    scorer = load_scorer(settings, reasons=0)
    use_compiled_trees(scorer, settings)
    return scorer.model.forest.engine


def setup(root: Path) -> tuple[bytes, list[str]]:
    print(f"setup in {root}", flush=True)
    made = leadloop_cli(
        root, "generate", "-o", "data", "--n-leads", str(SYNTHETIC_LEADS), "--months", "12"
    )
    trained = leadloop_cli(root, "run", "-q")
    engine = precompile(root)
    (root / "bench_app.py").write_text(BENCH_APP, encoding="utf-8")
    lead = sample_lead(root)
    leads = pd.read_csv(root / "data" / "leads.csv", usecols=["lead_id"])["lead_id"].tolist()
    print(f"  generate {SYNTHETIC_LEADS:,} leads: {made:.1f} s; leadloop run -q: {trained:.1f} s")
    print(f"  the champion's trees: {engine} (compiled before serving, so no run measures it)")
    print(f"  lead sent to /v1/score and /bare: {lead.decode()}")
    return lead, leads


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Shorter runs (about 3 s each).")
    parser.add_argument("--workers", default="1,2", help="Worker counts, comma-separated.")
    parser.add_argument("--rows", type=int, default=1_000_000, help="Rows for file scoring.")
    parser.add_argument("--pg-url", default=PG_URL, help="PostgreSQL for the feedback store.")
    parser.add_argument(
        "--big-source",
        choices=["generate", "repeat"],
        default="generate",
        help="Make the big file with `leadloop generate`, or by repeating data/leads.csv.",
    )
    parser.add_argument(
        "--client",
        choices=["raw", "httpx"],
        default="raw",
        help="Load client: a minimal keep-alive HTTP/1.1 client (default) or httpx.AsyncClient.",
    )
    parser.add_argument("--skip-batch", action="store_true", help="No batch file scoring.")
    parser.add_argument("--keep", action="store_true", help="Keep the temp dir.")
    return parser.parse_args(argv)


def make_plan(args: argparse.Namespace) -> Plan:
    quick = args.quick
    return Plan(
        open_s=3.0 if quick else 10.0,
        closed_s=3.0 if quick else 8.0,
        feedback_s=3.0 if quick else 10.0,
        rows=args.rows,
        shap_rows=10_000 if quick else 50_000,
        workers=tuple(int(w) for w in args.workers.split(",") if w.strip()),
        pg_url=args.pg_url,
        big_source=args.big_source,
        client=args.client,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
    root = Path(tempfile.mkdtemp(prefix="leadloop-serve-bench-"))
    print(
        f"leadloop service benchmark on 127.0.0.1: {os.cpu_count()} cores shared by client and "
        f"server; python {sys.version.split()[0]}; load client: {plan.client}; "
        f"{'quick' if args.quick else 'full'} durations"
    )
    print(f"load average before the start: {load_average()} (other work on the machine skews it)")
    try:
        lead, leads = setup(root)
        out = Results()
        for w in plan.workers:
            worker_runs(root, w, plan, lead, leads, out)
        print_service(out, plan)
        batch = None if args.skip_batch else batch_section(root, plan)
        print_targets(out, batch)
        print(f"load average at the end: {load_average()}")
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
