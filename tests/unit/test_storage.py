"""Storage reliability: SQLite settings, write locks taken up front, a crash mid-write, errors."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading

import peewee as pw
import pytest

from kiosk.config import Settings
from kiosk.core import totp
from kiosk.core.flow import AuthFlow, Step
from kiosk.core.service import KioskService
from kiosk.errors import StorageError
from kiosk.store.database import describe_error, open_database, write_transaction

from . import _workers
from .conftest import SOURCE, FakeClock, dump_tables, enroll, is_postgres, recover, sqlite_path


def test_sqlite_pragmas(sqlite_service: KioskService) -> None:
    db = sqlite_service.db
    assert type(db) is pw.SqliteDatabase  # not SqliteQueueDatabase: auth paths need real locks
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] > 0
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1


def test_sqlite_write_transactions_take_the_write_lock_up_front(
    sqlite_service: KioskService, sqlite_settings: Settings
) -> None:
    """BEGIN IMMEDIATE: another writer is kept out from the first statement, even a read."""
    path = sqlite_path(sqlite_settings)
    inside, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold() -> None:
        try:
            with write_transaction(sqlite_service.db):
                sqlite_service.db.execute_sql("SELECT count(*) FROM account").fetchone()
                inside.set()
                release.wait(30)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert inside.wait(30)
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            assert other.execute("SELECT count(*) FROM account").fetchone() == (0,)  # WAL reads
        finally:
            other.close()
    finally:
        release.set()
        thread.join(30)
    assert errors == []


def test_a_process_killed_mid_write_leaves_the_account_as_it_was(
    svc: KioskService, settings: Settings, clock: FakeClock
) -> None:
    who = enroll(svc, "bob@example.com")
    clock.advance(30)
    before = dump_tables()
    ctx = multiprocessing.get_context("spawn")
    inside = ctx.Event()
    proc = ctx.Process(
        target=_workers.die_mid_enrollment,
        args=(settings, who.email, who.password, who.recovery_code, clock.t, inside),
    )
    proc.start()
    try:
        assert inside.wait(120), "the child never reached the activating transaction"
        proc.kill()
    finally:
        proc.join(60)
    assert dump_tables() == before
    if not is_postgres(settings):
        assert svc.db.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
    # the old device and the old recovery code still work, and writing still works
    flow = AuthFlow(svc, SOURCE)
    flow.submit_password(who.email, who.password)
    clock.advance(30)
    assert flow.submit_code(totp.code_at_step(who.secret, clock.step)) == Step.SIGNED_IN
    recover(svc, who)


def test_postgres_errors_are_named_clearly(postgres_server: object) -> None:
    server = postgres_server
    base = server.url("postgres").rsplit("/", 1)[0]  # type: ignore[attr-defined]
    with pytest.raises(StorageError) as missing:
        open_database(base + "/no_such_database")
    assert "does not exist" in str(missing.value)
    nobody = base.replace("postgres@", "nobody@")
    with pytest.raises(StorageError) as role:
        open_database(nobody + "/postgres")
    assert "refused the login" in str(role.value)
    with pytest.raises(StorageError) as down:
        open_database("postgresql://postgres@127.0.0.1:1/kiosk?connect_timeout=3")
    assert "cannot reach the database server" in str(down.value)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("attempt to write a readonly database", "read-only"),
        ("database or disk is full", "disk is full"),
        ("unable to open database file", "cannot be opened"),
        ("file is not a database", "damaged"),
        ("database is locked", "busy"),
        (
            'connection to server at "h", port 5432 failed: FATAL:  password authentication failed '
            'for user "k"',
            "refused the login",
        ),
    ],
)
def test_describe_error(message: str, expected: str) -> None:
    assert expected in describe_error(Exception(message))


def test_secrets_never_appear_in_storage_errors(svc: KioskService) -> None:
    text = describe_error(Exception("UNIQUE constraint failed: secret JBSWY3DPEHPK3PXP"))
    assert "JBSWY3DPEHPK3PXP" not in text
