"""The load generators: single-lead scoring (open and closed loop) and signed feedback."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from leadloop.serve.security import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

from .client import LoadError, Pool, new_pool
from .ledger import Ledger
from .plan import BATCH_EVENTS, CLIENTS, JSON_HEADERS, RATE, RESEND_SHARE, SECRET, SENDERS, Plan
from .server import Meter, Server


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
