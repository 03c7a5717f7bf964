"""The 6-digit code field: digits only, six at most, and a pasted "123 456" still works."""

from __future__ import annotations

import unicodedata

from kiosk.limits import CODE_DIGITS
from kiosk.ui.widgets.field import KioskInput


class CodeInput(KioskInput):
    """A field that keeps only ASCII digits of what is typed or pasted.

    Authenticator apps show codes as "123 456" and copy them with the space; a plain
    `restrict=[0-9]*` field would refuse such a paste outright. Full-width digits from an input
    method are read as digits too (NFKC), everything else is dropped.
    """

    def __init__(self, *, placeholder: str = "123456", id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(
            placeholder=placeholder,
            id=id,
            classes=classes,
            restrict=r"[0-9]*",
            max_length=CODE_DIGITS,
        )

    def insert_text_at_cursor(self, text: str) -> None:
        digits = "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch in "0123456789")
        room = CODE_DIGITS - len(self.value)
        if digits and room > 0:
            super().insert_text_at_cursor(digits[:room])
