"""The setup QR code as lines of block characters, for plain mode (only when asked for).

The same module matrix as the full-screen widget (`kiosk.ui.widgets.qr.build_matrix`: ECC level
L, optimised segments), drawn with glyphs alone (`█ ▀ ▄` and space) since plain mode writes no
colour: one kind of module is the terminal's ink, the other its background. Which way round is
the widget's guess from COLORFGBG (dark background when unknown), so light modules are drawn as
ink on a dark terminal and the code is not inverted. Imported only when the QR is asked for (it
brings in the widget module, and with it Textual).
"""

from __future__ import annotations

QUIET_ZONE = 4  # modules: ISO 18004's full quiet zone (45 columns for a typical version 5 code)
_GLYPHS = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}


def qr_lines(data: str, *, dark_background: bool | None = None) -> list[str]:
    """The lines to print for `data`, or [] when it is too long for a QR code."""
    from kiosk.ui.widgets.qr import build_matrix, terminal_background_is_dark

    matrix = build_matrix(data)
    if matrix is None:
        return []
    if dark_background is None:
        dark_background = terminal_background_is_dark()
    side = len(matrix) + 2 * QUIET_ZONE
    blank = [False] * side
    rows = [blank] * QUIET_ZONE
    rows += [[False] * QUIET_ZONE + row + [False] * QUIET_ZONE for row in matrix]
    rows += [blank] * (QUIET_ZONE + side % 2)
    ink_is_dark = not dark_background
    return [
        "".join(
            _GLYPHS[(top == ink_is_dark, bottom == ink_is_dark)]
            for top, bottom in zip(upper, lower, strict=True)
        )
        for upper, lower in zip(rows[0::2], rows[1::2], strict=True)
    ]
