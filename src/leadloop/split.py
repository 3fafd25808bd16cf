"""The holdout: the most recent labelled leads, so models are judged on the future they face."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from leadloop.errors import InputError


@dataclass(frozen=True)
class Split:
    """Row positions (into the labelled table) for training and for the shared holdout."""

    train: np.ndarray
    holdout: np.ndarray
    method: str
    holdout_start: pd.Timestamp | None
    holdout_end: pd.Timestamp | None

    def to_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "train_rows": len(self.train),
            "holdout_rows": len(self.holdout),
            "holdout_start": _iso(self.holdout_start),
            "holdout_end": _iso(self.holdout_end),
        }


def split_holdout(labeled: pd.DataFrame, *, fraction: float, min_rows: int, seed: int) -> Split:
    """Out-of-time split on ``created_at`` when present, else stratified random.

    Leads created at the boundary instant all go to the holdout, so no training lead is newer
    than any holdout lead.
    """
    n = len(labeled)
    if n == 0:
        raise InputError(
            "no labelled leads as of the cutoff: there is nothing to train or "
            "evaluate on (check the outcome mapping, the cutoff and the maturity "
            "window)"
        )
    if "created_at" not in labeled.columns:
        return _random_split(labeled, fraction=fraction, min_rows=min_rows, seed=seed)
    created = labeled["created_at"].to_numpy()
    order = np.argsort(created, kind="stable")
    boundary = created[order[min(n - 1, int(np.floor(n * (1 - fraction))))]]
    holdout = np.flatnonzero(created >= boundary)
    train = np.flatnonzero(created < boundary)
    _check_sizes(len(train), len(holdout), min_rows=min_rows)
    return Split(
        train, holdout, "out_of_time", pd.Timestamp(boundary), pd.Timestamp(created[holdout].max())
    )


def _random_split(labeled: pd.DataFrame, *, fraction: float, min_rows: int, seed: int) -> Split:
    y = labeled["label"].to_numpy()
    index = np.arange(len(labeled))
    stratify = y if min(y.sum(), len(y) - y.sum()) >= 2 else None
    train, holdout = train_test_split(
        index, test_size=fraction, stratify=stratify, random_state=seed
    )
    _check_sizes(len(train), len(holdout), min_rows=min_rows)
    return Split(np.sort(train), np.sort(holdout), "stratified_random", None, None)


def _check_sizes(train: int, holdout: int, *, min_rows: int) -> None:
    if holdout < min_rows or train < min_rows:
        raise InputError(
            f"too few labelled leads to split: {train} for training and {holdout} "
            f"for the holdout (at least {min_rows} each; see split.min_holdout_rows)"
        )


def _iso(value: pd.Timestamp | None) -> str | None:
    return None if value is None else value.isoformat()
