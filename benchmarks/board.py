"""The onboarding board at scale: a cohort of 1,000 in a store of 100,000 accounts (issue 12).

    .venv/bin/python benchmarks/board.py [--rounds 20] [--idle 30] [--rebuild]
        [--database-url postgresql://user@host:port/db]

Builds (once, cached in /tmp/kiosk-bench-board; `--rebuild` starts over) a SQLite store with
100,000 accounts and a cohort "bench" of 1,000 of them; with `--database-url`, the same in that
(empty) PostgreSQL database, where the board LISTENs instead of polling. Then measures:

1. commit → repaint: `kiosk onboard bench` runs in a real 120×40 pty (pyte reads the screen),
   filtered to one person; this process commits that person's next stage (as a kiosk does, via
   `Cohorts.record_stage`) and times until the new state is on the screen. Goal: ≤ 1 s.
2. idle CPU: the same board left alone (no change in the store) for `--idle` seconds, CPU time
   from /proc/PID/stat over wall time. Goal: ≤ 2 % of a core.
3. event-loop stalls: the board runs in this process (Textual's headless driver) with a task
   that wakes every 5 ms and records how late it woke, while another process commits a stage for
   every one of the 1,000 people (in bursts of 50), and the board follows. Goal: no stall over
   50 ms. The initial load of the 1,000 rows is reported apart.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import _common as c

CACHE = Path(tempfile.gettempdir()) / "kiosk-bench-board"
ACCOUNTS, COHORT_SIZE, COHORT = 100_000, 1_000, "bench"
COLS, ROWS = 120, 40
STAGES = ["signed_in", "setting_up", "code_confirmed"]
LABELS = {"signed_in": "signed in", "setting_up": "setting up", "code_confirmed": "confirmed"}


def build(rebuild: bool, url: str | None) -> Path:
    """The cached store: 100,000 accounts, a cohort of the first 1,000 (every 100th account)."""
    global CACHE
    if url:
        CACHE = CACHE.with_name(CACHE.name + "-postgres")
    config = CACHE / "config.toml"
    if rebuild and CACHE.exists():
        shutil.rmtree(CACHE)
    if (CACHE / "ready").exists():
        return config
    if CACHE.exists():
        shutil.rmtree(CACHE)
    CACHE.mkdir(parents=True)
    config = c.write_config(CACHE, fast_argon2=True, **({"url": url} if url else {}))
    from kiosk.core.cohorts import NewPerson

    service = c.open_service(config)
    try:
        started = time.perf_counter()
        emails = c.seed(service, ACCOUNTS)
        members = emails[:: ACCOUNTS // COHORT_SIZE][:COHORT_SIZE]
        service.cohorts.create(COHORT, [NewPerson(e) for e in members], staff="bench")
        print(f"built {ACCOUNTS} accounts and a cohort of {len(members)} "
              f"in {time.perf_counter() - started:.1f} s")
    finally:
        service.close()
    (CACHE / "ready").write_text("ok")
    return config


def members(config: Path) -> list[str]:
    service = c.open_service(config)
    try:
        return [p.email for p in service.cohorts.people(COHORT)]
    finally:
        service.close()


def record(config: Path, email: str, stage: str) -> None:
    """What a kiosk does when a person reaches a stage (one transaction)."""
    from kiosk.core.steps import Stage

    service = c.open_service(config)
    try:
        account = service.accounts.find(email)
        service.cohorts.record_stage(account, Stage(stage), source="bench")
    finally:
        service.close()


class Screen:
    """A program in a COLS×ROWS pty, its output fed to pyte."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        import pexpect
        import pyte

        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.Stream(self.screen)
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        env = c.clean_env({"COLUMNS": str(COLS), "LINES": str(ROWS)})
        self.child = pexpect.spawn(argv[0], argv[1:], cwd=str(cwd), env=env,
                                   dimensions=(ROWS, COLS), encoding=None, echo=False)

    def pump(self, timeout: float = 0.01) -> None:
        import pexpect

        try:
            data = self.child.read_nonblocking(1 << 16, timeout=timeout)
        except (pexpect.TIMEOUT, pexpect.EOF):
            return
        self.stream.feed(self.decoder.decode(data))

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def wait_for(self, predicate, timeout: float = 30.0) -> float:  # noqa: ANN001
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            self.pump()
            if predicate(self.text()):
                return time.perf_counter() - start
        raise TimeoutError(f"not seen in {timeout} s; screen:\n{self.text()}")

    def drain(self, seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            self.pump(0.05)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.child.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        c._hang_up(self.child)


def repaint_and_idle(config: Path, rounds: int, idle: float) -> tuple[list[float], float, float]:
    people = members(config)
    target = people[len(people) // 2]
    board = Screen([str(c.KIOSK), "--config", str(config), "onboard", COHORT], CACHE)
    try:
        load = board.wait_for(lambda t: target in t or "1000" in t, timeout=120)
        board.drain(2.0)
        board.child.send("/")
        board.drain(0.3)
        board.child.send(target)
        board.drain(1.0)
        board.child.send("\r")
        board.wait_for(lambda t: target in t)
        board.drain(1.0)
        latencies: list[float] = []
        for index in range(rounds):
            stage = STAGES[index % len(STAGES)]
            record(config, target, stage)
            committed = time.perf_counter()
            label = LABELS[stage]
            row = lambda t, s=label: any(target in line and s in line for line in t.splitlines())  # noqa: E731
            board.wait_for(row, timeout=10)
            latencies.append(time.perf_counter() - committed)
            board.drain(0.3)
        board.drain(3.0)  # let the last refresh and any timers settle
        cpu_before, wall_before = board.cpu_seconds(), time.perf_counter()
        board.drain(idle)
        cpu = (board.cpu_seconds() - cpu_before) / (time.perf_counter() - wall_before)
        return latencies, cpu, load
    finally:
        board.close()


def writer(config: Path) -> None:
    """The other process of the stall measurement: a stage for every person, 50 at a time."""
    import sys

    from kiosk.core.steps import Stage

    service = c.open_service(config)
    try:
        accounts = [service.accounts.find(p.email) for p in service.cohorts.people(COHORT)]
        print("ready", flush=True)
        sys.stdin.readline()  # go
        for start in range(0, len(accounts), 50):
            for account in accounts[start : start + 50]:
                service.cohorts.record_stage(account, Stage.SETTING_UP, source="bench")
            time.sleep(0.2)
    finally:
        service.close()


def stalls(config: Path) -> tuple[list[float], float, float]:
    """(lateness of every 5 ms wake-up while the board follows 1,000 changes, load seconds,
    seconds until the board showed every change)."""
    from kiosk.board.app import BoardApp, settle_memory
    from kiosk.store.models import ProgressEvent, utcnow

    service = c.open_service(config)
    rows = service.cohorts.people(COHORT)
    people = [p.email for p in rows]
    with service.db.atomic():  # everyone back to "signed in", so each change below is visible
        ProgressEvent.insert_many(
            [(p.account_id, p.email, "signed_in", utcnow(), "bench") for p in rows],
            fields=[ProgressEvent.account, ProgressEvent.email, ProgressEvent.step,
                    ProgressEvent.at, ProgressEvent.source],
        ).execute()
    late: list[float] = []
    settle_memory()  # as `kiosk onboard` does before it starts the board

    async def run() -> tuple[float, float]:
        app = BoardApp(service, COHORT, staff="bench")
        async with app.run_test(size=(COLS, ROWS)) as pilot:
            started = time.perf_counter()
            while "@example.com" not in _table_text(app):
                await pilot.pause(0.05)
            load = time.perf_counter() - started
            await pilot.pause(1.0)
            stop = asyncio.Event()
            began = time.perf_counter()

            async def monitor() -> None:
                while not stop.is_set():
                    before = time.perf_counter()
                    await asyncio.sleep(0.005)
                    late.append(time.perf_counter() - before - 0.005)
                    if late[-1] > 0.02 and os.environ.get("BENCH_TRACE"):
                        print(f"  late {1000 * late[-1]:.0f} ms at {before - began:.2f} s")

            task = asyncio.create_task(monitor())
            proc = subprocess.Popen(
                [str(c.PYTHON), __file__, "--writer", str(config)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=c.clean_env(),
            )
            assert proc.stdout is not None and proc.stdin is not None
            await asyncio.to_thread(proc.stdout.readline)  # its service is open: ready
            late.clear()
            began = time.perf_counter()
            proc.stdin.write("go\n")
            proc.stdin.flush()
            while proc.poll() is None or _count(app, "setting up") < len(people):
                await asyncio.sleep(0.1)
                if time.perf_counter() - began > 300:
                    break
            followed = time.perf_counter() - began
            stop.set()
            await task
            proc.wait()
            return load, followed

    try:
        load, followed = asyncio.run(run())
    finally:
        service.close()
    return late, load, followed


def _table_text(app) -> str:  # noqa: ANN001
    from textual.widgets import DataTable

    try:
        table = app.screen.query_one(DataTable)
    except Exception:  # noqa: BLE001 - not mounted yet
        return ""
    return " ".join(str(cell) for row in range(min(table.row_count, 5))
                    for cell in table.get_row_at(row))


def _count(app, state: str) -> int:  # noqa: ANN001
    from textual.widgets import DataTable

    table = app.screen.query_one(DataTable)
    return sum(1 for row in range(table.row_count)
               if any(str(cell) == state for cell in table.get_row_at(row)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--idle", type=float, default=30.0)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--database-url", help="an empty PostgreSQL database to build in")
    parser.add_argument("--writer", metavar="CONFIG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.writer:
        writer(Path(args.writer))
        return
    print(c.machine_info())
    config = build(args.rebuild, args.database_url)
    print(f"store: {'PostgreSQL (LISTEN)' if args.database_url else 'SQLite (data_version)'}")
    latencies, cpu, load = repaint_and_idle(config, args.rounds, args.idle)
    print(f"board in a pty: first screen with the cohort after {load:.2f} s")
    print(f"commit → repaint (pty, {len(latencies)} rounds): {c.fmt(latencies)}; goal ≤ 1000 ms")
    print(f"idle board CPU over {args.idle:.0f} s: {100 * cpu:.2f} % of a core; goal ≤ 2 %")
    late, load, followed = stalls(config)
    if not late:
        print("no wake-ups recorded")
        return
    worst = max(late) if late else 0.0
    over = sum(1 for x in late if x > 0.050)
    print(f"in-process board: 1,000 rows loaded in {load:.2f} s; followed 1,000 changes "
          f"(20 bursts of 50) in {followed:.1f} s")
    print(f"event-loop lateness while following: {c.fmt(late)}; worst {1000 * worst:.1f} ms; "
          f"{over} wake-ups later than 50 ms (goal 0)")


if __name__ == "__main__":
    main()
