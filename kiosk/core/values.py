"""The small frozen values the service hands to the layers above it (never peewee rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


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
    # False for an account made for an onboarding cohort that has no password yet.
    has_password: bool = True
    # The enrollment pass this session signed in with (consumed at activation), if any.
    pass_id: int | None = None


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
    password_source: str = "local"  # "local", "directory", or "none" (not set yet)


@dataclass(frozen=True)
class NewRecoveryCode:
    """A recovery code made for an enrollment in progress: shown once, stored as its hash."""

    text: str
    hash: str

    def __repr__(self) -> str:  # keep the code out of tracebacks and debug output
        return "NewRecoveryCode(...)"


@dataclass(frozen=True)
class IssuedPass:
    """An enrollment pass just issued: its text is shown once and stored only as a hash."""

    email: str
    text: str
    expires_at: datetime

    def __repr__(self) -> str:  # keep the pass out of tracebacks and debug output
        return f"IssuedPass(email={self.email!r}, expires_at={self.expires_at!r})"


@dataclass(frozen=True)
class PersonState:
    """One person of a cohort, as the board, `cohort show` and the report see them.

    `state` is the furthest stage recorded (core/steps.py `Stage`); `since` when it began;
    `attention` None or one of `ATTENTION_REASONS` (core/cohorts.py); `failed_attempts` counts
    wrong secrets since the person joined the cohort. Never anything secret.
    """

    account_id: int
    email: str
    name: str | None
    state: str
    since: datetime | None
    locked: bool
    attention: str | None
    failed_attempts: int
    clock_drift_steps: int | None = None  # from the latest wrong code, when it looked like one
    first_signed_in_at: datetime | None = None
    enrolled_at: datetime | None = None
    passes_issued: int = 0
    pass_expires_at: datetime | None = None  # the live pass, if any

    def as_json(self) -> dict[str, object]:
        """The keys `kiosk cohort show --json` prints (times in ISO 8601, UTC)."""
        return {
            "email": self.email,
            "name": self.name,
            "state": self.state,
            "locked": self.locked,
            "attention": self.attention,
            "since": _iso(self.since),
            "failed_attempts": self.failed_attempts,
        }


@dataclass(frozen=True)
class CohortSummary:
    """One row of `kiosk cohort list`."""

    name: str
    deadline: date | None
    created_at: datetime
    created_by: str
    people: int
    enrolled: int


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.replace(microsecond=0).isoformat() + "Z"
