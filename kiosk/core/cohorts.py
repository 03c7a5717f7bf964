"""Onboarding cohorts: who is in a guided session, how far each person got, and the report.

A person's state is read from what the kiosk records (progress rows, one per stage reached, and
the audit's failures), never from anything secret:

    not_started → signed_in → setting_up (QR or key shown) → code_confirmed → enrolled

`attention` names the one thing staff should look at first: `locked`, `pass_expired`,
`wrong_codes` (codes keep being refused, most often the phone's clock), or `idle` (on one step
longer than `[onboarding] idle_minutes`). The board, `kiosk cohort show` and the report all ask
`Cohorts.people`, so they agree.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import peewee as pw

from kiosk.core import audit
from kiosk.core.accounts import normalize_email
from kiosk.core.audit import Event
from kiosk.core.context import CoreContext
from kiosk.core.factors import ACCOUNT_CHANGED_MESSAGE
from kiosk.core.passes import PassState, state_of
from kiosk.core.steps import Stage
from kiosk.core.values import AccountRef, CohortSummary, PersonState
from kiosk.errors import (
    CohortError,
    ConcurrentChangeError,
    InvalidEmailError,
    UnknownAccountError,
)
from kiosk.store.database import announce_change, storage_errors, write_transaction
from kiosk.store.models import (
    Account,
    AuditEvent,
    Cohort,
    CohortMember,
    Credential,
    EnrollmentPass,
    ProgressEvent,
    Throttle,
)

ATTENTION_REASONS = ("locked", "pass_expired", "wrong_codes", "idle")
# Wrong codes since the person's current stage began before the board flags them.
WRONG_CODES_FOR_ATTENTION = 2
IN_PROGRESS = (Stage.SIGNED_IN, Stage.SETTING_UP, Stage.CODE_CONFIRMED)
_DRIFT = re.compile(r"phone clock ([+-]\d+) steps")
MAX_NAME = 64
MAX_FULL_NAME = 128


def attention_hint(person: PersonState, idle_minutes: int = 10) -> str:
    """What to tell or do for a person needing attention, in plain words (for staff)."""
    reason = person.attention
    if reason == "locked":
        return (
            "Too many wrong attempts locked the account. Check who they are, then unlock it "
            "(or issue a pass if they have lost their phone)."
        )
    if reason == "pass_expired":
        return "Their enrollment pass ran out before they used it. Issue a new one."
    if reason == "wrong_codes":
        drift = person.clock_drift_steps
        if drift:
            minutes = max(1, round(abs(drift) / 2))
            direction = "behind" if drift < 0 else "ahead"
            return (
                f"Codes keep being refused: the phone's clock looks about {minutes} min "
                f"{direction}. Set the phone's date and time to automatic, then use a new code."
            )
        return (
            "Codes keep being refused. Check the code is the one for this account, and that "
            "the phone's date and time are set to automatic."
        )
    if reason == "idle":
        return (
            f"No progress for more than {idle_minutes} minutes on this step. "
            "See whether they need help (scanning the QR from inside the app, for instance)."
        )
    return ""


@dataclass(frozen=True)
class NewPerson:
    """A person to add to a cohort: an email and, optionally, a full name."""

    email: str
    full_name: str | None = None


@dataclass(frozen=True)
class ChangeCursor:
    """How far a reader of changes has read (the last progress and audit rows seen)."""

    progress_id: int = 0
    audit_id: int = 0


@dataclass(frozen=True)
class Changes:
    cursor: ChangeCursor
    emails: frozenset[str]
    membership_changed: bool  # people added to or removed from a cohort, or a cohort removed


@dataclass(frozen=True)
class CohortReport:
    name: str
    deadline: date | None
    people: list[PersonState]
    counts: dict[str, int]
    completion_percent: float
    median_minutes_to_enroll: float | None
    most_common_stop: str | None
    missed_deadline: list[str] = field(default_factory=list)


def minutes_to_enroll(person: PersonState) -> float | None:
    if person.enrolled_at is None or person.first_signed_in_at is None:
        return None
    return round((person.enrolled_at - person.first_signed_in_at).total_seconds() / 60, 1)


def _check_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > MAX_NAME or not cleaned.isprintable():
        raise CohortError("a cohort name is 1 to 64 printable characters")
    return cleaned


def check_full_name(name: str | None) -> str | None:
    """A full name as stored (spaces collapsed), None for none, or `CohortError`."""
    if name is None or not name.strip():
        return None
    cleaned = " ".join(name.split())
    if len(cleaned) > MAX_FULL_NAME or not cleaned.isprintable():
        raise CohortError("a full name is at most 128 printable characters")
    return cleaned


class Cohorts:
    """Cohorts, their people's progress, and the report (the one owner of these rules)."""

    def __init__(self, ctx: CoreContext) -> None:
        self._ctx = ctx

    # ------------------------------------------------------------------ progress
    def record_stage(self, account: AccountRef, stage: Stage, *, source: str) -> None:
        """The kiosk saw this person reach `stage` (never anything secret)."""
        try:
            with storage_errors("record the progress"), write_transaction(self._ctx.db):
                self.record_stage_in_transaction(account.id, account.email, stage, source=source)
        except pw.IntegrityError:  # the account was removed under this session
            raise ConcurrentChangeError(ACCOUNT_CHANGED_MESSAGE) from None

    def record_stage_in_transaction(
        self, account_id: int, email: str, stage: Stage, *, source: str
    ) -> None:
        ProgressEvent.create(
            account=account_id, email=email, step=stage.value, at=self._ctx.now(), source=source
        )
        announce_change()

    # ------------------------------------------------------------------ cohorts
    def create(
        self,
        raw_name: str,
        people: Sequence[NewPerson],
        *,
        deadline: date | None = None,
        staff: str,
    ) -> CohortSummary:
        """A new cohort with these people; accounts that do not exist are created without a
        password (their person signs in with an enrollment pass and creates one)."""
        name = _check_name(raw_name)
        checked = self._check_people(people)
        with storage_errors("create the cohort"):
            try:
                with write_transaction(self._ctx.db):
                    cohort = Cohort.create(
                        name=name,
                        deadline=deadline,
                        created_at=self._ctx.now(),
                        created_by=staff[:128],
                    )
                    audit.record(
                        Event.COHORT_CREATED, email=None, source=f"staff:{staff}", detail=name
                    )
                    self._add_members(cohort, checked, staff)
            except pw.IntegrityError:
                raise CohortError(f"a cohort named {name!r} already exists") from None
        return self.summary(name)

    def add(self, raw_name: str, people: Sequence[NewPerson], *, staff: str) -> list[str]:
        """Add people (creating missing accounts without a password); returns the emails that
        were not already in the cohort."""
        checked = self._check_people(people)
        with storage_errors("add to the cohort"), write_transaction(self._ctx.db):
            cohort = self._get(raw_name)
            return self._add_members(cohort, checked, staff)

    def remove_member(self, raw_name: str, raw_email: str, *, staff: str) -> str:
        """Take a person out of the cohort (the account itself stays)."""
        email = normalize_email(raw_email)
        with storage_errors("change the cohort"), write_transaction(self._ctx.db):
            cohort = self._get(raw_name)
            account = Account.get_or_none(Account.email == email)
            removed = 0
            if account is not None:
                removed = (
                    CohortMember.delete()
                    .where(
                        (CohortMember.cohort == cohort.id) & (CohortMember.account == account.id)
                    )
                    .execute()
                )
            if not removed:
                raise UnknownAccountError(f"{email} is not in cohort {cohort.name!r}")
            audit.record(
                Event.COHORT_MEMBER_REMOVED,
                email=email,
                source=f"staff:{staff}",
                detail=cohort.name[:128],
            )
        return email

    def remove(self, raw_name: str, *, staff: str) -> int:
        """Remove the cohort (its people's accounts stay); returns how many people it had."""
        with storage_errors("remove the cohort"), write_transaction(self._ctx.db):
            cohort = self._get(raw_name)
            count = CohortMember.select().where(CohortMember.cohort == cohort.id).count()
            CohortMember.delete().where(CohortMember.cohort == cohort.id).execute()
            Cohort.delete().where(Cohort.id == cohort.id).execute()
            audit.record(
                Event.COHORT_REMOVED, email=None, source=f"staff:{staff}", detail=cohort.name
            )
        return int(count)

    def all(self) -> list[CohortSummary]:
        """Every cohort, by name, with its counts."""
        return [self.summary(name) for name in self.names()]

    def names(self) -> list[str]:
        with storage_errors("read the cohorts"):
            return [c.name for c in Cohort.select(Cohort.name).order_by(Cohort.name)]

    def summary(self, raw_name: str) -> CohortSummary:
        """One cohort's row of `cohort list` (`CohortError` when there is none)."""
        with storage_errors("read the cohort"):
            cohort = self._get(raw_name)
            people = self.people(cohort.name)
        return CohortSummary(
            name=cohort.name,
            deadline=cohort.deadline,
            created_at=cohort.created_at,
            created_by=cohort.created_by,
            people=len(people),
            enrolled=sum(1 for p in people if p.state == Stage.ENROLLED),
        )

    def _get(self, raw_name: str) -> Cohort:
        cohort = Cohort.get_or_none(Cohort.name == raw_name.strip())
        if cohort is None:
            raise CohortError(f"no cohort named {raw_name.strip()!r}")
        return cohort

    @staticmethod
    def _check_people(people: Sequence[NewPerson]) -> list[NewPerson]:
        checked: dict[str, NewPerson] = {}
        for number, person in enumerate(people, start=1):
            try:
                email = normalize_email(person.email)
            except InvalidEmailError:
                raise CohortError(f"entry {number}: not an email address") from None
            try:
                full_name = check_full_name(person.full_name)
            except CohortError as exc:
                raise CohortError(f"entry {number}: {exc}") from None
            checked.setdefault(email, NewPerson(email, full_name))
        return list(checked.values())

    def _add_members(self, cohort: Cohort, people: list[NewPerson], staff: str) -> list[str]:
        """Inside the caller's transaction."""
        now = self._ctx.now()
        directory = self._ctx.settings.directory.enabled
        source = f"staff:{staff}"
        added: list[str] = []
        for person in people:
            account = Account.get_or_none(Account.email == person.email)
            if account is None:
                account = Account.create(
                    email=person.email,
                    password_hash="",
                    password_source="directory" if directory else "local",
                    display_name=person.full_name,
                    created_at=now,
                )
                audit.record(
                    Event.USER_ADDED, email=person.email, source=source, detail="no password yet"
                )
            inserted = (
                CohortMember.insert(
                    cohort=cohort.id, account=account.id, full_name=person.full_name, added_at=now
                )
                .on_conflict_ignore()
                .execute()
            )
            if inserted:
                added.append(person.email)
                audit.record(
                    Event.COHORT_MEMBER_ADDED,
                    email=person.email,
                    source=source,
                    detail=cohort.name[:128],
                )
        return added

    # ------------------------------------------------------------------ who is where
    def people(self, raw_name: str, *, emails: Iterable[str] | None = None) -> list[PersonState]:
        """Every person of the cohort (or only those with these emails), by email."""
        now = self._ctx.now()
        with storage_errors("read the cohort"):
            cohort = self._get(raw_name)
            members = (
                CohortMember.select(
                    CohortMember.account,
                    CohortMember.full_name,
                    CohortMember.added_at,
                    Account.email,
                    Account.display_name,
                )
                .join(Account)
                .where(CohortMember.cohort == cohort.id)
            )
            if emails is not None:
                members = members.where(Account.email.in_(list(emails)))
            rows: list[tuple[int, str | None, datetime, str, str | None]] = list(
                _tuples(members.order_by(Account.email))
            )
            ids = [row[0] for row in rows]
            facts = _Facts.load(ids, now) if ids else _Facts()
        idle = timedelta(minutes=self._ctx.settings.onboarding.idle_minutes)
        return [
            facts.person(account_id, email, full_name or display_name, added_at, now, idle)
            for account_id, full_name, added_at, email, display_name in rows
        ]

    def report(self, raw_name: str) -> CohortReport:
        with storage_errors("read the cohort"):
            cohort = self._get(raw_name)
        people = self.people(cohort.name)
        counts = Counter(p.state for p in people)
        total = len(people)
        enrolled = counts.get(Stage.ENROLLED, 0)
        durations = [m for m in map(minutes_to_enroll, people) if m is not None]
        unfinished = Counter(p.state for p in people if p.state != Stage.ENROLLED)
        missed: list[str] = []
        if cohort.deadline is not None:
            end = datetime.combine(cohort.deadline + timedelta(days=1), datetime.min.time())
            now = self._ctx.now()
            for p in people:
                late = p.enrolled_at is not None and p.enrolled_at >= end
                overdue = p.state != Stage.ENROLLED and now >= end
                if late or overdue:
                    missed.append(p.email)
        return CohortReport(
            name=cohort.name,
            deadline=cohort.deadline,
            people=people,
            counts={stage.value: counts.get(stage, 0) for stage in Stage},
            completion_percent=round(100 * enrolled / total, 1) if total else 0.0,
            median_minutes_to_enroll=(
                round(statistics.median(durations), 1) if durations else None
            ),
            most_common_stop=unfinished.most_common(1)[0][0] if unfinished else None,
            missed_deadline=missed,
        )

    # ------------------------------------------------------------------ changes
    def cursor(self) -> ChangeCursor:
        """Where a reader starts: everything recorded so far counts as seen."""
        with storage_errors("read the progress"):
            progress = ProgressEvent.select(pw.fn.MAX(ProgressEvent.id)).scalar() or 0
            audited = AuditEvent.select(pw.fn.MAX(AuditEvent.id)).scalar() or 0
        return ChangeCursor(progress_id=int(progress), audit_id=int(audited))

    def changes_since(self, cursor: ChangeCursor) -> Changes:
        """The emails whose progress, attempts, locks or passes changed after `cursor`."""
        emails: set[str] = set()
        membership = False
        progress_id, audit_id = cursor.progress_id, cursor.audit_id
        with storage_errors("read the progress"):
            for row_id, email in _tuples(
                ProgressEvent.select(ProgressEvent.id, ProgressEvent.email)
                .where(ProgressEvent.id > cursor.progress_id)
                .order_by(ProgressEvent.id)
            ):
                emails.add(email)
                progress_id = row_id
            for row_id, email, event in _tuples(
                AuditEvent.select(AuditEvent.id, AuditEvent.email, AuditEvent.event)
                .where(AuditEvent.id > cursor.audit_id)
                .order_by(AuditEvent.id)
            ):
                audit_id = row_id
                if email:
                    emails.add(email)
                if event in _MEMBERSHIP_EVENTS:
                    membership = True
        return Changes(
            cursor=ChangeCursor(progress_id=progress_id, audit_id=audit_id),
            emails=frozenset(emails),
            membership_changed=membership,
        )


_MEMBERSHIP_EVENTS = {
    Event.COHORT_CREATED.value,
    Event.COHORT_REMOVED.value,
    Event.COHORT_MEMBER_ADDED.value,
    Event.COHORT_MEMBER_REMOVED.value,
    Event.USER_REMOVED.value,
}


@dataclass
class _Facts:
    """What the store records about a set of accounts, read in a handful of queries."""

    progress: dict[int, list[tuple[str, datetime]]] = field(default_factory=dict)
    enrolled_at: dict[int, datetime] = field(default_factory=dict)
    locked: set[int] = field(default_factory=set)
    failures: dict[int, list[tuple[datetime, str]]] = field(default_factory=dict)
    passes: dict[int, list[EnrollmentPass]] = field(default_factory=dict)

    @classmethod
    def load(cls, ids: list[int], now: datetime) -> _Facts:
        facts = cls()
        for chunk in _chunks(ids, 500):
            for account_id, step, at in _tuples(
                ProgressEvent.select(ProgressEvent.account, ProgressEvent.step, ProgressEvent.at)
                .where(ProgressEvent.account.in_(chunk))
                .order_by(ProgressEvent.id)
            ):
                facts.progress.setdefault(account_id, []).append((step, at))
            for account_id, created_at in _tuples(
                Credential.select(Credential.account, Credential.created_at).where(
                    Credential.account.in_(chunk)
                )
            ):
                facts.enrolled_at[account_id] = created_at
            for (account_id,) in _tuples(
                Throttle.select(Throttle.account_id).where(
                    Throttle.account_id.in_(chunk) & (Throttle.locked_until > now)
                )
            ):
                facts.locked.add(account_id)
            for account_id, at, detail in _tuples(
                AuditEvent.select(Account.id, AuditEvent.at, AuditEvent.detail)
                .join(Account, on=(AuditEvent.email == Account.email))
                .where(Account.id.in_(chunk) & (AuditEvent.event == Event.SIGN_IN_FAILED.value))
                .order_by(AuditEvent.id)
            ):
                facts.failures.setdefault(account_id, []).append((at, detail))
            for row in (
                EnrollmentPass.select()
                .where(EnrollmentPass.account.in_(chunk))
                .order_by(EnrollmentPass.id)
            ):
                facts.passes.setdefault(row.account_id, []).append(row)
        return facts

    def person(
        self,
        account_id: int,
        email: str,
        name: str | None,
        added_at: datetime,
        now: datetime,
        idle: timedelta,
    ) -> PersonState:
        events = self.progress.get(account_id, [])
        credential_at = self.enrolled_at.get(account_id)
        state, since = Stage.NOT_STARTED, added_at
        if events:
            step, at = events[-1]
            state, since = Stage(step), at
        if credential_at is not None and (not events or events[-1][1] < credential_at):
            state, since = Stage.ENROLLED, credential_at
        if state == Stage.ENROLLED and credential_at is None:
            state = Stage.NOT_STARTED  # the authenticator was removed since
        first_signed_in = next((at for step, at in events if step == Stage.SIGNED_IN), None)
        enrolled_at = since if state == Stage.ENROLLED else None
        failures = [(at, d) for at, d in self.failures.get(account_id, []) if at >= added_at]
        passes = self.passes.get(account_id, [])
        live_pass = passes[-1] if passes and state_of(passes[-1], now) == PassState.LIVE else None
        codes_wrong = [
            d for at, d in failures if at >= since and "code" in d and "recovery" not in d
        ]
        drift = None
        if codes_wrong:
            match = _DRIFT.search(codes_wrong[-1])
            drift = int(match.group(1)) if match else None
        locked = account_id in self.locked
        attention: str | None = None
        if locked:
            attention = "locked"
        elif (
            state != Stage.ENROLLED
            and passes
            and state_of(passes[-1], now) == PassState.EXPIRED
            and passes[-1].issued_at >= added_at
        ):
            attention = "pass_expired"
        elif state != Stage.ENROLLED and len(codes_wrong) >= WRONG_CODES_FOR_ATTENTION:
            attention = "wrong_codes"
        elif state in IN_PROGRESS and now - since > idle:
            attention = "idle"
        return PersonState(
            account_id=account_id,
            email=email,
            name=name,
            state=state.value,
            since=since,
            locked=locked,
            attention=attention,
            failed_attempts=len(failures),
            clock_drift_steps=drift,
            first_signed_in_at=first_signed_in,
            enrolled_at=enrolled_at,
            passes_issued=len([p for p in passes if p.issued_at >= added_at]),
            pass_expires_at=live_pass.expires_at if live_pass is not None else None,
        )


def _tuples(query: Any) -> Iterator[tuple[Any, ...]]:
    """Rows as plain tuples (peewee's type stubs say `.tuples()` yields model rows)."""
    return iter(query.tuples())


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
