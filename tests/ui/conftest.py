"""UI fixtures: the real service on a real SQLite file (fast argon2), accounts, and Pilot helpers.

Async Pilot tests run with `asyncio.run` inside ordinary tests (no pytest-asyncio needed).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pyotp
import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from kiosk.config import Settings
from kiosk.core.flow import AuthFlow, Method
from kiosk.core.service import KioskService
from kiosk.i18n import set_language
from kiosk.ui.app import KioskApp

EMAIL = "pat.lee@example.com"
PASSWORD = "correct horse battery"


@dataclass
class Enrolled:
    """An account that already finished enrollment: its TOTP secret and recovery code."""

    email: str
    secret: str
    recovery_code: str


def run(coro: Awaitable[Any]) -> Any:
    """Run one Pilot scenario to completion in a fresh event loop."""
    return asyncio.run(coro)  # type: ignore[arg-type]


def next_code(secret: str) -> str:
    """The code for the next 30-second step: inside the ±1 window and never already used."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def current_code(secret: str) -> str:
    return pyotp.TOTP(secret).now()


async def settle(pilot: Pilot[Any]) -> None:
    """Wait for flow workers and the screen switches their results cause."""
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def type_into(pilot: Pilot[Any], selector: str, text: str) -> None:
    """Focus a field by clicking it and type `text` key by key, as a person would."""
    await pilot.click(selector)
    field = pilot.app.screen.query_one(selector, Input)
    assert field.has_focus
    await pilot.press(*text)


async def sign_in(pilot: Pilot[Any], email: str = EMAIL, password: str = PASSWORD) -> None:
    """Type the email, Enter (moves to Password), the password, Enter (submits)."""
    app = pilot.app
    await wait_until(pilot, lambda: bool(app.screen.query("#email")))  # built with the app
    assert app.screen.query_one("#email", Input).has_focus
    await pilot.press(*email, "enter")
    assert app.screen.query_one("#password", Input).has_focus
    await pilot.press(*password, "enter")
    await settle(pilot)


async def wait_until(
    pilot: Pilot[Any], predicate: Callable[[], bool], timeout: float = 15.0
) -> bool:
    """Poll while the app keeps running (idle and signed-in timers are real timers)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await pilot.pause(0.05)
    return predicate()


def enroll(service: KioskService, email: str = EMAIL, password: str = PASSWORD) -> Enrolled:
    """Finish an enrollment through the core flow (what the UI does, without the UI)."""
    flow = AuthFlow(service, "test")
    flow.submit_password(email, password)
    flow.start_setup()
    pending = flow.choose_method(Method.AUTHENTICATOR_APP)
    flow.continue_to_code()
    code = flow.verify_setup_code(current_code(pending.secret))
    flow.finish_enrollment(saved=True)
    return Enrolled(email=email, secret=pending.secret, recovery_code=code)


@pytest.fixture(autouse=True)
def _english_between_tests() -> Iterator[None]:
    """The language is the process's (one person per kiosk process): an app started in another
    language must not leave widgets of the next test speaking it."""
    set_language("en")
    yield
    set_language("en")


@pytest.fixture
def ui_service(sqlite_service: KioskService) -> KioskService:
    """The real service with one account that has not set up an authenticator yet."""
    sqlite_service.accounts.add_user(EMAIL, PASSWORD, source="test")
    return sqlite_service


@pytest.fixture
def service_with(sqlite_settings: Settings) -> Iterator[Callable[..., KioskService]]:
    """Open a service whose [kiosk] settings are changed (e.g. short idle timeouts)."""
    opened: list[KioskService] = []

    def open_service(**kiosk: Any) -> KioskService:
        settings = replace(sqlite_settings, kiosk=replace(sqlite_settings.kiosk, **kiosk))
        service = KioskService.open(settings)
        if not opened:
            service.accounts.add_user(EMAIL, PASSWORD, source="test")
        opened.append(service)
        return service

    yield open_service
    for service in opened:
        service.close()


def make_app(service: KioskService, mode: str = "kiosk", **kwargs: Any) -> KioskApp:
    return KioskApp(service, mode=mode, source="test", **kwargs)


@contextlib.contextmanager
def kiosk_log() -> Iterator[io.StringIO]:
    """What the "kiosk" logger writes while the block runs, whatever handlers and propagation
    an earlier test's `setup_logging` left on it (pytest's caplog only sees propagated records)."""
    logger = logging.getLogger("kiosk")
    text = io.StringIO()
    handler = logging.StreamHandler(text)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield text
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
