"""The `kiosk` entry point: the kiosk itself, fast; everything else handed to the admin CLI.

Every SSH login starts a fresh `kiosk` process whose only job is the kiosk itself, so the plain
forms of that command — `kiosk`, `kiosk run` and `kiosk run --mode MODE` (and `--plain`), each
optionally after `--config PATH` — start here without importing the admin command line (click and
its commands: a cost paid at every login, benchmarks/RESULTS.md). Anything else, `--help`
included, is handed to `kiosk.cli`, which parses it with click and runs `run` through the same
`kiosk.runtime.run_kiosk`.
The fast path accepts only exact forms and leaves every doubt (and so every error message) to click.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from kiosk.config import MODES
from kiosk.runtime import Context, config_path, exit_on_failure, run_kiosk


def parse_run_arguments(args: Sequence[str]) -> tuple[str | None, str | None, bool] | None:
    """(config option, mode, plain) for `[--config PATH] [run [--mode MODE] [--plain]]` (the
    options of `run` in either order), else None (ask click).

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
        return config_option, None, False
    if rest.pop(0) != "run":
        return None
    mode: str | None = None
    plain = False
    while rest:
        if rest[0] == "--plain" and not plain:
            rest.pop(0)
            plain = True
            continue
        ok, value = take_option("--mode")
        if not ok or value is None or mode is not None or value not in MODES:
            return None
        mode = value
    return config_option, mode, plain


def main(argv: Sequence[str] | None = None) -> None:
    """The `kiosk` command (and `python -m kiosk`)."""
    from kiosk.hardening import harden_process

    harden_process()  # first: before any password or secret is in this process's memory
    parsed = parse_run_arguments(sys.argv[1:] if argv is None else argv)
    if parsed is None:
        from kiosk.cli import main as admin_main

        admin_main(argv)
        return
    config_option, mode, plain = parsed
    os.umask(0o077)  # everything this process creates is private to the kiosk's user
    ctx = Context(config_path(config_option))
    try:
        run_kiosk(ctx, mode or ctx.settings.kiosk.mode, interface="plain" if plain else None)
    except BaseException as exc:  # noqa: BLE001 - one line for the person, the rest in the log
        exit_on_failure(exc)
    finally:
        ctx.close()
