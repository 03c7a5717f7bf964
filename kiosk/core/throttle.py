"""The attempt throttle: every secret offered is reserved before it is checked, then settled.

Checking the lock first and counting the failure afterwards is the classic race: a crowd of
sessions (every SSH login is its own process) all pass the check before any of them counts. Here
an attempt is counted, atomically and in the shared database, *before* argon2 or TOTP run:

    reserve  one transaction: refuse at once when locked, or when the failures counted plus the
             attempts being checked right now reach the limit; else count this one as pending.
    check    argon2 / TOTP, outside any transaction.
    settle   a failure turns its pending count into a failure (and locks at the limit); a
             success removes only its own pending count, and is refused if the account was
             locked meanwhile (the lock stays).

So across any number of sessions, processes and hosts, at most `max_failures` wrong secrets are
ever evaluated per lock window for one email. A reservation never settled (a process killed
while checking) counts as a failure once it is `STALE_AFTER` old.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

import peewee as pw

from kiosk.core import audit
from kiosk.core.audit import Event
from kiosk.core.context import CoreContext
from kiosk.errors import AccountLockedError, AttemptsInFlightError
from kiosk.store.database import is_sqlite, storage_errors, write_transaction
from kiosk.store.models import Throttle

# Longer than any check can take (the argon2 gate gives up waiting after 60 s).
STALE_AFTER = timedelta(minutes=3)
# How often, at most, one process sweeps expired rows away.
SWEEP_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class Reservation:
    """One attempt counted as pending, for the row `key` (and the account, when known)."""

    key: str
    account_id: int | None


class AttemptThrottle:
    """Reserve, check, settle: see the module docstring."""

    def __init__(self, ctx: CoreContext, policy: ThrottlePolicy) -> None:
        self._ctx = ctx
        self.policy = policy
        self._last_sweep: datetime | None = None

    def key_for(self, email: str) -> str:
        """The row name for a normalised email: HMAC-SHA256 under the kiosk's key."""
        return hmac.new(self._ctx.keys.throttle_key(), email.encode(), hashlib.sha256).hexdigest()

    # ------------------------------------------------------------------ reserve
    def reserve(self, email: str, account_id: int | None) -> Reservation:
        """Count one attempt as pending, or refuse (`AccountLockedError`, `AttemptsInFlightError`).

        Refusals cost no argon2 here; callers that must keep refusals as slow as checks burn
        one themselves.
        """
        key = self.key_for(email)
        now = self._ctx.now()
        with storage_errors("check the account"), write_transaction(self._ctx.db):
            self._sweep(now)
            row = self._locked_row(key, account_id, now)
            if row.locked_until is not None and row.locked_until > now:
                raise AccountLockedError(row.locked_until)
            if row.failures + row.pending >= self.policy.max_failures:
                raise AttemptsInFlightError()
            Throttle.update(
                pending=Throttle.pending + 1,
                pending_since=now,
                account_id=account_id,
                expires_at=max(row.expires_at, now + self.policy.lockout),
            ).where(Throttle.key == key).execute()
        return Reservation(key=key, account_id=account_id)

    def _locked_row(self, key: str, account_id: int | None, now: datetime) -> Throttle:
        """This key's row, created if absent, locked for this transaction, with what has run
        out forgotten (an expired row starts afresh; stale reservations become failures)."""
        row: Throttle | None = None
        while row is None:
            Throttle.insert(
                key=key, account_id=account_id, expires_at=now + self.policy.lockout
            ).on_conflict_ignore().execute()
            # On PostgreSQL another session may delete the row between the two statements
            # (READ COMMITTED): then the next insert makes it again. (A new query each time:
            # peewee keeps the result of a query object once it has run.)
            query = Throttle.select().where(Throttle.key == key)
            if not is_sqlite(self._ctx.db):  # SQLite's BEGIN IMMEDIATE holds the write lock
                query = query.for_update()
            row = query.first()
        if row.expires_at <= now and not (row.locked_until and row.locked_until > now):
            row.failures, row.pending, row.locked_until = 0, 0, None
        if row.pending and row.pending_since and row.pending_since + STALE_AFTER <= now:
            row.failures, row.pending = row.failures + row.pending, 0
        if row.locked_until is None and row.failures >= self.policy.max_failures:
            row.locked_until = now + self.policy.lockout
        row.expires_at = max(row.expires_at, row.locked_until or row.expires_at)
        row.save()
        return row

    def _sweep(self, now: datetime) -> None:
        """Delete rows whose lock window has passed (at most once a minute per process)."""
        if self._last_sweep is not None and now - self._last_sweep < SWEEP_EVERY:
            return
        self._last_sweep = now
        Throttle.delete().where(
            (Throttle.expires_at <= now)
            & (Throttle.pending == 0)
            & (Throttle.locked_until.is_null() | (Throttle.locked_until <= now))
        ).execute()

    # ------------------------------------------------------------------ settle
    def settle_failure(
        self, reservation: Reservation, *, email: str | None, source: str, factor: str
    ) -> None:
        """The secret was wrong: count it; raises `AccountLockedError` when this one locks.

        `email` is written to the audit row only for known accounts (people type passwords into
        the email field; an unknown one is never recorded).
        """
        now = self._ctx.now()
        with storage_errors("record the attempt"), write_transaction(self._ctx.db):
            row = self._locked_row(reservation.key, reservation.account_id, now)
            failures = row.failures + (1 if row.pending else 0)
            locks = row.locked_until is None and failures >= self.policy.max_failures
            locked_until = now + self.policy.lockout if locks else row.locked_until
            Throttle.update(
                failures=failures,
                pending=pw.Case(None, [(Throttle.pending > 0, Throttle.pending - 1)], 0),
                locked_until=locked_until,
                expires_at=max(row.expires_at, locked_until or now, now + self.policy.lockout),
            ).where(Throttle.key == reservation.key).execute()
            audit.record(Event.SIGN_IN_FAILED, email=email, source=source, detail=factor, at=now)
            if locks:
                audit.record(Event.LOCKED, email=email, source=source, detail=factor, at=now)
        if locks:
            assert locked_until is not None
            raise AccountLockedError(locked_until)

    def lock_in_force(self, reservation: Reservation) -> datetime | None:
        """Inside the caller's write transaction: when the lock on this email ends, if it is
        locked now (a right secret is then refused and the lock stays), else None."""
        now = self._ctx.now()
        row = self._locked_row(reservation.key, reservation.account_id, now)
        if row.locked_until is not None and row.locked_until > now:
            return row.locked_until
        return None

    def settle_success(self, reservation: Reservation, *, clear_failures: bool) -> None:
        """Inside the caller's write transaction, so the success and what it changes commit
        together: removes this reservation only; with `clear_failures` (a full sign-in) the
        failures counted so far are forgiven too, while other sessions' reservations stay."""
        update: dict[pw.Field, object] = {
            Throttle.pending: pw.Case(None, [(Throttle.pending > 0, Throttle.pending - 1)], 0)
        }
        if clear_failures:
            update[Throttle.failures] = 0
        Throttle.update(update).where(Throttle.key == reservation.key).execute()
        _delete_if_empty(reservation.key)

    def forgive(self, email: str) -> None:
        """Inside the caller's transaction: a full sign-in without a reservation of its own (an
        activation) forgives the failures counted, keeping reservations in flight."""
        key = self.key_for(email)
        Throttle.update(failures=0).where(Throttle.key == key).execute()
        _delete_if_empty(key)

    def release(self, reservation: Reservation) -> None:
        """Neither right nor wrong (the account changed under the session): uncount it."""
        with storage_errors("record the attempt"), write_transaction(self._ctx.db):
            Throttle.update(
                pending=pw.Case(None, [(Throttle.pending > 0, Throttle.pending - 1)], 0)
            ).where(Throttle.key == reservation.key).execute()
            _delete_if_empty(reservation.key)

    # ------------------------------------------------------------------ admin
    def clear(self, email: str, account_id: int | None = None) -> None:
        """Forget every attempt for this email or account (inside the caller's transaction)."""
        condition = Throttle.key == self.key_for(email)
        if account_id is not None:
            condition |= Throttle.account_id == account_id
        Throttle.delete().where(condition).execute()

    def locked_until(self, email: str) -> datetime | None:
        """When the lock on this email ends, or None when it is not locked now."""
        now = self._ctx.now()
        with storage_errors("check the account"):
            row = Throttle.get_or_none(Throttle.key == self.key_for(email))
        if row is None or row.locked_until is None or row.locked_until <= now:
            return None
        return row.locked_until


def _delete_if_empty(key: str) -> None:
    """A row with nothing left to remember goes: a right secret leaves no trace of the email."""
    Throttle.delete().where(
        (Throttle.key == key)
        & (Throttle.failures == 0)
        & (Throttle.pending == 0)
        & Throttle.locked_until.is_null()
    ).execute()
