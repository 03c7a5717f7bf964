"""The recovery code: one per account, single use, stored only as an argon2id hash.

25 Crockford base32 characters (125 bits from `secrets`), shown as five groups of five:
`XXXXX-XXXXX-XXXXX-XXXXX-XXXXX`. Entry ignores case, spaces and hyphens and reads O as 0 and
I/L as 1, so a code copied by hand still works.
"""

from __future__ import annotations

from kiosk.errors import InvalidRecoveryCodeError
from kiosk.i18n import N_

CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
GROUPS = 5
GROUP_LENGTH = 5
LENGTH = GROUPS * GROUP_LENGTH  # 25 characters × 5 bits = 125 bits
MAX_INPUT = 200

_READ_AS = {"O": "0", "I": "1", "L": "1"}

BAD_FORM_MESSAGE = N_(
    "A recovery code has 25 letters and digits, like XXXXX-XXXXX-XXXXX-XXXXX-XXXXX."
)
WRONG_CODE_MESSAGE = N_("That recovery code isn't valid, or it has already been used.")


def generate() -> str:
    """A new recovery code in its canonical form (no hyphens)."""
    import secrets  # here, not at the top: Sign in imports this module, and secrets loads OpenSSL

    return "".join(secrets.choice(CROCKFORD_ALPHABET) for _ in range(LENGTH))


def format_for_display(code: str) -> str:
    return "-".join(code[i : i + GROUP_LENGTH] for i in range(0, LENGTH, GROUP_LENGTH))


def parse(raw: str) -> str:
    """The canonical form of what a person typed, or `InvalidRecoveryCodeError`."""
    if len(raw) > MAX_INPUT:
        raise InvalidRecoveryCodeError(BAD_FORM_MESSAGE)
    cleaned = "".join(ch for ch in raw.upper() if ch not in " -\t")
    canonical = "".join(_READ_AS.get(ch, ch) for ch in cleaned)
    if len(canonical) != LENGTH or any(ch not in CROCKFORD_ALPHABET for ch in canonical):
        raise InvalidRecoveryCodeError(BAD_FORM_MESSAGE)
    return canonical
