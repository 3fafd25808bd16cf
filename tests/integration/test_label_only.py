"""A leads table with a label column and nothing else, through the real CLI end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from leadloop.config import load_settings
from leadloop.data.synthetic import SyntheticSpec, generate
from leadloop.pipeline import label_inputs, load_inputs, resolve_cutoff, run_loop
from tests.conftest import invoke_cli

CONFIG = """\
leads:
  path: data/export.csv
  id_column: null
  created_at_column: null
  label_column: Converted
outcomes: none
"""


def _export(root: Path) -> None:
    """A CRM export: features and a 'Converted' column in the CRM's own words, no ids, no dates."""
    data = generate(SyntheticSpec(n_leads=2000, months=6, seed=11))
    leads = data.leads.drop(columns=["lead_id", "created_at"])
    won = data.truth["converted"].to_numpy(dtype=bool)
    leads["Converted"] = pd.Series(won).map({True: "Closed Won", False: "Closed Lost"})
    leads.loc[::97, "Converted"] = None  # some leads without a label yet
    (root / "data").mkdir(parents=True)
    leads.to_csv(root / "data" / "export.csv", index=False)
    (root / "leadloop.yaml").write_text(CONFIG)


@pytest.fixture(scope="module")
def label_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("label_only")
    _export(root)
    return root


def test_validate_counts_labels_from_the_column(label_only: Path) -> None:
    """It validates a label-only table: labels from the column, warnings for ids and dates."""
    done = invoke_cli("validate", "--out", "validate.json", cwd=label_only)
    assert done.returncode == 0, done.stderr
    record = json.loads((label_only / "validate.json").read_text())
    counts = record["lead_counts"]
    assert counts["unlabelled"] == len(range(0, 2000, 97))
    assert counts["won"] + counts["lost"] + counts["unlabelled"] == 2000
    assert counts["won"] > 0 and counts["lost"] > 0
    warnings = " ".join(record["warnings"])
    assert "hash of each row" in warnings and "out-of-time evaluation is not possible" in warnings


def test_inspect_names_the_label(label_only: Path) -> None:
    """It inspects a label-only table and shows the label column's role."""
    done = invoke_cli("inspect", "data/export.csv", cwd=label_only)
    assert done.returncode == 0, done.stderr
    assert "Converted" in done.stdout and "label" in done.stdout


def test_run_trains_one_model_with_a_random_holdout(label_only: Path) -> None:
    """It runs the loop on a label-only table: exit 0, a stratified random holdout with the
    warning in the record and the report, and one model registered as champion."""
    done = invoke_cli("run", cwd=label_only)
    assert done.returncode == 0, done.stderr
    assert "out-of-time evaluation is not possible" in " ".join(done.stderr.split())
    assert "registered as champion" in " ".join(done.stdout.split())
    runs = [p for p in (label_only / "reports").iterdir() if p.name[0].isdigit()]
    assert len(runs) == 1
    record = json.loads((runs[0] / "run.json").read_text())
    assert record["split"]["method"] == "stratified_random"
    assert list(record["training"]) == ["champion"]
    assert record["decision"]["verdict"] == "keep"
    assert "same labels" in " ".join(record["decision"]["reasons"])
    assert any("out-of-time" in w for w in record["warnings"])
    report = (runs[0] / "report.html").read_text()
    assert "out-of-time evaluation is not possible" in report
    uri = f"sqlite:///{label_only / '.leadloop' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    versions = client.search_model_versions("name='lead-scorer'")
    assert [str(v.version) for v in versions] == ["1"]
    assert str(client.get_model_version_by_alias("lead-scorer", "champion").version) == "1"
    assert record["metrics"]["champion"]["roc_auc"] > 0.6


def test_second_run_on_the_same_table_trains_nothing(label_only: Path) -> None:
    """It trains nothing on a second run over the table the champion learned from: the run is
    skipped as nothing new, and even a forced run trains no challenger."""
    done = invoke_cli("run", "--json", cwd=label_only)
    assert done.returncode == 0, done.stderr
    skipped = json.loads(done.stdout)
    assert skipped["outcome"] == "nothing new" and skipped["champion"] == "1"
    done = invoke_cli("run", "--json", "--force", cwd=label_only)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["decision"]["verdict"] == "keep"
    assert "trained on this very label-only table" in " ".join(summary["decision"]["reasons"])
    assert summary["versions"]["champion"] == "1" and not summary["versions"]["challenger"]
    uri = f"sqlite:///{label_only / '.leadloop' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert len(client.search_model_versions("name='lead-scorer'")) == 1


def test_history_label_equal_to_crm_trains_one_model(project: Path) -> None:
    """It trains and registers one model when the historical label column equals the CRM
    outcome for every labelled lead, instead of two identical ones."""
    plain = load_settings(base_dir=project, environ={})
    inputs = load_inputs(plain)
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    labels = label_inputs(plain, inputs, resolve_cutoff(plain, inputs, now=now))
    leads = pd.read_csv(project / "data" / "leads.csv")
    crm = labels.labels.set_index("lead_id")["label"]
    leads["converted"] = leads["lead_id"].map(crm).map({1.0: "yes", 0.0: "no"})
    leads.to_csv(project / "data" / "leads.csv", index=False)
    settings = load_settings(
        base_dir=project, environ={"LEADLOOP_LEADS__LABEL_COLUMN": "converted"}
    )
    result = run_loop(settings)
    assert list(result.record.trained) == ["champion"]
    assert result.first_run and result.champion_version == "1" and result.challenger_version == ""
    assert "same labels" in " ".join(result.decision.reasons)
