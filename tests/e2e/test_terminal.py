"""The installed `kiosk` in a real pty at 80×24, as an on-site terminal runs it.

A person signs in, scans the QR (rebuilt from the terminal's cells, painted as a dark-theme and as
a light-theme terminal paints default colours), survives a resize to 100×30 and back, types the
code, saves the recovery code and finishes; the kiosk then wipes itself for the next person, who
signs in with the next code. Run with TERM=xterm-256color and with TERM=xterm (16 colours).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from tests.e2e.conftest import SCREEN_TIMEOUT, Person, Site, decode_qr_uri, secret_of
from tests.support.terminal import DARK, LIGHT, Terminal

pytestmark = pytest.mark.e2e

EMAIL = "ada.lovelace@example.com"
PASSWORD = "correct horse battery"


def _qr_decodes_to(term: Terminal, uri: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return decode_qr_uri(term, DARK) == uri and decode_qr_uri(term, LIGHT) == uri
        except AssertionError:
            return False

    return check


@pytest.mark.parametrize("term_name", ["xterm-256color", "xterm"])
def test_enrollment_in_a_real_terminal(
    term_name: str, make_site: Callable[..., Site], terminals: Callable[..., Terminal]
) -> None:
    site = make_site()
    site.add_user(EMAIL, PASSWORD)
    term = terminals(site.run_argv("kiosk"), term=term_name, cols=80, rows=24)
    person = Person(term, EMAIL, PASSWORD)

    person.reach_qr()
    uri = person.scan(DARK)
    assert person.scan(LIGHT) == uri, "the QR must scan the same whatever the terminal's theme"
    parsed = urlparse(uri)
    assert parsed.scheme == "otpauth" and parsed.netloc == "totp"
    assert unquote(parsed.path) == f"/Procore:{EMAIL}"
    assert parse_qs(parsed.query)["issuer"] == ["Procore"]
    secret = secret_of(uri)
    assert len(secret.rstrip("=")) >= 32  # 160 bits

    # The window grows mid-way, then shrinks back: the QR is redrawn whole each time.
    term.resize(100, 30)
    term.wait_until(_qr_decodes_to(term, uri), SCREEN_TIMEOUT, "a whole QR at 100×30")
    assert len(term.screen.display) == 30 and len(term.screen.display[0]) == 100
    term.resize(80, 24)
    term.wait_until(_qr_decodes_to(term, uri), SCREEN_TIMEOUT, "a whole QR back at 80×24")
    term.wait_for_text("Secure your Account", 10)
    term.wait_for_quiet()

    recovery = person.finish_enrollment(secret)
    assert recovery
    enrolled = site.users()[EMAIL]
    assert enrolled["enrolled_at"], enrolled

    # Kiosk mode: a key ends the person's session and the Sign in screen returns, empty.
    term.send("x")
    term.wait_for_text("Sign in", SCREEN_TIMEOUT)
    term.wait_for_text("Email", SCREEN_TIMEOUT)
    assert EMAIL not in term.screen_text()
    assert term.is_alive()

    # The next person at the same kiosk: a returning sign-in with the next code.
    Person(term, EMAIL, PASSWORD).sign_in_with_code(secret)
    sources = {
        row["source"]
        for row in site.audit()
        if row["email"] == EMAIL and row["event"] in ("enrolled", "sign_in_ok")
    }
    assert sources and all(s.startswith("tty:/dev/pts/") for s in sources), sources


def test_a_kiosk_whose_store_cannot_open_stops_with_one_clear_line(
    make_site: Callable[..., Site], terminals: Callable[..., Terminal]
) -> None:
    """The store opens after Sign in is painted; a wrong key file must still stop the kiosk with
    the reason on one line and a non-zero exit, not a traceback or a kiosk that accepts input."""
    import base64
    import secrets

    site = make_site()
    site.add_user(EMAIL, PASSWORD)  # the database now holds a check of the right key
    key_file = site.root / "kiosk.key"
    assert key_file.exists()
    key_file.write_text(f"1 {base64.b64encode(secrets.token_bytes(32)).decode()}\n")

    term = terminals(site.run_argv("kiosk"), cols=80, rows=24)
    assert term.wait_for_exit(SCREEN_TIMEOUT) == 2
    # What is left on the terminal once the app has left the alternate screen.
    after = bytes(term.raw).rsplit(b"\x1b[?1049l", 1)[-1].decode("utf-8", "replace")
    after = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", after)  # mode resets (cursor, mouse)
    lines = [line for line in after.replace("\r", "").split("\n") if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("kiosk: error:") and "does not unlock this database" in lines[0]
    assert "Traceback" not in bytes(term.raw).decode("utf-8", "replace")
