"""`kiosk serve` in a real browser: Debian's headless Chromium, driven over the DevTools protocol.

The page's terminal is xterm.js drawing on a canvas, so the text is read from xterm.js's own
screen buffer (what it paints), reached by a script injected before the page loads. The test
sees the Sign in screen, types an email and a password, and gets to the next screen: the
app really runs behind the browser, not only its page.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pyotp
import pytest

from tests.e2e.conftest import KIOSK, Site, free_port, require_program, wait_for_port

pytestmark = pytest.mark.e2e

EMAIL = "browser.person@example.com"
PASSWORD = "typed in a browser"

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
    "--disable-extensions", "--mute-audio", "--window-size=1280,900",
    "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
]

# textual-serve's page keeps its xterm.js Terminal in `this.terminal`; catch it as it is set.
CAPTURE_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  get() { return undefined; },
  set(value) {
    Object.defineProperty(this, "terminal",
      {value, writable: true, configurable: true, enumerable: true});
    if (value && value.buffer && value.options) { window.__kioskTerminal = value; }
  },
});
"""

# The background of the Password field's first cell: it changes when the field gets the focus.
PASSWORD_FIELD_BG = """
(() => {
  const t = window.__kioskTerminal, b = t.buffer.active;
  for (let y = 0; y < t.rows; y++) {
    const line = b.getLine(b.viewportY + y), text = line ? line.translateToString(true) : "";
    const x = text.indexOf("\u258a  Password");
    if (x >= 0) {
      const cell = line.getCell(x + 3);
      return cell.getBgColorMode() + ":" + cell.getBgColor();
    }
  }
  return null;
})()
"""

READ_SCREEN = """
(() => {
  const t = window.__kioskTerminal;
  if (!t) { return null; }
  const b = t.buffer.active, lines = [];
  for (let y = 0; y < t.rows; y++) {
    const line = b.getLine(b.viewportY + y);
    lines.push(line ? line.translateToString(true) : "");
  }
  return lines.join("\\n");
})()
"""


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@pytest.fixture
def served_kiosk(make_site: Any) -> Iterator[tuple[str, Site, Path]]:
    """`kiosk serve` on a free loopback port; stopped (with its app sessions) at the end."""
    site: Site = make_site()
    site.add_user(EMAIL, PASSWORD)
    port = free_port()
    log = site.root / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(KIOSK), "--config", str(site.config), "serve", "--host", "127.0.0.1",
             "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, cwd=site.root, start_new_session=True,
        )
    try:
        if not wait_for_port(port, 60, lambda: process.poll() is None):
            pytest.fail(f"kiosk serve did not start: {log.read_text()}", pytrace=False)
        yield f"http://127.0.0.1:{port}/", site, log
    finally:
        _stop(process)


@pytest.fixture
def chromium(request: pytest.FixtureRequest) -> Iterator[int]:
    """Headless Chromium with the DevTools protocol on a loopback port; its port. Parametrized
    indirectly, the parameter is the device pixel ratio (a screen's scale factor)."""
    binary = require_program("chromium", "chromium")
    profile = Path(tempfile.mkdtemp(prefix="kiosk-e2e-chromium-"))
    log = profile / "chromium.log"
    scale = [f"--force-device-scale-factor={request.param}"] if hasattr(request, "param") else []
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [binary, *CHROMIUM_ARGS, *scale, f"--user-data-dir={profile}", "about:blank"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chromium did not start: {log.read_text(errors='replace')[-2000:]}",
                            pytrace=False)
            time.sleep(0.1)
        yield int(port_file.read_text().split()[0])
    finally:
        _stop(process)
        shutil.rmtree(profile, ignore_errors=True)


class DevTools:
    """A minimal DevTools-protocol client for one page (aiohttp's websocket)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []  # what the page reported (Network.* and so on)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self.ids)
        await self.ws.send_str(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = await asyncio.wait_for(self.ws.receive(), 30)
            if message.type != aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"DevTools connection ended: {message.type}")
            data = json.loads(message.data)
            if "method" in data:
                self.events.append(data)
            if data.get("id") == message_id:
                if "error" in data:
                    raise AssertionError(f"{method}: {data['error']}")
                result: dict[str, Any] = data.get("result", {})
                return result

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    async def screen(self) -> str:
        return str(await self.evaluate(READ_SCREEN) or "")

    async def wait_for_text(self, *texts: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = await self.screen()
            if all(text in screen for text in texts):
                return screen
            await asyncio.sleep(0.2)
        raise AssertionError(f"{texts!r} not in the browser's terminal:\n{screen}")

    async def wait_for(self, probe: Any, unlike: object, timeout: float = 30) -> None:
        """Wait until `await probe()` gives something other than `unlike`."""
        deadline = time.monotonic() + timeout
        while await probe() == unlike:
            if time.monotonic() > deadline:
                screen = await self.screen()
                raise AssertionError(f"still {unlike!r} after {timeout:.0f}s:\n{screen}")
            await asyncio.sleep(0.05)

    async def type_text(self, text: str) -> None:
        """Type like a keyboard, one key at a time (xterm.js reads keydown/keypress)."""
        for char in text:
            await self.call("Input.dispatchKeyEvent", type="keyDown", key=char, text=char,
                            unmodifiedText=char)
            await self.call("Input.dispatchKeyEvent", type="keyUp", key=char)

    async def key(self, key: str, code: int, text: str = "") -> None:
        for kind in ("keyDown", "keyUp"):
            await self.call("Input.dispatchKeyEvent", type=kind, key=key, code=key,
                            windowsVirtualKeyCode=code, nativeVirtualKeyCode=code,
                            **({"text": text} if text and kind == "keyDown" else {}))


async def _drive(devtools_port: int, url: str, log: Path) -> tuple[str, str]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{devtools_port}/json/list") as response:
            targets = await response.json()
        page = next(t for t in targets if t.get("type") == "page")
        async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            cdp = DevTools(ws)
            await cdp.call("Page.enable")
            await cdp.call("Page.addScriptToEvaluateOnNewDocument", source=CAPTURE_TERMINAL)
            await cdp.call("Page.navigate", url=url)
            try:
                sign_in = await cdp.wait_for_text("Sign in", "Email", "Password", "Continue")
            except AssertionError as exc:
                state = await cdp.evaluate(
                    "JSON.stringify({terminal: !!window.__kioskTerminal,"
                    " body: document.body.className})")
                raise AssertionError(f"{exc}\npage: {state}\nserver log:\n"
                                     f"{log.read_text(errors='replace')[-3000:]}") from None
            assert await cdp.evaluate("!!document.querySelector('#terminal canvas')")
            await cdp.evaluate("window.__kioskTerminal.focus()")
            await cdp.type_text(EMAIL)
            await cdp.wait_for_text(EMAIL, timeout=30)
            unfocused = await cdp.evaluate(PASSWORD_FIELD_BG)
            assert unfocused, "no Password field in the browser's terminal"
            await cdp.key("Tab", 9)
            await cdp.wait_for(lambda: cdp.evaluate(PASSWORD_FIELD_BG), unfocused)
            await cdp.type_text(PASSWORD)
            await cdp.wait_for_text("•" * len(PASSWORD), timeout=30)  # masked, in Password
            await cdp.key("Enter", 13, "\r")
            after = await cdp.wait_for_text("Two-Factor Authentication Required", "Set Up Now")
            return sign_in, after


def test_kiosk_serve_in_headless_chromium(
    served_kiosk: tuple[str, Site, Path], chromium: int
) -> None:
    url, site, log = served_kiosk
    sign_in, after = asyncio.run(asyncio.wait_for(_drive(chromium, url, log), 240))
    assert "Procore" in sign_in
    assert PASSWORD not in after  # the password field is masked
    assert "Traceback" not in log.read_text(errors="replace")
    assert PASSWORD not in log.read_text(errors="replace")
    assert not site.users()[EMAIL]["enrolled_at"]  # reaching step 2 changed nothing


# xterm.js's cell in device pixels, as its renderer lays it out (the size QR modules take).
CELL_SIZE = """
JSON.stringify(window.__kioskTerminal._core._renderService.dimensions.device.cell)
"""
LOADED_FONTS = """
JSON.stringify([...document.fonts].filter(f => f.status === "loaded")
  .map(f => f.family.replace(/["']/g, "")))
"""


async def _page_facts(devtools_port: int, url: str, log: Path, shot: Path) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{devtools_port}/json/list") as response:
            targets = await response.json()
        page = next(t for t in targets if t.get("type") == "page")
        async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            cdp = DevTools(ws)
            await cdp.call("Network.enable")  # every request the page makes, and websockets
            await cdp.call("Page.enable")
            await cdp.call("Page.addScriptToEvaluateOnNewDocument", source=CAPTURE_TERMINAL)
            await cdp.call("Page.navigate", url=url)
            try:
                await cdp.wait_for_text("Sign in", "Email", "Password")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\nserver log:\n"
                                     f"{log.read_text(errors='replace')[-3000:]}") from None
            picture = await cdp.call("Page.captureScreenshot", format="png")
            shot.write_bytes(base64.b64decode(picture["data"]))
            requested = [event["params"]["request"]["url"] for event in cdp.events
                         if event["method"] == "Network.requestWillBeSent"]
            requested += [event["params"]["url"] for event in cdp.events
                          if event["method"] == "Network.webSocketCreated"]
            return {
                "requested": requested,
                "cell": json.loads(await cdp.evaluate(CELL_SIZE)),
                "fonts": json.loads(await cdp.evaluate(LOADED_FONTS)),
                "ratio": await cdp.evaluate("window.devicePixelRatio"),
            }


@pytest.mark.parametrize("chromium", [1, 1.25], indirect=True, ids=["scale-1", "scale-1.25"])
def test_the_page_asks_no_other_host_and_its_cells_are_1_by_2(
    served_kiosk: tuple[str, Site, Path], chromium: int, tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    """Square QR modules (a cell shows 1x2 of them) in the font textual-serve ships, served
    from the kiosk itself: most kiosks have no internet access."""
    url, _site, log = served_kiosk
    shot = tmp_path / "sign-in.png"
    facts = asyncio.run(asyncio.wait_for(_page_facts(chromium, url, log, shot), 240))
    served = urlsplit(url)
    elsewhere = [seen for seen in facts["requested"]
                 if not seen.startswith("data:") and urlsplit(seen).netloc != served.netloc]
    assert elsewhere == [], "the page asked another host"
    assert any("/static/fonts/RobotoMono" in seen for seen in facts["requested"])
    assert "Roboto Mono" in facts["fonts"]
    assert facts["ratio"] == request.node.callspec.params["chromium"]
    cell = facts["cell"]
    assert cell["height"] / cell["width"] == pytest.approx(2, abs=0.02), cell


# Where a button's label is drawn (centred, so with spaces either side), in CSS pixels.
LABEL_POINT = """
((label) => {
  const t = window.__kioskTerminal, b = t.buffer.active;
  const cell = t._core._renderService.dimensions.css.cell;
  const box = t.element.querySelector(".xterm-screen").getBoundingClientRect();
  const escaped = label.replace(/[.*+?^${}()|[\\]\\\\]/g, "\\\\$&");
  const pattern = new RegExp("(^|\\\\s\\\\s)" + escaped + "(\\\\s\\\\s|$)");
  for (let y = t.rows - 1; y >= 0; y--) {
    const line = b.getLine(b.viewportY + y), text = line ? line.translateToString(true) : "";
    const found = pattern.exec(text);
    if (found) {
      const x = found.index + found[1].length + label.length / 2;
      return JSON.stringify({x: box.left + x * cell.width, y: box.top + (y + 0.5) * cell.height});
    }
  }
  return null;
})
"""


async def _click_label(cdp: DevTools, label: str) -> None:
    point = await cdp.evaluate(f"{LABEL_POINT}({json.dumps(label)})")
    assert point, f"no {label!r} button on the browser's screen:\n{await cdp.screen()}"
    where = json.loads(point)
    await cdp.call("Input.dispatchMouseEvent", type="mouseMoved", **where)
    for kind in ("mousePressed", "mouseReleased"):
        await cdp.call("Input.dispatchMouseEvent", type=kind, button="left", clickCount=1,
                       **where)


async def _copy_hints(devtools_port: int, url: str, log: Path) -> dict[str, str]:
    """Sign in, open Trouble Scanning?, press its Copy, finish the setup with the key shown,
    press Copy on Save Your Recovery Code: the screens at each step."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{devtools_port}/json/list") as response:
            targets = await response.json()
        page = next(t for t in targets if t.get("type") == "page")
        async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            cdp = DevTools(ws)
            await cdp.call("Page.enable")
            await cdp.call("Page.addScriptToEvaluateOnNewDocument", source=CAPTURE_TERMINAL)
            await cdp.call("Page.navigate", url=url)
            try:
                await cdp.wait_for_text("Sign in", "Email", "Password")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\nserver log:\n"
                                     f"{log.read_text(errors='replace')[-3000:]}") from None
            await cdp.evaluate("window.__kioskTerminal.focus()")
            await cdp.type_text(EMAIL)
            await cdp.wait_for_text(EMAIL)
            unfocused = await cdp.evaluate(PASSWORD_FIELD_BG)
            await cdp.key("Tab", 9)
            await cdp.wait_for(lambda: cdp.evaluate(PASSWORD_FIELD_BG), unfocused)
            await cdp.type_text(PASSWORD)
            await cdp.wait_for_text("•" * len(PASSWORD))
            await cdp.key("Enter", 13, "\r")
            await cdp.wait_for_text("Set Up Now")
            await _click_label(cdp, "Set Up Now")
            await cdp.wait_for_text("Authenticator App")
            await _click_label(cdp, "Continue")
            await cdp.wait_for_text("Trouble Scanning?")
            await _click_label(cdp, "Trouble Scanning?")
            screens = {"key": await cdp.wait_for_text("Spaces don't matter")}
            await _click_label(cdp, "Copy")
            screens["key copied"] = await cdp.wait_for_text("Key sent to the")
            key = re.search(r"((?:[A-Z2-7]{4} ){7}[A-Z2-7]{4})", screens["key"])
            assert key, screens["key"]
            await _click_label(cdp, "Close")
            await cdp.wait_for(cdp.screen, screens["key copied"])  # the dialog has closed
            await _click_label(cdp, "Continue")
            await cdp.wait_for_text("Enter the 6-digit code your")
            await _click_label(cdp, "123456")  # the code field's placeholder
            await cdp.type_text(pyotp.TOTP(key.group(1).replace(" ", "")).now())
            await cdp.key("Enter", 13, "\r")
            screens["recovery"] = await cdp.wait_for_text("Save Your Recovery Code")
            await _click_label(cdp, "Copy")
            screens["recovery copied"] = await cdp.wait_for_text("Sent to the")
            return screens


def test_in_the_browser_the_copy_hints_speak_of_the_browser(
    served_kiosk: tuple[str, Site, Path], chromium: int
) -> None:
    url, _site, log = served_kiosk
    screens = asyncio.run(asyncio.wait_for(_copy_hints(chromium, url, log), 240))
    for name, screen in screens.items():
        assert "terminal" not in screen, name
    flat = {name: " ".join(screen.split()) for name, screen in screens.items()}
    assert "Copy puts the key on this browser's clipboard" in flat["key"]
    assert "Key sent to the clipboard (if this browser allows it)" in flat["key copied"]
    assert "Copy uses this browser's clipboard" in flat["recovery"]
    assert "Sent to the clipboard (if this browser allows it)" in flat["recovery copied"]
