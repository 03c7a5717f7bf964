"""`kiosk keys rotate` / `kiosk keys retire`: through the real command, and with a kiosk that
was already running when the keys changed (an SSH session or the kiosk on a wall)."""

from __future__ import annotations

import time
from pathlib import Path

import pyotp

from kiosk.core.service import KioskService
from kiosk.core.vault import load_keyring
from tests.conftest import make_settings, write_config
from tests.security import workers
from tests.security.conftest import PASSWORD, assert_one_line_error, dump_tables, run_kiosk


def _enroll(service: KioskService, email: str) -> str:
    service.accounts.add_user(email, PASSWORD)
    secret, _ = workers.enroll_through_flow(service, email, PASSWORD)
    return secret


def _sign_in(settings, email: str, secret: str, offset: float) -> None:  # noqa: ANN001
    when = time.time() + offset
    service = KioskService.open(settings, clock=lambda: when)
    account = service.accounts.find(email)
    service.factors.check_code(account, pyotp.TOTP(secret).at(when), source="t")
    service.close()


def test_cli_rotate_reencrypts_everything_and_retire_drops_the_old_key(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url)
    config = write_config(tmp_path / "config.toml", settings)
    service = KioskService.open(settings)
    secrets = {f"u{i}@example.com": _enroll(service, f"u{i}@example.com") for i in range(4)}
    service.close()
    before = dump_tables(database_url)["credential"]

    rotated = run_kiosk(config, "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    assert b"version 2" in rotated.stdout
    after = dump_tables(database_url)["credential"]
    assert {row[4] for row in after} == {2}
    # Fresh ciphertexts (new nonces, new key), the same rows.
    assert {r[0] for r in after} == {r[0] for r in before}
    assert not {bytes(r[3]) for r in after} & {bytes(r[3]) for r in before}
    for email, secret in secrets.items():
        _sign_in(settings, email, secret, 30)

    retired = run_kiosk(config, "keys", "retire")
    assert retired.returncode == 0, retired.stderr
    assert b"1" in retired.stdout
    keyring, _ = load_keyring(settings.key_path, None, create=False)
    assert sorted(keyring.keys) == [2]
    assert (settings.key_path.stat().st_mode & 0o777) == 0o600
    for email, secret in secrets.items():
        _sign_in(settings, email, secret, 60)
    audit = dump_tables(database_url, ("audit_event",))["audit_event"]
    assert sum("keys_rotated" in row for row in audit) == 1


def test_rotation_refused_for_environment_keys(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    config = write_config(tmp_path / "config.toml", settings)
    KioskService.open(settings).close()
    key_text = settings.key_path.read_text()
    settings.key_path.unlink()
    result = run_kiosk(config, "keys", "rotate", env={"KIOSK_SECRET_KEY": key_text})
    line = assert_one_line_error(result)
    assert "KIOSK_SECRET_KEY" in line
    assert "=" not in line.split("KIOSK_SECRET_KEY", 1)[1]  # the key itself is not printed


def test_running_kiosk_keeps_working_across_rotate_and_retire(
    tmp_path: Path, sqlite_url: str
) -> None:
    """A kiosk process opened before the admin rotated and retired keys still signs people in,
    and what it enrolls afterwards is readable by every later process."""
    settings = make_settings(tmp_path, sqlite_url)
    running = KioskService.open(settings)  # the long-lived kiosk
    old_secret = _enroll(running, "old@example.com")

    config = write_config(tmp_path / "config.toml", settings)
    for command in ("rotate", "retire"):  # the admin, in another process
        result = run_kiosk(config, "keys", command)
        assert result.returncode == 0, result.stderr
    assert sorted(load_keyring(settings.key_path, None, create=False)[0].keys) == [2]

    # Sign-in with the already-running process, after the rotation and retirement.
    when = time.time() + 30
    running.clock = lambda: when
    running.factors.check_code(
        running.accounts.find("old@example.com"), pyotp.TOTP(old_secret).at(when), source="t"
    )
    running.clock = time.time
    # A new enrollment by the running process, then a fresh process reads it.
    new_secret = _enroll(running, "new@example.com")
    running.close()
    _sign_in(settings, "new@example.com", new_secret, 30)
    _sign_in(settings, "old@example.com", old_secret, 60)


def test_concurrent_rotations_lose_no_key(tmp_path: Path, database_url: str) -> None:
    """Three admins run `kiosk keys rotate` at the same moment: each waits its turn, so no
    secret ends up under a key that a later rotation overwrote in the key file."""
    import subprocess
    import sys

    settings = make_settings(tmp_path, database_url)
    config = write_config(tmp_path / "config.toml", settings)
    service = KioskService.open(settings)
    secrets = {f"c{i}@example.com": _enroll(service, f"c{i}@example.com") for i in range(3)}
    service.close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "kiosk", "--config", str(config), "keys", "rotate"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    keyring, _ = load_keyring(settings.key_path, None, create=False)
    assert sorted(keyring.keys) == [1, 2, 3, 4]
    assert {row[4] for row in dump_tables(database_url)["credential"]} == {4}
    for email, secret in secrets.items():
        _sign_in(settings, email, secret, 30)
