"""Looking after the store and its connections: `db` (schema), `keys` (the encryption keys of
the stored secrets) and `directory test` (the organisation's LDAP directory)."""

from __future__ import annotations

import sys

import click

from kiosk.cli.common import (
    handle_errors,
    pass_ctx,
    password_stdin_option,
    read_password_stdin,
)
from kiosk.config import redact_url
from kiosk.runtime import EXIT_REFUSED, Context, fail, one_line, session_source


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_ctx
@handle_errors
def db_upgrade(ctx: Context) -> None:
    """Bring the schema up to date (the kiosk also does this when it starts)."""
    from kiosk.store.database import open_database, schema_version

    database = open_database(ctx.settings.database_url, migrate=True)
    click.echo(f"schema version {schema_version(database)}")
    database.close()


@db.command("status")
@pass_ctx
@handle_errors
def db_status(ctx: Context) -> None:
    """Show the schema version of the database and of this kiosk; changes nothing."""
    from kiosk.store.database import SCHEMA_VERSION, connect_database, schema_version

    database = connect_database(ctx.settings.database_url)
    click.echo(f"database {redact_url(ctx.settings.database_url)}")
    click.echo(f"database schema {schema_version(database)}, kiosk schema {SCHEMA_VERSION}")
    database.close()


@click.group()
def keys() -> None:
    """Encryption keys for the stored TOTP secrets."""


@keys.command("rotate")
@pass_ctx
@handle_errors
def keys_rotate(ctx: Context) -> None:
    """Re-encrypt every TOTP secret under a new key version (progress on stderr)."""
    from kiosk.progress import progress_reporter

    service = ctx.service()
    with progress_reporter("keys rotate", 0) as progress:
        version = service.keys.rotate(
            source=f"admin:{session_source()}", progress=progress.update
        )
    click.echo(
        f"every secret now uses key version {version}; retire old keys with `kiosk keys retire`"
    )


@keys.command("retire")
@pass_ctx
@handle_errors
def keys_retire(ctx: Context) -> None:
    """Remove key versions that no stored secret uses any more."""
    retired = ctx.service().keys.retire_unused()
    if retired:
        click.echo(f"retired key version(s): {', '.join(map(str, retired))}")
    else:
        click.echo("nothing to retire")


@click.group()
def directory() -> None:
    """The organisation's LDAP directory ([directory] in the config)."""


@directory.command("test")
@click.argument("email")
@password_stdin_option
@pass_ctx
@handle_errors
def directory_test(ctx: Context, email: str, password_stdin: bool) -> None:
    """Sign EMAIL in against the directory, step by step; changes nothing in the kiosk.

    Exit 0 when the directory accepts the password, 1 when it refuses, 2 when it can't be
    reached or the configuration is wrong. The password is never printed."""
    from kiosk.core.directory import Directory

    settings = ctx.settings
    checker = Directory.for_settings(settings)
    if not settings.directory.enabled:
        click.echo("note: [directory] enabled = false, so the kiosk still uses local passwords")
    password = read_password_stdin() if password_stdin else click.prompt(
        "Password", hide_input=True, default="", show_default=False
    )
    last = None
    for step in checker.diagnose(email, password):
        click.echo(f"{step.step:12} {step.status:12} {one_line(step.detail)}")
        last = step
    if last is None or last.status == "unavailable":
        fail("the directory can't be reached or is misconfigured (see the lines above)")
    if last.status == "refused":
        click.echo("kiosk: refused: the directory does not accept this sign-in", err=True)
        sys.exit(EXIT_REFUSED)


COMMANDS = (db, keys, directory)
