"""Publishing is one transaction from the user's point of view: killed, failing or out of disk
at any step, a run leaves the registry, ``reports/latest`` and MLflow as they were, or as they
are once it finished; the next run settles whatever a killed run left.

The lead base carries a historical label on 150 leads only (as in test_registry.py), so the
first champion is weak and every challenger is promoted: each run here means to move the
champion, the case where a half-done publishing would hurt most.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from leadloop.config import Settings, load_settings
from leadloop.data import io
from leadloop.data.synthetic import SyntheticSpec, generate
from leadloop.pipeline import PUBLISH_STEPS, prepare_run, rollback, run_loop
from leadloop.tracking import ModelRegistry
from tests.forked import fork_cli

SPEC = SyntheticSpec(n_leads=2500, months=12, seed=11)
FAST = (
    "leads:\n  label_column: converted_before\n"
    "model:\n  num_threads: 1\n  num_boost_round: 300\n"
    "gate:\n  bootstrap_resamples: 50\n"
    "label_quality:\n  null_draws: 50\n"
)
COMMITTED = PUBLISH_STEPS[PUBLISH_STEPS.index("aliased") :]


def _write_project(root: Path, extra: str = "") -> None:
    data = generate(SPEC)
    leads = data.leads.copy()
    history = np.full(len(leads), np.nan)
    rows = np.random.default_rng(0).choice(len(leads) // 2, 150, replace=False)
    history[rows] = data.truth["converted"].to_numpy()[rows]
    leads["converted_before"] = history
    io.write_table(leads, root / "data" / "leads.csv")
    io.write_table(data.outcomes, root / "data" / "outcomes.csv")
    (root / "leadloop.yaml").write_text(FAST + extra)


def _settings(root: Path) -> Settings:
    return load_settings(root / "leadloop.yaml", environ={})


def _weak_champion(root: Path) -> None:
    """Point the champion back at the weak v1, so the next run promotes its challenger."""
    settings = _settings(root)
    if ModelRegistry(settings).alias_version("champion") != "1":
        rollback(settings, reason="test: weak champion")


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project after one run (v1 weak, v2 promoted), the weak v1 put back as champion."""
    root = tmp_path_factory.mktemp("publish")
    _write_project(root)
    done = fork_cli("run", cwd=root)
    assert done.returncode == 0, done.stderr
    _weak_champion(root)
    return root


def _client(root: Path) -> MlflowClient:
    uri = _settings(root).tracking_uri()
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _loop_runs(root: Path) -> dict[str, str]:
    """Every loop run's leadloop name -> MLflow status."""
    client = _client(root)
    experiment = client.get_experiment_by_name("leadloop")
    assert experiment is not None
    found = client.search_runs([experiment.experiment_id], "tags.pipeline_stage = 'loop'")
    return {r.data.tags["leadloop_run"]: r.info.status for r in found}


def _all_statuses(root: Path) -> list[str]:
    client = _client(root)
    experiment = client.get_experiment_by_name("leadloop")
    assert experiment is not None
    return [r.info.status for r in client.search_runs([experiment.experiment_id])]


def _aliases(root: Path) -> dict[str, str]:
    model = _client(root).get_registered_model("lead-scorer")
    return {name: str(version) for name, version in model.aliases.items()}


def _latest(root: Path) -> str:
    """The run ``reports/latest`` shows; it must be whole (record and report)."""
    latest = root / "reports" / "latest"
    assert (latest / "report.html").is_file()
    return str(json.loads((latest / "run.json").read_text())["run"])


def _journals(root: Path) -> list[dict[str, object]]:
    area = root / "reports" / ".staging"
    return [json.loads(p.read_text()) for p in sorted(area.glob("*.json"))]


def _history(root: Path) -> list[str]:
    return [v["version"] for v in ModelRegistry(_settings(root)).versions()]


@pytest.mark.parametrize("step", PUBLISH_STEPS)
def test_a_run_killed_at_each_publishing_step(baseline: Path, tmp_path: Path, step: str) -> None:
    """It leaves the previous champion, report and history until the commit, and a champion
    with its report after it; the next run undoes or completes the killed one, leaving no
    MLflow run RUNNING and nothing staged."""
    root = tmp_path / "project"
    shutil.copytree(baseline, root)
    before = {"aliases": _aliases(root), "latest": _latest(root), "history": _history(root)}
    done = fork_cli("run", "--force", cwd=root, env={"LEADLOOP_TEST_KILL_AT": step})
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    (journal,) = _journals(root)
    killed = str(journal["run"])
    committed = step in COMMITTED
    aliases = _aliases(root)
    if committed:
        ours = set(journal["versions"].values())  # type: ignore[attr-defined]
        assert aliases["champion"] in ours and aliases["challenger"] in ours
        # The champion never exists without its report, nor its promotion tags without it.
        record = json.loads((root / "reports" / killed / "run.json").read_text())
        assert record["decision"]["verdict"] == "promote"
        assert record["registry"]["moved"] and (root / "reports" / killed / "report.html").exists()
        tags = _client(root).get_model_version("lead-scorer", aliases["champion"]).tags
        assert tags["promoted_by"] == "policy" and tags["promoted_in_run"] == killed
    else:
        assert aliases == before["aliases"]
        assert _history(root) == before["history"]  # no version of an unfinished run is listed
    assert _latest(root) == (killed if step == "latest" else before["latest"])
    expected = {"begun": None, "finished": "FINISHED", "latest": "FINISHED"}.get(step, "RUNNING")
    assert _loop_runs(root).get(killed) == expected  # "begun": nothing in MLflow yet

    notes = prepare_run(_settings(root))  # what the next `leadloop run` does first

    assert len(notes) == 1 and killed in notes[0]
    assert _journals(root) == [] and list((root / "reports" / ".staging").iterdir()) == []
    assert "RUNNING" not in _all_statuses(root)
    if committed:
        assert _loop_runs(root)[killed] == "FINISHED"
        assert _latest(root) == killed
        assert _aliases(root)["champion"] == aliases["champion"]
        record = json.loads((root / "reports" / "latest" / "run.json").read_text())
        assert record["versions"]["champion"] == aliases["champion"]
    else:
        assert _loop_runs(root).get(killed) == (None if step == "begun" else "FAILED")
        assert _aliases(root) == before["aliases"] and _latest(root) == before["latest"]
        assert not (root / "reports" / killed).exists()
        assert _history(root) == before["history"]
        listed = {str(m.version) for m in _client(root).search_model_versions("name='lead-scorer'")}
        assert listed == set(before["history"])  # the killed run's versions are deleted


def test_a_failure_after_the_commit_takes_everything_back(baseline: Path, tmp_path: Path) -> None:
    """It restores the aliases, deletes the run's versions, marks its MLflow runs FAILED and
    removes its report when a step after the aliases moved fails."""
    root = tmp_path / "project"
    shutil.copytree(baseline, root)
    before = {"aliases": _aliases(root), "latest": _latest(root), "history": _history(root)}
    runs_before = set(_loop_runs(root))

    def fail_after_the_move(step: str) -> None:
        if step == "tagged":
            raise RuntimeError("injected failure")

    with pytest.raises(RuntimeError, match="injected failure"):
        run_loop(_settings(root), checkpoint=fail_after_the_move)
    (failed,) = set(_loop_runs(root)) - runs_before
    assert _loop_runs(root)[failed] == "FAILED" and "RUNNING" not in _all_statuses(root)
    assert _aliases(root) == before["aliases"] and _latest(root) == before["latest"]
    assert _history(root) == before["history"]
    assert not (root / "reports" / failed).exists() and _journals(root) == []


def test_the_store_files_are_the_owners_only(baseline: Path) -> None:
    """It creates the SQLite store and its lock file with mode 0600, in a 0700 directory."""
    store = baseline / ".leadloop"
    assert store.stat().st_mode & 0o777 == 0o700
    for name in ("mlflow.db", "mlflow.db.lock"):
        assert (store / name).stat().st_mode & 0o777 == 0o600, name


@contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A small tmpfs mounted at ``path`` (skips the test where mounting is not allowed)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _fill(directory: Path) -> Path:
    """Fill the file system under ``directory`` to the last byte; returns the filler file."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 16, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as err:
                assert err.errno == errno.ENOSPC, err
    finally:
        os.close(fd)
    return filler


def _one_line(done: subprocess.CompletedProcess[str], *words: str) -> None:
    message = done.stderr.strip()
    assert done.returncode == 2, message[-2000:]
    assert len(message.splitlines()) == 1 and "Traceback" not in message, message[-2000:]
    for word in words:
        assert word in message, message


def test_a_full_disk_under_the_mlflow_store(tmp_path: Path) -> None:
    """It exits 2 with one line when the MLflow store's disk is full, leaves the champion,
    ``reports/latest`` and the history as they were, and the next run (with space again) leaves
    no run RUNNING and no orphan version."""
    root = tmp_path / "project"
    with _tmpfs(tmp_path / "store", "48m") as store:
        _write_project(
            root,
            f"tracking:\n  uri: sqlite:///{store}/mlflow.db\n  artifact_root: {store}/artifacts\n",
        )
        assert fork_cli("run", cwd=root).returncode == 0
        _weak_champion(root)
        before = {"aliases": _aliases(root), "latest": _latest(root), "history": _history(root)}
        versions = {m.version for m in _client(root).search_model_versions("name='lead-scorer'")}
        filler = _fill(store)
        done = fork_cli("run", "--force", cwd=root)
        _one_line(done, "MLflow store", "no space left", "nothing was published", "still v1")
        assert _aliases(root) == before["aliases"] and _latest(root) == before["latest"]
        assert _history(root) == before["history"]
        assert [p.name for p in (root / "reports").iterdir() if p.name[0].isdigit()] == [
            before["latest"]
        ]
        filler.unlink()
        prepare_run(_settings(root))
        assert "RUNNING" not in _all_statuses(root)
        after = {m.version for m in _client(root).search_model_versions("name='lead-scorer'")}
        assert after == versions and _journals(root) == []


def test_a_full_reports_disk(tmp_path: Path) -> None:
    """It exits 2 with one line when the reports disk is full, before MLflow is touched: no
    new version, no alias moved, ``reports/latest`` whole."""
    root = tmp_path / "project"
    with _tmpfs(root / "reports", "4m") as reports:
        _write_project(root)
        assert fork_cli("run", cwd=root).returncode == 0
        _weak_champion(root)
        before = {"aliases": _aliases(root), "latest": _latest(root), "history": _history(root)}
        versions = {m.version for m in _client(root).search_model_versions("name='lead-scorer'")}
        _fill(reports)
        done = fork_cli("run", "--force", cwd=root)
        _one_line(done, "reports directory", "no space left", "still v1")
        assert _aliases(root) == before["aliases"] and _latest(root) == before["latest"]
        after = {m.version for m in _client(root).search_model_versions("name='lead-scorer'")}
        assert after == versions and "RUNNING" not in _all_statuses(root)
        assert _journals(root) == []


def test_a_read_only_reports_directory_is_refused_before_training(tmp_path: Path) -> None:
    """It exits 2 with one line naming the reports directory before reading or training, and
    writes nothing to MLflow."""
    root = tmp_path / "project"
    _write_project(root)
    with _tmpfs(root / "reports", "4m") as reports:
        subprocess.run(["mount", "-o", "remount,ro", str(reports)], check=True)
        done = fork_cli("run", cwd=root)
        _one_line(done, "reports_dir", "cannot be written", "read-only file system")
        assert not (root / ".leadloop").exists()


def test_score_onto_a_full_disk(baseline: Path, tmp_path: Path) -> None:
    """It exits 2 with one line naming the output when its disk fills, and leaves no file."""
    with _tmpfs(tmp_path / "out", "1m") as out:
        _fill(out)
        done = fork_cli(
            "score", str(baseline / "data" / "leads.csv"), "-o", str(out / "s.csv"), cwd=baseline
        )
        _one_line(done, "s.csv", "no space left")
        assert sorted(p.name for p in out.iterdir()) == ["filler"]


def test_score_into_a_read_only_directory(baseline: Path, tmp_path: Path) -> None:
    """It exits 2 with one line naming the output when its directory is read-only."""
    with _tmpfs(tmp_path / "out", "1m") as out:
        subprocess.run(["mount", "-o", "remount,ro", str(out)], check=True)
        done = fork_cli(
            "score", str(baseline / "data" / "leads.csv"), "-o", str(out / "s.csv"), cwd=baseline
        )
        _one_line(done, "s.csv", "read-only file system")


def test_report_paths_stay_in_the_reports_directory(baseline: Path, tmp_path: Path) -> None:
    """It refuses `leadloop report` of a path leading out of reports/, writing nothing."""
    root = tmp_path / "project"
    shutil.copytree(baseline, root)
    (root / "x").mkdir()
    shutil.copy(root / "reports" / "latest" / "run.json", root / "x" / "run.json")
    shutil.copy(
        root / "reports" / "latest" / "holdout_scores.parquet",
        root / "x" / "holdout_scores.parquet",
    )
    for name in ("../x", "../../x", str(root / "x"), ".staging"):
        done = fork_cli("report", name, cwd=root)
        _one_line(done, "is not a run")
    assert sorted(os.listdir(root / "x")) == ["holdout_scores.parquet", "run.json"]
