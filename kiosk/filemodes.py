"""Files that must stay private to the kiosk's account: the key file, the database, the log.

The kiosk creates them 0600 whatever the umask. Files it finds with group or other permission
bits are handled by what they hold: a loose key file is refused (as OpenSSH refuses a loose
private key), a loose database or log is reported on the `kiosk.files` logger, which writes to
the log and, for admin commands, also to stderr (`warn_on_stderr`): the kiosk itself never
writes to the terminal a person is using.
"""

from __future__ import annotations

import logging
import os
import shlex
import stat
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

OPEN_TO_OTHERS = 0o077  # any permission for the group or others

log = logging.getLogger("kiosk.files")


def is_open_to_others(mode: int) -> bool:
    return bool(stat.S_IMODE(mode) & OPEN_TO_OTHERS)


def loose_files_message(what: str, loose: list[tuple[Path, int]]) -> str:
    """`database /x/k.db is open to other accounts (mode 0644): run chmod 600 /x/k.db`."""
    fix = "run chmod 600 " + " ".join(shlex.quote(str(path)) for path, _ in loose)
    if len(loose) == 1:
        path, mode = loose[0]
        return f"{what} {path} is open to other accounts (mode {stat.S_IMODE(mode):04o}): {fix}"
    modes = ", ".join(f"{path} (mode {stat.S_IMODE(mode):04o})" for path, mode in loose)
    return f"{what} files are open to other accounts: {modes}: {fix}"


def report_loose_files(what: str, paths: Iterable[Path]) -> bool:
    """One warning naming every existing file of `paths` that others may read or change."""
    loose: list[tuple[Path, int]] = []
    for path in paths:
        try:
            mode = path.stat().st_mode
        except OSError:
            continue
        if stat.S_ISREG(mode) and is_open_to_others(mode):
            loose.append((path, mode))
    message = loose_files_message(what, loose) if loose else None
    if message is not None and message not in _reported:
        _reported.add(message)  # once a process: a command may open the database twice
        log.warning("%s", message)
    return bool(loose)


_reported: set[str] = set()


class _StderrWarnings(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        text = "".join(ch if ch.isprintable() else "?" for ch in record.getMessage())
        print(f"kiosk: warning: {text}", file=sys.stderr, flush=True)


_stderr_handler = _StderrWarnings(logging.WARNING)


def warn_on_stderr(enabled: bool) -> None:
    """Also show loose-file warnings on stderr (admin commands); never while the app runs."""
    if enabled and _stderr_handler not in log.handlers:
        log.addHandler(_stderr_handler)
    elif not enabled and _stderr_handler in log.handlers:
        log.removeHandler(_stderr_handler)


def write_private_file(path: Path, data: bytes) -> None:
    """Write `data` to `path`, readable by this account only (0600) whatever the umask.

    Written beside it under a temporary name (created 0600) and renamed over it: a file already
    there with looser modes is replaced, not rewritten in place, and a symlink at `path` is
    replaced rather than followed.
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
