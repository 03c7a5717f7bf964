"""Audit events: what happened, when (UTC), to which account, from where. Never a secret.

`detail` is chosen from fixed words by the code that records the event (which factor failed,
which admin action); nothing a person typed is ever written here except a known account's email.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Mapping
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.store.models import AuditEvent

# The store is imported where rows are written or read: `source_from_environment` runs before the
# first screen is painted, and the store is not needed there.


class Event(StrEnum):
    SIGN_IN_OK = "sign_in_ok"
    SIGN_IN_FAILED = "sign_in_failed"
    LOCKED = "locked"
    ENROLLED = "enrolled"
    RESET = "reset"
    RECOVERY_USED = "recovery_used"
    REPLAY_REFUSED = "replay_refused"
    USER_ADDED = "user_added"
    USER_REMOVED = "user_removed"
    UNLOCKED = "unlocked"
    PASSWORD_CHANGED = "password_changed"
    KEYS_ROTATED = "keys_rotated"
    DIRECTORY_UNAVAILABLE = "directory_unavailable"
    PASS_ISSUED = "pass_issued"
    PASS_REVOKED = "pass_revoked"
    PASS_USED = "pass_used"
    PASSWORD_CREATED = "password_created"
    COHORT_CREATED = "cohort_created"
    COHORT_REMOVED = "cohort_removed"
    COHORT_MEMBER_ADDED = "cohort_member_added"
    COHORT_MEMBER_REMOVED = "cohort_member_removed"


MAX_SOURCE = 128


def source_from_environment(
    environ: Mapping[str, str] | None = None, tty_fd: int = 0, hostname: str | None = None
) -> str:
    """Where a session comes from: the SSH client address, else the terminal or the browser
    session, with this host's name (several kiosk hosts may share one database), else 'local'."""
    env = os.environ if environ is None else environ
    connection = env.get("SSH_CONNECTION", "").split()
    if connection:
        return f"ssh:{connection[0]}"[:MAX_SOURCE]
    host = socket.gethostname() if hostname is None else hostname
    at_host = f"@{host}" if host else ""
    if env.get("TEXTUAL_DRIVER", "").endswith(":WebDriver"):  # under `kiosk serve`
        return f"web{at_host}"[:MAX_SOURCE]
    try:
        return f"tty:{os.ttyname(tty_fd)}{at_host}"[:MAX_SOURCE]
    except OSError:
        return f"local{at_host}"[:MAX_SOURCE]


def record(
    event: Event,
    *,
    email: str | None,
    source: str,
    detail: str = "",
    at: datetime | None = None,
) -> None:
    """Write one audit row (inside the caller's transaction, if any), at `at` (the service's
    clock, where the caller has it) or now."""
    from kiosk.store.database import announce_change
    from kiosk.store.models import AuditEvent, utcnow

    AuditEvent.create(
        at=at or utcnow(),
        event=event.value,
        email=email,
        source=source[:MAX_SOURCE],
        detail=detail[:128],
    )
    announce_change()


def query(*, since: datetime | None = None, email: str | None = None) -> Iterator[AuditEvent]:
    """Audit rows oldest first, streamed from the database."""
    from kiosk.store.models import AuditEvent

    rows = AuditEvent.select().order_by(AuditEvent.at, AuditEvent.id)
    if since is not None:
        rows = rows.where(AuditEvent.at >= since)
    if email is not None:
        rows = rows.where(AuditEvent.email == email)
    return iter(rows.iterator())
