"""Save Your Recovery Code: shown once, copied or shown as a QR (downloaded in a browser)."""

from __future__ import annotations

import io
from collections.abc import Iterator

from textual import on
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Static

from kiosk.core.steps import Step
from kiosk.i18n import N_, _
from kiosk.ui.screens.base import KioskModal, StepScreen, guarded
from kiosk.ui.widgets.qr import QRCode
from kiosk.ui.widgets.tick_box import TickBox


class RecoveryQRModal(KioskModal):
    """The recovery code as a QR, so a phone can save it as text (no file on the kiosk)."""

    def __init__(self, code: str) -> None:
        super().__init__(classes="recovery-qr")
        self.code = code

    def compose_dialog(self) -> Iterator[Widget]:
        with Horizontal(classes="qr-row"):
            yield QRCode(self.code, id="recovery-qr")
            with Vertical(classes="qr-side"):
                yield Static(
                    _("Your recovery code as a QR code"), classes="dialog-title", markup=False
                )
                yield Static(
                    _(
                        "Scan it with your phone's camera or password manager and save the "
                        "text somewhere safe."
                    ),
                    classes="explanation",
                    markup=False,
                )
                yield Button(_("Close"), id="close", variant="primary", classes="primary-action")


class SaveRecoveryCodeScreen(StepScreen):
    STEP = Step.SAVE_RECOVERY_CODE
    STEP_TITLE = N_("Save Your Recovery Code")

    def compose_card(self) -> Iterator[Widget]:
        code = self.kiosk.flow.recovery_code_for_display or ""
        yield Static(
            _(
                "Your app works. If you ever lose this phone, this recovery code lets you set "
                "up a new one. It is shown only now:"
            ),
            classes="explanation",
            markup=False,
        )
        yield Static(code, id="recovery-code", classes="secret-box", markup=False)
        with Horizontal(classes="buttons"):
            yield Button(_("Copy"), id="copy", classes="primary-action")
            if self.kiosk.offers_download:
                yield Button(_("Download"), id="download")
            else:
                yield Button(_("Show as QR"), id="show-qr")
        yield Static(
            _("Copy uses this browser's clipboard; some browsers block it.")
            if self.app.is_web
            else _("Copy uses your terminal's clipboard; some terminals ignore it."),
            classes="explanation small",
            markup=False,
        )
        yield Static(
            "⚠ "
            + _(
                "Each recovery code works only once. Store it where you can reach it from "
                "another device (a password manager or notes), not only on this phone."
            ),
            classes="warning",
            markup=False,
        )
        yield TickBox(_("I Have Securely Saved This Code"), id="saved")
        with Horizontal(classes="buttons"):
            yield Button(_("Continue"), id="continue", variant="primary", disabled=True)

    def refresh_controls(self) -> None:
        super().refresh_controls()
        self.query_one("#continue", Button).disabled = not self.query_one("#saved", Checkbox).value

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        if not self.kiosk.busy:
            self.query_one("#continue", Button).disabled = not event.value

    @on(Button.Pressed, "#copy")
    @guarded
    def copy_code(self) -> None:
        code = self.kiosk.flow.recovery_code_for_display
        if code:
            self.kiosk.copy_secret(code)
            self.status.update(
                "✔ "
                + (
                    _("Sent to the clipboard (if this browser allows it).")
                    if self.app.is_web
                    else _("Sent to your clipboard (if your terminal allows it).")
                )
            )

    @on(Button.Pressed, "#show-qr")
    @guarded
    def show_as_qr(self) -> None:
        code = self.kiosk.flow.recovery_code_for_display
        if code:
            self.app.push_screen(RecoveryQRModal(code))

    @on(Button.Pressed, "#download")
    @guarded
    def download(self) -> None:
        code = self.kiosk.flow.recovery_code_for_display
        if code and self.kiosk.offers_download:
            # Streamed to the browser by textual-serve; nothing is written on the kiosk.
            self.app.deliver_text(
                io.StringIO(code + "\n"),
                save_filename="recovery-code.txt",
                mime_type="text/plain",
            )

    def submit(self) -> None:
        saved = self.query_one("#saved", Checkbox).value
        if not saved:
            self.status.show_error(_("Please tick “I Have Securely Saved This Code” first."))
            return
        self.act(lambda flow: flow.finish_enrollment(saved=saved), busy=N_("Saving…"))
