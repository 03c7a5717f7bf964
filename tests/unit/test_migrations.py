"""Schema version and migrations (the 4-process race is in test_races.py)."""

from __future__ import annotations

import pytest

from kiosk.config import Settings
from kiosk.core.service import KioskService
from kiosk.errors import SchemaTooNewError, StorageError
from kiosk.store.database import SCHEMA_VERSION, open_database, schema_version, upgrade_schema
from kiosk.store.models import Account, Meta

from .conftest import PASSWORD


def test_a_fresh_database_gets_the_schema_version(database_url: str) -> None:
    db = open_database(database_url)
    try:
        assert schema_version(db) == SCHEMA_VERSION
        assert Meta.get(Meta.key == "schema_version").value == str(SCHEMA_VERSION)
    finally:
        db.close()


def test_upgrade_is_idempotent_and_keeps_data(service: KioskService, database_url: str) -> None:
    service.accounts.add_user("bob@example.com", PASSWORD)
    for _ in range(3):
        assert upgrade_schema(service.db) == SCHEMA_VERSION
    assert Account.select().count() == 1
    assert Meta.select().where(Meta.key == "schema_version").count() == 1


def test_a_newer_schema_is_refused(service: KioskService, settings: Settings) -> None:
    Meta.update(value=str(SCHEMA_VERSION + 1)).where(Meta.key == "schema_version").execute()
    service.close()
    for migrate in (True, False):
        with pytest.raises(SchemaTooNewError) as info:
            KioskService.open(settings, migrate=migrate)
        message = str(info.value)
        assert str(SCHEMA_VERSION + 1) in message and "upgrade the kiosk" in message
        assert "\n" not in message


def test_an_old_schema_without_migration_is_refused(database_url: str, settings: Settings) -> None:
    with pytest.raises(StorageError) as info:
        KioskService.open(settings, migrate=False)
    assert "kiosk db upgrade" in str(info.value)


def test_a_file_that_is_not_a_database(tmp_path, settings: Settings) -> None:  # noqa: ANN001
    if settings.database_url.startswith("postgres"):
        with pytest.raises(StorageError) as info:
            open_database(settings.database_url.rsplit("/", 1)[0] + "/no_such_database")
        assert "\n" not in str(info.value)
        return
    bogus = tmp_path / "bogus.db"
    bogus.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError) as info:
        open_database(f"sqlite:///{bogus}")
    assert "damaged or not a kiosk database" in str(info.value)
