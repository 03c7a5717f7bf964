"""Goal 5: flat at scale — 100,000 accounts and 1,000,000 audit rows against 10 accounts.

    .venv/bin/python benchmarks/scale.py [--runs 10] [--rebuild]

Builds (once, cached in /tmp/kiosk-bench-scale; `--rebuild` starts over) a database with 100,000
accounts (one precomputed argon2 hash reused for every password) and 1,000,000 audit rows, with
peewee insert_many in big transactions; and, fresh each run, a database with 10 accounts. Then,
interleaved run by run, on both:

- sign-in in process: check_password (argon2 verify) + check_code (TOTP, replay guard, audit row),
  on a service with an injected clock that moves 30 s per sign-in so every code is fresh; the
  database part alone (check_code, and check_password minus argon2) is reported too;
- `kiosk verify EMAIL` as a process (code on stdin), each run a different enrolled account;
- time to the Sign in screen (pty, as startup.py), when kiosk.ui.app exists;
- `kiosk users list --json` to /dev/null: time and peak RSS (ru_maxrss from wait4).

Also prints EXPLAIN QUERY PLAN for every statement a sign-in and a verify run (captured from
peewee's query log) and for the `users list` query.
"""

from __future__ import annotations

import argparse
import logging
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as c

CACHE = Path(tempfile.gettempdir()) / "kiosk-bench-scale"
BIG_ACCOUNTS, BIG_AUDIT = 100_000, 1_000_000
SMALL_ACCOUNTS = 10


def build_big(rebuild: bool) -> Path:
    config = CACHE / "config.toml"
    marker = CACHE / "built"
    if rebuild or not marker.exists():
        shutil.rmtree(CACHE, ignore_errors=True)
        config = c.write_config(CACHE)
        service = c.open_service(config)
        start = time.perf_counter()
        c.seed(service, BIG_ACCOUNTS, BIG_AUDIT)
        built = time.perf_counter() - start
        service.close()
        size = (CACHE / "kiosk.db").stat().st_size / 1e6
        marker.write_text(f"built in {built:.1f} s, {size:.0f} MB\n")
    return config


def build_small() -> Path:
    folder = c.temp_folder("scale-small")
    config = c.write_config(folder)
    service = c.open_service(config)
    c.seed(service, SMALL_ACCOUNTS)
    service.close()
    return config


class Side:
    """One database: its service (injected clock), enrolled accounts and their secrets."""

    def __init__(self, name: str, config: Path, emails: list[str]) -> None:
        from kiosk.store.models import Account

        self.name = name
        self.config = config
        self.clock = c.SteppingClock()
        self.service = c.open_service(config, clock=self.clock)
        self.activate()
        self.secrets = {email: c.enroll_directly(self.service, email) for email in emails}
        self.accounts = {email: Account.get(Account.email == email) for email in emails}

    def activate(self) -> None:
        """The models bind to one database at a time (a proxy): point them at this one."""
        from kiosk.store.models import database_proxy

        database_proxy.initialize(self.service.db)

    def forget_steps(self) -> None:
        """The injected clock ran ahead of real time: clear the replay guard for `kiosk verify`."""
        from kiosk.store.models import Credential

        self.activate()
        Credential.update(last_used_step=None).execute()

    def sign_in(self, email: str) -> tuple[float, float, float]:
        """(whole sign-in, check_password, check_code) seconds."""
        import pyotp

        self.activate()
        self.clock.advance()
        code = pyotp.TOTP(self.secrets[email]).at(self.clock.now)
        t0 = time.perf_counter()
        account = self.service.factors.check_password(email, c.PASSWORD, source="bench:scale")
        t1 = time.perf_counter()
        self.service.factors.check_code(account, code, source="bench:scale")
        t2 = time.perf_counter()
        return t2 - t0, t1 - t0, t2 - t1


def run_verify(config: Path, email: str, secret: str) -> tuple[float, str]:
    import pyotp

    start = time.perf_counter()
    proc = subprocess.run(
        [str(c.KIOSK), "--config", str(config), "verify", email],
        input=pyotp.TOTP(secret).now() + "\n", capture_output=True, text=True, env=c.clean_env(),
    )
    ok = proc.returncode == 0 and "accepted" in proc.stdout
    return time.perf_counter() - start, "" if ok else (proc.stderr.strip() or proc.stdout.strip())


# `kiosk users list --json`, reporting its own peak RSS (VmHWM) when it exits. (ru_maxrss from
# wait4 would not do: Linux carries the parent's high-water mark across fork+exec.)
_HWM_WRAPPER = """
import atexit, sys
def _hwm():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            sys.stderr.write('HWM ' + line.split()[1] + '\\n')
atexit.register(_hwm)
from kiosk.launch import main
sys.argv = ['kiosk'] + sys.argv[1:]
main()
"""


def run_users_list(config: Path) -> tuple[float, int, int]:
    """(seconds, peak RSS KiB, bytes written) of `kiosk users list --json` to a file."""
    out_path = config.parent / "users.json"
    start = time.perf_counter()
    with open(out_path, "wb") as out:
        proc = subprocess.run(
            [str(c.PYTHON), "-c", _HWM_WRAPPER, "--config", str(config), "users", "list", "--json"],
            stdout=out, stderr=subprocess.PIPE, env=c.clean_env(), text=True,
        )
    elapsed = time.perf_counter() - start
    size = out_path.stat().st_size
    out_path.unlink()
    hwm = [int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("HWM ")]
    if proc.returncode != 0 or not hwm:
        raise RuntimeError(f"users list failed: {proc.stderr.strip()}")
    return elapsed, hwm[-1], size


class _SqlLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[tuple[str, tuple]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, tuple) and len(record.msg) == 2:
            self.statements.append((record.msg[0], tuple(record.msg[1] or ())))


def explain(side: Side, email: str) -> list[str]:
    """EXPLAIN QUERY PLAN of every statement one sign-in, one verify and users list run."""
    handler = _SqlLog()
    logger = logging.getLogger("peewee")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        side.sign_in(email)
        side.activate()
        side.clock.advance()
        import pyotp

        code = pyotp.TOTP(side.secrets[email]).at(side.clock.now)
        side.service.factors.verify_for_external(email, code, source="bench:scale")
        next(side.service.accounts.iter_users())
        from kiosk.core import audit

        next(audit.query(email=email), None)
        from datetime import datetime, timedelta

        next(audit.query(since=datetime.now() - timedelta(hours=1)), None)
        next(audit.query(), None)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    lines, seen = [], set()
    for sql, params in handler.statements:
        head = sql.split()[0].upper()
        if head not in ("SELECT", "UPDATE", "DELETE", "INSERT") or sql in seen:
            continue
        seen.add(sql)
        plan = side.service.db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        steps = "; ".join(row[-1] for row in plan) or "(no plan rows)"
        lines.append(f"- `{sql[:160]}{'…' if len(sql) > 160 else ''}`\n  → {steps}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the 100k-account database")
    parser.add_argument("--no-screen", action="store_true", help="skip the time-to-screen part")
    args = parser.parse_args()

    print("## scale.py\n")
    print(c.machine_info())
    start = time.perf_counter()
    big_config = build_big(args.rebuild)
    print(f"\nbig database: {(CACHE / 'built').read_text().strip()} "
          f"(this run: ready in {time.perf_counter() - start:.1f} s)")
    small_config = build_small()

    runs = args.runs
    rng = random.Random()
    big_emails = [f"user{i:06d}@example.com" for i in rng.sample(range(BIG_ACCOUNTS), 2 * runs + 2)]
    from kiosk.store.models import Account, Credential

    small = Side("10 accounts", small_config, [f"user{i:06d}@example.com" for i in range(10)])
    # The cached big database keeps earlier runs' credentials: use accounts without one.
    probe = c.open_service(big_config)
    big_side_emails = [
        email for email in big_emails
        if not Credential.select().join(Account).where(Account.email == email).exists()
    ]
    probe.close()
    big = Side("100k accounts", big_config, big_side_emails)
    sides = [small, big]

    counts = {}
    for side in sides:
        side.activate()
        from kiosk.store.models import AuditEvent

        counts[side.name] = (Account.select().count(), AuditEvent.select().count())
    print(f"accounts / audit rows: {counts}\n")

    print("### EXPLAIN QUERY PLAN (100k-account database, statements of a sign-in and a verify)\n")
    for line in explain(big, big_side_emails[-1]):
        print(line)
    explain(small, "user000009@example.com")

    # --- sign-in in process, interleaved
    timing: dict[str, dict[str, list[float]]] = {
        s.name: {"sign_in": [], "check_password": [], "check_code": []} for s in sides
    }
    small_emails = list(small.secrets)
    for i in range(runs):
        order = sides if i % 2 == 0 else sides[::-1]
        for side in order:
            email = small_emails[i % len(small_emails)] if side is small else big_side_emails[i]
            whole, pw_s, code_s = side.sign_in(email)
            timing[side.name]["sign_in"].append(whole)
            timing[side.name]["check_password"].append(pw_s)
            timing[side.name]["check_code"].append(code_s)
    for side in sides:
        side.forget_steps()
        side.service.close()

    # argon2 alone, in the same run, to separate the database part of check_password
    from kiosk.config import Argon2Settings
    from kiosk.core.accounts import Hasher

    hasher = Hasher.from_settings(Argon2Settings())
    stored = hasher.hash(c.PASSWORD)
    verify_times = []
    for _ in range(runs):
        t = time.perf_counter()
        hasher.verify(stored, c.PASSWORD)
        verify_times.append(time.perf_counter() - t)

    print("\n### Sign-in in process (check_password + check_code)\n")
    print(f"- argon2 verify alone: {c.fmt(verify_times)}")
    for key in ("sign_in", "check_password", "check_code"):
        for side in sides:
            digits = 1 if key == "check_code" else 0
            print(f"- {key}, {side.name}: {c.fmt(timing[side.name][key], digits=digits)}")
        ratio = c.ratio_of_medians(timing[big.name][key], timing[small.name][key])
        print(f"- {key} ratio 100k / 10: {ratio:.2f}×")

    # --- kiosk verify processes
    verify_results: dict[str, list[float]] = {small.name: [], big.name: []}
    failures: list[str] = []
    verify_emails = {small.name: small_emails, big.name: big_side_emails[runs:]}
    if len(verify_emails[big.name]) < runs:
        verify_emails[big.name] = big_side_emails[: runs]
    secrets = {**small.secrets, **big.secrets}
    configs = {small.name: small_config, big.name: big_config}
    # Each account is verified once, at the current real time step (fresh code, no replay).
    for i in range(runs):
        for name in ([small.name, big.name] if i % 2 == 0 else [big.name, small.name]):
            email = verify_emails[name][i % len(verify_emails[name])]
            seconds, error = run_verify(configs[name], email, secrets[email])
            verify_results[name].append(seconds)
            if error:
                failures.append(error)
    print("\n### `kiosk verify` (process: start, open, check, exit)\n")
    for name, values in verify_results.items():
        print(f"- {name}: {c.fmt(values)}")
    ratio = c.ratio_of_medians(verify_results[big.name], verify_results[small.name])
    print(f"- ratio 100k / 10: {ratio:.2f}×; refused or failed runs: {len(failures)}"
          + (f" {sorted(set(failures))}" if failures else ""))

    # --- users list --json
    listing: dict[str, list[tuple[float, int, int]]] = {small.name: [], big.name: []}
    for i in range(max(3, runs // 2)):
        for name in ([small.name, big.name] if i % 2 == 0 else [big.name, small.name]):
            listing[name].append(run_users_list(configs[name]))
    print("\n### `kiosk users list --json` to a file\n")
    for name, values in listing.items():
        print(f"- {name}: time {c.fmt([v[0] for v in values])}; peak RSS "
              f"{c.fmt([v[1] for v in values], unit='MiB', scale=1 / 1024, digits=1)}; "
              f"output {values[0][2] / 1e6:.2f} MB")
    rss_ratio = c.ratio_of_medians([v[1] for v in listing[big.name]],
                                   [v[1] for v in listing[small.name]])
    print(f"- peak RSS ratio 100k / 10: {rss_ratio:.2f}×")

    # --- time to first screen
    if not args.no_screen:
        try:
            import kiosk.ui.app  # noqa: F401
        except ImportError as exc:
            print(f"\n(time to first screen skipped: {exc})")
        else:
            screens: dict[str, list[float]] = {small.name: [], big.name: []}
            for name in screens:  # warm-up
                c.time_to_screen(c.kiosk_argv(configs[name]), c.sign_in_visible,
                                 cwd=configs[name].parent)
            for i in range(runs):
                for name in ([small.name, big.name] if i % 2 == 0 else [big.name, small.name]):
                    run = c.time_to_screen(c.kiosk_argv(configs[name]), c.sign_in_visible,
                                           cwd=configs[name].parent)
                    screens[name].append(run.seconds)
            print("\n### Time to the Sign in screen (pty 80×24)\n")
            for name, values in screens.items():
                print(f"- {name}: {c.fmt(values)}")
            print(f"- ratio 100k / 10: "
                  f"{c.ratio_of_medians(screens[big.name], screens[small.name]):.2f}×")

    print(f"\nload average after: {c.load_average()}")
    c.rmtree(small_config.parent)


if __name__ == "__main__":
    sys.exit(main())
