"""`kiosk directory test EMAIL`: the installed command against a real slapd, step by step.

The admin reads which server answered, TLS, how many entries the search found, the bind result
and the group check; the exit code says accepted (0), refused (1) or unreachable (2). The
password is typed hidden (a real pty) or read from stdin, and never printed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from kiosk.config import DirectorySettings
from tests.e2e.conftest import KIOSK, SCREEN_TIMEOUT
from tests.support.slapd import ADA, GRACE, GROUP_DN, SlapdServer, directory_toml, free_port
from tests.support.terminal import ENTER, Terminal

pytestmark = [pytest.mark.e2e, pytest.mark.slapd]


def _config(root: Path, settings: DirectorySettings) -> Path:
    path = root / "config.toml"
    path.write_text('[kiosk]\nlog_file = "kiosk.log"\n' + directory_toml(settings))
    return path


def _run(config: Path, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KIOSK_CONFIG"}
    stdin = None if password is None else password + "\n"
    return subprocess.run(
        [str(KIOSK), "--config", str(config), "directory", "test", *args],
        input=stdin, capture_output=True, text=True, timeout=120, cwd=config.parent, env=env,
    )


def _lines(out: str) -> dict[str, str]:
    """step name -> "status detail" for each step line printed."""
    found: dict[str, str] = {}
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and not line.startswith("note:"):
            found.setdefault(parts[0], parts[1])
    return found


@pytest.mark.timeout(120, method="thread")
def test_an_accepted_password_is_told_step_by_step(
    slapd_server: SlapdServer, tmp_path: Path
) -> None:
    settings = slapd_server.settings(group_dn=GROUP_DN)
    result = _run(_config(tmp_path, settings), ADA.email, "--password-stdin", password=ADA.password)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for step in ("connect", "tls", "search", "bind", "group", "result"):
        assert f"\n{step} " in "\n" + out, out
    assert slapd_server.ldaps_url in out and "found 1 entry" in out and ADA.dn in out
    assert "Ada Lovelace" in out
    assert ADA.password not in out + result.stderr


@pytest.mark.timeout(120, method="thread")
def test_a_refusal_exits_1_and_says_which_step(slapd_server: SlapdServer, tmp_path: Path) -> None:
    config = _config(tmp_path, slapd_server.settings(group_dn=GROUP_DN))
    wrong = _run(config, ADA.email, "--password-stdin", password="no such password")
    assert wrong.returncode == 1, wrong.stderr
    assert _lines(wrong.stdout)["bind"].startswith("refused")
    assert "no such password" not in wrong.stdout + wrong.stderr
    assert wrong.stderr.strip().count("\n") == 0 and "refused" in wrong.stderr

    outsider = _run(config, GRACE.email, "--password-stdin", password=GRACE.password)
    assert outsider.returncode == 1
    lines = _lines(outsider.stdout)
    assert lines["bind"].startswith("ok") and lines["group"].startswith("refused")

    unknown = _run(config, "nobody@example.org", "--password-stdin", password="x")
    assert unknown.returncode == 1 and "found 0 entries" in unknown.stdout

    empty = _run(config, ADA.email, "--password-stdin", password="")
    assert empty.returncode == 1 and "empty password" in empty.stdout
    assert "connect" not in _lines(empty.stdout)  # refused before any connection


@pytest.mark.timeout(120, method="thread")
def test_an_unreachable_directory_exits_2_with_one_line(
    slapd_server: SlapdServer, tmp_path: Path
) -> None:
    dead = (f"ldaps://127.0.0.1:{free_port()}/", f"ldaps://127.0.0.1:{free_port()}/")
    result = _run(
        _config(tmp_path, slapd_server.settings(url=dead)), ADA.email, "--password-stdin",
        password=ADA.password,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("kiosk: error: ") and result.stderr.count("\n") == 1
    assert all(url in result.stdout for url in dead)
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.timeout(120, method="thread")
def test_an_incomplete_section_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[kiosk]\nlog_file = "kiosk.log"\n')
    result = _run(config, ADA.email, "--password-stdin", password="x")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "directory.url" in result.stderr


@pytest.mark.timeout(120, method="thread")
def test_the_password_is_asked_hidden_in_a_terminal(
    slapd_server: SlapdServer, tmp_path: Path
) -> None:
    config = _config(tmp_path, slapd_server.settings(enabled=False))
    argv = [str(KIOSK), "--config", str(config), "directory", "test", ADA.email]
    with Terminal(argv, cwd=tmp_path) as term:
        term.wait_for_text("Password:", SCREEN_TIMEOUT)
        assert "enabled = false" in term.screen_text()  # a test before switching it on
        term.send(ADA.password + ENTER)
        term.wait_for_text("may sign in as", SCREEN_TIMEOUT)
        assert term.wait_for_exit(SCREEN_TIMEOUT) == 0
        assert ADA.password not in term.screen_text()
        assert ADA.password.encode() not in bytes(term.raw)
