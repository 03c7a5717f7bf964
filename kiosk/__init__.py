"""kiosk: a self-service terminal for enrolling and using an authenticator app (TOTP)."""

__version__ = "0.1.0"
