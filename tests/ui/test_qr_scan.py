"""Scan tests: rebuild the QR from the cells Textual puts on screen and decode it with zxing-cpp
(``try_invert=False``), as a phone would, for the URIs and recovery codes the kiosk shows.

Sizes (see kiosk/ui/widgets/qr.py): with both the label prefix and ``issuer=`` the URI for a
20-character organisation and a 40-character email is version 7, 49x25 cells even with a 2-module
quiet zone: one row more than an 80x24 terminal has. Version 6 fits 80x24 (45x23) when
``2 * len(organisation) + len(email) <= 75`` (ASCII, no characters needing percent-encoding).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any

import pyotp
import pytest
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from kiosk.core import recovery
from kiosk.core.totp import compact_provisioning_uri, new_secret, provisioning_uri
from kiosk.ui.widgets.qr import QRCode
from tests.support.qr_decode import (
    cells_from_pyte,
    decode_cells,
    decode_matrix,
    decode_widget,
    find_qr,
    textual_cells,
)

EMAIL_40 = "alexandra.montgomery-smith@example.co.uk"
EMAIL_35 = "alexandra.montgomery@example.org.uk"
ORG_20 = "northwindtraders1234"
INSTRUCTIONS = (
    "Open your authenticator app and scan this code with the app's built-in scanner, "
    "not your phone's camera."
)
assert len(EMAIL_40) == 40 and len(EMAIL_35) == 35 and len(ORG_20) == 20


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async Pilot test with asyncio (no pytest async plugin needed)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


class SecureYourAccount(App[None]):
    """The layout of the "Secure your Account" step: a step line, the code beside the text."""

    CSS = """
    #step { height: 1; }
    #body { height: 1fr; }
    #text { width: 1fr; padding: 0 1; }
    #text Button { width: 100%; }
    """

    def __init__(self, data: str, *, qr_first: bool = True, compact_data: str = "") -> None:
        super().__init__()
        self.data = data
        self.compact_data = compact_data
        self.qr_first = qr_first

    def compose(self) -> ComposeResult:
        yield Static("Step 4 of 6  Secure your Account", id="step")
        with Horizontal(id="body"):
            if self.qr_first:
                yield QRCode(self.data, compact_data=self.compact_data)
            with Vertical(id="text"):
                yield Static(INSTRUCTIONS)
                yield Button("Trouble Scanning?")
                yield Button("Continue", variant="primary")
            if not self.qr_first:
                yield QRCode(self.data, compact_data=self.compact_data)


def words_on_screen(target: Any) -> str:
    """The words shown in the screen region of an App or widget (as a person reads them)."""
    return " ".join("\n".join("".join(c[0] for c in row) for row in textual_cells(target)).split())


async def scan(
    data: str, size: tuple[int, int], *, qr_first: bool = True, compact_data: str = ""
) -> dict[str, Any]:
    app = SecureYourAccount(data, qr_first=qr_first, compact_data=compact_data)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        qr = app.query_one(QRCode)
        cells = textual_cells(app)
        found = find_qr(cells)
        return {
            "decoded": decode_cells(cells),
            "widget_decoded": decode_widget(qr),
            "found": found,
            "quiet_zone": qr.quiet_zone,
            "fits": qr.fits,
            "version": qr.version,
            "compact": qr.showing_compact,
            "qr_words": words_on_screen(qr),
            "text_words": words_on_screen(app.query_one("#text")),
        }


@pytest.mark.parametrize(
    ("organization", "email", "version"),
    [
        ("Procore", EMAIL_40, 6),
        ("Acme", EMAIL_40, 6),
        (ORG_20, EMAIL_35, 6),
        ("Acme", "jo@a.io", 4),
    ],
)
@run_async
async def test_otpauth_uri_scans_at_80x24_beside_the_instructions(
    organization: str, email: str, version: int
) -> None:
    uri = provisioning_uri(new_secret(), email, organization)
    result = await scan(uri, (80, 24))
    assert result["version"] == version
    assert result["decoded"] == uri
    assert result["widget_decoded"] == uri
    assert result["found"].min_quiet_zone >= 2
    assert "scan this code" in result["text_words"], "the instructions share the screen"
    assert "Trouble Scanning?" in result["text_words"]


@run_async
async def test_otpauth_uri_scans_with_full_quiet_zone_at_120x40() -> None:
    uri = provisioning_uri(new_secret(), EMAIL_40, ORG_20)
    result = await scan(uri, (120, 40))
    assert result["version"] == 7
    assert result["quiet_zone"] == 4
    assert result["found"].min_quiet_zone >= 4
    assert result["decoded"] == uri


@run_async
async def test_code_on_the_right_of_the_text_is_found_and_scans() -> None:
    uri = provisioning_uri(new_secret(), "jo@acme.io", "Acme")
    result = await scan(uri, (120, 40), qr_first=False)
    assert result["found"].left > 40
    assert result["decoded"] == uri


@run_async
async def test_20_char_organisation_and_40_char_email_at_80x24_says_so_instead_of_clipping() -> (
    None
):
    """Version 7 needs 25 rows: the widget shows the message and the way to the manual key."""
    uri = provisioning_uri(new_secret(), EMAIL_40, ORG_20)
    result = await scan(uri, (80, 24))
    assert result["fits"] is False
    assert result["found"] is None
    assert result["decoded"] is None
    assert "too small for the QR code" in result["qr_words"]
    assert "Trouble Scanning? to type the key" in result["qr_words"]


@run_async
async def test_20_char_organisation_and_40_char_email_scans_at_80x24_with_the_compact_uri() -> None:
    """The issue's target: where the full URI (version 7) cannot fit 80x24, the same credential
    without the label's issuer prefix (version 6) is drawn; `issuer=` still names the org."""
    secret = new_secret()
    uri = provisioning_uri(secret, EMAIL_40, ORG_20)
    compact = compact_provisioning_uri(secret, EMAIL_40, ORG_20)
    result = await scan(uri, (80, 24), compact_data=compact)
    assert result["compact"] is True
    assert result["found"].min_quiet_zone >= 2
    assert result["decoded"] == compact
    parsed = pyotp.parse_uri(result["decoded"])
    assert (parsed.secret, parsed.name, parsed.issuer) == (secret, EMAIL_40, ORG_20)
    assert "Trouble Scanning?" in result["text_words"]


@run_async
async def test_the_full_uri_is_preferred_whenever_it_fits() -> None:
    secret = new_secret()
    uri = provisioning_uri(secret, EMAIL_40, ORG_20)
    compact = compact_provisioning_uri(secret, EMAIL_40, ORG_20)
    result = await scan(uri, (120, 40), compact_data=compact)
    assert result["compact"] is False
    assert result["decoded"] == uri


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
@run_async
async def test_recovery_code_scans(size: tuple[int, int]) -> None:
    for code in ("ABCDE-FGHJK-MNPQR-STVWX-YZ012", recovery.format_for_display(recovery.generate())):
        result = await scan(code, size)
        assert result["version"] == 2
        assert result["quiet_zone"] == 4
        assert result["decoded"] == code


# -- the decoding helper itself (others reuse it for pyte screens) -------------------------------


def _matrix(data: str) -> list[list[bool]]:
    from kiosk.ui.widgets.qr import build_matrix

    matrix = build_matrix(data)
    assert matrix is not None
    return matrix


def _glyph_cells(matrix: list[list[bool]], ink_dark: bool, fg: str, bg: str, offset: int):
    """A screen of text with the code drawn in glyphs (ink = dark or light modules) at `offset`."""
    side = len(matrix) + 4
    padded = [[False] * side for _ in range(2)]
    padded += [[False] * 2 + row + [False] * 2 for row in matrix]
    padded += [[False] * side for _ in range(3 if side % 2 else 2)]
    glyph = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}
    rows = [[(ch, fg, bg) for ch in "Scan this code".ljust(offset + side + 5)]]
    for top, bottom in zip(padded[0::2], padded[1::2], strict=True):
        line = [("x", fg, bg)] + [(" ", fg, bg)] * (offset - 1)
        line += [
            (glyph[(t == ink_dark, b == ink_dark)], fg, bg)
            for t, b in zip(top, bottom, strict=True)
        ]
        rows.append(line + [(" ", fg, bg)] * 5)
    return rows


def test_helper_reads_glyph_drawings_with_the_terminal_default_colours() -> None:
    data = "ABCDE-FGHJK-MNPQR-STVWX-YZ012"
    matrix = _matrix(data)
    assert decode_matrix(matrix) == data
    dark_ink = _glyph_cells(matrix, True, "default", "default", offset=7)
    assert decode_cells(dark_ink, default_fg="#000000", default_bg="#ffffff") == data
    light_ink = _glyph_cells(matrix, False, "default", "default", offset=3)
    assert decode_cells(light_ink, default_fg="#ffffff", default_bg="#000000") == data
    found = find_qr(light_ink, default_fg="#ffffff", default_bg="#000000")
    assert found is not None and (found.top, found.left) == (4, 5)
    assert found.min_quiet_zone == 2


def test_helper_reads_a_pyte_screen() -> None:
    import pyte

    data = "otpauth://totp/Acme:jo%40acme.io?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Acme"
    matrix = _matrix(data)
    side = len(matrix) + 8
    padded = [[False] * side for _ in range(4)]
    padded += [[False] * 4 + row + [False] * 4 for row in matrix]
    padded += [[False] * side for _ in range(5 if side % 2 else 4)]
    out = ["\x1b[2;10H"]
    for y, (top, bottom) in enumerate(zip(padded[0::2], padded[1::2], strict=True)):
        out.append(f"\x1b[{y + 2};10H")
        for t, b in zip(top, bottom, strict=True):
            out.append(f"\x1b[{30 if t else 97};{40 if b else 107}m▀")
        out.append("\x1b[0m")
    screen = pyte.Screen(80, 40)
    pyte.Stream(screen).feed("".join(out))
    assert decode_cells(cells_from_pyte(screen), default_fg="#ffffff", default_bg="#000000") == data


# The kiosk's own Secure your Account screen, in every language, at the size it must fit: the
# translated instructions beside the code must leave it whole and scannable.
SCAN_WORDS = {"en": "scan this code", "es": "Escanee este código", "fr": "Scannez ce code"}


@pytest.mark.parametrize("language", sorted(SCAN_WORDS))
def test_secure_your_account_scans_at_80x24_in_every_language(
    language: str, service_with: Callable[..., Any]
) -> None:
    from kiosk.i18n import LANGUAGES
    from tests.ui.conftest import make_app, settle, sign_in

    assert set(SCAN_WORDS) == set(LANGUAGES)
    service = service_with(language=language)

    async def walk() -> dict[str, Any]:
        app = make_app(service)
        async with app.run_test(size=(80, 24)) as pilot:
            await sign_in(pilot)
            for _ in range(2):  # Set Up Now, then Authenticator App
                await pilot.press("enter")
                await settle(pilot)
            pending = app.flow.pending_secret
            assert pending is not None
            cells = textual_cells(app)
            return {
                "decoded": decode_cells(cells),
                "uri": pending.uri,
                "found": find_qr(cells),
                "words": words_on_screen(app),
            }

    result = asyncio.run(walk())
    assert result["decoded"] == result["uri"]
    assert result["found"].min_quiet_zone >= 2
    assert SCAN_WORDS[language] in result["words"], "the translated instructions are shown"
