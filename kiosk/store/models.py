"""Peewee models, bound to `database_proxy` (initialised by `store.database.open_database`).

What is stored, and what never is:
- passwords and recovery codes only as argon2id hashes;
- TOTP secrets only as AES-256-GCM ciphertexts (see `core.vault`);
- audit rows carry the event, time, account and source, never a secret or code.
"""

from __future__ import annotations

from datetime import UTC, datetime

import peewee as pw

from kiosk.limits import MAX_EMAIL_LENGTH

database_proxy = pw.DatabaseProxy()


def utcnow() -> datetime:
    """Naive UTC, as stored (peewee stores naive datetimes on both SQLite and PostgreSQL)."""
    return datetime.now(UTC).replace(tzinfo=None)


class BaseModel(pw.Model):
    class Meta:
        database = database_proxy
        legacy_table_names = False


class Meta(BaseModel):
    """Key/value facts about the store: schema version, encryption-key check values."""

    key = pw.CharField(primary_key=True, max_length=64)
    value = pw.TextField()


class Account(BaseModel):
    id = pw.AutoField()
    email = pw.CharField(unique=True, max_length=MAX_EMAIL_LENGTH)
    # "" when the password lives in a directory, or when none is set yet (an account made for an
    # onboarding cohort: its person creates one after signing in with an enrollment pass).
    password_hash = pw.CharField(max_length=255)
    # Where the password is checked: "local" (password_hash) or "directory" (LDAP, [directory]).
    password_source = pw.CharField(max_length=16, default="local")
    display_name = pw.CharField(max_length=128, null=True)  # from the directory, when known
    created_at = pw.DateTimeField(default=utcnow)
    last_sign_in_at = pw.DateTimeField(null=True)
    # Bumped by every change to how the account signs in (password, authenticator, reset): every
    # session's closing write is a compare-and-set on it, so two terminals enrolling the same
    # account cannot both win, and no flow begun before an admin change can finish after it.
    mfa_version = pw.IntegerField(default=0)

    @property
    def has_password(self) -> bool:
        """Whether its person can sign in with a password (False: only with a pass, for now)."""
        return bool(self.password_hash) or self.password_source == "directory"


class Credential(BaseModel):
    """The account's one active authenticator (TOTP)."""

    id = pw.CharField(primary_key=True, max_length=32)  # random hex, part of the cipher's AD
    account = pw.ForeignKeyField(Account, unique=True, on_delete="CASCADE", backref="credentials")
    account_id: int  # peewee's accessor for the raw foreign key (declared for type checkers)
    kind = pw.CharField(max_length=16, default="totp")
    secret_ciphertext = pw.BlobField()
    key_version = pw.IntegerField()
    created_at = pw.DateTimeField(default=utcnow)
    # Replay guard: the last accepted TOTP time step. Only ever increases (compare-and-set).
    last_used_step = pw.BigIntegerField(null=True)


class RecoveryCode(BaseModel):
    """The account's one recovery code, as an argon2id hash; `used_at` set when consumed."""

    id = pw.AutoField()
    account = pw.ForeignKeyField(Account, unique=True, on_delete="CASCADE", backref="recovery")
    code_hash = pw.CharField(max_length=255)
    created_at = pw.DateTimeField(default=utcnow)
    used_at = pw.DateTimeField(null=True)


class Throttle(BaseModel):
    """Attempts at one email's secrets, for known and unknown emails alike.

    Named by a keyed hash of the normalised email (`KeyStore.throttle_key`), never the typed
    text: people type passwords into the email field. Keyed by email rather than account so a
    lock tells an attacker nothing about whether the account exists; shared through the
    database, so it holds across processes and hosts. `pending` counts attempts reserved and
    being checked right now; a row is forgotten once `expires_at` has passed.
    """

    key = pw.CharField(primary_key=True, max_length=64)
    # The account when the email is known (for `users list`); no foreign key: a row may be
    # written for an account removed a moment earlier by an admin.
    account_id = pw.IntegerField(null=True, index=True)
    failures = pw.IntegerField(default=0)
    pending = pw.IntegerField(default=0)
    pending_since = pw.DateTimeField(null=True)
    locked_until = pw.DateTimeField(null=True)
    expires_at = pw.DateTimeField(index=True)


class AuditEvent(BaseModel):
    id = pw.AutoField()
    at = pw.DateTimeField(default=utcnow, index=True)
    event = pw.CharField(max_length=32)
    email = pw.CharField(max_length=MAX_EMAIL_LENGTH, null=True, index=True)
    source = pw.CharField(max_length=128)
    detail = pw.CharField(max_length=128, default="")


class EnrollmentPass(BaseModel):
    """A one-time pass IT staff issue after checking who a person is (Entra's Temporary Access
    Pass): signs in once, instead of the password, to enroll a device. Stored as an argon2id
    hash; rows are kept after use, expiry or revocation so the kiosk can say which it was."""

    id = pw.AutoField()
    account = pw.ForeignKeyField(Account, on_delete="CASCADE", index=True)
    account_id: int
    pass_hash = pw.CharField(max_length=255)
    issued_at = pw.DateTimeField(default=utcnow)
    issued_by = pw.CharField(max_length=128)
    expires_at = pw.DateTimeField()
    used_at = pw.DateTimeField(null=True)
    revoked_at = pw.DateTimeField(null=True)


class Cohort(BaseModel):
    """A guided onboarding session: a named group of people, with an optional deadline."""

    id = pw.AutoField()
    name = pw.CharField(unique=True, max_length=64)
    deadline = pw.DateField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    created_by = pw.CharField(max_length=128)


class CohortMember(BaseModel):
    cohort = pw.ForeignKeyField(Cohort, on_delete="CASCADE", backref="members")
    cohort_id: int
    account = pw.ForeignKeyField(Account, on_delete="CASCADE", index=True)
    account_id: int
    full_name = pw.CharField(max_length=128, null=True)
    added_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("cohort", "account"), True),)


class ProgressEvent(BaseModel):
    """A step of the enrollment a person reached, as the kiosk saw it. Never a secret.

    The onboarding board follows these rows (and the audit's failures) to show who is where.
    """

    id = pw.AutoField()
    account = pw.ForeignKeyField(Account, on_delete="CASCADE", index=True)
    account_id: int
    email = pw.CharField(max_length=MAX_EMAIL_LENGTH)
    step = pw.CharField(max_length=32)
    at = pw.DateTimeField(default=utcnow)
    source = pw.CharField(max_length=128)


ALL_MODELS: list[type[BaseModel]] = [
    Meta,
    Account,
    Credential,
    RecoveryCode,
    Throttle,
    AuditEvent,
    EnrollmentPass,
    Cohort,
    CohortMember,
    ProgressEvent,
]
