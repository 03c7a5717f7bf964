"""Any crash is loud and safe: the installed kiosk in a real pty, stopped by an error it did not
expect (a fault injected into one screen, the way a bug there would behave).

What a person and an admin rely on: the process exits non-zero with one line naming a
reference; the log holds that reference and the error's type, never a secret; whatever the
session copied is emptied from a shared kiosk's clipboard; the terminal leaves the alternate
screen (the screen is restored). A supervisor (deploy/systemd) then starts the kiosk again.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tests.security.terminal_site import (  # noqa: F401 - the fixtures
    NEW_PERSON,
    PASSWORD,
    SCREEN_TIMEOUT,
    Site,
    site_fixture,
    tab_to_password,
)
from tests.support.terminal import Terminal, clipboard_writes

SHIFT_HOME = "\x1b[1;2H"
CTRL_X = "\x18"

# The kiosk's own entry point, with one screen made to fail as a bug would (holding a password
# in a local variable, which Textual's traceback would show).
BROKEN_KIOSK = """
import sys
from kiosk.ui.screens import mfa_required

def broken(self):
    typed_password = sys.argv[1]
    raise RuntimeError("a bug while building the screen")

mfa_required.MfaRequiredScreen.compose_card = broken
from kiosk.launch import main
main(sys.argv[2:])
"""


def test_a_crash_exits_non_zero_with_a_reference_and_empties_the_clipboard(
    site: Site, tmp_path: Path
) -> None:
    argv = [sys.executable, "-c", BROKEN_KIOSK, PASSWORD, "--config", str(site.config),
            "run", "--mode", "kiosk"]
    term = Terminal(argv, cols=80, rows=24, cwd=site.root)
    try:
        term.wait_for_text("Password", SCREEN_TIMEOUT)
        term.wait_for_quiet()
        term.send(NEW_PERSON)
        term.wait_for_text(NEW_PERSON, 10)
        term.send(SHIFT_HOME + CTRL_X)  # the email cut to the clipboard, then typed again
        term.wait_until(lambda: clipboard_writes(term.raw) == [NEW_PERSON], 10, "the cut")
        term.send(NEW_PERSON)
        term.wait_for_text(NEW_PERSON, 10)
        tab_to_password(term)
        term.send(PASSWORD + "\r")
        status = term.wait_for_exit(SCREEN_TIMEOUT)
        raw = bytes(term.raw)
    finally:
        term.close()
    assert status != 0
    text = raw.decode("utf-8", "replace")
    lines = re.findall(r"kiosk: error: [^\r\n]*", text)
    assert len(lines) == 1, text[-2000:]
    found = re.search(r"reference ([0-9A-F]{8})", lines[0])
    assert found and "stopped unexpectedly" in lines[0]
    assert clipboard_writes(raw)[-1:] == [""], "what the session copied is still on the clipboard"
    assert "\x1b[?1049l" in text, "the terminal was left in the alternate screen"
    assert "Traceback" not in text and PASSWORD not in text
    log = (site.root / "kiosk.log").read_text()
    assert found.group(1) in log and "RuntimeError" in log
    assert PASSWORD not in log
