"""The commands that start a front end: the kiosk (`run`, `demo`), the browser (`serve`),
the staff board (`onboard`), and the sshd block that runs the kiosk for an account."""

from __future__ import annotations

import secrets
import sys

import click

from kiosk.cli.common import handle_errors, pass_ctx
from kiosk.config import MODES, redact_url
from kiosk.errors import KioskError
from kiosk.filemodes import warn_on_stderr
from kiosk.runtime import Context, fail, run_kiosk

DEMO_EMAIL = "demo@example.com"


@click.command()
@click.option("--mode", type=click.Choice(MODES), help="Override kiosk.mode from the config.")
@click.option("--plain", is_flag=True,
              help="Plain lines and prompts (screen readers, braille, serial consoles).")
@pass_ctx
@handle_errors
def run(ctx: Context, mode: str | None, plain: bool) -> None:
    """Run the kiosk in this terminal: full-screen, or plain lines (the default command)."""
    run_kiosk(ctx, mode or ctx.settings.kiosk.mode, interface="plain" if plain else None)


@click.command()
@click.option("--mode", type=click.Choice(MODES), default="ssh", show_default=True,
              help="ssh mode lets ctrl+c quit the demo.")
@click.option("--reset-mfa", is_flag=True, help="Forget the demo account's authenticator first.")
@click.option("--no-launch", is_flag=True, help="Only prepare the demo account.")
@click.option("--allow-existing-database", is_flag=True,
              help="Add the demo account even to a database that holds other accounts.")
@pass_ctx
@handle_errors
def demo(
    ctx: Context, mode: str, reset_mfa: bool, no_launch: bool, allow_existing_database: bool
) -> None:
    """Create (or refresh) a demo account, print its password, and launch the kiosk."""
    from kiosk.errors import AccountExistsError

    if not allow_existing_database:
        _refuse_a_database_in_use(ctx)
    service = ctx.service()
    password = "-".join(secrets.token_hex(2) for _ in range(3))
    try:
        service.accounts.add_user(DEMO_EMAIL, password, source="demo")
    except AccountExistsError:
        service.accounts.set_password(DEMO_EMAIL, password, source="demo")
    if reset_mfa:
        service.accounts.reset_mfa(DEMO_EMAIL, source="demo")
    enrolled = service.accounts.summary(DEMO_EMAIL).enrolled
    click.echo(f"Database: {redact_url(ctx.settings.database_url)}")
    click.echo(f"Demo account:  {DEMO_EMAIL}")
    click.echo(f"Password:      {password}")
    if enrolled:
        click.echo("This account already has an authenticator; add --reset-mfa to enroll again.")
    if no_launch:
        return
    hint = f"Demo account: {DEMO_EMAIL}   password: {password}"
    warn_on_stderr(False)  # from here on the screen belongs to the app
    run_kiosk(ctx, mode, demo_hint=hint)


def _refuse_a_database_in_use(ctx: Context) -> None:
    """The demo account has a known password printed on the screen: never slip it into a
    database that real people use. Read before anything is created or migrated."""
    from kiosk.core.admin import count_accounts_other_than

    url = ctx.settings.database_url
    others = count_accounts_other_than(url, DEMO_EMAIL)
    if others:
        raise KioskError(
            f"the database {redact_url(url)} already holds {others} other account(s); the demo "
            f"would add {DEMO_EMAIL} with a password shown on screen: use another database, "
            "or add --allow-existing-database"
        )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--public-url", default=None, help="URL the browser reaches (behind a proxy).")
@pass_ctx
@handle_errors
def serve(ctx: Context, host: str, port: int, public_url: str | None) -> None:
    """Serve the kiosk to a browser with textual-serve. No authentication of its own:
    keep it on loopback behind a TLS reverse proxy on a trusted network."""
    from kiosk.serve import build_server
    from kiosk.serve import serve as run_server

    server = build_server(ctx.settings, ctx.config_path, host, port, public_url)
    ctx.service()  # fail here, clearly, rather than in every browser session
    run_server(server, click.echo)


@click.command()
@click.argument("cohort", required=False)
@pass_ctx
@handle_errors
def onboard(ctx: Context, cohort: str | None) -> None:
    """The live onboarding board for IT staff: who in COHORT is where (a picker without one)."""
    from kiosk.runtime import staff_name

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        fail("the board needs an interactive terminal (connect with ssh -t)")
    service = ctx.service()
    from kiosk.board.app import run_board

    warn_on_stderr(False)  # from here on the screen belongs to the board
    run_board(service, cohort, staff=staff_name())


@click.command("ssh-config")
@click.option("--user", default="enroll", show_default=True, help="The dedicated system account.")
@click.option("--plain", is_flag=True, help="The account's kiosk runs in plain mode (run --plain).")
@pass_ctx
@handle_errors
def ssh_config(ctx: Context, user: str, plain: bool) -> None:
    """Print an sshd_config Match block that runs this kiosk for USER."""
    from kiosk.deploy import sshd_match_block

    # sshd runs the command with a bare PATH: name this install's interpreter absolutely (not
    # resolved: a venv's bin/python is what finds the venv's packages).
    python = sys.executable or "python3"
    config = ctx.config_path.resolve() if ctx.config_path else None
    block = sshd_match_block(user=user, python=python, config=config, plain=plain)
    click.echo(block, nl=False)


COMMANDS = (run, demo, serve, onboard, ssh_config)
