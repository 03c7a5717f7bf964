"""A QR code drawn with Unicode half blocks, in explicit black and white, that is never clipped.

Why it is built this way
------------------------
- **Explicit colours.** Every cell is ``▀`` with the upper module as foreground and the lower one as
  background: dark modules ``#000000``, light modules and the quiet zone ``#ffffff``. Default
  terminal colours or palette names would scan in one theme and come out inverted in another, and
  many authenticator apps reject inverted codes.
- **Sizing.** ``modules = 17 + 4 * version``; a cell shows 1×2 modules, so a code with quiet zone
  ``q`` needs ``n = modules + 2q`` columns and ``ceil(n / 2)`` rows::

      version  modules  quiet zone 4   quiet zone 2
      4        33       41 x 21        37 x 19
      5        37       45 x 23        41 x 21
      6        41       49 x 25        45 x 23
      7        45       53 x 27        49 x 25
      8        49       57 x 29        53 x 27

  The widget tries a quiet zone of 4 modules, then 2, and otherwise shows a short message that
  points to the manual key. It never draws a clipped code. The decision is made from the size the
  widget actually got (``max-width``/``max-height: 100%`` let the parent's limits apply) and is
  redone on every resize; `QRCode.FitChanged` tells the screen when the answer flips.
- **Encoding.** ``ERROR_CORRECT_L`` (a screen is not a scratched sticker) and ``optimize=20``:
  the 32-character base32 secret is upper-case, so it goes into an alphanumeric segment
  (5.5 bits a character instead of 8), which saves one version for typical otpauth URIs.
  Measured with pyotp's URI (``otpauth://totp/Org:email?secret=<32>&issuer=Org``; ``@`` becomes
  ``%40``, a space ``%20``; the organisation appears twice)::

      organisation (chars)          email 20   email 30   email 35   email 40
      "Acme" (4)                    v5         v5         v5         v6
      "Procore" (7)                 v5         v5         v6         v6
      lower-case, 20                v6         v6         v6         v7
      "Acme Widgets & Co. X" (20)   v7         v7         v7         v8

  In general (ASCII, no character needing percent-encoding apart from the ``@``; each such
  character costs 2 more, twice when in the organisation): version 5 while
  ``2 * len(org) + len(email) <= 47``, version 6 while it is ``<= 75``, else version 7+.
  So at 80x24 a 20-character organisation with a 40-character email needs version 7 (49x25 cells
  even with a 2-module quiet zone): one row more than the terminal has. For that case the screen
  also passes ``compact_data``: the same credential without the label's issuer prefix
  (``otpauth://totp/email?secret=...&issuer=Org``, '@' unescaped), which is version 6 even for
  "Acme Widgets & Co. X" with a 40-character email. It is drawn only when the full URI does not
  fit; apps that read ``issuer=`` (all current ones) file both the same way. Version 6 (45x23 with a
  2-module quiet zone, leaving 35 columns and 1 row) is the largest that fits 80x24; version 5
  fits with the full quiet zone. Without ``optimize`` some of these are one version larger
  (lower-case 20 with email 30: v7).
- **Colour systems (TERM=xterm, NO_COLOR).** Wherever colour reaches the terminal the code stays
  black on white, because that is what scans in every theme: truecolor as is, 256 colours as the
  fixed cube entries 16/231, 16 colours (``TERM=xterm``) as palette "black" on "bright white"
  (``ESC[30;107m``), which palettes keep near-black and near-white (base16 *light* schemes,
  which swap them, are the known exception). Textual writes truecolor even when it detects no
  colour system (``TERM=dumb``). ``NO_COLOR`` with Textual's usual themes only turns colours
  into greys (its monochrome filter): black and white survive, so the code is still drawn in
  colour. Only when colours are really stripped (``NO_COLOR`` with an ANSI theme or
  ``App(ansi_color=True)``: Textual's no-colour filter; the widget asks the app's line filters)
  is the code drawn with glyphs alone (``█ ▀ ▄`` and space): one kind of module is the
  terminal's ink, the other its background. Which way round is a guess, because the terminal
  does not say whether its theme is dark: ``COLORFGBG`` (set by rxvt, Konsole and others) is
  used when present; otherwise a dark background is assumed (the default of most terminal
  emulators and of the Linux console), so light modules are drawn as ink. A hint below the code
  (when there is room) points to Trouble Scanning?, because on the other kind of theme the code
  is inverted and many apps will not read it.
- **Secrets.** The data is an otpauth URI holding the TOTP secret: it is never logged, never put
  in a message, and cached only on the widget instance (not at module level), so it goes away
  with the widget and is dropped when ``data`` changes.
- **Startup.** ``qrcode`` is imported lazily, when a matrix is first built.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from kiosk.i18n import N_, _

__all__ = ["QRCode", "build_matrix", "cells_for"]

QUIET_ZONES: tuple[int, ...] = (4, 2)
"""Quiet zones tried, widest first (ISO 18004 asks for 4; phone scanners cope with 2)."""

DARK = "#000000"
LIGHT = "#ffffff"
_STYLES = {
    (True, True): Style(color=DARK, bgcolor=DARK),
    (True, False): Style(color=DARK, bgcolor=LIGHT),
    (False, True): Style(color=LIGHT, bgcolor=DARK),
    (False, False): Style(color=LIGHT, bgcolor=LIGHT),
}
_PROBE_STYLE = _STYLES[(True, False)]

# Marked for the catalogs (kiosk/locale); translated when a widget is built.
TOO_SMALL_MESSAGE = N_(
    "This window is too small for the QR code. Enlarge it, or choose Trouble Scanning? "
    "to type the key."
)
TOO_LONG_MESSAGE = N_(
    "This is too long to show as a QR code. Choose Trouble Scanning? to type the key."
)
GLYPH_HINT = N_("If your app can't read this code, choose Trouble Scanning? to type the key.")
_MAX_CACHED_LAYOUTS = 8
MESSAGE_WIDTH = 40
"""Preferred width of the fallback message, in cells."""

Matrix = list[list[bool]]
DrawMode = Literal["colour", "glyphs"]


def build_matrix(data: str) -> Matrix | None:
    """The module matrix (True = dark) without a quiet zone, or None if `data` is too long."""
    import qrcode  # lazy: keeps `import kiosk` fast
    from qrcode.constants import ERROR_CORRECT_L
    from qrcode.exceptions import DataOverflowError

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_L, border=0)
    code.add_data(data, optimize=20)
    try:
        code.make(fit=True)
    except (DataOverflowError, ValueError):  # qrcode 8 reports "version 41" as ValueError
        return None
    return [[bool(module) for module in row] for row in code.get_matrix()]


def cells_for(modules: int, quiet_zone: int) -> tuple[int, int]:
    """(columns, rows) needed by a code of `modules` modules a side with the given quiet zone."""
    side = modules + 2 * quiet_zone
    return side, math.ceil(side / 2)


def terminal_background_is_dark(environ: dict[str, str] | None = None) -> bool:
    """Guess the terminal's background from COLORFGBG ("fg;bg"), dark when unknown.

    Used only when colours are stripped and the code must be drawn with glyphs.
    """
    value = (os.environ if environ is None else environ).get("COLORFGBG", "")
    background = value.rsplit(";", 1)[-1].strip()
    if background.isdigit():
        return int(background) not in (7, 9, 10, 11, 12, 13, 14, 15)
    return True


def _luminance(color: Color) -> float:
    return (0.2126 * color.r + 0.7152 * color.g + 0.0722 * color.b) / 255


@dataclass(frozen=True)
class _Layout:
    """What the widget shows in a given space."""

    quiet_zone: int | None  # None: a message instead of the code
    width: int
    height: int  # including hint lines
    hint_lines: tuple[str, ...] = ()
    message_lines: tuple[str, ...] = ()
    compact: bool = False  # drawn from `compact_data` because `data` did not fit


class QRCode(Widget):
    """A scannable QR code for `data`, or a short message when it does not fit.

    Sizes itself with ``width: auto; height: auto``; place it where it is not scrolled out of view.
    """

    DEFAULT_CSS = """
    QRCode {
        width: auto;
        height: auto;
        max-width: 100%;
        max-height: 100%;
    }
    """

    data: reactive[str] = reactive("", layout=True, repaint=True, always_update=False)
    """The text to encode (an otpauth URI, a recovery code...). Never logged."""

    compact_data: reactive[str] = reactive("", layout=True, repaint=True, always_update=False)
    """An equivalent, shorter text drawn only when `data` does not fit (e.g. an otpauth URI
    without the issuer prefix in its label, keeping `issuer=`). Empty: no such fallback."""

    class FitChanged(Message):
        """Posted when the code starts or stops fitting (also once after the first layout)."""

        def __init__(self, fits: bool, qr: QRCode | None = None) -> None:
            super().__init__()
            self.fits = fits
            """True when the code is drawn, False when the message is shown instead."""
            self.qr = qr
            """The widget that posted this (lets `@on(QRCode.FitChanged, "#id")` match)."""

        @property
        def control(self) -> QRCode | None:
            return self.qr

        def __repr__(self) -> str:  # never shows the data
            return f"QRCode.FitChanged(fits={self.fits})"

    def __init__(
        self,
        data: str,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
        too_small_message: str = TOO_SMALL_MESSAGE,
        glyph_hint: str = GLYPH_HINT,
        compact_data: str = "",
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.too_small_message = _(too_small_message)
        self.glyph_hint = _(glyph_hint)
        self.too_long_message = _(TOO_LONG_MESSAGE)
        self._matrices: dict[str, Matrix | None] = {}
        self._lines: dict[tuple[object, ...], list[Strip]] = {}
        self._fits: bool | None = None
        self._dark_background = terminal_background_is_dark()
        self.set_reactive(QRCode.data, data)
        self.set_reactive(QRCode.compact_data, compact_data)

    # -- public helpers -------------------------------------------------------------------------

    @staticmethod
    def required_cells(data: str, quiet_zone: int = 4) -> tuple[int, int]:
        """(columns, rows) the code for `data` needs with `quiet_zone` modules around it.

        Raises ValueError when `data` is too long for any QR version.
        """
        matrix = build_matrix(data)
        if matrix is None:
            raise ValueError("too long for a QR code")
        return cells_for(len(matrix), quiet_zone)

    @property
    def fits(self) -> bool | None:
        """Whether the code is drawn (None before the first layout)."""
        return self._fits

    @property
    def quiet_zone(self) -> int | None:
        """The quiet zone drawn at the current size, or None when the message is shown."""
        return self._layout_for(self.size).quiet_zone

    @property
    def draw_mode(self) -> DrawMode:
        """How the code is drawn: "colour" (explicit black on white) or "glyphs" (colours are
        stripped on the way to the terminal, see the module docstring)."""
        return "colour" if self._colours_reach_terminal() else "glyphs"

    @property
    def version(self) -> int | None:
        """The QR version of the current data (None when it is too long)."""
        matrix = self._get_matrix()
        return None if matrix is None else (len(matrix) - 17) // 4

    @property
    def showing_compact(self) -> bool:
        """True when the space only allowed the code for `compact_data`."""
        return self._layout_for(self.size).compact

    # -- data and layout ------------------------------------------------------------------------

    def watch_data(self) -> None:
        self._lines.clear()
        self._matrices.clear()
        self.call_after_refresh(self._update_fit)

    def watch_compact_data(self) -> None:
        self.watch_data()

    def _get_matrix(self, compact: bool = False) -> Matrix | None:
        text = self.compact_data if compact else self.data
        if text not in self._matrices:
            self._matrices[text] = build_matrix(text)
        return self._matrices[text]

    def _colours_reach_terminal(self) -> bool:
        """True when explicit black/white survive the app's filters and colour system."""
        if not self.is_attached:
            return True
        # Textual writes truecolor even when Rich detects no colour system (TERM=dumb), so only
        # the app's line filters (NO_COLOR) can take the colours away: ask them.
        segments = [Segment("▀", _PROBE_STYLE)]
        background = Color.parse(LIGHT)
        for line_filter in self.get_line_filters():
            segments = line_filter.apply(segments, background)
        style = segments[0].style if segments else None
        if style is None or style.color is None or style.bgcolor is None:
            return False
        if style.color.is_default or style.bgcolor.is_default:
            return False
        ink = Color.from_rich_color(style.color)
        paper = Color.from_rich_color(style.bgcolor)
        return _luminance(paper) - _luminance(ink) > 0.5

    def _layout_for(self, space: Size, mode: DrawMode | None = None) -> _Layout:
        matrix = self._get_matrix()
        if matrix is None:
            return self._message_layout(self.too_long_message, space)
        mode = self.draw_mode if mode is None else mode
        candidates = [(False, matrix)]
        if self.compact_data:
            compact_matrix = self._get_matrix(compact=True)
            if compact_matrix is not None and len(compact_matrix) < len(matrix):
                candidates.append((True, compact_matrix))
        for compact, candidate in candidates:
            for quiet_zone in QUIET_ZONES:
                width, height = cells_for(len(candidate), quiet_zone)
                if width <= space.width and height <= space.height:
                    hint: tuple[str, ...] = ()
                    if mode == "glyphs":
                        hint = tuple(textwrap.wrap(self.glyph_hint, width))
                        if height + len(hint) > space.height:
                            hint = ()
                    return _Layout(
                        quiet_zone, width, height + len(hint), hint_lines=hint, compact=compact
                    )
        return self._message_layout(self.too_small_message, space)

    @staticmethod
    def _message_layout(message: str, space: Size) -> _Layout:
        width = max(1, min(space.width, MESSAGE_WIDTH))
        lines = tuple(textwrap.wrap(message, width, break_long_words=True))
        return _Layout(None, max(len(line) for line in lines), len(lines), message_lines=lines)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return self._layout_for(container).width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return self._layout_for(Size(width, container.height)).height

    def on_resize(self) -> None:
        self._update_fit()

    def _update_fit(self) -> None:
        if not self.is_attached or self.size.area == 0:
            return
        fits = self._layout_for(self.size).quiet_zone is not None
        if fits != self._fits:
            self._fits = fits
            self.post_message(self.FitChanged(fits, self))

    # -- rendering ------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        mode = self.draw_mode
        key = (width, height, mode, self._dark_background, self.styles.content_align)
        lines = self._lines.get(key)
        if lines is None:
            if len(self._lines) >= _MAX_CACHED_LAYOUTS:  # resizing must not grow memory
                self._lines.clear()
            lines = self._render_lines(self.size, mode)
            self._lines[key] = lines
        if 0 <= y < len(lines):
            return lines[y]
        return Strip.blank(width)

    def _render_lines(self, size: Size, mode: DrawMode) -> list[Strip]:
        layout = self._layout_for(size, mode)
        if layout.quiet_zone is None:
            block = [Strip([Segment(line)]) for line in layout.message_lines]
        else:
            matrix = self._get_matrix(compact=layout.compact)
            assert matrix is not None  # a quiet zone is only chosen for an existing matrix
            block = _qr_strips(matrix, layout.quiet_zone, mode, self._dark_background)
            block += [Strip([Segment(line)]) for line in layout.hint_lines]
        return _place(block, layout.width, size, self.styles.content_align)


def _padded(matrix: Matrix, quiet_zone: int) -> Matrix:
    side = len(matrix) + 2 * quiet_zone
    blank = [False] * side
    rows = [list(blank) for _ in range(quiet_zone)]
    rows += [[False] * quiet_zone + row + [False] * quiet_zone for row in matrix]
    rows += [list(blank) for _ in range(quiet_zone)]
    if side % 2:
        rows.append(list(blank))  # the lower half of the last cell row is more quiet zone
    return rows


def _qr_strips(matrix: Matrix, quiet_zone: int, mode: DrawMode, dark_bg: bool) -> list[Strip]:
    rows = _padded(matrix, quiet_zone)
    strips: list[Strip] = []
    for top_row, bottom_row in zip(rows[0::2], rows[1::2], strict=True):
        segments: list[Segment] = []
        if mode == "colour":
            for style, run in _runs(zip(top_row, bottom_row, strict=True)):
                segments.append(Segment("▀" * run, _STYLES[style]))
        else:
            # Ink is whatever the terminal draws glyphs in; on a dark background that is light.
            ink_is_dark = not dark_bg
            text = "".join(
                _GLYPHS[(top == ink_is_dark, bottom == ink_is_dark)]
                for top, bottom in zip(top_row, bottom_row, strict=True)
            )
            segments.append(Segment(text))
        strips.append(Strip(segments, len(top_row)))
    return strips


_GLYPHS = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}


def _runs(pairs: Iterable[tuple[bool, bool]]) -> list[tuple[tuple[bool, bool], int]]:
    """Consecutive equal (top, bottom) pairs as (pair, count): fewer segments to compose."""
    runs: list[tuple[tuple[bool, bool], int]] = []
    for pair in pairs:
        if runs and runs[-1][0] == pair:
            runs[-1] = (pair, runs[-1][1] + 1)
        else:
            runs.append((pair, 1))
    return runs


def _place(
    block: Sequence[Strip], block_width: int, size: Size, align: tuple[str, str]
) -> list[Strip]:
    """Put `block` into a `size` area following content-align; the rest is widget background."""
    width, height = size
    horizontal, vertical = align
    spare_x = max(0, width - block_width)
    spare_y = max(0, height - len(block))
    left = {"left": 0, "center": spare_x // 2, "right": spare_x}.get(horizontal, 0)
    top = {"top": 0, "middle": spare_y // 2, "bottom": spare_y}.get(vertical, 0)
    blank = Strip.blank(width)
    lines = [blank] * top
    for strip in block:
        line = Strip.join([Strip.blank(left), strip.extend_cell_length(block_width)])
        lines.append(line.extend_cell_length(width).crop(0, width))
    lines += [blank] * (height - len(lines))
    return lines[:height]
