"""Point-in-time labelling rules, each on hand-made events."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from leadloop.data.labels import EXCLUSION_REASONS, LabelResult, label_leads

CUTOFF = pd.Timestamp("2025-06-01")


def _leads(*created: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lead_id": [f"L{i}" for i in range(len(created))],
            "created_at": pd.to_datetime(list(created)),
        }
    )


def _events(*rows: tuple[object, str, str | None]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["lead_id", "outcome", "occurred_at"])
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"])
    frame["event_id"] = [f"E{i}" for i in range(len(frame))]
    frame["amount"] = np.nan
    return frame


def _label(leads: pd.DataFrame, events: pd.DataFrame, **kw: object) -> LabelResult:
    return label_leads(leads, events, cutoff=CUTOFF, **kw)  # type: ignore[arg-type]


def _status(result: LabelResult) -> list[str]:
    return result.labels["status"].tolist()


def test_won_and_lost_before_cutoff() -> None:
    """It labels a lead won or lost by its event before the cutoff."""
    r = _label(
        _leads("2025-05-01", "2025-05-01"),
        _events(("L0", "won", "2025-05-10"), ("L1", "lost", "2025-05-11")),
    )
    assert _status(r) == ["won", "lost"]
    assert r.labels["label"].tolist() == [1.0, 0.0]
    assert r.labels["outcome_at"].iloc[0] == pd.Timestamp("2025-05-10")


@pytest.mark.parametrize(
    ("first", "second", "expected"), [("won", "lost", "lost"), ("lost", "won", "won")]
)
def test_latest_event_wins(first: str, second: str, expected: str) -> None:
    """It uses the latest event before the cutoff when a lead has several."""
    r = _label(
        _leads("2025-05-01"), _events(("L0", second, "2025-05-20"), ("L0", first, "2025-05-10"))
    )
    assert _status(r) == [expected]


def test_event_after_cutoff_is_ignored_and_counted() -> None:
    """It ignores and counts an event at or after the cutoff (in the future as of then)."""
    r = _label(
        _leads("2025-05-01"), _events(("L0", "won", "2025-06-01"), ("L0", "lost", "2025-05-02"))
    )
    assert _status(r) == ["lost"]
    assert r.event_exclusions["after_cutoff"] == 1


def test_event_before_creation_is_counted() -> None:
    """It excludes and counts an event dated before its lead was created."""
    r = _label(_leads("2025-05-01"), _events(("L0", "won", "2025-04-30")))
    assert _status(r) == ["censored"]
    assert r.event_exclusions["before_created"] == 1


def test_unknown_and_missing_lead_ids_are_counted() -> None:
    """It counts events for unknown leads and events with no lead id."""
    r = _label(
        _leads("2025-05-01"), _events(("L9", "won", "2025-05-10"), (None, "won", "2025-05-10"))
    )
    assert r.event_exclusions["unknown_lead"] == 1
    assert r.event_exclusions["missing_lead_id"] == 1


def test_missing_timestamp_is_counted() -> None:
    """It counts an event with no time."""
    r = _label(_leads("2025-05-01"), _events(("L0", "won", None)))
    assert r.event_exclusions["missing_timestamp"] == 1
    assert _status(r) == ["censored"]


def test_duplicate_event_id_counted_once() -> None:
    """It keeps the first event of a repeated event id and counts the repeats."""
    events = _events(("L0", "won", "2025-05-10"), ("L0", "lost", "2025-05-12"))
    events["event_id"] = ["E1", "E1"]
    r = _label(_leads("2025-05-01"), events)
    assert _status(r) == ["won"]
    assert r.event_exclusions["duplicate_event_id"] == 1


def test_same_instant_conflict_is_excluded() -> None:
    """It excludes a lead with won and lost at the same latest instant and counts its events."""
    r = _label(
        _leads("2025-05-01"), _events(("L0", "won", "2025-05-10"), ("L0", "lost", "2025-05-10"))
    )
    assert _status(r) == ["conflict"]
    assert np.isnan(r.labels["label"].iloc[0])
    assert r.event_exclusions["conflict"] == 2


def test_same_instant_same_outcome_is_fine() -> None:
    """It accepts two won events at the same instant."""
    r = _label(
        _leads("2025-05-01"), _events(("L0", "won", "2025-05-10"), ("L0", "won", "2025-05-10"))
    )
    assert _status(r) == ["won"]


def test_matured_without_event() -> None:
    """It labels an old lead with no event lost, or excludes it when configured."""
    leads = _leads("2025-01-01")
    assert _status(_label(leads, _events())) == ["lost_matured"]
    r = _label(leads, _events(), unmatured="exclude")
    assert _status(r) == ["excluded_unmatured"]
    assert np.isnan(r.labels["label"].iloc[0])


def test_young_without_event_is_censored() -> None:
    """It leaves a lead younger than the maturity window with no event unlabelled."""
    assert _status(_label(_leads("2025-05-01"), _events())) == ["censored"]


def test_maturity_boundary() -> None:
    """It treats a lead exactly maturity_days old as mature."""
    boundary = (CUTOFF - pd.Timedelta(days=90)).isoformat()
    just_young = (CUTOFF - pd.Timedelta(days=90) + pd.Timedelta(seconds=1)).isoformat()
    r = _label(_leads(boundary, just_young), _events())
    assert _status(r) == ["lost_matured", "censored"]


def test_lead_created_after_cutoff() -> None:
    """It gives no label to a lead created at or after the cutoff."""
    r = _label(_leads("2025-06-02"), _events(("L0", "won", "2025-06-03")))
    assert _status(r) == ["created_after_cutoff"]
    assert r.event_exclusions["after_cutoff"] == 1


def test_leads_without_created_at() -> None:
    """It treats leads without a creation time as mature and never as created late."""
    leads = _leads("2025-05-01", "2025-05-01").drop(columns=["created_at"])
    r = _label(leads, _events(("L0", "won", "2025-05-10")))
    assert _status(r) == ["won", "lost_matured"]


def test_invariants_on_random_events() -> None:
    """It counts every event once and every lead once, and keeps the input order."""
    rng = np.random.default_rng(0)
    n = 300
    leads = pd.DataFrame(
        {
            "lead_id": [f"L{i}" for i in range(n)],
            "created_at": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.uniform(0, 200, n), "D"),
        }
    ).sample(frac=1, random_state=1)
    m = 600
    ids = rng.integers(0, n + 20, m).astype(object)
    events = pd.DataFrame(
        {
            "lead_id": [f"L{i}" if rng.uniform() > 0.03 else None for i in ids],
            "outcome": rng.choice(["won", "lost"], m),
            "occurred_at": pd.Timestamp("2025-01-01")
            + pd.to_timedelta(rng.integers(0, 60, m) * 4, "D"),
            "event_id": [f"E{i}" for i in rng.integers(0, 560, m)],
            "amount": np.nan,
        }
    )
    r = label_leads(leads, events, cutoff=CUTOFF)
    assert sum(r.event_exclusions.values()) + r.events_used == m
    assert sum(r.lead_counts.values()) == n
    assert r.labels["lead_id"].tolist() == leads["lead_id"].tolist()
    assert set(r.event_exclusions) == set(EXCLUSION_REASONS)
    json.dumps(r.to_dict())


def test_a_never_worked_lead_is_not_labelled_lost() -> None:
    """It censors an old lead nobody worked once the CRM records activity, labels a worked lead
    with no outcome lost, and counts the never-worked leads."""
    leads = _leads("2025-01-01", "2025-01-01", "2025-01-01", "2025-05-20")
    events = _events(
        ("L0", "worked", "2025-01-05"),
        ("L1", "won", "2025-02-01"),
        ("L3", "worked", "2025-05-21"),
    )
    r = _label(leads, events)
    assert _status(r) == ["lost_matured", "won", "never_worked", "censored"]
    assert r.labels["label"].tolist()[:2] == [0.0, 1.0]
    assert np.isnan(r.labels["label"].iloc[2])
    assert r.worked_known and r.lead_counts["never_worked"] == 1
    assert r.to_dict()["worked_known"] is True and r.events_used == 3


def test_without_activity_events_unworked_leads_are_lost_as_before() -> None:
    """It keeps the maturity rule, and says worked is unknown, when no worked event is seen."""
    r = _label(_leads("2025-01-01"), _events())
    assert _status(r) == ["lost_matured"] and not r.worked_known


def test_a_worked_event_decides_nothing_by_itself() -> None:
    """It lets a later activity event leave the lead's won/lost outcome as it was."""
    events = _events(("L0", "lost", "2025-02-01"), ("L0", "worked", "2025-03-01"))
    r = _label(_leads("2025-01-01"), events)
    assert _status(r) == ["lost"]
