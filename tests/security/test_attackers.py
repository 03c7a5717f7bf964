"""Attackers: timing (the mechanism, never a stopwatch), lockout dodging, and secret leaks.

The timing figures themselves are measured by benchmarks/timing_signin.py; here we check what
makes them equal: every sign-in refusal path performs exactly one argon2 operation.
"""

from __future__ import annotations

import os
import re
import secrets as pysecrets
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pyotp
import pytest

from kiosk.core.accounts import Hasher
from kiosk.core.flow import AuthFlow, Method, Step
from kiosk.core.service import KioskService
from kiosk.errors import AccountLockedError, AuthenticationFailed, KioskError
from tests.conftest import make_settings, write_config
from tests.security import workers
from tests.security.conftest import PASSWORD, run_kiosk


@pytest.fixture
def argon2_calls(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Counts every argon2 hash and verify (the expensive operations) made by any Hasher."""
    calls: Counter = Counter()
    real_hash, real_verify = Hasher.hash, Hasher.verify

    def counting_hash(self: Hasher, secret: str) -> str:
        calls["hash"] += 1
        return real_hash(self, secret)

    def counting_verify(self: Hasher, stored: str, candidate: str) -> bool:
        calls["verify"] += 1
        return real_verify(self, stored, candidate)

    monkeypatch.setattr(Hasher, "hash", counting_hash)
    monkeypatch.setattr(Hasher, "verify", counting_verify)
    return calls


def _fresh_service(settings) -> KioskService:  # noqa: ANN001
    """A new process's view: a new service and hasher (nothing cached from earlier calls)."""
    return KioskService.open(settings)


@pytest.mark.parametrize("case", ["unknown email", "wrong password", "locked, right password",
                                  "locked unknown email", "malformed email", "overlong password",
                                  "right password"])
def test_every_sign_in_path_costs_one_argon2_verify(
    tmp_path: Path, sqlite_url: str, argon2_calls: Counter, case: str
) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    setup = KioskService.open(settings)
    setup.accounts.add_user("known@example.com", PASSWORD)
    if case.startswith("locked"):
        for email in ("known@example.com", "ghost@example.com"):
            for _ in range(settings.security.max_failed_attempts):
                with pytest.raises(KioskError):
                    setup.factors.check_password(email, "wrong password!", source="t")
    setup.close()
    email, password = {
        "unknown email": ("ghost@example.com", PASSWORD),
        "wrong password": ("known@example.com", "wrong password!"),
        "locked, right password": ("known@example.com", PASSWORD),
        "locked unknown email": ("ghost@example.com", PASSWORD),
        "malformed email": ("\x1b[2Jnot an email", PASSWORD),
        "overlong password": ("known@example.com", "x" * 5000),
        "right password": ("known@example.com", PASSWORD),
    }[case]

    service = _fresh_service(settings)  # as an SSH session would start: a new process
    flow = AuthFlow(service, "t")        # the kiosk shows Sign in before anyone types
    argon2_calls.clear()
    try:
        flow.submit_password(email, password)
        outcome = "signed in"
    except AccountLockedError:
        outcome = "locked"
    except AuthenticationFailed:
        outcome = "refused"
    service.close()
    expected = {"right password": "signed in", "locked, right password": "locked",
                "locked unknown email": "locked"}.get(case, "refused")
    assert outcome == expected
    assert argon2_calls == Counter(verify=1), (case, argon2_calls)


def test_unknown_and_wrong_share_one_message(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    service = KioskService.open(settings)
    service.accounts.add_user("known@example.com", PASSWORD)
    messages = set()
    for email, password in (("ghost@example.com", PASSWORD), ("known@example.com", "nope nope"),
                            ("bad", "x")):
        with pytest.raises(AuthenticationFailed) as caught:
            AuthFlow(service, "t").submit_password(email, password)
        messages.add(str(caught.value))
    assert len(messages) == 1
    # Locked: the same words whether or not the account exists.
    locked = set()
    for email in ("known@example.com", "ghost@example.com"):
        for _ in range(5):
            with pytest.raises(KioskError):
                service.factors.check_password(email, "nope nope", source="t")
        with pytest.raises(AccountLockedError) as caught:
            service.factors.check_password(email, PASSWORD, source="t")
        locked.add(re.sub(r"\d\d:\d\d", "HH:MM", str(caught.value)))
    assert len(locked) == 1
    service.close()


SPELLINGS = ["victim@example.com", "VICTIM@EXAMPLE.COM", " victim@example.com",
             "victim@example.com ", "\tVictim@Example.com\n", "vIcTiM@eXaMpLe.CoM"]


def test_lockout_cannot_be_dodged_by_case_or_spaces(tmp_path: Path, sqlite_url: str) -> None:
    """Failures of every factor, from several sessions, under every spelling, share one count."""
    settings = make_settings(tmp_path, sqlite_url)
    service = KioskService.open(settings)
    service.accounts.add_user("victim@example.com", PASSWORD)
    secret, _ = workers.enroll_through_flow(service, "victim@example.com", PASSWORD)
    # 2 wrong passwords, 2 wrong codes, 1 wrong recovery code, each from a new session and with
    # a different spelling of the email: the fifth failure locks.
    failures = 0
    for spelling in SPELLINGS[:2]:
        with pytest.raises(AuthenticationFailed):
            AuthFlow(service, "t").submit_password(spelling, "wrong password")
        failures += 1
    wrong = f"{(int(pyotp.TOTP(secret).now()) + 1) % 1_000_000:06d}"
    for spelling in SPELLINGS[2:4]:
        flow = AuthFlow(service, "t")
        flow.submit_password(spelling, PASSWORD)
        with pytest.raises(KioskError):
            flow.submit_code(wrong)
        failures += 1
    flow = AuthFlow(service, "t")
    flow.submit_password(SPELLINGS[4], PASSWORD)
    flow.use_recovery_code()
    with pytest.raises(AccountLockedError):
        flow.submit_recovery_code("A" * 25)
    failures += 1
    assert failures == settings.security.max_failed_attempts
    for spelling in SPELLINGS:
        with pytest.raises(AccountLockedError):
            AuthFlow(service, "t").submit_password(spelling, PASSWORD)
    service.close()


# ------------------------------------------------------------------------------ leak scan
FORCE_ERROR_SITECUSTOMIZE = '''
import os
if os.environ.get("KIOSK_TEST_FORCE_ERROR"):
    import kiosk.core.totp as totp
    def broken(*args, **kwargs):
        raise RuntimeError("forced unexpected error for the leak test")
    totp.matching_step = broken
'''


class Collector:
    """Every secret the flows produce, and every text they write, to scan against each other."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()
        self.codes: set[str] = set()
        self.texts: list[tuple[str, bytes]] = []

    def secret(self, value: str) -> str:
        self.secrets.add(value)
        return value

    def code(self, value: str) -> str:
        self.codes.add(value)
        return value

    def pending(self, flow) -> None:  # noqa: ANN001
        pending = flow.pending_secret
        self.secret(pending.secret)
        self.secret(pending.secret.lower())
        self.secret(pending.grouped_key)
        self.secret(pending.uri)
        self.secret(pending.uri.split("secret=")[1].split("&")[0])
        # The pending secret never shows in repr (tracebacks, debug output).
        assert pending.secret not in repr(pending) and pending.secret not in repr(flow)

    def run(self, config: Path, *args: str, input: str | None = None,
            env: dict[str, str] | None = None) -> bytes:
        result = run_kiosk(config, *args, input=input, env=env)
        self.texts.append((f"kiosk {' '.join(args)} stdout", result.stdout))
        self.texts.append((f"kiosk {' '.join(args)} stderr", result.stderr))
        return result.stdout + result.stderr

    def error(self, exc: BaseException) -> None:
        self.texts.append((f"{type(exc).__name__} str", str(exc).encode()))
        self.texts.append((f"{type(exc).__name__} repr", repr(exc).encode()))


def test_no_secret_anywhere_after_a_full_set_of_flows(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    settings = replace(settings, security=replace(settings.security, max_failed_attempts=3))
    config = write_config(tmp_path / "config.toml", settings)
    config.write_text(config.read_text().replace("max_failed_attempts = 5",
                                                 "max_failed_attempts = 3"))
    c = Collector()
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(FORCE_ERROR_SITECUSTOMIZE)

    # Admin: accounts with passwords through the CLI (stdin and CSV import).
    pw_alice = c.secret("Alice-" + pysecrets.token_hex(8))
    pw_bob = c.secret("Bob-" + pysecrets.token_hex(8))
    pw_carol = c.secret("Carol-" + pysecrets.token_hex(8))
    c.run(config, "users", "add", "alice@example.com", "--password-stdin", input=pw_alice + "\n")
    csv_path = tmp_path / "import.csv"
    csv_path.write_text(f"email,password\nbob@example.com,{pw_bob}\ncarol@example.com,{pw_carol}\n"
                        f"broken line,{c.secret('Broken-' + pysecrets.token_hex(8))}\n")
    c.run(config, "users", "import", str(csv_path))
    csv_path.unlink()

    # The in-process sessions run two steps in the past, so that the CLI's `verify` below (on
    # the real clock) has fresh steps to accept.
    t0 = float(int(time.time()) // 30 * 30) - 60
    clock = {"now": t0}
    service = KioskService.open(settings, clock=lambda: clock["now"])

    def tick() -> None:
        clock["now"] += 30

    # Enrollment, with a wrong setup code first.
    account_secrets = {}
    for email, pw in (("alice@example.com", pw_alice), ("bob@example.com", pw_bob)):
        flow = AuthFlow(service, "ssh:192.0.2.1")
        flow.submit_password(email, pw)
        flow.start_setup()
        flow.choose_method(Method.AUTHENTICATOR_APP)
        c.pending(flow)
        secret = flow.pending_secret.secret
        account_secrets[email] = secret
        flow.continue_to_code()
        right = pyotp.TOTP(secret).at(clock["now"])
        with pytest.raises(KioskError) as caught:
            flow.verify_setup_code(c.code(f"{(int(right) + 7) % 1_000_000:06d}"))
        c.error(caught.value)
        shown = c.secret(flow.verify_setup_code(c.code(right)))
        c.secret(shown.replace("-", ""))
        flow.finish_enrollment(saved=True)
    # Sign in, a wrong code, a replay.
    tick()
    secret = account_secrets["alice@example.com"]
    flow = AuthFlow(service, "ssh:192.0.2.1")
    flow.submit_password("alice@example.com", pw_alice)
    code = c.code(pyotp.TOTP(secret).at(clock["now"]))
    assert flow.submit_code(code) == Step.SIGNED_IN
    flow = AuthFlow(service, "ssh:192.0.2.1")
    flow.submit_password("alice@example.com", pw_alice)
    for attempt in (code, c.code(f"{(int(code) + 3) % 1_000_000:06d}")):
        with pytest.raises(KioskError) as caught:
            flow.submit_code(attempt)
        c.error(caught.value)
    # Recovery with Bob's code, then a new device.
    bob_flow = AuthFlow(service, "tty:/dev/tty1")
    bob_flow.submit_password("bob@example.com", pw_bob)
    bob_flow.use_recovery_code()
    with pytest.raises(KioskError) as caught:
        bob_flow.submit_recovery_code(c.secret("ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ"))
    c.error(caught.value)
    # (Bob's real recovery code was collected above as the second `shown`.)
    bob_code = sorted(s for s in c.secrets if len(s) == 29 and s.count("-") == 4
                      and not s.startswith("ZZZZZ"))
    recovered = False
    for candidate in bob_code:
        try:
            bob_flow.submit_recovery_code(candidate)
            recovered = True
            break
        except KioskError as exc:
            c.error(exc)
    assert recovered
    bob_flow.choose_method(Method.AUTHENTICATOR_APP)
    c.pending(bob_flow)
    bob_flow.continue_to_code()
    new_code = c.code(pyotp.TOTP(bob_flow.pending_secret.secret).at(clock["now"]))
    c.secret(bob_flow.verify_setup_code(new_code))
    bob_flow.finish_enrollment(saved=True)
    # Lockout of carol with wrong passwords (each a secret: what a person typed).
    for i in range(4):
        with pytest.raises(KioskError) as caught:
            AuthFlow(service, "t").submit_password("carol@example.com", c.secret(f"Guess-{i}-x9z"))
        c.error(caught.value)
    service.close()

    # Admin commands, `kiosk verify` (right, replayed, wrong), rotation, a forced crash.
    tick()
    verify_code = c.code(pyotp.TOTP(secret).now())
    for stdin in (verify_code, verify_code, c.code(f"{(int(verify_code) + 5) % 1_000_000:06d}")):
        c.run(config, "verify", "alice@example.com", input=stdin + "\n")
    for args in (["users", "list"], ["users", "list", "--json"], ["audit"], ["audit", "--json"],
                 ["users", "unlock", "carol@example.com"], ["keys", "rotate"], ["keys", "retire"],
                 ["users", "reset-mfa", "bob@example.com"], ["db", "status"]):
        c.run(config, *args)
    forced = c.run(config, "verify", "alice@example.com",
                   input=c.code(pyotp.TOTP(secret).at(time.time() + 30)) + "\n",
                   env={"KIOSK_TEST_FORCE_ERROR": "1",
                        "PYTHONPATH": f"{site}{os.pathsep}{Path(__file__).parents[2]}"})
    assert b"reference" in forced  # the forced error really went through the crash path

    # Everything written: the log, every database file, the audit rows, the key file's
    # neighbours, and every output captured above.
    log = (tmp_path / "kiosk.log").read_bytes()
    assert b"forced unexpected error" in log  # the crash was logged (without secrets)
    written = [("kiosk.log", log)] + [
        (p.name, p.read_bytes()) for p in tmp_path.glob("kiosk.db*")] + c.texts
    key_material = [line.split()[1] for line in settings.key_path.read_text().splitlines()
                    if line and not line.startswith("#")]
    assert len(c.secrets) >= 20 and len(c.codes) >= 8
    leaks = []
    for name, data in written:
        text = data.decode("latin-1")
        for value in (*c.secrets, *key_material):
            if value in text or value.encode("utf-16-le").decode("latin-1") in text:
                leaks.append((name, "secret", value[:6] + "..."))
        for code in c.codes:
            # 6 digits may occur by chance inside a timestamp's microseconds: skip those.
            if re.search(rf"(?<![.\d]){code}(?!\d)", text):
                leaks.append((name, "code", code))
    assert leaks == [], leaks
    assert sys.platform  # (keeps `sys` meaningful for readers: the scan is byte-level)


def test_files_are_private_to_the_kiosk_user(tmp_path: Path) -> None:
    """Another SSH user on the host cannot read the database, its WAL, the key or the log."""
    import subprocess

    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'kiosk.db'}")
    config = write_config(tmp_path / "config.toml", settings)
    # A permissive umask in the caller must not matter.
    env_umask = ["sh", "-c", 'umask 000; exec "$@"', "sh"]
    base = [sys.executable, "-m", "kiosk", "--config", str(config)]
    subprocess.run([*env_umask, *base, "users", "add", "a@example.com", "--password-stdin"],
                   input=PASSWORD + "\n", text=True, check=True, cwd=tmp_path,
                   env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    service = KioskService.open(settings)  # keep a connection open: the WAL and SHM exist
    service.accounts.add_user("b@example.com", PASSWORD)
    try:
        paths = [tmp_path / n for n in ("kiosk.db", "kiosk.key", "kiosk.db-wal", "kiosk.db-shm")]
        subprocess.run([*env_umask, *base, "users", "reset-mfa", "nobody@example.com"],
                       capture_output=True, cwd=tmp_path,
                       env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
        paths.append(tmp_path / "kiosk.log")
        modes = {p.name: oct(p.stat().st_mode & 0o777) for p in paths if p.exists()}
    finally:
        service.close()
    assert {"kiosk.db", "kiosk.key", "kiosk.db-wal"} <= set(modes), modes
    assert set(modes.values()) == {"0o600"}, modes
