"""The Typer application, its shared options, and the one place errors become exit codes.

Only Typer and Rich are imported here: ``leadloop --help`` and every error found before real
work stay fast; each command imports what it needs when it runs.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console

from leadloop.config import CONFIG_FILENAME

if TYPE_CHECKING:
    import pandas as pd

    from leadloop.config import Settings

# Tests only: `leadloop run` kills itself (SIGKILL) right after this publishing step, to prove
# that a run killed at any step leaves a registry and reports the next run can settle.
KILL_AT_ENV = "LEADLOOP_TEST_KILL_AT"
EXIT_BLOCKED = 3
EXIT_CHAMPION_CHANGED = 4
T = TypeVar("T")

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console()
err_console = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help=f"Settings file (default: ./{CONFIG_FILENAME} if present)."
    ),
]

IfChampionOption = Annotated[
    str | None,
    typer.Option(
        "--if-champion",
        help="Move only while the champion is still this version (what you reviewed).",
    ),
]

QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


@app.callback()
def _setup(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log details.")] = False,
) -> None:
    """Lead scoring that learns from CRM outcomes and promotes a challenger only on evidence."""
    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        handlers=[RichHandler(console=err_console, show_path=False)],
        force=True,
    )
    for noisy in ("mlflow", "alembic", "urllib3", "git", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)
    # MLflow installs its own console handler when imported (later: imports are lazy), which
    # would print its retries and tracebacks beside our one line; its records come here instead,
    # and its errors are ours to word (a full disk, an unreachable store).
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    logging.getLogger("mlflow").setLevel(logging.WARNING if verbose else logging.CRITICAL)


def load(config: Path | None) -> Settings:
    """The settings for a command: the file (or ./leadloop.yaml) and the environment."""
    from leadloop.config import load_settings

    environ = {k: v for k, v in os.environ.items() if k != KILL_AT_ENV}
    return guard(lambda: load_settings(config, environ=environ))


def now() -> pd.Timestamp:
    """The current time as leadloop stores times: naive UTC."""
    import pandas as pd

    return pd.Timestamp.now(tz="UTC").tz_localize(None)


def fail(message: str) -> typer.Exit:
    """A usage error: one line on stderr and exit status 2 (raise what this returns)."""
    err_console.print(message, highlight=False, soft_wrap=True)
    return typer.Exit(2)


def guard(action: Callable[[], T]) -> T:
    """Run ``action``; a ``LeadloopError`` becomes one line on stderr and its exit code."""
    from rich.markup import escape

    from leadloop.errors import LeadloopError, redact

    try:
        return action()
    except LeadloopError as err:
        shown = escape(redact(str(err)))
        err_console.print(f"[red]error:[/red] {shown}", highlight=False, soft_wrap=True)
        raise typer.Exit(err.exit_code) from err
    except (typer.Exit, KeyboardInterrupt):
        raise
    except Exception as err:
        logging.getLogger("leadloop").debug("internal error", exc_info=True)
        first = redact(str(err).strip().splitlines()[0]) if str(err).strip() else ""
        err_console.print(
            f"[red]internal error:[/red] {type(err).__name__}: {escape(first)} (run with "
            "--verbose for the traceback; please report it)",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1) from err


def refuse_without_registry(settings: Settings) -> None:
    """No model registry yet: said at once, before MLflow loads, and no empty store is created
    by asking (``score``, ``promote``, ``rollback``)."""
    from leadloop.preflight import require_registry

    guard(lambda: require_registry(settings))


def kill_hook() -> Callable[[str], None] | None:
    """The test hook named by ``LEADLOOP_TEST_KILL_AT``, read here at the edge only."""
    target = os.environ.get(KILL_AT_ENV)
    if not target:
        return None

    def checkpoint(step: str) -> None:
        if step == target:
            os.kill(os.getpid(), signal.SIGKILL)

    return checkpoint
