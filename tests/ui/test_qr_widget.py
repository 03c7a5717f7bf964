"""The QR widget: sizes and fallbacks, redraw on resize, FitChanged, explicit colours, and what
it draws under each colour system (TERM=xterm, 256 colours, truecolor, NO_COLOR).

Colour-system tests run the widget in a fresh interpreter with the environment set, render what
the app would write to the terminal with its own console, paint that in pyte and decode it: Rich
caches a style's escape codes on first use, so several colour systems in one process would lie.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from rich.color import ColorType
from textual import on
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from kiosk.core.totp import new_secret, provisioning_uri
from kiosk.ui.widgets.qr import QRCode, build_matrix, cells_for
from tests.support.qr_decode import (
    cells_from_ansi,
    decode_cells,
    find_qr,
    textual_cells,
)

ROOT = Path(__file__).resolve().parents[2]
# 33 modules (version 4): 41x21 cells with quiet zone 4, 37x19 with quiet zone 2.
SHORT_URI = provisioning_uri(new_secret(), "jo@acme.io", "Acme")
HALF_BLOCKS = set("▀▄█")


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async Pilot test with asyncio (no pytest async plugin needed)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


def email_of(length: int) -> str:
    return "j" * (length - len("@example.com")) + "@example.com"


def screen_text(cells: list[list[tuple[str, object, object]]]) -> str:
    return "\n".join("".join(cell[0] for cell in row) for row in cells)


def words(text: str) -> str:
    return " ".join(text.split())


class QRApp(App[None]):
    """Just the widget, recording every FitChanged it posts."""

    def __init__(self, data: str) -> None:
        super().__init__()
        self.data = data
        self.fits_seen: list[bool] = []

    def compose(self) -> ComposeResult:
        yield QRCode(self.data, id="qr")

    @on(QRCode.FitChanged, "#qr")
    def record_fit(self, event: QRCode.FitChanged) -> None:
        self.fits_seen.append(event.fits)


# -- arithmetic -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "quiet_zone", "cells"),
    [(4, 4, (41, 21)), (4, 2, (37, 19)), (5, 4, (45, 23)), (5, 2, (41, 21)), (6, 4, (49, 25)),
     (6, 2, (45, 23)), (7, 4, (53, 27)), (7, 2, (49, 25))],
)  # fmt: skip
def test_cells_follow_the_module_arithmetic(
    version: int, quiet_zone: int, cells: tuple[int, int]
) -> None:
    assert cells_for(17 + 4 * version, quiet_zone) == cells


@pytest.mark.parametrize(
    ("organization", "email_length", "version"),
    [("Acme", 30, 5), ("Acme", 40, 6), ("Procore", 30, 5), ("Procore", 40, 6),
     ("northwindtraders1234", 20, 6), ("northwindtraders1234", 35, 6),
     ("northwindtraders1234", 40, 7), ("Acme Widgets & Co. X", 40, 8)],
)  # fmt: skip
def test_otpauth_uri_versions_match_the_documented_table(
    organization: str, email_length: int, version: int
) -> None:
    """The table in the module docstring, measured with the core's own URI."""
    uri = provisioning_uri(new_secret(), email_of(email_length), organization)
    matrix = build_matrix(uri)
    assert matrix is not None
    assert len(matrix) == 17 + 4 * version
    width, height = QRCode.required_cells(uri, 2)
    assert (width, height) == cells_for(len(matrix), 2)


def test_required_cells_of_too_long_data_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="too long"):
        QRCode.required_cells("x" * 3000, 4)


def test_importing_the_widget_does_not_import_qrcode() -> None:
    """Startup time: qrcode is loaded only when a code is built."""
    probe = "import sys, kiosk.ui.widgets.qr; print('qrcode' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


# -- sizes and fallbacks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "quiet_zone"),
    [((80, 24), 4), ((41, 21), 4), ((40, 21), 2), ((41, 20), 2), ((37, 19), 2), ((36, 19), None),
     ((37, 18), None), ((30, 10), None)],
)  # fmt: skip
@run_async
async def test_quiet_zone_4_then_2_then_message_never_clipped(
    size: tuple[int, int], quiet_zone: int | None
) -> None:
    app = QRApp(SHORT_URI)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        qr = app.query_one(QRCode)
        cells = textual_cells(app)
        found = find_qr(cells)
        assert qr.quiet_zone == quiet_zone
        if quiet_zone is None:
            assert qr.fits is False
            assert found is None
            assert not HALF_BLOCKS & set(screen_text(cells)), "no part of a code may be drawn"
            assert words(QRCode(SHORT_URI).too_small_message) in words(screen_text(cells))
        else:
            assert qr.fits is True
            assert qr.size == (cells_for(33, quiet_zone))
            assert found is not None
            assert found.min_quiet_zone >= quiet_zone
            assert decode_cells(cells) == SHORT_URI


@run_async
async def test_resize_redraws_and_posts_fit_changed_when_it_flips() -> None:
    app = QRApp(SHORT_URI)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.fits_seen == [True]
        assert decode_cells(textual_cells(app)) == SHORT_URI

        await pilot.resize_terminal(38, 20)  # still fits, with the narrower quiet zone
        await pilot.pause()
        assert app.query_one(QRCode).quiet_zone == 2
        assert decode_cells(textual_cells(app)) == SHORT_URI
        assert app.fits_seen == [True]

        await pilot.resize_terminal(30, 12)
        await pilot.pause()
        assert app.fits_seen == [True, False]
        assert decode_cells(textual_cells(app)) is None
        assert "too small" in screen_text(textual_cells(app))

        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert app.fits_seen == [True, False, True]
        assert app.query_one(QRCode).quiet_zone == 4
        assert decode_cells(textual_cells(app)) == SHORT_URI


@run_async
async def test_changing_data_redraws_the_new_code() -> None:
    app = QRApp(SHORT_URI)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        qr = app.query_one(QRCode)
        other = provisioning_uri(new_secret(), "someone.else@example.org", "Acme")
        qr.data = other
        await pilot.pause()
        assert decode_cells(textual_cells(app)) == other
        assert qr.size == cells_for(len(build_matrix(other) or []), qr.quiet_zone or 0)


@run_async
async def test_too_long_data_shows_a_message_not_an_error() -> None:
    app = QRApp("x" * 3000)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = screen_text(textual_cells(app))
        assert app.query_one(QRCode).fits is False
        assert "too long to show as a QR code" in words(text)


@run_async
async def test_width_auto_leaves_the_rest_of_the_row_to_the_instructions() -> None:
    class Beside(App[None]):
        CSS = "#steps { width: 1fr; }"

        def compose(self) -> ComposeResult:
            with Horizontal():
                yield QRCode(SHORT_URI)
                yield Static("Open your authenticator app and scan this code.", id="steps")

    app = Beside()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        qr = app.query_one(QRCode)
        steps = app.query_one("#steps")
        assert qr.outer_size == (41, 21)
        assert steps.region.x == 41
        assert steps.region.width == 80 - 41
        assert decode_cells(textual_cells(qr)) == SHORT_URI


@pytest.mark.parametrize(
    ("css", "quiet_zone"),
    [
        ("#box { height: 20; }", 2),  # the parent's height limits the auto height
        ("#box { width: 40; }", 2),  # the parent's width limits the auto width
        ("#box { height: 18; }", None),
        ("QRCode { width: 30; height: 30; }", None),  # a fixed size that is too narrow
        ("QRCode { width: 60; height: 30; }", 4),  # more room than needed: still drawn
    ],
)
@run_async
async def test_fit_follows_the_size_the_widget_actually_got(
    css: str, quiet_zone: int | None
) -> None:
    class Boxed(App[None]):
        CSS = css

        def compose(self) -> ComposeResult:
            with Vertical(id="box"):
                yield QRCode(SHORT_URI)

    app = Boxed()
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        qr = app.query_one(QRCode)
        assert qr.quiet_zone == quiet_zone
        decoded = decode_cells(textual_cells(app))
        assert decoded == (None if quiet_zone is None else SHORT_URI)


# -- explicit colours -----------------------------------------------------------------------------

BLACK = (0, 0, 0)
WHITE = (255, 255, 255)


@run_async
async def test_every_module_has_explicit_black_or_white_truecolor() -> None:
    app = QRApp(SHORT_URI)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        qr = app.query_one(QRCode)
        assert qr.draw_mode == "colour"
        width, height = qr.size
        for y in range(height):
            strip = qr.render_line(y)
            assert strip.cell_length == width
            for segment in strip:
                assert set(segment.text) == {"▀"}, "one ▀ per two module rows"
                style = segment.style
                assert style is not None and style.color is not None and style.bgcolor is not None
                for color in (style.color, style.bgcolor):
                    assert color.type == ColorType.TRUECOLOR, "no default or palette colours"
                    assert tuple(color.triplet or ()) in (BLACK, WHITE)
        # The quiet zone (first row) is white above and below.
        first = qr.render_line(0)
        assert {(tuple(s.style.color.triplet), tuple(s.style.bgcolor.triplet)) for s in first} == {
            (WHITE, WHITE)
        }


# -- colour systems, through a real terminal emulator --------------------------------------------

PROBE = """
import asyncio, json, sys
from textual.app import App
from kiosk.ui.widgets.qr import QRCode
from tests.support.qr_decode import terminal_output

data = sys.stdin.read()
width, height, ansi = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"

class Probe(App):
    def compose(self):
        yield QRCode(data)

async def main():
    app = Probe(ansi_color=True if ansi else None)
    async with app.run_test(size=(width, height)) as pilot:
        await pilot.pause()
        qr = app.query_one(QRCode)
        print(json.dumps({"color_system": app.console.color_system, "draw_mode": qr.draw_mode,
                          "output": terminal_output(app)}))

asyncio.run(main())
"""

DARK_THEME = {"default_fg": "#ffffff", "default_bg": "#000000"}
LIGHT_THEME = {"default_fg": "#000000", "default_bg": "#ffffff"}


def run_probe(env: dict[str, str], *, ansi_color: bool = False, size=(80, 24)) -> dict:
    """The widget in a fresh app under `env`; what it writes to the terminal."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("TEXTUAL")}
    for name in ("COLORTERM", "NO_COLOR", "COLORFGBG", "TERM", "FORCE_COLOR"):
        base.pop(name, None)
    base.update(env)
    base["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(size[0]), str(size[1]), "1" if ansi_color else "0"],
        input=SHORT_URI,
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("env", "color_system", "must", "must_not"),
    [
        ({"TERM": "xterm-256color", "COLORTERM": "truecolor"}, "truecolor",
         ["38;2;0;0;0", "48;2;255;255;255"], []),
        ({"TERM": "xterm-256color"}, "256", ["38;5;16", "48;5;231"], ["38;2;", "48;2;"]),
        # 16 colours: palette black on bright white, which palettes keep dark and light.
        ({"TERM": "xterm"}, "standard", ["30", "107"], ["38;2;", "48;2;", "38;5;", "48;5;"]),
        # NO_COLOR with Textual's usual theme: greys only, so black and white survive.
        ({"TERM": "xterm", "NO_COLOR": "1"}, "standard", ["30", "107"], ["38;2;", "48;2;"]),
    ],
)  # fmt: skip
def test_colour_terminals_get_black_on_white_that_scans_in_any_theme(
    env: dict[str, str], color_system: str, must: list[str], must_not: list[str]
) -> None:
    probe = run_probe(env)
    assert probe["color_system"] == color_system
    assert probe["draw_mode"] == "colour"
    sgr = _sgr_parameters(probe["output"])
    for code in must:
        assert any(_has_code(params, code) for params in sgr), f"{code} missing in {sgr}"
    for prefix in must_not:
        assert not any(prefix in params for params in sgr), f"{prefix} found in {sgr}"
    cells = cells_from_ansi(probe["output"], 80, 24)
    # Explicit colours: the terminal's own default colours play no part.
    assert decode_cells(cells, **DARK_THEME) == SHORT_URI
    assert decode_cells(cells, **LIGHT_THEME) == SHORT_URI


def test_no_color_with_ansi_colours_draws_glyphs_for_a_dark_terminal_and_a_hint() -> None:
    """Colours stripped: light modules are the ink, as on most (dark) terminals."""
    probe = run_probe({"TERM": "xterm", "NO_COLOR": "1"}, ansi_color=True)
    assert probe["draw_mode"] == "glyphs"
    cells = cells_from_ansi(probe["output"], 80, 24)
    text = screen_text(cells)
    assert "▀" in text or "▄" in text
    assert "Trouble Scanning?" in words(text)
    for params in _sgr_parameters(probe["output"]):
        assert not any(code.startswith(("38", "48")) for code in params.split(";") if code)
    assert decode_cells(cells, **DARK_THEME) == SHORT_URI


def test_no_color_glyphs_follow_colorfgbg_for_a_light_terminal() -> None:
    probe = run_probe({"TERM": "xterm", "NO_COLOR": "1", "COLORFGBG": "0;15"}, ansi_color=True)
    assert probe["draw_mode"] == "glyphs"
    cells = cells_from_ansi(probe["output"], 80, 24)
    assert decode_cells(cells, **LIGHT_THEME) == SHORT_URI


def test_no_color_glyph_drawing_still_refuses_to_clip() -> None:
    probe = run_probe({"TERM": "xterm", "NO_COLOR": "1"}, ansi_color=True, size=(30, 12))
    cells = cells_from_ansi(probe["output"], 30, 12)
    text = screen_text(cells)
    assert not HALF_BLOCKS & set(text)
    assert "too small" in words(text)


def _sgr_parameters(output: str) -> list[str]:
    """The parameter strings of every SGR sequence (ESC [ ... m) in `output`."""
    import re

    return re.findall(r"\x1b\[([0-9;]*)m", output)


def _has_code(params: str, code: str) -> bool:
    if ";" in code:
        return code in params
    return code in params.split(";")
