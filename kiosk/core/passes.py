"""Enrollment passes: one-time sign-ins IT staff issue after checking who a person is.

A pass stands in for the password once (Entra's Temporary Access Pass, Okta's Temporary Access
Code): a person without a password yet creates one and enrolls; a person who lost both phone and
recovery code sets up a new device. Ten Crockford base32 characters (50 bits) in two groups of
five, stored only as an argon2id hash, valid 30 minutes by default and 7 days at most; one live
pass per account (a new one withdraws the old). A pass is checked inside the same reservation as
the password it stands in for (core/factors.py), and consumed by the enrollment's one activation
transaction (core/activation.py), as a compare-and-set: two terminals cannot both use it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from kiosk.core import audit
from kiosk.core.accounts import normalize_email
from kiosk.core.audit import Event
from kiosk.core.context import CoreContext
from kiosk.core.values import IssuedPass
from kiosk.errors import KioskError, PassRefusedError, UnknownAccountError
from kiosk.i18n import N_
from kiosk.store.database import storage_errors, write_transaction
from kiosk.store.models import Account, EnrollmentPass

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PASS_LENGTH = 10  # 50 bits
GROUP = 5
DEFAULT_VALIDITY = timedelta(minutes=30)
MAX_VALIDITY = timedelta(days=7)
# Crockford's decoding: letters people confuse are read as the digits they look like.
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})

USED_MESSAGE = N_("This enrollment pass has already been used. Ask IT staff for a new one.")
EXPIRED_MESSAGE = N_("This enrollment pass has expired. Ask IT staff for a new one.")
REVOKED_MESSAGE = N_("This enrollment pass was withdrawn. Ask IT staff for a new one.")
NO_LONGER_VALID_MESSAGE = N_(
    "This enrollment pass is no longer valid, so nothing was saved. Ask IT staff for a new one."
)


class PassState(StrEnum):
    LIVE = "live"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"


_REFUSALS = {
    PassState.USED: USED_MESSAGE,
    PassState.EXPIRED: EXPIRED_MESSAGE,
    PassState.REVOKED: REVOKED_MESSAGE,
}


def generate() -> str:
    """A new pass, grouped for reading aloud: e.g. `7KQ2M-XR9TD`."""
    raw = "".join(secrets.choice(CROCKFORD) for _ in range(PASS_LENGTH))
    return f"{raw[:GROUP]}-{raw[GROUP:]}"


def normalize(text: str) -> str | None:
    """The pass as stored (ten upper-case Crockford characters), or None when `text` cannot
    be one: case, spaces, hyphens and the look-alike letters O, I and L do not matter."""
    if len(text) > 3 * PASS_LENGTH:
        return None
    cleaned = "".join(ch for ch in text.upper() if ch not in " -").translate(_READ_AS)
    if len(cleaned) != PASS_LENGTH or any(ch not in CROCKFORD for ch in cleaned):
        return None
    return cleaned


def parse_validity(text: str) -> timedelta:
    """`30m`, `8h`, `2d` (or a bare number of minutes) → a validity, at most 7 days."""
    units = {"m": 1, "h": 60, "d": 24 * 60}
    raw = text.strip().lower()
    unit = raw[-1:] if raw[-1:] in units else "m"
    number = raw[:-1] if raw[-1:] in units else raw
    if not number.isdigit() or int(number) == 0:
        raise KioskError(f"validity {text!r} is not like 30m, 8h or 2d")
    validity = timedelta(minutes=int(number) * units[unit])
    if validity > MAX_VALIDITY:
        raise KioskError("a pass is valid for at most 7 days (7d)")
    return validity


@dataclass(frozen=True)
class PassMatch:
    """The latest pass of an account matched what was typed: which pass, and whether live."""

    pass_id: int
    state: PassState

    def refusal(self) -> PassRefusedError:
        return PassRefusedError(_REFUSALS[self.state])


def state_of(row: EnrollmentPass, now: datetime) -> PassState:
    if row.used_at is not None:
        return PassState.USED
    if row.revoked_at is not None:
        return PassState.REVOKED
    if row.expires_at <= now:
        return PassState.EXPIRED
    return PassState.LIVE


class Passes:
    """Issue, withdraw, match and consume enrollment passes (the one owner of their rules)."""

    def __init__(self, ctx: CoreContext) -> None:
        self._ctx = ctx

    def issue(
        self, raw_email: str, *, valid: timedelta = DEFAULT_VALIDITY, staff: str
    ) -> IssuedPass:
        """A new pass for this account, withdrawing any live one. `staff` is who issued it."""
        if not timedelta(minutes=1) <= valid <= MAX_VALIDITY:
            raise KioskError("a pass is valid for 1 minute to 7 days")
        email = normalize_email(raw_email)
        text = generate()
        pass_hash = self._ctx.hasher.hash(normalize(text) or "")
        now = self._ctx.now()
        expires_at = now + valid
        with storage_errors("issue the pass"), write_transaction(self._ctx.db):
            account = Account.get_or_none(Account.email == email)
            if account is None:
                raise UnknownAccountError(f"no account for {email}")
            self._withdraw_live(account.id, now)
            EnrollmentPass.create(
                account=account.id,
                pass_hash=pass_hash,
                issued_at=now,
                issued_by=staff[:128],
                expires_at=expires_at,
            )
            audit.record(
                Event.PASS_ISSUED,
                email=email,
                source=f"staff:{staff}",
                detail=f"valid until {expires_at:%Y-%m-%d %H:%M} UTC",
            )
        return IssuedPass(email=email, text=text, expires_at=expires_at)

    def revoke(self, raw_email: str, *, staff: str) -> bool:
        """Withdraw the account's live pass; False when it had none."""
        email = normalize_email(raw_email)
        now = self._ctx.now()
        with storage_errors("withdraw the pass"), write_transaction(self._ctx.db):
            account = Account.get_or_none(Account.email == email)
            if account is None:
                raise UnknownAccountError(f"no account for {email}")
            withdrawn = self._withdraw_live(account.id, now)
            if withdrawn:
                audit.record(Event.PASS_REVOKED, email=email, source=f"staff:{staff}")
        return withdrawn > 0

    @staticmethod
    def _withdraw_live(account_id: int, now: datetime) -> int:
        return int(
            EnrollmentPass.update(revoked_at=now)
            .where(
                (EnrollmentPass.account == account_id)
                & EnrollmentPass.used_at.is_null()
                & EnrollmentPass.revoked_at.is_null()
                & (EnrollmentPass.expires_at > now)
            )
            .execute()
        )

    def latest(self, account_id: int) -> EnrollmentPass | None:
        """The account's most recent pass (any state): the only one a typed pass is tried on."""
        with storage_errors("read the account"):
            row: EnrollmentPass | None = (
                EnrollmentPass.select()
                .where(EnrollmentPass.account == account_id)
                .order_by(EnrollmentPass.id.desc())
                .first()
            )
        return row

    def match(self, account_id: int, typed: str) -> PassMatch | None:
        """Whether `typed` is the account's latest pass (one argon2 run, only when it is shaped
        like a pass and the account has one), and that pass's state."""
        normalized = normalize(typed)
        if normalized is None:
            return None
        row = self.latest(account_id)
        if row is None or not self._ctx.hasher.verify(row.pass_hash, normalized):
            return None
        return PassMatch(pass_id=row.id, state=state_of(row, self._ctx.now()))

    @staticmethod
    def consume(pass_id: int, account_id: int, now: datetime) -> bool:
        """Inside the activation's transaction: mark the pass used if it is still live
        (compare-and-set); False when it was used, withdrawn or expired meanwhile."""
        return bool(
            EnrollmentPass.update(used_at=now)
            .where(
                (EnrollmentPass.id == pass_id)
                & (EnrollmentPass.account == account_id)
                & EnrollmentPass.used_at.is_null()
                & EnrollmentPass.revoked_at.is_null()
                & (EnrollmentPass.expires_at > now)
            )
            .execute()
            == 1
        )
