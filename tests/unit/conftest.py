"""Fixtures for the core unit tests: an injected clock, a service on it, enrolled accounts.

Every storage test runs on a real SQLite file and a real PostgreSQL database (the parametrised
`settings` fixture from tests/conftest.py). The clock is injected into the service so a test can
move time (lockouts, TOTP windows) without sleeping.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiosk.config import Settings
from kiosk.core import totp
from kiosk.core.flow import AuthFlow, Method, Step
from kiosk.core.service import KioskService
from kiosk.store.models import ALL_MODELS, AuditEvent, ProgressEvent

PASSWORD = "correct horse battery"
SOURCE = "test:unit"


class FakeClock:
    """A clock a test can move; starts at the beginning of a real time step, plus 5 s."""

    def __init__(self, start: float | None = None) -> None:
        self.t = float(start if start is not None else (int(time.time()) // 30) * 30 + 5)

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds

    @property
    def step(self) -> int:
        return int(self.t) // totp.PERIOD


@dataclass
class Enrolled:
    """An account that went through the whole enrollment; what its owner would know."""

    email: str
    password: str
    secret: str
    recovery_code: str  # as displayed, XXXXX-XXXXX-...


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def svc(settings: Settings, clock: FakeClock) -> Iterator[KioskService]:
    """A service on a fresh real database (SQLite file, then PostgreSQL) with a movable clock."""
    service = KioskService.open(settings, clock=clock)
    yield service
    service.close()


def enroll(
    service: KioskService, email: str, password: str = PASSWORD, *, add: bool = True
) -> Enrolled:
    """Add the account (optionally) and walk it through the whole enrollment flow."""
    if add:
        service.accounts.add_user(email, password)
    flow = AuthFlow(service, SOURCE)
    assert flow.submit_password(email, password) == Step.MFA_REQUIRED
    flow.start_setup()
    pending = flow.choose_method(Method.AUTHENTICATOR_APP)
    flow.continue_to_code()
    code = totp.code_at_step(pending.secret, totp.current_step(service.ctx.clock))
    shown = flow.verify_setup_code(code)
    assert flow.finish_enrollment(saved=True) == Step.SIGNED_IN
    return Enrolled(
        email=flow.email or email, password=password, secret=pending.secret, recovery_code=shown
    )


def recover(service: KioskService, who: Enrolled) -> tuple[AuthFlow, Enrolled]:
    """Lost device: password, recovery code, new device; returns the new state."""
    flow = AuthFlow(service, SOURCE)
    assert flow.submit_password(who.email, who.password) == Step.ENTER_CODE
    flow.use_recovery_code()
    assert flow.submit_recovery_code(who.recovery_code) == Step.SELECT_METHOD
    pending = flow.choose_method(Method.AUTHENTICATOR_APP)
    flow.continue_to_code()
    shown = flow.verify_setup_code(
        totp.code_at_step(pending.secret, totp.current_step(service.ctx.clock))
    )
    flow.finish_enrollment(saved=True)
    return flow, Enrolled(who.email, who.password, pending.secret, shown)


def dump_tables(*, include_audit: bool = False) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, as comparable tuples in key order. Audit rows are optional,
    and progress rows (what the kiosk saw a person reach, for the onboarding board) are left
    out: they record the walk, not the account."""
    result: dict[str, list[tuple[object, ...]]] = {}
    for model in ALL_MODELS:
        if model is AuditEvent and not include_audit or model is ProgressEvent:
            continue
        query = model.select().order_by(*[f for f in model._meta.sorted_fields][:1]).tuples()
        result[model._meta.table_name] = [
            tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in query
        ]
    return result


def audit_events(email: str | None = None) -> list[AuditEvent]:
    rows = AuditEvent.select().order_by(AuditEvent.id)
    if email is not None:
        rows = rows.where(AuditEvent.email == email)
    return list(rows)


def is_postgres(settings: Settings) -> bool:
    return settings.database_url.startswith("postgres")


def sqlite_path(settings: Settings) -> Path:
    return Path(settings.database_url[len("sqlite:///") :])


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(kiosk_cli: Run) -> Run:
    """The real `kiosk` command; asserts that no traceback ever reaches the person."""

    def run(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        result = kiosk_cli(*args, **kwargs)
        assert "Traceback" not in result.stdout + result.stderr, result.stderr
        return result

    return run


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one `kiosk: error:` line a failing command prints (and asserts there is one)."""
    assert result.returncode != 0, result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kiosk: error: ")
    return lines[0]
