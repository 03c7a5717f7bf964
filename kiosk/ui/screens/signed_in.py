"""Signed in: done; what next; how this session ends (a key, or the timeout)."""

from __future__ import annotations

from collections.abc import Iterator

from textual import events, on
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Button, Static

from kiosk.core.steps import Step
from kiosk.i18n import N_, _
from kiosk.ui.screens.base import StepScreen, guarded


class SignedInScreen(StepScreen):
    STEP = Step.SIGNED_IN
    STEP_TITLE = N_("Signed in")
    CAN_GO_BACK = False
    HINT = N_("Any key: finish")

    def compose_card(self) -> Iterator[Widget]:
        seconds = round(self.kiosk.signed_in_timeout)
        yield Static(
            "✔ " + _("You're signed in with your authenticator app."),
            classes="success",
            markup=False,
        )
        yield Static(
            _(
                "Next time you sign in, enter your email and password, then the 6-digit code "
                "your app shows. Keep your recovery code safe: it's how you get back in if you "
                "lose your phone."
            ),
            classes="explanation",
            markup=False,
        )
        if self.kiosk.mode == "ssh":
            ends = _(
                "Press any key to end this session; it ends by itself in {seconds} seconds."
            ).format(seconds=seconds)
        else:
            ends = _(
                "Press any key when you're done; this screen clears itself in {seconds} "
                "seconds and nothing of yours stays on this kiosk."
            ).format(seconds=seconds)
        yield Static(ends, classes="explanation", markup=False)
        with Horizontal(classes="buttons"):
            yield Button(_("Finish"), id="finish", variant="primary", classes="primary-action")

    def mounted(self) -> None:
        self.set_timer(self.kiosk.signed_in_timeout, self.finish)

    def on_key(self, event: events.Key) -> None:
        event.stop()
        self.finish()

    @on(Button.Pressed, "#finish")
    @guarded
    def finish_pressed(self) -> None:
        self.finish()

    def action_go_back(self) -> None:
        self.finish()

    def finish(self) -> None:
        if self.is_current:
            self.kiosk.end_session()
