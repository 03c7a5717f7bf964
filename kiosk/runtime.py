"""What every `kiosk` command shares: settings loaded once, one-line errors, the log, and
running the kiosk app itself. Used by the entry point (kiosk/launch.py) and the admin CLI
(kiosk/cli/); it imports neither, and the app (kiosk/ui) imports nothing of it.

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
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from kiosk.config import Settings, load_settings
from kiosk.errors import KioskError, report_unexpected

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

    peewee imports its PostgreSQL driver eagerly when it can, a cost in memory and time at every
    start (one per SSH login, per `kiosk verify`; benchmarks/RESULTS.md). A `None` in sys.modules
    makes that import fail the documented way, and peewee goes on without it. Only while peewee is
    first imported (when the service is first opened; every command that uses the store imports it
    after that), and only for a SQLite URL: one process serves one database, and a later `import
    psycopg2` elsewhere works as usual.
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


def staff_name() -> str:
    """Who is running an admin command or the board, for the audit trail: the person behind
    sudo when there is one, else the OS account."""
    import getpass

    name = os.environ.get("SUDO_USER", "").strip()
    if not name:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry for this uid (some containers)
            name = f"uid {os.getuid()}"
    return "".join(ch for ch in name if ch.isprintable())[:64] or "unknown"


def run_kiosk(
    ctx: Context, mode: str, demo_hint: str | None = None, *, interface: str | None = None
) -> None:
    """Run the kiosk in this terminal until it ends; fail with one line if it can't.

    `interface` ("full" or "plain", else `[kiosk] interface`) picks full-screen or plain lines.
    F2 on the full-screen Sign in switches to plain mode for one person: over SSH the session
    then ends with them; a kiosk shows the full-screen Sign in again for the next person.
    """
    _ = ctx.settings  # load and validate the config first: a bad one is named even without a tty
    # `kiosk serve` runs `kiosk run` for a browser, which has no line terminal: always full.
    if (interface or ctx.settings.kiosk.interface) == "plain" and not _served():
        run_plain(ctx, mode, demo_hint)
        return
    while _run_full_screen(ctx, mode, demo_hint):
        run_plain(ctx, mode, demo_hint, one_person=True)
        if mode == "ssh":
            return


def run_plain(
    ctx: Context, mode: str, demo_hint: str | None = None, *, one_person: bool = False
) -> None:
    """Plain mode (kiosk/plain): the same flow as plain lines and prompts on this terminal."""
    _require_terminal(mode)
    from kiosk.core.deferred import DeferredService
    from kiosk.plain.session import run_plain_session

    service = DeferredService(ctx.settings, ctx.service)
    service.ready()  # a store that cannot open is one line now, before anyone types a password
    reference = run_plain_session(
        service, mode=mode, source=session_source(), demo_hint=demo_hint, one_person=one_person
    )
    if reference and mode == "ssh":
        fail(f"the kiosk stopped unexpectedly (reference {reference}, see the log)")


def _require_terminal(mode: str) -> None:
    """Fail with one line unless stdin and stdout are a terminal (a person is there)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        fail(
            "the kiosk needs an interactive terminal"
            + (" (connect with ssh -t)" if mode == "ssh" else "")
        )


def _served() -> bool:
    """`kiosk serve` (textual-serve) runs the app over pipes with Textual's web driver."""
    return os.environ.get("TEXTUAL_DRIVER", "").endswith(":WebDriver")


def _run_full_screen(ctx: Context, mode: str, demo_hint: str | None) -> bool:
    """The full-screen app until it ends; True when the person asked for plain mode."""
    if not _served():
        _require_terminal(mode)
    # Importing and starting Textual makes a few hundred thousand objects, nearly all of which
    # live as long as the session: the cyclic garbage collector would walk them over and over
    # while they are made, a good part of the time to Sign in (benchmarks/RESULTS.md). It is
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
        outcome = app.run()
    finally:
        gc.enable()
    if outcome is None:  # Textual stopped the app on an error it caught itself
        outcome = app.outcome_after_unhandled_error()
    if outcome.clipboard_left:  # the next person at this terminal must not paste it
        from kiosk.ui.app import CLEAR_CLIPBOARD

        with contextlib.suppress(OSError, ValueError):
            sys.stdout.write(CLEAR_CLIPBOARD)
            sys.stdout.flush()
    if outcome.startup_error:
        fail(outcome.startup_error)
    if outcome.crash_reference:
        fail(f"the kiosk stopped unexpectedly (reference {outcome.crash_reference}, see the log)")
    # Served in a browser there is no line terminal to switch to.
    return outcome.switch_to_plain and not _served()


def freeze_imported_objects() -> None:
    """Keep what the imports made out of every later garbage collection.

    Modules, classes and functions live as long as the process, yet each full collection walked them
    all again, pausing screen changes (benchmarks/freeze.py). Called after the imports and before
    the app, any screen or anything a person typed exists, so nothing frozen ever holds a person's
    data and everything made from then on stays collectable. Only the first call freezes: a kiosk
    that starts the full-screen app again (after F2's plain mode) holds what people typed by then.
    """
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()


_frozen = False
