"""One exception hierarchy. Every message is safe to show the person at the terminal.

No message ever contains a secret, a code, a recovery code or a password: messages are fixed
sentences, optionally with an email address, a file path or a time.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from kiosk.i18n import N_

log = logging.getLogger("kiosk")


# What people read, marked for the catalogs (kiosk/locale) and translated where shown.
SIGN_IN_REFUSED_MESSAGE = N_("That email and password don't match an account. Please try again.")
# {time} is the lock's end as hours and minutes, formatted for the language (UTC).
LOCKED_TEMPLATE = N_(
    "Too many failed attempts. For your security, try again after {time} UTC, "
    "or ask IT to unlock your account."
)
ATTEMPTS_IN_FLIGHT_MESSAGE = N_(
    "Too many sign-in attempts for this account are being checked right now. "
    "Wait a minute, then try again."
)
NOT_SAVED_MESSAGE = N_("Please confirm that you have securely saved your recovery code.")
DIRECTORY_UNAVAILABLE_MESSAGE = N_(
    "The sign-in service can't be reached; try again shortly or ask IT staff."
)


class KioskError(Exception):
    """Base class: `str(error)` is one line fit for a person or an admin (in English).

    A message with values is a whole sentence with named placeholders: `template` (marked with
    `N_`, `{name}` placeholders) and `params`, so a front end shows it in the person's language
    as `_(template).format(**params)` (times formatted for that language first). Without a
    template the message itself is the catalog's message id.
    """

    def __init__(
        self,
        message: str,
        *,
        template: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.template = template if template is not None else message
        self.params: dict[str, Any] = dict(params or {})

    def __str__(self) -> str:
        return self.message


class ConfigError(KioskError):
    """The configuration file is missing, unreadable or has a wrong key or value."""


class StorageError(KioskError):
    """The database cannot be opened, read or written."""


class SchemaTooNewError(StorageError):
    """The database was written by a newer kiosk; this one will not touch it."""


class VaultError(KioskError):
    """The encryption key is missing, malformed or does not unlock the stored secrets."""


class InvalidEmailError(KioskError):
    """An email address that cannot be an account name."""


class PasswordPolicyError(KioskError):
    """A new password that does not meet the policy (admin side)."""


class AccountExistsError(KioskError):
    """An account with that email already exists."""


class UnknownAccountError(KioskError):
    """Admin side only: there is no such account. Never raised to a person signing in."""


class NoAuthenticatorError(KioskError):
    """`kiosk verify`: the same refusal for an unknown email and an account without an app."""

    def __init__(self) -> None:
        super().__init__("no account with an authenticator app for that email")  # admin CLI


class AuthenticationFailed(KioskError):
    """Wrong email or password. One message for every cause, so it tells an attacker nothing."""

    def __init__(self) -> None:
        super().__init__(SIGN_IN_REFUSED_MESSAGE)


class AccountLockedError(KioskError):
    """Too many failed attempts: nothing is evaluated until `locked_until`."""

    def __init__(self, locked_until: datetime) -> None:
        self.locked_until = locked_until
        when = locked_until.strftime("%H:%M")
        super().__init__(
            LOCKED_TEMPLATE.format(time=when),
            template=LOCKED_TEMPLATE,
            params={"time": locked_until},
        )


class AttemptsInFlightError(KioskError):
    """As many attempts as the lock allows are being checked right now for this email."""

    def __init__(self) -> None:
        super().__init__(ATTEMPTS_IN_FLIGHT_MESSAGE)


class InvalidCodeError(KioskError):
    """A 6-digit code that is wrong, expired, replayed or malformed."""


class InvalidRecoveryCodeError(KioskError):
    """A recovery code that is wrong, already used, or not in the right form."""


class FlowError(KioskError):
    """A step was asked for out of order (e.g. finishing before the code was checked)."""


class RecoveryCodeNotSavedError(FlowError):
    """Finishing enrollment without confirming the recovery code was saved."""

    def __init__(self) -> None:
        super().__init__(NOT_SAVED_MESSAGE)


class PassRefusedError(KioskError):
    """An enrollment pass that was right once but is used, expired or withdrawn now."""


class CohortError(KioskError):
    """Admin side: a cohort that does not exist, exists already, or a bad member list."""


class ConcurrentChangeError(KioskError):
    """The account changed under this session (another terminal, or an admin)."""


class DirectoryRefused(AuthenticationFailed):
    """The directory did not accept this person: wrong password, unknown or ambiguous email,
    empty password, or not a member of the required group.

    One class and the generic sign-in message for every cause; `reason` (and `step`) are for
    logs and `kiosk directory test`, never for the person at the terminal.
    """

    def __init__(self, reason: str, step: str = "") -> None:
        super().__init__()
        self.reason = reason
        self.step = step


class DirectoryUnavailable(KioskError):
    """No directory server could answer: unreachable, timed out, TLS refused, a referral, or
    the server went away mid-session. Never a reason to fall back to a local password.

    `reason` (and `step`) are for logs and `kiosk directory test`; the message stays calm.
    """

    def __init__(self, reason: str, step: str = "") -> None:
        super().__init__(DIRECTORY_UNAVAILABLE_MESSAGE)
        self.reason = reason
        self.step = step


def report_unexpected(exc: BaseException) -> str:
    """Log an unexpected error with a short reference and return the reference.

    Only the log gets the traceback (the log is private; frames hold no locals there); the
    person or admin gets the reference, on one line.
    """
    reference = new_reference()
    log.error("unexpected error, reference %s", reference, exc_info=exc)
    return reference


def new_reference() -> str:
    """Eight random hex digits that tie a person's or admin's one line to the log's record."""
    import secrets

    return secrets.token_hex(4).upper()
