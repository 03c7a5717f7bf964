"""Sign in: the organisation, Email, Password, Continue (something you know)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Static

from kiosk.core.steps import Step
from kiosk.i18n import LANGUAGES, N_, _, current_language
from kiosk.limits import MAX_EMAIL_LENGTH, MAX_PASSWORD_LENGTH
from kiosk.ui.screens.base import StepScreen, guarded
from kiosk.ui.widgets.field import KioskInput


class SignInScreen(StepScreen):
    STEP = Step.SIGN_IN
    STEP_TITLE = N_("Sign in")
    CAN_GO_BACK = False
    HINT = N_("Tab: next field · Enter: continue · F2: plain text")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("f2", "plain_mode", show=False)]

    def compose_card(self) -> Iterator[Widget]:
        org = self.kiosk.organization
        yield Static(
            _(
                "Sign in with your {organization} email and password. After that you'll set "
                "up or use your authenticator app."
            ).format(organization=org),
            classes="explanation",
            markup=False,
        )
        yield Label(_("Email"), classes="field-label")
        yield KioskInput(placeholder="you@example.com", id="email", max_length=MAX_EMAIL_LENGTH)
        yield Label(_("Password"), classes="field-label")
        yield KioskInput(placeholder=_("Password"), password=True, id="password",
                    max_length=MAX_PASSWORD_LENGTH)
        with Horizontal(classes="buttons"):
            yield Button(_("Continue"), id="continue", variant="primary", classes="primary-action")
        # Each language by its own name, so a reader finds theirs without reading English;
        # the chosen one is marked by ● as well as by style. Tab reaches them after Continue.
        with Horizontal(classes="languages", id="languages"):
            for code, name in LANGUAGES.items():
                chosen = code == current_language()
                yield Button(
                    f"● {name}" if chosen else name,
                    id=f"language-{code}",
                    compact=True,
                    classes="language -chosen" if chosen else "language",
                )

    @on(Button.Pressed, ".language")
    @guarded
    def language_chosen(self, event: Button.Pressed) -> None:
        code = (event.button.id or "").removeprefix("language-")
        if code in LANGUAGES and code != current_language() and not self.kiosk.busy:
            self.kiosk.choose_language(code)

    def compose_after_status(self) -> Iterator[Widget]:
        if self.kiosk.demo_hint:
            yield Static(self.kiosk.demo_hint, classes="demo-hint", markup=False)

    def input_submitted(self, field: Input, value: str) -> None:
        password = self.query_one("#password", Input)
        if field.id == "email" and not password.value:
            password.focus()  # Enter after the email moves on rather than failing
            return
        self.submit(typed_password=value if field is password else None)

    def submit(self, typed_password: str | None = None) -> None:
        """Continue; `typed_password` is the password as it was when Enter was typed in it."""
        email = self.query_one("#email", Input)
        password = self.query_one("#password", Input)
        secret = password.value if typed_password is None else typed_password
        if not email.value.strip():
            self.status.show_error(_("Enter your email address."))
            email.focus()
            return
        if not secret:
            self.status.show_error(_("Enter your password."))
            password.focus()
            return
        address = email.value
        self.act(lambda flow: flow.submit_password(address, secret))

    def action_plain_mode(self) -> None:
        """F2: the same steps as plain lines and prompts (screen readers, braille displays)."""
        self.kiosk.switch_to_plain()

    def after_refusal(self) -> None:
        self.query_one("#password", Input).value = ""

    def first_focus(self) -> Widget | None:
        fields = {field.id: field for field in self.query(Input)}
        email, password = fields.get("email"), fields.get("password")
        if email is not None and email.value and password is not None and not password.value:
            return password
        return email
