"""The board itself: one cohort's people, live, with counts, a funnel, details and actions.

Attributes down, messages up: a thread worker (kiosk/board/watcher.py) reads changes and posts
`PeopleChanged`; the handler owns the table and touches only the cells that changed
(`update_cell`, `add_row`, `remove_row`). Only a new filter, sort or window width lays the rows out
again. Every action is confirmed in a modal, runs in a thread worker (argon2, the database) and is
audited with the staff member's name; a failure is one calm line in the status bar.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.events import Resize
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, ProgressBar, Static
from textual.widgets.data_table import ColumnKey
from textual.worker import Worker, WorkerState, get_current_worker

from kiosk.board import model
from kiosk.board.dialogs import (
    ConfirmScreen,
    ExportScreen,
    PassScreen,
    WalkInScreen,
    one_line,
    plain,
)
from kiosk.board.watcher import POLL_SECONDS, ChangeSignal, CohortFeed, Update, open_signal
from kiosk.core.cohorts import NewPerson
from kiosk.core.passes import DEFAULT_VALIDITY
from kiosk.core.service import KioskService
from kiosk.core.values import IssuedPass, PersonState
from kiosk.errors import KioskError, report_unexpected

# How often everyone is re-read, for what time alone changes (idle, an expired pass, ages).
RECOMPUTE_SECONDS = 30.0
RETRY_SECONDS = 2.0  # after the watcher lost the database
FUNNEL_WIDTH = 34  # the funnel pane, in cells (CSS #funnel says the same)
Clock = Callable[[], datetime]


@dataclass
class PeopleChanged(Message):
    """Rows to update; `complete` when it is the whole cohort."""

    update: Update


@dataclass
class WatchTrouble(Message):
    """The watcher lost the database (None: it is back)."""

    text: str | None


class BoardScreen(Screen[None]):
    """One cohort, live."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "issue_pass", "Pass"),
        Binding("u", "unlock", "Unlock"),
        Binding("r", "reset_mfa", "Reset"),
        Binding("a", "add_walk_in", "Walk-in"),
        Binding("x,delete", "remove_member", "Remove"),
        Binding("e", "export", "Export"),
        Binding("slash", "focus_filter", "Filter"),
        Binding("s", "sort", "Sort"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, service: KioskService, cohort: str, *, staff: str, now: Clock) -> None:
        super().__init__()
        self.service = service
        self.cohort = cohort
        self.staff = staff
        self.now = now
        self.idle_minutes = service.settings.onboarding.idle_minutes
        self._people: dict[str, PersonState] = {}
        self._shown: dict[str, model.Cells] = {}  # rows in the table, as last written
        self._filter = ""
        self._sort: tuple[str, bool] | None = None  # (column, reverse)
        self._selected: str | None = None
        self._widths: dict[str, int] = {}
        self._tally: model.Tally | None = None
        self._everyone = threading.Event()  # the watcher re-reads the whole cohort
        self._loaded = False

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        with Horizontal(id="top"):
            yield Static(plain(f"Cohort {self.cohort}"), id="title")
            yield Static(plain(f"staff: {self.staff}"), id="staff")
        yield Static("Reading the cohort…", id="counts")
        with Horizontal(id="progress-row"):
            yield ProgressBar(total=1, show_eta=False, id="progress")
            yield Static("", id="progress-label")
        with Horizontal(id="filter-row"):
            yield Static("Filter ", id="filter-label")
            yield Input(placeholder="type a name, email, state or attention", id="filter")
        yield DataTable(id="people", cursor_type="row", cell_padding=model.CELL_PADDING)
        with Horizontal(id="bottom"):
            yield Static("", id="details")
            yield Static("", id="funnel")
        yield Static("", id="status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#filter", Input).cursor_blink = False
        self._set_columns(self._table_width())
        self.query_one(DataTable).focus()
        self.set_interval(RECOMPUTE_SECONDS, self._everyone.set)
        self.watch_changes()

    def _table_width(self) -> int:
        return max(40, self.app.size.width - 2)  # the vertical scrollbar

    def on_resize(self, event: Resize) -> None:
        widths = model.column_widths(self._table_width())
        if widths != self._widths:
            self._set_columns(self._table_width())
            self._lay_out_rows()

    def _set_columns(self, width: int) -> None:
        table = self.query_one(DataTable)
        self._widths = model.column_widths(width)
        table.clear(columns=True)
        self._shown.clear()
        for column in model.COLUMNS:
            table.add_column(self._label(column), width=self._widths[column.key], key=column.key)

    def _label(self, column: model.Column) -> Text:
        arrow = ""
        if self._sort is not None and self._sort[0] == column.key:
            arrow = " ▼" if self._sort[1] else " ▲"
        return Text(column.label + arrow)

    # ------------------------------------------------------------------ live changes
    @work(thread=True, exclusive=True, group="watch", exit_on_error=False)
    def watch_changes(self) -> None:
        """Wait for commits; read what changed; post it. The only loop that reads the store."""
        worker = get_current_worker()
        feed = CohortFeed(self.service, self.cohort)
        signal: ChangeSignal | None = None
        troubled = False
        try:
            while not worker.is_cancelled:
                try:
                    if signal is None:
                        signal = open_signal(self.service.db)
                        update: Update | None = feed.load()
                    else:
                        changed = signal.wait(POLL_SECONDS)
                        everyone = self._everyone.is_set()
                        if not (changed or everyone):
                            continue
                        self._everyone.clear()
                        update = feed.poll(everyone=everyone)
                    if troubled:
                        troubled = False
                        self.post_message(WatchTrouble(None))
                    if update is not None and not worker.is_cancelled:
                        self.post_message(PeopleChanged(update))
                except KioskError as exc:
                    troubled = True
                    self.post_message(WatchTrouble(one_line(str(exc))))
                    if signal is not None:
                        signal.close()
                        signal = None
                    self.service.db.close()
                    _sleep_unless_cancelled(worker, RETRY_SECONDS)
        finally:
            if signal is not None:
                signal.close()
            self.service.db.close()  # this thread's connection

    def on_people_changed(self, message: PeopleChanged) -> None:
        update = message.update
        table = self.query_one(DataTable)
        now = self.now()
        incoming = {p.email for p in update.people}
        gone = set(self._people) - incoming if update.complete else set()
        reorder = False
        for email in gone:
            del self._people[email]
            if email in self._shown:
                table.remove_row(email)
                del self._shown[email]
        for person in update.people:
            before = self._people.get(person.email)
            self._people[person.email] = person
            reorder |= self._place(table, person, now, before)
        if reorder and self._sort is not None:
            self._apply_sort(table)
        self._follow_selection(table)
        self._show_tally()
        self._show_details()
        self._loaded = True

    def _place(
        self, table: DataTable[Any], person: PersonState, now: datetime, before: PersonState | None
    ) -> bool:
        """Show `person`'s row as it is now; True when the row order may have changed."""
        email = person.email
        shown = self._shown.get(email)
        wanted = model.matches(person, self._filter)
        if shown is None:
            if not wanted:
                return False
            row = model.cells(person, now)
            table.add_row(*_cells(row), key=email)
            self._shown[email] = row
            return True
        if not wanted:
            table.remove_row(email)
            del self._shown[email]
            return False
        row = model.cells(person, now)
        for key, old, new in zip(model.COLUMN_KEYS, shown, row, strict=True):
            if old != new:
                table.update_cell(email, key, _cell(new, key))
        self._shown[email] = row
        if self._sort is None or before is None:
            return False
        key_of = model.sort_key(self._sort[0])
        return bool(key_of(before) != key_of(person))

    def _lay_out_rows(self) -> None:
        """Every row again (a new filter, sort or width): user actions, never a tick."""
        table = self.query_one(DataTable)
        table.clear()
        self._shown.clear()
        now = self.now()
        people = [p for p in self._people.values() if model.matches(p, self._filter)]
        if self._sort is not None:
            people.sort(key=model.sort_key(self._sort[0]), reverse=self._sort[1])
        else:
            people.sort(key=lambda p: p.email)
        for person in people:
            row = model.cells(person, now)
            table.add_row(*_cells(row), key=person.email)
            self._shown[person.email] = row
        self._follow_selection(table)
        self._show_details()

    def _follow_selection(self, table: DataTable[Any]) -> None:
        """Keep the cursor on the person staff selected, wherever their row moved."""
        if self._selected in self._shown:
            index = table.get_row_index(self._selected)
            if index != table.cursor_row:
                table.move_cursor(row=index, animate=False)
        elif table.row_count:
            row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
            self._selected = str(row_key.value)
        else:
            self._selected = None

    def on_watch_trouble(self, message: WatchTrouble) -> None:
        if message.text is None:
            self.say("Connected to the database again.")
        else:
            self.say(f"{message.text} (trying again)", error=True)

    # ------------------------------------------------------------------ the panes
    def _show_tally(self) -> None:
        tally = model.tally(self._people.values())
        if tally == self._tally:
            return
        self._tally = tally
        self.query_one("#counts", Static).update(plain(model.counts_line(tally)))
        self.query_one("#progress", ProgressBar).update(
            total=max(1, tally.total), progress=tally.enrolled
        )
        self.query_one("#progress-label", Static).update(
            plain(
                f"{tally.enrolled} of {tally.total} enrolled"
                + (f" · ⚑ {tally.attention} need attention" if tally.attention else "")
            )
        )
        label_width = max(len(label) for label, _ in model.FUNNEL)
        # The pane's border and padding take 2 cells; a label, a bar and a count share the rest.
        bar_width = FUNNEL_WIDTH - 2 - label_width - 2 - 4
        lines = ["How far people got"]
        for label, count in tally.funnel:
            lines.append(
                f"{label:<{label_width}} {model.bar(count, tally.total, bar_width)} {count:>4}"
            )
        self.query_one("#funnel", Static).update(plain("\n".join(lines)))

    def _show_details(self) -> None:
        person = self._people.get(self._selected or "")
        if person is None or self._selected not in self._shown:
            text = "No one selected." if self._loaded or self._people else ""
            if self._loaded and not self._people:
                text = "No one in this cohort yet: add a walk-in with a."
            self.query_one("#details", Static).update(plain(text))
            return
        lines = model.details(person, self.now(), self.idle_minutes)
        self.query_one("#details", Static).update(plain("\n".join(lines)))

    @on(DataTable.RowHighlighted, "#people")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self._selected = str(event.row_key.value)
            self._show_details()

    def say(self, text: str, *, error: bool = False) -> None:
        """One line in the status bar (a calm line for errors, never a traceback)."""
        status = self.query_one("#status", Static)
        status.set_class(error, "-error")
        status.update(plain(one_line(text)))

    # ------------------------------------------------------------------ filter and sort
    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._filter = event.value
        self._lay_out_rows()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one(DataTable).focus()

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def on_key(self, event: Any) -> None:
        if event.key == "escape" and self.query_one("#filter", Input).has_focus:
            self.query_one(DataTable).focus()
            event.stop()

    @on(DataTable.HeaderSelected, "#people")
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        column = str(event.column_key.value)
        reverse = self._sort is not None and self._sort == (column, False)
        self._sort_by(column, reverse)

    def action_sort(self) -> None:
        """The next column (name first); a second press on the last column clears the sort."""
        keys = model.COLUMN_KEYS
        if self._sort is None:
            self._sort_by(keys[0], False)
        else:
            index = keys.index(self._sort[0]) + 1
            self._sort_by(keys[index % len(keys)], False)

    def _sort_by(self, column: str, reverse: bool) -> None:
        self._sort = (column, reverse)
        table = self.query_one(DataTable)
        for spec in model.COLUMNS:
            table.columns[ColumnKey(spec.key)].label = self._label(spec)
        self._apply_sort(table)
        self._follow_selection(table)
        direction = "descending" if reverse else "ascending"
        label = next(c.label for c in model.COLUMNS if c.key == column)
        self.say(f"Sorted by {label.lower()}, {direction}.")

    def _apply_sort(self, table: DataTable[Any]) -> None:
        if self._sort is None:
            return
        column, reverse = self._sort
        key_of = model.sort_key(column)
        people = self._people
        table.sort("email", key=lambda email: key_of(people[email.plain]), reverse=reverse)

    # ------------------------------------------------------------------ actions
    def _selected_person(self) -> PersonState | None:
        person = self._people.get(self._selected or "")
        if person is None or self._selected not in self._shown:
            self.say("Select a person first.", error=True)
            return None
        return person

    def _confirm(
        self,
        question: str,
        then: Callable[[], object],
        *,
        yes: str = "Yes",
        destructive: bool = False,
    ) -> None:
        def answered(confirmed: bool | None) -> None:
            if confirmed:
                then()
            else:
                self.say("Cancelled: nothing was changed.")

        self.app.push_screen(ConfirmScreen(question, yes=yes, destructive=destructive), answered)

    def action_issue_pass(self) -> None:
        person = self._selected_person()
        if person is None:
            return
        email = person.email
        minutes = int(DEFAULT_VALIDITY.total_seconds() // 60)
        self._confirm(
            f"Issue an enrollment pass for {email}?\n\nCheck who they are first. The pass works "
            f"once, for {minutes} minutes, and replaces any pass they have.",
            lambda: self._issue_pass(email),
            yes="Issue",
        )

    @work(thread=True, exclusive=True, group="action", exit_on_error=False)
    def _issue_pass(self, email: str) -> None:
        try:
            issued = self.service.passes.issue(email, staff=self.staff)
        except KioskError as exc:
            self.app.call_from_thread(self.say, str(exc), error=True)
            return
        finally:
            self.service.db.close()
        self.app.call_from_thread(self._show_pass, issued)

    def _show_pass(self, issued: IssuedPass) -> None:
        local = issued.expires_at.replace(tzinfo=UTC).astimezone()
        self.say(f"Pass issued for {issued.email}, valid until {local:%H:%M}.")
        self.app.push_screen(PassScreen(issued.email, issued.text, issued.expires_at, self.now()))

    def action_unlock(self) -> None:
        person = self._selected_person()
        if person is None:
            return
        email = person.email
        self._confirm(
            f"Unlock {email}?\n\nThe failed attempts are cleared and they can try again.",
            lambda: self._run_change(
                lambda: self.service.accounts.unlock(email, source=self._source),
                f"Unlocked {email}.",
            ),
            yes="Unlock",
        )

    def action_reset_mfa(self) -> None:
        person = self._selected_person()
        if person is None:
            return
        email = person.email
        self._confirm(
            f"Reset the authenticator of {email}?\n\nTheir authenticator and recovery code stop "
            "working; they set up a new one at their next sign-in.",
            lambda: self._run_change(
                lambda: self.service.accounts.reset_mfa(email, source=self._source),
                f"Reset the authenticator of {email}.",
            ),
            yes="Reset",
            destructive=True,
        )

    def action_remove_member(self) -> None:
        person = self._selected_person()
        if person is None:
            return
        email = person.email
        self._confirm(
            f"Remove {email} from {self.cohort}?\n\nTheir account stays as it is.",
            lambda: self._run_change(
                lambda: self.service.cohorts.remove_member(self.cohort, email, staff=self.staff),
                f"Removed {email} from the cohort.",
            ),
            yes="Remove",
            destructive=True,
        )

    def action_add_walk_in(self) -> None:
        def entered(person: NewPerson | None) -> None:
            if person is None:
                self.say("Cancelled: nothing was changed.")
                return
            who = f"{person.email} ({person.full_name})" if person.full_name else person.email
            self._confirm(
                f"Add {who} to {self.cohort}?\n\nAn account without a password is made if "
                "there is none; issue them a pass to sign in.",
                lambda: self._add_walk_in(person),
                yes="Add",
            )

        self.app.push_screen(WalkInScreen(self.cohort), entered)

    def _add_walk_in(self, person: NewPerson) -> None:
        def add() -> None:
            added = self.service.cohorts.add(self.cohort, [person], staff=self.staff)
            if not added:
                raise KioskError(f"{person.email} is already in {self.cohort}")

        self._selected = person.email  # the cursor goes to them when their row appears
        self._run_change(add, f"Added {person.email}.")

    def action_export(self) -> None:
        default = f"{_file_safe(self.cohort)}-report.json"

        def chosen(path: Path | None) -> None:
            if path is None:
                self.say("Cancelled: nothing was written.")
                return
            question = f"Write the report of {self.cohort} to {path}?"
            if path.exists():
                question += "\n\nThe file there is replaced."
            self._confirm(question, lambda: self._export(path), yes="Write")

        self.app.push_screen(ExportScreen(default), chosen)

    def _export(self, path: Path) -> None:
        def write() -> None:
            from kiosk.reports import report_as_csv, report_as_json

            report = self.service.cohorts.report(self.cohort)
            if path.suffix.lower() == ".csv":
                text = report_as_csv(report)
            else:
                text = json.dumps(report_as_json(report), indent=2) + "\n"
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
                    out.write(text)
            except OSError as exc:
                raise KioskError(f"cannot write {path}: {exc.strerror}") from None

        self._run_change(write, f"Wrote the report to {path.resolve()}.")

    @property
    def _source(self) -> str:
        return f"staff:{self.staff}"

    def _run_change(self, change: Callable[[], object], done: str) -> None:
        self.say("Working…")
        self._change_worker(change, done)

    @work(thread=True, exclusive=True, group="action", exit_on_error=False)
    def _change_worker(self, change: Callable[[], object], done: str) -> None:
        try:
            change()
        except KioskError as exc:
            self.app.call_from_thread(self.say, str(exc), error=True)
            return
        finally:
            self.service.db.close()
        self.app.call_from_thread(self.say, done)
        self._everyone.set()  # the watcher sees the change anyway; this only hurries it

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            reference = report_unexpected(event.worker.error)
            what = (
                "The board stopped updating"
                if event.worker.group == "watch"
                else ("Something went wrong")
            )
            self.say(f"{what} (reference {reference}, see the log).", error=True)


def _cell(text: str, column: str = "") -> Text:
    style = "bold" if column == "attention" else ""
    return Text(text, style=style, no_wrap=True, overflow="ellipsis")


def _cells(row: model.Cells) -> list[Text]:
    return [_cell(text, key) for key, text in zip(model.COLUMN_KEYS, row, strict=True)]


def _file_safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name).strip(".") or "cohort"


def _sleep_unless_cancelled(worker: Worker[Any], seconds: float) -> None:
    waited = 0.0
    while waited < seconds and not worker.is_cancelled:
        threading.Event().wait(POLL_SECONDS)
        waited += POLL_SECONDS
