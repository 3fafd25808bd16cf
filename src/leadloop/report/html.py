"""Render a run's report (and the model history) to one self-contained HTML page.

Pure: takes the run record and the holdout scores, returns a string; the caller writes it.
Plots are inline SVG, styles inline, no scripts and no external references, so the file opens
offline.
"""

from __future__ import annotations

from typing import Any

import jinja2
import numpy as np
import pandas as pd

from leadloop.evaluate import HIGHER_IS_BETTER, METRIC_NAMES
from leadloop.report import plots

MAX_DRIFT_CHARTS = 12


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("leadloop", "report/templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_report(
    record: dict[str, Any],
    scores: pd.DataFrame,
    *,
    importance: dict[str, dict[str, float]] | None = None,
) -> str:
    """The whole report for one run."""
    y = scores["label"].to_numpy(dtype=float)
    probs = {role: scores[role].to_numpy(dtype=float) for role in ("champion", "challenger")}
    assessment = record.get("assessment") or {}
    context = {
        "record": record,
        "decision": record["decision"],
        "metrics": _metric_rows(record),
        "assessment": assessment,
        "figures": _comparison_figures(y, probs, record),
        "drift": _drift_context(assessment.get("drift")),
        "label_quality": assessment.get("label_quality"),
        "label_drift_svg": (
            plots.label_drift(assessment["label_drift"]) if assessment.get("label_drift") else None
        ),
        "importance_svg": plots.importance(importance) if importance else None,
        "migration": assessment.get("score_shift"),
        "excluded": (record.get("features") or {}).get("challenger", {}).get("excluded", {}),
    }
    return _environment().get_template("report.html.j2").render(**context)


def render_history(versions: list[dict[str, Any]], decisions: list[dict[str, Any]]) -> str:
    """The model history page: every version, the champions' metrics over time, every decision."""
    champions = [v for v in versions if v.get("promoted_at") or v.get("trained_as") == "champion"]
    svg = _history_plot(champions) if champions else None
    return (
        _environment()
        .get_template("history.html.j2")
        .render(versions=versions, decisions=decisions, history_svg=svg)
    )


def _metric_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    intervals = {}
    assessment = record.get("assessment") or {}
    for key in ("auc_difference", "recall_difference"):
        if assessment.get(key):
            intervals[assessment[key]["metric"]] = assessment[key]
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
                "interval": f"{ci['lower']:+.3f} to {ci['upper']:+.3f}" if ci else "",
            }
        )
    return rows


def _comparison_figures(
    y: np.ndarray, probs: dict[str, np.ndarray], record: dict[str, Any]
) -> dict[str, str]:
    return {
        "roc": plots.roc(y, probs),
        "pr": plots.precision_recall(y, probs),
        "reliability": plots.reliability(y, probs),
        "gains": plots.gains(y, probs, capacity=float(record["capacity"])),
        "scores": plots.score_distributions(probs),
    }


def _drift_context(drift: dict[str, Any] | None) -> dict[str, Any] | None:
    if not drift:
        return None
    features = drift["features"]
    charts = [
        {
            "feature": f["feature"],
            "svg": plots.shares(
                f["bin_labels"], f["reference_shares"], f["current_shares"], title=f["feature"]
            ),
        }
        for f in features[:MAX_DRIFT_CHARTS]
    ]
    prediction = drift.get("prediction")
    if prediction:
        charts.insert(
            0,
            {
                "feature": "champion score",
                "svg": plots.shares(
                    prediction["bin_labels"],
                    prediction["reference_shares"],
                    prediction["current_shares"],
                    title="champion score (prediction drift)",
                ),
            },
        )
    return {**drift, "charts": charts}


def _history_plot(champions: list[dict[str, Any]]) -> str:
    """Holdout AUC of each champion, oldest first."""
    points = [
        {"month": f"v{v['version']} {str(v['created'])[:10]}", "rate": float(v["roc_auc"])}
        for v in reversed(champions)
        if v.get("roc_auc") is not None
    ]
    return plots.label_drift(points).replace(
        "Won rate by month of creation", "Holdout ROC AUC of successive champions"
    )
