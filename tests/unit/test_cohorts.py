"""Cohorts: who is in an onboarding session, how far each person got, what needs attention.

What staff rely on: the state the board and `cohort show` give is what the kiosk saw (each stage
reached, in order), walking away leaves the account as it was, the attention reasons point at the
right person for the right reason, and the changes feed names exactly who changed.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kiosk.core import totp
from kiosk.core.cohorts import NewPerson, attention_hint
from kiosk.core.flow import AuthFlow, Method, Step
from kiosk.core.service import KioskService
from kiosk.core.steps import Stage
from kiosk.errors import AuthenticationFailed, CohortError, InvalidCodeError
from kiosk.store.models import Account, CohortMember, Credential

from .conftest import PASSWORD, SOURCE, FakeClock, dump_tables, enroll


def _state(svc: KioskService, email: str, cohort: str = "hires") -> dict[str, object]:
    (person,) = svc.cohorts.people(cohort, emails=[email])
    return person.as_json()


def test_a_cohort_creates_missing_accounts_without_a_password(svc: KioskService) -> None:
    svc.accounts.add_user("old@example.com", PASSWORD)
    summary = svc.cohorts.create(
        "hires",
        [
            NewPerson("New@Example.com", "Ana  Núñez"),
            NewPerson("old@example.com"),
            NewPerson("new@example.com"),
        ],  # the same person twice counts once
        deadline=date(2026, 12, 31),
        staff="it-alice",
    )
    assert (summary.name, summary.people, summary.enrolled) == ("hires", 2, 0)
    new = Account.get(Account.email == "new@example.com")
    assert new.password_hash == ""
    assert Account.get(Account.email == "old@example.com").password_hash.startswith("$argon2id$")
    people = svc.cohorts.people("hires")
    assert [(p.email, p.name, p.state) for p in people] == [
        ("new@example.com", "Ana Núñez", "not_started"),
        ("old@example.com", None, "not_started"),
    ]
    with pytest.raises(CohortError):
        svc.cohorts.create("hires", [], staff="it")
    with pytest.raises(CohortError):  # one bad entry: nothing is created
        svc.cohorts.create("later", [NewPerson("x@example.com"), NewPerson("nope")], staff="it")
    assert "later" not in svc.cohorts.names()
    assert not Account.select().where(Account.email == "x@example.com").exists()


def test_the_state_follows_each_stage_the_kiosk_records(svc: KioskService) -> None:
    svc.accounts.add_user("ana@example.com", PASSWORD)
    svc.cohorts.create("hires", [NewPerson("ana@example.com")], staff="it")
    flow = AuthFlow(svc, SOURCE)
    flow.submit_password("ana@example.com", PASSWORD)
    assert _state(svc, "ana@example.com")["state"] == "signed_in"
    flow.start_setup()
    pending = flow.choose_method(Method.AUTHENTICATOR_APP)
    assert _state(svc, "ana@example.com")["state"] == "setting_up"
    flow.continue_to_code()
    flow.verify_setup_code(totp.code_at_step(pending.secret, totp.current_step(svc.ctx.clock)))
    assert _state(svc, "ana@example.com")["state"] == "code_confirmed"
    before = dump_tables()
    flow.reset()  # walking away at the last step: the account is exactly as it was
    assert dump_tables() == before and not Credential.select().exists()
    enroll(svc, "ana@example.com", add=False)
    state = _state(svc, "ana@example.com")
    assert state["state"] == "enrolled" and state["attention"] is None
    assert set(state) == {
        "email",
        "name",
        "state",
        "locked",
        "attention",
        "since",
        "failed_attempts",
    }
    # IT's reset puts the person back at the start; signing in normally records nothing.
    svc.accounts.reset_mfa("ana@example.com")
    assert _state(svc, "ana@example.com")["state"] == "not_started"


def test_an_enrolled_person_signing_in_is_not_shown_as_starting_over(svc: KioskService) -> None:
    who = enroll(svc, "ben@example.com")
    svc.cohorts.create("hires", [NewPerson("ben@example.com")], staff="it")
    assert _state(svc, "ben@example.com")["state"] == "enrolled"
    flow = AuthFlow(svc, SOURCE)
    assert flow.submit_password(who.email, who.password) == Step.ENTER_CODE
    assert _state(svc, "ben@example.com")["state"] == "enrolled"


def test_wrong_codes_point_at_the_phone_clock(svc: KioskService, clock: FakeClock) -> None:
    svc.accounts.add_user("cam@example.com", PASSWORD)
    svc.cohorts.create("hires", [NewPerson("cam@example.com")], staff="it")
    flow = AuthFlow(svc, SOURCE)
    flow.submit_password("cam@example.com", PASSWORD)
    flow.start_setup()
    pending = flow.choose_method(Method.AUTHENTICATOR_APP)
    flow.continue_to_code()
    behind = totp.code_at_step(pending.secret, clock.step - 8)  # the phone 4 minutes behind
    for _ in range(2):
        with pytest.raises(InvalidCodeError):
            flow.verify_setup_code(behind)
    (person,) = svc.cohorts.people("hires")
    assert person.attention == "wrong_codes" and person.failed_attempts == 2
    assert person.clock_drift_steps == -8
    assert "4 min behind" in attention_hint(person)
    assert pending.secret not in repr(person) and behind not in attention_hint(person)


def test_locked_and_idle_people_need_attention(svc: KioskService, clock: FakeClock) -> None:
    svc.accounts.add_user("dee@example.com", PASSWORD)
    svc.accounts.add_user("eve@example.com", PASSWORD)
    svc.cohorts.create(
        "hires", [NewPerson("dee@example.com"), NewPerson("eve@example.com")], staff="it"
    )
    for _ in range(svc.settings.security.max_failed_attempts):
        with pytest.raises(Exception):  # noqa: B017 - wrong passwords, then the lock
            AuthFlow(svc, SOURCE).submit_password("dee@example.com", "wrong password")
    AuthFlow(svc, SOURCE).submit_password("eve@example.com", PASSWORD)
    dee, eve = svc.cohorts.people("hires")
    assert dee.locked and dee.attention == "locked" and dee.failed_attempts == 5
    assert eve.attention is None and eve.state == "signed_in"
    clock.advance(11 * 60)
    _, eve = svc.cohorts.people("hires")
    assert eve.attention == "idle"
    assert "10 minutes" in attention_hint(eve)


def test_an_expired_pass_needs_attention(svc: KioskService, clock: FakeClock) -> None:
    svc.cohorts.create("hires", [NewPerson("fay@example.com")], staff="it")
    svc.passes.issue("fay@example.com", valid=timedelta(minutes=30), staff="it")
    (person,) = svc.cohorts.people("hires")
    assert person.attention is None and person.pass_expires_at is not None
    assert person.passes_issued == 1
    clock.advance(31 * 60)
    (person,) = svc.cohorts.people("hires")
    assert person.attention == "pass_expired" and "new one" in attention_hint(person)


def test_the_changes_feed_names_who_changed(svc: KioskService) -> None:
    svc.accounts.add_user("gus@example.com", PASSWORD)
    svc.accounts.add_user("hal@example.com", PASSWORD)
    svc.cohorts.create("hires", [NewPerson("gus@example.com")], staff="it")
    cursor = svc.cohorts.cursor()
    assert svc.cohorts.changes_since(cursor).emails == frozenset()
    AuthFlow(svc, SOURCE).submit_password("gus@example.com", PASSWORD)
    with pytest.raises(AuthenticationFailed):
        AuthFlow(svc, SOURCE).submit_password("hal@example.com", "wrong password")
    changes = svc.cohorts.changes_since(cursor)
    assert changes.emails == {"gus@example.com", "hal@example.com"}
    assert not changes.membership_changed
    svc.cohorts.add("hires", [NewPerson("hal@example.com")], staff="it")
    later = svc.cohorts.changes_since(changes.cursor)
    assert later.membership_changed and later.emails == {"hal@example.com"}
    assert svc.cohorts.changes_since(later.cursor).emails == frozenset()


def test_members_and_cohorts_are_removed_but_accounts_stay(svc: KioskService) -> None:
    svc.cohorts.create(
        "hires", [NewPerson("ian@example.com"), NewPerson("jo@example.com")], staff="it"
    )
    svc.cohorts.remove_member("hires", "IAN@example.com", staff="it")
    assert [p.email for p in svc.cohorts.people("hires")] == ["jo@example.com"]
    assert svc.cohorts.remove("hires", staff="it") == 1
    assert svc.cohorts.names() == [] and not CohortMember.select().exists()
    assert Account.select().count() == 2
    with pytest.raises(CohortError):
        svc.cohorts.people("hires")


def test_the_report_summarises_the_cohort(svc: KioskService, clock: FakeClock) -> None:
    svc.accounts.add_user("kay@example.com", PASSWORD)
    svc.accounts.add_user("lee@example.com", PASSWORD)
    svc.cohorts.create(
        "hires",
        [NewPerson("kay@example.com"), NewPerson("lee@example.com"), NewPerson("max@example.com")],
        deadline=date.today() - timedelta(days=1),
        staff="it",
    )
    enroll(svc, "kay@example.com", add=False)
    flow = AuthFlow(svc, SOURCE)
    flow.submit_password("lee@example.com", PASSWORD)
    flow.start_setup()
    flow.choose_method(Method.AUTHENTICATOR_APP)
    report = svc.cohorts.report("hires")
    assert report.counts["enrolled"] == 1 and report.counts["setting_up"] == 1
    assert report.counts["not_started"] == 1
    assert report.completion_percent == pytest.approx(33.3)
    assert report.median_minutes_to_enroll is not None and report.median_minutes_to_enroll >= 0
    assert report.most_common_stop in ("setting_up", "not_started")
    # The deadline was yesterday: those not enrolled missed it, and so did kay, enrolled today.
    assert sorted(report.missed_deadline) == [
        "kay@example.com",
        "lee@example.com",
        "max@example.com",
    ]
    svc.cohorts.create("on time", [NewPerson("kay@example.com")], deadline=date.today(), staff="it")
    assert svc.cohorts.report("on time").missed_deadline == []
    assert Stage.ENROLLED.value in report.counts
