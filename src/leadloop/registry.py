"""Moving the ``champion`` alias: always compare-and-set, under the registry's lock.

A move happens only if ``champion`` still points at the version the decision was made against
(for a run, the champion it loaded at its start; for ``promote`` and ``rollback``, the champion
read under the lock). Otherwise nothing moves and the caller is told what the registry holds.
Tags that say who promoted a version are written only after the alias actually moved.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from leadloop.columns import CHALLENGER, CHAMPION
from leadloop.errors import (
    ChampionChangedError,
    RegistryBusyError,
    RegistryError,
    champion_changed,
    version_label,
)
from leadloop.tracking import ModelRegistry


@dataclass(frozen=True)
class Settled:
    """What a run did to the registry, and the champion as it is after the run."""

    compared_with: str | None  # the champion the decision was made against (None: first run)
    found: str | None  # the champion in the registry when the run came to move it
    champion: str | None  # the champion after the run
    wanted: bool  # the run's decision asked to move the champion
    moved: bool
    message: str

    @property
    def conflict(self) -> bool:
        """The decision wanted a move the registry no longer allowed."""
        return self.wanted and not self.moved

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "conflict": self.conflict}


def settle_run(
    models: ModelRegistry,
    *,
    compared_with: str | None,
    versions: dict[str, str],
    promote: bool,
    reason: str,
    run: str,
) -> Settled:
    """Point ``challenger`` at the new challenger and move ``champion`` if the run may.

    ``versions`` holds the run's registered ``challenger`` and, on a first run, the
    ``champion`` it trained. The champion moves only if it is still ``compared_with``.
    """
    first = versions.get(CHAMPION)
    wanted = promote or first is not None
    try:
        with models.lock():
            found = models.alias_version(CHAMPION, strict=True)
            if CHALLENGER in versions:  # none when one model was trained alone
                models.set_alias(CHALLENGER, versions[CHALLENGER])
            if found != compared_with:
                return changed(compared_with, found, wanted=wanted)
            if first is not None:
                _move(models, first, previous=None, by="first run", reason="first run", run=run)
            if promote:
                _move(
                    models,
                    versions[CHALLENGER],
                    previous=first or compared_with,
                    by="policy",
                    reason=reason,
                    run=run,
                )
            after = models.alias_version(CHAMPION, strict=True)
    except RegistryBusyError as err:
        now = models.alias_version(CHAMPION, strict=True)
        return Settled(
            compared_with, now, now, wanted, False, f"{err}; champion is {version_label(now)}"
        )
    return Settled(compared_with, found, after, wanted, wanted, _moved_message(found, after, first))


def planned(*, compared_with: str | None, versions: dict[str, str], promote: bool) -> Settled:
    """What ``settle_run`` will report when the champion is still ``compared_with``: the
    records a run stages before it moves anything say this (and are rewritten otherwise)."""
    first = versions.get(CHAMPION)
    wanted = promote or first is not None
    after = versions[CHALLENGER] if promote else (first or compared_with)
    message = _moved_message(compared_with, after, first)
    return Settled(compared_with, compared_with, after, wanted, wanted, message)


def undo(
    models: ModelRegistry,
    *,
    versions: dict[str, str],
    aliases_before: dict[str, str | None],
) -> None:
    """Take back what a run did to the registry: each alias still pointing at one of its
    versions goes back to where it pointed before the run, then the versions are deleted
    (with their tags), so the registry is as the run found it."""
    ours = set(versions.values())
    with models.lock():
        for alias in (CHAMPION, CHALLENGER):
            if models.alias_version(alias, strict=True) in ours:
                models.restore_alias(alias, aliases_before.get(alias))
        models.delete_versions(sorted(ours, key=int))


def promote(
    models: ModelRegistry, version: str, *, reason: str, by: str, expected: str | None = None
) -> tuple[str | None, str | None]:
    """A person's override: make ``version`` the champion; returns (previous, champion after).

    With ``expected``, the move happens only while the champion is still that version.
    """
    with models.lock():
        current = models.alias_version(CHAMPION, strict=True)
        _expect(expected, current)
        models.version_tags(version)  # raises when there is no such version
        if current == version:
            raise RegistryError(f"version {version} is already the champion")
        _move(models, version, previous=current, by=by, reason=reason, run=None)
        return current, models.alias_version(CHAMPION, strict=True)


def rollback(
    models: ModelRegistry, *, reason: str, expected: str | None = None
) -> tuple[str, str | None]:
    """Point ``champion`` back at the version it replaced; returns (from, champion after)."""
    with models.lock():
        current = models.alias_version(CHAMPION, strict=True)
        if current is None:
            raise RegistryError(f"model '{models.name}' has no champion to roll back")
        _expect(expected, current)
        previous = models.version_tags(current).get("previous_champion")
        if not previous:
            raise RegistryError(f"champion v{current} has no previous champion to roll back to")
        models.set_alias(CHAMPION, previous)
        models.tag_version(current, {"rolled_back_at": _stamp(), "rollback_reason": reason[:5000]})
        return current, models.alias_version(CHAMPION, strict=True)


def _move(
    models: ModelRegistry,
    version: str,
    *,
    previous: str | None,
    by: str,
    reason: str,
    run: str | None,
) -> None:
    """Move the alias, then record who and why (the caller holds the lock and compared)."""
    models.set_alias(CHAMPION, version)
    _tag_promotion(models, version, previous=previous, by=by, reason=reason, run=run)


def _tag_promotion(
    models: ModelRegistry,
    version: str,
    *,
    previous: str | None,
    by: str,
    reason: str,
    run: str | None,
) -> None:
    models.tag_version(
        version,
        {
            "previous_champion": previous or "",
            "promoted_by": by,
            "promotion_reason": reason[:5000],
            "promoted_at": _stamp(),
            **({"promoted_in_run": run} if run else {}),
        },
    )


def complete_promotion(
    models: ModelRegistry,
    *,
    versions: dict[str, str],
    compared_with: str | None,
    reason: str,
    run: str,
) -> None:
    """For a run that died right after moving ``champion``: write the promotion tags the move
    was to be followed by, if the champion is the run's and has none."""
    champion = models.alias_version(CHAMPION, strict=True)
    if champion is None or champion not in versions.values():
        return
    if "promoted_by" in models.version_tags(champion):
        return
    first = champion == versions.get(CHAMPION)
    _tag_promotion(
        models,
        champion,
        previous=None if first else (versions.get(CHAMPION) or compared_with),
        by="first run" if first else "policy",
        reason="first run" if first else reason,
        run=run,
    )


def _expect(expected: str | None, current: str | None) -> None:
    if expected is not None and expected.removeprefix("v") != current:
        raise ChampionChangedError(
            champion_changed(expected.removeprefix("v"), current, what="command")
            + f"; the champion is {version_label(current)}"
        )


def changed(compared_with: str | None, found: str | None, *, wanted: bool) -> Settled:
    """What a run reports when the champion was no longer the one it compared with."""
    if wanted:
        message = f"{champion_changed(compared_with, found)}; champion is {version_label(found)}"
    else:
        message = (
            f"champion changed during the run ({version_label(compared_with)} -> "
            f"{version_label(found)}): the challenger was compared with "
            f"{version_label(compared_with)} only, rerun to compare; champion is "
            f"{version_label(found)}"
        )
    return Settled(compared_with, found, found, wanted, False, message)


def _moved_message(found: str | None, after: str | None, first: str | None) -> str:
    if after == found:
        return f"champion stays {version_label(after)}"
    if first is not None and after == first:
        return f"first run: {version_label(after)} registered as champion"
    return f"champion is now {version_label(after)}, was {version_label(first or found)}"


def _stamp() -> str:
    return pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
