"""No plaintext secret, code, recovery code, password or otpauth URI anywhere in the store."""

from __future__ import annotations

import base64

import psycopg2

from kiosk.config import Settings
from kiosk.core import recovery, totp
from kiosk.core.flow import AuthFlow, Method
from kiosk.core.service import KioskService
from kiosk.store.models import ALL_MODELS

from .conftest import SOURCE, FakeClock, enroll, is_postgres, recover, sqlite_path

PASSWORD = "Plaintext-Canary-Passw0rd"


def _needles(secrets: list[str], codes: list[str], uris: list[str]) -> dict[str, bytes]:
    needles: dict[str, bytes] = {"password": PASSWORD.encode()}
    for i, secret in enumerate(secrets):
        raw = base64.b32decode(secret)
        needles[f"secret{i} base32"] = secret.encode()
        needles[f"secret{i} base32 lower"] = secret.lower().encode()
        needles[f"secret{i} grouped"] = totp.format_secret_for_display(secret).encode()
        needles[f"secret{i} raw"] = raw
        needles[f"secret{i} hex"] = raw.hex().encode()
        needles[f"secret{i} base64"] = base64.b64encode(raw)
    for i, code in enumerate(codes):
        needles[f"recovery{i} shown"] = code.encode()
        needles[f"recovery{i} canonical"] = recovery.parse(code).encode()
        needles[f"recovery{i} lower"] = recovery.parse(code).lower().encode()
    for i, uri in enumerate(uris):
        needles[f"uri{i}"] = uri.encode()
        needles[f"uri{i} prefix"] = b"otpauth://"
    return needles


def test_nothing_secret_is_stored_in_plaintext(settings: Settings, clock: FakeClock) -> None:
    svc = KioskService.open(settings, clock=clock)
    try:
        # a pending enrollment that was abandoned must not leave its secret behind either
        svc.accounts.add_user("walker@example.com", PASSWORD)
        walker = AuthFlow(svc, SOURCE)
        walker.submit_password("walker@example.com", PASSWORD)
        walker.start_setup()
        abandoned = walker.choose_method(Method.AUTHENTICATOR_APP)
        walker.continue_to_code()
        abandoned_code = walker.verify_setup_code(totp.code_at_step(abandoned.secret, clock.step))

        who = enroll(svc, "canary@example.com", PASSWORD)
        clock.advance(30)
        sign_in = AuthFlow(svc, SOURCE)
        sign_in.submit_password(who.email, PASSWORD)
        sign_in.submit_code(totp.code_at_step(who.secret, clock.step))
        clock.advance(30)
        _, new = recover(svc, who)
        clock.advance(30)
        svc.factors.verify_for_external(
            who.email, totp.code_at_step(new.secret, clock.step), source="verify:test"
        )

        secrets = [who.secret, new.secret, abandoned.secret]
        codes = [who.recovery_code, new.recovery_code, abandoned_code]
        uris = [totp.provisioning_uri(s, who.email, "Procore") for s in secrets]
        needles = _needles(secrets, codes, uris)

        if is_postgres(settings):
            haystack = _postgres_dump(settings)
        else:
            path = sqlite_path(settings)
            haystack = b""
            for suffix in ("", "-wal", "-shm"):  # read while open: the WAL holds recent pages
                part = path.with_name(path.name + suffix)
                if part.exists():
                    haystack += part.read_bytes()
            assert b"canary@example.com" in haystack  # the search does see stored text
        found = [name for name, needle in needles.items() if needle in haystack]
        assert found == []
    finally:
        svc.close()
    if not is_postgres(settings):  # and after the WAL is checkpointed into the main file
        data = sqlite_path(settings).read_bytes()
        assert [name for name, needle in needles.items() if needle in data] == []


def _postgres_dump(settings: Settings) -> bytes:
    conn = psycopg2.connect(settings.database_url)
    try:
        with conn.cursor() as cur:
            text = []
            for model in ALL_MODELS:
                table = model._meta.table_name
                cur.execute(f'SELECT t::text FROM "{table}" AS t')  # noqa: S608 - our own names
                text += [row[0] for row in cur.fetchall()]
                cur.execute(f'SELECT row_to_json(t)::text FROM "{table}" AS t')  # noqa: S608
                text += [row[0] for row in cur.fetchall()]
            assert any("canary@example.com" in line for line in text)
            return "\n".join(text).encode()
    finally:
        conn.close()
