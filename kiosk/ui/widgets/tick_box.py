"""A checkbox whose state shows in its glyph, not only in its colour."""

from __future__ import annotations

from textual.widgets import Checkbox


class TickBox(Checkbox):
    """`Checkbox` draws the same "X" ticked or not and tells them apart by colour alone, which a
    16-colour, NO_COLOR or colour-blind reader cannot see: here unticked is blank, ticked is ✔."""

    TICKED = "✔"
    UNTICKED = " "
    BUTTON_INNER = UNTICKED

    def watch_value(self) -> None:
        self.BUTTON_INNER = self.TICKED if self.value else self.UNTICKED
        super().watch_value()
        self.refresh()
