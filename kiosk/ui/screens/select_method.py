"""Select an Authentication Method: Authenticator App (selected), Continue."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, RadioButton, RadioSet, Static

from kiosk.core.steps import Method, Step
from kiosk.i18n import N_, _
from kiosk.ui.screens.base import StepScreen


class MethodChoice(RadioSet):
    """The methods. Enter chooses the highlighted one and continues, as Continue does (a
    plain RadioSet only toggles on Enter, and the one choice is already on); Space selects."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "choose", "Choose", show=False),
    ]

    class Chosen(Message):
        """Enter on a choice: go on with it."""

    def action_choose(self) -> None:
        self.action_toggle_button()  # the highlighted choice on (one already on stays on)
        self.post_message(self.Chosen())


class SelectMethodScreen(StepScreen):
    STEP = Step.SELECT_METHOD
    STEP_TITLE = N_("Select an Authentication Method")

    def compose_card(self) -> Iterator[Widget]:
        flow = self.kiosk.flow
        if flow.recovering:
            yield Static(
                "✔ "
                + _(
                    "Your recovery code was accepted. Now set up the authenticator app on your "
                    "new phone. Your old phone stops working once you finish."
                ),
                classes="explanation notice",
                markup=False,
            )
        elif flow.replaces_authenticator:  # an enrollment pass, phone and recovery code lost
            yield Static(
                "✔ "
                + _(
                    "Your enrollment pass was accepted. Now set up the authenticator app on your "
                    "new phone. Your old phone and recovery code stop working once you finish."
                ),
                classes="explanation notice",
                markup=False,
            )
        yield Static(
            _("Choose how you'll prove it's you each time you sign in."),
            classes="explanation",
            markup=False,
        )
        with MethodChoice(id="methods"):
            yield RadioButton(_("Authenticator App"), value=True, id="authenticator-app")
        yield Static(
            _(
                "The app on your phone shows a new 6-digit code every 30 seconds. It works "
                "without a signal or mobile data."
            ),
            classes="explanation",
            markup=False,
        )
        with Horizontal(classes="buttons"):
            yield Button(_("Continue"), id="continue", variant="primary", classes="primary-action")

    @on(MethodChoice.Chosen)
    def method_chosen(self, event: MethodChoice.Chosen) -> None:
        event.stop()
        self.submit()

    def submit(self) -> None:
        self.act(lambda flow: flow.choose_method(Method.AUTHENTICATOR_APP), busy=N_("One moment…"))
