"""A line terminal: lines out, one edited line in, no escape sequence within a session.

Why the kiosk reads keys itself instead of letting the tty's line discipline do it:
- **The password is never echoed**, not even when it is typed ahead (a password manager typing
  "email, Enter, password, Enter" at once): the kernel echoes nothing for the whole session, and
  this class echoes only what is typed at a prompt that may be shown.
- **ctrl+c, ctrl+z and ctrl+\\ are keys**, not signals: ctrl+c ends an SSH session or clears
  the line on a kiosk; the others never suspend or kill the kiosk. ctrl+s cannot freeze output.
- **Every key counts as activity** for the idle timeout, as in the full-screen app.
- **No escape sequence is written** within a session; only between two people on a kiosk is
  the screen and its scrollback erased (`clear_screen_and_scrollback`).
- **Hostile input is bounded**: bytes that are not UTF-8 become U+FFFD, escape sequences (arrow
  keys) are dropped, a line longer than `MAX_LINE_CHARS` stops growing.

Editing is what a screen reader user expects of a plain line: Backspace, ctrl+u (erase the
line), Enter. Erasing writes backspace-space-backspace: no cursor-movement sequences. The saved
terminal settings are restored on every way out (`close`, including after a hang-up).
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import os
import select
import termios
import textwrap
import time
import unicodedata
from collections.abc import Callable
from typing import Any

MAX_LINE_CHARS = 1100  # longer than any email (254) or password (1024) the kiosk accepts
DEFAULT_WIDTH = 80

CLEAR_SCREEN_AND_SCROLLBACK = "\x1b[H\x1b[2J\x1b[3J"
CTRL_C = "\x03"
CTRL_D = "\x04"
CTRL_U = "\x15"
BACKSPACES = ("\x7f", "\x08")
ENTER_KEYS = ("\r", "\n")


class Interrupted(Exception):
    """ctrl+c was typed at a prompt."""


class IdleTimeout(Exception):
    """Nobody typed anything for the whole timeout."""


class HungUp(Exception):
    """The terminal is gone (connection closed, end of input)."""


def printable(text: str) -> str:
    """`text` without control characters (a message or an email may come from anywhere)."""
    return "".join(ch if ch == "\n" or ch.isprintable() else "?" for ch in text)


def _cells(ch: str) -> int:
    """Columns a character takes (to erase it with as many backspaces)."""
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


class LineTerminal:
    """Plain lines to `fd_out`, edited lines from `fd_in` (a tty, or a pipe in tests)."""

    def __init__(
        self,
        fd_in: int,
        fd_out: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fd_in = fd_in
        self.fd_out = fd_out
        self.clock = clock
        self.last_activity = clock()
        self._saved: list[Any] | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""  # decoded keys not yet consumed (typed ahead)
        self._escape = ""  # an escape sequence being skipped

    # ------------------------------------------------------------------ tty mode
    def open(self) -> None:
        """Keys one by one, no kernel echo, no signals from keys; output as usual (\\n → \\r\\n)."""
        try:
            attrs = termios.tcgetattr(self.fd_in)
        except termios.error:
            return  # not a tty (a test's pipe): nothing to set or restore
        self._saved = list(attrs)
        new = list(attrs)
        new[0] = (new[0] | termios.ICRNL) & ~(termios.IXON | termios.INLCR | termios.IGNCR)
        new[3] = new[3] & ~(
            termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN
        )
        cc = list(new[6])
        cc[termios.VMIN] = 1
        cc[termios.VTIME] = 0
        new[6] = cc
        termios.tcsetattr(self.fd_in, termios.TCSANOW, new)

    def close(self) -> None:
        """Put the terminal back as it was; quietly, as it may be gone."""
        if self._saved is not None:
            with contextlib.suppress(termios.error, OSError):
                termios.tcsetattr(self.fd_in, termios.TCSANOW, self._saved)
            self._saved = None

    def __enter__(self) -> LineTerminal:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def discard_typeahead(self) -> None:
        """Forget keys typed but not yet read: the next person starts with an empty line."""
        self._pending = ""
        self._escape = ""
        self._decoder.reset()
        with contextlib.suppress(termios.error, OSError):
            termios.tcflush(self.fd_in, termios.TCIFLUSH)

    # ------------------------------------------------------------------ output
    @property
    def width(self) -> int:
        try:
            columns = os.get_terminal_size(self.fd_out).columns
        except OSError:
            return DEFAULT_WIDTH
        return min(DEFAULT_WIDTH, columns) if columns >= 20 else DEFAULT_WIDTH

    def write(self, text: str) -> None:
        """`text` with any control character but the line end shown as "?"."""
        self._emit(printable(text))

    def _emit(self, text: str) -> None:
        data = text.encode("utf-8", errors="replace")
        while data:
            try:
                written = os.write(self.fd_out, data)
            except InterruptedError:
                continue
            except OSError as exc:
                raise HungUp() from exc
            data = data[written:]

    def clear_screen_and_scrollback(self) -> None:
        """Erase the screen and the scrollback (a terminal's CSI 2J and 3J): used only between
        two people on a shared kiosk terminal, never within a session."""
        if os.isatty(self.fd_out):
            self._emit(CLEAR_SCREEN_AND_SCROLLBACK)

    def say(self, text: str = "") -> None:
        """A paragraph, wrapped to the terminal's width, on lines of its own."""
        lines = textwrap.wrap(text, self.width - 1, break_on_hyphens=False) if text else [""]
        self.write("\n".join(lines) + "\n")

    def line(self, text: str) -> None:
        """One line as it is (a key, a code): never wrapped, so it reads as one unit."""
        self.write(text + "\n")

    # ------------------------------------------------------------------ input
    def _read_keys(self, timeout: float | None) -> bool:
        """Wait up to `timeout` seconds for input; True when keys arrived."""
        try:
            ready, _, _ = select.select([self.fd_in], [], [], timeout)
        except InterruptedError:
            return False
        if not ready:
            return False
        try:
            data = os.read(self.fd_in, 4096)
        except InterruptedError:
            return False
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                return False
            raise HungUp() from exc
        if not data:
            raise HungUp()
        self._pending += self._decoder.decode(data)
        return True

    def _next_key(self) -> str | None:
        """The next key from what was read, escape sequences skipped; None when none is left."""
        while self._pending:
            ch, self._pending = self._pending[0], self._pending[1:]
            if self._escape:
                self._escape += ch
                if len(self._escape) == 2 and ch in "[O":
                    continue
                in_csi = self._escape.startswith("\x1b[") and not "\x40" <= ch <= "\x7e"
                if in_csi and len(self._escape) < 32:
                    continue
                self._escape = ""
                continue
            if ch == "\x1b":
                self._escape = ch
                continue
            return ch
        return None

    def ask(
        self,
        prompt: str,
        *,
        secret: bool = False,
        timeout: float | None = None,
        warn_before: float = 0.0,
        warning: Callable[[int], None] | None = None,
        wait_while_empty: bool = False,
    ) -> str:
        """Show `prompt`, read one line (echoed unless `secret`) and return it.

        Raises `IdleTimeout` after `timeout` seconds without a key (after calling `warning`
        with the seconds left once, `warn_before` seconds before the end; the prompt is then
        shown again), unless `wait_while_empty` and nothing was typed; `Interrupted` on
        ctrl+c; `HungUp` when the terminal goes away.
        """
        self.write(prompt)
        typed: list[str] = []
        self.last_activity = self.clock()
        warned = False
        while True:
            key = self._next_key()
            if key is None:
                wait = None
                if timeout is not None and not (wait_while_empty and not typed):
                    left = timeout - (self.clock() - self.last_activity)
                    if left <= 0:
                        self.write("\n")
                        raise IdleTimeout()
                    if warning is not None and not warned and left <= warn_before:
                        warned = True
                        self.write("\n")
                        warning(max(1, round(left)))
                        self.write(prompt + ("" if secret else "".join(typed)))
                    wait = left if warned or warning is None else max(0.0, left - warn_before)
                    wait = max(0.01, min(wait, 1.0))
                self._read_keys(wait)
                continue
            self.last_activity = self.clock()
            warned = False
            if key in ENTER_KEYS:
                self.write("\n")
                return "".join(typed)
            if key == CTRL_C:
                self.write("^C\n")
                raise Interrupted()
            if key == CTRL_D and not typed:
                self.write("\n")
                raise HungUp()
            if key in BACKSPACES:
                if typed:
                    gone = typed.pop()
                    if not secret:
                        self._emit("\b \b" * _cells(gone))
                continue
            if key == CTRL_U:
                if not secret:
                    self._emit("".join("\b \b" * _cells(ch) for ch in typed))
                typed.clear()
                continue
            if not key.isprintable() or len(typed) >= MAX_LINE_CHARS:
                continue  # other control keys (tab, ctrl+z, ctrl+\): nothing; a full line: no more
            typed.append(key)
            if not secret:
                self.write(key)
