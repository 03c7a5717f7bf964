"""What every step screen shares: the header, a card for the content, a status line, Escape."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Button, Input

from kiosk.core.steps import Step
from kiosk.i18n import N_, _, current_language
from kiosk.ui.widgets.header import StepHeader
from kiosk.ui.widgets.status import IdleWarning, StatusLine

if TYPE_CHECKING:
    from kiosk.ui.host import KioskHost


Handler = TypeVar("Handler", bound=Callable[..., None])


def guarded(handler: Handler) -> Handler:
    """A screen's handler whose bug shows the calm error screen (with a reference in the log)
    instead of stopping the kiosk with a traceback."""

    @functools.wraps(handler)
    def run(self: StepScreen | KioskModal, *args: Any) -> None:
        try:
            handler(self, *args)
        except Exception as exc:  # noqa: BLE001 - shown as the calm error screen
            self.kiosk.show_crash(exc)

    return cast("Handler", run)


class StepScreen(Screen[None]):
    """A screen built from the flow's state when it is shown; subclasses fill `compose_card`."""

    STEP: ClassVar[Step | None] = None
    STEP_TITLE: ClassVar[str] = ""  # English, marked with N_(); shown translated
    CAN_GO_BACK: ClassVar[bool] = True
    HINT: ClassVar[str] = ""  # marked with N_(); shown translated
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "go_back", "Back", show=False),
    ]

    def __init__(self, notice: str | None = None) -> None:
        super().__init__(classes="step-screen")
        self._notice = notice

    @property
    def kiosk(self) -> KioskHost:
        return cast("KioskHost", self.app)

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        hint = _(self.HINT) if self.HINT else (_("Esc: back") if self.CAN_GO_BACK else "")
        progress = self.kiosk.flow.progress() if self.STEP is not None else None
        # Staff who guide in English still find the vendor's English title beside the translation.
        english = self.STEP_TITLE if current_language() != "en" else ""
        yield StepHeader(
            self.kiosk.organization,
            _(self.STEP_TITLE),
            progress,
            hint=hint,
            english_title=english,
            width=self.app.size.width - 2,  # the header's padding: 0 1
        )
        yield from self.compose_body()
        yield IdleWarning()

    def compose_body(self) -> ComposeResult:
        with Vertical(classes="card"):
            yield from self.compose_card()
            yield StatusLine()
            yield from self.compose_after_status()

    def compose_card(self) -> Iterable[Widget]:
        return ()

    def compose_after_status(self) -> Iterable[Widget]:
        """Hook: notes that belong below the status line (e.g. the demo hint)."""
        return ()

    def on_mount(self) -> None:
        if self._notice:
            self.status.show_error(self._notice)
        self.focus_first()
        self.mounted()

    def mounted(self) -> None:
        """Hook for subclasses (Textual calls `on_mount` of every class in the MRO)."""

    # ------------------------------------------------------------------ focus and state
    def first_focus(self) -> Widget | None:
        """The first field, or the primary button."""
        for widget in self.query("Input, Button.primary-action"):
            if widget.focusable:
                return widget
        return None

    def focus_first(self) -> None:
        widget = self.first_focus()
        if widget is not None:
            widget.focus()

    @property
    def status(self) -> StatusLine:
        return self.query_one(StatusLine)

    def set_busy(self, label: str) -> None:
        """While a worker runs: buttons off, "⧗ Checking…" shown."""
        for button in self.query(Button):
            button.disabled = True
        self.status.show_busy(label)

    def refresh_controls(self) -> None:
        """Enable the buttons again (screens with conditional buttons override this)."""
        for button in self.query(Button):
            button.disabled = False

    def refused(self, message: str) -> None:
        """The flow said no: show its one-line message and let the person try again."""
        self.refresh_controls()
        self.status.show_error(message)
        self.after_refusal()
        self.focus_first()

    def after_refusal(self) -> None:
        """Hook: e.g. clear the code field."""

    # ------------------------------------------------------------------ actions
    def action_go_back(self) -> None:
        if self.CAN_GO_BACK:
            self.kiosk.go_back()

    # Enter in any field: Textual runs `on_*` of every class in the MRO, so subclasses override
    # the plain hook `input_submitted`. Buttons have one `@on(Button.Pressed, "#id")` each.
    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            self.input_submitted(event.input, event.value)
        except Exception as exc:  # noqa: BLE001 - a bug here must not show a traceback
            self.kiosk.show_crash(exc)

    def input_submitted(self, field: Input, value: str) -> None:
        """Enter in a field submits the screen. `value` is the field's text when Enter was
        typed: keys typed after it (in the same burst) may already be in the field."""
        self.submit()

    @on(Button.Pressed, "#continue")
    @guarded
    def continue_pressed(self) -> None:
        self.submit()

    def submit(self) -> None:
        """The screen's primary action (Continue)."""

    def act(self, action: Any, *, then: Any = None, busy: str = N_("Checking…")) -> None:
        self.status.reset()
        self.kiosk.act(action, then=then, busy=_(busy))


class KioskModal(ModalScreen[None]):
    """A dialog over a step (Trouble Scanning?, Show as QR); Escape or Close returns."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", show=False),
    ]

    @property
    def kiosk(self) -> KioskHost:
        return cast("KioskHost", self.app)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield from self.compose_dialog()
        yield IdleWarning()

    def compose_dialog(self) -> Iterable[Widget]:
        return ()

    def on_mount(self) -> None:
        for button in self.query(Button):
            button.focus()
            break

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#close")
    def close_pressed(self) -> None:
        self.dismiss(None)
