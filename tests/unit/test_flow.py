"""The enrollment / sign-in / recovery flow: transitions, order, abandonment, back, concurrency."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kiosk.core import recovery, totp
from kiosk.core.flow import AuthFlow, Method, Step
from kiosk.core.service import KioskService
from kiosk.errors import (
    ConcurrentChangeError,
    FlowError,
    InvalidCodeError,
    InvalidRecoveryCodeError,
    RecoveryCodeNotSavedError,
)
from kiosk.store.models import Account, Credential, RecoveryCode

from .conftest import (
    PASSWORD,
    SOURCE,
    Enrolled,
    FakeClock,
    audit_events,
    dump_tables,
    enroll,
    recover,
)


def test_every_transition_of_a_first_enrollment(svc: KioskService, clock: FakeClock) -> None:
    svc.accounts.add_user("bob@example.com", PASSWORD)
    flow = AuthFlow(svc, SOURCE)
    assert flow.step == Step.SIGN_IN and flow.progress() is None
    assert flow.submit_password("bob@example.com", PASSWORD) == Step.MFA_REQUIRED
    assert flow.progress() == (2, 6)
    assert flow.start_setup() == Step.SELECT_METHOD
    pending = flow.choose_method(Method.AUTHENTICATOR_APP)
    assert flow.step == Step.SCAN_QR and flow.pending_secret is pending
    assert pending.account_name == "bob@example.com" and pending.issuer == "Procore"
    assert pending.uri == totp.provisioning_uri(pending.secret, "bob@example.com", "Procore")
    assert pending.secret not in repr(pending)
    assert flow.continue_to_code() == Step.ENTER_SETUP_CODE
    assert flow.progress() == (5, 6)
    shown = flow.verify_setup_code(totp.code_at_step(pending.secret, clock.step))
    assert flow.step == Step.SAVE_RECOVERY_CODE
    assert shown == flow.recovery_code_for_display
    assert not Credential.select().exists()  # nothing written before the acknowledgement
    assert flow.finish_enrollment(saved=True) == Step.SIGNED_IN
    assert flow.pending_secret is None and flow.recovery_code_for_display is None
    assert Credential.select().count() == 1
    assert RecoveryCode.get().code_hash.startswith("$argon2id$")
    user = next(svc.accounts.iter_users())
    assert user.enrolled and user.enrolled_at is not None and user.last_sign_in is not None
    events = [e.event for e in audit_events("bob@example.com")]
    assert events[-2:] == ["enrolled", "sign_in_ok"]


def test_returning_sign_in(svc: KioskService, clock: FakeClock) -> None:
    who = enroll(svc, "bob@example.com")
    clock.advance(30)
    flow = AuthFlow(svc, SOURCE)
    assert flow.submit_password(who.email, who.password) == Step.ENTER_CODE
    assert flow.progress() == (2, 2)
    assert flow.submit_code(totp.code_at_step(who.secret, clock.step)) == Step.SIGNED_IN


def test_setup_code_must_match_the_new_secret(svc: KioskService, clock: FakeClock) -> None:
    svc.accounts.add_user("bob@example.com", PASSWORD)
    flow = AuthFlow(svc, SOURCE)
    flow.submit_password("bob@example.com", PASSWORD)
    flow.start_setup()
    pending = flow.choose_method(Method.AUTHENTICATOR_APP)
    flow.continue_to_code()
    near = {totp.code_at_step(pending.secret, clock.step + d) for d in (-1, 0, 1)}
    wrong = next(f"{n:06d}" for n in range(10**6) if f"{n:06d}" not in near)
    with pytest.raises(InvalidCodeError):
        flow.verify_setup_code(wrong)
    with pytest.raises(InvalidCodeError):
        flow.verify_setup_code("１２３４５６")
    assert flow.step == Step.ENTER_SETUP_CODE
    flow.verify_setup_code(totp.code_at_step(pending.secret, clock.step))
    assert flow.step == Step.SAVE_RECOVERY_CODE


def test_secrets_differ_between_attempts_and_accounts(svc: KioskService) -> None:
    a = enroll(svc, "a@example.com")
    b = enroll(svc, "b@example.com")
    assert a.secret != b.secret and a.recovery_code != b.recovery_code


# ------------------------------------------------------------------------------ order
def _at(svc: KioskService, clock: FakeClock, step: Step) -> AuthFlow:
    """A flow for a fresh (or enrolled) account standing at `step`."""
    if step in (Step.ENTER_CODE, Step.ENTER_RECOVERY_CODE):
        who = enroll(svc, "carol@example.com")
        flow = AuthFlow(svc, SOURCE)
        flow.submit_password(who.email, who.password)
        if step == Step.ENTER_RECOVERY_CODE:
            flow.use_recovery_code()
        return flow
    svc.accounts.add_user("dave@example.com", PASSWORD)
    flow = AuthFlow(svc, SOURCE)
    if step == Step.SIGN_IN:
        return flow
    flow.submit_password("dave@example.com", PASSWORD)
    if step == Step.MFA_REQUIRED:
        return flow
    flow.start_setup()
    _new_device_until(flow, clock, step)
    if step == Step.SIGNED_IN:
        flow.finish_enrollment(saved=True)
    return flow


ACTIONS: dict[str, tuple[Step, Callable[[AuthFlow], object]]] = {
    "submit_password": (Step.SIGN_IN, lambda f: f.submit_password("dave@example.com", PASSWORD)),
    "start_setup": (Step.MFA_REQUIRED, lambda f: f.start_setup()),
    "choose_method": (Step.SELECT_METHOD, lambda f: f.choose_method(Method.AUTHENTICATOR_APP)),
    "continue_to_code": (Step.SCAN_QR, lambda f: f.continue_to_code()),
    "verify_setup_code": (Step.ENTER_SETUP_CODE, lambda f: f.verify_setup_code("123456")),
    "finish_enrollment": (Step.SAVE_RECOVERY_CODE, lambda f: f.finish_enrollment(saved=True)),
    "submit_code": (Step.ENTER_CODE, lambda f: f.submit_code("123456")),
    "use_recovery_code": (Step.ENTER_CODE, lambda f: f.use_recovery_code()),
    "submit_recovery_code": (
        Step.ENTER_RECOVERY_CODE,
        lambda f: f.submit_recovery_code("00000-00000-00000-00000-00000"),
    ),
}


@pytest.mark.parametrize(
    "at",
    [
        Step.SIGN_IN,
        Step.MFA_REQUIRED,
        Step.SCAN_QR,
        Step.SAVE_RECOVERY_CODE,
        Step.ENTER_CODE,
        Step.SIGNED_IN,
    ],
)
def test_wrong_order_calls_raise_flow_error(svc: KioskService, clock: FakeClock, at: Step) -> None:
    flow = _at(svc, clock, at)
    before = dump_tables()
    for name, (allowed, action) in ACTIONS.items():
        if allowed == at:
            continue
        with pytest.raises(FlowError):
            action(flow)
        assert flow.step == at, name
    assert dump_tables() == before


def test_finishing_without_saved_changes_nothing(svc: KioskService, clock: FakeClock) -> None:
    flow = _at(svc, clock, Step.SAVE_RECOVERY_CODE)
    shown = flow.recovery_code_for_display
    before = dump_tables()
    with pytest.raises(RecoveryCodeNotSavedError):
        flow.finish_enrollment(saved=False)
    assert dump_tables() == before
    assert flow.step == Step.SAVE_RECOVERY_CODE and flow.recovery_code_for_display == shown
    flow.finish_enrollment(saved=True)
    assert Credential.select().count() == 1


# ------------------------------------------------------------------------------ abandoning
def _enrolment_until(svc: KioskService, clock: FakeClock, stop: Step) -> AuthFlow:
    flow = AuthFlow(svc, SOURCE)
    flow.submit_password("erin@example.com", PASSWORD)
    if stop == Step.MFA_REQUIRED:
        return flow
    flow.start_setup()
    return _new_device_until(flow, clock, stop)


@pytest.mark.parametrize(
    "stop",
    [
        Step.MFA_REQUIRED,
        Step.SELECT_METHOD,
        Step.SCAN_QR,
        Step.ENTER_SETUP_CODE,
        Step.SAVE_RECOVERY_CODE,
    ],
)
def test_abandoning_a_first_enrollment_changes_nothing(
    svc: KioskService, clock: FakeClock, stop: Step
) -> None:
    svc.accounts.add_user("erin@example.com", PASSWORD)
    before = dump_tables()
    flow = _enrolment_until(svc, clock, stop)
    assert flow.step == stop
    del flow  # the person walks away
    assert dump_tables() == before
    assert not next(svc.accounts.iter_users()).enrolled
    # the next person at the terminal starts from scratch and can enroll
    enroll(svc, "erin@example.com", add=False)


def _recovery_until(svc: KioskService, clock: FakeClock, who: Enrolled, stop: Step) -> AuthFlow:
    flow = AuthFlow(svc, SOURCE)
    flow.submit_password(who.email, who.password)
    if stop == Step.ENTER_CODE:
        return flow
    flow.use_recovery_code()
    if stop == Step.ENTER_RECOVERY_CODE:
        return flow
    flow.submit_recovery_code(who.recovery_code)
    return _new_device_until(flow, clock, stop)


def _new_device_until(flow: AuthFlow, clock: FakeClock, stop: Step) -> AuthFlow:
    """The steps both routes share, from Select an Authentication Method up to `stop`."""
    if stop == Step.SELECT_METHOD:
        return flow
    pending = flow.choose_method(Method.AUTHENTICATOR_APP)
    if stop == Step.SCAN_QR:
        return flow
    flow.continue_to_code()
    if stop == Step.ENTER_SETUP_CODE:
        return flow
    flow.verify_setup_code(totp.code_at_step(pending.secret, clock.step))
    return flow


@pytest.mark.parametrize(
    "stop",
    [
        Step.ENTER_CODE,
        Step.ENTER_RECOVERY_CODE,
        Step.SELECT_METHOD,
        Step.SCAN_QR,
        Step.ENTER_SETUP_CODE,
        Step.SAVE_RECOVERY_CODE,
    ],
)
def test_abandoning_a_recovery_keeps_the_old_device_and_code(
    svc: KioskService, clock: FakeClock, stop: Step
) -> None:
    who = enroll(svc, "frank@example.com")
    clock.advance(30)
    before = dump_tables()
    flow = _recovery_until(svc, clock, who, stop)
    assert flow.step == stop and flow.recovering == (
        stop not in (Step.ENTER_CODE, Step.ENTER_RECOVERY_CODE)
    )
    del flow
    assert dump_tables() == before
    # the old device still signs in, and the old recovery code still works
    clock.advance(30)
    sign_in = AuthFlow(svc, SOURCE)
    sign_in.submit_password(who.email, who.password)
    sign_in.submit_code(totp.code_at_step(who.secret, clock.step))
    assert sign_in.step == Step.SIGNED_IN
    recover(svc, who)


def test_abandoning_keeps_the_audit_trail_only(svc: KioskService, clock: FakeClock) -> None:
    """Walking away writes no audit row: nothing happened to the account."""
    svc.accounts.add_user("erin@example.com", PASSWORD)
    count = len(audit_events())
    _enrolment_until(svc, clock, Step.SAVE_RECOVERY_CODE)
    assert len(audit_events()) == count


# ------------------------------------------------------------------------------ back
def test_back_from_each_step_of_an_enrollment(svc: KioskService, clock: FakeClock) -> None:
    svc.accounts.add_user("erin@example.com", PASSWORD)
    before = dump_tables()
    expected = {
        Step.MFA_REQUIRED: Step.SIGN_IN,
        Step.SELECT_METHOD: Step.MFA_REQUIRED,
        Step.SCAN_QR: Step.SELECT_METHOD,
        Step.ENTER_SETUP_CODE: Step.SCAN_QR,
        Step.SAVE_RECOVERY_CODE: Step.ENTER_SETUP_CODE,
    }
    for stop, previous in expected.items():
        flow = _enrolment_until(svc, clock, stop)
        assert flow.back() == previous, stop
        assert flow.step == previous
        if previous in (Step.SIGN_IN, Step.SELECT_METHOD):
            assert flow.pending_secret is None
        assert flow.recovery_code_for_display is None
        if previous == Step.SIGN_IN:
            assert flow.email is None
    assert dump_tables() == before
    assert AuthFlow(svc, SOURCE).back() == Step.SIGN_IN


def test_back_from_save_recovery_code_refuses_the_same_setup_code(
    svc: KioskService, clock: FakeClock
) -> None:
    svc.accounts.add_user("erin@example.com", PASSWORD)
    flow = _enrolment_until(svc, clock, Step.ENTER_SETUP_CODE)
    pending = flow.pending_secret
    assert pending is not None
    code = totp.code_at_step(pending.secret, clock.step)
    first = flow.verify_setup_code(code)
    flow.back()
    with pytest.raises(InvalidCodeError):
        flow.verify_setup_code(code)
    clock.advance(30)
    second = flow.verify_setup_code(totp.code_at_step(pending.secret, clock.step))
    assert second != first  # a new recovery code: the one shown before was never saved
    flow.finish_enrollment(saved=True)
    assert flow.step == Step.SIGNED_IN


def test_back_from_each_step_of_a_recovery(svc: KioskService, clock: FakeClock) -> None:
    who = enroll(svc, "frank@example.com")
    before = dump_tables()
    expected = {
        Step.ENTER_CODE: Step.SIGN_IN,
        Step.ENTER_RECOVERY_CODE: Step.ENTER_CODE,
        Step.SELECT_METHOD: Step.ENTER_RECOVERY_CODE,
        Step.SCAN_QR: Step.SELECT_METHOD,
    }
    for stop, previous in expected.items():
        flow = _recovery_until(svc, clock, who, stop)
        assert flow.back() == previous
        if stop == Step.SELECT_METHOD:
            assert not flow.recovering
            # going back out of recovery means the code must be entered again
            with pytest.raises(FlowError):
                flow.choose_method(Method.AUTHENTICATOR_APP)
    assert dump_tables() == before


def test_signed_in_and_sign_in_do_not_go_back(svc: KioskService, clock: FakeClock) -> None:
    flow = _at(svc, clock, Step.SIGNED_IN)
    assert flow.back() == Step.SIGNED_IN
    flow.reset()
    assert flow.step == Step.SIGN_IN and flow.email is None


# ------------------------------------------------------------------------------ recovery
def test_recovery_consumes_the_old_code_and_issues_a_new_one(
    svc: KioskService, clock: FakeClock
) -> None:
    who = enroll(svc, "frank@example.com")
    clock.advance(30)
    flow, new = recover(svc, who)
    assert flow.step == Step.SIGNED_IN
    assert new.recovery_code != who.recovery_code and new.secret != who.secret
    events = [e.event for e in audit_events(who.email)]
    assert "recovery_used" in events and events.count("enrolled") == 2
    # the old code is refused, the old device is gone, the new ones work
    clock.advance(30)
    old = AuthFlow(svc, SOURCE)
    old.submit_password(who.email, who.password)
    with pytest.raises(InvalidCodeError):
        old.submit_code(totp.code_at_step(who.secret, clock.step))
    old.use_recovery_code()
    with pytest.raises(InvalidRecoveryCodeError):
        old.submit_recovery_code(who.recovery_code)
    sign_in = AuthFlow(svc, SOURCE)
    sign_in.submit_password(who.email, who.password)
    sign_in.submit_code(totp.code_at_step(new.secret, clock.step))
    assert sign_in.step == Step.SIGNED_IN
    clock.advance(30)
    recover(svc, new)


def test_recovery_code_entry_forms(svc: KioskService, clock: FakeClock) -> None:
    who = enroll(svc, "frank@example.com")
    canonical = recovery.parse(who.recovery_code)
    messy = " ".join(canonical.lower()[i : i + 3] for i in range(0, 25, 3))
    flow = AuthFlow(svc, SOURCE)
    flow.submit_password(who.email, who.password)
    flow.use_recovery_code()
    assert flow.submit_recovery_code(messy) == Step.SELECT_METHOD


def test_recovery_code_is_single_use_by_compare_and_set(
    svc: KioskService, clock: FakeClock
) -> None:
    """Two terminals both accept the recovery code; only the first to finish wins."""
    who = enroll(svc, "frank@example.com")
    flows = []
    for _ in range(2):
        flow = AuthFlow(svc, SOURCE)
        flow.submit_password(who.email, who.password)
        flow.use_recovery_code()
        flow.submit_recovery_code(who.recovery_code)
        pending = flow.choose_method(Method.AUTHENTICATOR_APP)
        flow.continue_to_code()
        flow.verify_setup_code(totp.code_at_step(pending.secret, clock.step))
        flows.append(flow)
    flows[0].finish_enrollment(saved=True)
    after_first = dump_tables()
    with pytest.raises((ConcurrentChangeError, InvalidRecoveryCodeError)):
        flows[1].finish_enrollment(saved=True)
    assert dump_tables() == after_first


# ------------------------------------------------------------------------------ concurrency
def test_two_terminals_enrolling_one_account(svc: KioskService, clock: FakeClock) -> None:
    svc.accounts.add_user("gina@example.com", PASSWORD)
    first = _enrolment_until_for(svc, clock, "gina@example.com")
    second = _enrolment_until_for(svc, clock, "gina@example.com")
    first.finish_enrollment(saved=True)
    snapshot = dump_tables()
    with pytest.raises(ConcurrentChangeError) as info:
        second.finish_enrollment(saved=True)
    assert "another terminal" in str(info.value)
    assert dump_tables() == snapshot
    assert Credential.select().count() == 1


def _enrolment_until_for(svc: KioskService, clock: FakeClock, email: str) -> AuthFlow:
    flow = AuthFlow(svc, SOURCE)
    flow.submit_password(email, PASSWORD)
    flow.start_setup()
    pending = flow.choose_method(Method.AUTHENTICATOR_APP)
    flow.continue_to_code()
    flow.verify_setup_code(totp.code_at_step(pending.secret, clock.step))
    return flow


def test_admin_reset_during_a_pending_enrollment(svc: KioskService, clock: FakeClock) -> None:
    who = enroll(svc, "hank@example.com")
    clock.advance(30)
    flow = AuthFlow(svc, SOURCE)
    flow.submit_password(who.email, who.password)
    flow.use_recovery_code()
    flow.submit_recovery_code(who.recovery_code)
    pending = flow.choose_method(Method.AUTHENTICATOR_APP)
    flow.continue_to_code()
    flow.verify_setup_code(totp.code_at_step(pending.secret, clock.step))
    svc.accounts.reset_mfa(who.email)
    snapshot = dump_tables()
    with pytest.raises(ConcurrentChangeError):
        flow.finish_enrollment(saved=True)
    assert dump_tables() == snapshot
    assert not next(svc.accounts.iter_users()).enrolled
    # the person signs in again and is asked to set up a new device
    assert AuthFlow(svc, SOURCE).submit_password(who.email, who.password) == Step.MFA_REQUIRED


def test_admin_reset_during_a_first_enrollment(svc: KioskService, clock: FakeClock) -> None:
    svc.accounts.add_user("gina@example.com", PASSWORD)
    flow = _enrolment_until_for(svc, clock, "gina@example.com")
    svc.accounts.reset_mfa("gina@example.com")
    with pytest.raises(ConcurrentChangeError):
        flow.finish_enrollment(saved=True)
    assert not Credential.select().exists() and not RecoveryCode.select().exists()


def test_account_removed_during_a_sign_in(svc: KioskService, clock: FakeClock) -> None:
    who = enroll(svc, "ivy@example.com")
    flow = AuthFlow(svc, SOURCE)
    flow.submit_password(who.email, who.password)
    svc.accounts.remove_user(who.email)
    with pytest.raises(ConcurrentChangeError):
        flow.submit_code(totp.code_at_step(who.secret, clock.step + 1))
    assert not Account.select().exists() and not Credential.select().exists()


@pytest.mark.parametrize(
    "admin_change",
    [
        lambda svc, email: svc.accounts.set_password(email, "a new password 2"),
        lambda svc, email: svc.accounts.reset_mfa(email),
        lambda svc, email: svc.accounts.remove_user(email),
    ],
    ids=["set-password", "reset-mfa", "remove"],
)
@pytest.mark.parametrize("stop", [Step.SELECT_METHOD, Step.SAVE_RECOVERY_CODE])
def test_an_admin_change_ends_every_enrollment_in_progress(
    svc: KioskService,
    clock: FakeClock,
    admin_change: Callable[[KioskService, str], object],
    stop: Step,
) -> None:
    """A flow that started before `users set-password`, `reset-mfa` or `remove` cannot activate
    afterwards: the person proved a password (and device) the account no longer has."""
    svc.accounts.add_user("erin@example.com", PASSWORD)
    flow = _enrolment_until(svc, clock, Step.SELECT_METHOD)
    if stop == Step.SAVE_RECOVERY_CODE:
        flow = _new_device_until(flow, clock, stop)
    admin_change(svc, "erin@example.com")
    before = dump_tables()
    with pytest.raises((ConcurrentChangeError, FlowError)):
        if stop == Step.SELECT_METHOD:
            _new_device_until(flow, clock, Step.SAVE_RECOVERY_CODE)
        flow.finish_enrollment(saved=True)
    assert dump_tables() == before
    assert Credential.select().count() == 0
