"""The step header: where the person is, in words (never by colour alone)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static


class StepHeader(Static):
    """One line: organisation › screen title on the left, "Step N of M · Esc: back" on the right.

    Kept to one line at 80 columns so the Secure your Account screen leaves the QR its rows; a
    very long organisation name wraps rather than hiding the title.
    """

    def __init__(
        self,
        organization: str,
        title: str,
        progress: tuple[int, int] | None,
        *,
        hint: str = "",
        id: str | None = "step-header",  # noqa: A002 - Textual's own parameter name
    ) -> None:
        self.organization = organization
        self.title = title
        self.progress = progress
        self.hint = hint
        super().__init__(self._build(), id=id)

    @property
    def progress_text(self) -> str:
        """What the right-hand side says, e.g. "Step 3 of 6 · Esc: back"."""
        parts = []
        if self.progress is not None:
            number, total = self.progress
            parts.append(f"Step {number} of {total}")
        if self.hint:
            parts.append(self.hint)
        return " · ".join(parts)

    def _build(self) -> Table:
        grid = Table.grid(expand=True, padding=(0, 1))
        grid.add_column(ratio=1)
        grid.add_column(justify="right", no_wrap=True)
        left = Text.assemble((self.organization, "bold"), "  ›  ", (self.title, "bold"))
        grid.add_row(left, Text(self.progress_text))
        return grid
