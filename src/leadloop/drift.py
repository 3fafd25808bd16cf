"""Feature, prediction and label drift between a reference profile and the newest leads.

Method:
- The reference is a *profile* of the champion's training matrix, stored with the model as JSON
  (no raw rows): for numeric, boolean and datetime features, the inner edges of ``bins`` bins at
  reference quantiles (outer bins are open-ended, so values outside the reference range are
  counted, not dropped), the counts per bin, the missing count, and 101 reference quantiles; for
  categorical features, the counts per encoded category (the encoder's shared "other" code holds
  unseen categories) and the missing count. Missing values are a bin of their own on both sides.
- PSI = sum (c - r) * ln(c / r) over bins, with shares from counts smoothed by +0.5 per bin: a bin
  empty on both sides contributes about nothing, so the floor can never dominate the sum.
- Numeric KS statistic: max |F_ref - F_cur| evaluated at the 101 stored reference quantiles,
  with F_ref stored exactly there (so ties and discrete values are handled; within about 0.01
  of the exact statistic for continuous features), p-value from the asymptotic Kolmogorov
  distribution with effective size n*m/(n+m). Categorical: Jensen-Shannon distance (base 2)
  and a chi-square p-value against the smoothed reference shares.
- Size-aware rule: on large samples every p-value is tiny, so severity is decided by effect
  sizes only (PSI, KS statistic, JS distance) against thresholds. p-values are reported after a
  Holm (default) or Benjamini-Hochberg correction across features.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import chisquare, kstwobign

from leadloop.config import DriftConfig
from leadloop.features import Feature

Severity = Literal["none", "moderate", "severe"]
_SMOOTH = 0.5
_QUANTILES = np.linspace(0, 1, 101)


@dataclass(frozen=True)
class FeatureDrift:
    """Drift figures of one feature (or of the champion's scores)."""

    feature: str
    kind: str
    psi: float
    ks: float | None
    js: float | None
    p_value: float | None
    p_value_adjusted: float | None
    severity: Severity
    reference_shares: list[float]
    current_shares: list[float]
    bin_labels: list[str]
    missing_reference: float
    missing_current: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DriftReport:
    """Every feature's drift, most severe first, and the champion's prediction drift."""

    features: list[FeatureDrift]
    prediction: FeatureDrift | None
    n_reference: int
    n_current: int
    thresholds: DriftConfig = field(default_factory=DriftConfig)

    def severe(self) -> list[str]:
        """Names of features with severe drift."""
        return [f.feature for f in self.features if f.severity == "severe"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": [f.to_dict() for f in self.features],
            "prediction": self.prediction.to_dict() if self.prediction else None,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "thresholds": self.thresholds.model_dump(),
            "severe": self.severe(),
        }


@dataclass(frozen=True)
class ScoreShift:
    """How many leads change grade if the challenger replaced the champion (not drift)."""

    matrix: list[list[int]]
    grades: list[str]
    changed: int
    changed_share: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_profile(matrix: np.ndarray, features: list[Feature], *, bins: int = 10) -> dict[str, Any]:
    """Reference profile of an encoded training matrix, small and JSON-ready."""
    columns = {f.name: _column_profile(matrix[:, j], f, bins=bins) for j, f in enumerate(features)}
    return {"n": int(matrix.shape[0]), "bins": bins, "features": columns}


def score_profile(scores: np.ndarray, *, bins: int = 10) -> dict[str, Any]:
    """Reference profile of a model's probabilities, for prediction drift."""
    return _numeric_profile(np.asarray(scores, dtype=np.float64), bins=bins)


def feature_drift(
    profile: dict[str, Any],
    current: np.ndarray,
    features: list[Feature],
    *,
    thresholds: DriftConfig | None = None,
    reference_scores: dict[str, Any] | None = None,
    current_scores: np.ndarray | None = None,
) -> DriftReport:
    """Compare the newest leads (encoded like the reference) with the reference profile."""
    limits = thresholds or DriftConfig()
    raw = [
        _compare(profile["features"][f.name], current[:, j], f.name, f.kind, limits)
        for j, f in enumerate(features)
        if f.name in profile["features"]
    ]
    adjusted = adjust_p_values([r.p_value for r in raw], method=limits.p_value_correction)
    results = [_with_adjusted(r, p) for r, p in zip(raw, adjusted, strict=True)]
    order = {"severe": 0, "moderate": 1, "none": 2}
    results.sort(key=lambda r: (order[r.severity], -r.psi))
    prediction = None
    if reference_scores is not None and current_scores is not None:
        prediction = _compare(
            reference_scores, np.asarray(current_scores), "champion score", "numeric", limits
        )
    return DriftReport(results, prediction, int(profile["n"]), int(current.shape[0]), limits)


def adjust_p_values(
    p_values: Sequence[float | None], *, method: str = "holm"
) -> list[float | None]:
    """Holm or Benjamini-Hochberg adjusted p-values (None stays None)."""
    present = [(i, p) for i, p in enumerate(p_values) if p is not None]
    out: list[float | None] = [None] * len(p_values)
    if not present:
        return out
    idx = np.array([i for i, _ in present])
    p = np.array([v for _, v in present], dtype=np.float64)
    m = len(p)
    order = np.argsort(p)
    ranked = p[order]
    if method == "holm":
        adj = np.maximum.accumulate(ranked * (m - np.arange(m)))
    else:
        adj = np.minimum.accumulate((ranked * m / np.arange(1, m + 1))[::-1])[::-1]
    values = np.empty(m)
    values[order] = np.minimum(adj, 1.0)
    for i, v in zip(idx, values, strict=True):
        out[int(i)] = float(v)
    return out


def score_shift(
    champion: np.ndarray,
    challenger: np.ndarray,
    *,
    cutoffs: Sequence[float] = (0.4, 0.2, 0.1),
    grades: Sequence[str] = ("A", "B", "C", "D"),
) -> ScoreShift:
    """Grade migration matrix; grade A if p >= cutoffs[0], B if >= cutoffs[1], and so on."""
    a, b = grade_index(champion, cutoffs), grade_index(challenger, cutoffs)
    k = len(grades)
    matrix = np.zeros((k, k), dtype=int)
    np.add.at(matrix, (a, b), 1)
    changed = int((a != b).sum())
    n = len(a)
    return ScoreShift(matrix.tolist(), list(grades), changed, changed / n if n else 0.0, n)


def grade_index(proba: np.ndarray, cutoffs: Sequence[float]) -> np.ndarray:
    """0 for grade A ... len(cutoffs) for the lowest grade."""
    edges = np.asarray(sorted(cutoffs))
    return np.asarray(len(edges) - np.searchsorted(edges, np.asarray(proba), side="right"))


def label_drift(created_at: pd.Series, label: np.ndarray) -> list[dict[str, Any]]:
    """Won rate by month of creation."""
    frame = pd.DataFrame(
        {
            "month": pd.DatetimeIndex(created_at).strftime("%Y-%m"),
            "won": np.asarray(label, dtype=np.float64),
        }
    )
    grouped = frame.groupby("month")["won"].agg(["size", "sum"])
    return [
        {
            "month": str(m),
            "n": int(row["size"]),
            "won": int(row["sum"]),
            "rate": float(row["sum"] / row["size"]),
        }
        for m, row in grouped.iterrows()
    ]


def _column_profile(values: np.ndarray, feature: Feature, *, bins: int) -> dict[str, Any]:
    if feature.kind == "categorical":
        codes = values[~np.isnan(values)].astype(int)
        counts = np.bincount(codes, minlength=len(feature.categories) + 1)
        labels = [*feature.categories, "(other)"]
        return {
            "kind": "categorical",
            "counts": counts.tolist(),
            "labels": labels,
            "missing": int(np.isnan(values).sum()),
            "n": len(values),
        }
    return _numeric_profile(values, bins=bins)


def _numeric_profile(values: np.ndarray, *, bins: int) -> dict[str, Any]:
    present = values[~np.isnan(values)]
    if present.size == 0:
        edges: list[float] = []
        quantiles: list[float] = []
        cdf: list[float] = []
    else:
        inner = np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1])
        edges = np.unique(inner).tolist()
        points = np.quantile(present, _QUANTILES)
        quantiles = points.tolist()
        cdf = (np.searchsorted(np.sort(present), points, side="right") / present.size).tolist()
    counts = _bin_counts(present, np.asarray(edges))
    return {
        "kind": "numeric",
        "edges": edges,
        "counts": counts.tolist(),
        "quantiles": quantiles,
        "cdf": cdf,
        "missing": int(values.size - present.size),
        "n": int(values.size),
    }


def _bin_counts(present: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts in bins (-inf, e0), [e0, e1) ... [e_last, inf)."""
    index = np.searchsorted(edges, present, side="right")
    return np.bincount(index, minlength=len(edges) + 1)


def _compare(
    ref: dict[str, Any], values: np.ndarray, name: str, kind: str, limits: DriftConfig
) -> FeatureDrift:
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    present = values[~missing]
    if ref["kind"] == "categorical":
        cur_counts = np.bincount(present.astype(int), minlength=len(ref["counts"]))
        cur_counts = cur_counts[: len(ref["counts"])]
        labels = list(ref["labels"])
    else:
        cur_counts = _bin_counts(present, np.asarray(ref["edges"]))
        labels = _bin_labels(ref["edges"])
    r = np.append(np.asarray(ref["counts"], dtype=np.float64), ref["missing"])
    c = np.append(cur_counts.astype(np.float64), missing.sum())
    rs, cs = _shares(r), _shares(c)
    psi = float(np.sum((cs - rs) * np.log(cs / rs)))
    if ref["kind"] == "categorical":
        ks, js = None, float(jensenshannon(rs, cs, base=2))
        p_value = float(chisquare(c, rs * c.sum()).pvalue) if c.sum() else None
    else:
        ks, p_value = _ks(ref, present)
        js = None
    severity = _severity(psi, ks, js, limits)
    n_ref, n_cur = max(ref["n"], 1), max(len(values), 1)
    return FeatureDrift(
        name,
        kind,
        psi,
        ks,
        js,
        p_value,
        None,
        severity,
        (r / max(r.sum(), 1)).tolist(),
        (c / max(c.sum(), 1)).tolist(),
        [*labels, "(missing)"],
        ref["missing"] / n_ref,
        float(missing.sum()) / n_cur,
    )


def _shares(counts: np.ndarray) -> np.ndarray:
    smoothed = counts + _SMOOTH
    return np.asarray(smoothed / smoothed.sum(), dtype=np.float64)


def _ks(ref: dict[str, Any], present: np.ndarray) -> tuple[float | None, float | None]:
    quantiles = np.asarray(ref["quantiles"])
    n = ref["n"] - ref["missing"]
    if quantiles.size == 0 or present.size == 0 or n == 0:
        return None, None
    current_cdf = np.searchsorted(np.sort(present), quantiles, side="right") / present.size
    stat = float(np.max(np.abs(current_cdf - np.asarray(ref["cdf"]))))
    effective = n * present.size / (n + present.size)
    return stat, float(kstwobign.sf(stat * np.sqrt(effective)))


def _severity(psi: float, ks: float | None, js: float | None, limits: DriftConfig) -> Severity:
    if (
        psi >= limits.psi_severe
        or (ks is not None and ks >= limits.ks_severe)
        or (js is not None and js >= limits.js_severe)
    ):
        return "severe"
    return "moderate" if psi >= limits.psi_moderate else "none"


def _bin_labels(edges: list[float]) -> list[str]:
    if not edges:
        return ["(all)"]
    shown = [f"{e:.3g}" for e in edges]
    return (
        [f"< {shown[0]}"]
        + [f"{a} to {b}" for a, b in itertools.pairwise(shown)]
        + [f">= {shown[-1]}"]
    )


def _with_adjusted(result: FeatureDrift, adjusted: float | None) -> FeatureDrift:
    data = asdict(result)
    data["p_value_adjusted"] = adjusted
    return FeatureDrift(**data)
