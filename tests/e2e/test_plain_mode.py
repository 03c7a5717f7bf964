"""Plain mode end to end: the installed `kiosk run --plain` in a real pty, read as a line terminal.

No screen emulation: what the program writes is read as a stream of lines, as a screen reader, a
braille display or a serial console gets it. Every test also checks that not one escape
sequence was written and that no typed password came back.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pexpect
import pyotp
import pytest

from kiosk.config import KioskSettings, SecuritySettings
from kiosk.deploy import sshd_match_block
from kiosk.plain.terminal import CLEAR_SCREEN_AND_SCROLLBACK
from tests.e2e.conftest import (
    KIOSK,
    RECOVERY_RE,
    SSHD,
    Site,
    SshServer,
    require_program,
    secret_of,
)
from tests.e2e.test_wheel import _env as wheel_env
from tests.e2e.test_wheel import installed_wheel  # noqa: F401 - the fixture
from tests.support import qr_decode
from tests.support.terminal import CTRL_BACKSLASH, CTRL_C, CTRL_Z

pytestmark = pytest.mark.e2e

TIMEOUT = 45  # a loaded 2-core machine starting Python and argon2
EMAIL = "ada@example.com"
PASSWORD = "correct horse battery staple"
CLEAR = CLEAR_SCREEN_AND_SCROLLBACK.encode()
KEY_RE = re.compile(rb"Key: ((?:[A-Z2-7]{4} ?)+)\r\n")


def words(text: str) -> re.Pattern[bytes]:
    """`text` with any run of spaces or line breaks between words (paragraphs are wrapped)."""
    return re.compile(rb"\s+".join(re.escape(w.encode()) for w in text.split()))


class PlainTerminal:
    """The kiosk in plain mode under pexpect; everything it writes is kept in `transcript`."""

    def __init__(self, site: Site, mode: str, argv: list[str] | None = None) -> None:
        if argv is None:
            argv = [str(KIOSK), "--config", str(site.config), "run", "--mode", mode, "--plain"]
        self.child = pexpect.spawn(
            argv[0], argv[1:], cwd=str(site.root), dimensions=(24, 80), timeout=TIMEOUT,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "TERM": "xterm-256color"},
        )
        self.sent_secrets: list[bytes] = []
        self.transcript = b""  # everything the kiosk wrote, as read so far

    def expect(self, pattern: str | re.Pattern[bytes], timeout: float = TIMEOUT) -> re.Match[bytes]:
        compiled = words(pattern) if isinstance(pattern, str) else pattern
        try:
            self.child.expect(compiled, timeout=timeout)
        except (pexpect.TIMEOUT, pexpect.EOF) as exc:
            self.transcript += bytes(self.child.before or b"")
            raise AssertionError(
                f"{pattern!r} not seen ({exc.__class__.__name__}); output:\n"
                + self.transcript.decode("utf-8", "replace")
            ) from None
        self.transcript += bytes(self.child.before or b"") + bytes(self.child.after)
        match = self.child.match
        assert isinstance(match, re.Match)
        return match

    def send(self, data: str | bytes) -> None:
        self.child.send(data)

    def answer(self, text: str, *, secret: bool = False) -> None:
        if secret:
            self.sent_secrets.append(text.encode())
        self.child.send(text + "\r")

    def wait_for_end(self, timeout: float = TIMEOUT) -> int:
        try:
            self.child.expect(pexpect.EOF, timeout=timeout)
        except pexpect.TIMEOUT:
            raise AssertionError(
                "the session did not end; output:\n"
                + (self.transcript + bytes(self.child.before or b"")).decode("utf-8", "replace")
            ) from None
        self.transcript += bytes(self.child.before or b"")
        self.child.close()
        return int(self.child.exitstatus if self.child.exitstatus is not None else -1)

    def check_clean(self, *, between_people: int = 0) -> None:
        """No escape sequence at all (but the kiosk's erasing between people, as many times as
        expected), no password echoed, no traceback."""
        text = self.transcript
        assert text.count(CLEAR) == between_people, text.decode("utf-8", "replace")
        text = text.replace(CLEAR, b"")
        assert b"\x1b" not in text, text.decode("utf-8", "replace")
        for secret in self.sent_secrets:
            assert secret not in text, "a typed password was written back"
        assert b"Traceback" not in text

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


@pytest.fixture
def plain(make_site: object) -> Iterator[object]:
    opened: list[PlainTerminal] = []

    def start(site: Site, mode: str = "ssh", argv: list[str] | None = None) -> PlainTerminal:
        term = PlainTerminal(site, mode, argv)
        opened.append(term)
        return term

    yield start
    for term in opened:
        term.close()


def new_site(make_site: object, **kiosk: object) -> Site:
    security = kiosk.pop("security", None)
    sections: dict[str, object] = {"kiosk": replace(KioskSettings(), **kiosk)}
    if security is not None:
        sections["security"] = security
    site: Site = make_site(**sections)  # type: ignore[operator]
    site.add_user(EMAIL, PASSWORD)
    return site


@dataclass
class Enrolled:
    secret: str
    recovery_code: str


def sign_in(term: PlainTerminal, password: str = PASSWORD, email: str = EMAIL) -> None:
    term.expect("Email: ")
    term.answer(email)
    term.expect("Password: ")
    term.answer(password, secret=True)
    term.expect("Checking…")


def set_up_app(
    term: PlainTerminal, *, wrong_code_first: bool = False, email: str = EMAIL
) -> Enrolled:
    """From Select an Authentication Method to Signed in; returns the new key and code."""
    term.expect("Select an Authentication Method")
    term.expect("Press Enter to choose 1")
    term.answer("")
    term.expect("Secure your Account")
    term.expect(f"Account: {email}")
    term.expect("Issuer: Procore")
    secret = term.expect(KEY_RE).group(1).decode().replace(" ", "")
    term.expect("Press Enter to continue")
    term.answer("")
    term.expect("6-digit code: ")
    if wrong_code_first:
        right = pyotp.TOTP(secret).now()
        term.answer("000000" if right != "000000" else "111111")
        term.expect("That code didn't work.")
        term.expect("6-digit code: ")
    term.answer(pyotp.TOTP(secret).now())
    term.expect("Save Your Recovery Code")
    recovery = term.expect(re.compile(rb"Recovery code: (\S+)\r\n")).group(1).decode()
    assert RECOVERY_RE.fullmatch(recovery), recovery
    term.expect("Saved it? Type yes: ")
    term.answer("I have")  # anything but the word itself finishes nothing
    term.expect("Nothing is saved until you type yes.")
    term.expect("Saved it? Type yes: ")
    term.answer("yes")
    term.expect("Saving…")
    term.expect("You're signed in with your authenticator app.")
    return Enrolled(secret=secret, recovery_code=recovery)


def enroll(term: PlainTerminal, *, wrong_code_first: bool = False) -> Enrolled:
    sign_in(term)
    term.expect("Two-Factor Authentication Required")
    term.expect("Press Enter to set up now")
    term.answer("")
    return set_up_app(term, wrong_code_first=wrong_code_first)


def end_signed_in_session(term: PlainTerminal) -> None:
    term.expect("Press Enter to end this session")
    term.answer("")
    term.expect("Session ended.")
    assert term.wait_for_end() == 0
    term.check_clean()


# ------------------------------------------------------------------------------- the flow
def test_enroll_in_plain_mode_then_sign_in_with_the_next_code(make_site, plain) -> None:
    site = new_site(make_site)
    term = plain(site)
    term.expect("Sign in")
    enrolled = enroll(term, wrong_code_first=True)
    end_signed_in_session(term)
    assert site.users()[EMAIL]["enrolled"] is True

    again = plain(site)
    sign_in(again)
    again.expect("Enter the 6-digit code")
    again.expect("6-digit code: ")
    again.answer(pyotp.TOTP(enrolled.secret).at(time.time() + 30))
    again.expect("You're signed in with your authenticator app.")
    end_signed_in_session(again)


def test_nothing_but_yes_finishes_and_walking_away_changes_nothing(make_site, plain) -> None:
    site = new_site(make_site)
    term = plain(site)
    sign_in(term)
    term.expect("Press Enter to set up now")
    term.answer("")
    term.expect("Press Enter to choose 1")
    term.answer("")
    secret = term.expect(KEY_RE).group(1).decode().replace(" ", "")
    term.answer("")
    term.expect("6-digit code: ")
    term.answer(pyotp.TOTP(secret).now())
    term.expect("Saved it? Type yes: ")
    for answer in ("y", "YES please", "ok", "saved", ""):
        term.answer(answer)
        term.expect("Nothing is saved until you type yes.")
    term.send(CTRL_C)  # ssh mode: ctrl+c ends the session
    term.expect("Session ended.")
    assert term.wait_for_end() == 0
    term.check_clean()
    assert site.users()[EMAIL]["enrolled"] is False


def test_recovery_code_sets_up_a_new_phone_with_a_new_recovery_code(make_site, plain) -> None:
    site = new_site(make_site)
    term = plain(site)
    first = enroll(term)
    end_signed_in_session(term)

    lost = plain(site)
    sign_in(lost)
    lost.expect("6-digit code: ")
    lost.answer("recovery")
    lost.expect("Use Your Recovery Code")
    lost.expect("Recovery code: ")
    lost.answer("00000-00000-00000-00000-00000")
    lost.expect("That recovery code isn't valid")
    lost.expect("Recovery code: ")
    lost.answer(first.recovery_code.lower().replace("-", " "))  # as the person may type it
    second = set_up_app(lost)
    assert words("Your recovery code was accepted.").search(lost.transcript)
    end_signed_in_session(lost)
    assert second.secret != first.secret
    assert second.recovery_code != first.recovery_code

    used = plain(site)  # the old recovery code was used up by the new phone
    sign_in(used)
    used.expect("6-digit code: ")
    used.answer("recovery")
    used.expect("Recovery code: ")
    used.answer(first.recovery_code)
    used.expect("That recovery code isn't valid, or it has already been used.")
    used.send(CTRL_C)
    assert used.wait_for_end() == 0


def staff_prepare(site: Site, email: str) -> str:
    """What staff do before the session (a cohort member without a password, and a pass to
    read out), through the core on the site's own store; returns the pass."""
    from kiosk.config import load_settings
    from kiosk.core.cohorts import NewPerson
    from kiosk.core.service import KioskService

    service = KioskService.open(load_settings(site.config))
    try:
        if email not in site.passwords:
            service.cohorts.create("spring intake", [NewPerson(email)], staff="it")
        return service.passes.issue(email, staff="it").text
    finally:
        service.close()


def test_a_pass_lets_a_person_without_a_password_create_one_and_enroll(make_site, plain) -> None:
    newcomer, new_password = "sam.ortiz@example.com", "lantern quarry violet"
    site = new_site(make_site)
    the_pass = staff_prepare(site, newcomer)
    term = plain(site)
    sign_in(term, the_pass, email=newcomer)
    term.expect("Step 2 of 7: Create Your Password")
    term.expect("You signed in with a one-time enrollment pass.")
    term.expect("At least 8 characters. A few unrelated words make a strong password.")
    term.expect("Your password is not shown as you type.")
    term.expect("New password: ")
    term.answer(new_password, secret=True)
    term.expect("Type it again: ")
    term.answer(new_password + "!", secret=True)
    term.expect("One moment…")
    term.expect("The two passwords are different. Please type the same one twice.")
    term.expect("New password: ")  # the same step again, one line said
    term.answer("short", secret=True)
    term.expect("Type it again: ")
    term.answer("short", secret=True)
    term.expect("The password must have at least 8 characters.")
    term.expect("New password: ")
    term.answer("")
    term.expect("Enter your new password.")
    term.expect("New password: ")
    term.answer(new_password, secret=True)
    term.expect("Type it again: ")
    term.answer(new_password, secret=True)
    term.expect("Step 3 of 7: Two-Factor Authentication Required")
    term.expect("Press Enter to set up now")
    term.answer("")
    enrolled = set_up_app(term, email=newcomer)
    end_signed_in_session(term)
    assert site.users()[newcomer]["enrolled"] is True

    again = plain(site)  # the password created with the pass now signs in
    sign_in(again, new_password, email=newcomer)
    again.expect("Enter the 6-digit code")
    again.expect("6-digit code: ")
    again.answer(pyotp.TOTP(enrolled.secret).at(time.time() + 30))
    again.expect("You're signed in with your authenticator app.")
    end_signed_in_session(again)

    used = plain(site)  # a pass works once
    sign_in(used, the_pass, email=newcomer)
    used.expect("This enrollment pass has already been used. Ask IT staff for a new one.")
    used.expect("Email: ")
    used.send(CTRL_C)
    assert used.wait_for_end() == 0
    used.check_clean()


def test_back_at_create_your_password_returns_to_sign_in(make_site, plain) -> None:
    site = new_site(make_site)
    newcomer = "sam.ortiz@example.com"
    term = plain(site)
    sign_in(term, staff_prepare(site, newcomer), email=newcomer)
    term.expect("New password: ")
    term.answer("back")
    term.expect("Sign in")
    term.expect("Email: ")
    term.send(CTRL_C)
    assert term.wait_for_end() == 0
    term.check_clean()
    assert site.users()[newcomer]["enrolled"] is False


def test_a_pass_replaces_a_lost_phone_in_plain_mode(make_site, plain) -> None:
    site = new_site(make_site)
    term = plain(site)
    first = enroll(term)
    end_signed_in_session(term)

    the_pass = staff_prepare(site, EMAIL)  # phone and recovery code both lost
    lost = plain(site)
    sign_in(lost, the_pass)
    second = set_up_app(lost)
    assert words("Step 2 of 5: Select an Authentication Method").search(lost.transcript)
    assert words("Your enrollment pass was accepted.").search(lost.transcript)
    end_signed_in_session(lost)
    assert second.secret != first.secret


def test_wrong_password_then_lockout_message(make_site, plain) -> None:
    site = new_site(make_site, security=SecuritySettings(max_failed_attempts=2))
    term = plain(site)
    sign_in(term, password="wrong password 1")
    term.expect("That email and password don't match an account.")
    sign_in(term, password="wrong password 2")  # the second failure locks the account
    term.expect("Too many failed attempts.")
    sign_in(term)  # the right password, but the account is locked
    term.expect("Too many failed attempts.")
    term.expect("Email: ")
    term.send(CTRL_C)
    assert term.wait_for_end() == 0
    term.check_clean()


# ------------------------------------------------------------------------------- the terminal
def test_password_typed_ahead_is_never_echoed(make_site, plain) -> None:
    site = new_site(make_site)
    term = plain(site)
    term.expect("Email: ")
    # Everything at once, before the Password prompt is written (a password manager).
    term.sent_secrets.append(PASSWORD.encode())
    term.send(f"{EMAIL}\r{PASSWORD}\r")
    term.expect("Two-Factor Authentication Required")
    term.expect("Press Enter to set up now")
    term.send(CTRL_C)
    assert term.wait_for_end() == 0
    term.check_clean()
    assert EMAIL.encode() in term.transcript  # the email is echoed: the person can check it


def test_bytes_that_are_not_utf8_and_huge_lines_are_harmless(make_site, plain) -> None:
    site = new_site(make_site)
    term = plain(site)
    term.expect("Email: ")
    term.send(b"\xff\xfe\xc3(" + b"\x1b[A\x1b[1;5C" + b"a" * 5000 + b"\r")
    term.expect("Password: ")
    term.answer("x")
    term.expect("Checking…")
    term.expect("That email and password don't match an account.")  # refused, asked again
    sign_in(term)
    term.expect("Two-Factor Authentication Required")
    term.send(CTRL_C)
    assert term.wait_for_end() == 0
    term.check_clean()


def test_ctrl_c_ends_an_ssh_session(make_site, plain) -> None:
    site = new_site(make_site)
    term = plain(site)
    term.expect("Email: ")
    term.send("half-typed")
    term.send(CTRL_C)
    term.expect("Session ended.")
    assert term.wait_for_end() == 0
    term.check_clean()


def test_kiosk_mode_ignores_ctrl_c_ctrl_z_and_ctrl_backslash(make_site, plain) -> None:
    site = new_site(make_site)
    term = plain(site, "kiosk")
    term.expect("Email: ")
    for key in (CTRL_C, CTRL_Z, CTRL_BACKSLASH):
        term.send(key)
    term.send("\r")
    term.expect("Enter your email address.")
    sign_in(term)
    term.expect("Two-Factor Authentication Required")
    term.send(CTRL_C)  # ignored: the person stays where they are
    term.expect("Press Enter to set up now")
    term.answer("")
    term.expect("Select an Authentication Method")
    assert term.child.isalive()
    term.check_clean()


def test_idle_timeout_ends_an_ssh_session_with_a_warning(make_site, plain) -> None:
    site = new_site(make_site, idle_timeout=10)
    term = plain(site)
    term.expect("Email: ")
    term.answer(EMAIL)
    term.expect("Password: ")
    term.expect("This session ends in 5 seconds unless you type something.", timeout=30)
    term.expect("Nothing was typed for a while, so this session has ended.", timeout=30)
    assert term.wait_for_end() == 0
    term.check_clean()


def test_idle_timeout_on_a_kiosk_forgets_the_person_and_starts_over(make_site, plain) -> None:
    site = new_site(make_site, idle_timeout=10)
    term = plain(site, "kiosk")
    sign_in(term)
    term.expect("Two-Factor Authentication Required")
    term.expect("Everything you entered will be forgotten in 5 seconds", timeout=30)
    term.expect("everything you entered has been forgotten.", timeout=30)
    term.expect("Sign in")
    term.expect("Email: ")
    assert term.child.isalive()
    # The screen and scrollback were erased first: nothing of the person is left to scroll to.
    term.check_clean(between_people=1)
    after = term.transcript.split(CLEAR)[-1]
    assert EMAIL.encode() not in after and b"Email:" in after
    assert site.users()[EMAIL]["enrolled"] is False


def test_qr_only_when_asked_for_and_it_scans_on_a_dark_terminal(make_site, plain) -> None:
    site = new_site(make_site)
    term = plain(site)
    sign_in(term)
    term.expect("Press Enter to set up now")
    term.answer("")
    term.expect("Press Enter to choose 1")
    term.answer("")
    secret = term.expect(KEY_RE).group(1).decode().replace(" ", "")
    term.expect("Press Enter to continue")
    assert "▀".encode() not in term.transcript and "▄".encode() not in term.transcript
    term.answer("qr")
    term.expect("not your phone's camera:")
    drawn = term.expect(re.compile(rb"\r\n(.*?)If your app can't read", re.S)).group(1)
    term.send(CTRL_C)
    assert term.wait_for_end() == 0
    term.check_clean()
    # Block characters in the terminal's ink (light on a dark theme), nothing else.
    lines = drawn.decode().split("\r\n")
    width = max(len(line) for line in lines)
    cells = [[(ch, "#ffffff", "#000000") for ch in line.ljust(width)] for line in lines]
    found = qr_decode.find_qr(cells)
    assert found is not None and found.min_quiet_zone >= 2, drawn.decode()
    uri = qr_decode.decode_matrix(found.matrix)
    assert uri is not None and secret_of(uri) == secret


def test_ssh_config_plain_prints_a_block_whose_command_is_plain_mode(make_site) -> None:
    site: Site = make_site()  # type: ignore[operator]
    block = site.cli("ssh-config", "--user", "enroll-plain", "--plain").stdout
    assert "Match User enroll-plain" in block
    command = next(line for line in block.splitlines() if "ForceCommand" in line)
    assert command.rstrip().endswith("run --mode ssh --plain"), command
    usual = site.cli("ssh-config").stdout
    assert "--plain" not in usual


# ------------------------------------------------------------------------------- from full screen
F2 = "\x1bOQ"  # as xterm sends it


def test_f2_on_sign_in_switches_an_ssh_session_to_plain_mode(make_site, terminals) -> None:
    site = new_site(make_site)
    term = terminals(site.run_argv("ssh"), cols=80, rows=24)
    term.wait_for_text("F2: plain text", 45)
    term.wait_for_quiet()
    term.send(F2)
    term.wait_for_text("plain text mode", 45)
    term.wait_for_text("Email:", 10)
    start = len(term.raw)
    term.send(EMAIL + "\r")
    term.wait_for_text("Password:", 10)
    term.send(PASSWORD + "\r")
    term.wait_for_text("Press Enter to set up now", 45)
    term.send(CTRL_C)
    assert term.wait_for_exit(30) == 0
    plain_part = bytes(term.raw[start:])
    assert b"\x1b" not in plain_part and PASSWORD.encode() not in plain_part


def test_f2_on_a_kiosk_lasts_one_person_then_full_screen_returns(make_site, terminals) -> None:
    site = new_site(make_site, idle_timeout=10)
    term = terminals(site.run_argv("kiosk"), cols=80, rows=24)
    term.wait_for_text("F2: plain text", 45)
    term.wait_for_quiet()
    term.send(F2)
    term.wait_for_text("Email:", 45)
    term.send(EMAIL + "\r")  # then walks away at the Password prompt
    forgotten = b"Nothing was typed for a while"
    term.wait_until(lambda: forgotten in term.raw, 40, "the idle timeout in plain mode")
    after = len(term.raw)
    # The full-screen Sign in again, for the next person.
    term.wait_until(lambda: b"F2: plain text" in term.raw[after:], 45, "the full-screen Sign in")
    assert term.is_alive()


# ------------------------------------------------------------------------------- over ssh
@dataclass
class PlainSshSite(Site):
    """A site whose `ssh-config` block is the plain one (what an enroll-plain account gets)."""

    def cli(self, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        if args[:1] == ("ssh-config",):
            args = (*args, "--plain")
        return super().cli(*args, **kwargs)  # type: ignore[arg-type]


def plain_ssh_site(make_site: object, owner: str) -> PlainSshSite:
    base: Site = make_site(owner=owner)  # type: ignore[operator]
    site = PlainSshSite(root=base.root, config=base.config, url=base.url, owner=base.owner)
    site.add_user(EMAIL, PASSWORD)
    return site


def wait_for_sessions_to_end(server: SshServer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while server.session_processes():
        assert time.monotonic() < deadline, f"sessions still running: {server.session_processes()}"
        time.sleep(0.1)


def test_enroll_over_ssh_on_the_plain_account(make_site, start_sshd, ssh_identity) -> None:
    site = plain_ssh_site(make_site, ssh_identity.user)
    server = start_sshd(site)
    term = PlainTerminal(site, "ssh", argv=server.argv())
    try:
        term.expect("plain text mode")
        enroll(term)
        end_signed_in_session(term)
    finally:
        term.close()
    assert site.users()[EMAIL]["enrolled"] is True
    wait_for_sessions_to_end(server)


def test_a_dropped_connection_at_the_password_prompt_ends_the_kiosk(
    make_site, start_sshd, ssh_identity
) -> None:
    site = plain_ssh_site(make_site, ssh_identity.user)
    server = start_sshd(site)
    before = site.dump()
    term = PlainTerminal(site, "ssh", argv=server.argv())
    try:
        term.expect("Email: ")
        term.answer(EMAIL)
        term.expect("Password: ")
        term.send("half a pass")
        assert any(name == "kiosk" or "python" in name for _, name in server.session_processes())
    finally:
        term.child.close(force=True)  # the connection drops mid-prompt
    wait_for_sessions_to_end(server)
    assert site.dump() == before


def test_the_shipped_plain_snippet_is_what_ssh_config_prints_and_sshd_accepts(tmp_path) -> None:
    repo = Path(__file__).resolve().parents[2]
    shipped = (repo / "deploy" / "sshd_config.d" / "kiosk-plain.conf").read_text()
    assert shipped == sshd_match_block(
        user="enroll-plain", python="/opt/kiosk/venv/bin/python",
        config=Path("/etc/kiosk/config.toml"), plain=True,
    )
    assert "run --mode ssh --plain" in shipped
    sshd = require_program(SSHD, "openssh-server")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "hk")],
                   check=True, capture_output=True)
    config = tmp_path / "sshd_config"
    config.write_text(f"HostKey {tmp_path / 'hk'}\nUsePAM no\n{shipped}")
    check = subprocess.run([sshd, "-t", "-f", str(config)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("args", [["run"], ["run", "--mode", "ssh"], []])
def test_interface_plain_in_the_config_starts_plain_mode(make_site, plain, args) -> None:
    site = new_site(make_site, mode="ssh")
    text = site.config.read_text()
    site.config.write_text(text.replace("[kiosk]\n", '[kiosk]\ninterface = "plain"\n', 1))
    term = plain(site, "ssh", argv=[str(KIOSK), "--config", str(site.config), *args])
    term.expect("plain text mode")
    term.expect("Email: ")
    term.send(CTRL_C)
    assert term.wait_for_end() == 0
    term.check_clean()


def test_plain_mode_ships_in_the_wheel(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    site: Path = request.getfixturevalue("installed_wheel")
    code = "import kiosk.plain.session as s, kiosk.plain.qr as q; print(s.__file__, q.__file__)"
    probe = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=wheel_env(site),
    )
    assert probe.returncode == 0, probe.stderr
    assert all(Path(name).is_relative_to(site) for name in probe.stdout.split())
