"""The feedback store against real databases (SQLite and PostgreSQL), and the loop reading it."""

from __future__ import annotations

import shutil
import threading
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from leadloop.config import load_settings
from leadloop.data.store import EVENTS, FeedbackStore
from leadloop.errors import InputError
from leadloop.pipeline import load_inputs, run_loop
from tests.conftest import invoke_cli
from tests.integration.conftest import fresh_postgres, settings_for


def _event(event_id: str, lead: str = "L1", outcome: str = "won") -> dict[str, object]:
    return {
        "event_id": event_id,
        "lead_id": lead,
        "outcome": outcome,
        "occurred_at": datetime(2025, 3, 1, 12, 0),
        "amount": None,
    }


def test_an_event_is_stored_once(store: FeedbackStore) -> None:
    """It stores new events, reports repeats (across and within batches) as duplicates."""
    first = store.add([_event("a"), _event("b", outcome="lost"), _event("a")])
    assert first.stored == ["a", "b"] and first.duplicates == ["a"]
    second = store.add([_event("b", outcome="lost"), _event("c")])
    assert second.stored == ["c"] and second.duplicates == ["b"]
    assert store.count() == 3
    frame = store.outcomes()
    assert list(frame.columns) == ["event_id", "lead_id", "outcome", "occurred_at", "amount"]
    assert sorted(frame["event_id"]) == ["a", "b", "c"]
    assert pd.api.types.is_datetime64_any_dtype(frame["occurred_at"])


def test_an_id_with_other_content_is_a_conflict_and_not_stored(store: FeedbackStore) -> None:
    """It reports an id repeated with other content (later or in one batch) as a conflict."""
    first = store.add([_event("x", outcome="won"), _event("y"), _event("x", outcome="lost")])
    assert first.stored == ["x", "y"] and first.duplicates == []
    assert [(c.position, c.event_id, c.fields) for c in first.conflicts] == [(2, "x", ["outcome"])]
    later = {**_event("y", lead="L2"), "amount": 5.0}
    second = store.add([later, _event("x", outcome="won")])
    assert second.stored == [] and second.duplicates == ["x"]
    assert [(c.event_id, c.fields) for c in second.conflicts] == [("y", ["lead_id", "amount"])]
    kept = store.outcomes().set_index("event_id")
    assert kept.loc["x", "outcome"] == "won" and kept.loc["y", "lead_id"] == "L1"
    assert store.count() == 2


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
    store = FeedbackStore(settings.store_url()).create()
    _fill_from_export(store, project)
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
    done = invoke_cli("run", cwd=project, env={"LEADLOOP_OUTCOMES": "store"})
    assert done.returncode == 2 and "holds no outcome events yet" in done.stderr
    assert "Traceback" not in done.stderr


def _fill_from_export(store: FeedbackStore, project: Path) -> int:
    """The bundled outcomes export, stored as the webhook stores events; how many."""
    events = pd.read_csv(project / "data" / "outcomes.csv")
    events["occurred_at"] = pd.to_datetime(events["occurred_at"])
    events["amount"] = events["amount"].astype(object).where(events["amount"].notna(), None)
    store.add([{str(k): v for k, v in e.items()} for e in events.to_dict("records")])
    return len(events)


# Rows as the service stored them before events were validated (written here past the checks).
OLD_BAD_ROWS: list[tuple[str, dict[str, Any], str]] = [
    ("bad-inf", {"amount": float("inf")}, "amount not finite"),
    ("bad-year1", {"occurred_at": datetime(1, 1, 1)}, "occurred_at before 1973"),
    ("bad-9999", {"occurred_at": datetime(9999, 12, 31, 23, 59)}, "occurred_at in the future"),
    ("bad-outcome", {"outcome": "maybe"}, "outcome not in the mapping"),
    ("bad-control", {"lead_id": "L0000001\x07"}, "lead_id unprintable"),
]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_bad_stored_rows_are_excluded_and_counted_not_fatal(project: Path, backend: str) -> None:
    """It excludes stored rows that break the webhook's rules, counting each by its reason,
    and validates and runs on the rest (exit 0)."""
    with ExitStack() as stack:
        env = {"outcomes": "store"}
        if backend == "postgresql":
            env["serve__store_url"] = stack.enter_context(fresh_postgres("leadloop_badrows"))
        settings = settings_for(project, **env)
        store = FeedbackStore(settings.store_url()).create()
        stack.callback(store.dispose)
        good = _fill_from_export(store, project)
        base = {"lead_id": "L0000001", "outcome": "won", "occurred_at": datetime(2025, 3, 1)}
        rows = [
            {**base, "event_id": eid, "amount": None, "received_at": datetime(2025, 3, 2), **bad}
            for eid, bad, _ in OLD_BAD_ROWS
        ]
        with store.engine.begin() as conn:
            conn.execute(sa.insert(EVENTS), rows)
            if backend == "sqlite":  # a time written by hand: text no reader takes for a time
                conn.execute(
                    sa.text(
                        "insert into feedback_events values "
                        "('bad-text', 'L0000001', 'won', 'last tuesday', null, '2025-03-02')"
                    )
                )
        inputs = load_inputs(settings)
        assert len(inputs.outcomes) == good
        assert not inputs.outcomes["event_id"].str.startswith("bad-").any()
        [warning] = [w for w in inputs.warnings if "stored events excluded" in w]
        for eid, _, reason in OLD_BAD_ROWS:
            assert f"1 with {reason} ({eid})" in warning, warning
        if backend == "sqlite":
            assert "1 with occurred_at unreadable (bad-text)" in warning
        done = invoke_cli(
            "validate",
            cwd=project,
            env={f"LEADLOOP_{k.upper()}": v for k, v in env.items()},
        )
        assert done.returncode == 0, done.stderr
        assert "stored events excluded" in done.stderr and "Traceback" not in done.stderr


def test_a_store_of_only_bad_rows_is_a_clear_error(project: Path) -> None:
    """It refuses to run on a store whose every row is excluded, saying why."""
    settings = settings_for(project, outcomes="store")
    store = FeedbackStore(settings.store_url()).create()
    row = {"event_id": "e", "lead_id": "L1", "outcome": "won", "amount": float("nan")}
    row |= {"occurred_at": datetime(1, 1, 1), "received_at": datetime(2025, 1, 1)}
    with store.engine.begin() as conn:
        conn.execute(sa.insert(EVENTS), [row])
    store.dispose()
    with pytest.raises(InputError, match=r"no usable outcome events \(1 stored events excluded"):
        load_inputs(settings)


def test_a_sqlite_store_is_created_readable_by_its_owner_only(tmp_path: Path) -> None:
    """It creates the SQLite file, and SQLite its journal files, with mode 0600."""
    path = tmp_path / "new" / "feedback.db"
    store = FeedbackStore(f"sqlite:///{path}").create()
    store.add([_event("a")])
    made = [p for p in path.parent.iterdir() if p.name.startswith("feedback.db")]
    assert path in made and len(made) >= 2, made  # the database and its -wal / -shm files
    assert {p.name: p.stat().st_mode & 0o777 for p in made} == {p.name: 0o600 for p in made}
    store.dispose()
