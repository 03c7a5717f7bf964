"""The steps of the flow and the methods on offer, apart from the flow itself.

Kept free of the store (peewee) and crypto imports so the UI can name steps, and paint the Sign in
screen, before the database has even been opened.
"""

from __future__ import annotations

from enum import StrEnum


class Step(StrEnum):
    """One per screen of the vendor's guide (see `kiosk.core.flow` for the transitions)."""

    SIGN_IN = "sign_in"
    CREATE_PASSWORD = "create_password"
    MFA_REQUIRED = "mfa_required"
    SELECT_METHOD = "select_method"
    SCAN_QR = "scan_qr"
    ENTER_SETUP_CODE = "enter_setup_code"
    SAVE_RECOVERY_CODE = "save_recovery_code"
    ENTER_CODE = "enter_code"
    ENTER_RECOVERY_CODE = "enter_recovery_code"
    SIGNED_IN = "signed_in"


class Method(StrEnum):
    AUTHENTICATOR_APP = "authenticator_app"


class Stage(StrEnum):
    """How far a person got in enrolling, as the onboarding board shows it (core/cohorts.py).

    The kiosk records each stage a person reaches as a progress row; `ENROLLED` is recorded by
    the activation itself, and IT's reset records `NOT_STARTED`.
    """

    NOT_STARTED = "not_started"
    SIGNED_IN = "signed_in"
    SETTING_UP = "setting_up"  # the QR or the key was shown
    CODE_CONFIRMED = "code_confirmed"
    ENROLLED = "enrolled"


STAGES: tuple[Stage, ...] = tuple(Stage)
