"""An onboarding session end to end: the board and two kiosks, each in its own real pty.

On SQLite (three processes on one database file) and on a shared PostgreSQL (two kiosk
installations and the board on one database): a step taken at either kiosk shows on the board; a
pass issued from the board lets a person without a password create one and enroll at a kiosk; the
same pass, used, is refused there in one line.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable

import pytest

from tests.e2e.conftest import KIOSK, SCREEN_TIMEOUT, Person, Site, secret_of
from tests.support.terminal import ENTER, Terminal

pytestmark = [pytest.mark.e2e]

BOB_PASSWORD = "bob's own password"
ANN_NEW_PASSWORD = "ann chose this passphrase"
PASS_SHOWN = re.compile(r"((?:[0-9A-Z] {3}){5}- {3}(?:[0-9A-Z] {3}){4}[0-9A-Z])")


def _row(board: Terminal, email: str, state: str) -> bool:
    return any(email in line and state in line for line in board.screen.display)


def _sites(
    store: str, request: pytest.FixtureRequest, make_site: Callable[..., Site]
) -> tuple[Site, Site]:
    if store == "sqlite":
        site = make_site()
        return site, site
    url = request.getfixturevalue("postgres_server").create_database()
    first, second = make_site(url), make_site(url)
    second.config.write_text(
        first.config.read_text().replace(
            'key_file = "kiosk.key"', f'key_file = "{first.root / "kiosk.key"}"'
        )
    )
    return first, second


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_board_follows_two_kiosks_and_its_pass_enrolls_a_new_person(
    store: str,
    request: pytest.FixtureRequest,
    make_site: Callable[..., Site],
    terminals: Callable[..., Terminal],
) -> None:
    first, second = _sites(store, request, make_site)
    first.add_user("bob@example.com", BOB_PASSWORD)
    first.cli("cohort", "create", "hires")
    first.cli("cohort", "add", "hires", "ann@example.com", "bob@example.com")

    board = terminals(
        [str(KIOSK), "--config", str(first.config), "onboard", "hires"],
        env={**os.environ, "SUDO_USER": "it-alice"},
        cols=120,
        rows=40,
    )
    board.wait_for_text("ann@example.com", SCREEN_TIMEOUT)
    board.wait_until(lambda: _row(board, "bob@example.com", "not started"), 10, "bob listed")
    kiosk_a = terminals(first.run_argv("kiosk"), term="xterm-256color")
    kiosk_b = terminals(second.run_argv("kiosk"), term="xterm-256color")

    # Bob (who has a password) reaches the QR at kiosk B: the board shows it.
    bob = Person(kiosk_b, "bob@example.com", BOB_PASSWORD)
    bob.reach_qr()
    board.wait_until(lambda: _row(board, "bob@example.com", "setting up"), 20, "bob setting up")
    bob.finish_enrollment(secret_of(bob.scan()))
    board.wait_until(lambda: _row(board, "bob@example.com", "enrolled"), 20, "bob enrolled")

    # Ann has no password: staff issue her a pass from the board and read it out.
    board.send_and_wait_for_change("/")  # the focus moves to the filter
    board.send("ann@")
    board.wait_until(lambda: not _row(board, "bob@example.com", ""), 10, "only Ann listed")
    board.send_and_wait_for_change("\x1b")  # back to the table, the filter kept
    board.wait_for_quiet()
    board.send("p")
    board.wait_for_text("No (n)", 10)
    board.wait_for_quiet()
    board.send("y")
    board.wait_for_text("Enrollment pass for ann@example.com", 30)
    board.wait_for_quiet()
    shown = PASS_SHOWN.search(board.screen_text())
    assert shown is not None, board.dump()
    pass_text = shown.group(1).replace("   ", "")
    board.send(ENTER)  # read off: the pass is gone from the board
    board.wait_until(lambda: pass_text[:5] not in board.screen_text().replace(" ", ""), 10, "gone")

    # At kiosk A, Ann signs in with the pass, creates her password and enrolls.
    ann = Person(kiosk_a, "ann@example.com", pass_text)
    ann.sign_in()
    kiosk_a.wait_for_text("Create Your Password", SCREEN_TIMEOUT)
    board.wait_until(lambda: _row(board, "ann@example.com", "signed in"), 20, "ann signed in")
    ann.create_password(ANN_NEW_PASSWORD)
    ann.set_up_now()
    ann_secret = secret_of(ann.scan())
    ann.finish_enrollment(ann_secret)
    board.wait_until(lambda: _row(board, "ann@example.com", "enrolled"), 20, "ann enrolled")

    # The same pass again, at the same kiosk for the next person: refused in one line.
    kiosk_a.send("x")  # kiosk mode: any key clears the screen for the next person
    Person(kiosk_a, "ann@example.com", pass_text).sign_in()
    kiosk_a.wait_for_text("already been used", SCREEN_TIMEOUT)

    # The store agrees with the board.
    people = {
        row["email"]: row
        for row in json.loads(first.cli("cohort", "show", "hires", "--json").stdout)
    }
    assert people["ann@example.com"]["state"] == "enrolled"
    assert people["bob@example.com"]["state"] == "enrolled"
    issued = [row for row in first.audit() if row["event"] == "pass_issued"]
    assert [row["source"] for row in issued] == ["staff:it-alice"]
    assert pass_text not in json.dumps(first.audit())
