"""The report's figures, each with its title, the population it shows and its count.

Curves are drawn at 201 points whatever the holdout size, so the page stays small; hover
values come from the same points.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve

from leadloop.report import fmt
from leadloop.report.svg import Axis, Bars, Line, Marker, bar_chart, column_chart, line_chart, ticks

GRID = np.linspace(0.0, 1.0, 201)
COLOURS = {
    "champion": "#4c72b0",
    "challenger": "#dd8452",
    "reference": "#8c8c8c",
    "current": "#c44e52",
    "chance": "#999999",
    "capacity": "#2ca02c",
}
UNIT = Axis("", 0.0, 1.0, ticks(0.0, 1.0, count=6))


@dataclass(frozen=True)
class Figure:
    """One chart and what it shows."""

    id: str
    title: str
    population: str
    svg: str


def _unit(label: str, hi: float = 1.0) -> Axis:
    top = hi if hi < 1.0 else 1.0
    return Axis(label, 0.0, top, ticks(0.0, top) if top < 1.0 else UNIT.ticks)


def _curves(probs: Mapping[str, np.ndarray], ys: Mapping[str, np.ndarray]) -> list[Line]:
    return [Line(role, GRID.tolist(), ys[role].tolist(), COLOURS[role]) for role in probs]


def roc(fig_id: str, y: np.ndarray, probs: Mapping[str, np.ndarray], population: str) -> Figure:
    """ROC curves of both models."""
    tprs = {}
    for role, p in probs.items():
        fpr, tpr, _ = roc_curve(y, p)
        tprs[role] = np.interp(GRID, fpr, tpr)
    lines = [*_curves(probs, tprs), Line("chance", [0, 1], [0, 1], COLOURS["chance"], True)]
    svg = line_chart(fig_id, lines, x=_unit("false positive rate"), y=_unit("true positive rate"))
    return Figure(fig_id, "ROC curve", population, svg)


def precision_recall(
    fig_id: str, y: np.ndarray, probs: Mapping[str, np.ndarray], population: str
) -> Figure:
    """Precision against recall for both models, with the base rate."""
    curves = {}
    for role, p in probs.items():
        precision, recall, _ = precision_recall_curve(y, p)
        curves[role] = np.interp(GRID, recall[::-1], precision[::-1])
    base = float(np.mean(y))
    lines = [
        *_curves(probs, curves),
        Line("base rate", [0, 1], [base, base], COLOURS["chance"], True),
    ]
    svg = line_chart(fig_id, lines, x=_unit("recall"), y=_unit("precision"))
    return Figure(fig_id, "Precision-recall", population, svg)


def reliability(
    fig_id: str, y: np.ndarray, probs: Mapping[str, np.ndarray], population: str, bins: int = 10
) -> Figure:
    """Mean predicted probability against the observed won rate per equal-frequency bin."""
    lines, top = [], 0.05
    for role, p in probs.items():
        groups = [g for g in np.array_split(np.argsort(p, kind="stable"), bins) if len(g)]
        predicted = [float(p[g].mean()) for g in groups]
        observed = [float(y[g].mean()) for g in groups]
        tips = [
            f"{role}: predicted {fmt.number(a)}, observed {fmt.number(b)} ({fmt.count(len(g))} "
            "leads)"
            for a, b, g in zip(predicted, observed, groups, strict=True)
        ]
        top = max(top, *predicted, *observed)
        lines.append(Line(role, predicted, observed, COLOURS[role], tips=tips))
    top = min(1.0, top * 1.05)
    lines.append(Line("perfect", [0, top], [0, top], COLOURS["chance"], True))
    axis = Axis("", 0.0, top, ticks(0.0, top))
    svg = line_chart(
        fig_id,
        lines,
        x=Axis("mean predicted probability", 0.0, top, axis.ticks),
        y=Axis("observed won rate", 0.0, top, axis.ticks),
    )
    return Figure(fig_id, f"Calibration ({bins} equal-size bins)", population, svg)


def gains(
    fig_id: str,
    y: np.ndarray,
    probs: Mapping[str, np.ndarray],
    population: str,
    *,
    capacity: float,
) -> Figure:
    """Share of won leads found when working leads best-first; sales capacity marked."""
    share = np.arange(1, len(y) + 1) / len(y)
    found = {
        role: np.interp(GRID, share, np.cumsum(y[np.argsort(-p, kind="stable")]) / max(y.sum(), 1))
        for role, p in probs.items()
    }
    lines = [*_curves(probs, found), Line("random", [0, 1], [0, 1], COLOURS["chance"], True)]
    marker = Marker(capacity, f"capacity {fmt.percent(capacity)}", COLOURS["capacity"])
    svg = line_chart(
        fig_id,
        lines,
        x=_unit("share of leads worked, best first"),
        y=_unit("share of won leads found"),
        markers=[marker],
    )
    return Figure(fig_id, "Cumulative gains", population, svg)


def score_distributions(
    fig_id: str, probs: Mapping[str, np.ndarray], population: str, bins: int = 20
) -> Figure:
    """Share of leads per probability bin, both models."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    labels = [f"{a:.2f}" for a in edges[:-1]]
    groups, top = [], 0.0
    for role, p in probs.items():
        counts = np.histogram(np.clip(p, 0, 1), bins=edges)[0]
        shares = counts / max(len(p), 1)
        top = max(top, float(shares.max()))
        tips = [
            f"{role}, probability {fmt.number(a)} to {fmt.number(b)}: {fmt.count(c)} leads "
            f"({fmt.percent(s)})"
            for a, b, c, s in zip(edges[:-1], edges[1:], counts, shares, strict=True)
        ]
        groups.append(Bars(role, shares.tolist(), COLOURS[role], tips))
    axis = Axis("share of leads", 0.0, top * 1.05 or 1.0, ticks(0.0, top * 1.05 or 1.0))
    svg = column_chart(fig_id, labels, groups, x_label="probability (bin start)", axis=axis)
    return Figure(fig_id, "Score distributions", population, svg)


def decile_conversion(
    fig_id: str, tables: Mapping[str, Sequence[Mapping[str, Any]]], population: str
) -> Figure:
    """Conversion per decile of each model's ranking."""
    groups, top = [], 0.0
    labels: list[str] = []
    for role, rows in tables.items():
        labels = [str(r["decile"]) for r in rows]
        values = [float(r["conversion"]) for r in rows]
        top = max(top, *values)
        tips = [
            f"{role}, decile {r['decile']}: {fmt.count(r['won'])} won of {fmt.count(r['leads'])} "
            f"({fmt.percent(r['conversion'])}), lift {fmt.number(r['lift'])}"
            for r in rows
        ]
        groups.append(Bars(role, values, COLOURS[role], tips))
    top = top * 1.05 or 1.0
    axis = Axis("conversion", 0.0, top, ticks(0.0, top))
    svg = column_chart(fig_id, labels, groups, x_label="decile (1 = best scored)", axis=axis)
    return Figure(fig_id, "Conversion by decile", population, svg)


def shares(
    fig_id: str,
    title: str,
    labels: Sequence[str],
    reference: Sequence[float],
    current: Sequence[float],
    population: str,
) -> Figure:
    """One feature's bins: the share of reference and of current rows in each."""
    top = max([*reference, *current, 0.01]) * 1.05
    groups = [
        Bars(
            name,
            list(values),
            COLOURS[name],
            [f"{name}, {label}: {fmt.percent(v)}" for label, v in zip(labels, values, strict=True)],
        )
        for name, values in (("reference", reference), ("current", current))
    ]
    axis = Axis("share of rows", 0.0, top, ticks(0.0, top))
    return Figure(fig_id, title, population, bar_chart(fig_id, list(labels), groups, axis=axis))


def won_rate_by_month(fig_id: str, months: Sequence[Mapping[str, Any]], population: str) -> Figure:
    """The won rate of labelled leads by month of creation."""
    x = list(range(len(months)))
    rates = [float(m["rate"]) for m in months]
    tips = [
        f"{m['month']}: won rate {fmt.number(m['rate'])}"
        + (f" ({fmt.count(m['n'])} leads)" if "n" in m else "")
        for m in months
    ]
    top = max([*rates, 0.01]) * 1.1
    step = max(1, math.ceil(len(x) / 7))  # a month label is about 50 px wide: at most 7
    x_axis = Axis(
        "month of creation", -0.5, len(x) - 0.5, [(k, str(months[k]["month"])) for k in x[::step]]
    )
    line = Line("won rate", x, rates, COLOURS["challenger"], tips=tips)
    svg = line_chart(fig_id, [line], x=x_axis, y=Axis("won rate", 0.0, top, ticks(0.0, top)))
    return Figure(fig_id, "Won rate by month of creation", population, svg)


def importance(fig_id: str, values: Mapping[str, Mapping[str, float]], population: str) -> Figure:
    """Mean |contribution| per feature, both models."""
    names = sorted(
        {n for v in values.values() for n in v},
        key=lambda n: -max(v.get(n, 0.0) for v in values.values()),
    )
    top = max([v for m in values.values() for v in m.values()] + [0.01]) * 1.05
    groups = [
        Bars(
            role,
            [float(v.get(n, 0.0)) for n in names],
            COLOURS.get(role, "#555555"),
            [f"{role}, {n}: {fmt.number(v.get(n, 0.0))}" for n in names],
        )
        for role, v in values.items()
    ]
    axis = Axis("mean |contribution| (log-odds)", 0.0, top, ticks(0.0, top))
    svg = bar_chart(fig_id, names, groups, axis=axis, width=560)
    return Figure(fig_id, "Feature importance", population, svg)
