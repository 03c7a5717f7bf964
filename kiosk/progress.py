"""Progress of long admin work (`users import`, `keys rotate`) on stderr, so stdout stays parseable.

On a terminal: Rich's progress bar (installed with Textual) with the count, the rate and the time
left. Elsewhere (a pipe, a log file, cron): a plain line every `PLAIN_EVERY_ITEMS` items or
`PLAIN_EVERY_SECONDS` seconds, whichever comes first, and a last line when any was printed; a short
job prints nothing. Messages about single items (`note`) go through the reporter so that they
appear above the bar instead of through it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:
    from rich.progress import Progress, ProgressColumn, Task
    from rich.text import Text

PLAIN_EVERY_ITEMS = 100
PLAIN_EVERY_SECONDS = 5.0


class Reporter(Protocol):
    """What long work reports to: `update(done, total)` also fits the service's callbacks."""

    def advance(self, count: int = 1) -> None: ...

    def update(self, done: int, total: int) -> None: ...

    def note(self, line: str) -> None: ...


def format_duration(seconds: float) -> str:
    """`45 s`, `3 min`, `1 h 05 min`: rounded, for a person watching the work."""
    seconds = max(0, round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


class PlainReporter:
    """Progress as occasional whole lines, for output that is not a terminal."""

    def __init__(self, label: str, total: int, stream: TextIO) -> None:
        self.label = label
        self.total = total
        self.stream = stream
        self.done = 0
        self.started = time.monotonic()
        self._last_line_at = self.started
        self._last_line_done = 0
        self._printed = False

    def advance(self, count: int = 1) -> None:
        self.update(self.done + count, self.total)

    def update(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        now = time.monotonic()
        if (
            done - self._last_line_done >= PLAIN_EVERY_ITEMS
            or now - self._last_line_at >= PLAIN_EVERY_SECONDS
        ):
            self._line(now)

    def note(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def finish(self) -> None:
        if self._printed and self._last_line_done != self.done:
            self._line(time.monotonic())

    def _line(self, now: float) -> None:
        elapsed = max(now - self.started, 1e-6)
        rate = self.done / elapsed
        text = f"kiosk: {self.label}: {self.done}/{self.total}, {rate:.1f}/s"
        if self.done >= self.total:
            text += f", done in {format_duration(elapsed)}"
        elif rate > 0:
            text += f", about {format_duration((self.total - self.done) / rate)} left"
        print(text, file=self.stream, flush=True)
        self._last_line_at, self._last_line_done, self._printed = now, self.done, True


class BarReporter:
    """Rich's progress bar on the terminal; notes print above it."""

    def __init__(self, label: str, total: int, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task(label, total=total)

    def advance(self, count: int = 1) -> None:
        self.progress.advance(self.task, count)

    def update(self, done: int, total: int) -> None:
        self.progress.update(self.task, completed=done, total=total)

    def note(self, line: str) -> None:
        self.progress.console.print(line, markup=False, highlight=False, soft_wrap=True)


def _rate_column() -> ProgressColumn:
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Items a second: Rich ships a byte rate only."""

        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text("" if speed is None else f"{speed:.1f}/s")

    return RateColumn()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty() and os.environ.get("TERM", "") != "dumb"
    except (AttributeError, ValueError):
        return False


@contextlib.contextmanager
def progress_reporter(label: str, total: int, stream: TextIO | None = None) -> Iterator[Reporter]:
    """A reporter for `total` items of work named `label`, on `stream` (stderr by default)."""
    stream = sys.stderr if stream is None else stream
    if not _is_terminal(stream):
        plain = PlainReporter(label, total, stream)
        yield plain
        plain.finish()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    console = Console(file=stream)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _rate_column(),
        TextColumn("left"),
        TimeRemainingColumn(),
    )
    with Progress(
        *columns, console=console, redirect_stdout=False, redirect_stderr=False
    ) as progress:
        yield BarReporter(label, total, progress)
