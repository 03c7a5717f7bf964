"""Deployment snippets printed by the CLI (`kiosk ssh-config`).

The same block ships as deploy/sshd_config.d/kiosk.conf; the end-to-end tests start a private
OpenSSH server with exactly what `kiosk ssh-config` prints, so the documented block is tested.
"""

from __future__ import annotations

import shlex
from pathlib import Path

# Seconds an authenticated connection may stay without any channel (`ssh -N`) before sshd closes
# it: a real session opens its channel at once, so this only ends connections that hold a slot.
UNUSED_CONNECTION_TIMEOUT = 30


def kiosk_command(*, python: str, config: Path | None, plain: bool = False) -> str:
    """The forced command: this install's interpreter, isolated, running the kiosk in ssh mode
    (in plain mode with `plain`).

    `-I` makes Python ignore every `PYTHON*` variable (PYTHONINSPECT would turn ctrl+c into a
    Python prompt, PYTHONPATH/PYTHONSTARTUP would run other code), the user site and the
    working folder, whatever environment a client manages to send.
    """
    parts = [python, "-I", "-m", "kiosk"]
    parts += (["--config", str(config)] if config else []) + ["run", "--mode", "ssh"]
    parts += ["--plain"] if plain else []
    return "exec " + " ".join(shlex.quote(p) for p in parts)


def sshd_match_block(
    *, user: str, python: str, config: Path | None, plain: bool = False
) -> str:
    """An sshd_config `Match User` block whose only command is the kiosk in ssh mode.

    `exec` replaces the login shell that sshd starts the command with, so no shell is left
    behind the kiosk for ctrl+z or a crash to fall back to. Only directives sshd accepts inside a
    Match block appear here (`sshd -t` checks it; PermitUserEnvironment, for one, is global and
    already `no` by default). `AcceptEnv LANG` inside the Match replaces a broader global list
    (`sshd -T -C user=...` shows it), so a host that accepts `PYTHON*` or `*` sends nothing else.
    `plain`: the kiosk in plain mode (`run --plain`), for a second account (e.g. `enroll-plain`)
    that screen reader and braille users log in to.
    """
    command = kiosk_command(python=python, config=config, plain=plain)
    what, file = ("the kiosk", "kiosk.conf")
    if plain:
        what, file = "the kiosk in plain mode", "kiosk-plain.conf"
    return f"""# kiosk enrollment over SSH: the account's only command is {what}.
# Install as /etc/ssh/sshd_config.d/{file} (a Match block in an included file ends
# with that file), check with `sshd -t`, then reload sshd.
Match User {user}
    ForceCommand {command}
    PermitTTY yes
    # The kiosk asks for email, password and code itself; the SSH password of this
    # account is shared and published (keys also work, if you hand them out).
    PasswordAuthentication yes
    DisableForwarding yes
    AllowTcpForwarding no
    AllowStreamLocalForwarding no
    AllowAgentForwarding no
    X11Forwarding no
    PermitTunnel no
    GatewayPorts no
    PermitUserRC no
    MaxSessions 1
    # Replaces the global AcceptEnv list for this account: no PYTHON*, LD_*, BASH_ENV...
    AcceptEnv LANG
    # `ssh -N` (no session) would hold the connection forever: close it (OpenSSH >= 9.2).
    UnusedConnectionTimeout {UNUSED_CONNECTION_TIMEOUT}
    ClientAliveInterval 30
    ClientAliveCountMax 4
    Banner none
    SetEnv LANG=C.UTF-8 LC_ALL=C.UTF-8
"""
