"""KioskService: the store opened, and the service's parts, each with one job.

    accounts      account administration (kiosk users ...)          core/admin.py
    factors       is this password / code / recovery code right?   core/factors.py
    enrollments   the new device's activation, in one transaction  core/activation.py
    keys          the encryption keys of the stored secrets         core/keys.py
    throttle      reserve → check → settle, shared by all of them   core/throttle.py
    passes        enrollment passes IT staff issue                  core/passes.py
    cohorts       onboarding sessions: who is where, the report     core/cohorts.py

Every read and write of accounts, credentials, recovery codes, throttles and audit goes through
these parts: the flow (core/flow.py), the kiosk, and the CLI call them and get frozen values back.
Safe to share between threads: peewee gives each thread its own connection, and every single-use
decision is a compare-and-set in the database, so processes and hosts on one PostgreSQL agree.
"""

from __future__ import annotations

import importlib.util
import time
from datetime import timedelta

import peewee as pw

from kiosk.config import Settings
from kiosk.core.accounts import Hasher
from kiosk.core.activation import Enrollments
from kiosk.core.admin import AccountAdmin
from kiosk.core.cohorts import Cohorts
from kiosk.core.context import Clock, CoreContext
from kiosk.core.cpu_gate import SLOT_FOLDER_NAME, CpuGate
from kiosk.core.factors import FactorChecks
from kiosk.core.keys import KeyStore
from kiosk.core.passes import Passes
from kiosk.core.throttle import AttemptThrottle, ThrottlePolicy
from kiosk.errors import ConfigError
from kiosk.store.database import open_database


class KioskService:
    def __init__(self, ctx: CoreContext) -> None:
        self.ctx = ctx
        security = ctx.settings.security
        self.throttle = AttemptThrottle(
            ctx,
            ThrottlePolicy(
                security.max_failed_attempts, timedelta(minutes=security.lockout_minutes)
            ),
        )
        self.accounts = AccountAdmin(ctx, self.throttle)
        self.passes = Passes(ctx)
        self.factors = FactorChecks(ctx, self.throttle, self.passes)
        self.cohorts = Cohorts(ctx)
        self.enrollments = Enrollments(ctx, self.throttle, self.cohorts)
        self.keys = ctx.keys

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        key_env: str | None = None,
        migrate: bool = True,
        clock: Clock = time.time,
        hasher: Hasher | None = None,
    ) -> KioskService:
        """Open the database and the keyring, and check that the key fits the database."""
        if settings.directory.enabled and importlib.util.find_spec("ldap") is None:
            raise ConfigError(
                "[directory] is enabled but python-ldap is not installed: "
                "pip install 'kiosk[directory]'"
            )
        db = open_database(settings.database_url, migrate=migrate)
        try:
            keys = KeyStore.open(settings, db, key_env)
        except BaseException:
            db.close()  # a wrong key must not leave a connection (or a PostgreSQL backend) open
            raise
        hasher = hasher or Hasher.from_settings(settings.argon2, gate=argon2_gate(settings))
        return cls(CoreContext(settings=settings, db=db, keys=keys, hasher=hasher, clock=clock))

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @property
    def db(self) -> pw.Database:
        return self.ctx.db

    def ready(self) -> KioskService:
        """The service itself (a `DeferredService` answers the same once it has opened)."""
        return self

    def warm_up(self) -> None:
        """Work a session's first check would otherwise do on its own, making it slower than
        the ones after it (and so telling apart emails): the stand-in hash."""
        self.factors.stand_in_hash()

    def close(self) -> None:
        if not self.db.is_closed():
            self.db.close()


def argon2_gate(settings: Settings) -> CpuGate:
    """The machine-wide argon2 gate: its slot folder sits next to the key file, a folder that
    every kiosk process of this deployment shares and that only the kiosk's user can enter."""
    return CpuGate(settings.key_path.parent / SLOT_FOLDER_NAME)
