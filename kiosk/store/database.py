"""Open a database from a URL, apply pragmas, and bring the schema up to date.

SQLite (the default) runs in WAL mode with a busy timeout and foreign keys, and every explicit
transaction is `BEGIN IMMEDIATE`: a transaction that reads and then writes takes the write lock up
front instead of failing with SQLITE_BUSY when it upgrades. PostgreSQL runs under its default READ
COMMITTED; the single-use checks are guarded `UPDATE ... WHERE` statements that are safe there too.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import peewee as pw

from kiosk.errors import SchemaTooNewError, StorageError
from kiosk.filemodes import report_loose_files
from kiosk.store.models import ALL_MODELS, Meta, database_proxy

SCHEMA_VERSION = 4
SIDE_FILES = ("-wal", "-shm", "-journal")  # SQLite's own files beside the database
SQLITE_BUSY_TIMEOUT_MS = 30_000
_PG_MIGRATION_LOCK = 0x6B696F73  # "kios": advisory lock id serialising migrations on PostgreSQL


def _sqlite_path(url: str) -> str:
    path = url[len("sqlite:///") :]
    if not path:
        raise StorageError("database.url names no SQLite file")
    return path


def _create_private_file(path: Path) -> None:
    """Create the database file 0600 before SQLite does, so it is never world-readable.

    SQLite gives its -wal and -shm files the database file's mode. An existing database that
    other accounts may read is reported (one warning: log, and stderr for admin commands).
    """
    if path.exists():
        report_loose_files("database", [path, *(Path(f"{path}{end}") for end in SIDE_FILES)])
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
    except FileExistsError:
        pass
    except OSError as exc:
        raise StorageError(f"cannot create database {path}: {exc.strerror}") from None


def _make_database(url: str) -> pw.Database:
    if url.startswith("sqlite:///"):
        path = _sqlite_path(url)
        if path != ":memory:":
            _create_private_file(Path(path))
        return pw.SqliteDatabase(
            path,
            pragmas={
                "journal_mode": "wal",
                "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
                "foreign_keys": 1,
                "synchronous": "full",
            },
            timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
            lock_type="IMMEDIATE",
            check_same_thread=False,
        )
    parsed = urlparse(url)
    if parsed.scheme not in ("postgresql", "postgres"):
        raise StorageError("database.url must start with sqlite:/// or postgresql://")
    params: dict[str, Any] = {}
    if parsed.username:
        params["user"] = unquote(parsed.username)
    if parsed.password:
        params["password"] = unquote(parsed.password)
    if parsed.hostname:
        params["host"] = parsed.hostname
    if parsed.port:
        params["port"] = parsed.port
    for part in filter(None, parsed.query.split("&")):
        key, _, value = part.partition("=")
        params[key] = unquote(value)
    name = unquote(parsed.path.lstrip("/")) or "kiosk"
    return pw.PostgresqlDatabase(name, **params)


def describe_error(exc: BaseException) -> str:
    """A one-line, secret-free description of a database driver error."""
    # A failed COMMIT (e.g. disk full) makes SQLite roll back by itself; peewee's own rollback
    # then fails and hides the cause: describe the cause.
    while "no transaction is active" in str(exc) and exc.__context__ is not None:
        exc = exc.__context__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    lowered = text.lower()
    if "readonly" in lowered or "read-only" in lowered:
        return "the database is read-only"
    if "disk" in lowered and "full" in lowered or "no space" in lowered:
        return "the disk is full"
    if "unable to open" in lowered:
        return "the database file cannot be opened"
    if "not a database" in lowered or "malformed" in lowered:
        return "the database file is damaged or not a kiosk database"
    if "locked" in lowered:
        return "the database stayed busy too long"
    # psycopg2 prefixes every connection failure with "connection to server ... failed:", so
    # the specific causes are looked for first.
    if "password authentication failed" in lowered or ("role" in lowered and "exist" in lowered):
        return "the database refused the login"
    if "database" in lowered and "does not exist" in lowered:
        return "the database does not exist on the server"
    if "connection" in lowered or "could not connect" in lowered or "server" in lowered:
        return "cannot reach the database server"
    return "the database reported an error"


@contextlib.contextmanager
def storage_errors(action: str) -> Iterator[None]:
    """Turn driver errors into a `StorageError` with a clear one-line message."""
    try:
        yield
    except (pw.OperationalError, pw.DatabaseError, pw.InterfaceError, sqlite3.Error) as exc:
        if isinstance(exc, pw.IntegrityError):
            raise
        raise StorageError(f"cannot {action}: {describe_error(exc)}") from None


def is_sqlite(db: pw.Database) -> bool:
    return isinstance(db, pw.SqliteDatabase)


def connect_database(url: str) -> pw.Database:
    """Connect to the database at `url` and bind the models to it; no schema check."""
    db = _make_database(url)
    with storage_errors("open the database"):
        if is_sqlite(db):
            _connect_sqlite(db)
        else:
            db.connect(reuse_if_open=True)
    if is_sqlite(db) and db.database != ":memory:":
        db.kiosk_file_id = _file_id(db.database)  # type: ignore[attr-defined]
    database_proxy.initialize(db)
    return db


def _connect_sqlite(db: pw.Database) -> None:
    """Connect, retrying while another process turns a fresh file to WAL.

    `PRAGMA journal_mode=wal` on a new file needs an exclusive lock, and SQLite answers "database
    is locked" at once, without the busy handler, when two connections ask for it together (its
    deadlock avoidance). Once the file is in WAL mode the pragma is a no-op, so a short retry
    settles it.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            db.connect(reuse_if_open=True)
            db.execute_sql("SELECT count(*) FROM sqlite_master").fetchone()  # proves it is SQLite
            return
        except pw.OperationalError as exc:
            if "locked" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            if not db.is_closed():
                db.close()
            time.sleep(random.uniform(0.01, 0.1))  # noqa: S311 - jitter, not a secret


def _file_id(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def open_database(url: str, *, migrate: bool = True) -> pw.Database:
    """Open the database at `url`, bind the models to it, and (by default) migrate the schema."""
    db = connect_database(url)
    if migrate:
        upgrade_schema(db)
    else:
        check_schema(db)
    return db


def schema_version(db: pw.Database) -> int:
    """The schema version stored in the database; 0 for an empty database."""
    with storage_errors("read the database"):
        if not db.table_exists(Meta._meta.table_name):
            return 0
        row = Meta.get_or_none(Meta.key == "schema_version")
        return int(row.value) if row else 0


def check_schema(db: pw.Database) -> None:
    version = schema_version(db)
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"the database has schema version {version}, newer than this kiosk understands "
            f"({SCHEMA_VERSION}); upgrade the kiosk software"
        )
    if version < SCHEMA_VERSION:
        raise StorageError("the database schema is out of date: run `kiosk db upgrade`")


def _migration_1(db: pw.Database) -> None:
    db.create_tables(ALL_MODELS, safe=True)


def _migration_2(db: pw.Database) -> None:
    """The throttle is named by keyed hashes, counts attempts in flight and expires. Its rows
    are short-lived counters, so the old table (emails in clear) is dropped, not converted:
    an upgrade ends the locks in force at that moment."""
    from kiosk.store.models import Throttle

    db.execute_sql(f"DROP TABLE IF EXISTS {Throttle._meta.table_name}")
    db.create_tables([Throttle])


def _migration_3(db: pw.Database) -> None:
    """Accounts whose password lives in a directory: where the password is checked, and the
    directory's display name."""
    from kiosk.store.models import Account

    table = Account._meta.table_name
    columns = {c.name for c in db.get_columns(table)}
    if "password_source" not in columns:
        db.execute_sql(
            f"ALTER TABLE {table} ADD COLUMN password_source VARCHAR(16) NOT NULL DEFAULT 'local'"
        )
    if "display_name" not in columns:
        db.execute_sql(f"ALTER TABLE {table} ADD COLUMN display_name VARCHAR(128)")


def _migration_4(db: pw.Database) -> None:
    """Guided onboarding: enrollment passes, cohorts and their members, progress rows."""
    from kiosk.store.models import Cohort, CohortMember, EnrollmentPass, ProgressEvent

    db.create_tables([EnrollmentPass, Cohort, CohortMember, ProgressEvent], safe=True)


# Each migration takes the schema from version N-1 to N, inside one transaction.
MIGRATIONS: dict[int, Callable[[pw.Database], None]] = {
    1: _migration_1,
    2: _migration_2,
    3: _migration_3,
    4: _migration_4,
}


def upgrade_schema(db: pw.Database) -> int:
    """Run every pending migration; returns the version now in force. Safe to race."""
    current = schema_version(db)
    if current > SCHEMA_VERSION:
        check_schema(db)
    if current == SCHEMA_VERSION:
        return current
    with storage_errors("upgrade the database"), db.atomic():
        if not is_sqlite(db):
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_PG_MIGRATION_LOCK,))
        current = schema_version(db)  # re-read under the lock: another process may have won
        for version in range(current + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[version](db)
            Meta.insert(key="schema_version", value=str(version)).on_conflict(
                conflict_target=[Meta.key], update={Meta.value: str(version)}
            ).execute()
    return SCHEMA_VERSION


CHANGE_CHANNEL = "kiosk_changes"


def announce_change() -> None:
    """Inside a write transaction: on PostgreSQL, wake whoever LISTENs for changes (the
    onboarding board) when it commits. SQLite readers notice commits by `PRAGMA data_version`."""
    db = database_proxy.obj
    if db is not None and not is_sqlite(db):
        db.execute_sql(f"NOTIFY {CHANGE_CHANNEL}")


def write_transaction(db: pw.Database) -> pw._atomic:
    """A transaction for read-then-write work (IMMEDIATE on SQLite by the database's lock type).

    On SQLite, refuses when the database file was deleted or replaced since it was opened: the
    open connection would otherwise keep writing into a file nobody will ever read again.
    """
    expected = getattr(db, "kiosk_file_id", None)
    if expected is not None and _file_id(db.database) != expected:
        raise StorageError(
            f"the database file {db.database} was removed or replaced while the kiosk was "
            "running; nothing was saved (restart the kiosk)"
        )
    return db.atomic()
