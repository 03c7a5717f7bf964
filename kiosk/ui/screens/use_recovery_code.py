"""Use Your Recovery Code: the way back in when the phone is lost; then a new phone is set up."""

from __future__ import annotations

from collections.abc import Iterator

from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Static

from kiosk.core.steps import Step
from kiosk.i18n import N_, _
from kiosk.ui.screens.base import StepScreen
from kiosk.ui.widgets.field import KioskInput


class UseRecoveryCodeScreen(StepScreen):
    STEP = Step.ENTER_RECOVERY_CODE
    STEP_TITLE = N_("Use Your Recovery Code")

    def compose_card(self) -> Iterator[Widget]:
        yield Static(
            _(
                "Enter the recovery code you saved when you set up your authenticator app. "
                "Capitals, spaces and hyphens don't matter. Each code works once: after this "
                "you'll set up your new phone and get a new recovery code."
            ),
            classes="explanation",
            markup=False,
        )
        yield Label(_("Recovery code"), classes="field-label")
        yield KioskInput(
            placeholder="XXXXX-XXXXX-XXXXX-XXXXX-XXXXX",
            id="recovery-code",
            restrict=r"[0-9A-Za-z\- ]*",
            max_length=40,
        )
        with Horizontal(classes="buttons"):
            yield Button(_("Continue"), id="continue", variant="primary", classes="primary-action")

    def input_submitted(self, field: Input, value: str) -> None:
        self.submit_code(value)

    def submit(self) -> None:
        self.submit_code(self.query_one("#recovery-code", Input).value)

    def submit_code(self, code: str) -> None:
        if not code.strip():
            self.status.show_error(_("Enter your recovery code."))
            return
        self.act(lambda flow: flow.submit_recovery_code(code))

    def after_refusal(self) -> None:
        self.query_one("#recovery-code", Input).value = ""
