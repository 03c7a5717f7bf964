"""Create Your Password: signed in with an enrollment pass, a person without a password chooses
one (typed twice, the policy shown). It is hashed now and saved with the new authenticator at the
end of the enrollment; the core checks the policy and that both fields match."""

from __future__ import annotations

from collections.abc import Iterator

from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Static

from kiosk.core.accounts import POLICY_TEMPLATE
from kiosk.core.steps import Step
from kiosk.i18n import N_, _
from kiosk.limits import MAX_PASSWORD_LENGTH
from kiosk.ui.screens.base import StepScreen
from kiosk.ui.widgets.field import KioskInput


class CreatePasswordScreen(StepScreen):
    STEP = Step.CREATE_PASSWORD
    STEP_TITLE = N_("Create Your Password")

    def compose_card(self) -> Iterator[Widget]:
        yield Static(
            _(
                "You signed in with a one-time enrollment pass. Choose the password you'll use "
                "to sign in from now on."
            ),
            classes="explanation",
            markup=False,
        )
        yield Static(
            _(POLICY_TEMPLATE).format(count=self.kiosk.flow.password_min_length),
            classes="explanation policy",
            id="policy",
            markup=False,
        )
        yield Label(_("New password"), classes="field-label")
        yield KioskInput(password=True, id="new-password", max_length=MAX_PASSWORD_LENGTH)
        yield Label(_("Type it again"), classes="field-label")
        yield KioskInput(password=True, id="password-again", max_length=MAX_PASSWORD_LENGTH)
        with Horizontal(classes="buttons"):
            yield Button(_("Continue"), id="continue", variant="primary", classes="primary-action")

    def input_submitted(self, field: Input, value: str) -> None:
        again = self.query_one("#password-again", Input)
        if field.id == "new-password" and value and not again.value:
            again.focus()  # Enter after the first field moves on rather than failing
            return
        if field is again:
            self.submit(typed_again=value)
        else:
            self.submit(typed_first=value)

    def submit(self, typed_first: str | None = None, typed_again: str | None = None) -> None:
        """Continue; a `typed_…` value is that field as it was when Enter was typed in it."""
        first = self.query_one("#new-password", Input)
        again = self.query_one("#password-again", Input)
        password = first.value if typed_first is None else typed_first
        repeated = again.value if typed_again is None else typed_again
        if password and not repeated:
            self.status.show_error(_("Type your new password again in the second field."))
            again.focus()
            return
        # Empty, too short, too long, different: the core's rules and its messages.
        self.act(lambda flow: flow.create_password(password, repeated), busy=N_("One moment…"))

    def after_refusal(self) -> None:
        """Both fields are typed afresh: a person cannot see which one was mistyped."""
        for field in self.query(Input):
            field.value = ""
