"""Enter the 6-digit code (returning sign-in), with "Use a recovery code" for a lost phone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from textual import on
from textual.widget import Widget
from textual.widgets import Button

from kiosk.core.steps import Step
from kiosk.i18n import N_, _
from kiosk.ui.screens.base import guarded
from kiosk.ui.screens.code_entry import CodeScreen

if TYPE_CHECKING:
    from kiosk.core.flow import AuthFlow


class EnterCodeScreen(CodeScreen):
    STEP = Step.ENTER_CODE
    EXPLANATION = N_(
        "Open your authenticator app and enter the 6-digit code it shows for this account. "
        "Lost or replaced your phone? Use your recovery code instead."
    )

    def extra_buttons(self) -> Iterator[Widget]:
        yield Button(_("Use a recovery code"), id="use-recovery")

    @on(Button.Pressed, "#use-recovery")
    @guarded
    def use_recovery_code(self) -> None:
        self.act(lambda flow: flow.use_recovery_code(), busy=N_("One moment…"))

    def check(self, flow: AuthFlow, code: str) -> object:  # type: ignore[override]
        return flow.submit_code(code)
