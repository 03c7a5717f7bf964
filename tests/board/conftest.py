"""Board fixtures: a real store with a cohort in mixed states, reached through the real flow.

The service's clock can be moved back while a person's steps are recorded, so ages ("20 min")
and time-based attention (idle, an expired pass) are real rows, not stubs; the board is given a
fixed "now" so the ages it shows do not depend on how long the set-up took.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest

from kiosk.board.app import BoardApp
from kiosk.config import Settings
from kiosk.core.cohorts import NewPerson
from kiosk.core.flow import AuthFlow, Method
from kiosk.core.service import KioskService

PASSWORD = "correct horse battery"
COHORT = "Sales 2026-03"
STAFF = "alice"


@dataclass
class ShiftedClock:
    """time.time() moved by `offset` seconds (the service's clock; the rows it writes)."""

    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class Cohort:
    service: KioskService
    clock: ShiftedClock
    name: str
    started: float  # time.time() when the set-up began: the board's "now"
    emails: dict[str, str] = field(default_factory=dict)  # state label -> email

    def board_now(self) -> datetime:
        return datetime.fromtimestamp(self.started, UTC).replace(tzinfo=None)


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


def code_at(secret: str, clock: ShiftedClock) -> str:
    return pyotp.TOTP(secret).at(clock())


def sign_in(service: KioskService, email: str) -> AuthFlow:
    flow = AuthFlow(service, "test-kiosk")
    flow.submit_password(email, PASSWORD)
    return flow


def to_setting_up(service: KioskService, email: str) -> tuple[AuthFlow, str]:
    flow = sign_in(service, email)
    flow.start_setup()
    pending = flow.choose_method(Method.AUTHENTICATOR_APP)
    return flow, pending.secret


def to_code_confirmed(service: KioskService, email: str, clock: ShiftedClock) -> AuthFlow:
    flow, secret = to_setting_up(service, email)
    flow.continue_to_code()
    flow.verify_setup_code(code_at(secret, clock))
    return flow


def enroll(service: KioskService, email: str, clock: ShiftedClock) -> None:
    to_code_confirmed(service, email, clock).finish_enrollment(saved=True)


PEOPLE = [
    ("ada@example.com", "Ada Lovelace"),
    ("ben@example.com", "Ben Okafor"),
    ("cleo@example.com", "Cleo Martins"),
    ("dev@example.com", "Dev Patel"),
    ("eve@example.com", "Eve Tanaka"),
    ("finn@example.com", "Finn Berg"),
    ("gus@example.com", "Gus Moreau"),
    ("hana@example.com", None),
]


def build_cohort(settings: Settings) -> Cohort:
    """Eight people: enrolled, code confirmed, idle while setting up, wrong codes, locked,
    signed in, pass expired, not started."""
    clock = ShiftedClock()
    service = KioskService.open(settings, clock=clock)
    started = time.time()
    minutes = 60.0

    def at(minutes_ago: float) -> None:
        clock.offset = -minutes_ago * minutes

    at(40)
    for email, _ in PEOPLE[:6]:
        service.accounts.add_user(email, PASSWORD, source="test")
    service.cohorts.create(COHORT, [NewPerson(email, name) for email, name in PEOPLE], staff="test")
    cohort = Cohort(service, clock, COHORT, started)
    at(30.5)
    enroll(service, "ada@example.com", clock)
    at(4.5)
    to_code_confirmed(service, "ben@example.com", clock)
    at(20.5)
    to_setting_up(service, "cleo@example.com")  # idle: more than 10 minutes on one step
    at(6.5)
    flow, _secret = to_setting_up(service, "dev@example.com")
    flow.continue_to_code()
    for _ in range(2):
        with pytest.raises(Exception):  # noqa: B017, PT011 - a refused code, whatever its class
            flow.verify_setup_code("000000")
    at(1.5)
    for _ in range(settings.security.max_failed_attempts):
        with pytest.raises(Exception):  # noqa: B017, PT011
            AuthFlow(service, "test-kiosk").submit_password("eve@example.com", "wrong password")
    at(2.5)
    sign_in(service, "finn@example.com")
    at(12.5)
    service.passes.issue("gus@example.com", valid=timedelta(minutes=1), staff="test")
    at(0)
    cohort.emails = {
        "enrolled": "ada@example.com",
        "code_confirmed": "ben@example.com",
        "idle": "cleo@example.com",
        "wrong_codes": "dev@example.com",
        "locked": "eve@example.com",
        "signed_in": "finn@example.com",
        "pass_expired": "gus@example.com",
        "not_started": "hana@example.com",
    }
    return cohort


@pytest.fixture
def cohort(sqlite_settings: Settings) -> Iterator[Cohort]:
    built = build_cohort(sqlite_settings)
    yield built
    built.service.close()


@pytest.fixture
def any_cohort(settings: Settings) -> Iterator[Cohort]:
    """The same cohort on SQLite, then on PostgreSQL."""
    built = build_cohort(settings)
    yield built
    built.service.close()


def make_board(cohort: Cohort, **kwargs: Any) -> BoardApp:
    kwargs.setdefault("now", cohort.board_now)
    return BoardApp(cohort.service, kwargs.pop("name", cohort.name), staff=STAFF, **kwargs)
