"""The leak guard: columns a CRM export holds that would not be known when a lead is scored.

Four checks, each giving a ``Finding`` with its figure and threshold (README "The leak guard"
says how every threshold was derived):

- nearly pure values: a value (a category, a few-valued number, or "missing") whose leads are
  almost all won or all lost, beyond what chance purity would be at that support (exact binomial
  test against the base rate, Bonferroni over every value of every column) and with real support
  (the 95% bound of its purity, not the observed share);
- filled after the outcome: among leads of the same recent period, a state (filled, missing, a
  value, a decile) that decided leads hold and undecided (young, no outcome yet) ones rarely do;
- ids and counters: near-unique numbers that track row order or creation time;
- one dominant number (``leadloop.dominance``): a numeric column that alone ranks the label
  nearly as well as every feature together (a quick out-of-fold model), and well on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from leadloop.data.labels import YoungLeads
from leadloop.data.values import text_codes

ALPHA = 0.01  # family-wise error: chance of flagging any value of an honest file (Bonferroni)
PURITY = 0.9  # a pure value keeps at most a tenth of the other outcome's base rate
CONFIDENCE = 0.95  # ... even at the upper end of its one-sided 95% confidence interval
MATERIAL = 0.01  # flagged values hold >= 1% of their class: they could move AUC by >= 0.005
FILL_RATIO = 0.1  # undecided leads hold the state at most a tenth as often as decided ones
LOW_CARDINALITY = 20  # numbers with at most this many distinct values are tested value by value
ID_RANK_CORR = 0.9  # |Spearman| with row order or creation time: rank is >= 81% position
ID_UNIQUE_SHARE = 0.5  # at least half of the present values are distinct
SAMPLE_ROWS = 50_000
DECLARE = "declare it in leads.feature_types to keep it"


@dataclass(frozen=True)
class Finding:
    """One column the guard flags: which check, the evidence in words, and its figures."""

    column: str
    check: str
    evidence: str
    figures: dict[str, float] = field(default_factory=dict)
    kept: bool = False

    @property
    def reason(self) -> str:
        """The exclusion reason, as the run record, warnings and report show it."""
        lead = "not known when a lead is scored" if self.check == ID_CHECK else "leaks the label"
        return f"{lead} ({self.check}): {self.evidence}; {DECLARE}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reason": self.reason}


PURE_CHECK = "nearly pure values"
AFTER_CHECK = "filled after the outcome"
ID_CHECK = "id or counter"
DOMINANT_CHECK = "one column ranks the label like all features together"  # see dominance.py


def value_states(
    values: pd.Series, *, deciles: bool = True, edges: np.ndarray | None = None
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Each row's state: its value (text, booleans, numbers with few values) or, for other
    numbers, its decile (``edges`` from a reference sample; one "filled" state without
    ``deciles``); the last state is "missing". Returns codes, state names and decile edges."""
    missing = values.isna().to_numpy()
    present = values[~missing]
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and (edges is not None or present.nunique() > LOW_CARDINALITY):
        bins, names, edges = _deciles(present.to_numpy(dtype=np.float64), deciles, edges)
    else:
        bins, distinct = text_codes(present)
        names, edges = [f"'{n}'" for n in distinct], np.array([])
    codes = np.full(len(values), len(names), dtype=np.int64)
    codes[~missing] = bins
    return codes, [*names, "missing"], edges


def _deciles(
    numbers: np.ndarray, deciles: bool, edges: np.ndarray | None
) -> tuple[np.ndarray, list[str], np.ndarray]:
    if not deciles:
        return np.zeros(len(numbers), dtype=np.int64), ["filled"], np.array([])
    if edges is None:
        cuts = np.linspace(0.1, 0.9, 9)
        edges = np.unique(np.quantile(numbers, cuts)) if len(numbers) else np.array([])
    bounds = [-np.inf, *edges.tolist(), np.inf]
    names = [f"{_num(bounds[i])} to {_num(bounds[i + 1])}" for i in range(len(bounds) - 1)]
    return np.searchsorted(edges, numbers, side="right"), names, edges


def _p(value: float) -> str:
    return "p < 1e-300" if value <= 0 else f"p={value:.0e}"


def _num(value: float) -> str:
    return "any" if not np.isfinite(value) else f"{value:.4g}"


@dataclass(frozen=True)
class _Counts:
    """One column's states: their names, rows and won rows."""

    column: str
    names: list[str]
    rows: np.ndarray
    won: np.ndarray


def pure_values(columns: dict[str, pd.Series], y: np.ndarray) -> list[Finding]:
    """Columns with values nearly pure in the label, beyond chance at their support."""
    counts = []
    for name, values in columns.items():
        codes, names, _ = value_states(values, deciles=False)
        rows = np.bincount(codes, minlength=len(names)).astype(np.float64)
        counts.append(
            _Counts(name, names, rows, np.bincount(codes, weights=y, minlength=len(names)))
        )
    m = sum(int((c.rows > 0).sum()) for c in counts)
    found = (_pure_column(c, y, m=m) for c in counts)
    return [f for f in found if f]


def _pure_column(counts: _Counts, y: np.ndarray, *, m: int) -> Finding | None:
    """One column's nearly pure values (exact one-sided binomial test, purity and materiality)."""
    base = float(y.mean())
    n, won = counts.rows, counts.won
    won_side = won >= n * base
    other = np.where(won_side, n - won, won)  # rows of the other outcome in the value
    other_base = np.where(won_side, 1 - base, base)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.asarray(stats.binom.cdf(other, n, other_base), dtype=np.float64)
        # Clopper-Pearson one-sided upper bound of the other outcome's rate in the value.
        upper = np.where(other < n, stats.beta.ppf(CONFIDENCE, other + 1, n - other), 1.0)
    pure = (n > 0) & (upper <= (1 - PURITY) * other_base) & (p <= ALPHA / max(m, 1))
    majority = n - other
    won_rows, lost_rows = max(float(y.sum()), 1.0), max(float(len(y) - y.sum()), 1.0)
    held = max(
        float(majority[pure & won_side].sum()) / won_rows,
        float(majority[pure & ~won_side].sum()) / lost_rows,
    )
    if held < MATERIAL:
        return None
    shown = np.flatnonzero(pure)[np.argsort(-n[pure])][:3]
    parts = [_pure_text(counts.names[i], n[i], other[i], upper[i], won_side[i]) for i in shown]
    more = f" and {int(pure.sum()) - len(shown)} more" if pure.sum() > len(shown) else ""
    evidence = (
        f"{'; '.join(parts)}{more}; the base rate is {base:.1%} won; flagged when a value's "
        f"95% upper bound keeps at most {1 - PURITY:.0%} of the other outcome's base rate, the "
        f"exact binomial test against the base rate gives p <= {ALPHA:g}/{m} (Bonferroni over "
        f"{m} values of all columns; here {_p(min(p[shown]))}) and its pure values hold >= "
        f"{MATERIAL:.0%} of their class"
    )
    figures = {"pure_values": float(pure.sum()), "tested_values": float(m), "class_share": held}
    return Finding(counts.column, PURE_CHECK, evidence, figures)


def _pure_text(name: str, n: float, other: float, upper: float, won: bool) -> str:
    side, rest = ("won", "lost") if won else ("lost", "won")
    return (
        f"{name} is {1 - other / n:.0%} {side} in {int(n):,} leads ({other / n:.1%} {rest}, "
        f"at most {upper:.1%} at 95% confidence)"
    )


def after_outcome(columns: Iterable[str], young: YoungLeads) -> list[Finding]:
    """Columns whose values (or being filled) appear on decided recent leads, not undecided."""
    decided = np.asarray(young.decided, dtype=bool)
    if decided.all() or not decided.any():
        return []
    tests = []
    for name in columns:
        if name not in young.frame.columns:
            continue
        values = young.frame[name]
        _, _, edges = value_states(values[decided])
        codes, names, _ = value_states(values, edges=edges if len(edges) else None)
        k_d = np.bincount(codes[decided], minlength=len(names)).astype(np.float64)
        k_u = np.bincount(codes[~decided], minlength=len(names)).astype(np.float64)
        # Also "filled" as one state: a field every decided lead has, whatever its value.
        filled = [k_d[:-1].sum()], [k_u[:-1].sum()]
        tests.append((name, [*names, "filled"], np.r_[k_d, filled[0]], np.r_[k_u, filled[1]]))
    m = sum(int(((k_d + k_u) > 0).sum()) for _, _, k_d, k_u in tests)
    return [f for f in (_after_column(*t, m=m) for t in tests) if f]


def _after_column(
    name: str, names: list[str], k_d: np.ndarray, k_u: np.ndarray, *, m: int
) -> Finding | None:
    n_d, n_u = k_d[:-1].sum(), k_u[:-1].sum()
    share_d, share_u = k_d / n_d, k_u / n_u
    p = stats.hypergeom.cdf(k_u, n_d + n_u, k_d + k_u, n_u)
    hit = (share_d >= MATERIAL) & (share_u <= FILL_RATIO * share_d) & (p <= ALPHA / max(m, 1))
    if not hit.any():
        return None
    shown = np.flatnonzero(hit)[np.argsort(-share_d[hit])][:3]
    parts = [
        f"{_state_text(names[i])} on {share_d[i]:.0%} of {int(n_d):,} decided recent leads but "
        f"{share_u[i]:.0%} of {int(n_u):,} undecided ones ({_p(p[i])})"
        for i in shown
    ]
    evidence = (
        f"{'; '.join(parts)}; flagged when undecided leads hold a state at most "
        f"{FILL_RATIO:.0%} as often as decided ones, on >= {MATERIAL:.0%} of decided leads, "
        f"with p <= {ALPHA:g}/{m} (one-sided hypergeometric test, Bonferroni over {m} states)"
    )
    figures = {
        "decided_share": float(share_d[shown[0]]),
        "undecided_share": float(share_u[shown[0]]),
    }
    return Finding(name, AFTER_CHECK, evidence, figures)


def _state_text(name: str) -> str:
    return name if name in ("missing", "filled") else f"value {name}"


def counters(columns: dict[str, pd.Series], created: pd.Series | None) -> list[Finding]:
    """Near-unique numbers that track row order or creation time: ids, counters, clocks."""
    found = []
    for name, values in columns.items():
        present = values.dropna()
        if len(present) < LOW_CARDINALITY or present.nunique() < ID_UNIQUE_SHARE * len(present):
            continue
        unique = present.nunique() / len(present)
        position = np.flatnonzero(values.notna().to_numpy())
        against = {"row order": position}
        if created is not None:
            stamps = pd.to_datetime(created.iloc[position], errors="coerce")
            against["creation time"] = stamps.to_numpy(dtype="datetime64[ns]").astype(np.int64)
        for what, reference in against.items():
            rho = float(stats.spearmanr(present.to_numpy(dtype=np.float64), reference).statistic)
            if abs(rho) >= ID_RANK_CORR:
                evidence = (
                    f"{unique:.0%} of its values are distinct and it tracks {what} (Spearman "
                    f"{rho:+.2f}); flagged when >= {ID_UNIQUE_SHARE:.0%} distinct and "
                    f"|Spearman| >= {ID_RANK_CORR}"
                )
                found.append(
                    Finding(name, ID_CHECK, evidence, {"distinct": unique, "spearman": rho})
                )
                break
    return found


def text_ids(name: str, present: pd.Series) -> Finding:
    """The finding for a text column with mostly unique values (an id or free text)."""
    unique = present.nunique() / len(present)
    evidence = (
        f"{present.nunique():,} distinct values in {len(present):,} filled rows ({unique:.0%}); "
        f"flagged when > {ID_UNIQUE_SHARE:.0%} distinct"
    )
    return Finding(name, ID_CHECK, evidence, {"distinct": unique})
