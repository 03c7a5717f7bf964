"""A KioskService opened on first use, so the first screen can be painted before the store opens.

Opening the store (importing peewee and the crypto stack, connecting, migrating, checking the
key) takes tens of milliseconds that the Sign in screen does not need. The CLI hands the app a
`DeferredService`; the app opens it in a worker right after the first paint, and a person's first
Continue waits for it if they are quicker. An opening failure is a `KioskError` like any other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiosk.config import Settings
    from kiosk.core.enrollment import AuthFlow
    from kiosk.core.service import KioskService


class DeferredService:
    """Stands in for a `KioskService`: `settings` at once, everything else after `open()`."""

    def __init__(self, settings: Settings, opener: Callable[[], KioskService]) -> None:
        self.settings = settings
        self._opener = opener
        self._service: KioskService | None = None
        self._lock = threading.Lock()

    def open(self) -> KioskService:
        """The real service, opened once (by whichever thread asks first; the others wait)."""
        with self._lock:
            if self._service is None:
                self._service = self._opener()
            return self._service

    @property
    def is_open(self) -> bool:
        return self._service is not None

    def new_flow(self, source: str) -> AuthFlow:
        from kiosk.core.enrollment import AuthFlow

        return AuthFlow(self, source)  # type: ignore[arg-type]  # the flow only uses the service API

    def close(self) -> None:
        if self._service is not None:
            self._service.close()

    def __getattr__(self, name: str) -> Any:
        # Only reached for what the real service has and this stand-in does not: open it.
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.open(), name)
