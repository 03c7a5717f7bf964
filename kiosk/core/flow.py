"""One person's pass through the kiosk, as a state machine independent of any UI.

Steps follow the vendor's guide, one per screen:

    SIGN_IN ─pass, no password─▶ CREATE_PASSWORD ─▶ MFA_REQUIRED (then as below)
    SIGN_IN ─pass, enrolled─▶ SELECT_METHOD (the new device replaces the old one)
    SIGN_IN ─password─▶ MFA_REQUIRED ─set up─▶ SELECT_METHOD ─app─▶ SCAN_QR ─▶ ENTER_SETUP_CODE
       │                                         ▲                                  │ code ok
       └─password (enrolled)─▶ ENTER_CODE        │ recovery code ok                  ▼
                                 │  │ code ok    │                          SAVE_RECOVERY_CODE
                                 │  ▼            │                                  │ saved ✓
                                 │ SIGNED_IN ◀───┼──────────────────────────────────┘
                                 └─lost device─▶ ENTER_RECOVERY_CODE

A pure state machine: which step comes next, and what is pending in memory (the new secret, the
new recovery code, the verified recovery code). Whether a secret is right, and every read and
write, belong to the service (core/service.py), one public call per step. The account changes
once, in `finish_enrollment` (the service's one activation transaction); walking away at any
step, or going back, leaves the account exactly as it was.

The kiosk creates its flow before painting Sign in, with the store not yet open: the service is
asked for (`ready()`) only when a step needs it, and TOTP is imported when a secret is made.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from kiosk.core import recovery
from kiosk.core.steps import Method, Stage, Step
from kiosk.errors import FlowError, PasswordPolicyError, RecoveryCodeNotSavedError
from kiosk.i18n import N_

if TYPE_CHECKING:
    from kiosk.config import Settings
    from kiosk.core.service import KioskService
    from kiosk.core.values import AccountRef, NewRecoveryCode


STEP_UNAVAILABLE_MESSAGE = N_("That step isn't available right now. Please start again.")
PASSWORDS_DIFFER_MESSAGE = N_("The two passwords are different. Please type the same one twice.")


class ServiceSource(Protocol):
    """A `KioskService`, or a `DeferredService` that opens it on first use."""

    @property
    def settings(self) -> Settings: ...

    def ready(self) -> KioskService: ...


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
# Signed in with an enrollment pass: an account without a password creates one first; an
# account with an authenticator (phone and recovery code both lost) replaces it.
_PASS_FIRST_PASSWORD_ROUTE = [Step.SIGN_IN, Step.CREATE_PASSWORD, *_ENROLL_ROUTE[1:]]
_PASS_REPLACE_ROUTE = [Step.SIGN_IN, *_RECOVERY_ROUTE[2:]]


class AuthFlow:
    """The steps of one person's session. Methods raise `KioskError`s with messages to show."""

    def __init__(self, service: ServiceSource, source: str) -> None:
        self._services = service
        self.settings = service.settings
        self.source = source
        self._clear()

    # ------------------------------------------------------------------ state
    def _clear(self) -> None:
        self.step = Step.SIGN_IN
        self._account: AccountRef | None = None
        self._recovering = False
        self._recovery_code_id: int | None = None
        self._pending: PendingSecret | None = None
        self._verified_step: int | None = None
        self._new_recovery_code: NewRecoveryCode | None = None
        self._new_password_hash: str | None = None

    def reset(self) -> None:
        """Forget everything: back to Sign in for the next person."""
        self._clear()

    @property
    def email(self) -> str | None:
        return None if self._account is None else self._account.email

    @property
    def recovering(self) -> bool:
        return self._recovering

    @property
    def via_pass(self) -> bool:
        """Signed in with an enrollment pass (consumed when the enrollment is saved)."""
        return self._account is not None and self._account.pass_id is not None

    @property
    def replaces_authenticator(self) -> bool:
        """Signed in with a recovery code or a pass on an enrolled account: the device set up
        now replaces the old one (the screens say so)."""
        account = self._account
        return account is not None and account.enrolled and (self._recovering or self.via_pass)

    @property
    def password_min_length(self) -> int:
        """For the Create Your Password screen's policy line."""
        return self.settings.security.password_min_length

    @property
    def pending_secret(self) -> PendingSecret | None:
        return self._pending

    @property
    def recovery_code_for_display(self) -> str | None:
        code = self._new_recovery_code
        return None if code is None else recovery.format_for_display(code.text)

    def progress(self) -> tuple[int, int] | None:
        """(step number, steps in this route) for the header, or None where it has no number.

        Sign in has no number: until the password is checked nobody knows which route it is.
        """
        enrolled = self._account is not None and self._account.enrolled
        if self.via_pass:
            assert self._account is not None
            route = _PASS_REPLACE_ROUTE if enrolled else _PASS_FIRST_PASSWORD_ROUTE
            if self._account.has_password and not enrolled:
                route = _ENROLL_ROUTE
        elif self._recovering or self.step == Step.ENTER_RECOVERY_CODE:
            route = _RECOVERY_ROUTE
        elif enrolled:
            route = _SIGN_IN_ROUTE
        else:
            route = _ENROLL_ROUTE
        if self.step == Step.SIGN_IN or self.step not in route:
            return None
        return route.index(self.step) + 1, len(route)

    def _expect(self, *steps: Step) -> AccountRef | None:
        if self.step not in steps:
            raise FlowError(STEP_UNAVAILABLE_MESSAGE)
        return self._account

    def _signed_in_account(self, *steps: Step) -> AccountRef:
        account = self._expect(*steps)
        if account is None:
            raise FlowError(STEP_UNAVAILABLE_MESSAGE)
        return account

    # ------------------------------------------------------------------ steps
    def submit_password(self, email: str, password: str) -> Step:
        """Sign in (something you know). Next: MFA_REQUIRED, or ENTER_CODE if enrolled."""
        self._expect(Step.SIGN_IN)
        service = self._services.ready()
        account = service.factors.check_password(email, password, source=self.source)
        self._account = account
        if account.pass_id is None:
            self.step = Step.ENTER_CODE if account.enrolled else Step.MFA_REQUIRED
        elif not account.has_password:
            self.step = Step.CREATE_PASSWORD
        else:
            self.step = Step.SELECT_METHOD if account.enrolled else Step.MFA_REQUIRED
        if self.step != Step.ENTER_CODE:
            service.cohorts.record_stage(account, Stage.SIGNED_IN, source=self.source)
        return self.step

    def create_password(self, password: str, again: str) -> Step:
        """Create Your Password (signed in with a pass, no password yet): typed twice, checked
        against the policy, hashed now and saved with the new authenticator at the end."""
        self._signed_in_account(Step.CREATE_PASSWORD)
        if password != again:
            raise PasswordPolicyError(PASSWORDS_DIFFER_MESSAGE)
        service = self._services.ready()
        self._new_password_hash = service.enrollments.new_password_hash(password)
        self.step = Step.MFA_REQUIRED
        return self.step

    def start_setup(self) -> Step:
        """Two-Factor Authentication Required → Set Up Now."""
        self._expect(Step.MFA_REQUIRED)
        self.step = Step.SELECT_METHOD
        return self.step

    def choose_method(self, method: Method) -> PendingSecret:
        """Select an Authentication Method → Continue: makes the new secret (memory only)."""
        from kiosk.core import totp

        account = self._signed_in_account(Step.SELECT_METHOD)
        if method != Method.AUTHENTICATOR_APP:
            raise FlowError(N_("Only the authenticator app is available."))
        secret = totp.new_secret()
        issuer = self.settings.kiosk.organization
        self._pending = PendingSecret(
            secret=secret,
            uri=totp.provisioning_uri(secret, account.email, issuer),
            compact_uri=totp.compact_provisioning_uri(secret, account.email, issuer),
            account_name=account.email,
            issuer=issuer,
        )
        self._verified_step = None
        self.step = Step.SCAN_QR
        self._services.ready().cohorts.record_stage(account, Stage.SETTING_UP, source=self.source)
        return self._pending

    def continue_to_code(self) -> Step:
        """Secure your Account → Continue."""
        self._expect(Step.SCAN_QR)
        self.step = Step.ENTER_SETUP_CODE
        return self.step

    def verify_setup_code(self, raw_code: str) -> str:
        """Check the first code from the new device; returns the new recovery code to show."""
        account = self._signed_in_account(Step.ENTER_SETUP_CODE)
        assert self._pending is not None
        service = self._services.ready()
        self._verified_step = service.factors.check_setup_code(
            account,
            self._pending.secret,
            raw_code,
            after_step=self._verified_step,
            source=self.source,
        )
        self._new_recovery_code = service.enrollments.new_recovery_code()
        service.cohorts.record_stage(account, Stage.CODE_CONFIRMED, source=self.source)
        self.step = Step.SAVE_RECOVERY_CODE
        return recovery.format_for_display(self._new_recovery_code.text)

    def finish_enrollment(self, *, saved: bool) -> Step:
        """Save Your Recovery Code → ticked → Continue: the one activation transaction."""
        account = self._signed_in_account(Step.SAVE_RECOVERY_CODE)
        if not saved:
            raise RecoveryCodeNotSavedError()
        assert self._pending is not None and self._new_recovery_code is not None
        assert self._verified_step is not None
        self._services.ready().enrollments.activate(
            account,
            secret=self._pending.secret,
            verified_step=self._verified_step,
            recovery_code=self._new_recovery_code,
            used_recovery_code_id=self._recovery_code_id if self._recovering else None,
            source=self.source,
            new_password_hash=self._new_password_hash,
        )
        self._forget_pending()
        self._new_password_hash = None
        self._account = replace(
            account, version=account.version + 1, enrolled=True, has_password=True, pass_id=None
        )
        self._recovering = False
        self._recovery_code_id = None
        self.step = Step.SIGNED_IN
        return self.step

    def submit_code(self, raw_code: str) -> Step:
        """Returning sign-in: the 6-digit code from the enrolled app."""
        account = self._signed_in_account(Step.ENTER_CODE)
        self._services.ready().factors.check_code(account, raw_code, source=self.source)
        self.step = Step.SIGNED_IN
        return self.step

    def use_recovery_code(self) -> Step:
        """Enter the 6-digit code → Use a recovery code (lost device)."""
        self._expect(Step.ENTER_CODE)
        self.step = Step.ENTER_RECOVERY_CODE
        return self.step

    def submit_recovery_code(self, raw_code: str) -> Step:
        """Use Your Recovery Code: checked now, consumed only when the new device is activated."""
        account = self._signed_in_account(Step.ENTER_RECOVERY_CODE)
        factors = self._services.ready().factors
        self._recovery_code_id = factors.check_recovery_code(account, raw_code, source=self.source)
        self._recovering = True
        self.step = Step.SELECT_METHOD
        return self.step

    # ------------------------------------------------------------------ going back
    def _forget_pending(self) -> None:
        self._pending = None
        self._verified_step = None
        self._new_recovery_code = None

    def back(self) -> Step:
        """Escape: one step back, never past Sign in; what that step issued is forgotten."""
        step = self.step
        if step in (Step.SIGN_IN, Step.SIGNED_IN):
            return step
        if step in (Step.MFA_REQUIRED, Step.ENTER_CODE, Step.CREATE_PASSWORD):
            self._clear()
        elif step == Step.SELECT_METHOD:
            if self.via_pass and self._account is not None and self._account.enrolled:
                self._clear()
            elif self._recovering:
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
            self.step = Step.ENTER_SETUP_CODE
        elif step == Step.ENTER_RECOVERY_CODE:
            self.step = Step.ENTER_CODE
        return self.step
