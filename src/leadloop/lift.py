"""Deciles, lift and revenue when leads are worked best-first, and the won amount per lead.

Leads are ranked by probability, highest first, ties in holdout order (the same order as
``evaluate``'s top-decile figures, so decile 1 here is the metrics table's top decile), and cut
into ten groups as equal as the count allows (the first ones one lead larger). Revenue is the
sum of the won deals' amounts; a won lead whose outcome had no amount counts as unknown, and
the tables say how many won leads that is.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from leadloop.columns import AMOUNT, LEAD_ID, OCCURRED_AT, OUTCOME


@dataclass(frozen=True)
class Decile:
    """One tenth of the leads, in the model's order."""

    decile: int  # 1 is the best-scored tenth
    leads: int
    won: int
    conversion: float
    lift: float  # conversion over the holdout's base rate
    cumulative_recall: float  # share of all won leads in this and the better deciles
    mean_probability: float
    revenue: float | None  # won amounts in this decile; None without amounts
    cumulative_revenue_share: float | None


@dataclass(frozen=True)
class DecileTable:
    """A model's ten deciles on one labelled set."""

    role: str
    rows: list[Decile]
    leads: int
    won: int
    revenue: float | None
    won_without_amount: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Capture:
    """What working the top ``capacity`` share of leads by one model finds."""

    role: str
    capacity: float
    worked: int
    won: int
    recall: float
    revenue: float | None
    revenue_share: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def has_amounts(amount: np.ndarray | None, y: np.ndarray) -> bool:
    """True when at least one won lead has a known amount."""
    if amount is None:
        return False
    a = np.asarray(amount, dtype=np.float64)
    return bool(np.isfinite(a[np.asarray(y) == 1]).any())


def decile_table(
    y: np.ndarray, p: np.ndarray, *, role: str, amount: np.ndarray | None = None, bins: int = 10
) -> DecileTable:
    """The decile table of probabilities ``p`` against 0/1 ``y`` (and won ``amount``)."""
    y = np.asarray(y, dtype=np.float64)
    order = np.argsort(-np.asarray(p, dtype=np.float64), kind="stable")
    money = _revenue(y, amount)
    total_won = float(y.sum())
    base = total_won / len(y) if len(y) else 0.0
    total_money = float(money.sum()) if money is not None else None
    rows, found, found_money = [], 0.0, 0.0
    for k, group in enumerate(np.array_split(order, bins), start=1):
        if not len(group):
            continue
        won = float(y[group].sum())
        found += won
        rate = won / len(group)
        revenue = float(money[group].sum()) if money is not None else None
        found_money += revenue or 0.0
        rows.append(
            Decile(
                decile=k,
                leads=len(group),
                won=int(won),
                conversion=rate,
                lift=rate / base if base else math.nan,
                cumulative_recall=found / total_won if total_won else math.nan,
                mean_probability=float(np.mean(np.asarray(p)[group])),
                revenue=revenue,
                cumulative_revenue_share=(found_money / total_money if total_money else None),
            )
        )
    return DecileTable(role, rows, len(y), int(total_won), total_money, _unknown(y, amount))


def capture_at_capacity(
    y: np.ndarray,
    p: np.ndarray,
    *,
    role: str,
    capacity: float,
    amount: np.ndarray | None = None,
) -> Capture:
    """Won leads and revenue in the top ``capacity`` share of leads (at least one lead)."""
    y = np.asarray(y, dtype=np.float64)
    k = min(len(y), max(1, math.ceil(capacity * len(y))))
    top = np.argsort(-np.asarray(p, dtype=np.float64), kind="stable")[:k]
    money = _revenue(y, amount)
    won = float(y[top].sum())
    total = float(y.sum())
    revenue, share = None, None
    if money is not None:
        revenue = float(money[top].sum())
        share = revenue / float(money.sum()) if money.sum() > 0 else None
    return Capture(role, capacity, k, int(won), won / total if total else math.nan, revenue, share)


def _revenue(y: np.ndarray, amount: np.ndarray | None) -> np.ndarray | None:
    """Each lead's won amount (0 for lost and for won leads without an amount), or None."""
    if not has_amounts(amount, y):
        return None
    a = np.asarray(amount, dtype=np.float64)
    return np.where((y == 1) & np.isfinite(a), a, 0.0)


def _unknown(y: np.ndarray, amount: np.ndarray | None) -> int:
    won = np.asarray(y) == 1
    if amount is None:
        return int(won.sum())
    return int((won & ~np.isfinite(np.asarray(amount, dtype=np.float64))).sum())


def won_amounts(outcomes: pd.DataFrame, *, cutoff: pd.Timestamp) -> pd.Series:
    """Per lead id, the amount of its latest won event with an amount before ``cutoff``.

    Only leads labelled won should be given an amount from this; a lead without any such event
    is absent (its amount is unknown).
    """
    if AMOUNT not in outcomes.columns or outcomes.empty:
        return pd.Series(dtype="float64")
    events = outcomes[
        (outcomes[OUTCOME] == "won")
        & outcomes[AMOUNT].notna()
        & outcomes[LEAD_ID].notna()
        & (outcomes[OCCURRED_AT] < cutoff)
    ]
    latest = events.sort_values(OCCURRED_AT, kind="stable").groupby(LEAD_ID)[AMOUNT].last()
    return latest.astype("float64")


def holdout_amounts(lead_ids: np.ndarray, labels: np.ndarray, amounts: pd.Series) -> np.ndarray:
    """The won amount of each holdout lead: its deal's amount if won (NaN if unknown), 0 if lost."""
    found = amounts.reindex(pd.Index(lead_ids)).to_numpy(dtype=np.float64)
    return np.where(np.asarray(labels) == 1, found, 0.0)
