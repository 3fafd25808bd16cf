"""The score log against real databases (SQLite and PostgreSQL): idempotent, bulk, concurrent."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leadloop.data.score_log import first_propensities, log_scores, read_score_log
from leadloop.data.store import FeedbackStore
from tests.integration.conftest import store_database


def _records(ids: range, *, version: str = "1", policy: bool = True) -> list[dict[str, Any]]:
    return [
        {
            "lead_id": f"L{i}",
            "probability": i / 1000,
            "model_version": version,
            "scored_at": "2025-03-01T12:00:00+00:00",
            **({"priority": i + 1, "explored": i % 7 == 0, "propensity": 0.5} if policy else {}),
        }
        for i in ids
    ]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty store's URL: a SQLite file, or a PostgreSQL database of its own."""
    with store_database(request.param, tmp_path, "scores") as url:
        FeedbackStore(url).create().dispose()
        yield url


def test_a_batch_is_logged_once(store_url: str) -> None:
    """It logs each (lead, version, batch) once: a repeated batch adds nothing, another batch
    or version adds its own rows."""
    store = FeedbackStore(store_url)
    assert log_scores(store, _records(range(120)), batch_id="b1", chunk_rows=50) == 120
    assert log_scores(store, _records(range(100, 150)), batch_id="b1", chunk_rows=50) == 30
    assert log_scores(store, _records(range(10), version="2"), batch_id="b1") == 10
    assert log_scores(store, _records(range(10), policy=False), batch_id="b2") == 10
    log = read_score_log(store)
    assert len(log) == 170
    assert len(read_score_log(store, model_version="2")) == 10
    b2 = log[log["batch_id"] == "b2"]
    assert b2["propensity"].isna().all() and b2["priority"].isna().all()
    first = log[(log["batch_id"] == "b1") & (log["model_version"] == "1")].set_index("lead_id")
    assert first.loc["L7", "explored"] and first.loc["L7", "priority"] == 8
    store.dispose()


def test_concurrent_writers_log_each_score_exactly_once(store_url: str) -> None:
    """It keeps exactly one row per key while four writers, each with its own connection
    pool, log overlapping chunks of the same batch."""
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        store = FeedbackStore(store_url)
        try:
            for start in range(0, 400, 80):
                ids = range(start + offset, start + offset + 80)
                log_scores(store, _records(ids), batch_id="shared", chunk_rows=25)
        except BaseException as err:  # reported below: a thread cannot fail the test itself
            errors.append(err)
        finally:
            store.dispose()

    threads = [threading.Thread(target=writer, args=(k * 40,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    store = FeedbackStore(store_url)
    log = read_score_log(store)
    assert len(log) == len(set(log["lead_id"])) == 520
    store.dispose()


def test_a_lead_keeps_the_propensity_of_its_first_policy_batch(store_url: str) -> None:
    """It takes each lead's propensity from the earliest batch that scored it under a policy."""
    store = FeedbackStore(store_url)
    early = [
        {**r, "scored_at": "2025-01-01T00:00:00Z", "propensity": 0.2} for r in _records(range(3))
    ]
    late = [{**r, "propensity": 0.9} for r in _records(range(5))]
    log_scores(store, late, batch_id="late")
    log_scores(store, early, batch_id="early")
    log_scores(store, _records(range(8), policy=False), batch_id="none")
    found = first_propensities(read_score_log(store))
    assert found.to_dict() == {"L0": 0.2, "L1": 0.2, "L2": 0.2, "L3": 0.9, "L4": 0.9}
    store.dispose()
