"""The small frozen values the service hands to the layers above it (never peewee rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class AccountRef:
    """One account as a session saw it when its password was checked.

    `version` is the account's sign-in settings version at that moment: every later write for
    this session (a sign-in, an activation) is refused if an admin or another terminal changed
    the account since (a new password, a reset, a new device).
    """

    id: int
    email: str
    version: int
    enrolled: bool


@dataclass(frozen=True)
class UserSummary:
    """One row of `kiosk users list`."""

    email: str
    enrolled: bool
    enrolled_at: datetime | None
    locked: bool
    locked_until: datetime | None
    last_sign_in: datetime | None
    created_at: datetime
    password_source: str = "local"  # "local" or "directory"


@dataclass(frozen=True)
class NewRecoveryCode:
    """A recovery code made for an enrollment in progress: shown once, stored as its hash."""

    text: str
    hash: str

    def __repr__(self) -> str:  # keep the code out of tracebacks and debug output
        return "NewRecoveryCode(...)"
