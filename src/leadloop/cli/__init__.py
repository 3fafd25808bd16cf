"""The ``leadloop`` command: parse, load settings, call the pipeline, render with Rich.

Exit codes: 0 success, 1 internal error, 2 bad input or configuration, 3 the gate blocked,
4 the champion changed (or the registry stayed locked) while a command meant to move it.
Commands live by concern (``loop``, ``data``, ``registry``, ``serving``, ``simulate``) and
import their heavy dependencies only when they run.
"""

from __future__ import annotations

from leadloop.cli import data, loop, registry, serving, simulate  # noqa: F401  (they register)
from leadloop.cli.app import app


def main() -> None:
    """Entry point for ``python -m leadloop``."""
    app()


__all__ = ["app", "main"]
