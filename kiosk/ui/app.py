"""KioskApp: one person's pass through the flow, a screen per step, the idle timer, kiosk vs ssh.

The app owns the single `AuthFlow`. Screens collect input and ask the app to run a flow method
(`act`); the call runs in a thread worker (argon2 and the database block) that never touches a
widget: it posts a message back, and the handler here decides what to show. Every screen is
rebuilt from the flow's state by `show_step`, so what is on screen always matches the flow.
"""

from __future__ import annotations

import importlib
import io
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.console import Console
from textual import events, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.geometry import Offset
from textual.message import Message
from textual.screen import Screen
from textual.theme import Theme
from textual.widget import Widget
from textual.widgets import Input

from kiosk.core.flow import AuthFlow
from kiosk.core.steps import Step
from kiosk.errors import KioskError, log, new_reference, report_unexpected
from kiosk.i18n import N_, current_language, localized, set_language
from kiosk.stylesheet import find_stylesheet
from kiosk.textual_window import capped_resize, hardened_driver
from kiosk.ui.screens.base import StepScreen
from kiosk.ui.widgets.status import IdleWarning

if TYPE_CHECKING:
    from textual.driver import Driver

    from kiosk.core.flow import ServiceSource

# Screens are imported when first shown: Sign in alone is on the way to the first paint.
SCREEN_FOR_STEP: dict[Step, str] = {
    Step.SIGN_IN: "sign_in:SignInScreen",
    Step.CREATE_PASSWORD: "create_password:CreatePasswordScreen",
    Step.MFA_REQUIRED: "mfa_required:MfaRequiredScreen",
    Step.SELECT_METHOD: "select_method:SelectMethodScreen",
    Step.SCAN_QR: "secure_account:SecureAccountScreen",
    Step.ENTER_SETUP_CODE: "enter_setup_code:EnterSetupCodeScreen",
    Step.SAVE_RECOVERY_CODE: "save_recovery_code:SaveRecoveryCodeScreen",
    Step.ENTER_CODE: "enter_code:EnterCodeScreen",
    Step.ENTER_RECOVERY_CODE: "use_recovery_code:UseRecoveryCodeScreen",
    Step.SIGNED_IN: "signed_in:SignedInScreen",
}


def screen_class(step: Step) -> type[StepScreen]:
    module_name, _, class_name = SCREEN_FOR_STEP[step].partition(":")
    module = importlib.import_module(f"kiosk.ui.screens.{module_name}")
    return cast("type[StepScreen]", getattr(module, class_name))

IDLE_WARNING_SECONDS = 15
# The closing "SomeError: message" line of a Rich traceback (only the type is ever logged).
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Failed)):", re.M)

# Input that counts as "someone is here" for the idle timer.
_ACTIVITY_EVENTS = (
    events.Key,
    events.MouseDown,
    events.MouseUp,
    events.MouseScrollDown,
    events.MouseScrollUp,
    events.Paste,
)


_CSS_PATH, _CSS_TEXT = find_stylesheet("kiosk.tcss")

Action = Callable[["AuthFlow"], Any]
Then = Callable[[Any], None]


class FlowDone(Message):
    """A flow call finished; `then` (or `show_step`) decides what comes next."""

    def __init__(self, generation: int, result: Any, then: Then | None) -> None:
        super().__init__()
        self.generation = generation
        self.result = result
        self.then = then


class FlowRefused(Message):
    """The flow said no with a message fit for the person (a `KioskError`)."""

    def __init__(self, generation: int, error: KioskError) -> None:
        super().__init__()
        self.generation = generation
        self.error = error

    @property
    def message(self) -> str:
        """The refusal in the person's language (shown on the main thread, at that moment)."""
        return localized(self.error)


class FlowCrashed(Message):
    """Something unexpected: logged with a reference, shown calmly, flow wiped."""

    def __init__(self, generation: int, error: BaseException) -> None:
        super().__init__()
        self.generation = generation
        self.error = error


@dataclass(frozen=True)
class Outcome:
    """How the app ended, for the one line the `kiosk` command prints (nothing when it is
    all None: a normal end)."""

    startup_error: str | None = None  # the store could not be opened
    crash_reference: str | None = None  # something unexpected happened; logged with this
    # The session copied something and the app ended before its wipe could empty the clipboard
    # of a shared kiosk terminal: whoever ran the app must empty it (`CLEAR_CLIPBOARD`).
    clipboard_left: bool = False
    switch_to_plain: bool = False  # F2 on Sign in: run plain mode (kiosk/plain) in this terminal


# `[kiosk] theme = "high-contrast"`: white on black, yellow header, pure colours only, so a
# 16-colour terminal (TERM=xterm) shows them exactly; focus is drawn by shape (heavy borders,
# reverse video) in styles/kiosk.tcss, under the app class `-high-contrast`.
HIGH_CONTRAST_THEME = Theme(
    name="kiosk-high-contrast",
    primary="#ffff00",
    secondary="#00ffff",
    accent="#ffffff",
    warning="#ffff00",
    error="#ff0000",
    success="#00ff00",
    foreground="#ffffff",
    background="#000000",
    surface="#000000",
    panel="#000000",
    boost="#000000",
    dark=True,
    luminosity_spread=0.0,
    text_alpha=1.0,
    variables={
        "button-focus-text-style": "bold reverse",
        "block-cursor-text-style": "bold reverse",
        "block-cursor-blurred-text-style": "none",
        "input-cursor-text-style": "reverse",
        "border": "#ffffff",
        "border-blurred": "#ffffff",
        "text-muted": "#ffffff",
        "footer-key-foreground": "#ffff00",
    },
)
# Show the terminal's own cursor (Textual hides it): a magnifier or braille display follows it.
SHOW_CURSOR = "\x1b[?25h"

# OSC 52 with an empty payload: the terminal's clipboard is emptied.
CLEAR_CLIPBOARD = "\x1b]52;c;\x07"


class KioskApp(App[Outcome]):
    """The kiosk: `mode` "kiosk" never quits and wipes itself; "ssh" ends the session instead."""

    ENABLE_COMMAND_PALETTE = False
    CSS_PATH = _CSS_PATH
    CSS = _CSS_TEXT
    TITLE = "kiosk"
    # Priority bindings replace Textual's ctrl+q (quit) and ctrl+c (help/copy): in kiosk mode no
    # key leaves the app; ctrl+\ and ctrl+z arrive as keys (raw mode) and are swallowed too.
    BINDINGS: ClassVar[list[BindingType]] = [
        # Tab moves focus as the key is read, before the next keys are handed out: otherwise a
        # password manager typing "email<Tab>password" fast puts the password, in plain sight,
        # into the Email field (the focused widget handles Tab only after the keys queued behind).
        Binding("tab", "focus_next", show=False, priority=True),
        Binding("shift+tab", "focus_previous", show=False, priority=True),
        Binding("ctrl+q", "interrupt", show=False, priority=True),
        Binding("ctrl+c", "interrupt", show=False, priority=True),
        Binding("ctrl+backslash", "ignore_key", show=False, priority=True),
        Binding("ctrl+z", "ignore_key", show=False, priority=True),
    ]

    def __init__(
        self,
        service: ServiceSource,
        *,
        mode: str,
        source: str,
        demo_hint: str | None = None,
        after_first_paint: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self._after_first_paint = after_first_paint
        if mode not in ("kiosk", "ssh"):
            raise ValueError(f"unknown mode {mode!r}")
        self.service = service
        self.settings = service.settings
        self.mode = mode
        self.source = source
        self.demo_hint = demo_hint
        self.organization = self.settings.kiosk.organization
        # The configured language; a person may choose another on Sign in for their session.
        self.language = getattr(self.settings.kiosk, "language", "en")
        set_language(self.language)
        self.theme_name = getattr(self.settings.kiosk, "theme", "default")
        if self.theme_name == "high-contrast":
            self.register_theme(HIGH_CONTRAST_THEME)
            self.theme = HIGH_CONTRAST_THEME.name
            self.add_class("-high-contrast")
        self.crash_reference: str | None = None  # set when the calm error screen was shown
        # Textual prints an error it catches itself (e.g. while building a screen) as a traceback
        # with local variables, which may hold a password or a secret. Nothing of it may reach
        # the person or the log: it goes to a private sink, and only its type is logged.
        self._error_sink = io.StringIO()
        self.error_console = Console(file=self._error_sink, markup=False, highlight=False)
        self.flow: AuthFlow = AuthFlow(service, source)
        self.idle_timeout = float(self.settings.kiosk.idle_timeout)
        self.signed_in_timeout = float(self.settings.kiosk.signed_in_timeout)
        # Checked often enough that short test timeouts work, at most once a second.
        self.idle_check_interval = min(1.0, max(0.05, self.idle_timeout / 20))
        self._last_activity = time.monotonic()
        self._generation = 0  # bumped on every wipe: late worker results are then ignored
        self._busy = False
        self._clipboard_written = False  # the session put something on the clipboard
        self._idle_warning_shown = False

    # ------------------------------------------------------------------ lifecycle
    def get_default_screen(self) -> Screen[Any]:
        """The flow's first screen (Sign in) is the app's own, not pushed over Textual's blank
        default: one screen fewer to build, lay out and paint before the first frame."""
        screen = screen_class(self.flow.step)()
        # What push_screen gives every screen and switch_screen takes back when it replaces one
        # (Textual 8.2 gives the default screen none: `_show` could not replace it otherwise).
        screen._push_result_callback(self, None)
        return screen

    def on_mount(self) -> None:
        if self.theme_name == "high-contrast" and self._driver is not None:
            self._driver.write(SHOW_CURSOR)
        self.set_interval(self.idle_check_interval, self.check_idle_timeout)
        if self._after_first_paint is not None:
            self.call_after_refresh(self._after_first_paint)
        self.call_after_refresh(self._open_service)

    @work(thread=True, exclusive=True, exit_on_error=False, group="open")
    def _open_service(self) -> None:
        """Open the store after the first paint, so Sign in shows without waiting for it."""
        try:
            self.service.ready()
        except KioskError as exc:
            self.call_from_thread(self._stop_on_startup_error, str(exc))
        except Exception as exc:  # noqa: BLE001 - shown as the calm error screen
            self.post_message(FlowCrashed(self._generation, exc))

    def _stop_on_startup_error(self, message: str) -> None:
        """A kiosk that cannot reach its store can do nothing: stop, and let the CLI say why."""
        self.exit(Outcome(startup_error=message), return_code=2)

    def get_driver_class(self) -> type[Driver]:
        """Textual's choice, with a terminal read by `KioskLinuxDriver` (a byte that is not
        UTF-8 or a flood of keys must not end or stall the kiosk), a browser's keys by
        `KioskWebDriver` (the same bound on floods)."""
        chosen = hardened_driver(super().get_driver_class())
        if (chosen.__module__, chosen.__name__) == ("textual.drivers.web_driver", "WebDriver"):
            from kiosk.ui.web_driver import KioskWebDriver  # `kiosk serve` (textual-serve)

            return KioskWebDriver
        return chosen

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, _ACTIVITY_EVENTS):
            self.note_activity()
        elif isinstance(event, events.Resize):
            event = capped_resize(event)
        await super().on_event(event)

    # ------------------------------------------------------------------ showing steps
    @property
    def busy(self) -> bool:
        return self._busy

    def show_step(self, notice: str | None = None) -> None:
        """Replace whatever is shown (modals included) with the screen for the flow's step."""
        screen = screen_class(self.flow.step)(notice=notice)
        self._show(screen)

    def _show(self, screen: Screen[Any]) -> None:
        """Close any dialog, then replace the step screen (the only other screen on the stack);
        the old one is removed, with whatever was typed into it."""
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.switch_screen(screen)

    def copy_secret(self, text: str) -> None:
        """Copy a key or recovery code to the terminal's clipboard (OSC 52)."""
        self.copy_to_clipboard(text)

    def copy_to_clipboard(self, text: str) -> None:
        """Every copy the session makes (ours, or Textual's own: a field's or the screen's
        selection) is noted, so that a kiosk's wipe can empty the clipboard again."""
        super().copy_to_clipboard(text)
        self._clipboard_written = bool(text)

    @property
    def offers_download(self) -> bool:
        """Download only reaches the person's own device in a browser session of their own
        (`kiosk serve` in ssh mode); a shared kiosk browser would keep the file for the next."""
        return self.is_web and self.mode == "ssh"

    def wipe(self) -> None:
        """Forget the person: reset the flow; a running worker finishes on a flow of its own.

        On a kiosk, anything the session copied is overwritten in the clipboard, so the next
        person at the shared terminal cannot paste it. Over SSH the terminal and its clipboard
        are the person's own (the recovery code they just copied stays, even when the session
        ends on the idle timeout): the kiosk never empties it there.
        """
        self._generation += 1
        set_language(self.language)  # the person's language choice goes with them
        if self._clipboard_written and self.mode == "kiosk":
            self.copy_to_clipboard("")
        self.flow.reset()
        if self._busy:
            self.flow = AuthFlow(self.service, self.source)
        self._busy = False
        self.note_activity()

    def end_session(self) -> None:
        """The person is done or gone: the next person's Sign in (kiosk), or the end (ssh)."""
        if self.mode == "ssh":
            self.wipe()
            self.exit(Outcome(crash_reference=self.crash_reference))
        else:
            self.wipe()
            self.show_step()

    def switch_to_plain(self) -> None:
        """Leave full screen for plain mode (kiosk.runtime runs it in this terminal)."""
        if not self._busy and not self.is_web:  # a browser has no line terminal to switch to
            self.wipe()
            self.exit(Outcome(switch_to_plain=True))

    # ------------------------------------------------------------------ flow calls
    def choose_language(self, language: str) -> None:
        """The person's language for this session (Sign in's choice); the wipe undoes it."""
        set_language(language)
        self.note_activity()
        email = ""
        for field in self.screen.query(Input):
            if field.id == "email":
                email = field.value
        self.show_step()
        if email:
            self.call_after_refresh(self._restore_email, email)

    def _restore_email(self, email: str) -> None:
        for field in self.screen.query(Input):
            if field.id == "email" and not field.value:
                field.value = email

    def act(self, action: Action, *, then: Then | None = None, busy: str = "Checking…") -> None:
        """Run `action(flow)` in a worker with a visible busy state; ignored while one runs."""
        if self._busy:
            return
        self._busy = True
        screen = self.screen
        if isinstance(screen, StepScreen):
            screen.set_busy(busy)
        self._run_flow_call(self.flow, self._generation, action, then)

    @work(thread=True, exclusive=True, exit_on_error=False, group="flow")
    def _run_flow_call(
        self, flow: AuthFlow, generation: int, action: Action, then: Then | None
    ) -> None:
        """Worker thread: call the flow, post the outcome. Never touches a widget."""
        try:
            result = action(flow)
        except KioskError as exc:
            self.post_message(FlowRefused(generation, exc))
        except Exception as exc:  # noqa: BLE001 - shown as the calm error screen
            self.post_message(FlowCrashed(generation, exc))
        else:
            self.post_message(FlowDone(generation, result, then))

    def on_flow_done(self, message: FlowDone) -> None:
        if message.generation != self._generation:
            return
        self._busy = False
        try:
            if message.then is not None:
                message.then(message.result)
            else:
                self.show_step()
        except Exception as exc:  # noqa: BLE001 - a bug in a screen must not show a traceback
            self.show_crash(exc)

    def on_flow_refused(self, message: FlowRefused) -> None:
        if message.generation != self._generation:
            return
        self._busy = False
        screen = self.screen
        if isinstance(screen, StepScreen) and self.flow.step == screen.STEP:
            screen.refused(message.message)
        else:  # the flow moved (e.g. the account changed elsewhere): show where it is now
            self.show_step(notice=message.message)

    def on_flow_crashed(self, message: FlowCrashed) -> None:
        if message.generation != self._generation:
            return
        self.show_crash(message.error)

    def show_crash(self, error: BaseException) -> None:
        """Log with a short reference (no secret: the flow's state is not logged), wipe, explain."""
        from kiosk.ui.screens.error import ErrorScreen

        reference = report_unexpected(error)
        self.crash_reference = reference
        self.wipe()
        self._show(ErrorScreen(reference))

    def outcome_after_unhandled_error(self) -> Outcome:
        """The outcome when Textual stopped the app on an error it caught itself (its `run()`
        then returns no result): logged with a reference and the exception's type only, as the
        traceback Textual printed (to a private sink) may show local variables."""
        text = self._error_sink.getvalue()
        names = _EXCEPTION_LINE.findall(text)
        error_type = names[-1][:80] if names else ("error" if text.strip() else "no result")
        reference = self.crash_reference or report_unexpected_type(error_type)
        left = self._clipboard_written and self.mode == "kiosk"
        return Outcome(crash_reference=reference, clipboard_left=left)

    def go_back(self) -> None:
        """Escape: one step back in the flow (never past Sign in); the core forgets what it must."""
        if self._busy:
            return
        before = self.flow.step
        if self.flow.back() != before:
            self.show_step()

    # ------------------------------------------------------------------ the terminal cursor
    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """The terminal's cursor goes to the focused widget (Textual moves it only for a field
        being edited), so screen magnifiers and braille displays follow the focus."""
        self.place_cursor()
        # At a screen's first focus the layout is not done yet: place it again once it is.
        self.call_after_refresh(self.place_cursor, repaint=True)

    def on_resize(self, event: events.Resize) -> None:
        self.call_after_refresh(self.place_cursor, repaint=True)

    def cursor_target(self, widget: Widget) -> Offset | None:
        """Where the cursor belongs for a focused `widget`: a field's own caret, otherwise the
        first cell of its content (a button's label, a tick box)."""
        if isinstance(widget, Input):
            return widget.cursor_screen_offset
        region = widget.content_region
        return None if region.area == 0 else region.offset

    def place_cursor(self, repaint: bool = False) -> None:
        if not self.screen_stack:  # between screens (a switch, the app's end): nothing to follow
            return
        focused = self.focused
        if focused is None or not focused.is_mounted:
            return
        target = self.cursor_target(focused)
        if target is None or target == self.cursor_position:
            return
        self.cursor_position = target
        if repaint:  # the cursor moves with the next frame written: ask for one
            focused.refresh()

    # ------------------------------------------------------------------ idle
    def note_activity(self) -> None:
        """Someone is here. Runs for every key: the screen is searched only when a warning
        is up (a search per key was most of the cost of a long burst of keys)."""
        self._last_activity = time.monotonic()
        if self._idle_warning_shown:
            self._idle_warning_shown = False
            for warning in self.screen.query(IdleWarning):
                if warning.display:
                    warning.hide()

    def has_nothing_to_wipe(self) -> bool:
        """An untouched Sign in: no person's data on screen, in the flow or in the clipboard."""
        if self.flow.step != Step.SIGN_IN or self._busy or self._clipboard_written:
            return False
        if current_language() != self.language:  # a language chosen and left behind
            return False
        if len(self.screen_stack) > 1:  # a dialog is open
            return False
        return not any(field.value for field in self.screen.query(Input))

    def check_idle_timeout(self) -> None:
        """Warn in the last seconds; at the timeout wipe (kiosk) or end the session (ssh).

        A kiosk already showing an untouched Sign in has nothing to wipe: it is left as it is
        rather than rebuilt every `idle_timeout` seconds.
        """
        remaining = self.idle_timeout - (time.monotonic() - self._last_activity)
        if self.mode == "kiosk" and self.has_nothing_to_wipe():
            self.note_activity()
            return
        if remaining <= 0:
            self.end_session()
            return
        window = min(IDLE_WARNING_SECONDS, self.idle_timeout / 2)
        if remaining <= window:
            ends = (
                N_("Still there? This session ends in {seconds} s — press any key to stay.")
                if self.mode == "ssh"
                else N_("Still there? This screen clears in {seconds} s — press any key to stay.")
            )
            for warning in self.screen.query(IdleWarning):
                warning.show_remaining(max(1, round(remaining)), ends=ends)
                self._idle_warning_shown = True

    # ------------------------------------------------------------------ keys
    def action_interrupt(self) -> None:
        """ctrl+c / ctrl+q: nothing in kiosk mode; end the session (exit 0) in ssh mode."""
        if self.mode == "ssh":
            self.end_session()

    def action_ignore_key(self) -> None:
        """ctrl+\\ and ctrl+z: never suspend or kill the kiosk."""


def report_unexpected_type(error_type: str) -> str:
    """Log that the app stopped on an error of `error_type`, with a new reference."""
    reference = new_reference()
    log.error("the app stopped on %s, reference %s", error_type, reference)
    return reference
