"""The leak guard through the real CLI: `inspect` shows the evidence, a run records it in the
warnings, run.json and the report, and excludes the leaks while keeping the honest columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import invoke_cli
from tests.leaky import HONEST, leaky_export

LEAKS = ("Lead Number", "lead_score", "Tags", "Lead Quality")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose leads export holds every kind of leak, with its CRM events."""
    export = leaky_export(n=3000)
    root = tmp_path_factory.mktemp("leaky")
    (root / "data").mkdir()
    label = export.labels.labels["label"].map({1.0: "yes", 0.0: "no"})
    export.leads.assign(converted=label).to_csv(root / "data" / "with_label.csv", index=False)
    export.leads.to_csv(root / "data" / "leads.csv", index=False)
    export.outcomes.to_csv(root / "data" / "outcomes.csv", index=False)
    return root


def test_inspect_shows_each_leak_with_its_evidence(root: Path, tmp_path: Path) -> None:
    """It lists every flagged column with its check and the figure and threshold behind it."""
    config = tmp_path / "leadloop.yaml"
    config.write_text("leads:\n  label_column: converted\n")
    done = invoke_cli(
        "inspect",
        str(root / "data" / "with_label.csv"),
        "--config",
        str(config),
        cwd=root,
        env={"COLUMNS": "250"},
    )
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    assert "Leak guard evidence" in out
    assert "Lead Number: 100% of its values are distinct and it tracks row order" in out
    assert "lead_score: alone AUC 0.8" in out and ">= 0.714" in out
    assert "'Ringing' is 100% lost" in out and "'Closed by Horizzon' is 100% won" in out
    assert "Lead Quality:" in out
    for name in HONEST:
        assert f"{name} " in out
    assert out.count("excluded: leaks the label") == 3


def test_a_run_excludes_the_leaks_and_records_why(root: Path) -> None:
    """It trains without the leaks, naming each in the warnings, run.json and the report."""
    done = invoke_cli("run", "--json", cwd=root)
    assert done.returncode in (0, 3), done.stderr
    latest = root / "reports" / "latest"
    record = json.loads((latest / "run.json").read_text())
    for role in ("champion", "challenger"):
        features = record["features"][role]
        assert [f["name"] for f in features["features"]] == list(HONEST)
        assert {f["column"] for f in features["leak_findings"]} == set(LEAKS)
        assert set(LEAKS) <= set(features["excluded"])
    warnings = " ".join(record["warnings"])
    for name in LEAKS:
        assert f"column '{name}' is not used as a feature" in warnings
    assert "Bonferroni" in warnings and "all features together" in warnings
    report = (latest / "report.html").read_text()
    assert "&#39;Closed by Horizzon&#39; is 100% won" in report


def test_inspect_labels_the_configured_leads_from_the_outcomes_file(root: Path) -> None:
    """It labels the configured leads file from the configured outcomes, as a run would, so the
    guard's findings show before any run (the leads file has no label column)."""
    done = invoke_cli("inspect", "data/leads.csv", cwd=root, env={"COLUMNS": "250"})
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    for name in LEAKS:
        assert f"- {name}: " in out
    assert "filled on" in out or "missing is 100% lost" in out
