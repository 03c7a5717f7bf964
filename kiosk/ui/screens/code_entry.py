"""The 6-digit code field shared by the setup check and the returning sign-in."""

from __future__ import annotations

from collections.abc import Iterator

from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Static

from kiosk.i18n import N_, _
from kiosk.limits import CODE_DIGITS, ENTER_CODE_DIGITS_MESSAGE
from kiosk.ui.screens.base import StepScreen
from kiosk.ui.widgets.code_input import CodeInput


class CodeScreen(StepScreen):
    """Enter the 6-digit code: digits only, six; a wrong code clears the field for another go."""

    STEP_TITLE = N_("Enter the 6-digit code")
    EXPLANATION = ""

    def compose_card(self) -> Iterator[Widget]:
        yield Static(_(self.EXPLANATION), classes="explanation", markup=False)
        yield Label(_("6-digit code"), classes="field-label")
        yield CodeInput(id="code", classes="code-input")
        with Horizontal(classes="buttons"):
            yield Button(_("Continue"), id="continue", variant="primary", classes="primary-action")
            yield from self.extra_buttons()

    def extra_buttons(self) -> Iterator[Widget]:
        return iter(())

    def input_submitted(self, field: Input, value: str) -> None:
        self.submit_code(value)

    def submit(self) -> None:
        self.submit_code(self.query_one("#code", Input).value)

    def submit_code(self, code: str) -> None:
        if len(code) != CODE_DIGITS:
            self.status.show_error(_(ENTER_CODE_DIGITS_MESSAGE))
            self.query_one("#code", Input).focus()
            return
        self.act(lambda flow: self.check(flow, code))

    def check(self, flow: object, code: str) -> object:  # runs in the worker
        raise NotImplementedError

    def after_refusal(self) -> None:
        self.query_one("#code", Input).value = ""
