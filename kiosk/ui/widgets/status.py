"""One-line status messages: errors, busy state and the idle warning, each marked by a symbol."""

from __future__ import annotations

from textual.widgets import Static

from kiosk.i18n import _


class StatusLine(Static):
    """Says what went wrong (⚠) or that work is under way (⧗); empty otherwise."""

    def __init__(self, *, id: str | None = "status") -> None:  # noqa: A002
        super().__init__("", id=id, markup=False)

    def reset(self) -> None:
        self.remove_class("-error", "-busy")
        self.update("")

    def show_error(self, message: str) -> None:
        self.remove_class("-busy")
        self.add_class("-error")
        self.update(f"⚠ {message}")

    def show_busy(self, label: str) -> None:
        self.remove_class("-error")
        self.add_class("-busy")
        self.update(f"⧗ {label}")

    @property
    def text(self) -> str:
        return str(self.content)


class IdleWarning(Static):
    """Docked at the bottom of every screen; shown in the last seconds before the session ends."""

    def __init__(self) -> None:
        super().__init__("", classes="idle-warning", markup=False)
        self.display = False

    def show_remaining(self, seconds: int, *, ends: str) -> None:
        self.update("⏰ " + _(ends).format(seconds=seconds))
        self.display = True

    def hide(self) -> None:
        self.display = False
