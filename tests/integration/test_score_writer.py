"""The service's score log writer on real databases: concurrent requests' batches committed
together, each request answered only once its batch is in the store, a failure kept to the
requests it concerns."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from leadloop.data.score_log import read_score_log
from leadloop.data.store import FeedbackStore
from leadloop.errors import StoreError
from leadloop.serve.score_writer import ScoreWriter


def _records(batch: int, size: int = 3) -> list[dict[str, Any]]:
    return [
        {
            "lead_id": f"L{batch}-{i}",
            "probability": 0.25,
            "model_version": "1",
            "scored_at": "2026-03-01T12:00:00+00:00",
        }
        for i in range(size)
    ]


def test_concurrent_batches_share_commits_and_are_stored_before_the_answer(
    store: FeedbackStore,
) -> None:
    """40 requests at once: each sees its own rows in the store when its call returns, every
    row is there once, and fewer transactions than requests were needed."""
    writer = ScoreWriter(store)
    seen: dict[int, set[str]] = {}

    async def request(batch: int) -> None:
        await writer.log(_records(batch), batch_id=f"b{batch}")
        log = await asyncio.to_thread(read_score_log, store)
        seen[batch] = set(log.loc[log["batch_id"] == f"b{batch}", "lead_id"])

    async def main() -> None:
        await asyncio.gather(*(request(b) for b in range(40)))

    asyncio.run(main())
    assert all(seen[b] == {f"L{b}-{i}" for i in range(3)} for b in range(40))
    log = read_score_log(store)
    assert len(log) == 120 and not log.duplicated(["lead_id", "batch_id"]).any()
    assert 1 <= writer.groups < 40


def test_a_retried_batch_in_the_same_group_is_logged_once(store: FeedbackStore) -> None:
    writer = ScoreWriter(store)

    async def main() -> None:
        same = _records(7)
        await asyncio.gather(*(writer.log(same, batch_id="retry") for _ in range(5)))

    asyncio.run(main())
    assert len(read_score_log(store)) == 3


def test_a_bad_batch_fails_only_its_own_request(store: FeedbackStore) -> None:
    """One batch whose probability cannot be stored: its request gets the error, the batches
    committed with it in the same group are logged."""
    writer = ScoreWriter(store)
    bad = _records(99)
    bad[1]["probability"] = "not a number"

    async def main() -> list[BaseException | None]:
        calls = [writer.log(_records(b), batch_id=f"b{b}") for b in range(6)]
        calls.insert(3, writer.log(bad, batch_id="bad"))
        return list(await asyncio.gather(*calls, return_exceptions=True))

    outcomes = asyncio.run(main())
    assert [type(o) for o in outcomes].count(ValueError) == 1 and outcomes[3] is not None
    assert all(o is None for i, o in enumerate(outcomes) if i != 3)
    log = read_score_log(store)
    assert sorted(set(log["batch_id"])) == [f"b{b}" for b in range(6)]  # none of "bad"


def test_an_unreachable_store_fails_the_request_and_the_next_one_works(tmp_path: Path) -> None:
    """The store's error reaches the waiting request; the writer is not left stuck."""
    gone = tmp_path / "gone"
    gone.mkdir()
    store = FeedbackStore(f"sqlite:///{gone / 'feedback.db'}").create()
    writer = ScoreWriter(store)
    store.dispose()
    (gone / "feedback.db").unlink()
    gone.rmdir()

    async def main() -> BaseException | None:
        done = await asyncio.gather(writer.log(_records(1), batch_id="x"), return_exceptions=True)
        return done[0]

    assert isinstance(asyncio.run(main()), StoreError)
    gone.mkdir()
    FeedbackStore(f"sqlite:///{gone / 'feedback.db'}").create().dispose()
    asyncio.run(writer.log(_records(2), batch_id="y"))  # a new loop, a fresh writer task
    assert set(read_score_log(store)["batch_id"]) == {"y"}
    store.dispose()


def test_nothing_to_log_opens_no_transaction(tmp_path: Path) -> None:
    """A request whose leads have no ids logs nothing and waits for nothing."""
    writer = ScoreWriter(FeedbackStore(f"sqlite:///{tmp_path / 'empty.db'}"))
    asyncio.run(writer.log([], batch_id="empty"))
    assert writer.groups == 0
