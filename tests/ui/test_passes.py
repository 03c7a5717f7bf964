"""Pilot tests: signing in with an enrollment pass, against the real service on a SQLite file.

A person staff added to a cohort has no password: the pass in the Password field leads to
Create Your Password, then the usual enrollment. A person who lost phone and recovery code is
led straight to setting up the new phone. A used pass says so in one calm line on Sign in.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Button, Input, Static

from kiosk.core.accounts import POLICY_TEMPLATE
from kiosk.core.cohorts import NewPerson
from kiosk.core.flow import PASSWORDS_DIFFER_MESSAGE, AuthFlow, Method, Step
from kiosk.core.passes import USED_MESSAGE
from kiosk.core.service import KioskService
from kiosk.errors import InvalidRecoveryCodeError
from kiosk.i18n import _, set_language
from kiosk.store.models import Credential
from kiosk.ui.app import KioskApp
from kiosk.ui.screens.create_password import CreatePasswordScreen
from kiosk.ui.screens.enter_code import EnterCodeScreen
from kiosk.ui.screens.enter_setup_code import EnterSetupCodeScreen
from kiosk.ui.screens.mfa_required import MfaRequiredScreen
from kiosk.ui.screens.save_recovery_code import SaveRecoveryCodeScreen
from kiosk.ui.screens.secure_account import SecureAccountScreen
from kiosk.ui.screens.select_method import SelectMethodScreen
from kiosk.ui.screens.sign_in import SignInScreen
from kiosk.ui.screens.signed_in import SignedInScreen
from kiosk.ui.widgets.header import StepHeader
from kiosk.ui.widgets.status import StatusLine
from tests.ui.conftest import (
    EMAIL,
    current_code,
    enroll,
    make_app,
    next_code,
    run,
    settle,
    sign_in,
    wait_until,
)

SIZE = (80, 24)
NEWCOMER = "sam.ortiz@example.com"
NEW_PASSWORD = "lantern quarry violet"


def status_text(app: KioskApp) -> str:
    return app.screen.query_one(StatusLine).text


def progress(app: KioskApp) -> tuple[int, int] | None:
    return app.screen.query_one(StepHeader).progress


def newcomer_with_pass(service: KioskService) -> str:
    """A cohort member created by staff (no password) and the pass staff read out to them."""
    service.cohorts.create("spring intake", [NewPerson(NEWCOMER)], staff="it")
    return service.passes.issue(NEWCOMER, staff="it").text


async def type_new_password(pilot: Any, first: str, again: str) -> None:
    """Type into both fields as a person would: first field, Enter (moves on), second, Enter."""
    app: KioskApp = pilot.app
    assert app.screen.query_one("#new-password", Input).has_focus
    await pilot.press(*first, "enter")
    assert app.screen.query_one("#password-again", Input).has_focus
    await pilot.press(*again, "enter")
    await settle(pilot)


async def enroll_from_select_method(pilot: Any) -> str:
    """Select an Authentication Method → … → Signed in; returns the new secret."""
    app: KioskApp = pilot.app
    assert isinstance(app.screen, SelectMethodScreen)
    await pilot.press("enter")  # Continue, Authenticator App selected
    await settle(pilot)
    assert isinstance(app.screen, SecureAccountScreen)
    secret = app.flow.pending_secret.secret
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(app.screen, EnterSetupCodeScreen)
    await pilot.press(*current_code(secret), "enter")
    await settle(pilot)
    assert isinstance(app.screen, SaveRecoveryCodeScreen)
    await pilot.click("#saved")
    await pilot.click("#continue")
    await settle(pilot)
    assert isinstance(app.screen, SignedInScreen)
    return secret


def test_a_cohort_member_creates_a_password_with_a_pass_and_enrolls(
    sqlite_service: KioskService,
) -> None:
    the_pass = newcomer_with_pass(sqlite_service)

    async def scenario() -> str:
        app = make_app(sqlite_service)
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot, NEWCOMER, the_pass)
            screen = app.screen
            assert isinstance(screen, CreatePasswordScreen)
            assert progress(app) == (2, 7)
            # The policy is on screen, in the core's words, with the configured length.
            policy = screen.query_one("#policy", Static)
            minimum = sqlite_service.settings.security.password_min_length
            assert str(policy.content) == POLICY_TEMPLATE.format(count=minimum)
            for field in screen.query(Input):
                assert field.password  # typed passwords are never shown

            # Two different passwords: one line, the step stays, both fields to type again.
            await type_new_password(pilot, NEW_PASSWORD, NEW_PASSWORD + "x")
            assert app.screen is screen and app.flow.step == Step.CREATE_PASSWORD
            assert status_text(app) == f"⚠ {PASSWORDS_DIFFER_MESSAGE}"
            assert [field.value for field in screen.query(Input)] == ["", ""]
            assert screen.query_one("#new-password", Input).has_focus
            assert not screen.query_one("#continue", Button).disabled

            # Too short: the policy's own line.
            await type_new_password(pilot, "short", "short")
            assert app.screen is screen
            assert status_text(app) == (f"⚠ The password must have at least {minimum} characters.")

            # Only the first field typed, then Continue: asked for the second, nothing sent.
            await pilot.press(*NEW_PASSWORD)
            await pilot.click("#continue")
            await settle(pilot)
            assert app.screen is screen
            assert "second field" in status_text(app)
            assert screen.query_one("#password-again", Input).has_focus
            await pilot.press(*NEW_PASSWORD, "enter")
            await settle(pilot)

            assert isinstance(app.screen, MfaRequiredScreen)
            assert progress(app) == (3, 7)
            await pilot.press("enter")  # Set Up Now
            await settle(pilot)
            assert progress(app) == (4, 7)
            secret = await enroll_from_select_method(pilot)
        return secret

    secret = run(scenario())
    # The new password now signs in (and the pass is spent): Enter the 6-digit code.
    flow = AuthFlow(sqlite_service, "test")
    assert flow.submit_password(NEWCOMER, NEW_PASSWORD) == Step.ENTER_CODE
    assert flow.submit_code(next_code(secret)) == Step.SIGNED_IN


def test_escape_on_create_your_password_goes_back_to_sign_in(
    sqlite_service: KioskService,
) -> None:
    the_pass = newcomer_with_pass(sqlite_service)

    async def scenario() -> None:
        app = make_app(sqlite_service)
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot, NEWCOMER, the_pass)
            assert isinstance(app.screen, CreatePasswordScreen)
            await pilot.press(*NEW_PASSWORD)
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, SignInScreen)
            assert app.flow.step == Step.SIGN_IN and app.flow.email is None
            assert all(not field.value for field in app.screen.query(Input))

    run(scenario())


def test_a_used_pass_says_so_in_one_calm_line_on_sign_in(sqlite_service: KioskService) -> None:
    the_pass = newcomer_with_pass(sqlite_service)
    # Someone already used it (through the core, as another kiosk would).
    flow = AuthFlow(sqlite_service, "test")
    flow.submit_password(NEWCOMER, the_pass)
    flow.create_password(NEW_PASSWORD, NEW_PASSWORD)
    flow.start_setup()
    pending = flow.choose_method(Method.AUTHENTICATOR_APP)
    flow.continue_to_code()
    flow.verify_setup_code(current_code(pending.secret))
    flow.finish_enrollment(saved=True)

    async def scenario() -> None:
        app = make_app(sqlite_service)
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot, NEWCOMER, the_pass)
            assert isinstance(app.screen, SignInScreen)
            assert status_text(app) == f"⚠ {USED_MESSAGE}"
            assert app.screen.query_one("#password", Input).value == ""
            assert not app.screen.query_one("#continue", Button).disabled
            assert app.screen.query_one("#password", Input).has_focus

    run(scenario())


def test_a_withdrawn_pass_is_refused_in_the_person_s_language(
    sqlite_service: KioskService,
) -> None:
    the_pass = newcomer_with_pass(sqlite_service)
    sqlite_service.passes.revoke(NEWCOMER, staff="it")

    async def scenario() -> None:
        app = make_app(sqlite_service)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: bool(app.screen.query("#language-es")))
            await pilot.click("#language-es")
            await settle(pilot)
            await sign_in(pilot, NEWCOMER, the_pass)
            assert isinstance(app.screen, SignInScreen)
            set_language("es")
            expected = _("This enrollment pass was withdrawn. Ask IT staff for a new one.")
            assert expected.startswith("Este pase")
            assert status_text(app) == f"⚠ {expected}"

    run(scenario())


def test_a_pass_replaces_a_lost_phone_on_an_enrolled_account(
    ui_service: KioskService,
) -> None:
    old = enroll(ui_service)
    old_credential = Credential.get().id
    the_pass = ui_service.passes.issue(EMAIL, staff="it").text

    async def scenario() -> str:
        app = make_app(ui_service)
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot, EMAIL, the_pass)
            screen = app.screen
            assert isinstance(screen, SelectMethodScreen)
            assert progress(app) == (2, 5)
            notice = " ".join(str(s.content) for s in screen.query(".notice"))
            assert "enrollment pass was accepted" in notice
            assert "recovery code was accepted" not in notice
            return await enroll_from_select_method(pilot)

    new_secret = run(scenario())
    assert Credential.get().id != old_credential  # replaced in the one activation
    flow = AuthFlow(ui_service, "test")
    assert flow.submit_password(EMAIL, "correct horse battery") == Step.ENTER_CODE
    assert flow.submit_code(next_code(new_secret)) == Step.SIGNED_IN
    # The old recovery code is gone with the old phone.
    flow = AuthFlow(ui_service, "test")
    flow.submit_password(EMAIL, "correct horse battery")
    flow.use_recovery_code()
    with pytest.raises(InvalidRecoveryCodeError):
        flow.submit_recovery_code(old.recovery_code)


def test_select_method_after_a_pass_on_an_enrolled_account_escapes_to_sign_in(
    ui_service: KioskService,
) -> None:
    enroll(ui_service)
    the_pass = ui_service.passes.issue(EMAIL, staff="it").text

    async def scenario() -> None:
        app = make_app(ui_service)
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot, EMAIL, the_pass)
            assert isinstance(app.screen, SelectMethodScreen)
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, SignInScreen)
            # The pass was not spent by looking: it still signs in.
            await sign_in(pilot, EMAIL, the_pass)
            assert isinstance(app.screen, SelectMethodScreen)
            assert not isinstance(app.screen, EnterCodeScreen)

    run(scenario())
