"""Start the kiosk: the `kiosk` entry point, and what every command shares (settings, errors).

Every SSH login starts a fresh `kiosk` process whose only job is the kiosk itself, so the plain
forms of that command — `kiosk`, `kiosk run` and `kiosk run --mode MODE`, each optionally after
`--config PATH` — start here without importing the admin command line (click and its commands:
about 15 ms and 1 MiB per start, measured in benchmarks/). Anything else, `--help` included, is
handed to `kiosk.cli`, which parses it with click and reaches the same `launch` for `run`. The
fast path accepts only exact forms and leaves every doubt (and so every error message) to click.

Configuration is loaded once, at the edge, and passed down; nothing below reads the environment.
Every failure prints one line (`kiosk: error: ...`) and exits non-zero: 2 for an error, 1 for a
refusal where a command answers yes/no.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from kiosk.config import MODES, Settings, load_settings
from kiosk.errors import KioskError

if TYPE_CHECKING:
    from kiosk.core.service import KioskService

log = logging.getLogger("kiosk")
log.addHandler(logging.NullHandler())  # never Python's last-resort handler: it prints tracebacks

EXIT_REFUSED = 1
EXIT_ERROR = 2


def one_line(text: str) -> str:
    """Never let a message carry control characters or several lines to the terminal."""
    return "".join(ch if ch.isprintable() else "?" for ch in " ".join(str(text).split()))


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print `kiosk: error: MESSAGE` on one line to stderr and exit with `code`."""
    print(f"kiosk: error: {one_line(message)}", file=sys.stderr, flush=True)
    sys.exit(code)


def setup_logging(settings: Settings) -> None:
    """Log to the configured file (0600). Never a secret: only events and error references."""
    path = settings.log_path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600)
        handler: logging.Handler = logging.StreamHandler(os.fdopen(fd, "a", encoding="utf-8"))
    except (OSError, ValueError):
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.raiseExceptions = False  # a log that cannot be written (disk full) prints nothing
    root = logging.getLogger("kiosk")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
    from kiosk.filemodes import report_loose_files  # an existing log others may read: say so

    report_loose_files("log file", [path])


def report_unexpected(exc: BaseException) -> str:
    """Log an unexpected error with a short reference and return the reference."""
    reference = uuid.uuid4().hex[:8].upper()
    log.error("unexpected error, reference %s", reference, exc_info=exc)
    return reference


def exit_on_failure(exc: BaseException) -> NoReturn:
    """One clear line and a non-zero exit for a failure; never a traceback. Re-raises exits."""
    if isinstance(exc, KioskError):
        fail(str(exc))
    if isinstance(exc, KeyboardInterrupt):
        print("", file=sys.stderr)
        fail("interrupted")
    if not isinstance(exc, Exception):  # SystemExit, GeneratorExit: not failures of ours
        raise exc
    reference = report_unexpected(exc)
    fail(f"unexpected {exc.__class__.__name__} (reference {reference}, see the log)")


class Context:
    """What every command needs: the settings, and the service opened on first use."""

    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path
        self._settings: Settings | None = None
        self._service: KioskService | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path)
            setup_logging(self._settings)
        return self._settings

    def service(self, *, migrate: bool = True) -> KioskService:
        if self._service is None:
            settings = self.settings
            with _without_postgres_driver(settings.database_url):
                from kiosk.core.service import KioskService  # imports peewee: the lean way

            self._service = KioskService.open(
                settings, key_env=os.environ.get("KIOSK_SECRET_KEY") or None, migrate=migrate
            )
        return self._service

    def close(self) -> None:
        if self._service is not None:
            self._service.close()


@contextlib.contextmanager
def _without_postgres_driver(url: str) -> Iterator[None]:
    """Keep peewee from importing psycopg2, which a SQLite kiosk never uses, at its first import.

    peewee imports its PostgreSQL driver eagerly when it can: about 5 MiB of resident memory and
    15 ms for every start (one per SSH login, per `kiosk verify`), measured in benchmarks/. A
    `None` in sys.modules makes that import fail the documented way, and peewee goes on without
    it. Only while peewee is first imported (when the service is first opened; every command
    that uses the store imports it after that), and only for a SQLite URL: one process serves one
    database, and a later `import psycopg2` elsewhere works as usual.
    """
    if not url.startswith("sqlite:") or "peewee" in sys.modules or "psycopg2" in sys.modules:
        yield
        return
    sys.modules["psycopg2"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if "psycopg2" in sys.modules and sys.modules["psycopg2"] is None:
            del sys.modules["psycopg2"]


def config_path(option: str | None) -> Path | None:
    """--config, else $KIOSK_CONFIG, else ./config.toml when it exists, else the defaults."""
    if option:
        return Path(option)
    env = os.environ.get("KIOSK_CONFIG")
    if env:
        return Path(env)
    default = Path("config.toml")
    return default if default.exists() else None


def session_source() -> str:
    """Where this session comes from, for the audit trail (ssh client, tty, web, local)."""
    from kiosk.core.audit import source_from_environment

    return source_from_environment()


def launch(ctx: Context, mode: str, demo_hint: str | None = None) -> None:
    """Run the kiosk full-screen in this terminal until it ends; fail with one line if it can't."""
    _ = ctx.settings  # load and validate the config first: a bad one is named even without a tty
    # `kiosk serve` (textual-serve) runs the app over pipes with Textual's web driver.
    served = os.environ.get("TEXTUAL_DRIVER", "").endswith(":WebDriver")
    if not served and not (sys.stdin.isatty() and sys.stdout.isatty()):
        fail(
            "the kiosk needs an interactive terminal"
            + (" (connect with ssh -t)" if mode == "ssh" else "")
        )
    # Importing and starting Textual makes a few hundred thousand objects, nearly all of which
    # live as long as the session: the cyclic garbage collector would walk them over and over
    # while they are made, about a tenth of the time to Sign in (benchmarks/RESULTS.md). It is
    # paused until Sign in is on the screen, then runs as usual (nothing is frozen: widgets that
    # held what a person typed must stay collectable).
    gc.disable()
    try:
        # The store opens in the background after Sign in is painted (kiosk.core.deferred).
        from kiosk.core.deferred import DeferredService
        from kiosk.ui.app import KioskApp

        freeze_imported_objects()
        service = DeferredService(ctx.settings, ctx.service)
        app = KioskApp(service, mode=mode, source=session_source(), demo_hint=demo_hint,
                       after_first_paint=gc.enable)
        app.run()
    finally:
        gc.enable()
    if app.startup_error:
        fail(app.startup_error)
    reference = app.crash_reference
    if reference is None and app.return_code not in (None, 0):
        reference = uuid.uuid4().hex[:8].upper()
        log.error("the app stopped on %s, reference %s", app.unhandled_error_type(), reference)
    if reference:
        fail(f"the kiosk stopped unexpectedly (reference {reference}, see the log)")


def freeze_imported_objects() -> None:
    """Keep what the imports made out of every later garbage collection.

    Modules, classes and functions live as long as the process, yet each full collection
    walked them all again: pauses of 30 ms and more in the middle of screen changes
    (benchmarks/freeze.py). Called after the imports and before the app, any screen or
    anything a person typed exists, so nothing frozen ever holds a person's data and
    everything made from then on stays collectable.
    """
    gc.freeze()


def parse_run_arguments(args: Sequence[str]) -> tuple[str | None, str | None] | None:
    """(config option, mode) for `[--config PATH] [run [--mode MODE]]`, else None (ask click).

    Only the exact forms click would read the same way: a value that looks like an option, an
    unknown mode, a repeated or unknown word all go to click, which explains them.
    """
    rest = list(args)

    def take_option(name: str) -> tuple[bool, str | None]:
        if not rest:
            return True, None
        if rest[0] == name:
            if len(rest) < 2 or rest[1].startswith("-"):
                return False, None
            value = rest[1]
            del rest[:2]
            return True, value
        if rest[0].startswith(f"{name}="):
            value = rest.pop(0)[len(name) + 1 :]
            return (not value.startswith("-")), value
        return True, None

    ok, config_option = take_option("--config")
    if not ok:
        return None
    if not rest:
        return config_option, None
    if rest.pop(0) != "run":
        return None
    ok, mode = take_option("--mode")
    if not ok or rest or (mode is not None and mode not in MODES):
        return None
    return config_option, mode


def main(argv: Sequence[str] | None = None) -> None:
    """The `kiosk` command (and `python -m kiosk`)."""
    from kiosk.hardening import harden_process

    harden_process()  # first: before any password or secret is in this process's memory
    parsed = parse_run_arguments(sys.argv[1:] if argv is None else argv)
    if parsed is None:
        from kiosk.cli import main as admin_main

        admin_main(argv)
        return
    config_option, mode = parsed
    os.umask(0o077)  # everything this process creates is private to the kiosk's user
    ctx = Context(config_path(config_option))
    try:
        launch(ctx, mode or ctx.settings.kiosk.mode)
    except BaseException as exc:  # noqa: BLE001 - one line for the person, the rest in the log
        exit_on_failure(exc)
    finally:
        ctx.close()
