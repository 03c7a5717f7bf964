"""Several processes on one database: exactly one winner for anything single-use.

Each child is a fresh interpreter ('spawn') with its own KioskService on the same URL, released
together by a barrier. Runs on a real SQLite file and a real PostgreSQL database.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from kiosk.config import Settings
from kiosk.core import recovery, totp
from kiosk.core.flow import AuthFlow, Step
from kiosk.core.service import KioskService
from kiosk.errors import AccountLockedError
from kiosk.store.models import Credential, RecoveryCode

from . import _workers
from .conftest import PASSWORD, SOURCE, FakeClock, audit_events, enroll

PROCESSES = 8


def patient(settings: Settings) -> Settings:
    """Replays and losers count as failures: allow enough of them that the race does not lock."""
    return replace(settings, security=replace(settings.security, max_failed_attempts=50))


def run_racers(
    target: Callable[..., None],
    args_for: Callable[[Any, Any], tuple[Any, ...]],
    count: int = PROCESSES,
) -> list[tuple[str, Any]]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(count)
    queue = ctx.Queue()
    procs = [ctx.Process(target=target, args=args_for(barrier, queue)) for _ in range(count)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=180) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    for outcome, detail in results:
        assert outcome != "crash", detail
        assert "database is locked" not in str(detail), detail
        assert "busy" not in str(detail), detail
    return results


def test_one_code_racing_from_8_processes(
    svc: KioskService, settings: Settings, clock: FakeClock
) -> None:
    who = enroll(svc, "race@example.com")
    clock.advance(30)
    code = totp.code_at_step(who.secret, clock.step)
    results = run_racers(
        _workers.race_code, lambda b, q: (patient(settings), who.email, code, clock.t, b, q)
    )
    outcomes = Counter(outcome for outcome, _ in results)
    assert outcomes == {"ok": 1, "InvalidCodeError": PROCESSES - 1}, results
    assert all("already used" in detail for outcome, detail in results if outcome != "ok")
    assert "database is locked" not in repr(results)
    assert Credential.get().last_used_step == clock.step
    events = Counter(e.event for e in audit_events(who.email))
    assert events["replay_refused"] == PROCESSES - 1


def test_one_recovery_code_racing_from_8_processes(
    svc: KioskService, settings: Settings, clock: FakeClock
) -> None:
    who = enroll(svc, "race@example.com")
    clock.advance(30)
    results = run_racers(
        _workers.race_recovery,
        lambda b, q: (patient(settings), who.email, who.password, who.recovery_code, clock.t, b, q),
    )
    winners = [detail for outcome, detail in results if outcome == "ok"]
    losers = [(outcome, detail) for outcome, detail in results if outcome != "ok"]
    assert len(winners) == 1, results
    assert {outcome for outcome, _ in losers} <= {
        "ConcurrentChangeError",
        "InvalidRecoveryCodeError",
    }, losers
    assert "database is locked" not in repr(results)
    # the winner's device is the one stored; the old recovery code is gone
    svc_clock_step = clock.step
    account = svc.accounts.find(who.email)
    clock.advance(30)
    code = totp.code_at_step(winners[0], svc_clock_step + 1)
    svc.factors.check_code(account, code, source=SOURCE)
    assert Credential.select().count() == 1 and RecoveryCode.select().count() == 1
    old_code = recovery.parse(who.recovery_code)
    assert not svc.ctx.hasher.verify(RecoveryCode.get().code_hash, old_code)
    assert Counter(e.event for e in audit_events(who.email))["recovery_used"] == 1


def test_failures_from_several_processes_add_up(
    svc: KioskService, settings: Settings, clock: FakeClock
) -> None:
    svc.accounts.add_user("bob@example.com", PASSWORD)
    # 5 processes, one wrong password each: together they reach the limit of 5
    results = run_racers(
        _workers.fail_password,
        lambda b, q: (settings, "bob@example.com", 1, clock.t, b, q),
        count=5,
    )
    outcomes = Counter(o for _, detail in results for o in detail)
    assert outcomes == {"AuthenticationFailed": 4, "AccountLockedError": 1}, results
    with pytest.raises(AccountLockedError):  # the right password, in this process
        AuthFlow(svc, SOURCE).submit_password("bob@example.com", PASSWORD)
    assert Counter(e.event for e in audit_events("bob@example.com"))["locked"] == 1


def test_lockout_holds_for_another_process(
    svc: KioskService, settings: Settings, clock: FakeClock
) -> None:
    svc.accounts.add_user("bob@example.com", PASSWORD)
    for _ in range(4):
        with pytest.raises(Exception, match="don't match"):
            svc.factors.check_password("bob@example.com", "wrong password", source=SOURCE)
    results = run_racers(
        _workers.fail_password,
        lambda b, q: (settings, "bob@example.com", 2, clock.t, b, q),
        count=1,
    )
    assert results[0][1] == ["AccountLockedError", "AccountLockedError"]
    assert AuthFlow(svc, SOURCE).step == Step.SIGN_IN


@pytest.mark.parametrize("fresh", [True])
def test_migrations_race_on_a_fresh_database(database_url: str, fresh: bool) -> None:
    results = run_racers(_workers.upgrade, lambda b, q: (database_url, b, q), count=4)
    assert [outcome for outcome, _ in results] == ["ok"] * 4, results
    from kiosk.store.database import SCHEMA_VERSION, open_database
    from kiosk.store.models import Meta

    db = open_database(database_url)
    try:
        assert [d for _, d in results] == [SCHEMA_VERSION] * 4
        assert Meta.select().where(Meta.key == "schema_version").count() == 1
    finally:
        db.close()


def test_one_code_racing_from_8_threads_of_one_service(settings: Settings,
                                                       clock: FakeClock) -> None:
    """The TUI calls the service from worker threads: they race like processes do."""
    import threading

    svc = KioskService.open(patient(settings), clock=clock)
    try:
        who = enroll(svc, "threads@example.com")
        clock.advance(30)
        code = totp.code_at_step(who.secret, clock.step)
        account = svc.accounts.find(who.email)
        barrier = threading.Barrier(PROCESSES)
        outcomes: list[str] = []

        def submit() -> None:
            barrier.wait(30)
            try:
                svc.factors.check_code(account, code, source="thread")
                outcomes.append("ok")
            except Exception as exc:  # noqa: BLE001 - the outcome is asserted below
                outcomes.append(f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=submit) for _ in range(PROCESSES)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(outcomes) == PROCESSES and outcomes.count("ok") == 1, outcomes
        assert all("already used" in o for o in outcomes if o != "ok"), outcomes
    finally:
        svc.close()
