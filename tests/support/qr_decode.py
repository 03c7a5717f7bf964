"""Rebuild a QR code from terminal cells and decode it, as a phone would read the screen.

A terminal QR is drawn with half blocks: each cell holds two modules, the upper and the lower one.
``▀`` shows the foreground above the background, ``▄`` the reverse, ``█`` the foreground twice and a
space the background twice. This module turns a grid of cells into a grid of modules (dark, light,
or None for any other character), finds the code by its three finder patterns (so it may be
anywhere on the screen, among other text), checks its quiet zone, and decodes it with zxing-cpp
without inverted decoding (``try_invert=False``): an inverted code is what many phone scanners
reject, so it must not pass here either.

API (cells are ``(char, fg, bg)``; a colour is ``"#rrggbb"``, ``"rrggbb"``, a palette name such as
``"black"``/``"brightwhite"``/``"bright_white"``, an ``(r, g, b)`` tuple, a Rich or Textual
``Color``, or None/``"default"`` for the terminal's default colour)::

    decode_cells(rows, dark=is_dark, *, default_fg="#000000", default_bg="#ffffff") -> str | None
    find_qr(rows, dark=is_dark, ...) -> FoundQR | None      # the matrix, where it is, quiet zone
    decode_matrix(matrix) -> str | None                      # True = dark module
    cells_from_strips(strips) / cells_from_pyte(screen)      # Textual strips / a pyte Screen
    cells_from_ansi(output, columns, lines)                  # terminal output, painted by pyte
    terminal_output(app)                                     # what a Textual app writes
    textual_cells(app_or_screen_or_widget)                   # what Textual composited on screen
    decode_widget(app_or_screen_or_widget) -> str | None

``default_fg``/``default_bg`` say how the terminal paints its default colours: the defaults model
a dark-on-light theme; pass ``default_fg="#ffffff", default_bg="#000000"`` for a dark theme.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image
from rich.cells import cell_len
from rich.color import Color as RichColor
from rich.color import ColorType
from rich.segment import Segment

Cell = tuple[str, Any, Any]
Rows = Sequence[Sequence[Cell]]
Matrix = list[list[bool]]
ModuleGrid = list[list[bool | None]]

# xterm's default palette, for colour names (pyte spells yellow "brown", and has a typo).
PALETTE: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0),
    "red": (205, 0, 0),
    "green": (0, 205, 0),
    "brown": (205, 205, 0),
    "yellow": (205, 205, 0),
    "blue": (0, 0, 238),
    "magenta": (205, 0, 205),
    "cyan": (0, 205, 205),
    "white": (229, 229, 229),
    "brightblack": (127, 127, 127),
    "brightred": (255, 0, 0),
    "brightgreen": (0, 255, 0),
    "brightbrown": (255, 255, 0),
    "brightyellow": (255, 255, 0),
    "brightblue": (92, 92, 255),
    "brightmagenta": (255, 0, 255),
    "bfightmagenta": (255, 0, 255),
    "brightcyan": (0, 255, 255),
    "brightwhite": (255, 255, 255),
}

# (upper module is foreground?, lower module is foreground?) for each block glyph.
HALVES: dict[str, tuple[bool, bool]] = {
    "▀": (True, False),
    "▄": (False, True),
    "█": (True, True),
    " ": (False, False),
    "\u00a0": (False, False),
}

FINDER = [
    [True] * 7,
    [True, False, False, False, False, False, True],
    [True, False, True, True, True, False, True],
    [True, False, True, True, True, False, True],
    [True, False, True, True, True, False, True],
    [True, False, False, False, False, False, True],
    [True] * 7,
]


def rgb(colour: Any) -> tuple[int, int, int]:
    """A concrete colour as (r, g, b); raises ValueError for an unknown or default colour."""
    if isinstance(colour, tuple) and len(colour) == 3:
        return (int(colour[0]), int(colour[1]), int(colour[2]))
    if isinstance(colour, RichColor):
        if colour.type == ColorType.DEFAULT:
            raise ValueError("default colour")
        if colour.type == ColorType.TRUECOLOR and colour.triplet is not None:
            return tuple(colour.triplet)  # type: ignore[return-value]
        if colour.type == ColorType.STANDARD and colour.number is not None:
            return PALETTE[list(PALETTE_ORDER)[colour.number]]
        return tuple(colour.get_truecolor())  # type: ignore[return-value]
    if hasattr(colour, "r") and hasattr(colour, "g") and hasattr(colour, "b"):  # Textual Color
        return (int(colour.r), int(colour.g), int(colour.b))
    if isinstance(colour, str):
        name = colour.strip().lower().replace("_", "").replace(" ", "")
        if name in PALETTE:
            return PALETTE[name]
        hexa = name.removeprefix("#")
        if len(hexa) == 6 and all(ch in "0123456789abcdef" for ch in hexa):
            return (int(hexa[0:2], 16), int(hexa[2:4], 16), int(hexa[4:6], 16))
    raise ValueError(f"unknown colour {colour!r}")


PALETTE_ORDER = (
    "black",
    "red",
    "green",
    "yellow",
    "blue",
    "magenta",
    "cyan",
    "white",
    "brightblack",
    "brightred",
    "brightgreen",
    "brightyellow",
    "brightblue",
    "brightmagenta",
    "brightcyan",
    "brightwhite",
)


def is_dark(colour: Any) -> bool:
    """Whether a colour reads as a dark module (relative luminance below one half)."""
    red, green, blue = rgb(colour)
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255 < 0.5


def _is_default(colour: Any) -> bool:
    if colour is None:
        return True
    if isinstance(colour, str) and colour.strip().lower() == "default":
        return True
    return isinstance(colour, RichColor) and colour.type == ColorType.DEFAULT


def module_grid(
    rows: Rows,
    dark: Callable[[Any], bool] = is_dark,
    *,
    default_fg: Any = "#000000",
    default_bg: Any = "#ffffff",
) -> ModuleGrid:
    """Two module rows per cell row: True dark, False light, None where the cell is not a block."""
    grid: ModuleGrid = []
    for row in rows:
        upper: list[bool | None] = []
        lower: list[bool | None] = []
        for char, fg, bg in row:
            halves = HALVES.get(char or " ")
            if halves is None:
                upper.append(None)
                lower.append(None)
                continue
            fg_dark = dark(default_fg if _is_default(fg) else fg)
            bg_dark = dark(default_bg if _is_default(bg) else bg)
            upper.append(fg_dark if halves[0] else bg_dark)
            lower.append(fg_dark if halves[1] else bg_dark)
        grid.append(upper)
        grid.append(lower)
    return grid


@dataclass(frozen=True)
class FoundQR:
    """A code found in a module grid."""

    matrix: Matrix  # True = dark, without quiet zone
    top: int  # module row of the first module row (cell row = top // 2)
    left: int  # column of the first module column
    quiet_zone: tuple[int, int, int, int]  # light modules seen above, right, below, left (max 8)

    @property
    def version(self) -> int:
        return (len(self.matrix) - 17) // 4

    @property
    def min_quiet_zone(self) -> int:
        return min(self.quiet_zone)


def _finders(grid: ModuleGrid) -> list[tuple[int, int]]:
    found = []
    height = len(grid)
    for r in range(height - 6):
        row = grid[r]
        width = len(row)
        for c in range(width - 6):
            if row[c] is not True or row[c + 6] is not True:
                continue
            if all(grid[r + i][c + j] is FINDER[i][j] for i in range(7) for j in range(7)):
                found.append((r, c))
    return found


def _quiet(grid: ModuleGrid, top: int, left: int, size: int) -> tuple[int, int, int, int]:
    def light_rows(rows: Iterable[int]) -> int:
        count = 0
        for r in rows:
            if not 0 <= r < len(grid):
                break
            cells = [
                grid[r][c] if 0 <= c < len(grid[r]) else None for c in range(left, left + size)
            ]
            if not all(cell is False for cell in cells):
                break
            count += 1
        return count

    def light_cols(cols: Iterable[int]) -> int:
        count = 0
        for c in cols:
            cells = [
                grid[r][c] if 0 <= r < len(grid) and 0 <= c < len(grid[r]) else None
                for r in range(top, top + size)
            ]
            if not all(cell is False for cell in cells):
                break
            count += 1
        return count

    above = light_rows(range(top - 1, top - 9, -1))
    below = light_rows(range(top + size, top + size + 8))
    before = light_cols(range(left - 1, left - 9, -1))
    after = light_cols(range(left + size, left + size + 8))
    return (above, after, below, before)


def find_qr_in_grid(grid: ModuleGrid) -> FoundQR | None:
    """The code whose three finder patterns line up (the largest if several), or None."""
    finders = set(_finders(grid))
    best: FoundQR | None = None
    for top, left in sorted(finders):
        for other_top, other_left in finders:
            if other_top != top or other_left <= left:
                continue
            size = other_left - left + 7
            if size < 21 or (size - 17) % 4 or (top + size - 7, left) not in finders:
                continue
            if top + size > len(grid):
                continue
            matrix: Matrix = []
            for r in range(top, top + size):
                row = grid[r][left : left + size]
                if len(row) < size or any(cell is None for cell in row):
                    break
                matrix.append([bool(cell) for cell in row])
            else:
                if best is None or size > len(best.matrix):
                    best = FoundQR(matrix, top, left, _quiet(grid, top, left, size))
    return best


def find_qr(
    rows: Rows,
    dark: Callable[[Any], bool] = is_dark,
    *,
    default_fg: Any = "#000000",
    default_bg: Any = "#ffffff",
) -> FoundQR | None:
    """Find the code in a grid of (char, fg, bg) cells."""
    return find_qr_in_grid(module_grid(rows, dark, default_fg=default_fg, default_bg=default_bg))


def matrix_image(matrix: Matrix, *, module_px: int = 4, border: int = 4) -> Image.Image:
    """A grayscale picture of the matrix, with a white border of `border` modules."""
    side = (len(matrix) + 2 * border) * module_px
    image = Image.new("L", (side, side), 255)
    pixels = image.load()
    for r, row in enumerate(matrix):
        for c, module in enumerate(row):
            if not module:
                continue
            y0 = (r + border) * module_px
            x0 = (c + border) * module_px
            for y in range(y0, y0 + module_px):
                for x in range(x0, x0 + module_px):
                    pixels[x, y] = 0  # type: ignore[index]
    return image


def decode_matrix(matrix: Matrix) -> str | None:
    """The text of a QR module matrix, decoded by zxing-cpp, never trying the inverted code."""
    import zxingcpp

    results = zxingcpp.read_barcodes(
        matrix_image(matrix),
        formats=zxingcpp.BarcodeFormat.QRCode,
        try_invert=False,
        text_mode=zxingcpp.TextMode.Plain,
    )
    for result in results:
        if result.valid:
            return str(result.text)
    return None


def decode_cells(
    rows: Rows,
    dark: Callable[[Any], bool] = is_dark,
    *,
    default_fg: Any = "#000000",
    default_bg: Any = "#ffffff",
) -> str | None:
    """The text of the QR code drawn in `rows` of (char, fg, bg) cells, or None."""
    found = find_qr(rows, dark, default_fg=default_fg, default_bg=default_bg)
    return None if found is None else decode_matrix(found.matrix)


# -- sources of cells -----------------------------------------------------------------------------


def cells_from_segments(segments: Iterable[Segment]) -> list[Cell]:
    """One row of cells from Rich segments (reverse video swapped, wide characters padded)."""
    row: list[Cell] = []
    for segment in segments:
        if segment.control:
            continue
        style = segment.style
        fg = None if style is None else style.color
        bg = None if style is None else style.bgcolor
        if style is not None and style.reverse:
            fg, bg = bg, fg
        for char in segment.text:
            width = cell_len(char)
            if width <= 0:
                continue
            row.append((char, fg, bg))
            row.extend([("", fg, bg)] * (width - 1))
    return row


def cells_from_strips(strips: Iterable[Iterable[Segment]]) -> list[list[Cell]]:
    """Cells from Textual strips (or any rows of Rich segments)."""
    return [cells_from_segments(strip) for strip in strips]


def cells_from_pyte(screen: Any) -> list[list[Cell]]:
    """Cells from a pyte Screen: colours as pyte names them ("default", "black", "rrggbb")."""
    grid: list[list[Cell]] = []
    for y in range(screen.lines):
        line = screen.buffer[y]
        row: list[Cell] = []
        for x in range(screen.columns):
            char = line[x]
            fg, bg = char.fg, char.bg
            if char.reverse:
                fg, bg = bg, fg
            row.append((char.data or " ", fg, bg))
        grid.append(row)
    return grid


def cells_from_ansi(output: str, columns: int, lines: int) -> list[list[Cell]]:
    """Cells of a `columns`x`lines` terminal (pyte) after it was sent `output`."""
    import pyte

    screen = pyte.Screen(columns, lines)
    pyte.Stream(screen).feed(output)
    return cells_from_pyte(screen)


def terminal_output(app: Any) -> str:
    """What a running Textual app writes to the terminal for a full redraw of its screen,
    rendered with the app's own console (so with the colour system it detected)."""
    update = app.screen._compositor.render_update(full=True)
    return str(update.render_segments(app.console))


def textual_cells(target: Any) -> list[list[Cell]]:
    """What Textual composited on screen: the whole screen for an App or Screen, or the part of
    the screen a widget covers (so parents' clipping counts, as it does for a person).

    Reads the screen's compositor (Textual's own, as its screenshot export does); textual is
    pinned in pyproject.toml, so this stays stable.
    """
    from textual.app import App
    from textual.screen import Screen
    from textual.widget import Widget

    if isinstance(target, App):
        screen, region = target.screen, None
    elif isinstance(target, Screen):
        screen, region = target, None
    elif isinstance(target, Widget):
        screen, region = target.screen, target.region
    else:
        raise TypeError(f"not a Textual App, Screen or Widget: {type(target).__name__}")
    strips = screen._compositor.render_strips()
    rows = cells_from_strips(strips)
    if region is None:
        return rows
    return [row[region.x : region.right] for row in rows[region.y : region.bottom]]


def decode_widget(target: Any, **kwargs: Any) -> str | None:
    """Decode the QR code Textual shows for an App, Screen or Widget (see `textual_cells`)."""
    return decode_cells(textual_cells(target), **kwargs)
