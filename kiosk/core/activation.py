"""Activating an enrollment: the account changes once, in one transaction, at the end.

A pending enrollment lives in the session's memory (core/flow.py). When the person confirms they
saved the recovery code, the new credential, the new recovery-code hash, the consumed old
recovery code (after a lost device), the replaced old credential and the audit events are
written together, as a compare-and-set on the account's version: two terminals enrolling one
account cannot both win, and a flow begun before an admin changed the account cannot finish.
"""

from __future__ import annotations

import secrets

from kiosk.core import audit, recovery
from kiosk.core.audit import Event
from kiosk.core.context import CoreContext
from kiosk.core.factors import ACCOUNT_CHANGED_MESSAGE
from kiosk.core.throttle import AttemptThrottle
from kiosk.core.values import AccountRef, NewRecoveryCode
from kiosk.errors import AccountLockedError, ConcurrentChangeError, InvalidRecoveryCodeError
from kiosk.store.database import storage_errors, write_transaction
from kiosk.store.models import Account, Credential, RecoveryCode


class Enrollments:
    def __init__(self, ctx: CoreContext, throttle: AttemptThrottle) -> None:
        self._ctx = ctx
        self._throttle = throttle

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
    ) -> None:
        """Write the new authenticator and recovery code, replacing the old ones, or nothing.

        Refused (`ConcurrentChangeError`) when the account changed since the session checked
        its password, and (`AccountLockedError`) while the account is locked.
        """
        ctx = self._ctx
        credential_id = secrets.token_hex(16)
        ciphertext, key_version = ctx.keys.encrypt_secret(secret, account.id, credential_id)
        now = ctx.now()
        with storage_errors("save the new authenticator"), write_transaction(ctx.db):
            locked_until = self._throttle.locked_until(account.email)
            if locked_until is not None:
                raise AccountLockedError(locked_until)
            changed = (
                Account.update(mfa_version=Account.mfa_version + 1, last_sign_in_at=now)
                .where((Account.id == account.id) & (Account.mfa_version == account.version))
                .execute()
            )
            if changed != 1:
                raise ConcurrentChangeError(ACCOUNT_CHANGED_MESSAGE)
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
            recovering = used_recovery_code_id is not None
            detail = "new device after recovery" if recovering else "first device"
            audit.record(Event.ENROLLED, email=account.email, source=source, detail=detail)
            audit.record(Event.SIGN_IN_OK, email=account.email, source=source, detail="enrollment")
