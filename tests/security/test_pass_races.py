"""One enrollment pass, many kiosks at once: exactly one enrollment is saved.

Six processes (as six kiosk sessions would be) sign in with the same pass, each create their
own password and confirm their own new authenticator, then all save at the same moment, on
SQLite and on PostgreSQL. The pass is consumed by a compare-and-set inside the activation, so
one wins and the others save nothing; the account holds the winner's password and
authenticator, and the pass is refused from then on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kiosk.core.cohorts import NewPerson
from kiosk.core.flow import AuthFlow
from kiosk.errors import PassRefusedError
from kiosk.store.models import Account, Credential, EnrollmentPass
from tests.security import pass_workers
from tests.security.conftest import run_children

CHILDREN = 6
EMAIL = "ana@example.com"


def test_one_pass_saved_at_six_kiosks_at_once_enrolls_once(
    tmp_path: Path, database_url: str, open_service: Any
) -> None:
    service = open_service()
    service.cohorts.create("hires", [NewPerson(EMAIL)], staff="it")
    issued = service.passes.issue(EMAIL, staff="it")
    service.close()
    results = run_children(
        pass_workers.enroll_with_the_same_pass,
        [
            (str(tmp_path), database_url, EMAIL, issued.text, f"password of child {n}")
            for n in range(CHILDREN)
        ],
    )
    assert all(r["phase"] == "race" for r in results), results
    winners = [r for r in results if r["ok"]]
    assert len(winners) == 1, results
    losers = {r["kind"] for r in results if not r["ok"]}
    assert losers <= {"PassRefusedError", "ConcurrentChangeError"}, results
    service = open_service()
    try:
        assert Credential.select().count() == 1
        assert EnrollmentPass.get().used_at is not None
        stored = Account.get(Account.email == EMAIL).password_hash
        assert service.ctx.hasher.verify(stored, winners[0]["password"])
        with pytest.raises(PassRefusedError):
            AuthFlow(service, "test").submit_password(EMAIL, issued.text)
    finally:
        service.close()
