"""Enrollment over a real OpenSSH server, configured with what `kiosk ssh-config` prints.

A private sshd (its own host key and config, loopback port; never the system's sshd) logs a
dedicated unprivileged account straight into the kiosk (ForceCommand). The client is OpenSSH's
`ssh -tt` in a pty at 80×24, its screen painted by pyte, the QR read off the cells.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.deploy import sshd_match_block
from tests.conftest import REPO
from tests.e2e.conftest import SCREEN_TIMEOUT, SSHD, Person, Site, SshServer, secret_of
from tests.support.terminal import CTRL_BACKSLASH, CTRL_C, CTRL_Z, Terminal

pytestmark = pytest.mark.e2e

EMAIL = "grace.hopper@example.com"
PASSWORD = "a long shared secret"
PROMPT = re.compile(r"(^|\n)[^\n]{0,60}[$#%>] ?$")


def _site(
    request: pytest.FixtureRequest, make_site: Callable[..., Site], owner: str, backend: str
) -> Site:
    url = (
        request.getfixturevalue("postgres_server").create_database()
        if backend == "postgres"
        else None
    )
    site = make_site(url, owner=owner)
    site.add_user(EMAIL, PASSWORD)
    return site


def _sessions_end(server: SshServer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while server.session_processes():
        if time.monotonic() > deadline:
            pytest.fail(f"sessions still running: {server.session_processes()}", pytrace=False)
        time.sleep(0.1)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_enroll_over_ssh_then_sign_in_with_the_next_code(
    backend: str,
    request: pytest.FixtureRequest,
    make_site: Callable[..., Site],
    start_sshd: Callable[[Site], SshServer],
    ssh_identity: object,
    terminals: Callable[..., Terminal],
) -> None:
    site = _site(request, make_site, ssh_identity.user, backend)  # type: ignore[attr-defined]
    server = start_sshd(site)

    first = terminals(server.argv(), term="xterm-256color")
    person = Person(first, EMAIL, PASSWORD)
    enrollment = person.enroll()
    assert secret_of(enrollment.uri) == enrollment.secret
    first.send("\r")  # any key ends the ssh session after Signed in
    assert first.wait_for_exit(SCREEN_TIMEOUT) == 0
    assert site.users()[EMAIL]["enrolled_at"]

    second = terminals(server.argv(), term="xterm-256color")
    Person(second, EMAIL, PASSWORD).sign_in_with_code(enrollment.secret)
    second.send("\r")
    assert second.wait_for_exit(SCREEN_TIMEOUT) == 0

    events = [row for row in site.audit() if row["email"] == EMAIL]
    kinds = [row["event"] for row in events]
    assert "enrolled" in kinds and kinds.count("sign_in_ok") == 2, kinds
    session_events = [row for row in events if row["event"] in ("enrolled", "sign_in_ok")]
    assert {row["source"] for row in session_events} == {"ssh:127.0.0.1"}
    assert enrollment.secret not in server.log_text()


def test_control_keys_never_give_a_shell(
    make_site: Callable[..., Site],
    start_sshd: Callable[[Site], SshServer],
    ssh_identity: object,
    terminals: Callable[..., Terminal],
) -> None:
    site = make_site(owner=ssh_identity.user)  # type: ignore[attr-defined]
    server = start_sshd(site)
    term = terminals(server.argv(), term="xterm-256color")
    term.wait_for_text("Sign in", SCREEN_TIMEOUT)
    term.wait_for_text("Email", SCREEN_TIMEOUT)
    term.wait_for_quiet()
    names = [name for _pid, name in server.session_processes()]
    assert names, "no session process below the private sshd"
    assert server.shells() == [], f"a shell runs in the session: {server.session_processes()}"

    for key in (CTRL_Z, CTRL_BACKSLASH):
        term.send(key)
        term.wait_for_quiet(0.5)
        assert term.is_alive(), f"{key!r} ended the connection"
        assert "Sign in" in term.screen_text(), term.dump()
        assert server.shells() == [], f"{key!r} left a shell: {server.session_processes()}"
        stopped = [pid for pid, _ in server.session_processes() if _state(pid) == "T"]
        assert stopped == [], f"{key!r} stopped the kiosk (pids {stopped})"
    term.send("still-here@example.com")
    term.wait_for_text("still-here@example.com", 10)  # the kiosk still reads the keyboard

    term.send(CTRL_C)
    assert term.wait_for_exit(SCREEN_TIMEOUT) == 0
    tail = term.raw[-400:].decode("utf-8", "replace")
    assert not PROMPT.search(tail.rstrip("\r\n")), f"looks like a shell prompt: {tail!r}"
    _sessions_end(server)


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except OSError:
        return "?"
    return text[text.rindex(")") + 2]


def test_closing_the_connection_mid_enrollment_changes_nothing(
    make_site: Callable[..., Site],
    start_sshd: Callable[[Site], SshServer],
    ssh_identity: object,
    terminals: Callable[..., Terminal],
) -> None:
    site = make_site(owner=ssh_identity.user)  # type: ignore[attr-defined]
    site.add_user(EMAIL, PASSWORD)
    server = start_sshd(site)
    before = site.dump()

    term = terminals(server.argv(), term="xterm-256color")
    person = Person(term, EMAIL, PASSWORD)
    person.reach_qr()
    secret = secret_of(person.scan())
    term.send("\r")
    term.wait_for_text("6-digit code", SCREEN_TIMEOUT)
    term.wait_for_quiet()
    term.send(person.code(secret) + "\r")
    # The code was right; the recovery code is on screen but not yet acknowledged.
    term.wait_for_text("Save Your Recovery Code", SCREEN_TIMEOUT)
    term.close()  # the connection drops (laptop lid shut, network gone)
    _sessions_end(server)

    assert site.dump() == before
    assert not site.users()[EMAIL]["enrolled_at"]


def test_a_session_without_a_tty_is_refused_clearly(
    make_site: Callable[..., Site],
    start_sshd: Callable[[Site], SshServer],
    ssh_identity: object,
) -> None:
    site = make_site(owner=ssh_identity.user)  # type: ignore[attr-defined]
    server = start_sshd(site)
    result = subprocess.run(
        server.argv(tty=False), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "the kiosk needs an interactive terminal (connect with ssh -t)" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    _sessions_end(server)


def test_the_shipped_snippet_is_what_kiosk_ssh_config_prints_and_sshd_accepts(
    tmp_path: Path,
) -> None:
    shipped = (REPO / "deploy" / "sshd_config.d" / "kiosk.conf").read_text()
    assert shipped == sshd_match_block(user="enroll", python="/opt/kiosk/venv/bin/python",
                                       config=Path("/etc/kiosk/config.toml"))
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "hk")],
                   check=True, capture_output=True)
    config = tmp_path / "sshd_config"
    room = (REPO / "deploy" / "sshd_config.d" / "00-kiosk-room.conf").read_text()
    # As Debian includes them: sshd_config.d/*.conf in name order, at the top of the config.
    config.write_text(f"HostKey {tmp_path / 'hk'}\nUsePAM no\n{room}{shipped}")
    check = subprocess.run([SSHD, "-t", "-f", str(config)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    resolved = subprocess.run(
        [SSHD, "-T", "-f", str(config), "-C", "user=enroll,host=h,addr=127.0.0.1"],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    assert "maxstartups 110:30:200" in resolved, resolved
