"""The terminal driver of both Textual front ends (the kiosk and the staff board): Textual's
Linux driver, reading keys the way a terminal anyone can type into needs.

Textual decodes input strictly: one byte that is not UTF-8 (a Latin-1 terminal's "é", line
noise) raises in its input thread and the app panics, ending the kiosk. It also turns every
byte of a flood into a key event, each costing the app a full dispatch. `KeyReader` decodes
with replacement and bounds the characters a burst may feed; `KioskLinuxDriver` reads the
terminal through it (`run_input_thread` is the driver's public input loop; Textual offers no
other hook for the decoding, hence its parser is imported here).
"""

from __future__ import annotations

import codecs
import os
import selectors
import time
from collections.abc import Callable, Iterator

from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver
from textual.message import Message

READ_SIZE = 4096
# A burst may feed this many characters at once (every field on a screen together holds
# fewer than 1,300), then BURST_REFILL_PER_SECOND more; input beyond is discarded until the
# terminal goes quiet. A person typing, a password manager or a paste never comes near it;
# 200 KB in one burst used to cost the app seconds of CPU, one dispatch per character.
BURST_CHARACTERS = 4096
BURST_REFILL_PER_SECOND = 2048


class BurstBudget:
    """A token bucket of characters: `BURST_CHARACTERS` at once, `BURST_REFILL_PER_SECOND`
    after. `clock` is injectable for the unit tests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens = float(BURST_CHARACTERS)
        self._refilled_at = clock()

    def take(self, count: int) -> bool:
        """Spend `count` characters if the bucket holds them."""
        now = self._clock()
        elapsed = max(0.0, now - self._refilled_at)
        self._refilled_at = now
        self._tokens = min(
            float(BURST_CHARACTERS), self._tokens + elapsed * BURST_REFILL_PER_SECOND
        )
        if count > self._tokens:
            return False
        self._tokens -= count
        return True


class KeyReader:
    """Bytes from the terminal in, Textual events out: lenient decoding, bounded bursts.

    Not thread-safe: one input thread owns it.
    """

    def __init__(self, budget: BurstBudget | None = None) -> None:
        self._budget = budget or BurstBudget()
        self.discarding = False  # a flood is being dropped until the terminal goes quiet
        self._fresh()

    def _fresh(self) -> None:
        """A new decoder and parser: nothing half-read from before a flood carries over."""
        # U+FFFD, not silence: a person on a Latin-1 terminal sees where their "é" went.
        self._decode = codecs.getincrementaldecoder("utf-8")(errors="replace").decode
        self._parser = XTermParser()

    def feed(self, data: bytes) -> Iterator[Message]:
        """Events for one read; nothing while a flood is being discarded."""
        if self.discarding:
            return
        text = self._decode(data)
        if not text:  # half a character so far (and "" would tell the parser: end of input)
            return
        if not self._budget.take(len(text)):
            self.discarding = True
            return
        try:
            yield from self._parser.feed(text)
            yield from self._parser.tick()
        except Exception:  # noqa: BLE001 - a sequence the parser cannot read is dropped
            self._fresh()

    def quiet(self) -> Iterator[Message]:
        """The terminal sent nothing for a while: end a discarded flood, or flush what waits
        on a timeout (a lone Escape is only known as a key once nothing follows it)."""
        if self.discarding:
            self.discarding = False
            self._fresh()
            return
        try:
            yield from self._parser.tick()
        except Exception:  # noqa: BLE001 - a confused parser is replaced, never fatal
            self._fresh()


class KioskLinuxDriver(LinuxDriver):
    """Textual's Linux driver with `KeyReader` as its input loop."""

    def run_input_thread(self) -> None:
        """Wait for input and hand its events to the app (the same loop as Textual's)."""
        reader = KeyReader()
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        try:
            while not self.exit_event.is_set():
                if not self._read_once(selector, reader):
                    break
        finally:
            selector.close()

    def _read_once(self, selector: selectors.BaseSelector, reader: KeyReader) -> bool:
        """One wait for input; False at end of input."""
        ready = selector.select(0.1)
        if ready:
            data = os.read(self.fileno, READ_SIZE)
            if not data:
                return False
            for event in reader.feed(data):
                self.process_message(event)
        else:
            for event in reader.quiet():
                self.process_message(event)
        return True
