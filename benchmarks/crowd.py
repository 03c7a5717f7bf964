"""Goal 4: 50 concurrent sessions (processes) enroll at once; enrollments/s vs the argon2 bound.

    .venv/bin/python benchmarks/crowd.py [--sessions 50]

Each session is its own process that opens the service (SQLite file + key file, default argon2
parameters from the config) and walks the whole AuthFlow: password → Set Up Now → authenticator
app → code from pyotp → recovery code → saved → signed in. Two rounds, each on fresh accounts:

- barrier: all processes start, open the service, then wait; the clock runs from "go" to the
  last enrollment done (process start and imports excluded);
- end to end: all processes are spawned at once and run straight through; the clock runs from
  the first spawn to the last exit (includes interpreter start, imports, opening the service).

In the same run the parent times argon2 hash and verify with the same parameters, alone, and
the workers count the argon2 calls one enrollment makes (a counting wrapper around
argon2.PasswordHasher, installed by this script only). The argon2-bound limit is
cores ÷ (argon2 time per enrollment), given both with wall time (the issue's formula) and with
CPU time (argon2 with parallelism > 1 runs several threads, so one hash keeps more than one core
busy; CPU time is what the cores actually have to supply).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import _common as c


# ------------------------------------------------------------------------------- worker
def _count_argon2() -> dict[str, float]:
    """Wrap PasswordHasher.hash/verify to count calls and their wall time (this process only)."""
    import argon2

    counts = {"hash": 0, "verify": 0, "argon2_wall": 0.0}
    original_hash, original_verify = argon2.PasswordHasher.hash, argon2.PasswordHasher.verify

    def hash_(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        start = time.perf_counter()
        try:
            return original_hash(self, *args, **kwargs)
        finally:
            counts["hash"] += 1
            counts["argon2_wall"] += time.perf_counter() - start

    def verify_(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        start = time.perf_counter()
        try:
            return original_verify(self, *args, **kwargs)
        finally:
            counts["verify"] += 1
            counts["argon2_wall"] += time.perf_counter() - start

    argon2.PasswordHasher.hash = hash_  # type: ignore[method-assign]
    argon2.PasswordHasher.verify = verify_  # type: ignore[method-assign]
    return counts


def worker(config: Path, email: str, barrier: bool) -> None:
    started = time.perf_counter()
    result: dict[str, object] = {"email": email}
    try:
        import pyotp

        from kiosk.cli import Context

        counts = _count_argon2()
        service = Context(config).service()  # as `kiosk run` opens it (settings, then the store)
        from kiosk.core.enrollment import Method, Step

        result["open_s"] = time.perf_counter() - started
        if barrier:
            print("ready", flush=True)
            if sys.stdin.readline().strip() != "go":
                return
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        flow = service.new_flow("bench:crowd")
        steps: dict[str, float] = {}

        calls_by_step: dict[str, str] = {}

        def timed(name: str, call, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            t = time.perf_counter()
            before = (counts["hash"], counts["verify"])
            out = call(*args, **kwargs)
            steps[name] = time.perf_counter() - t
            calls_by_step[name] = f"{counts['hash'] - before[0]}h{counts['verify'] - before[1]}v"
            return out

        if timed("password", flow.submit_password, email, c.PASSWORD) != Step.MFA_REQUIRED:
            raise RuntimeError("expected MFA required")
        flow.start_setup()
        pending = timed("choose_method", flow.choose_method, Method.AUTHENTICATOR_APP)
        flow.continue_to_code()
        timed("setup_code", flow.verify_setup_code, pyotp.TOTP(pending.secret).now())
        if timed("finish", flow.finish_enrollment, saved=True) != Step.SIGNED_IN:
            raise RuntimeError("expected signed in")
        result.update(
            ok=True, flow_s=time.perf_counter() - t0, flow_cpu_s=time.process_time() - cpu0,
            steps=steps, calls_by_step=calls_by_step, **counts,
        )
        service.close()
    except Exception as exc:  # noqa: BLE001 - reported to the parent, counted as an error
        result.update(ok=False, error=f"{exc.__class__.__name__}: {exc}")
    result["total_s"] = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_total_s"] = usage.ru_utime + usage.ru_stime
    print(json.dumps(result), flush=True)


def hash_worker(gate_dir: Path | None, go: float, count: int) -> None:
    """argon2 only (no kiosk code): `count` hashes, optionally behind a machine-wide gate that lets
    one hash per core run at a time (flock on one of `cores` slot files) — a prototype."""
    import fcntl
    import random

    from kiosk.config import Argon2Settings
    from kiosk.core.accounts import Hasher

    hasher = Hasher.from_settings(Argon2Settings())
    _ = hasher._hasher  # import argon2 before the clock starts
    while time.time() < go:
        time.sleep(0.002)
    cpu = time.process_time()
    for _ in range(count):
        if gate_dir is None:
            hasher.hash("x" * 20)
            continue
        fds = [os.open(gate_dir / f"slot-{k}", os.O_CREAT | os.O_RDWR, 0o600)
               for k in range(os.cpu_count() or 1)]
        try:
            for fd in fds:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    continue
            else:
                fcntl.flock(random.choice(fds), fcntl.LOCK_EX)
            hasher.hash("x" * 20)
        finally:
            for fd in fds:
                os.close(fd)
    cpu_per_hash = (time.process_time() - cpu) / count
    print(json.dumps({"done": time.time() - go, "cpu_per_hash": cpu_per_hash}), flush=True)


def gate_experiment(sessions: int, folder: Path) -> None:
    """Same run, interleaved: `sessions` processes × 2 argon2 hashes, free for all vs gated."""
    import statistics

    results: dict[str, list[list[dict]]] = {"free for all": [], "gated (one per core)": []}
    gate_dir = folder / "gate"
    gate_dir.mkdir()
    for _ in range(2):
        for name in results:
            go = time.time() + 0.5 + sessions * 0.03
            argv_tail = ["--go", str(go)] + (["--gate", str(gate_dir)] if "gated" in name else [])
            procs = [subprocess.Popen([str(c.PYTHON), __file__, "--hash-worker", *argv_tail],
                                      stdout=subprocess.PIPE, text=True, env=c.clean_env())
                     for _ in range(sessions)]
            results[name].append([json.loads(p.communicate()[0].strip().splitlines()[-1])
                                  for p in procs])
    print(f"\n### Prototype: a machine-wide argon2 gate ({sessions} processes × 2 hashes, "
          "argon2 only, 2 rounds each, interleaved)\n")
    for name, rounds in results.items():
        lasts = [max(r["done"] for r in rnd) for rnd in rounds]
        medians = [statistics.median(r["done"] for r in rnd) for rnd in rounds]
        cpu = [r["cpu_per_hash"] for rnd in rounds for r in rnd]
        rate = [2 * sessions / last for last in lasts]
        print(f"- {name}: {', '.join(f'{x:.2f}' for x in rate)} hashes/s; median session done "
              f"after {', '.join(f'{m:.1f}' for m in medians)} s; CPU per hash {c.fmt(cpu)}")


# ------------------------------------------------------------------------------- parent
def argon2_alone(repeats: int = 5) -> dict[str, list[float]]:
    """Wall and CPU seconds of one hash and one verify with the kiosk's default parameters."""
    from kiosk.config import Argon2Settings
    from kiosk.core.accounts import Hasher

    hasher = Hasher.from_settings(Argon2Settings())
    stored = hasher.hash("warm-up")
    out: dict[str, list[float]] = {"hash_wall": [], "hash_cpu": [], "verify_wall": [],
                                   "verify_cpu": []}
    for _ in range(repeats):
        t, cpu = time.perf_counter(), time.process_time()
        hasher.hash("x" * 20)
        out["hash_wall"].append(time.perf_counter() - t)
        out["hash_cpu"].append(time.process_time() - cpu)
        t, cpu = time.perf_counter(), time.process_time()
        hasher.verify(stored, "warm-up")
        out["verify_wall"].append(time.perf_counter() - t)
        out["verify_cpu"].append(time.process_time() - cpu)
    return out


def _spawn(config: Path, email: str, barrier: bool) -> subprocess.Popen[str]:
    argv = [str(c.PYTHON), __file__, "--worker", "--config", str(config), "--email", email]
    if barrier:
        argv.append("--barrier")
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=c.clean_env(), cwd=str(config.parent))


def _collect(procs: list[subprocess.Popen[str]]) -> list[dict]:
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        results.append(json.loads(lines[-1]) if lines else {"ok": False, "error": "no result",
                                                             "rc": proc.returncode})
    return results


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]
    total = sum(fields[:8])
    return (total - idle) / ticks, total / ticks


def round_barrier(config: Path, emails: list[str]) -> tuple[float, list[dict], float]:
    t_spawn = time.perf_counter()
    procs = [_spawn(config, e, True) for e in emails]
    for proc in procs:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("a worker did not get ready")
    ready = time.perf_counter() - t_spawn
    go = time.perf_counter()
    busy0 = machine_busy()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = _collect(procs)
    elapsed = time.perf_counter() - go
    _note_machine(results, busy0, barrier=True)
    return elapsed, results, ready


def round_end_to_end(config: Path, emails: list[str]) -> tuple[float, list[dict]]:
    start = time.perf_counter()
    busy0 = machine_busy()
    procs = [_spawn(config, e, False) for e in emails]
    results = _collect(procs)
    elapsed = time.perf_counter() - start
    _note_machine(results, busy0, barrier=False)
    return elapsed, results


_MACHINE: dict[bool, str] = {}


def _note_machine(results: list[dict], busy0: tuple[float, float], *, barrier: bool) -> None:
    """How busy the machine was during the round, and how much of that was this crowd."""
    busy1 = machine_busy()
    busy, total = busy1[0] - busy0[0], busy1[1] - busy0[1]
    key = "flow_cpu_s" if barrier else "cpu_total_s"
    ours = sum(r.get(key, 0.0) for r in results)
    _MACHINE[barrier] = (
        f"- machine during the round: {busy / total:.0%} of all CPU busy; this crowd's own CPU "
        f"{ours:.1f} s = {ours / total:.0%} of the machine's capacity (the rest: other processes)"
    )


def report(name: str, elapsed: float, results: list[dict], per_enrollment_wall: float,
           per_enrollment_cpu: float, cores: int) -> None:
    ok = [r for r in results if r.get("ok")]
    errors = [r for r in results if not r.get("ok")]
    rate = len(ok) / elapsed
    limit_wall = cores / per_enrollment_wall
    limit_cpu = cores / per_enrollment_cpu
    print(f"\n### {name}\n")
    print(_MACHINE.get(name.startswith("barrier"), ""))
    print(f"- {len(ok)} of {len(results)} enrollments completed, {len(errors)} errors"
          + (f": {sorted({e.get('error') for e in errors})}" if errors else ""))
    print(f"- wall clock {elapsed:.2f} s → {rate:.2f} enrollments/s")
    print(f"- argon2-bound limit: {limit_cpu:.2f}/s by CPU time → {rate / limit_cpu:.0%} of it; "
          f"{limit_wall:.2f}/s by wall time (issue's formula) → {rate / limit_wall:.0%} of it")
    if ok:
        flows = [r["flow_s"] for r in ok]
        print(f"- one session's flow (go → signed in): {c.fmt(flows)}")
        print(f"- CPU per flow (all threads of the worker): {c.fmt([r['flow_cpu_s'] for r in ok])}")
        print(f"- time inside argon2 per flow: {c.fmt([r['argon2_wall'] for r in ok])}")
        for step in ("password", "choose_method", "setup_code", "finish"):
            print(f"  - step {step}: {c.fmt([r['steps'][step] for r in ok])}")
        print(f"- process start + imports + open service: {c.fmt([r['open_s'] for r in ok])}")
        calls = {(r["hash"], r["verify"]) for r in ok}
        print(f"- argon2 calls per enrollment (hash, verify): {sorted(calls)}")
        odd = [r for r in ok if (r["hash"], r["verify"]) != min(calls)]
        for r in odd[:3]:
            print(f"  - {r['email']}: {r['calls_by_step']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--barrier", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--email", help=argparse.SUPPRESS)
    parser.add_argument("--gate-experiment", action="store_true",
                        help="also compare argon2 free for all vs behind a one-per-core gate")
    parser.add_argument("--hash-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--go", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--gate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.config, args.email, args.barrier)
        return
    if args.hash_worker:
        hash_worker(args.gate, args.go, 2)
        return

    cores = os.cpu_count() or 1
    print("## crowd.py\n")
    print(c.machine_info())
    folder = c.temp_folder("crowd")
    config = c.write_config(folder)  # default argon2 parameters
    service = c.open_service(config)
    barrier_emails = c.seed(service, args.sessions, prefix="barrier")
    e2e_emails = c.seed(service, args.sessions, prefix="e2e")
    service.close()

    before = argon2_alone()
    seconds, barrier_results, ready = round_barrier(config, barrier_emails)
    e2e_seconds, e2e_results = round_end_to_end(config, e2e_emails)
    after = argon2_alone()
    load_after = c.load_average()

    alone = {k: before[k] + after[k] for k in before}
    calls = {(r["hash"], r["verify"]) for r in barrier_results + e2e_results if r.get("ok")}
    hashes, verifies = max(calls) if calls else (1, 1)
    import statistics

    per_wall = hashes * statistics.median(alone["hash_wall"]) + verifies * statistics.median(
        alone["verify_wall"])
    per_cpu = hashes * statistics.median(alone["hash_cpu"]) + verifies * statistics.median(
        alone["verify_cpu"])
    print("\n### argon2 alone (default parameters, this run, before and after the crowd)\n")
    for key, values in alone.items():
        print(f"- {key}: {c.fmt(values)}")
    print(f"- per enrollment ({hashes} hash + {verifies} verify): wall {per_wall * 1000:.0f} ms, "
          f"CPU {per_cpu * 1000:.0f} ms; cores: {cores}")
    report(f"barrier round: {args.sessions} sessions (all ready after {ready:.1f} s)", seconds,
           barrier_results, per_wall, per_cpu, cores)
    report(f"end-to-end round: {args.sessions} processes spawned at once", e2e_seconds,
           e2e_results, per_wall, per_cpu, cores)
    if args.gate_experiment:
        gate_experiment(args.sessions, folder)
    print(f"\nload average after: {load_after}")
    c.rmtree(folder)


if __name__ == "__main__":
    sys.exit(main())
