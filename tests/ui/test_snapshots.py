"""Snapshot tests: every screen at 80×24 and 120×40, with a fixed secret and recovery code.

Regenerate (after looking at the SVGs) with:
    .venv/bin/python -m pytest tests/ui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from kiosk.core import recovery, totp
from kiosk.core.service import KioskService
from tests.ui.conftest import current_code, enroll, make_app, next_code, settle, sign_in

FIXED_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
FIXED_RECOVERY = "7QK3M9XH2PW4TZ8RNC5VJ6DYA"
DEMO_HINT = "Demo account: pat.lee@example.com   password: correct horse battery"

Step = Callable[[Pilot[Any]], Awaitable[None]]


async def still(pilot: Pilot[Any]) -> None:
    """No blinking cursor in a snapshot."""
    await settle(pilot)
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


async def to_mfa(pilot: Pilot[Any]) -> None:
    await sign_in(pilot)


async def to_select(pilot: Pilot[Any]) -> None:
    await to_mfa(pilot)
    await pilot.press("enter")
    await settle(pilot)


async def to_secure(pilot: Pilot[Any]) -> None:
    await to_select(pilot)
    await pilot.press("enter")
    await settle(pilot)


async def to_trouble(pilot: Pilot[Any]) -> None:
    await to_secure(pilot)
    await pilot.click("#trouble-scanning")
    await settle(pilot)


async def to_setup_code(pilot: Pilot[Any]) -> None:
    await to_secure(pilot)
    await pilot.press("enter")
    await settle(pilot)


async def to_save(pilot: Pilot[Any]) -> None:
    await to_setup_code(pilot)
    await pilot.press(*current_code(FIXED_SECRET), "enter")
    await settle(pilot)


async def to_recovery_qr(pilot: Pilot[Any]) -> None:
    await to_save(pilot)
    await pilot.click("#show-qr")
    await settle(pilot)


async def to_signed_in(pilot: Pilot[Any]) -> None:
    await to_save(pilot)
    await pilot.click("#saved")
    await pilot.click("#continue")
    await settle(pilot)


async def to_enter_code(pilot: Pilot[Any]) -> None:
    await sign_in(pilot)


async def to_use_recovery(pilot: Pilot[Any]) -> None:
    await sign_in(pilot)
    await pilot.click("#use-recovery")
    await settle(pilot)


async def to_error(pilot: Pilot[Any]) -> None:
    await sign_in(pilot)


async def to_wrong_code(pilot: Pilot[Any]) -> None:
    await sign_in(pilot)
    code = next_code(FIXED_SECRET)
    wrong = "000000" if code != "000000" else "111111"
    await pilot.press(*wrong, "enter")
    await settle(pilot)


async def nothing(pilot: Pilot[Any]) -> None:
    await settle(pilot)


# name -> (how to get there, the account is already enrolled)
SCREENS: dict[str, tuple[Step, bool]] = {
    "sign_in": (nothing, False),
    "mfa_required": (to_mfa, False),
    "select_method": (to_select, False),
    "secure_account": (to_secure, False),
    "trouble_scanning": (to_trouble, False),
    "enter_setup_code": (to_setup_code, False),
    "save_recovery_code": (to_save, False),
    "recovery_code_qr": (to_recovery_qr, False),
    "signed_in": (to_signed_in, False),
    "enter_code": (to_enter_code, True),
    "enter_code_wrong": (to_wrong_code, True),
    "use_recovery_code": (to_use_recovery, True),
    "error": (to_error, False),
}


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen_snapshot(
    screen: str,
    size: tuple[int, int],
    ui_service: KioskService,
    monkeypatch: pytest.MonkeyPatch,
    snap_compare: Any,
) -> None:
    monkeypatch.setattr(totp, "new_secret", lambda: FIXED_SECRET)
    monkeypatch.setattr(recovery, "generate", lambda: FIXED_RECOVERY)
    walk, enrolled = SCREENS[screen]
    if enrolled:
        enroll(ui_service)
    if screen == "error":
        import kiosk.ui.app

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("simulated failure")

        monkeypatch.setattr(ui_service.factors, "check_password", broken)
        monkeypatch.setattr(kiosk.ui.app, "report_unexpected", lambda exc: "7F3A9C21")
    app = make_app(ui_service, demo_hint=DEMO_HINT if screen == "sign_in" else None)

    async def run_before(pilot: Pilot[Any]) -> None:
        await walk(pilot)
        await still(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


# The screens the issue names, in every language (at 80×24, the size they must fit), and in the
# high-contrast theme. The language and the theme come from [kiosk] as a deployment sets them.
LOCALISED = ["sign_in", "secure_account", "save_recovery_code"]


def _fixed_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(totp, "new_secret", lambda: FIXED_SECRET)
    monkeypatch.setattr(recovery, "generate", lambda: FIXED_RECOVERY)


def _snapshot(app: Any, screen: str, snap_compare: Any) -> bool:
    walk, _ = SCREENS[screen]

    async def run_before(pilot: Pilot[Any]) -> None:
        await walk(pilot)
        await still(pilot)

    return bool(snap_compare(app, terminal_size=(80, 24), run_before=run_before))


@pytest.mark.parametrize("language", ["es", "fr"])
@pytest.mark.parametrize("screen", LOCALISED)
def test_localised_snapshot(
    screen: str,
    language: str,
    service_with: Callable[..., KioskService],
    monkeypatch: pytest.MonkeyPatch,
    snap_compare: Any,
) -> None:
    _fixed_secrets(monkeypatch)
    service = service_with(language=language)
    app = make_app(service, demo_hint=DEMO_HINT if screen == "sign_in" else None)
    assert _snapshot(app, screen, snap_compare)


@pytest.mark.parametrize("screen", [*LOCALISED, "enter_code_wrong"])
def test_high_contrast_snapshot(
    screen: str,
    service_with: Callable[..., KioskService],
    monkeypatch: pytest.MonkeyPatch,
    snap_compare: Any,
) -> None:
    _fixed_secrets(monkeypatch)
    service = service_with(theme="high-contrast")
    if SCREENS[screen][1]:
        enroll(service)
    app = make_app(service, demo_hint=DEMO_HINT if screen == "sign_in" else None)
    assert _snapshot(app, screen, snap_compare)


# Signed in with an enrollment pass: Create Your Password (a cohort member without a password),
# with the policy, and after two different passwords; Select an Authentication Method when a
# pass replaces a lost phone. In every language, at 80×24.
PASS_SCREENS = ["create_password", "create_password_mismatch", "select_method_pass"]


@pytest.mark.parametrize("language", ["en", "es", "fr"])
@pytest.mark.parametrize("screen", PASS_SCREENS)
def test_pass_snapshot(
    screen: str,
    language: str,
    service_with: Callable[..., KioskService],
    monkeypatch: pytest.MonkeyPatch,
    snap_compare: Any,
) -> None:
    from kiosk.core.cohorts import NewPerson

    _fixed_secrets(monkeypatch)
    service = service_with(language=language)
    if screen == "select_method_pass":
        email = "pat.lee@example.com"
        enroll(service)
    else:
        email = "sam.ortiz@example.com"
        service.cohorts.create("spring intake", [NewPerson(email)], staff="it")
    the_pass = service.passes.issue(email, staff="it").text
    app = make_app(service)

    async def run_before(pilot: Pilot[Any]) -> None:
        await sign_in(pilot, email, the_pass)
        if screen == "create_password_mismatch":
            await pilot.press(*"lantern quarry violet", "enter", *"lantern quarry", "enter")
        await still(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
