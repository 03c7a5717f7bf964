"""Child processes for the enrollment-pass races (imported by multiprocessing, not collected).

Each child opens its own `KioskService` on the shared database, as a separate kiosk session
would, signs in with the same pass, creates a password and confirms its own new authenticator
(set-up, before the barrier); then every child saves its enrollment at the same moment.
"""

from __future__ import annotations

from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

import pyotp

from tests.security.workers import _outcome, open_service, retry_while_slots_taken


def enroll_with_the_same_pass(
    base_dir: str,
    url: str,
    email: str,
    pass_text: str,
    password: str,
    barrier: Barrier,
    results: Queue[dict[str, Any]],
) -> None:
    results.put(_enroll(base_dir, url, email, pass_text, password, barrier))


def _enroll(
    base_dir: str, url: str, email: str, pass_text: str, password: str, barrier: Barrier
) -> dict[str, Any]:
    from kiosk.core.flow import AuthFlow, Method

    service = open_service(base_dir, url)
    try:
        try:
            flow = AuthFlow(service, "race")
            # Both checks reserve a slot of the account's throttle: the other children's right
            # pass or set-up code may hold every slot for a moment (by design), so wait a little.
            retry_while_slots_taken(lambda: flow.submit_password(email, pass_text))
            flow.create_password(password, password)
            flow.start_setup()
            pending = flow.choose_method(Method.AUTHENTICATOR_APP)
            flow.continue_to_code()
            app = pyotp.TOTP(pending.secret)
            retry_while_slots_taken(lambda: flow.verify_setup_code(app.now()))  # now, each try
        except BaseException as exc:  # noqa: BLE001 - reported, the barrier still waited on
            barrier.wait(120)
            return {"phase": "setup", **_outcome(exc)}
        barrier.wait(120)
        try:
            flow.finish_enrollment(saved=True)
        except BaseException as exc:  # noqa: BLE001 - the outcome is the test's data
            return {"phase": "race", **_outcome(exc)}
        return {"phase": "race", "ok": True, "secret": pending.secret, "password": password}
    finally:
        service.close()
