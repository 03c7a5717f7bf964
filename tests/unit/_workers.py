"""Functions run in separate processes (spawn) by the race tests; importable by the children.

Each child opens its own KioskService on the same database URL, waits at a barrier so that all
of them really race, does one thing, and reports the name of the outcome on a queue.
"""

from __future__ import annotations

import traceback
from typing import Any

from kiosk.config import Settings
from kiosk.core.flow import AuthFlow


def _report(queue: Any, action: Any) -> None:
    try:
        queue.put(("ok", action()))
    except Exception as exc:  # noqa: BLE001 - the parent asserts on the outcome
        from kiosk.errors import KioskError

        if isinstance(exc, KioskError):
            queue.put((type(exc).__name__, str(exc)))
        else:
            queue.put(("crash", traceback.format_exc()))


class FixedClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def race_code(
    settings: Settings, email: str, code: str, now: float, barrier: Any, queue: Any
) -> None:
    """Submit one sign-in code for an account whose password was already checked."""

    def action() -> int:
        from kiosk.core.service import KioskService

        service = KioskService.open(settings, clock=FixedClock(now))
        try:
            account = service.accounts.find(email)
            barrier.wait(timeout=60)
            return service.factors.check_code(account, code, source="race")
        finally:
            service.close()

    _report(queue, action)


def race_recovery(
    settings: Settings,
    email: str,
    password: str,
    recovery_code: str,
    now: float,
    barrier: Any,
    queue: Any,
) -> None:
    """The whole lost-device recovery with the same recovery code, racing to finish."""

    def action() -> str:
        from kiosk.core import totp
        from kiosk.core.flow import Method
        from kiosk.core.service import KioskService

        clock = FixedClock(now)
        service = KioskService.open(settings, clock=clock)
        try:
            flow = AuthFlow(service, "race")
            flow.submit_password(email, password)
            flow.use_recovery_code()
            flow.submit_recovery_code(recovery_code)
            pending = flow.choose_method(Method.AUTHENTICATOR_APP)
            flow.continue_to_code()
            flow.verify_setup_code(totp.code_at_step(pending.secret, totp.current_step(clock)))
            barrier.wait(timeout=60)
            flow.finish_enrollment(saved=True)
            return pending.secret
        finally:
            service.close()

    _report(queue, action)


def fail_password(
    settings: Settings, email: str, attempts: int, now: float, barrier: Any, queue: Any
) -> None:
    """Wrong passwords from another process."""

    def action() -> list[str]:
        from kiosk.core.service import KioskService
        from kiosk.errors import KioskError

        service = KioskService.open(settings, clock=FixedClock(now))
        outcomes = []
        try:
            barrier.wait(timeout=60)
            for _ in range(attempts):
                try:
                    service.factors.check_password(email, "wrong password", source="race")
                    outcomes.append("ok")
                except KioskError as exc:
                    outcomes.append(type(exc).__name__)
            return outcomes
        finally:
            service.close()

    _report(queue, action)


def upgrade(url: str, barrier: Any, queue: Any) -> None:
    """Open the database (which migrates it) at the same moment as the others."""

    def action() -> int:
        from kiosk.store.database import open_database, schema_version

        barrier.wait(timeout=60)
        db = open_database(url, migrate=True)
        try:
            return schema_version(db)
        finally:
            db.close()

    _report(queue, action)


def die_mid_enrollment(
    settings: Settings, email: str, password: str, recovery_code: str, now: float, inside: Any
) -> None:
    """Recover with a new device, and stop for good inside the activating transaction.

    The parent kills this process (SIGKILL) once `inside` is set: the credential row has been
    replaced and the recovery code consumed, but nothing is committed.
    """
    import time

    from kiosk.core import audit, totp
    from kiosk.core.flow import Method
    from kiosk.core.service import KioskService

    real_record = audit.record

    def record(event: Any, **kwargs: Any) -> None:
        real_record(event, **kwargs)
        if event == audit.Event.ENROLLED:
            inside.set()
            time.sleep(600)

    clock = FixedClock(now)
    service = KioskService.open(settings, clock=clock)
    flow = AuthFlow(service, "crash")
    flow.submit_password(email, password)
    flow.use_recovery_code()
    flow.submit_recovery_code(recovery_code)
    pending = flow.choose_method(Method.AUTHENTICATOR_APP)
    flow.continue_to_code()
    flow.verify_setup_code(totp.code_at_step(pending.secret, totp.current_step(clock)))
    audit.record = record  # type: ignore[assignment]
    flow.finish_enrollment(saved=True)
