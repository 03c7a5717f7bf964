"""A real terminal for end-to-end tests: a pty (pexpect) whose output is painted by pyte.

The kiosk is meant for people at real terminals, so the end-to-end tests read what such a
terminal would show: the text on the screen, and each cell's character and colours (the QR is
rebuilt from those cells, never from the app's internals). Every wait is bounded; a wait that
times out raises with the screen as it was, so a failing test shows what a person would have seen.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pexpect
import pyte

# Keys as a terminal sends them.
TAB = "\t"
ENTER = "\r"
SPACE = " "
ESCAPE = "\x1b"
BACKSPACE = "\x7f"
CTRL_C = "\x03"
CTRL_Z = "\x1a"
CTRL_BACKSLASH = "\x1c"
CTRL_Q = "\x11"

# xterm's default 16-colour palette: what pyte's colour names look like on a typical terminal.
XTERM_PALETTE = {
    "black": "#000000",
    "red": "#cd0000",
    "green": "#00cd00",
    "brown": "#cdcd00",
    "blue": "#0000ee",
    "magenta": "#cd00cd",
    "cyan": "#00cdcd",
    "white": "#e5e5e5",
    "brightblack": "#7f7f7f",
    "brightred": "#ff0000",
    "brightgreen": "#00ff00",
    "brightbrown": "#ffff00",
    "brightblue": "#5c5cff",
    "brightmagenta": "#ff00ff",
    "brightcyan": "#00ffff",
    "brightwhite": "#ffffff",
}


@dataclass(frozen=True)
class Theme:
    """How a terminal paints the *default* colours (pyte leaves them as "default")."""

    name: str
    foreground: str
    background: str


DARK = Theme("dark", foreground="#ffffff", background="#000000")
LIGHT = Theme("light", foreground="#000000", background="#ffffff")

Cell = tuple[str, str, str]  # (char, fg "#rrggbb", bg "#rrggbb")

_HEX = re.compile(r"[0-9a-fA-F]{6}")
# OSC 52 "set the clipboard" as a program writes it: ESC ] 52 ; targets ; base64 (BEL or ST).
_OSC52 = re.compile(rb"\x1b\]52;[a-z]*;([A-Za-z0-9+/=]*)(?:\x07|\x1b\\)")


def clipboard_writes(raw: bytes | bytearray) -> list[str]:
    """Every text a program put on the terminal's clipboard (OSC 52), in order; "" = emptied."""
    return [base64.b64decode(m.group(1)).decode("utf-8") for m in _OSC52.finditer(bytes(raw))]


def resolve_colour(colour: str, default: str) -> str:
    """pyte's colour ("default", a palette name or "rrggbb") as "#rrggbb"."""
    if colour == "default":
        return default
    if colour in XTERM_PALETTE:
        return XTERM_PALETTE[colour]
    if _HEX.fullmatch(colour):
        return "#" + colour.lower()
    raise ValueError(f"unknown terminal colour {colour!r}")


class TerminalTimeout(AssertionError):
    """A bounded wait ran out; the message carries the screen at that moment."""


class Terminal:
    """One program in a pty of `cols`×`rows` with TERM=`term`, its output fed into pyte."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cols: int = 80,
        rows: int = 24,
        term: str = "xterm-256color",
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        base = dict(os.environ if env is None else env)
        # A terminal of our choosing: no inherited hints that would change what the app draws.
        for name in (
            "COLUMNS",
            "LINES",
            "COLORTERM",
            "NO_COLOR",
            "TEXTUAL",
            "TMUX",
            "KIOSK_CONFIG",
        ):
            base.pop(name, None)
        base["TERM"] = term
        base.setdefault("LANG", "C.UTF-8")
        self.env = base
        self.cols, self.rows = cols, rows
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()
        self.child = pexpect.spawn(
            argv[0],
            list(argv[1:]),
            env=base,
            dimensions=(rows, cols),
            cwd=cwd,
            encoding=None,
            timeout=5,
        )
        self.exitstatus: int | None = None

    # ------------------------------------------------------------------ reading
    def pump(self, timeout: float = 0.05) -> bool:
        """Feed whatever the program wrote within `timeout` to the screen. False at EOF."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                data = self.child.read_nonblocking(65536, timeout=remaining)
            except pexpect.TIMEOUT:
                return True
            except pexpect.EOF:
                self._reap()
                return False
            if data:
                self.raw.extend(data)
                self.stream.feed(data)
            if time.monotonic() >= deadline:
                return True

    def _reap(self) -> None:
        if self.exitstatus is None and not self.child.isalive():
            self.exitstatus = (
                self.child.exitstatus
                if self.child.exitstatus is not None
                else (-(self.child.signalstatus or 0))
            )

    def screen_text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def wait_until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        """Pump output until `predicate()` holds; raise TerminalTimeout after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            alive = self.pump(0.05)
            if predicate():
                return
            if not alive:
                raise TerminalTimeout(
                    f"the program ended (status {self.exitstatus}) before {what}\n{self.dump()}"
                )
            if time.monotonic() > deadline:
                raise TerminalTimeout(f"no {what} after {timeout:.0f}s\n{self.dump()}")

    def wait_for_text(self, text: str, timeout: float = 20.0) -> None:
        """Wait until `text` is on the screen (within one line)."""
        self.wait_until(lambda: text in self.screen_text(), timeout, repr(text))

    def wait_for_any(self, texts: Sequence[str], timeout: float = 20.0) -> str:
        """Wait until one of `texts` is on the screen and return it."""
        found: list[str] = []

        def seen() -> bool:
            screen = self.screen_text()
            found[:] = [t for t in texts if t in screen]
            return bool(found)

        self.wait_until(seen, timeout, f"any of {list(texts)!r}")
        return found[0]

    def wait_for_quiet(self, quiet: float = 0.3, timeout: float = 10.0) -> None:
        """Wait until the screen's text has not changed for `quiet` s (a redraw has finished).

        Text, not bytes: a focused field's blinking cursor rewrites a cell twice a second."""
        deadline = time.monotonic() + timeout
        last = self.screen_text()
        still_since = time.monotonic()
        while time.monotonic() < deadline:
            if not self.pump(0.05):
                return
            text = self.screen_text()
            if text != last:
                last, still_since = text, time.monotonic()
            elif time.monotonic() - still_since >= quiet:
                return
        raise TerminalTimeout(f"the screen kept changing for {timeout:.0f}s\n{self.dump()}")

    def wait_for_exit(self, timeout: float = 20.0) -> int:
        """Wait for the program to end; its exit status (negative: killed by that signal)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.pump(0.1):
                self.child.wait()
                self._reap()
                assert self.exitstatus is not None
                return self.exitstatus
        raise TerminalTimeout(f"the program did not end within {timeout:.0f}s\n{self.dump()}")

    def is_alive(self) -> bool:
        return bool(self.child.isalive())

    # ------------------------------------------------------------------ cells
    def cells(self, theme: Theme = DARK) -> list[list[Cell]]:
        """Each cell as (char, fg, bg) in "#rrggbb", default colours painted as `theme` does."""
        grid: list[list[Cell]] = []
        for y in range(self.screen.lines):
            row = self.screen.buffer[y]
            out: list[Cell] = []
            for x in range(self.screen.columns):
                char = row[x]
                fg = resolve_colour(char.fg, theme.foreground)
                bg = resolve_colour(char.bg, theme.background)
                if char.reverse:
                    fg, bg = bg, fg
                out.append((char.data or " ", fg, bg))
            grid.append(out)
        return grid

    def dump(self) -> str:
        bar = "+" + "-" * self.screen.columns + "+"
        body = "\n".join("|" + line + "|" for line in self.screen.display)
        return f"{bar}\n{body}\n{bar}"

    # ------------------------------------------------------------------ writing
    def send(self, keys: str | bytes) -> None:
        """Type `keys` (text, or control characters such as TAB, ENTER, CTRL_C)."""
        self.child.send(keys.encode() if isinstance(keys, str) else keys)
        self.pump(0.02)

    def snapshot(self) -> tuple[tuple[str, str, str, bool], ...]:
        """Every cell's character and colours: compare two to see that anything was redrawn."""
        return tuple(
            (c.data, c.fg, c.bg, c.reverse)
            for y in range(self.screen.lines)
            for c in (self.screen.buffer[y][x] for x in range(self.screen.columns))
        )

    def send_and_wait_for_change(self, keys: str, timeout: float = 20.0) -> None:
        """Send `keys` and wait until the screen shows their effect (e.g. the focus moved).

        Textual hands a key to the widget that has the focus when the key is read, so the
        next key must wait until a Tab has really moved the focus."""
        before = self.snapshot()
        self.send(keys)
        self.wait_until(lambda: self.snapshot() != before, timeout, f"any effect of {keys!r}")

    def resize(self, cols: int, rows: int) -> None:
        """Resize the pty (the kernel signals SIGWINCH to its foreground group) and the screen."""
        self.screen.resize(rows, cols)
        self.cols, self.rows = cols, rows
        self.child.setwinsize(rows, cols)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.child.pid, signal.SIGWINCH)

    def set_window_size(self, cols: int, rows: int) -> None:
        """Tell the program its window is `cols`×`rows` (pty size and SIGWINCH) while this
        test's screen keeps its size: a 65535×65535 pyte screen would not fit in memory."""
        self.child.setwinsize(rows, cols)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.child.pid, signal.SIGWINCH)

    def rss_mib(self) -> float:
        """The program's resident memory now (VmRSS from /proc), in MiB."""
        with open(f"/proc/{self.child.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise AssertionError(f"no VmRSS for process {self.child.pid}")

    # ------------------------------------------------------------------ ending
    def close(self) -> None:
        """End the program (hang up, then kill) and reap it; safe to call twice."""
        if self.child.isalive():
            with contextlib.suppress(Exception):
                self.child.kill(signal.SIGHUP)
            deadline = time.monotonic() + 3
            while self.child.isalive() and time.monotonic() < deadline:
                with contextlib.suppress(Exception):
                    self.child.read_nonblocking(65536, timeout=0.05)
            if self.child.isalive():
                with contextlib.suppress(Exception):
                    self.child.kill(signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.child.close(force=True)
        self._reap()

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
