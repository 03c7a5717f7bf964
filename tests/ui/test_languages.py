"""Languages in the full-screen app: the configured one, the choice on Sign in that lasts one
person's session and goes with the wipe, and messages with values (the lock's time) written as
each language writes them (Babel)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from babel.dates import format_time
from textual.widgets import Button, Input

from kiosk.errors import AccountLockedError
from kiosk.i18n import current_language, localized, set_language
from kiosk.ui.app import KioskApp
from kiosk.ui.screens.mfa_required import MfaRequiredScreen
from kiosk.ui.screens.sign_in import SignInScreen
from kiosk.ui.widgets.header import StepHeader
from kiosk.ui.widgets.status import StatusLine
from tests.ui.conftest import EMAIL, PASSWORD, make_app, run, settle, sign_in

SIZE = (80, 24)


def header(app: KioskApp) -> StepHeader:
    return app.screen.query_one(StepHeader)


def test_the_configured_language_is_the_first_screen_s(
    service_with: Callable[..., Any],
) -> None:
    app = make_app(service_with(language="fr"))

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert header(app).title == "Connexion"
            assert header(app).english_title == "Sign in"
            assert app.screen.query_one("#continue", Button).label.plain == "Continuer"
            assert app.screen.query_one("#language-fr", Button).has_class("-chosen")

    run(scenario())


def test_a_language_chosen_by_keyboard_lasts_the_session_and_goes_with_the_wipe(
    service_with: Callable[..., Any],
) -> None:
    app = make_app(service_with())

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert header(app).title == "Sign in"
            await pilot.press(*EMAIL)
            # Tab: Password, Continue, English, Español — reachable without a mouse.
            await pilot.press("tab", "tab", "tab", "tab")
            assert app.focused is app.screen.query_one("#language-es", Button)
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, SignInScreen)
            assert header(app).title == "Iniciar sesión"
            assert app.screen.query_one("#email", Input).value == EMAIL, "the email stays"
            assert not app.has_nothing_to_wipe(), "a chosen language is the person's to wipe"
            app.screen.query_one("#password", Input).focus()
            await pilot.press(*PASSWORD, "enter")
            await settle(pilot)
            assert isinstance(app.screen, MfaRequiredScreen)
            assert header(app).title == "Autenticación de dos factores obligatoria"
            assert app.screen.query_one("#set-up", Button).label.plain == "Configurar ahora"
            app.end_session()  # the person is done (or gone): the kiosk's next Sign in
            await settle(pilot)
            assert current_language() == "en"
            assert isinstance(app.screen, SignInScreen)
            assert header(app).title == "Sign in"

    run(scenario())


@pytest.mark.parametrize("language", ["en", "es", "fr"])
def test_the_lock_s_time_is_written_as_the_language_writes_it(
    language: str, service_with: Callable[..., Any]
) -> None:
    service = service_with(language=language)
    app = make_app(service)
    attempts = service.settings.security.max_failed_attempts

    async def scenario() -> str:
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot, password="not the password")
            for _ in range(attempts - 1):  # the password field is cleared and focused again
                await pilot.press(*"not the password", "enter")
                await settle(pilot)
            return app.screen.query_one(StatusLine).text

    shown = run(scenario())
    expected_start = {
        "en": "⚠ Too many failed attempts.",
        "es": "⚠ Demasiados intentos fallidos.",
        "fr": "⚠ Trop de tentatives infructueuses.",
    }[language]
    assert shown.startswith(expected_start), shown
    assert "UTC" in shown


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "try again after 2:05\u202fPM UTC"),
        ("es", "después de las 14:05 UTC"),
        ("fr", "réessayez après 14:05 UTC"),
    ],
)
def test_a_lock_message_is_one_sentence_with_a_babel_time(language: str, expected: str) -> None:
    error = AccountLockedError(datetime(2026, 12, 4, 14, 5, tzinfo=UTC))
    assert str(error).startswith("Too many failed attempts.")  # logs and the CLI: English
    assert "14:05" in str(error)
    set_language(language)
    text = localized(error)
    assert expected in text, text
    assert text.count(".") >= 2 and "{" not in text
    assert format_time(error.locked_until, format="short", tzinfo=UTC, locale=language) in text
