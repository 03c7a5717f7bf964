"""The encryption keys of the stored TOTP secrets: opened, re-read, rotated, retired.

A kiosk that was running while an admin rotated or retired keys re-reads the key file when it
changed, so it decrypts with the new version and never encrypts with a retired one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from pathlib import Path

import peewee as pw

from kiosk.config import Settings
from kiosk.core import audit
from kiosk.core.audit import Event
from kiosk.core.vault import (
    Keyring,
    key_check_matches,
    key_check_value,
    load_keyring,
    secret_associated_data,
    write_key_file,
)
from kiosk.errors import VaultError
from kiosk.store.database import storage_errors, write_transaction
from kiosk.store.models import Credential, Meta

Progress = Callable[[int, int], None]


class KeyStore:
    """The keyring of one service, with the key jobs of `kiosk keys`."""

    def __init__(self, settings: Settings, db: pw.Database, keyring: Keyring) -> None:
        self._settings = settings
        self._db = db
        self._keyring = keyring
        self._stamp: tuple[int, int, int] | None = None

    @classmethod
    def open(cls, settings: Settings, db: pw.Database, key_env: str | None) -> KeyStore:
        """Load the keyring and prove it fits this database.

        A missing key file is created only while the database holds no secrets; otherwise the
        admin is told that the key is missing, instead of people being handed codes that can
        never verify.
        """
        with storage_errors("read the database"):
            rows = Meta.select().where(Meta.key.startswith("key_check:"))
            checks = {row.key: row.value for row in rows}
            holds_secrets = bool(checks) or Credential.select().exists()
        keyring, _created = load_keyring(
            settings.key_path,
            key_env,
            create=not holds_secrets,
            allow_loose=settings.security.allow_loose_key_file,
        )
        matched = 0
        for version, key_bytes in keyring.keys.items():
            stored = checks.get(f"key_check:{version}")
            if stored is None:
                continue
            matched += 1
            if not key_check_matches(key_bytes, version, stored, keyring.source):
                raise _wrong_key(keyring)
        if holds_secrets and not matched:
            raise _wrong_key(keyring)
        if f"key_check:{keyring.active_version}" not in checks:
            with storage_errors("write the key check"), write_transaction(db):
                _write_key_check(keyring, keyring.active_version)
        return cls(settings, db, keyring)

    @property
    def ring(self) -> Keyring:
        """The keys, re-read when the key file changed since it was last read."""
        path = self._settings.key_path
        if self._keyring.source == str(path):
            stamp = _file_stamp(path)
            if stamp is not None and stamp != self._stamp:
                allow_loose = self._settings.security.allow_loose_key_file
                self._keyring, _ = load_keyring(path, None, create=False, allow_loose=allow_loose)
                self._stamp = stamp
        return self._keyring

    def _replace(self, ring: Keyring) -> None:
        self._keyring = ring
        self._stamp = None  # the file may have changed since: the next use re-reads it

    # ------------------------------------------------------------------ secrets
    def encrypt_secret(self, secret: str, account_id: int, credential_id: str) -> tuple[bytes, int]:
        """(ciphertext, key version) of a TOTP secret for its row."""
        ring = self.ring
        version = ring.active_version
        ad = secret_associated_data(account_id, credential_id, version)
        return ring.encrypt(secret.encode(), ad, version), version

    def decrypt_secret(self, credential: Credential) -> str:
        ad = secret_associated_data(credential.account_id, credential.id, credential.key_version)
        return self.ring.decrypt(credential.secret_ciphertext, ad, credential.key_version).decode()

    def stand_in_secret(self) -> str:
        """A TOTP secret nobody has, encrypted and decrypted as a stored one is: the cost of
        reading a credential, for paths that must not be cheaper than a real check."""
        from kiosk.core import totp

        secret = totp.new_secret()
        ring = self.ring
        ad = secret_associated_data(0, "stand-in", ring.active_version)
        blob = ring.encrypt(secret.encode(), ad, ring.active_version)
        return ring.decrypt(blob, ad, ring.active_version).decode()

    def throttle_key(self) -> bytes:
        """The key that turns typed emails into throttle row names (never stored in clear)."""
        ring = self.ring
        return hmac.new(ring.keys[ring.active_version], b"kiosk-throttle", hashlib.sha256).digest()

    # ------------------------------------------------------------------ kiosk keys ...
    def rotate(self, *, source: str = "admin", progress: Progress | None = None) -> int:
        """Re-encrypt every TOTP secret under a new key version; returns the new version.

        Inside one write transaction (which also serialises concurrent rotations): the key file
        is rewritten with old and new keys (atomically), then every secret is re-encrypted. A
        crash anywhere leaves every secret readable with the file on disk.
        """
        path = self._settings.key_path
        if self.ring.source != str(path):
            raise VaultError("keys from $KIOSK_SECRET_KEY cannot be rotated here: use a key file")
        with storage_errors("re-encrypt the secrets"), write_transaction(self._db):
            _lock_keys()
            new_ring = self.ring.with_new_version()  # re-read: another rotation may have won
            version = new_ring.active_version
            write_key_file(path, new_ring, replace=True)
            self._replace(new_ring)
            total = Credential.select().count() if progress else 0
            for done, credential in enumerate(Credential.select().iterator(), start=1):
                secret = self.decrypt_secret(credential)
                ciphertext, _ = self.encrypt_secret(secret, credential.account_id, credential.id)
                Credential.update(secret_ciphertext=ciphertext, key_version=version).where(
                    Credential.id == credential.id
                ).execute()
                if progress:
                    progress(done, total)
            _write_key_check(new_ring, version)
            audit.record(Event.KEYS_ROTATED, email=None, source=source, detail=f"version {version}")
        return version

    def retire_unused(self) -> list[int]:
        """Drop from the key file every version that no stored secret uses; returns them."""
        path = self._settings.key_path
        if self.ring.source != str(path):
            raise VaultError("keys from $KIOSK_SECRET_KEY cannot be retired here: use a key file")
        with storage_errors("retire the unused keys"), write_transaction(self._db):
            _lock_keys()
            used = {c.key_version for c in Credential.select(Credential.key_version).distinct()}
            ring = self.ring
            retired = {v for v in ring.keys if v not in used and v != ring.active_version}
            if retired:
                new_ring = ring.without_versions(retired)
                write_key_file(path, new_ring, replace=True)
                Meta.delete().where(Meta.key.in_([f"key_check:{v}" for v in retired])).execute()
                self._replace(new_ring)
        return sorted(retired)


def _wrong_key(keyring: Keyring) -> VaultError:
    return VaultError(
        f"the key in {keyring.source} does not unlock this database's secrets (wrong key file?)"
    )


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def _lock_keys() -> None:
    """Take the write lock now (a no-op update): on PostgreSQL a row lock that makes a second
    rotation or retirement wait and then see the key file the first one wrote (SQLite's
    BEGIN IMMEDIATE already holds it)."""
    Meta.update(value=Meta.value).where(Meta.key == "schema_version").execute()


def _write_key_check(keyring: Keyring, version: int) -> None:
    value = key_check_value(keyring.keys[version], version)
    Meta.insert(key=f"key_check:{version}", value=value).on_conflict(
        conflict_target=[Meta.key], update={Meta.value: value}
    ).execute()
