"""KioskService: every question the UI and the CLI ask of the store, with the rules applied.

The service owns the database, the keyring and the hasher. It is safe to share between threads:
peewee gives each thread its own connection, and every single-use decision is a compare-and-set
in the database, so threads, processes and hosts on one PostgreSQL get the same answers.
"""

from __future__ import annotations

import secrets as pysecrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import peewee as pw

from kiosk.config import Settings
from kiosk.core import audit, recovery, totp
from kiosk.core.accounts import (
    Hasher,
    ThrottlePolicy,
    check_password_policy,
    normalize_email,
    raise_if_locked,
)
from kiosk.core.audit import Event
from kiosk.core.cpu_gate import SLOT_FOLDER_NAME, CpuGate
from kiosk.core.vault import (
    Keyring,
    key_check_matches,
    key_check_value,
    load_keyring,
    secret_associated_data,
    write_key_file,
)
from kiosk.errors import (
    AccountExistsError,
    AccountLockedError,
    AuthenticationFailed,
    InvalidCodeError,
    InvalidEmailError,
    InvalidRecoveryCodeError,
    KioskError,
    UnknownAccountError,
    VaultError,
)
from kiosk.store.database import open_database, storage_errors, write_transaction
from kiosk.store.models import Account, Credential, Meta, RecoveryCode, Throttle

if TYPE_CHECKING:
    from kiosk.core.enrollment import AuthFlow

NOT_ENROLLED_MESSAGE = "this account has no authenticator app set up"


@dataclass(frozen=True)
class UserSummary:
    email: str
    enrolled: bool
    enrolled_at: datetime | None
    locked: bool
    locked_until: datetime | None
    last_sign_in: datetime | None
    created_at: datetime


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.replace(microsecond=0).isoformat() + "Z"


def summary_as_json(user: UserSummary) -> dict[str, object]:
    return {
        "email": user.email,
        "enrolled": user.enrolled,
        "enrolled_at": _iso(user.enrolled_at),
        "locked": user.locked,
        "locked_until": _iso(user.locked_until),
        "last_sign_in": _iso(user.last_sign_in),
        "created_at": _iso(user.created_at),
    }


class KioskService:
    def __init__(
        self,
        settings: Settings,
        db: pw.Database,
        keyring: Keyring,
        *,
        clock: totp.Clock = time.time,
        hasher: Hasher | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self._keyring: Keyring = keyring
        self._key_stamp: tuple[int, int, int] | None = None
        self.clock = clock
        self.hasher = hasher or Hasher.from_settings(settings.argon2, gate=argon2_gate(settings))
        self.throttle = ThrottlePolicy(
            settings.security.max_failed_attempts,
            timedelta(minutes=settings.security.lockout_minutes),
        )

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        key_env: str | None = None,
        migrate: bool = True,
        clock: totp.Clock = time.time,
    ) -> KioskService:
        """Open the database and the keyring, and check that the key fits the database."""
        db = open_database(settings.database_url, migrate=migrate)
        try:
            keyring = _open_keyring(settings, key_env, db)
        except BaseException:
            db.close()  # a wrong key must not leave a connection (or a PostgreSQL backend) open
            raise
        service = cls(settings, db, keyring, clock=clock)
        return service

    def close(self) -> None:
        if not self.db.is_closed():
            self.db.close()

    @property
    def keyring(self) -> Keyring:
        """The keys, re-read when the key file changed: a kiosk that was running while an admin
        rotated or retired keys must read the new version and stop encrypting with a retired one."""
        path = self.settings.key_path
        if self._keyring.source == str(path):
            stamp = _file_stamp(path)
            if stamp is not None and stamp != self._key_stamp:
                allow_loose = self.settings.security.allow_loose_key_file
                self._keyring, _ = load_keyring(path, None, create=False, allow_loose=allow_loose)
                self._key_stamp = stamp
        return self._keyring

    @keyring.setter
    def keyring(self, ring: Keyring) -> None:
        self._keyring = ring
        # Unknown: the file may have changed since `ring` was read, so the next use re-reads it.
        self._key_stamp = None

    def now(self) -> datetime:
        # naive UTC, as stored
        return datetime.fromtimestamp(self.clock(), UTC).replace(tzinfo=None)

    # ------------------------------------------------------------------ admin
    def add_user(self, raw_email: str, password: str, *, source: str = "admin") -> str:
        email = normalize_email(raw_email)
        check_password_policy(password, self.settings.security.password_min_length)
        password_hash = self.hasher.hash(password)
        with storage_errors("add the account"):
            try:
                with write_transaction(self.db):
                    Account.create(email=email, password_hash=password_hash, created_at=self.now())
                    audit.record(Event.USER_ADDED, email=email, source=source)
            except pw.IntegrityError:
                raise AccountExistsError(f"an account for {email} already exists") from None
        return email

    def set_password(self, raw_email: str, password: str, *, source: str = "admin") -> str:
        account = self._admin_account(raw_email)
        check_password_policy(password, self.settings.security.password_min_length)
        password_hash = self.hasher.hash(password)
        with storage_errors("change the password"), write_transaction(self.db):
            Account.update(password_hash=password_hash).where(Account.id == account.id).execute()
            audit.record(Event.PASSWORD_CHANGED, email=account.email, source=source)
        return account.email

    def _admin_account(self, raw_email: str) -> Account:
        email = normalize_email(raw_email)
        with storage_errors("read the account"):
            account = Account.get_or_none(Account.email == email)
        if account is None:
            raise UnknownAccountError(f"no account for {email}")
        return account

    def reset_mfa(self, raw_email: str, *, source: str = "admin") -> str:
        """Remove the authenticator and recovery code: the next sign-in sets up a new device."""
        account = self._admin_account(raw_email)
        with storage_errors("reset the account"), write_transaction(self.db):
            Credential.delete().where(Credential.account == account.id).execute()
            RecoveryCode.delete().where(RecoveryCode.account == account.id).execute()
            Account.update(mfa_version=Account.mfa_version + 1).where(
                Account.id == account.id
            ).execute()
            audit.record(Event.RESET, email=account.email, source=source)
        return account.email

    def unlock(self, raw_email: str, *, source: str = "admin") -> str:
        account = self._admin_account(raw_email)
        with storage_errors("unlock the account"), write_transaction(self.db):
            Throttle.delete().where(Throttle.email == account.email).execute()
            audit.record(Event.UNLOCKED, email=account.email, source=source)
        return account.email

    def remove_user(self, raw_email: str, *, source: str = "admin") -> str:
        account = self._admin_account(raw_email)
        with storage_errors("remove the account"), write_transaction(self.db):
            Credential.delete().where(Credential.account == account.id).execute()
            RecoveryCode.delete().where(RecoveryCode.account == account.id).execute()
            Throttle.delete().where(Throttle.email == account.email).execute()
            Account.delete().where(Account.id == account.id).execute()
            audit.record(Event.USER_REMOVED, email=account.email, source=source)
        return account.email

    def iter_users(self) -> Iterator[UserSummary]:
        """Every account, by email, streamed from the database (not held in memory)."""
        now = self.now()
        query = (
            Account.select(
                Account.email,
                Account.created_at,
                Account.last_sign_in_at,
                Credential.created_at.alias("enrolled_at"),
                Throttle.locked_until,
            )
            .join(Credential, pw.JOIN.LEFT_OUTER, on=(Credential.account == Account.id))
            .switch(Account)
            .join(Throttle, pw.JOIN.LEFT_OUTER, on=(Throttle.email == Account.email))
            .order_by(Account.email)
            .dicts()
        )
        with storage_errors("list the accounts"):
            for row in query.iterator():
                locked_until = row["locked_until"]
                locked = locked_until is not None and locked_until > now
                yield UserSummary(
                    email=row["email"],
                    enrolled=row["enrolled_at"] is not None,
                    enrolled_at=row["enrolled_at"],
                    locked=locked,
                    locked_until=locked_until if locked else None,
                    last_sign_in=row["last_sign_in_at"],
                    created_at=row["created_at"],
                )

    # ------------------------------------------------------------------ throttle
    def _check_not_locked(self, email: str) -> None:
        with storage_errors("check the account"):
            row = Throttle.get_or_none(Throttle.email == email)
        if row is not None:
            raise_if_locked(row.locked_until, self.now())

    def _record_failure(self, email: str, *, known: bool, source: str, factor: str) -> None:
        """Count one failure for `email` (known or not); raises AccountLockedError when it locks."""
        now = self.now()
        with storage_errors("record the attempt"), write_transaction(self.db):
            # A lock that has run out starts a fresh count.
            Throttle.update(failures=0, locked_until=None).where(
                (Throttle.email == email) & (Throttle.locked_until <= now)
            ).execute()
            Throttle.insert(email=email, failures=1).on_conflict(
                conflict_target=[Throttle.email],
                update={Throttle.failures: Throttle.failures + 1},
            ).execute()
            failures = Throttle.get(Throttle.email == email).failures
            locked_until = self.throttle.locked_until_after(failures, now)
            audit.record(
                Event.SIGN_IN_FAILED, email=email if known else None, source=source, detail=factor
            )
            if locked_until is not None:
                Throttle.update(locked_until=locked_until).where(Throttle.email == email).execute()
                audit.record(
                    Event.LOCKED, email=email if known else None, source=source, detail=factor
                )
        if locked_until is not None:
            raise AccountLockedError(locked_until)

    # ------------------------------------------------------------------ factors
    def check_password(self, raw_email: str, password: str, *, source: str) -> Account:
        """The account for this email and password, or AuthenticationFailed / AccountLockedError.

        Unknown email, wrong password and a locked account all cost one argon2 verify, so their
        timing is alike; a locked account's password is never evaluated.
        """
        try:
            email = normalize_email(raw_email)
        except InvalidEmailError:
            self.hasher.burn()
            raise AuthenticationFailed() from None
        if len(password) > 1024:
            self.hasher.burn()
            raise AuthenticationFailed()
        try:
            self._check_not_locked(email)
        except AccountLockedError:
            self.hasher.burn()
            raise
        with storage_errors("read the account"):
            account = Account.get_or_none(Account.email == email)
        if account is None:
            self.hasher.burn()
            self._record_failure(email, known=False, source=source, factor="password")
            raise AuthenticationFailed()
        if not self.hasher.verify(account.password_hash, password):
            self._record_failure(email, known=True, source=source, factor="password")
            raise AuthenticationFailed()
        if self.hasher.needs_rehash(account.password_hash):
            new_hash = self.hasher.hash(password)
            with storage_errors("update the account"):
                # Compare-and-set on the hash just verified: a password an admin set meanwhile
                # must not be overwritten by the rehash of the old one.
                Account.update(password_hash=new_hash).where(
                    (Account.id == account.id) & (Account.password_hash == account.password_hash)
                ).execute()
        return account

    def is_enrolled(self, account: Account) -> bool:
        with storage_errors("read the account"):
            return Credential.select().where(Credential.account == account.id).exists()

    def decrypt_secret(self, credential: Credential) -> str:
        ad = secret_associated_data(credential.account_id, credential.id, credential.key_version)
        blob = credential.secret_ciphertext
        return self.keyring.decrypt(blob, ad, credential.key_version).decode()

    def check_code(
        self, account: Account, raw_code: str, *, source: str, detail: str = "code"
    ) -> int:
        """Verify a sign-in code for an enrolled account and record its step; returns the step.

        Malformed input is refused before any HMAC and not counted; a wrong or replayed code
        counts toward the lock. On success the failure count is cleared and the sign-in recorded.
        """
        self._check_not_locked(account.email)
        code = totp.parse_code(raw_code)
        with storage_errors("read the account"):
            credential = Credential.get_or_none(Credential.account == account.id)
        if credential is None:
            raise InvalidCodeError("This account has no authenticator app set up.")
        secret = self.decrypt_secret(credential)
        step = totp.matching_step(
            secret, code, window=self.settings.security.totp_window, clock=self.clock
        )
        if step is None:
            self._record_failure(account.email, known=True, source=source, factor="code")
            raise InvalidCodeError(totp.WRONG_CODE_MESSAGE)
        now = self.now()
        with storage_errors("record the sign-in"), write_transaction(self.db):
            won = (
                Credential.update(last_used_step=step)
                .where(
                    (Credential.id == credential.id)
                    & (Credential.last_used_step.is_null() | (Credential.last_used_step < step))
                )
                .execute()
            )
            if won:
                Throttle.delete().where(Throttle.email == account.email).execute()
                Account.update(last_sign_in_at=now).where(Account.id == account.id).execute()
                audit.record(Event.SIGN_IN_OK, email=account.email, source=source, detail=detail)
            else:
                audit.record(
                    Event.REPLAY_REFUSED, email=account.email, source=source, detail=detail
                )
        if not won:
            self._record_failure(account.email, known=True, source=source, factor="replayed code")
            raise InvalidCodeError(totp.REPLAYED_CODE_MESSAGE)
        return step

    def check_recovery_code(self, account: Account, raw_code: str, *, source: str) -> int:
        """The id of the account's unused recovery code matching `raw_code` (not consumed yet)."""
        self._check_not_locked(account.email)
        code = recovery.parse(raw_code)
        with storage_errors("read the account"):
            row = RecoveryCode.get_or_none(
                (RecoveryCode.account == account.id) & RecoveryCode.used_at.is_null()
            )
        if row is None:
            self.hasher.burn()
            ok = False
        else:
            ok = self.hasher.verify(row.code_hash, code)
        if not ok:
            self._record_failure(account.email, known=True, source=source, factor="recovery code")
            raise InvalidRecoveryCodeError(recovery.WRONG_CODE_MESSAGE)
        with storage_errors("update the account"):
            Throttle.delete().where(Throttle.email == account.email).execute()
        assert row is not None  # `ok` is only true for a row
        return row.id

    def verify_for_external(self, raw_email: str, raw_code: str, *, source: str) -> None:
        """`kiosk verify`: accept or raise, with the kiosk's throttle and replay guard."""
        try:
            email = normalize_email(raw_email)
        except InvalidEmailError:
            raise UnknownAccountError("unknown account") from None
        self._check_not_locked(email)
        with storage_errors("read the account"):
            account = Account.get_or_none(Account.email == email)
        if account is None:
            self._record_failure(email, known=False, source=source, factor="code")
            raise UnknownAccountError("unknown account")
        if not self.is_enrolled(account):
            raise InvalidCodeError(NOT_ENROLLED_MESSAGE)
        self.check_code(account, raw_code, source=source, detail="verify")

    # ------------------------------------------------------------------ keys
    def rotate_keys(
        self, *, source: str = "admin", progress: Callable[[int, int], None] | None = None
    ) -> int:
        """Re-encrypt every TOTP secret under a new key version; returns the new version.
        `progress(done, total)` is called after each secret (the CLI shows it).

        Inside one write transaction (which also serialises concurrent rotations): the key file
        is rewritten with old and new keys (atomically), then every secret is re-encrypted. A
        crash anywhere leaves every secret readable with the file on disk.
        """
        path = self.settings.key_path
        if self.keyring.source != str(path):
            raise VaultError("keys from $KIOSK_SECRET_KEY cannot be rotated here: use a key file")
        with storage_errors("re-encrypt the secrets"), write_transaction(self.db):
            _lock_keys()
            new_ring = self.keyring.with_new_version()  # re-read: another rotation may have won
            version = new_ring.active_version
            write_key_file(path, new_ring, replace=True)
            self.keyring = new_ring
            total = Credential.select().count() if progress else 0
            for done, credential in enumerate(Credential.select().iterator(), start=1):
                secret = self.decrypt_secret(credential).encode()
                ad = secret_associated_data(credential.account_id, credential.id, version)
                Credential.update(
                    secret_ciphertext=new_ring.encrypt(secret, ad, version), key_version=version
                ).where(Credential.id == credential.id).execute()
                if progress:
                    progress(done, total)
            _write_key_check(new_ring, version)
            audit.record(Event.KEYS_ROTATED, email=None, source=source, detail=f"version {version}")
        return version

    def retire_unused_keys(self) -> list[int]:
        """Drop from the key file every version that no stored secret uses; returns them."""
        path = self.settings.key_path
        if self.keyring.source != str(path):
            raise VaultError("keys from $KIOSK_SECRET_KEY cannot be retired here: use a key file")
        with storage_errors("retire the unused keys"), write_transaction(self.db):
            _lock_keys()
            used = {c.key_version for c in Credential.select(Credential.key_version).distinct()}
            ring = self.keyring
            retired = {v for v in ring.keys if v not in used and v != ring.active_version}
            if retired:
                new_ring = ring.without_versions(retired)
                write_key_file(path, new_ring, replace=True)
                Meta.delete().where(Meta.key.in_([f"key_check:{v}" for v in retired])).execute()
                self.keyring = new_ring
        return sorted(retired)

    # ------------------------------------------------------------------ flows
    def new_flow(self, source: str) -> AuthFlow:
        from kiosk.core.enrollment import AuthFlow

        # Make the dummy hash now, before anyone types: made lazily, it would add a second
        # argon2 run to the first unknown-email refusal of each session (an SSH login is a new
        # process), and that timing difference would tell which emails exist.
        _ = self.hasher.dummy_hash
        return AuthFlow(self, source)

    def new_credential_id(self) -> str:
        return pysecrets.token_hex(16)


def argon2_gate(settings: Settings) -> CpuGate:
    """The machine-wide argon2 gate: its slot folder sits next to the key file, a folder that
    every kiosk process of this deployment shares and that only the kiosk's user can enter."""
    return CpuGate(settings.key_path.parent / SLOT_FOLDER_NAME)


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


def _open_keyring(settings: Settings, key_env: str | None, db: pw.Database) -> Keyring:
    """Load the keyring and prove it fits this database.

    A missing key file is created only while the database holds no secrets; otherwise the person
    is told that the key is missing, instead of being handed codes that can never verify.
    """
    with storage_errors("read the database"):
        rows = Meta.select().where(Meta.key.startswith("key_check:"))
        checks = {row.key: row.value for row in rows}
        holds_secrets = bool(checks) or Credential.select().exists()
    path = settings.key_path
    keyring, _created = load_keyring(
        path, key_env, create=not holds_secrets,
        allow_loose=settings.security.allow_loose_key_file,
    )
    matched = 0
    for version, key_bytes in keyring.keys.items():
        stored = checks.get(f"key_check:{version}")
        if stored is None:
            continue
        matched += 1
        if not key_check_matches(key_bytes, version, stored, keyring.source):
            raise VaultError(
                f"the key in {keyring.source} does not unlock this database's secrets "
                "(wrong key file?)"
            )
    if holds_secrets and not matched:
        raise VaultError(
            f"the key in {keyring.source} does not unlock this database's secrets "
            "(wrong key file?)"
        )
    if f"key_check:{keyring.active_version}" not in checks:
        with storage_errors("write the key check"), write_transaction(db):
            _write_key_check(keyring, keyring.active_version)
    return keyring


__all__ = ["KioskService", "UserSummary", "summary_as_json", "KioskError"]
