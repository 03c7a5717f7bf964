"""Secure your Account: the QR beside the instructions, Trouble Scanning? for the manual key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Button, Static

from kiosk.core.steps import Step
from kiosk.i18n import N_, _
from kiosk.ui.screens.base import KioskModal, StepScreen, guarded
from kiosk.ui.widgets.qr import QRCode
from kiosk.ui.widgets.status import StatusLine

if TYPE_CHECKING:
    from kiosk.core.flow import PendingSecret


class ManualKeyModal(KioskModal):
    """Trouble Scanning?: everything needed to type the account into the app by hand."""

    def __init__(self, pending: PendingSecret) -> None:
        super().__init__(classes="manual-key")
        self.pending = pending

    def compose_dialog(self) -> Iterator[Widget]:
        yield Static(_("Trouble Scanning?"), classes="dialog-title", markup=False)
        yield Static(
            _(
                "In your authenticator app choose to add an account by entering a setup key, "
                "and type in:"
            ),
            classes="explanation",
            markup=False,
        )
        labels = [_("Account:"), _("Issuer:"), _("Type:")]
        width = max(len(label) for label in labels) + 2
        values = [self.pending.account_name, self.pending.issuer, _("Time-based (TOTP)")]
        yield Static(
            "\n".join(
                label.ljust(width) + value for label, value in zip(labels, values, strict=True)
            ),
            classes="key-details",
            markup=False,
        )
        yield Static(self.pending.grouped_key, id="manual-key", classes="secret-box", markup=False)
        yield Static(
            _(
                "Spaces don't matter. Copy puts the key on this browser's clipboard without "
                "spaces (some browsers block this)."
            )
            if self.app.is_web
            else _(
                "Spaces don't matter. Copy puts the key on your clipboard without spaces "
                "(some terminals ignore this)."
            ),
            classes="explanation small",
            markup=False,
        )
        yield StatusLine(id="modal-status")
        with Horizontal(classes="buttons"):
            yield Button(_("Copy"), id="copy-key", variant="primary", classes="primary-action")
            yield Button(_("Close"), id="close")

    @on(Button.Pressed, "#copy-key")
    @guarded
    def copy_key(self) -> None:
        self.kiosk.copy_secret(self.pending.secret.rstrip("="))
        self.query_one("#modal-status", StatusLine).update(
            "✔ "
            + (
                _("Key sent to the clipboard (if this browser allows it).")
                if self.app.is_web
                else _("Key sent to your clipboard (if your terminal allows it).")
            )
        )


class SecureAccountScreen(StepScreen):
    STEP = Step.SCAN_QR
    STEP_TITLE = N_("Secure your Account")

    def compose_body(self) -> ComposeResult:
        pending = self.kiosk.flow.pending_secret
        assert pending is not None  # the flow only reaches SCAN_QR with a pending secret
        with Horizontal(classes="qr-layout"):
            # The compact URI (same credential, shorter label) is drawn only where the full one
            # would not fit, e.g. a 20-character organisation with a 40-character email at 80x24.
            yield QRCode(pending.uri, id="qr", compact_data=pending.compact_uri)
            with Vertical(classes="instructions"):
                yield Static(
                    _(
                        "1. Open your authenticator app and scan this code with the app's "
                        "built-in scanner, not your phone's camera."
                    ),
                    classes="explanation",
                    markup=False,
                )
                yield Static(
                    _("2. Choose Continue and enter the 6-digit code the app shows."),
                    classes="explanation",
                    markup=False,
                )
                yield Static(
                    _(
                        "Setting up on this same phone? You can't scan your own screen: choose "
                        "Trouble Scanning? and type the key into the app."
                    ),
                    classes="explanation tip",
                    markup=False,
                )
                yield Button(_("Trouble Scanning?"), id="trouble-scanning")
                yield Button(
                    _("Continue"), id="continue", variant="primary", classes="primary-action"
                )
                yield StatusLine()

    def first_focus(self) -> Widget | None:
        return self.query_one("#continue", Button)

    @on(Button.Pressed, "#trouble-scanning")
    @guarded
    def trouble_scanning(self) -> None:
        pending = self.kiosk.flow.pending_secret
        if pending is not None:
            self.app.push_screen(ManualKeyModal(pending))

    def submit(self) -> None:
        self.act(lambda flow: flow.continue_to_code(), busy=N_("One moment…"))
