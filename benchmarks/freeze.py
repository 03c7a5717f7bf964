"""Goal 3: the event loop never stalls > 50 ms while a sign-in runs argon2 and the database.

    .venv/bin/python benchmarks/freeze.py [--rounds 10]

Runs the real `kiosk.ui.app.KioskApp` headless (`App.run_test`, 80×24) on a real SQLite file with
default argon2 parameters and a real enrolled account. The benchmark registers two probes from
outside the app (no probe code in the product):

- loop lateness: `app.set_interval(0.01, tick)`; each tick records how much later than 10 ms
  after the previous one it ran (a stalled event loop delays every timer);
- app queue latency: each tick also posts `app.call_later(...)` and records how long that took
  to be handled (the app's message queue, where key presses wait too).

Each round: type the password, Enter (argon2 verify + database reads in the app's worker), wait
for "Enter the 6-digit code", type the TOTP code, Enter (decrypt + replay guard + audit write),
wait for Signed in, then back to Sign in; plus one wrong password per round (argon2 + the failure
written). The service's clock is injected and moves 30 s per round so every code is fresh.

Two controls in the same run: the same probes while idle on Sign in (the floor on this machine),
and a deliberate argon2 verify run ON the event loop (proves the probe sees a stall).

The objects the imports made are frozen out of the garbage collector before the app is built,
as `kiosk run` does (kiosk/launch.py); `BENCH_NO_GC_FREEZE=1` leaves them in, for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time

import _common as c

EMAIL = "user000000@example.com"


class Probe:
    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.last: float | None = None
        self.lateness: list[float] = []
        self.queue: list[float] = []
        self.recording = False
        self.phase = ""
        self.stalls: list[tuple[float, str]] = []  # (lateness, phase) of every tick late > 20 ms
        self.last_busy = False
        self.worker_lateness: list[float] = []  # ticks with the flow worker running at both ends

    def tick(self, app) -> None:  # noqa: ANN001
        now = time.perf_counter()
        busy = app.busy
        if self.recording and self.last is not None:
            late = max(0.0, now - self.last - self.interval)
            self.lateness.append(late)
            if busy and self.last_busy:
                self.worker_lateness.append(late)
            if late > 0.02:
                where = "worker running" if busy and self.last_busy else "screen change"
                self.stalls.append((late, f"{self.phase}, {where}"))
        self.last = now
        self.last_busy = busy
        if self.recording:
            app.call_later(self._queued, now)

    def _queued(self, sent: float) -> None:
        if self.recording:
            self.queue.append(time.perf_counter() - sent)

    def start(self) -> None:
        self.lateness.clear()
        self.queue.clear()
        self.stalls.clear()
        self.worker_lateness.clear()
        self.last = None
        self.recording = True

    def stop(self) -> tuple[list[float], list[float]]:
        self.recording = False
        return list(self.lateness), list(self.queue)


def p99(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def summary(name: str, lateness: list[float], queue: list[float], seconds: float) -> str:
    return (
        f"- {name} ({seconds:.1f} s, {len(lateness)} ticks): loop lateness max "
        f"{max(lateness, default=0) * 1000:.1f} ms, p99 {p99(lateness) * 1000:.1f} ms, median "
        f"{statistics.median(lateness or [0]) * 1000:.1f} ms; app queue latency max "
        f"{max(queue, default=0) * 1000:.1f} ms, p99 {p99(queue) * 1000:.1f} ms"
    )


async def wait_until(pilot, predicate, timeout: float = 20.0) -> float:  # noqa: ANN001
    start = time.perf_counter()
    while not predicate():
        if time.perf_counter() - start > timeout:
            raise TimeoutError(f"timed out; screen is {type(pilot.app.screen).__name__}")
        await pilot.pause(0.005)
    return time.perf_counter() - start


async def run(rounds: int) -> None:
    import pyotp
    from textual.widgets import Input

    from kiosk.core.flow import Step
    from kiosk.ui.app import KioskApp

    if not os.environ.get("BENCH_NO_GC_FREEZE"):  # as `kiosk run` does (kiosk/launch.py)
        from kiosk.runtime import freeze_imported_objects

        freeze_imported_objects()
    folder = c.temp_folder("freeze")
    config = c.write_config(folder, mode="kiosk")
    clock = c.SteppingClock()
    service = c.open_service(config, clock=clock)
    c.seed(service, 10)
    secret = c.enroll_directly(service, EMAIL)
    hasher = service.ctx.hasher

    app = KioskApp(_as_launched(service), mode="kiosk", source="bench:freeze")
    probe = Probe()
    phases: dict[str, tuple[list[float], list[float], float]] = {}
    step_times: dict[str, list[float]] = {"password": [], "code": [], "wrong password": []}

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.flow.step == Step.SIGN_IN
                         and bool(app.screen.query("#email")))
        app.set_interval(probe.interval, lambda: probe.tick(app))
        await pilot.pause(0.2)

        # Control 1: idle on Sign in.
        probe.start()
        t = time.perf_counter()
        await asyncio.sleep(2.0)
        phases["idle on Sign in (control)"] = (*probe.stop(), time.perf_counter() - t)

        # The real thing: sign-ins through the UI.
        def on_sign_in() -> bool:
            return app.flow.step == Step.SIGN_IN and bool(app.screen.query("#password"))

        async def type_password(password: str) -> None:
            screen = app.screen
            screen.query_one("#email", Input).value = EMAIL
            field = screen.query_one("#password", Input)
            field.value = password
            field.focus()
            await pilot.pause()

        probe.start()
        t = time.perf_counter()
        for number in range(rounds):
            clock.advance()
            probe.phase = f"round {number + 1}: wrong password"
            # A wrong password: argon2 verify and the failure written to the database.
            await type_password("wrong-password-123")
            t0 = time.perf_counter()
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await wait_until(pilot, lambda: not app.busy and on_sign_in())
            step_times["wrong password"].append(time.perf_counter() - t0)
            # The right password, then the code.
            probe.phase = f"round {number + 1}: password"
            await type_password(c.PASSWORD)
            t0 = time.perf_counter()
            await pilot.press("enter")
            await wait_until(pilot, lambda: app.flow.step == Step.ENTER_CODE
                             and bool(app.screen.query("#code")))
            step_times["password"].append(time.perf_counter() - t0)
            probe.phase = f"round {number + 1}: code"
            app.screen.query_one("#code", Input).focus()
            for ch in pyotp.TOTP(secret).at(clock.now):
                await pilot.press(ch)
            t0 = time.perf_counter()
            await pilot.press("enter")
            await wait_until(pilot, lambda: app.flow.step == Step.SIGNED_IN)
            step_times["code"].append(time.perf_counter() - t0)
            await pilot.pause(0.05)
            probe.phase = f"round {number + 1}: back to Sign in"
            app.wipe()
            app.show_step()
            await wait_until(pilot, on_sign_in)
        phases[f"{rounds} rounds of sign-in through the UI"] = (*probe.stop(),
                                                                 time.perf_counter() - t)
        stalls = sorted(probe.stalls, reverse=True)
        worker = list(probe.worker_lateness)

        # Control 2: the same screen changes with no argon2 and no database (UI work alone).
        probe.start()
        t = time.perf_counter()
        for _ in range(rounds * 3):
            probe.phase = "screen change alone"
            app.wipe()
            app.show_step()
            await wait_until(pilot, on_sign_in)
            await pilot.pause(0.05)
        phases[f"{rounds * 3} screen changes to Sign in, no argon2/database (control)"] = (
            *probe.stop(), time.perf_counter() - t)

        # Control 3: argon2 on the event loop (what the worker avoids).
        probe.start()
        t = time.perf_counter()
        await asyncio.sleep(0.3)
        stand_in = service.factors.stand_in_hash()
        app.call_later(lambda: hasher.verify(stand_in, "x"))
        await asyncio.sleep(0.7)
        phases["argon2 verify run on the loop (control: must show a stall)"] = (
            *probe.stop(), time.perf_counter() - t)

    print("## freeze.py\n")
    print(c.machine_info())
    print("\n### Event-loop lateness (10 ms timer) and app-queue latency\n")
    for name, (lateness, queue, seconds) in phases.items():
        print(summary(name, lateness, queue, seconds))
    print(f"\nOf those, ticks while the flow worker ran argon2/the database (app.busy at both "
          f"ends, {len(worker)} ticks): max {max(worker, default=0) * 1000:.1f} ms, "
          f"p99 {p99(worker) * 1000:.1f} ms, "
          f"median {statistics.median(worker or [0]) * 1000:.1f} ms")
    print("\nTicks late by more than 20 ms during the sign-in rounds, worst first: "
          + (", ".join(f"{late * 1000:.0f} ms ({phase})" for late, phase in stalls[:12])
             or "none"))
    print("\n### Time from Enter to the next screen (UI included)\n")
    for name, values in step_times.items():
        print(f"- {name}: {c.fmt(values)}")
    print(f"\nload average after: {c.load_average()}")
    service.close()
    c.rmtree(folder)


def _as_launched(service):  # noqa: ANN001, ANN202
    """Hand the app its service the way `kiosk run` does: deferred, opened after the first paint."""
    from kiosk.core.deferred import DeferredService

    return DeferredService(service.settings, lambda: service)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(run(args.rounds))


if __name__ == "__main__":
    sys.exit(main())
