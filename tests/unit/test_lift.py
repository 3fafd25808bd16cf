"""Deciles, lift and revenue when leads are worked best-first; won amounts per lead."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from leadloop.evaluate import compute_metrics
from leadloop.lift import (
    capture_at_capacity,
    decile_table,
    holdout_amounts,
    won_amounts,
)

# 20 leads, best first: won at ranks 1, 2, 3, 6 and 11; each won deal is worth its rank x 100.
P = np.linspace(0.95, 0.0, 20)
Y = np.zeros(20)
Y[[0, 1, 2, 5, 10]] = 1
AMOUNT = np.where(Y == 1, (np.arange(20) + 1) * 100.0, 0.0)


def test_deciles_count_conversion_lift_and_recall() -> None:
    """It cuts 20 leads into ten pairs best first, with conversion, lift and cumulative recall."""
    table = decile_table(Y, P, role="champion", amount=AMOUNT)
    assert [d.leads for d in table.rows] == [2] * 10
    assert [d.won for d in table.rows] == [2, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    assert table.rows[0].conversion == 1.0 and table.rows[0].lift == pytest.approx(1.0 / 0.25)
    assert [d.cumulative_recall for d in table.rows][:3] == [0.4, 0.6, 0.8]
    assert table.rows[-1].cumulative_recall == 1.0
    assert [d.revenue for d in table.rows][:3] == [300.0, 300.0, 600.0]
    assert table.revenue == 300 + 300 + 600 + 1100 and table.won_without_amount == 0


def test_first_decile_is_the_metrics_top_decile() -> None:
    """It ranks ties in holdout order, so decile 1 is evaluate's top decile, ties included."""
    rng = np.random.default_rng(4)
    p = np.round(rng.uniform(size=997), 1)  # heavy ties
    y = (rng.uniform(size=997) < p).astype(float)
    first = decile_table(y, p, role="x").rows[0]
    metrics = compute_metrics(y, p)
    assert first.leads == math.ceil(997 / 10)
    assert first.conversion == pytest.approx(metrics.top_decile_conversion)
    assert first.lift == pytest.approx(metrics.top_decile_lift)


def test_no_amounts_means_no_revenue() -> None:
    """It reports no revenue, not zero revenue, when no won lead has an amount."""
    table = decile_table(Y, P, role="champion", amount=np.full(20, np.nan))
    assert table.revenue is None and all(d.revenue is None for d in table.rows)
    assert table.won_without_amount == 5
    capture = capture_at_capacity(Y, P, role="champion", capacity=0.2)
    assert capture.revenue is None and capture.revenue_share is None


def test_capture_within_capacity() -> None:
    """It finds the won leads and revenue in the top capacity share (rounded up) of leads."""
    capture = capture_at_capacity(Y, P, role="champion", capacity=0.21, amount=AMOUNT)
    assert capture.worked == 5 and capture.won == 3 and capture.recall == pytest.approx(0.6)
    assert capture.revenue == 600.0 and capture.revenue_share == pytest.approx(600 / 2300)
    unknown = AMOUNT.copy()
    unknown[1] = np.nan  # a won deal without an amount counts as nothing found
    assert capture_at_capacity(Y, P, role="c", capacity=0.21, amount=unknown).revenue == 400.0


def test_won_amounts_take_the_latest_won_event_before_the_cutoff() -> None:
    """It keeps each lead's latest won amount before the cutoff; lost and later events do not
    count."""
    at = pd.Timestamp("2026-03-01")
    outcomes = pd.DataFrame(
        {
            "lead_id": ["a", "a", "b", "c", "d", None],
            "outcome": ["won", "won", "lost", "won", "won", "won"],
            "occurred_at": [at, at + pd.Timedelta(days=2), at, at + pd.Timedelta(days=30), at, at],
            "amount": [100.0, 250.0, 999.0, 50.0, np.nan, 7.0],
        }
    )
    found = won_amounts(outcomes, cutoff=at + pd.Timedelta(days=10))
    assert found.to_dict() == {"a": 250.0}
    amounts = holdout_amounts(np.array(["a", "b", "d"]), np.array([1, 0, 1]), found)
    assert amounts[0] == 250.0 and amounts[1] == 0.0 and np.isnan(amounts[2])
