"""Champion moves are compare-and-set under one lock per registry: runs racing each other, a
person's promote or rollback during a run, and the "nothing new" skip, on real MLflow stores.

The lead base carries a historical label on 150 leads only, so the first champion trained on it
ranks barely better than chance and any challenger trained on the CRM outcomes is promoted: a
run that does not move the champion here was stopped by the registry, not by the gate.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from multiprocessing.process import BaseProcess
from pathlib import Path

import numpy as np
import pytest

from leadloop.config import Settings, load_settings
from leadloop.data import io
from leadloop.data.synthetic import generate
from leadloop.lineage import unchanged_since_last
from leadloop.locking import registry_lock
from leadloop.pipeline import promote, rollback, run_loop
from leadloop.tracking import ModelRegistry, RunLog
from tests.conftest import SMALL, invoke_cli, run_cli
from tests.forked import start_cli
from tests.integration.conftest import fresh_postgres

CHANGED = "champion changed during the run"


def _write_project(root: Path) -> None:
    data = generate(SMALL)
    leads = data.leads.copy()
    history = np.full(len(leads), np.nan)
    rows = np.random.default_rng(0).choice(len(leads) // 2, 150, replace=False)
    history[rows] = data.truth["converted"].to_numpy()[rows]
    leads["converted_before"] = history
    io.write_table(leads, root / "data" / "leads.csv")
    io.write_table(data.outcomes, root / "data" / "outcomes.csv")
    (root / "leadloop.yaml").write_text(
        "leads:\n  label_column: converted_before\n"
        "model:\n  num_threads: 1\n"  # two runs share two cores: no oversubscribed threads
        "gate:\n  bootstrap_resamples: 50\n"
    )


def _settings(root: Path, **env: str) -> Settings:
    return load_settings(None, environ=env, base_dir=root)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project after one run: v1 (weak first champion) replaced by v2 (promoted)."""
    root = tmp_path_factory.mktemp("registry")
    _write_project(root)
    result = run_loop(_settings(root))
    assert result.settled is not None and result.settled.moved
    assert ModelRegistry(_settings(root)).alias_version("champion") == "2"
    return root


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target / "project")
    return target / "project"


def _weak_champion(root: Path, **env: str) -> Settings:
    """Put the weak v1 back as champion, so the next challenger is promoted."""
    settings = _settings(root, **env)
    assert rollback(settings, reason="test: weak champion") == ("2", "1")
    return settings


def _during_run(action: Callable[[], object]) -> Callable[[str], None]:
    """A progress hook that acts once the run has loaded its champion and is evaluating."""

    def step(stage: str) -> None:
        if stage == "evaluate":
            action()

    return step


def test_promote_during_a_run_is_never_overwritten(first_run: Path, tmp_path: Path) -> None:
    """It keeps a person's promote made while a run trained, and the run records why it did not
    promote its challenger."""
    root = _copy(first_run, tmp_path)
    settings = _weak_champion(root)
    result = run_loop(
        settings,
        progress=_during_run(lambda: promote(settings, "2", reason="reviewed", by="ana")),
    )
    assert result.decision.verdict == "promote", result.decision.reasons
    settled = result.settled
    assert settled is not None and settled.conflict and not settled.moved
    assert settled.message.startswith(f"{CHANGED} (v1 -> v2): not promoted, rerun to compare")
    tracker = ModelRegistry(settings)
    assert tracker.alias_version("champion") == result.champion_version == "2"
    assert tracker.version_tags("2")["promoted_by"] == "ana"
    assert "promoted_by" not in tracker.version_tags(result.challenger_version)
    record = json.loads((result.report_dir / "run.json").read_text())
    assert record["registry"]["conflict"] is True
    assert record["versions"] == {"champion": "2", "challenger": "3", "compared_with": "1"}
    assert CHANGED in (result.report_dir / "report.html").read_text()
    assert unchanged_since_last(settings, record["data_version"]) is None  # the rerun compares


def test_rollback_during_a_run_is_reported_as_it_is(first_run: Path, tmp_path: Path) -> None:
    """It states the champion the registry holds after a rollback made during the run."""
    root = _copy(first_run, tmp_path)
    settings = _settings(root)
    result = run_loop(settings, progress=_during_run(lambda: rollback(settings, reason="bad")))
    settled = result.settled
    assert settled is not None and not settled.moved
    assert ModelRegistry(settings).alias_version("champion") == result.champion_version == "1"
    assert settled.message.startswith(f"{CHANGED} (v2 -> v1)")
    assert settled.message.endswith("champion is v1")
    assert settled.conflict == (result.decision.verdict == "promote")


def test_nothing_new_skips_training(first_run: Path, tmp_path: Path) -> None:
    """It skips a run whose data, settings, code and champion are as the last run left them,
    exits 0 and records the skip; anything changed makes the next run train."""
    root = _copy(first_run, tmp_path)
    done = invoke_cli("run", "--json", cwd=root)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["outcome"] == "nothing new" and summary["champion"] == "2"
    assert summary["message"].startswith("nothing new: data ")
    settings = _settings(root)
    tracker = ModelRegistry(settings)
    assert [v["version"] for v in tracker.versions()] == ["2", "1"]  # nothing registered
    assert RunLog(settings).last_run("skipped") is not None
    data_version = summary["data_version"]
    assert unchanged_since_last(settings, data_version) is not None
    assert unchanged_since_last(settings, "0" * 16) is None
    other = _settings(root, LEADLOOP_GATE__MIN_AUC_GAIN="0.02")
    assert unchanged_since_last(other, data_version) is None
    rollback(settings, reason="a person changed the champion")
    assert unchanged_since_last(settings, data_version) is None


def test_shared_setting_refuses_a_local_store(tmp_path: Path) -> None:
    """It refuses to run on a local store when leadloop.yaml says the registry must be shared."""
    (tmp_path / "leadloop.yaml").write_text("tracking:\n  shared: true\n")
    done = invoke_cli("run", cwd=tmp_path)
    assert done.returncode == 2
    assert "shared registry required" in " ".join(done.stderr.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leadloop.yaml"]


def test_promote_if_champion_refuses_a_moved_champion(first_run: Path, tmp_path: Path) -> None:
    """It exits 4 and moves nothing when `promote --if-champion` no longer holds."""
    root = _copy(first_run, tmp_path)
    done = run_cli("promote", "1", "--reason", "x", "--if-champion", "v1", cwd=root)
    assert done.returncode == 4, done.stderr
    assert "champion changed during the command (v1 -> v2)" in " ".join(done.stderr.split())
    assert ModelRegistry(_settings(root)).alias_version("champion") == "2"
    done = invoke_cli("promote", "1", "--reason", "reviewed", "--if-champion", "2", cwd=root)
    assert done.returncode == 0, done.stderr
    assert "champion: v2 -> v1" in done.stdout


def _start_run(root: Path, name: str, env: dict[str, str]) -> BaseProcess:
    return start_cli(
        "run",
        "--force",
        "--json",
        "--quiet",
        cwd=root,
        env=env,
        stdout=root / f"{name}.out",
        stderr=root / f"{name}.err",
    )


def _wait_until_both_wait(root: Path, runs: list[BaseProcess]) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        errs = [_text(root / f"{n}.err") for n in ("a", "b")]
        if all("waiting for the registry lock" in e for e in errs):
            return
        if any(r.exitcode is not None for r in runs):
            pytest.fail(f"a run ended while the test held the registry lock: {errs}")
        time.sleep(0.5)
    pytest.fail("the runs never reached the registry lock")


def _text(path: Path) -> str:
    return " ".join(path.read_text().split()) if path.exists() else ""


def _race(root: Path, lock_uri: str, env: dict[str, str]) -> list[tuple[int, dict[str, object]]]:
    """Two `leadloop run` processes against champion v1; the test holds the registry lock
    until both have trained and wait for it, so both decided against v1."""
    with registry_lock(lock_uri, name="lead-scorer", timeout=5):
        runs = [_start_run(root, name, env) for name in ("a", "b")]
        _wait_until_both_wait(root, runs)
    for run in runs:
        run.join(600)
    codes = [run.exitcode for run in runs]
    finished = [code for code in codes if code is not None]
    assert len(finished) == len(runs), f"a run did not finish in 600 s: {codes}"
    return [
        (code, json.loads((root / f"{n}.out").read_text()))
        for code, n in zip(finished, "ab", strict=True)
    ]


def _assert_one_promoted(
    outcomes: list[tuple[int, dict[str, object]]], tracker: ModelRegistry
) -> None:
    verdicts = [o["decision"]["verdict"] for _, o in outcomes]  # type: ignore[index]
    assert verdicts == ["promote", "promote"], outcomes
    moved = [o for _, o in outcomes if o["registry"]["moved"]]  # type: ignore[index]
    stopped = [(c, o) for c, o in outcomes if not o["registry"]["moved"]]  # type: ignore[index]
    assert len(moved) == 1 and len(stopped) == 1, outcomes
    winner = moved[0]["versions"]["challenger"]  # type: ignore[index]
    code, loser = stopped[0]
    assert code == 4 and loser["exit_code"] == 4
    assert loser["registry"]["message"] == (  # type: ignore[index]
        f"{CHANGED} (v1 -> v{winner}): not promoted, rerun to compare; champion is v{winner}"
    )
    assert loser["versions"]["champion"] == winner  # type: ignore[index]
    assert tracker.alias_version("champion") == winner
    loser_version = loser["versions"]["challenger"]  # type: ignore[index]
    assert "promoted_by" not in tracker.version_tags(str(loser_version))


def test_concurrent_runs_on_sqlite_promote_once(first_run: Path, tmp_path: Path) -> None:
    """It lets only one of two concurrent runs on one SQLite store promote; the other exits 4
    saying the champion changed during the run, and the one that waited said so."""
    root = _copy(first_run, tmp_path)
    settings = _weak_champion(root)
    outcomes = _race(root, settings.tracking_uri(), {})
    _assert_one_promoted(outcomes, ModelRegistry(settings))


@pytest.fixture
def pg_tracking() -> Iterator[str]:
    """A fresh PostgreSQL database for an MLflow store, dropped afterwards."""
    with fresh_postgres("leadloop_registry") as url:
        yield url


def test_concurrent_runs_on_postgresql_promote_once(tmp_path: Path, pg_tracking: str) -> None:
    """It lets only one of two concurrent runs on a PostgreSQL-backed MLflow store promote,
    serialised by an advisory lock; the other exits 4 and says why."""
    env = {"LEADLOOP_TRACKING__URI": pg_tracking}
    _write_project(tmp_path)
    settings = _settings(tmp_path, **env)
    first = run_loop(settings)
    assert first.settled is not None and first.settled.champion == "2"
    _weak_champion(tmp_path, **env)
    outcomes = _race(tmp_path, pg_tracking, env)
    _assert_one_promoted(outcomes, ModelRegistry(settings))


def test_registry_commands_before_any_run(tmp_path: Path) -> None:
    """Before any run, promote and rollback say there is no registry yet (exit 2) and create
    no store; history of a store where nothing is registered (an MLflow store that holds
    other models) lists no versions, exit 0, instead of an internal error."""
    for args in (("promote", "3", "--reason", "try"), ("rollback",)):
        refused = invoke_cli(*args, cwd=tmp_path)
        assert refused.returncode == 2 and "no model registry" in refused.stderr, args
    assert not (tmp_path / ".leadloop" / "mlflow.db").exists()
    settings = load_settings(environ={}, base_dir=tmp_path)
    ModelRegistry(settings).client().search_registered_models()  # creates the empty store
    assert (tmp_path / ".leadloop" / "mlflow.db").is_file()
    listed = invoke_cli("history", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "registered versions" in listed.stdout and "internal error" not in listed.stderr
