"""Hostile bytes and batched keys at the installed kiosk in a real pty.

- A byte that is not UTF-8 (a Latin-1 terminal's "é", line noise) is shown as "�" and the
  session goes on; it used to end the kiosk (exit 0) within a second.
- Keys that arrive in one read take effect in order: "⌫123456⏎" on the code screen used to
  submit five digits (the Backspace was applied after the digits behind it).
- A 200 KB flood of keys is discarded past a bound instead of costing the app one dispatch
  per character (each refused character also rang the terminal's bell: the BELs count them).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.security.terminal_site import (  # noqa: F401 - the fixtures
    CODE_SCREEN,
    ENROLLED,
    MFA_SCREEN,
    NEW_PERSON,
    PASSWORD,
    SCREEN_TIMEOUT,
    SIGNED_IN,
    Site,
    WebSession,
    field_row,
    kiosk_in_pty_fixture,
    next_code,
    sign_in,
    site_fixture,
)
from tests.support.terminal import BACKSPACE, ENTER, Terminal, TerminalTimeout

CTRL_U = "\x15"  # delete everything left of the cursor


@pytest.mark.parametrize("garbage", [b"\xff", b"caf\xe9", b"\xc3("], ids=["ff", "latin1", "c3"])
def test_a_byte_that_is_not_utf8_is_replaced_and_sign_in_still_works(
    garbage: bytes, kiosk_in_pty: Callable[..., Terminal]
) -> None:
    term = kiosk_in_pty("kiosk")
    # The byte after them tells the decoder the sequence is broken ("q": not in the
    # field's placeholder).
    term.send(garbage + b"q")
    email_row = field_row(term, "Email")
    term.wait_until(lambda: "q" in term.screen.display[email_row], 10, "the q after the bytes")
    term.wait_for_quiet()
    assert term.is_alive(), f"the kiosk ended (status {term.exitstatus})"
    assert "\ufffd" in term.screen.display[email_row], term.dump()
    term.send(CTRL_U)
    term.wait_until(lambda: "q" not in term.screen.display[email_row], 10, "an empty Email")
    sign_in(term, NEW_PERSON)
    term.wait_for_text(MFA_SCREEN, SCREEN_TIMEOUT)


def _reach_code_screen(term: Terminal) -> None:
    sign_in(term, ENROLLED)
    term.wait_for_text(CODE_SCREEN, SCREEN_TIMEOUT)
    term.wait_for_quiet()


def test_backspace_digits_and_enter_in_one_read_submit_the_six_digits(
    site: Site, kiosk_in_pty: Callable[..., Terminal]
) -> None:
    """tmux `send-keys BSpace 1 2 3 4 5 6 Enter`: one write, one read."""
    term = kiosk_in_pty("kiosk")
    _reach_code_screen(term)
    term.send(BACKSPACE + next_code(site.secret) + ENTER)
    term.wait_for_any([SIGNED_IN, "Enter the 6 digits"], SCREEN_TIMEOUT)
    assert SIGNED_IN in term.screen_text(), term.dump()


def test_backspaces_after_a_short_attempt_clear_it_before_the_new_digits(
    site: Site, kiosk_in_pty: Callable[..., Terminal]
) -> None:
    """A short attempt stays in the field; erasing it and typing the code in one read must
    leave exactly the code (it used to leave "55" plus four of the new digits)."""
    term = kiosk_in_pty("kiosk")
    _reach_code_screen(term)
    term.send("5555" + ENTER)
    term.wait_for_text("Enter the 6 digits", SCREEN_TIMEOUT)
    term.wait_for_quiet()
    term.send(BACKSPACE * 4 + next_code(site.secret) + ENTER)
    term.wait_for_text(SIGNED_IN, SCREEN_TIMEOUT)


def test_a_200_kb_flood_is_discarded_and_the_kiosk_goes_on(
    kiosk_in_pty: Callable[..., Terminal],
) -> None:
    term = kiosk_in_pty("kiosk")
    start = len(term.raw)
    flood = b"a" * 200_000
    for offset in range(0, len(flood), 4096):
        term.child.send(flood[offset : offset + 4096])
        term.pump(0.0)
    # Once the terminal is quiet the kiosk reads keys again: probe until a key shows.
    email_row = field_row(term, "Email")
    for _ in range(60):
        term.send(CTRL_U + "z")
        try:
            term.wait_until(lambda: "z" in term.screen.display[email_row], 1.0, "a key shown")
            break
        except TerminalTimeout:
            continue
    else:
        raise AssertionError(f"the kiosk never read a key again:\n{term.dump()}")
    term.send(CTRL_U)
    term.wait_until(lambda: "z" not in term.screen.display[email_row], 10, "an empty Email")
    sign_in(term, NEW_PERSON, PASSWORD)
    term.wait_for_text(MFA_SCREEN, SCREEN_TIMEOUT)
    # Every flood character the Email field refused (it holds 254) rang the bell: the count
    # of BELs is the count of characters the app dispatched one by one.
    bells = bytes(term.raw[start:]).count(b"\x07")
    assert bells < 10_000, f"{bells} refused keys were dispatched one by one"
    assert term.is_alive()


def test_a_200_kb_message_from_a_browser_is_bounded_too(site: Site) -> None:
    """`kiosk serve`: one websocket message of 200 KB reaches Textual's web driver as one
    packet; past the bound its keys are dropped until the page pauses."""
    web = WebSession(site.argv("kiosk"), site.root)
    try:
        web.wait_for_text("Password")
        time.sleep(1)  # the first paint's bell-free redraws are done
        start = len(web.data)
        web.send("a" * 200_000)
        for _ in range(60):
            web.send(CTRL_U + "z")
            try:
                web.wait_for_text("▊  z ", 1.0)
                break
            except AssertionError:
                continue
        else:
            raise AssertionError("the kiosk never read a key again:\n" + web.screen_text())
        web.send(CTRL_U + NEW_PERSON + "\t")
        time.sleep(0.5)  # Tab moves the focus before the password's keys are handed out
        web.send(PASSWORD + ENTER)
        web.wait_for_text(MFA_SCREEN)
        bells = bytes(web.data[start:]).count(b"\x07")
        assert bells < 50_000, f"{bells} refused keys were dispatched one by one"
    finally:
        web.close()
