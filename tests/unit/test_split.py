"""The holdout without timestamps: stratified, random, and stable as the table grows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadloop.errors import InputError
from leadloop.split import split_holdout


def _table(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"lead_id": [f"L{i}" for i in range(n)], "label": (rng.random(n) < 0.1).astype(float)}
    )


def test_random_split_is_stratified() -> None:
    """It puts the holdout share of each class in the holdout, with no lead on both sides."""
    table = _table(5000)
    split = split_holdout(table, fraction=0.2, min_rows=50, seed=42)
    assert split.method == "stratified_random"
    assert not set(split.train) & set(split.holdout)
    assert len(split.train) + len(split.holdout) == 5000
    won = table["label"].to_numpy() == 1
    assert abs(won[split.holdout].sum() - round(won.sum() * 0.2)) <= 1
    assert abs(len(split.holdout) - 1000) <= 1


def test_random_split_is_stable_as_rows_are_added() -> None:
    """It keeps almost every holdout lead in the holdout when the table grows and is shuffled."""
    small = _table(4000)
    grown = pd.concat([small, _table(5000, seed=1).iloc[4000:]]).sample(frac=1, random_state=3)
    grown = grown.reset_index(drop=True)
    before = set(
        small["lead_id"].iloc[split_holdout(small, fraction=0.2, min_rows=50, seed=7).holdout]
    )
    after_split = split_holdout(grown, fraction=0.2, min_rows=50, seed=7)
    trained_after = set(grown["lead_id"].iloc[after_split.train])
    moved = len(before & trained_after) / len(before)
    assert moved < 0.05


def test_seed_changes_the_random_split() -> None:
    """It draws another holdout under another seed."""
    table = _table(2000)
    first = split_holdout(table, fraction=0.2, min_rows=50, seed=1).holdout
    second = split_holdout(table, fraction=0.2, min_rows=50, seed=2).holdout
    assert not np.array_equal(first, second)


def test_out_of_time_holdout_is_the_most_recent_leads() -> None:
    """It holds out the newest share of leads, with every lead of the boundary instant held out
    and no training lead newer than any holdout lead."""
    rng = np.random.default_rng(4)
    created = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 200, 1000), unit="D")
    table = _table(1000).assign(created_at=created)
    split = split_holdout(table, fraction=0.2, min_rows=50, seed=0)
    assert split.method == "out_of_time"
    train, held = table["created_at"].iloc[split.train], table["created_at"].iloc[split.holdout]
    assert train.max() < held.min() == split.holdout_start
    assert held.max() == split.holdout_end
    assert (table["created_at"] == split.holdout_start).sum() == (held == held.min()).sum()
    assert 200 <= len(split.holdout) <= 200 + (held == held.min()).sum()
    assert sorted([*split.train, *split.holdout]) == list(range(1000))


def test_too_few_leads_to_split_is_refused() -> None:
    """It refuses a split that leaves fewer than min_rows on either side, naming the setting."""
    with pytest.raises(InputError, match=r"split\.min_holdout_rows"):
        split_holdout(_table(100), fraction=0.2, min_rows=50, seed=0)
