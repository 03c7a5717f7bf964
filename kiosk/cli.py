"""The `kiosk` command line (click): run the kiosk, serve it, and administer accounts.

`kiosk.launch.main` is the entry point: the plain `kiosk run` forms start the kiosk from there
without importing this module; everything else comes here. Every failure prints one line
(`kiosk: error: ...`) and exits non-zero: 2 for an error, 1 for a refusal where a command answers
yes/no (`verify`, `users import` with bad lines).
"""

from __future__ import annotations

import csv
import json
import os
import re
import secrets
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from kiosk.config import MODES, redact_url
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
from kiosk.filemodes import warn_on_stderr
from kiosk.limits import MAX_EMAIL_LENGTH, MAX_PASSWORD_LENGTH
from kiosk.runtime import (
    EXIT_REFUSED,
    Context,
    config_path,
    exit_on_failure,
    fail,
    one_line,
    run_kiosk,
    session_source,
)

DEMO_EMAIL = "demo@example.com"

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    """One clear line and a non-zero exit for every failure; never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise  # click prints its own usage errors
        except BaseException as exc:  # noqa: BLE001 - see exit_on_failure
            exit_on_failure(exc)

    return wrapper  # type: ignore[return-value]


pass_ctx = click.make_pass_decorator(Context)


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
        click_ctx.invoke(run)


# ---------------------------------------------------------------------------------- the kiosk
@cli.command()
@click.option("--mode", type=click.Choice(MODES), help="Override kiosk.mode from the config.")
@click.option("--plain", is_flag=True,
              help="Plain lines and prompts (screen readers, braille, serial consoles).")
@pass_ctx
@handle_errors
def run(ctx: Context, mode: str | None, plain: bool) -> None:
    """Run the kiosk in this terminal: full-screen, or plain lines (the default command)."""
    run_kiosk(ctx, mode or ctx.settings.kiosk.mode, interface="plain" if plain else None)


@cli.command()
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


@cli.command()
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


@cli.command()
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


# ---------------------------------------------------------------------------------- users
@cli.group()
def users() -> None:
    """Add, list, reset, unlock and remove accounts."""


def _read_password_stdin() -> str:
    line = sys.stdin.readline()
    return line[:-1] if line.endswith("\n") else line


@users.command("add")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
@pass_ctx
@handle_errors
def users_add(ctx: Context, email: str, password_stdin: bool) -> None:
    """Add an account (prompts twice for the password unless --password-stdin)."""
    from kiosk.core.accounts import normalize_email

    normalize_email(email)  # a bad email is refused before any prompt
    if password_stdin:
        password = _read_password_stdin()
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    added = ctx.service().accounts.add_user(email, password, source=f"admin:{session_source()}")
    click.echo(f"added {added}")


@users.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
@pass_ctx
@handle_errors
def users_set_password(ctx: Context, email: str, password_stdin: bool) -> None:
    """Set a new password for an account."""
    service = ctx.service()
    service.accounts.find(email)
    password = _read_password_stdin() if password_stdin else click.prompt(
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

    try:
        raw = sys.stdin.buffer.read() if csv_file == "-" else Path(csv_file).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {csv_file}: {exc.strerror}") from None
    lines = list(_import_lines(raw))
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


# A line longer than an email and a password can be (quoted, with a separator) is refused
# before the csv module sees it: its own field limit (128 KiB) made such lines vanish.
MAX_IMPORT_LINE = 2 * (MAX_EMAIL_LENGTH + MAX_PASSWORD_LENGTH) + 8
_CSV_PROBLEMS = {
    "unexpected end of data": "unclosed quote (a field cannot span lines)",
    "',' expected after '\"'": "a quote inside a quoted field must be doubled",
}


def _import_lines(raw: bytes) -> Iterator[tuple[int, list[str], str | None]]:
    """(line number, [email, password], problem or None) for every data line of an import file."""
    for number, fields, problem in _csv_lines(raw, header=("email", "password")):
        if problem is None and len(fields) != 2:
            problem = "expected 'email,password'"
        yield number, (fields if problem is None else []), problem


def _csv_lines(
    raw: bytes, *, header: tuple[str, ...]
) -> Iterator[tuple[int, list[str], str | None]]:
    """(line number, fields, problem or None) for every data line of a CSV file.

    Parsed one physical line at a time, so a stray quote cannot swallow the lines after it and a
    line that is not UTF-8 is refused alone. Blank lines and a header on the first line (its
    fields all among `header`) are not data lines.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    for number, line_bytes in enumerate(raw.split(b"\n"), start=1):
        line_bytes = line_bytes.removesuffix(b"\r")
        try:
            line = line_bytes.decode("utf-8")
        except UnicodeDecodeError:
            yield number, [], "not UTF-8 text"
            continue
        if not line.strip(" \t"):  # only these: str.strip() would also drop e.g. \x1c lines
            continue
        if len(line) > MAX_IMPORT_LINE:
            yield number, [], f"line too long (more than {MAX_IMPORT_LINE} characters)"
            continue
        try:
            rows = list(csv.reader([line], strict=True))
        except csv.Error as exc:
            problem = str(exc)
            if problem.startswith("new-line character"):
                problem = "a carriage return inside an unquoted field"
            yield number, [], _CSV_PROBLEMS.get(problem, f"not valid CSV ({problem})")
            continue
        fields = rows[0] if len(rows) == 1 else []
        lowered = [f.strip().lower() for f in fields]
        if number == 1 and lowered and lowered[0] == "email" and set(lowered) <= set(header):
            continue
        yield number, fields, None


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


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.replace(microsecond=0).isoformat() + "Z"


def summary_as_json(user: UserSummary) -> dict[str, object]:
    """One `users list --json` object (UTC times in ISO 8601 with Z)."""
    return {
        "email": user.email,
        "enrolled": user.enrolled,
        "enrolled_at": _iso(user.enrolled_at),
        "locked": user.locked,
        "locked_until": _iso(user.locked_until),
        "last_sign_in": _iso(user.last_sign_in),
        "created_at": _iso(user.created_at),
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


# ---------------------------------------------------------------------------------- audit
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


@cli.command("audit")
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


# ---------------------------------------------------------------------------------- verify
@cli.command()
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


# ---------------------------------------------------------------------------------- db, keys
@cli.group()
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


@cli.group()
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


# ---------------------------------------------------------------------------------- directory
@cli.group()
def directory() -> None:
    """The organisation's LDAP directory ([directory] in the config)."""


@directory.command("test")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
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
    password = _read_password_stdin() if password_stdin else click.prompt(
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


# ---------------------------------------------------------------------------------- onboarding
@cli.group()
def cohort() -> None:
    """Guided onboarding sessions: a named group of people and how far each got."""


def _read_people(csv_file: str) -> list[Any]:
    """The people of an `email[,full name]` CSV, or one error naming the first bad line
    (nothing is created from a file with a bad line)."""
    from kiosk.core.accounts import normalize_email
    from kiosk.core.cohorts import NewPerson, check_full_name
    from kiosk.errors import InvalidEmailError

    try:
        raw = sys.stdin.buffer.read() if csv_file == "-" else Path(csv_file).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {csv_file}: {exc.strerror}") from None
    people = []
    for number, fields, problem in _csv_lines(raw, header=("email", "name", "full name")):
        if problem is None and len(fields) not in (1, 2):
            problem = "expected 'email' or 'email,full name'"
        if problem is None:
            try:
                normalize_email(fields[0])
                check_full_name(fields[1] if len(fields) == 2 else None)
            except InvalidEmailError:
                problem = "not an email address"
            except KioskError as exc:
                problem = str(exc)
        if problem is not None:
            raise ConfigError(f"{csv_file} line {number}: {problem}; nothing was changed")
        people.append(NewPerson(fields[0], fields[1] if len(fields) == 2 else None))
    return people


def _parse_deadline(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise ConfigError("--deadline takes a date like 2026-12-31") from None


@cohort.command("create")
@click.argument("name")
@click.option("--from", "from_file", metavar="CSV",
              help="People to add: `email[,full name]` lines ('-' for stdin).")
@click.option("--deadline", metavar="YYYY-MM-DD", help="The day everyone should be enrolled by.")
@pass_ctx
@handle_errors
def cohort_create(ctx: Context, name: str, from_file: str | None, deadline: str | None) -> None:
    """Create a cohort; accounts that do not exist are created without a password (their
    person signs in with an enrollment pass and creates one)."""
    from kiosk.runtime import staff_name

    people = _read_people(from_file) if from_file else []
    summary = ctx.service().cohorts.create(
        name, people, deadline=_parse_deadline(deadline), staff=staff_name()
    )
    click.echo(f"created cohort {summary.name!r} with {summary.people} people")


@cohort.command("add")
@click.argument("name")
@click.argument("emails", nargs=-1)
@click.option("--from", "from_file", metavar="CSV", help="`email[,full name]` lines ('-': stdin).")
@pass_ctx
@handle_errors
def cohort_add(ctx: Context, name: str, emails: tuple[str, ...], from_file: str | None) -> None:
    """Add people to a cohort (creating missing accounts without a password)."""
    from kiosk.core.cohorts import NewPerson
    from kiosk.runtime import staff_name

    people = [NewPerson(email) for email in emails]
    if from_file:
        people += _read_people(from_file)
    if not people:
        raise ConfigError("name at least one EMAIL, or --from a CSV file")
    added = ctx.service().cohorts.add(name, people, staff=staff_name())
    click.echo(f"added {len(added)} people ({len(people) - len(added)} already in it)")


@cohort.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array of objects.")
@pass_ctx
@handle_errors
def cohort_list(ctx: Context, as_json: bool) -> None:
    """Every cohort: people, enrolled, deadline."""
    cohorts = ctx.service().cohorts.all()
    if as_json:
        click.echo(json.dumps([
            {"name": c.name, "deadline": c.deadline.isoformat() if c.deadline else None,
             "people": c.people, "enrolled": c.enrolled, "created_at": _iso(c.created_at),
             "created_by": c.created_by}
            for c in cohorts
        ], indent=2))
        return
    click.echo(f"{'NAME':30} {'PEOPLE':>6} {'ENROLLED':>8}  DEADLINE")
    for c in cohorts:
        deadline = c.deadline.isoformat() if c.deadline else "-"
        click.echo(f"{c.name:30} {c.people:6} {c.enrolled:8}  {deadline}")


@cohort.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="A JSON array, one object per person.")
@pass_ctx
@handle_errors
def cohort_show(ctx: Context, name: str, as_json: bool) -> None:
    """One row per person: state, since, failed attempts, locked, what needs attention."""
    people = ctx.service().cohorts.people(name)
    if as_json:
        click.echo(json.dumps([p.as_json() for p in people], indent=2))
        return
    width = max([len("EMAIL"), *(len(p.email) for p in people)])
    click.echo(f"{'EMAIL':{width}} {'STATE':15} {'SINCE (UTC)':17} {'FAILED':>6} {'LOCKED':6} "
               "ATTENTION")
    for p in people:
        since = p.since.strftime("%Y-%m-%d %H:%M") if p.since else "-"
        click.echo(
            f"{p.email:{width}} {p.state:15} {since:17} {p.failed_attempts:6} "
            f"{'yes' if p.locked else 'no':6} {p.attention or '-'}"
        )


@cohort.command("remove")
@click.argument("name")
@click.argument("emails", nargs=-1)
@pass_ctx
@handle_errors
def cohort_remove(ctx: Context, name: str, emails: tuple[str, ...]) -> None:
    """Remove the cohort, or with EMAILs only those people (accounts always stay)."""
    from kiosk.runtime import staff_name

    cohorts = ctx.service().cohorts
    if emails:
        for email in emails:
            click.echo(f"removed {cohorts.remove_member(name, email, staff=staff_name())}")
        return
    count = cohorts.remove(name, staff=staff_name())
    click.echo(f"removed cohort {name.strip()!r} ({count} people; their accounts stay)")


@cohort.command("report")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="People and a summary, as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="One CSV row per person.")
@pass_ctx
@handle_errors
def cohort_report(ctx: Context, name: str, as_json: bool, as_csv: bool) -> None:
    """Per person: state, enrolled at, minutes to enroll, failed attempts, passes; a summary."""
    from kiosk.reports import report_as_csv, report_as_json, report_as_text

    if as_json and as_csv:
        raise ConfigError("choose one of --json and --csv")
    report = ctx.service().cohorts.report(name)
    if as_json:
        click.echo(json.dumps(report_as_json(report), indent=2))
    elif as_csv:
        click.echo(report_as_csv(report), nl=False)
    else:
        click.echo(report_as_text(report), nl=False)


@cohort.command("handout")
@click.argument("name")
@click.option("--out", "out", required=True, metavar="FILE.pdf", help="Where to write the PDF.")
@click.option("--with-pass", is_flag=True,
              help="Issue each person not yet enrolled a fresh pass, printed on their page.")
@click.option("--valid", default="8h", show_default=True, metavar="DURATION",
              help="How long printed passes stay valid (e.g. 30m, 8h, 2d; at most 7d).")
@click.option("--language", metavar="CODE",
              help="The pages' language: en, es or fr (default: [kiosk] language).")
@pass_ctx
@handle_errors
def cohort_handout(
    ctx: Context, name: str, out: str, with_pass: bool, valid: str, language: str | None
) -> None:
    """One PDF page per person: how to reach the kiosk, the steps, and (--with-pass) a pass."""
    from kiosk.core.passes import parse_validity
    from kiosk.filemodes import write_private_file
    from kiosk.handouts import build_handout_pages, check_language, render_handouts
    from kiosk.runtime import staff_name

    validity = parse_validity(valid)
    language = ctx.settings.kiosk.language if language is None else language.strip().lower()
    check_language(language)
    service = ctx.service()
    target = Path(out)
    # Checked before any pass is issued: a new pass withdraws the person's live one, so a
    # handout that cannot be written must not issue any.
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write {out}: the folder does not exist or is not writable")
    if target.is_dir():
        raise ConfigError(f"cannot write {out}: it is a folder")
    pages = build_handout_pages(
        service, name, with_pass=with_pass, valid=validity, staff=staff_name()
    )
    settings = ctx.settings
    data = render_handouts(
        pages,
        organization=settings.kiosk.organization,
        connect=settings.onboarding.connect,
        language=language,
    )
    write_private_file(target, data)
    enrolled = service.cohorts.summary(name).enrolled
    passes = sum(1 for page in pages if page.pass_text)
    click.echo(
        f"wrote {len(pages)} page(s) to {out}"
        + (f", {passes} with a pass" if with_pass else "")
        + (f"; {enrolled} enrolled people need no page" if enrolled else "")
    )


@cli.group("pass")
def pass_group() -> None:
    """Enrollment passes: a one-time sign-in for a person IT staff have verified."""


@pass_group.command("issue")
@click.argument("email")
@click.option("--valid", default="30m", show_default=True, metavar="DURATION",
              help="e.g. 30m, 8h, 2d (at most 7d).")
@click.option("--json", "as_json", is_flag=True, help='{"email", "pass", "expires_at"}')
@pass_ctx
@handle_errors
def pass_issue(ctx: Context, email: str, valid: str, as_json: bool) -> None:
    """Issue a one-time pass (replacing any live one). Check who the person is first: the pass
    signs them in instead of their password, once."""
    from kiosk.core.passes import parse_validity
    from kiosk.runtime import staff_name

    issued = ctx.service().passes.issue(email, valid=parse_validity(valid), staff=staff_name())
    expires = _iso(issued.expires_at)
    if as_json:
        click.echo(json.dumps({"email": issued.email, "pass": issued.text, "expires_at": expires}))
        return
    click.echo(f"pass for {issued.email}: {issued.text}")
    click.echo(f"valid until {issued.expires_at:%Y-%m-%d %H:%M} UTC; it works once, typed in the "
               "Password field at Sign in")


@pass_group.command("revoke")
@click.argument("email")
@pass_ctx
@handle_errors
def pass_revoke(ctx: Context, email: str) -> None:
    """Withdraw the account's live pass."""
    from kiosk.runtime import staff_name

    if ctx.service().passes.revoke(email, staff=staff_name()):
        click.echo(f"withdrew the pass of {email.strip().lower()}")
    else:
        click.echo(f"{email.strip().lower()} has no live pass")


# ---------------------------------------------------------------------------------- ssh
@cli.command("ssh-config")
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


def main(argv: Sequence[str] | None = None) -> None:
    """The admin command line (and `kiosk run` in any form the fast path in kiosk.launch leaves)."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="kiosk")
