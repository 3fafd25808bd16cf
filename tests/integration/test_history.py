"""The model history: every version on the newest holdout, decisions and a person's override on
one timeline, and an earlier run's immature-lead estimate checked once those leads matured."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from leadloop.config import Settings, load_settings
from leadloop.data.synthetic import SyntheticSpec, generate
from leadloop.pipeline import LoopResult, history, promote, run_loop, write_synthetic
from tests.integration.browser import CHROMIUM, chromium

SPEC = SyntheticSpec(n_leads=8000, months=18, seed=3)
EARLY = generate(SPEC).as_of - pd.Timedelta(days=120)  # the first run's cutoff


@dataclass(frozen=True)
class Story:
    """Two runs four months apart with a person's promotion between them, and the history."""

    root: Path
    early: LoopResult
    late: LoopResult
    versions: list[dict[str, Any]]
    page: Path


def _record(run: LoopResult) -> dict[str, Any]:
    """The run record as the run wrote it (run.json): what the report is rendered from."""
    record: dict[str, Any] = json.loads((run.report_dir / "run.json").read_text())
    return record


def _settings(root: Path, **environ: str) -> Settings:
    return load_settings(environ=environ, base_dir=root)


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Story:
    """Run at a cutoff four months before the data's end, promote its challenger by hand, run
    again at the end, then write the history."""
    root = tmp_path_factory.mktemp("history")
    write_synthetic(
        SPEC, leads_path=root / "data" / "leads.csv", outcomes_path=root / "data" / "outcomes.csv"
    )
    early = run_loop(_settings(root, LEADLOOP_LABELS__CUTOFF=EARLY.isoformat()))
    if early.champion_version != early.challenger_version:
        promote(_settings(root), early.challenger_version, reason="reviewed", by="a person")
        time.sleep(1.1)  # runs are named by their start, to the second: keep the order clear
    late = run_loop(_settings(root))
    versions, page = history(_settings(root))
    return Story(root, early, late, versions, page)


def test_every_version_is_scored_on_the_newest_holdout(story: Story) -> None:
    """It scores champions and challengers on the newest run's holdout: the very figures that
    run recorded for the two models it compared."""
    assert {v["version"] for v in story.versions} == {"1", "2", "3"}
    assert all(v["common_holdout_auc"] is not None for v in story.versions)
    by_version = {v["version"]: v["common_holdout_auc"] for v in story.versions}
    compared = _record(story.late)["versions"]
    metrics = _record(story.late)["metrics"]
    assert by_version[compared["compared_with"]] == pytest.approx(metrics["champion"]["roc_auc"])
    assert by_version[compared["challenger"]] == pytest.approx(metrics["challenger"]["roc_auc"])
    html = story.page.read_text()
    assert f"The holdout of the newest run, {story.late.record.run}" in html
    assert "Holdout ROC AUC of successive champions" not in html
    assert "Won rate by month of creation" not in html


def test_decisions_and_the_override_share_one_timeline(story: Story) -> None:
    """It lists both runs' decisions and the person's promotion, in time order."""
    html = story.page.read_text()
    for run in (story.early, story.late):
        assert f"run {run.record.run}:" in html
    assert "override v2" in html and "made champion by a person: reviewed" in html
    table = html[html.index('id="events-table"') :]
    early, override, late = (
        table.index(f"run {story.early.record.run}"),
        table.index("override v2"),
        table.index(f"run {story.late.record.run}"),
    )
    assert early < override < late


def test_early_estimate_is_within_its_interval_once_matured(story: Story) -> None:
    """It finds the early run's young leads matured by the late cutoff and their realised
    conversion and AUC within the intervals estimated before any outcome was known."""
    young = _record(story.early)["insights"]["young"]
    estimate = young["estimate"]
    assert estimate is not None and young["leads"] > 500
    assert estimate["roc_auc"]["expected"] > 0.65  # a champion that ranks, not a constant
    assert estimate["roc_auc"]["upper"] - estimate["roc_auc"]["lower"] < 0.2
    checks = _estimate_rows(story.page.read_text(), story.early.record.run)
    assert [row[4] for row in checks] == ["conversion", "ROC AUC"]
    for row in checks:
        assert row[3] == f"{young['leads']:,}"  # every young lead has matured
        assert row[-1] == "yes", row
    late_cutoff = _record(story.late)["labels"]["cutoff"]
    realised = _realised_conversion(story.root, young, cutoff=late_cutoff)
    assert checks[0][7] == f"{realised:.3f}"


def _estimate_rows(html: str, run: str) -> list[list[str]]:
    start = html.index('id="estimates-table"')
    table = html[start : html.index("</table>", start)]
    rows = []
    for chunk in table.split("<tr")[2:]:
        cells = [c.split("</td>")[0] for c in chunk.split("<td")[1:]]
        cells = [c[c.index(">") + 1 :] for c in cells]
        if cells and cells[0] == run:
            rows.append(cells)
    return rows


def _realised_conversion(root: Path, young: dict[str, Any], *, cutoff: str) -> float:
    """From the raw files: the share of the young leads whose latest event before the late
    cutoff is a won deal."""
    leads = pd.read_csv(root / "data" / "leads.csv", parse_dates=["created_at"])
    events = pd.read_csv(root / "data" / "outcomes.csv", parse_dates=["occurred_at"])
    start = EARLY - pd.Timedelta(days=90)  # younger than the maturity window at the cutoff
    chosen = leads[(leads["created_at"] > start) & (leads["created_at"] < EARLY)]
    before = events[events["occurred_at"] < pd.Timestamp(cutoff)].sort_values("occurred_at")
    last = before.groupby("lead_id")["outcome"].last()
    won = last.reindex(chosen["lead_id"]).eq("Closed Won")
    assert len(chosen) == young["leads"]
    return float(won.mean())


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian 'chromium')")
def test_history_page_renders_offline(story: Story, tmp_path: Path) -> None:
    """It opens offline in Chromium without errors, with a mark per version on the trend and a
    line per decision and override."""
    with chromium(tmp_path) as page:
        page.open(story.page.as_uri())
        marks = page.evaluate("document.querySelectorAll('#fig-history circle.mark').length")
        lines = page.evaluate("document.querySelectorAll('#fig-history g.marker').length")
        page.screenshot(tmp_path / "history.png")
        assert page.problems() == []
        assert [u for u in page.requests() if not u.startswith("file:")] == []
    assert marks == 3 and lines == 3  # two decisions and one override
