"""Goal 4: 50 concurrent sessions (processes) enroll at once; enrollments/s vs the argon2 bound.

    .venv/bin/python benchmarks/crowd.py [--sessions 50] [--repeats 2]

Each session is its own process that opens the service (SQLite file + key file, default argon2
parameters from the config) and walks the whole AuthFlow: password → Set Up Now → authenticator
app → code from pyotp → recovery code → saved → signed in. Two kinds of round, each on fresh
accounts:

- barrier: all processes start, open the service, then wait; the clock runs from "go" to the
  last enrollment done (process start and imports excluded);
- end to end: all processes are spawned at once and run straight through; the clock runs from
  the first spawn to the last exit (includes interpreter start, imports, opening the service).

Every round runs twice per repeat, interleaved (on, off, off, on, ...): with the product as
shipped — every argon2 run behind the machine-wide gate (kiosk/core/cpu_gate.py, slot folder
next to the key file) — and with the gate taken out of the workers' Hasher (`--no-gate`, this
script only), so that the gate's effect is a ratio measured in one run.

In the same run the parent times argon2 hash and verify with the same parameters, alone, and
the workers count the argon2 calls one enrollment makes and the CPU spent inside them (a
counting wrapper around argon2.PasswordHasher, inside the gate, installed by this script only),
so the CPU of a flow splits into argon2 and everything else. The argon2-bound limit is
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
from dataclasses import dataclass
from pathlib import Path

import _common as c

from kiosk.core.flow import AuthFlow


# ------------------------------------------------------------------------------- worker
def _count_argon2() -> dict[str, float]:
    """Wrap PasswordHasher.hash/verify to count calls, their wall time and their CPU time (this
    process only; the flow runs in one thread, so the process's CPU clock during a call is the
    call's own, argon2's threads included). Inside the gate: waiting for a slot is not counted."""
    import argon2

    counts = {"hash": 0, "verify": 0, "argon2_wall": 0.0, "argon2_cpu": 0.0}

    def counted(name: str):  # noqa: ANN202
        original = getattr(argon2.PasswordHasher, name)

        def call(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            start, cpu = time.perf_counter(), time.process_time()
            try:
                return original(self, *args, **kwargs)
            finally:
                counts[name] += 1
                counts["argon2_wall"] += time.perf_counter() - start
                counts["argon2_cpu"] += time.process_time() - cpu

        return call

    argon2.PasswordHasher.hash = counted("hash")  # type: ignore[method-assign]
    argon2.PasswordHasher.verify = counted("verify")  # type: ignore[method-assign]
    return counts


STEPS = ("password", "start_setup", "choose_method", "continue", "setup_code", "finish")


def worker(config: Path, email: str, barrier: bool, gated: bool) -> None:
    started = time.perf_counter()
    result: dict[str, object] = {"email": email, "gated": gated}
    try:

        import pyotp

        from kiosk.runtime import Context

        counts = _count_argon2()  # imports argon2 (the product imports it at the first Continue)
        context = Context(config)
        if gated:
            service = context.service()  # as `kiosk run` opens it (settings, then the store)
        else:
            from kiosk.core.accounts import Hasher
            from kiosk.core.service import KioskService

            settings = context.settings
            ungated = Hasher.from_settings(settings.argon2, gate=None)
            service = KioskService.open(settings, hasher=ungated)
        from kiosk.core.flow import Method, Step

        result["open_s"] = time.perf_counter() - started
        result["open_cpu_s"] = time.process_time()  # interpreter, imports, opening the service
        if barrier:
            print("ready", flush=True)
            if sys.stdin.readline().strip() != "go":
                return
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        flow = AuthFlow(service, "bench:crowd")
        steps: dict[str, float] = {}
        other_cpu: dict[str, float] = {}
        calls_by_step: dict[str, str] = {}

        def timed(name: str, call, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            t, cpu, argon2_cpu = time.perf_counter(), time.process_time(), counts["argon2_cpu"]
            before = (counts["hash"], counts["verify"])
            out = call(*args, **kwargs)
            steps[name] = time.perf_counter() - t
            other_cpu[name] = (time.process_time() - cpu) - (counts["argon2_cpu"] - argon2_cpu)
            calls_by_step[name] = f"{counts['hash'] - before[0]}h{counts['verify'] - before[1]}v"
            return out

        if timed("password", flow.submit_password, email, c.PASSWORD) != Step.MFA_REQUIRED:
            raise RuntimeError("expected MFA required")
        timed("start_setup", flow.start_setup)
        pending = timed("choose_method", flow.choose_method, Method.AUTHENTICATOR_APP)
        timed("continue", flow.continue_to_code)
        code = pyotp.TOTP(pending.secret).now()  # the person's phone
        timed("setup_code", flow.verify_setup_code, code)
        if timed("finish", flow.finish_enrollment, saved=True) != Step.SIGNED_IN:
            raise RuntimeError("expected signed in")
        result["done_at"] = time.time()  # the machine's clock: comparable across processes
        result.update(
            ok=True, flow_s=time.perf_counter() - t0, flow_cpu_s=time.process_time() - cpu0,
            steps=steps, other_cpu=other_cpu, calls_by_step=calls_by_step, **counts,
        )
        service.close()
    except Exception as exc:  # noqa: BLE001 - reported to the parent, counted as an error
        result.update(ok=False, error=f"{exc.__class__.__name__}: {exc}")
    result["total_s"] = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_total_s"] = usage.ru_utime + usage.ru_stime
    print(json.dumps(result), flush=True)


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


def _spawn(config: Path, email: str, barrier: bool, gated: bool) -> subprocess.Popen[str]:
    argv = [str(c.PYTHON), __file__, "--worker", "--config", str(config), "--email", email]
    if barrier:
        argv.append("--barrier")
    if not gated:
        argv.append("--no-gate")
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


@dataclass
class Round:
    kind: str  # "barrier" or "end to end"
    gated: bool
    elapsed: float
    results: list[dict]
    ready: float = 0.0
    machine: str = ""
    share: float = 1.0  # of the machine's CPU, what other processes left to the crowd

    @property
    def ok(self) -> list[dict]:
        return [r for r in self.results if r.get("ok")]

    @property
    def rate(self) -> float:
        return len(self.ok) / self.elapsed

    @property
    def title(self) -> str:
        gate = "gate on (as shipped)" if self.gated else "gate off (--no-gate)"
        return f"{self.kind} round, {gate}"


def run_round(kind: str, config: Path, emails: list[str], gated: bool) -> Round:
    barrier = kind == "barrier"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    children0 = before.ru_utime + before.ru_stime
    t_spawn = time.perf_counter()
    busy0 = machine_busy()
    procs = [_spawn(config, e, barrier, gated) for e in emails]
    ready = 0.0
    if barrier:
        for proc in procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("a worker did not get ready")
        ready = time.perf_counter() - t_spawn
        busy0 = machine_busy()
        go_at = time.time()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
    start = time.perf_counter() if barrier else t_spawn
    results = _collect(procs)
    elapsed = last_exit = time.perf_counter() - start
    if barrier and results and all(r.get("ok") for r in results):
        # "go" to the last enrollment done, as the round is defined: the last process's exit
        # (interpreter teardown, after its enrollment) is not part of it. The exits of the
        # others fall inside the round and their CPU is counted below all the same.
        elapsed = max(r["done_at"] for r in results) - go_at
    busy1 = machine_busy()
    busy, total = busy1[0] - busy0[0], busy1[1] - busy0[1]
    # The crowd's CPU from the kernel's count of this script's reaped children (whole lives,
    # exits included); in a barrier round minus what each spent before "go".
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    ours = after.ru_utime + after.ru_stime - children0
    if barrier:
        ours -= sum(r.get("open_cpu_s", 0.0) for r in results)
    machine = (
        f"- machine during the round: {busy / total:.0%} of all CPU busy; this crowd's own CPU "
        f"{ours:.1f} s = {ours / total:.0%} of the machine's capacity (the rest: the parent, "
        "other processes, the kernel)"
        + (f"; last process exited {last_exit:.2f} s after go" if barrier else "")
    )
    share = min(1.0, (total - max(0.0, busy - ours)) / total)
    return Round(kind, gated, elapsed, results, ready, machine, share)


def report(rnd: Round, limit_wall: float, limit_cpu: float) -> None:
    ok, errors = rnd.ok, [r for r in rnd.results if not r.get("ok")]
    ready = f" (all ready after {rnd.ready:.1f} s)" if rnd.kind == "barrier" else ""
    print(f"\n### {rnd.title}: {len(rnd.results)} sessions{ready}\n")
    print(rnd.machine)
    print(f"- {len(ok)} of {len(rnd.results)} enrollments completed, {len(errors)} errors"
          + (f": {sorted({e.get('error') for e in errors})}" if errors else ""))
    print(f"- wall clock {rnd.elapsed:.2f} s → {rnd.rate:.2f} enrollments/s")
    print(f"- argon2-bound limit: {limit_cpu:.2f}/s by CPU time → {rnd.rate / limit_cpu:.0%} of "
          f"it; {limit_wall:.2f}/s by wall time (issue's formula) → {rnd.rate / limit_wall:.0%}")
    print(f"- against the CPU other processes left to the crowd ({rnd.share:.0%} of the machine): "
          f"{rnd.rate / (limit_cpu * rnd.share):.0%} of the CPU-time limit")
    if not ok:
        return
    print(f"- one session's flow (go/spawn → signed in): {c.fmt([r['flow_s'] for r in ok])}")
    print(f"- CPU per flow (all threads of the worker): {c.fmt([r['flow_cpu_s'] for r in ok])}")
    print(f"  - inside argon2: {c.fmt([r['argon2_cpu'] for r in ok])}")
    print(f"  - everything else: {c.fmt([r['flow_cpu_s'] - r['argon2_cpu'] for r in ok])}")
    for step in STEPS:
        print(f"    - step {step}: {c.fmt([r['other_cpu'][step] for r in ok], digits=1)}")
    print(f"- time inside argon2 per flow (wall): {c.fmt([r['argon2_wall'] for r in ok])}")
    waits = [r["flow_s"] - r["argon2_wall"] for r in ok]
    print(f"- the rest of the flow's wall time (waiting for a slot, for the CPU, the database): "
          f"{c.fmt(waits)}")
    for step in ("password", "setup_code", "finish"):
        print(f"  - step {step} (wall): {c.fmt([r['steps'][step] for r in ok])}")
    print(f"- process start + imports + open service: wall {c.fmt([r['open_s'] for r in ok])}; "
          f"CPU {c.fmt([r['open_cpu_s'] for r in ok])}")
    if rnd.kind != "barrier":
        print(f"- CPU per process, start to exit: {c.fmt([r['cpu_total_s'] for r in ok])}")
    calls = {(r["hash"], r["verify"]) for r in ok}
    print(f"- argon2 calls per enrollment (hash, verify): {sorted(calls)}")
    odd = [r for r in ok if (r["hash"], r["verify"]) != min(calls)]
    for r in odd[:3]:
        print(f"  - {r['email']}: {r['calls_by_step']}")


def summary(rounds: list[Round], limit_cpu: float) -> None:
    import statistics

    print("\n### Summary: gate on (as shipped) vs gate off, same run, interleaved\n")
    print("| round | gate | enrollments/s | % of CPU bound | % of it, against the CPU left to "
          "the crowd | errors | session done: median / max | CPU per flow: argon2 + rest |")
    print("|---|---|---|---|---|---|---|---|")
    for rnd in rounds:
        ok = rnd.ok
        flows = [r["flow_s"] for r in ok] or [0.0]
        a2 = statistics.median(r["argon2_cpu"] for r in ok) if ok else 0.0
        rest = statistics.median(r["flow_cpu_s"] - r["argon2_cpu"] for r in ok) if ok else 0.0
        print(f"| {rnd.kind} | {'on' if rnd.gated else 'off'} | {rnd.rate:.2f} | "
              f"{rnd.rate / limit_cpu:.0%} | {rnd.rate / (limit_cpu * rnd.share):.0%} "
              f"({rnd.share:.0%} left) | {len(rnd.results) - len(ok)} | "
              f"{statistics.median(flows):.1f} s / {max(flows):.1f} s | "
              f"{a2 * 1000:.0f} + {rest * 1000:.0f} ms |")
    print()
    for kind in ("barrier", "end to end"):
        on = [r for r in rounds if r.kind == kind and r.gated]
        off = [r for r in rounds if r.kind == kind and not r.gated]
        if not (on and off):
            continue
        rate_on, rate_off = (statistics.mean(r.rate for r in x) for x in (on, off))
        left_on, left_off = (statistics.mean(r.rate / (limit_cpu * r.share) for r in x)
                             for x in (on, off))
        print(f"- {kind}: gate on / gate off = {rate_on / rate_off:.2f}× enrollments/s (means of "
              f"{len(on)} rounds each: {rate_on:.2f} vs {rate_off:.2f}/s); gate on reaches "
              f"{rate_on / limit_cpu:.0%} of the CPU bound, off {rate_off / limit_cpu:.0%} "
              f"(against the CPU left to the crowd: {left_on:.0%} and {left_off:.0%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=2,
                        help="rounds per kind and gate setting (interleaved on/off/off/on...)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--barrier", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-gate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--email", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.config, args.email, args.barrier, gated=not args.no_gate)
        return

    import statistics

    from kiosk.core.cpu_gate import usable_cpus

    cores = os.cpu_count() or 1
    print("## crowd.py\n")
    print(c.machine_info())
    folder = c.temp_folder("crowd")
    config = c.write_config(folder)  # default argon2 parameters
    service = c.open_service(config)
    gate = service.ctx.hasher.gate
    plan = [
        (kind, gated)
        for kind in ("barrier", "end to end")
        for r in range(args.repeats)
        for gated in ((True, False) if r % 2 == 0 else (False, True))
    ]
    emails = [c.seed(service, args.sessions, prefix=f"r{i}-") for i in range(len(plan))]
    service.close()

    before = argon2_alone()
    rounds = [run_round(kind, config, emails[i], gated) for i, (kind, gated) in enumerate(plan)]
    after = argon2_alone()
    load_after = c.load_average()

    alone = {k: before[k] + after[k] for k in before}
    calls = {(r["hash"], r["verify"]) for rnd in rounds for r in rnd.ok}
    hashes, verifies = max(calls) if calls else (1, 1)
    per_wall = hashes * statistics.median(alone["hash_wall"]) + verifies * statistics.median(
        alone["verify_wall"])
    per_cpu = hashes * statistics.median(alone["hash_cpu"]) + verifies * statistics.median(
        alone["verify_cpu"])
    limit_wall, limit_cpu = cores / per_wall, cores / per_cpu
    print("\n### argon2 alone (default parameters, this run, before and after the crowd)\n")
    for key, values in alone.items():
        print(f"- {key}: {c.fmt(values)}")
    print(f"- per enrollment ({hashes} hash + {verifies} verify): wall {per_wall * 1000:.0f} ms, "
          f"CPU {per_cpu * 1000:.0f} ms; cores: {cores}")
    print(f"- the gate: {gate!r} (usable CPUs: {usable_cpus()}), slot folder next to the key file")
    for rnd in rounds:
        report(rnd, limit_wall, limit_cpu)
    summary(rounds, limit_cpu)
    print(f"\nload average after: {load_after}")
    c.rmtree(folder)


if __name__ == "__main__":
    sys.exit(main())
