"""The rules a feedback event keeps, shared by the webhook and the loop reading the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from leadloop.config import OutcomesConfig
from leadloop.data.events import (
    EARLIEST,
    MAX_AMOUNT,
    check_event,
    latest_time,
    screen,
    shown_text,
    to_utc,
)

LATEST = datetime(2026, 1, 1, 12, 0)


def _event(**extra: Any) -> dict[str, Any]:
    return {
        "event_id": "e1",
        "lead_id": "L1",
        "outcome": " Closed WON ",
        "occurred_at": datetime(2025, 6, 1),
        "amount": 1200.0,
        **extra,
    }


def test_a_valid_event_breaks_no_rule_at_the_bounds() -> None:
    """It accepts the earliest and latest times, amounts 0 and 2**53, and no amount."""
    for extra in (
        {"occurred_at": EARLIEST, "amount": 0.0},
        {"occurred_at": LATEST, "amount": MAX_AMOUNT},
        {"amount": None},
    ):
        assert check_event(_event(**extra), OutcomesConfig(), latest=LATEST) == []


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ({"amount": float("inf")}, "amount not finite"),
        ({"amount": float("nan")}, "amount not finite"),
        ({"amount": MAX_AMOUNT * 2}, "amount too large"),
        ({"amount": -0.01}, "amount negative"),
        ({"amount": "12"}, "amount not a number"),
        ({"occurred_at": EARLIEST - timedelta(seconds=1)}, "occurred_at before 1973"),
        ({"occurred_at": LATEST + timedelta(seconds=1)}, "occurred_at in the future"),
        ({"occurred_at": None}, "occurred_at unreadable"),
        ({"event_id": "a\x00"}, "event_id unprintable"),
        ({"lead_id": "L\ud83d"}, "lead_id unprintable"),
        ({"lead_id": "L\x85"}, "lead_id unprintable"),
        ({"lead_id": ""}, "lead_id missing"),
        ({"outcome": "maybe"}, "outcome not in the mapping"),
    ],
)
def test_each_broken_rule_is_named_by_field_and_reason(extra: dict[str, Any], key: str) -> None:
    """It reports the field and the reason an event breaks a rule by."""
    problems = check_event(_event(**extra), OutcomesConfig(), latest=LATEST)
    assert [p.key for p in problems] == [key]
    assert problems[0].message.startswith(key.split()[0] + ": ")


def test_printable_text_of_every_script_passes() -> None:
    """It accepts ids in any script, emoji and spaces: only control codes and lone surrogates
    are refused."""
    for text in ("Zoë Ωμέγα 東京 🚀 مرحبا", "L-1 / 2", "\u00a0nbsp"):
        assert check_event(_event(lead_id=text), OutcomesConfig(), latest=LATEST) == []


def test_a_zone_that_leaves_the_calendar_is_out_of_range() -> None:
    """It reads year 1 at +01:00 as before 1973 and year 9999 at -01:00 as in the future."""
    early = to_utc(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))))
    late = to_utc(datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-1))))
    assert early < EARLIEST and late > LATEST
    assert to_utc(datetime(2025, 6, 1, 12, tzinfo=timezone(timedelta(hours=2)))) == datetime(
        2025, 6, 1, 10
    )


def test_screen_keeps_good_rows_and_counts_the_others_by_reason() -> None:
    """It excludes each bad stored row under its first broken rule and lists its id."""
    rows = [
        _event(event_id="ok"),
        _event(event_id="inf", amount=float("inf")),
        _event(event_id="old", occurred_at=datetime(1, 1, 1)),
        _event(event_id="old2", occurred_at=datetime(1970, 1, 1)),
    ]
    screened = screen(rows, OutcomesConfig(), latest=LATEST)
    assert [e["event_id"] for e in screened.events] == ["ok"]
    assert screened.excluded == {
        "amount not finite": ["inf"],
        "occurred_at before 1973": ["old", "old2"],
    }
    assert screened.summary() == (
        "3 stored events excluded: 1 with amount not finite (inf); "
        "2 with occurred_at before 1973 (old, old2)"
    )


def test_shown_text_escapes_what_cannot_be_printed() -> None:
    """It escapes NUL, line breaks and lone surrogates and leaves the rest as it is."""
    assert shown_text("a\x00b\nc\ud800é") == "a\\x00b\\nc\\ud800é"


def test_the_latest_time_is_the_clock_plus_the_window() -> None:
    """It allows a sender's clock to run ahead of ours by the replay window, no more."""
    now = datetime.now(UTC).replace(tzinfo=None)
    assert abs(latest_time(300) - now - timedelta(seconds=300)) < timedelta(seconds=5)
