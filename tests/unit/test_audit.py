"""Audit events: what happened, when (UTC), to whom, from where; never a secret."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.core import audit, recovery, totp
from kiosk.core.audit import Event, source_from_environment
from kiosk.core.flow import AuthFlow
from kiosk.core.service import KioskService
from kiosk.errors import AccountLockedError, AuthenticationFailed, InvalidCodeError

from .conftest import PASSWORD, FakeClock, audit_events, enroll, recover


def test_source_is_the_ssh_client_address() -> None:
    env = {"SSH_CONNECTION": "203.0.113.7 52044 10.0.0.2 22"}
    assert source_from_environment(env) == "ssh:203.0.113.7"
    env6 = {"SSH_CONNECTION": "2001:db8::5 52044 2001:db8::1 22"}
    assert source_from_environment(env6) == "ssh:2001:db8::5"


def test_source_is_the_tty_without_ssh() -> None:
    primary, secondary = os.openpty()
    try:
        tty = os.ttyname(secondary)
        source = source_from_environment({}, tty_fd=secondary, hostname="kiosk-3")
        assert source == f"tty:{tty}@kiosk-3"
        assert source_from_environment({}, tty_fd=secondary).startswith(f"tty:{tty}@")
    finally:
        os.close(primary)
        os.close(secondary)


def test_source_is_local_without_ssh_or_tty() -> None:
    read_end, write_end = os.pipe()
    try:
        env = {"SSH_CONNECTION": ""}
        assert source_from_environment(env, tty_fd=read_end, hostname="") == "local"
        env = {"SSH_CONNECTION": "   "}
        assert source_from_environment(env, tty_fd=read_end, hostname="h1") == "local@h1"
    finally:
        os.close(read_end)
        os.close(write_end)


def test_source_under_kiosk_serve_is_the_browser_session_on_this_host() -> None:
    env = {"TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver"}
    assert source_from_environment(env, hostname="kiosk-web") == "web@kiosk-web"


def test_source_is_bounded() -> None:
    env = {"SSH_CONNECTION": "x" * 1000 + " 1 2 3"}
    assert len(source_from_environment(env)) <= audit.MAX_SOURCE


def test_every_event_is_recorded_without_secrets(svc: KioskService, clock: FakeClock) -> None:
    source = "ssh:198.51.100.4"
    start = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=5)
    who = enroll(svc, "bob@example.com")
    clock.advance(30)
    flow = AuthFlow(svc, source)
    flow.submit_password(who.email, who.password)
    code = totp.code_at_step(who.secret, clock.step)
    flow.submit_code(code)  # sign_in_ok
    flow = AuthFlow(svc, source)
    flow.submit_password(who.email, who.password)
    with pytest.raises(InvalidCodeError):
        flow.submit_code(code)  # replay_refused
    clock.advance(30)
    _, new = recover(svc, who)  # recovery_used, enrolled
    svc.accounts.reset_mfa(who.email, source="admin:test")  # reset
    for _ in range(5):
        with pytest.raises((AuthenticationFailed, AccountLockedError)):
            AuthFlow(svc, source).submit_password(who.email, "a wrong password")  # failed, locked
    # Failures are stamped with the service's clock (the one the lock is counted by), moved on
    # by this test; everything else with the wall clock.
    latest = max(datetime.now(UTC), datetime.fromtimestamp(clock.t, UTC))
    end = latest.replace(tzinfo=None) + timedelta(seconds=5)

    rows = audit_events(who.email)
    kinds = {r.event for r in rows}
    for wanted in (
        Event.SIGN_IN_OK,
        Event.SIGN_IN_FAILED,
        Event.LOCKED,
        Event.ENROLLED,
        Event.RESET,
        Event.RECOVERY_USED,
        Event.REPLAY_REFUSED,
    ):
        assert wanted.value in kinds, wanted
    for row in rows:
        assert start <= row.at <= end  # UTC, naive as stored
        assert row.email == who.email
        assert row.source in (source, "admin:test", "admin", "test:unit")
    assert {r.source for r in rows if r.event in ("sign_in_failed", "locked")} == {source}
    assert next(r for r in rows if r.event == "reset").source == "admin:test"

    secrets = [
        who.secret,
        new.secret,
        code,
        who.password,
        "a wrong password",
        recovery.parse(who.recovery_code),
        who.recovery_code,
        recovery.parse(new.recovery_code),
        new.recovery_code,
        "otpauth",
    ]
    for row in audit_events():
        text = " ".join(str(v) for v in (row.event, row.email, row.source, row.detail))
        assert not [s for s in secrets if s in text], text


def test_query_filters(svc: KioskService) -> None:
    svc.accounts.add_user("a@example.com", PASSWORD)
    svc.accounts.add_user("b@example.com", PASSWORD)
    assert [r.email for r in audit.query(email="a@example.com")] == ["a@example.com"]
    future = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)
    assert list(audit.query(since=future)) == []
    assert len(list(audit.query())) == 2
