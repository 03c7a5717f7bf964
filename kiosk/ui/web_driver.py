"""Textual's web driver (`kiosk serve`), with the terminal driver's bound on bursts of keys.

textual-serve sends what the page typed as UTF-8 it encoded itself, so the decoding that
`KioskLinuxDriver` makes lenient cannot fail here; but one websocket message can carry 200 KB
of keys, each costing the app a full dispatch. Kept apart from kiosk.textual_input so a terminal
session never imports the web driver.
"""

from __future__ import annotations

import time
from typing import Any

from textual import events
from textual.drivers.web_driver import WebDriver
from textual.message import Message

from kiosk.textual_input import BurstBudget

QUIET_SECONDS = 0.1  # a gap this long between keys ends a burst


class KioskWebDriver(WebDriver):
    """Keys past the burst budget are dropped until the page pauses, as on a terminal."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._burst = BurstBudget()
        self._discarding = False
        self._last_key_at = float("-inf")

    def process_message(self, message: Message) -> None:
        """Runs in the input thread for every event parsed from the page's input."""
        if isinstance(message, (events.Key, events.Paste)):
            now = time.monotonic()
            quiet = now - self._last_key_at >= QUIET_SECONDS
            self._last_key_at = now
            if self._discarding and not quiet:
                return
            cost = len(message.text) if isinstance(message, events.Paste) else 1
            self._discarding = not self._burst.take(cost)
            if self._discarding:
                return
        super().process_message(message)
