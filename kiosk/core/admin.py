"""Account administration (`kiosk users ...`): add, change, reset, unlock, remove, list.

Every change that alters how an account signs in bumps its version, which ends every sign-in
and enrollment in progress for it: their closing writes are compare-and-sets on that version.
"""

from __future__ import annotations

from collections.abc import Iterator

import peewee as pw

from kiosk.core import audit
from kiosk.core.accounts import check_password_policy, normalize_email
from kiosk.core.audit import Event
from kiosk.core.context import CoreContext
from kiosk.core.steps import Stage
from kiosk.core.throttle import AttemptThrottle
from kiosk.core.values import AccountRef, UserSummary
from kiosk.errors import AccountExistsError, PasswordPolicyError, UnknownAccountError
from kiosk.store.database import storage_errors, write_transaction
from kiosk.store.models import Account, Credential, ProgressEvent, RecoveryCode, Throttle


class AccountAdmin:
    def __init__(self, ctx: CoreContext, throttle: AttemptThrottle) -> None:
        self._ctx = ctx
        self._throttle = throttle

    def find(self, raw_email: str) -> AccountRef:
        """The account for this email, or `UnknownAccountError` (admin side only)."""
        email = normalize_email(raw_email)
        with storage_errors("read the account"):
            account = Account.get_or_none(Account.email == email)
            enrolled = (
                account is not None
                and Credential.select().where(Credential.account == account.id).exists()
            )
        if account is None:
            raise UnknownAccountError(f"no account for {email}")
        return AccountRef(id=account.id, email=email, version=account.mfa_version,
                          enrolled=bool(enrolled), has_password=account.has_password)

    def add_user(self, raw_email: str, password: str, *, source: str = "admin") -> str:
        email = normalize_email(raw_email)
        check_password_policy(password, self._ctx.settings.security.password_min_length)
        password_hash = self._ctx.hasher.hash(password)
        with storage_errors("add the account"):
            try:
                with write_transaction(self._ctx.db):
                    Account.create(
                        email=email, password_hash=password_hash, created_at=self._ctx.now()
                    )
                    audit.record(Event.USER_ADDED, email=email, source=source)
            except pw.IntegrityError:
                raise AccountExistsError(f"an account for {email} already exists") from None
        return email

    def set_password(self, raw_email: str, password: str, *, source: str = "admin") -> str:
        """A new password; sessions that checked the old one cannot finish anything."""
        account = self.find(raw_email)
        if self._ctx.settings.directory.enabled:
            raise PasswordPolicyError(
                "passwords are checked against the directory ([directory] in the config): "
                "change it there"
            )
        check_password_policy(password, self._ctx.settings.security.password_min_length)
        password_hash = self._ctx.hasher.hash(password)
        with storage_errors("change the password"), write_transaction(self._ctx.db):
            Account.update(
                password_hash=password_hash, mfa_version=Account.mfa_version + 1
            ).where(Account.id == account.id).execute()
            audit.record(Event.PASSWORD_CHANGED, email=account.email, source=source)
        return account.email

    def reset_mfa(self, raw_email: str, *, source: str = "admin") -> str:
        """Remove the authenticator and recovery code: the next sign-in sets up a new device."""
        account = self.find(raw_email)
        with storage_errors("reset the account"), write_transaction(self._ctx.db):
            Credential.delete().where(Credential.account == account.id).execute()
            RecoveryCode.delete().where(RecoveryCode.account == account.id).execute()
            Account.update(mfa_version=Account.mfa_version + 1).where(
                Account.id == account.id
            ).execute()
            audit.record(Event.RESET, email=account.email, source=source)
            ProgressEvent.create(
                account=account.id, email=account.email, step=Stage.NOT_STARTED.value,
                at=self._ctx.now(), source=source,
            )
        return account.email

    def unlock(self, raw_email: str, *, source: str = "admin") -> str:
        account = self.find(raw_email)
        with storage_errors("unlock the account"), write_transaction(self._ctx.db):
            self._throttle.clear(account.email, account.id)
            audit.record(Event.UNLOCKED, email=account.email, source=source)
        return account.email

    def remove_user(self, raw_email: str, *, source: str = "admin") -> str:
        account = self.find(raw_email)
        with storage_errors("remove the account"), write_transaction(self._ctx.db):
            Credential.delete().where(Credential.account == account.id).execute()
            RecoveryCode.delete().where(RecoveryCode.account == account.id).execute()
            self._throttle.clear(account.email, account.id)
            Account.delete().where(Account.id == account.id).execute()
            audit.record(Event.USER_REMOVED, email=account.email, source=source)
        return account.email

    def summary(self, raw_email: str) -> UserSummary:
        """One account's row of `users list`."""
        email = normalize_email(raw_email)
        for user in self._summaries(Account.email == email):
            return user
        raise UnknownAccountError(f"no account for {email}")

    def iter_users(self) -> Iterator[UserSummary]:
        """Every account, by email, streamed from the database (not held in memory)."""
        return self._summaries(None)

    def _summaries(self, where: pw.Expression | None) -> Iterator[UserSummary]:
        now = self._ctx.now()
        # One lock per account even if a key rotation left a second throttle row for it.
        locks = (
            Throttle.select(
                Throttle.account_id.alias("locked_account"),
                pw.fn.MAX(Throttle.locked_until).alias("locked_until"),
            )
            .where(Throttle.account_id.is_null(False))
            .group_by(Throttle.account_id)
            .alias("locks")
        )
        query = (
            Account.select(
                Account.email,
                Account.created_at,
                Account.last_sign_in_at,
                Account.password_source,
                (Account.password_hash == "").alias("no_password"),
                Credential.created_at.alias("enrolled_at"),
                locks.c.locked_until,
            )
            .join(Credential, pw.JOIN.LEFT_OUTER, on=(Credential.account == Account.id))
            .switch(Account)
            .join(locks, pw.JOIN.LEFT_OUTER, on=(locks.c.locked_account == Account.id))
        )
        if where is not None:
            query = query.where(where)
        rows = query.order_by(Account.email).dicts()
        with storage_errors("list the accounts"):
            for row in rows.iterator():
                # MAX() over a subquery comes back as text on SQLite: convert it as the field does
                locked_until = Throttle.locked_until.python_value(row["locked_until"])
                locked = locked_until is not None and locked_until > now
                yield UserSummary(
                    email=row["email"],
                    enrolled=row["enrolled_at"] is not None,
                    enrolled_at=row["enrolled_at"],
                    locked=locked,
                    locked_until=locked_until if locked else None,
                    last_sign_in=row["last_sign_in_at"],
                    created_at=row["created_at"],
                    # "none": made for a cohort, waiting for its person's enrollment pass.
                    password_source=(
                        "none"
                        if row["no_password"] and row["password_source"] == "local"
                        else row["password_source"]
                    ),
                )


def count_accounts_other_than(database_url: str, email: str) -> int:
    """How many accounts a database holds besides `email`, read without migrating or writing
    anything (`kiosk demo` must not touch a database real people use)."""
    from kiosk.store.database import connect_database

    database = connect_database(database_url)
    try:
        with storage_errors("read the database"):
            if not database.table_exists(Account._meta.table_name):
                return 0
            return int(Account.select().where(Account.email != email).count())
    finally:
        database.close()
