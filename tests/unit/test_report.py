"""The HTML report, rendered from a real run and parsed back."""

from __future__ import annotations

import json
import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from leadloop.config import load_settings
from leadloop.data.synthetic import SyntheticSpec
from leadloop.pipeline import LoopResult, run_loop, write_synthetic
from leadloop.report import fmt
from leadloop.report.html import render_report

SECTIONS = (
    "verdict",
    "data",
    "comparison",
    "deciles",
    "segments",
    "young-leads",
    "drift",
    "label-quality",
    "explanations",
    "checks",
)


class _Outline(HTMLParser):
    """Collects section ids, each section's text, tables' cells, figures and their captions."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.svgs: list[dict[str, str | None]] = []
        self.text: dict[str, list[str]] = {}
        self.current: str | None = None
        self.tables: dict[str, list[list[str]]] = {}
        self.table: str | None = None
        self.cell: list[str] | None = None
        self.captions: list[str] = []
        self.caption: list[str] | None = None
        self.tags: list[str] = []
        self.links: list[str] = []
        self.hidden = 0  # inside an svg (chart labels) or the script: not prose

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append(tag)
        if tag == "section" and found.get("id"):
            self.current = str(found["id"])
            self.ids.append(self.current)
        if tag == "svg":
            self.svgs.append(found)
        if tag in ("svg", "script"):
            self.hidden += 1
        if tag == "table":
            self.table = found.get("id")
        if tag == "tr" and self.table:
            self.tables.setdefault(self.table, []).append([])
        if tag in ("td", "th") and self.table:
            self.cell = []
        if tag == "figcaption":
            self.caption = []
        if tag == "a" and found.get("href"):
            self.links.append(str(found["href"]))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("svg", "script"):
            self.hidden -= 1
        if tag in ("td", "th") and self.table and self.cell is not None:
            self.tables[self.table][-1].append("".join(self.cell).strip())
            self.cell = None
        if tag == "table":
            self.table = None
        if tag == "figcaption" and self.caption is not None:
            self.captions.append("".join(self.caption))
            self.caption = None

    def handle_data(self, data: str) -> None:
        if self.current and not self.hidden:
            self.text.setdefault(self.current, []).append(data)
        if self.cell is not None:
            self.cell.append(data)
        if self.caption is not None:
            self.caption.append(data)


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


def _record(run: LoopResult) -> dict[str, Any]:
    """The run record as the run wrote it (run.json): what the report is rendered from."""
    record: dict[str, Any] = json.loads((run.report_dir / "run.json").read_text())
    return record


def _parse(html: str) -> _Outline:
    outline = _Outline()
    outline.feed(html)
    return outline


def _page(run: LoopResult) -> _Outline:
    return _parse((run.report_dir / "report.html").read_text())


def _rows(outline: _Outline, table: str) -> dict[str, list[str]]:
    return {row[0]: row for row in outline.tables[table][1:]}


def test_report_written_with_every_section(run: LoopResult) -> None:
    """It writes report.html with every section in order and a contents entry for each."""
    outline = _page(run)
    assert outline.ids == list(SECTIONS)
    assert [link for link in outline.links if link.startswith("#")] == [f"#{s}" for s in SECTIONS]
    drift_features = _record(run)["assessment"]["drift"]["features"]
    assert len(outline.svgs) >= 6 + len(drift_features)


def test_report_carries_the_runs_numbers(run: LoopResult) -> None:
    """It shows the verdict and both models' AUC exactly as the run recorded them."""
    outline = _page(run)
    verdict = " ".join(outline.text["verdict"])
    assert run.decision.verdict.upper() in verdict
    for reason in run.decision.reasons:
        assert reason in verdict
    metrics = _rows(outline, "metrics-table")
    for k, role in enumerate(("champion", "challenger"), start=1):
        assert (
            metrics["roc_auc (higher is better)"][k]
            == f"{_record(run)['metrics'][role]['roc_auc']:.3f}"
        )
    data = " ".join(outline.text["data"])
    for name in _record(run)["features"]["challenger"]["excluded"]:
        assert name in data


def test_check_rows_show_the_figure_their_text_talks_about(run: LoopResult) -> None:
    """It shows auc_gain as the gain with its interval (not the bound), and never an unrun pass."""
    outline = _page(run)
    rows = _rows(outline, "checks-table")
    assert set(rows) == {c.name for c in run.decision.checks}
    gain = _record(run)["assessment"]["auc_difference"]
    figure, interval = rows["auc_gain"][1], rows["auc_gain"][2]
    assert figure == fmt.signed(gain["difference"])
    assert interval.endswith(f"{fmt.signed(gain['lower'])} to {fmt.signed(gain['upper'])}")
    assert figure in next(c.detail for c in run.decision.checks if c.name == "auc_gain")
    for check in run.decision.checks:
        result = rows[check.name][5]
        if check.passed is None:
            assert result.startswith("not run (") and result.endswith(")") and len(result) > 12
        else:
            assert result == ("pass" if check.passed else "fail")


def test_not_run_check_says_why(run: LoopResult) -> None:
    """It shows a check that did not run as "not run (why)" with no figure, never as pass."""
    record = _record(run)
    drift = next(c for c in record["decision"]["checks"] if c["name"] == "top_feature_drift")
    drift.update(passed=None, value=None, detail="Not run: the champion stores no reference.")
    scores = pd.read_parquet(run.report_dir / "holdout_scores.parquet")
    rows = _rows(_parse(render_report(record, scores)), "checks-table")
    assert rows["top_feature_drift"][1] == fmt.MISSING
    assert rows["top_feature_drift"][5] == "not run (the champion stores no reference)"


def test_numbers_have_one_format(run: LoopResult) -> None:
    """It writes every decimal figure in tables and prose with three decimals, or as a
    percentage (chart bin labels are the drift bins' own edges)."""
    outline = _page(run)
    odd = [
        cell
        for rows in outline.tables.values()
        for row in rows
        for cell in row
        if re.fullmatch(r"[+-]?\d+\.\d+", cell) and not re.fullmatch(r"[+-]?\d+\.\d{3}", cell)
    ]
    assert odd == []
    assert not re.search(r"\d\.\d{4,}", " ".join(" ".join(t) for t in outline.text.values()))


def test_deciles_for_both_models(run: LoopResult) -> None:
    """It shows ten deciles per model whose first is the metrics' top decile and whose leads,
    won leads and revenue add up to the holdout's."""
    outline = _page(run)
    scores = pd.read_parquet(run.report_dir / "holdout_scores.parquet")
    for role in ("champion", "challenger"):
        rows = outline.tables[f"deciles-{role}"][1:]
        assert [r[0] for r in rows] == [str(k) for k in range(1, 11)]
        assert sum(int(r[1].replace(",", "")) for r in rows) == len(scores)
        assert sum(int(r[2].replace(",", "")) for r in rows) == int(scores["label"].sum())
        top = _record(run)["metrics"][role]["top_decile_conversion"]
        assert rows[0][3] == fmt.percent(top)
        assert rows[-1][5] == "100.0%"
        revenue = sum(float(r[7].replace(",", "")) for r in rows)
        assert revenue == pytest.approx(float(scores["amount"].fillna(0).sum()), abs=10)


def test_revenue_is_the_won_deals_amounts(run: LoopResult) -> None:
    """It carries each holdout lead's won amount from the outcomes file, 0 for lost leads."""
    root = Path(run.report_dir).parents[1]
    outcomes = pd.read_csv(root / "data" / "outcomes.csv")
    won = outcomes[outcomes["outcome"] == "Closed Won"].set_index("lead_id")["amount"]
    scores = pd.read_parquet(run.report_dir / "holdout_scores.parquet")
    expected = np.where(scores["label"] == 1, won.reindex(scores["lead_id"]).to_numpy(), 0.0)
    assert np.allclose(scores["amount"].to_numpy(), expected, equal_nan=True)
    capacity = _rows(_page(run), "capacity-table")
    assert len(capacity["champion"]) == 6  # worked, won, recall, revenue and its share


def test_segments_have_support_and_intervals(run: LoopResult) -> None:
    """It judges only segments with enough of both outcomes and counts every other value."""
    found = _record(run)["insights"]["segments"]
    need = found["min_minority"]
    for segment in found["segments"]:
        assert min(segment["won"], segment["leads"] - segment["won"]) >= need
        assert segment["lower"] <= segment["difference"] <= segment["upper"]
    holdout = pd.read_parquet(run.report_dir / "holdout_scores.parquet")
    leads = pd.read_csv(Path(run.report_dir).parents[1] / "data" / "leads.csv")
    rows = leads.set_index("lead_id").loc[holdout["lead_id"]]
    for feature in found["features"]:
        judged = sum(s["feature"] == feature for s in found["segments"])
        values = rows[feature].astype(object).where(rows[feature].notna(), "(missing)")
        assert judged + found["too_small"].get(feature, 0) == values.astype(str).nunique()
    if found["segments"]:
        assert len(_page(run).tables["segments-table"]) == len(found["segments"]) + 1


def test_young_leads_are_the_ones_inside_the_window(run: LoopResult) -> None:
    """It estimates on every lead created within the maturity window before the cutoff."""
    young = _record(run)["insights"]["young"]
    labels = _record(run)["labels"]
    leads = pd.read_csv(Path(run.report_dir).parents[1] / "data" / "leads.csv")
    created = pd.to_datetime(leads["created_at"])
    cutoff = pd.Timestamp(labels["cutoff"])
    inside = (created > cutoff - pd.Timedelta(days=labels["maturity_days"])) & (created < cutoff)
    assert young["leads"] == int(inside.sum()) > 0
    estimate = young["estimate"]
    for figure in ("conversion", "roc_auc"):
        e = estimate[figure]
        assert e["lower"] <= e["chance_lower"] <= e["expected"] <= e["chance_upper"] <= e["upper"]
    text = " ".join(_page(run).text["young-leads"])
    assert f"{young['leads']:,} leads created" in text and "Assumption" in text


def test_every_figure_states_population_and_count(run: LoopResult) -> None:
    """It captions every chart with the population it shows and how many leads or rows."""
    outline = _page(run)
    assert len(outline.captions) == len(outline.svgs)
    for caption in outline.captions:
        assert re.search(r"\d[\d,]* (leads|rows)", caption), caption


def test_charts_are_text_not_paths(run: LoopResult) -> None:
    """It draws charts as SVG shapes and real text elements: no glyph paths, no images."""
    outline = _page(run)
    assert "path" not in outline.tags and "use" not in outline.tags and "img" not in outline.tags
    html = (run.report_dir / "report.html").read_text()
    assert "false positive rate" in html and "share of won leads found" in html
    for svg in outline.svgs:
        if svg.get("data-chart"):
            data = json.loads(str(svg["data-chart"]))
            assert all(len(s["x"]) == len(s["y"]) > 1 for s in data["series"])


def test_self_contained(run: LoopResult) -> None:
    """It loads nothing from the network, runs only its own inline script and forbids the rest."""
    html = (run.report_dir / "report.html").read_text()
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html)
    assert not re.search(r"url\(\s*[\"']?(https?:)?//", html)
    assert "@import" not in html
    assert re.findall(r"<script[^>]*>", html) == ["<script>"]
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert policy is not None and "default-src 'none'" in unescape(policy.group(1))


def test_renders_without_drift_or_label_quality(run: LoopResult) -> None:
    """It still renders when a run has no drift reference and no label-quality assessment."""
    record = _record(run)
    record["assessment"] = {**record["assessment"], "drift": None, "label_quality": None}
    scores = pd.read_parquet(run.report_dir / "holdout_scores.parquet")
    outline = _parse(render_report(record, scores))
    assert "explanations" not in outline.ids
    assert "No drift reference" in " ".join(outline.text["drift"])


def test_renders_an_older_record(run: LoopResult) -> None:
    """It renders a run recorded before amounts, segments and estimates, saying what is missing."""
    record = {k: v for k, v in _record(run).items() if k != "insights"}
    scores = pd.read_parquet(run.report_dir / "holdout_scores.parquet").drop(columns="amount")
    outline = _parse(render_report(record, scores))
    assert "Not computed for this run" in " ".join(outline.text["segments"])
    assert "Revenue not shown" in " ".join(outline.text["deciles"])


def test_rerender_through_the_cli(run: LoopResult) -> None:
    """It re-renders an old run's report with `leadloop report RUN_ID`."""
    from tests.conftest import invoke_cli

    path = run.report_dir / "report.html"
    before = path.read_text()
    path.unlink()
    done = invoke_cli("report", run.record.run, cwd=Path(run.report_dir).parents[1])
    assert done.returncode == 0, done.stderr
    assert path.read_text() == before
    missing = invoke_cli("report", "no-such-run", cwd=Path(run.report_dir).parents[1])
    assert missing.returncode == 2
