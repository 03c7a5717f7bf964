"""`kiosk onboard [COHORT]`: the onboarding board app for IT staff, and `run_board`.

A staff tool, not a kiosk: q or ctrl+c quits. It opens on a cohort (or a picker of cohorts) and
leaves the rest to the board screen (kiosk/board/screen.py). Whatever Textual catches goes to a
private sink and ends the app; `run_board` then raises one `KioskError` line with a log reference,
so no traceback reaches staff.
"""

from __future__ import annotations

import gc
import io
import re
from typing import Any, ClassVar

from rich.console import Console
from textual import events
from textual.app import App
from textual.binding import Binding, BindingType
from textual.driver import Driver

from kiosk.board.dialogs import CohortPicker, now_utc
from kiosk.board.screen import BoardScreen, Clock
from kiosk.core.service import KioskService
from kiosk.errors import KioskError, log, new_reference
from kiosk.stylesheet import find_stylesheet
from kiosk.textual_window import capped_resize, hardened_driver

_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Failed)):", re.M)


_CSS_PATH, _CSS_TEXT = find_stylesheet("board.tcss")


class BoardApp(App[bool]):
    """The board: ends with True when staff quit (None means Textual stopped it on an error)."""

    ENABLE_COMMAND_PALETTE = False
    CSS_PATH = _CSS_PATH
    CSS = _CSS_TEXT
    TITLE = "kiosk onboard"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        service: KioskService,
        cohort: str | None = None,
        *,
        staff: str,
        now: Clock | None = None,
    ) -> None:
        super().__init__()
        self.service = service
        self.cohort = cohort
        self.staff = staff
        self.now: Clock = now or now_utc
        # Textual prints what it catches as a traceback with local variables: never on the
        # staff member's screen; only its type is logged (see `run_board`).
        self.error_sink = io.StringIO()
        self.error_console = Console(file=self.error_sink, markup=False, highlight=False)

    def on_mount(self) -> None:
        if self.cohort is not None:
            self.open_cohort(self.cohort)
        else:
            self.push_screen(CohortPicker(self.service), self._picked)

    def _picked(self, cohort: str | None) -> None:
        if cohort is not None:
            self.open_cohort(cohort)

    def open_cohort(self, cohort: str) -> None:
        self.cohort = cohort
        self.push_screen(BoardScreen(self.service, cohort, staff=self.staff, now=self.now))

    def get_driver_class(self) -> type[Driver]:
        """Textual's choice, with a terminal read by `KioskLinuxDriver`: a byte that is not
        UTF-8 (a Latin-1 terminal, line noise over SSH) or a flood of keys must not end the
        board."""
        return hardened_driver(super().get_driver_class())

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Resize):
            event = capped_resize(event)  # a 65535×65535 window must not cost gigabytes
        await super().on_event(event)

    async def action_quit(self) -> None:
        self.exit(True)

    def stopped_on(self) -> str:
        """The type of error Textual stopped the app on (for the log), from the private sink."""
        names = _EXCEPTION_LINE.findall(self.error_sink.getvalue())
        return names[-1][:80] if names else "an error"


def settle_memory() -> None:
    """Move what is alive at start (the imports, the settings) out of the collector's sight.

    A full collection otherwise walks every Textual and peewee object each time, 20-30 ms on
    this machine: a visible stall while the board follows a crowd (benchmarks/board.py).
    """
    gc.collect()
    gc.freeze()


def run_board(service: KioskService, cohort: str | None, *, staff: str, **options: Any) -> None:
    """Run the board in this terminal until staff quit; one `KioskError` line if it can't."""
    if cohort is not None:
        cohort = service.cohorts.summary(cohort).name  # no such cohort: one line, no screen
    settle_memory()
    app = BoardApp(service, cohort, staff=staff, **options)
    if app.run() is None:
        reference = new_reference()
        log.error("the board stopped on %s, reference %s", app.stopped_on(), reference)
        raise KioskError(f"the board stopped unexpectedly (reference {reference}, see the log)")
