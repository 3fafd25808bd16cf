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

from leadloop.config import Settings
from leadloop.data.store import redact
from leadloop.scoring import Scorer, compile_trees
from leadloop.serve.leads import LeadFields
from leadloop.tracking import ModelRegistry

log = logging.getLogger(__name__)
FIRST_LOAD_WAIT = 60.0  # seconds start-up waits for the champion before serving without it


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
        self._first = threading.Event()  # set once the first load was attempted
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def refresh(self) -> bool:
        """Load the champion if the alias moved; True when a new version was swapped in.

        Raises whatever the registry raises: the caller decides (``_attempt`` logs it)."""
        with self._lock:
            version = self.tracker.alias_version("champion")
            if version is None or (self.current and self.current.scorer.version == version):
                return False
            scorer = self._scorer(version)
            card = self.tracker.model_card(version)
            stamp = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
            previous = self.current.scorer.version if self.current else None
            fields = LeadFields.of(scorer.model.encoder, version)
            self.current = Loaded(scorer, card, stamp, fields)
            log.info("scoring with champion v%s (was v%s)", version, previous or "-")
            return True

    def _scorer(self, version: str) -> Scorer:
        """The registered ``version`` ready to score with the service's settings."""
        registered = self.tracker.load(version)
        settings = self.settings
        cutoffs = tuple(settings.evaluation.grade_cutoffs)
        scorer = Scorer(registered.model, registered.version, cutoffs, settings.serve.reasons)
        if settings.scoring.compile != "never":  # LightGBM answers until the trees are compiled
            compile_trees(
                scorer,
                cache_dir=settings.resolve(settings.scoring.cache_dir),
                label=f"{settings.tracking.model_name}-v{version}",
                background=True,
            )
        return scorer

    def start(self, *, wait: float = FIRST_LOAD_WAIT) -> None:
        """Follow the alias in a daemon thread, waiting up to ``wait`` s for the first load.

        A registry that is slow or unreachable does not hold the service's start-up (the
        webhooks work without it): it starts answering 503 to scoring, and the champion is
        swapped in once the registry answers."""
        self._thread = threading.Thread(target=self._follow, name="champion-watcher", daemon=True)
        self._thread.start()
        if not self._first.wait(wait):
            log.warning(
                "the model registry %s has not answered in %.0f s: serving without a champion "
                "until it does",
                redact(self.tracker.uri),
                wait,
            )

    def stop(self) -> None:
        """Stop following the alias."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _follow(self) -> None:
        self._attempt()
        self._first.set()
        while not self._stop.wait(self.settings.serve.reload_seconds):
            self._attempt()

    def _attempt(self) -> None:
        try:
            self.refresh()
        except Exception as err:  # keep serving the current model whatever the registry does
            current = f"v{self.current.scorer.version}" if self.current else "no champion"
            reason = redact(str(err).strip().splitlines()[0] if str(err).strip() else "")
            log.warning(
                "could not load the champion from %s (%s: %s); still serving %s",
                redact(self.tracker.uri),
                type(err).__name__,
                reason,
                current,
            )
