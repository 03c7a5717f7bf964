"""The commands IT staff run onboarding sessions with: `cohort …` (people, report, handouts)
and `pass …` (one-time sign-ins for people staff have verified). The live board is `onboard`."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from kiosk.cli.common import csv_lines, handle_errors, iso, pass_ctx, read_input_file
from kiosk.errors import ConfigError, KioskError
from kiosk.runtime import Context


@click.group()
def cohort() -> None:
    """Guided onboarding sessions: a named group of people and how far each got."""


def _read_people(csv_file: str) -> list[Any]:
    """The people of an `email[,full name]` CSV, or one error naming the first bad line
    (nothing is created from a file with a bad line)."""
    from kiosk.core.accounts import normalize_email
    from kiosk.core.cohorts import NewPerson, check_full_name
    from kiosk.errors import InvalidEmailError

    raw = read_input_file(csv_file)
    people = []
    for number, fields, problem in csv_lines(raw, header=("email", "name", "full name")):
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
             "people": c.people, "enrolled": c.enrolled, "created_at": iso(c.created_at),
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


@click.group("pass")
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
    expires = iso(issued.expires_at)
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


COMMANDS = (cohort, pass_group)
