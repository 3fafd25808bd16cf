"""What each section of the run report shows, built from the run record and holdout scores.

Computation lives in the stage modules (``lift``, ``segments``, ``estimate``); these builders
pick the figures, say what population each figure shows, and hand plain data to the templates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from leadloop.columns import AMOUNT, LABEL, ROLES
from leadloop.evaluate import HIGHER_IS_BETTER, METRIC_NAMES
from leadloop.lift import capture_at_capacity, decile_table, has_amounts
from leadloop.report import charts, fmt


def holdout_population(record: Mapping[str, Any], scores: pd.DataFrame) -> str:
    """The holdout as every figure on it names it: size, period and won count."""
    split = record.get("split") or {}
    period = ""
    if split.get("holdout_start"):
        period = f", created {split['holdout_start'][:10]} to {split['holdout_end'][:10]}"
    won = int(scores[LABEL].sum())
    return f"Holdout: {fmt.count(len(scores))} leads{period}, {fmt.count(won)} won."


def comparison(record: Mapping[str, Any], scores: pd.DataFrame, population: str) -> dict[str, Any]:
    """The metrics table with intervals, and the comparison figures."""
    y = scores[LABEL].to_numpy(dtype=float)
    probs = {role: scores[role].to_numpy(dtype=float) for role in ROLES}
    figures = [
        charts.roc("fig-roc", y, probs, population),
        charts.precision_recall("fig-pr", y, probs, population),
        charts.reliability("fig-calibration", y, probs, population),
        charts.gains("fig-gains", y, probs, population, capacity=float(record["capacity"])),
        charts.score_distributions("fig-scores", probs, population),
    ]
    return {"metrics": metric_rows(record), "figures": figures}


def metric_rows(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Both models' metrics, the difference and, where the run measured one, its interval."""
    assessment = record.get("assessment") or {}
    intervals = {
        assessment[key]["metric"]: assessment[key]
        for key in ("auc_difference", "recall_difference")
        if assessment.get(key)
    }
    rows = []
    for name in METRIC_NAMES:
        values = record["comparison"][name]
        ci = intervals.get(name)
        rows.append(
            {
                "name": name,
                "direction": "higher is better" if HIGHER_IS_BETTER[name] else "lower is better",
                "champion": values["champion"],
                "challenger": values["challenger"],
                "difference": values["difference"],
                "better": values["challenger_better"],
                "interval": fmt.interval(ci["lower"], ci["upper"], sign=True)
                if ci
                else fmt.MISSING,
            }
        )
    return rows


def deciles(record: Mapping[str, Any], scores: pd.DataFrame, population: str) -> dict[str, Any]:
    """Decile tables of both models, revenue within sales capacity, and the decile chart."""
    y = scores[LABEL].to_numpy(dtype=float)
    amount = scores[AMOUNT].to_numpy(dtype=float) if AMOUNT in scores.columns else None
    capacity = float(record["capacity"])
    tables, captures = {}, {}
    for role in ROLES:
        p = scores[role].to_numpy(dtype=float)
        tables[role] = decile_table(y, p, role=role, amount=amount).to_dict()
        captures[role] = capture_at_capacity(
            y, p, role=role, capacity=capacity, amount=amount
        ).to_dict()
    rows = {role: tables[role]["rows"] for role in ROLES}
    return {
        "tables": tables,
        "captures": captures,
        "revenue": has_amounts(amount, y),
        "capacity": capacity,
        "figure": charts.decile_conversion("fig-deciles", rows, population),
        "base_rate": float(np.mean(y)) if len(y) else float("nan"),
    }


def drift(assessment: Mapping[str, Any], population: str) -> dict[str, Any] | None:
    """The drift table with what decided each severity, and one chart per feature."""
    found = assessment.get("drift")
    if not found:
        return None
    limits = found["thresholds"]
    current = (
        f"Reference: the champion's training data, {fmt.count(found['n_reference'])} rows; "
        f"current: the newest leads, {fmt.count(found['n_current'])} rows."
    )
    rows = [{**f, "decided_by": decided_by(f, limits)} for f in found["features"]]
    figures = [
        charts.shares(
            f"fig-drift-{k}",
            f["feature"],
            f["bin_labels"],
            f["reference_shares"],
            f["current_shares"],
            current,
        )
        for k, f in enumerate(found["features"])
    ]
    prediction = found.get("prediction")
    if prediction:
        figures.insert(
            0,
            charts.shares(
                "fig-drift-score",
                "champion score (prediction drift)",
                prediction["bin_labels"],
                prediction["reference_shares"],
                prediction["current_shares"],
                current,
            ),
        )
        prediction = {**prediction, "decided_by": decided_by(prediction, limits)}
    return {
        **found,
        "rows": rows,
        "figures": figures,
        "prediction": prediction,
        "population": current,
        "holdout": population,
    }


def decided_by(feature: Mapping[str, Any], limits: Mapping[str, Any]) -> str:
    """Which effect sizes set the severity, with their thresholds: "KS 0.312 >= 0.150"."""
    crossed = [
        f"{label} {fmt.number(feature.get(key))} >= {fmt.number(limits[limit])}"
        for label, key, limit in (
            ("PSI", "psi", "psi_severe"),
            ("KS", "ks", "ks_severe"),
            ("JS", "js", "js_severe"),
        )
        if feature.get(key) is not None and feature[key] >= limits[limit]
    ]
    if crossed:
        return ", ".join(crossed)
    moderate = limits.get("psi_moderate")
    if moderate is not None and feature["psi"] >= moderate:
        return f"PSI {fmt.number(feature['psi'])} >= {fmt.number(moderate)} (moderate)"
    return "every effect size below its threshold"


def label_drift(record: Mapping[str, Any]) -> charts.Figure | None:
    """The won rate by month of creation of the labelled leads used."""
    months = (record.get("assessment") or {}).get("label_drift")
    if not months:
        return None
    total = sum(int(m.get("n", 0)) for m in months)
    population = (
        "Labelled leads used for training and evaluation, by month of creation: "
        f"{fmt.count(total)} leads."
    )
    return charts.won_rate_by_month("fig-label-drift", months, population)


def explanations(
    importance: Mapping[str, Mapping[str, float]] | None, population: str
) -> charts.Figure | None:
    """Global importance of both models on the holdout (a sample of at most 2,000 leads)."""
    if not importance:
        return None
    shown = f"{population} Contributions averaged over at most 2,000 of them."
    return charts.importance("fig-importance", importance, shown)


def segments(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The judged segments, worst first within each feature, and what was too small."""
    found = (record.get("insights") or {}).get("segments")
    if found is None:
        return None
    ordered = sorted(found["segments"], key=lambda s: (s["feature"], s["difference"]))
    return {**found, "segments": ordered, "worse": [s for s in ordered if s["flag"] == "worse"]}


def young(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The estimate on immature leads as recorded, or None for runs recorded before it."""
    found = (record.get("insights") or {}).get("young")
    return dict(found) if found is not None else None
