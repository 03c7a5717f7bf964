"""Bad input at every entry point, property-based (hypothesis, bounded examples, no deadline).

The answer to arbitrary text is a clear refusal (a KioskError whose str() is one printable line)
or the right result; never another exception, a hang, or a changed account.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pyotp
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kiosk.config import load_settings
from kiosk.core import recovery, totp
from kiosk.core.flow import AuthFlow, Method, Step
from kiosk.core.service import KioskService
from kiosk.errors import AccountLockedError, AuthenticationFailed, KioskError
from kiosk.store.models import Throttle
from tests.conftest import make_settings, write_config
from tests.security import workers
from tests.security.conftest import (
    PASSWORD,
    assert_one_line_error,
    assert_refusal,
    dump_tables,
    run_kiosk,
)

EXAMPLES = 120
HYPO = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

NASTY = [
    "\x1b[2J\x1b[H",  # clear screen
    "\x1b]0;pwned\x07",  # set window title (OSC)
    "\x1b]52;c;cGF5bG9hZA==\x07",  # write the clipboard (OSC 52)
    "\x1bP+q544e\x1b\\",  # DCS query
    "\x9b31m",  # 8-bit CSI
    "\u202eevil@example.com",  # right-to-left override
    "\u200b\u200d\ufeff",  # zero-width characters
    "１２３４５６",  # full-width digits
    "١٢٣٤٥٦",  # Arabic-Indic digits
    "123\x00456",  # NUL
    "\r\n\t\x7f\x08",
    "A" * 100_000,  # a huge paste
    "1" * 10_000,
    "[bold red]markup[/]",  # Textual/Rich markup
    "'; DROP TABLE account; --",
    "%s%n%x{0}{email}",
    "\ud800" if False else "\U0001f600",  # emoji (lone surrogates cannot reach a terminal)
]
nasty_text = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=400),
    st.sampled_from(NASTY),
    st.tuples(st.sampled_from(NASTY), st.text(max_size=20), st.sampled_from(NASTY)).map("".join),
)


def assert_clear_refusal(exc: BaseException) -> None:
    assert isinstance(exc, KioskError), repr(exc)
    message = str(exc)
    assert message and message.isprintable() and "\n" not in message, repr(message)
    assert len(message) < 400


@pytest.fixture
def world(tmp_path: Path, sqlite_url: str) -> Iterator[dict]:
    """One enrolled account (known secret and recovery code) and one not yet enrolled."""
    base = make_settings(tmp_path, sqlite_url)
    cfg = replace(base, security=replace(base.security, max_failed_attempts=100))
    service = KioskService.open(cfg)
    service.accounts.add_user("enrolled@example.com", PASSWORD)
    secret, recovery_code = workers.enroll_through_flow(service, "enrolled@example.com", PASSWORD)
    service.accounts.add_user("fresh@example.com", PASSWORD)
    yield {
        "service": service,
        "secret": secret,
        "recovery": recovery_code,
        "url": sqlite_url,
        "tmp": tmp_path,
        "settings": cfg,
    }
    service.close()


def _unlock_all() -> None:
    Throttle.delete().execute()


@HYPO
@given(email=nasty_text, password=nasty_text)
@example(email="enrolled@example.com", password=PASSWORD + "\x00")
@example(email="  ENROLLED@example.com ", password="x" * 1025)
@example(email="\u202eenrolled@example.com", password=PASSWORD)
def test_sign_in_fields(world: dict, email: str, password: str) -> None:
    service: KioskService = world["service"]
    before = dump_tables(world["url"])
    flow = AuthFlow(service, "fuzz")
    try:
        step = flow.submit_password(email, password)
    except (AuthenticationFailed, AccountLockedError) as exc:
        assert_clear_refusal(exc)
        assert flow.step == Step.SIGN_IN and flow.email is None
    else:  # only the real credentials, however the email is spelled
        assert password == PASSWORD and step in (Step.ENTER_CODE, Step.MFA_REQUIRED)
    after = dump_tables(world["url"])
    assert after == before
    _unlock_all()


@HYPO
@given(raw=nasty_text)
@example(raw="１２３４５６")
@example(raw="123456\x00")
def test_six_digit_code_field(world: dict, raw: str) -> None:
    service: KioskService = world["service"]
    before = dump_tables(world["url"])
    flow = AuthFlow(service, "fuzz")
    flow.submit_password("enrolled@example.com", PASSWORD)
    right = pyotp.TOTP(world["secret"]).now()
    try:
        flow.submit_code(raw)
    except KioskError as exc:
        assert_clear_refusal(exc)
        assert flow.step == Step.ENTER_CODE
        assert dump_tables(world["url"])["credential"] == before["credential"]
    else:
        assert raw.replace(" ", "").strip() == right  # only the right code, in ASCII digits
    assert dump_tables(world["url"])["recovery_code"] == before["recovery_code"]
    _unlock_all()


@HYPO
@given(raw=nasty_text)
def test_setup_code_field(world: dict, raw: str) -> None:
    service: KioskService = world["service"]
    before = dump_tables(world["url"])
    flow = AuthFlow(service, "fuzz")
    flow.submit_password("fresh@example.com", PASSWORD)
    flow.start_setup()
    flow.choose_method(Method.AUTHENTICATOR_APP)
    flow.continue_to_code()
    try:
        flow.verify_setup_code(raw)
    except KioskError as exc:
        assert_clear_refusal(exc)
        assert flow.step == Step.ENTER_SETUP_CODE
    else:
        assert flow.step == Step.SAVE_RECOVERY_CODE
    assert dump_tables(world["url"]) == before  # nothing is stored before the acknowledgement
    _unlock_all()


@HYPO
@given(raw=nasty_text)
@example(raw="o" * 25)
def test_recovery_code_field(world: dict, raw: str) -> None:
    service: KioskService = world["service"]
    before = dump_tables(world["url"])
    flow = AuthFlow(service, "fuzz")
    flow.submit_password("enrolled@example.com", PASSWORD)
    flow.use_recovery_code()
    try:
        flow.submit_recovery_code(raw)
    except KioskError as exc:
        assert_clear_refusal(exc)
        assert flow.step == Step.ENTER_RECOVERY_CODE
    else:
        assert recovery.parse(raw) == recovery.parse(world["recovery"])
    assert dump_tables(world["url"]) == before  # checked, never consumed here
    _unlock_all()


def test_right_answers_still_work(world: dict) -> None:
    """The control: the fuzzed fields accept the real values in their documented spellings."""
    service: KioskService = world["service"]
    flow = AuthFlow(service, "fuzz")
    assert flow.submit_password("  Enrolled@EXAMPLE.com ", PASSWORD) == Step.ENTER_CODE
    flow.use_recovery_code()
    sloppy = world["recovery"].lower().replace("-", " ").replace("0", "o").replace("1", "l")
    assert flow.submit_recovery_code(sloppy) == Step.SELECT_METHOD
    code = pyotp.TOTP(world["secret"]).at(time.time() + 30)
    spaced = f" {code[:3]} {code[3:]} "
    assert totp.parse_code(spaced) == code


# ------------------------------------------------------------------------------ config
_KEYS = {
    "kiosk": ["organization", "mode", "idle_timeout", "signed_in_timeout", "log_file"],
    "database": ["url"],
    "security": [
        "key_file",
        "max_failed_attempts",
        "lockout_minutes",
        "totp_window",
        "password_min_length",
    ],
    "argon2": ["time_cost", "memory_cost", "parallelism"],
}
toml_value = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    st.booleans().map(lambda b: str(b).lower()),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    nasty_text.map(lambda s: json.dumps(s[:300])),  # a TOML basic string, escapes and all
    st.sampled_from(["[]", "[1, 2]", "{}", "{a = 1}", '""', "'lit'", "1979-05-27", "inf"]),
    nasty_text.map(lambda s: s[:100]),  # raw text: often not TOML at all
)
toml_line = st.one_of(
    st.tuples(st.sampled_from(sorted(_KEYS)), st.integers(0, 4), toml_value).map(
        lambda t: f"[{t[0]}]\n{_KEYS[t[0]][t[1] % len(_KEYS[t[0]])]} = {t[2]}"
    ),
    st.tuples(st.text(max_size=10), toml_value).map(lambda t: f"{t[0]} = {t[1]}"),
    nasty_text.map(lambda s: s[:200]),
)


def _is_safe_path_value(text: str) -> bool:
    """Config values are paths too: keep the fuzz inside its folder (never /etc as root)."""
    return not any(bad in text for bad in ("/", "~", "\\\\", ".."))


@HYPO
@given(lines=st.lists(toml_line, min_size=1, max_size=4))
@example(lines=['[kiosk]\norganization = "\\u001b[2JEvil"'])
@example(lines=['[kiosk]\norganization = "\\u202eEvil"'])
@example(lines=['[security]\nkey_file = "k\\u0000"'])
def test_config_values(tmp_path: Path, lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    if not _is_safe_path_value(text.replace("sqlite:///", "")):
        text = text.replace("/", "_").replace("~", "_").replace("..", "__")
    config = tmp_path / "fuzz.toml"
    config.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        loaded = load_settings(config)
    except KioskError as exc:
        assert_clear_refusal(exc)
        return
    # Accepted: every value is in range and fit to show on a terminal.
    assert loaded.kiosk.mode in ("kiosk", "ssh")
    assert loaded.kiosk.organization.isprintable()
    assert 1 <= loaded.security.max_failed_attempts <= 100
    assert loaded.argon2.memory_cost >= 8192


def test_config_refusals_through_the_cli(tmp_path: Path) -> None:
    """A broken config file, through the real command: one line, no traceback, no ESC."""
    bad = {
        "escape.toml": '[kiosk]\norganization = "\\u001b[2JEvil"\n',
        "nul.toml": '[kiosk]\nlog_file = "a\\u0000b"\n',
        "raw.toml": "[kiosk\n\x1b[31m = ",
        "binary.toml": None,
        "huge.toml": "[kiosk]\nidle_timeout = " + "9" * 5000 + "\n",
        "nulkey.toml": '[security]\nkey_file = "k\\u0000"\n',
    }
    for name, content in bad.items():
        path = tmp_path / name
        if content is None:
            path.write_bytes(b"\xff\xfe\x00\x1b[2J")
        else:
            path.write_text(content)
        result = run_kiosk(path, "users", "list")
        line = assert_one_line_error(result)
        assert "unexpected" not in line, (name, line)


# ------------------------------------------------------------------------------ CSV import
csv_cell = st.one_of(
    nasty_text.map(lambda s: s[:200]),
    st.sampled_from(["ok{n}@example.com", "password123", "", '"', '""', ",", "\r", "\n"]),
)


@HYPO
@given(
    rows=st.lists(st.lists(csv_cell, min_size=0, max_size=4), min_size=1, max_size=6),
    joiner=st.sampled_from([",", ";", "\t"]),
)
def test_csv_import_lines(tmp_path: Path, rows: list[list[str]], joiner: str) -> None:
    """`kiosk users import -` on arbitrary lines: each bad line reported on one printable line,
    the good ones added, every non-blank line counted once (added, already present, refused),
    exit 0 only when no line was refused; never a traceback or raw ESC."""
    from kiosk.cli import cli

    settings_ = make_settings(tmp_path, f"sqlite:///{tmp_path / 'import.db'}")
    config = write_config(tmp_path / "import.toml", settings_)
    counter = iter(range(10_000))
    text = "\n".join(joiner.join(c.replace("{n}", str(next(counter))) for c in row) for row in rows)
    data = text.encode("utf-8", "surrogatepass")
    before_count = _count_accounts(settings_)
    result = CliRunner().invoke(
        cli, ["--config", str(config), "users", "import", "-"], input=data, catch_exceptions=True
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code in (0, 1, 2), result.output
    out = result.stdout + result.stderr
    assert "\x1b" not in out and "Traceback" not in out
    for line in result.stderr.splitlines():
        assert line.isprintable(), repr(line)
        assert line.startswith(("line ", "kiosk: error:")), repr(line)
    added = _count_accounts(settings_) - before_count
    if result.exit_code == 2:
        return
    summary = re.fullmatch(
        r"(\d+) data line\(s\): (\d+) added, (\d+) already present, (\d+) refused\n",
        result.stdout,
    )
    assert summary, result.stdout
    lines, added_count, present, refused = map(int, summary.groups())
    physical = [raw.removesuffix(b"\r") for raw in data.split(b"\n")]
    data_lines = [raw for raw in physical if raw.strip(b" \t")]
    if physical[0].decode("utf-8", "replace").strip().lower().replace(" ", "") == "email,password":
        data_lines = data_lines[1:]
    assert lines == len(data_lines) == added_count + present + refused, (lines, data)
    assert added_count == added
    assert refused == len(result.stderr.splitlines())
    assert (result.exit_code == 1) == (refused > 0)


def _count_accounts(settings_) -> int:  # noqa: ANN001
    import sqlite3

    path = settings_.database_url[len("sqlite:///") :]
    if not Path(path).exists():
        return 0
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM account").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


# ------------------------------------------------------------------------------ CLI arguments
NASTY_ARGS = [
    "\x1b[2J\x1b[31mred@example.com",
    "\x1b]0;pwned\x07",
    "\u202eenrolled@example.com",
    "ｅｎｒｏｌｌｅｄ@example.com",
    "-" * 3 + "\x7f",
    "--\x1b[2Jx",
    "a" * 50_000,
    "\t\r",
]


def test_cli_arguments(tmp_path: Path, sqlite_url: str) -> None:
    """A handful of real `kiosk` runs with nasty arguments and stdin: one printable line, no
    raw ESC echoed, the accounts unchanged."""
    settings_ = make_settings(tmp_path, sqlite_url)
    config = write_config(tmp_path / "config.toml", settings_)
    service = KioskService.open(settings_)
    service.accounts.add_user("enrolled@example.com", PASSWORD)
    workers.enroll_through_flow(service, "enrolled@example.com", PASSWORD)
    service.close()
    before = dump_tables(sqlite_url)
    runs = 0
    for arg in NASTY_ARGS:
        for command in (
            ["users", "add", arg, "--password-stdin"],
            ["users", "reset-mfa", arg],
            ["users", "unlock", arg],
            ["users", "remove", arg],
            ["audit", "--email", arg],
            ["audit", "--since", arg],
            ["verify", arg],
        ):
            result = run_kiosk(config, *command, input="123456\n")
            runs += 1
            if result.returncode == 0:
                # Only a read can succeed: a well-formed (if odd) address has no audit rows.
                assert command[0] == "audit" and result.stdout == b"", (command, result)
                assert result.stderr == b""
            else:
                assert_refusal(result)
    # NUL cannot be in argv: it arrives through stdin.
    for command, stdin in (
        (["users", "add", "nul@example.com", "--password-stdin"], b"pass\x00word123\n"),
        (["users", "set-password", "enrolled@example.com", "--password-stdin"], b"\x00" * 12),
        (["verify", "enrolled@example.com"], b"123\x00456\n"),
        (["verify", "enrolled@example.com"], b"\x1b[2J" + b"9" * 100_000),
        (["users", "import", "-"], b"a@example.com,\x00\x00\x00\x00\x00\x00\x00\x00\n"),
        (["users", "add", "huge@example.com", "--password-stdin"], b"p" * 2_000_000 + b"\n"),
    ):
        result = run_kiosk(config, *command, input=stdin)
        runs += 1
        err = result.stderr.decode("utf-8", "replace")
        assert result.returncode != 0, (command, err)
        assert "Traceback" not in err and b"\x1b" not in result.stderr + result.stdout
        assert all(line.isprintable() for line in err.splitlines()), err
    assert dump_tables(sqlite_url) == before
    assert runs == len(NASTY_ARGS) * 7 + 6
