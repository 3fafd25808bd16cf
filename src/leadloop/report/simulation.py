"""The page of ``leadloop simulate``: true AUC and conversions per month and arm, as SVG.

Pure: takes the simulation's JSON-ready summary (``pipeline.simulate.summarise``), returns
strings; the caller writes them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from leadloop.report import fmt
from leadloop.report.charts import Figure
from leadloop.report.html import render_simulation
from leadloop.report.svg import HEIGHT, WIDTH, Axis, Line, line_chart, ticks

ARM_COLOURS = {"naive": "#c44e52", "explore": "#4c72b0", "oracle": "#2ca02c", "best": "#8c8c8c"}
ARM_NAMES = {
    "naive": "naive",
    "explore": "exploration + weighting",
    "oracle": "oracle",
    "best": "best possible",
}
# The report's chart styles (base.css.j2), carried inside a chart saved as its own file.
_STANDALONE_STYLE = (
    "<style>svg{font-family:system-ui,sans-serif;font-size:11px}text:not([fill]){fill:#333}"
    "text.axis{font-size:12px}.grid{stroke:#eee}rect.plot{fill:none;stroke:#bbb}"
    "polyline{fill:none;stroke-width:2}</style>"
)


def figures(summary: Mapping[str, Any]) -> list[Figure]:
    """Two charts over the months: the champion's true AUC, and the conversions it brought."""
    months = list(range(1, int(summary["months"]) + 1))
    arms = list(summary["arms"])
    mean = summary["mean_per_month"]
    seeds = len(summary["seeds"])
    population = (
        f"a fresh cohort of {fmt.count(summary['world']['leads_per_month'])} leads each month, "
        f"mean of {seeds} world{'s' if seeds > 1 else ''}"
    )
    auc = [_line(arm, months, mean[arm]["true_auc"], "true AUC") for arm in arms]
    low = min(min(line.y) for line in auc)
    auc_axis = Axis("true AUC", _floor(low), 1.0 if low > 0.9 else _ceil(max(_top(auc))))
    conversions = [_line(arm, months, mean[arm]["conversions"], "conversions") for arm in arms]
    conversions.append(
        _line("best", months, summary["mean_best_conversions"], "conversions", dashed=True)
    )
    top = max(_top(conversions)) * 1.1
    return [
        Figure(
            "sim-auc",
            "True AUC of the champion, by month",
            population,
            line_chart("sim-auc", auc, x=_months(months), y=_with_ticks(auc_axis)),
        ),
        Figure(
            "sim-conversions",
            "Conversions from the leads sales worked, by month",
            population,
            line_chart(
                "sim-conversions",
                conversions,
                x=_months(months),
                y=_with_ticks(Axis("conversions", 0.0, top)),
            ),
        ),
    ]


def standalone_svg(charts: Sequence[Figure]) -> str:
    """The charts side by side in one SVG file that renders alone (README, docs/)."""
    parts = []
    for k, chart in enumerate(charts):
        inner = re.sub(r"^<svg ", f'<svg x="{k * WIDTH}" y="24" ', chart.svg, count=1)
        title = chart.title.replace("&", "&amp;").replace("<", "&lt;")
        parts.append(
            f'<text x="{k * WIDTH + WIDTH / 2}" y="16" text-anchor="middle" '
            f'font-weight="600">{title}</text>{inner}'
        )
    width, height = WIDTH * len(charts), HEIGHT + 24
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">{_STANDALONE_STYLE}'
        f'<rect width="{width}" height="{height}" fill="#fff"/>' + "".join(parts) + "</svg>\n"
    )


def _line(
    arm: str, months: list[int], values: Sequence[float], what: str, *, dashed: bool = False
) -> Line:
    name = ARM_NAMES.get(arm, arm)
    tips = [
        f"{name}, month {m}: {what} {fmt.number(v)}" for m, v in zip(months, values, strict=True)
    ]
    return Line(name, months, [float(v) for v in values], ARM_COLOURS[arm], dashed, tips)


def _months(months: list[int]) -> Axis:
    step = max(1, len(months) // 6)
    return Axis("month live", 0.5, len(months) + 0.5, [(m, str(m)) for m in months[::step]])


def _with_ticks(axis: Axis) -> Axis:
    return Axis(axis.label, axis.lo, axis.hi, ticks(axis.lo, axis.hi))


def _top(lines: Sequence[Line]) -> list[float]:
    return [max(line.y) for line in lines]


def _floor(value: float) -> float:
    return max(0.0, int(value * 20 - 1e-9) / 20)


def _ceil(value: float) -> float:
    return min(1.0, (int(value * 20) + 1) / 20)


def render_page(summary: Mapping[str, Any], *, segment: str) -> str:
    """The whole HTML page: what was simulated, the two charts, the figures per world."""
    context = {"summary": summary, "figures": figures(summary), "names": ARM_NAMES}
    return render_simulation({**context, "segment": segment})
