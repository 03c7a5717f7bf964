"""A kiosk process is out of reach of the kiosk account's other processes (issue 11, item 9).

A real `kiosk run` in a pty, as an unprivileged user (root can read any process, so as root the
test runs the kiosk and its "neighbour" as `nobody` through setpriv). The neighbour is another
process of the same user, as a second SSH session of the kiosk account would be: it can read a
plain process's /proc/PID/environ and maps, and must not read the kiosk's. A plain `sleep` of
the same user is the control that shows the neighbour could otherwise.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.hardening import harden_process, hardening_state
from tests.conftest import REPO, make_settings, wait_for, write_config
from tests.support.terminal import Terminal

PASSWORD = "correct horse battery"


def _as_user(argv: list[str]) -> list[str]:
    """argv run as `nobody` when we are root (setpriv execs: the pid is the program's)."""
    if os.geteuid() != 0:
        return argv
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("setpriv (util-linux) is needed to test as an unprivileged user", pytrace=False)
    return [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", *argv]


def _user_uid() -> int:
    return pwd.getpwnam("nobody").pw_uid if os.geteuid() == 0 else os.geteuid()


@pytest.fixture
def site() -> Iterator[Path]:
    """A folder the unprivileged user owns (pytest's own tmp folders are private to root)."""
    root = Path(tempfile.mkdtemp(prefix="kiosk-harden-"))
    try:
        if os.geteuid() == 0:
            os.chown(root, _user_uid(), -1)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _env(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KIOSK_CONFIG", "KIOSK_SECRET_KEY")}
    return {**env, "HOME": str(site), "PYTHONPATH": str(REPO)}


def _neighbour_reads(path: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(_as_user(["cat", path]), capture_output=True, timeout=30, check=False)


def _core_limit(pid: int) -> tuple[str, str]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            soft, hard = line.split()[4:6]
            return soft, hard
    raise AssertionError("no core limit line")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc and prctl")
@pytest.mark.parametrize(
    "command",
    [["run", "--mode", "ssh"], ["demo", "--allow-existing-database"]],
    ids=["run", "demo"],
)
def test_a_running_kiosk_cannot_be_read_by_the_accounts_other_processes(
    site: Path, command: list[str]
) -> None:
    """`run` (the fast path, also what `kiosk serve` spawns per browser session) and `demo`
    (through the admin command line)."""
    settings = make_settings(site, f"sqlite:///{site / 'kiosk.db'}")
    config = write_config(site / "config.toml", settings)
    if os.geteuid() == 0:  # the user's own config, whatever this process's umask
        os.chown(config, _user_uid(), -1)
    kiosk = [sys.executable, "-m", "kiosk", "--config", str(config)]
    added = subprocess.run(
        _as_user([*kiosk, "users", "add", "ann@example.com", "--password-stdin"]),
        input=PASSWORD + "\n", capture_output=True, text=True, env=_env(site), cwd=site,
        timeout=120, check=False,
    )
    assert added.returncode == 0, added.stderr
    control = subprocess.Popen(_as_user(["sleep", "120"]))
    with contextlib.ExitStack() as stack:
        stack.callback(control.wait, 10)
        stack.callback(control.kill)
        term = stack.enter_context(
            Terminal(_as_user([*kiosk, *command]), env=_env(site), cwd=site)
        )
        term.wait_for_text("Sign in", timeout=60)
        pid = term.child.pid
        assert Path(f"/proc/{pid}/status").read_text().count(f"\t{_user_uid()}\t") >= 1

        # No core file, and it cannot raise the limit again; the control can.
        assert _core_limit(pid) == ("0", "0")
        assert _core_limit(control.pid)[1] != "0"
        # Not dumpable: the kernel gives its /proc entries to root instead of its user.
        assert os.stat(f"/proc/{pid}/environ").st_uid == 0
        assert os.stat(f"/proc/{control.pid}/environ").st_uid == _user_uid()
        # Another process of the same user reads the control's memory map and environment...
        for name in ("environ", "maps"):
            assert _neighbour_reads(f"/proc/{control.pid}/{name}").returncode == 0
        # ...and not the kiosk's.
        for name in ("environ", "maps", "mem"):
            refused = _neighbour_reads(f"/proc/{pid}/{name}")
            assert refused.returncode != 0, (name, refused.stdout[:80])
            assert b"Permission denied" in refused.stderr or b"not permitted" in refused.stderr
        assert term.is_alive()


def test_hardening_state_in_process() -> None:
    """What `harden_process` sets, read back through the same calls (in a child process: the
    test runner itself stays debuggable)."""
    script = (
        "from kiosk.hardening import harden_process, hardening_state\n"
        "before = hardening_state()\n"
        "harden_process()\n"
        "print(before['dumpable'], hardening_state())\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60, check=False, cwd=REPO)
    assert result.returncode == 0, result.stderr
    if sys.platform.startswith("linux"):
        assert result.stdout.strip() == "1 {'core_limit': 0, 'dumpable': 0}"
    assert harden_process and hardening_state  # imported for the reader: the module under test


def test_the_kiosk_reports_a_loose_database_in_the_log_not_on_the_screen(site: Path) -> None:
    """The kiosk itself owns the terminal a person uses: a loose database (issue 11, item 6)
    is one line in the log, and the session goes on."""
    settings = make_settings(site, f"sqlite:///{site / 'kiosk.db'}")
    config = write_config(site / "config.toml", settings)
    kiosk = [sys.executable, "-m", "kiosk", "--config", str(config)]
    added = subprocess.run(
        [*kiosk, "users", "add", "ann@example.com", "--password-stdin"],
        input=PASSWORD + "\n", capture_output=True, text=True, env=_env(site), cwd=site,
        timeout=120, check=False,
    )
    assert added.returncode == 0, added.stderr
    (site / "kiosk.db").chmod(0o644)
    log = site / "kiosk.log"
    with Terminal([*kiosk, "run", "--mode", "ssh"], env=_env(site), cwd=site) as term:
        term.wait_for_text("Sign in", timeout=60)

        def reported() -> bool:
            term.pump(0.05)
            return "open to other accounts" in log.read_text()

        assert wait_for(reported, timeout=30), log.read_text()
        assert term.is_alive()
        assert b"open to other accounts" not in bytes(term.raw)
        assert b"warning" not in bytes(term.raw).lower()
    lines = [line for line in log.read_text().splitlines() if "open to other accounts" in line]
    assert len(lines) == 1 and f"chmod 600 {site / 'kiosk.db'}" in lines[0], lines
