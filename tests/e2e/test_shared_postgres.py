"""Several kiosks, one database: two `kiosk` processes on one real PostgreSQL at the same time.

Two people enroll at two terminals at once (each in its own pty, driven from its own thread);
both accounts end up enrolled, and each kiosk can then sign in the account enrolled at the other.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.conftest import Enrollment, Person, Site
from tests.support.terminal import Terminal

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

PEOPLE = {
    "ann@example.com": "first person's password",
    "bob@example.com": "second person's password",
}


def test_two_kiosks_on_one_postgresql_enroll_two_accounts_at_once(
    postgres_server: object,
    make_site: Callable[..., Site],
    terminals: Callable[..., Terminal],
) -> None:
    url = postgres_server.create_database()  # type: ignore[attr-defined]
    # Two installations (each its own folder, config and log) sharing one database and key.
    first = make_site(url)
    second = make_site(url)
    second.config.write_text(
        first.config.read_text().replace(
            'key_file = "kiosk.key"', f'key_file = "{first.root / "kiosk.key"}"'
        )
    )
    for email, password in PEOPLE.items():
        first.add_user(email, password)

    kiosks = [terminals(site.run_argv("kiosk"), term="xterm-256color") for site in (first, second)]
    people = [
        Person(term, email, password)
        for term, (email, password) in zip(kiosks, PEOPLE.items(), strict=True)
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        enrollments: list[Enrollment] = list(pool.map(lambda p: p.enroll(), people))

    assert enrollments[0].secret != enrollments[1].secret
    assert enrollments[0].recovery_code != enrollments[1].recovery_code
    users = second.users()
    assert all(users[email]["enrolled_at"] for email in PEOPLE), users
    enrolled = [row["email"] for row in first.audit() if row["event"] == "enrolled"]
    assert sorted(enrolled) == sorted(PEOPLE)

    # Kiosk mode: a key clears each screen for the next person; then each kiosk signs in the
    # account that was enrolled at the other one.
    for term in kiosks:
        term.send("x")
    for term, person, other in zip(kiosks, people, reversed(enrollments), strict=True):
        email = next(e for e in PEOPLE if e != person.email)
        Person(term, email, PEOPLE[email]).sign_in_with_code(other.secret)
