"""Property-based tests: any input either loads or raises the project's own error."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadloop.config import LeadsConfig, OutcomesConfig
from leadloop.data import io
from leadloop.data.labels import label_leads
from leadloop.data.schema import prepare_leads, prepare_outcomes
from leadloop.errors import InputError

CELLS = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12),
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", "NA", "null", "2025-01-01", "2025-13-45", "yes", "no", "Closed Won"]),
)
HEADER = st.lists(
    st.sampled_from(
        ["lead_id", "created_at", "outcome", "occurred_at", "amount", "size", "source", "x"]
    ),
    min_size=1,
    max_size=5,
)


def _csv(header: list[str], rows: list[list[str]], sep: str) -> bytes:
    lines = [sep.join(header)] + [sep.join(r[: len(header)]) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8", errors="replace")


@settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(content=st.binary(max_size=2000))
def test_any_bytes_load_or_raise_input_error(content: bytes) -> None:
    """It reads arbitrary bytes as a table or raises InputError, never another exception."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "leads.csv"
        path.write_bytes(content)
        try:
            frame = io.read_table(path)
            prepare_leads(frame, LeadsConfig(), source=str(path))
        except InputError:
            pass


@settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    header=HEADER,
    rows=st.lists(st.lists(CELLS, min_size=5, max_size=5), max_size=15),
    sep=st.sampled_from([",", ";", "\t", "|"]),
)
def test_any_table_loads_or_raises_input_error(
    header: list[str], rows: list[list[str]], sep: str
) -> None:
    """It validates arbitrary CSV-shaped leads and outcomes or raises InputError."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        path.write_bytes(_csv(header, rows, sep))
        try:
            frame = io.read_table(path)
            leads = prepare_leads(frame, LeadsConfig(), source="leads")
            outcomes = prepare_outcomes(
                frame, OutcomesConfig(), source="outcomes", leads=leads.frame
            )
            label_leads(leads.frame, outcomes, cutoff=pd.Timestamp("2026-01-01"))
        except InputError:
            pass


EVENT = st.tuples(
    st.sampled_from(["a", "b", "c", "zz", None]),
    st.sampled_from(["won", "lost"]),
    st.one_of(
        st.none(),
        st.datetimes(
            min_value=pd.Timestamp("2024-01-01").to_pydatetime(),
            max_value=pd.Timestamp("2027-01-01").to_pydatetime(),
        ),
    ),
    st.sampled_from(["e1", "e2", "e3", None]),
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    events=st.lists(EVENT, max_size=30),
    created=st.lists(
        st.datetimes(
            min_value=pd.Timestamp("2024-01-01").to_pydatetime(),
            max_value=pd.Timestamp("2027-01-01").to_pydatetime(),
        ),
        min_size=3,
        max_size=3,
    ),
    maturity=st.integers(1, 400),
    unmatured=st.sampled_from(["lost", "exclude"]),
)
def test_labeller_counts_everything(
    events: list[tuple[object, ...]], created: list[object], maturity: int, unmatured: str
) -> None:
    """It labels any events without error and accounts for every event and every lead."""
    leads = pd.DataFrame(
        {"lead_id": ["a", "b", "c"], "created_at": pd.to_datetime(pd.Series(created))}
    )
    frame = pd.DataFrame(events, columns=["lead_id", "outcome", "occurred_at", "event_id"])
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"])
    frame["amount"] = float("nan")
    result = label_leads(
        leads,
        frame,
        cutoff=pd.Timestamp("2026-01-01"),
        maturity_days=maturity,
        unmatured="lost" if unmatured == "lost" else "exclude",
    )
    assert sum(result.event_exclusions.values()) + result.events_used == len(frame)
    assert sum(result.lead_counts.values()) == 3
    assert set(result.labels["label"].dropna().unique()) <= {0.0, 1.0}
