"""What happens once Sign in is on the screen: the launcher's hook (garbage collection resumes)."""

from __future__ import annotations

from typing import Any

from kiosk.core.service import KioskService
from kiosk.ui.screens.sign_in import SignInScreen
from tests.ui.conftest import make_app, run, settle, sign_in


def test_after_first_paint_runs_once_when_sign_in_is_shown(ui_service: KioskService) -> None:
    """`kiosk run` pauses the garbage collector while Textual starts and resumes it from this
    hook: it must run, once, with Sign in already built, and not again as screens change."""
    seen: list[Any] = []

    def after_first_paint() -> None:
        seen.append((type(app.screen), bool(app.screen.query("#email"))))

    app = make_app(ui_service, after_first_paint=after_first_paint)

    async def scenario() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert seen == [(SignInScreen, True)]
            await sign_in(pilot)  # a new screen, and later a new Sign in after a wipe
            app.end_session()  # kiosk mode: wiped, the next person's Sign in
            await settle(pilot)
            assert isinstance(app.screen, SignInScreen)
        assert seen == [(SignInScreen, True)]

    run(scenario())
