"""Deployment snippets printed by the CLI (`kiosk ssh-config`).

The same block ships as deploy/sshd_config.d/kiosk.conf; the end-to-end tests start a private
OpenSSH server with exactly what `kiosk ssh-config` prints, so the documented block is tested.
"""

from __future__ import annotations

import shlex
from pathlib import Path


def sshd_match_block(*, user: str, kiosk: str, config: Path | None, plain: bool = False) -> str:
    """An sshd_config `Match User` block whose only command is the kiosk in ssh mode.

    `exec` replaces the login shell that sshd starts the command with, so no shell is left
    behind the kiosk for ctrl+z or a crash to fall back to. Only directives sshd accepts inside a
    Match block appear here (`sshd -t` checks it; PermitUserEnvironment, for one, is global and
    already `no` by default). `plain`: the kiosk in plain mode (`run --plain`), for a second
    account (e.g. `enroll-plain`) that screen reader and braille users log in to.
    """
    parts = [kiosk] + (["--config", str(config)] if config else []) + ["run", "--mode", "ssh"]
    parts += ["--plain"] if plain else []
    command = "exec " + " ".join(shlex.quote(p) for p in parts)
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
    ClientAliveInterval 30
    ClientAliveCountMax 4
    Banner none
    SetEnv LANG=C.UTF-8 LC_ALL=C.UTF-8
"""
