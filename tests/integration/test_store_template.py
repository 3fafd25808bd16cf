"""New local MLflow stores copied from an empty store template, with real MLflow and SQLite."""

from __future__ import annotations

import sqlite3
import stat
import threading
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from leadloop.config import load_settings
from leadloop.tracking import ensure_store_dir
from leadloop.tracking.template import create_store, template_path


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_a_new_store_is_a_copy_of_the_template_that_mlflow_opens_as_its_own(
    tmp_path: Path,
) -> None:
    """It builds the template once, copies it byte for byte into a new 0600 store, and MLflow
    uses the copy as a store it made: its default experiment, then the project's own."""
    settings = load_settings(
        environ={"LEADLOOP_TRACKING__STORE_TEMPLATE_DIR": str(tmp_path / "cache")},
        base_dir=tmp_path,
    )
    ensure_store_dir(settings)
    template = tmp_path / "cache" / f"mlflow-{mlflow.__version__}.db"
    store = tmp_path / ".leadloop" / "mlflow.db"
    assert store.read_bytes() == template.read_bytes()
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert {"experiments", "runs", "registered_models", "alembic_version"} <= _tables(store)
    with sqlite3.connect(template) as db:
        assert db.execute("SELECT COUNT(*) FROM experiments").fetchone() == (0,)

    client = MlflowClient(tracking_uri=settings.tracking_uri())
    assert [e.name for e in client.search_experiments()] == ["Default"]
    client.create_experiment("leadloop", artifact_location=(tmp_path / "art").as_uri())
    assert sorted(e.name for e in client.search_experiments()) == ["Default", "leadloop"]

    built = template.stat().st_mtime_ns
    other = tmp_path / "other" / "mlflow.db"
    other.parent.mkdir()
    create_store(other, template_dir=tmp_path / "cache")
    assert other.read_bytes() == template.read_bytes()
    assert template.stat().st_mtime_ns == built  # reused, not built again
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [template.name]


def test_an_existing_store_is_left_as_it_is(tmp_path: Path) -> None:
    """It never overwrites a store file that is already there."""
    store = tmp_path / "mlflow.db"
    store.write_bytes(b"")
    create_store(store, template_dir=tmp_path / "cache")
    assert store.read_bytes() == b""
    assert not (tmp_path / "cache").exists()


def test_without_a_usable_template_the_store_starts_empty_and_mlflow_creates_it(
    tmp_path: Path,
) -> None:
    """Where the template cannot be built (its directory is a file), the store is an empty
    0600 file, which MLflow then creates its tables in, as without a template."""
    blocked = tmp_path / "cache"
    blocked.write_text("not a directory")
    assert template_path(blocked) is None
    store = tmp_path / "mlflow.db"
    create_store(store, template_dir=blocked)
    assert store.read_bytes() == b""
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    assert [e.name for e in client.search_experiments()] == ["Default"]

    none = tmp_path / "none.db"
    create_store(none, template_dir=None)
    assert none.read_bytes() == b""


def test_concurrent_first_runs_get_one_whole_store(tmp_path: Path) -> None:
    """Eight threads creating the same new store all see one complete copy of the template,
    and no scratch file is left behind."""
    template = template_path(tmp_path / "cache")
    assert template is not None
    store = tmp_path / "store" / "mlflow.db"
    store.parent.mkdir()
    start = threading.Barrier(8)

    def create() -> None:
        start.wait()
        create_store(store, template_dir=tmp_path / "cache")

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.read_bytes() == template.read_bytes()
    assert [p.name for p in store.parent.iterdir()] == ["mlflow.db"]


def test_the_template_directory_defaults_to_the_user_cache(tmp_path: Path) -> None:
    """It is $XDG_CACHE_HOME/leadloop, else ~/.cache/leadloop, unless configured; a relative
    configured directory is taken against the configuration's directory."""

    def where(environ: dict[str, str]) -> Path | None:
        return load_settings(environ=environ, base_dir=tmp_path).tracking.store_template_dir

    assert where({"XDG_CACHE_HOME": "/x/cache", "HOME": "/home/u"}) == Path("/x/cache/leadloop")
    assert where({"HOME": "/home/u"}) == Path("/home/u/.cache/leadloop")
    assert where({}) is None
    configured = {"LEADLOOP_TRACKING__STORE_TEMPLATE_DIR": "cache", "HOME": "/home/u"}
    assert where(configured) == Path("cache")
    settings = load_settings(environ=configured, base_dir=tmp_path)
    ensure_store_dir(settings)
    assert (tmp_path / "cache" / f"mlflow-{mlflow.__version__}.db").is_file()
