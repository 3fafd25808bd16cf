"""The score log against real databases (SQLite and PostgreSQL): idempotent, bulk, concurrent."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
import pytest

from leadloop.data.score_log import (
    first_propensities,
    log_score_table,
    log_scores,
    read_score_log,
)
from leadloop.data.store import SCORES, FeedbackStore
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


def test_a_table_is_logged_as_its_records(store_url: str) -> None:
    """It logs a table of score records (batch scoring's path) exactly as the same records one
    by one: the same rows read back, a zoned time as naive UTC, absent policy columns missing,
    and a repeated table adds nothing."""
    by_records, by_table = FeedbackStore(store_url), FeedbackStore(store_url)
    records = _records(range(60))
    log_scores(by_records, records, batch_id="rows")
    paris = datetime(2025, 3, 1, 13, tzinfo=ZoneInfo("Europe/Paris"))  # 12:00 UTC
    zoned = [{**r, "scored_at": paris} for r in records]
    schema = pa.schema(
        [
            ("lead_id", pa.string()),
            ("probability", pa.float64()),
            ("model_version", pa.string()),
            ("scored_at", pa.timestamp("s", tz="Europe/Paris")),
            ("priority", pa.int64()),
            ("explored", pa.bool_()),
            ("propensity", pa.float64()),
        ]
    )
    table = pa.Table.from_pylist(zoned, schema=schema)
    assert log_score_table(by_table, table, batch_id="table", chunk_rows=25) == 60
    assert log_score_table(by_table, table, batch_id="table", chunk_rows=25) == 0
    plain = table.drop_columns(["priority", "explored", "propensity"])
    assert log_score_table(by_table, plain, batch_id="plain") == 60
    log = read_score_log(by_records)
    rows = log[log["batch_id"] == "rows"].drop(columns="batch_id").reset_index(drop=True)
    tabled = log[log["batch_id"] == "table"].drop(columns="batch_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(rows, tabled)
    assert str(tabled["scored_at"].iloc[0]) == "2025-03-01 12:00:00"
    assert (
        log.loc[log["batch_id"] == "plain", ["priority", "explored", "propensity"]]
        .isna()
        .all()
        .all()
    )
    with by_table.engine.begin() as conn:  # SQLAlchemy's own insert, for the stored form
        conn.execute(SCORES.insert(), _row(records[0], "core"))
        query = "SELECT batch_id, scored_at, explored FROM score_log WHERE lead_id = 'L0'"
        forms = {batch: (at, explored) for batch, at, explored in conn.exec_driver_sql(query)}
    assert forms["rows"] == forms["table"] == forms["core"]
    by_records.dispose()
    by_table.dispose()


def _row(record: dict[str, Any], batch_id: str) -> dict[str, Any]:
    """A record as SQLAlchemy Core takes it (Python values, times naive UTC)."""
    moment = pd.Timestamp(record["scored_at"]).tz_convert("UTC").tz_localize(None)
    return {**record, "batch_id": batch_id, "scored_at": moment.to_pydatetime()}
