"""The report's hand-written SVG charts, its number format and the versions' common scores."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from leadloop.backtest import auc_interval, may_have_trained_on
from leadloop.report import charts, fmt
from leadloop.report.svg import Axis, Bars, Line, bar_chart, line_chart, ticks

NS = "{http://www.w3.org/2000/svg}"


def _svg(text: str) -> ET.Element:
    return ET.fromstring(text)


def test_line_chart_is_valid_svg_with_text_legend_and_hover_data() -> None:
    """It writes valid SVG: one toggleable legend entry and one series group per line, axis
    labels as text, and the points the script hovers over."""
    lines = [
        Line("champion", [0.0, 0.5, 1.0], [0.0, 0.7, 1.0], "#111"),
        Line("chance", [0, 1], [0, 1], "#999", dashed=True),
    ]
    svg = _svg(
        line_chart("c1", lines, x=Axis("fpr", 0, 1, ticks(0, 1, count=6)), y=Axis("tpr", 0, 1))
    )
    legend = [g.get("data-series") for g in svg.iter(f"{NS}g") if g.get("class") == "legend-item"]
    series = [g.get("data-series") for g in svg.iter(f"{NS}g") if g.get("class") == "series"]
    assert legend == series == ["champion", "chance"]
    texts = {t.text for t in svg.iter(f"{NS}text")}
    assert {"fpr", "tpr", "champion", "chance", "0.0", "1.0"} <= texts
    data = json.loads(str(svg.get("data-chart")))
    assert data["series"][0] == {"name": "champion", "x": [0.0, 0.5, 1.0], "y": [0.0, 0.7, 1.0]}
    assert len(data["plot"]) == 4


def test_points_with_tips_are_hoverable_marks() -> None:
    """It draws a mark with its hover text for each point of a line that has tips."""
    line = Line(
        "v", [1, 2], [0.7, 0.8], "#111", tips=["v1 <0.7>", "v2"], lower=[0.6, 0.7], upper=[0.8, 0.9]
    )
    svg = _svg(line_chart("c2", [line], x=Axis("t", 0, 3), y=Axis("auc", 0.5, 1)))
    marks = [c.get("data-tip") for c in svg.iter(f"{NS}circle")]
    assert marks == ["v1 <0.7>", "v2"]
    assert sum(1 for e in svg.iter(f"{NS}line") if e.get("class") == "err") == 2


def test_bar_labels_are_never_cut() -> None:
    """It sizes the label column to the longest category, so each label is shown whole."""
    labels = ["< 1.2e+03", "1.2e+03 to 4.5e+03 (a long bin label)", "(missing)"]
    text = bar_chart(
        "b",
        labels,
        [Bars("reference", [0.2, 0.5, 0.3], "#888", ["a", "b", "c"])],
        axis=Axis("share", 0, 0.6, ticks(0, 0.6)),
    )
    svg = _svg(text)
    shown = [t.text for t in svg.iter(f"{NS}text") if t.get("text-anchor") == "end"]
    assert set(labels) <= set(shown)
    first_bar = min(float(r.get("x") or 0) for r in svg.iter(f"{NS}rect") if r.get("data-tip"))
    assert first_bar >= len(labels[1]) * 6.2


def test_ticks_are_round_and_cover_the_range() -> None:
    """It places round ticks inside the range, labelled with the decimals the step needs."""
    found = ticks(0.0, 0.37)
    assert [label for _, label in found] == ["0.0", "0.1", "0.2", "0.3"]
    assert [label for _, label in ticks(0.0, 1.0)] == ["0.00", "0.25", "0.50", "0.75", "1.00"]
    assert [label for _, label in ticks(0.72, 0.86)] == ["0.75", "0.80", "0.85"]


def test_roc_figure_names_its_population() -> None:
    """It builds the ROC figure with its population and a curve per model."""
    rng = np.random.default_rng(0)
    y = (rng.uniform(size=500) < 0.3).astype(float)
    probs = {"champion": rng.uniform(size=500) + y * 0.3, "challenger": rng.uniform(size=500)}
    figure = charts.roc("fig", y, probs, "Holdout: 500 leads.")
    assert figure.population == "Holdout: 500 leads."
    data = json.loads(str(_svg(figure.svg).get("data-chart")))
    assert [s["name"] for s in data["series"]] == ["champion", "challenger", "chance"]
    assert len(data["series"][0]["x"]) == 201


def test_one_number_format() -> None:
    """It writes figures with three decimals, signed differences, percentages and counts."""
    assert fmt.number(0.0002871) == "0.000" and fmt.number(4.07281) == "4.073"
    assert fmt.signed(0.006) == "+0.006" and fmt.signed(-0.0001) == "+0.000"
    assert fmt.percent(0.1234) == "12.3%" and fmt.count(1234567) == "1,234,567"
    assert fmt.pvalue(0.0002871) == "< 0.001" and fmt.pvalue(0.25) == "0.250"
    assert fmt.number(None) == fmt.number(math.nan) == fmt.MISSING
    assert fmt.interval(-0.003, 0.015, sign=True) == "-0.003 to +0.015"


def test_auc_interval_is_delong() -> None:
    """It gives sklearn's AUC with an interval that narrows as the holdout grows."""
    rng = np.random.default_rng(1)
    widths = []
    for n in (500, 5000):
        p = rng.uniform(size=n)
        y = (rng.uniform(size=n) < p).astype(float)
        auc, lower, upper = auc_interval(y, p)
        assert auc == pytest.approx(roc_auc_score(y, p))
        assert lower < auc < upper
        widths.append(upper - lower)
    assert widths[1] < widths[0] / 2.5


def test_later_holdouts_mean_possibly_trained_on() -> None:
    """It flags a version whose own holdout began after the common one, and only that."""
    assert may_have_trained_on("2026-05-01T00:00:00", "2026-04-01T00:00:00")
    assert not may_have_trained_on("2026-03-01T00:00:00", "2026-04-01T00:00:00")
    assert not may_have_trained_on(None, "2026-04-01T00:00:00")
