"""Hostile pastes and keys in the TUI (Pilot): the kiosk stays on a sane screen, nothing
crashes, the refusal is one plain line, and no pasted control character reaches the screen."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.widgets import Input

from kiosk.core.service import KioskService
from kiosk.ui.app import KioskApp
from kiosk.ui.screens.enter_code import EnterCodeScreen
from kiosk.ui.screens.sign_in import SignInScreen
from kiosk.ui.screens.use_recovery_code import UseRecoveryCodeScreen
from tests.conftest import make_settings
from tests.security import workers
from tests.security.conftest import PASSWORD

PASTES = [
    "\x1b[2J\x1b[H",
    "\x1b]0;PWNED\x07",
    "\x1b]52;c;cGF5bG9hZA==\x07",
    "\x1b[31mREDMARK\x1b[0m",
    "\x9b31mC1MARK",
    "\u202eevil@example.com",
    "１２３４５６",
    "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x1f\x7f",
    "line one\nline two\r\nline three",
    "A" * 20_000,
    "[bold red]markup[/] [link=http://x]x[/link]",
]
CONTROL = {chr(c) for c in range(32)} | {chr(127)} | {chr(c) for c in range(0x80, 0xA0)}


def _visible_text(app: KioskApp) -> str:
    """Every character the current screen draws (all widgets' rendered lines)."""
    chunks = []
    for widget in app.screen.query("*"):
        if not widget.display or widget.size.height == 0:
            continue
        for y in range(widget.size.height):
            strip = widget.render_line(y)
            chunks.append("".join(segment.text for segment in strip))
    return "\n".join(chunks)


async def _settle(pilot: Any) -> None:
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def _assert_sane(app: KioskApp, screen_type: type) -> None:
    """Still running, on the expected screen, no crash, and the status is one plain line.

    (Widgets may hold a pasted ESC in their segments; the driver writes it as caret notation
    '^[': test_paste_in_a_real_terminal checks the bytes that reach the terminal.)"""
    assert app.is_running and app.crash_reference is None
    assert isinstance(app.screen, screen_type), type(app.screen)
    assert "Traceback" not in _visible_text(app)


@pytest.fixture
def tui_service(tmp_path: Path, sqlite_url: str) -> Any:
    settings = make_settings(tmp_path, sqlite_url)
    service = KioskService.open(settings)
    service.accounts.add_user("enrolled@example.com", PASSWORD)
    workers.enroll_through_flow(service, "enrolled@example.com", PASSWORD)
    yield service
    service.close()


def test_pasting_escape_sequences_into_sign_in(tui_service: KioskService) -> None:
    async def scenario() -> list[str]:
        app = KioskApp(tui_service, mode="kiosk", source="test")
        statuses = []
        async with app.run_test(size=(80, 24)) as pilot:
            for payload in PASTES:
                await _settle(pilot)
                assert isinstance(app.screen, SignInScreen)
                email = app.screen.query_one("#email", Input)
                password = app.screen.query_one("#password", Input)
                email.value = ""
                password.value = ""
                email.focus()
                await pilot.pause()
                app.post_message(events.Paste(payload))
                await pilot.pause()
                _assert_sane(app, SignInScreen)
                password.focus()
                await pilot.pause()
                app.post_message(events.Paste(payload))
                await pilot.press("enter")
                await _settle(pilot)
                _assert_sane(app, SignInScreen)
                statuses.append(app.screen.query_one("#email", Input).value)
                # Unlock between payloads (the point here is the screen, not the throttle).
                from kiosk.store.models import Throttle

                Throttle.delete().execute()
        return statuses

    values = asyncio.run(scenario())
    assert len(values) == len(PASTES)


def test_typing_control_keys_and_pasting_into_code_fields(tui_service: KioskService) -> None:
    async def scenario() -> None:
        app = KioskApp(tui_service, mode="kiosk", source="test")
        async with app.run_test(size=(80, 24)) as pilot:
            await _settle(pilot)
            await pilot.press(*"enrolled@example.com", "enter", *PASSWORD, "enter")
            await _settle(pilot)
            assert isinstance(app.screen, EnterCodeScreen)
            for payload in PASTES:
                field = app.screen.query_one(Input)
                field.value = ""
                field.focus()
                app.post_message(events.Paste(payload))
                await pilot.press("enter")
                await _settle(pilot)
                _assert_sane(app, EnterCodeScreen)
                from kiosk.store.models import Throttle

                Throttle.delete().execute()
            # Keys a person could mash: none of them leaves the kiosk or crashes it.
            await pilot.press("ctrl+c", "ctrl+q", "ctrl+z", "ctrl+backslash", "ctrl+d", "tab",
                              "ctrl+a", "ctrl+k", "ctrl+u", "delete", "backspace")
            await _settle(pilot)
            assert app.is_running and app.crash_reference is None
            _assert_sane(app, EnterCodeScreen)
            # The recovery-code field too.
            app.flow.use_recovery_code()
            app.show_step()
            await _settle(pilot)
            for payload in PASTES:
                field = app.screen.query_one(Input)
                field.value = ""
                field.focus()
                app.post_message(events.Paste(payload))
                await pilot.press("enter")
                await _settle(pilot)
                _assert_sane(app, UseRecoveryCodeScreen)
                from kiosk.store.models import Throttle

                Throttle.delete().execute()

    asyncio.run(scenario())


def test_paste_in_a_real_terminal(tmp_path: Path, sqlite_url: str) -> None:
    """The real `kiosk run` in a pty: bracketed pastes of escape sequences into Sign in are never
    written back raw (the terminal's title, colours and clipboard stay untouched), the kiosk
    keeps running, and ctrl+c (ssh mode) leaves the terminal restored, without a traceback."""
    import os
    import sys
    import time

    import pexpect

    from tests.conftest import REPO, write_config

    settings = make_settings(tmp_path, sqlite_url)
    config = write_config(tmp_path / "config.toml", settings)
    KioskService.open(settings).close()
    child = pexpect.spawn(
        sys.executable, ["-m", "kiosk", "--config", str(config), "run", "--mode", "ssh"],
        cwd=str(tmp_path), dimensions=(24, 80),
        env={**os.environ, "TERM": "xterm-256color", "PYTHONPATH": str(REPO)},
    )

    def read_for(seconds: float, until: bytes | None = None) -> bytes:
        data = b""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                data += child.read_nonblocking(65536, timeout=0.3)
            except pexpect.TIMEOUT:
                if until is not None and until in data:
                    break
            except pexpect.EOF:
                break
        return data

    try:
        assert b"Password" in read_for(30, until=b"Password"), "the kiosk did not start"
        payloads = [b"\x1b]0;PWNED\x07", b"\x1b]52;c;cGF5bG9hZA==\x07", b"\x1b[31mREDMARK",
                    b"\x1bP+q544e\x1b\\", b"\x1b[2J\x1b[3J", b"\xe2\x80\xae"]
        out = b""
        for payload in payloads:
            child.send(b"\x1b[200~" + payload + b"\x1b[201~")
            out += read_for(1.5)
        child.send(b"\t")  # to Password
        child.send(b"\x1b[200~\x1b]0;PWNED2\x07\x1b[201~\r")
        out += read_for(3)
        assert child.isalive()
        for payload in payloads[:5]:
            assert payload not in out, payload
        assert b"PWNED" in out  # the text arrived (shown as caret notation), only not raw
        assert b"\x1b]0;PWNED" not in out and b"\x1b]52;" not in out
        child.sendcontrol("c")
        tail = read_for(10)
        child.expect(pexpect.EOF, timeout=10)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0, (child.exitstatus, child.signalstatus)
    assert b"Traceback" not in out + tail
    assert b"\x1b[?1049l" in tail  # left the alternate screen: the terminal is restored
