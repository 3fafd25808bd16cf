"""The report in a real headless Chromium, network off: it loads from disk with no console
errors and no requests, its charts draw with data, hover and toggle, and its contents links
land on their sections. A screenshot is kept under the test's tmp path."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from leadloop.config import load_settings
from leadloop.data.synthetic import SyntheticSpec
from leadloop.pipeline import LoopResult, run_loop, write_synthetic
from tests.integration.browser import CHROMIUM, Page, chromium

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (Debian package 'chromium'; .ci/run installs it)",
)

CHARTS = """Array.from(document.querySelectorAll('svg.chart')).map(svg => {
  const shapes = Array.from(svg.querySelectorAll('.series polyline, .series rect, .series circle'));
  const drawn = shapes.filter(s => { const b = s.getBBox(); return b.width > 0 || b.height > 0; });
  const box = svg.getBoundingClientRect();
  return {id: svg.id, ready: svg.getAttribute('data-ready'), shapes: shapes.length,
          drawn: drawn.length, width: box.width, height: box.height,
          texts: svg.querySelectorAll('text').length};
})"""
CENTRE = """(() => {{
  const el = document.querySelector({selector});
  el.scrollIntoView({{block: 'center'}});
  const r = el.getBoundingClientRect();
  return [r.x + r.width / 2, r.y + r.height / 2];
}})()"""
TIP = "document.getElementById('{figure}').querySelector('.tooltip')"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> LoopResult:
    """One real run of the loop on a small generated set."""
    root = tmp_path_factory.mktemp("browser")
    write_synthetic(
        SyntheticSpec(n_leads=4000, months=12, seed=3),
        leads_path=root / "data" / "leads.csv",
        outcomes_path=root / "data" / "outcomes.csv",
    )
    return run_loop(load_settings(base_dir=root))


def _record(run: LoopResult) -> dict[str, Any]:
    """The run record as the run wrote it (run.json): what the report is rendered from."""
    record: dict[str, Any] = json.loads((run.report_dir / "run.json").read_text())
    return record


def _centre(page: Page, selector: str) -> tuple[float, float]:
    x, y = page.evaluate(CENTRE.format(selector=repr(selector)))
    return float(x), float(y)


def _tooltip(page: Page, figure: str) -> str | None:
    tip = TIP.format(figure=figure)
    return page.evaluate(f"{tip}.hidden ? null : {tip}.textContent")  # type: ignore[no-any-return]


def test_report_loads_offline_without_errors(run: LoopResult, tmp_path: Path) -> None:
    """It loads from disk with the network off: no request but the file, no console output,
    no exception, no CSP violation; the screenshot shows a full page."""
    with chromium(tmp_path) as page:
        page.open((run.report_dir / "report.html").as_uri())
        ready = page.evaluate("document.documentElement.getAttribute('data-charts-ready')")
        shot = page.screenshot(tmp_path / "report.png")
        assert page.problems() == []
        assert [url for url in page.requests() if not url.startswith("file:")] == []
    assert int(ready) >= 6
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape[0] >= 3000 and pixels.shape[1] == 1200
    assert (pixels < 200).mean() > 0.01 and pixels.std() > 10  # text, tables, charts


def test_charts_render_with_data(run: LoopResult, tmp_path: Path) -> None:
    """It draws every chart: set up by the script, laid out, with data shapes and text."""
    with chromium(tmp_path) as page:
        page.open((run.report_dir / "report.html").as_uri())
        found = page.evaluate(CHARTS)
        assert page.problems() == []
    ids = [c["id"] for c in found]
    for expected in (
        "fig-roc",
        "fig-pr",
        "fig-calibration",
        "fig-gains",
        "fig-scores",
        "fig-deciles",
        "fig-importance",
        "fig-label-drift",
    ):
        assert expected in ids
    drift = _record(run)["assessment"]["drift"]["features"]
    assert sum(i.startswith("fig-drift-") for i in ids) == len(drift) + 1  # and the score
    for chart in found:
        assert chart["ready"] == "true", chart
        assert chart["drawn"] >= 2 and chart["drawn"] >= chart["shapes"] * 0.5, chart
        assert chart["width"] > 200 and chart["height"] > 100 and chart["texts"] >= 5, chart


def test_contents_links_land_on_their_sections(run: LoopResult, tmp_path: Path) -> None:
    """It has a contents entry per section whose link scrolls the page to that section."""
    with chromium(tmp_path) as page:
        page.open((run.report_dir / "report.html").as_uri())
        links = page.evaluate(
            "Array.from(document.querySelectorAll('nav#toc a')).map(a => a.getAttribute('href'))"
        )
        sections = page.evaluate(
            "Array.from(document.querySelectorAll('main section[id]')).map(s => '#' + s.id)"
        )
        assert links == sections and len(links) >= 9
        for link in links:
            x, y = _centre(page, f"nav#toc a[href='{link}']")
            page.click(x, y)
            landed = page.evaluate(
                f"""(() => {{ const top = document.querySelector('{link}')
                   .getBoundingClientRect().top;
                 const bottom = window.scrollY + window.innerHeight
                   >= document.documentElement.scrollHeight - 2;
                 return [location.hash, top, bottom]; }})()"""
            )
            assert landed[0] == link
            assert abs(landed[1]) < 40 or (landed[2] and landed[1] < 900), (link, landed)
        assert page.problems() == []


def test_hover_shows_values_and_legend_toggles_series(run: LoopResult, tmp_path: Path) -> None:
    """It shows both models' values under the pointer, hides a series its legend entry turns
    off (and shows it again), and gives each bar its figures."""
    with chromium(tmp_path) as page:
        page.open((run.report_dir / "report.html").as_uri())
        x, y = _centre(page, "#fig-roc rect.plot")
        page.mouse("mouseMoved", x, y)
        both = _tooltip(page, "fig-roc-figure")
        assert both is not None and re.search(r"champion: \d\.\d{3}", both)
        assert re.search(r"challenger: \d\.\d{3}", both)
        page.click(*_centre(page, "#fig-roc .legend-item[data-series='challenger']"))
        hidden = page.evaluate(
            "document.querySelector(\"#fig-roc .series[data-series='challenger']\")"
            ".classList.contains('hidden')"
        )
        assert hidden is True
        page.mouse("mouseMoved", *_centre(page, "#fig-roc rect.plot"))
        one = _tooltip(page, "fig-roc-figure")
        assert one is not None and "champion:" in one and "challenger:" not in one
        page.click(*_centre(page, "#fig-roc .legend-item[data-series='challenger']"))
        assert (
            page.evaluate(
                "document.querySelector(\"#fig-roc .series[data-series='challenger']\")"
                ".classList.contains('hidden')"
            )
            is False
        )
        page.mouse(
            "mouseMoved", *_centre(page, "#fig-deciles .series[data-series='champion'] rect")
        )
        bar = _tooltip(page, "fig-deciles-figure")
        assert bar is not None and bar.startswith("champion, decile 1:") and "won of" in bar
        assert page.problems() == []
