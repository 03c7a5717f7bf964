"""What every command module of the CLI shares: one-line errors, the settings, CSV input."""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from kiosk.errors import ConfigError
from kiosk.limits import MAX_EMAIL_LENGTH, MAX_PASSWORD_LENGTH
from kiosk.runtime import Context, exit_on_failure

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


# For commands that take a password: scripts pipe it in rather than answer a prompt.
password_stdin_option = click.option(
    "--password-stdin", is_flag=True, help="Read the password from one line of stdin."
)


def read_password_stdin() -> str:
    """One line of stdin, without its newline (`--password-stdin`)."""
    line = sys.stdin.readline()
    return line[:-1] if line.endswith("\n") else line


def iso(value: datetime | None) -> str | None:
    """A stored (naive UTC) time as ISO 8601 with Z, seconds precision; None stays None."""
    return None if value is None else value.replace(microsecond=0).isoformat() + "Z"


def read_input_file(path: str) -> bytes:
    """The bytes of an input file, or of stdin for `-`; one line naming the file if unreadable."""
    try:
        return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


# A line longer than an email and a password can be (quoted, with a separator) is refused
# before the csv module sees it: its own field limit (128 KiB) made such lines vanish.
MAX_IMPORT_LINE = 2 * (MAX_EMAIL_LENGTH + MAX_PASSWORD_LENGTH) + 8
_CSV_PROBLEMS = {
    "unexpected end of data": "unclosed quote (a field cannot span lines)",
    "',' expected after '\"'": "a quote inside a quoted field must be doubled",
}


def csv_lines(
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

