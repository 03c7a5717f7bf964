"""The step header: where the person is, in words (never by colour alone)."""

from __future__ import annotations

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text
from textual import events
from textual.widgets import Static

from kiosk.i18n import _

SEPARATOR = " · "
TITLE_JOIN = "  ›  "
# Cells kept clear between title and right-hand side: with one, "…Required Step 2 of 6"
# reads as one phrase.
MIN_GAP = 3


class StepHeader(Static):
    """One line: organisation › screen title on the left, "Step N of M · Esc: back" on the right.

    Kept to one line so the Secure your Account screen leaves the QR its rows. When the window
    is narrow the right-hand side gives way first (the hint, then "Step 3 of 6" becomes "3/6",
    then nothing), so the title stays whole on its line; only a very long organisation name
    still wraps rather than hiding the title.
    """

    def __init__(
        self,
        organization: str,
        title: str,
        progress: tuple[int, int] | None,
        *,
        hint: str = "",
        english_title: str = "",
        width: int | None = None,
        id: str | None = "step-header",  # noqa: A002 - Textual's own parameter name
    ) -> None:
        self.organization = organization
        self.title = title
        # The English title, dimmed in brackets after a translated one, while there is room.
        self.english_title = english_title if english_title != title else ""
        self.show_english = bool(self.english_title)
        self.progress = progress
        self.hint = hint
        # Fitted to the window from the first frame (a long translated title must not wrap
        # the header until the first resize event); `on_resize` keeps it fitted.
        self.right_text = self.progress_text if width is None else self.right_text_for(width)
        super().__init__(self._build(), id=id)

    @property
    def progress_text(self) -> str:
        """What the right-hand side says when there is room, e.g. "Step 3 of 6 · Esc: back"."""
        return SEPARATOR.join(self._right_parts())

    def _right_parts(self) -> list[str]:
        parts = []
        if self.progress is not None:
            number, total = self.progress
            parts.append(_("Step {number} of {total}").format(number=number, total=total))
        if self.hint:
            parts.extend(self.hint.split(SEPARATOR))
        return parts

    def right_text_for(self, width: int) -> str:
        """The longest right-hand side that leaves the title whole on a line `width` wide.

        Sets `show_english`: the English title (after a translated one) stays while at least
        "3/6" still fits beside it; it gives way before the step's number does.
        """
        parts = self._right_parts()
        options = [SEPARATOR.join(parts[:count]) for count in range(len(parts), 0, -1)]
        if self.progress is not None:
            options.append("{}/{}".format(*self.progress))
        left = cell_len(self.organization) + cell_len(TITLE_JOIN) + cell_len(self.title)
        if self.english_title:
            with_english = left + self._english_cells
            for option in options or [""]:
                if with_english + MIN_GAP + cell_len(option) <= width:
                    self.show_english = True
                    return option
            self.show_english = False
        for option in options:
            if left + MIN_GAP + cell_len(option) <= width:
                return option
        return ""

    def on_resize(self, event: events.Resize) -> None:
        shown = self.show_english
        right = self.right_text_for(self.content_size.width)
        if right != self.right_text or shown != self.show_english:
            self.right_text = right
            self.update(self._build())

    @property
    def _english_cells(self) -> int:
        return cell_len(f" ({self.english_title})")

    def _build(self) -> Table:
        grid = Table.grid(expand=True, padding=(0, 1))
        grid.add_column(ratio=1)
        grid.add_column(justify="right", no_wrap=True)
        left = Text.assemble((self.organization, "bold"), TITLE_JOIN, (self.title, "bold"))
        if self.english_title and self.show_english:
            left.append(f" ({self.english_title})", style="dim")
        grid.add_row(left, Text(self.right_text))
        return grid
