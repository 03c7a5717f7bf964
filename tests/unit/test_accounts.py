"""Accounts: email normalisation, password policy, argon2id and rehash, one failure message."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kiosk.config import Argon2Settings, Settings
from kiosk.core.accounts import check_password_policy, normalize_email
from kiosk.core.flow import AuthFlow, Step
from kiosk.core.service import KioskService
from kiosk.errors import (
    AccountExistsError,
    AuthenticationFailed,
    InvalidEmailError,
    PasswordPolicyError,
)
from kiosk.store.models import Account

from .conftest import PASSWORD, SOURCE, FakeClock


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("bob@example.com", "bob@example.com"),
        ("  Bob@Example.COM ", "bob@example.com"),
        ("\tALICE.smith+kiosk@Sub.Example.org\n", "alice.smith+kiosk@sub.example.org"),
    ],
)
def test_emails_are_trimmed_and_case_folded(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "bob",
        "bob@",
        "@example.com",
        "bob@example",
        "bob@@example.com",
        "bob smith@example.com",
        "bob@exa mple.com",
        "bob@example.com\x00",
        "bob\n@example.com",
        "a" * 250 + "@example.com",
        "bob@example..com",
    ],
)
def test_invalid_emails_are_refused(raw: str) -> None:
    with pytest.raises(InvalidEmailError):
        normalize_email(raw)


@pytest.mark.parametrize("password", ["", "        ", "short", "1234567"])
def test_password_policy_refuses_empty_and_short(password: str) -> None:
    with pytest.raises(PasswordPolicyError):
        check_password_policy(password, 8)


def test_password_policy_accepts_eight_characters() -> None:
    check_password_policy("12345678", 8)
    with pytest.raises(PasswordPolicyError):
        check_password_policy("x" * 2000, 8)


def test_same_address_in_another_case_is_the_same_account(svc: KioskService) -> None:
    assert svc.accounts.add_user("  Bob@Example.COM ", PASSWORD) == "bob@example.com"
    with pytest.raises(AccountExistsError):
        svc.accounts.add_user("bob@example.com", PASSWORD)
    assert [u.email for u in svc.accounts.iter_users()] == ["bob@example.com"]
    flow = AuthFlow(svc, SOURCE)
    assert flow.submit_password("BOB@EXAMPLE.com", PASSWORD) == Step.MFA_REQUIRED
    assert flow.email == "bob@example.com"


def test_add_user_refuses_bad_email_and_bad_password(svc: KioskService) -> None:
    with pytest.raises(InvalidEmailError):
        svc.accounts.add_user("not-an-email", PASSWORD)
    with pytest.raises(PasswordPolicyError):
        svc.accounts.add_user("bob@example.com", "")
    with pytest.raises(PasswordPolicyError):
        svc.accounts.add_user("bob@example.com", "short")
    assert list(svc.accounts.iter_users()) == []


def test_password_stored_as_argon2id_hash(svc: KioskService) -> None:
    svc.accounts.add_user("bob@example.com", PASSWORD)
    stored = Account.get(Account.email == "bob@example.com").password_hash
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_unknown_email_gets_the_same_message_as_a_wrong_password(svc: KioskService) -> None:
    svc.accounts.add_user("bob@example.com", PASSWORD)
    with pytest.raises(AuthenticationFailed) as wrong:
        AuthFlow(svc, SOURCE).submit_password("bob@example.com", "wrong password")
    with pytest.raises(AuthenticationFailed) as unknown:
        AuthFlow(svc, SOURCE).submit_password("nobody@example.com", PASSWORD)
    with pytest.raises(AuthenticationFailed) as malformed:
        AuthFlow(svc, SOURCE).submit_password("not an email", PASSWORD)
    assert str(wrong.value) == str(unknown.value) == str(malformed.value)
    assert "nobody" not in str(unknown.value) and PASSWORD not in str(wrong.value)


def test_unknown_email_costs_one_argon2_verify(
    svc: KioskService, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_verify = svc.ctx.hasher.verify
    monkeypatch.setattr(
        type(svc.ctx.hasher), "verify", lambda self, h, c: calls.append(h) or real_verify(h, c)
    )
    with pytest.raises(AuthenticationFailed):
        svc.factors.check_password("nobody@example.com", PASSWORD, source=SOURCE)
    assert calls == [svc.factors.stand_in_hash()]


def test_password_is_rehashed_when_parameters_change(settings: Settings, clock: FakeClock) -> None:
    first = KioskService.open(settings, clock=clock)
    first.accounts.add_user("bob@example.com", PASSWORD)
    old_hash = Account.get(Account.email == "bob@example.com").password_hash
    assert "m=8192,t=1,p=1" in old_hash
    first.close()

    stronger = replace(
        settings, argon2=Argon2Settings(time_cost=2, memory_cost=9216, parallelism=2)
    )
    second = KioskService.open(stronger, clock=clock)
    try:
        with pytest.raises(AuthenticationFailed):  # a failed sign-in does not rehash
            second.factors.check_password("bob@example.com", "wrong password", source=SOURCE)
        assert Account.get(Account.email == "bob@example.com").password_hash == old_hash
        second.factors.check_password("bob@example.com", PASSWORD, source=SOURCE)
        new_hash = Account.get(Account.email == "bob@example.com").password_hash
        assert new_hash != old_hash
        assert new_hash.startswith("$argon2id$") and "m=9216,t=2,p=2" in new_hash
        second.factors.check_password("bob@example.com", PASSWORD, source=SOURCE)  # still signs in
        assert Account.get(Account.email == "bob@example.com").password_hash == new_hash
    finally:
        second.close()


def test_admin_set_password(svc: KioskService) -> None:
    svc.accounts.add_user("bob@example.com", PASSWORD)
    svc.accounts.set_password("BOB@example.com", "a brand new password")
    with pytest.raises(AuthenticationFailed):
        svc.factors.check_password("bob@example.com", PASSWORD, source=SOURCE)
    svc.factors.check_password("bob@example.com", "a brand new password", source=SOURCE)


def test_rehash_does_not_undo_a_concurrent_password_change(settings: Settings,
                                                           clock: FakeClock) -> None:
    """An admin sets a new password while someone signs in with the old one and gets rehashed:
    the rehash must not write the old password back (a lost update)."""
    first = KioskService.open(settings, clock=clock)
    first.accounts.add_user("bob@example.com", PASSWORD)
    first.close()
    stronger = replace(settings, argon2=Argon2Settings(time_cost=2, memory_cost=9216,
                                                       parallelism=2))
    svc = KioskService.open(stronger, clock=clock)
    try:
        real_hash = svc.ctx.hasher.hash
        calls = []

        def hash_while_admin_changes_password(secret: str) -> str:
            if not calls:  # the rehash of the sign-in: the admin acts right now
                calls.append(secret)
                svc.accounts.set_password("bob@example.com", "the admin's new password")
            return real_hash(secret)

        original = type(svc.ctx.hasher).hash
        type(svc.ctx.hasher).hash = lambda self, secret: (  # type: ignore[method-assign]
            hash_while_admin_changes_password(secret) if self is svc.ctx.hasher
            else original(self, secret))
        try:
            svc.factors.check_password("bob@example.com", PASSWORD, source=SOURCE)
        finally:
            type(svc.ctx.hasher).hash = original  # type: ignore[method-assign]
        assert calls == [PASSWORD]
        with pytest.raises(AuthenticationFailed):
            svc.factors.check_password("bob@example.com", PASSWORD, source=SOURCE)
        svc.factors.check_password("bob@example.com", "the admin's new password", source=SOURCE)
    finally:
        svc.close()


def test_unknown_emails_cost_what_the_stored_hashes_cost_after_a_settings_change(
    settings: Settings, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Raising [argon2] time_cost with accounts already stored: an unknown email must still be
    checked against a hash of the cost the stored ones have (one try would otherwise tell
    whether an account exists), until the stored hashes have moved to the new settings."""
    from kiosk.core.factors import hash_params

    old = KioskService.open(settings, clock=clock)
    for name in ("ann", "bob", "cat"):
        old.accounts.add_user(f"{name}@example.com", PASSWORD)
    old.close()
    raised = replace(settings, argon2=replace(settings.argon2, time_cost=2))
    svc = KioskService.open(raised, clock=clock)
    try:
        verified: list[str] = []
        real_verify = svc.ctx.hasher.verify
        monkeypatch.setattr(
            type(svc.ctx.hasher),
            "verify",
            lambda self, h, c: verified.append(h) or real_verify(h, c),
        )
        with pytest.raises(AuthenticationFailed):
            svc.factors.check_password("nobody@example.com", PASSWORD, source=SOURCE)
        with pytest.raises(AuthenticationFailed):
            svc.factors.check_password("ann@example.com", "a wrong password", source=SOURCE)
        unknown, known = (hash_params(h) for h in verified)
        assert unknown == known and unknown is not None and unknown.time_cost == 1
        # Each right check moves that account's hash to the new settings...
        for name in ("ann", "bob", "cat"):
            svc.factors.check_password(f"{name}@example.com", PASSWORD, source=SOURCE)
        stored = {hash_params(a.password_hash) for a in Account.select()}
        assert {p.time_cost for p in stored if p} == {2}
        # ...and the stand-in follows them once it is made again.
        svc.factors._stand_in = None
        params = hash_params(svc.factors.stand_in_hash())
        assert params is not None and params.time_cost == 2
    finally:
        svc.close()
