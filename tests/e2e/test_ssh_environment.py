"""What a client can send besides keys: environment variables, and connections without a session.

A host whose global sshd_config accepts every variable (`AcceptEnv *`, or a broad `PYTHON*`) must
still pass nothing but LANG to the kiosk account: `PYTHONINSPECT=1` turned ctrl+c into a Python
prompt as that account. The block `kiosk ssh-config` prints narrows AcceptEnv inside its Match,
and the forced command runs Python isolated (`-I`), so either defence alone holds; each is tested
on its own. `ssh -N` (authenticated, no session) must not hold a connection forever.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import SCREEN_TIMEOUT, SSHD, Site, SshServer
from tests.support.terminal import CTRL_C, Terminal

pytestmark = pytest.mark.e2e

# What a hostile client sends: each would run code of its choosing or a Python prompt.
PYTHON_VARIABLES = ("PYTHONINSPECT", "PYTHONSTARTUP", "PYTHONPATH")
PROBE = "KIOSK_ENV_PROBE"  # a harmless variable: shows whether anything but LANG gets through
PYTHON_PROMPT = b">>> "
UNUSED_TIMEOUT_IN_TEST = 2  # seconds; the printed block's value, shortened so the test is quick


@pytest.fixture
def hostile_env() -> Iterator[tuple[dict[str, str], list[Path]]]:
    """PYTHON* variables whose code would leave a marker file if Python ever honoured them."""
    # In /tmp itself, not pytest's 0700 tmp_path: the SSH login account must reach these files.
    folder = Path(tempfile.mkdtemp(prefix="kiosk-e2e-hostile-"))
    folder.chmod(0o777)  # the SSH login account writes its markers here
    startup_marker, site_marker = folder / "startup-ran", folder / "sitecustomize-ran"
    (folder / "startup.py").write_text(f"open({str(startup_marker)!r}, 'w').close()\n")
    (folder / "sitecustomize.py").write_text(f"open({str(site_marker)!r}, 'w').close()\n")
    for path in (folder / "startup.py", folder / "sitecustomize.py"):
        path.chmod(0o644)
    env = {
        "PYTHONINSPECT": "1",
        "PYTHONSTARTUP": str(folder / "startup.py"),
        "PYTHONPATH": str(folder),
        PROBE: "1",
    }
    yield env, [startup_marker, site_marker]
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def start_permissive_sshd(
    start_sshd: Callable[[Site], SshServer], monkeypatch: pytest.MonkeyPatch
) -> Callable[[Site], SshServer]:
    """The private sshd of conftest, its global part accepting every variable (`AcceptEnv *`)
    before the block `kiosk ssh-config` prints; the block's UnusedConnectionTimeout shortened."""
    globals_of_start = start_sshd.__globals__  # conftest's module, whichever name it was given
    original = globals_of_start["sshd_config_text"]

    def permissive(port: int, root: Path, identity: object, match_block: str) -> str:
        block = re.sub(
            r"UnusedConnectionTimeout \d+",
            f"UnusedConnectionTimeout {UNUSED_TIMEOUT_IN_TEST}",
            match_block,
        )
        return str(original(port, root, identity, "AcceptEnv *\n\n" + block))

    monkeypatch.setitem(globals_of_start, "sshd_config_text", permissive)
    return start_sshd


def _no_python_prompt_and_nothing_ran(term: Terminal, markers: list[Path]) -> None:
    """ctrl+c ends the session (ssh mode) with no Python prompt after it, and no code ran."""
    term.send(CTRL_C)
    status = term.wait_for_exit(SCREEN_TIMEOUT)
    assert PYTHON_PROMPT not in bytes(term.raw), f"a Python prompt appeared:\n{term.dump()}"
    assert status == 0, f"exit status {status}\n{term.dump()}"
    ran = [marker.name for marker in markers if marker.exists()]
    assert ran == [], f"code from a client's environment ran: {ran}"


def _wait_for_sign_in(term: Terminal) -> None:
    term.wait_for_text("Sign in", SCREEN_TIMEOUT)
    term.wait_for_text("Email", SCREEN_TIMEOUT)
    term.wait_for_quiet()


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {key.decode(errors="replace"): value.decode(errors="replace") for key, value in pairs}


def _ssh_with_env(server: SshServer, env: dict[str, str]) -> list[str]:
    # One SetEnv option carries them all: for `-o`, ssh keeps only the first of a keyword.
    sent = " ".join(f"{name}={value}" for name, value in env.items())
    return server.argv("-o", f"SetEnv={sent}")


def test_a_host_accepting_every_variable_still_sends_only_lang(
    make_site: Callable[..., Site],
    start_permissive_sshd: Callable[[Site], SshServer],
    ssh_identity: object,
    terminals: Callable[..., Terminal],
    hostile_env: tuple[dict[str, str], list[Path]],
) -> None:
    env, markers = hostile_env
    site = make_site(owner=ssh_identity.user)  # type: ignore[attr-defined]
    server = start_permissive_sshd(site)

    term = terminals(_ssh_with_env(server, env), term="xterm-256color")
    _wait_for_sign_in(term)
    sessions = server.session_processes()
    assert sessions, "no session process below the private sshd"
    leaked = {
        (pid, name): sorted(set(_environ(pid)) & {*PYTHON_VARIABLES, PROBE})
        for pid, name in sessions
    }
    assert not any(leaked.values()), f"client variables reached the session: {leaked}"
    _no_python_prompt_and_nothing_ran(term, markers)


def test_the_match_block_replaces_a_global_accept_env(
    make_site: Callable[..., Site], ssh_identity: object, tmp_path: Path
) -> None:
    """What sshd itself resolves for the kiosk account (`sshd -T -C user=...`): only LANG."""
    site = make_site(owner=ssh_identity.user)  # type: ignore[attr-defined]
    user = ssh_identity.user  # type: ignore[attr-defined]
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "hk")],
        check=True,
        capture_output=True,
    )
    config = tmp_path / "sshd_config"
    block = site.cli("ssh-config", "--user", user).stdout
    config.write_text(f"HostKey {tmp_path / 'hk'}\nUsePAM no\nAcceptEnv *\n{block}")

    def resolved(for_user: str) -> list[str]:
        result = subprocess.run(
            [SSHD, "-T", "-f", str(config), "-C", f"user={for_user},host=h,addr=127.0.0.1"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr
        return [line for line in result.stdout.splitlines() if line.startswith("acceptenv ")]

    assert resolved(user) == ["acceptenv LANG"]
    assert resolved("someone-else") == ["acceptenv *"]  # the rest of the host is untouched


def test_the_forced_command_ignores_python_variables(
    make_site: Callable[..., Site],
    terminals: Callable[..., Terminal],
    hostile_env: tuple[dict[str, str], list[Path]],
) -> None:
    """The second defence on its own: the forced command, run by a shell as sshd runs it, with
    every hostile variable in its environment (as a host without the Match's AcceptEnv gives)."""
    env, markers = hostile_env
    site = make_site()
    block = site.cli("ssh-config").stdout
    command = re.search(r"^\s*ForceCommand (.+)$", block, re.MULTILINE)
    assert command, block
    term = terminals(["/bin/sh", "-c", command.group(1)], env={**os.environ, **env},
                     cwd=site.root)
    _wait_for_sign_in(term)
    _no_python_prompt_and_nothing_ran(term, markers)


def test_a_connection_without_a_session_is_closed_by_the_server(
    make_site: Callable[..., Site],
    start_permissive_sshd: Callable[[Site], SshServer],
    ssh_identity: object,
) -> None:
    """`ssh -N` authenticates and opens no channel: the kiosk never starts, so only sshd's
    UnusedConnectionTimeout (in the printed block) can end it."""
    site = make_site(owner=ssh_identity.user)  # type: ignore[attr-defined]
    server = start_permissive_sshd(site)
    client = subprocess.Popen(
        server.argv("-N", tty=False),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        waited = UNUSED_TIMEOUT_IN_TEST + SCREEN_TIMEOUT
        deadline = time.monotonic() + waited
        while client.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.poll() is not None, (
            f"`ssh -N` still connected after {waited:.0f}s; sshd log:\n{server.log_text()}"
        )
    finally:
        if client.poll() is None:
            client.kill()
        client.wait(10)
    assert re.search(r"Accepted publickey", server.log_text()), server.log_text()
