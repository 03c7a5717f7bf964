"""The systemd files shipped under deploy/: checked by systemd's own `systemd-analyze verify`.

`verify` reads a unit as systemd would and reports unknown keys, bad values and missing commands
(it exits 0 on some of those, so any output at all fails the test). The unit's ExecStart names
the README's /opt/kiosk install; the test points it at this checkout's interpreter, which verify
requires to exist. A machine without systemd-analyze fails the test (tasks.py installs it).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.e2e.conftest import require_program

pytestmark = pytest.mark.e2e

DEPLOY = REPO / "deploy"
CONSOLE_UNIT = DEPLOY / "systemd" / "kiosk@.service"
SLICE_DROP_IN = DEPLOY / "systemd" / "user-UID.slice.d" / "50-kiosk.conf"
README_PYTHON = "/opt/kiosk/venv/bin/python"


def _verify(unit: Path) -> None:
    analyze = require_program("systemd-analyze", "systemd")
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=120
    )
    said = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and not said, f"systemd-analyze verify {unit.name}:\n{said}"


def _settings(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z]+)=(.*)$", line.strip())
        if match:
            found.setdefault(match.group(1), []).append(match.group(2))
    return found


def test_the_console_unit_verifies(tmp_path: Path) -> None:
    text = CONSOLE_UNIT.read_text()
    assert README_PYTHON in text
    # An instance as an admin enables it (kiosk@tty7), this checkout's interpreter in ExecStart.
    unit = tmp_path / "kiosk@tty7.service"
    unit.write_text(text.replace(README_PYTHON, sys.executable))
    _verify(unit)


def test_the_console_unit_owns_its_console_and_comes_back() -> None:
    """What makes it a kiosk: restarted whatever ends it, alone on its console, not root, and
    the interpreter isolated as in the SSH block."""
    unit = _settings(CONSOLE_UNIT.read_text())
    assert unit["Restart"] == ["always"]
    assert unit["StartLimitIntervalSec"] == ["0"]  # never given up on after many restarts
    assert unit["TTYPath"] == ["/dev/%I"] and unit["StandardInput"] == ["tty"]
    assert "getty@%i.service" in " ".join(unit["Conflicts"])
    assert unit["User"] and unit["User"] != ["root"]
    assert unit["NoNewPrivileges"] == ["yes"] and unit["ProtectSystem"] == ["strict"]
    assert unit["MemoryMax"] and unit["LimitCORE"] == ["0"]
    (command,) = unit["ExecStart"]
    assert command.split()[:4] == [README_PYTHON, "-I", "-m", "kiosk"], command
    assert command.endswith("run --mode kiosk"), command


def test_the_ssh_account_slice_drop_in_verifies(tmp_path: Path) -> None:
    """The drop-in's [Slice] settings, read as a slice unit of their own (verify cannot reach
    user-UID.slice, which logind creates at the first login)."""
    text = SLICE_DROP_IN.read_text()
    settings = _settings(text)
    assert settings["MemoryMax"] and settings["TasksMax"], text
    slice_unit = tmp_path / "kiosk-limits-check.slice"
    slice_unit.write_text("[Unit]\nDescription=kiosk limits check\n\n" + text)
    _verify(slice_unit)
