"""The `kiosk` command line (click): run the kiosk, serve it, and administer accounts.

`kiosk.launch.main` is the entry point: the plain `kiosk run` forms start the kiosk from there
without importing this package; everything else comes here. Every failure prints one line
(`kiosk: error: ...`) and exits non-zero: 2 for an error, 1 for a refusal where a command answers
yes/no (`verify`, `users import` with bad lines).

One module per kind of work, each listing its top-level commands in `COMMANDS`:
    frontends    run, demo, serve, onboard, ssh-config
    accounts     users …, audit, verify
    maintenance  db …, keys …, directory test
    onboarding   cohort …, pass …
    common       one-line errors (handle_errors), the settings (pass_ctx), CSV input
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import click

from kiosk.cli import accounts, frontends, maintenance, onboarding
from kiosk.filemodes import warn_on_stderr
from kiosk.runtime import Context, config_path


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config",
    metavar="PATH",
    help="config.toml to use (default: $KIOSK_CONFIG, else ./config.toml).",
)
@click.version_option(package_name="kiosk")
@click.pass_context
def cli(click_ctx: click.Context, config: str | None) -> None:
    """Self-service enrollment of an authenticator app, and the tools to run it."""
    os.umask(0o077)  # everything this process creates is private to the kiosk's user
    # Admin commands also show loose-file warnings on stderr; the kiosk only logs them.
    warn_on_stderr(click_ctx.invoked_subcommand not in (None, "run"))
    ctx = Context(config_path(config))
    click_ctx.obj = ctx
    click_ctx.call_on_close(ctx.close)
    if click_ctx.invoked_subcommand is None:
        click_ctx.invoke(frontends.run)


for _module in (frontends, accounts, maintenance, onboarding):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> None:
    """The admin command line (and `kiosk run` in any form the fast path in kiosk.launch leaves)."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="kiosk")
