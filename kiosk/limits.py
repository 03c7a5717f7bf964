"""Limits and input-shape messages shared by every layer: the UI's fields and the core's checks.

One home for each number, so that a field on a screen and the rule behind it cannot drift apart.
Importable before the store opens (no peewee, no crypto).
"""

from __future__ import annotations

from kiosk.i18n import N_

CODE_DIGITS = 6  # TOTP codes (RFC 6238 with 6 digits, what every authenticator app shows)
MAX_CODE_INPUT = 64  # longer input for a code is refused before any work
MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit
MAX_PASSWORD_LENGTH = 1024  # longer input is refused before argon2 runs

# Marked for the catalogs (kiosk/locale); translated where shown. The code length is a fixed 6
# in the words, so each language writes the number as it likes.
ENTER_CODE_DIGITS_MESSAGE = N_("Enter the 6 digits shown in your authenticator app.")
INVALID_EMAIL_MESSAGE = N_("Enter a valid email address, like name@example.com.")
