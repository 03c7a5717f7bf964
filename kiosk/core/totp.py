"""TOTP: secrets, the otpauth URI, and verification with the window and the replay guard.

SHA1, 6 digits, 30-second steps (what every authenticator app supports). Verification returns the
matching time step; the caller records it with a compare-and-set so that a step, once accepted,
is never accepted again (RFC 6238 §5.2), however the code is spelled.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

import pyotp

from kiosk.errors import InvalidCodeError
from kiosk.i18n import N_
from kiosk.limits import CODE_DIGITS, ENTER_CODE_DIGITS_MESSAGE, MAX_CODE_INPUT

SECRET_BYTES = 20  # 160 bits, RFC 4226 R6
DIGITS = CODE_DIGITS
PERIOD = 30

_CODE_RE = re.compile(f"[0-9]{{{CODE_DIGITS}}}")

Clock = Callable[[], float]

REPLAYED_CODE_MESSAGE = N_(
    "That code was already used. Wait for the next code in your app and enter it."
)

WRONG_CODE_MESSAGE = N_(
    "That code didn't work. Enter the current code from your authenticator app. "
    "If it keeps failing, check that your phone's time is set automatically."
)


def new_secret() -> str:
    """A fresh base32 TOTP secret (160 bits from `secrets`)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def provisioning_uri(secret: str, email: str, organization: str) -> str:
    """otpauth://totp/Org:email?secret=...&issuer=Org (defaults omitted: a smaller QR)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=organization)


def compact_provisioning_uri(secret: str, email: str, organization: str) -> str:
    """The same credential with the label's issuer prefix left out (`issuer=` still names it).

    Shown only where the full URI's QR code would not fit the terminal (a long organisation
    name with a long email at 80x24): apps that read `issuer=` (all current ones) file it the
    same way; the full URI stays the default.
    """
    from urllib.parse import quote

    return f"otpauth://totp/{quote(email, safe='@')}?secret={secret}&issuer={quote(organization)}"


def format_secret_for_display(secret: str) -> str:
    """The key in groups of four, as people type it into an app."""
    clean = secret.rstrip("=")
    return " ".join(clean[i : i + 4] for i in range(0, len(clean), 4))


def parse_code(raw: str) -> str:
    """Exactly 6 ASCII digits after removing spaces; anything else is refused before any HMAC."""
    if len(raw) > MAX_CODE_INPUT:
        raise InvalidCodeError(ENTER_CODE_DIGITS_MESSAGE)
    code = raw.replace(" ", "").strip()
    if not _CODE_RE.fullmatch(code):
        raise InvalidCodeError(ENTER_CODE_DIGITS_MESSAGE)
    return code


def current_step(clock: Clock = time.time) -> int:
    return int(clock()) // PERIOD


def code_at_step(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).generate_otp(step)


# How far a wrong code is looked for, only to explain it: a phone whose clock is off by minutes is
# the most common reason a right-looking code fails. Such a match is never accepted.
DRIFT_REACH_STEPS = 20  # 10 minutes either side


def drift_steps(
    secret: str, code: str, *, window: int, clock: Clock = time.time, reach: int = DRIFT_REACH_STEPS
) -> int | None:
    """For a code outside the accepted window: the steps between the phone and this clock
    (negative: the phone is behind), or None when it matches no step within `reach`."""
    now = current_step(clock)
    totp = pyotp.TOTP(secret)
    found: int | None = None
    for offset in sorted(range(-reach, reach + 1), key=abs):
        if abs(offset) <= window:
            continue
        candidate = totp.generate_otp(now + offset)
        if hmac.compare_digest(candidate.encode(), code.encode()) and found is None:
            found = offset
    return found


# Whole sentences per direction and number (1 minute, or more: the drift is never under one),
# so each language words them its own way.
_DRIFT_BEHIND = (
    N_("Your phone's clock looks about {count} minute behind. Turn on automatic date and time "
       "on your phone, then enter the new code."),
    N_("Your phone's clock looks about {count} minutes behind. Turn on automatic date and time "
       "on your phone, then enter the new code."),
)
_DRIFT_AHEAD = (
    N_("Your phone's clock looks about {count} minute ahead. Turn on automatic date and time "
       "on your phone, then enter the new code."),
    N_("Your phone's clock looks about {count} minutes ahead. Turn on automatic date and time "
       "on your phone, then enter the new code."),
)


def _drift_minutes(steps: int) -> int:
    return max(1, int(abs(steps) * PERIOD / 60 + 0.5))


def clock_drift_template(steps: int) -> dict[str, Any]:
    """The clock-drift message as `KioskError` keyword arguments (template and params)."""
    minutes = _drift_minutes(steps)
    singular, plural = _DRIFT_BEHIND if steps < 0 else _DRIFT_AHEAD
    return {"template": singular if minutes == 1 else plural, "params": {"count": minutes}}


def clock_drift_message(steps: int) -> str:
    """Plain words for a phone clock `steps` time steps off (rounded to whole minutes)."""
    parts = clock_drift_template(steps)
    return str(parts["template"]).format(**parts["params"])


def matching_step(secret: str, code: str, *, window: int, clock: Clock = time.time) -> int | None:
    """The time step within ±window that `code` belongs to, or None. `code` is already parsed."""
    now = current_step(clock)
    totp = pyotp.TOTP(secret)
    found: int | None = None
    for offset in range(-window, window + 1):  # compare every candidate: no early exit
        candidate = totp.generate_otp(now + offset)
        if hmac.compare_digest(candidate.encode(), code.encode()) and found is None:
            found = now + offset
    return found
