"""The account commands: `users …` (add, import, list, reset, unlock, remove), `audit`, and
`verify` (one code checked for another system)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import click

from kiosk.cli.common import (
    csv_lines,
    handle_errors,
    iso,
    pass_ctx,
    password_stdin_option,
    read_input_file,
    read_password_stdin,
)
from kiosk.core.values import UserSummary
from kiosk.errors import (
    AccountLockedError,
    AttemptsInFlightError,
    ConfigError,
    InvalidCodeError,
    KioskError,
    NoAuthenticatorError,
    report_unexpected,
)
from kiosk.runtime import EXIT_REFUSED, Context, fail, one_line, session_source


@click.group()
def users() -> None:
    """Add, list, reset, unlock and remove accounts."""


@users.command("add")
@click.argument("email")
@password_stdin_option
@pass_ctx
@handle_errors
def users_add(ctx: Context, email: str, password_stdin: bool) -> None:
    """Add an account (prompts twice for the password unless --password-stdin)."""
    from kiosk.core.accounts import normalize_email

    normalize_email(email)  # a bad email is refused before any prompt
    if password_stdin:
        password = read_password_stdin()
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    added = ctx.service().accounts.add_user(email, password, source=f"admin:{session_source()}")
    click.echo(f"added {added}")


@users.command("set-password")
@click.argument("email")
@password_stdin_option
@pass_ctx
@handle_errors
def users_set_password(ctx: Context, email: str, password_stdin: bool) -> None:
    """Set a new password for an account."""
    service = ctx.service()
    service.accounts.find(email)
    password = read_password_stdin() if password_stdin else click.prompt(
        "New password", hide_input=True, confirmation_prompt=True
    )
    changed = service.accounts.set_password(email, password, source=f"admin:{session_source()}")
    click.echo(f"password changed for {changed}")


@users.command("import")
@click.argument("csv_file", type=click.Path(dir_okay=False, allow_dash=True))
@pass_ctx
@handle_errors
def users_import(ctx: Context, csv_file: str) -> None:
    """Add accounts from a CSV of `email,password` lines, one account a line.

    Every data line is added, already present (left unchanged) or refused with its number and
    reason; the exit status is 1 when any line was refused. Progress goes to stderr.
    """
    from kiosk.core.accounts import normalize_email
    from kiosk.errors import AccountExistsError, StorageError
    from kiosk.progress import progress_reporter

    lines = list(_import_lines(read_input_file(csv_file)))
    service = ctx.service()
    present = {user.email for user in service.accounts.iter_users()}
    added = already = refused = 0
    source = f"admin:{session_source()}"
    with progress_reporter("users import", len(lines)) as progress:
        for number, fields, problem in lines:
            try:
                if problem is not None:
                    raise ImportLineError(problem)
                email = normalize_email(fields[0])
                if email in present:
                    raise AccountExistsError(email)
                service.accounts.add_user(email, fields[1], source=source)
                present.add(email)
                added += 1
            except AccountExistsError:
                already += 1
            except StorageError as exc:  # not this line's fault: every later line would fail
                raise StorageError(
                    f"line {number}: {exc}; the {added} account(s) before it were added, and "
                    "running the same import again skips them"
                ) from None
            except KioskError as exc:
                progress.note(f"line {number}: {one_line(str(exc))}")
                refused += 1
            progress.advance()
    click.echo(
        f"{len(lines)} data line(s): {added} added, {already} already present, {refused} refused"
    )
    if refused:
        sys.exit(EXIT_REFUSED)


class ImportLineError(KioskError):
    """A line of an import file that is not one `email,password` record."""


def _import_lines(raw: bytes) -> Iterator[tuple[int, list[str], str | None]]:
    """(line number, [email, password], problem or None) for every data line of an import file."""
    for number, fields, problem in csv_lines(raw, header=("email", "password")):
        if problem is None and len(fields) != 2:
            problem = "expected 'email,password'"
        yield number, (fields if problem is None else []), problem


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array of objects.")
@pass_ctx
@handle_errors
def users_list(ctx: Context, as_json: bool) -> None:
    """List accounts: enrolled, locked, last sign-in."""
    rows = ctx.service().accounts.iter_users()
    out = sys.stdout
    if as_json:
        # Streamed: one object at a time, never the whole list in memory.
        out.write("[")
        for index, user in enumerate(rows):
            out.write(("," if index else "") + "\n  " + json.dumps(summary_as_json(user)))
        out.write("\n]\n" if out else "]\n")
        return
    out.write(f"{'EMAIL':40} {'PASSWORD':10} {'ENROLLED':20} {'LOCKED':8} LAST SIGN-IN\n")
    for user in rows:
        data = summary_as_json(user)
        enrolled = data["enrolled_at"] or "no"
        locked = "yes" if user.locked else "no"
        out.write(
            f"{user.email:40} {user.password_source:10} {enrolled!s:20} {locked:8} "
            f"{data['last_sign_in'] or '-'}\n"
        )


def summary_as_json(user: UserSummary) -> dict[str, object]:
    """One `users list --json` object (UTC times in ISO 8601 with Z)."""
    return {
        "email": user.email,
        "enrolled": user.enrolled,
        "enrolled_at": iso(user.enrolled_at),
        "locked": user.locked,
        "locked_until": iso(user.locked_until),
        "last_sign_in": iso(user.last_sign_in),
        "created_at": iso(user.created_at),
        "password": user.password_source,  # local, directory, or none (not set yet)
    }


def _email_command(name: str, method: str, verb: str, doc: str) -> None:
    @users.command(name, help=doc)
    @click.argument("email")
    @pass_ctx
    @handle_errors
    def command(ctx: Context, email: str) -> None:
        done = getattr(ctx.service().accounts, method)(email, source=f"admin:{session_source()}")
        click.echo(f"{verb} {done}")


_email_command("reset-mfa", "reset_mfa", "reset", "Remove the authenticator and recovery code; "
               "the next sign-in sets up a new device.")
_email_command("unlock", "unlock", "unlocked", "Clear the failed-attempt lock.")
_email_command("remove", "remove_user", "removed", "Delete the account.")


_RELATIVE = re.compile(r"(\d+)\s*([smhdw])")


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`2h`, `3d`, `1w`, or an ISO date/time (UTC unless it says otherwise); naive UTC out."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    match = _RELATIVE.fullmatch(text.strip())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
        try:
            return now - timedelta(seconds=amount * seconds)
        except OverflowError:
            raise ConfigError(f"--since {text!r} is too far back") from None
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError("--since takes e.g. 2h, 3d, 2026-11-01 or 2026-11-01T08:00Z") from None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when


@click.command("audit")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--since", metavar="WHEN", help="e.g. 24h, 7d, 2026-11-01.")
@click.option("--email", metavar="EMAIL", help="Only this account's events.")
@pass_ctx
@handle_errors
def audit_command(ctx: Context, as_json: bool, since: str | None, email: str | None) -> None:
    """Show audit events (UTC), oldest first."""
    from kiosk.core.accounts import normalize_email

    since_at = parse_since(since) if since else None
    wanted = normalize_email(email) if email else None
    ctx.service()  # before the store's modules: it loads the settings, then peewee
    from kiosk.core import audit
    from kiosk.store.database import storage_errors

    out = sys.stdout
    with storage_errors("read the audit log"):
        for row in audit.query(since=since_at, email=wanted):
            at = row.at.replace(microsecond=0).isoformat() + "Z"
            if as_json:
                record = {"at": at, "event": row.event, "email": row.email,
                          "source": row.source, "detail": row.detail}
                out.write(json.dumps(record) + "\n")
            else:
                who = row.email or "-"
                out.write(f"{at}  {row.event:15} {who:32} {row.source:24} {row.detail}\n")


@click.command()
@click.argument("email")
@pass_ctx
def verify(ctx: Context, email: str) -> None:
    """Check one code read from stdin: exit 0 accepted, 1 refused, 2 error.

    The same throttle and replay guard as the kiosk, for other systems (e.g. pam_exec)."""
    try:
        code = sys.stdin.readline(128)
        service = ctx.service()
        service.factors.verify_for_external(email, code, source=f"verify:{session_source()}")
    except (InvalidCodeError, AccountLockedError, AttemptsInFlightError,
            NoAuthenticatorError) as exc:
        click.echo(f"kiosk: refused: {one_line(str(exc))}", err=True)
        sys.exit(EXIT_REFUSED)
    except KioskError as exc:
        fail(str(exc))
    except Exception as exc:  # noqa: BLE001
        fail(f"unexpected {exc.__class__.__name__} (reference {report_unexpected(exc)})")
    click.echo("accepted")


COMMANDS = (users, audit_command, verify)
