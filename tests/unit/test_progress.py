"""Progress of long admin work: a bar on a terminal (real pty), plain lines in a pipe (issue 15).

Progress goes to stderr; stdout keeps only the one summary line a script would parse.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

from kiosk.config import Settings
from kiosk.progress import PLAIN_EVERY_ITEMS, PlainReporter, format_duration
from tests.conftest import make_settings, write_config
from tests.support.terminal import Terminal

PASSWORD = "correct horse battery"
PEOPLE = 2 * PLAIN_EVERY_ITEMS + 50


def _site(tmp_path: Path) -> tuple[Settings, Path, Path]:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'kiosk.db'}")
    config = write_config(tmp_path / "config.toml", settings)
    people = tmp_path / "people.csv"
    people.write_text("".join(f"p{n}@example.com,{PASSWORD}\n" for n in range(PEOPLE)))
    return settings, config, people


def test_import_shows_a_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    _, config, people = _site(tmp_path)
    argv = [sys.executable, "-m", "kiosk", "--config", str(config), "users", "import", str(people)]
    with Terminal(argv, cwd=tmp_path, cols=100, rows=10) as term:
        assert term.wait_for_exit(180) == 0, term.dump()
        raw = bytes(term.raw).decode("utf-8", "replace")
    screen = term.screen_text()
    assert f"{PEOPLE} data line(s): {PEOPLE} added, 0 already present, 0 refused" in screen
    bar = next(line for line in screen.splitlines() if line.startswith("users import"))
    assert "━" in bar and f"{PEOPLE}/{PEOPLE}" in bar and "/s" in bar and "left" in bar, bar
    # Drawn while the work went on, not only at the end: counts below the total were shown.
    shown = {int(n) for n in re.findall(rf"(\d+)/{PEOPLE}\b", raw)}
    assert any(0 < n < PEOPLE for n in shown), sorted(shown)


def test_import_prints_plain_progress_lines_in_a_pipe(tmp_path: Path) -> None:
    _, config, people = _site(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "kiosk", "--config", str(config), "users", "import", "-"],
        input=people.read_bytes(), capture_output=True, timeout=180, cwd=tmp_path, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == (
        f"{PEOPLE} data line(s): {PEOPLE} added, 0 already present, 0 refused\n"
    )
    lines = result.stderr.decode().splitlines()
    pattern = re.compile(
        rf"kiosk: users import: (\d+)/{PEOPLE}, \d+\.\d/s, (about .+ left|done in .+)"
    )
    matches = [pattern.fullmatch(line) for line in lines]
    assert all(matches), lines
    counts = [int(m.group(1)) for m in matches if m]
    assert counts == sorted(counts) and len(counts) >= 2, lines
    assert counts[-1] == PEOPLE and lines[-1].split(", ")[-1].startswith("done in")
    assert "\x1b" not in result.stderr.decode()


def test_plain_reporter_is_quiet_for_short_work() -> None:
    stream = io.StringIO()
    reporter = PlainReporter("keys rotate", 10, stream)
    for done in range(1, 11):
        reporter.update(done, 10)
    reporter.finish()
    assert stream.getvalue() == ""


def test_durations_read_well() -> None:
    assert [format_duration(s) for s in (0.4, 45, 89, 150, 3599, 3660, 7325)] == [
        "0 s", "45 s", "89 s", "2 min", "1 h 00 min", "1 h 01 min", "2 h 02 min",
    ]


def test_keys_rotate_shows_a_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    from kiosk.core.service import KioskService

    from .conftest import enroll

    settings, config, _ = _site(tmp_path)
    service = KioskService.open(settings)
    try:
        for name in ("ann", "ben", "cat"):
            enroll(service, f"{name}@example.com")
    finally:
        service.close()
    argv = [sys.executable, "-m", "kiosk", "--config", str(config), "keys", "rotate"]
    with Terminal(argv, cwd=tmp_path, cols=100, rows=10) as term:
        assert term.wait_for_exit(120) == 0, term.dump()
    screen = term.screen_text()
    bar = next(line for line in screen.splitlines() if line.startswith("keys rotate"))
    assert "━" in bar and "3/3" in bar, screen
    assert "every secret now uses key version 2" in screen
