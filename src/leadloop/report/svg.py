"""Hand-written SVG charts: lines and grouped bars, with real text (searchable, selectable).

Each chart is complete without a script: axes, ticks, legend and series are drawn here. The
page's script (assets/report.js) adds hover values and series toggling, reading the data that
each line chart carries in its ``data-chart`` attribute and each bar's ``data-tip``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

WIDTH, HEIGHT = 460, 300
MARGIN = {"left": 56, "right": 16, "top": 30, "bottom": 44}
CHAR = 6.2  # average glyph width at 11px, to size label columns so no label is cut


@dataclass(frozen=True)
class Axis:
    """A value axis: its label, its range and where its ticks go."""

    label: str
    lo: float
    hi: float
    ticks: Sequence[tuple[float, str]] = ()


@dataclass(frozen=True)
class Line:
    """One series of a line chart; ``tips`` (one per point) makes its points hoverable marks."""

    name: str
    x: Sequence[float]
    y: Sequence[float]
    colour: str
    dashed: bool = False
    tips: Sequence[str] | None = None
    lower: Sequence[float] | None = None  # error bars, with ``upper``
    upper: Sequence[float] | None = None


@dataclass(frozen=True)
class Marker:
    """A vertical line across the plot at ``x`` (sales capacity, a decision on a timeline)."""

    x: float
    label: str
    colour: str
    tip: str = ""


@dataclass(frozen=True)
class Bars:
    """One series of a bar chart: a value per category, with a hover text per bar."""

    name: str
    values: Sequence[float]
    colour: str
    tips: Sequence[str] = field(default_factory=list)


def ticks(
    lo: float, hi: float, *, count: int = 5, digits: int | None = None
) -> list[tuple[float, str]]:
    """About ``count`` round tick values between ``lo`` and ``hi``, with their labels."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [(lo, f"{lo:g}")]
    raw = (hi - lo) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    mantissa = next(m for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    step = mantissa * power
    exact = max(0, -math.floor(math.log10(step) + 1e-9)) + (1 if mantissa == 2.5 else 0)
    places = digits if digits is not None else exact
    first = math.ceil(lo / step - 1e-9) * step
    out, value = [], first
    while value <= hi + step * 1e-9:
        out.append((value, f"{value:,.{places}f}"))
        value += step
    return out


class _Frame:
    """Maps data to pixels inside the plot area of one chart."""

    def __init__(self, x: Axis, y: Axis, *, width: int, height: int, left: int) -> None:
        self.x, self.y = x, y
        self.left, self.top = left, MARGIN["top"]
        self.w = width - left - MARGIN["right"]
        self.h = height - MARGIN["top"] - MARGIN["bottom"]

    def px(self, value: float) -> float:
        span = self.x.hi - self.x.lo or 1.0
        return self.left + (value - self.x.lo) / span * self.w

    def py(self, value: float) -> float:
        span = self.y.hi - self.y.lo or 1.0
        return self.top + self.h - (value - self.y.lo) / span * self.h

    def box(self) -> list[float]:
        return [self.left, self.top, self.w, self.h]


def _text(x: float, y: float, text: str, *, anchor: str = "middle", cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}>{escape(text)}</text>'


def _axes(frame: _Frame, *, x_ticks: bool = True) -> list[str]:
    """Grid, ticks and axis labels."""
    out = []
    for value, label in frame.y.ticks:
        y = frame.py(value)
        out.append(
            f'<line class="grid" x1="{frame.left}" x2="{frame.left + frame.w:.1f}" '
            f'y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        out.append(_text(frame.left - 6, y + 4, label, anchor="end", cls="tick"))
    if x_ticks:
        for value, label in frame.x.ticks:
            x = frame.px(value)
            out.append(
                f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{frame.top}" '
                f'y2="{frame.top + frame.h:.1f}"/>'
            )
            out.append(_text(x, frame.top + frame.h + 15, label, cls="tick"))
    bottom = frame.top + frame.h
    out.append(
        f'<rect class="plot" x="{frame.left}" y="{frame.top}" width="{frame.w:.1f}" '
        f'height="{frame.h:.1f}"/>'
    )
    out.append(_text(frame.left + frame.w / 2, bottom + 34, frame.x.label, cls="axis"))
    mid = frame.top + frame.h / 2
    out.append(
        f'<text class="axis" text-anchor="middle" transform="translate(14 {mid:.1f}) '
        f'rotate(-90)">{escape(frame.y.label)}</text>'
    )
    return out


def _legend(items: Sequence[tuple[str, str, bool]], *, width: int) -> list[str]:
    """Clickable legend entries (name, colour, dashed), right-aligned above the plot, in order."""
    starts, x = [], float(width - MARGIN["right"])
    for name, _, _ in reversed(items):
        x -= len(name) * CHAR + 26
        starts.append(x)
    out = []
    for (name, colour, dashed), x in zip(items, reversed(starts), strict=True):
        dash = ' stroke-dasharray="4 3"' if dashed else ""
        out.append(
            f'<g class="legend-item" data-series="{escape(name)}" role="button" tabindex="0" '
            f'aria-pressed="true"><line x1="{x:.1f}" x2="{x + 16:.1f}" y1="14" y2="14" '
            f'stroke="{colour}" stroke-width="3"{dash}/>'
            f"{_text(x + 20, 18, name, anchor='start')}</g>"
        )
    return out


def _svg(chart_id: str, body: list[str], *, width: int, height: int, data: object = None) -> str:
    payload = f' data-chart="{escape(json.dumps(data, separators=(",", ":")))}"' if data else ""
    return (
        f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" xmlns="http://www.w3.org/2000/svg"'
        f"{payload}>" + "".join(body) + "</svg>"
    )


def _path(frame: _Frame, line: Line) -> str:
    points = [
        f"{frame.px(x):.1f},{frame.py(y):.1f}"
        for x, y in zip(line.x, line.y, strict=True)
        if math.isfinite(x) and math.isfinite(y)
    ]
    dash = ' stroke-dasharray="5 4"' if line.dashed else ""
    return f'<polyline points="{" ".join(points)}" stroke="{line.colour}"{dash}/>' if points else ""


def _marks(frame: _Frame, line: Line) -> list[str]:
    """Hoverable points, with error bars when the line has them."""
    out = []
    for k, (x, y) in enumerate(zip(line.x, line.y, strict=True)):
        if not (math.isfinite(x) and math.isfinite(y)):
            continue
        cx, cy = frame.px(x), frame.py(y)
        if line.lower is not None and line.upper is not None:
            out.append(
                f'<line class="err" x1="{cx:.1f}" x2="{cx:.1f}" '
                f'y1="{frame.py(line.lower[k]):.1f}" y2="{frame.py(line.upper[k]):.1f}" '
                f'stroke="{line.colour}"/>'
            )
        tip = escape(line.tips[k]) if line.tips is not None else ""
        out.append(
            f'<circle class="mark" cx="{cx:.1f}" cy="{cy:.1f}" r="4" '
            f'fill="{line.colour}" data-tip="{tip}"/>'
        )
    return out


def _markers(frame: _Frame, markers: Sequence[Marker]) -> list[str]:
    """Vertical lines with their labels, staggered over three rows so neighbours stay legible."""
    out = []
    for k, m in enumerate(markers):
        x = frame.px(m.x)
        label = _text(x + 3, frame.top + 11 + 11 * (k % 3), m.label, anchor="start", cls="note")
        out.append(
            f'<g class="marker" data-tip="{escape(m.tip or m.label)}">'
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{frame.top}" '
            f'y2="{frame.top + frame.h:.1f}" stroke="{m.colour}"/>'
            + label.replace("<text ", f'<text fill="{m.colour}" ', 1)
            + "</g>"
        )
    return out


def line_chart(
    chart_id: str,
    lines: Sequence[Line],
    *,
    x: Axis,
    y: Axis,
    markers: Sequence[Marker] = (),
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """A line chart; lines without ``tips`` are hovered by the nearest x (the script's job)."""
    frame = _Frame(x, y, width=width, height=height, left=MARGIN["left"])
    body = _axes(frame)
    body += _markers(frame, markers)
    for line in lines:
        parts = [_path(frame, line), *(_marks(frame, line) if line.tips is not None else [])]
        body.append(
            f'<g class="series" data-series="{escape(line.name)}" fill="none">'
            + "".join(parts)
            + "</g>"
        )
    body += _legend([(s.name, s.colour, s.dashed) for s in lines], width=width)
    data = {
        "plot": frame.box(),
        "x": [x.lo, x.hi],
        "y": [y.lo, y.hi],
        "xLabel": x.label,
        "series": [
            {"name": s.name, "x": [round(v, 5) for v in s.x], "y": [round(v, 5) for v in s.y]}
            for s in lines
            if s.tips is None
        ],
    }
    return _svg(chart_id, body, width=width, height=height, data=data if data["series"] else None)


def bar_chart(
    chart_id: str,
    categories: Sequence[str],
    groups: Sequence[Bars],
    *,
    axis: Axis,
    width: int = WIDTH,
) -> str:
    """Horizontal grouped bars, one row per category; the label column fits the longest label."""
    left = int(min(60, max(len(c) for c in categories)) * CHAR + 14) if categories else 60
    row = 10 * len(groups) + 8
    height = MARGIN["top"] + MARGIN["bottom"] + row * len(categories)
    frame = _Frame(axis, Axis("", 0, len(categories)), width=width, height=height, left=left)
    body = _axes(frame)
    for k, label in enumerate(categories):
        shown = label if len(label) <= 60 else label[:59] + "…"
        body.append(
            _text(left - 6, frame.top + row * k + row / 2 + 4, shown, anchor="end", cls="tick")
        )
    for g, bars in enumerate(groups):
        rects = []
        for k, value in enumerate(bars.values):
            x0, x1 = frame.px(max(axis.lo, 0.0)), frame.px(value)
            tip = escape(bars.tips[k]) if bars.tips else ""
            rects.append(
                f'<rect x="{min(x0, x1):.1f}" y="{frame.top + row * k + 4 + 10 * g:.1f}" '
                f'width="{abs(x1 - x0):.1f}" height="9" fill="{bars.colour}" data-tip="{tip}"/>'
            )
        body.append(
            f'<g class="series" data-series="{escape(bars.name)}">' + "".join(rects) + "</g>"
        )
    body += _legend([(b.name, b.colour, False) for b in groups], width=width)
    return _svg(chart_id, body, width=width, height=height)


def column_chart(
    chart_id: str,
    categories: Sequence[str],
    groups: Sequence[Bars],
    *,
    x_label: str,
    axis: Axis,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """Vertical grouped columns over a few short categories (deciles, probability bins)."""
    frame = _Frame(
        Axis(x_label, 0, len(categories)), axis, width=width, height=height, left=MARGIN["left"]
    )
    body = _axes(frame, x_ticks=False)
    slot = frame.w / max(len(categories), 1)
    every = max(1, math.ceil(len(categories) * 28 / frame.w))
    for k, label in enumerate(categories):
        if k % every == 0:
            body.append(
                _text(frame.left + slot * (k + 0.5), frame.top + frame.h + 15, label, cls="tick")
            )
    bar = slot * 0.8 / max(len(groups), 1)
    for g, bars in enumerate(groups):
        rects = []
        for k, value in enumerate(bars.values):
            y0, y1 = frame.py(max(axis.lo, 0.0)), frame.py(value)
            tip = escape(bars.tips[k]) if bars.tips else ""
            rects.append(
                f'<rect x="{frame.left + slot * k + slot * 0.1 + bar * g:.1f}" '
                f'y="{min(y0, y1):.1f}" width="{bar:.1f}" height="{abs(y0 - y1):.1f}" '
                f'fill="{bars.colour}" data-tip="{tip}"/>'
            )
        body.append(
            f'<g class="series" data-series="{escape(bars.name)}">' + "".join(rects) + "</g>"
        )
    body += _legend([(b.name, b.colour, False) for b in groups], width=width)
    return _svg(chart_id, body, width=width, height=height)
