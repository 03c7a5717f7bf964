"""The terminal's own cursor follows the focus (textual #2348), through a real pty and pyte.

Braille displays and screen magnifiers follow the terminal's cursor, not the widget Textual
draws as focused: the kiosk puts the cursor in the focused field (at its caret) and on the
focused button. In the high-contrast theme the cursor is also shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.e2e.conftest import SCREEN_TIMEOUT, Person, Site
from tests.support.terminal import DARK, LIGHT, Terminal

EMAIL = "pat.lee@example.com"
PASSWORD = "correct horse battery"

pytestmark = pytest.mark.e2e


def _row_of(term: Terminal, text: str) -> int:
    for number, line in enumerate(term.screen.display):
        if text in line:
            return number
    raise AssertionError(f"{text!r} is not on the screen:\n{term.dump()}")


def _cursor(term: Terminal) -> tuple[int, int]:
    return term.screen.cursor.y, term.screen.cursor.x


def _wait_for_cursor_on_row(term: Terminal, row: int, what: str) -> None:
    term.wait_until(lambda: term.screen.cursor.y == row, SCREEN_TIMEOUT, what)


@pytest.mark.parametrize("theme", ["default", "high-contrast"])
def test_the_cursor_sits_in_the_focused_field_and_on_the_focused_button(
    theme: str, make_site: Callable[..., Site], terminals: Callable[..., Terminal]
) -> None:
    site = make_site()
    text = site.config.read_text()
    site.config.write_text(text.replace("[kiosk]\n", f'[kiosk]\ntheme = "{theme}"\n', 1))
    term = terminals(site.run_argv("kiosk"), term="xterm", cols=80, rows=24)
    term.wait_for_text("you@example.com", SCREEN_TIMEOUT)  # the Email field's placeholder
    term.wait_for_quiet()

    email_row = _row_of(term, "you@example.com")
    _wait_for_cursor_on_row(term, email_row, "the cursor in the Email field at first paint")
    email_x = term.screen.cursor.x
    assert 2 < email_x < 10, f"at the start of the field: {_cursor(term)}"

    term.send("pat@example.org")
    term.wait_for_text("pat@example.org", SCREEN_TIMEOUT)
    term.wait_until(
        lambda: _cursor(term) == (email_row, email_x + len("pat@example.org")),
        SCREEN_TIMEOUT,
        "the cursor after the typed address (the caret)",
    )

    term.send("\t")  # Password
    password_row = _row_of(term, "Password", ) + 2  # the label, the field's top border, text
    _wait_for_cursor_on_row(term, password_row, "the cursor in the Password field")

    term.send("\t")  # Continue
    continue_row = _row_of(term, "Continue")
    _wait_for_cursor_on_row(term, continue_row, "the cursor on the Continue button")
    assert term.screen.display[continue_row][term.screen.cursor.x:].strip().startswith(
        "Continue"
    ) or term.screen.cursor.x < term.screen.display[continue_row].index("Continue")

    term.send("\t")  # the first language
    english_row = _row_of(term, "English")
    _wait_for_cursor_on_row(term, english_row, "the cursor on the language choice")

    if theme == "high-contrast":
        assert b"\x1b[?25h" in term.raw, "the high-contrast theme shows the terminal's cursor"
        assert not term.screen.cursor.hidden


def test_high_contrast_is_16_colours_and_shows_focus_by_shape(
    make_site: Callable[..., Site], terminals: Callable[..., Terminal]
) -> None:
    """TERM=xterm (16 colours): every colour drawn is one of the palette's names, and the focused
    field is told apart by its heavy border, not by a colour."""
    site = make_site()
    text = site.config.read_text()
    site.config.write_text(text.replace("[kiosk]\n", '[kiosk]\ntheme = "high-contrast"\n', 1))
    term = terminals(site.run_argv("kiosk"), term="xterm", cols=80, rows=24)
    term.wait_for_text("you@example.com", SCREEN_TIMEOUT)
    term.wait_for_quiet()

    colours = {
        colour
        for row in range(term.screen.lines)
        for cell in term.screen.buffer[row].values()
        for colour in (cell.fg, cell.bg)
    }
    assert colours, "something was drawn"
    assert all(not re.fullmatch(r"[0-9a-fA-F]{6}", colour) for colour in colours), (
        f"only the 16 named colours in a 16-colour terminal: {sorted(colours)}"
    )

    email_row = _row_of(term, "you@example.com")
    password_row = _row_of(term, "Password") + 2
    assert "┏" in term.screen.display[email_row - 1], "the focused field: a heavy border"
    assert "╭" in term.screen.display[password_row - 1], "the other field: a thin round one"
    term.send("\t")
    term.wait_until(
        lambda: "┏" in term.screen.display[password_row - 1]
        and "╭" in term.screen.display[email_row - 1],
        SCREEN_TIMEOUT,
        "the heavy border moving to the Password field with the focus",
    )


class HighContrastPerson(Person):
    """Waits for the focus by the terminal's cursor (the high-contrast fields have no ▊ edge)."""

    def tab_to_password(self) -> None:
        password_row = _row_of(self.term, "Password") + 2
        self.term.send("\t")
        _wait_for_cursor_on_row(self.term, password_row, "the cursor in the Password field")


def test_the_qr_still_scans_in_the_high_contrast_theme(
    make_site: Callable[..., Site], terminals: Callable[..., Terminal]
) -> None:
    site = make_site()
    site.add_user(EMAIL, PASSWORD)
    text = site.config.read_text()
    site.config.write_text(text.replace("[kiosk]\n", '[kiosk]\ntheme = "high-contrast"\n', 1))
    term = terminals(site.run_argv("kiosk"), term="xterm", cols=80, rows=24)
    person = HighContrastPerson(term, EMAIL, PASSWORD)
    person.reach_qr()
    uri = person.scan(DARK)
    assert uri.startswith("otpauth://totp/") and person.scan(LIGHT) == uri
