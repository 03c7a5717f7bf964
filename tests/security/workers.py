"""Code run in child processes by the security tests (imported by multiprocessing, not pytest).

Each function opens its own `KioskService` on the shared database, like a separate kiosk
session would, and reports what happened through a queue as plain data. Nothing here changes
production behaviour: the SIGKILL hook wraps one child's database object, and only when a test
asks for it.
"""

from __future__ import annotations

import os
import random
import signal
import time
import traceback
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pyotp

from kiosk.config import Argon2Settings, DatabaseSettings, Settings
from kiosk.core.flow import AuthFlow
from kiosk.errors import KioskError

FAST_ARGON2 = Argon2Settings(time_cost=1, memory_cost=8192, parallelism=1)


def settings_for(base_dir: str, url: str, max_failed_attempts: int = 5) -> Settings:
    """The same settings the parent uses (tests/conftest.py make_settings), rebuilt in a child."""
    from dataclasses import replace

    settings = Settings(
        base_dir=Path(base_dir), argon2=FAST_ARGON2, database=DatabaseSettings(url=url)
    )
    return replace(
        settings, security=replace(settings.security, max_failed_attempts=max_failed_attempts)
    )


def open_service(base_dir: str, url: str, clock: float | None = None, **kw: Any):  # noqa: ANN201
    from kiosk.core.service import KioskService

    settings = settings_for(base_dir, url, **kw)
    if clock is None:
        return KioskService.open(settings)
    return KioskService.open(settings, clock=lambda: clock)


# Steps that check a right secret may meet a crowd of other set-ups being checked at the
# same moment (AttemptsInFlightError by design): they wait a little and try again.
SETUP_DEADLINE = 90.0


def retry_while_slots_taken(step: Any) -> Any:
    """Run a step that offers a right secret, again while others hold every slot."""
    from kiosk.errors import AttemptsInFlightError

    deadline = time.monotonic() + SETUP_DEADLINE
    while True:
        try:
            return step()
        except AttemptsInFlightError:
            if time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.02, 0.15))


def _outcome(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, KioskError):
        return {"ok": False, "kind": type(exc).__name__, "message": str(exc)}
    return {
        "ok": False,
        "kind": "UNEXPECTED " + type(exc).__name__,
        "message": "".join(traceback.format_exception(exc))[-2000:],
    }


def enroll_through_flow(service, email: str, password: str) -> tuple[str, str]:  # noqa: ANN001
    """The whole first-time flow; returns (secret, recovery code as shown)."""
    from kiosk.core.flow import Method, Step

    flow = AuthFlow(service, "test")
    assert flow.submit_password(email, password) == Step.MFA_REQUIRED
    flow.start_setup()
    pending = flow.choose_method(Method.AUTHENTICATOR_APP)
    flow.continue_to_code()
    code = pyotp.TOTP(pending.secret).at(service.ctx.clock())
    shown = flow.verify_setup_code(code)
    assert flow.finish_enrollment(saved=True) == Step.SIGNED_IN
    return pending.secret, shown


# ------------------------------------------------------------------------------ crowds
def enroll_worker(
    base_dir: str, url: str, email: str, password: str, barrier: Barrier, queue: Any
) -> None:
    """One session enrolling its own account, started together with the others."""
    try:
        service = open_service(base_dir, url)
        barrier.wait(60)
        enroll_through_flow(service, email, password)
        service.close()
        queue.put({"email": email, "ok": True})
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as data
        queue.put({"email": email, **_outcome(exc)})


def code_race_worker(
    base_dir: str,
    url: str,
    email: str,
    password: str,
    code: str,
    clock: float,
    barrier: Barrier,
    queue: Any,
) -> None:
    """Sign in with the password, then submit the shared code at the same moment as the others."""
    from kiosk.core.flow import Step

    try:
        service = open_service(base_dir, url, clock=clock, max_failed_attempts=100)
        flow = AuthFlow(service, f"race-{os.getpid()}")
        assert flow.submit_password(email, password) == Step.ENTER_CODE
        barrier.wait(60)
        flow.submit_code(code)
        service.close()
        queue.put({"ok": True})
    except BaseException as exc:  # noqa: BLE001
        queue.put(_outcome(exc))


def recovery_race_worker(
    base_dir: str, url: str, email: str, password: str, code: str, barrier: Barrier, queue: Any
) -> None:
    """Redeem the shared recovery code and enroll a new device, racing the others."""
    from kiosk.core.flow import Method

    try:
        service = open_service(base_dir, url, max_failed_attempts=100)
        flow = AuthFlow(service, f"race-{os.getpid()}")
        flow.submit_password(email, password)
        flow.use_recovery_code()
        barrier.wait(60)
        flow.submit_recovery_code(code)
        pending = flow.choose_method(Method.AUTHENTICATOR_APP)
        flow.continue_to_code()
        flow.verify_setup_code(pyotp.TOTP(pending.secret).now())
        flow.finish_enrollment(saved=True)
        service.close()
        queue.put({"ok": True, "secret": pending.secret})
    except BaseException as exc:  # noqa: BLE001
        queue.put(_outcome(exc))


def lockout_worker(
    base_dir: str, url: str, email: str, tries: int, barrier: Barrier, queue: Any
) -> None:
    """Wrong passwords from another 'terminal'; reports how many were actually evaluated."""
    from kiosk.errors import AccountLockedError, AuthenticationFailed

    service = open_service(base_dir, url)
    barrier.wait(60)
    result = {"failed": 0, "locked": 0, "other": []}
    for i in range(tries):
        try:
            service.factors.check_password(email, f"wrong-{os.getpid()}-{i}", source="lockout")
            result["other"].append("ACCEPTED")
        except AuthenticationFailed:
            result["failed"] += 1
        except AccountLockedError:
            result["locked"] += 1
        except BaseException as exc:  # noqa: BLE001
            result["other"].append(_outcome(exc)["kind"])
    service.close()
    queue.put(result)


# ------------------------------------------------------------------------------ SIGKILL hook
def install_kill_hook(db: Any, kill_at: int, trace: list[str] | None = None) -> None:
    """SIGKILL this process at the `kill_at`-th database event from now (test-only).

    Events are: BEGIN, every SQL statement, the moment before COMMIT, the moment after COMMIT.
    Wraps this one database object only; nothing in the kiosk knows about it.
    """
    counter = {"n": 0}

    def tick(label: str) -> None:
        if trace is not None:
            trace.append(label)
        if counter["n"] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(10)  # never reached
        counter["n"] += 1

    original_begin, original_execute, original_commit = db.begin, db.execute_sql, db.commit

    def begin(*args: Any, **kwargs: Any) -> Any:
        tick("BEGIN")
        return original_begin(*args, **kwargs)

    def execute_sql(sql: str, *args: Any, **kwargs: Any) -> Any:
        tick(" ".join(sql.split()[:3]))
        return original_execute(sql, *args, **kwargs)

    def commit(*args: Any, **kwargs: Any) -> Any:
        tick("before COMMIT")
        result = original_commit(*args, **kwargs)
        tick("after COMMIT")
        return result

    db.begin, db.execute_sql, db.commit = begin, execute_sql, commit


def killed_enrollment_worker(
    base_dir: str, url: str, email: str, password: str, kill_at: int, queue: Any
) -> None:
    """Walk the flow to Save your recovery code, arm the hook, and activate.

    With `kill_at` past the last event the process finishes and reports the events it saw.
    """
    from kiosk.core.flow import Method

    service = open_service(base_dir, url)
    flow = AuthFlow(service, "kill-test")
    flow.submit_password(email, password)
    flow.start_setup()
    pending = flow.choose_method(Method.AUTHENTICATOR_APP)
    flow.continue_to_code()
    flow.verify_setup_code(pyotp.TOTP(pending.secret).now())
    # The parent learns the secret first (a file: a queue's feeder thread dies with SIGKILL),
    # so it can check codes if the activation committed.
    Path(base_dir, f"{email}.secret").write_text(pending.secret)
    trace: list[str] = []
    install_kill_hook(service.db, kill_at, trace)
    flow.finish_enrollment(saved=True)
    queue.put({"done": True, "trace": trace})


def killed_rotation_worker(base_dir: str, url: str, kill_at: int, queue: Any) -> None:
    """`keys rotate`, killed at the `kill_at`-th database event."""
    service = open_service(base_dir, url)
    trace: list[str] = []
    install_kill_hook(service.db, kill_at, trace)
    version = service.keys.rotate(source="kill-test")
    queue.put({"done": True, "version": version, "trace": trace})


def killed_recovery_worker(base_dir: str, url: str, email: str, password: str, recovery_code: str,
                           kill_at: int, queue: Any) -> None:
    """Lost device: redeem the recovery code, set up a new app, and die at event `kill_at` of
    the activation (which also consumes the old recovery code)."""
    from kiosk.core.flow import Method

    service = open_service(base_dir, url)
    flow = AuthFlow(service, "kill-test")
    flow.submit_password(email, password)
    flow.use_recovery_code()
    flow.submit_recovery_code(recovery_code)
    pending = flow.choose_method(Method.AUTHENTICATOR_APP)
    flow.continue_to_code()
    flow.verify_setup_code(pyotp.TOTP(pending.secret).now())
    Path(base_dir, f"{email}.secret").write_text(pending.secret)
    trace: list[str] = []
    install_kill_hook(service.db, kill_at, trace)
    flow.finish_enrollment(saved=True)
    queue.put({"done": True, "trace": trace})
