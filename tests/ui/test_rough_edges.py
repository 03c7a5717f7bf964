"""Rough edges a new person met (issue 15): Enter on the method choice, the header when narrow."""

from __future__ import annotations

from typing import Any

import pytest

from kiosk.core.service import KioskService
from kiosk.ui.app import KioskApp
from kiosk.ui.screens.mfa_required import MfaRequiredScreen
from kiosk.ui.screens.secure_account import SecureAccountScreen
from kiosk.ui.screens.select_method import SelectMethodScreen
from kiosk.ui.screens.sign_in import SignInScreen
from kiosk.ui.widgets.header import StepHeader
from tests.ui.conftest import make_app, run, settle, sign_in


def header_lines(app: KioskApp) -> list[str]:
    """The header as drawn: one string per screen row it takes."""
    widget = app.screen.query_one(StepHeader)
    return [
        "".join(segment.text for segment in widget.render_line(y))
        for y in range(widget.size.height)
    ]


def test_enter_on_the_authenticator_app_choice_chooses_it_and_continues(
    ui_service: KioskService,
) -> None:
    app = make_app(ui_service)

    async def scenario() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await sign_in(pilot)
            await pilot.press("enter")  # Set Up Now
            await settle(pilot)
            assert isinstance(app.screen, SelectMethodScreen)
            await pilot.press("shift+tab")  # from Continue back to the choice
            assert app.focused is app.screen.query_one("#methods")
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, SecureAccountScreen), type(app.screen)

    run(scenario())


@pytest.mark.parametrize("width", [60, 50, 64, 80])
def test_the_header_keeps_the_title_on_one_line_and_shortens_the_hint_first(
    ui_service: KioskService, width: int
) -> None:
    app = make_app(ui_service)
    seen: dict[str, list[str]] = {}

    async def record(pilot: Any) -> None:
        await pilot.pause()
        seen[type(app.screen).__name__] = header_lines(app)

    async def scenario() -> None:
        async with app.run_test(size=(width, 24)) as pilot:
            assert isinstance(app.screen, SignInScreen)
            await record(pilot)
            await sign_in(pilot)
            assert isinstance(app.screen, MfaRequiredScreen)
            await record(pilot)
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, SelectMethodScreen)
            await record(pilot)

    run(scenario())
    titles = {
        "SignInScreen": "Sign in",
        "MfaRequiredScreen": "Two-Factor Authentication Required",
        "SelectMethodScreen": "Select an Authentication Method",
    }
    for screen, title in titles.items():
        lines = seen[screen]
        assert len(lines) == 1, (screen, lines)
        assert f"Procore  ›  {title}" in lines[0], (screen, lines)
    if width >= 80:
        assert "Step 2 of 6 · Esc: back" in seen["MfaRequiredScreen"][0]
    else:  # the hint gives way first; the step is still told while there is room
        assert "Esc: back" not in seen["MfaRequiredScreen"][0]
    mfa_right = {50: "Required", 60: "Required         2/6", 64: "Step 2 of 6"}.get(width)
    if mfa_right:
        assert seen["MfaRequiredScreen"][0].rstrip().endswith(mfa_right), seen
