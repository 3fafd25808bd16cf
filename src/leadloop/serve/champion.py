"""The champion the service scores with, swapped for a new one without a restart.

A background thread asks the registry every ``serve.reload_seconds`` which version the
``champion`` alias points at; when it moved, the new version is loaded beside the old one and
then swapped in with one reference assignment. A request takes the current scorer once, at its
start, so requests in flight finish on the model they started with and none fails.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import pandas as pd

from leadloop.batch import load_scorer
from leadloop.config import Settings
from leadloop.errors import LeadloopError
from leadloop.scoring import Scorer
from leadloop.serve.leads import LeadFields
from leadloop.tracking import ModelRegistry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    """A scorer, the registry's facts about its model version, and the lead fields it knows."""

    scorer: Scorer
    card: dict[str, Any]
    loaded_at: str
    fields: LeadFields


class ChampionWatcher:
    """Holds the current champion and follows the registry's ``champion`` alias."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tracker = ModelRegistry(settings)
        self.current: Loaded | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def refresh(self) -> bool:
        """Load the champion if the alias moved; True when a new version was swapped in."""
        with self._lock:
            try:
                version = self.tracker.alias_version("champion")
                if version is None or (self.current and self.current.scorer.version == version):
                    return False
                scorer = load_scorer(self.settings, version, service=True)
                card = self.tracker.model_card(version)
            except LeadloopError as err:
                log.warning("could not load the champion: %s", err)
                return False
            stamp = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
            previous = self.current.scorer.version if self.current else None
            fields = LeadFields.of(scorer.model.encoder, version)
            self.current = Loaded(scorer, card, stamp, fields)
            log.info("scoring with champion v%s (was v%s)", version, previous or "-")
            return True

    def start(self) -> None:
        """Load the champion now and keep following the alias in a daemon thread."""
        self.refresh()
        self._thread = threading.Thread(target=self._follow, name="champion-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop following the alias."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _follow(self) -> None:
        while not self._stop.wait(self.settings.serve.reload_seconds):
            try:
                self.refresh()
            except Exception:  # keep serving the current model whatever the registry does
                log.exception("champion refresh failed; still scoring with the current model")
