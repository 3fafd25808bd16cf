"""The feedback store against real databases (SQLite and PostgreSQL), and the loop reading it."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from leadloop.config import load_settings
from leadloop.data.store import FeedbackStore
from leadloop.errors import InputError
from leadloop.pipeline import load_inputs, run_loop
from tests.conftest import run_cli
from tests.integration.conftest import fresh_postgres, settings_for


def _event(event_id: str, lead: str = "L1", outcome: str = "won") -> dict[str, object]:
    return {
        "event_id": event_id,
        "lead_id": lead,
        "outcome": outcome,
        "occurred_at": datetime(2025, 3, 1, 12, 0),
        "amount": None,
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FeedbackStore]:
    """An empty store in a SQLite file, or in a PostgreSQL database of its own."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'feedback.db'}"
        else:
            url = stack.enter_context(fresh_postgres("leadloop_store"))
        created = FeedbackStore(url).create()
        yield created
        created.dispose()


def test_an_event_is_stored_once(store: FeedbackStore) -> None:
    """It stores new events, reports repeats (across and within batches) as duplicates."""
    first = store.add([_event("a"), _event("b", outcome="lost"), _event("a")])
    assert first.stored == ["a", "b"] and first.duplicates == ["a"]
    second = store.add([_event("b"), _event("c")])
    assert second.stored == ["c"] and second.duplicates == ["b"]
    assert store.count() == 3
    frame = store.outcomes()
    assert list(frame.columns) == ["event_id", "lead_id", "outcome", "occurred_at", "amount"]
    assert sorted(frame["event_id"]) == ["a", "b", "c"]
    assert pd.api.types.is_datetime64_any_dtype(frame["occurred_at"])


def test_parallel_writers_store_each_event_exactly_once(store: FeedbackStore) -> None:
    """It keeps exactly one copy of each event while four threads write overlapping batches."""
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            for start in range(0, 200, 25):
                ids = [f"e{(i + offset) % 200}" for i in range(start, start + 25)]
                store.add([_event(i) for i in ids])
        except BaseException as err:  # reported below: a thread cannot fail the test itself
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(k * 50,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert store.count() == 200


def test_the_loop_reads_its_outcomes_from_the_store(project: Path) -> None:
    """It trains on the events in the store (`outcomes: store`) just as on the CRM export."""
    from_file = load_inputs(load_settings(None, base_dir=project))
    settings = settings_for(project, outcomes="store")
    events = pd.read_csv(project / "data" / "outcomes.csv")
    events["occurred_at"] = pd.to_datetime(events["occurred_at"])
    events["amount"] = events["amount"].astype(object).where(events["amount"].notna(), None)
    store = FeedbackStore(settings.store_url()).create()
    store.add(events.to_dict("records"))
    (project / "data" / "outcomes.csv").unlink()  # no file to fall back on
    from_store = load_inputs(settings)
    columns = ["lead_id", "outcome", "occurred_at", "event_id"]
    left = from_file.outcomes[columns].sort_values("event_id").reset_index(drop=True)
    right = from_store.outcomes[columns].sort_values("event_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right, check_dtype=False)
    result = run_loop(settings)
    assert result.record.inputs["outcomes"]["path"].startswith("feedback store sqlite:///")
    assert result.record.labels["used"] > 1000


def test_an_empty_store_is_a_clear_error(project: Path) -> None:
    """It refuses to run on an empty store, saying how the store gets filled."""
    with pytest.raises(InputError, match="holds no outcome events yet"):
        load_inputs(settings_for(project, outcomes="store"))
    shutil.rmtree(project / ".leadloop", ignore_errors=True)
    done = run_cli("run", cwd=project, env={"LEADLOOP_OUTCOMES": "store"})
    assert done.returncode == 2 and "holds no outcome events yet" in done.stderr
    assert "Traceback" not in done.stderr
