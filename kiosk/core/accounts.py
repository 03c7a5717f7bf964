"""Accounts: email normalisation, the password policy, and argon2id hashing."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

from kiosk.errors import InvalidEmailError, PasswordPolicyError
from kiosk.i18n import N_
from kiosk.limits import INVALID_EMAIL_MESSAGE, MAX_EMAIL_LENGTH, MAX_PASSWORD_LENGTH

if TYPE_CHECKING:
    from argon2 import PasswordHasher

    from kiosk.config import Argon2Settings
    from kiosk.core.cpu_gate import CpuGate

T = TypeVar("T")

ARGON2_HASH_BYTES = 32  # argon2-cffi's defaults, stated so that `dummy_hash` matches them
ARGON2_SALT_BYTES = 16
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


def normalize_email(raw: str) -> str:
    """Trimmed and case-folded; the same address in another case is the same account."""
    email = raw.strip().casefold()
    if (
        not email
        or len(email) > MAX_EMAIL_LENGTH
        or any(unicodedata.category(ch)[0] in "CZ" for ch in email)  # controls, spaces
        or not _EMAIL_RE.fullmatch(email)
    ):
        raise InvalidEmailError(INVALID_EMAIL_MESSAGE)
    return email


# What the policy says, for people choosing a password (Create Your Password) and admins alike.
POLICY_TEMPLATE = N_("At least {count} characters. A few unrelated words make a strong password.")
_EMPTY = N_("The password can't be empty or only spaces.")
_TOO_SHORT = N_("The password must have at least {count} characters.")
_TOO_LONG = N_("The password must have at most {count} characters.")
_NUL = N_("The password contains a character that can't be used.")


def check_password_policy(password: str, min_length: int) -> None:
    """For new passwords (set by an admin, or created after an enrollment pass)."""
    if not password or not password.strip():
        raise PasswordPolicyError(_EMPTY)
    if len(password) < min_length:
        raise _policy_error(_TOO_SHORT, min_length)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise _policy_error(_TOO_LONG, MAX_PASSWORD_LENGTH)
    if "\x00" in password:
        raise PasswordPolicyError(_NUL)


def _policy_error(template: str, count: int) -> PasswordPolicyError:
    return PasswordPolicyError(
        template.format(count=count), template=template, params={"count": count}
    )


@dataclass(frozen=True)
class Hasher:
    """argon2id with the configured parameters; imported lazily (argon2 is not needed to start).

    With a `gate`, every run (hash, verify, and the dummy verify of a refusal alike, so their
    timing stays the same) waits for one of the machine-wide CPU slots first: see cpu_gate.py.
    """

    time_cost: int = 3
    memory_cost: int = 65536
    parallelism: int = 4
    gate: CpuGate | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Argon2Settings, gate: CpuGate | None = None) -> Hasher:
        return cls(settings.time_cost, settings.memory_cost, settings.parallelism, gate)

    def _run(self, call: Callable[[], T]) -> T:
        if self.gate is None:
            return call()
        with self.gate.slot():
            return call()

    @cached_property
    def _hasher(self) -> PasswordHasher:
        from argon2 import PasswordHasher, Type

        return PasswordHasher(
            time_cost=self.time_cost,
            memory_cost=self.memory_cost,
            parallelism=self.parallelism,
            hash_len=ARGON2_HASH_BYTES,
            salt_len=ARGON2_SALT_BYTES,
            type=Type.ID,
        )

    def stand_in_hash(self, memory_cost: int, time_cost: int, parallelism: int) -> str:
        """A hash of nothing anyone knows: verifying against it costs what verifying a real
        hash with these parameters costs.

        Encoded from random salt and tag rather than computed: a verify derives the tag again
        at full cost whatever the stored tag is, so it costs the same, while making it costs no
        argon2 run (nor its memory).
        """
        import base64
        import secrets

        def b64(data: bytes) -> str:
            return base64.b64encode(data).decode("ascii").rstrip("=")

        salt = secrets.token_bytes(ARGON2_SALT_BYTES)
        tag = secrets.token_bytes(ARGON2_HASH_BYTES)
        return (
            f"$argon2id$v=19$m={memory_cost},t={time_cost},p={parallelism}"
            f"${b64(salt)}${b64(tag)}"
        )

    def hash(self, secret: str) -> str:
        hasher = self._hasher  # imported before a slot is taken: the slot is for argon2 only
        return self._run(lambda: hasher.hash(secret))

    def verify(self, stored_hash: str, candidate: str) -> bool:
        from argon2.exceptions import InvalidHashError, VerificationError

        hasher = self._hasher
        try:
            return self._run(lambda: hasher.verify(stored_hash, candidate))
        except (VerificationError, InvalidHashError, ValueError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        from argon2.exceptions import InvalidHashError

        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except (InvalidHashError, ValueError):
            return True
