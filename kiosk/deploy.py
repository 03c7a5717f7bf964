"""Deployment snippets printed by the CLI (`kiosk ssh-config`)."""

from __future__ import annotations

from pathlib import Path


def sshd_match_block(*, user: str, kiosk: str, config: Path | None) -> str:
    """An sshd_config `Match User` block whose only command is the kiosk in ssh mode."""
    command = f"{kiosk}" + (f" --config {config}" if config else "") + " run --mode ssh"
    return f"""# kiosk enrollment over SSH: the account's only command is the kiosk.
Match User {user}
    ForceCommand {command}
    PermitTTY yes
    AllowTcpForwarding no
    AllowStreamLocalForwarding no
    AllowAgentForwarding no
    X11Forwarding no
    PermitTunnel no
    PermitUserRC no
    GatewayPorts no
    PermitUserEnvironment no
    SetEnv LANG=C.UTF-8 LC_ALL=C.UTF-8
"""
