"""What a CRM outcome event may hold: one set of rules for the webhook and for the loop.

The webhook refuses an event that breaks them (422, naming the field) and stores only events
that keep them; the loop, reading the feedback store, excludes a stored row that breaks them
(one stored before these rules existed) and counts it by reason, so a run never fails on what
the store holds. The rules, and why:

- ``event_id``, ``lead_id`` and ``outcome`` are text without control characters (NUL, line
  breaks, C1 codes) or lone surrogates: PostgreSQL cannot store NUL, no UTF-8 encoder can
  write a lone surrogate, and neither belongs in an id a person reads or types;
- ``outcome`` is one of ``outcomes.won_values`` / ``lost_values`` (case and spaces ignored);
- ``amount``, when given, is a finite number from 0 to 2**53 (about 9.0e15): up to there
  float64, the store's type, holds every whole unit exactly, and no deal is that large;
- ``occurred_at`` lies from 1973-03-03 09:46:40 UTC (epoch second 1e8, where the loop's
  epoch numbers begin: an earlier outcome is a placeholder such as 1970-01-01 or 0001-01-01,
  not a deal a CRM recorded) to the receiver's clock plus the signature's replay window (a
  sender's clock may run that far ahead of ours, no further: a CRM reports what happened).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from leadloop.config import OutcomesConfig
from leadloop.data.timestamps import SECONDS_FROM
from leadloop.data.values import naive_utc, outcome_key, outcome_mapping

EARLIEST = datetime.fromtimestamp(SECONDS_FROM, tz=UTC).replace(tzinfo=None)
MAX_AMOUNT = float(2**53)
TEXT_FIELDS = ("event_id", "lead_id", "outcome")
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True)
class Problem:
    """One broken rule: the field, a short reason to count by, and the full message."""

    field: str
    reason: str
    detail: str

    @property
    def message(self) -> str:
        return f"{self.field}: {self.detail}"

    @property
    def key(self) -> str:
        """What exclusions are counted by, e.g. ``amount not finite``."""
        return f"{self.field} {self.reason}"


@dataclass(frozen=True)
class Screened:
    """Stored rows split into the usable events and, by reason, the ids of the others."""

    events: list[dict[str, Any]]
    excluded: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> str:
        """One line: how many rows were excluded, by reason, with the first ids of each."""
        parts = []
        for key, ids in sorted(self.excluded.items()):
            shown = ", ".join(shown_text(i) for i in ids[:3]) + (" ..." if len(ids) > 3 else "")
            parts.append(f"{len(ids)} with {key} ({shown})")
        total = sum(len(ids) for ids in self.excluded.values())
        return f"{total} stored events excluded: " + "; ".join(parts)


class Rules:
    """The rules, with what they are checked against: the won/lost mapping and the latest time
    accepted (``latest_time``). Built once per delivery or per read of the store."""

    def __init__(self, outcomes: OutcomesConfig, *, latest: datetime) -> None:
        self.outcomes = outcomes
        self.latest = latest
        self.mapping = outcome_mapping(outcomes)

    def check(self, event: Mapping[str, Any]) -> list[Problem]:
        """Every rule ``event`` breaks (none: it may be stored and used); ``occurred_at`` is
        naive UTC, or None when it could not be read as a time at all."""
        problems = [p for name in TEXT_FIELDS if (p := _text(name, event.get(name))) is not None]
        outcome = str(event.get("outcome"))  # text, unless a problem above says otherwise
        if outcome_key(outcome) not in self.mapping and all(p.field != "outcome" for p in problems):
            problems.append(_outcome(outcome, self.outcomes))
        stamp = event.get("occurred_at")
        if not (isinstance(stamp, datetime) and EARLIEST <= stamp <= self.latest):
            problems += _time(stamp, latest=self.latest)
        amount = event.get("amount")
        if amount is not None and not (type(amount) is float and 0 <= amount <= MAX_AMOUNT):
            problems += _amount(amount)  # NaN fails every comparison, so it is checked here
        return problems


def check_event(
    event: Mapping[str, Any], outcomes: OutcomesConfig, *, latest: datetime
) -> list[Problem]:
    """Every rule ``event`` breaks, checked once (``Rules`` checks many)."""
    return Rules(outcomes, latest=latest).check(event)


def latest_time(window_seconds: float) -> datetime:
    """The latest ``occurred_at`` accepted now: this clock plus the replay window, naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=window_seconds)


def to_utc(stamp: datetime) -> datetime:
    """Naive UTC; a stamp its zone moves off the calendar (year 1 at +01:00, year 9999 at
    -01:00) becomes the calendar's first or last instant, outside the rules either way."""
    try:
        return naive_utc(stamp)
    except OverflowError:
        return datetime.min if stamp.year == 1 else datetime.max


def screen(
    rows: Iterable[dict[str, Any]], outcomes: OutcomesConfig, *, latest: datetime
) -> Screened:
    """Stored rows checked by the same rules as a delivered event; each bad one excluded and
    counted under the first rule it breaks."""
    rules = Rules(outcomes, latest=latest)
    events: list[dict[str, Any]] = []
    excluded: dict[str, list[str]] = {}
    for row in rows:
        problems = rules.check(row)
        if problems:
            excluded.setdefault(problems[0].key, []).append(str(row.get("event_id")))
        else:
            events.append(row)
    return Screened(events, excluded)


def shown_text(value: str) -> str:
    """``value`` with control characters and lone surrogates escaped: safe in any message."""
    return _UNPRINTABLE.sub(lambda m: ascii(m.group())[1:-1], value)


def _text(name: str, value: Any) -> Problem | None:
    if not isinstance(value, str) or not value:
        return Problem(name, "missing", "is missing or not text")
    found = _UNPRINTABLE.search(value)
    if found is None:
        return None
    char = found.group()
    kind = "a lone surrogate" if "\ud800" <= char <= "\udfff" else "a control character"
    detail = f"holds {kind} (U+{ord(char):04X}) at character {found.start() + 1}"
    return Problem(name, "unprintable", detail + "; send printable text")


def _outcome(value: str, outcomes: OutcomesConfig) -> Problem:
    detail = (
        f"'{value}' is neither a won nor a lost value "
        f"({outcomes.won_values} / {outcomes.lost_values})"
    )
    return Problem("outcome", "not in the mapping", detail)


def _time(stamp: Any, *, latest: datetime) -> list[Problem]:
    if not isinstance(stamp, datetime):
        return [Problem("occurred_at", "unreadable", "is not a readable time")]
    if stamp < EARLIEST:
        detail = (
            f"{stamp.isoformat()} is before {EARLIEST.isoformat()} UTC (epoch second 1e8): "
            "a placeholder, not when a deal was decided"
        )
        return [Problem("occurred_at", "before 1973", detail)]
    if stamp > latest:
        detail = (
            f"{stamp.isoformat()} is in the future (after {latest.isoformat(timespec='seconds')} "
            "UTC: this clock plus the replay window)"
        )
        return [Problem("occurred_at", "in the future", detail)]
    return []


def _amount(value: Any) -> list[Problem]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return [Problem("amount", "not a number", "is not a number")]
    if not math.isfinite(value):
        return [Problem("amount", "not finite", f"must be a finite number, not {value}")]
    if value < 0:
        return [Problem("amount", "negative", f"must be at least 0, not {value}")]
    if value > MAX_AMOUNT:
        detail = f"{value:.3g} is above 2**53 (9.0e15), the most the store holds to the unit"
        return [Problem("amount", "too large", detail)]
    return []
