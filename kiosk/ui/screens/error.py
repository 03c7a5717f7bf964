"""A calm error screen: no traceback, a short reference that is also in the log."""

from __future__ import annotations

from collections.abc import Iterator

from textual import on
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Button, Static

from kiosk.i18n import N_, _
from kiosk.ui.screens.base import StepScreen


class ErrorScreen(StepScreen):
    STEP = None
    STEP_TITLE = N_("Something went wrong")
    CAN_GO_BACK = False

    def __init__(self, reference: str) -> None:
        super().__init__()
        self.reference = reference

    def compose_card(self) -> Iterator[Widget]:
        yield Static(
            _(
                "Sorry, the kiosk ran into a problem it didn't expect. You've been signed out "
                "and nothing more will happen with your details on this screen."
            ),
            classes="explanation",
            markup=False,
        )
        yield Static(
            _("Please start again. If it happens again, tell IT this reference:"),
            classes="explanation",
            markup=False,
        )
        yield Static(self.reference, id="reference", classes="secret-box", markup=False)
        with Horizontal(classes="buttons"):
            yield Button(
                _("Start Again"), id="start-again", variant="primary", classes="primary-action"
            )

    @on(Button.Pressed, "#start-again")
    def start_again(self) -> None:
        self.kiosk.wipe()
        self.kiosk.show_step()
