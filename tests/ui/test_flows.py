"""Pilot tests: every screen and path of the kiosk, against the real service on a SQLite file."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from textual.widgets import Button, Checkbox, Input, RadioButton

from kiosk.core.flow import AuthFlow, Step
from kiosk.core.service import KioskService
from kiosk.errors import KioskError
from kiosk.ui.app import KioskApp
from kiosk.ui.screens.enter_code import EnterCodeScreen
from kiosk.ui.screens.enter_setup_code import EnterSetupCodeScreen
from kiosk.ui.screens.error import ErrorScreen
from kiosk.ui.screens.mfa_required import MfaRequiredScreen
from kiosk.ui.screens.save_recovery_code import RecoveryQRModal, SaveRecoveryCodeScreen
from kiosk.ui.screens.secure_account import ManualKeyModal, SecureAccountScreen
from kiosk.ui.screens.select_method import SelectMethodScreen
from kiosk.ui.screens.sign_in import SignInScreen
from kiosk.ui.screens.signed_in import SignedInScreen
from kiosk.ui.screens.use_recovery_code import UseRecoveryCodeScreen
from kiosk.ui.widgets.header import StepHeader
from kiosk.ui.widgets.qr import QRCode
from kiosk.ui.widgets.status import IdleWarning, StatusLine
from tests.support.qr_decode import decode_cells, textual_cells
from tests.ui.conftest import (
    EMAIL,
    PASSWORD,
    current_code,
    enroll,
    kiosk_log,
    make_app,
    next_code,
    run,
    settle,
    sign_in,
    type_into,
    wait_until,
)

SIZE = (80, 24)


def status_text(app: KioskApp) -> str:
    return app.screen.query_one(StatusLine).text


def header(app: KioskApp) -> StepHeader:
    return app.screen.query_one(StepHeader)


async def press_button(pilot: Any, button_id: str) -> None:
    await pilot.click(f"#{button_id}")
    await settle(pilot)


async def walk_to_setup_code(pilot: Any) -> str:
    """Sign in → Set Up Now → Authenticator App → Continue (QR) → Continue; returns the secret."""
    app: KioskApp = pilot.app
    await sign_in(pilot)
    await pilot.press("enter")  # Set Up Now has the focus
    await settle(pilot)
    await pilot.press("enter")  # Continue has the focus, Authenticator App is selected
    await settle(pilot)
    assert isinstance(app.screen, SecureAccountScreen)
    secret = app.flow.pending_secret.secret
    await pilot.press("enter")  # Continue
    await settle(pilot)
    assert isinstance(app.screen, EnterSetupCodeScreen)
    return secret


async def finish_saving(pilot: Any) -> None:
    await pilot.click("#saved")
    await pilot.pause()
    assert "✔" in str(pilot.app.screen.query_one("#saved", Checkbox).render())
    await pilot.click("#continue")
    await settle(pilot)


# ---------------------------------------------------------------------------- first enrollment
def test_first_enrollment_walks_every_screen(ui_service: KioskService) -> None:
    app = make_app(ui_service, demo_hint="Demo account: pat.lee@example.com")

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            # Sign in: the organisation, Email (focused), masked Password, Continue, the hint.
            assert isinstance(app.screen, SignInScreen)
            assert "Procore" in header(app).organization
            assert app.screen.query_one("#password", Input).password is True
            assert app.screen.query_one(".demo-hint").content == "Demo account: pat.lee@example.com"
            await sign_in(pilot)

            assert isinstance(app.screen, MfaRequiredScreen)
            assert header(app).title == "Two-Factor Authentication Required"
            assert header(app).progress_text == "Step 2 of 6 · Esc: back"
            assert app.focused is app.screen.query_one("#set-up", Button)
            assert str(app.focused.label) == "Set Up Now"
            await pilot.press("enter")
            await settle(pilot)

            assert isinstance(app.screen, SelectMethodScreen)
            assert header(app).title == "Select an Authentication Method"
            option = app.screen.query_one("#authenticator-app", RadioButton)
            assert str(option.label) == "Authenticator App" and option.value is True
            await press_button(pilot, "continue")

            assert isinstance(app.screen, SecureAccountScreen)
            assert header(app).title == "Secure your Account"
            assert header(app).progress_text.startswith("Step 4 of 6")
            pending = app.flow.pending_secret
            assert app.screen.query_one("#qr", QRCode).data == pending.uri
            assert app.focused is app.screen.query_one("#continue", Button)

            # Trouble Scanning?: the key in groups of four, account, issuer, time-based, Copy.
            await press_button(pilot, "trouble-scanning")
            assert isinstance(app.screen, ManualKeyModal)
            shown = app.screen.query_one("#manual-key").content
            assert shown == pending.grouped_key and shown.split(" ")[0] == pending.secret[:4]
            details = str(app.screen.query_one(".key-details").content)
            assert EMAIL in details and "Procore" in details and "Time-based" in details
            await press_button(pilot, "copy-key")
            assert app.clipboard == pending.secret and " " not in app.clipboard
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, SecureAccountScreen)
            await press_button(pilot, "continue")

            # Enter the 6-digit code: digits only, six.
            assert isinstance(app.screen, EnterSetupCodeScreen)
            code_field = app.screen.query_one("#code", Input)
            assert code_field.has_focus
            await pilot.press("a", "b", "-", " ")
            assert code_field.value == ""
            await pilot.press(*current_code(pending.secret), "9")
            assert len(code_field.value) == 6
            await pilot.press("enter")
            await settle(pilot)

            # Save Your Recovery Code: shown, Continue gated by the checkbox.
            assert isinstance(app.screen, SaveRecoveryCodeScreen)
            shown_code = app.screen.query_one("#recovery-code").content
            assert shown_code == app.flow.recovery_code_for_display
            assert len(shown_code) == 29 and shown_code.count("-") == 4
            assert app.screen.query_one("#show-qr", Button)  # a terminal: no Download button
            assert not app.screen.query("#download")
            await press_button(pilot, "copy")
            assert app.clipboard == shown_code
            checkbox = app.screen.query_one("#saved", Checkbox)
            assert str(checkbox.label) == "I Have Securely Saved This Code"
            # Ticked or not shows in the glyph itself, not only in its colour.
            assert "✔" not in str(checkbox.render())
            assert app.screen.query_one("#continue", Button).disabled
            await finish_saving(pilot)

            assert isinstance(app.screen, SignedInScreen)
            assert "You're signed in with your authenticator app" in str(
                app.screen.query_one(".success").content
            )
            assert app.flow.pending_secret is None

    run(scenario())
    summary = next(u for u in ui_service.accounts.iter_users() if u.email == EMAIL)
    assert summary.enrolled


def test_show_as_qr_offers_the_recovery_code_as_qr(ui_service: KioskService) -> None:
    app = make_app(ui_service)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            secret = await walk_to_setup_code(pilot)
            await pilot.press(*current_code(secret), "enter")
            await settle(pilot)
            code = app.flow.recovery_code_for_display
            await press_button(pilot, "show-qr")
            assert isinstance(app.screen, RecoveryQRModal)
            assert app.screen.query_one("#recovery-qr", QRCode).data == code
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, SaveRecoveryCodeScreen)

    run(scenario())


def test_checkbox_gate(ui_service: KioskService) -> None:
    app = make_app(ui_service)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            secret = await walk_to_setup_code(pilot)
            await pilot.press(*current_code(secret), "enter")
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, SaveRecoveryCodeScreen)
            continue_button = screen.query_one("#continue", Button)
            assert continue_button.disabled
            await pilot.click("#continue")  # disabled: nothing happens
            await settle(pilot)
            assert app.flow.step == Step.SAVE_RECOVERY_CODE and app.screen is screen
            screen.submit()  # even when asked directly, nothing is saved without the tick
            await settle(pilot)
            assert app.flow.step == Step.SAVE_RECOVERY_CODE
            assert "Securely Saved" in status_text(app)
            await pilot.click("#saved")
            assert not continue_button.disabled
            await pilot.click("#saved")  # unticking turns Continue off again
            assert continue_button.disabled
            await finish_saving(pilot)
            assert isinstance(app.screen, SignedInScreen)

    run(scenario())
    # The core refuses too: a flow cannot finish without saved=True.
    flow = AuthFlow(ui_service, "test")
    with pytest.raises(KioskError):
        flow.finish_enrollment(saved=False)


def test_wrong_code_says_so_and_mentions_the_phone_clock(ui_service: KioskService) -> None:
    app = make_app(ui_service)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            secret = await walk_to_setup_code(pilot)
            right = current_code(secret)
            wrong = f"{(int(right) + 500_000) % 1_000_000:06d}"
            await pilot.press(*wrong, "enter")
            await settle(pilot)
            assert isinstance(app.screen, EnterSetupCodeScreen)
            message = status_text(app)
            assert message.startswith("⚠ ") and "didn't work" in message
            assert "phone's time" in message
            assert wrong not in message
            assert app.screen.query_one("#code", Input).value == ""
            assert app.screen.query_one("#code", Input).has_focus
            await pilot.press("1", "2", "enter")  # too short: refused before any check
            await settle(pilot)
            assert "6 digits" in status_text(app)

    run(scenario())


def test_wrong_password_is_one_generic_message(ui_service: KioskService) -> None:
    app = make_app(ui_service)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot, password="not the password")
            assert isinstance(app.screen, SignInScreen)
            wrong_password = status_text(app)
            assert app.screen.query_one("#password", Input).value == ""
            await type_into(pilot, "#email", "x")  # now nobody@... style unknown account
            await type_into(pilot, "#password", "whatever else")
            await pilot.press("enter")
            await settle(pilot)
            assert status_text(app) == wrong_password
            assert wrong_password.startswith("⚠ ") and "don't match" in wrong_password

    run(scenario())


def test_lockout_message_after_a_run_of_wrong_codes(ui_service: KioskService) -> None:
    account = enroll(ui_service)
    app = make_app(ui_service)
    attempts = ui_service.settings.security.max_failed_attempts

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot)
            assert isinstance(app.screen, EnterCodeScreen)
            right = {current_code(account.secret), next_code(account.secret)}
            wrong = next(f"{n:06d}" for n in range(1000) if f"{n:06d}" not in right)
            for _ in range(attempts):
                await pilot.press(*wrong, "enter")
                await settle(pilot)
            message = status_text(app)
            assert "Too many failed attempts" in message and "try again after" in message
            # Even the right code is now refused until the lock ends.
            await pilot.press(*next_code(account.secret), "enter")
            await settle(pilot)
            assert isinstance(app.screen, EnterCodeScreen)
            assert "Too many failed attempts" in status_text(app)

    run(scenario())


# ---------------------------------------------------------------------------- returning, recovery
def test_returning_sign_in(ui_service: KioskService) -> None:
    account = enroll(ui_service)
    app = make_app(ui_service)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot)
            assert isinstance(app.screen, EnterCodeScreen)
            assert header(app).title == "Enter the 6-digit code"
            assert header(app).progress_text.startswith("Step 2 of 2")
            assert app.screen.query_one("#code", Input).has_focus
            assert str(app.screen.query_one("#use-recovery", Button).label) == "Use a recovery code"
            await pilot.press(*next_code(account.secret), "enter")
            await settle(pilot)
            assert isinstance(app.screen, SignedInScreen)

    run(scenario())


def test_recovery_gives_a_new_device_and_a_new_code(ui_service: KioskService) -> None:
    old = enroll(ui_service)
    app = make_app(ui_service)

    async def scenario() -> tuple[str, str]:
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot)
            await press_button(pilot, "use-recovery")
            assert isinstance(app.screen, UseRecoveryCodeScreen)
            assert header(app).title == "Use Your Recovery Code"
            field = app.screen.query_one("#recovery-code", Input)
            assert field.has_focus
            await pilot.press(*old.recovery_code.lower(), "enter")  # case does not matter
            await settle(pilot)
            assert isinstance(app.screen, SelectMethodScreen)
            assert "recovery code was accepted" in str(app.screen.query_one(".notice").content)
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, SecureAccountScreen)
            new_secret = app.flow.pending_secret.secret
            assert new_secret != old.secret
            await pilot.press("enter")
            await settle(pilot)
            await pilot.press(*current_code(new_secret), "enter")
            await settle(pilot)
            assert isinstance(app.screen, SaveRecoveryCodeScreen)
            new_code = app.flow.recovery_code_for_display
            assert new_code != old.recovery_code
            await finish_saving(pilot)
            assert isinstance(app.screen, SignedInScreen)
            await pilot.press("x")  # leave: the kiosk is ready for the next person
            await settle(pilot)
            assert isinstance(app.screen, SignInScreen)

            # The old recovery code is now refused.
            await sign_in(pilot)
            await press_button(pilot, "use-recovery")
            await pilot.press(*old.recovery_code, "enter")
            await settle(pilot)
            assert isinstance(app.screen, UseRecoveryCodeScreen)
            assert "isn't valid" in status_text(app)
            return new_secret, new_code

    new_secret, _ = run(scenario())
    # The new device works for a returning sign-in; the old one does not.
    flow = AuthFlow(ui_service, "test")
    flow.submit_password(EMAIL, PASSWORD)
    with pytest.raises(KioskError):
        flow.submit_code(next_code(old.secret))
    flow.submit_code(next_code(new_secret))
    assert flow.step == Step.SIGNED_IN


# ---------------------------------------------------------------------------- Escape
def test_escape_goes_back_one_step_and_forgets_the_secret(ui_service: KioskService) -> None:
    app = make_app(ui_service)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("escape")  # on Sign in: nowhere further back
            await pilot.pause()
            assert isinstance(app.screen, SignInScreen)
            secret = await walk_to_setup_code(pilot)
            await pilot.press("escape")  # code → Secure your Account, same secret
            await pilot.pause()
            assert isinstance(app.screen, SecureAccountScreen)
            assert app.flow.pending_secret.secret == secret
            await pilot.press("escape")  # → Select a method: the secret is forgotten
            await pilot.pause()
            assert isinstance(app.screen, SelectMethodScreen)
            assert app.flow.pending_secret is None
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, SecureAccountScreen)
            assert app.flow.pending_secret.secret != secret  # a new secret next time
            for expected in (SelectMethodScreen, MfaRequiredScreen, SignInScreen, SignInScreen):
                await pilot.press("escape")
                await pilot.pause()
                assert isinstance(app.screen, expected)
            assert app.flow.email is None
            assert app.screen.query_one("#email", Input).has_focus

    run(scenario())


# ---------------------------------------------------------------------------- busy state, errors
def test_busy_state_while_the_password_is_checked(
    ui_service: KioskService, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    started = threading.Event()
    real_check = ui_service.factors.check_password

    def slow_check(*args: Any, **kwargs: Any) -> Any:
        started.set()
        release.wait(30)
        return real_check(*args, **kwargs)

    monkeypatch.setattr(ui_service.factors, "check_password", slow_check)
    app = make_app(ui_service)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press(*EMAIL, "enter", *PASSWORD, "enter")
            await wait_until(pilot, started.is_set)
            await pilot.pause()
            assert app.screen.query_one("#continue", Button).disabled
            assert status_text(app) == "⧗ Checking…"
            await pilot.press("enter")  # a second submit while busy is ignored
            release.set()
            await settle(pilot)
            assert isinstance(app.screen, MfaRequiredScreen)

    try:
        run(scenario())
    finally:
        release.set()


def test_unexpected_error_shows_a_reference_that_is_logged(
    ui_service: KioskService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database fell over")

    monkeypatch.setattr(ui_service.factors, "check_password", broken)
    app = make_app(ui_service)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot)
            assert isinstance(app.screen, ErrorScreen)
            reference = str(app.screen.query_one("#reference").content)
            assert reference == app.crash_reference and len(reference) == 8
            assert app.flow.step == Step.SIGN_IN and app.flow.email is None
            await press_button(pilot, "start-again")
            assert isinstance(app.screen, SignInScreen)

    with kiosk_log() as log:
        run(scenario())
    logged = log.getvalue()
    assert app.crash_reference in logged and "RuntimeError" in logged
    assert PASSWORD not in logged


# ---------------------------------------------------------------------------- kiosk vs ssh
def test_no_key_quits_in_kiosk_mode(ui_service: KioskService) -> None:
    app = make_app(ui_service, mode="kiosk")

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press(*"pat")
            for key in ("ctrl+c", "ctrl+q", "ctrl+backslash", "ctrl+z"):
                await pilot.press(key)
                await pilot.pause()
                assert app.return_code is None and app.is_running
            assert isinstance(app.screen, SignInScreen)
            assert app.screen.query_one("#email", Input).value == "pat"
            assert app.ENABLE_COMMAND_PALETTE is False

    run(scenario())


def test_ctrl_c_ends_the_session_in_ssh_mode(ui_service: KioskService) -> None:
    app = make_app(ui_service, mode="ssh")

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot)
            await pilot.press("ctrl+c")
            await wait_until(pilot, lambda: app.return_code is not None)

    run(scenario())
    assert app.return_code == 0
    assert app.crash_reference is None


def test_leaving_signed_in_wipes_in_kiosk_mode(service_with: Any) -> None:
    service = service_with(signed_in_timeout=1)
    account = enroll(service)
    app = make_app(service, mode="kiosk")

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot)
            await pilot.press(*next_code(account.secret), "enter")
            await settle(pilot)
            assert isinstance(app.screen, SignedInScreen)
            # Nobody presses anything: after signed_in_timeout the next person's Sign in.
            assert await wait_until(pilot, lambda: isinstance(app.screen, SignInScreen))
            assert app.flow.email is None and app.flow.step == Step.SIGN_IN
            assert app.screen.query_one("#email", Input).value == ""
            assert app.return_code is None

    run(scenario())


def test_a_key_on_signed_in_ends_the_ssh_session(ui_service: KioskService) -> None:
    account = enroll(ui_service)
    app = make_app(ui_service, mode="ssh")

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot)
            await pilot.press(*next_code(account.secret), "enter")
            await settle(pilot)
            assert isinstance(app.screen, SignedInScreen)
            await pilot.press("space")
            await wait_until(pilot, lambda: app.return_code is not None)

    run(scenario())
    assert app.return_code == 0


def test_idle_warning_then_reset_in_kiosk_mode(service_with: Any) -> None:
    service = service_with(idle_timeout=3)
    app = make_app(service, mode="kiosk")

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot)
            await press_button(pilot, "set-up")
            assert isinstance(app.screen, SelectMethodScreen)
            warning = app.screen.query_one(IdleWarning)
            assert await wait_until(pilot, lambda: warning.display)
            text = str(warning.content)
            assert text.startswith("⏰ Still there?") and "press any key" in text
            await pilot.press("shift")  # any key keeps the session
            await pilot.pause()
            assert not warning.display and isinstance(app.screen, SelectMethodScreen)
            # Then nobody touches it: everything is wiped, Sign in returns.
            assert await wait_until(pilot, lambda: isinstance(app.screen, SignInScreen))
            assert app.flow.email is None and app.flow.pending_secret is None
            assert app.return_code is None
            # An untouched Sign in has nothing to wipe: no warning, no rebuild, however long.
            untouched = app.screen
            await pilot.pause(4)
            assert app.screen is untouched and not untouched.query_one(IdleWarning).display

    run(scenario())


def test_idle_ends_the_session_in_ssh_mode(service_with: Any) -> None:
    service = service_with(idle_timeout=2)
    app = make_app(service, mode="ssh")

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot)
            assert isinstance(app.screen, MfaRequiredScreen)
            assert await wait_until(pilot, lambda: app.return_code is not None)

    run(scenario())
    assert app.return_code == 0


def test_stylesheet_ships_as_package_data() -> None:
    from importlib.resources import files
    from pathlib import Path

    sheet = files("kiosk.styles").joinpath("kiosk.tcss")
    assert sheet.is_file()
    assert KioskApp.CSS_PATH is not None and Path(KioskApp.CSS_PATH).samefile(str(sheet))


# ---------------------------------------------------------------------------- the QR's room
LONG_EMAIL = "jordan.alvarez-whitfield@constructco.com"


@pytest.mark.parametrize("organization", ["Procore", "Acme Widgets & Co. X"])
@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_qr_fits_beside_the_instructions_for_a_40_character_email(
    service_with: Any, size: tuple[int, int], organization: str
) -> None:
    assert len(LONG_EMAIL) == 40 and len(organization) <= 20
    service = service_with(organization=organization)
    service.accounts.add_user(LONG_EMAIL, PASSWORD, source="test")
    app = make_app(service)

    async def scenario() -> None:
        async with app.run_test(size=size) as pilot:
            await sign_in(pilot, email=LONG_EMAIL)
            await pilot.press("enter")
            await settle(pilot)
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, SecureAccountScreen)
            qr = app.screen.query_one("#qr", QRCode)
            assert qr.fits is True
            assert qr.data == app.flow.pending_secret.uri
            assert f"issuer={organization.split()[0]}" in qr.compact_data
            # What a phone reads off the whole kiosk screen is this account's secret.
            decoded = decode_cells(textual_cells(app))
            assert decoded in (qr.data, qr.compact_data)
            assert f"secret={app.flow.pending_secret.secret}" in decoded
            # Beside, not above: the instructions and both buttons are on screen too.
            screen_region = app.screen.region
            for selector in ("#trouble-scanning", "#continue"):
                region = app.screen.query_one(selector).region
                assert screen_region.contains_region(region)
                assert region.x >= qr.region.right
            assert screen_region.contains_region(qr.region)

    run(scenario())


def test_download_is_offered_only_in_a_browser_session_of_ones_own(
    ui_service: KioskService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under textual-serve the code is streamed to the browser; nothing is saved on the kiosk."""
    monkeypatch.setattr(KioskApp, "is_web", property(lambda self: True))
    app = make_app(ui_service, mode="ssh")
    delivered: list[tuple[str, dict[str, Any]]] = []

    def deliver_text(file: Any, **kwargs: Any) -> str:
        delivered.append((file.read(), kwargs))
        return "key"

    monkeypatch.setattr(app, "deliver_text", deliver_text)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            secret = await walk_to_setup_code(pilot)
            await pilot.press(*current_code(secret), "enter")
            await settle(pilot)
            assert not app.screen.query("#show-qr")
            await press_button(pilot, "download")
            assert delivered == [
                (
                    f"{app.flow.recovery_code_for_display}\n",
                    {"save_filename": "recovery-code.txt", "mime_type": "text/plain"},
                )
            ]

    run(scenario())


def test_a_shared_kiosk_browser_gets_show_as_qr_not_download(
    ui_service: KioskService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kiosk serve in kiosk mode is a shared browser: a download would stay for the next person."""
    monkeypatch.setattr(KioskApp, "is_web", property(lambda self: True))
    app = make_app(ui_service, mode="kiosk")

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            secret = await walk_to_setup_code(pilot)
            await pilot.press(*current_code(secret), "enter")
            await settle(pilot)
            assert isinstance(app.screen, SaveRecoveryCodeScreen)
            assert not app.screen.query("#download")
            assert app.screen.query_one("#show-qr", Button)

    run(scenario())


def test_a_copied_recovery_code_is_cleared_from_the_clipboard_for_the_next_person(
    ui_service: KioskService,
) -> None:
    app = make_app(ui_service, mode="kiosk")

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            secret = await walk_to_setup_code(pilot)
            await pilot.press(*current_code(secret), "enter")
            await settle(pilot)
            await press_button(pilot, "copy")
            assert app.clipboard == app.flow.recovery_code_for_display
            await finish_saving(pilot)
            assert isinstance(app.screen, SignedInScreen)
            await pilot.press("space")  # leave Signed in: the next person's Sign in
            await settle(pilot)
            assert isinstance(app.screen, SignInScreen)
            assert app.clipboard == ""

    run(scenario())


def test_an_error_textual_catches_itself_shows_no_traceback_or_locals(
    ui_service: KioskService,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Textual prints errors it catches (e.g. while building a screen) as a traceback with local
    variables; the kiosk keeps that away from the person and the log, and knows the type."""
    from kiosk.ui.screens import sign_in

    def broken_compose(self: Any) -> Any:
        typed_password = "correct horse battery staple"  # noqa: F841 - a local a traceback shows
        raise RuntimeError("broken screen")

    monkeypatch.setattr(sign_in.SignInScreen, "compose_card", broken_compose)
    app = make_app(ui_service, mode="ssh")
    app.run(headless=True)
    out, err = capfd.readouterr()
    assert app.return_code == 1
    with kiosk_log() as log:
        reference = app.outcome_after_unhandled_error().crash_reference
    assert reference and f"the app stopped on RuntimeError, reference {reference}" in log.getvalue()
    assert "correct horse" not in log.getvalue()
    for text in (out, err):
        assert "Traceback" not in text and "correct horse" not in text and "locals" not in text


def test_a_code_pasted_with_a_space_lands_as_six_digits(ui_service: KioskService) -> None:
    """Apps show and copy codes as "123 456": the paste must not be refused outright."""
    from textual import events

    app = make_app(ui_service)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await walk_to_setup_code(pilot)
            field = app.screen.query_one("#code", Input)
            field.post_message(events.Paste("123 456\n"))
            await pilot.pause()
            assert field.value == "123456"
            field.value = ""
            field.post_message(events.Paste("１２３ ４５６ 789"))  # full-width digits, too many
            await pilot.pause()
            assert field.value == "123456"

    run(scenario())


def test_fast_typing_after_tab_never_puts_the_password_in_the_email_field(
    ui_service: KioskService,
) -> None:
    """A password manager types "email<Tab>password" faster than the screen handles each key:
    every key after Tab must land in Password, not in plain sight in Email."""
    from textual import events

    app = make_app(ui_service)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            for key in ["a", "@", "b", ".", "c", "o", "tab", "s", "e", "c", "r", "e", "t"]:
                app.post_message(events.Key(key, key if len(key) == 1 else None))
            await pilot.pause()
            await pilot.pause()
            assert app.screen.query_one("#email", Input).value == "a@b.co"
            assert app.screen.query_one("#password", Input).value == "secret"

    run(scenario())


def test_the_idle_warning_never_covers_the_qr_code(service_with: Any) -> None:
    """At 80x24 a long email's QR takes every row below the header: the warning goes over the
    header instead of over the code's bottom rows."""
    service = service_with(idle_timeout=8)
    service.accounts.add_user(LONG_EMAIL, PASSWORD, source="test")
    app = make_app(service, mode="kiosk")

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot, LONG_EMAIL)
            await pilot.press("enter")  # Set Up Now
            await settle(pilot)
            await pilot.press("enter")  # Authenticator App, Continue
            await settle(pilot)
            assert isinstance(app.screen, SecureAccountScreen)
            qr = app.screen.query_one("#qr", QRCode)
            assert qr.region.bottom == SIZE[1], "the code reaches the last row"
            before = (qr.region, qr.quiet_zone, qr.showing_compact)
            warning = app.screen.query_one(IdleWarning)
            assert await wait_until(pilot, lambda: warning.display)
            await pilot.pause()
            assert not warning.region.overlaps(qr.region)
            # Neither moved, shrunk nor swapped for the compact code while someone may be scanning.
            assert (qr.region, qr.quiet_zone, qr.showing_compact) == before
            assert decode_cells(textual_cells(app)) in (qr.data, qr.compact_data)

    run(scenario())


def test_an_email_typed_and_left_on_sign_in_is_wiped(service_with: Any) -> None:
    """Someone typed an address and walked away: the next person must not see it."""
    service = service_with(idle_timeout=3)
    app = make_app(service, mode="kiosk")

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press(*"someone@example.com")
            assert app.screen.query_one("#email", Input).value == "someone@example.com"
            assert await wait_until(
                pilot, lambda: not app.screen.query("#email")
                or app.screen.query_one("#email", Input).value == ""
            )
            await settle(pilot)
            assert isinstance(app.screen, SignInScreen)
            assert app.screen.query_one("#email", Input).value == ""

    run(scenario())


def test_a_bug_in_a_button_handler_shows_the_calm_error_screen(
    ui_service: KioskService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each button has its own `@on(Button.Pressed, "#id")` handler; a bug in one shows the
    error screen with a reference (in the log too) and the kiosk goes on."""

    def broken(self: Any) -> None:
        raise RuntimeError("a bug behind Set Up Now")

    monkeypatch.setattr(MfaRequiredScreen, "submit", broken)
    app = make_app(ui_service)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot)
            assert isinstance(app.screen, MfaRequiredScreen)
            await press_button(pilot, "set-up")
            assert isinstance(app.screen, ErrorScreen)
            assert app.is_running and app.flow.step == Step.SIGN_IN

    with kiosk_log() as log:
        run(scenario())
    assert app.crash_reference and app.crash_reference in log.getvalue()
