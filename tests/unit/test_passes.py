"""Enrollment passes: issued by staff, typed in the Password field, used once.

What people rely on: a person with no password yet (or who lost phone and recovery code) gets in
exactly once with the pass staff read out; a used, expired or withdrawn pass says which in one
line; the pass is counted by the same lock as every other secret; nothing is stored in clear.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from kiosk.core import passes, totp
from kiosk.core.flow import AuthFlow, Method, Step
from kiosk.core.service import KioskService
from kiosk.core.values import IssuedPass
from kiosk.errors import (
    AccountLockedError,
    AuthenticationFailed,
    KioskError,
    PassRefusedError,
    PasswordPolicyError,
)
from kiosk.store.models import Account, Credential, EnrollmentPass

from .conftest import PASSWORD, SOURCE, FakeClock, audit_events, enroll

NEW_PASSWORD = "a brand new passphrase"


def _enroll_with_pass(
    svc: KioskService, email: str, issued: IssuedPass, *, new_password: str | None
) -> AuthFlow:
    flow = AuthFlow(svc, SOURCE)
    step = flow.submit_password(email, issued.text)
    if new_password is not None:
        assert step == Step.CREATE_PASSWORD
        assert flow.create_password(new_password, new_password) == Step.MFA_REQUIRED
        flow.start_setup()
    else:
        assert step == Step.SELECT_METHOD  # enrolled: straight to the new device
    pending = flow.choose_method(Method.AUTHENTICATOR_APP)
    flow.continue_to_code()
    flow.verify_setup_code(totp.code_at_step(pending.secret, totp.current_step(svc.ctx.clock)))
    assert flow.finish_enrollment(saved=True) == Step.SIGNED_IN
    return flow


def test_a_pass_is_ten_crockford_characters_in_two_groups() -> None:
    made = {passes.generate() for _ in range(200)}
    assert len(made) == 200
    for text in made:
        assert len(text) == 11 and text[5] == "-"
        assert set(text.replace("-", "")) <= set(passes.CROCKFORD)
    # 10 characters of a 32-letter alphabet: 50 bits.
    assert passes.PASS_LENGTH * 5 >= 50
    assert passes.normalize(" 7kq2m xr9td ") == "7KQ2MXR9TD"
    assert passes.normalize("OIL00-11111") == "01100" + "11111"  # look-alikes read as digits
    assert passes.normalize("correct horse") is None
    assert passes.normalize("UUUUU-UUUUU") is None  # U is not in Crockford's alphabet


def test_validity_is_read_from_minutes_hours_or_days_and_capped_at_a_week() -> None:
    assert passes.parse_validity("30m") == timedelta(minutes=30)
    assert passes.parse_validity("8h") == timedelta(hours=8)
    assert passes.parse_validity("7d") == timedelta(days=7)
    for bad in ("8d", "0m", "soon", "-5m", ""):
        with pytest.raises(KioskError):
            passes.parse_validity(bad)


def test_a_person_without_a_password_creates_one_and_enrolls_with_a_pass(
    svc: KioskService,
) -> None:
    svc.cohorts.create("new hires", [passes_person("ana@example.com")], staff="it-alice")
    assert Account.get().password_hash == ""  # created without a password
    with pytest.raises(AuthenticationFailed):  # no password works before one is created
        AuthFlow(svc, SOURCE).submit_password("ana@example.com", "")
    issued = svc.passes.issue("ana@example.com", staff="it-alice")
    stored = EnrollmentPass.get()
    assert stored.pass_hash.startswith("$argon2id$")
    assert issued.text not in stored.pass_hash and passes.normalize(issued.text) not in str(
        stored.__data__
    )
    assert stored.issued_by == "it-alice"
    _enroll_with_pass(svc, "ana@example.com", issued, new_password=NEW_PASSWORD)
    # The password created is the account's password now, and the authenticator is set.
    flow = AuthFlow(svc, SOURCE)
    assert flow.submit_password("ana@example.com", NEW_PASSWORD) == Step.ENTER_CODE
    assert EnrollmentPass.get().used_at is not None
    events = [(e.event, e.source) for e in audit_events("ana@example.com")]
    assert ("pass_issued", "staff:it-alice") in events
    assert ("pass_used", SOURCE) in events and ("password_created", SOURCE) in events


def test_a_pass_works_once(svc: KioskService) -> None:
    svc.cohorts.create("c", [passes_person("ana@example.com")], staff="it")
    issued = svc.passes.issue("ana@example.com", staff="it")
    _enroll_with_pass(svc, "ana@example.com", issued, new_password=NEW_PASSWORD)
    with pytest.raises(PassRefusedError) as refused:
        AuthFlow(svc, SOURCE).submit_password("ana@example.com", issued.text)
    assert str(refused.value) == passes.USED_MESSAGE


def test_expired_and_withdrawn_passes_say_so(svc: KioskService, clock: FakeClock) -> None:
    svc.accounts.add_user("ben@example.com", PASSWORD)
    issued = svc.passes.issue("ben@example.com", valid=timedelta(minutes=5), staff="it")
    clock.advance(5 * 60 + 1)
    with pytest.raises(PassRefusedError) as refused:
        AuthFlow(svc, SOURCE).submit_password("ben@example.com", issued.text)
    assert str(refused.value) == passes.EXPIRED_MESSAGE
    second = svc.passes.issue("ben@example.com", staff="it")
    assert svc.passes.revoke("ben@example.com", staff="it") is True
    assert svc.passes.revoke("ben@example.com", staff="it") is False
    with pytest.raises(PassRefusedError) as refused:
        AuthFlow(svc, SOURCE).submit_password("ben@example.com", second.text)
    assert str(refused.value) == passes.REVOKED_MESSAGE


def test_a_new_pass_replaces_the_live_one(svc: KioskService) -> None:
    svc.accounts.add_user("ben@example.com", PASSWORD)
    first = svc.passes.issue("ben@example.com", staff="it")
    second = svc.passes.issue("ben@example.com", staff="it")
    with pytest.raises(AuthenticationFailed):  # only the latest pass is tried; the first is gone
        AuthFlow(svc, SOURCE).submit_password("ben@example.com", first.text)
    assert AuthFlow(svc, SOURCE).submit_password("ben@example.com", second.text) == (
        Step.MFA_REQUIRED  # has a password, no authenticator: the documented steps
    )
    live = EnrollmentPass.select().where(EnrollmentPass.revoked_at.is_null()).count()
    assert live == 1


def test_a_pass_replaces_a_lost_authenticator_in_one_activation(svc: KioskService) -> None:
    who = enroll(svc, "cam@example.com")
    old_credential = Credential.get().id
    issued = svc.passes.issue("cam@example.com", staff="it")
    flow = AuthFlow(svc, SOURCE)
    assert flow.submit_password("cam@example.com", issued.text) == Step.SELECT_METHOD
    assert flow.progress() == (2, 5)
    flow.back()  # going back from the new device returns to Sign in: nothing changed
    assert flow.step == Step.SIGN_IN and Credential.get().id == old_credential
    _enroll_with_pass(svc, "cam@example.com", issued, new_password=None)
    assert Credential.select().count() == 1 and Credential.get().id != old_credential
    assert AuthFlow(svc, SOURCE).submit_password("cam@example.com", who.password) == (
        Step.ENTER_CODE
    )
    assert [e.detail for e in audit_events("cam@example.com") if e.event == "enrolled"][-1] == (
        "new device after pass"
    )


def test_two_terminals_cannot_both_use_one_pass(svc: KioskService) -> None:
    svc.cohorts.create("c", [passes_person("dee@example.com")], staff="it")
    issued = svc.passes.issue("dee@example.com", staff="it")
    first, second = AuthFlow(svc, SOURCE), AuthFlow(svc, SOURCE)
    for flow in (first, second):
        flow.submit_password("dee@example.com", issued.text)
        flow.create_password(NEW_PASSWORD, NEW_PASSWORD)
        flow.start_setup()
        pending = flow.choose_method(Method.AUTHENTICATOR_APP)
        flow.continue_to_code()
        flow.verify_setup_code(totp.code_at_step(pending.secret, totp.current_step(svc.ctx.clock)))
    first.finish_enrollment(saved=True)
    with pytest.raises(KioskError):
        second.finish_enrollment(saved=True)
    assert Credential.select().count() == 1


def test_a_pass_expiring_before_the_enrollment_is_saved_saves_nothing(
    svc: KioskService, clock: FakeClock
) -> None:
    svc.cohorts.create("c", [passes_person("eve@example.com")], staff="it")
    issued = svc.passes.issue("eve@example.com", valid=timedelta(minutes=2), staff="it")
    flow = AuthFlow(svc, SOURCE)
    flow.submit_password("eve@example.com", issued.text)
    flow.create_password(NEW_PASSWORD, NEW_PASSWORD)
    flow.start_setup()
    pending = flow.choose_method(Method.AUTHENTICATOR_APP)
    flow.continue_to_code()
    flow.verify_setup_code(totp.code_at_step(pending.secret, totp.current_step(svc.ctx.clock)))
    clock.advance(121)
    with pytest.raises(PassRefusedError) as refused:
        flow.finish_enrollment(saved=True)
    assert str(refused.value) == passes.NO_LONGER_VALID_MESSAGE
    assert not Credential.select().exists() and Account.get().password_hash == ""


def test_create_your_password_checks_twice_and_the_policy(svc: KioskService) -> None:
    svc.cohorts.create("c", [passes_person("fay@example.com")], staff="it")
    issued = svc.passes.issue("fay@example.com", staff="it")
    flow = AuthFlow(svc, SOURCE)
    flow.submit_password("fay@example.com", issued.text)
    with pytest.raises(PasswordPolicyError):
        flow.create_password(NEW_PASSWORD, NEW_PASSWORD + "x")
    with pytest.raises(PasswordPolicyError) as short:
        flow.create_password("short", "short")
    assert "8" in str(short.value) and short.value.params == {"count": 8}
    assert flow.step == Step.CREATE_PASSWORD
    flow.back()
    assert flow.step == Step.SIGN_IN and Account.get().password_hash == ""


def test_wrong_passes_count_toward_the_same_lock(svc: KioskService) -> None:
    svc.accounts.add_user("gus@example.com", PASSWORD)
    issued = svc.passes.issue("gus@example.com", staff="it")
    wrong = "ZZZZZ-ZZZZZ" if issued.text != "ZZZZZ-ZZZZZ" else "YYYYY-YYYYY"
    limit = svc.settings.security.max_failed_attempts
    for _ in range(limit - 1):
        with pytest.raises(AuthenticationFailed):
            AuthFlow(svc, SOURCE).submit_password("gus@example.com", wrong)
    with pytest.raises(AccountLockedError):
        AuthFlow(svc, SOURCE).submit_password("gus@example.com", wrong)
    with pytest.raises(AccountLockedError):  # the right pass is refused while locked
        AuthFlow(svc, SOURCE).submit_password("gus@example.com", issued.text)


def test_passes_are_only_issued_for_existing_accounts_and_never_logged(
    svc: KioskService, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(KioskError):
        svc.passes.issue("nobody@example.com", staff="it")
    svc.accounts.add_user("hal@example.com", PASSWORD)
    issued = svc.passes.issue("hal@example.com", staff="it")
    assert issued.text not in repr(issued)
    rows = " ".join(f"{e.event} {e.source} {e.detail}" for e in audit_events())
    assert issued.text not in rows and passes.normalize(issued.text) not in rows
    assert issued.text not in caplog.text


def passes_person(email: str):  # noqa: ANN201 - a small helper for readability
    from kiosk.core.cohorts import NewPerson

    return NewPerson(email)
