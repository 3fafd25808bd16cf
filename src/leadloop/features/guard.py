"""The leak guard applied while fitting: each check of ``leadloop.leaks`` (and the dominance
check) in turn, on the columns the previous ones left; a flagged column is excluded with its
evidence unless the user declared it, and every finding is kept."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from leadloop import dominance, leaks
from leadloop.columns import CREATED_AT
from leadloop.data.labels import YoungLeads
from leadloop.features.encode import encode_table
from leadloop.features.kinds import Feature
from leadloop.leaks import Finding


@dataclass
class Guarded:
    """The features still standing, the columns excluded (with why) and every finding."""

    features: list[Feature]
    declared: frozenset[str]
    excluded: dict[str, str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def apply(self, findings: list[Finding]) -> None:
        """Exclude each flagged column unless declared; record every finding."""
        for finding in findings:
            kept = finding.column in self.declared
            self.findings.append(replace(finding, kept=kept))
            if not kept:
                self.excluded[finding.column] = finding.reason
        self.features = [f for f in self.features if f.name not in self.excluded]


def guard(
    frame: pd.DataFrame,
    features: list[Feature],
    y: np.ndarray | None,
    young: YoungLeads | None,
    *,
    declared: frozenset[str],
) -> Guarded:
    """Ids and counters always; with two classes in ``y`` also nearly pure values, fields
    filled after the outcome (with ``young``) and one dominant column."""
    state = Guarded(list(features), declared)
    numeric = {f.name: frame[f.name] for f in state.features if f.kind == "numeric"}
    created = frame[CREATED_AT] if CREATED_AT in frame.columns else None
    state.apply(leaks.counters(_numbers(numeric), created))
    if y is None or len(np.unique(y)) < 2:
        return state
    rows = np.sort(np.random.default_rng(0).permutation(len(y))[: leaks.SAMPLE_ROWS])
    sample = frame.iloc[rows]
    values = {f.name: sample[f.name] for f in state.features if f.kind != "datetime"}
    state.apply(leaks.pure_values(values, y[rows]))
    if young is not None:
        state.apply(leaks.after_outcome([f.name for f in state.features], young))
    encoded = dominance.Encoded(
        encode_table(state.features, sample, source="training data"),
        [f.name for f in state.features],
        [j for j, f in enumerate(state.features) if f.kind == "categorical"],
        y[rows],
        frozenset(f.name for f in state.features if f.kind in ("numeric", "datetime")),
    )
    state.apply(dominance.dominant(encoded))
    return state


def _numbers(columns: dict[str, pd.Series]) -> dict[str, pd.Series]:
    """Numeric columns as floats (text digits included), for the id and counter check."""
    return {n: pd.to_numeric(v, errors="coerce") for n, v in columns.items()}
