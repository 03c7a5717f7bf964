"""The board's modal screens: confirm, the pass shown once, a walk-in, the export path, and
the cohort picker.

Each returns its answer with `dismiss` (typed `ModalScreen[T]`); none touches the store except the
picker, which reads the cohort list in a thread worker. Each dialog has its own footer, drawn
over the board's: it lists the keys that work while the dialog is open. The pass screen is the
only place a pass is ever drawn, and it keeps nothing once dismissed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, TypeVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from kiosk.board import bigtext
from kiosk.core.accounts import normalize_email
from kiosk.core.cohorts import MAX_FULL_NAME, NewPerson
from kiosk.core.service import KioskService
from kiosk.core.values import CohortSummary
from kiosk.errors import KioskError
from kiosk.limits import MAX_EMAIL_LENGTH

ResultT = TypeVar("ResultT")


def plain(text: str) -> Text:
    """Text shown exactly as it is: a name or email never becomes markup."""
    return Text(text)


def one_line(text: str) -> str:
    """A message on one line, without control characters (errors go in the status line)."""
    return "".join(ch if ch.isprintable() else "?" for ch in " ".join(str(text).split()))


class ConfirmScreen(ModalScreen[bool]):
    """A Yes/No question. `y`/Enter on Yes confirms; `n`/Escape cancels. For an action that
    takes something away, No has the focus, so a stray Enter changes nothing."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "Cancel", show=False),
    ]

    def __init__(self, question: str, *, yes: str = "Yes", destructive: bool = False) -> None:
        super().__init__(classes="board-dialog")
        self.question = question
        self.yes_label = yes
        self.destructive = destructive

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box", classes="dialog-box"):
            yield Static(plain(self.question), id="confirm-question")
            with Horizontal(classes="dialog-buttons"):
                yield Button(
                    f"{self.yes_label} (y)",
                    id="yes",
                    variant="error" if self.destructive else "primary",
                )
                yield Button("No (n)", id="no")
        yield Footer()  # this dialog's keys, over the board's (which do nothing now)

    def on_mount(self) -> None:
        self.query_one("#no" if self.destructive else "#yes", Button).focus()

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def _no(self) -> None:
        self.dismiss(False)


class PassScreen(ModalScreen[None]):
    """An enrollment pass, large, for the person to read off; shown once, then gone."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "close", "Done", priority=True),
        Binding("escape", "close", "Done", show=False),
    ]

    def __init__(self, email: str, text: str, expires_at: datetime, now: datetime) -> None:
        super().__init__(classes="board-dialog")
        self._email = email
        self._text = text
        self._expires_at = expires_at
        self._now = now

    def compose(self) -> ComposeResult:
        local = self._expires_at.replace(tzinfo=UTC).astimezone()
        minutes = max(1, round((self._expires_at - self._now).total_seconds() / 60))
        with Vertical(id="pass-box", classes="dialog-box"):
            yield Static(plain(f"Enrollment pass for {self._email}"), id="pass-title")
            yield Static(plain("\n".join(bigtext.render(self._text))), id="pass-big")
            yield Static(plain("   ".join(self._text)), id="pass-plain")
            yield Static(
                plain(
                    f"Valid until {local:%H:%M} ({minutes} min), once. They type it in the "
                    "Password field at Sign in. It is not shown again: press Enter when they "
                    "have it."
                ),
                id="pass-note",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Done (Enter)", id="done", variant="primary")
        yield Footer()  # this dialog's keys, over the board's (which do nothing now)

    def on_mount(self) -> None:
        self.query_one("#done", Button).focus()

    @on(Button.Pressed, "#done")
    def action_close(self) -> None:
        # Forget the pass before the screen goes: nothing keeps it after this.
        self._text = ""
        self.query_one("#pass-big", Static).update("")
        self.query_one("#pass-plain", Static).update("")
        self.dismiss(None)


class FormDialog(ModalScreen[ResultT | None]):
    """A dialog with fields: Escape or its Cancel button (id `cancel`) dismisses it with None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self) -> None:
        super().__init__(classes="board-dialog")

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class WalkInScreen(FormDialog[NewPerson]):
    """A walk-in: an email and, optionally, a full name."""

    def __init__(self, cohort: str) -> None:
        super().__init__()
        self.cohort = cohort

    def compose(self) -> ComposeResult:
        with Vertical(id="walk-in-box", classes="dialog-box"):
            yield Static(plain(f"Add a walk-in to {self.cohort}"), classes="dialog-title")
            yield Input(placeholder="email", id="walk-in-email", max_length=MAX_EMAIL_LENGTH)
            yield Input(
                placeholder="full name (optional)", id="walk-in-name", max_length=MAX_FULL_NAME
            )
            yield Static("", id="walk-in-problem", classes="dialog-problem")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Add", id="add", variant="primary")
                yield Button("Cancel", id="cancel")
        yield Footer()  # this dialog's keys, over the board's (which do nothing now)

    def on_mount(self) -> None:
        for field in self.query(Input):
            field.cursor_blink = False
        self.query_one("#walk-in-email", Input).focus()

    @on(Input.Submitted, "#walk-in-email")
    def _next(self) -> None:
        self.query_one("#walk-in-name", Input).focus()

    @on(Input.Submitted, "#walk-in-name")
    @on(Button.Pressed, "#add")
    def _add(self) -> None:
        email = self.query_one("#walk-in-email", Input).value.strip()
        name = self.query_one("#walk-in-name", Input).value.strip()
        try:
            email = normalize_email(email)
        except KioskError:
            self.query_one("#walk-in-problem", Static).update("That is not an email address.")
            self.query_one("#walk-in-email", Input).focus()
            return
        self.dismiss(NewPerson(email, name or None))

class ExportScreen(FormDialog[Path]):
    """Where to write the report: a path ending in .csv gives CSV, anything else JSON."""

    def __init__(self, default: str) -> None:
        super().__init__()
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(id="export-box", classes="dialog-box"):
            yield Static("Export the report to a file", classes="dialog-title")
            yield Input(value=self.default, id="export-path", max_length=4096)
            yield Static("A name ending in .csv writes CSV; anything else writes JSON.")
            yield Static("", id="export-problem", classes="dialog-problem")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Export", id="export", variant="primary")
                yield Button("Cancel", id="cancel")
        yield Footer()  # this dialog's keys, over the board's (which do nothing now)

    def on_mount(self) -> None:
        field = self.query_one("#export-path", Input)
        field.cursor_blink = False
        field.focus()

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#export")
    def _export(self) -> None:
        text = self.query_one("#export-path", Input).value.strip()
        if not text:
            self.query_one("#export-problem", Static).update("Type a file name.")
            return
        self.dismiss(Path(text).expanduser())

class CohortPicker(Screen[str]):
    """Choose the cohort to watch (when `kiosk onboard` is run without one)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "app.quit", "Quit"),
        Binding("escape", "app.quit", "Quit", show=False),
    ]

    def __init__(self, service: KioskService) -> None:
        super().__init__()
        self.service = service

    def compose(self) -> ComposeResult:
        yield Static("Onboarding board: choose a cohort (Enter)", id="picker-title")
        yield OptionList(id="cohorts")
        yield Static("Reading the cohorts…", id="picker-status")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def load(self) -> None:
        try:
            cohorts = self.service.cohorts.all()
        except KioskError as exc:
            self.app.call_from_thread(self._say, one_line(str(exc)))
            return
        finally:
            self.service.db.close()  # this thread's connection
        self.app.call_from_thread(self._show, cohorts)

    def _say(self, text: str) -> None:
        self.query_one("#picker-status", Static).update(plain(text))

    def _show(self, cohorts: list[CohortSummary]) -> None:
        options = self.query_one("#cohorts", OptionList)
        for cohort in cohorts:
            label = f"{cohort.name}   {cohort.enrolled} of {cohort.people} enrolled"
            if cohort.deadline is not None:
                label += f"   deadline {cohort.deadline:%Y-%m-%d}"
            options.add_option(Option(plain(label), id=cohort.name))
        if cohorts:
            self._say(f"{len(cohorts)} cohort(s).")
            options.highlighted = 0
            options.focus()
        else:
            self._say("No cohorts yet: create one with `kiosk cohort create NAME --from FILE`.")

    @on(OptionList.OptionSelected, "#cohorts")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.dismiss(event.option.id)


def now_utc() -> datetime:
    """Naive UTC, as the store keeps times."""
    return datetime.now(UTC).replace(tzinfo=None)
