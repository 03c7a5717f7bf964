"""Two-Factor Authentication Required: why, and Set Up Now."""

from __future__ import annotations

from collections.abc import Iterator

from textual import on
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Button, Static

from kiosk.core.steps import Step
from kiosk.i18n import N_, _
from kiosk.ui.screens.base import StepScreen, guarded


class MfaRequiredScreen(StepScreen):
    STEP = Step.MFA_REQUIRED
    STEP_TITLE = N_("Two-Factor Authentication Required")

    def compose_card(self) -> Iterator[Widget]:
        org = self.kiosk.organization
        yield Static(
            _(
                "{organization} now asks for two things when you sign in: your password "
                "(something you know) and a 6-digit code from an authenticator app on your "
                "phone (something you have). Someone who learns your password still can't sign "
                "in as you."
            ).format(organization=org),
            classes="explanation",
            markup=False,
        )
        yield Static(
            _(
                "You'll need your phone with an authenticator app installed, such as Google "
                "Authenticator or Microsoft Authenticator. Setting it up takes about two minutes."
            ),
            classes="explanation",
            markup=False,
        )
        with Horizontal(classes="buttons"):
            yield Button(_("Set Up Now"), id="set-up", variant="primary", classes="primary-action")

    @on(Button.Pressed, "#set-up")
    @guarded
    def set_up_now(self) -> None:
        self.submit()

    def submit(self) -> None:
        self.act(lambda flow: flow.start_setup(), busy=N_("One moment…"))
