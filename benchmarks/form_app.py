"""A reference, not a goal: a plain Textual sign-in form (labels, two Inputs, a Button).

`.venv/bin/python benchmarks/form_app.py` — shows how much of the kiosk's time to Sign in is the
cost of drawing any sign-in form in Textual, compared with the one-Static baseline.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Button, Input, Label, Static

TEXT = "Form ready"


class FormApp(App[None]):
    """What the Sign in screen needs at the least, in stock Textual widgets."""

    def compose(self) -> ComposeResult:
        yield Static(TEXT)
        yield Label("Email")
        yield Input(placeholder="you@example.com")
        yield Label("Password")
        yield Input(placeholder="Password", password=True)
        yield Button("Continue", variant="primary")


if __name__ == "__main__":
    FormApp().run()
