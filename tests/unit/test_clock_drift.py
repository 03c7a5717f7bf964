"""A wrong code from a phone whose clock is off by minutes is told apart from a typo.

The codes come from oathtool (an independent TOTP implementation), made for time steps away from
the service's clock, as a phone with a wrong clock would make them.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from kiosk.core import totp
from kiosk.core.flow import AuthFlow, Method, Step
from kiosk.core.service import KioskService
from kiosk.errors import InvalidCodeError

from .conftest import PASSWORD, SOURCE, FakeClock, audit_events, enroll


def oathtool_code(secret: str, at: float) -> str:
    """The code oathtool makes for `secret` at the Unix time `at`."""
    program = shutil.which("oathtool")
    assert program, "oathtool is missing: the test command installs it (Debian package oathtool)"
    result = subprocess.run(
        [program, "--totp", "--base32", f"--now=@{int(at)}", secret],
        capture_output=True, text=True, check=True, timeout=30,
    )
    return result.stdout.strip()


def _wrong_code(secret: str, clock: FakeClock) -> str:
    """A code that matches no step within ten minutes either side."""
    near = {totp.code_at_step(secret, clock.step + d) for d in range(-25, 26)}
    return next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in near)


@pytest.mark.parametrize(
    ("steps", "words"),
    [(-8, "about 4 minutes behind"), (-3, "about 2 minutes behind"),
     (3, "about 2 minutes ahead"), (8, "about 4 minutes ahead")],
)
def test_a_sign_in_code_from_a_drifting_phone_names_the_drift(
    svc: KioskService, clock: FakeClock, steps: int, words: str
) -> None:
    who = enroll(svc, "bob@example.com")
    clock.advance(30)
    flow = AuthFlow(svc, SOURCE)
    flow.submit_password(who.email, who.password)
    code = oathtool_code(who.secret, clock.t + steps * totp.PERIOD)
    with pytest.raises(InvalidCodeError) as info:
        flow.submit_code(code)
    assert words in str(info.value) and "automatic date and time" in str(info.value)
    assert flow.step == Step.ENTER_CODE  # never accepted
    failed = [e for e in audit_events(who.email) if e.event == "sign_in_failed"]
    assert failed[-1].detail == f"code; phone clock {steps:+d} steps"
    assert code not in failed[-1].detail


@pytest.mark.parametrize("steps", [-8, 3])
def test_a_setup_code_from_a_drifting_phone_names_the_drift(
    svc: KioskService, clock: FakeClock, steps: int
) -> None:
    svc.accounts.add_user("ann@example.com", PASSWORD)
    flow = AuthFlow(svc, SOURCE)
    flow.submit_password("ann@example.com", PASSWORD)
    flow.start_setup()
    pending = flow.choose_method(Method.AUTHENTICATOR_APP)
    flow.continue_to_code()
    with pytest.raises(InvalidCodeError) as info:
        flow.verify_setup_code(oathtool_code(pending.secret, clock.t + steps * totp.PERIOD))
    direction = "behind" if steps < 0 else "ahead"
    assert f"minutes {direction}" in str(info.value)
    failed = [e for e in audit_events("ann@example.com") if e.event == "sign_in_failed"]
    assert failed[-1].detail == f"setup code; phone clock {steps:+d} steps"
    # the right code (now) still works afterwards
    flow.verify_setup_code(oathtool_code(pending.secret, clock.t))
    assert flow.step == Step.SAVE_RECOVERY_CODE


def test_a_random_wrong_code_gets_the_ordinary_message(svc: KioskService, clock: FakeClock) -> None:
    who = enroll(svc, "cat@example.com")
    flow = AuthFlow(svc, SOURCE)
    flow.submit_password(who.email, who.password)
    with pytest.raises(InvalidCodeError) as info:
        flow.submit_code(_wrong_code(who.secret, clock))
    assert str(info.value) == totp.WRONG_CODE_MESSAGE
    assert audit_events(who.email)[-1].detail == "code"


def test_a_replayed_code_is_still_refused_as_replayed(svc: KioskService, clock: FakeClock) -> None:
    who = enroll(svc, "dan@example.com")
    clock.advance(30)
    code = oathtool_code(who.secret, clock.t)
    first = AuthFlow(svc, SOURCE)
    first.submit_password(who.email, who.password)
    assert first.submit_code(code) == Step.SIGNED_IN
    again = AuthFlow(svc, SOURCE)
    again.submit_password(who.email, who.password)
    with pytest.raises(InvalidCodeError) as info:
        again.submit_code(code)
    assert str(info.value) == totp.REPLAYED_CODE_MESSAGE


def test_drifted_codes_count_toward_the_lock(svc: KioskService, clock: FakeClock) -> None:
    from kiosk.errors import AccountLockedError

    who = enroll(svc, "eve@example.com")
    flow = AuthFlow(svc, SOURCE)
    flow.submit_password(who.email, who.password)
    for k in range(svc.settings.security.max_failed_attempts - 1):
        with pytest.raises(InvalidCodeError):
            flow.submit_code(oathtool_code(who.secret, clock.t - (8 + k) * totp.PERIOD))
    with pytest.raises(AccountLockedError):
        flow.submit_code(oathtool_code(who.secret, clock.t - 15 * totp.PERIOD))
