"""Activating an enrollment: the account changes once, in one transaction, at the end.

A pending enrollment lives in the session's memory (core/flow.py). When the person confirms they
saved the recovery code, the new credential, the new recovery-code hash, the consumed old
recovery code (after a lost device), the replaced old credential and the audit events are
written together, as a compare-and-set on the account's version: two terminals enrolling one
account cannot both win, and a flow begun before an admin changed the account cannot finish.
"""

from __future__ import annotations

import secrets

import peewee as pw

from kiosk.core import audit, passes, recovery
from kiosk.core.accounts import check_password_policy
from kiosk.core.audit import Event
from kiosk.core.cohorts import Cohorts
from kiosk.core.context import CoreContext
from kiosk.core.factors import ACCOUNT_CHANGED_MESSAGE
from kiosk.core.passes import Passes
from kiosk.core.steps import Stage
from kiosk.core.throttle import AttemptThrottle
from kiosk.core.values import AccountRef, NewRecoveryCode
from kiosk.errors import (
    AccountLockedError,
    ConcurrentChangeError,
    InvalidRecoveryCodeError,
    PassRefusedError,
)
from kiosk.store.database import storage_errors, write_transaction
from kiosk.store.models import Account, Credential, RecoveryCode


class Enrollments:
    def __init__(self, ctx: CoreContext, throttle: AttemptThrottle, cohorts: Cohorts) -> None:
        self._ctx = ctx
        self._throttle = throttle
        self._cohorts = cohorts

    def new_password_hash(self, password: str) -> str:
        """The hash of a password created during the enrollment (saved at activation): the
        policy is checked first (`PasswordPolicyError` with a message for the person)."""
        check_password_policy(password, self._ctx.settings.security.password_min_length)
        return self._ctx.hasher.hash(password)

    def new_recovery_code(self) -> NewRecoveryCode:
        """A fresh recovery code and its argon2 hash, for the Save Your Recovery Code step."""
        text = recovery.generate()
        return NewRecoveryCode(text=text, hash=self._ctx.hasher.hash(text))

    def activate(
        self,
        account: AccountRef,
        *,
        secret: str,
        verified_step: int,
        recovery_code: NewRecoveryCode,
        used_recovery_code_id: int | None,
        source: str,
        new_password_hash: str | None = None,
    ) -> None:
        """Write the new authenticator and recovery code, replacing the old ones, or nothing.

        Refused (`ConcurrentChangeError`) when the account changed since the session checked
        its password, (`AccountLockedError`) while the account is locked, and
        (`PassRefusedError`) when the enrollment pass it signed in with is no longer live. A
        session that signed in with a pass consumes it here, and a password it created is
        saved here: everything or nothing.
        """
        ctx = self._ctx
        credential_id = secrets.token_hex(16)
        ciphertext, key_version = ctx.keys.encrypt_secret(secret, account.id, credential_id)
        now = ctx.now()
        with storage_errors("save the new authenticator"), write_transaction(ctx.db):
            locked_until = self._throttle.locked_until(account.email)
            if locked_until is not None:
                raise AccountLockedError(locked_until)
            account_update: dict[pw.Field, object] = {
                Account.mfa_version: Account.mfa_version + 1,
                Account.last_sign_in_at: now,
            }
            if new_password_hash is not None:
                account_update[Account.password_hash] = new_password_hash
            changed = (
                Account.update(account_update)
                .where((Account.id == account.id) & (Account.mfa_version == account.version))
                .execute()
            )
            if changed != 1:
                raise ConcurrentChangeError(ACCOUNT_CHANGED_MESSAGE)
            if account.pass_id is not None:
                if not Passes.consume(account.pass_id, account.id, now):
                    raise PassRefusedError(passes.NO_LONGER_VALID_MESSAGE)
                audit.record(Event.PASS_USED, email=account.email, source=source)
            if new_password_hash is not None:
                audit.record(Event.PASSWORD_CREATED, email=account.email, source=source)
            if used_recovery_code_id is not None:
                consumed = (
                    RecoveryCode.update(used_at=now)
                    .where(
                        (RecoveryCode.id == used_recovery_code_id)
                        & (RecoveryCode.account == account.id)
                        & RecoveryCode.used_at.is_null()
                    )
                    .execute()
                )
                if consumed != 1:
                    raise InvalidRecoveryCodeError(recovery.WRONG_CODE_MESSAGE)
                audit.record(Event.RECOVERY_USED, email=account.email, source=source)
            Credential.delete().where(Credential.account == account.id).execute()
            Credential.create(
                id=credential_id,
                account=account.id,
                secret_ciphertext=ciphertext,
                key_version=key_version,
                created_at=now,
                last_used_step=verified_step,
            )
            RecoveryCode.delete().where(RecoveryCode.account == account.id).execute()
            RecoveryCode.create(account=account.id, code_hash=recovery_code.hash, created_at=now)
            self._throttle.forgive(account.email)
            if used_recovery_code_id is not None:
                detail = "new device after recovery"
            elif account.pass_id is not None and account.enrolled:
                detail = "new device after pass"
            else:
                detail = "first device"
            audit.record(Event.ENROLLED, email=account.email, source=source, detail=detail)
            audit.record(Event.SIGN_IN_OK, email=account.email, source=source, detail="enrollment")
            self._cohorts.record_stage_in_transaction(
                account.id, account.email, Stage.ENROLLED, source=source
            )
