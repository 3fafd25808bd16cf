"""Champion vs challenger within each value of a categorical feature."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadloop.segments import segment_performance


def _holdout(seed: int = 0, n: int = 6000) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    source = rng.choice(["web", "referral", "event"], size=n, p=[0.5, 0.4, 0.1])
    region = rng.choice(np.array(["EU", "US"], dtype=object), size=n)
    region[rng.uniform(size=n) < 0.05] = None
    signal = rng.normal(size=n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(signal * 2 - 1.5)))).astype(float)
    return pd.DataFrame({"source": source, "region": region, "tiny": "x"}), y, signal


def test_flags_the_segment_where_the_challenger_is_worse() -> None:
    """It flags "worse" where the challenger's ranking is noise and nowhere else."""
    frame, y, signal = _holdout()
    noise = np.random.default_rng(1).normal(size=len(y))
    challenger = np.where(frame["source"] == "referral", noise, signal)
    report = segment_performance(
        frame, y=y, champion=signal, challenger=challenger, features=["source"]
    )
    flags = {(s.feature, s.value): s.flag for s in report.segments}
    assert flags[("source", "referral")] == "worse"
    assert [s.value for s in report.worse()] == ["referral"]
    assert flags[("source", "web")] in ("lower, not proven", "higher, not proven")


def test_small_segments_are_counted_not_judged() -> None:
    """It judges a segment only with min_minority leads of each outcome, counting the rest."""
    frame, y, signal = _holdout(n=1500)
    report = segment_performance(
        frame,
        y=y,
        champion=signal,
        challenger=signal,
        features=["source", "region"],
        min_minority=60,
    )
    for s in report.segments:
        assert min(s.won, s.leads - s.won) >= 60
    judged = {(s.feature, s.value) for s in report.segments}
    assert ("region", "(missing)") not in judged
    assert sum(report.too_small.values()) + len(judged) == 3 + 3  # values incl. "(missing)"


def test_intervals_are_adjusted_for_the_number_of_segments() -> None:
    """It widens every interval to the Bonferroni level over the segments judged."""
    frame, y, signal = _holdout(2)
    other = signal + np.random.default_rng(3).normal(scale=0.5, size=len(y))
    report = segment_performance(
        frame, y=y, champion=signal, challenger=other, features=["source", "region"]
    )
    k = len(report.segments)
    assert k >= 4 and report.adjusted_confidence == pytest.approx(1 - 0.05 / k)
    for s in report.segments:
        assert s.lower <= s.difference <= s.upper
        assert s.challenger_auc == pytest.approx(s.champion_auc + s.difference)
