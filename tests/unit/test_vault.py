"""Secrets at rest: AES-256-GCM bound to its row, a key that must fit, private files."""

from __future__ import annotations

import base64
import os
import secrets
import stat
from dataclasses import replace

import pytest

from kiosk.config import Settings
from kiosk.core import totp
from kiosk.core.service import KioskService
from kiosk.core.vault import Keyring, format_keyring, parse_keyring, secret_associated_data
from kiosk.errors import VaultError
from kiosk.store.models import Credential
from tests.conftest import wait_for

from .conftest import SOURCE, FakeClock, enroll, is_postgres, sqlite_path


def _sign_in_code(svc: KioskService, email: str, secret: str, clock: FakeClock) -> None:
    account = svc.factors.check_password(email, "correct horse battery", source=SOURCE)
    clock.advance(30)
    svc.factors.check_code(account, totp.code_at_step(secret, clock.step), source=SOURCE)


def test_keyring_round_trip_and_binding() -> None:
    ring = Keyring({1: secrets.token_bytes(32)}, "test")
    ad = secret_associated_data(1, "abc", 1)
    blob = ring.encrypt(b"JBSWY3DPEHPK3PXP", ad)
    assert len(blob) == 12 + 16 + 16  # fresh 96-bit nonce + ciphertext + tag
    assert ring.encrypt(b"JBSWY3DPEHPK3PXP", ad)[:12] != blob[:12]
    assert ring.decrypt(blob, ad, 1) == b"JBSWY3DPEHPK3PXP"
    for other in (secret_associated_data(2, "abc", 1), secret_associated_data(1, "abd", 1)):
        with pytest.raises(VaultError):
            ring.decrypt(blob, other, 1)
    flipped = bytearray(blob)
    flipped[20] ^= 1
    with pytest.raises(VaultError):
        ring.decrypt(bytes(flipped), ad, 1)
    with pytest.raises(VaultError):
        Keyring({1: secrets.token_bytes(32)}, "other").decrypt(blob, ad, 1)
    assert parse_keyring(format_keyring(ring), "x").keys == ring.keys


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# nothing\n",
        "1 not-base64!!",
        "1 " + "QUJD",
        "x " + base64.b64encode(bytes(32)).decode(),
    ],
)
def test_malformed_key_text_is_a_clear_error(text: str) -> None:
    with pytest.raises(VaultError) as info:
        parse_keyring(text, "kiosk.key")
    assert "kiosk.key" in str(info.value)


def test_tampered_ciphertext_is_refused(svc: KioskService, clock: FakeClock) -> None:
    who = enroll(svc, "bob@example.com")
    credential = Credential.get()
    blob = bytearray(bytes(credential.secret_ciphertext))
    blob[-1] ^= 0x01
    Credential.update(secret_ciphertext=bytes(blob)).execute()
    with pytest.raises(VaultError) as info:
        _sign_in_code(svc, who.email, who.secret, clock)
    assert who.secret not in str(info.value)


def test_ciphertext_swapped_to_another_account_is_refused(
    svc: KioskService, clock: FakeClock
) -> None:
    alice = enroll(svc, "alice@example.com")
    bob = enroll(svc, "bob@example.com")
    alice_row = Credential.get(Credential.account == svc.accounts.find(alice.email).id)
    # bob's row gets alice's ciphertext: if it decrypted, alice's codes would open bob's account
    Credential.update(secret_ciphertext=alice_row.secret_ciphertext).where(
        Credential.id != alice_row.id
    ).execute()
    with pytest.raises(VaultError):
        _sign_in_code(svc, bob.email, alice.secret, clock)
    with pytest.raises(VaultError):
        _sign_in_code(svc, bob.email, bob.secret, clock)
    _sign_in_code(svc, alice.email, alice.secret, clock)


def test_ciphertext_moved_to_another_credential_row_is_refused(
    svc: KioskService, clock: FakeClock
) -> None:
    who = enroll(svc, "bob@example.com")
    row = Credential.get()
    # same account, another credential id (as if an older credential's blob were restored)
    Credential.update(id="f" * 32).where(Credential.id == row.id).execute()
    with pytest.raises(VaultError):
        _sign_in_code(svc, who.email, who.secret, clock)


def test_wrong_key_file_is_a_clear_error_at_open(
    svc: KioskService, settings: Settings, clock: FakeClock
) -> None:
    enroll(svc, "bob@example.com")
    svc.close()
    settings.key_path.write_text(format_keyring(Keyring({1: secrets.token_bytes(32)}, "x")))
    with pytest.raises(VaultError) as info:
        KioskService.open(settings, clock=clock)
    assert "does not unlock" in str(info.value) and str(settings.key_path) in str(info.value)
    if is_postgres(settings):  # the refused open left no connection behind
        import psycopg2

        name = settings.database_url.rsplit("/", 1)[1]
        conn = psycopg2.connect(settings.database_url.rsplit("/", 1)[0] + "/postgres")
        conn.autocommit = True

        def backends() -> int:
            with conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,))
                return cur.fetchone()[0]

        try:  # a closed client's backend exits asynchronously: allow it a moment
            assert wait_for(lambda: backends() == 0, timeout=10), backends()
        finally:
            conn.close()


def test_wrong_key_is_refused_even_before_any_enrollment(
    svc: KioskService, settings: Settings
) -> None:
    svc.close()
    settings.key_path.write_text(format_keyring(Keyring({1: secrets.token_bytes(32)}, "x")))
    with pytest.raises(VaultError):
        KioskService.open(settings)


def test_missing_key_file_with_secrets_is_an_error_not_a_new_key(
    svc: KioskService, settings: Settings
) -> None:
    enroll(svc, "bob@example.com")
    svc.close()
    settings.key_path.unlink()
    with pytest.raises(VaultError) as info:
        KioskService.open(settings)
    assert "not found" in str(info.value)
    assert not settings.key_path.exists()


def test_key_file_and_database_file_are_private(svc: KioskService, settings: Settings) -> None:
    enroll(svc, "bob@example.com")
    assert stat.S_IMODE(settings.key_path.stat().st_mode) == 0o600
    if not is_postgres(settings):
        db_file = sqlite_path(settings)
        assert stat.S_IMODE(db_file.stat().st_mode) == 0o600
        wal = db_file.with_name(db_file.name + "-wal")
        if wal.exists():
            assert stat.S_IMODE(wal.stat().st_mode) == 0o600


def test_key_from_the_environment(settings: Settings, clock: FakeClock) -> None:
    ring = Keyring({1: secrets.token_bytes(32)}, "env")
    env_value = ";".join(format_keyring(ring).splitlines()[1:])  # one line, ;-separated
    svc = KioskService.open(settings, key_env=env_value, clock=clock)
    try:
        who = enroll(svc, "bob@example.com")
        _sign_in_code(svc, who.email, who.secret, clock)
        assert not settings.key_path.exists()  # no key file created when the variable is set
    finally:
        svc.close()
    with pytest.raises(VaultError):  # the database now needs that key
        KioskService.open(settings, clock=clock)
    assert not settings.key_path.exists()
    other = format_keyring(Keyring({1: secrets.token_bytes(32)}, "env"))
    with pytest.raises(VaultError):
        KioskService.open(settings, key_env=other, clock=clock)
    again = KioskService.open(settings, key_env=env_value, clock=clock)
    try:
        _sign_in_code(again, who.email, who.secret, clock)
    finally:
        again.close()


def test_key_rotation_re_encrypts_every_secret(
    svc: KioskService, settings: Settings, clock: FakeClock
) -> None:
    who = enroll(svc, "bob@example.com")
    old_blob = bytes(Credential.get().secret_ciphertext)
    assert svc.keys.rotate() == 2
    row = Credential.get()
    assert row.key_version == 2 and bytes(row.secret_ciphertext) != old_blob
    assert svc.keys.retire_unused() == [1]
    assert sorted(parse_keyring(settings.key_path.read_text(), "k").keys) == [2]
    assert stat.S_IMODE(settings.key_path.stat().st_mode) == 0o600
    svc.close()
    reopened = KioskService.open(settings, clock=clock)
    try:
        _sign_in_code(reopened, who.email, who.secret, clock)
    finally:
        reopened.close()


def test_unreadable_key_file_is_a_clear_error(svc: KioskService, settings: Settings) -> None:
    svc.close()
    settings.key_path.write_bytes(b"\xff\xfe garbage")
    with pytest.raises(VaultError):
        KioskService.open(settings)
    if os.geteuid() != 0:  # root reads anything: the mode check only means something for users
        settings.key_path.chmod(0)
        with pytest.raises(VaultError):
            KioskService.open(settings)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o660])
def test_loose_key_file_is_refused(
    svc: KioskService, settings: Settings, clock: FakeClock, mode: int
) -> None:
    """A key file other accounts may read or change is refused, naming the file, its mode and
    the fix (as OpenSSH refuses a loose private key); the config key accepts it on purpose."""
    who = enroll(svc, "bob@example.com")
    svc.close()
    settings.key_path.chmod(mode)
    with pytest.raises(VaultError) as info:
        KioskService.open(settings, clock=clock)
    message = str(info.value)
    assert str(settings.key_path) in message and f"mode {mode:04o}" in message
    assert f"chmod 600 {settings.key_path}" in message and "allow_loose_key_file" in message
    assert "\n" not in message
    allowed = replace(settings, security=replace(settings.security, allow_loose_key_file=True))
    opened = KioskService.open(allowed, clock=clock)
    try:
        _sign_in_code(opened, who.email, who.secret, clock)
        assert opened.keys.rotate() == 2  # re-reading the rotated file is allowed too
        assert stat.S_IMODE(settings.key_path.stat().st_mode) == 0o600  # rewritten private
    finally:
        opened.close()
    settings.key_path.chmod(0o400)  # owner-only, even read-only, is private enough
    KioskService.open(settings, clock=clock).close()


def test_loose_key_file_is_irrelevant_with_the_environment_key(
    settings: Settings, clock: FakeClock
) -> None:
    env_value = format_keyring(Keyring({1: secrets.token_bytes(32)}, "env"))
    settings.key_path.write_text("not even a key")
    settings.key_path.chmod(0o666)
    svc = KioskService.open(settings, key_env=env_value, clock=clock)
    try:
        enroll(svc, "bob@example.com")
    finally:
        svc.close()


def test_files_are_created_private_under_a_permissive_umask(
    settings: Settings, clock: FakeClock
) -> None:
    """The store and the log make their files 0600 themselves, whatever the caller's umask
    (the `kiosk` command also sets 077; a library caller or a test may not)."""
    from kiosk.runtime import setup_logging

    previous = os.umask(0)
    try:
        setup_logging(settings)
        svc = KioskService.open(settings, clock=clock)
        try:
            enroll(svc, "bob@example.com")
            files = [settings.key_path, settings.log_path]
            if not is_postgres(settings):
                db_file = sqlite_path(settings)
                files += [db_file, *(db_file.with_name(db_file.name + s) for s in ("-wal", "-shm"))]
            modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}
        finally:
            svc.close()
    finally:
        os.umask(previous)
    assert set(modes.values()) == {0o600}, modes


def test_key_rotation_reports_progress(svc: KioskService) -> None:
    for name in ("ann", "ben", "cat"):
        enroll(svc, f"{name}@example.com")
    calls: list[tuple[int, int]] = []
    assert svc.keys.rotate(progress=lambda done, total: calls.append((done, total))) == 2
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert svc.keys.rotate() == 3  # the callback is optional
