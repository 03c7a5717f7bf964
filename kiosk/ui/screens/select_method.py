"""Select an Authentication Method: Authenticator App (selected), Continue."""

from __future__ import annotations

from collections.abc import Iterator

from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Button, RadioButton, RadioSet, Static

from kiosk.core.steps import Method, Step
from kiosk.ui.screens.base import StepScreen


class SelectMethodScreen(StepScreen):
    STEP = Step.SELECT_METHOD
    STEP_TITLE = "Select an Authentication Method"

    def compose_card(self) -> Iterator[Widget]:
        if self.kiosk.flow.recovering:
            yield Static(
                "✔ Your recovery code was accepted. Now set up the authenticator app on your "
                "new phone. Your old phone stops working once you finish.",
                classes="explanation notice",
                markup=False,
            )
        yield Static(
            "Choose how you'll prove it's you each time you sign in.",
            classes="explanation",
            markup=False,
        )
        with RadioSet(id="methods"):
            yield RadioButton("Authenticator App", value=True, id="authenticator-app")
        yield Static(
            "The app on your phone shows a new 6-digit code every 30 seconds. It works "
            "without a signal or mobile data.",
            classes="explanation",
            markup=False,
        )
        with Horizontal(classes="buttons"):
            yield Button("Continue", id="continue", variant="primary", classes="primary-action")

    def submit(self) -> None:
        self.act(lambda flow: flow.choose_method(Method.AUTHENTICATOR_APP), busy="One moment…")
