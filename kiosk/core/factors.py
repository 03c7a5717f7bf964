"""Checking the secrets a person offers: password, sign-in code, setup code, recovery code.

Every check follows the throttle's reserve → check → settle (core/throttle.py), for known and
unknown emails alike, and costs the same either way: an unknown email is checked against a
stand-in hash made with the parameters most stored hashes have, so a change of the [argon2]
settings does not tell one from the other while old hashes are still in use.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from dataclasses import dataclass
from typing import NoReturn

import peewee as pw

from kiosk.core import audit, recovery, totp
from kiosk.core.accounts import normalize_email
from kiosk.core.audit import Event
from kiosk.core.context import CoreContext
from kiosk.core.passes import Passes, PassMatch, PassState
from kiosk.core.throttle import AttemptThrottle, Reservation
from kiosk.core.values import AccountRef
from kiosk.errors import (
    AccountLockedError,
    AttemptsInFlightError,
    AuthenticationFailed,
    ConcurrentChangeError,
    InvalidCodeError,
    InvalidEmailError,
    InvalidRecoveryCodeError,
    NoAuthenticatorError,
)
from kiosk.i18n import N_
from kiosk.limits import MAX_PASSWORD_LENGTH
from kiosk.store.database import storage_errors, write_transaction
from kiosk.store.models import Account, Credential, RecoveryCode

log = logging.getLogger("kiosk.factors")

ACCOUNT_CHANGED_MESSAGE = N_(
    "This account's sign-in settings were changed from another terminal or by IT. "
    "Nothing was saved here; please sign in again."
)
_HASH_PARAMS = re.compile(r"^\$argon2id\$v=\d+\$m=(\d+),t=(\d+),p=(\d+)\$")
STAND_IN_REFRESH_SECONDS = 600.0
_STAND_IN_SAMPLE = 32


@dataclass(frozen=True)
class Argon2Params:
    memory_cost: int
    time_cost: int
    parallelism: int


def hash_params(stored_hash: str) -> Argon2Params | None:
    match = _HASH_PARAMS.match(stored_hash)
    if match is None:
        return None
    m, t, p = (int(g) for g in match.groups())
    return Argon2Params(memory_cost=m, time_cost=t, parallelism=p)


class FactorChecks:
    """The one owner of the question "is this secret right?", with the throttle applied."""

    def __init__(self, ctx: CoreContext, throttle: AttemptThrottle, passes: Passes) -> None:
        self._ctx = ctx
        self._throttle = throttle
        self._passes = passes
        self._stand_in: str | None = None
        self._stand_in_made = 0.0

    # ------------------------------------------------------------------ cost alike
    def stand_in_hash(self) -> str:
        """A hash nobody knows the password of, costing what most stored hashes cost."""
        fresh = time.monotonic() - self._stand_in_made < STAND_IN_REFRESH_SECONDS
        if self._stand_in is None or not fresh:
            params = self._usual_stored_params()
            self._stand_in = self._ctx.hasher.stand_in_hash(
                params.memory_cost, params.time_cost, params.parallelism
            )
            self._stand_in_made = time.monotonic()
        return self._stand_in

    def _usual_stored_params(self) -> Argon2Params:
        """The parameters most stored password hashes have (a sample of a few rows by id)."""
        import secrets

        hasher = self._ctx.hasher
        configured = Argon2Params(hasher.memory_cost, hasher.time_cost, hasher.parallelism)
        with storage_errors("read the accounts"):
            highest = Account.select(Account.id).order_by(Account.id.desc()).limit(1).scalar()
            if not highest:
                return configured
            ids = {secrets.randbelow(highest) + 1 for _ in range(_STAND_IN_SAMPLE)} | {highest}
            hashes = [
                row.password_hash
                for row in Account.select(Account.password_hash).where(Account.id.in_(list(ids)))
            ]
        counted = Counter(p for p in map(hash_params, hashes) if p is not None)
        if not counted:
            return configured
        # Ties go to the configured parameters: the ones every hash is moving to.
        best = max(counted.values())
        return configured if counted.get(configured) == best else counted.most_common(1)[0][0]

    def burn(self) -> None:
        """Spend what one check costs, for refusals that must not be faster than a check."""
        self._ctx.hasher.verify(self.stand_in_hash(), "-")

    # ------------------------------------------------------------------ password
    def check_password(self, raw_email: str, password: str, *, source: str) -> AccountRef:
        """The account for this email and password, or `AuthenticationFailed` (wrong email or
        password alike), `AccountLockedError`, `AttemptsInFlightError`, and with a directory
        `DirectoryUnavailable`.

        A password right for an account without an authenticator is a full sign-in (it is the
        account's only factor): it forgives the failures counted so far.
        """
        directory = self._ctx.settings.directory.enabled
        try:
            email = normalize_email(raw_email)
        except InvalidEmailError:
            if not directory:
                self.burn()
            raise AuthenticationFailed() from None
        if len(password) > MAX_PASSWORD_LENGTH:
            if not directory:
                self.burn()
            raise AuthenticationFailed()
        with storage_errors("read the account"):
            account = Account.get_or_none(Account.email == email)
        account_id = account.id if account is not None else None
        try:
            reservation = self._throttle.reserve(email, account_id)
        except (AccountLockedError, AttemptsInFlightError):
            if not directory:
                self.burn()
            raise
        if account is not None:
            matched = self._passes.match(account.id, password)
            if matched is not None:
                return self._settle_pass(reservation, account, matched, source)
        if directory:
            return self._check_directory_password(reservation, email, account, password, source)
        # An account without a password yet (made for a cohort) is checked like an unknown one.
        has_hash = account is not None and bool(account.password_hash)
        stored = account.password_hash if account is not None and has_hash else self.stand_in_hash()
        right = self._ctx.hasher.verify(stored, password) and has_hash
        if not right or account is None:
            self._throttle.settle_failure(
                reservation, email=email if account else None, source=source, factor="password"
            )
            raise AuthenticationFailed()
        enrolled = _is_enrolled(account.id)
        self._settle_success(reservation, clear_failures=not enrolled)
        self._rehash_if_needed(account, password)
        return AccountRef(
            id=account.id, email=email, version=account.mfa_version, enrolled=enrolled
        )

    def _settle_pass(
        self, reservation: Reservation, account: Account, matched: PassMatch, source: str
    ) -> AccountRef:
        """An enrollment pass typed in the Password field: right once, while it is live. It is
        not a full sign-in (failures stay counted until the enrollment it allows is saved)."""
        if matched.state != PassState.LIVE:
            self._throttle.settle_failure(
                reservation, email=account.email, source=source, factor=f"{matched.state} pass"
            )
            raise matched.refusal()
        self._settle_success(reservation, clear_failures=False)
        return AccountRef(
            id=account.id,
            email=account.email,
            version=account.mfa_version,
            enrolled=_is_enrolled(account.id),
            has_password=account.has_password,
            pass_id=matched.pass_id,
        )

    def _check_directory_password(
        self,
        reservation: Reservation,
        email: str,
        account: Account | None,
        password: str,
        source: str,
    ) -> AccountRef:
        """The password checked by the directory, inside this attempt's reservation. A first
        right sign-in creates the kiosk account (no local password). An unreachable directory
        is neither right nor wrong: the attempt is not counted (an outage must not lock
        everyone out), and there is never a fall-back to a local password."""
        from kiosk.core.directory import Directory
        from kiosk.errors import DirectoryRefused, DirectoryUnavailable

        ctx = self._ctx
        try:
            person = Directory.for_settings(ctx.settings).authenticate(email, password)
        except DirectoryRefused as refused:
            log.info("directory refused a sign-in at step %s", refused.step or "?")
            self._throttle.settle_failure(
                reservation,
                email=email if account is not None else None,
                source=source,
                factor="password (directory)",
            )
            raise AuthenticationFailed() from None
        except DirectoryUnavailable as down:
            self._throttle.release(reservation)
            log.warning("directory unavailable at step %s: %s", down.step or "?", down.reason)
            with storage_errors("record the attempt"), write_transaction(ctx.db):
                audit.record(
                    Event.DIRECTORY_UNAVAILABLE, email=None, source=source, detail=down.step[:64]
                )
            raise
        account = self._directory_account(email, account, person.display_name or None, source)
        enrolled = _is_enrolled(account.id)
        self._settle_success(reservation, clear_failures=not enrolled)
        return AccountRef(
            id=account.id, email=email, version=account.mfa_version, enrolled=enrolled
        )

    def _directory_account(
        self, email: str, account: Account | None, name: str | None, source: str
    ) -> Account:
        """The kiosk account of a person the directory accepted, created on the first sign-in
        (no local password; two sessions creating it at once both get the one row)."""
        ctx = self._ctx
        with storage_errors("update the account"):
            if account is None:
                try:
                    with write_transaction(ctx.db):
                        account = Account.create(
                            email=email,
                            password_hash="",
                            password_source="directory",
                            display_name=name,
                            created_at=ctx.now(),
                        )
                        audit.record(
                            Event.USER_ADDED, email=email, source=source, detail="directory"
                        )
                    return account
                except pw.IntegrityError:
                    account = Account.get(Account.email == email)
            if account.password_source != "directory" or account.display_name != name:
                Account.update(password_source="directory", display_name=name).where(
                    Account.id == account.id
                ).execute()
        return account

    def _rehash_if_needed(self, account: Account, password: str) -> None:
        """Stored hashes move to the configured [argon2] settings on their next right check."""
        hasher = self._ctx.hasher
        if not hasher.needs_rehash(account.password_hash):
            return
        new_hash = hasher.hash(password)
        with storage_errors("update the account"):
            # Compare-and-set on the hash just verified: a password an admin set meanwhile
            # must not be overwritten by the rehash of the old one.
            Account.update(password_hash=new_hash).where(
                (Account.id == account.id) & (Account.password_hash == account.password_hash)
            ).execute()

    def _settle_success(self, reservation: Reservation, *, clear_failures: bool) -> None:
        with storage_errors("record the attempt"), write_transaction(self._ctx.db):
            locked_until = self._throttle.lock_in_force(reservation)
            if locked_until is None:
                self._throttle.settle_success(reservation, clear_failures=clear_failures)
        if locked_until is not None:
            self._throttle.release(reservation)
            raise AccountLockedError(locked_until)

    # ------------------------------------------------------------------ sign-in code
    def check_code(
        self, account: AccountRef, raw_code: str, *, source: str, detail: str = "code"
    ) -> int:
        """Verify a sign-in code and record its step (replay guard); returns the step.

        Malformed input is refused before any HMAC and not counted; a wrong or replayed code
        counts toward the lock. A right one is a full sign-in: it forgives earlier failures.
        """
        code = totp.parse_code(raw_code)
        reservation = self._throttle.reserve(account.email, account.id)
        with storage_errors("read the account"):
            credential = Credential.get_or_none(Credential.account == account.id)
        if credential is None:  # reset while this session was at the code step
            self._throttle.release(reservation)
            raise ConcurrentChangeError(ACCOUNT_CHANGED_MESSAGE)
        return self._check_totp(reservation, account, credential, code, source, detail)

    def _check_totp(
        self,
        reservation: Reservation,
        account: AccountRef,
        credential: Credential,
        code: str,
        source: str,
        detail: str,
    ) -> int:
        ctx = self._ctx
        secret = ctx.keys.decrypt_secret(credential)
        window = ctx.settings.security.totp_window
        step = totp.matching_step(secret, code, window=window, clock=ctx.clock)
        if step is None:
            self._refuse_wrong_code(reservation, account, secret, code, source, detail)
        outcome = "ok"
        locked_until = None
        with storage_errors("record the sign-in"), write_transaction(ctx.db):
            if not _unchanged(account):
                outcome = "changed"
            elif (locked_until := self._throttle.lock_in_force(reservation)) is not None:
                outcome = "locked"
            elif _advance_replay_guard(credential.id, step):
                self._throttle.settle_success(reservation, clear_failures=True)
                Account.update(last_sign_in_at=ctx.now()).where(Account.id == account.id).execute()
                audit.record(Event.SIGN_IN_OK, email=account.email, source=source, detail=detail)
            else:
                outcome = "replayed"
                audit.record(
                    Event.REPLAY_REFUSED, email=account.email, source=source, detail=detail
                )
        if outcome == "changed":
            self._throttle.release(reservation)
            raise ConcurrentChangeError(ACCOUNT_CHANGED_MESSAGE)
        if outcome == "locked":
            assert locked_until is not None
            self._throttle.release(reservation)
            raise AccountLockedError(locked_until)
        if outcome == "replayed":
            self._throttle.settle_failure(
                reservation, email=account.email, source=source, factor=f"replayed {detail}"
            )
            raise InvalidCodeError(totp.REPLAYED_CODE_MESSAGE)
        return step

    # ------------------------------------------------------------------ setup code
    def check_setup_code(
        self,
        account: AccountRef,
        secret: str,
        raw_code: str,
        *,
        after_step: int | None,
        source: str,
    ) -> int:
        """The first code from a new device (its secret still only in the session's memory).

        Counted like every other secret. A code of a step already confirmed in this session
        (entered again after going back) is refused without counting.
        """
        code = totp.parse_code(raw_code)
        reservation = self._throttle.reserve(account.email, account.id)
        window = self._ctx.settings.security.totp_window
        step = totp.matching_step(secret, code, window=window, clock=self._ctx.clock)
        if step is not None and after_step is not None and step <= after_step:
            self._throttle.release(reservation)
            raise InvalidCodeError(totp.REPLAYED_CODE_MESSAGE)
        if step is None:
            self._refuse_wrong_code(reservation, account, secret, code, source, "setup code")
        self._settle_success(reservation, clear_failures=False)
        return step

    def _refuse_wrong_code(
        self,
        reservation: Reservation,
        account: AccountRef,
        secret: str,
        code: str,
        source: str,
        factor: str,
    ) -> NoReturn:
        """Count a wrong code and say why, when it can be told: a code of a step minutes away
        means the phone's clock is off. The audit row keeps the drift in steps, never the code."""
        ctx = self._ctx
        window = ctx.settings.security.totp_window
        drift = totp.drift_steps(secret, code, window=window, clock=ctx.clock)
        detail = factor if drift is None else f"{factor}; phone clock {drift:+d} steps"
        self._throttle.settle_failure(
            reservation, email=account.email, source=source, factor=detail
        )
        if drift is None:
            raise InvalidCodeError(totp.WRONG_CODE_MESSAGE)
        raise InvalidCodeError(totp.clock_drift_message(drift), **totp.clock_drift_template(drift))

    # ------------------------------------------------------------------ recovery code
    def check_recovery_code(self, account: AccountRef, raw_code: str, *, source: str) -> int:
        """The id of the account's unused recovery code matching `raw_code` (consumed only
        when the new device is activated)."""
        code = recovery.parse(raw_code)
        reservation = self._throttle.reserve(account.email, account.id)
        with storage_errors("read the account"):
            row = RecoveryCode.get_or_none(
                (RecoveryCode.account == account.id) & RecoveryCode.used_at.is_null()
            )
        if row is None:
            self.burn()
            right = False
        else:
            right = self._ctx.hasher.verify(row.code_hash, code)
        if not right or row is None:
            self._throttle.settle_failure(
                reservation, email=account.email, source=source, factor="recovery code"
            )
            raise InvalidRecoveryCodeError(recovery.WRONG_CODE_MESSAGE)
        self._settle_success(reservation, clear_failures=False)
        return int(row.id)

    # ------------------------------------------------------------------ kiosk verify
    def verify_for_external(self, raw_email: str, raw_code: str, *, source: str) -> None:
        """`kiosk verify`: accept, or raise. An unknown email and an account without an
        authenticator get the same refusal at the same cost, and both count."""
        code = totp.parse_code(raw_code)
        try:
            email = normalize_email(raw_email)
        except InvalidEmailError:
            raise NoAuthenticatorError() from None
        with storage_errors("read the account"):
            account = Account.get_or_none(Account.email == email)
            credential = (
                Credential.get_or_none(Credential.account == account.id) if account else None
            )
        reservation = self._throttle.reserve(email, account.id if account else None)
        if account is None or credential is None:
            # The work a real check does (decrypt a secret, then TOTP), on a secret nobody has:
            # each `kiosk verify` is a new process, and loading the cipher alone takes longer
            # than the check, so skipping it would tell an unknown email from a known one.
            secret = self._ctx.keys.stand_in_secret()
            totp.matching_step(secret, code, window=1, clock=self._ctx.clock)
            self._throttle.settle_failure(
                reservation, email=email if account else None, source=source, factor="verify"
            )
            raise NoAuthenticatorError()
        ref = AccountRef(id=account.id, email=email, version=account.mfa_version, enrolled=True)
        self._check_totp(reservation, ref, credential, code, source, "verify")


def _is_enrolled(account_id: int) -> bool:
    with storage_errors("read the account"):
        return bool(Credential.select().where(Credential.account == account_id).exists())


def _unchanged(account: AccountRef) -> bool:
    """Whether the account still has the sign-in settings the session checked."""
    return bool(
        Account.select()
        .where((Account.id == account.id) & (Account.mfa_version == account.version))
        .exists()
    )


def _advance_replay_guard(credential_id: str, step: int) -> bool:
    """Record `step` as used, if no later or equal step was: True when this call won."""
    won = (
        Credential.update(last_used_step=step)
        .where(
            (Credential.id == credential_id)
            & (Credential.last_used_step.is_null() | (Credential.last_used_step < step))
        )
        .execute()
    )
    return bool(won)
