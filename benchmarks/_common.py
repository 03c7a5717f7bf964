"""Shared helpers for the benchmarks: temp kiosk folders, seeded databases, a pty stopwatch, stats.

Not a test module: every benchmark prints figures (medians with their spread, ratios against a
baseline measured in the same run); none of them asserts on time.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks"
PYTHON = Path(sys.executable)
KIOSK = PYTHON.parent / "kiosk"
BASELINE = BENCH / "baseline_app.py"
BASELINE_TEXT = "Baseline ready"
PASSWORD = "benchmark-password-1"
COLUMNS, LINES = 80, 24


# ------------------------------------------------------------------------------- figures
def stats(values: Sequence[float]) -> dict[str, float]:
    """Median with its spread: min, quartiles, max, and the number of runs."""
    ordered = sorted(values)
    if len(ordered) >= 4:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1, q3 = ordered[0], ordered[-1]
    return {
        "n": len(ordered),
        "median": statistics.median(ordered),
        "min": ordered[0],
        "q1": q1,
        "q3": q3,
        "max": ordered[-1],
    }


def fmt(values: Sequence[float], unit: str = "ms", scale: float = 1000.0, digits: int = 0) -> str:
    """`median 412 ms (IQR 401–430, min 395, max 470, n=10)`."""
    s = stats(values)
    f = f"{{:.{digits}f}}"
    return (
        f"median {f.format(s['median'] * scale)} {unit} "
        f"(IQR {f.format(s['q1'] * scale)}–{f.format(s['q3'] * scale)}, "
        f"min {f.format(s['min'] * scale)}, max {f.format(s['max'] * scale)}, n={s['n']})"
    )


def ratio_of_medians(a: Sequence[float], b: Sequence[float]) -> float:
    return statistics.median(a) / statistics.median(b)


def paired_ratios(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """Run-by-run ratios of interleaved pairs: less sensitive to load drifting during the run."""
    return [x / y for x, y in zip(a, b, strict=False)]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine_info() -> str:
    """What the figures were taken on."""

    def run(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return "?"

    from importlib.metadata import version

    lscpu = "\n".join(
        line for line in run(["lscpu"]).splitlines()
        if line.split(":")[0] in ("Architecture", "CPU(s)", "Model name", "Thread(s) per core",
                                  "Core(s) per socket", "Hypervisor vendor")
    )
    return (
        f"date: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}\n"
        f"nproc: {run(['nproc'])}\n{lscpu}\n"
        f"free -h:\n{run(['free', '-h'])}\n"
        f"python: {platform.python_version()}  textual: {version('textual')}  "
        f"sqlite: {__import__('sqlite3').sqlite_version}\n"
        f"load average (1/5/15 min): {load_average()}"
    )


# ------------------------------------------------------------------------------- kiosk folders
def write_config(
    folder: Path, *, mode: str = "ssh", fast_argon2: bool = False, url: str = "sqlite:///kiosk.db"
) -> Path:
    """A config.toml in `folder` (database and key next to it); default argon2 unless asked."""
    folder.mkdir(parents=True, exist_ok=True)
    text = f'[kiosk]\nmode = "{mode}"\n[database]\nurl = "{url}"\n'
    if fast_argon2:
        text += "[argon2]\ntime_cost = 1\nmemory_cost = 8192\nparallelism = 1\n"
    path = folder / "config.toml"
    path.write_text(text)
    return path


def temp_folder(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"kiosk-bench-{prefix}-"))


def open_service(config: Path, **kwargs: object):  # noqa: ANN201 - KioskService, imported lazily
    from kiosk.config import load_settings
    from kiosk.core.service import KioskService

    return KioskService.open(load_settings(config), **kwargs)  # type: ignore[arg-type]


_HASH_CACHE: dict[str, str] = {}


def shared_password_hash(service) -> str:  # noqa: ANN001
    """One argon2 hash (the service's parameters) reused for every seeded account."""
    key = repr(service.ctx.hasher)
    if key not in _HASH_CACHE:
        _HASH_CACHE[key] = service.ctx.hasher.hash(PASSWORD)
    return _HASH_CACHE[key]


def seed(service, accounts: int, audit_rows: int = 0, *, prefix: str = "user",  # noqa: ANN001
         batch: int = 5000) -> list[str]:
    """Bulk-insert `accounts` accounts (one shared hash) and `audit_rows` audit rows.

    peewee `insert_many` (tuples + field list) in big transactions; returns the emails.
    """
    from datetime import timedelta

    from kiosk.store.models import Account, AuditEvent, utcnow

    password_hash = shared_password_hash(service)
    now = utcnow()
    emails = [f"{prefix}{i:06d}@example.com" for i in range(accounts)]
    db = service.db
    account_fields = [Account.email, Account.password_hash, Account.created_at, Account.mfa_version]
    for start in range(0, accounts, batch):
        rows = [(e, password_hash, now, 0) for e in emails[start : start + batch]]
        with db.atomic():
            Account.insert_many(rows, fields=account_fields).execute()
    events = ["sign_in_ok", "sign_in_failed", "enrolled", "user_added"]
    audit_fields = [AuditEvent.at, AuditEvent.event, AuditEvent.email, AuditEvent.source,
                    AuditEvent.detail]
    for start in range(0, audit_rows, batch):
        rows = [
            (now - timedelta(seconds=audit_rows - i), events[i % len(events)],
             emails[i % len(emails)] if emails else None, "ssh:192.0.2.1", "code")
            for i in range(start, min(start + batch, audit_rows))
        ]
        with db.atomic():
            AuditEvent.insert_many(rows, fields=audit_fields).execute()
    return emails


def enroll_directly(service, email: str) -> str:  # noqa: ANN001
    """Give an account a TOTP credential the way `finish_enrollment` stores it; returns the secret.

    For setting up benchmarks only (no recovery code, no argon2): the stored row is identical in
    shape, so sign-in and `kiosk verify` read exactly what they read after a real enrollment.
    """
    import secrets

    from kiosk.core import totp
    from kiosk.store.models import Account, Credential

    account = Account.get(Account.email == email)
    secret = totp.new_secret()
    credential_id = secrets.token_hex(16)
    ciphertext, version = service.keys.encrypt_secret(secret, account.id, credential_id)
    with service.db.atomic():
        Credential.create(
            id=credential_id, account=account.id, secret_ciphertext=ciphertext, key_version=version
        )
    return secret


class SteppingClock:
    """A clock the benchmark moves: one TOTP step per sign-in, so the replay guard never bites."""

    def __init__(self) -> None:
        self.now = float(int(time.time()) // 30 * 30 + 5)

    def __call__(self) -> float:
        return self.now

    def advance(self) -> None:
        self.now += 30


# ------------------------------------------------------------------------------- pty stopwatch
def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE would make every start compile the modules changed since their
    # bytecode was last written: no installed kiosk does that (pip compiles on install).
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TEXTUAL", "KIOSK")) and k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"TERM": "xterm-256color", "COLORTERM": "truecolor", "LANG": "C.UTF-8",
                "COLUMNS": str(COLUMNS), "LINES": str(LINES)})
    env.pop("NO_COLOR", None)
    env.update(extra or {})
    return env


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM (KiB) of a live process."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


@dataclass
class ScreenRun:
    seconds: float  # spawn → predicate true on the pyte screen
    rss_kib: int  # VmRSS after settling on that screen
    hwm_kib: int  # VmHWM (peak) at the same moment
    screen: str


class ScreenTimeout(RuntimeError):
    pass


def time_to_screen(
    argv: Sequence[str],
    visible: Callable[[str], bool],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
    settle: float = 0.5,
    raw: bytearray | None = None,
) -> ScreenRun:
    """Spawn `argv` in an 80×24 pty, feed its output to pyte, stop when `visible(screen_text)`.

    After the clock stops, wait `settle` seconds (still draining the pty) and read the process's
    resident memory; then hang up on it (SIGHUP, as an ssh disconnect does) and reap it.
    Everything the program wrote is appended to `raw` when given.
    """
    import pexpect
    import pyte

    screen = pyte.Screen(COLUMNS, LINES)
    stream = pyte.Stream(screen)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    start = time.perf_counter()
    child = pexpect.spawn(
        argv[0], list(argv[1:]), cwd=str(cwd) if cwd else None, env=env or clean_env(),
        dimensions=(LINES, COLUMNS), encoding=None, echo=False,
    )
    elapsed: float | None = None
    try:
        deadline = start + timeout
        while time.perf_counter() < deadline:
            try:
                data = child.read_nonblocking(1 << 16, timeout=0.05)
            except pexpect.TIMEOUT:
                continue
            except pexpect.EOF:
                break
            if raw is not None:
                raw += data
            stream.feed(decoder.decode(data))
            if visible("\n".join(screen.display)):
                elapsed = time.perf_counter() - start
                break
        text = "\n".join(screen.display)
        if elapsed is None:
            raise ScreenTimeout(f"{argv[0]}: screen not reached; last screen:\n{text}")
        settle_end = time.perf_counter() + settle
        while time.perf_counter() < settle_end:
            try:
                data = child.read_nonblocking(1 << 16, timeout=0.05)
                if raw is not None:
                    raw += data
                stream.feed(decoder.decode(data))
            except pexpect.TIMEOUT:
                continue
            except pexpect.EOF:
                break
        status = proc_status(child.pid)
        text = "\n".join(screen.display)
        return ScreenRun(elapsed, status.get("VmRSS", 0), status.get("VmHWM", 0), text)
    finally:
        _hang_up(child)


def _hang_up(child) -> None:  # noqa: ANN001
    if child.isalive():
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGHUP)
        for _ in range(40):
            if not child.isalive():
                break
            time.sleep(0.05)
    if child.isalive():
        child.kill(signal.SIGKILL)
    child.close(force=True)


def kiosk_argv(config: Path, *extra: str) -> list[str]:
    return [str(KIOSK), "--config", str(config), "run", "--mode", "ssh", *extra]


def baseline_argv() -> list[str]:
    return [str(PYTHON), str(BASELINE)]


def sign_in_visible(text: str) -> bool:
    """The Sign in screen with its Email field drawn."""
    return "Sign in" in text and "Email" in text


def baseline_visible(text: str) -> bool:
    return BASELINE_TEXT in text


def rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
