"""A crowd of real kiosks pressing Enter together: the installed `kiosk run` in 12 ptys.

Every kiosk is at Sign in with the same email and a wrong password typed; then Enter is written
to every pty in one tight loop. Each kiosk is its own process with its own connection, as SSH
sessions are. The attempt throttle reserves before it checks (core/throttle.py), so at most
`max_failed_attempts` (5) of the 12 passwords are evaluated (one `sign_in_failed` row each);
every other kiosk is refused unevaluated, and every screen says so in a line a person can read.

Argon2 here is slower than in the rest of the suite (tens of ms a check, queued behind the
machine-wide gate): the old design (check the lock, then count) would have evaluated most of
the crowd inside that window, so the bound below tells the two apart.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import Callable

import pytest

from kiosk.config import Argon2Settings
from tests.e2e.conftest import SCREEN_TIMEOUT, Person, Site
from tests.support.terminal import Terminal

pytestmark = pytest.mark.e2e

KIOSKS = 12
MAX = 5  # max_failed_attempts, the default
EMAIL = "crowded@example.com"
PASSWORD = "the right password"
WRONG = "not the password"
SLOWER_ARGON2 = Argon2Settings(time_cost=2, memory_cost=32768, parallelism=1)

# What a refused sign-in says (kiosk/errors.py), read off the screen with line wraps undone.
REFUSALS = {
    "wrong": "don't match an account",
    "locked": "Too many failed attempts",
    "in flight": "Too many sign-in attempts for this account are being checked right now",
}
_NOT_TEXT = re.compile(r"[^\w'.,:;!?()-]+")


def _plain(term: Terminal) -> str:
    """The screen as one line of words (borders and wraps gone), for messages that wrap."""
    return _NOT_TEXT.sub(" ", " ".join(term.screen.display)).strip()


def _refusal(term: Terminal) -> str | None:
    text = _plain(term)
    found = [name for name, phrase in REFUSALS.items() if phrase in text]
    return found[0] if len(found) == 1 else None


def _ready_at_sign_in(term: Terminal) -> None:
    """Email typed, focus in Password, the wrong password typed; Enter not yet pressed."""
    term.wait_for_text("Sign in", SCREEN_TIMEOUT)
    term.wait_for_text("Email", SCREEN_TIMEOUT)
    term.wait_for_quiet()
    term.send(EMAIL)
    term.wait_for_text(EMAIL, 20)
    Person(term, EMAIL, WRONG).tab_to_password()
    term.send(WRONG)
    term.wait_until(lambda: "•" * len(WRONG) in term.screen_text(), 20, "the masked password")
    term.wait_for_quiet()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_twelve_kiosks_press_enter_together_with_wrong_passwords(
    request: pytest.FixtureRequest,
    backend: str,
    make_site: Callable[..., Site],
    terminals: Callable[..., Terminal],
) -> None:
    url = (
        request.getfixturevalue("postgres_server").create_database()
        if backend == "postgres"
        else None
    )
    site = make_site(url, argon2=SLOWER_ARGON2)
    site.add_user(EMAIL, PASSWORD)

    kiosks = [terminals(site.run_argv("kiosk"), cols=80, rows=24) for _ in range(KIOSKS)]
    for term in kiosks:
        _ready_at_sign_in(term)
    for term in kiosks:  # drain what is pending, so the loop below only writes
        term.pump(0.05)

    # os.write, not pexpect's send: that sleeps `delaybeforesend` (50 ms) before every write.
    fds = [term.child.child_fd for term in kiosks]
    started = time.monotonic()
    for fd in fds:
        os.write(fd, b"\r")
    spread = time.monotonic() - started

    deadline = time.monotonic() + SCREEN_TIMEOUT
    for term in kiosks:
        term.wait_until(
            lambda term=term: _refusal(term) is not None,
            max(1.0, deadline - time.monotonic()),
            "a refusal line (wrong password, locked, or too many attempts)",
        )
    answered = Counter(_refusal(term) for term in kiosks)

    for term in kiosks:
        assert term.is_alive(), f"a kiosk ended (status {term.exitstatus})\n{term.dump()}"
        assert "Something went wrong" not in term.screen_text(), term.dump()
        assert "Traceback" not in term.raw.decode("utf-8", "replace")

    audit = site.audit()
    failed = [row for row in audit if row["event"] == "sign_in_failed"]
    locked = [row for row in audit if row["event"] == "locked"]
    # The bound: lock-then-count lets the crowd through the check before anything is counted.
    assert len(failed) <= MAX, (
        f"{len(failed)} of {KIOSKS} wrong passwords evaluated (limit {MAX}); "
        f"screens: {dict(answered)}; Enter written to all in {spread * 1000:.1f} ms"
    )
    assert all(row["email"] == EMAIL and row["detail"] == "password" for row in failed), failed
    # Each reserved slot settles as a failure, so exactly MAX are evaluated and the one that
    # reaches the limit locks (its screen says "locked"); every other kiosk was refused.
    assert len(failed) == MAX and len(locked) == 1, (failed, locked, dict(answered))
    assert answered["wrong"] == MAX - 1, dict(answered)
    assert answered["locked"] + answered["in flight"] == KIOSKS - (MAX - 1), dict(answered)
    assert site.users()[EMAIL]["locked"], site.users()[EMAIL]
    print(  # noqa: T201
        f"Enter written to {KIOSKS} ptys in {spread * 1000:.1f} ms; screens {dict(answered)}"
    )
