"""The score log of the service: concurrent requests' scores committed together (group commit).

Every score with a lead id is in the score log before its answer is sent. Committed one
request at a time, that cost a transaction, a pooled connection and, on SQLite, a synced write
per request: about 1.3 ms of server CPU, several times the scoring itself. Here a request hands
its scores to the writer and waits; while one transaction is being committed, the scores of the
requests that arrive meanwhile gather, and the next transaction takes them all. A lone request
is written at once, as before; under load one commit serves many requests. Nothing waits on a
timer, so no request is delayed to make a group.

A group is one transaction: all its batches are logged or none. When a group fails, each of its
batches is written again alone, so a failure reaches only the requests whose batch fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.concurrency import run_in_threadpool

from leadloop.data.score_log import log_score_batches, log_scores
from leadloop.data.store import FeedbackStore


@dataclass(frozen=True)
class _Waiting:
    """One request's batch and the future its handler awaits."""

    records: Sequence[Mapping[str, Any]]
    batch_id: str
    done: asyncio.Future[None]


class ScoreWriter:
    """Logs requests' score batches, committing the batches of concurrent requests together.

    One writer per service, used from one event loop at a time (uvicorn runs one per worker
    process); a new loop (a restarted server in the same process) starts a new writing task."""

    def __init__(self, store: FeedbackStore) -> None:
        self._store = store
        self._waiting: list[_Waiting] = []
        self._writing: asyncio.Task[None] | None = None
        self.groups = 0  # transactions committed or tried, for tests and benchmarks

    async def log(self, records: Sequence[Mapping[str, Any]], *, batch_id: str) -> None:
        """Log one batch of score records (a row already logged is left as it was). Returns
        once the batch is committed; raises the store's error when it could not be."""
        if not records:
            return
        loop = asyncio.get_running_loop()
        waiting = _Waiting(records, batch_id, loop.create_future())
        self._waiting.append(waiting)
        writing = self._writing
        if writing is None or writing.done() or writing.get_loop() is not loop:
            self._writing = loop.create_task(self._write_waiting())
        await waiting.done

    async def _write_waiting(self) -> None:
        """Commit what waits, group by group, until nothing does."""
        await asyncio.sleep(0)  # requests already read in this turn of the loop join the group
        while self._waiting:
            group, self._waiting = self._waiting, []
            self.groups += 1
            try:
                outcomes = await run_in_threadpool(_write_group, self._store, group)
            except BaseException as err:  # cancelled with its loop, or a failure in the pool
                for waiting in group:
                    _settle(waiting.done, err)
                raise
            for waiting, outcome in zip(group, outcomes, strict=True):
                _settle(waiting.done, outcome)


def _write_group(store: FeedbackStore, group: Sequence[_Waiting]) -> list[Exception | None]:
    """For each batch, the error that kept it out of the log, or None when it is logged."""
    try:
        log_score_batches(store, [(w.records, w.batch_id) for w in group])
        return [None] * len(group)
    except Exception as err:
        if len(group) == 1:
            return [err]
    outcomes: list[Exception | None] = []
    for waiting in group:  # alone, so that only a failing batch fails its request
        try:
            log_scores(store, waiting.records, batch_id=waiting.batch_id)
            outcomes.append(None)
        except Exception as err:
            outcomes.append(err)
    return outcomes


def _settle(done: asyncio.Future[None], outcome: BaseException | None) -> None:
    """Give a waiting request its outcome, unless it has gone (cancelled, or its loop closed)."""
    if done.done() or done.get_loop().is_closed():
        return
    if isinstance(outcome, asyncio.CancelledError):
        done.cancel()
    elif isinstance(outcome, BaseException):
        done.set_exception(outcome)
    else:
        done.set_result(None)
