"""What the kiosk imports before its first screen that the minimal Textual app does not.

    .venv/bin/python benchmarks/imports.py [--runs 3] [--all]

Runs `kiosk run --mode ssh` (existing database and key) and benchmarks/baseline_app.py under
`python -X importtime` in the same 80×24 pty as startup.py, until their first screen is visible
(so lazy imports done later are not counted), and parses the import-time lines from the pty
output (Textual draws on stderr, where importtime writes too). Prints, per top-level package the
kiosk imports and the baseline does not, its self import time (median over runs), and the same
for the packages named in issue 6 whether or not they were imported. `--all` also lists every
extra module. `-X importtime` adds overhead of its own: compare rows, not totals with startup.py.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from collections import defaultdict

import _common as c

LINE = re.compile(rb"import time:\s+(\d+) \|\s+(\d+) \|( *)([\w.]+)")
WATCHED = ["argon2", "_argon2_cffi_bindings", "qrcode", "PIL", "cryptography", "psycopg2",
           "psycopg", "peewee", "sqlite3", "textual_serve", "aiohttp", "click", "pyotp",
           "kiosk", "uuid", "json", "csv", "tomllib"]


def parse(raw: bytes) -> dict[str, tuple[int, int]]:
    """module -> (self µs, cumulative µs)."""
    out: dict[str, tuple[int, int]] = {}
    for match in LINE.finditer(raw):
        out[match.group(4).decode()] = (int(match.group(1)), int(match.group(2)))
    return out


def by_package(modules: dict[str, tuple[int, int]]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for name, (self_us, _) in modules.items():
        totals[name.split(".")[0]] += self_us
    return dict(totals)


def capture(argv: list[str], visible, cwd) -> dict[str, tuple[int, int]]:  # noqa: ANN001
    raw = bytearray()
    c.time_to_screen(argv, visible, cwd=cwd, raw=raw, settle=0.2)
    return parse(bytes(raw))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--all", action="store_true", help="list every extra module")
    args = parser.parse_args()

    folder = c.temp_folder("imports")
    config = c.write_config(folder)
    service = c.open_service(config)
    c.seed(service, 10)
    service.close()

    kiosk_argv = [str(c.PYTHON), "-X", "importtime", *c.kiosk_argv(config)]
    base_argv = [str(c.PYTHON), "-X", "importtime", str(c.BASELINE)]
    kiosk_runs, base_runs = [], []
    for _ in range(args.runs):
        base_runs.append(capture(base_argv, c.baseline_visible, folder))
        kiosk_runs.append(capture(kiosk_argv, c.sign_in_visible, folder))

    base_modules = set().union(*base_runs)
    kiosk_modules = set().union(*kiosk_runs)
    extra = kiosk_modules - base_modules

    def median_self(package: str, runs: list[dict[str, tuple[int, int]]],
                    only: set[str] | None = None) -> float:
        """Median over runs of the summed self time of `package`'s modules (those in `only`)."""
        return statistics.median(
            sum(s for name, (s, _) in r.items()
                if name.split(".")[0] == package and (only is None or name in only))
            for r in runs
        ) / 1000

    def total(runs: list[dict[str, tuple[int, int]]], only: set[str] | None = None) -> float:
        return statistics.median(
            sum(s for name, (s, _) in r.items() if only is None or name in only) for r in runs
        ) / 1000

    print("## imports.py\n")
    print(c.machine_info())
    print(f"\nmodules imported before the first screen: kiosk {len(kiosk_modules)}, "
          f"baseline {len(base_modules)}, extra in kiosk {len(extra)}")
    print(f"sum of self import times (median of {args.runs}, under -X importtime): "
          f"kiosk {total(kiosk_runs):.0f} ms, baseline {total(base_runs):.0f} ms, "
          f"the kiosk's extra modules {total(kiosk_runs, extra):.0f} ms\n")
    packages = sorted({m.split(".")[0] for m in extra},
                      key=lambda p: -median_self(p, kiosk_runs, extra))
    print("| top-level package of the extra modules | modules | their self import time "
          "(ms, median) |")
    print("|---|---|---|")
    for package in packages:
        count = sum(1 for m in extra if m.split(".")[0] == package)
        print(f"| {package} | {count} | {median_self(package, kiosk_runs, extra):.1f} |")
    print("\n| watched package | imported before Sign in? | self ms, all its modules (kiosk) |")
    print("|---|---|---|")
    def loaded(package: str, modules: set[str]) -> bool:
        """Imported, not merely tried: a failed or blocked import logs one line of a few µs."""
        names = [m for m in modules if m.split(".")[0] == package]
        return len(names) > 1 or any(
            r.get(n, (0, 0))[1] >= 100 for n in names for r in kiosk_runs + base_runs)

    for package in WATCHED:
        imported = loaded(package, kiosk_modules)
        in_base = loaded(package, base_modules)
        tried = not imported and any(m.split(".")[0] == package for m in kiosk_modules)
        note = "yes" if imported else ("no (import tried, failed or blocked)" if tried else "no")
        if imported and in_base:
            note += " (baseline too)"
        print(f"| {package} | {note} | {median_self(package, kiosk_runs):.1f} |")
    kiosk_own = sorted(m for m in kiosk_modules if m.startswith("kiosk"))
    print(f"\nkiosk modules loaded: {', '.join(kiosk_own)}")
    if args.all:
        print("\nevery extra module (self µs of the first run):")
        for name in sorted(extra):
            print(f"  {name} {kiosk_runs[0].get(name, (0, 0))[0]}")
    c.rmtree(folder)


if __name__ == "__main__":
    sys.exit(main())
