"""Crowds offering wrong secrets for one email at the same moment, on SQLite and PostgreSQL.

Every secret is reserved before it is checked (core/throttle.py), so however many sessions
(separate processes here, as SSH sessions are) offer secrets at once, at most
`max_failed_attempts` wrong ones are ever *evaluated* per lock window; the rest are refused
unevaluated (AccountLockedError, or AttemptsInFlightError while the slots are taken).

The audit is the witness: every evaluated wrong secret writes exactly one `sign_in_failed` row,
a refusal writes none. The old design (check the lock, then count the failure afterwards) lets
the whole crowd through the check before the first failure is counted: 20 of 20 evaluated, 20
rows. Every bound below is what tells the two apart.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from kiosk.store.models import AuditEvent, Throttle
from tests.security import attempt_workers as aw
from tests.security import workers
from tests.security.conftest import PASSWORD, run_children

MAX = 5  # max_failed_attempts, the default (tests/security/workers.settings_for)
CROWD = 20
EMAIL = "target@example.com"
UNKNOWN = "nobody-here@example.com"

REFUSED = {"AccountLockedError", "AttemptsInFlightError"}
WRONG_ANSWER = {
    aw.WRONG_PASSWORD: "AuthenticationFailed",
    aw.RIGHT_PASSWORD: "AuthenticationFailed",  # never expected: asserted below
    aw.WRONG_CODE: "InvalidCodeError",
    aw.WRONG_SETUP_CODE: "InvalidCodeError",
    aw.WRONG_SETUP_CODE_AFTER_RECOVERY: "InvalidCodeError",
    aw.WRONG_RECOVERY_CODE: "InvalidRecoveryCodeError",
    aw.WRONG_VERIFY: "InvalidCodeError",
}
DETAIL = {
    aw.WRONG_PASSWORD: "password",
    aw.WRONG_CODE: "code",
    aw.WRONG_SETUP_CODE: "setup code",
    aw.WRONG_SETUP_CODE_AFTER_RECOVERY: "setup code",
    aw.WRONG_RECOVERY_CODE: "recovery code",
    aw.WRONG_VERIFY: "verify",
}


# ------------------------------------------------------------------------------ helpers
class Account:
    """What the children need to know about the target account."""

    def __init__(self, secret: str = "", recovery_code: str = "") -> None:
        self.secret = secret
        self.recovery_code = recovery_code


def _account(open_service: Any, *, enrolled: bool) -> Account:
    service = open_service()
    service.accounts.add_user(EMAIL, PASSWORD)
    if not enrolled:
        service.close()
        return Account()
    secret, shown = workers.enroll_through_flow(service, EMAIL, PASSWORD)
    service.close()
    return Account(secret, shown)


def _race(
    tmp_path: Path,
    url: str,
    kinds: list[str],
    email: str = EMAIL,
    account: Account | None = None,
) -> list[dict[str, Any]]:
    """One child per kind, all offering their secret at the barrier's moment."""
    account = account or Account()
    started = time.monotonic()
    results = run_children(
        aw.attempt_worker,
        [
            (str(tmp_path), url, kind, email, PASSWORD, account.secret, account.recovery_code)
            for kind in kinds
        ],
        timeout=120,
    )
    assert len(results) == len(kinds)
    setup = [r for r in results if r["phase"] != "offer"]
    assert setup == [], f"children failed before the race: {setup}"
    unexpected = [r for r in results if r.get("kind", "").startswith("UNEXPECTED")]
    assert unexpected == [], unexpected
    print(f"race of {len(kinds)} took {time.monotonic() - started:.1f}s")  # noqa: T201
    return results


def _audit(open_service: Any, event: str, since_id: int = 0) -> list[tuple[str | None, str]]:
    """(email, detail) of the rows of `event` written after row `since_id`."""
    service = open_service()
    rows = [
        (row.email, row.detail)
        for row in AuditEvent.select()
        .where((AuditEvent.event == event) & (AuditEvent.id > since_id))
        .order_by(AuditEvent.id)
    ]
    service.close()
    return rows


def _last_audit_id(open_service: Any) -> int:
    service = open_service()
    last = AuditEvent.select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1).scalar()
    service.close()
    return int(last or 0)


def _throttle_row(open_service: Any, email: str) -> Throttle | None:
    service = open_service()
    row = Throttle.get_or_none(Throttle.key == service.throttle.key_for(email))
    service.close()
    return row


def _assert_bounded(
    open_service: Any,
    results: list[dict[str, Any]],
    *,
    email: str = EMAIL,
    audited_email: str | None = EMAIL,
) -> list[tuple[str | None, str]]:
    """A crowd of wrong secrets: exactly MAX evaluated (never more), one lock, the rest refused
    unevaluated, and no reservation left behind. Returns the `sign_in_failed` rows."""
    failed = _audit(open_service, "sign_in_failed")
    locked = _audit(open_service, "locked")
    kinds = Counter(r.get("kind", "ACCEPTED") for r in results)
    # The bound itself: lock-then-count would show one row per child (20 of 20).
    assert len(failed) <= MAX, (
        f"{len(failed)} wrong secrets evaluated for one email by a crowd of {len(results)} "
        f"(limit {MAX}); outcomes {dict(kinds)}"
    )
    assert not any(r["ok"] for r in results), results
    allowed = {WRONG_ANSWER[r["offers"]] for r in results} | REFUSED
    assert set(kinds) <= allowed, f"outcomes {dict(kinds)}, allowed {allowed}"
    # Every slot a child reserved was settled as a failure, so the lock is reached: exactly
    # MAX evaluated, exactly one `locked` row, and the check that locked answered "locked".
    assert len(failed) == MAX, (failed, dict(kinds))
    assert len(locked) == 1, locked
    wrong_answers = sum(n for kind, n in kinds.items() if kind not in REFUSED)
    assert wrong_answers == MAX - 1, dict(kinds)
    assert sum(kinds[k] for k in REFUSED) == len(results) - (MAX - 1), dict(kinds)
    assert all(row_email == audited_email for row_email, _ in failed + locked), failed + locked
    expected_details = {DETAIL[r["offers"]] for r in results}
    assert {detail for _, detail in failed} <= expected_details, failed
    # Nothing left pending: a leaked reservation would hold a slot until it went stale.
    row = _throttle_row(open_service, email)
    assert row is not None and row.locked_until is not None
    assert (row.failures, row.pending) == (MAX, 0), (row.failures, row.pending)
    return failed


def _assert_still_locked(open_service: Any) -> None:
    service = open_service()
    assert service.accounts.summary(EMAIL).locked
    service.close()


# ------------------------------------------------------------------------------ passwords
def test_wrong_passwords_for_a_known_email_at_once(
    tmp_path: Path, database_url: str, open_service: Any
) -> None:
    _account(open_service, enrolled=False)
    results = _race(tmp_path, database_url, [aw.WRONG_PASSWORD] * CROWD)
    failed = _assert_bounded(open_service, results)
    assert {detail for _, detail in failed} == {"password"}
    _assert_still_locked(open_service)


def test_wrong_passwords_for_an_unknown_email_at_once(
    tmp_path: Path, database_url: str, open_service: Any
) -> None:
    """No account: the same bound (the throttle row is the email's), rows without an email."""
    _account(open_service, enrolled=False)  # another account exists; it is not the target
    results = _race(tmp_path, database_url, [aw.WRONG_PASSWORD] * CROWD, email=UNKNOWN)
    failed = _assert_bounded(open_service, results, email=UNKNOWN, audited_email=None)
    assert {detail for _, detail in failed} == {"password"}
    service = open_service()
    assert service.throttle.locked_until(UNKNOWN) is not None
    assert not service.accounts.summary(EMAIL).locked  # the other account is untouched
    service.close()


def test_the_right_password_in_a_crowd_while_locked_is_refused(
    tmp_path: Path, database_url: str, open_service: Any
) -> None:
    """Locked: the right password and N-1 wrong ones at once are all refused, none evaluated,
    no new row; the lock stays."""
    from kiosk.errors import AccountLockedError, AuthenticationFailed

    _account(open_service, enrolled=False)
    service = open_service()
    for i in range(MAX):
        expected = AccountLockedError if i == MAX - 1 else AuthenticationFailed
        with pytest.raises(expected):
            service.factors.check_password(EMAIL, f"wrong {i}", source="test")
    service.close()
    _assert_still_locked(open_service)
    before = _last_audit_id(open_service)

    results = _race(tmp_path, database_url, [aw.RIGHT_PASSWORD] + [aw.WRONG_PASSWORD] * (CROWD - 1))

    kinds = Counter(r.get("kind", "ACCEPTED") for r in results)
    assert set(kinds) <= REFUSED, dict(kinds)
    assert _audit(open_service, "sign_in_failed", before) == []
    assert _audit(open_service, "locked", before) == []
    _assert_still_locked(open_service)
    row = _throttle_row(open_service, EMAIL)
    assert row is not None and (row.failures, row.pending) == (MAX, 0)


@pytest.mark.parametrize("enrolled", [True, False], ids=["enrolled", "not-enrolled"])
def test_the_right_password_among_wrong_ones_at_once(
    tmp_path: Path, database_url: str, open_service: Any, enrolled: bool
) -> None:
    """Not locked: the right password among N-1 wrong ones. Each evaluated wrong one is one row,
    the right one is never called wrong, and the wrong ones evaluated stay within the limit.

    For an enrolled account the password is not a full sign-in (nothing is forgiven), so the
    limit is MAX whatever the right one got. For an account without an authenticator the right
    password *is* a full sign-in and forgives the failures counted so far (factors.py), so a
    second window may open behind it: then up to MAX - 1 before it plus MAX after it."""
    _account(open_service, enrolled=enrolled)
    results = _race(tmp_path, database_url, [aw.RIGHT_PASSWORD] + [aw.WRONG_PASSWORD] * (CROWD - 1))

    right = next(r for r in results if r["offers"] == aw.RIGHT_PASSWORD)
    wrong = [r for r in results if r["offers"] == aw.WRONG_PASSWORD]
    assert right["ok"] or right["kind"] in REFUSED, right
    assert not any(r["ok"] for r in wrong), wrong
    kinds = Counter(r.get("kind") for r in wrong)
    assert set(kinds) <= {"AuthenticationFailed"} | REFUSED, dict(kinds)
    failed = _audit(open_service, "sign_in_failed")
    locked = _audit(open_service, "locked")
    assert all(row == (EMAIL, "password") for row in failed), failed
    # One row per evaluated wrong password: the ones answered "wrong", plus the one that locked.
    assert len(failed) == kinds["AuthenticationFailed"] + len(locked), (failed, dict(kinds))
    assert len(locked) <= 1
    limit = MAX if enrolled or not right["ok"] else 2 * MAX - 1
    assert len(failed) <= limit, (
        f"{len(failed)} wrong passwords evaluated (limit {limit}); right one: {right}; "
        f"outcomes {dict(kinds)}"
    )
    print(f"right password: {right.get('kind', 'ACCEPTED')}; evaluated wrong: {len(failed)}")  # noqa: T201
    row = _throttle_row(open_service, EMAIL)
    assert row is None or row.pending == 0, (row.failures, row.pending)


# ------------------------------------------------------------------------------ codes
def test_wrong_sign_in_codes_at_once(tmp_path: Path, database_url: str, open_service: Any) -> None:
    """N sessions past the password step (before the barrier) all submit a wrong code."""
    account = _account(open_service, enrolled=True)
    results = _race(tmp_path, database_url, [aw.WRONG_CODE] * CROWD, account=account)
    failed = _assert_bounded(open_service, results)
    assert {detail for _, detail in failed} == {"code"}
    _assert_still_locked(open_service)


@pytest.mark.parametrize(
    "kind",
    [aw.WRONG_SETUP_CODE, aw.WRONG_SETUP_CODE_AFTER_RECOVERY],
    ids=["first-enrollment", "after-recovery-code"],
)
def test_wrong_setup_codes_at_once(
    tmp_path: Path, database_url: str, open_service: Any, kind: str
) -> None:
    """N sessions at Enter the code from the new app (each its own new secret), all wrong:
    on a first enrollment, and on the lost-device route after a right recovery code."""
    account = _account(open_service, enrolled=kind == aw.WRONG_SETUP_CODE_AFTER_RECOVERY)
    results = _race(tmp_path, database_url, [kind] * CROWD, account=account)
    failed = _assert_bounded(open_service, results)
    assert {detail for _, detail in failed} == {"setup code"}
    _assert_still_locked(open_service)


def test_wrong_recovery_codes_at_once(tmp_path: Path, database_url: str, open_service: Any) -> None:
    account = _account(open_service, enrolled=True)
    results = _race(tmp_path, database_url, [aw.WRONG_RECOVERY_CODE] * CROWD, account=account)
    failed = _assert_bounded(open_service, results)
    assert {detail for _, detail in failed} == {"recovery code"}
    _assert_still_locked(open_service)


def test_wrong_kiosk_verify_codes_at_once(
    tmp_path: Path, database_url: str, open_service: Any
) -> None:
    """`kiosk verify` (service.factors.verify_for_external) from N processes, all wrong."""
    account = _account(open_service, enrolled=True)
    results = _race(tmp_path, database_url, [aw.WRONG_VERIFY] * CROWD, account=account)
    failed = _assert_bounded(open_service, results)
    assert {detail for _, detail in failed} == {"verify"}
    _assert_still_locked(open_service)


def test_every_factor_at_once_shares_one_limit(
    tmp_path: Path, database_url: str, open_service: Any
) -> None:
    """Wrong passwords, sign-in codes, setup codes, recovery codes and `kiosk verify` codes for
    one email, all at once: one budget of MAX between them, not MAX per factor."""
    account = _account(open_service, enrolled=True)
    mix = [
        aw.WRONG_PASSWORD,
        aw.WRONG_CODE,
        aw.WRONG_SETUP_CODE_AFTER_RECOVERY,
        aw.WRONG_RECOVERY_CODE,
        aw.WRONG_VERIFY,
    ]
    kinds = [mix[i % len(mix)] for i in range(CROWD)]
    results = _race(tmp_path, database_url, kinds, account=account)
    failed = _assert_bounded(open_service, results)
    print(f"evaluated: {Counter(detail for _, detail in failed)}")  # noqa: T201
    _assert_still_locked(open_service)
