"""What both Textual front ends (the kiosk and the staff board) do about the terminal they run
in: the driver that reads its keys, and the window size they lay out at most.

Apart from textual_input.py, whose driver is imported only when a terminal is opened: this is
needed by the apps themselves, at start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events
from textual.geometry import Size

if TYPE_CHECKING:
    from textual.driver import Driver

# The most an app lays out, far beyond any real screen; a larger window shows its top-left
# part. A 65535×65535 terminal (ssh -tt, or a resize) otherwise took gigabytes within seconds.
MAX_LAYOUT_SIZE = Size(500, 200)


def capped_resize(event: events.Resize) -> events.Resize:
    """The terminal's new size, capped at `MAX_LAYOUT_SIZE` (whatever driver reported it)."""
    size = event.size
    if size.width <= MAX_LAYOUT_SIZE.width and size.height <= MAX_LAYOUT_SIZE.height:
        return event
    capped = Size(min(size.width, MAX_LAYOUT_SIZE.width), min(size.height, MAX_LAYOUT_SIZE.height))
    return events.Resize(capped, capped, pixel_size=event.pixel_size)


def hardened_driver(chosen: type[Driver]) -> type[Driver]:
    """Textual's choice of driver, with a terminal read by `KioskLinuxDriver`: a byte that is
    not UTF-8 or a flood of keys must not end or stall the app. Other drivers are kept."""
    from textual.drivers.linux_driver import LinuxDriver

    if chosen is LinuxDriver:
        from kiosk.textual_input import KioskLinuxDriver

        return KioskLinuxDriver
    return chosen
