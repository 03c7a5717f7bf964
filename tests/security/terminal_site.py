"""A kiosk site in a temporary folder, and the installed `kiosk` command run on it in a pty.

Shared by the tests/security/test_terminal_*.py tests (they import the two fixtures), which
drive the real command as a hostile or clumsy terminal would (bytes that are not UTF-8, keys
batched in one read, floods, huge windows) and read what it writes back (the screen, OSC 52
clipboard writes, its memory).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pyotp
import pyte
import pytest

from kiosk.config import Settings
from kiosk.core.service import KioskService
from tests.conftest import make_settings, write_config
from tests.security import workers
from tests.support.terminal import ENTER, TAB, Terminal

KIOSK = Path(sys.executable).with_name("kiosk")
PASSWORD = "correct horse battery"
NEW_PERSON = "new.person@example.com"  # not enrolled: Sign in leads to "Two-Factor ..."
ENROLLED = "enrolled@example.com"  # enrolled: Sign in leads to the 6-digit code
SCREEN_TIMEOUT = 45.0  # a loaded 2-core machine starting Python + Textual
CODE_SCREEN = "6-digit code"
MFA_SCREEN = "Two-Factor Authentication Required"
SIGNED_IN = "You're signed in with your authenticator app"


@dataclass
class Site:
    root: Path
    config: Path
    secret: str  # the enrolled account's TOTP secret

    def argv(self, mode: str) -> list[str]:
        return [str(KIOSK), "--config", str(self.config), "run", "--mode", mode]


@pytest.fixture(name="site")
def site_fixture(tmp_path: Path) -> Site:
    """One site on SQLite: a new person and an enrolled one; idle timeout at its minimum."""
    if not KIOSK.exists():
        pytest.fail(f"the kiosk command is not installed at {KIOSK}", pytrace=False)
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'kiosk.db'}")
    settings = replace(settings, kiosk=replace(Settings().kiosk, idle_timeout=10))
    config = write_config(tmp_path / "config.toml", settings)
    service = KioskService.open(settings)
    try:
        service.accounts.add_user(NEW_PERSON, PASSWORD)
        service.accounts.add_user(ENROLLED, PASSWORD)
        secret, _ = workers.enroll_through_flow(service, ENROLLED, PASSWORD)
    finally:
        service.close()
    return Site(root=tmp_path, config=config, secret=secret)


@pytest.fixture(name="kiosk_in_pty")
def kiosk_in_pty_fixture(site: Site) -> Iterator[Callable[..., Terminal]]:
    """Factory: the installed kiosk on `site` in a pty, showing Sign in; closed at the end."""
    opened: list[Terminal] = []

    def start(mode: str = "kiosk", cols: int = 80, rows: int = 24) -> Terminal:
        term = Terminal(site.argv(mode), cols=cols, rows=rows, cwd=site.root)
        opened.append(term)
        term.wait_for_text("Password", SCREEN_TIMEOUT)
        term.wait_for_quiet()
        return term

    yield start
    for term in opened:
        term.close()


def field_row(term: Terminal, label: str) -> int:
    """The screen row of the text line of the field under `label` ("Email", "Password")."""
    lines = term.screen.display
    for y, line in enumerate(lines):
        if line.strip() == label:
            return y + 2  # label, the field's top border, then its text line
    raise AssertionError(f"no {label!r} field on screen:\n{term.dump()}")


def sign_in(term: Terminal, email: str, password: str = PASSWORD) -> None:
    """Email, Tab, password, Enter, as a person types them (each step seen on the screen)."""
    term.send(email)
    term.wait_for_text(email, 10)
    tab_to_password(term)
    term.send(password + ENTER)


def tab_to_password(term: Terminal) -> None:
    """Tab, then wait until the Password field shows the focus: Textual hands a key to the
    widget focused when the key is read, so the password must wait for the focus to move."""
    y = field_row(term, "Password")
    x = term.screen.display[y].index("▊") + 3
    before = term.screen.buffer[y][x].bg
    term.send(TAB)
    term.wait_until(lambda: term.screen.buffer[y][x].bg != before, 10, "focus in Password")


def next_code(secret: str) -> str:
    """The code of the next 30-second step: inside the ±1 window, never used before."""
    return pyotp.TOTP(secret).at(time.time() + 30)


class WebSession:
    """The installed kiosk as `kiosk serve` (textual-serve) runs it: Textual's web driver over
    pipes, length-prefixed packets each way ("D" terminal data, "M" meta). What the app draws
    is painted by pyte, as the page's terminal would."""

    def __init__(self, argv: list[str], cwd: Path, cols: int = 80, rows: int = 24) -> None:
        env = {
            **os.environ,
            "TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver",
            "TEXTUAL_COLOR_SYSTEM": "truecolor",
            "COLUMNS": str(cols),
            "ROWS": str(rows),
        }
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            cwd=cwd, env=env,
        )
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.data = bytearray()  # every "D" payload, in order
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        out = self.proc.stdout
        if out.readline() != b"__GANGLION__\n":
            return
        while True:
            head = out.read(5)
            if len(head) < 5:
                return
            payload = out.read(int.from_bytes(head[1:], "big"))
            if head[:1] == b"D":
                with self._lock:
                    self.data.extend(payload)
                    self.stream.feed(payload)

    def send(self, text: str) -> None:
        """What the page typed, as textual-serve passes it on (one "D" packet)."""
        payload = text.encode("utf-8")
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"D" + len(payload).to_bytes(4, "big") + payload)
        self.proc.stdin.flush()

    def screen_text(self) -> str:
        with self._lock:
            return "\n".join(line.rstrip() for line in self.screen.display)

    def wait_for_text(self, text: str, timeout: float = SCREEN_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} (status {self.proc.poll()}):\n"
                                     + self.screen_text())
            time.sleep(0.05)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
