"""The project's exceptions: one clear message each, naming what is wrong, where and what to do.

The CLI maps every ``LeadloopError`` to an exit code in one place (``cli.py``); the service maps
them to HTTP statuses in one place. ``InputError`` and ``ConfigError`` are the user's to fix
(exit 2); anything else is ours (exit 1). A registry that changed or stayed locked while a
command wanted to move the champion exits 4: nothing moved, run it again.
"""

from __future__ import annotations

from collections.abc import Sequence


class LeadloopError(Exception):
    """Base class for every error leadloop raises on purpose."""

    exit_code = 1


class InputError(LeadloopError):
    """A data file cannot be used as given (missing, unreadable, wrong columns or values)."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        column: str | None = None,
        rows: Sequence[object] | None = None,
    ) -> None:
        self.detail = message
        self.path = path
        self.column = column
        self.rows = list(rows) if rows is not None else []
        super().__init__(_locate(message, path=path, column=column, rows=self.rows))

    def shifted(self, offset: int) -> InputError:
        """The same error with row numbers moved by ``offset`` (for a chunk of a larger file)."""
        rows = [r + offset if isinstance(r, int) else r for r in self.rows]
        return InputError(self.detail, path=self.path, column=self.column, rows=rows)


class ConfigError(LeadloopError):
    """The configuration file or an environment override is invalid."""

    exit_code = 2


class RegistryError(LeadloopError):
    """The model registry is not in the state an operation needs (no such version, no champion)."""

    exit_code = 2


class ChampionChangedError(LeadloopError):
    """The champion is no longer the version a decision was made against: nothing moved."""

    exit_code = 4


class RegistryBusyError(LeadloopError):
    """Another process held the registry lock past the configured wait: nothing moved."""

    exit_code = 4


def champion_changed(expected: str | None, found: str | None, *, what: str = "run") -> str:
    """The one wording for a compare-and-set that found another champion."""
    return (
        f"champion changed during the {what} ({version_label(expected)} -> "
        f"{version_label(found)}): not promoted, rerun to compare"
    )


def version_label(version: str | None) -> str:
    """``v3``, or ``none`` when there is no champion."""
    return f"v{version}" if version else "none"


def _locate(message: str, *, path: str | None, column: str | None, rows: list[object]) -> str:
    parts = []
    if path:
        parts.append(str(path))
    if column:
        parts.append(f"column '{column}'")
    if rows:
        shown = ", ".join(str(r) for r in rows[:5])
        more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
        parts.append(f"rows {shown}{more}")
    where = ": ".join([", ".join(parts)]) if parts else ""
    return f"{where}: {message}" if where else message
