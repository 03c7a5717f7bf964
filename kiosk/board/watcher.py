"""Live changes for the board, read in a worker thread (never on the event loop).

`ChangeSignal` answers "did anything commit?" cheaply: on SQLite `PRAGMA data_version` on a
connection of its own (it changes when any other connection commits; no table is read), on
PostgreSQL `LISTEN kiosk_changes` on a dedicated connection woken by the writers' NOTIFY and waited
for with select(). Only then does `CohortFeed` ask the service what changed (new progress and
audit rows after a cursor) and read just those people, so a quiet board costs next to nothing and
a step costs a few indexed queries however large the store is.
"""

from __future__ import annotations

import select
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kiosk.core.values import PersonState
from kiosk.errors import StorageError
from kiosk.store.database import CHANGE_CHANNEL, describe_error, is_sqlite

if TYPE_CHECKING:
    import peewee as pw

    from kiosk.core.cohorts import ChangeCursor
    from kiosk.core.service import KioskService

POLL_SECONDS = 0.2  # SQLite: how often data_version is read; PostgreSQL: the select() timeout


class ChangeSignal(Protocol):
    def wait(self, timeout: float) -> bool:
        """True when something may have been committed since the last call."""

    def close(self) -> None: ...


class SqliteSignal:
    """`PRAGMA data_version` on a dedicated read-only connection."""

    def __init__(self, path: str) -> None:
        try:
            uri = Path(path).resolve().as_uri() + "?mode=ro"
            self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=5)
            self._version = self._read()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot watch the database: {describe_error(exc)}") from None

    def _read(self) -> int:
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def wait(self, timeout: float) -> bool:
        time.sleep(timeout)
        try:
            version = self._read()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot watch the database: {describe_error(exc)}") from None
        changed = version != self._version
        self._version = version
        return changed

    def close(self) -> None:
        self._conn.close()


class PostgresSignal:
    """`LISTEN kiosk_changes` on a dedicated psycopg2 connection, in autocommit."""

    def __init__(self, database: str, params: dict[str, Any]) -> None:
        import psycopg2

        self._errors: tuple[type[BaseException], ...] = (psycopg2.Error, OSError)
        try:
            self._conn = psycopg2.connect(dbname=database, **params)
            self._conn.autocommit = True
            with self._conn.cursor() as cursor:
                cursor.execute(f"LISTEN {CHANGE_CHANNEL}")
        except self._errors as exc:
            raise StorageError(f"cannot watch the database: {describe_error(exc)}") from None

    def wait(self, timeout: float) -> bool:
        try:
            if not self._conn.notifies:
                ready, _, _ = select.select([self._conn], [], [], timeout)
                if not ready:
                    return False
                self._conn.poll()
            changed = bool(self._conn.notifies)
            self._conn.notifies.clear()
            return changed
        except self._errors as exc:
            raise StorageError(f"lost the database: {describe_error(exc)}") from None

    def close(self) -> None:
        self._conn.close()


def open_signal(db: pw.Database) -> ChangeSignal:
    """The cheap change check that fits this database."""
    if is_sqlite(db):
        return SqliteSignal(str(db.database))
    return PostgresSignal(str(db.database), dict(db.connect_params))


@dataclass(frozen=True)
class Update:
    """People whose rows changed; with `complete`, the whole cohort (anyone else has left)."""

    people: tuple[PersonState, ...]
    complete: bool


class CohortFeed:
    """One cohort's changes, read through the service. Used by one thread only."""

    def __init__(self, service: KioskService, cohort: str) -> None:
        self._service = service
        self._cohort = cohort
        self._cursor: ChangeCursor | None = None
        self._members: set[str] = set()

    def load(self) -> Update:
        """Everyone in the cohort; changes are read from here on."""
        cohorts = self._service.cohorts
        self._cursor = cohorts.cursor()  # first: a change during the read is read again later
        people = cohorts.people(self._cohort)
        self._members = {p.email for p in people}
        return Update(tuple(people), complete=True)

    def poll(self, *, everyone: bool = False) -> Update | None:
        """What changed since the last read, or None. `everyone` re-reads the whole cohort
        (for what time alone changes: idle people, expired passes, the ages shown)."""
        if self._cursor is None:
            return self.load()
        cohorts = self._service.cohorts
        changes = cohorts.changes_since(self._cursor)
        self._cursor = changes.cursor
        if everyone or changes.membership_changed:
            people = cohorts.people(self._cohort)
            self._members = {p.email for p in people}
            return Update(tuple(people), complete=True)
        wanted = changes.emails & self._members
        if not wanted:
            return None
        return Update(tuple(cohorts.people(self._cohort, emails=sorted(wanted))), complete=False)
