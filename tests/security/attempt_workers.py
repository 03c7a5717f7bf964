"""Child processes for the attempt races (imported by multiprocessing, not collected by pytest).

Each child opens its own `KioskService` on the shared database, as a separate SSH session
would, walks its own flow to the step it is asked for (before the barrier: that part is set-up,
not the race), waits on the barrier so every child offers its secret at the same moment, offers
exactly one secret, and reports the outcome as plain data. A child whose set-up fails still
waits on the barrier (so the others are not stuck) and reports `phase: "setup"`.
"""

from __future__ import annotations

import faulthandler
import os
import random
import signal
import time
from multiprocessing.synchronize import Barrier
from typing import Any

import pyotp

from tests.security.workers import _outcome, open_service, retry_while_slots_taken

# What a child is asked to offer once the barrier opens.
WRONG_PASSWORD = "wrong password"
RIGHT_PASSWORD = "right password"
WRONG_CODE = "wrong code"  # at Enter the 6-digit code (sign-in)
WRONG_SETUP_CODE = "wrong setup code"  # at Enter the code from a new app (first enrollment)
WRONG_SETUP_CODE_AFTER_RECOVERY = "wrong setup code after recovery"  # lost device route
WRONG_RECOVERY_CODE = "wrong recovery code"
WRONG_VERIFY = "wrong verify"  # `kiosk verify`: service.factors.verify_for_external

def wrong_totp_code(secret: str, now: float | None = None, spread: int = 24) -> str:
    """A 6-digit code no step within ±`spread` of now gives for `secret`: wrong whatever the
    ±1 window, and never taken for a phone whose clock is off (the kiosk looks 20 steps either
    way to explain such a code, and the audit detail then names the drift)."""
    at = time.time() if now is None else now
    totp = pyotp.TOTP(secret)
    taken = {totp.at(at + 30 * k) for k in range(-spread, spread + 1)}
    rng = random.Random(os.getpid())
    while True:
        candidate = f"{rng.randrange(1_000_000):06d}"
        if candidate not in taken:
            return candidate


def _prepare(service: Any, kind: str, email: str, password: str, recovery_code: str) -> Any:
    """Walk a fresh flow to the step `kind` races at; returns what the offer needs."""
    from kiosk.core.flow import AuthFlow, Method, Step

    if kind in (WRONG_PASSWORD, RIGHT_PASSWORD, WRONG_VERIFY):
        service.warm_up()  # the stand-in hash is made now, not inside the race
        return None
    flow = AuthFlow(service, f"race-{kind}-{os.getpid()}")
    step = retry_while_slots_taken(lambda: flow.submit_password(email, password))
    if kind == WRONG_CODE:
        assert step == Step.ENTER_CODE, step
        return flow
    if kind == WRONG_RECOVERY_CODE:
        assert step == Step.ENTER_CODE, step
        flow.use_recovery_code()
        assert flow.step == Step.ENTER_RECOVERY_CODE
        return flow
    if kind == WRONG_SETUP_CODE:
        assert step == Step.MFA_REQUIRED, step
        flow.start_setup()
    elif kind == WRONG_SETUP_CODE_AFTER_RECOVERY:
        assert step == Step.ENTER_CODE, step
        flow.use_recovery_code()
        retry_while_slots_taken(lambda: flow.submit_recovery_code(recovery_code))
    else:
        raise ValueError(kind)
    pending = flow.choose_method(Method.AUTHENTICATOR_APP)
    flow.continue_to_code()
    assert flow.step == Step.ENTER_SETUP_CODE
    return flow, pending.secret


def _offer(
    service: Any, kind: str, email: str, password: str, prepared: Any, wrong: dict[str, str]
) -> Any:
    """The one secret this child offers, at the barrier's moment."""
    if kind == WRONG_PASSWORD:
        return service.factors.check_password(email, wrong["password"], source="race")
    if kind == RIGHT_PASSWORD:
        return service.factors.check_password(email, password, source="race")
    if kind == WRONG_VERIFY:
        return service.factors.verify_for_external(email, wrong["code"], source="race")
    if kind == WRONG_CODE:
        return prepared.submit_code(wrong["code"])
    if kind == WRONG_RECOVERY_CODE:
        return prepared.submit_recovery_code(wrong["recovery"])
    flow, _secret = prepared
    return flow.verify_setup_code(wrong["code"])


def attempt_worker(
    base_dir: str,
    url: str,
    kind: str,
    email: str,
    password: str,
    secret: str,
    recovery_code: str,
    barrier: Barrier,
    queue: Any,
) -> None:
    """One session: prepare `kind`, wait for the crowd, offer one secret, report.

    `secret` is the enrolled account's TOTP secret (to pick a code that is surely wrong);
    `recovery_code` the account's right recovery code (only the lost-device set-up uses it).
    """
    from kiosk.core import recovery

    faulthandler.register(signal.SIGUSR1)  # a hung child's stack, on request (kill -USR1 pid)
    report: dict[str, Any] = {"offers": kind, "pid": os.getpid()}
    service = None
    prepared = None
    try:
        service = open_service(base_dir, url)
        prepared = _prepare(service, kind, email, password, recovery_code)
        own_secret = prepared[1] if isinstance(prepared, tuple) else secret
        wrong = {
            "password": f"wrong-{os.getpid()}",
            "code": wrong_totp_code(own_secret) if own_secret else "000000",
            "recovery": recovery.generate(),
        }
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as data
        queue.put({**report, "phase": "setup", **_outcome(exc)})
        barrier.wait(120)
        return
    started: float | None = None
    try:
        barrier.wait(120)
        started = time.monotonic()
        result = _offer(service, kind, email, password, prepared, wrong)
        report.update(phase="offer", ok=True, result=str(result))
    except BaseException as exc:  # noqa: BLE001
        report.update(phase="offer", **_outcome(exc))
    report["seconds"] = None if started is None else round(time.monotonic() - started, 3)
    service.close()
    queue.put(report)
