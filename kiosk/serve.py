"""`kiosk serve`: the kiosk in a browser, through textual-serve, with the guards it lacks.

textual-serve starts one app process per websocket and trusts whoever opens one. Here:
- the websocket's Origin must be the served address (http://HOST:PORT, and `--public-url`) or
  one listed in `[serve] allowed_origins`, so a page on another site (or a DNS-rebound name)
  cannot drive a session from a browser that can reach the server;
- the terminal size a page asks for, at the start and in every resize, is clamped to
  MAX_COLUMNS × MAX_ROWS before it reaches the app (a huge size costs the process memory);
- at most `[serve] max_sessions` sessions run at once; beyond that the page and the websocket
  get a short "busy, try again shortly" answer (HTTP 503) and no process is started;
- the page is our own template: square QR modules (cells of 1:2) in the font textual-serve
  ships, with no request to another host.

The websocket handler is ours (textual-serve's reads the size unchecked and logs failures with
local variables, which may hold typed keys); it drives textual-serve's `AppService`, so
textual-serve is pinned exactly in pyproject.toml.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shlex
import sys
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from kiosk.config import Settings, normalize_origin
from kiosk.errors import KioskError

log = logging.getLogger("kiosk.serve")

MAX_COLUMNS = 500  # far beyond any real screen; a page asking for more gets this
MAX_ROWS = 200
DEFAULT_SIZE = (80, 24)
BUSY_RETRY_SECONDS = 10
TEMPLATES = Path(__file__).with_name("serve_page")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")  # noqa: S104 - named to refuse them without --public-url

BUSY_PAGE = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{BUSY_RETRY_SECONDS}">
<title>kiosk: busy</title>
<style>body{{background:#0c181f;color:#fff;font:20px sans-serif;text-align:center;
padding-top:20vh}}</style></head>
<body><h1>The kiosk is busy</h1>
<p>Every session is in use. Please try again shortly; this page retries by itself.</p>
</body></html>
"""


def clamp_size(width: object, height: object) -> tuple[int, int]:
    """A terminal size a page asked for, as whole numbers within 1..MAX_COLUMNS × 1..MAX_ROWS."""

    def whole(value: object, default: int, high: int) -> int:
        try:  # a query string's text, or a number from a page's JSON message
            number = int(str(value)) if value is not None else default
        except (TypeError, ValueError, OverflowError):
            return default
        return max(1, min(number, high))

    return whole(width, DEFAULT_SIZE[0], MAX_COLUMNS), whole(height, DEFAULT_SIZE[1], MAX_ROWS)


def _printable(text: str, limit: int = 200) -> str:
    """A header value fit for one log line (a page chooses it: no control characters)."""
    return "".join(ch if ch.isprintable() else "?" for ch in text[:limit])


class KioskServer(Server):
    """textual-serve's Server with an Origin check, a size clamp and a session cap."""

    def __init__(
        self,
        command: str,
        *,
        host: str,
        port: int,
        public_url: str | None,
        allowed_origins: tuple[str, ...] = (),
        max_sessions: int = 10,
    ) -> None:
        super().__init__(
            command, host=host, port=port, title="kiosk", public_url=public_url,
            templates_path=TEMPLATES,
        )
        self.public_url = self.public_url.rstrip("/")
        served = {normalize_origin(self.public_url, allow_path=True)}
        if host not in WILDCARD_HOSTS:  # the listening address itself, as a browser names it
            served.add(normalize_origin(_http_url(host, port)))
        self.allowed_origins = frozenset({*served, *map(normalize_origin, allowed_origins)})
        self.max_sessions = max_sessions
        self.active_sessions = 0

    # ---------------------------------------------------------------- hooks of textual-serve
    def initialize_logging(self) -> None:
        """Plain lines: textual-serve's handler prints tracebacks with local variables."""
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    async def on_startup(self, app: web.Application) -> None:
        """`serve` prints its own line; textual-serve's banner would name the command."""

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        """The page, or the busy page when every session is taken."""
        if self.is_full():
            return self.busy_response()
        response: web.StreamResponse = await super().handle_index(request)
        # Framed in another site's page, ours would connect with its own (allowed) Origin.
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
        return response

    # A refusal is a plain HTTP response, not a websocket: a wider return type than the base's.
    async def handle_websocket(  # type: ignore[override]
        self, request: web.Request
    ) -> web.StreamResponse:
        """One kiosk process per websocket, once Origin, capacity and size are checked."""
        origin = request.headers.get("Origin", "")
        if not self.origin_allowed(origin):
            log.warning("websocket refused: Origin %r is not allowed", _printable(origin))
            raise web.HTTPForbidden(text="This page may not open a kiosk session.\n")
        if self.is_full():
            log.warning("websocket refused: all %d sessions are in use", self.max_sessions)
            return self.busy_response()
        width, height = clamp_size(request.query.get("width"), request.query.get("height"))
        self.active_sessions += 1  # no await since is_full(): the check and count are one step
        websocket = web.WebSocketResponse(heartbeat=15)
        try:
            await websocket.prepare(request)
            service = AppService(
                self.command,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=lambda: _close(websocket),
                download_manager=self.download_manager,
                debug=False,
            )
            await service.start(width, height)
            try:
                await self.relay(websocket, service)
            finally:
                await service.stop()
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await websocket.close()
        except Exception as exc:  # noqa: BLE001 - one session ends; the server goes on
            log.error("browser session ended by %s", exc.__class__.__name__)
        finally:
            self.active_sessions -= 1
        return websocket

    # ---------------------------------------------------------------- ours
    def origin_allowed(self, origin: str) -> bool:
        try:
            return normalize_origin(origin) in self.allowed_origins
        except ValueError:  # missing, "null", or not an http(s) origin
            return False

    def is_full(self) -> bool:
        return self.active_sessions >= self.max_sessions

    def busy_response(self) -> web.Response:
        return web.Response(
            status=503, text=BUSY_PAGE, content_type="text/html",
            headers={"Retry-After": str(BUSY_RETRY_SECONDS), "Cache-Control": "no-store"},
        )

    async def relay(self, websocket: web.WebSocketResponse, service: AppService) -> None:
        """Pass the page's messages to the app; ignore anything malformed, never log it
        (a stdin message is what the person typed)."""
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                envelope = json.loads(message.data)
            except ValueError:
                continue
            if not isinstance(envelope, list) or not envelope:
                continue
            kind, data = envelope[0], envelope[1] if len(envelope) > 1 else None
            if kind == "stdin" and isinstance(data, str):
                await service.send_bytes(data.encode("utf-8", "replace"))
            elif kind == "resize" and isinstance(data, dict):
                await service.set_terminal_size(*clamp_size(data.get("width"),
                                                            data.get("height")))
            elif kind == "ping" and isinstance(data, str):
                await websocket.send_json(["pong", data[:64]])
            elif kind == "blur":
                await service.blur()
            elif kind == "focus":
                await service.focus()


def _http_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def kiosk_command(settings: Settings, config_path: Path | None) -> str:
    """The shell command each browser session runs: this Python, this config, this mode."""
    parts = [sys.executable, "-m", "kiosk"]
    if config_path is not None:
        parts += ["--config", str(config_path.resolve())]
    parts += ["run", "--mode", settings.kiosk.mode]
    return " ".join(shlex.quote(part) for part in parts)


def build_server(
    settings: Settings, config_path: Path | None, host: str, port: int, public_url: str | None
) -> KioskServer:
    """The server for `kiosk serve`; a bad address or URL is a one-line KioskError."""
    if public_url is not None:
        try:
            normalize_origin(public_url, allow_path=True)
        except ValueError:
            raise KioskError("--public-url must be an http:// or https:// URL") from None
    elif host in WILDCARD_HOSTS:
        raise KioskError(
            f"listening on every address ({host or 'empty host'}) needs --public-url: the "
            "address browsers use, which the page connects to and sessions must come from"
        )
    else:
        public_url = _http_url(host, port)
    return KioskServer(
        kiosk_command(settings, config_path), host=host, port=port, public_url=public_url,
        allowed_origins=settings.serve.allowed_origins,
        max_sessions=settings.serve.max_sessions,
    )


def serve(server: KioskServer, announce: Any = print) -> None:
    """Run until SIGINT/SIGTERM; a port that cannot be opened is a one-line KioskError."""
    announce(f"Serving the kiosk on {server.public_url}/ (no authentication: keep it private)")
    try:
        server.serve()
    except OSError as exc:
        raise KioskError(
            f"cannot listen on {server.host}:{server.port}: {exc.strerror or exc}"
        ) from None


async def _close(websocket: web.WebSocketResponse) -> None:
    """What textual-serve calls when the kiosk process ends: close the page's websocket."""
    await websocket.close()
