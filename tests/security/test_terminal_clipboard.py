"""The clipboard at the installed kiosk in a real pty, read from the OSC 52 bytes it writes.

- Nothing leaves a password field by cut (ctrl+x) or copy (super+c, kitty keyboard protocol).
- On a kiosk, anything the session put on the clipboard is emptied when the kiosk wipes itself
  for the next person (it used to be emptied only after the kiosk's own Copy buttons).
- Over SSH the clipboard is the person's own: the setup key they copied stays when the
  session ends (it used to be emptied on exit).
"""

from __future__ import annotations

from collections.abc import Callable

from tests.security.terminal_site import (  # noqa: F401 - the fixtures
    MFA_SCREEN,
    NEW_PERSON,
    PASSWORD,
    SCREEN_TIMEOUT,
    field_row,
    kiosk_in_pty_fixture,
    sign_in,
    site_fixture,
    tab_to_password,
)
from tests.support.terminal import CTRL_C, ENTER, Terminal, clipboard_writes

SHIFT_HOME = "\x1b[1;2H"  # select from the cursor to the start of the field
CTRL_X = "\x18"  # cut
SUPER_C = "\x1b[99;9u"  # super+c as the kitty keyboard protocol sends it (Textual asks for it)
SHIFT_TAB = "\x1b[Z"


def _type_into_password(term: Terminal, text: str) -> None:
    y = field_row(term, "Password")
    tab_to_password(term)
    term.send(text)
    term.wait_until(lambda: "•" * len(text) in term.screen.display[y], 10, "the password dots")


def test_nothing_is_cut_or_copied_out_of_the_password_field(
    kiosk_in_pty: Callable[..., Terminal],
) -> None:
    term = kiosk_in_pty("kiosk")
    _type_into_password(term, PASSWORD)
    y = field_row(term, "Password")
    for keys in (SHIFT_HOME + SUPER_C, SHIFT_HOME + CTRL_X):
        term.send(keys)
        term.wait_for_quiet()
    term.pump(0.5)
    assert clipboard_writes(term.raw) == [], "the password went to the clipboard"
    assert "•" * len(PASSWORD) in term.screen.display[y], "the cut emptied the field"


def test_a_kiosk_wipe_empties_whatever_the_session_copied(
    kiosk_in_pty: Callable[..., Terminal],
) -> None:
    """The Email field's text cut to the clipboard is emptied at the idle timeout's wipe."""
    term = kiosk_in_pty("kiosk")
    term.send(NEW_PERSON)
    term.wait_for_text(NEW_PERSON, 10)
    term.send(SHIFT_HOME + CTRL_X)
    term.wait_until(lambda: clipboard_writes(term.raw) == [NEW_PERSON], 10, "the cut email")
    # idle_timeout is 10 s on this site: the kiosk wipes itself for the next person.
    term.wait_until(lambda: clipboard_writes(term.raw)[-1:] == [""], 40, "an emptied clipboard")
    assert term.is_alive()


def test_ssh_leaves_the_persons_clipboard_alone_at_the_end(
    kiosk_in_pty: Callable[..., Terminal],
) -> None:
    """Trouble Scanning? → Copy puts the setup key on the clipboard; ctrl+c ends the session
    and the key stays there."""
    term = kiosk_in_pty("ssh")
    sign_in(term, NEW_PERSON, PASSWORD)
    term.wait_for_text(MFA_SCREEN, SCREEN_TIMEOUT)
    term.wait_for_quiet()
    term.send(ENTER)  # Set Up Now
    term.wait_for_text("Select an Authentication Method", SCREEN_TIMEOUT)
    term.wait_for_quiet()
    term.send(ENTER)  # Continue
    term.wait_for_text("Trouble Scanning?", SCREEN_TIMEOUT)
    term.wait_for_quiet()
    term.send_and_wait_for_change(SHIFT_TAB)  # from Continue to Trouble Scanning?
    term.send(ENTER)
    term.wait_for_text("Copy", SCREEN_TIMEOUT)
    term.wait_for_quiet()
    term.send(ENTER)  # Copy (the dialog's first button has the focus)
    term.wait_for_text("Key sent to your clipboard", SCREEN_TIMEOUT)
    copied = clipboard_writes(term.raw)
    assert len(copied) == 1 and len(copied[0]) >= 32, copied
    term.send(CTRL_C)
    assert term.wait_for_exit(SCREEN_TIMEOUT) == 0
    assert clipboard_writes(term.raw) == copied, "the person's clipboard was emptied"
