"""Fixtures for the security suite: child processes, database dumps, and the real CLI.

Children are started with the 'forkserver' context (preloading the kiosk), so 50 sessions cost
50 forks of a warm interpreter rather than 50 cold imports; every wait is bounded.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_module
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.config import Settings
from tests.conftest import REPO, make_settings, write_config

ACCOUNT_TABLES = ("account", "credential", "recovery_code")
ALL_TABLES = ("meta", "account", "credential", "recovery_code", "throttle", "audit_event")
PASSWORD = "correct horse battery"


def mp_context() -> mp.context.BaseContext:
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(
        ["kiosk.core.service", "kiosk.core.flow", "tests.security.workers", "pyotp", "argon2"]
    )
    return ctx


def run_children(
    target: Callable[..., None],
    arg_lists: list[tuple[Any, ...]],
    *,
    barrier_parties: int | None = None,
    timeout: float = 240,
) -> list[Any]:
    """Start one process per argument tuple (a shared barrier and queue appended) and collect
    one result per child; fails the test if a child hangs or dies without reporting."""
    ctx = mp_context()
    results_queue = ctx.Queue()
    barrier = ctx.Barrier(barrier_parties or len(arg_lists))
    procs = []
    for args in arg_lists:
        extra = (barrier, results_queue)
        proc = ctx.Process(target=target, args=(*args, *extra), daemon=True)
        proc.start()
        procs.append(proc)
    results: list[Any] = []
    try:
        for _ in procs:
            results.append(results_queue.get(timeout=timeout))
    except queue_module.Empty:
        pytest.fail(f"only {len(results)} of {len(procs)} children reported in {timeout}s")
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
    return results


def run_child(
    target: Callable[..., None], args: tuple[Any, ...], *, timeout: float = 60
) -> tuple[int | None, list[Any]]:
    """One child with a queue appended to its arguments: (exit code, messages it sent)."""
    ctx = mp_context()
    q = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, q), daemon=True)
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        proc.join(5)
        pytest.fail(f"child {target.__name__}{args[2:]} hung for {timeout}s")
    messages = []
    while True:
        try:
            messages.append(q.get(timeout=0.5))
        except queue_module.Empty:
            break
    return proc.exitcode, messages


# ------------------------------------------------------------------------------ dumps
def sqlite_path(url: str) -> Path:
    return Path(url[len("sqlite:///") :])


def dump_tables(url: str, tables: tuple[str, ...] = ACCOUNT_TABLES) -> dict[str, list[tuple]]:
    """Every row of `tables`, sorted: compared before and after a refusal."""
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(f"file:{sqlite_path(url)}?mode=ro", uri=True, timeout=30)
        try:
            return {t: sorted(map(tuple, conn.execute(f"SELECT * FROM {t}"))) for t in tables}  # noqa: S608
        finally:
            conn.close()
    import psycopg2

    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            out = {}
            for t in tables:
                cur.execute(f"SELECT * FROM {t}")  # noqa: S608
                out[t] = sorted(
                    (
                        tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
                        for r in cur.fetchall()
                    ),
                    key=repr,
                )
            return out
    finally:
        conn.close()


def integrity_check(url: str) -> str:
    conn = sqlite3.connect(str(sqlite_path(url)), timeout=30)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


# ------------------------------------------------------------------------------ the CLI
def run_kiosk(
    config: Path,
    *args: str,
    input: str | bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """The real `kiosk` command, bytes in and out (so raw ESC or NUL cannot hide)."""
    full_env = {
        k: v for k, v in os.environ.items() if k not in ("KIOSK_CONFIG", "KIOSK_SECRET_KEY")
    }
    full_env.update({"PYTHONPATH": str(REPO), **(env or {})})
    data = input.encode() if isinstance(input, str) else input
    return subprocess.run(
        [sys.executable, "-m", "kiosk", "--config", str(config), *args],
        input=data,
        capture_output=True,
        env=full_env,
        timeout=timeout,
        cwd=cwd or config.parent,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[bytes]) -> str:
    """Exit non-zero, exactly one printable line on stderr, no traceback, no raw ESC."""
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode != 0, (result.stdout, err)
    assert "Traceback" not in err and "Traceback" not in result.stdout.decode("utf-8", "replace")
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("kiosk: "), err
    assert lines[0].isprintable(), repr(lines[0])
    assert b"\x1b" not in result.stderr and b"\x1b" not in result.stdout
    return lines[0]


def assert_refusal(result: subprocess.CompletedProcess[bytes]) -> str:
    """A one-line kiosk error, or click's own usage error (exit 2, a usage hint, then one
    'Error:' line); either way printable, no traceback, no raw ESC."""
    err = result.stderr.decode("utf-8", "replace")
    if err.startswith("Usage:"):
        assert result.returncode == 2, err
        lines = err.strip().splitlines()
        assert lines[-1].startswith("Error: ") and all(line.isprintable() for line in lines), err
        assert b"\x1b" not in result.stderr + result.stdout and "Traceback" not in err
        return lines[-1]
    return assert_one_line_error(result)


@pytest.fixture
def sec_settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def cli_env(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[Path, Settings]]:
    """A config file for a fresh SQLite kiosk, opened once (schema and key created)."""
    from kiosk.core.service import KioskService

    settings = make_settings(tmp_path, sqlite_url)
    config = write_config(tmp_path / "config.toml", settings)
    KioskService.open(settings).close()
    yield config, settings


@pytest.fixture
def open_service(tmp_path: Path, database_url: str) -> Iterator[Any]:
    """Opens a service on the test's database (the schema and key made by the first one);
    every service opened is closed at the end."""
    from kiosk.core.service import KioskService

    opened: list[KioskService] = []

    def open_() -> KioskService:
        service = KioskService.open(make_settings(tmp_path, database_url))
        opened.append(service)
        return service

    yield open_
    for service in opened:
        service.close()
