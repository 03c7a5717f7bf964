"""F2 on Sign in: the app ends with an outcome that asks for plain mode, and only there."""

from __future__ import annotations

from textual.widgets import Input

from kiosk.core.service import KioskService
from kiosk.core.steps import Step
from kiosk.ui.app import KioskApp, Outcome
from tests.ui.conftest import make_app, run, sign_in, wait_until


def test_f2_on_sign_in_ends_the_app_asking_for_plain_mode(ui_service: KioskService) -> None:
    app = make_app(ui_service)
    run(_press_f2_on_sign_in(app))
    assert app.return_value == Outcome(switch_to_plain=True)
    assert app.flow.step == Step.SIGN_IN and app.flow.email is None


async def _press_f2_on_sign_in(app: KioskApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: bool(app.screen.query("#email")))
        await pilot.press(*"someone@example.com")
        await pilot.press("f2")
        await pilot.pause()


def test_f2_elsewhere_does_nothing(ui_service: KioskService) -> None:
    run(_press_f2_after_sign_in(make_app(ui_service)))


async def _press_f2_after_sign_in(app: KioskApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        assert app.flow.step == Step.MFA_REQUIRED
        await pilot.press("f2")
        await pilot.pause()
        assert app.is_running and app.flow.step == Step.MFA_REQUIRED
        assert not app.screen.query(Input)
