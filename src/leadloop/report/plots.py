"""Figures for the report, drawn with matplotlib's object API and returned as inline SVG.

No pyplot global state: every figure is its own ``Figure``, so rendering is thread-safe and
leaves nothing behind.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

GRID = np.linspace(0.0, 1.0, 201)  # curves are drawn at 201 points, whatever the holdout size
COLOURS = {
    "champion": "#4c72b0",
    "challenger": "#dd8452",
    "reference": "#8c8c8c",
    "current": "#c44e52",
}


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    return re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.DOTALL)


def _figure(width: float = 5.0, height: float = 3.6) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(width, height))
    ax = fig.add_subplot()
    ax.grid(alpha=0.3)
    return fig, ax


def roc(y: np.ndarray, scores: dict[str, np.ndarray]) -> str:
    """ROC curves of both models on the holdout."""
    fig, ax = _figure()
    for role, p in scores.items():
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(GRID, np.interp(GRID, fpr, tpr), label=role, color=COLOURS[role])
    ax.plot([0, 1], [0, 1], ls="--", color="#999999", lw=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax.legend(loc="lower right")
    return _svg(fig)


def precision_recall(y: np.ndarray, scores: dict[str, np.ndarray]) -> str:
    """Precision-recall curves of both models, with the base rate."""
    fig, ax = _figure()
    for role, p in scores.items():
        precision, recall, _ = precision_recall_curve(y, p)
        ax.plot(
            GRID, np.interp(GRID, recall[::-1], precision[::-1]), label=role, color=COLOURS[role]
        )
    ax.axhline(float(np.mean(y)), ls="--", color="#999999", lw=1, label="base rate")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall")
    ax.legend(loc="upper right")
    return _svg(fig)


def reliability(y: np.ndarray, scores: dict[str, np.ndarray], *, bins: int = 10) -> str:
    """Mean predicted vs observed won rate per equal-frequency bin."""
    fig, ax = _figure()
    top = 0.0
    for role, p in scores.items():
        order = np.argsort(p, kind="stable")
        groups = [g for g in np.array_split(order, bins) if len(g)]
        predicted = [float(p[g].mean()) for g in groups]
        observed = [float(y[g].mean()) for g in groups]
        top = max(top, *predicted, *observed)
        ax.plot(predicted, observed, marker="o", label=role, color=COLOURS[role])
    ax.plot([0, top], [0, top], ls="--", color="#999999", lw=1, label="perfect")
    ax.set(xlabel="predicted probability", ylabel="observed won rate", title="Calibration")
    ax.legend(loc="upper left")
    return _svg(fig)


def gains(y: np.ndarray, scores: dict[str, np.ndarray], *, capacity: float) -> str:
    """Cumulative share of won leads found when working leads best-first; capacity marked."""
    fig, ax = _figure()
    share = np.arange(1, len(y) + 1) / len(y)
    for role, p in scores.items():
        found = np.cumsum(y[np.argsort(-p, kind="stable")]) / max(float(y.sum()), 1.0)
        ax.plot(GRID, np.interp(GRID, share, found), label=role, color=COLOURS[role])
    ax.plot([0, 1], [0, 1], ls="--", color="#999999", lw=1, label="random")
    ax.axvline(capacity, color="#2ca02c", lw=1.5, label=f"sales capacity ({capacity:.0%})")
    ax.set(
        xlabel="share of leads worked", ylabel="share of won leads found", title="Cumulative gains"
    )
    ax.legend(loc="lower right")
    return _svg(fig)


def score_distributions(scores: dict[str, np.ndarray]) -> str:
    """Histograms of both models' probabilities on the holdout."""
    fig, ax = _figure()
    edges = [i / 40 for i in range(41)]
    for role, p in scores.items():
        ax.hist(p, bins=edges, alpha=0.55, label=role, color=COLOURS[role])
    ax.set(xlabel="probability", ylabel="leads", title="Score distributions")
    ax.legend()
    return _svg(fig)


def shares(
    labels: Sequence[str], reference: Sequence[float], current: Sequence[float], *, title: str
) -> str:
    """A small reference-vs-current bar chart of one feature's bins."""
    fig, ax = _figure(4.2, 2.4)
    x = np.arange(len(labels))
    ax.bar(x - 0.2, reference, width=0.4, label="reference", color=COLOURS["reference"])
    ax.bar(x + 0.2, current, width=0.4, label="current", color=COLOURS["current"])
    ax.set_xticks(x, [str(label)[:12] for label in labels], rotation=60, fontsize=7)
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=7)
    return _svg(fig)


def label_drift(months: list[dict[str, Any]]) -> str:
    """Won rate by month of creation."""
    fig, ax = _figure(6.0, 3.0)
    ax.plot(
        [m["month"] for m in months],
        [m["rate"] for m in months],
        marker="o",
        color=COLOURS["challenger"],
    )
    ax.set(ylabel="won rate", title="Won rate by month of creation")
    ax.tick_params(axis="x", rotation=60, labelsize=7)
    return _svg(fig)


def importance(values: dict[str, dict[str, float]]) -> str:
    """Mean absolute contribution per feature, both models side by side."""
    names = sorted(
        {n for v in values.values() for n in v},
        key=lambda n: -max(v.get(n, 0.0) for v in values.values()),
    )
    fig, ax = _figure(6.0, max(2.5, 0.3 * len(names) + 1))
    y = np.arange(len(names))
    for k, (role, v) in enumerate(values.items()):
        ax.barh(
            y + (k - 0.5) * 0.4,
            [v.get(n, 0.0) for n in names],
            height=0.4,
            label=role,
            color=COLOURS.get(role, "#555555"),
        )
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel="mean |contribution| (log-odds)", title="Feature importance")
    ax.legend()
    return _svg(fig)
