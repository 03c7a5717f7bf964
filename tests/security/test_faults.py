"""A flaky machine: read-only or full disk, a database deleted mid-run, a missing or wrong key,
a database from a newer kiosk. Each gives one clear line (exit non-zero, no traceback) and
changes nothing. The disks are real: small tmpfs mounts made by the test (the suite runs as
root in CI; without root these tests fail loudly rather than skip)."""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest

from kiosk.core.flow import AuthFlow, Method, Step
from kiosk.core.service import KioskService
from kiosk.errors import StorageError
from tests.conftest import make_settings, write_config
from tests.security import workers
from tests.security.conftest import (
    ALL_TABLES,
    PASSWORD,
    assert_one_line_error,
    dump_tables,
    integrity_check,
    run_kiosk,
)


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "4m") -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                           str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs (the fault tests need root): {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def remount(path: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], check=True, capture_output=True)


def fill(path: Path) -> Path:
    """Fill the file system at `path` to the last byte."""
    filler = path / "filler"
    fd = os.open(filler, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        for size in (1 << 20, 65536, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


def _setup(base: Path) -> tuple[Path, str, str]:
    """A kiosk in `base` with one enrolled account; returns (config, url, secret)."""
    url = f"sqlite:///{base / 'kiosk.db'}"
    settings = make_settings(base, url)
    config = write_config(base / "config.toml", settings)
    service = KioskService.open(settings)
    service.accounts.add_user("enrolled@example.com", PASSWORD)
    secret, _ = workers.enroll_through_flow(service, "enrolled@example.com", PASSWORD)
    service.accounts.add_user("fresh@example.com", PASSWORD)
    service.close()
    return config, url, secret


ADMIN_WRITES = [
    (["users", "add", "new@example.com", "--password-stdin"], PASSWORD + "\n"),
    (["users", "reset-mfa", "enrolled@example.com"], None),
    (["users", "remove", "enrolled@example.com"], None),
    (["keys", "rotate"], None),
]


def test_read_only_disk(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro") as base:
        config, url, secret = _setup(base)
        before = dump_tables(url, ALL_TABLES)
        key_before = (base / "kiosk.key").read_bytes()
        remount(base, "ro")
        try:
            for args, stdin in [*ADMIN_WRITES, (["verify", "enrolled@example.com"],
                                                pyotp.TOTP(secret).now() + "\n")]:
                line = assert_one_line_error(run_kiosk(config, *args, input=stdin))
                # the reason is named, not only that something failed
                assert "read-only" in line.lower(), (args, line)
        finally:
            remount(base, "rw")
        assert dump_tables(url, ALL_TABLES) == before
        assert (base / "kiosk.key").read_bytes() == key_before
        assert integrity_check(url) == "ok"


def test_full_disk_through_the_cli(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "full") as base:
        config, url, _ = _setup(base)
        before = dump_tables(url, ALL_TABLES)
        filler = fill(base)
        for args, stdin in ADMIN_WRITES:
            line = assert_one_line_error(run_kiosk(config, *args, input=stdin))
            assert "disk is full" in line or "no space left" in line.lower(), (args, line)
        filler.unlink()
        assert dump_tables(url, ALL_TABLES) == before
        assert integrity_check(url) == "ok"
        # With space again, the same command works.
        result = run_kiosk(config, *ADMIN_WRITES[0][0], input=ADMIN_WRITES[0][1])
        assert result.returncode == 0, result.stderr


def test_full_disk_at_activation_then_retry(tmp_path: Path) -> None:
    """The disk fills between the code check and the acknowledgement: a clear StorageError,
    the account untouched, and once space is back the same session can finish."""
    with tmpfs(tmp_path / "full2") as base:
        _, url, _ = _setup(base)
        settings = make_settings(base, url)
        service = KioskService.open(settings)
        flow = AuthFlow(service, "test")
        assert flow.submit_password("fresh@example.com", PASSWORD) == Step.MFA_REQUIRED
        flow.start_setup()
        pending = flow.choose_method(Method.AUTHENTICATOR_APP)
        flow.continue_to_code()
        flow.verify_setup_code(pyotp.TOTP(pending.secret).now())
        before = dump_tables(url)
        filler = fill(base)
        with pytest.raises(StorageError) as caught:
            flow.finish_enrollment(saved=True)
        message = str(caught.value)
        assert message.isprintable() and "full" in message, message
        assert flow.step == Step.SAVE_RECOVERY_CODE
        filler.unlink()
        assert dump_tables(url) == before
        assert flow.finish_enrollment(saved=True) == Step.SIGNED_IN
        service.close()
        assert integrity_check(url) == "ok"


def test_database_deleted_mid_run(tmp_path: Path, sqlite_url: str) -> None:
    """The database file disappears while a session is enrolling: the activation is refused
    with a clear message instead of being written into a deleted file, and no empty database
    is silently put in its place."""
    settings = make_settings(tmp_path, sqlite_url)
    service = KioskService.open(settings)
    service.accounts.add_user("fresh@example.com", PASSWORD)
    flow = AuthFlow(service, "test")
    flow.submit_password("fresh@example.com", PASSWORD)
    flow.start_setup()
    pending = flow.choose_method(Method.AUTHENTICATOR_APP)
    flow.continue_to_code()
    flow.verify_setup_code(pyotp.TOTP(pending.secret).now())
    for path in tmp_path.glob("kiosk.db*"):
        path.unlink()
    with pytest.raises(StorageError) as caught:
        flow.finish_enrollment(saved=True)
    assert "removed" in str(caught.value) and str(caught.value).isprintable()
    with pytest.raises(StorageError):
        service.accounts.add_user("other@example.com", PASSWORD)
    service.close()
    assert not (tmp_path / "kiosk.db").exists() or (tmp_path / "kiosk.db").stat().st_size == 0


@pytest.fixture
def kiosk_dir(tmp_path: Path) -> tuple[Path, str, str]:
    return _setup(tmp_path)


def _refused_and_unchanged(config: Path, url: str, *args: str, stdin: str | None = None,
                           expect: str = "") -> str:
    before = dump_tables(url, ALL_TABLES)
    line = assert_one_line_error(run_kiosk(config, *args, input=stdin))
    assert expect in line, line
    assert dump_tables(url, ALL_TABLES) == before
    return line


def test_missing_key_file(kiosk_dir: tuple[Path, str, str]) -> None:
    config, url, secret = kiosk_dir
    key = config.parent / "kiosk.key"
    key.unlink()
    for args in (["users", "list"], ["verify", "enrolled@example.com"], ["keys", "rotate"]):
        _refused_and_unchanged(config, url, *args, stdin=pyotp.TOTP(secret).now() + "\n",
                               expect="key file not found")
        assert not key.exists()  # never silently replaced by a new key


@pytest.mark.parametrize("content", [
    "1 " + base64.b64encode(secrets.token_bytes(32)).decode() + "\n",   # another kiosk's key
    "1 not-base64!!\n",
    "1 " + base64.b64encode(b"short").decode() + "\n",
    "\x1b[2J\x00\xff",
    "",
])
def test_wrong_or_damaged_key_file(kiosk_dir: tuple[Path, str, str], content: str) -> None:
    config, url, secret = kiosk_dir
    (config.parent / "kiosk.key").write_text(content, errors="surrogateescape")
    line = _refused_and_unchanged(config, url, "verify", "enrolled@example.com",
                                  stdin=pyotp.TOTP(secret).now() + "\n")
    assert "key" in line
    assert "==" not in line.replace("kiosk: error:", "")  # no key material echoed


def test_key_file_is_a_directory(kiosk_dir: tuple[Path, str, str]) -> None:
    config, url, _ = kiosk_dir
    key = config.parent / "kiosk.key"
    key.unlink()
    key.mkdir()
    _refused_and_unchanged(config, url, "users", "list", expect="key file")


def test_database_from_a_newer_kiosk(kiosk_dir: tuple[Path, str, str]) -> None:
    config, url, secret = kiosk_dir
    conn = sqlite3.connect(url[len("sqlite:///"):])
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    for args in (["users", "list"], ["db", "upgrade"], ["verify", "enrolled@example.com"],
                 ["users", "add", "x@example.com", "--password-stdin"]):
        _refused_and_unchanged(config, url, *args, stdin=PASSWORD + "\n", expect="99")


def test_not_a_database(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'kiosk.db'}")
    config = write_config(tmp_path / "config.toml", settings)
    (tmp_path / "kiosk.db").write_bytes(b"\x1b[2J this is not SQLite " * 100)
    line = assert_one_line_error(run_kiosk(config, "users", "list"))
    assert "damaged" in line or "not a kiosk database" in line, line
    assert (tmp_path / "kiosk.db").read_bytes().startswith(b"\x1b[2J this is not")


def test_database_path_blocked_by_a_file(tmp_path: Path) -> None:
    """The database path points into a file, not a folder: a clear line, nothing created."""
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    settings = make_settings(tmp_path, f"sqlite:///{blocker / 'kiosk.db'}")
    config = write_config(tmp_path / "config.toml", settings)
    line = assert_one_line_error(run_kiosk(config, "users", "list"))
    assert "database" in line
    assert os.path.isfile(blocker)
