"""Every exception leadloop raises on purpose, in one tree, each naming its exit code and its
HTTP status: the CLI (``cli/app.py``) and the API (``serve/``) both read them from here.

    LeadloopError                      exit 1  HTTP 500  ours: please report it
    ├── InputError                     exit 2  HTTP 422  a data file or a request cannot be used
    ├── ConfigError                    exit 2  HTTP 500  leadloop.yaml or an environment override
    ├── RegistryError                  exit 2  HTTP 503  no such version, no champion yet
    ├── StoreError                     exit 2  HTTP 503  the feedback store is unreachable
    ├── StorageError                   exit 2  HTTP 507  a disk is full or read-only
    ├── SignatureError                 exit 2  HTTP 401  a webhook delivery is not signed right
    ├── ChampionChangedError           exit 4  HTTP 409  the champion moved: nothing moved
    └── RegistryBusyError              exit 4  HTTP 503  the registry lock was held too long

Exit 2 is the user's or operator's to fix (bad input, configuration or setup); exit 4 means
"nothing moved, run it again"; exit 1 is a bug. Messages say what is wrong, where (file,
column, rows) and what to do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# user:password@ in a URL (a database or tracking URI): the password never reaches a message.
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][\w+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^\s'\"]*)@")


class LeadloopError(Exception):
    """Base class for every error leadloop raises on purpose."""

    exit_code = 1
    http_status = 500


class InputError(LeadloopError):
    """A data file or a request cannot be used as given (missing, unreadable, wrong columns or
    values)."""

    exit_code = 2
    http_status = 422

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
    http_status = 503


class StoreError(LeadloopError):
    """The feedback store cannot be reached or written (check serve.store_url)."""

    exit_code = 2
    http_status = 503


class StorageError(LeadloopError):
    """A file or the MLflow store cannot be written: no space left, a read-only file system,
    no permission. Nothing was published; free space or fix the permissions and rerun."""

    exit_code = 2
    http_status = 507


class SignatureError(LeadloopError):
    """A webhook delivery is not signed as it must be; the message says what is wrong."""

    exit_code = 2
    http_status = 401


class ChampionChangedError(LeadloopError):
    """The champion is no longer the version a decision was made against: nothing moved."""

    exit_code = 4
    http_status = 409


class RegistryBusyError(LeadloopError):
    """Another process held the registry lock past the configured wait: nothing moved."""

    exit_code = 4
    http_status = 503


def redact(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    return _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)


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
