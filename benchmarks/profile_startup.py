"""Where the kiosk's start-up time goes, stage by stage, with a pyinstrument profile.

    .venv/bin/python benchmarks/profile_startup.py [--html out.html] [--stages-only]

In one fresh process, the stages `kiosk run` goes through before the Sign in screen: import
kiosk.launch, load the settings, open the service (database + keyring), import kiosk.ui.app, build
KioskApp, and start it headless (`run_test`, 80×24) until the Sign in screen's Email field is
mounted. Prints each stage's wall time, then the pyinstrument call tree (a second process, so
the stage timings carry no profiler overhead). pyinstrument is a benchmark-only dependency.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import _common as c


def _stopwatch() -> tuple[list[tuple[str, float]], Callable[[str], None]]:
    """(stages, mark): `mark(name)` records the time since the previous mark as stage `name`."""
    out: list[tuple[str, float]] = []
    last = time.perf_counter()

    def mark(name: str) -> None:
        nonlocal last
        now = time.perf_counter()
        out.append((name, now - last))
        last = now

    return out, mark


def stages(config: Path) -> list[tuple[str, float]]:
    out, mark = _stopwatch()

    from kiosk.runtime import Context

    mark("import kiosk.launch (config, errors; no click)")
    ctx = Context(config)
    ctx.settings  # noqa: B018 - loads and validates the config, sets up logging
    mark("load settings")
    try:  # as `kiosk run` does: the store opens after the first paint when the CLI defers it
        from kiosk.core.deferred import DeferredService
    except ImportError:
        service = ctx.service()
        mark("open service (peewee, sqlite, keyring, key check)")
    else:
        service = DeferredService(ctx.settings, ctx.service)
    from kiosk.ui.app import KioskApp

    mark("import kiosk.ui.app (textual, screens, widgets)")
    app = KioskApp(service, mode="ssh", source="bench:profile")
    mark("KioskApp(...)")

    async def start() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            while not app.screen.query("#email"):
                await pilot.pause(0.005)
            mark("run_test until Sign in is mounted (headless)")
            if getattr(service, "is_open", True) is False:
                while not service.is_open:
                    await pilot.pause(0.005)
                mark("(after it) the store opened in the background")

    asyncio.run(start())
    ctx.close()
    return out


def baseline_stages() -> list[tuple[str, float]]:
    out, mark = _stopwatch()

    sys.path.insert(0, str(c.BENCH))
    from baseline_app import BaselineApp

    mark("import baseline_app (textual.app, Static)")
    app = BaselineApp()
    mark("BaselineApp()")

    async def start() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            while not app.screen.query("Static"):
                await pilot.pause(0.005)
            mark("run_test until the Static is mounted (headless)")

    asyncio.run(start())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", help="also write the pyinstrument profile as HTML here")
    parser.add_argument("--stages-only", action="store_true")
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=["stages", "profile", "baseline"],
                        help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child in ("stages", "baseline"):
        found = stages(args.config) if args.child == "stages" else baseline_stages()
        for name, seconds in found:
            print(f"- {name}: {seconds * 1000:.0f} ms")
        total = sum(s for name, s in found if not name.startswith("(after it)"))
        print(f"- total to the first screen: {total * 1000:.0f} ms")
        return
    if args.child == "profile":
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
        stages(args.config)
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))
        if args.html:
            Path(args.html).write_text(profiler.output_html())
        return

    folder = c.temp_folder("profile")
    config = c.write_config(folder)
    service = c.open_service(config)
    c.seed(service, 10)
    service.close()
    print("## profile_startup.py\n")
    print(c.machine_info())
    me = [str(c.PYTHON), __file__, "--config", str(config)]
    subprocess.run(me + ["--child", "stages"], check=True,  # warm caches, discarded
                   stdout=subprocess.DEVNULL)
    subprocess.run(me + ["--child", "baseline"], check=True, stdout=subprocess.DEVNULL)
    print("\n### Stages (one fresh process each, no profiler)\n\nkiosk:", flush=True)
    subprocess.run(me + ["--child", "stages"], check=True)
    print("\nbaseline app:", flush=True)
    subprocess.run(me + ["--child", "baseline"], check=True)
    if not args.stages_only:
        print("\n### pyinstrument (another fresh process)\n```", flush=True)
        extra = ["--html", args.html] if args.html else []
        subprocess.run(me + ["--child", "profile", *extra], check=True)
        print("```")
    c.rmtree(folder)


if __name__ == "__main__":
    sys.exit(main())
