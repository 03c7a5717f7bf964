"""The replay guard: a time step, once accepted, is never accepted again, however it is spelled."""

from __future__ import annotations

import pytest

from kiosk.core import totp
from kiosk.core.flow import AuthFlow, Step
from kiosk.core.service import KioskService
from kiosk.errors import InvalidCodeError
from kiosk.store.models import Credential

from .conftest import SOURCE, FakeClock, audit_events, enroll

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _signed_in(svc: KioskService, email: str, password: str, code: str) -> None:
    flow = AuthFlow(svc, SOURCE)
    flow.submit_password(email, password)
    flow.submit_code(code)
    assert flow.step == Step.SIGNED_IN


def _refused(svc: KioskService, email: str, password: str, code: str) -> str:
    flow = AuthFlow(svc, SOURCE)
    flow.submit_password(email, password)
    with pytest.raises(InvalidCodeError) as info:
        flow.submit_code(code)
    assert flow.step == Step.ENTER_CODE
    return str(info.value)


def test_a_code_is_accepted_once(svc: KioskService, clock: FakeClock) -> None:
    who = enroll(svc, "bob@example.com")
    clock.advance(30)
    code = totp.code_at_step(who.secret, clock.step)
    _signed_in(svc, who.email, who.password, code)
    message = _refused(svc, who.email, who.password, code)
    assert "already used" in message
    assert _refused(svc, who.email, who.password, f"{code[:3]} {code[3:]}")
    # full-width digits are not a code at all (and would be the same step if they were)
    assert _refused(svc, who.email, who.password, code.translate(FULL_WIDTH))
    with pytest.raises(InvalidCodeError):
        svc.factors.verify_for_external(who.email, code, source=SOURCE)
    # still refused a little later, while the code is inside the window
    clock.advance(20)
    _refused(svc, who.email, who.password, code)
    assert Credential.get().last_used_step == clock.step
    events = [e.event for e in audit_events(who.email)]
    assert events.count("replay_refused") >= 3
    replay = next(e for e in audit_events(who.email) if e.event == "replay_refused")
    assert replay.source == SOURCE and code not in replay.detail


def test_the_setup_code_cannot_be_replayed_to_sign_in(svc: KioskService, clock: FakeClock) -> None:
    who = enroll(svc, "bob@example.com")
    setup_code = totp.code_at_step(who.secret, clock.step)
    _refused(svc, who.email, who.password, setup_code)


def test_steps_only_increase(svc: KioskService, clock: FakeClock) -> None:
    who = enroll(svc, "bob@example.com")
    clock.advance(60)
    _signed_in(svc, who.email, who.password, totp.code_at_step(who.secret, clock.step))
    # the code of the previous step is still inside the ±1 window, yet refused
    previous = totp.code_at_step(who.secret, clock.step - 1)
    assert totp.matching_step(who.secret, previous, window=1, clock=clock) == clock.step - 1
    _refused(svc, who.email, who.password, previous)
    # the next step's code is accepted (the phone runs a little fast)
    _signed_in(svc, who.email, who.password, totp.code_at_step(who.secret, clock.step + 1))
    # ...after which the current step's code is refused
    _refused(svc, who.email, who.password, totp.code_at_step(who.secret, clock.step))


def test_external_verify_shares_the_guard(svc: KioskService, clock: FakeClock) -> None:
    who = enroll(svc, "bob@example.com")
    clock.advance(30)
    code = totp.code_at_step(who.secret, clock.step)
    svc.factors.verify_for_external(" BOB@example.com", code, source="verify:test")
    _refused(svc, who.email, who.password, code)


def test_replays_count_toward_the_lock(svc: KioskService, clock: FakeClock) -> None:
    who = enroll(svc, "bob@example.com")
    clock.advance(30)
    code = totp.code_at_step(who.secret, clock.step)
    _signed_in(svc, who.email, who.password, code)
    failures = [e for e in audit_events(who.email) if e.event == "sign_in_failed"]
    _refused(svc, who.email, who.password, code)
    after = [e for e in audit_events(who.email) if e.event == "sign_in_failed"]
    assert len(after) == len(failures) + 1
