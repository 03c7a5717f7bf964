"""Races and crowds: many kiosk sessions (separate processes) on one database at once.

Each child opens its own KioskService, as a separate SSH session would. The parent checks what
every child reported and what the database holds afterwards.
"""

from __future__ import annotations

import time
from pathlib import Path

import pyotp
import pytest

from kiosk.config import Settings
from kiosk.core.service import KioskService
from tests.conftest import make_settings
from tests.security import workers
from tests.security.conftest import PASSWORD, dump_tables, run_children

CROWD = 50
RACERS = 20


def test_fifty_sessions_enroll_fifty_accounts_at_once(tmp_path: Path, database_url: str) -> None:
    """50 processes walk the whole enrollment flow together: no error, no 'database is locked'."""
    settings = make_settings(tmp_path, database_url)
    service = KioskService.open(settings)
    emails = [f"crowd{i}@example.com" for i in range(CROWD)]
    for email in emails:
        service.accounts.add_user(email, PASSWORD)
    service.close()

    results = run_children(
        workers.enroll_worker,
        [(str(tmp_path), database_url, email, PASSWORD) for email in emails],
        timeout=300,
    )

    failures = [r for r in results if not r["ok"]]
    assert failures == [], failures
    assert sorted(r["email"] for r in results) == sorted(emails)
    assert not any("locked" in str(r).lower() for r in results)
    dump = dump_tables(database_url)
    assert len(dump["credential"]) == CROWD
    assert len(dump["recovery_code"]) == CROWD
    # Every account moved exactly one mfa_version forward.
    assert all(row[-1] == 1 for row in dump["account"]), dump["account"]


def _enrolled_account(settings: Settings, email: str, clock: float) -> tuple[str, str]:
    service = KioskService.open(settings, clock=lambda: clock)
    service.accounts.add_user(email, PASSWORD)
    secret, recovery_shown = workers.enroll_through_flow(service, email, PASSWORD)
    service.close()
    return secret, recovery_shown


def test_twenty_processes_racing_one_code_one_wins(tmp_path: Path, database_url: str) -> None:
    """The same valid code submitted by 20 sessions at once is accepted exactly once."""
    settings = make_settings(tmp_path, database_url)
    t0 = float(int(time.time()) // 30 * 30)
    secret, _ = _enrolled_account(settings, "race@example.com", t0)
    later = t0 + 30  # the next time step: a code the replay guard has not seen
    code = pyotp.TOTP(secret).at(later)

    results = run_children(
        workers.code_race_worker,
        [(str(tmp_path), database_url, "race@example.com", PASSWORD, code, later)] * RACERS,
    )

    wins = [r for r in results if r["ok"]]
    losses = [r for r in results if not r["ok"]]
    assert len(wins) == 1, results
    assert all(r["kind"] == "InvalidCodeError" for r in losses), losses
    assert all("already used" in r["message"] for r in losses), losses


def test_twenty_processes_racing_one_recovery_code_one_wins(
    tmp_path: Path, database_url: str
) -> None:
    """20 sessions redeem one recovery code and enroll a new device: exactly one succeeds, and
    the account ends with exactly one credential and one fresh, unused recovery code."""
    settings = make_settings(tmp_path, database_url)
    _, recovery_shown = _enrolled_account(settings, "lost@example.com", time.time())
    before = dump_tables(database_url)

    results = run_children(
        workers.recovery_race_worker,
        [(str(tmp_path), database_url, "lost@example.com", PASSWORD, recovery_shown)] * RACERS,
    )

    wins = [r for r in results if r["ok"]]
    losses = [r for r in results if not r["ok"]]
    assert len(wins) == 1, results
    assert all(not r["kind"].startswith("UNEXPECTED") for r in losses), losses
    assert {r["kind"] for r in losses} <= {
        "ConcurrentChangeError",
        "InvalidRecoveryCodeError",
        "AccountLockedError",
        "AttemptsInFlightError",
    }, losses
    after = dump_tables(database_url)
    assert len(after["credential"]) == 1 and len(after["recovery_code"]) == 1
    assert after["credential"] != before["credential"]
    assert after["recovery_code"][0][-1] is None  # the new code is unused
    assert after["account"][0][-1] == before["account"][0][-1] + 1
    # The winner's new device is the one that works (with the racers' own limit: the losers'
    # late recovery codes, checked against the winner's new code, were counted as wrong).
    service = workers.open_service(str(tmp_path), database_url, max_failed_attempts=100)
    account = service.accounts.find("lost@example.com")
    code = pyotp.TOTP(wins[0]["secret"]).at(time.time() + 30)
    service.factors.check_code(account, code, source="test")
    service.close()


@pytest.mark.parametrize(
    "spellings",
    [
        [
            "victim@example.com",
            "VICTIM@example.com",
            "  Victim@Example.COM  ",
            "victim@EXAMPLE.com\t",
        ],
    ],
)
def test_lockout_holds_across_processes_and_spellings(
    tmp_path: Path, database_url: str, spellings: list[str]
) -> None:
    """Four 'terminals', each spelling the email differently, share one failure count: after
    max_failed_attempts (5) wrong passwords in total, every further try is refused unevaluated."""
    settings = make_settings(tmp_path, database_url)
    service = KioskService.open(settings)
    service.accounts.add_user("victim@example.com", PASSWORD)
    service.close()
    tries = 5
    results = run_children(
        workers.lockout_worker,
        [(str(tmp_path), database_url, spelling, tries) for spelling in spellings],
    )
    evaluated = sum(r["failed"] for r in results)
    locked = sum(r["locked"] for r in results)
    in_flight = sum(r["other"].count("AttemptsInFlightError") for r in results)
    assert all(set(r["other"]) <= {"AttemptsInFlightError"} for r in results), results
    assert evaluated + locked + in_flight == tries * len(spellings)
    # Each attempt is reserved before it is checked: never more than max_failed_attempts (5)
    # passwords evaluated, whatever the spellings and however the processes interleave (the
    # fifth evaluated failure itself answers "locked").
    audit_rows = dump_tables(database_url, ("audit_event",))["audit_event"]
    failed_rows = [r for r in audit_rows if "sign_in_failed" in r]
    assert all("victim@example.com" in r for r in failed_rows)
    assert 1 <= len(failed_rows) <= 5, failed_rows
    # Wrong passwords from here until the lock: it comes with exactly the fifth evaluated one.
    service = KioskService.open(settings)
    from kiosk.errors import AccountLockedError, AuthenticationFailed

    while not service.accounts.summary("victim@example.com").locked:
        with pytest.raises((AuthenticationFailed, AccountLockedError)):
            service.factors.check_password("victim@example.com", "still wrong", source="test")
    audit_rows = dump_tables(database_url, ("audit_event",))["audit_event"]
    assert len([r for r in audit_rows if "sign_in_failed" in r]) == 5
    # And the right password is refused while locked, whatever the spelling.

    for spelling in spellings:
        with pytest.raises(AccountLockedError):
            service.factors.check_password(spelling, PASSWORD, source="test")
    service.close()
