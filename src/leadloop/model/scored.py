"""One model's margins on a set of leads, computed once and looked up by lead id.

A run asks the champion about the newest leads three times over: the holdout (its probabilities
and, for the label checks, its uncalibrated ones), drift (the newest leads themselves) and the
young leads (the estimate of what has not matured). All three are among the newest leads, and a
lead's margin does not depend on which others are scored with it, so they are scored once: at a
million leads each repeat cost seconds. A lead not among them is scored when asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from leadloop.columns import LEAD_ID
from leadloop.model.train import LeadModel


@dataclass(frozen=True)
class Scored:
    """``model``'s encoded matrix and raw margins for the rows of ``frame``."""

    model: LeadModel
    frame: pd.DataFrame
    matrix: np.ndarray
    margin: np.ndarray

    @classmethod
    def of(cls, model: LeadModel, frame: pd.DataFrame, *, source: str) -> Scored:
        """Encode and score ``frame`` (``source`` names it in an error about its values)."""
        matrix = model.encoder.transform(frame, source=source)
        return cls(model, frame, matrix, _margin(model, matrix))

    @property
    def proba(self) -> np.ndarray:
        """Calibrated probabilities of ``frame``'s rows."""
        return self.model.calibrator.predict(self.margin)

    @cached_property
    def _ids(self) -> pd.Index | None:
        """The scored leads' ids, hashed once for every look-up; None when they are missing or
        repeated (a look-up would have to guess which row is meant)."""
        if LEAD_ID not in self.frame.columns:
            return None
        ids = pd.Index(self.frame[LEAD_ID])
        return ids if ids.is_unique else None

    def margin_of(self, rows: pd.DataFrame, *, source: str) -> np.ndarray:
        """Raw margins of ``rows`` (leads with a ``lead_id``): looked up where scored, computed
        for the others."""
        at = np.full(len(rows), -1)
        if self._ids is not None and LEAD_ID in rows.columns:
            at = self._ids.get_indexer(pd.Index(rows[LEAD_ID]))
        out = self.margin[at] if len(self.margin) else np.zeros(len(rows))  # a copy
        missing = at < 0
        if missing.any():
            matrix = self.model.encoder.transform(rows.loc[missing], source=source)
            out[missing] = _margin(self.model, matrix)
        return out

    def proba_of(self, rows: pd.DataFrame, *, source: str) -> np.ndarray:
        """Calibrated probabilities of ``rows``, as ``LeadModel.predict_proba`` gives them."""
        return self.model.calibrator.predict(self.margin_of(rows, source=source))


def _margin(model: LeadModel, matrix: np.ndarray) -> np.ndarray:
    return model.forest.margin(matrix) if len(matrix) else np.zeros(0)
