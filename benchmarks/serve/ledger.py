"""The exactly-once ledger: what the senders sent and were told, against the store."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from leadloop.data.store import FeedbackStore


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


def store_contents(url: str) -> tuple[int, set[str]]:
    """The store's count() and its event ids, read after the server stopped."""
    store = FeedbackStore(url).create()
    try:
        return store.count(), set(store.outcomes()["event_id"].astype(str))
    finally:
        store.dispose()


@dataclass(frozen=True)
class Tally:
    """The ledger against the store: every acknowledged event there once, nothing else."""

    count: int  # the store's count()
    lost: int  # acknowledged events missing from the store
    duplicated: int  # events reported "stored" more than once
    other_wrong: int  # rows never sent or not reported, re-sends not duplicates, rejections

    @property
    def wrong(self) -> int:
        return self.lost + self.duplicated + self.other_wrong


def tally(ledger: Ledger, url: str) -> Tally:
    """Check the ledger against the store at ``url`` (read after the server stopped)."""
    count, ids = store_contents(url)
    reported = set(ledger.stored)
    lost = len(ledger.sent_ids - ids)
    duplicated = sum(n - 1 for n in ledger.stored.values() if n > 1)
    unexpected = len(ids - ledger.sent_ids - ledger.unacknowledged) + len(reported - ids)
    missed_dups = ledger.resent_events - ledger.duplicates
    return Tally(count, lost, duplicated, unexpected + max(missed_dups, 0) + ledger.rejected)
