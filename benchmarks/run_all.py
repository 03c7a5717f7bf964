"""Run every benchmark one after the other (never side by side: they would measure each other).

    .venv/bin/python benchmarks/run_all.py [--out FILE] [--quick]

Prints each script's figures (Markdown) with `uptime` before and after; `--out` also writes them
to FILE. `--quick` uses fewer runs (to check the harnesses, not for figures).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rebuild", action="store_true", help="rebuild scale.py's big database")
    args = parser.parse_args()
    runs = ["--runs", "3"] if args.quick else []
    plan = [
        ["startup.py", *runs, *([] if args.quick else ["--old-key-check", "--eager-dummy"])],
        ["imports.py", *(["--runs", "1"] if args.quick else [])],
        ["profile_startup.py"],
        ["freeze.py", *(["--rounds", "3"] if args.quick else [])],
        ["crowd.py", *(["--sessions", "10", "--repeats", "1"] if args.quick else [])],
        ["scale.py", *runs, *(["--rebuild"] if args.rebuild else [])],
    ]
    chunks: list[str] = []

    def emit(text: str) -> None:
        print(text, flush=True)
        chunks.append(text)

    for script, *extra in plan:
        uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        emit(f"\n<!-- {script} {' '.join(extra)} — uptime before: {uptime} -->\n")
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(HERE / script), *extra],
                              capture_output=True, text=True)
        emit(proc.stdout)
        if proc.returncode != 0:
            emit(f"**{script} failed (exit {proc.returncode})**\n```\n{proc.stderr[-3000:]}\n```")
        uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        emit(f"<!-- {script}: {time.perf_counter() - start:.0f} s; uptime after: {uptime} -->")
    if args.out:
        args.out.write_text("\n".join(chunks))


if __name__ == "__main__":
    sys.exit(main())
