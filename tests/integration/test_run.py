"""The whole loop through the real CLI, twice, into a real MLflow store in a temp dir."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import invoke_cli


def _client(root: Path) -> MlflowClient:
    uri = f"sqlite:///{root / '.leadloop' / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Run `leadloop run` twice on the same small generated set."""
    from leadloop.pipeline import write_synthetic
    from tests.conftest import SMALL

    root = tmp_path_factory.mktemp("loop")
    write_synthetic(
        SMALL, leads_path=root / "data" / "leads.csv", outcomes_path=root / "data" / "outcomes.csv"
    )
    outputs = []
    for _ in range(2):
        done = invoke_cli("run", "--force", cwd=root)  # the same data twice: retrain anyway
        assert done.returncode in (0, 3), done.stderr
        outputs.append(done.stdout)
    return root, outputs


def _records(root: Path) -> list[dict[str, object]]:
    runs = sorted(p for p in (root / "reports").iterdir() if p.name[0].isdigit())
    return [json.loads((r / "run.json").read_text()) for r in runs]


def test_registry_after_two_runs(two_runs: tuple[Path, list[str]]) -> None:
    """It registers v1 as champion on the first run; each run adds a challenger; the champion
    moves only to a challenger the gate promoted."""
    root, _ = two_runs
    client = _client(root)
    verdicts = [r["decision"]["verdict"] for r in _records(root)]  # type: ignore[index]
    expected = "1"
    for verdict, challenger in zip(verdicts, ("2", "3"), strict=True):
        if verdict == "promote":
            expected = challenger
    assert str(client.get_model_version_by_alias("lead-scorer", "champion").version) == expected
    assert str(client.get_model_version_by_alias("lead-scorer", "challenger").version) == "3"
    versions = client.search_model_versions("name='lead-scorer'")
    assert sorted(int(v.version) for v in versions) == [1, 2, 3]
    for v in versions:
        assert len(v.tags["data_version"]) == 16


def test_runs_carry_stage_and_data_tags(two_runs: tuple[Path, list[str]]) -> None:
    """It tags every run with its pipeline stage and the data version, and logs metrics."""
    root, _ = two_runs
    client = _client(root)
    exp = client.get_experiment_by_name("leadloop")
    assert exp is not None
    runs = client.search_runs([exp.experiment_id])
    stages = sorted(r.data.tags["pipeline_stage"] for r in runs)
    assert stages == sorted(
        [
            "loop",
            "train_champion",
            "train_challenger",
            "evaluate",
            "loop",
            "train_challenger",
            "evaluate",
        ]
    )
    assert len({r.data.tags["data_version"] for r in runs}) == 1
    evaluate = next(r for r in runs if r.data.tags["pipeline_stage"] == "evaluate")
    assert 0.6 < evaluate.data.metrics["challenger_roc_auc"] <= 1.0
    loop = next(r for r in runs if r.data.tags["pipeline_stage"] == "loop")
    assert loop.data.params["labels.maturity_days"] == "90"
    assert loop.data.metrics["leads_rows"] == 4000


def test_reports_written(two_runs: tuple[Path, list[str]]) -> None:
    """It writes metrics.json, metrics.csv, run.json and the holdout scores for each run."""
    root, _ = two_runs
    runs = sorted(p for p in (root / "reports").iterdir() if p.name[0].isdigit())
    assert len(runs) == 2
    for run in runs:
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["champion"]["n"] == metrics["challenger"]["n"] > 0
        table = pd.read_csv(run / "metrics.csv")
        assert "recall_at_capacity" in set(table["metric"])
        record = json.loads((run / "run.json").read_text())
        counts = record["labels"]["lead_counts"]
        assert sum(counts.values()) == 4000
        assert record["mlflow_run_id"]
        scores = pd.read_parquet(run / "holdout_scores.parquet")
        assert len(scores) == metrics["challenger"]["n"]


def test_second_run_reuses_champion(two_runs: tuple[Path, list[str]]) -> None:
    """It loads the registered champion on the second run instead of retraining it."""
    root, outputs = two_runs
    first, second = _records(root)
    assert "champion" in first["training"]  # type: ignore[operator]
    assert "champion" not in second["training"]  # type: ignore[operator]
    # the second run's champion is the first run's champion, or its challenger if promoted;
    # both runs see the same data, so that model scores the same holdout the same
    promoted = first["decision"]["verdict"] == "promote"  # type: ignore[index]
    role = "challenger" if promoted else "champion"
    assert first["metrics"][role]["roc_auc"] == pytest.approx(  # type: ignore[index]
        second["metrics"]["champion"]["roc_auc"]  # type: ignore[index]
    )
    assert "first run: v1 registered as champion" in outputs[0]
    assert "first run" not in outputs[1]


def test_pyfunc_model_loads_in_a_fresh_process(two_runs: tuple[Path, list[str]]) -> None:
    """It logs a pyfunc model that MLflow loads by alias in a fresh process and scores with."""
    root, _ = two_runs
    code = (
        "import mlflow, pandas as pd\n"
        f"mlflow.set_tracking_uri('sqlite:///{root / '.leadloop' / 'mlflow.db'}')\n"
        "m = mlflow.pyfunc.load_model('models:/lead-scorer@champion')\n"
        f"leads = pd.read_csv('{root / 'data' / 'leads.csv'}', parse_dates=['created_at'])"
        ".head(20)\n"
        "p = m.predict(leads)['probability']\n"
        "assert len(p) == 20 and p.between(0, 1).all(), p\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.stdout.strip().endswith("ok"), done.stderr[-2000:]


def test_bad_input_writes_nothing(project: Path) -> None:
    """It exits 2 with one line naming file, column and rows, and writes no store or report."""
    leads = pd.read_csv(project / "data" / "leads.csv")
    ids = leads["lead_id"].to_numpy(copy=True)
    ids[5] = ids[2]
    leads["lead_id"] = ids
    leads.to_csv(project / "data" / "leads.csv", index=False)
    done = invoke_cli("run", cwd=project)
    assert done.returncode == 2
    message = done.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert "leads.csv" in message and "column 'lead_id'" in message and "rows 3, 6" in message
    assert not (project / ".leadloop").exists()
    assert not (project / "reports").exists()


def test_missing_file_exit_2(tmp_path: Path) -> None:
    """It exits 2 naming a configured file that does not exist."""
    (tmp_path / "leadloop.yaml").write_text("leads:\n  path: nowhere.csv\n")
    done = invoke_cli("run", cwd=tmp_path)
    assert done.returncode == 2
    assert "nowhere.csv" in done.stderr and "file not found" in done.stderr
    assert not (tmp_path / ".leadloop").exists()


def test_config_typo_exit_2(tmp_path: Path) -> None:
    """It exits 2 naming a misspelt configuration key."""
    (tmp_path / "leadloop.yaml").write_text("lables:\n  maturity_days: 30\n")
    done = invoke_cli("run", cwd=tmp_path)
    assert done.returncode == 2
    assert "unknown key 'lables'" in done.stderr


def test_promote_and_rollback_through_the_cli(two_runs: tuple[Path, list[str]]) -> None:
    """It lets a person promote a version with a recorded reason, and roll back to the previous.

    Runs last in this module: it moves the champion of the shared store.
    """
    root, _ = two_runs
    client = _client(root)
    before = str(client.get_model_version_by_alias("lead-scorer", "champion").version)
    target = "2" if before != "2" else "3"
    done = invoke_cli("promote", target, "--reason", "reviewed the report", cwd=root)
    assert done.returncode == 0, done.stderr
    moved = client.get_model_version_by_alias("lead-scorer", "champion")
    assert str(moved.version) == target
    assert moved.tags["promotion_reason"] == "reviewed the report"
    assert moved.tags["previous_champion"] == before
    assert invoke_cli("promote", target, "--reason", "again", cwd=root).returncode == 2
    assert invoke_cli("rollback", cwd=root).returncode == 0
    assert str(client.get_model_version_by_alias("lead-scorer", "champion").version) == before
    missing = invoke_cli("promote", "99", "--reason", "x", cwd=root)
    assert missing.returncode == 2 and "no version 99" in missing.stderr


def test_history_lists_versions_and_decisions(two_runs: tuple[Path, list[str]]) -> None:
    """It prints every registered version and writes reports/history.html with the decisions."""
    root, _ = two_runs
    done = invoke_cli("history", cwd=root, env={"COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    for version in ("v1", "v2", "v3"):
        assert version in done.stdout
    page = (root / "reports" / "history.html").read_text()
    assert page.count("<tr>") >= 3 + 2  # versions and decisions
    for record in _records(root):
        assert str(record["run"]) in page
