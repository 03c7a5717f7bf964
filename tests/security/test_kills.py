"""SIGKILL at every point of the activation and key-rotation transactions.

A child walks the flow, then arms a test-only hook on its own database object (see
`workers.install_kill_hook`) that SIGKILLs the process at database event k (BEGIN, each
statement, before COMMIT, after COMMIT). For every k the parent checks the database is intact and
the account is wholly before or wholly after the change.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pyotp
import pytest

from kiosk.core.service import KioskService
from kiosk.core.vault import load_keyring
from tests.conftest import make_settings
from tests.security import workers
from tests.security.conftest import PASSWORD, dump_tables, integrity_check, run_child

KILLED = -signal.SIGKILL


def _events_of(target, args: tuple) -> list[str]:  # noqa: ANN001
    """Run once with the hook out of reach to learn the transaction's events."""
    code, messages = run_child(target, (*args, 10_000))
    assert code == 0, messages
    done = [m for m in messages if m.get("done")]
    assert done, messages
    return done[0]["trace"]


def _account_state(url: str, email: str) -> dict[str, object]:
    dump = dump_tables(url)
    account = next(r for r in dump["account"] if r[1] == email)
    creds = [r for r in dump["credential"] if r[1] == account[0]]
    codes = [r for r in dump["recovery_code"] if r[1] == account[0]]
    return {"mfa_version": account[-1], "credentials": creds, "codes": codes}


def test_sigkill_at_every_point_of_activation(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url)
    service = KioskService.open(settings)
    service.accounts.add_user("probe@example.com", PASSWORD)
    events = _events_of(
        workers.killed_enrollment_worker,
        (str(tmp_path), database_url, "probe@example.com", PASSWORD),
    )
    assert events[0] == "BEGIN" and events[-1] == "after COMMIT", events
    points = len(events)
    for k in range(points):
        service.accounts.add_user(f"k{k}@example.com", PASSWORD)
    service.close()

    outcomes = {"before": 0, "after": 0}
    for k in range(points):
        email = f"k{k}@example.com"
        code, messages = run_child(
            workers.killed_enrollment_worker, (str(tmp_path), database_url, email, PASSWORD, k)
        )
        assert code == KILLED, (k, events[k], messages)
        secret = (tmp_path / f"{email}.secret").read_text()
        if database_url.startswith("sqlite"):
            assert integrity_check(database_url) == "ok"
        state = _account_state(database_url, email)
        if state["credentials"]:
            # Wholly after: one credential, one unused recovery code, one version forward.
            outcomes["after"] += 1
            assert len(state["credentials"]) == 1 and len(state["codes"]) == 1, (k, state)
            assert state["codes"][0][-1] is None
            assert state["mfa_version"] == 1
            assert events[k] == "after COMMIT", (k, events[k])
            svc = KioskService.open(settings)
            svc.factors.check_code(
                svc.accounts.find(email), pyotp.TOTP(secret).at(time.time() + 30), source="test"
            )
            svc.close()
        else:
            outcomes["before"] += 1
            assert state == {"mfa_version": 0, "credentials": [], "codes": []}, (k, state)
    assert outcomes == {"before": points - 1, "after": 1}, (outcomes, events)
    # The accounts killed before the commit can still enroll normally afterwards.
    svc = KioskService.open(settings)
    workers.enroll_through_flow(svc, "k0@example.com", PASSWORD)
    svc.close()


MAX_POINTS = 24


def test_sigkill_at_every_point_of_recovery_activation(tmp_path: Path, database_url: str) -> None:
    """Lost device: the activation also consumes the recovery code. Killed anywhere, the account
    keeps its old device and unused old code, or has the new device and a new unused code."""
    settings = make_settings(tmp_path, database_url)
    service = KioskService.open(settings)
    accounts = {}
    # One account per statement of the activation (PostgreSQL adds a NOTIFY for the onboarding
    # board after each audit and progress row).
    for name in ["probe"] + [f"r{k}" for k in range(MAX_POINTS)]:
        email = f"{name}@example.com"
        service.accounts.add_user(email, PASSWORD)
        accounts[email] = workers.enroll_through_flow(service, email, PASSWORD)
    service.close()
    events = _events_of(workers.killed_recovery_worker,
                        (str(tmp_path), database_url, "probe@example.com", PASSWORD,
                         accounts["probe@example.com"][1]))
    assert "UPDATE \"recovery_code\" SET" in events and events[-1] == "after COMMIT", events
    assert len(events) <= MAX_POINTS
    after_count = 0
    for k in range(len(events)):
        email = f"r{k}@example.com"
        old_secret, old_code = accounts[email]
        before = _account_state(database_url, email)
        code, messages = run_child(workers.killed_recovery_worker,
                                   (str(tmp_path), database_url, email, PASSWORD, old_code, k))
        assert code == KILLED, (k, events[k], messages)
        if database_url.startswith("sqlite"):
            assert integrity_check(database_url) == "ok"
        state = _account_state(database_url, email)
        assert len(state["credentials"]) == 1 and len(state["codes"]) == 1, (k, state)
        assert state["codes"][0][-1] is None, (k, state)  # the account's code is unused
        if state == before:
            new_secret_works = False
        else:
            after_count += 1
            assert events[k] == "after COMMIT", (k, events[k])
            assert state["mfa_version"] == before["mfa_version"] + 1
            assert state["credentials"][0][0] != before["credentials"][0][0]
            assert state["codes"][0][2] != before["codes"][0][2]
            new_secret_works = True
        secret = (tmp_path / f"{email}.secret").read_text() if new_secret_works else old_secret
        when = time.time() + 30
        svc = KioskService.open(settings, clock=lambda when=when: when)
        svc.factors.check_code(svc.accounts.find(email), pyotp.TOTP(secret).at(when), source="test")
        svc.close()
    assert after_count == 1


def _enroll_some(settings, n: int) -> dict[str, str]:  # noqa: ANN001
    service = KioskService.open(settings)
    secrets = {}
    for i in range(n):
        email = f"rot{i}@example.com"
        service.accounts.add_user(email, PASSWORD)
        secrets[email], _ = workers.enroll_through_flow(service, email, PASSWORD)
    service.close()
    return secrets


def _all_codes_verify(settings, secrets: dict[str, str], offset: float) -> None:  # noqa: ANN001
    """Every account signs in with a code from a later time step (`offset` seconds ahead)."""
    when = time.time() + offset
    service = KioskService.open(settings, clock=lambda: when)
    for email, secret in secrets.items():
        account = service.accounts.find(email)
        service.factors.check_code(account, pyotp.TOTP(secret).at(when), source="test")
    service.close()


def test_sigkill_at_every_point_of_key_rotation(tmp_path: Path, sqlite_url: str) -> None:
    """A rotation killed anywhere loses nothing: every secret decrypts with the key file on disk
    and its codes verify; a later rotation and retirement still work."""
    settings = make_settings(tmp_path, sqlite_url)
    secrets = _enroll_some(settings, 3)
    # Learn the events from a rotation on a copy of the setup.
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()
    probe = make_settings(probe_dir, f"sqlite:///{probe_dir / 'kiosk.db'}")
    _enroll_some(probe, 3)
    events = _events_of(workers.killed_rotation_worker, (str(probe_dir), probe.database_url))
    assert events[-1] == "after COMMIT"

    offset = 30.0
    for k in range(len(events)):
        code, messages = run_child(workers.killed_rotation_worker, (str(tmp_path), sqlite_url, k))
        assert code == KILLED, (k, events[k], messages)
        assert integrity_check(sqlite_url) == "ok"
        keyring, _ = load_keyring(settings.key_path, None, create=False)
        versions = {row[4] for row in dump_tables(sqlite_url)["credential"]}
        assert versions <= set(keyring.keys), (k, versions, sorted(keyring.keys))
        _all_codes_verify(settings, secrets, offset)  # opens the service: key checks pass
        offset += 30.0
    # After all that, a clean rotation and retirement leave one key that reads everything.
    service = KioskService.open(settings)
    version = service.keys.rotate()
    retired = service.keys.retire_unused()
    service.close()
    assert version not in retired and retired
    keyring, _ = load_keyring(settings.key_path, None, create=False)
    assert sorted(keyring.keys) == [version]
    _all_codes_verify(settings, secrets, offset)


@pytest.mark.parametrize("kill_at", [0, 3])
def test_killed_rotation_then_retire_keeps_secrets(
    tmp_path: Path, sqlite_url: str, kill_at: int
) -> None:
    """Retiring right after a crashed rotation must not drop a key a secret still needs."""
    settings = make_settings(tmp_path, sqlite_url)
    secrets = _enroll_some(settings, 2)
    code, _ = run_child(workers.killed_rotation_worker, (str(tmp_path), sqlite_url, kill_at))
    assert code == KILLED
    service = KioskService.open(settings)
    service.keys.retire_unused()
    service.close()
    _all_codes_verify(settings, secrets, 30.0)
