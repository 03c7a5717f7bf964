"""The admin CLI, run as the real command (`python -m kiosk`) on SQLite and PostgreSQL.

Every failure is one line on stderr, a non-zero exit, and never a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk.config import Settings
from kiosk.core import totp
from kiosk.core.service import KioskService
from kiosk.store.database import SCHEMA_VERSION

from .conftest import PASSWORD, FakeClock, Run, enroll, one_error_line


def users(cli: Run) -> dict[str, dict[str, object]]:
    result = cli("users", "list", "--json")
    assert result.returncode == 0, result.stderr
    return {u["email"]: u for u in json.loads(result.stdout)}


# ------------------------------------------------------------------------------ users
def test_users_add(cli: Run, tmp_path: Path) -> None:
    result = cli("users", "add", " Bob@Example.com", "--password-stdin", input=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert "bob@example.com" in result.stdout and PASSWORD not in result.stdout + result.stderr
    assert list(users(cli)) == ["bob@example.com"]
    log = tmp_path / "kiosk.log"  # every command opens its log (0600) before it works
    assert log.exists() and PASSWORD not in log.read_text()


def test_users_add_prompts_twice(cli: Run) -> None:
    result = cli("users", "add", "bob@example.com", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.returncode == 0, result.stderr
    assert "bob@example.com" in users(cli)


def test_users_add_failures(cli: Run) -> None:
    assert (
        cli("users", "add", "bob@example.com", "--password-stdin", input=PASSWORD + "\n").returncode
        == 0
    )
    duplicate = one_error_line(
        cli("users", "add", "BOB@example.com", "--password-stdin", input=PASSWORD + "\n")
    )
    assert "already exists" in duplicate
    invalid = one_error_line(
        cli("users", "add", "not-an-email", "--password-stdin", input=PASSWORD + "\n")
    )
    assert "valid email" in invalid
    empty = one_error_line(cli("users", "add", "carol@example.com", "--password-stdin", input="\n"))
    assert "empty" in empty
    short = one_error_line(
        cli("users", "add", "carol@example.com", "--password-stdin", input="short\n")
    )
    assert "at least 8" in short and "short\n" not in short
    assert list(users(cli)) == ["bob@example.com"]


def test_users_import(cli: Run, tmp_path: Path) -> None:
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "email,password\n"
        f"ann@example.com,{PASSWORD}\n"
        "broken line without comma\n"
        f"not-an-email,{PASSWORD}\n"
        "ben@example.com,short\n"
        f"ANN@example.com,{PASSWORD}\n"
        "\n"
        f"cat@example.com,{PASSWORD}\n"
        f"dan@example.com,{PASSWORD},extra\n"
    )
    result = cli("users", "import", str(csv_file))
    assert result.returncode == 1
    errors = result.stderr.splitlines()
    assert [e.split(":")[0] for e in errors] == ["line 3", "line 4", "line 5", "line 9"]
    assert "at least 8" in errors[2]
    assert PASSWORD not in result.stderr and "short" not in errors[2].split(":", 1)[1][:8]
    assert _summary(result) == "7 data line(s): 2 added, 1 already present, 4 refused"
    assert sorted(users(cli)) == ["ann@example.com", "cat@example.com"]


def test_users_import_all_good_and_missing_file(cli: Run, tmp_path: Path) -> None:
    csv_file = tmp_path / "ok.csv"
    csv_file.write_text(f"eve@example.com,{PASSWORD}\nfay@example.com,{PASSWORD}\n")
    result = cli("users", "import", str(csv_file))
    assert result.returncode == 0
    assert _summary(result) == "2 data line(s): 2 added, 0 already present, 0 refused"
    missing = one_error_line(cli("users", "import", str(tmp_path / "missing.csv")))
    assert "missing.csv" in missing


def _summary(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, result.stdout
    return lines[0]


def test_users_import_unclosed_quote_swallows_nothing(cli: Run, tmp_path: Path) -> None:
    """An unclosed quote used to swallow the following lines ("added 1, 0 refused", exit 0):
    it is refused on its own line and every later line is read as usual."""
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        f'"ann@example.com,{PASSWORD}\n'
        f"ben@example.com,{PASSWORD}\n"
        f'cat@example.com,"{PASSWORD}\n'
        f"dan@example.com,{PASSWORD}\n"
    )
    result = cli("users", "import", str(csv_file))
    assert result.returncode == 1, result
    assert result.stderr.splitlines() == [
        "line 1: unclosed quote (a field cannot span lines)",
        "line 3: unclosed quote (a field cannot span lines)",
    ]
    assert _summary(result) == "4 data line(s): 2 added, 0 already present, 2 refused"
    assert sorted(users(cli)) == ["ben@example.com", "dan@example.com"]


def test_users_import_huge_field_is_refused_by_number(cli: Run, tmp_path: Path) -> None:
    """A field over the csv module's 128 KiB limit gave "added 0, 0 refused"."""
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        f"ann@example.com,{'p' * 200_000}\n"
        f"ben@example.com,{PASSWORD}\n"
        f"{'c' * 140_000}@example.com,{PASSWORD}\n"
    )
    result = cli("users", "import", str(csv_file))
    assert result.returncode == 1, result
    errors = result.stderr.splitlines()
    assert [e.split(":")[0] for e in errors] == ["line 1", "line 3"], errors
    assert all("too long" in e and len(e) < 200 for e in errors), errors
    assert _summary(result) == "3 data line(s): 1 added, 0 already present, 2 refused"
    assert sorted(users(cli)) == ["ben@example.com"]


def test_users_import_accounts_for_every_line(cli: Run, tmp_path: Path) -> None:
    """Added + already present + refused = the data lines; bytes that are not UTF-8 are one
    refused line, not the whole file; already present alone is not a failure."""
    assert (
        cli("users", "add", "ann@example.com", "--password-stdin", input=PASSWORD + "\n").returncode
        == 0
    )
    csv_file = tmp_path / "people.csv"
    csv_file.write_bytes(
        b"\xef\xbb\xbfEmail,Password\r\n"
        + f"ANN@example.com,{PASSWORD}\r\n".encode()
        + b"caf\xe9@example.com,correct horse\r\n"
        + f"ben@example.com,{PASSWORD}\r\n".encode()
        + b"\r\n   \n"
        + f"ben@example.com,{PASSWORD}\n".encode()
        + f"cat@example.com,{PASSWORD}".encode()  # no final newline
    )
    result = cli("users", "import", str(csv_file))
    assert result.returncode == 1, result
    assert result.stderr.splitlines() == ["line 3: not UTF-8 text"]
    assert _summary(result) == "5 data line(s): 2 added, 2 already present, 1 refused"
    assert sorted(users(cli)) == ["ann@example.com", "ben@example.com", "cat@example.com"]
    again = tmp_path / "again.csv"
    again.write_text(f"ann@example.com,{PASSWORD}\nben@example.com,{PASSWORD}\n")
    result = cli("users", "import", str(again))
    assert result.returncode == 0, result
    assert _summary(result) == "2 data line(s): 0 added, 2 already present, 0 refused"


def test_users_list_json_fields(cli: Run, settings: Settings) -> None:
    clock = FakeClock()
    svc = KioskService.open(settings, clock=clock)
    try:
        enroll(svc, "enrolled@example.com")
        svc.accounts.add_user("plain@example.com", PASSWORD)
        for _ in range(5):
            with pytest.raises(Exception):  # noqa: B017 - any refusal; locks at the fifth
                svc.factors.check_password("plain@example.com", "wrong password", source="t")
    finally:
        svc.close()
    listed = users(cli)
    assert sorted(listed) == ["enrolled@example.com", "plain@example.com"]
    enrolled, plain = listed["enrolled@example.com"], listed["plain@example.com"]
    for user in listed.values():
        assert {"email", "enrolled", "enrolled_at", "locked", "last_sign_in"} <= set(user)
        assert isinstance(user["enrolled"], bool) and isinstance(user["locked"], bool)
    assert enrolled["enrolled"] is True and enrolled["locked"] is False
    assert datetime.fromisoformat(str(enrolled["enrolled_at"]).replace("Z", "+00:00"))
    assert enrolled["last_sign_in"] is not None
    assert plain == {
        **plain,
        "enrolled": False,
        "enrolled_at": None,
        "locked": True,
        "last_sign_in": None,
        "password": "local",
    }
    text = cli("users", "list")
    assert text.returncode == 0 and "enrolled@example.com" in text.stdout
    assert cli("users", "list", "--json").stdout.strip().startswith("[")


def test_empty_users_list_is_valid_json(cli: Run) -> None:
    assert users(cli) == {}


def test_reset_unlock_remove(cli: Run, settings: Settings) -> None:
    svc = KioskService.open(settings, clock=FakeClock())
    try:
        enroll(svc, "bob@example.com")
        for _ in range(5):
            with pytest.raises(Exception):  # noqa: B017
                svc.factors.check_password("bob@example.com", "wrong password", source="t")
    finally:
        svc.close()
    assert users(cli)["bob@example.com"]["locked"] is True
    result = cli("users", "unlock", "BOB@example.com")
    assert result.returncode == 0 and users(cli)["bob@example.com"]["locked"] is False
    result = cli("users", "reset-mfa", "bob@example.com")
    assert result.returncode == 0 and users(cli)["bob@example.com"]["enrolled"] is False
    result = cli("users", "remove", "bob@example.com")
    assert result.returncode == 0 and users(cli) == {}
    for command in ("unlock", "reset-mfa", "remove"):
        line = one_error_line(cli("users", command, "nobody@example.com"))
        assert "no account for nobody@example.com" in line


# ------------------------------------------------------------------------------ audit
def test_audit_filters(cli: Run) -> None:
    for email in ("ann@example.com", "ben@example.com"):
        assert cli("users", "add", email, "--password-stdin", input=PASSWORD + "\n").returncode == 0
    cli("users", "remove", "ben@example.com")
    result = cli("audit", "--json")
    assert result.returncode == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["event"], r["email"]) for r in rows] == [
        ("user_added", "ann@example.com"),
        ("user_added", "ben@example.com"),
        ("user_removed", "ben@example.com"),
    ]
    for row in rows:
        assert row["at"].endswith("Z") and row["source"].startswith("admin:")
        when = datetime.fromisoformat(row["at"].replace("Z", "+00:00"))
        assert abs(datetime.now(UTC) - when) < timedelta(minutes=5)
    only_ben = cli("audit", "--json", "--email", "BEN@example.com")
    assert [json.loads(x)["event"] for x in only_ben.stdout.splitlines()] == [
        "user_added",
        "user_removed",
    ]
    assert cli("audit", "--json", "--since", "1h").stdout.count("\n") == 3
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    assert cli("audit", "--json", "--since", future).stdout == ""
    assert "user_added" in cli("audit").stdout
    line = one_error_line(cli("audit", "--since", "yesterday-ish"))
    assert "--since" in line


# ------------------------------------------------------------------------------ verify
def test_verify(cli: Run, settings: Settings) -> None:
    # enrolled one step in the past, so the current real step's code is new (real time below)
    clock = FakeClock(datetime.now(UTC).timestamp() - 30)
    svc = KioskService.open(settings, clock=clock)
    try:
        who = enroll(svc, "bob@example.com")
        svc.accounts.add_user("new@example.com", PASSWORD)
    finally:
        svc.close()
    code = totp.code_at_step(who.secret, totp.current_step())
    accepted = cli("verify", "bob@example.com", input=code + "\n")
    assert accepted.returncode == 0 and accepted.stdout.strip() == "accepted", accepted.stderr
    replayed = cli("verify", "bob@example.com", input=code + "\n")
    assert replayed.returncode == 1 and "already used" in replayed.stderr
    assert code not in replayed.stderr + replayed.stdout
    unknown = cli("verify", "nobody@example.com", input=code + "\n")
    assert unknown.returncode == 1
    not_enrolled = cli("verify", "new@example.com", input="123456\n")
    assert not_enrolled.returncode == 1
    # one refusal for both: an unknown email and an account without an app look alike
    assert unknown.stderr == not_enrolled.stderr
    malformed = cli("verify", "bob@example.com", input="12345x\n")
    assert malformed.returncode == 1
    near = {totp.code_at_step(who.secret, totp.current_step() + d) for d in range(-2, 3)}
    wrong = next(f"{n:06d}" for n in range(10**6) if f"{n:06d}" not in near)
    results = [cli("verify", "bob@example.com", input=wrong + "\n").returncode for _ in range(4)]
    assert results == [1, 1, 1, 1]  # 1 replay + 4 wrong = 5 failures: now locked
    locked = cli(
        "verify",
        "bob@example.com",
        input=totp.code_at_step(who.secret, totp.current_step() + 1) + "\n",
    )
    assert locked.returncode == 1 and "Too many failed attempts" in locked.stderr
    for result in (replayed, unknown, not_enrolled, malformed, locked):
        assert len(result.stderr.splitlines()) == 1 and result.stdout == ""


def test_verify_error_exit_2(tmp_path: Path, settings: Settings) -> None:
    (tmp_path / "file").write_text("")  # a file where the database's folder should be
    config = tmp_path / "broken.toml"
    config.write_text(
        '[database]\nurl = "sqlite:///file/k.db"\n'
        if not settings.database_url.startswith("postgres")
        else f'[database]\nurl = "{settings.database_url}_missing"\n'
    )
    result = _raw_cli(
        tmp_path, "--config", str(config), "verify", "bob@example.com", input="123456\n"
    )
    assert result.returncode == 2, result
    assert one_error_line(result)


# ------------------------------------------------------------------------------ db, config
def test_db_upgrade(cli: Run) -> None:
    result = cli("db", "upgrade")
    assert result.returncode == 0 and f"schema version {SCHEMA_VERSION}" in result.stdout
    assert cli("db", "upgrade").returncode == 0
    assert f"database schema {SCHEMA_VERSION}" in cli("db", "status").stdout


def _raw_cli(
    cwd: Path, *args: str, input: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {
        k: v for k, v in os.environ.items() if k not in ("KIOSK_CONFIG", "KIOSK_SECRET_KEY")
    }
    full_env.update(env or {})
    result = subprocess.run(
        [sys.executable, "-m", "kiosk", *args],
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


@pytest.mark.parametrize(
    "text",
    ["[kiosk\n", "[nonsense]\n", "[kiosk]\nidle_timeout = 'x'\n", "[security]\nunknown_key = 1\n"],
)
def test_bad_config_is_one_line(tmp_path: Path, text: str) -> None:
    (tmp_path / "config.toml").write_text(text)
    for args in (("users", "list"), ("--config", "config.toml", "db", "upgrade")):
        assert one_error_line(_raw_cli(tmp_path, *args))


def test_unopenable_database_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    (tmp_path / "config.toml").write_text('[database]\nurl = "sqlite:///file/k.db"\n')
    line = one_error_line(_raw_cli(tmp_path, "users", "list"))
    assert "database" in line
    (tmp_path / "config.toml").write_text(
        '[database]\nurl = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=3"\n'
    )
    line = one_error_line(_raw_cli(tmp_path, "users", "list"))
    assert "cannot reach the database server" in line


def test_config_lookup_order(tmp_path: Path) -> None:
    """--config, else $KIOSK_CONFIG, else ./config.toml; relative paths from the file's folder."""
    for name in ("flag", "env", "cwd"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.toml").write_text(
            f'[database]\nurl = "sqlite:///{name}.db"\n[security]\nkey_file = "{name}.key"\n'
        )
    work = tmp_path / "cwd"
    env = {"KIOSK_CONFIG": str(tmp_path / "env" / "config.toml")}
    assert (
        _raw_cli(
            work, "--config", str(tmp_path / "flag" / "config.toml"), "db", "upgrade", env=env
        ).returncode
        == 0
    )
    assert (tmp_path / "flag" / "flag.db").exists() and not (work / "flag.db").exists()
    assert _raw_cli(work, "db", "upgrade", env=env).returncode == 0
    assert (tmp_path / "env" / "env.db").exists()
    assert _raw_cli(work, "db", "upgrade").returncode == 0
    assert (work / "cwd.db").exists()
    assert not (tmp_path / "flag" / "env.db").exists()
    # the key file is created next to the config, private
    assert _raw_cli(work, "users", "list").returncode == 0
    assert oct((work / "cwd.key").stat().st_mode & 0o777) == "0o600"
    assert oct((work / "cwd.db").stat().st_mode & 0o777) == "0o600"
    missing = one_error_line(
        _raw_cli(work, "users", "list", env={"KIOSK_CONFIG": str(tmp_path / "nope.toml")})
    )
    assert "nope.toml" in missing


def test_db_upgrade_refuses_a_newer_schema(cli: Run, settings: Settings) -> None:
    assert cli("db", "upgrade").returncode == 0
    from kiosk.store.database import SCHEMA_VERSION, open_database
    from kiosk.store.models import Meta

    db = open_database(settings.database_url)
    try:
        Meta.update(value=str(SCHEMA_VERSION + 5)).where(Meta.key == "schema_version").execute()
    finally:
        db.close()
    for args in (("db", "upgrade"), ("users", "list")):
        line = one_error_line(cli(*args))
        assert f"schema version {SCHEMA_VERSION + 5}" in line and "upgrade the kiosk" in line
    assert cli("verify", "bob@example.com", input="123456\n").returncode == 2


# ------------------------------------------------------------------------------ demo, secrets
def test_printed_database_urls_hide_the_password(tmp_path: Path, postgres_server) -> None:  # noqa: ANN001
    """`kiosk demo` printed postgresql://user:PASSWORD@...: every printed URL hides it."""
    url = postgres_server.create_database()  # the test server trusts any password
    secret = "S3cret-Db-Pw"
    with_password = url.replace("postgres@", f"postgres:{secret}@", 1)
    (tmp_path / "config.toml").write_text(
        f'[database]\nurl = "{with_password}?password={secret}"\n'
        "[argon2]\ntime_cost = 1\nmemory_cost = 8192\nparallelism = 1\n"
    )
    demo = _raw_cli(tmp_path, "demo", "--no-launch")
    assert demo.returncode == 0, demo.stderr
    status = _raw_cli(tmp_path, "db", "status")
    assert status.returncode == 0, status.stderr
    for result in (demo, status):
        assert secret not in result.stdout + result.stderr
        assert "postgres:***@127.0.0.1" in result.stdout and "password=***" in result.stdout
    (tmp_path / "config.toml").write_text(
        f'[database]\nurl = "postgresql://kiosk:{secret}@127.0.0.1:1/none?connect_timeout=3"\n'
    )
    for args in (("demo", "--no-launch"), ("db", "status"), ("users", "list")):
        result = _raw_cli(tmp_path, *args)
        assert result.returncode != 0 and secret not in result.stdout + result.stderr


def test_redact_url() -> None:
    from kiosk.config import redact_url

    assert redact_url("postgresql://kiosk:pw@db:5432/k") == "postgresql://kiosk:***@db:5432/k"
    assert redact_url("postgres://u:p@ss@h/d?sslmode=require&PASSWORD=x") == (
        "postgres://u:***@h/d?sslmode=require&PASSWORD=***"
    )
    assert redact_url("postgresql://kiosk@db/k") == "postgresql://kiosk@db/k"
    assert redact_url("sqlite:////var/lib/kiosk/kiosk.db") == "sqlite:////var/lib/kiosk/kiosk.db"
    assert "pw" not in redact_url("postgresql://u:pw@[::1/d")


def test_demo_refuses_a_database_with_other_accounts(cli: Run, settings: Settings) -> None:
    from tests.unit.conftest import dump_tables

    assert (
        cli("users", "add", "ann@example.com", "--password-stdin", input=PASSWORD + "\n").returncode
        == 0
    )

    def tables() -> dict[str, list[tuple[object, ...]]]:
        svc = KioskService.open(settings)
        try:
            return dump_tables(include_audit=True)
        finally:
            svc.close()

    before = tables()
    line = one_error_line(cli("demo", "--no-launch"))
    assert "1 other account(s)" in line and "--allow-existing-database" in line
    assert tables() == before and "demo@example.com" not in users(cli)
    allowed = cli("demo", "--no-launch", "--allow-existing-database")
    assert allowed.returncode == 0, allowed.stderr
    assert sorted(users(cli)) == ["ann@example.com", "demo@example.com"]


def test_demo_on_a_new_or_demo_only_database(cli: Run) -> None:
    for _ in range(2):  # a new database, then one holding only the demo account
        result = cli("demo", "--no-launch")
        assert result.returncode == 0, result.stderr
        assert "demo@example.com" in result.stdout
    assert list(users(cli)) == ["demo@example.com"]


# ------------------------------------------------------------------------------ file modes
def test_loose_key_file_is_one_line_for_every_command(cli: Run, settings: Settings) -> None:
    assert (
        cli("users", "add", "ann@example.com", "--password-stdin", input=PASSWORD + "\n").returncode
        == 0
    )
    settings.key_path.chmod(0o644)
    demo = ("demo", "--no-launch", "--allow-existing-database")
    for args in (("users", "list"), ("keys", "rotate"), demo):
        line = one_error_line(cli(*args))
        assert f"key file {settings.key_path} is open to other accounts (mode 0644)" in line
        assert f"run chmod 600 {settings.key_path}" in line
    assert cli("verify", "ann@example.com", input="123456\n").returncode == 2
    settings.key_path.chmod(0o600)
    assert cli("users", "list").returncode == 0


def test_loose_database_and_log_are_reported_once_each(
    cli: Run, settings: Settings, tmp_path: Path
) -> None:
    """Not refused (the kiosk would stop for every person), but an admin command says so on
    stderr, one line per kind of file, and the log keeps the same line."""
    assert (
        cli("users", "add", "ann@example.com", "--password-stdin", input=PASSWORD + "\n").returncode
        == 0
    )
    log_file = tmp_path / "kiosk.log"
    loose = [log_file]
    if not settings.database_url.startswith("postgres"):
        loose.append(Path(settings.database_url[len("sqlite:///") :]))
    for path in loose:
        path.chmod(0o644)
    result = cli("users", "list", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)[0]["email"] == "ann@example.com"
    warnings = result.stderr.splitlines()
    assert len(warnings) == len(loose), warnings
    for path, warning in zip(loose, warnings, strict=True):
        assert warning.startswith("kiosk: warning: ") and str(path) in warning
        assert "(mode 0644)" in warning and f"chmod 600 {path}" in warning
        assert warning.removeprefix("kiosk: warning: ") in log_file.read_text()
    # demo opens the database twice (the check for other accounts, then the service): once
    demo = cli("demo", "--no-launch", "--allow-existing-database")
    assert demo.returncode == 0 and demo.stderr.splitlines() == warnings, demo.stderr
    for path in loose:
        path.chmod(0o600)
    assert cli("users", "list").stderr == ""


def test_users_import_stops_at_a_database_failure(tmp_path: Path) -> None:
    """A failure of the store is not one line's fault: the import stops with one line naming
    where, instead of refusing every later line with the same reason."""
    import sqlite3

    (tmp_path / "config.toml").write_text(
        "[argon2]\ntime_cost = 1\nmemory_cost = 8192\nparallelism = 1\n"
    )
    assert _raw_cli(tmp_path, "db", "upgrade").returncode == 0
    conn = sqlite3.connect(tmp_path / "kiosk.db")
    conn.execute(
        "CREATE TRIGGER broken BEFORE INSERT ON account BEGIN "
        "INSERT INTO no_such_table VALUES (1); END"
    )
    conn.commit()
    conn.close()
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(f"ann@example.com,{PASSWORD}\nben@example.com,{PASSWORD}\n")
    line = one_error_line(_raw_cli(tmp_path, "users", "import", str(csv_file)))
    assert line.startswith("kiosk: error: line 1: cannot add the account") and "again" in line


def test_verify_costs_the_same_for_unknown_and_known_emails(
    svc: KioskService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each `kiosk verify` is a fresh process: the unknown-email path decrypts a stand-in
    secret (loading the cipher, as a known email's path does) and computes the same TOTP."""
    from kiosk.core.vault import Keyring
    from kiosk.errors import InvalidCodeError, NoAuthenticatorError

    who = enroll(svc, "bob@example.com")
    calls: list[str] = []
    real_decrypt = Keyring.decrypt
    monkeypatch.setattr(
        Keyring, "decrypt", lambda self, *a: calls.append("decrypt") or real_decrypt(self, *a)
    )
    now = totp.current_step(svc.ctx.clock)
    near = {totp.code_at_step(who.secret, now + d) for d in range(-25, 26)}
    wrong = next(f"{n:06d}" for n in range(10**6) if f"{n:06d}" not in near)
    with pytest.raises(InvalidCodeError):
        svc.factors.verify_for_external("bob@example.com", wrong, source="t")
    known = list(calls)
    calls.clear()
    with pytest.raises(NoAuthenticatorError):
        svc.factors.verify_for_external("nobody@example.com", wrong, source="t")
    assert calls == known == ["decrypt"]
