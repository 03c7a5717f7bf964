"""Shared fixtures: settings with fast argon2, a real SQLite file, a real PostgreSQL server.

The PostgreSQL server is started by the tests themselves from the machine's `initdb`/`pg_ctl`
into a temporary folder, listening on loopback only. A machine without them fails loudly: the
tests never silently pass without the component they are about.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from kiosk.config import Argon2Settings, DatabaseSettings, Settings

REPO = Path(__file__).resolve().parent.parent
FAST_ARGON2 = Argon2Settings(time_cost=1, memory_cost=8192, parallelism=1)


def make_settings(base_dir: Path, url: str | None = None, **sections: object) -> Settings:
    """Settings rooted at `base_dir` with cheap argon2 (the rules are the same, only faster)."""
    settings = Settings(base_dir=base_dir, argon2=FAST_ARGON2)
    if url is not None:
        settings = replace(settings, database=DatabaseSettings(url=url))
    return replace(settings, **sections) if sections else settings


# ------------------------------------------------------------------------------- PostgreSQL
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    pytest.fail(
        f"PostgreSQL's {name} is not installed (apt-get install postgresql); "
        "the PostgreSQL tests need a real server",
        pytrace=False,
    )


def _as_postgres_user(cmd: list[str]) -> list[str]:
    """initdb refuses to run as root: run the server as the `postgres` system user then."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


class PostgresServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = _free_port()
        self.host = "127.0.0.1"
        self._names = itertools.count()

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        subprocess.run(
            _as_postgres_user(
                [
                    _pg_bin("initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
            "-c max_connections=200"
        )
        subprocess.run(
            _as_postgres_user(
                [
                    _pg_bin("pg_ctl"),
                    "-D",
                    str(self.data),
                    "-o",
                    options,
                    "-l",
                    str(self.root / "server.log"),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        subprocess.run(
            _as_postgres_user([_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]),
            capture_output=True,
        )

    def url(self, database: str) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def create_database(self) -> str:
        import psycopg2

        name = f"kiosk_test_{os.getpid()}_{next(self._names)}"
        conn = psycopg2.connect(host=self.host, port=self.port, user="postgres", dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    root = Path(tempfile.mkdtemp(prefix="kiosk-pg-"))
    server = PostgresServer(root)
    try:
        server.start()
    except subprocess.CalledProcessError as exc:
        log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
        pytest.fail(f"could not start PostgreSQL: {exc.stderr!r} {log[-2000:]}", pytrace=False)
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: a real SQLite file, then a real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kiosk.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'kiosk.db'}"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def sqlite_settings(tmp_path: Path, sqlite_url: str) -> Settings:
    return make_settings(tmp_path, sqlite_url)


@pytest.fixture
def service(settings: Settings) -> Iterator[object]:
    from kiosk.core.service import KioskService

    svc = KioskService.open(settings)
    yield svc
    svc.close()


@pytest.fixture
def sqlite_service(sqlite_settings: Settings) -> Iterator[object]:
    from kiosk.core.service import KioskService

    svc = KioskService.open(sqlite_settings)
    yield svc
    svc.close()


# ------------------------------------------------------------------------------- the CLI
def write_config(path: Path, settings: Settings) -> Path:
    """A config.toml for `settings` (used by tests that run the real `kiosk` command)."""
    a = settings.argon2
    k = settings.kiosk
    s = settings.security
    path.write_text(
        f"""[kiosk]
organization = "{k.organization}"
mode = "{k.mode}"
idle_timeout = {k.idle_timeout}
signed_in_timeout = {k.signed_in_timeout}
log_file = "{k.log_file}"

[database]
url = "{settings.database.url}"

[security]
key_file = "{s.key_file}"
max_failed_attempts = {s.max_failed_attempts}
lockout_minutes = {s.lockout_minutes}
totp_window = {s.totp_window}

[argon2]
time_cost = {a.time_cost}
memory_cost = {a.memory_cost}
parallelism = {a.parallelism}
"""
    )
    return path


@pytest.fixture
def kiosk_cli(
    tmp_path: Path, settings: Settings
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real `kiosk` command (python -m kiosk) against this test's database."""
    config = write_config(tmp_path / "config.toml", settings)

    def run(
        *args: str,
        input: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, **(env or {})}
        full_env.pop("KIOSK_CONFIG", None)
        return subprocess.run(
            [sys.executable, "-m", "kiosk", "--config", str(config), *args],
            input=input,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
            cwd=tmp_path,
        )

    return run


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return True
        time.sleep(interval)
    return False
