"""Throttling: consecutive failures of any factor lock the account, in the database."""

from __future__ import annotations

import pytest

from kiosk.core import recovery, totp
from kiosk.core.flow import AuthFlow, Step
from kiosk.core.service import KioskService
from kiosk.errors import (
    AccountLockedError,
    AuthenticationFailed,
    InvalidCodeError,
    InvalidRecoveryCodeError,
)

from .conftest import PASSWORD, SOURCE, FakeClock, audit_events, enroll

WRONG_RECOVERY = "00000-00000-00000-00000-00000"


def _wrong_code(secret: str, clock: FakeClock) -> str:
    near = {totp.code_at_step(secret, clock.step + d) for d in (-1, 0, 1)}
    return next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in near)


def test_mixed_failures_lock_the_account(svc: KioskService, clock: FakeClock) -> None:
    who = enroll(svc, "bob@example.com")
    bad = _wrong_code(who.secret, clock)
    # 1 wrong password, 2 wrong codes, 1 wrong recovery code: 4 of 5
    with pytest.raises(AuthenticationFailed):
        AuthFlow(svc, SOURCE).submit_password(who.email, "wrong password")
    flow = AuthFlow(svc, SOURCE)
    assert flow.submit_password(who.email, who.password) == Step.ENTER_CODE
    for _ in range(2):
        with pytest.raises(InvalidCodeError):
            flow.submit_code(bad)
    flow.use_recovery_code()
    with pytest.raises(InvalidRecoveryCodeError):
        flow.submit_recovery_code(WRONG_RECOVERY)
    # the fifth failure locks
    with pytest.raises(AccountLockedError) as info:
        flow.submit_recovery_code(WRONG_RECOVERY)
    assert info.value.locked_until == svc.ctx.now() + svc.throttle.policy.lockout
    events = [e.event for e in audit_events(who.email)]
    assert events.count("sign_in_failed") == 5 and events[-1] == "locked"


def test_while_locked_nothing_is_evaluated(
    svc: KioskService, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    who = enroll(svc, "bob@example.com")
    flow = AuthFlow(svc, SOURCE)
    flow.submit_password(who.email, who.password)
    for _ in range(4):
        with pytest.raises(InvalidCodeError):
            flow.submit_code(_wrong_code(who.secret, clock))
    with pytest.raises(AccountLockedError):
        flow.submit_code(_wrong_code(who.secret, clock))
    right_code = totp.code_at_step(who.secret, clock.step + 1)
    # the right password is not even checked: AccountLockedError, and no real verify happens
    verified: list[str] = []
    real_verify = svc.ctx.hasher.verify
    monkeypatch.setattr(
        type(svc.ctx.hasher), "verify", lambda self, h, c: verified.append(h) or real_verify(h, c)
    )
    with pytest.raises(AccountLockedError):
        AuthFlow(svc, SOURCE).submit_password(who.email, who.password)
    assert verified == [svc.factors.stand_in_hash()]  # the same cost as any refusal, nothing more
    with pytest.raises(AccountLockedError):
        flow.submit_code(right_code)  # the right code is refused too
    monkeypatch.setattr(
        totp, "matching_step", lambda *a, **k: pytest.fail("a code was evaluated while locked")
    )
    with pytest.raises(AccountLockedError):
        svc.factors.verify_for_external(who.email, right_code, source=SOURCE)
    monkeypatch.undo()
    # after the lock expires, the right code works (steps still only increase)
    clock.advance(svc.throttle.policy.lockout.total_seconds() + 1)
    AuthFlow(svc, SOURCE).submit_password(who.email, who.password)
    code = totp.code_at_step(who.secret, clock.step)
    svc.factors.verify_for_external(who.email, code, source=SOURCE)


def test_lock_lasts_the_configured_minutes(svc: KioskService, clock: FakeClock) -> None:
    svc.accounts.add_user("bob@example.com", PASSWORD)
    for _ in range(svc.settings.security.max_failed_attempts - 1):
        with pytest.raises(AuthenticationFailed):
            svc.factors.check_password("bob@example.com", "wrong password", source=SOURCE)
    with pytest.raises(AccountLockedError):
        svc.factors.check_password("bob@example.com", "wrong password", source=SOURCE)
    clock.advance(svc.settings.security.lockout_minutes * 60 - 1)
    with pytest.raises(AccountLockedError):
        svc.factors.check_password("bob@example.com", PASSWORD, source=SOURCE)
    assert next(svc.accounts.iter_users()).locked
    clock.advance(2)
    assert not next(svc.accounts.iter_users()).locked
    svc.factors.check_password("bob@example.com", PASSWORD, source=SOURCE)
    # the count restarted: one failure does not lock again
    with pytest.raises(AuthenticationFailed):
        svc.factors.check_password("bob@example.com", "wrong password", source=SOURCE)


def test_after_expiry_a_fresh_count_starts(svc: KioskService, clock: FakeClock) -> None:
    svc.accounts.add_user("bob@example.com", PASSWORD)
    for _ in range(5):
        with pytest.raises((AuthenticationFailed, AccountLockedError)):
            svc.factors.check_password("bob@example.com", "wrong password", source=SOURCE)
    clock.advance(16 * 60)
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            svc.factors.check_password("bob@example.com", "wrong password", source=SOURCE)
    with pytest.raises(AccountLockedError):
        svc.factors.check_password("bob@example.com", "wrong password", source=SOURCE)


def test_success_resets_the_count(svc: KioskService, clock: FakeClock) -> None:
    who = enroll(svc, "bob@example.com")
    for round_ in range(3):
        for _ in range(4):
            with pytest.raises(AuthenticationFailed):
                svc.factors.check_password(who.email, "wrong password", source=SOURCE)
        flow = AuthFlow(svc, SOURCE)
        flow.submit_password(who.email, who.password)
        clock.advance(30)
        flow.submit_code(totp.code_at_step(who.secret, clock.step))
        assert flow.step == Step.SIGNED_IN, round_
    assert not next(svc.accounts.iter_users()).locked


def test_password_success_alone_does_not_reset_for_enrolled_accounts(
    svc: KioskService, clock: FakeClock
) -> None:
    """Only a full sign-in clears the count: a known password must not buy more code guesses."""
    who = enroll(svc, "bob@example.com")
    flow = AuthFlow(svc, SOURCE)
    flow.submit_password(who.email, who.password)
    for _ in range(4):
        with pytest.raises(InvalidCodeError):
            flow.submit_code(_wrong_code(who.secret, clock))
    flow.back()
    flow.submit_password(who.email, who.password)
    with pytest.raises(AccountLockedError):
        flow.submit_code(_wrong_code(who.secret, clock))


def test_unknown_emails_lock_the_same_way(svc: KioskService) -> None:
    results = []
    for _ in range(5):
        with pytest.raises((AuthenticationFailed, AccountLockedError)) as info:
            AuthFlow(svc, SOURCE).submit_password("nobody@example.com", "whatever pw")
        results.append(type(info.value).__name__)
    assert results == ["AuthenticationFailed"] * 4 + ["AccountLockedError"]
    with pytest.raises(AccountLockedError) as unknown:
        AuthFlow(svc, SOURCE).submit_password("nobody@example.com", "whatever pw")
    # a known account locked the same way says exactly the same
    svc.accounts.add_user("bob@example.com", PASSWORD)
    for _ in range(5):
        with pytest.raises((AuthenticationFailed, AccountLockedError)):
            AuthFlow(svc, SOURCE).submit_password("bob@example.com", "whatever pw")
    with pytest.raises(AccountLockedError) as known:
        AuthFlow(svc, SOURCE).submit_password("bob@example.com", "whatever pw")
    assert str(unknown.value) == str(known.value)
    # unknown emails are not written into the audit log (only known accounts are named)
    assert all(e.email != "nobody@example.com" for e in audit_events())


def test_admin_unlock_clears_the_lock(svc: KioskService) -> None:
    svc.accounts.add_user("bob@example.com", PASSWORD)
    for _ in range(5):
        with pytest.raises((AuthenticationFailed, AccountLockedError)):
            svc.factors.check_password("bob@example.com", "wrong password", source=SOURCE)
    assert next(svc.accounts.iter_users()).locked
    svc.accounts.unlock("BOB@example.com")
    assert not next(svc.accounts.iter_users()).locked
    svc.factors.check_password("bob@example.com", PASSWORD, source=SOURCE)
    assert [e.event for e in audit_events("bob@example.com")][-1] == "unlocked"


def test_malformed_codes_are_not_counted(svc: KioskService, clock: FakeClock) -> None:
    who = enroll(svc, "bob@example.com")
    flow = AuthFlow(svc, SOURCE)
    flow.submit_password(who.email, who.password)
    for _ in range(10):
        with pytest.raises(InvalidCodeError):
            flow.submit_code("12ab56")
        with pytest.raises(InvalidRecoveryCodeError):
            recovery.parse("short")
    clock.advance(30)
    flow.submit_code(totp.code_at_step(who.secret, clock.step))
    assert flow.step == Step.SIGNED_IN


def test_throttle_rows_never_hold_what_was_typed_and_expire(
    svc: KioskService, clock: FakeClock
) -> None:
    """People type passwords into the email field: the throttle names its rows by a keyed hash,
    never the typed text, and forgets them once their lock window has passed."""
    from kiosk.store.models import Throttle

    typed = ["hunter2-horse@example.com", "Correct.Staple@example.com", "nobody@example.com"]
    for email in typed:
        with pytest.raises(AuthenticationFailed):
            AuthFlow(svc, SOURCE).submit_password(email, "whatever pw")
    rows = list(Throttle.select().dicts())
    assert len(rows) == len(typed)
    stored = repr(rows).lower()
    for email in typed:
        assert email.lower() not in stored and email.split("@")[0].lower() not in stored
    clock.advance(svc.throttle.policy.lockout.total_seconds() + 120)
    with pytest.raises(AuthenticationFailed):
        AuthFlow(svc, SOURCE).submit_password("someone.else@example.com", "whatever pw")
    assert Throttle.select().count() == 1  # only the new attempt's row is left
