"""Goals 1 and 2: time to the Sign in screen and memory there, against a minimal Textual app.

    .venv/bin/python benchmarks/startup.py [--runs 10]

Each run spawns the program in an 80×24 pty (pexpect), feeds its output to pyte, and stops the
clock when the screen shows "Sign in" and the Email field (kiosk) or the Static's text (baseline,
benchmarks/baseline_app.py). Half a second later VmRSS/VmHWM are read from /proc, then the process
is hung up on (SIGHUP). Runs are interleaved (baseline, second start, first start, in rotating
order) so that load on the machine falls on all of them alike.

- second start: a config folder with an existing SQLite database (10 accounts) and key file;
- first start: an empty folder (the kiosk creates the database, runs the migration, writes the key).

References, not goals, timed the same way: a plain Textual sign-in form (form_app.py), and the
baseline with its garbage collector paused as `kiosk run` pauses it until Sign in is painted.

Also timed, as processes without a pty: `kiosk --help` and `kiosk users list` (CLI + settings +
opening the database and the keyring, no UI), against `python -c "import textual.app"`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import _common as c

FORM_APP = Path(__file__).with_name("form_app.py")

# A reference: the baseline with the garbage collector paused as `kiosk run` pauses it until
# Sign in is painted (kiosk/launch.py), to show what that pause alone is worth to any app.
GC_PAUSED_BASELINE = """
import gc, runpy, sys
gc.disable()
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""



def _old_key_check_folder() -> Path:
    """A second-start folder whose key check is the AES-GCM form databases made before the
    HMAC check have (opening it loads `cryptography`, as every start did before)."""
    from kiosk.core.vault import KEY_CHECK_PLAINTEXT, check_associated_data
    from kiosk.store.models import Meta

    folder = c.temp_folder("old-check")
    config = c.write_config(folder)
    service = c.open_service(config)
    c.seed(service, 10)
    blob = service.keys.ring.encrypt(KEY_CHECK_PLAINTEXT, check_associated_data(1), 1)
    Meta.update(value=blob.hex()).where(Meta.key == "key_check:1").execute()
    service.close()
    return folder


def _timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                   env=c.clean_env())
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-first-start", action="store_true", help="skip the first-start runs")
    parser.add_argument("--no-cli", action="store_true", help="skip the process-only CLI timings")
    parser.add_argument("--old-key-check", action="store_true",
                        help="also run the kiosk on a database with the older AES-GCM key check")
    args = parser.parse_args()

    print("## startup.py\n")
    print(c.machine_info())
    print()

    folder = c.temp_folder("second")
    config = c.write_config(folder)
    service = c.open_service(config)
    c.seed(service, 10)
    service.close()

    first_folders = []

    def first_start() -> c.ScreenRun:
        fresh = c.temp_folder("first")
        first_folders.append(fresh)
        return c.time_to_screen(c.kiosk_argv(c.write_config(fresh)), c.sign_in_visible, cwd=fresh)

    variants: dict[str, Callable[[], c.ScreenRun]] = {
        "baseline": lambda: c.time_to_screen(c.baseline_argv(), c.baseline_visible, cwd=folder),
        "kiosk": lambda: c.time_to_screen(c.kiosk_argv(config), c.sign_in_visible, cwd=folder),
        # A reference: any sign-in form in stock Textual widgets (benchmarks/form_app.py).
        "plain Textual form": lambda: c.time_to_screen(
            [str(c.PYTHON), str(FORM_APP)], lambda text: "Form ready" in text, cwd=folder),
        "baseline, GC paused": lambda: c.time_to_screen(
            [str(c.PYTHON), "-c", GC_PAUSED_BASELINE, str(c.BASELINE)], c.baseline_visible,
            cwd=folder),
    }
    if not args.no_first_start:
        variants["kiosk first start"] = first_start
    if args.old_key_check:
        old = _old_key_check_folder()
        first_folders.append(old)
        variants["kiosk, older AES-GCM key check (before the HMAC check)"] = (
            lambda: c.time_to_screen(c.kiosk_argv(old / "config.toml"), c.sign_in_visible,
                                     cwd=old))
    # Warm the page cache and the bytecode caches; not counted.
    for run in variants.values():
        run()

    results: dict[str, list[c.ScreenRun]] = {name: [] for name in variants}
    names = list(variants)
    for i in range(args.runs):
        order = names[i % len(names):] + names[: i % len(names)]
        for name in order:
            results[name].append(variants[name]())
    load_after = c.load_average()

    def col(name: str, attr: str) -> list[float]:
        return [getattr(r, attr) for r in results[name]]

    mib = {"unit": "MiB", "scale": 1 / 1024, "digits": 1}
    print("### Time to first screen (pty 80×24, spawn → screen visible)\n")
    for name in names:
        print(f"- {name}: {c.fmt(col(name, 'seconds'))}")
    for name in names[1:]:
        paired = c.paired_ratios(col(name, "seconds"), col("baseline", "seconds"))
        ratio = c.ratio_of_medians(col(name, "seconds"), col("baseline", "seconds"))
        print(f"- ratio {name} / baseline: {ratio:.2f}× (ratio of medians); per round "
              f"{c.fmt(paired, unit='×', scale=1, digits=2)}")
    print("\n### Resident memory on that screen (0.5 s after it appeared)\n")
    for name in names:
        print(f"- {name}: VmRSS {c.fmt(col(name, 'rss_kib'), **mib)}; "
              f"VmHWM {c.fmt(col(name, 'hwm_kib'), **mib)}")
    for name in names[1:]:
        rss = c.ratio_of_medians(col(name, "rss_kib"), col("baseline", "rss_kib"))
        hwm = c.ratio_of_medians(col(name, "hwm_kib"), col("baseline", "hwm_kib"))
        print(f"- ratio {name} / baseline: VmRSS {rss:.2f}×, VmHWM {hwm:.2f}×")

    if not args.no_cli:
        print("\n### Processes without a pty (spawn → exit)\n")
        cli_variants = {
            "python -c 'import textual.app'": [str(c.PYTHON), "-c", "import textual.app"],
            "kiosk --help": [str(c.KIOSK), "--help"],
            "kiosk users list (opens db + keyring)": [str(c.KIOSK), "--config", str(config),
                                                       "users", "list"],
        }
        cli_times: dict[str, list[float]] = {k: [] for k in cli_variants}
        for argv in cli_variants.values():
            _timed(argv)
        for _ in range(args.runs):
            for name, argv in cli_variants.items():
                cli_times[name].append(_timed(argv))
        for name, times in cli_times.items():
            print(f"- {name}: {c.fmt(times)}")

    print(f"\nload average after: {load_after} (before: see machine block above)")
    print("\nLast kiosk screen seen:\n```")
    print(results["kiosk"][-1].screen.rstrip())
    print("```")
    c.rmtree(folder)
    for fresh in first_folders:
        c.rmtree(fresh)


if __name__ == "__main__":
    sys.exit(main())
