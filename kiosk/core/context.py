"""What every part of the service shares: settings, database, clock, hasher and keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import peewee as pw

from kiosk.config import Settings
from kiosk.core.accounts import Hasher
from kiosk.core.keys import KeyStore

Clock = Callable[[], float]


@dataclass(frozen=True)
class CoreContext:
    settings: Settings
    db: pw.Database
    keys: KeyStore
    hasher: Hasher
    clock: Clock

    def now(self) -> datetime:
        """Naive UTC, as stored."""
        return datetime.fromtimestamp(self.clock(), UTC).replace(tzinfo=None)
