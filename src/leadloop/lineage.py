"""What a run was made from (data, configuration, code), and whether anything is new since.

Every loop run is tagged in MLflow with its data version, a hash of the configuration that
shapes training and judging, leadloop's version and the git commit. A run whose inputs, settings
and code equal the last run's, against the champion that run left, would only register a copy
of the same model: it is skipped and recorded as "nothing new".
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

import leadloop
from leadloop.columns import CHAMPION
from leadloop.config import Settings
from leadloop.errors import ConfigError, version_label
from leadloop.locking import lock_kind
from leadloop.tracking import ModelRegistry, RunLog

NOTHING_NEW = "nothing new"
# Settings that cannot change what a run trains or decides: where things are stored and served.
NOT_SHAPING = {"base_dir", "serve", "tracking", "reports_dir", "synthetic"}


@dataclass(frozen=True)
class Unchanged:
    """The last run that already covered these inputs, settings, code and champion."""

    same_as_run: str
    data_version: str
    verdict: str
    champion: str | None
    message: str

    def to_dict(self) -> dict[str, object]:
        return {"outcome": NOTHING_NEW, **asdict(self)}


def config_hash(settings: Settings) -> str:
    """A short hash of every setting that shapes training and the decision."""
    shaping = settings.model_dump(mode="json", exclude=NOT_SHAPING)
    return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:16]


def lineage_tags(settings: Settings, data_version: str) -> dict[str, str]:
    """The tags that say what a run was made from."""
    return {
        "data_version": data_version,
        "config_hash": config_hash(settings),
        "leadloop_version": leadloop.__version__,
        "git_commit": git_commit(settings.base_dir) or "",
    }


def git_commit(path: Path) -> str | None:
    """The commit checked out at ``path``, or None outside a git repository."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=path,
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def unchanged_since_last(settings: Settings, data_version: str) -> Unchanged | None:
    """The last run, if it saw the same data, settings and code and left today's champion.

    A run counts only if its challenger was judged against the current champion or is the
    current champion: after a champion changed during a run, a rollback or a person's promote,
    the next run compares again.
    """
    last = RunLog(settings).last_run()
    if last is None or "champion_after" not in last:
        return None
    now = lineage_tags(settings, data_version)
    if any(last.get(key, "") != value for key, value in now.items()):
        return None
    champion = ModelRegistry(settings).alias_version(CHAMPION) or ""
    judged = {last.get("compared_with", ""), last.get("challenger_version", "")}
    if champion != last["champion_after"] or champion not in judged:
        return None
    name = last.get("leadloop_run", last["run_id"])
    message = (
        f"{NOTHING_NEW}: data {data_version}, configuration and code are unchanged since run "
        f"{name} ({last.get('decision', '?')}), and the champion is still "
        f"{version_label(champion or None)}: not retrained (--force retrains anyway)"
    )
    return Unchanged(name, data_version, last.get("decision", ""), champion or None, message)


def record_unchanged(settings: Settings, unchanged: Unchanged) -> None:
    """Log the skip in MLflow as its own small run, so the history shows every night."""
    stamp = pd.Timestamp.now(tz="UTC")
    RunLog(settings).log_marker(
        run_name=f"{NOTHING_NEW} {stamp:%Y%m%dT%H%M%S}",
        tags={
            **lineage_tags(settings, unchanged.data_version),
            "pipeline_stage": "skipped",
            "outcome": NOTHING_NEW,
            "same_as_run": unchanged.same_as_run,
            "champion_after": unchanged.champion or "",
        },
    )


def require_shared(settings: Settings) -> None:
    """Refuse a tracking store that lives and dies with this machine (a CI runner's disk)."""
    uri = settings.tracking.uri.strip()
    fix = (
        "set LEADLOOP_TRACKING__URI (in CI: from a repository secret) to an MLflow tracking "
        "server (https://...) or a PostgreSQL database (postgresql+psycopg://...)"
    )
    if not uri:
        raise ConfigError(f"shared registry required, but tracking.uri is empty: {fix}")
    if lock_kind(uri) == "file":
        raise ConfigError(
            f"shared registry required, but tracking.uri '{uri}' is a local store that is lost "
            f"with this machine, so every run would start without a champion: {fix}"
        )
    root = settings.tracking.artifact_root
    server = uri.startswith(("http://", "https://", "databricks"))
    if not server and not root.is_absolute():
        raise ConfigError(
            f"shared registry required, but models would be stored under tracking."
            f"artifact_root '{root}' inside this checkout: set LEADLOOP_TRACKING__"
            "ARTIFACT_ROOT to an absolute path on shared storage, or use an MLflow "
            "tracking server that stores artifacts"
        )
