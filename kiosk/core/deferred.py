"""A KioskService opened on first use, so the first screen can be painted before the store opens.

Opening the store (importing peewee and the crypto stack, connecting, migrating, checking the
key) takes tens of milliseconds that the Sign in screen does not need. The kiosk gets a
`DeferredService`; it opens it in a worker right after the first paint, and a person's first
Continue waits for it if they are quicker. `ready()` is the one way to get the service: it opens
it (once, whichever thread asks first) or waits for the thread that is opening it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.config import Settings
    from kiosk.core.service import KioskService


class DeferredService:
    """`settings` at once; the service itself from `ready()`."""

    def __init__(self, settings: Settings, opener: Callable[[], KioskService]) -> None:
        self.settings = settings
        self._opener = opener
        self._service: KioskService | None = None
        self._lock = threading.Lock()

    def ready(self) -> KioskService:
        """The opened service; opens it, or waits while another thread does. An opening
        failure is raised to every caller (a `KioskError` with the reason)."""
        with self._lock:
            if self._service is None:
                service = self._opener()
                service.warm_up()
                self._service = service
            return self._service

    @property
    def is_open(self) -> bool:
        return self._service is not None

    def close(self) -> None:
        if self._service is not None:
            self._service.close()
