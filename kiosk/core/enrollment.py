"""One person's pass through the kiosk, as a state machine independent of any UI.

Steps follow the vendor's guide, one per screen:

    SIGN_IN ─password─▶ MFA_REQUIRED ─set up─▶ SELECT_METHOD ─app─▶ SCAN_QR ─▶ ENTER_SETUP_CODE
       │                                         ▲                                  │ code ok
       └─password (enrolled)─▶ ENTER_CODE        │ recovery code ok                  ▼
                                 │  │ code ok    │                          SAVE_RECOVERY_CODE
                                 │  ▼            │                                  │ saved ✓
                                 │ SIGNED_IN ◀───┼──────────────────────────────────┘
                                 └─lost device─▶ ENTER_RECOVERY_CODE

Everything pending (the new secret, the new recovery code, the verified recovery code) lives in
this object only. The account changes once, in `finish_enrollment`, in one transaction; walking
away at any step, or going back, leaves the account exactly as it was.

The store, audit, TOTP and vault modules are imported inside the methods that use them: the kiosk
creates its flow before painting Sign in, and none of them is needed until the first Continue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kiosk.core import recovery
from kiosk.core.steps import Method, Step
from kiosk.errors import (
    ConcurrentChangeError,
    FlowError,
    InvalidCodeError,
    InvalidRecoveryCodeError,
    RecoveryCodeNotSavedError,
)

if TYPE_CHECKING:
    from kiosk.core.service import KioskService
    from kiosk.store.models import Account


@dataclass(frozen=True)
class PendingSecret:
    """What the Secure your Account screen shows. Never stored, never logged."""

    secret: str
    uri: str
    account_name: str
    issuer: str
    compact_uri: str = ""  # the same credential, shorter: drawn only when `uri` does not fit

    @property
    def grouped_key(self) -> str:
        from kiosk.core import totp

        return totp.format_secret_for_display(self.secret)

    def __repr__(self) -> str:  # keep the secret out of tracebacks and debug output
        return f"PendingSecret(account_name={self.account_name!r}, issuer={self.issuer!r})"


# The route a person takes decides how steps are numbered in the header ("Step 3 of 6").
_ENROLL_ROUTE = [
    Step.SIGN_IN,
    Step.MFA_REQUIRED,
    Step.SELECT_METHOD,
    Step.SCAN_QR,
    Step.ENTER_SETUP_CODE,
    Step.SAVE_RECOVERY_CODE,
]
_RECOVERY_ROUTE = [
    Step.SIGN_IN,
    Step.ENTER_RECOVERY_CODE,
    Step.SELECT_METHOD,
    Step.SCAN_QR,
    Step.ENTER_SETUP_CODE,
    Step.SAVE_RECOVERY_CODE,
]
_SIGN_IN_ROUTE = [Step.SIGN_IN, Step.ENTER_CODE]


class AuthFlow:
    """The steps of one person's session. Methods raise `KioskError`s with messages to show."""

    def __init__(self, service: KioskService, source: str) -> None:
        self.service = service
        self.source = source
        self._clear()

    # ------------------------------------------------------------------ state
    def _clear(self) -> None:
        self.step = Step.SIGN_IN
        self.email: str | None = None
        self._account_id: int | None = None
        self._mfa_version: int | None = None
        self._enrolled = False
        self._recovering = False
        self._recovery_code_id: int | None = None
        self._pending: PendingSecret | None = None
        self._verified_step: int | None = None
        self._new_recovery_code: str | None = None
        self._new_recovery_hash: str | None = None
        self._credential_id: str | None = None

    def reset(self) -> None:
        """Forget everything: back to Sign in for the next person."""
        self._clear()

    @property
    def recovering(self) -> bool:
        return self._recovering

    @property
    def pending_secret(self) -> PendingSecret | None:
        return self._pending

    @property
    def recovery_code_for_display(self) -> str | None:
        code = self._new_recovery_code
        return None if code is None else recovery.format_for_display(code)

    def progress(self) -> tuple[int, int] | None:
        """(step number, steps in this route) for the header, or None where it has no number.

        Sign in has no number: until the password is checked nobody knows which route it is.
        """
        if self._recovering or self.step == Step.ENTER_RECOVERY_CODE:
            route = _RECOVERY_ROUTE
        elif self._enrolled:
            route = _SIGN_IN_ROUTE
        else:
            route = _ENROLL_ROUTE
        if self.step == Step.SIGN_IN or self.step not in route:
            return None
        return route.index(self.step) + 1, len(route)

    def _expect(self, *steps: Step) -> None:
        if self.step not in steps:
            raise FlowError("That step isn't available right now. Please start again.")

    def _account(self) -> Account:
        from kiosk.store.database import storage_errors
        from kiosk.store.models import Account

        with storage_errors("read the account"):
            account = Account.get_or_none(Account.id == self._account_id)
        if account is None:
            self._clear()
            raise ConcurrentChangeError("This account is no longer available. Please ask IT.")
        return account

    # ------------------------------------------------------------------ steps
    def submit_password(self, email: str, password: str) -> Step:
        """Sign in (something you know). Next: MFA_REQUIRED, or ENTER_CODE if enrolled."""
        from kiosk.store.database import storage_errors
        from kiosk.store.models import Throttle

        self._expect(Step.SIGN_IN)
        account = self.service.check_password(email, password, source=self.source)
        self.email = account.email
        self._account_id = account.id
        self._mfa_version = account.mfa_version
        self._enrolled = self.service.is_enrolled(account)
        if self._enrolled:
            self.step = Step.ENTER_CODE
        else:
            # The password is this account's only factor so far: a full success.
            with storage_errors("update the account"):
                Throttle.delete().where(Throttle.email == account.email).execute()
            self.step = Step.MFA_REQUIRED
        return self.step

    def start_setup(self) -> Step:
        """Two-Factor Authentication Required → Set Up Now."""
        self._expect(Step.MFA_REQUIRED)
        self.step = Step.SELECT_METHOD
        return self.step

    def choose_method(self, method: Method) -> PendingSecret:
        """Select an Authentication Method → Continue: issues the new secret (memory only)."""
        from kiosk.core import totp

        self._expect(Step.SELECT_METHOD)
        if method != Method.AUTHENTICATOR_APP:
            raise FlowError("Only the authenticator app is available.")
        assert self.email is not None
        secret = totp.new_secret()
        issuer = self.service.settings.kiosk.organization
        self._pending = PendingSecret(
            secret=secret,
            uri=totp.provisioning_uri(secret, self.email, issuer),
            compact_uri=totp.compact_provisioning_uri(secret, self.email, issuer),
            account_name=self.email,
            issuer=issuer,
        )
        self._verified_step = None
        self.step = Step.SCAN_QR
        return self._pending

    def continue_to_code(self) -> Step:
        """Secure your Account → Continue."""
        self._expect(Step.SCAN_QR)
        self.step = Step.ENTER_SETUP_CODE
        return self.step

    def verify_setup_code(self, raw_code: str) -> str:
        """Check the first code from the new device; returns the new recovery code to show.

        A wrong code counts toward the account's lock like any other failure.
        """
        from kiosk.core import totp

        self._expect(Step.ENTER_SETUP_CODE)
        assert self._pending is not None and self.email is not None
        self.service._check_not_locked(self.email)
        code = totp.parse_code(raw_code)
        found = totp.matching_step(
            self._pending.secret,
            code,
            window=self.service.settings.security.totp_window,
            clock=self.service.clock,
        )
        if found is not None and self._verified_step is not None and found <= self._verified_step:
            raise InvalidCodeError(totp.REPLAYED_CODE_MESSAGE)
        if found is None:
            self.service._record_failure(
                self.email, known=True, source=self.source, factor="setup code"
            )
            raise InvalidCodeError(totp.WRONG_CODE_MESSAGE)
        self._verified_step = found
        code_text = recovery.generate()
        self._new_recovery_hash = self.service.hasher.hash(code_text)
        self._new_recovery_code = code_text
        self._credential_id = self.service.new_credential_id()
        self.step = Step.SAVE_RECOVERY_CODE
        return recovery.format_for_display(code_text)

    def finish_enrollment(self, *, saved: bool) -> Step:
        """Save Your Recovery Code → ticked → Continue: activate everything in one transaction."""
        from kiosk.core import audit
        from kiosk.core.audit import Event
        from kiosk.core.vault import secret_associated_data
        from kiosk.store.database import storage_errors, write_transaction
        from kiosk.store.models import Account, Credential, RecoveryCode, Throttle

        self._expect(Step.SAVE_RECOVERY_CODE)
        if not saved:
            raise RecoveryCodeNotSavedError()
        assert self._pending is not None and self._credential_id is not None
        assert self._new_recovery_hash is not None and self.email is not None
        service = self.service
        keyring = service.keyring
        version = keyring.active_version
        ad = secret_associated_data(self._account_id or 0, self._credential_id, version)
        ciphertext = keyring.encrypt(self._pending.secret.encode(), ad, version)
        now = service.now()
        with storage_errors("save the new authenticator"), write_transaction(service.db):
            changed = (
                Account.update(mfa_version=Account.mfa_version + 1, last_sign_in_at=now)
                .where(
                    (Account.id == self._account_id)
                    & (Account.mfa_version == self._mfa_version)
                )
                .execute()
            )
            if changed != 1:
                raise ConcurrentChangeError(
                    "This account's sign-in settings were changed from another terminal. "
                    "Nothing was saved here; please sign in again."
                )
            if self._recovering:
                consumed = (
                    RecoveryCode.update(used_at=now)
                    .where(
                        (RecoveryCode.id == self._recovery_code_id)
                        & RecoveryCode.used_at.is_null()
                    )
                    .execute()
                )
                if consumed != 1:
                    raise InvalidRecoveryCodeError(recovery.WRONG_CODE_MESSAGE)
                audit.record(Event.RECOVERY_USED, email=self.email, source=self.source)
            Credential.delete().where(Credential.account == self._account_id).execute()
            Credential.create(
                id=self._credential_id,
                account=self._account_id,
                secret_ciphertext=ciphertext,
                key_version=version,
                created_at=now,
                last_used_step=self._verified_step,
            )
            RecoveryCode.delete().where(RecoveryCode.account == self._account_id).execute()
            RecoveryCode.create(
                account=self._account_id, code_hash=self._new_recovery_hash, created_at=now
            )
            Throttle.delete().where(Throttle.email == self.email).execute()
            detail = "new device after recovery" if self._recovering else "first device"
            audit.record(Event.ENROLLED, email=self.email, source=self.source, detail=detail)
            audit.record(
                Event.SIGN_IN_OK, email=self.email, source=self.source, detail="enrollment"
            )
        self._forget_pending()
        self._enrolled = True
        self.step = Step.SIGNED_IN
        return self.step

    def submit_code(self, raw_code: str) -> Step:
        """Returning sign-in: the 6-digit code from the enrolled app."""
        self._expect(Step.ENTER_CODE)
        self.service.check_code(self._account(), raw_code, source=self.source)
        self.step = Step.SIGNED_IN
        return self.step

    def use_recovery_code(self) -> Step:
        """Enter the 6-digit code → Use a recovery code (lost device)."""
        self._expect(Step.ENTER_CODE)
        self.step = Step.ENTER_RECOVERY_CODE
        return self.step

    def submit_recovery_code(self, raw_code: str) -> Step:
        """Use Your Recovery Code: checked now, consumed only when the new device is activated."""
        self._expect(Step.ENTER_RECOVERY_CODE)
        account = self._account()
        self._recovery_code_id = self.service.check_recovery_code(
            account, raw_code, source=self.source
        )
        self._mfa_version = account.mfa_version
        self._recovering = True
        self.step = Step.SELECT_METHOD
        return self.step

    # ------------------------------------------------------------------ going back
    def _forget_pending(self) -> None:
        self._pending = None
        self._verified_step = None
        self._new_recovery_code = None
        self._new_recovery_hash = None
        self._credential_id = None

    def back(self) -> Step:
        """Escape: one step back, never past Sign in; what that step issued is forgotten."""
        step = self.step
        if step in (Step.SIGN_IN, Step.SIGNED_IN):
            return step
        if step in (Step.MFA_REQUIRED, Step.ENTER_CODE):
            self._clear()
        elif step == Step.SELECT_METHOD:
            if self._recovering:
                self._recovering = False
                self._recovery_code_id = None
                self.step = Step.ENTER_RECOVERY_CODE
            else:
                self.step = Step.MFA_REQUIRED
        elif step == Step.SCAN_QR:
            self._forget_pending()
            self.step = Step.SELECT_METHOD
        elif step == Step.ENTER_SETUP_CODE:
            self.step = Step.SCAN_QR
        elif step == Step.SAVE_RECOVERY_CODE:
            # The new recovery code is forgotten; the verified step is kept so the same code
            # cannot be entered twice.
            self._new_recovery_code = None
            self._new_recovery_hash = None
            self._credential_id = None
            self.step = Step.ENTER_SETUP_CODE
        elif step == Step.ENTER_RECOVERY_CODE:
            self.step = Step.ENTER_CODE
        return self.step
