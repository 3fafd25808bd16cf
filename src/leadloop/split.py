"""The holdout: the most recent labelled leads, so models are judged on the future they face;
without creation times, a stratified random split that stays put as the table grows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from leadloop.columns import CREATED_AT, LABEL, LEAD_ID
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
    if CREATED_AT not in labeled.columns:
        return _random_split(labeled, fraction=fraction, min_rows=min_rows, seed=seed)
    created = labeled[CREATED_AT].to_numpy()
    order = np.argsort(created, kind="stable")
    boundary = created[order[min(n - 1, int(np.floor(n * (1 - fraction))))]]
    holdout = np.flatnonzero(created >= boundary)
    train = np.flatnonzero(created < boundary)
    _check_sizes(len(train), len(holdout), min_rows=min_rows)
    return Split(
        train, holdout, "out_of_time", pd.Timestamp(boundary), pd.Timestamp(created[holdout].max())
    )


def _random_split(labeled: pd.DataFrame, *, fraction: float, min_rows: int, seed: int) -> Split:
    """Stratified by label, random by a seeded hash of each lead id rather than by position.

    Within each class the leads with the lowest hashes make up the holdout, so a lead keeps its
    side when rows are added or reordered (only leads at the boundary can move): a champion
    trained on an earlier version of the table is then judged on leads it has not seen.
    """
    y = labeled[LABEL].to_numpy()
    keys = labeled[LEAD_ID].astype(str) + f"\0{seed}"
    rank = pd.util.hash_pandas_object(keys, index=False).to_numpy()
    holdout_mask = np.zeros(len(labeled), dtype=bool)
    for value in np.unique(y):
        members = np.flatnonzero(y == value)
        take = round(len(members) * fraction)
        holdout_mask[members[np.argsort(rank[members], kind="stable")[:take]]] = True
    train, holdout = np.flatnonzero(~holdout_mask), np.flatnonzero(holdout_mask)
    _check_sizes(len(train), len(holdout), min_rows=min_rows)
    return Split(train, holdout, "stratified_random", None, None)


def _check_sizes(train: int, holdout: int, *, min_rows: int) -> None:
    if holdout < min_rows or train < min_rows:
        raise InputError(
            f"too few labelled leads to split: {train} for training and {holdout} "
            f"for the holdout (at least {min_rows} each; see split.min_holdout_rows)"
        )


def _iso(value: pd.Timestamp | None) -> str | None:
    return None if value is None else value.isoformat()
