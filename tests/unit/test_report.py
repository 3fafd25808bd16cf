"""The HTML report, rendered from a real run and parsed back."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from leadloop.config import load_settings
from leadloop.data.synthetic import SyntheticSpec
from leadloop.pipeline import LoopResult, run_loop, write_synthetic
from leadloop.report.html import render_report

SECTIONS = ("verdict", "data", "comparison", "drift", "label-quality", "explanations", "checks")


class _Outline(HTMLParser):
    """Collects section ids, the text of each section and the number of inline figures."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.svgs = 0
        self.text: dict[str, list[str]] = {}
        self.current: str | None = None
        self.rows: dict[str, int] = {}
        self.table: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section" and found.get("id"):
            self.current = str(found["id"])
            self.ids.append(self.current)
        if tag == "svg":
            self.svgs += 1
        if tag == "table":
            self.table = found.get("id")
        if tag == "tr" and self.table:
            self.rows[self.table] = self.rows.get(self.table, 0) + 1

    def handle_data(self, data: str) -> None:
        if self.current:
            self.text.setdefault(self.current, []).append(data)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> LoopResult:
    """One real run of the loop on a small generated set."""
    root = tmp_path_factory.mktemp("report")
    write_synthetic(
        SyntheticSpec(n_leads=4000, months=12, seed=3),
        leads_path=root / "data" / "leads.csv",
        outcomes_path=root / "data" / "outcomes.csv",
    )
    return run_loop(load_settings(base_dir=root))


def _parse(html: str) -> _Outline:
    outline = _Outline()
    outline.feed(html)
    return outline


def test_report_written_with_every_section(run: LoopResult) -> None:
    """It writes report.html beside the run record with every section in order."""
    html = (run.report_dir / "report.html").read_text()
    outline = _parse(html)
    assert outline.ids == list(SECTIONS)
    assert outline.svgs >= 6 + len(run.record.to_dict()["assessment"]["drift"]["features"][:12])


def test_report_carries_the_runs_numbers(run: LoopResult) -> None:
    """It shows the verdict and both models' AUC exactly as the run recorded them."""
    outline = _parse((run.report_dir / "report.html").read_text())
    verdict = " ".join(outline.text["verdict"])
    assert run.decision.verdict.upper() in verdict
    for reason in run.decision.reasons:
        assert reason in verdict
    comparison = " ".join(outline.text["comparison"])
    for role in ("champion", "challenger"):
        assert f"{run.record.to_dict()['metrics'][role]['roc_auc']:.3f}" in comparison
    data = " ".join(outline.text["data"])
    for name in run.record.to_dict()["features"]["challenger"]["excluded"]:
        assert name in data
    checks = " ".join(outline.text["checks"])
    for check in run.decision.checks:
        assert check.name in checks


def test_drift_table_has_a_row_per_feature(run: LoopResult) -> None:
    """It lists every feature in the drift table, with its severity."""
    outline = _parse((run.report_dir / "report.html").read_text())
    features = run.record.to_dict()["assessment"]["drift"]["features"]
    assert outline.rows["drift-table"] == len(features) + 1
    text = " ".join(outline.text["drift"])
    for f in features:
        assert f["feature"] in text


def test_self_contained(run: LoopResult) -> None:
    """It loads nothing from the network: no external sources, links, styles or scripts."""
    html = (run.report_dir / "report.html").read_text()
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html)
    assert not re.search(r"url\(\s*[\"']?(https?:)?//", html)
    assert "@import" not in html and "<script" not in html


def test_renders_without_drift_or_label_quality(run: LoopResult) -> None:
    """It still renders when a run has no drift reference and no label-quality assessment."""
    record = run.record.to_dict()
    record["assessment"] = {**record["assessment"], "drift": None, "label_quality": None}
    scores = pd.read_parquet(run.report_dir / "holdout_scores.parquet")
    outline = _parse(render_report(record, scores))
    assert "explanations" not in outline.ids
    assert "No drift reference" in " ".join(outline.text["drift"])


def test_rerender_through_the_cli(run: LoopResult) -> None:
    """It re-renders an old run's report with `leadloop report RUN_ID`."""
    from tests.conftest import run_cli

    path = run.report_dir / "report.html"
    path.unlink()
    done = run_cli("report", run.record.run, cwd=Path(run.report_dir).parents[1])
    assert done.returncode == 0, done.stderr
    assert path.exists()
    missing = run_cli("report", "no-such-run", cwd=Path(run.report_dir).parents[1])
    assert missing.returncode == 2
