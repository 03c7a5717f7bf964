"""Sign-in with passwords from a real OpenLDAP directory, through the service and in a real pty.

The attempt reservation applies before the bind exactly as for local passwords; an unreachable
directory is one calm line, an audit row, never a fall-back to a local password and never a
counted attempt; a first right sign-in creates the kiosk account with no local password.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from kiosk.config import DirectorySettings
from kiosk.core import audit
from kiosk.core.flow import AuthFlow, Step
from kiosk.core.service import KioskService
from kiosk.errors import AccountLockedError, AuthenticationFailed, DirectoryUnavailable
from kiosk.store.models import Account
from tests.conftest import make_settings
from tests.e2e.conftest import SCREEN_TIMEOUT, Person, Site
from tests.support.slapd import ADA, GRACE, SlapdServer, directory_toml
from tests.support.terminal import Terminal

pytestmark = [pytest.mark.e2e, pytest.mark.slapd]

UNAVAILABLE = "The sign-in service can't be reached; try again shortly or ask IT staff."


@pytest.fixture
def directory_service(
    tmp_path: Path, database_url: str, directory_settings: DirectorySettings
) -> KioskService:
    settings = replace(make_settings(tmp_path, database_url), directory=directory_settings)
    service = KioskService.open(settings)
    yield service
    service.close()


def _events(kind: str) -> list[audit.AuditEvent]:  # type: ignore[name-defined]
    return [e for e in audit.query() if e.event == kind]


@pytest.mark.timeout(120, method="thread")
def test_a_first_directory_sign_in_creates_the_account_without_a_local_password(
    directory_service: KioskService,
) -> None:
    flow = AuthFlow(directory_service, "test")
    assert flow.submit_password(ADA.email.upper(), ADA.password) == Step.MFA_REQUIRED
    account = Account.get(Account.email == ADA.email)
    assert account.password_hash == "" and account.password_source == "directory"
    assert account.display_name == ADA.display_name
    listed = directory_service.accounts.summary(ADA.email)
    assert listed.password_source == "directory" and not listed.enrolled
    # a second sign-in finds the same account
    AuthFlow(directory_service, "test").submit_password(ADA.email, ADA.password)
    assert Account.select().count() == 1


@pytest.mark.timeout(120, method="thread")
def test_wrong_directory_passwords_count_and_lock_before_any_bind(
    directory_service: KioskService, slapd_server: SlapdServer
) -> None:
    limit = directory_service.settings.security.max_failed_attempts
    for _ in range(limit - 1):
        with pytest.raises(AuthenticationFailed):
            directory_service.factors.check_password(GRACE.email, "not her password", source="t")
    with pytest.raises(AccountLockedError):
        directory_service.factors.check_password(GRACE.email, "not her password", source="t")
    assert len(_events("sign_in_failed")) == limit
    # locked: the right password is refused without reaching the directory
    binds_before = slapd_server.log_size()
    with pytest.raises(AccountLockedError):
        directory_service.factors.check_password(GRACE.email, GRACE.password, source="t")
    assert slapd_server.log_size() == binds_before, "a locked account's password reached slapd"


@pytest.mark.timeout(120, method="thread")
def test_an_unreachable_directory_is_calm_uncounted_and_never_falls_back(
    tmp_path: Path,
    database_url: str,
    start_slapd: Callable[[], SlapdServer],
) -> None:
    server = start_slapd()
    settings = replace(make_settings(tmp_path, database_url), directory=server.settings(timeout=2))
    service = KioskService.open(settings)
    try:
        AuthFlow(service, "test").submit_password(ADA.email, ADA.password)  # account exists
        server.stop()
        for _ in range(settings.security.max_failed_attempts + 2):
            with pytest.raises(DirectoryUnavailable) as info:
                service.factors.check_password(ADA.email, ADA.password, source="t")
            assert str(info.value) == UNAVAILABLE
        assert _events("sign_in_failed") == []  # an outage locks nobody out
        assert len(_events("directory_unavailable")) == settings.security.max_failed_attempts + 2
        assert not service.accounts.summary(ADA.email).locked
    finally:
        service.close()


@pytest.mark.timeout(300, method="thread")
def test_a_directory_person_enrolls_in_a_real_terminal(
    make_site: Callable[..., Site],
    terminals: Callable[..., Terminal],
    directory_settings: DirectorySettings,
) -> None:
    site = make_site()
    with site.config.open("a") as config:
        config.write(directory_toml(directory_settings))
    term = terminals(site.run_argv("kiosk"), cols=80, rows=24)
    person = Person(term, ADA.email, "a wrong password")
    person.sign_in()
    term.wait_for_text("don't match an account", SCREEN_TIMEOUT)
    term.wait_for_quiet()
    person.password = ADA.password
    term.send(ADA.password + "\r")  # the password field has the focus again, emptied
    term.wait_for_text("Two-Factor Authentication Required", SCREEN_TIMEOUT)
    term.send("\x1b")  # back to Sign in: enroll from the start, as the guide shows
    enrollment = Person(term, ADA.email, ADA.password).enroll()
    assert enrollment.secret
    users = site.users()
    assert users[ADA.email]["password"] == "directory" and users[ADA.email]["enrolled"]
    events = [e["event"] for e in site.audit()]
    assert events.count("sign_in_failed") == 1 and "enrolled" in events
