"""`kiosk serve` guards, against the real command on a loopback port with a real websocket client.

A page on another site must not open a session (Origin checked, no process started); the
served address and the allow-listed origins may; a page cannot make a session process lay out a
huge terminal (size clamped at the start and on resize); past `[serve] max_sessions` the page
and the websocket get HTTP 503 and a short busy page.
"""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kiosk.serve import MAX_COLUMNS, MAX_ROWS
from tests.e2e.conftest import KIOSK, Site, free_port, wait_for_port
from tests.e2e.test_browser import _stop

pytestmark = pytest.mark.e2e

FOREIGN = "http://attacker.example"
ALLOWED = "https://kiosk.example.org"
CURSOR_MOVE = re.compile(rb"\x1b\[(\d+);(\d+)H")


class Served:
    """A running `kiosk serve`: its URL, process and log."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process, self.port, self.log = process, port, log
        self.kiosk_log = log.with_name("kiosk.log")  # the site's log, where refusals are told
        self.origin = f"http://127.0.0.1:{port}"
        self.url = self.origin + "/"
        self.ws_url = f"ws://127.0.0.1:{port}/ws"

    def sessions(self) -> list[int]:
        """Pids of the kiosk session processes (`kiosk ... run`) under the server."""
        return [pid for pid in _descendants(self.process.pid)
                if {b"-m", b"kiosk", b"run"} <= set(_cmdline(pid).split(b"\0"))]

    def wait_for_sessions(self, count: int, timeout: float = 60) -> list[int]:
        deadline = time.monotonic() + timeout
        while len(found := self.sessions()) != count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} session processes, expected {count}")
            time.sleep(0.1)
        return found


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return children


def _descendants(pid: int) -> list[int]:
    tree, found, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {key.decode(): value.decode(errors="replace") for key, value in pairs}


@pytest.fixture
def serve_kiosk(make_site: Any) -> Iterator[Callable[..., Served]]:
    """Factory: `kiosk serve` on a free loopback port, with extra [serve] config lines."""
    started: list[subprocess.Popen[bytes]] = []

    def start(serve_section: str = "", *serve_args: str) -> Served:
        site: Site = make_site()
        if serve_section:
            with open(site.config, "a") as config:
                config.write(f"\n[serve]\n{serve_section}\n")
        port = free_port()
        log = site.root / "serve.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [str(KIOSK), "--config", str(site.config), "serve", "--host", "127.0.0.1",
                 "--port", str(port), *serve_args],
                stdout=out, stderr=subprocess.STDOUT, cwd=site.root, start_new_session=True,
            )
        started.append(process)
        if not wait_for_port(port, 60, lambda: process.poll() is None):
            pytest.fail(f"kiosk serve did not start: {log.read_text()}", pytrace=False)
        return Served(process, port, log)

    yield start
    for process in started:
        _stop(process)


async def _handshake_status(url: str, origin: str | None) -> int:
    """The HTTP status of a websocket handshake (101 when it opened; then it is closed)."""
    headers = {"Origin": origin} if origin is not None else {}
    async with aiohttp.ClientSession() as http:
        try:
            async with http.ws_connect(url, headers=headers):
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status


async def _first_output(
    ws: aiohttp.ClientWebSocketResponse, text: bytes = b"Sign in", timeout: float = 60
) -> bytes:
    """The session's output up to its first Sign in screen: the app really started."""
    drawn, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = await ws.receive(timeout=deadline - time.monotonic())
        if message.type == aiohttp.WSMsgType.BINARY:
            drawn += message.data
            if text in drawn:
                return drawn
        elif message.type != aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"session closed before {text!r}: {message}")
    raise AssertionError(f"no {text!r} from the session")


def test_a_foreign_origin_is_refused_and_starts_no_session(
    serve_kiosk: Callable[..., Served],
) -> None:
    served = serve_kiosk()
    for origin in (FOREIGN, None, "null", served.origin + ".attacker.example",
                   f"http://localhost:{served.port}"):
        assert asyncio.run(_handshake_status(served.ws_url, origin)) == 403, origin
    assert served.sessions() == []
    assert "attacker.example" in served.kiosk_log.read_text(errors="replace")
    assert "Traceback" not in served.log.read_text(errors="replace")


def test_the_served_origin_opens_a_session(serve_kiosk: Callable[..., Served]) -> None:
    served = serve_kiosk()

    async def session() -> bytes:
        async with aiohttp.ClientSession() as http, http.ws_connect(
            served.ws_url, headers={"Origin": served.origin}
        ) as ws:
            screen = await _first_output(ws)
            assert len(served.wait_for_sessions(1)) == 1
            return screen

    assert b"Sign in" in asyncio.run(session())


def test_an_allow_listed_origin_opens_a_session(serve_kiosk: Callable[..., Served]) -> None:
    served = serve_kiosk(f'allowed_origins = ["{ALLOWED}"]')

    async def session() -> None:
        async with aiohttp.ClientSession() as http, http.ws_connect(
            served.ws_url, headers={"Origin": ALLOWED}
        ) as ws:
            await _first_output(ws)

    asyncio.run(session())
    assert asyncio.run(_handshake_status(served.ws_url, FOREIGN)) == 403


async def _draw(
    ws: aiohttp.ClientWebSocketResponse, enough: Callable[[list[int]], bool], timeout: float = 90
) -> list[tuple[int, int]]:
    """The (row, column) cursor moves the app draws until `enough(rows)` and two seconds more
    (the rest of that frame), or until a row past MAX_ROWS shows up."""
    drawn, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            message = await ws.receive(timeout=deadline - time.monotonic())
        except TimeoutError:
            break
        if message.type == aiohttp.WSMsgType.BINARY:
            drawn += message.data
            rows = [int(row) for row, _ in CURSOR_MOVE.findall(drawn)]
            if rows and max(rows) > MAX_ROWS:
                break
            if rows and enough(rows):
                deadline = min(deadline, time.monotonic() + 2.0)
        elif message.type != aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"session ended: {message}")
    return [(int(row), int(column)) for row, column in CURSOR_MOVE.findall(drawn)]


def test_behind_a_proxy_the_public_url_and_the_served_address_open_sessions(
    serve_kiosk: Callable[..., Served],
) -> None:
    served = serve_kiosk("", "--public-url", ALLOWED + "/")

    async def session(origin: str) -> None:
        async with aiohttp.ClientSession() as http, http.ws_connect(
            served.ws_url, headers={"Origin": origin}
        ) as ws:
            await _first_output(ws)

    asyncio.run(session(ALLOWED))
    asyncio.run(session(served.origin))
    assert asyncio.run(_handshake_status(served.ws_url, "http://kiosk.example.org")) == 403


def test_a_huge_terminal_size_is_clamped(serve_kiosk: Callable[..., Served]) -> None:
    """At the start (the process's COLUMNS/ROWS) and on resize (where the app draws)."""
    served = serve_kiosk()

    async def session() -> tuple[dict[str, str], list[tuple[int, int]]]:
        async with aiohttp.ClientSession() as http, http.ws_connect(
            served.ws_url + "?width=20000&height=5000", headers={"Origin": served.origin},
            max_msg_size=0,
        ) as ws:
            (pid,) = served.wait_for_sessions(1)
            environ = _environ(pid)
            await _draw(ws, lambda rows: max(rows) >= MAX_ROWS)  # the first screen
            await ws.send_json(["resize", {"width": 100, "height": 30}])
            await _draw(ws, lambda rows: 30 in rows)
            await ws.send_json(["resize", {"width": 30000, "height": 9000}])
            return environ, await _draw(ws, lambda rows: max(rows) >= MAX_ROWS)

    environ, moves = asyncio.run(session())
    assert (environ["COLUMNS"], environ["ROWS"]) == (str(MAX_COLUMNS), str(MAX_ROWS))
    assert moves, "the app drew nothing after the resize"
    assert max(row for row, _ in moves) == MAX_ROWS
    assert max(column for _, column in moves) <= MAX_COLUMNS


def test_past_max_sessions_the_page_and_the_websocket_say_busy(
    serve_kiosk: Callable[..., Served],
) -> None:
    served = serve_kiosk("max_sessions = 1")

    async def scenario() -> None:
        async with aiohttp.ClientSession() as http:
            async with http.get(served.url) as page:
                assert page.status == 200
            async with http.ws_connect(served.ws_url, headers={"Origin": served.origin}) as ws:
                await _first_output(ws)
                async with http.get(served.url) as page:
                    body = await page.text()
                    assert page.status == 503
                    assert "busy" in body and "try again shortly" in body
                    assert page.headers["Retry-After"].isdigit()
                assert await _handshake_status(served.ws_url, served.origin) == 503
                assert len(served.sessions()) == 1  # the refused one started nothing
            # The first session ended with its websocket: the next person gets the page.
            deadline = time.monotonic() + 60
            while True:
                async with http.get(served.url) as page:
                    if page.status == 200:
                        break
                assert time.monotonic() < deadline, "still busy after the session ended"
                await asyncio.sleep(0.2)

    asyncio.run(scenario())
    assert "Traceback" not in served.log.read_text(errors="replace")


def test_the_page_may_not_be_framed_by_another_site(serve_kiosk: Callable[..., Served]) -> None:
    """Framed, the page would connect with its own Origin: the Origin check needs this."""
    served = serve_kiosk()

    async def headers() -> dict[str, str]:
        async with aiohttp.ClientSession() as http, http.get(served.url) as page:
            assert page.status == 200
            return dict(page.headers)

    found = asyncio.run(headers())
    assert found["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in found["Content-Security-Policy"]


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("kiosk: error: "), result.stderr
    assert "Traceback" not in result.stdout
    return lines[0]


def _serve_refused(make_site: Any, *args: str) -> str:
    """`kiosk serve ARGS` on a fresh site, expected to stop at once with one error line."""
    site: Site = make_site()
    return _one_error_line(site.cli("serve", *args, timeout=60, check=False))


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])  # noqa: S104 - refused
def test_every_address_needs_a_public_url(make_site: Any, host: str) -> None:
    """Without it the page would connect to 0.0.0.0 and no Origin could be checked."""
    line = _serve_refused(make_site, "--host", host, "--port", str(free_port()))
    assert "--public-url" in line


def test_a_bad_public_url_is_one_line(make_site: Any) -> None:
    line = _serve_refused(make_site, "--public-url", "kiosk.example.org",
                          "--port", str(free_port()))
    assert "--public-url must be an http:// or https:// URL" in line


def test_a_port_in_use_is_one_line(make_site: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _serve_refused(make_site, "--port", str(port))
    assert f"cannot listen on 127.0.0.1:{port}" in line
