"""A huge window at the installed kiosk in a real pty: the layout is capped, memory stays put.

A resize to 65535×65535 (what `ssh -tt` passes on from such a terminal) took a kiosk process
from 34 MiB to 2.1 GiB in 7 s without a key pressed. The app lays out at most 500×200 (the
top-left part of the window) whatever size the terminal reports.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.security.terminal_site import (  # noqa: F401 - the fixtures
    MFA_SCREEN,
    NEW_PERSON,
    PASSWORD,
    SCREEN_TIMEOUT,
    kiosk_in_pty_fixture,
    sign_in,
    site_fixture,
)
from tests.support.terminal import Terminal

MEMORY_BOUND_MIB = 200  # the kiosk uses about 40 MiB at 80×24


def test_a_65535_square_window_does_not_eat_memory_and_the_kiosk_goes_on(
    kiosk_in_pty: Callable[..., Terminal],
) -> None:
    term = kiosk_in_pty("kiosk")
    term.set_window_size(65535, 65535)
    peak = term.rss_mib()
    # Watch for a while (long enough for the old behaviour to pass the bound many times).
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline and term.is_alive():
        term.pump(0.25)
        peak = max(peak, term.rss_mib())
    assert peak < MEMORY_BOUND_MIB, f"{peak:.0f} MiB after a resize to 65535×65535"
    term.resize(80, 24)
    term.wait_for_text("Password", SCREEN_TIMEOUT)
    term.wait_for_quiet()
    sign_in(term, NEW_PERSON, PASSWORD)
    term.wait_for_text(MFA_SCREEN, SCREEN_TIMEOUT)


def test_a_window_beyond_the_cap_shows_the_top_left_part(
    kiosk_in_pty: Callable[..., Terminal],
) -> None:
    term = kiosk_in_pty("kiosk")
    term.resize(560, 230)
    term.wait_until(
        lambda: "Tab: next field" in term.screen.display[0], SCREEN_TIMEOUT, "the wide header"
    )
    term.wait_for_quiet()
    header = term.screen.display[0].rstrip()
    assert 400 < len(header) <= 500, f"the header ends at column {len(header)}"
    # Nothing below row 200 or right of column 500 was drawn.
    assert all(not line.strip() for line in term.screen.display[200:]), term.dump()
    assert all(not line[500:].strip() for line in term.screen.display), "drawn past 500"
