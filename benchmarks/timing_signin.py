"""Sign-in timing for an unknown email, a wrong password and a locked account.

Run: `.venv/bin/python benchmarks/timing_signin.py [--tries N]`. Uses the DEFAULT argon2
parameters (RFC 9106 low-memory: t=3, 64 MiB, p=4), a real SQLite file in a temporary folder,
and the same call the kiosk makes (`AuthFlow.submit_password`). The three refusals should take
the same time within noise: each performs exactly one argon2 verify (the test suite checks that
mechanism in tests/security/test_attackers.py; this script measures the result). Not part of the
test run: it prints figures for SECURITY.md and benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiosk.config import DatabaseSettings, Settings  # noqa: E402
from kiosk.core.flow import AuthFlow
from kiosk.core.service import KioskService  # noqa: E402
from kiosk.errors import AccountLockedError, AuthenticationFailed  # noqa: E402

PASSWORD = "correct horse battery"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=60, help="tries per case (default 60)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kiosk-timing-") as tmp:
        base = Path(tmp)
        settings = Settings(base_dir=base, database=DatabaseSettings(url=f"sqlite:///{base}/k.db"))
        service = KioskService.open(settings)
        a = settings.argon2
        print(f"argon2id t={a.time_cost} m={a.memory_cost} KiB p={a.parallelism}; "
              f"{args.tries} tries per case, interleaved in random order")
        service.accounts.add_user("known@example.com", PASSWORD)
        service.accounts.add_user("locked@example.com", PASSWORD)
        for _ in range(settings.security.max_failed_attempts):
            with contextlib.suppress(AuthenticationFailed, AccountLockedError):
                service.factors.check_password(
                    "locked@example.com", "wrong password", source="bench"
                )

        counter = iter(range(10**9))
        cases = {
            "unknown email": lambda: (f"nobody{next(counter)}@example.com", PASSWORD),
            "wrong password": lambda: ("known@example.com", "wrong password"),
            "locked account": lambda: ("locked@example.com", PASSWORD),
            "right password (reference)": lambda: ("known@example.com", PASSWORD),
        }
        order = [name for name in cases for _ in range(args.tries)]
        random.shuffle(order)
        times: dict[str, list[float]] = {name: [] for name in cases}
        flow = AuthFlow(service, "bench")  # warms the dummy hash, as the kiosk does
        for _ in range(3):  # warm-up, not counted
            with contextlib.suppress(AuthenticationFailed):
                flow.submit_password("warmup@example.com", PASSWORD)
        for name in order:
            email, password = cases[name]()
            flow = AuthFlow(service, "bench")
            start = time.perf_counter()
            try:
                flow.submit_password(email, password)
                outcome = "signed in"
            except AccountLockedError:
                outcome = "locked"
            except AuthenticationFailed:
                outcome = "refused"
            elapsed = time.perf_counter() - start
            times[name].append(elapsed)
            expected = {"locked account": "locked", "right password (reference)": "signed in"}
            assert outcome == expected.get(name, "refused"), (name, outcome)
            if name == "wrong password":  # keep the known account unlocked (not timed)
                service.accounts.unlock("known@example.com", source="benchmark")
        service.close()

    print(f"{'case':28} {'median ms':>10} {'p10 ms':>8} {'p90 ms':>8} {'stdev ms':>9}")
    medians = {}
    for name, samples in times.items():
        samples.sort()
        med = statistics.median(samples)
        medians[name] = med
        p10 = samples[len(samples) // 10]
        p90 = samples[(len(samples) * 9) // 10]
        print(f"{name:28} {med * 1000:10.1f} {p10 * 1000:8.1f} {p90 * 1000:8.1f} "
              f"{statistics.stdev(samples) * 1000:9.1f}")
    refusals = [medians[n] for n in ("unknown email", "wrong password", "locked account")]
    spread = (max(refusals) - min(refusals)) / min(refusals) * 100
    print(f"largest difference between the three refusal medians: "
          f"{(max(refusals) - min(refusals)) * 1000:.1f} ms ({spread:.1f}%)")


if __name__ == "__main__":
    main()
